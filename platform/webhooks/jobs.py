"""Webhook jobs (queue `realtime`): fan task events out to deliveries, and deliver each one."""

import uuid
from typing import Any

from django.db import transaction

from background.base import TenantJob
from background.idempotency import claim, event_key
from config.celery import app
from tenancy.models import Tenant
from webhooks import services


@app.task(base=TenantJob, bind=True, name="webhooks.fan_out_event")
def fan_out_event(
    self: Any, *, tenant: Tenant, event_id: int, event_type: str, payload: dict[str, Any]
) -> int:
    with transaction.atomic():
        if not claim(job=self.name, key=event_key(event_id)):
            return 0
        return len(
            services.fan_out_event(tenant=tenant, event_id=event_id, event_type=event_type, payload=payload)
        )


class DeliverWebhookJob(TenantJob):
    """After the last retry the delivery counts as failed, which may disable its webhook."""

    def on_exhausted(self, *, tenant: Tenant, kwargs: dict[str, Any], error: BaseException) -> None:
        delivery_id = (kwargs.get("payload") or {}).get("delivery_id")
        if delivery_id:
            services.record_exhausted_delivery(tenant=tenant, delivery_id=uuid.UUID(delivery_id), error=error)


@app.task(base=DeliverWebhookJob, bind=True, name="webhooks.deliver")
def deliver(self: Any, *, tenant: Tenant, event_id: int, event_type: str, payload: dict[str, Any]) -> bool:
    """On `webhook.delivery_requested`. The delivery row's status is its dedupe key: once succeeded, done."""
    return services.attempt_delivery(delivery_id=uuid.UUID(payload["delivery_id"])).delivered
