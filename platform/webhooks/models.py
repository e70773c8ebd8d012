"""Webhooks and their delivery log, in each tenant's schema."""

import uuid

from django.conf import settings
from django.db import models

# What a webhook can subscribe to: the task events the API records in the outbox.
WEBHOOK_EVENT_TYPES = (
    "task.created",
    "task.updated",
    "task.assigned",
    "task.status_changed",
    "task.deleted",
    "task.restored",
)


class Webhook(models.Model):
    """A URL that receives the tenant's task events, signed with `secret` (HMAC-SHA256 over the body).

    `consecutive_failures` counts deliveries that failed for good (every retry used) since the last
    success; at WEBHOOKS_DISABLE_AFTER_FAILURES the webhook is switched off and the admins are told.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    url = models.URLField(max_length=2000)
    secret = models.CharField(max_length=200)
    event_types = models.JSONField(default=list, help_text="Subset of WEBHOOK_EVENT_TYPES.")
    description = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(default=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.url


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"  # not tried yet, or failed and waiting for a retry
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # every retry used
    CANCELLED = "cancelled"  # the webhook was disabled or deleted before it went out


class WebhookDelivery(models.Model):
    """One event sent (or to be sent) to one webhook. `delivery_id` is the receivers' dedupe key."""

    id = models.BigAutoField(primary_key=True)
    delivery_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.BigIntegerField(help_text="The outbox event delivered.")
    event_type = models.CharField(max_length=64)
    body = models.TextField(help_text="The exact bytes sent (and signed), kept so every retry is identical.")
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["webhook", "event_id"], name="webhook_delivery_event_unique")
        ]
        indexes = [models.Index(fields=["webhook", "-id"], name="webhook_delivery_log_idx")]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.webhook_id} ({self.status})"
