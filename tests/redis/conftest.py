"""Fixtures for the Redis tests: a clean slate of rate-limit buckets and cached tenant rows per test, and
committed members for the live-server tests."""

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import redis
from django.conf import settings
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import Membership, Role, User
from api.cache import public_cache, tenant_cache
from api.rate_limit import KEY_PREFIX, limiter
from tenancy.models import Tenant, tenant_cache_key


def delete_matching(client: redis.Redis, pattern: str) -> None:
    keys = list(client.scan_iter(match=pattern, count=500))
    if keys:
        client.delete(*keys)


def forget_tenant_state(client: redis.Redis, tenants: dict[str, Tenant]) -> None:
    """Rate-limit buckets and cached rows of the session's tenants, so no test sees another's leftovers."""
    for tenant in tenants.values():
        delete_matching(client, f"{KEY_PREFIX}:{{{tenant.pk}}}:*")
        public_cache.delete(tenant_cache_key(tenant.pk))


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(settings.REDIS_URL)
    yield client
    client.close()


@pytest.fixture(autouse=True)
def _clean_redis_state(tenants: dict[str, Tenant]) -> Iterator[None]:
    """Tests that save a Tenant inside their rolled-back transaction would leave a cached row the database
    never committed; tests with tiny limits would leave full buckets. Clear both, before and after."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    forget_tenant_state(client, tenants)
    yield
    for breaker in (limiter.breaker, public_cache.breaker, tenant_cache.breaker):
        breaker.reset()  # a test that killed Redis must not leave the next one skipping it
    forget_tenant_state(client, tenants)
    client.close()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """These tests are about Redis, not password hashing: PBKDF2 per created user would dominate them."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@dataclass(frozen=True)
class LiveMember:
    user: User
    tenant: Tenant

    @property
    def headers(self) -> dict[str, str]:
        token = RefreshToken.for_user(self.user).access_token
        return {"Authorization": f"Bearer {token}", "X-Tenant-ID": str(self.tenant.id)}


@pytest.fixture(scope="module")
def live_members(tenants: dict[str, Tenant], django_db_blocker: Any) -> dict[str, list[LiveMember]]:
    """Committed members for a live server (it cannot see a test's uncommitted rows): four in alpha, two in
    beta, with unique emails so modules and reruns never collide. The session's database is dropped at the
    end, so nothing needs deleting."""
    members: dict[str, list[LiveMember]] = {"alpha": [], "beta": []}
    with django_db_blocker.unblock():
        for slug, count in (("alpha", 4), ("beta", 2)):
            for _ in range(count):
                user = User.objects.create_user(f"live-{uuid.uuid4().hex[:12]}@example.test", None)
                Membership.objects.create(user=user, tenant=tenants[slug], role=Role.MEMBER)
                members[slug].append(LiveMember(user=user, tenant=tenants[slug]))
    return members
