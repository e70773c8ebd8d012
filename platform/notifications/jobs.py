"""Notification jobs (queue `realtime`): tell people about task changes, and send the emails."""

from typing import Any

from django.db import transaction

from background.base import TenantJob
from background.idempotency import claim, event_key
from config.celery import app
from notifications import services
from tenancy.models import Tenant


@app.task(base=TenantJob, bind=True, name="notifications.notify_task_event")
def notify_task_event(
    self: Any, *, tenant: Tenant, event_id: int, event_type: str, payload: dict[str, Any]
) -> int:
    """On `task.assigned` and `task.status_changed`: notify the assignee and the reporter (not the actor)."""
    with transaction.atomic():
        if not claim(job=self.name, key=event_key(event_id)):
            return 0
        created = services.notify_task_event(
            tenant=tenant, event_type=event_type, payload=payload, dedupe_key=event_key(event_id)
        )
    return len(created)


@app.task(base=TenantJob, bind=True, name="notifications.send_emails")
def send_emails(self: Any, *, tenant: Tenant, event_id: int, event_type: str, payload: dict[str, Any]) -> int:
    """On `notification.email_requested`. Each notification's `emailed_at` is this job's dedupe key."""
    return services.send_notification_emails(
        tenant=tenant, notification_ids=payload.get("notification_ids", [])
    )
