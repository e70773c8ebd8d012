"""Shared fixtures: two tenant schemas created once per session, users per role, authenticated clients.

Migrating a tenant schema takes seconds, so the schemas are created once (committed, outside the per-test
transaction) and every test runs in a transaction that is rolled back, users and memberships included.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connection
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import Membership, Role, User
from tenancy.models import Tenant
from tenancy.selectors import tenant_by_slug
from tenancy.services import create_tenant

TEST_PASSWORD = "correct-horse-battery"


@pytest.fixture(scope="session")
def tenants(django_db_setup: None, django_db_blocker: Any) -> dict[str, Tenant]:
    """Tenants `alpha` and `beta`, each with its own migrated schema, shared by the whole session."""
    with django_db_blocker.unblock():
        result = {}
        for slug in ("alpha", "beta"):
            tenant = tenant_by_slug(slug=slug)
            if tenant is None:
                tenant = create_tenant(
                    name=slug.title(),
                    slug=slug,
                    admin_email=f"founder@{slug}.test",
                    admin_password=TEST_PASSWORD,
                ).tenant
            result[slug] = tenant
        connection.set_schema_to_public()
        return result


@pytest.fixture
def tenant(tenants: dict[str, Tenant], db: None) -> Tenant:
    return tenants["alpha"]


@pytest.fixture
def other_tenant(tenants: dict[str, Tenant], db: None) -> Tenant:
    return tenants["beta"]


@pytest.fixture(autouse=True)
def _public_schema_after_test() -> Iterator[None]:
    yield
    connection.set_schema_to_public()


_user_counter = iter(range(1, 10**9))


@pytest.fixture
def make_user(db: None) -> Callable[..., User]:
    def make(*, tenant: Tenant | None = None, role: str = Role.MEMBER, email: str | None = None) -> User:
        user = User.objects.create_user(
            email or f"user{next(_user_counter)}@example.test", TEST_PASSWORD, full_name="Test User"
        )
        if tenant is not None:
            Membership.objects.create(user=user, tenant=tenant, role=role)
        return user

    return make


@dataclass
class TenantClient:
    """An API client signed in as `user` that names `tenant` in X-Tenant-ID on every call."""

    client: APIClient
    user: User
    tenant: Tenant

    def _headers(self, extra: dict[str, str] | None) -> dict[str, str]:
        headers = {"X-Tenant-ID": str(self.tenant.id)}
        headers.update(extra or {})
        return headers

    def get(self, path: str, data: Any = None, headers: dict[str, str] | None = None) -> Any:
        return self.client.get(path, data, headers=self._headers(headers))

    def post(self, path: str, data: Any = None, headers: dict[str, str] | None = None) -> Any:
        return self.client.post(path, data, format="json", headers=self._headers(headers))

    def patch(self, path: str, data: Any = None, headers: dict[str, str] | None = None) -> Any:
        return self.client.patch(path, data, format="json", headers=self._headers(headers))

    def delete(self, path: str, headers: dict[str, str] | None = None) -> Any:
        return self.client.delete(path, headers=self._headers(headers))


def bearer_client(user: User) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    return client


@pytest.fixture
def client_for(make_user: Callable[..., User], tenant: Tenant) -> Callable[..., TenantClient]:
    """`client_for(Role.MANAGER)` → a client of a new user with that role in the test tenant."""

    def build(
        role: str = Role.MEMBER, *, on_tenant: Tenant | None = None, user: User | None = None
    ) -> TenantClient:
        target = on_tenant or tenant
        member = user or make_user(tenant=target, role=role)
        return TenantClient(client=bearer_client(member), user=member, tenant=target)

    return build


def assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    """The response is RFC 9457 problem+json with this status and stable code."""
    assert response.status_code == status, (response.status_code, getattr(response, "content", b"")[:500])
    assert response["Content-Type"].startswith("application/problem+json"), response["Content-Type"]
    body = response.json()
    assert body["code"] == code, body
    assert body["status"] == status
    assert {"type", "title", "detail"} <= body.keys()
    return body
