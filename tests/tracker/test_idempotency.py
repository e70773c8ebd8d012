"""Idempotency-Key on POST and PATCH: replay, 422 for another body, 409 in flight; per tenant and user."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from accounts.models import Membership, Role
from api.idempotency import lock_key
from api.models import IdempotencyRecord
from tenancy.models import Tenant
from tests.conftest import assert_problem
from tests.tracker.conftest import Tracker, default_project_for, stored_task, writes_nothing
from tracker.models import Task


def key(value: str) -> dict[str, str]:
    return {"Idempotency-Key": value}


def new_task_body(tenant: Tenant, title: str = "Pay the invoice") -> dict[str, Any]:
    return {"project": str(default_project_for(tenant).pk), "title": title}


def tasks_titled(tenant: Tenant, title: str) -> int:
    with tenant_context(tenant):
        return Task.objects.filter(title=title).count()


def test_a_retried_post_replays_the_first_response(
    tracker_as: Callable[..., Tracker], tenant: Tenant
) -> None:
    manager = tracker_as(Role.MANAGER)
    first = manager.post_task(new_task_body(tenant), headers=key("create-1"))
    assert first.status_code == 201 and "Idempotent-Replayed" not in first
    with writes_nothing(tenant):
        again = manager.post_task(new_task_body(tenant), headers=key("create-1"))
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert again["Location"] == first["Location"] and again["ETag"] == first["ETag"]
    assert tasks_titled(tenant, "Pay the invoice") == 1


def test_key_order_in_the_body_does_not_matter(tracker_as: Callable[..., Tracker], tenant: Tenant) -> None:
    manager = tracker_as(Role.MANAGER)
    body = new_task_body(tenant)
    manager.post_task(body, headers=key("k"))
    reordered = dict(reversed(list(body.items())))
    assert manager.post_task(reordered, headers=key("k"))["Idempotent-Replayed"] == "true"


def test_a_retried_patch_does_not_change_twice(tracker_as: Callable[..., Tracker], tenant: Tenant) -> None:
    manager = tracker_as(Role.MANAGER)
    task = manager.task()
    first = manager.patch(task, headers=key("start-1"), status="IN_PROGRESS")
    manager.patch(task, title="Someone else's edit")
    again = manager.patch(task, headers=key("start-1"), status="IN_PROGRESS")
    assert again["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert stored_task(tenant, task).version == 3


def test_the_same_key_with_another_body_is_422(tracker_as: Callable[..., Tracker], tenant: Tenant) -> None:
    manager = tracker_as(Role.MANAGER)
    manager.post_task(new_task_body(tenant, "One"), headers=key("k-2"))
    other_body, task = new_task_body(tenant, "Two"), manager.task()
    with writes_nothing(tenant):
        assert_problem(manager.post_task(other_body, headers=key("k-2")), 422, "idempotency_key_reused")
        assert_problem(manager.patch(task, headers=key("k-2"), title="x"), 422, "idempotency_key_reused")


@contextmanager
def key_in_flight(tenant: Tenant, user_id: int, value: str) -> Iterator[None]:
    """Another database session holds the key's lock, as a request still running in another worker does."""
    settings = connection.settings_dict
    with psycopg.connect(
        dbname=settings["NAME"],
        user=settings["USER"],
        password=settings["PASSWORD"] or None,
        host=settings["HOST"],
        port=settings["PORT"] or None,
        autocommit=True,
    ) as other:
        other.execute(
            "SELECT pg_advisory_lock(%s)", [lock_key(tenant_id=tenant.pk, user_id=user_id, key=value)]
        )
        yield


def test_the_same_key_while_the_first_is_in_flight_is_409(
    tracker_as: Callable[..., Tracker], tenant: Tenant
) -> None:
    manager, body = tracker_as(Role.MANAGER), new_task_body(tenant)
    with key_in_flight(tenant, manager.user.pk, "busy"), writes_nothing(tenant):
        assert_problem(manager.post_task(body, headers=key("busy")), 409, "idempotency_in_flight")
    assert manager.post_task(body, headers=key("busy")).status_code == 201


def test_keys_are_scoped_to_the_user(tracker_as: Callable[..., Tracker], tenant: Tenant) -> None:
    body = new_task_body(tenant)
    assert tracker_as(Role.MANAGER).post_task(body, headers=key("shared")).status_code == 201
    other = tracker_as(Role.MANAGER).post_task(body, headers=key("shared"))
    assert other.status_code == 201 and "Idempotent-Replayed" not in other
    assert tasks_titled(tenant, body["title"]) == 2


def test_keys_are_scoped_to_the_tenant(
    tracker_as: Callable[..., Tracker], tenant: Tenant, other_tenant: Tenant
) -> None:
    here = tracker_as(Role.MANAGER)
    Membership.objects.create(user=here.user, tenant=other_tenant, role=Role.MANAGER)
    there = tracker_as(on_tenant=other_tenant, user=here.user)
    assert here.post_task(new_task_body(tenant, "Same"), headers=key("k")).status_code == 201
    response = there.post_task(new_task_body(other_tenant, "Same"), headers=key("k"))
    assert response.status_code == 201 and "Idempotent-Replayed" not in response
    assert tasks_titled(other_tenant, "Same") == 1


def test_errors_are_not_remembered(tracker_as: Callable[..., Tracker], tenant: Tenant) -> None:
    manager = tracker_as(Role.MANAGER)
    assert_problem(manager.post_task({"title": "no project"}, headers=key("fix-me")), 400, "validation_error")
    fixed = manager.post_task(new_task_body(tenant), headers=key("fix-me"))
    assert fixed.status_code == 201 and "Idempotent-Replayed" not in fixed


def test_records_expire_after_24_hours(tracker_as: Callable[..., Tracker], tenant: Tenant) -> None:
    manager = tracker_as(Role.MANAGER)
    manager.post_task(new_task_body(tenant), headers=key("old"))
    IdempotencyRecord.objects.filter(key="old").update(created_at=timezone.now() - timedelta(hours=25))
    assert "Idempotent-Replayed" not in manager.post_task(new_task_body(tenant), headers=key("old"))
    assert tasks_titled(tenant, "Pay the invoice") == 2
    IdempotencyRecord.objects.filter(key="old").update(created_at=timezone.now() - timedelta(hours=25))
    call_command("purge_idempotency_records", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert not IdempotencyRecord.objects.filter(key="old").exists()


def test_records_live_in_the_public_schema(tracker_as: Callable[..., Tracker], tenant: Tenant) -> None:
    manager = tracker_as(Role.MANAGER)
    manager.post_task(new_task_body(tenant), headers=key("where"))
    connection.set_schema_to_public()
    record = IdempotencyRecord.objects.get(key="where")
    assert (record.tenant_id, record.user_id, record.response_status) == (tenant.pk, manager.user.pk, 201)
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('public.api_idempotencyrecord') IS NOT NULL")
        assert cursor.fetchone() == (True,)


@pytest.mark.parametrize("value", ["", "has space", "x" * 256, "tab\there"])
def test_malformed_keys_are_400(tracker_as: Callable[..., Tracker], tenant: Tenant, value: str) -> None:
    manager, body = tracker_as(Role.MANAGER), new_task_body(tenant)
    with writes_nothing(tenant):
        assert_problem(manager.post_task(body, headers=key(value)), 400, "idempotency_key_invalid")
