"""Bookkeeping of background jobs, in each tenant's schema.

Both tables live next to the data the jobs change, so a job's dedupe row commits in the same transaction
as its effect, and a tenant's failed jobs (whose arguments name its tasks and URLs) stay in its schema.
"""

import uuid

from django.db import models


class ProcessedEvent(models.Model):
    """ "Job `job` has done its work for event `key`" — written in the job's own transaction.

    A redelivered message (worker killed after commit, relay publishing twice) finds this row and does
    nothing, which is what makes at-least-once delivery look exactly-once to users.
    """

    id = models.BigAutoField(primary_key=True)
    job = models.CharField(max_length=100)
    key = models.CharField(max_length=200)
    processed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job", "key"], name="processed_event_job_key_unique")]
        indexes = [models.Index(fields=["processed_at"], name="processed_event_at_idx")]

    def __str__(self) -> str:
        return f"{self.job} {self.key}"


class DeadLetter(models.Model):
    """A job that failed on its last retry, with what it was asked to do and why it failed.

    `id` is a UUID so an operator can name one (`replay_dead_letters --id`) without naming its tenant.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    job = models.CharField(max_length=100)
    kwargs = models.JSONField(default=dict, help_text="The job's keyword arguments, without the tenant.")
    error = models.TextField()
    traceback = models.TextField(blank=True)
    attempts = models.PositiveIntegerField()
    failed_at = models.DateTimeField(auto_now_add=True)
    replayed_at = models.DateTimeField(null=True, blank=True)
    replay_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["failed_at"]
        indexes = [
            models.Index(
                fields=["failed_at"],
                name="dead_letter_pending_idx",
                condition=models.Q(replayed_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.job} failed at {self.failed_at:%Y-%m-%d %H:%M:%S}: {self.error[:80]}"
