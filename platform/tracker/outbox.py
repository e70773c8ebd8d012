"""Outbox rows: the only way a change's side effects leave the tracker (relayed to Celery elsewhere).

Written in the transaction of the change, so a side effect exists exactly when its change does. Payloads
carry plain ids and ISO strings only, nothing that needs this process (or this tenant's schema) to read.
"""

from datetime import datetime
from typing import Any

from tracker.audit import log_value
from tracker.models import OutboxEvent, Project


def task_event_type(verb: str) -> str:
    return f"task.{verb}"


def task_event_payload(
    *,
    task_id: object,
    project_id: object,
    actor_id: int,
    verb: str,
    changes: dict[str, Any],
    occurred_at: datetime,
    seq: int,
) -> dict[str, Any]:
    return {
        "task_id": log_value(task_id),
        "project_id": log_value(project_id),
        "actor_id": actor_id,
        "verb": str(verb),
        "changes": changes,
        "occurred_at": log_value(occurred_at),
        "activity_seq": seq,
    }


def record_project_event(
    *, event_type: str, project: Project, actor_id: int, changes: dict[str, Any], occurred_at: datetime
) -> OutboxEvent:
    """`project.created`, `project.updated`, `project.archived` (projects have no activity log)."""
    return OutboxEvent.objects.create(
        event_type=event_type,
        task_id=None,
        payload={
            "project_id": log_value(project.pk),
            "actor_id": actor_id,
            "changes": changes,
            "occurred_at": log_value(occurred_at),
        },
    )
