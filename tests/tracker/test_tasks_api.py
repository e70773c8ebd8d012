"""/api/v1/tasks/: create, read, change (fields + assignee + status in one version), soft delete, restore."""

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django_tenants.utils import tenant_context

from accounts.models import Membership, Role, User
from accounts.services import remove_member
from tenancy.models import Tenant
from tests.conftest import assert_problem
from tests.tracker.conftest import (
    TASKS,
    Tracker,
    activity_of,
    default_project_for,
    outbox_of,
    stored_task,
    task_url,
    writes_nothing,
)
from tracker.models import Task

# --- create ----------------------------------------------------------------------------------------------


def test_member_creates_an_open_task_they_report(tracker_as: Callable[..., Tracker], tenant: Tenant) -> None:
    member = tracker_as(Role.MEMBER)
    project = default_project_for(tenant)
    response = member.post_task(
        {
            "project": str(project.pk),
            "title": "  Fix login  ",
            "priority": "HIGH",
            "due_at": "2030-01-02T03:04:05Z",
        }
    )
    assert response.status_code == 201, response.json()
    task = response.json()
    assert task["title"] == "Fix login" and task["status"] == "OPEN" and task["priority"] == "HIGH"
    assert task["reporter"] == member.user.pk and task["assignee"] is None and task["version"] == 1
    assert task["due_at"] == "2030-01-02T03:04:05Z" and task["allowed_transitions"] == ["IN_PROGRESS"]
    assert response["ETag"] == '"1"' and response["Location"].endswith(task_url(task))

    (created,) = activity_of(tenant, task)
    assert created.verb == "created" and created.actor_id == member.user.pk
    assert created.changes == {
        "project": [None, str(project.pk)],
        "title": [None, "Fix login"],
        "description": [None, ""],
        "status": [None, "OPEN"],
        "priority": [None, "HIGH"],
        "assignee": [None, None],
        "reporter": [None, member.user.pk],
        "due_at": [None, "2030-01-02T03:04:05Z"],
    }
    (event,) = outbox_of(tenant, task)
    assert event.event_type == "task.created"
    assert event.payload["task_id"] == task["id"] and event.payload["project_id"] == str(project.pk)
    assert event.payload["actor_id"] == member.user.pk and event.payload["changes"] == created.changes


def test_title_of_exactly_200_characters_is_fine(tracker_as: Callable[..., Tracker]) -> None:
    assert len(tracker_as(Role.MEMBER).task(title="x" * 200)["title"]) == 200


def test_manager_creates_an_assigned_task(
    tracker_as: Callable[..., Tracker], make_user: Callable[..., User]
) -> None:
    manager = tracker_as(Role.MANAGER)
    colleague = make_user(tenant=manager.http.tenant)
    assert manager.task(assignee=colleague.pk)["assignee"] == colleague.pk


def _ids(tenant: Tenant, other_tenant: Tenant, make_user: Callable[..., User]) -> dict[str, Any]:
    return {
        "project": str(default_project_for(tenant).pk),
        "foreign_project": str(default_project_for(other_tenant).pk),
        "outsider": make_user(tenant=other_tenant).pk,
        "stranger": make_user().pk,
    }


BAD_TASK_INPUT: list[tuple[dict[str, Any], str]] = [
    ({}, "project"),
    ({"project": "{project}"}, "title"),
    ({"project": "{project}", "title": ""}, "title"),
    ({"project": "{project}", "title": "   "}, "title"),
    ({"project": "{project}", "title": "x" * 201}, "title"),
    ({"project": "{project}", "title": None}, "title"),
    ({"project": "{project}", "title": 42}, "title"),
    ({"project": "{project}", "title": ["a"]}, "title"),
    ({"project": "{project}", "title": "nul \x00 byte"}, "title"),
    ({"project": "{project}", "title": "x", "description": {"a": 1}}, "description"),
    ({"project": "{project}", "title": "x", "priority": "SEVERE"}, "priority"),
    ({"project": "{project}", "title": "x", "priority": 3}, "priority"),
    ({"project": "{project}", "title": "x", "assignee": "7"}, "assignee"),
    ({"project": "{project}", "title": "x", "assignee": True}, "assignee"),
    ({"project": "{project}", "title": "x", "assignee": 1.5}, "assignee"),
    ({"project": "{project}", "title": "x", "assignee": 2**70}, "assignee"),
    ({"project": "{project}", "title": "x", "assignee": "{outsider}"}, "assignee"),
    ({"project": "{project}", "title": "x", "assignee": "{stranger}"}, "assignee"),
    ({"project": "{project}", "title": "x", "due_at": "next tuesday"}, "due_at"),
    ({"project": "{project}", "title": "x", "due_at": "2030-13-01T00:00:00Z"}, "due_at"),
    ({"project": "{project}", "title": "x", "due_at": "01/02/2030"}, "due_at"),
    ({"project": "{project}", "title": "x", "due_at": 1700000000}, "due_at"),
    ({"project": "{project}", "title": "x", "due_at": "9999-12-31T23:59:59-05:00"}, "due_at"),
    ({"project": "not-a-uuid", "title": "x"}, "project"),
    ({"project": 12, "title": "x"}, "project"),
    ({"project": str(uuid.UUID(int=1)), "title": "x"}, "project"),
    ({"project": "{foreign_project}", "title": "x"}, "project"),
    ({"project": "{project}", "title": "x", "status": "DONE"}, "status"),
    ({"project": "{project}", "title": "x", "reporter": 1}, "reporter"),
    ({"project": "{project}", "title": "x", "version": 9}, "version"),
    ({"project": "{project}", "title": "x", "colour": "red"}, "colour"),
]


def _fill(payload: dict[str, Any], ids: dict[str, Any]) -> dict[str, Any]:
    filled = {}
    for name, value in payload.items():
        if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
            value = ids[value[1:-1]]
        filled[name] = value
    return filled


@pytest.mark.parametrize(("payload", "field"), BAD_TASK_INPUT)
def test_bad_task_input_is_400_and_writes_nothing(
    tracker_as: Callable[..., Tracker],
    tenant: Tenant,
    other_tenant: Tenant,
    make_user: Callable[..., User],
    payload: dict[str, Any],
    field: str,
) -> None:
    manager = tracker_as(Role.MANAGER)
    body_in = _fill(payload, _ids(tenant, other_tenant, make_user))
    with writes_nothing(tenant):
        body = assert_problem(manager.post_task(body_in), 400, "validation_error")
    assert field in body["errors"], body


@pytest.mark.parametrize(
    "raw",
    [
        b'{"title": "\\ud800", "project": "%s"}',  # a lone surrogate: valid JSON, not storable text
        b'["a list"]',
        b'"a string"',
        b"null",
    ],
)
def test_bodies_that_are_not_task_objects_are_400(
    tracker_as: Callable[..., Tracker], tenant: Tenant, raw: bytes
) -> None:
    manager = tracker_as(Role.MANAGER)
    content = raw.replace(b"%s", str(default_project_for(tenant).pk).encode())
    with writes_nothing(tenant):
        response = manager.http.client.post(
            TASKS, content, content_type="application/json", headers={"X-Tenant-ID": str(tenant.id)}
        )
    assert_problem(response, 400, "validation_error")


def test_malformed_json_is_400(tracker_as: Callable[..., Tracker], tenant: Tenant) -> None:
    manager = tracker_as(Role.MANAGER)
    response = manager.http.client.post(
        TASKS, b"{nope", content_type="application/json", headers={"X-Tenant-ID": str(tenant.id)}
    )
    assert_problem(response, 400, "malformed_request")


def test_member_may_create_a_task_assigned_to_themselves_only(
    tracker_as: Callable[..., Tracker], make_user: Callable[..., User], tenant: Tenant
) -> None:
    member = tracker_as(Role.MEMBER)
    assert member.task(assignee=member.user.pk)["assignee"] == member.user.pk
    colleague = make_user(tenant=tenant)
    project = str(default_project_for(tenant).pk)
    with writes_nothing(tenant):
        body = member.post_task({"project": project, "title": "x", "assignee": colleague.pk})
        assert_problem(body, 403, "role_too_low")


# --- read ------------------------------------------------------------------------------------------------


def test_any_member_reads_a_task_with_its_etag(tracker_as: Callable[..., Tracker]) -> None:
    task = tracker_as(Role.MANAGER).task()
    response = tracker_as(Role.MEMBER).get(task)
    assert response.status_code == 200 and response.json()["id"] == task["id"]
    assert response["ETag"] == '"1"'


@pytest.mark.parametrize("task_id", ["not-a-uuid", "1", "0" * 32, str(uuid.uuid4())])
def test_unknown_or_malformed_task_ids_are_404(tracker_as: Callable[..., Tracker], task_id: str) -> None:
    admin = tracker_as(Role.ADMIN)
    for response in (
        admin.get(task_id),
        admin.patch(task_id, title="x"),
        admin.delete(task_id),
        admin.restore(task_id),
        admin.activity(task_id),
        admin.sla(task_id),
    ):
        assert_problem(response, 404, "not_found")


def test_another_tenants_task_is_404(tracker_as: Callable[..., Tracker], other_tenant: Tenant) -> None:
    theirs = tracker_as(Role.MANAGER, on_tenant=other_tenant).task()
    admin = tracker_as(Role.ADMIN)
    assert_problem(admin.get(theirs), 404, "not_found")
    assert_problem(admin.patch(theirs, title="mine now"), 404, "not_found")
    assert stored_task(other_tenant, theirs).title == theirs["title"]


# --- change ----------------------------------------------------------------------------------------------


def test_editing_fields_bumps_the_version_and_logs_updated(
    tracker_as: Callable[..., Tracker], tenant: Tenant
) -> None:
    manager = tracker_as(Role.MANAGER)
    task = manager.task(title="Old", priority="LOW")
    response = manager.patch(task, title="New", priority="URGENT", due_at="2031-05-06T07:08:09+02:00")
    assert response.status_code == 200, response.json()
    changed = response.json()
    assert (changed["title"], changed["priority"], changed["version"]) == ("New", "URGENT", 2)
    assert changed["due_at"] == "2031-05-06T05:08:09Z" and response["ETag"] == '"2"'
    updated = activity_of(tenant, task)[-1]
    assert updated.verb == "updated"
    assert updated.changes == {
        "title": ["Old", "New"],
        "priority": ["LOW", "URGENT"],
        "due_at": [None, "2031-05-06T05:08:09Z"],
    }
    assert stored_task(tenant, task).priority_rank == 4


def test_one_patch_of_fields_assignee_and_status_is_one_version_and_three_rows(
    tracker_as: Callable[..., Tracker], make_user: Callable[..., User], tenant: Tenant
) -> None:
    manager = tracker_as(Role.MANAGER)
    colleague = make_user(tenant=tenant)
    task = manager.task(title="Old")
    changed = manager.patch(task, title="New", assignee=colleague.pk, status="IN_PROGRESS").json()
    assert changed["version"] == 2 and changed["status"] == "IN_PROGRESS"
    rows = activity_of(tenant, task)[1:]
    assert [row.verb for row in rows] == ["updated", "assigned", "status_changed"]
    assert [row.changes for row in rows] == [
        {"title": ["Old", "New"]},
        {"assignee": [None, colleague.pk]},
        {"status": ["OPEN", "IN_PROGRESS"]},
    ]
    assert len({row.occurred_at for row in rows}) == 1
    assert [row.seq for row in rows] == [rows[0].seq, rows[0].seq + 1, rows[0].seq + 2]
    assert [e.event_type for e in outbox_of(tenant, task)] == [
        "task.created",
        "task.updated",
        "task.assigned",
        "task.status_changed",
    ]


def test_a_patch_that_changes_nothing_writes_nothing(
    tracker_as: Callable[..., Tracker], tenant: Tenant
) -> None:
    manager = tracker_as(Role.MANAGER)
    task = manager.task(title="Same", priority="HIGH")
    with writes_nothing(tenant):
        response = manager.patch(task, title=" Same ", priority="HIGH", status="OPEN", assignee=None)
    assert response.status_code == 200 and response.json()["version"] == 1
    assert manager.patch(task).json()["version"] == 1


def test_moving_a_task_to_another_project(tracker_as: Callable[..., Tracker], tenant: Tenant) -> None:
    manager = tracker_as(Role.MANAGER)
    task, other = manager.task(), manager.project()
    assert manager.patch(task, project=other["id"]).json()["project"] == other["id"]
    assert activity_of(tenant, task)[-1].changes == {"project": [task["project"], other["id"]]}


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": 1}, "title"),
        ({"status": "CLOSED"}, "status"),
        ({"status": None}, "status"),
        ({"priority": None}, "priority"),
        ({"assignee": "me"}, "assignee"),
        ({"due_at": "2030-02-30T00:00:00Z"}, "due_at"),
        ({"project": None}, "project"),
        ({"project": str(uuid.UUID(int=7))}, "project"),
        ({"version": 5}, "version"),
        ({"reporter": 1}, "reporter"),
        ({"deleted_at": None}, "deleted_at"),
        ({"labels": ["x"]}, "labels"),
    ],
)
def test_bad_patches_are_400_and_write_nothing(
    tracker_as: Callable[..., Tracker], tenant: Tenant, payload: dict[str, Any], field: str
) -> None:
    manager = tracker_as(Role.MANAGER)
    task = manager.task()
    with writes_nothing(tenant):
        body = assert_problem(manager.patch(task, **payload), 400, "validation_error")
    assert field in body["errors"], body
    assert stored_task(tenant, task).version == 1


def test_assignee_must_be_a_member_of_this_tenant(
    tracker_as: Callable[..., Tracker], make_user: Callable[..., User], tenant: Tenant, other_tenant: Tenant
) -> None:
    manager = tracker_as(Role.MANAGER)
    task = manager.task()
    for outsider in (make_user(tenant=other_tenant), make_user()):
        with writes_nothing(tenant):
            body = assert_problem(manager.patch(task, assignee=outsider.pk), 400, "validation_error")
        assert body["errors"] == {"assignee": ["No member of this tenant has this id."]}


# --- optimistic concurrency -----------------------------------------------------------------------------


def test_if_match_with_the_current_etag_applies(tracker_as: Callable[..., Tracker]) -> None:
    manager = tracker_as(Role.MANAGER)
    task = manager.task()
    etag = manager.get(task)["ETag"]
    response = manager.patch(task, headers={"If-Match": etag}, title="Guarded")
    assert response.status_code == 200 and response["ETag"] == '"2"'
    assert manager.patch(task, headers={"If-Match": "*"}, title="Any version").status_code == 200


def test_stale_if_match_is_412(tracker_as: Callable[..., Tracker], tenant: Tenant) -> None:
    manager = tracker_as(Role.MANAGER)
    task = manager.task()
    stale = manager.get(task)["ETag"]
    manager.patch(task, title="Someone else was faster")
    with writes_nothing(tenant):
        body = assert_problem(
            manager.patch(task, headers={"If-Match": stale}, title="Mine"), 412, "precondition_failed"
        )
    assert body["current_version"] == 2


@pytest.mark.parametrize("header", ["1", 'W/"1"', '"one"', '"1", "2"'])
def test_malformed_if_match_is_400(tracker_as: Callable[..., Tracker], header: str) -> None:
    manager = tracker_as(Role.MANAGER)
    task = manager.task()
    body = assert_problem(
        manager.patch(task, headers={"If-Match": header}, title="x"), 400, "validation_error"
    )
    assert "If-Match" in body["errors"]


# --- who may change what --------------------------------------------------------------------------------


def test_member_changes_tasks_they_reported_or_are_assigned_to(
    tracker_as: Callable[..., Tracker],
) -> None:
    member = tracker_as(Role.MEMBER)
    reported = member.task()
    assert member.patch(reported, title="Mine", status="IN_PROGRESS").status_code == 200
    assigned = tracker_as(Role.MANAGER).task(assignee=member.user.pk)
    assert member.move(assigned, "IN_PROGRESS", "DONE")["status"] == "DONE"


def test_member_cannot_change_others_tasks(tracker_as: Callable[..., Tracker], tenant: Tenant) -> None:
    task = tracker_as(Role.MANAGER).task()
    member = tracker_as(Role.MEMBER)
    with writes_nothing(tenant):
        for change in ({"title": "x"}, {"status": "IN_PROGRESS"}, {"assignee": member.user.pk}, {}):
            assert_problem(member.patch(task, **change), 403, "not_task_participant")


def test_member_takes_and_drops_but_does_not_hand_out_tasks(
    tracker_as: Callable[..., Tracker], make_user: Callable[..., User], tenant: Tenant
) -> None:
    member = tracker_as(Role.MEMBER)
    task = member.task()
    colleague = make_user(tenant=tenant)
    assert member.patch(task, assignee=member.user.pk).json()["assignee"] == member.user.pk
    assert member.patch(task, assignee=None).json()["assignee"] is None
    with writes_nothing(tenant):
        assert_problem(member.patch(task, assignee=colleague.pk), 403, "role_too_low")
    tracker_as(Role.MANAGER).patch(task, assignee=colleague.pk)
    assert_problem(member.patch(task, assignee=None), 403, "role_too_low")


def test_a_removed_member_is_not_a_member(tracker_as: Callable[..., Tracker], tenant: Tenant) -> None:
    member = tracker_as(Role.MEMBER)
    task = member.task()
    remove_member(membership=Membership.objects.get(user=member.user, tenant=tenant))
    assert_problem(member.patch(task, title="x"), 403, "not_a_member")


# --- delete and restore ---------------------------------------------------------------------------------


def test_manager_soft_deletes_and_repeating_is_still_204(
    tracker_as: Callable[..., Tracker], tenant: Tenant
) -> None:
    manager = tracker_as(Role.MANAGER)
    task = manager.task()
    assert manager.delete(task).status_code == 204
    with writes_nothing(tenant):
        assert manager.delete(task).status_code == 204
    deleted = activity_of(tenant, task)[-1]
    assert deleted.verb == "deleted" and deleted.changes["deleted_at"][0] is None
    assert outbox_of(tenant, task)[-1].event_type == "task.deleted"
    with tenant_context(tenant):
        assert Task.objects.get(pk=task["id"]).deleted_at is not None  # soft: the row stays

    for response in (
        manager.get(task),
        manager.patch(task, title="x"),
        manager.activity(task),
        manager.sla(task),
    ):
        assert_problem(response, 404, "not_found")
    assert task["id"] not in [t["id"] for t in manager.list_tasks().json()["results"]]


def test_member_cannot_delete(tracker_as: Callable[..., Tracker], tenant: Tenant) -> None:
    member = tracker_as(Role.MEMBER)
    task = member.task()
    with writes_nothing(tenant):
        assert_problem(member.delete(task), 403, "role_too_low")


def test_admin_sees_deleted_tasks_only_when_asking(tracker_as: Callable[..., Tracker]) -> None:
    admin = tracker_as(Role.ADMIN)
    task = admin.task()
    admin.delete(task)
    assert admin.get(task, include_deleted="true").json()["deleted_at"] is not None
    assert admin.activity(task, include_deleted="true").status_code == 200
    assert admin.sla(task, include_deleted="true").status_code == 200
    listed = admin.list_tasks(include_deleted="true").json()["results"]
    assert task["id"] in [t["id"] for t in listed]
    assert_problem(admin.get(task, include_deleted="maybe"), 400, "validation_error")


@pytest.mark.parametrize("role", [Role.MANAGER, Role.MEMBER])
def test_only_admins_ask_for_deleted_tasks(tracker_as: Callable[..., Tracker], role: str) -> None:
    task = tracker_as(Role.MANAGER).task()
    reader = tracker_as(role)
    assert_problem(reader.list_tasks(include_deleted="true"), 403, "role_too_low")
    assert_problem(reader.get(task, include_deleted="true"), 403, "role_too_low")


def test_admin_restores_a_deleted_task(tracker_as: Callable[..., Tracker], tenant: Tenant) -> None:
    admin = tracker_as(Role.ADMIN)
    task = admin.task()
    admin.delete(task)
    response = admin.restore(task)
    assert response.status_code == 200 and response.json()["deleted_at"] is None
    assert response.json()["version"] == 3 and response["ETag"] == '"3"'
    restored = activity_of(tenant, task)[-1]
    assert restored.verb == "restored" and restored.changes["deleted_at"][1] is None
    assert admin.get(task).status_code == 200
    with writes_nothing(tenant):
        assert admin.restore(task).json()["version"] == 3  # restoring a live task changes nothing


@pytest.mark.parametrize("role", [Role.MANAGER, Role.MEMBER])
def test_only_admins_restore(tracker_as: Callable[..., Tracker], role: str) -> None:
    task = tracker_as(Role.MANAGER).task()
    tracker_as(Role.MANAGER).delete(task)
    assert_problem(tracker_as(role).restore(task), 403, "role_too_low")


def test_unsupported_methods_and_media_types(tracker_as: Callable[..., Tracker], tenant: Tenant) -> None:
    manager = tracker_as(Role.MANAGER)
    task = manager.task()
    headers = {"X-Tenant-ID": str(tenant.id)}
    put = manager.http.client.put(
        task_url(task), json.dumps({"title": "x"}), content_type="application/json", headers=headers
    )
    assert_problem(put, 405, "method_not_allowed")
    form = manager.http.client.post(
        TASKS, "title=x", content_type="application/x-www-form-urlencoded", headers=headers
    )
    assert_problem(form, 415, "unsupported_media_type")
