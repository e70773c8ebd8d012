"""`tracker.writes` (hand-written SQL: the task, activity and outbox rows in fewer round trips) writes
exactly the rows the straightforward ORM writes (`tests/tracker/orm_reference.py`), column by column."""

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from accounts.models import Role, User
from tenancy.models import Tenant
from tests.tracker.conftest import Tracker, default_project_for
from tests.tracker.orm_reference import append_activity, record_task_event
from tracker import lifecycle, services, writes
from tracker.audit import log_value, task_log_state, verify_chain
from tracker.errors import ProjectArchivedError
from tracker.models import PRIORITY_RANK, ActivityVerb, OutboxEvent, Project, Task, TaskActivity

# --- rows -----------------------------------------------------------------------------------------------


def _rows(task_id: Any) -> dict[str, list[dict[str, Any]]]:
    return {
        "task": list(Task.objects.filter(pk=task_id).values()),
        "activity": list(TaskActivity.objects.filter(task_id=task_id).order_by("seq").values()),
        "outbox": list(OutboxEvent.objects.filter(task_id=task_id).order_by("id").values()),
    }


def _comparable(rows: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """Everything but the generated row ids and the outbox row's insert time (checked apart)."""
    return {
        "task": rows["task"],
        "activity": [{k: v for k, v in row.items() if k != "id"} for row in rows["activity"]],
        "outbox": [{k: v for k, v in row.items() if k not in ("id", "created_at")} for row in rows["outbox"]],
    }


def _orm_create_task(*, actor: User, project: Project, when: datetime, **fields: Any) -> Task:
    """`services.create_task`'s writes as the ORM made them before `tracker.writes`."""
    with transaction.atomic():
        current = Project.objects.filter(pk=project.pk).first()
        assert current is not None and current.archived_at is None
        priority = fields.get("priority", "MEDIUM")
        task = Task.objects.create(
            project=current,
            title=fields["title"].strip(),
            description=fields.get("description", ""),
            status=lifecycle.INITIAL_STATUS,
            priority=priority,
            priority_rank=PRIORITY_RANK[priority],
            assignee=fields.get("assignee"),
            reporter=actor,
            due_at=fields.get("due_at"),
            version=1,
            created_at=when,
            updated_at=when,
        )
        state = task_log_state(task)
        state.pop("deleted_at")
        activity = append_activity(
            task_id=task.pk,
            actor_id=actor.pk,
            verb=ActivityVerb.CREATED,
            changes={field: [None, value] for field, value in state.items()},
            occurred_at=when,
        )
        record_task_event(activity=activity, project_id=task.project_id)
    return task


@pytest.fixture
def fixed_task_id(monkeypatch: pytest.MonkeyPatch) -> Iterator[uuid.UUID]:
    """New tasks get this id (so that the ORM's rows and the shortcut's can be compared, hashes too)."""
    task_id = uuid.uuid4()
    monkeypatch.setattr(Task._meta.pk, "_get_default", lambda: task_id)
    yield task_id


def _instance_state(task: Task) -> dict[str, Any]:
    return {
        **{field.attname: getattr(task, field.attname) for field in Task._meta.concrete_fields},
        "project": {f.attname: getattr(task.project, f.attname) for f in Project._meta.concrete_fields},
        "assignee": task.assignee,
        "reporter": task.reporter,
        "adding": task._state.adding,
        "db": task._state.db,
    }


@pytest.mark.parametrize(
    "fields",
    [
        {"title": "Plain"},
        {"title": "  Ünïcödé ✓  ", "description": 'line\nbreak "quotes" \\ 日本語', "priority": "URGENT"},
        {"title": "Assigned", "assign": True, "due_at": datetime(2031, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)},
    ],
)
def test_create_writes_the_rows_the_orm_wrote(
    tracker_as: Callable[..., Tracker],
    tenant: Tenant,
    in_tenant: Tenant,
    fixed_task_id: uuid.UUID,
    fields: dict[str, Any],
) -> None:
    manager = tracker_as(Role.MANAGER)
    project = default_project_for(tenant)
    if fields.pop("assign", False):
        fields["assignee"] = tracker_as(Role.MEMBER).user
    when = timezone.now() - timedelta(seconds=1)

    sid = transaction.savepoint()
    before = timezone.now()
    reference = _orm_create_task(actor=manager.user, project=project, when=when, **fields)
    expected = _rows(fixed_task_id)
    reference_state = _instance_state(reference)
    transaction.savepoint_rollback(sid)
    assert _rows(fixed_task_id) == {"task": [], "activity": [], "outbox": []}

    task = services.create_task(actor=manager.user, project=project, occurred_at=when, **fields)
    written = _rows(fixed_task_id)
    after = timezone.now()

    assert task.pk == fixed_task_id
    assert len(written["task"]) == len(written["activity"]) == len(written["outbox"]) == 1
    assert _comparable(written) == _comparable(expected)  # the hash and seq too: the same chain
    assert before <= written["outbox"][0]["created_at"] <= after
    assert _instance_state(task) == reference_state
    assert verify_chain().ok


def test_each_verb_logs_the_rows_the_orm_wrote(
    tracker_as: Callable[..., Tracker], tenant: Tenant, in_tenant: Tenant
) -> None:
    manager = tracker_as(Role.MANAGER)
    task = services.create_task(actor=manager.user, project=default_project_for(tenant), title="Logged")
    when = timezone.now()
    cases = [
        (ActivityVerb.UPDATED, {"title": ["Logged", "Renamed ✓"], "due_at": [None, log_value(when)]}),
        (ActivityVerb.ASSIGNED, {"assignee": [None, manager.user.pk]}),
        (ActivityVerb.STATUS_CHANGED, {"status": ["OPEN", "IN_PROGRESS"]}),
        (ActivityVerb.DELETED, {"deleted_at": [None, log_value(when)]}),
        (ActivityVerb.RESTORED, {"deleted_at": [log_value(when), None]}),
    ]
    for verb, changes in cases:
        change = {"actor_id": manager.user.pk, "verb": verb, "changes": changes, "occurred_at": when}
        sid = transaction.savepoint()
        activity = append_activity(task_id=task.pk, **change)
        record_task_event(activity=activity, project_id=task.project_id)
        expected = _rows(task.pk)
        transaction.savepoint_rollback(sid)
        writes.log_change(task_id=task.pk, project_id=task.project_id, **change)
        assert _comparable(_rows(task.pk)) == _comparable(expected), verb
    assert verify_chain().ok


def test_create_into_a_gone_or_archived_project_writes_nothing(
    tracker_as: Callable[..., Tracker], tenant: Tenant, in_tenant: Tenant
) -> None:
    manager = tracker_as(Role.MANAGER)
    project = services.create_project(actor=manager.user, name="Soon archived", key="GONEARCH")
    stale = Project.objects.get(pk=project.pk)  # the caller's copy, read before the archive
    services.archive_project(project=project, actor=manager.user)
    counts = (Task.objects.count(), TaskActivity.objects.count(), OutboxEvent.objects.count())

    with pytest.raises(ProjectArchivedError) as archived:
        services.create_task(actor=manager.user, project=stale, title="Too late")
    assert str(archived.value.detail) == "Project GONEARCH is archived: it takes no new tasks."
    ghost = Project(pk=uuid.uuid4(), key="GHOST", created_by=manager.user, created_at=timezone.now())
    with pytest.raises(ValidationError) as raised:
        services.create_task(actor=manager.user, project=ghost, title="Nowhere")
    assert raised.value.detail == {"project": ["No project of this tenant has this id."]}
    assert (Task.objects.count(), TaskActivity.objects.count(), OutboxEvent.objects.count()) == counts
