"""Reads of webhooks and deliveries (the active tenant's schema)."""

import uuid

from django.db.models import QuerySet

from webhooks.models import Webhook, WebhookDelivery


def webhooks() -> QuerySet[Webhook]:
    return Webhook.objects.order_by("-created_at", "-id")


def webhook_by_id(*, webhook_id: uuid.UUID) -> Webhook | None:
    return Webhook.objects.filter(id=webhook_id).first()


def subscribed_webhooks(*, event_type: str) -> list[Webhook]:
    """Active webhooks that asked for this event type (a JSON list, filtered here: few rows per tenant)."""
    return [hook for hook in Webhook.objects.filter(is_active=True) if event_type in (hook.event_types or [])]


def subscribed_event_types() -> set[str]:
    """Every event type some active webhook of the tenant wants (the relay's "is fan-out needed?")."""
    return {
        event_type
        for event_types in Webhook.objects.filter(is_active=True).values_list("event_types", flat=True)
        for event_type in event_types or []
    }


def deliveries_of(*, webhook: Webhook) -> QuerySet[WebhookDelivery]:
    return WebhookDelivery.objects.filter(webhook=webhook).order_by("-id")
