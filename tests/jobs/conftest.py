"""Fixtures for the job tests: a tenant of their own, committed data, and real worker/relay processes.

Processes see only committed rows, so these tests write outside the per-test transaction
(`django_db_blocker.unblock()`), never with `transactional_db` (its flush would empty the public tables,
the session's tenants included). They use a tenant of their own ("jobs"): the rows they commit stay for
the session, and must not show up in other tests' counts of alpha's or beta's tasks and members.
"""

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.conf import settings

from accounts.models import Membership, Role, User
from tenancy.models import Tenant
from tenancy.schema import activate_public
from tenancy.selectors import tenant_by_slug
from tenancy.services import create_tenant
from tests.conftest import TEST_PASSWORD
from tests.jobs.live import LiveStack
from tests.live import live_database_url

JOBS_SLUG = "jobs"

# Fast retries and a short sweep so failure paths finish in seconds, not minutes.
LIVE_SETTINGS = {
    "JOBS_MAX_RETRIES": "2",
    "JOBS_RETRY_BACKOFF_SECONDS": "0.2",
    "JOBS_RETRY_BACKOFF_MAX_SECONDS": "1",
    "OUTBOX_RELAY_SWEEP_SECONDS": "1",
    "WEBHOOKS_DISABLE_AFTER_FAILURES": "2",
    "WEBHOOKS_ALLOW_PRIVATE_URLS": "1",
    "CELERY_VISIBILITY_TIMEOUT": "60",
    "CELERY_UNACKED_RESTORE_INTERVAL": "1",
    "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
    "DEBUG": "1",
    "CELERY_SKIP_CHECKS": "1",  # the system checks already ran in this process
}


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """Users made by these tests never need a strong hash, and PBKDF2 costs over a second here."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session")
def jobs_tenant(tenants: dict[str, Tenant], django_db_blocker: Any) -> Tenant:
    with django_db_blocker.unblock():
        tenant = (
            tenant_by_slug(slug=JOBS_SLUG)
            or create_tenant(
                name="Jobs", slug=JOBS_SLUG, admin_email="founder@jobs.test", admin_password=TEST_PASSWORD
            ).tenant
        )
        activate_public()
    return tenant


@pytest.fixture(scope="session")
def test_redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, decode_responses=True)


@pytest.fixture(scope="session")
def email_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("emails")


@pytest.fixture(scope="session")
def live_stack(
    jobs_tenant: Tenant, tmp_path_factory: pytest.TempPathFactory, email_dir: Path, test_redis: redis.Redis
) -> Iterator[LiveStack]:
    """Workers and relay point at the test database and at CELERY_BROKER_URL, emptied of old messages."""
    # Only the broker's own keys: under `make test` the broker shares its database with the cache.
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    for pattern in ("realtime", "batch", "unacked*", "_kombu.*"):
        for key in broker.scan_iter(pattern):
            broker.delete(key)
    for key in test_redis.scan_iter("tests:*"):
        test_redis.delete(key)
    env = {
        **os.environ,
        **LIVE_SETTINGS,
        "DATABASE_URL": live_database_url(),
        "EMAIL_FILE_PATH": str(email_dir),
        "PYTHONUNBUFFERED": "1",
    }
    stack = LiveStack(env=env, log_dir=tmp_path_factory.mktemp("process-logs"))
    yield stack
    stack.stop_default()


@pytest.fixture
def live(live_stack: LiveStack) -> LiveStack:
    """The default worker and relay, (re)started if a previous test stopped them."""
    live_stack.ensure_default()
    return live_stack


@pytest.fixture
def committed(django_db_blocker: Any) -> Iterator[None]:
    """Database access without the per-test transaction: what the test writes is committed at once."""
    with django_db_blocker.unblock():
        yield
        activate_public()


@pytest.fixture
def member(committed: None, jobs_tenant: Tenant) -> Callable[..., User]:
    def make(role: str = Role.MEMBER) -> User:
        # No password: hashing one costs a third of a second, and these users never log in.
        user = User.objects.create_user(f"live-{uuid.uuid4().hex[:12]}@jobs.test")
        Membership.objects.create(user=user, tenant=jobs_tenant, role=role)
        return user

    return make
