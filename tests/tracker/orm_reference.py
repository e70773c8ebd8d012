"""The straightforward ORM writes of a change's activity row and outbox event: the reference that
`tracker.writes` (hand-written SQL, one statement for both rows) is compared with, column by column."""

from datetime import datetime
from typing import Any

from tracker.audit import canonical_content, chain_hash, locked_chain_head
from tracker.models import OutboxEvent, TaskActivity
from tracker.outbox import task_event_payload, task_event_type


def append_activity(
    *, task_id: Any, actor_id: int, verb: str, changes: dict[str, Any], occurred_at: datetime
) -> TaskActivity:
    """The next row of the tenant's chain, saved through the ORM (inside the caller's transaction)."""
    seq, prev_hash = locked_chain_head()
    content = canonical_content(
        seq=seq, task_id=task_id, actor_id=actor_id, verb=verb, changes=changes, occurred_at=occurred_at
    )
    return TaskActivity.objects.create(
        seq=seq,
        task_id=task_id,
        actor_id=actor_id,
        verb=verb,
        changes=changes,
        occurred_at=occurred_at,
        prev_hash=prev_hash,
        hash=chain_hash(prev_hash, content),
    )


def record_task_event(*, activity: TaskActivity, project_id: object) -> OutboxEvent:
    """The activity row's outbox event, saved through the ORM."""
    return OutboxEvent.objects.create(
        event_type=task_event_type(activity.verb),
        task_id=activity.task_id,
        payload=task_event_payload(
            task_id=activity.task_id,
            project_id=project_id,
            actor_id=activity.actor_id,
            verb=activity.verb,
            changes=activity.changes,
            occurred_at=activity.occurred_at,
            seq=activity.seq,
        ),
    )
