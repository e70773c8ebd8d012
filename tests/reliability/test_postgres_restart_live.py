"""PostgreSQL stopped and started again under load: the API answers 503 problem+json (`database_unavailable`,
with Retry-After) while it is gone, never a 500 or a dropped connection; /readyz names postgres; and it
recovers by itself within seconds, with every write it acknowledged stored.

A private PostgreSQL cluster (devstack's embedded server in a temporary directory) backs a live gunicorn
with persistent connections (DB_CONN_MAX_AGE=60) and a private Redis; client threads stream reads and
writes while the test stops the cluster (`pg_ctl stop -m fast`: every server connection is cut) and
starts it again on the same port.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import User
from devstack.services import LocalPostgres
from tests.live import REPO_ROOT, LiveServer, wait_until
from tests.security.live import gunicorn, private_redis
from tests.summary_plugin import SecurityCounters

pytestmark = [pytest.mark.live_server]

OUTAGE_SECONDS = 3.0

SEED = """
import json
import django
django.setup()
from django.core.management import call_command
from django.db import connection
from django_tenants.utils import tenant_context
from tenancy.services import create_tenant
from tracker import services

call_command("migrate_schemas", shared=True, verbosity=0)
provisioned = create_tenant(name="Fault", slug="fault", admin_email="admin@fault.test")
with tenant_context(provisioned.tenant):
    project = services.create_project(actor=provisioned.admin, name="Fault", key="FLT")
connection.set_schema_to_public()
print(json.dumps({"tenant": str(provisioned.tenant.id), "schema": provisioned.tenant.schema_name,
                  "admin": provisioned.admin.pk, "project": str(project.pk)}))
"""


@dataclass
class FaultWorld:
    postgres: LocalPostgres
    url: str
    server: LiveServer
    tenant: str
    schema: str
    project: str
    token: str


@pytest.fixture(scope="module")
def fault_world() -> Iterator[FaultWorld]:
    with tempfile.TemporaryDirectory(prefix="tp-pg-fault-") as root:
        postgres = LocalPostgres(Path(root))
        url = postgres.ensure(keep=False).url
        try:
            env = {
                **os.environ,
                "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "platform"), str(REPO_ROOT)]),
                "DJANGO_SETTINGS_MODULE": "config.settings",
                "DATABASE_URL": url,
            }
            with private_redis() as redis_server:
                env["REDIS_URL"] = redis_server.url
                seeded = subprocess.run(
                    [sys.executable, "-c", SEED], env=env, cwd=REPO_ROOT, capture_output=True, text=True,
                    timeout=300, check=False,
                )  # fmt: skip
                assert seeded.returncode == 0, seeded.stderr[-3000:]
                ids = json.loads(seeded.stdout.strip().splitlines()[-1])
                admin = User(pk=ids["admin"], email="admin@fault.test", is_active=True)
                with gunicorn(database_url=url, redis_url=redis_server.url, workers=2, threads=2) as server:
                    yield FaultWorld(
                        postgres=postgres,
                        url=url,
                        server=server,
                        tenant=ids["tenant"],
                        schema=ids["schema"],
                        project=ids["project"],
                        token=str(AccessToken.for_user(admin)),
                    )
        finally:
            postgres.stop()


@dataclass(frozen=True)
class Sample:
    phase: str
    kind: str
    status: int
    code: str
    at: float
    task_id: str = ""


@dataclass
class Stream:
    """Client threads sending reads and writes until stopped; the test moves `phase` along."""

    world: FaultWorld
    threads: int = 3
    phase: str = "up"
    samples: list[Sample] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __enter__(self) -> Stream:
        self._workers = [
            threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(self.threads)
        ]
        for worker in self._workers:
            worker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout=30)

    def _run(self, number: int) -> None:
        base = f"{self.world.server.url}/api/v1"
        headers = {"Authorization": f"Bearer {self.world.token}", "X-Tenant-ID": self.world.tenant}
        with requests.Session() as session:
            session.headers.update(headers)
            count = 0
            while not self._stop.is_set():
                count += 1
                phase, write = self.phase, count % 3 == 0
                try:
                    if write:
                        body = {
                            "project": self.world.project,
                            "title": f"fault {number}-{count} {uuid.uuid4().hex[:6]}",
                        }
                        response = session.post(f"{base}/tasks/", json=body, timeout=20)
                    else:
                        response = session.get(f"{base}/tasks/", params={"page_size": 5}, timeout=20)
                except requests.RequestException as error:  # a dropped or hung request is a failure too
                    with self._lock:
                        self.errors.append(f"{phase}: {error!r}")
                    continue
                self._record(phase, "write" if write else "read", response)
                time.sleep(0.02)

    def _record(self, phase: str, kind: str, response: requests.Response) -> None:
        code, task_id = "", ""
        if response.status_code >= 400:
            problem = (
                response.json()
                if response.headers.get("Content-Type", "").startswith("application/problem+json")
                else {}
            )
            code = problem.get("code", "")
            if response.status_code == 503 and not (
                code == "database_unavailable"
                and response.headers.get("Retry-After")
                and problem.get("request_id")
            ):
                with self._lock:
                    self.defects.append(f"{response.status_code} {response.headers} {response.text[:300]}")
        elif kind == "write":
            task_id = response.json()["id"]
        with self._lock:
            self.samples.append(Sample(phase, kind, response.status_code, code, time.monotonic(), task_id))

    def count(self, phase: str, status: int | None = None) -> int:
        with self._lock:
            return sum(1 for s in self.samples if s.phase == phase and (status is None or s.status == status))

    def wait_for(self, phase: str, *, count: int, status: int | None = None, timeout: float = 30) -> None:
        wait_until(
            lambda: self.count(phase, status) >= count, timeout=timeout, what=f"{count} x {status} in {phase}"
        )


def _stored_task_ids(world: FaultWorld) -> set[str]:
    with psycopg.connect(world.url.replace("postgres://", "postgresql://"), autocommit=True) as conn:
        rows = conn.execute(f'SELECT id::text FROM "{world.schema}".tracker_task').fetchall()
    return {row[0] for row in rows}


def test_postgres_restart_under_load_gives_503s_then_recovers_by_itself(
    fault_world: FaultWorld, security_counters: SecurityCounters
) -> None:
    server = fault_world.server
    with Stream(fault_world) as stream:
        stream.wait_for("up", status=200, count=20)
        stream.wait_for("up", status=201, count=5)

        stream.phase = "down"
        stopped_at = time.monotonic()
        fault_world.postgres.stop()
        stream.wait_for("down", status=503, count=30)
        ready = requests.get(f"{server.url}/readyz", timeout=10)
        assert ready.status_code == 503 and ready.json()["failing"] == ["postgres"], ready.text
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - stopped_at)))
        outage = time.monotonic() - stopped_at

        stream.phase = "back"
        fault_world.postgres.ensure(keep=False)  # the same data directory and port
        back_at = time.monotonic()  # PostgreSQL accepts connections again
        stream.wait_for("back", status=200, count=1, timeout=30)
        stream.wait_for("back", status=201, count=1, timeout=30)
        recovered_at = max(
            next(s.at for s in stream.samples if s.phase == "back" and s.status == status)
            for status in (200, 201)
        )
        stream.phase = "recovered"
        stream.wait_for("recovered", count=40)
    assert requests.get(f"{server.url}/readyz", timeout=10).status_code == 200

    statuses = Counter((s.phase, s.kind, s.status, s.code) for s in stream.samples)
    acknowledged = {s.task_id for s in stream.samples if s.status == 201}
    stored = _stored_task_ids(fault_world)
    lost = acknowledged - stored
    refused_writes = sum(1 for s in stream.samples if s.kind == "write" and s.status == 503)
    server_errors = [key for key in statuses if key[2] >= 500 and key[2] != 503]
    recovery = max(0.0, recovered_at - back_at)
    print(
        f"\npostgres restart: injected `pg_ctl stop -m fast` under load for {outage:.1f}s, then started it "
        "again; "
        f"{len(stream.samples)} requests, {sum(n for k, n in statuses.items() if k[2] == 503)} answered 503 "
        f"database_unavailable, {len(server_errors)} other 5xx, {len(stream.errors)} dropped; recovered "
        f"{recovery:.1f}s after the restart; {len(acknowledged)} acknowledged writes, {len(lost)} lost, "
        f"{refused_writes} refused with 503 ({len(stored & {s.task_id for s in stream.samples})} stored)\n"
        f"{dict(sorted(statuses.items()))}"
    )
    security_counters.add("faults")
    security_counters.add("lost_events", len(lost))
    security_counters.add("server_errors", sum(statuses[key] for key in server_errors))
    security_counters.note(
        f"PostgreSQL stopped {outage:.1f}s under load: {statuses_503(statuses)} x 503 database_unavailable, "
        f"recovered in {recovery:.1f}s, {len(lost)} acknowledged writes lost"
    )

    assert not stream.errors, stream.errors[:5]
    assert not server_errors, statuses
    assert not stream.defects, stream.defects[:3]
    assert not lost, lost
    # Recovery "within seconds": the waits above allow 30 s for the first success after the restart; the
    # measured time is printed (DESIGN.md: no timed assertions in tests).
    assert {k[2] for k in statuses if k[0] == "recovered"} <= {200, 201}, statuses


def statuses_503(statuses: Counter[Any]) -> int:
    return sum(n for key, n in statuses.items() if key[2] == 503)
