"""Reads for SLA policies and checks (the active tenant's schema)."""

import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from analytics.models import SlaPolicy
from analytics.selectors import sla_targets
from sla.clock import WARNING_FRACTION, TargetClock, task_clocks
from tracker.models import ActivityVerb, Priority, Status, Task, TaskActivity


@dataclass(frozen=True)
class PolicyInForce:
    priority: str
    time_to_start_seconds: int
    time_to_done_seconds: int
    is_default: bool


def policies_in_force() -> list[PolicyInForce]:
    """All four priorities, most urgent first: the tenant's policy, or the documented default."""
    customised = set(SlaPolicy.objects.values_list("priority", flat=True))
    targets = sla_targets()
    order = [Priority.URGENT, Priority.HIGH, Priority.MEDIUM, Priority.LOW]
    return [
        PolicyInForce(
            priority=str(priority),
            time_to_start_seconds=targets[priority].time_to_start_seconds,
            time_to_done_seconds=targets[priority].time_to_done_seconds,
            is_default=priority not in customised,
        )
        for priority in order
    ]


def policy_in_force(*, priority: str) -> PolicyInForce | None:
    return next((policy for policy in policies_in_force() if policy.priority == priority), None)


def tasks_to_check(*, now: datetime, earliest_alert_seconds: float) -> Iterable[Task]:
    """Live tasks not DONE that are old enough to have reached any warning (a DONE task's clocks stand
    still). Streamed in primary-key order so a big tenant never loads every task at once."""
    queryset = (
        Task.objects.filter(deleted_at__isnull=True)
        .exclude(status=Status.DONE)
        .filter(created_at__lte=now - timedelta(seconds=earliest_alert_seconds))
        .only("id", "created_at", "priority", "assignee_id", "reporter_id", "title", "project_id")
        .order_by("id")
    )
    return queryset.iterator(chunk_size=500)


def status_changes_of(*, task_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[tuple[datetime, str]]]:
    """(occurred_at, new status) per task, in log order — the input of `sla.clock.task_clocks`."""
    changes: dict[uuid.UUID, list[tuple[datetime, str]]] = defaultdict(list)
    rows = (
        TaskActivity.objects.filter(task_id__in=task_ids, verb=ActivityVerb.STATUS_CHANGED)
        .order_by("seq")
        .values_list("task_id", "occurred_at", "changes")
    )
    for task_id, occurred_at, change in rows:
        changes[task_id].append((occurred_at, change["status"][1]))
    return changes


def earliest_warning_seconds() -> float:
    """No task younger than this can be at a warning of any target, so the check skips it."""
    return WARNING_FRACTION * min(
        min(target.time_to_start_seconds, target.time_to_done_seconds) for target in sla_targets().values()
    )


def task_target_clocks(*, task: Task, now: datetime) -> list[TargetClock]:
    """Each SLA target of one task — elapsed, paused, remaining, state — for a per-task SLA answer."""
    return task_clocks(
        created_at=task.created_at,
        status_changes=status_changes_of(task_ids=[task.pk]).get(task.pk, []),
        now=now,
        targets=sla_targets()[task.priority],
    )
