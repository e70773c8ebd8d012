"""Tenant-owned data: projects, tasks, the task activity log and the outbox.

Every model here lives in each tenant's schema. Foreign keys to users point into the public schema, which
is why users are deactivated, never deleted.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F


class Status(models.TextChoices):
    OPEN = "OPEN", "Open"
    IN_PROGRESS = "IN_PROGRESS", "In progress"
    BLOCKED = "BLOCKED", "Blocked"
    DONE = "DONE", "Done"


class Priority(models.TextChoices):
    LOW = "LOW", "Low"
    MEDIUM = "MEDIUM", "Medium"
    HIGH = "HIGH", "High"
    URGENT = "URGENT", "Urgent"


# Sorting by priority must follow urgency, not the alphabet: tasks store this rank beside the label.
PRIORITY_RANK: dict[str, int] = {Priority.LOW: 1, Priority.MEDIUM: 2, Priority.HIGH: 3, Priority.URGENT: 4}


class Project(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    key = models.CharField(max_length=10, unique=True, help_text="Short unique code, e.g. OPS.")
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["created_at", "id"], name="project_created_idx")]

    def __str__(self) -> str:
        return f"{self.key}: {self.name}"


class Task(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="tasks")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    priority = models.CharField(max_length=8, choices=Priority.choices, default=Priority.MEDIUM)
    priority_rank = models.PositiveSmallIntegerField(default=PRIORITY_RANK[Priority.MEDIUM], editable=False)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reporter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    due_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["created_at", "id"], name="task_created_idx"),
            models.Index(fields=["updated_at", "id"], name="task_updated_idx"),
            models.Index(fields=["due_at", "id"], name="task_due_idx"),
            # `ordering=-due_at` keeps tasks without a due date last: DESC NULLS LAST, which the
            # ascending index above cannot serve.
            models.Index(F("due_at").desc(nulls_last=True), F("id").desc(), name="task_due_desc_idx"),
            models.Index(fields=["priority_rank", "id"], name="task_priority_idx"),
            models.Index(fields=["project", "status"], name="task_project_status_idx"),
            models.Index(fields=["assignee", "status"], name="task_assignee_status_idx"),
            models.Index(fields=["reporter"], name="task_reporter_idx"),
        ]

    def __str__(self) -> str:
        return self.title


class ActivityVerb(models.TextChoices):
    CREATED = "created"
    UPDATED = "updated"
    STATUS_CHANGED = "status_changed"
    ASSIGNED = "assigned"
    DELETED = "deleted"
    RESTORED = "restored"


class TaskActivity(models.Model):
    """One change to one task. Append-only: a trigger (migration 0002) rejects UPDATE, DELETE, TRUNCATE.

    `seq` increases by one per tenant; `hash` covers this row's content and the previous row's hash, so
    editing or removing any row (even with the trigger disabled) breaks the chain at that row.
    """

    seq = models.BigIntegerField(unique=True)
    task = models.ForeignKey(Task, on_delete=models.DO_NOTHING, related_name="activity", db_constraint=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, related_name="+")
    verb = models.CharField(max_length=16, choices=ActivityVerb.choices)
    changes = models.JSONField(default=dict)
    occurred_at = models.DateTimeField()
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["seq"]
        indexes = [
            models.Index(fields=["task", "seq"], name="activity_task_seq_idx"),
            models.Index(fields=["occurred_at"], name="activity_occurred_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.verb} {self.task_id}"


class OutboxEvent(models.Model):
    """A side effect of a change, written in the change's transaction and relayed to Celery later."""

    id = models.BigAutoField(primary_key=True)
    event_type = models.CharField(max_length=64)
    task_id = models.UUIDField(null=True, blank=True)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["id"], name="outbox_unsent_idx", condition=models.Q(sent_at__isnull=True)),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.task_id}"
