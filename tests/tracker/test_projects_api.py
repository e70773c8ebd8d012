"""/api/v1/projects/: everyone reads; MANAGER and ADMIN create, edit and archive (DELETE)."""

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django_tenants.utils import tenant_context

from accounts.models import Role
from tenancy.models import Tenant
from tests.conftest import assert_problem
from tests.tracker.conftest import PROJECTS, Tracker, project_url, unique_key, writes_nothing
from tracker.models import OutboxEvent, Project


def test_manager_creates_a_project(tracker_as: Callable[..., Tracker], tenant: Tenant) -> None:
    manager = tracker_as(Role.MANAGER)
    response = manager.post_project({"name": "  Website  ", "key": "web", "description": "The new site"})
    assert response.status_code == 201, response.json()
    project = response.json()
    assert project["name"] == "Website" and project["key"] == "WEB"
    assert project["created_by"] == manager.user.pk and project["archived_at"] is None
    assert response["Location"].endswith(project_url(project))
    with tenant_context(tenant):
        assert OutboxEvent.objects.filter(event_type="project.created").count() == 1


@pytest.mark.parametrize("role", [Role.ADMIN, Role.MANAGER, Role.MEMBER])
def test_every_member_lists_and_reads_projects(tracker_as: Callable[..., Tracker], role: str) -> None:
    project = tracker_as(Role.MANAGER).project(name="Ops")
    reader = tracker_as(role)
    assert project["id"] in [p["id"] for p in reader.http.get(PROJECTS).json()["results"]]
    assert reader.http.get(project_url(project)).json()["name"] == "Ops"


def test_member_cannot_create_edit_or_archive_projects(tracker_as: Callable[..., Tracker]) -> None:
    project = tracker_as(Role.MANAGER).project()
    member = tracker_as(Role.MEMBER)
    assert_problem(member.post_project({"name": "X", "key": "XX"}), 403, "role_too_low")
    assert_problem(member.http.patch(project_url(project), {"name": "Y"}), 403, "role_too_low")
    assert_problem(member.http.delete(project_url(project)), 403, "role_too_low")


def test_duplicate_key_is_400(tracker_as: Callable[..., Tracker], tenant: Tenant) -> None:
    manager = tracker_as(Role.MANAGER)
    manager.project(key="OPS")
    with writes_nothing(tenant):
        body = assert_problem(manager.post_project({"name": "Again", "key": "ops"}), 400, "validation_error")
    assert "key" in body["errors"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"key": "OPS"}, "name"),
        ({"name": "   ", "key": "OPS"}, "name"),
        ({"name": "x" * 201, "key": "OPS"}, "name"),
        ({"name": 7, "key": "OPS"}, "name"),
        ({"name": "Ops"}, "key"),
        ({"name": "Ops", "key": "O"}, "key"),
        ({"name": "Ops", "key": "1OPS"}, "key"),
        ({"name": "Ops", "key": "OPS-1"}, "key"),
        ({"name": "Ops", "key": "ABCDEFGHIJK"}, "key"),
        ({"name": "Ops", "key": ["OPS"]}, "key"),
        ({"name": "Ops", "key": "OPS", "description": 5}, "description"),
        ({"name": "Ops", "key": "OPS", "color": "red"}, "color"),
        ({"name": "Ops", "key": "OPS", "archived_at": None}, "archived_at"),
    ],
)
def test_bad_project_input_is_400(
    tracker_as: Callable[..., Tracker], tenant: Tenant, payload: dict[str, Any], field: str
) -> None:
    manager = tracker_as(Role.MANAGER)
    with writes_nothing(tenant):
        body = assert_problem(manager.post_project(payload), 400, "validation_error")
    assert field in body["errors"], body


def test_manager_renames_a_project_but_not_its_key(tracker_as: Callable[..., Tracker]) -> None:
    manager = tracker_as(Role.MANAGER)
    project = manager.project(name="Ops")
    renamed = manager.http.patch(project_url(project), {"name": "Operations", "description": "Run it"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "Operations"
    body = assert_problem(manager.http.patch(project_url(project), {"key": "NEW"}), 400, "validation_error")
    assert "key" in body["errors"]


def test_archiving_is_idempotent_and_stops_new_tasks(
    tracker_as: Callable[..., Tracker], tenant: Tenant
) -> None:
    manager = tracker_as(Role.MANAGER)
    project, elsewhere = manager.project(), manager.project()
    movable = manager.task(elsewhere)
    assert manager.http.delete(project_url(project)).status_code == 204
    assert manager.http.delete(project_url(project)).status_code == 204
    assert manager.http.get(project_url(project)).json()["archived_at"] is not None
    with writes_nothing(tenant):
        assert_problem(manager.post_task({"project": project["id"], "title": "New"}), 400, "project_archived")
        assert_problem(manager.patch(movable, project=project["id"]), 400, "project_archived")
    with tenant_context(tenant):
        assert OutboxEvent.objects.filter(event_type="project.archived").count() == 1


def test_archived_filter_and_search(tracker_as: Callable[..., Tracker]) -> None:
    manager = tracker_as(Role.MANAGER)
    active = manager.project(name="Active one", key=unique_key("ACT"))
    archived = manager.project(name="Old one", key=unique_key("OLD"))
    manager.http.delete(project_url(archived))

    def ids(**params: str) -> set[str]:
        return {p["id"] for p in manager.http.get(PROJECTS, params).json()["results"]}

    assert {active["id"], archived["id"]} <= ids()
    assert archived["id"] in ids(archived="true") and active["id"] not in ids(archived="true")
    assert active["id"] in ids(archived="false") and archived["id"] not in ids(archived="false")
    assert ids(q="old one") == {archived["id"]}


@pytest.mark.parametrize(
    "params", [{"archived": "yes"}, {"colour": "red"}, {"page_size": "0"}, {"cursor": "zz"}]
)
def test_bad_project_list_parameters_are_400(
    tracker_as: Callable[..., Tracker], params: dict[str, str]
) -> None:
    body = assert_problem(tracker_as(Role.MEMBER).http.get(PROJECTS, params), 400, "validation_error")
    assert set(params) <= body["errors"].keys()


@pytest.mark.parametrize("project_id", ["not-a-uuid", "123", str(uuid.uuid4())])
def test_unknown_or_malformed_project_id_is_404(tracker_as: Callable[..., Tracker], project_id: str) -> None:
    manager = tracker_as(Role.MANAGER)
    assert_problem(manager.http.get(f"{PROJECTS}{project_id}/"), 404, "not_found")
    assert_problem(manager.http.patch(f"{PROJECTS}{project_id}/", {"name": "x"}), 404, "not_found")
    assert_problem(manager.http.delete(f"{PROJECTS}{project_id}/"), 404, "not_found")


def test_another_tenants_project_does_not_exist_here(
    tracker_as: Callable[..., Tracker], other_tenant: Tenant
) -> None:
    theirs = tracker_as(Role.MANAGER, on_tenant=other_tenant).project()
    assert_problem(tracker_as(Role.ADMIN).http.get(project_url(theirs)), 404, "not_found")
    with tenant_context(other_tenant):
        assert Project.objects.filter(pk=theirs["id"]).exists()
