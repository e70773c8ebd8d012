"""Property: whatever sequence of edits, transitions, deletes and restores people attempt (allowed or not),

- the activity log replays to the task's current state,
- every change that succeeded did exactly what was asked, and every refused one wrote nothing,
- the log's rows are in order (seq and occurred_at) and the tenant's hash chain verifies,
- the time-in-status durations add up to the task's age, and match a model of the status history.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.exceptions import APIException

from accounts.models import Role, User
from tenancy.models import Tenant
from tests.tracker.conftest import default_project_for
from tracker import audit, selectors, services
from tracker.models import Priority, Status, Task, TaskActivity

ACTORS = ("admin", "manager", "reporter", "bystander")  # the reporter and the bystander are MEMBERs

titles = st.one_of(st.sampled_from(["", "   ", "x" * 201, "nul\x00"]), st.text(min_size=1, max_size=20))
edited_fields = {
    "title": titles,
    "description": st.text(max_size=10),
    "priority": st.sampled_from(Priority.values),
    "due_at": st.one_of(st.none(), st.integers(0, 2000)),  # hours after the change
}
assignees = st.sampled_from([None, *ACTORS])
transitions = st.tuples(st.just("update"), st.fixed_dictionaries({"status": st.sampled_from(Status.values)}))
changes = st.one_of(
    st.tuples(st.just("update"), st.fixed_dictionaries({}, optional=edited_fields)),
    transitions,
    transitions,
    transitions,
    st.tuples(st.just("update"), st.fixed_dictionaries({"assignee": assignees})),
    st.tuples(  # one change of fields, assignee and status together
        st.just("update"),
        st.fixed_dictionaries(
            {"status": st.sampled_from(Status.values), "assignee": assignees}, optional=edited_fields
        ),
    ),
    st.tuples(st.sampled_from(["delete", "restore"]), st.just({})),
)
steps = st.lists(
    st.tuples(
        changes,
        st.sampled_from(["admin", "admin", "manager", "manager", "reporter", "reporter", "bystander"]),
        st.integers(0, 4 * 3600),  # seconds since the previous attempt; 0: at the same instant
    ),
    min_size=4,
    max_size=16,
)


@dataclass
class People:
    by_name: dict[str, User]

    def __getitem__(self, name: str) -> User:
        return self.by_name[name]


def _counts(task: Task) -> tuple[int, int]:
    return TaskActivity.objects.count(), Task.objects.get(pk=task.pk).version


def _attempt(
    task: Task, kind: str, edit: dict[str, Any], actor: User, people: People, when: datetime
) -> Task:
    if kind == "delete":
        return services.delete_task(task=task, actor=actor, occurred_at=when)
    if kind == "restore":
        return services.restore_task(task=task, actor=actor, occurred_at=when)
    fields = dict(edit)
    if "due_at" in fields and fields["due_at"] is not None:
        fields["due_at"] = when + timedelta(hours=fields["due_at"])
    if "assignee" in fields and fields["assignee"] is not None:
        fields["assignee"] = people[fields["assignee"]]
    return services.update_task(task=task, actor=actor, occurred_at=when, **fields)


def _asked_for(
    before: dict[str, Any], kind: str, edit: dict[str, Any], people: People, when: datetime
) -> dict:
    expected = dict(before)
    if kind == "delete":
        expected["deleted_at"] = before["deleted_at"] or audit.log_value(when)
    elif kind == "restore":
        expected["deleted_at"] = None
    else:
        for field, value in edit.items():
            if field == "title":
                value = value.strip()
            elif field == "due_at" and value is not None:
                value = audit.log_value(when + timedelta(hours=value))
            elif field == "assignee" and value is not None:
                value = people[value].pk
            expected[field] = value
    return expected


@settings(max_examples=35, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(script=steps)
def test_the_log_replays_to_the_task_and_time_adds_up(
    in_tenant: Tenant, people: People, script: list[tuple]
) -> None:
    start = timezone.now() - timedelta(days=30)
    with transaction.atomic():
        project = default_project_for(in_tenant)
        task = services.create_task(
            actor=people["reporter"], project=project, title="Start", occurred_at=start
        )
        clock, effective = start, 0
        history = [(Status.OPEN.value, start)]
        for (kind, edit), actor_name, gap in script:
            clock += timedelta(seconds=gap)
            before_state, (rows_before, version_before) = audit.task_log_state(task), _counts(task)
            try:
                task = _attempt(task, kind, edit, people[actor_name], people, clock)
            except APIException:
                assert _counts(task) == (rows_before, version_before), "a refused change wrote something"
                task = Task.objects.get(pk=task.pk)
                continue
            state = audit.task_log_state(task)
            assert state == _asked_for(before_state, kind, edit, people, clock)
            if task.version != version_before:
                effective += 1
                assert state != before_state and task.updated_at == clock
            if state["status"] != before_state["status"]:
                history.append((state["status"], clock))

        task = Task.objects.get(pk=task.pk)
        rows = list(selectors.task_activity(task=task))
        assert selectors.replay_activity(rows) == audit.task_log_state(task)
        assert task.version == 1 + effective
        assert [row.occurred_at for row in rows] == sorted(row.occurred_at for row in rows)
        assert audit.verify_chain().ok

        end = clock + timedelta(minutes=5)
        sla = selectors.time_in_status(task=task, now=end)
        assert sla.total == end - task.created_at
        assert (sla.current_status, sla.status_since) == history[-1]
        expected = {status: timedelta() for status in Status.values}
        for (status, since), (_, until) in zip(history, [*history[1:], (None, end)], strict=True):
            expected[status] += until - since
        assert sla.durations == expected
        transaction.set_rollback(True)


@pytest.fixture
def people(in_tenant: Tenant, make_user: Callable[..., User]) -> People:
    return People(
        {
            "admin": make_user(tenant=in_tenant, role=Role.ADMIN),
            "manager": make_user(tenant=in_tenant, role=Role.MANAGER),
            "reporter": make_user(tenant=in_tenant, role=Role.MEMBER),
            "bystander": make_user(tenant=in_tenant, role=Role.MEMBER),
        }
    )
