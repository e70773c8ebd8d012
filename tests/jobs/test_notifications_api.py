"""`/api/v1/notifications/`: only my own, unread filter, keyset pages, read, read-all, preferences."""

from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import Role, User
from notifications.models import Notification, NotificationKind
from tenancy.models import Tenant
from tests.conftest import TenantClient, assert_problem, bearer_client
from tests.jobs.helpers import in_tenant

URL = "/api/v1/notifications/"


def notify(tenant: Tenant, user: User, *, count: int = 1, read: bool = False) -> list[Notification]:
    with in_tenant(tenant):
        return [
            Notification.objects.create(
                recipient=user,
                kind=NotificationKind.TASK_STATUS_CHANGED,
                payload={"task_title": f"Task {i}", "changes": {"status": ["OPEN", "IN_PROGRESS"]}},
                dedupe_key=f"test:{user.pk}:{i}:{read}",
                read_at=timezone.now() if read else None,
            )
            for i in range(count)
        ]


@pytest.fixture
def me(client_for: Callable[..., TenantClient]) -> TenantClient:
    return client_for(Role.MEMBER)


def test_a_member_sees_only_their_own_notifications_newest_first(
    me: TenantClient, tenant: Tenant, make_user: Callable[..., User]
) -> None:
    mine = notify(tenant, me.user, count=3)
    notify(tenant, make_user(tenant=tenant), count=2)

    response = me.get(URL)

    assert response.status_code == 200
    body = response.json()
    assert [item["id"] for item in body["results"]] == [n.id for n in reversed(mine)]
    first = body["results"][0]
    assert first["kind"] == "task_status_changed" and first["is_read"] is False
    assert first["message"] == "“Task 2” moved from OPEN to IN_PROGRESS."


def test_the_unread_filter_and_keyset_pages(me: TenantClient, tenant: Tenant) -> None:
    unread = notify(tenant, me.user, count=3)
    read = notify(tenant, me.user, count=2, read=True)

    assert [n["id"] for n in me.get(URL, {"unread": "true"}).json()["results"]] == [
        n.id for n in reversed(unread)
    ]
    assert [n["id"] for n in me.get(URL, {"unread": "false"}).json()["results"]] == [
        n.id for n in reversed(read)
    ]

    first_page = me.get(URL, {"page_size": 2}).json()
    assert len(first_page["results"]) == 2 and first_page["next"]
    second_page = me.client.get(first_page["next"], headers={"X-Tenant-ID": str(tenant.id)}).json()
    assert len(second_page["results"]) == 2
    assert not {n["id"] for n in first_page["results"]} & {n["id"] for n in second_page["results"]}

    assert_problem(me.get(URL, {"unread": "maybe"}), 400, "validation_error")


def test_read_marks_one_and_keeps_the_first_read_time(me: TenantClient, tenant: Tenant) -> None:
    [note] = notify(tenant, me.user)

    first = me.post(f"{URL}{note.id}/read/")
    again = me.post(f"{URL}{note.id}/read/")

    assert first.status_code == 200 and first.json()["is_read"] is True
    assert again.json()["read_at"] == first.json()["read_at"]
    assert me.get(URL, {"unread": "true"}).json()["results"] == []


def test_reading_someone_elses_or_a_missing_notification_is_404(
    me: TenantClient, tenant: Tenant, make_user: Callable[..., User]
) -> None:
    [theirs] = notify(tenant, make_user(tenant=tenant))
    assert_problem(me.post(f"{URL}{theirs.id}/read/"), 404, "not_found")
    assert_problem(me.post(f"{URL}999999999/read/"), 404, "not_found")
    with in_tenant(tenant):
        assert Notification.objects.get(id=theirs.id).read_at is None


def test_read_all_marks_every_unread_notification_of_mine(
    me: TenantClient, tenant: Tenant, make_user: Callable[..., User]
) -> None:
    notify(tenant, me.user, count=3)
    notify(tenant, me.user, count=1, read=True)
    [theirs] = notify(tenant, make_user(tenant=tenant))

    response = me.post(f"{URL}read-all/")

    assert response.status_code == 200 and response.json() == {"marked": 3}
    assert me.get(URL, {"unread": "true"}).json()["results"] == []
    with in_tenant(tenant):
        assert Notification.objects.get(id=theirs.id).read_at is None


def test_email_preference_defaults_on_and_can_be_turned_off(me: TenantClient) -> None:
    assert me.get(f"{URL}preferences/").json() == {"email_enabled": True}

    response = me.patch(f"{URL}preferences/", {"email_enabled": False})

    assert response.status_code == 200 and response.json() == {"email_enabled": False}
    assert me.get(f"{URL}preferences/").json() == {"email_enabled": False}
    assert_problem(
        me.patch(f"{URL}preferences/", {"email_enabled": False, "sms": True}), 400, "validation_error"
    )
    assert_problem(me.patch(f"{URL}preferences/", {}), 400, "validation_error")


@pytest.mark.parametrize("value", [0, 1, "true", "yes", None])
def test_email_preference_takes_only_json_booleans(me: TenantClient, value: object) -> None:
    body = assert_problem(me.patch(f"{URL}preferences/", {"email_enabled": value}), 400, "validation_error")
    assert set(body["errors"]) == {"email_enabled"}
    assert me.get(f"{URL}preferences/").json() == {"email_enabled": True}


@pytest.mark.parametrize("value", ["", "null", "maybe"])
def test_an_unread_filter_that_is_not_a_boolean_is_400(me: TenantClient, value: str) -> None:
    body = assert_problem(me.get(URL, {"unread": value}), 400, "validation_error")
    assert set(body["errors"]) == {"unread"}


@pytest.mark.parametrize(
    ("path", "method"),
    [(URL, "get"), (f"{URL}1/read/", "post"), (f"{URL}read-all/", "post"), (f"{URL}preferences/", "get")],
)
def test_every_endpoint_needs_a_token_a_tenant_and_a_membership(
    path: str, method: str, tenant: Tenant, other_tenant: Tenant, make_user: Callable[..., User], db: Any
) -> None:
    anonymous = bearer_client(make_user(tenant=tenant))
    anonymous.credentials()
    assert_problem(
        getattr(anonymous, method)(path, headers={"X-Tenant-ID": str(tenant.id)}), 401, "not_authenticated"
    )

    member = bearer_client(make_user(tenant=tenant))
    assert_problem(getattr(member, method)(path), 400, "tenant_header_missing")
    assert_problem(
        getattr(member, method)(path, headers={"X-Tenant-ID": str(other_tenant.id)}), 403, "not_a_member"
    )
