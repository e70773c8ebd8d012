"""Against a live gunicorn (2 workers, 4 threads each): parallel writes to one task lose nothing, and parallel
POSTs with one Idempotency-Key create one task.

The server runs as a subprocess on the test database, so its data must be committed: a tenant of its own
(unique slug) is created outside any test transaction. `transactional_db` is not used: its flush would
truncate the public tables, including the session's tenants.
"""

import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from django.conf import settings
from django.db import connection
from django_tenants.utils import tenant_context
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import Membership, Role, User
from tenancy.models import Tenant
from tenancy.services import create_tenant
from tests.live import gunicorn
from tracker import audit, selectors
from tracker.models import Task

# django_db: the test database must exist (and test bodies read the server's committed rows through it).
pytestmark = [pytest.mark.live_server, pytest.mark.django_db]

THREADS = 12


@dataclass
class LiveTenant:
    base_url: str
    tenant: Tenant
    manager: User
    admin: User

    def headers(self, user: User, **extra: str) -> dict[str, str]:
        token = RefreshToken.for_user(user).access_token
        return {"Authorization": f"Bearer {token}", "X-Tenant-ID": str(self.tenant.id), **extra}


@pytest.fixture(scope="module")
def live(django_db_setup: None, django_db_blocker: Any) -> Iterator[LiveTenant]:
    suffix = uuid.uuid4().hex[:10]
    with django_db_blocker.unblock():
        provisioned = create_tenant(
            name=f"Live {suffix}", slug=f"live-{suffix}", admin_email=f"live-{suffix}@example.test"
        )
        manager = User.objects.create_user(f"live-manager-{suffix}@example.test")
        Membership.objects.create(user=manager, tenant=provisioned.tenant, role=Role.MANAGER)
        connection.set_schema_to_public()
    try:
        with gunicorn(redis_url=settings.REDIS_URL, workers=2, threads=4) as server:
            yield LiveTenant(
                base_url=server.url, tenant=provisioned.tenant, manager=manager, admin=provisioned.admin
            )
    finally:
        # Committed, so dropped again: later tests (the tenant sensor) see the session tenants only.
        with django_db_blocker.unblock():
            provisioned.tenant.delete(force_drop=True)
            connection.set_schema_to_public()


def in_parallel(count: int, call: Callable[[int], requests.Response]) -> list[requests.Response]:
    """Run `call(i)` for i in range(count) on threads released at the same instant."""
    start = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(index: int) -> None:
        start.wait()
        results[index] = call(index)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def _new_task(live: LiveTenant, title: str) -> dict[str, Any]:
    project = requests.post(
        f"{live.base_url}/api/v1/projects/",
        json={"name": "Live", "key": f"L{uuid.uuid4().hex[:6].upper()}"},
        headers=live.headers(live.manager),
        timeout=10,
    )
    assert project.status_code == 201, project.text
    task = requests.post(
        f"{live.base_url}/api/v1/tasks/",
        json={"project": project.json()["id"], "title": title},
        headers=live.headers(live.manager),
        timeout=10,
    )
    assert task.status_code == 201, task.text
    return task.json()


def _stored(live: LiveTenant, task_id: str) -> tuple[Task, list[Any], bool]:
    with tenant_context(live.tenant):
        task = Task.objects.get(pk=task_id)
        rows = list(selectors.task_activity(task=task))
        chain_ok = audit.verify_chain().ok
    connection.set_schema_to_public()
    return task, rows, chain_ok


def test_parallel_patches_of_one_task_lose_no_update(live: LiveTenant) -> None:
    task = _new_task(live, "Contended")
    url = f"{live.base_url}/api/v1/tasks/{task['id']}/"

    edits = in_parallel(
        THREADS,
        lambda i: requests.patch(
            url, json={"title": f"Edit {i}"}, headers=live.headers(live.manager), timeout=30
        ),
    )
    assert [r.status_code for r in edits] == [200] * THREADS
    assert sorted(r.json()["version"] for r in edits) == list(
        range(2, THREADS + 2)
    )  # each saw the one before

    starts = in_parallel(
        6,
        lambda i: requests.patch(
            url, json={"status": "IN_PROGRESS"}, headers=live.headers(live.manager), timeout=30
        ),
    )
    assert [r.status_code for r in starts] == [200] * 6  # one transition; the rest found it done already

    version = requests.get(url, headers=live.headers(live.manager), timeout=10).headers["ETag"]
    guarded = in_parallel(
        6,
        lambda i: requests.patch(
            url, json={"priority": ["LOW", "HIGH", "URGENT"][i % 3], "description": f"guarded {i}"},
            headers=live.headers(live.manager, **{"If-Match": version}), timeout=30,
        ),
    )  # fmt: skip
    assert sorted(r.status_code for r in guarded) == [200] + [412] * 5

    stored, rows, chain_ok = _stored(live, task["id"])
    effective_changes = THREADS + 1 + 1  # the edits, one transition, one guarded change
    assert stored.version == 1 + effective_changes
    assert [row.verb for row in rows].count("status_changed") == 1
    assert selectors.replay_activity(rows) == audit.task_log_state(stored)
    assert [row.seq for row in rows] == sorted(row.seq for row in rows) and chain_ok


def test_parallel_posts_with_one_idempotency_key_create_one_task(live: LiveTenant) -> None:
    project = _new_task(live, "Anchor")["project"]
    title = f"Exactly once {uuid.uuid4().hex[:8]}"
    headers = live.headers(live.admin, **{"Idempotency-Key": str(uuid.uuid4())})
    responses = in_parallel(
        8,
        lambda i: requests.post(
            f"{live.base_url}/api/v1/tasks/",
            json={"project": project, "title": title},
            headers=headers,
            timeout=30,
        ),
    )
    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {201, 409}, [r.text for r in responses]
    fresh = [r for r in responses if r.status_code == 201 and "Idempotent-Replayed" not in r.headers]
    replayed = [r for r in responses if r.headers.get("Idempotent-Replayed") == "true"]
    assert len(fresh) == 1
    assert all(r.json() == fresh[0].json() for r in replayed)
    assert all(r.json()["code"] == "idempotency_in_flight" for r in responses if r.status_code == 409)

    again = requests.post(
        f"{live.base_url}/api/v1/tasks/",
        json={"project": project, "title": title},
        headers=headers,
        timeout=30,
    )
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    with tenant_context(live.tenant):
        assert Task.objects.filter(title=title).count() == 1
    connection.set_schema_to_public()
