"""Task changes reach people exactly once, through the real relay and worker."""

from pathlib import Path
from typing import Any

import pytest
import redis

from analytics.dirty import DIRTY_DAYS_KEY
from analytics_refresh.versions import current_version
from notifications.models import NotificationKind
from notifications.services import set_email_preference
from tenancy.models import Tenant
from tests.jobs.helpers import in_tenant, make_cast, notifications_of, outbox_events, processed
from tests.jobs.live import LiveStack
from tests.live import wait_until
from tracker.models import Status

pytestmark = pytest.mark.live_server


def _all_jobs_done(tenant: Tenant, event_id: int, *jobs: str) -> bool:
    return all(processed(tenant, job=job, event_id=event_id) for job in jobs)


def test_a_status_change_notifies_assignee_and_reporter_once_each_but_not_the_actor(
    live: LiveStack,
    committed: None,
    jobs_tenant: Tenant,
    member: Any,
    test_redis: redis.Redis,
    email_dir: Path,
) -> None:
    cast = make_cast(tenant=jobs_tenant, member=member)
    task = cast.task()
    with in_tenant(jobs_tenant):
        version_before = current_version(project_id=cast.project.pk)

    cast.move(task, Status.IN_PROGRESS)

    [event] = outbox_events(jobs_tenant, task=task, event_type="task.status_changed")
    wait_until(
        lambda: _all_jobs_done(
            jobs_tenant, event.id, "notifications.notify_task_event", "analytics_refresh.on_task_event"
        ),
        what="the status change's jobs",
    )
    notes = notifications_of(jobs_tenant, task=task)
    assert sorted(note.recipient_id for note in notes) == sorted([cast.assignee.pk, cast.reporter.pk])
    assert {note.kind for note in notes} == {NotificationKind.TASK_STATUS_CHANGED}
    assert notes[0].payload["changes"] == {"status": ["OPEN", "IN_PROGRESS"]}

    # Cached analytics of the project are invalidated and the day is queued for the pipeline.
    with in_tenant(jobs_tenant):
        assert current_version(project_id=cast.project.pk) > version_before
    day = event.payload["occurred_at"][:10]
    assert test_redis.zscore(DIRTY_DAYS_KEY, f"{jobs_tenant.slug}|{day}") is not None

    # Each recipient gets one email, through the relay and the email job.
    def emails_to(address: str) -> int:
        return sum(path.read_text().count(f"To: {address}") for path in email_dir.glob("*.log"))

    wait_until(lambda: emails_to(cast.assignee.email) and emails_to(cast.reporter.email), what="two emails")
    assert emails_to(cast.assignee.email) == 1 and emails_to(cast.reporter.email) == 1
    assert emails_to(cast.actor.email) == 0


def test_assignment_notifies_the_new_assignee_and_email_respects_the_preference(
    live: LiveStack, committed: None, jobs_tenant: Tenant, member: Any, email_dir: Path
) -> None:
    cast = make_cast(tenant=jobs_tenant, member=member)
    task = cast.task()
    newcomer = member()
    with in_tenant(jobs_tenant):
        set_email_preference(user=newcomer, email_enabled=False)
        from tracker import services as tracker

        tracker.update_task(task=task, actor=cast.actor, assignee=newcomer)

    [event] = outbox_events(jobs_tenant, task=task, event_type="task.assigned")
    wait_until(lambda: processed(jobs_tenant, job="notifications.notify_task_event", event_id=event.id))
    notes = notifications_of(jobs_tenant, task=task, kind=NotificationKind.TASK_ASSIGNED)
    assert sorted(note.recipient_id for note in notes) == sorted([newcomer.pk, cast.reporter.pk])
    muted = next(note for note in notes if note.recipient_id == newcomer.pk)
    assert muted.email_wanted is False
    wait_until(
        lambda: any(f"To: {cast.reporter.email}" in path.read_text() for path in email_dir.glob("*.log"))
    )
    assert not any(f"To: {newcomer.email}" in path.read_text() for path in email_dir.glob("*.log"))
