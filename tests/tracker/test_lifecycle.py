"""The lifecycle table, enforced on every status change (and only there)."""

from collections.abc import Callable
from itertools import product

import pytest

from accounts.models import Role
from tenancy.models import Tenant
from tests.conftest import assert_problem
from tests.tracker.conftest import Tracker, activity_of, writes_nothing
from tracker.lifecycle import TRANSITIONS, allowed_targets, is_reopening
from tracker.models import Status

# How to reach each status from a new (OPEN) task.
PATH_TO = {
    Status.OPEN: [],
    Status.IN_PROGRESS: [Status.IN_PROGRESS],
    Status.BLOCKED: [Status.IN_PROGRESS, Status.BLOCKED],
    Status.DONE: [Status.IN_PROGRESS, Status.DONE],
}


def test_the_table_is_exactly_the_issues() -> None:
    assert dict(TRANSITIONS) == {
        "OPEN": ("IN_PROGRESS",),
        "IN_PROGRESS": ("BLOCKED", "DONE", "OPEN"),
        "BLOCKED": ("IN_PROGRESS",),
        "DONE": ("OPEN",),
    }
    assert [pair for pair in product(Status.values, repeat=2) if is_reopening(*pair)] == [("DONE", "OPEN")]


@pytest.mark.parametrize(
    ("current", "target"), [(a, b) for a, b in product(Status.values, repeat=2) if a != b]
)
def test_every_status_change_follows_the_table(
    tracker_as: Callable[..., Tracker], tenant: Tenant, current: str, target: str
) -> None:
    manager = tracker_as(Role.MANAGER)
    task = manager.move(manager.task(), *PATH_TO[Status(current)])
    if target in allowed_targets(current):
        response = manager.patch(task, status=target)
        assert response.status_code == 200 and response.json()["status"] == target
        assert activity_of(tenant, task)[-1].changes == {"status": [current, target]}
    else:
        with writes_nothing(tenant):
            body = assert_problem(manager.patch(task, status=target), 400, "invalid_transition")
        assert body["current_status"] == current and body["requested_status"] == target
        assert body["allowed"] == list(allowed_targets(current))


@pytest.mark.parametrize("status", Status.values)
def test_patching_to_the_current_status_is_no_change(
    tracker_as: Callable[..., Tracker], tenant: Tenant, status: str
) -> None:
    manager = tracker_as(Role.MANAGER)
    task = manager.move(manager.task(), *PATH_TO[Status(status)])
    with writes_nothing(tenant):
        response = manager.patch(task, status=status)
    assert response.status_code == 200 and response.json()["version"] == task["version"]


def test_an_invalid_transition_rolls_back_the_fields_sent_with_it(
    tracker_as: Callable[..., Tracker], tenant: Tenant
) -> None:
    manager = tracker_as(Role.MANAGER)
    task = manager.task(title="Before")
    with writes_nothing(tenant):
        assert_problem(manager.patch(task, title="After", status="DONE"), 400, "invalid_transition")
    assert manager.get(task).json()["title"] == "Before"


@pytest.mark.parametrize("role", [Role.MANAGER, Role.ADMIN])
def test_managers_and_admins_reopen(tracker_as: Callable[..., Tracker], role: str) -> None:
    task = tracker_as(Role.MANAGER).task()
    reopener = tracker_as(role)
    done = reopener.move(task, "IN_PROGRESS", "DONE")
    assert reopener.move(done, "OPEN")["status"] == "OPEN"


def test_a_member_cannot_reopen_even_their_own_task(
    tracker_as: Callable[..., Tracker], tenant: Tenant
) -> None:
    member = tracker_as(Role.MEMBER)
    task = member.move(member.task(assignee=member.user.pk), "IN_PROGRESS", "DONE")
    with writes_nothing(tenant):
        body = assert_problem(member.patch(task, status="OPEN"), 403, "role_too_low")
    assert body["required_role"] == "MANAGER"
