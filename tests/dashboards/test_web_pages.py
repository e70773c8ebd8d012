"""The web UI through Django's test client: sign-in, tenant selection (session and host name), the task
pages' forms and role rules, and the dashboards' empty states. The browser tests cover the rendering."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from django.test import Client
from django_tenants.utils import tenant_context

from accounts.models import Membership, Role, User
from api.rate_limit import KEY_PREFIX, limiter
from tenancy.models import Domain, Tenant
from tests.conftest import TEST_PASSWORD
from tracker import services
from tracker.models import Project, Status, Task

pytestmark = pytest.mark.django_db


@pytest.fixture
def web_client() -> Iterator[Client]:
    yield Client()


@pytest.fixture
def person(db: None) -> Callable[..., User]:
    """`person(tenant, Role.MANAGER)`: a member without a password (these tests sign in with force_login,
    and a password hash costs a second)."""

    def make(tenant: Tenant, role: str = Role.MEMBER) -> User:
        user = User.objects.create_user(f"web-{uuid.uuid4().hex[:12]}@example.test", None)
        Membership.objects.create(user=user, tenant=tenant, role=role)
        return user

    return make


@pytest.fixture
def project(tenant: Tenant, person: Callable[..., User]) -> Project:
    founder = person(tenant, Role.ADMIN)
    with tenant_context(tenant):
        return services.create_project(actor=founder, name="Web pages", key="WEBP")


def signed_in(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


def test_home_sends_strangers_to_the_sign_in_page(web_client: Client) -> None:
    response = web_client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"
    assert web_client.get("/overview/")["Location"].startswith("/accounts/login/?next=/overview/")


def test_sign_in_with_email_and_password(
    web_client: Client, tenant: Tenant, make_user: Callable[..., User]
) -> None:
    user = make_user(tenant=tenant, email="Person@Example.test")
    page = web_client.get("/accounts/login/")
    assert b'name="csrfmiddlewaretoken"' in page.content
    wrong = web_client.post("/accounts/login/", {"username": "person@example.test", "password": "nope"})
    assert wrong.status_code == 200 and b"Please enter a correct" in wrong.content
    right = web_client.post(
        "/accounts/login/", {"username": " PERSON@example.test", "password": TEST_PASSWORD}
    )
    assert right.status_code == 302 and right["Location"] == "/overview/"
    assert int(web_client.session["_auth_user_id"]) == user.pk


def test_csrf_is_enforced_on_the_forms(tenant: Tenant, person: Callable[..., User]) -> None:
    client = signed_in(Client(enforce_csrf_checks=True), person(tenant, Role.MANAGER))
    assert client.post("/tasks/new/", {"title": "x"}).status_code == 403


def test_a_single_membership_needs_no_choice(
    web_client: Client, tenant: Tenant, person: Callable[..., User]
) -> None:
    signed_in(web_client, person(tenant))
    response = web_client.get("/overview/")
    assert response.status_code == 200
    assert response.context["current_tenant"] == tenant


def test_several_memberships_choose_then_switch(
    web_client: Client, tenant: Tenant, other_tenant: Tenant, person: Callable[..., User]
) -> None:
    user = person(tenant)
    Membership.objects.create(user=user, tenant=other_tenant, role=Role.MANAGER)
    signed_in(web_client, user)
    response = web_client.get("/tasks/")
    assert response.status_code == 302 and response["Location"].startswith("/tenants/?next=")
    chosen = web_client.post("/tenants/switch/", {"tenant": str(other_tenant.pk), "next": "/tasks/"})
    assert chosen["Location"] == "/tasks/"
    assert web_client.get("/tasks/").context["current_tenant"] == other_tenant
    web_client.post("/tenants/switch/", {"tenant": str(tenant.pk)})
    page = web_client.get("/overview/")
    assert page.context["current_tenant"] == tenant
    assert [target.tenant for target in page.context["switch_targets"]] == sorted(
        [tenant, other_tenant], key=lambda t: t.name
    )


def test_switching_to_a_tenant_you_do_not_belong_to_is_403(
    web_client: Client, tenant: Tenant, other_tenant: Tenant, person: Callable[..., User]
) -> None:
    signed_in(web_client, person(tenant))
    assert web_client.post("/tenants/switch/", {"tenant": str(other_tenant.pk)}).status_code == 403
    assert web_client.post("/tenants/switch/", {"tenant": "not-a-uuid"}).status_code == 400


def test_the_host_name_selects_the_tenant(
    web_client: Client, tenant: Tenant, other_tenant: Tenant, person: Callable[..., User]
) -> None:
    user = person(tenant)
    Membership.objects.create(user=user, tenant=other_tenant, role=Role.MEMBER)
    signed_in(web_client, user)
    host = Domain.objects.filter(tenant=other_tenant).values_list("domain", flat=True).first()
    assert host  # create_tenant gives every tenant <slug>.localhost
    response = web_client.get("/overview/", headers={"host": host})
    assert response.status_code == 200
    assert response.context["current_tenant"] == other_tenant
    assert response.context["tenant_bound_to_host"]


def test_a_host_of_a_tenant_you_do_not_belong_to_is_403(
    web_client: Client, tenant: Tenant, other_tenant: Tenant, person: Callable[..., User]
) -> None:
    signed_in(web_client, person(tenant))
    host = Domain.objects.filter(tenant=other_tenant).values_list("domain", flat=True).first()
    assert web_client.get("/overview/", headers={"host": host}).status_code == 403


def test_create_edit_and_move_a_task(
    web_client: Client, tenant: Tenant, project: Project, person: Callable[..., User]
) -> None:
    signed_in(web_client, person(tenant, Role.MANAGER))
    form = web_client.get(f"/tasks/new/?project={project.pk}")
    assert form.status_code == 200
    created = web_client.post(
        "/tasks/new/", {"project": str(project.pk), "title": "From the web", "priority": "HIGH"}
    )
    assert created.status_code == 302, created.content.decode()[:2000]
    with tenant_context(tenant):
        task = Task.objects.get(title="From the web")
    assert created["Location"] == f"/tasks/{task.pk}/"

    edited = web_client.post(
        f"/tasks/{task.pk}/edit/",
        {"project": str(project.pk), "title": "Renamed", "priority": "LOW", "version": task.version},
    )
    assert edited.status_code == 302
    stale = web_client.post(
        f"/tasks/{task.pk}/edit/",
        {"project": str(project.pk), "title": "Again", "priority": "LOW", "version": task.version},
    )
    assert stale.status_code == 200 and b"changed this task since you opened it" in stale.content

    for target in (Status.IN_PROGRESS, Status.BLOCKED):
        moved = web_client.post(f"/tasks/{task.pk}/status/", {"to": target}, follow=True)
        assert moved.context["task"].status == target
    refused = web_client.post(f"/tasks/{task.pk}/status/", {"to": "DONE"}, follow=True)
    assert (
        str(list(refused.context["messages"])[-1])
        == "A task in BLOCKED can move to IN_PROGRESS, not to DONE."
    )
    nonsense = web_client.post(f"/tasks/{task.pk}/status/", {"to": "OPEN_SESAME"}, follow=True)
    assert str(list(nonsense.context["messages"])[-1]) == '"OPEN_SESAME" is not a valid choice.'
    detail = web_client.get(f"/tasks/{task.pk}/")
    assert detail.context["task"].status == Status.BLOCKED
    assert [button["status"] for button in detail.context["buttons"]] == ["IN_PROGRESS"]
    verbs = [row.verb for row in detail.context["activity"]]
    assert verbs == ["created", "updated", "status_changed", "status_changed"]


def test_service_errors_land_on_the_form_fields(
    web_client: Client, tenant: Tenant, project: Project, person: Callable[..., User]
) -> None:
    signed_in(web_client, person(tenant, Role.MANAGER))
    too_long = web_client.post(
        "/tasks/new/", {"project": str(project.pk), "title": "x" * 201, "priority": "LOW"}
    )
    assert too_long.status_code == 200
    assert too_long.context["form"].errors["title"]
    blank = web_client.post("/tasks/new/", {"project": str(project.pk), "title": "   ", "priority": "LOW"})
    assert blank.context["form"].errors["title"]


def test_a_member_gets_the_403_page_for_a_manager_action(
    web_client: Client, tenant: Tenant, project: Project, person: Callable[..., User]
) -> None:
    manager = person(tenant, Role.MANAGER)
    member = person(tenant, Role.MEMBER)
    with tenant_context(tenant):
        task = services.create_task(actor=manager, project=project, title="Shared", assignee=member)
        for status in (Status.IN_PROGRESS, Status.DONE):
            task = services.transition_task(task=task, actor=manager, to_status=status)
    signed_in(web_client, member)
    reopen = web_client.post(f"/tasks/{task.pk}/status/", {"to": "OPEN"})
    assert reopen.status_code == 403
    assert b"MANAGER" in reopen.content and b'id="forbidden"' in reopen.content
    assert web_client.post(f"/tasks/{task.pk}/delete/").status_code == 403
    with tenant_context(tenant):
        task.refresh_from_db()
    assert task.status == Status.DONE and task.deleted_at is None


def test_task_list_uses_the_api_filters_and_shows_their_errors(
    web_client: Client, tenant: Tenant, project: Project, person: Callable[..., User]
) -> None:
    manager = person(tenant, Role.MANAGER)
    with tenant_context(tenant):
        services.create_task(actor=manager, project=project, title="Alpha bug", priority="URGENT")
        services.create_task(actor=manager, project=project, title="Beta chore", priority="LOW")
    signed_in(web_client, manager)
    found = web_client.get("/tasks/", {"project": str(project.pk), "priority": "URGENT", "q": "bug"})
    assert [task.title for task in found.context["tasks"]] == ["Alpha bug"]
    both = web_client.get("/tasks/", {"project": str(project.pk), "ordering": "priority"})
    assert [task.title for task in both.context["tasks"]] == ["Beta chore", "Alpha bug"]
    bad = web_client.get("/tasks/", {"status": "SLEEPING", "due_before": "soon"})
    assert set(bad.context["filter_errors"]) == {"status", "due_before"}
    board = web_client.get("/tasks/board/", {"project": str(project.pk)})
    columns = {column["status"]: [t.title for t in column["tasks"]] for column in board.context["columns"]}
    assert columns["OPEN"] == ["Alpha bug", "Beta chore"]


def test_unknown_objects_are_404(web_client: Client, tenant: Tenant, person: Callable[..., User]) -> None:
    signed_in(web_client, person(tenant))
    assert web_client.get(f"/tasks/{uuid.uuid4()}/").status_code == 404
    assert web_client.get(f"/projects/{uuid.uuid4()}/").status_code == 404


def test_dashboards_say_what_to_do_when_empty(
    web_client: Client, tenant: Tenant, project: Project, person: Callable[..., User]
) -> None:
    manager = person(tenant, Role.MANAGER)
    signed_in(web_client, manager)
    empty = web_client.get(f"/projects/{project.pk}/")
    assert b'id="empty-tasks"' in empty.content
    with tenant_context(tenant):
        services.create_task(actor=manager, project=project, title="Not built yet")
    unbuilt = web_client.get(f"/projects/{project.pk}/")
    assert b'id="empty-pipeline"' in unbuilt.content
    assert b"manage.py backfill_snapshots --from" in unbuilt.content
    assert b"http://127.0.0.1:3000" in unbuilt.content
    assert web_client.get("/overview/").status_code == 200


def test_failed_sign_ins_count_against_the_login_limit(web_client: Client, settings: Any) -> None:
    """The web form shares the token endpoint's per-address login limit (successes are refunded)."""
    settings.RATE_LIMIT_LOGIN_ADDRESS_REQUESTS = 1
    # The limiter fails open when Redis answers slower than REDIS_SOCKET_TIMEOUT (50 ms): on a loaded
    # machine that let the guess through. This test is about the limit, not the fallback (tests/redis).
    settings.REDIS_SOCKET_TIMEOUT = 5
    limiter.breaker.reset()
    key = f"{KEY_PREFIX}:login:address:127.0.0.1"
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete(key)
    try:
        guess = {"username": "nobody@example.test", "password": "wrong"}
        assert web_client.post("/accounts/login/", guess).status_code == 200  # the form, with its error
        refused = web_client.post("/accounts/login/", guess)
        assert refused.status_code == 429
        assert int(refused["Retry-After"]) > 0
    finally:
        client.delete(key)
        client.close()
