"""Notifications and the per-user email preference, in each tenant's schema.

The preference lives in the tenant's schema, not on the shared user: a person who belongs to two
organisations can keep email from one and mute the other, and the public schema stays free of
per-tenant settings.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone


class NotificationKind(models.TextChoices):
    TASK_ASSIGNED = "task_assigned"
    TASK_STATUS_CHANGED = "task_status_changed"
    SLA_WARNING = "sla_warning"
    SLA_BREACHED = "sla_breached"
    WEBHOOK_DISABLED = "webhook_disabled"


class Notification(models.Model):
    """One message to one user. Written by jobs only; the API only reads them and sets `read_at`.

    `dedupe_key` names what caused it (`outbox:<event id>`, `sla:<task>:<target>:<level>`, ...); the
    unique (recipient, dedupe_key) pair makes "one notification per recipient per cause" a database
    fact, not only a property of the job code.
    """

    id = models.BigAutoField(primary_key=True)
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=32, choices=NotificationKind.choices)
    task = models.ForeignKey(
        "tracker.Task", null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    payload = models.JSONField(default=dict)
    dedupe_key = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)
    email_wanted = models.BooleanField(default=False)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "dedupe_key"], name="notification_recipient_cause_unique"
            )
        ]
        indexes = [
            models.Index(fields=["recipient", "-id"], name="notification_recipient_idx"),
            models.Index(
                fields=["recipient", "-id"],
                name="notification_unread_idx",
                condition=models.Q(read_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.recipient_id}"


class NotificationPreference(models.Model):
    """A user's choices in this tenant; no row means the defaults (email on)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    email_enabled = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"preferences of {self.user_id}"
