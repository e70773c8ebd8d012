"""A task write names its project through `selectors.project_reference`, a per-process memo of projects
seen to exist (by schema and id). It can only ever say "exists" for a project that existed: another
tenant's project stays unknown here, and a project removed behind the product's back is a 400, not a 500."""

from collections.abc import Callable

from django_tenants.utils import tenant_context

from accounts.models import Role
from tenancy.models import Tenant
from tests.conftest import assert_problem
from tests.tracker.conftest import Tracker, writes_nothing
from tracker import selectors
from tracker.models import Project


def test_another_tenants_remembered_project_is_unknown_here(
    tracker_as: Callable[..., Tracker], tenant: Tenant, other_tenant: Tenant
) -> None:
    theirs = tracker_as(Role.MANAGER, on_tenant=other_tenant).project()
    with tenant_context(other_tenant):
        assert selectors.project_reference(project_id=theirs["id"]) is not None  # remembered over there
    manager = tracker_as(Role.MANAGER)
    with writes_nothing(tenant):
        response = manager.post_task({"project": theirs["id"], "title": "Not yours"})
    body = assert_problem(response, 400, "validation_error")
    assert body["errors"] == {"project": ["No project of this tenant has this id."]}


def test_a_remembered_project_that_is_gone_is_a_400(
    tracker_as: Callable[..., Tracker], tenant: Tenant
) -> None:
    manager = tracker_as(Role.MANAGER)
    project = manager.project()
    with tenant_context(tenant):
        assert selectors.project_reference(project_id=project["id"]) is not None  # remembered
        Project.objects.filter(pk=project["id"]).delete()  # what the product never does (it archives)
    with writes_nothing(tenant):
        response = manager.post_task({"project": project["id"], "title": "Too late"})
    body = assert_problem(response, 400, "validation_error")
    assert body["errors"] == {"project": ["No project of this tenant has this id."]}


def test_a_remembered_project_archived_since_takes_no_tasks(
    tracker_as: Callable[..., Tracker], tenant: Tenant
) -> None:
    manager = tracker_as(Role.MANAGER)
    project = manager.project()
    manager.task(project)  # the project is remembered as open
    assert manager.http.delete(f"/api/v1/projects/{project['id']}/").status_code == 204
    with writes_nothing(tenant):
        assert_problem(manager.post_task({"project": project["id"], "title": "No"}), 400, "project_archived")
