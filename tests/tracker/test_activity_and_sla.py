"""GET …/activity/ (the task's audit log, oldest first) and GET …/sla/ (time in each status, from the log)."""

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from accounts.models import Role, User
from tenancy.models import Tenant
from tests.conftest import assert_problem
from tests.tracker.conftest import Tracker, default_project_for, outbox_of
from tracker import selectors, services
from tracker.models import Task


def test_activity_is_the_tasks_log_oldest_first(tracker_as: Callable[..., Tracker], tenant: Tenant) -> None:
    manager = tracker_as(Role.MANAGER)
    task = manager.task(title="Draft")
    manager.patch(task, title="Final", status="IN_PROGRESS")
    manager.move(task, "BLOCKED")
    member = tracker_as(Role.MEMBER)
    response = member.activity(task)
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [row["verb"] for row in rows] == ["created", "updated", "status_changed", "status_changed"]
    assert [row["seq"] for row in rows] == sorted(row["seq"] for row in rows)
    assert {row["actor"] for row in rows} == {manager.user.pk} and {row["task"] for row in rows} == {
        task["id"]
    }
    assert rows[1]["changes"] == {"title": ["Draft", "Final"]}
    assert rows[0]["prev_hash"] != rows[0]["hash"] == rows[1]["prev_hash"]
    # Every row has its outbox event, in the same order.
    assert [e.payload["activity_seq"] for e in outbox_of(tenant, task)] == [row["seq"] for row in rows]


def test_activity_is_paginated(tracker_as: Callable[..., Tracker]) -> None:
    manager = tracker_as(Role.MANAGER)
    task = manager.move(manager.task(), "IN_PROGRESS", "BLOCKED", "IN_PROGRESS", "DONE")
    first = manager.activity(task, page_size=2).json()
    assert [row["verb"] for row in first["results"]] == ["created", "status_changed"]
    second = manager.http.get(first["next"]).json()
    third = manager.http.get(second["next"]).json()
    assert len(second["results"]) == 2 and len(third["results"]) == 1 and third["next"] is None
    assert manager.http.get(third["previous"]).json()["results"] == second["results"]
    assert_problem(manager.activity(task, page_size=500), 400, "validation_error")


def test_activity_of_a_task_only_shows_that_task(tracker_as: Callable[..., Tracker]) -> None:
    manager = tracker_as(Role.MANAGER)
    first, second = manager.task(), manager.task()
    manager.move(second, "IN_PROGRESS")
    assert len(manager.activity(first).json()["results"]) == 1


def _history(tenant: Tenant, actor: User) -> Task:
    """OPEN 1 h, IN_PROGRESS 30 min, BLOCKED 15 min, IN_PROGRESS 5 min, DONE since 10 min ago."""
    start = timezone.now() - timedelta(hours=2)
    with tenant_context(tenant):
        project = default_project_for(tenant)
        task = services.create_task(actor=actor, project=project, title="Timed", occurred_at=start)
        for status, minutes in [("IN_PROGRESS", 60), ("BLOCKED", 90), ("IN_PROGRESS", 105), ("DONE", 110)]:
            task = services.update_task(
                task=task, actor=actor, status=status, occurred_at=start + timedelta(minutes=minutes)
            )
    return task


def test_sla_counts_seconds_in_each_status_including_the_open_interval(
    tracker_as: Callable[..., Tracker], tenant: Tenant
) -> None:
    manager = tracker_as(Role.MANAGER)
    task = _history(tenant, manager.user)
    sla = tracker_as(Role.MEMBER).sla(str(task.pk)).json()
    assert sla["current_status"] == "DONE"
    assert sla["status_since"] == (task.updated_at).isoformat().replace("+00:00", "Z")
    seconds = sla["seconds_in_status"]
    assert (seconds["OPEN"], seconds["IN_PROGRESS"], seconds["BLOCKED"]) == (3600, 1800 + 300, 900)
    assert 600 <= seconds["DONE"] < 660  # the open interval runs up to now
    assert sla["total_seconds"] == pytest.approx(sum(seconds.values()))
    assert sla["total_seconds"] == pytest.approx(7200, abs=60)


def test_sla_reports_each_target_with_blocked_time_paused(
    tracker_as: Callable[..., Tracker], tenant: Tenant
) -> None:
    task = _history(tenant, tracker_as(Role.MANAGER).user)
    targets = {row["target"]: row for row in tracker_as(Role.MEMBER).sla(str(task.pk)).json()["targets"]}
    assert set(targets) == {"time_to_start", "time_to_done"}
    start, done = targets["time_to_start"], targets["time_to_done"]
    assert (start["elapsed_seconds"], start["paused_seconds"], start["state"]) == (3600, 0, "met")
    # Created → DONE is 110 min, of which 15 min BLOCKED do not count.
    assert (done["elapsed_seconds"], done["paused_seconds"], done["state"]) == (95 * 60, 900, "met")
    assert done["remaining_seconds"] == done["target_seconds"] - 95 * 60


def test_sla_of_a_new_task_is_all_open(tracker_as: Callable[..., Tracker]) -> None:
    sla = tracker_as(Role.MEMBER).sla(tracker_as(Role.MEMBER).task()).json()
    assert sla["current_status"] == "OPEN"
    assert sla["seconds_in_status"]["IN_PROGRESS"] == sla["seconds_in_status"]["DONE"] == 0
    assert sla["total_seconds"] == sla["seconds_in_status"]["OPEN"] >= 0


def test_the_selector_takes_any_now(tracker_as: Callable[..., Tracker], tenant: Tenant) -> None:
    task = _history(tenant, tracker_as(Role.MANAGER).user)
    with tenant_context(tenant):
        later = task.updated_at + timedelta(days=1)
        sla = selectors.time_in_status(task=task, now=later)
    assert sla.durations["DONE"] == timedelta(days=1) and sla.as_of == later
    assert sla.total == later - task.created_at


def test_history_cannot_be_written_backwards_or_into_the_future(
    tracker_as: Callable[..., Tracker], tenant: Tenant
) -> None:
    actor = tracker_as(Role.MANAGER).user
    task = _history(tenant, actor)
    with tenant_context(tenant):
        for when in (task.updated_at - timedelta(seconds=1), timezone.now() + timedelta(hours=1)):
            with pytest.raises(ValueError):
                services.update_task(task=task, actor=actor, title="Too late", occurred_at=when)
        with pytest.raises(ValueError):
            services.delete_task(task=task, actor=actor, occurred_at=task.updated_at.replace(tzinfo=None))
        assert Task.objects.get(pk=task.pk).version == task.version
