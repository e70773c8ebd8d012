"""Shared fixtures: two tenant schemas created once per session, users per role, authenticated clients.

Migrating a tenant schema takes seconds, so the schemas are created once (committed, outside the per-test
transaction) and every test runs in a transaction that is rolled back, users and memberships included.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import redis
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection
from django.test.utils import setup_databases, teardown_databases
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import Membership, Role, User
from api.rate_limit import KEY_PREFIX
from tenancy.models import Tenant
from tenancy.selectors import tenant_by_slug
from tenancy.services import create_tenant
from tests import summary_plugin

TEST_PASSWORD = "correct-horse-battery"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--run-slow",
        action="store_true",
        default=False,
        help="also run the tests marked `slow` and the long fuzzing profile (make verify)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(summary_plugin.SummaryPlugin(), "task-platform-summary")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without --run-slow, tests marked `slow` are deselected (not skipped): `make test` stays fast."""
    if config.getoption("--run-slow"):
        return
    slow = [item for item in items if item.get_closest_marker("slow")]
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if not item.get_closest_marker("slow")]


@pytest.fixture(scope="session")
def security_counters() -> summary_plugin.SecurityCounters:
    """Counts for the closing summary (tests/summary_plugin.py); tests assert their own zeros."""
    return summary_plugin.COUNTERS


SESSION_TENANT_SLUGS = ("alpha", "beta")


# The database DATABASE_URL names, read before any test database exists (setting one up renames it).
CONFIGURED_DATABASE_NAME = settings.DATABASES[DEFAULT_DB_ALIAS]["NAME"]


@pytest.fixture(scope="session")
def django_db_setup(
    request: pytest.FixtureRequest,
    django_db_setup: None,
    django_db_blocker: Any,
    django_db_keepdb: bool,
    django_db_createdb: bool,
) -> Iterator[None]:
    """The test database, then at once the session's tenants `alpha` and `beta` (committed).

    They are made here, before any test opens its transaction: made lazily by the first test that needs
    them, they could land inside a test's transaction (when its `db` fixture came first) and vanish at
    its rollback while the session went on using them.

    pytest-django sets the test database up only when a collected test asks for it (the `db` fixture or
    the `django_db` mark). Tests that reach the database only through session fixtures ask for neither:
    the live-process tests of tests/jobs write committed rows, outside any per-test transaction, so they
    must not carry the mark. Run alone, such a module would leave Django on DATABASE_URL's own database,
    and the tenants (and the workers' rows) would be written there. Then the test database is set up
    here, the way pytest-django does it, and torn down again at the end of the session.
    """
    verbosity = request.config.option.verbose
    created = None
    with django_db_blocker.unblock():
        if connection.settings_dict["NAME"] == CONFIGURED_DATABASE_NAME:
            created = setup_databases(
                verbosity=verbosity,
                interactive=False,
                aliases={DEFAULT_DB_ALIAS},
                keepdb=django_db_keepdb and not django_db_createdb,
            )
        for slug in SESSION_TENANT_SLUGS:
            if tenant_by_slug(slug=slug) is None:
                create_tenant(
                    name=slug.title(),
                    slug=slug,
                    admin_email=f"founder@{slug}.test",
                    admin_password=TEST_PASSWORD,
                )
        connection.set_schema_to_public()
    yield
    if created is not None and not django_db_keepdb:
        with django_db_blocker.unblock():
            try:
                teardown_databases(created, verbosity=verbosity)
            except Exception as exc:  # as pytest-django's own teardown: a warning, not an error
                request.node.warn(pytest.PytestWarning(f"Error when tearing down the test database: {exc!r}"))


@pytest.fixture(scope="session")
def tenants(django_db_setup: None, django_db_blocker: Any) -> dict[str, Tenant]:
    """Tenants `alpha` and `beta`, each with its own migrated schema, shared by the whole session."""
    with django_db_blocker.unblock():
        found = {slug: tenant_by_slug(slug=slug) for slug in SESSION_TENANT_SLUGS}
    return {slug: tenant for slug, tenant in found.items() if tenant is not None}


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


@pytest.fixture(autouse=True)
def _full_rate_limit_budgets() -> None:
    """Every test starts with full rate-limit budgets. The session's two tenants serve every test's
    requests, so without this a test would meet 429s depending on how many requests the tests before it
    made in the last minute (600 per tenant): how fast the suite runs. tests/redis tests the limiter."""
    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        stale = list(client.scan_iter(match=f"{KEY_PREFIX}:*", count=1000))
        if stale:
            client.delete(*stale)
    finally:
        client.close()


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
