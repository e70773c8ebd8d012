"""Helpers that let tracker tests read like the behaviour they check.

manager = tracker_as(Role.MANAGER)
task = manager.task(title="Ship it")
manager.move(task, "IN_PROGRESS", "DONE")
assert_problem(tracker_as(Role.MEMBER).patch(task, status="OPEN"), 403, "role_too_low")
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import count
from typing import Any

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from accounts.models import Role, User
from tenancy.models import Tenant
from tests.conftest import TenantClient
from tracker import services
from tracker.models import OutboxEvent, Project, Task, TaskActivity

PROJECTS = "/api/v1/projects/"
TASKS = "/api/v1/tasks/"

_keys = count(1)


def unique_key(prefix: str = "P") -> str:
    return f"{prefix}{next(_keys)}"


def task_url(task: dict[str, Any] | str, suffix: str = "") -> str:
    task_id = task["id"] if isinstance(task, dict) else task
    return f"{TASKS}{task_id}/{suffix}"


def project_url(project: dict[str, Any] | str) -> str:
    project_id = project["id"] if isinstance(project, dict) else project
    return f"{PROJECTS}{project_id}/"


@dataclass
class Tracker:
    """One signed-in member of the test tenant, speaking the project and task API."""

    http: TenantClient

    @property
    def user(self) -> User:
        return self.http.user

    # -- projects
    def post_project(self, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
        return self.http.post(PROJECTS, body, headers=headers)

    def project(self, **fields: Any) -> dict[str, Any]:
        body = {"name": "Operations", "key": unique_key(), **fields}
        response = self.post_project(body)
        assert response.status_code == 201, response.json()
        return response.json()

    # -- tasks
    def post_task(self, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
        return self.http.post(TASKS, body, headers=headers)

    def task(self, project: dict[str, Any] | Project | None = None, **fields: Any) -> dict[str, Any]:
        if project is None:
            project_id = str(default_project_for(self.http.tenant).pk)
        else:
            project_id = str(project["id"] if isinstance(project, dict) else project.pk)
        response = self.post_task({"project": project_id, "title": "Fix the login page", **fields})
        assert response.status_code == 201, response.json()
        return response.json()

    def get(self, task: dict[str, Any] | str, **params: Any) -> Any:
        return self.http.get(task_url(task), params or None)

    def patch(self, task: dict[str, Any] | str, headers: dict[str, str] | None = None, **body: Any) -> Any:
        return self.http.patch(task_url(task), body, headers=headers)

    def move(self, task: dict[str, Any], *statuses: str) -> dict[str, Any]:
        """Walk the task through these statuses, asserting each step succeeds."""
        for status in statuses:
            response = self.patch(task, status=status)
            assert response.status_code == 200, response.json()
            task = response.json()
        return task

    def delete(self, task: dict[str, Any] | str) -> Any:
        return self.http.delete(task_url(task))

    def restore(self, task: dict[str, Any] | str, headers: dict[str, str] | None = None) -> Any:
        return self.http.post(task_url(task, "restore/"), headers=headers)

    def list_tasks(self, **params: Any) -> Any:
        return self.http.get(TASKS, params)

    def activity(self, task: dict[str, Any] | str, **params: Any) -> Any:
        return self.http.get(task_url(task, "activity/"), params or None)

    def sla(self, task: dict[str, Any] | str, **params: Any) -> Any:
        return self.http.get(task_url(task, "sla/"), params or None)


_default_projects: dict[Any, Project] = {}


def default_project_for(tenant: Tenant) -> Project:
    """A project in the tenant for tests that do not care which (made by the tenant's founding ADMIN)."""
    with tenant_context(tenant):
        project = Project.objects.filter(key="DEFAULT").first()
        if project is None:
            founder = User.objects.get(
                memberships__tenant=tenant, memberships__role=Role.ADMIN, email__startswith="founder@"
            )
            project = services.create_project(actor=founder, name="Default", key="DEFAULT")
    return project


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """Tracker tests make many users; the production hasher costs most of a second per user."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def tracker_as(client_for: Callable[..., TenantClient]) -> Callable[..., Tracker]:
    def build(role: str = Role.MEMBER, **kwargs: Any) -> Tracker:
        return Tracker(http=client_for(role, **kwargs))

    return build


@pytest.fixture
def in_tenant(tenant: Tenant) -> Iterator[Tenant]:
    """Run the test body inside the test tenant's schema (for service- and model-level tests)."""
    connection.set_tenant(tenant)
    yield tenant
    connection.set_schema_to_public()


def stored_task(tenant: Tenant, task: dict[str, Any] | str) -> Task:
    with tenant_context(tenant):
        return Task.objects.get(pk=task["id"] if isinstance(task, dict) else task)


def table_counts(tenant: Tenant) -> dict[str, int]:
    with tenant_context(tenant):
        return {
            "projects": Project.objects.count(),
            "tasks": Task.objects.count(),
            "activity": TaskActivity.objects.count(),
            "outbox": OutboxEvent.objects.count(),
        }


@contextmanager
def writes_nothing(tenant: Tenant) -> Iterator[None]:
    """The block must leave the tenant's tracker tables as they were (no partial writes)."""
    before = table_counts(tenant)
    yield
    assert table_counts(tenant) == before


def activity_of(tenant: Tenant, task: dict[str, Any] | str) -> list[TaskActivity]:
    with tenant_context(tenant):
        return list(
            TaskActivity.objects.filter(task_id=task["id"] if isinstance(task, dict) else task).order_by(
                "seq"
            )
        )


def outbox_of(tenant: Tenant, task: dict[str, Any] | str) -> list[OutboxEvent]:
    with tenant_context(tenant):
        task_id = task["id"] if isinstance(task, dict) else task
        return list(OutboxEvent.objects.filter(task_id=task_id).order_by("id"))
