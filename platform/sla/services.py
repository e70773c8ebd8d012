"""Writes for SLAs: the ADMIN's policies, and raising warnings and breaches (once each) with notifications."""

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction

from analytics.models import SlaPolicy
from analytics.selectors import sla_targets
from notifications.models import NotificationKind
from notifications.services import notify
from sla import selectors
from sla.clock import WARNING_FRACTION, TargetClock, task_clocks
from sla.models import SlaAlert, SlaLevel
from tenancy.models import Tenant
from tracker.models import Task

_KIND: dict[str, str] = {
    SlaLevel.WARNING: NotificationKind.SLA_WARNING,
    SlaLevel.BREACHED: NotificationKind.SLA_BREACHED,
}


def set_policy(*, priority: str, time_to_start_seconds: int, time_to_done_seconds: int) -> SlaPolicy:
    policy, _ = SlaPolicy.objects.update_or_create(
        priority=priority,
        defaults={
            "time_to_start_seconds": time_to_start_seconds,
            "time_to_done_seconds": time_to_done_seconds,
        },
    )
    return policy


def reset_policy(*, priority: str) -> None:
    """Back to the documented default targets of this priority."""
    SlaPolicy.objects.filter(priority=priority).delete()


@dataclass(frozen=True)
class RaisedAlert:
    task_id: object
    target: str
    level: str
    notified: bool


def _raise(
    *, tenant: Tenant, task: Task, clock: TargetClock, level: str, notify_people: bool
) -> RaisedAlert | None:
    _, created = SlaAlert.objects.get_or_create(
        task=task,
        target=clock.target,
        level=level,
        defaults={
            "elapsed_seconds": int(clock.elapsed_seconds),
            "target_seconds": clock.target_seconds,
            "notified": notify_people,
        },
    )
    if not created:
        return None
    if notify_people:
        notify(
            tenant=tenant,
            recipient_ids=[task.assignee_id, task.reporter_id],
            kind=_KIND[level],
            task=task,
            dedupe_key=f"sla:{task.pk}:{clock.target}:{level}",
            payload={
                "task_id": str(task.pk),
                "task_title": task.title,
                "project_id": str(task.project_id),
                "target": clock.target,
                "level": level,
                "elapsed_seconds": int(clock.elapsed_seconds),
                "paused_seconds": int(clock.paused_seconds),
                "target_seconds": clock.target_seconds,
            },
        )
    return RaisedAlert(task_id=task.pk, target=clock.target, level=level, notified=notify_people)


def _is_news(clock: TargetClock, level: str) -> bool:
    """An alert is worth a message only while it is fresh. A clock that crossed its line long ago (history
    imported with old breaches, or a checker that was down for a day) is recorded silently instead of
    flooding people with stale news."""
    line = clock.target_seconds if level == SlaLevel.BREACHED else WARNING_FRACTION * clock.target_seconds
    return clock.elapsed_seconds - line <= settings.SLA_ALERT_STALE_SECONDS


def check_sla(*, tenant: Tenant, now: datetime, batch_size: int = 500) -> list[RaisedAlert]:
    """Raise every warning (80% of a target) and breach reached by a running clock, once per task, target
    and level. A clock found already past its target gets its warning recorded but not sent: one message
    ("breached") says it all; an alert whose line was crossed more than SLA_ALERT_STALE_SECONDS ago is
    recorded but not sent either. Safe to run concurrently with itself: the alert's unique key decides."""
    targets = sla_targets()
    raised: list[RaisedAlert] = []
    batch: list[Task] = []

    def flush() -> None:
        changes = selectors.status_changes_of(task_ids=[task.pk for task in batch])
        for task in batch:
            clocks = task_clocks(
                created_at=task.created_at,
                status_changes=changes.get(task.pk, []),
                now=now,
                targets=targets[task.priority],
            )
            with transaction.atomic():
                for clock in clocks:
                    level = clock.level
                    if level is None:
                        continue
                    if level == SlaLevel.BREACHED:
                        warning = _raise(
                            tenant=tenant, task=task, clock=clock, level=SlaLevel.WARNING, notify_people=False
                        )
                        if warning:
                            raised.append(warning)
                    alert = _raise(
                        tenant=tenant,
                        task=task,
                        clock=clock,
                        level=level,
                        notify_people=_is_news(clock, level),
                    )
                    if alert:
                        raised.append(alert)
        batch.clear()

    for task in selectors.tasks_to_check(
        now=now, earliest_alert_seconds=selectors.earliest_warning_seconds()
    ):
        batch.append(task)
        if len(batch) >= batch_size:
            flush()
    if batch:
        flush()
    return raised
