"""SLA warnings and breaches from the every-minute check, in a real worker."""

import re
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from background.base import tenant_job_kwargs
from background.jobs import for_each_tenant
from notifications.models import NotificationKind
from sla.jobs import check_sla
from sla.models import SlaAlert, SlaLevel, SlaTargetName
from sla.services import reset_policy, set_policy
from tenancy.models import Tenant
from tests.jobs.helpers import in_tenant, make_cast, notifications_of
from tests.jobs.live import LiveStack
from tests.live import wait_until
from tracker.models import Priority, Status

pytestmark = pytest.mark.live_server


def _alerts(tenant: Tenant, task: Any) -> list[tuple[str, str]]:
    with in_tenant(tenant):
        return list(SlaAlert.objects.filter(task=task).order_by("id").values_list("target", "level"))


def _run_check(live: LiveStack, tenant: Tenant) -> None:
    """Send the tenant's SLA check and wait until the worker finished it."""
    result = check_sla.apply_async(kwargs=tenant_job_kwargs(tenant=tenant))
    assert live.worker is not None
    done = re.compile(rf"Task sla\.check_sla\[{result.id}\] succeeded")
    wait_until(lambda: done.search(live.worker.log()), what="the SLA check")


def test_a_warning_and_a_breach_are_raised_once_each_and_time_in_blocked_does_not_count(
    live: LiveStack, committed: None, jobs_tenant: Tenant, member: Any
) -> None:
    with in_tenant(jobs_tenant):
        set_policy(priority=Priority.HIGH, time_to_start_seconds=3600, time_to_done_seconds=40)
    try:
        cast = make_cast(tenant=jobs_tenant, member=member)
        now = timezone.now()
        # 200 s old, of which 166 s BLOCKED: the done clock stands at ~34 s of 40 (85%) — a warning, where
        # counting the blocked time would have breached the target five times over.
        task = cast.task(priority=Priority.HIGH, occurred_at=now - timedelta(seconds=200))
        cast.move(task, Status.IN_PROGRESS, occurred_at=now - timedelta(seconds=199))
        cast.move(task, Status.BLOCKED, occurred_at=now - timedelta(seconds=198))
        cast.move(task, Status.IN_PROGRESS, occurred_at=now - timedelta(seconds=32))

        # Beat's path: one check per tenant.
        for_each_tenant.apply_async(args=("sla.check_sla",))
        wait_until(lambda: _alerts(jobs_tenant, task), what="the warning")
        _run_check(live, jobs_tenant)
        assert _alerts(jobs_tenant, task) == [(SlaTargetName.TIME_TO_DONE, SlaLevel.WARNING)]
        warnings = notifications_of(jobs_tenant, task=task, kind=NotificationKind.SLA_WARNING)
        assert sorted(note.recipient_id for note in warnings) == sorted([cast.assignee.pk, cast.reporter.pk])
        assert warnings[0].payload["target"] == SlaTargetName.TIME_TO_DONE
        assert 160 <= warnings[0].payload["paused_seconds"] <= 170
        assert 30 <= warnings[0].payload["elapsed_seconds"] < 40

        # The clock moves on past the target (lowering the target stands in for waiting ten seconds).
        with in_tenant(jobs_tenant):
            set_policy(priority=Priority.HIGH, time_to_start_seconds=3600, time_to_done_seconds=30)
        _run_check(live, jobs_tenant)
        _run_check(live, jobs_tenant)
        assert _alerts(jobs_tenant, task) == [
            (SlaTargetName.TIME_TO_DONE, SlaLevel.WARNING),
            (SlaTargetName.TIME_TO_DONE, SlaLevel.BREACHED),
        ]
        breaches = notifications_of(jobs_tenant, task=task, kind=NotificationKind.SLA_BREACHED)
        assert sorted(note.recipient_id for note in breaches) == sorted([cast.assignee.pk, cast.reporter.pk])
        assert len(notifications_of(jobs_tenant, task=task, kind=NotificationKind.SLA_WARNING)) == 2

        # Done: the clock stops and nothing more is raised.
        cast.move(task, Status.DONE)
        _run_check(live, jobs_tenant)
        assert len(_alerts(jobs_tenant, task)) == 2
    finally:
        with in_tenant(jobs_tenant):
            reset_policy(priority=Priority.HIGH)
