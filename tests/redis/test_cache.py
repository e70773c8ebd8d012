"""Caching against the real Redis: tenant isolation of the tenant-scoped alias, the tenant row and
memberships read through the public alias and invalidated on every write, and PostgreSQL when Redis fails."""

import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from accounts import services
from accounts.models import Membership, Role, User
from accounts.selectors import membership_cache_key, membership_for
from api.cache import FALLBACKS, MISSING, SafeCache, public_cache, tenant_cache
from tenancy.models import Tenant, tenant_cache_key
from tenancy.schema import activate_public, activate_tenant
from tenancy.selectors import tenant_by_id
from tests.conftest import TenantClient

DEAD_CACHES = {
    alias: {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
        "KEY_PREFIX": "dead",
        "OPTIONS": {"socket_timeout": 0.05, "socket_connect_timeout": 0.05},
    }
    for alias in ("default", "public")
}


# --- Tenant isolation ---


def test_same_key_in_two_tenants_holds_two_values(tenant: Tenant, other_tenant: Tenant) -> None:
    try:
        activate_tenant(tenant)
        tenant_cache.set("analytics:summary", {"owner": "alpha"}, 30)
        activate_tenant(other_tenant)
        assert tenant_cache.get("analytics:summary") is MISSING  # alpha's entry is not visible in beta
        tenant_cache.set("analytics:summary", {"owner": "beta"}, 30)
        assert tenant_cache.get("analytics:summary") == {"owner": "beta"}
        activate_tenant(tenant)
        assert tenant_cache.get("analytics:summary") == {"owner": "alpha"}
    finally:
        for each in (tenant, other_tenant):
            activate_tenant(each)
            tenant_cache.delete("analytics:summary")
        activate_public()


def test_tenant_alias_keys_name_the_schema(tenant: Tenant) -> None:
    from django.core.cache import caches

    try:
        activate_tenant(tenant)
        assert caches["default"].make_key("k").startswith(f"{tenant.schema_name}:")
    finally:
        activate_public()


# --- The tenant row ---


def test_tenant_row_is_read_from_the_cache(tenant: Tenant, django_assert_num_queries: Any) -> None:
    first = tenant_by_id(tenant_id=tenant.id)
    with django_assert_num_queries(0):
        cached = tenant_by_id(tenant_id=tenant.id)
    assert cached == first
    assert cached is not None and cached.schema_name == tenant.schema_name
    assert not cached._state.adding


def test_saving_a_tenant_invalidates_its_row(tenant: Tenant) -> None:
    tenant_by_id(tenant_id=tenant.id)
    row = Tenant.objects.get(pk=tenant.pk)  # not the session's shared instance: the rollback can't undo that
    row.name = "Alpha Renamed"
    row.rate_limit_requests = 7
    row.save()
    fresh = tenant_by_id(tenant_id=tenant.id)
    assert fresh is not None
    assert (fresh.name, fresh.rate_limit_requests) == ("Alpha Renamed", 7)


def test_unknown_tenant_is_not_cached(db: None) -> None:
    unknown = uuid.uuid4()
    assert tenant_by_id(tenant_id=unknown) is None
    assert public_cache.get(tenant_cache_key(unknown)) is MISSING


def test_other_processes_see_an_invalidation_within_the_local_memo_time(redis_client: Any) -> None:
    """Another process's invalidation reaches Redis only; this process's memo serves its copy briefly."""
    cache = SafeCache("public", local_seconds=0.3)
    cache.set("memo-probe", "old", 30)
    from django.core.cache import caches

    caches["public"].delete("memo-probe")  # what another worker's invalidation does
    assert cache.get("memo-probe") == "old"
    time.sleep(0.35)
    assert cache.get("memo-probe") is MISSING


# --- Memberships ---


def test_membership_is_read_from_the_cache(
    make_user: Callable[..., User], tenant: Tenant, django_assert_num_queries: Any
) -> None:
    user = make_user(tenant=tenant, role=Role.MANAGER)
    assert membership_for(user=user, tenant_id=tenant.id) is not None
    with django_assert_num_queries(0):
        cached = membership_for(user=user, tenant_id=tenant.id)
    assert cached is not None and cached.role == Role.MANAGER and cached.user_id == user.pk


def test_role_change_and_removal_are_seen_at_once(
    make_user: Callable[..., User], tenant: Tenant, client_for: Callable[..., TenantClient]
) -> None:
    client_for(Role.ADMIN)  # somebody must stay ADMIN
    user = make_user(tenant=tenant, role=Role.MEMBER)
    membership = membership_for(user=user, tenant_id=tenant.id)
    assert membership is not None
    services.change_role(membership=membership, role=Role.ADMIN)
    promoted = membership_for(user=user, tenant_id=tenant.id)
    assert promoted is not None and promoted.role == Role.ADMIN
    services.remove_member(membership=promoted)
    assert membership_for(user=user, tenant_id=tenant.id) is None


def test_a_cached_non_member_is_forgotten_when_added(make_user: Callable[..., User], tenant: Tenant) -> None:
    user = make_user()
    assert membership_for(user=user, tenant_id=tenant.id) is None
    assert public_cache.get(membership_cache_key(tenant_id=tenant.id, user_id=user.pk)) is None  # cached "no"
    services.add_member(tenant=tenant, email=user.email, role=Role.MANAGER)
    added = membership_for(user=user, tenant_id=tenant.id)
    assert added is not None and added.role == Role.MANAGER


def test_role_changes_reach_the_api(
    client_for: Callable[..., TenantClient], make_user: Callable[..., User]
) -> None:
    admin = client_for(Role.ADMIN)
    member = client_for(Role.MEMBER)
    assert member.post("/api/v1/members/", {"email": make_user().email}).status_code == 403
    membership = Membership.objects.get(user=member.user, tenant=member.tenant)
    response = admin.patch(f"/api/v1/members/{membership.pk}/", {"role": "ADMIN"})
    assert response.status_code == 200
    assert member.post("/api/v1/members/", {"email": make_user().email}).status_code == 201


# --- Redis down: read through to PostgreSQL ---


@pytest.fixture
def dead_cache(settings: Any) -> None:
    settings.CACHES = DEAD_CACHES


def test_reads_fall_through_to_postgres_when_redis_is_down(
    dead_cache: None, make_user: Callable[..., User], tenant: Tenant
) -> None:
    user = make_user(tenant=tenant, role=Role.MEMBER)
    before = FALLBACKS.snapshot()["cache_bypassed"]
    found = tenant_by_id(tenant_id=tenant.id)
    assert found is not None and found.pk == tenant.pk
    membership = membership_for(user=user, tenant_id=tenant.id)
    assert membership is not None and membership.role == Role.MEMBER
    assert FALLBACKS.snapshot()["cache_bypassed"] > before


def test_writes_and_invalidations_do_not_raise_when_redis_is_down(dead_cache: None, db: None) -> None:
    cache = SafeCache("public")
    cache.set("k", 1, 10)
    cache.delete("k")
    cache.delete_now_and_on_commit("k")
    assert cache.get("k") is MISSING
    assert cache.get_or_compute("k", lambda: 42, 10) == 42


def test_api_answers_with_redis_down(
    dead_cache: None, client_for: Callable[..., TenantClient], settings: Any
) -> None:
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    member = client_for(Role.MEMBER)
    response = member.get("/api/v1/members/")
    assert response.status_code == 200
    assert member.user.email in {row["user"]["email"] for row in response.json()["results"]}
