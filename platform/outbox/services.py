"""Recording side effects as outbox rows: the only way a service hands work to a job."""

import uuid
from typing import Any

from tracker.models import OutboxEvent


def record_event(
    *, event_type: str, payload: dict[str, Any], task_id: uuid.UUID | None = None
) -> OutboxEvent:
    """Add an outbox row to the current transaction; the relay publishes it after the commit.

    Call inside the transaction of the change it belongs to, so the change and its side effect commit
    (or roll back) together.
    """
    return OutboxEvent.objects.create(event_type=event_type, payload=payload, task_id=task_id)
