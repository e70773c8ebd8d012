"""Pooled connections never leak a schema: concurrent load from both tenants against a live gunicorn whose
workers keep their PostgreSQL connections (DB_CONN_MAX_AGE=60), every response checked against the data of
the tenant it asked for.

Each request goes out on a keep-alive session of a thread that mixes tenants, roles and outcomes (reads,
writes, 403s under the other tenant's header, 404s, validation errors that roll a transaction back), so
every server connection serves both tenants one request after another. A schema left behind by the
previous request would show up as another tenant's titles, ids or slug in an answer. The test also checks
from the worker processes' sockets that the same few connections served the whole run.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psutil
import pytest
import requests
from django.db import connection

from accounts.models import Role
from tests.live import LiveServer, live_database_url
from tests.security.live import gunicorn, private_redis
from tests.security.world import Side, World
from tests.summary_plugin import SecurityCounters

pytestmark = [pytest.mark.live_server, pytest.mark.django_db]

ROLES = (Role.ADMIN, Role.MANAGER, Role.MEMBER)


@dataclass
class LoadResult:
    requests: int = 0
    leaks: list[str] | None = None
    errors: list[str] | None = None


def server_connections(server: LiveServer) -> set[int]:
    """Local ports of the PostgreSQL connections the server's worker processes hold right now."""
    pg_port = int(connection.settings_dict["PORT"] or 5432)
    ports = set()
    for worker in psutil.Process(server.process.pid).children(recursive=True):
        for socket in worker.net_connections(kind="tcp"):
            if socket.raddr and socket.raddr.port == pg_port:
                ports.add(socket.laddr.port)
    return ports


class Load:
    """`threads` clients sending `per_thread` requests each, tenants and roles drawn at random."""

    def __init__(self, world: World, base_url: str, *, seed: int) -> None:
        self.world = world
        self.base = f"{base_url}/api/v1"
        self.random = random.Random(seed)
        self.tokens = {(side.slug, role): side.token(role) for side in (world.a, world.b) for role in ROLES}
        self.lock = threading.Lock()
        self.result = LoadResult(leaks=[], errors=[])
        self.statuses: Counter[int] = Counter()

    def run(self, *, threads: int, per_thread: int) -> LoadResult:
        seeds = [self.random.randrange(2**32) for _ in range(threads)]
        workers = [threading.Thread(target=self._client, args=(seed, per_thread)) for seed in seeds]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=300)
        return self.result

    def _client(self, seed: int, count: int) -> None:
        chooser = random.Random(seed)
        with requests.Session() as session:
            for n in range(count):
                side = chooser.choice((self.world.a, self.world.b))
                role = chooser.choice(ROLES)
                kind = chooser.choices(
                    ["list", "detail", "projects", "members", "write", "foreign", "missing", "invalid"],
                    weights=[5, 3, 2, 2, 2, 1, 1, 1],
                )[0]
                try:
                    self._one(session, side, role, kind, tag=f"{seed}-{n}", task=chooser.choice(side.tasks))
                except requests.RequestException as error:
                    self._record(errors=f"{kind} for {side.slug}: {error!r}")

    def _headers(self, side: Side, role: str, tenant: Side | None = None) -> dict[str, str]:
        token = self.tokens[(side.slug, role)]
        return {"Authorization": f"Bearer {token}", "X-Tenant-ID": (tenant or side).id}

    def _one(
        self, session: requests.Session, side: Side, role: str, kind: str, *, tag: str, task: str
    ) -> None:
        other = self.world.other(side)
        headers = self._headers(side, role)
        expected = {200}
        if kind == "list":
            response = session.get(
                f"{self.base}/tasks/", params={"page_size": 200}, headers=headers, timeout=30
            )
        elif kind == "detail":
            response = session.get(f"{self.base}/tasks/{task}/", headers=headers, timeout=30)
        elif kind == "projects":
            response = session.get(f"{self.base}/projects/", headers=headers, timeout=30)
        elif kind == "members":
            response = session.get(
                f"{self.base}/members/", params={"page_size": 200}, headers=headers, timeout=30
            )
        elif kind == "write":
            body = {"project": side.projects[0], "title": f"{side.slug} load {tag}"}
            response = session.post(f"{self.base}/tasks/", json=body, headers=headers, timeout=30)
            expected = {201}
        elif kind == "foreign":  # the other tenant's header: refused before its schema is entered
            response = session.get(
                f"{self.base}/tasks/", headers=self._headers(side, role, other), timeout=30
            )
            expected = {403}
        elif kind == "missing":  # the other tenant's task under our header
            response = session.get(f"{self.base}/tasks/{other.tasks[0]}/", headers=headers, timeout=30)
            expected = {404}
        else:  # a refused write inside a transaction that is rolled back
            body = {"project": side.projects[0], "title": "   "}
            response = session.post(f"{self.base}/tasks/", json=body, headers=headers, timeout=30)
            expected = {400}
        self._check(response, side, other, kind, expected)

    def _check(
        self, response: requests.Response, side: Side, other: Side, kind: str, expected: set[int]
    ) -> None:
        where = f"{kind} for {side.slug}"
        sent = f"{response.request.url} {response.request.body!r} {response.request.headers}"
        leaked = [marker for marker in other.markers() if marker in response.text and marker not in sent]
        problems = []
        if response.status_code not in expected:
            problems.append(f"{where}: {response.status_code} not in {expected}: {response.text[:200]}")
        elif response.status_code == 200 and kind in ("list", "projects", "members"):
            problems += [
                f"{where}: foreign row {row}" for row in _rows(response.json()) if side.slug not in row
            ]
        elif (
            response.status_code in (200, 201)
            and kind in ("detail", "write")
            and side.slug not in response.json()["title"]
        ):
            problems.append(f"{where}: {response.json()['title']!r}")
        self._record(
            leaks=f"{where}: {leaked} in {response.text[:200]}" if leaked else None,
            errors=problems,
            status=response.status_code,
        )

    def _record(
        self, *, leaks: str | None = None, errors: str | list[str] | None = None, status: int = 0
    ) -> None:
        with self.lock:
            self.result.requests += 1 if status else 0
            self.statuses[status] += 1 if status else 0
            if leaks:
                self.result.leaks.append(leaks)  # type: ignore[union-attr]
            if isinstance(errors, str):
                self.result.errors.append(errors)  # type: ignore[union-attr]
            elif errors:
                self.result.errors.extend(errors)  # type: ignore[union-attr]


def _rows(body: dict[str, Any]) -> list[str]:
    """One string per listed row with the field that carries its tenant's slug."""
    rows = []
    for row in body["results"]:
        if "title" in row:
            rows.append(row["title"])
        elif "user" in row:
            rows.append(row["user"]["email"])
        else:
            rows.append(row["name"])
    return rows


def _run_load(
    world: World,
    server: LiveServer,
    counters: SecurityCounters,
    *,
    threads: int,
    per_thread: int,
    bursts: int,
    same_connections: bool,
    max_connections: int = 3 * 2,
) -> None:
    connections_seen = []
    total = LoadResult(leaks=[], errors=[])
    statuses: Counter[int] = Counter()
    for burst in range(bursts):
        load = Load(world, server.url, seed=burst)
        result = load.run(threads=threads, per_thread=per_thread)
        total.requests += result.requests
        total.leaks += result.leaks or []  # type: ignore[operator]
        total.errors += result.errors or []  # type: ignore[operator]
        statuses.update(load.statuses)
        connections_seen.append(server_connections(server))
    print(
        f"\npooled connections: {total.requests} requests from {threads} threads in {bursts} bursts, "
        f"statuses {dict(sorted(statuses.items()))}; server connections per burst: "
        f"{[sorted(ports) for ports in connections_seen]}; {len(total.leaks or [])} leaks"
    )
    counters.add("load_requests", total.requests)
    counters.add("leaks", len(total.leaks or []))
    counters.add("server_errors", sum(count for status, count in statuses.items() if status >= 500))

    assert not total.leaks, total.leaks[:10]
    assert not total.errors, total.errors[:10]
    assert total.requests == threads * per_thread * bursts
    # Never more connections than the server may hold (persistent: one per worker thread, 3 workers x 2
    # threads; pooled: each worker's pool size), and in a run shorter than DB_CONN_MAX_AGE (60 s) or the
    # pool's idle timeout the first burst's connections were still open in the last.
    assert all(0 < len(ports) <= max_connections for ports in connections_seen)
    if same_connections:
        assert connections_seen[0] <= connections_seen[-1], connections_seen


def test_concurrent_tenants_on_reused_connections_only_ever_see_their_own_data(
    world: World, attack_server: LiveServer, security_counters: SecurityCounters
) -> None:
    _run_load(
        world, attack_server, security_counters, threads=8, per_thread=40, bursts=2, same_connections=True
    )


# One connection per worker process, shared by its two threads: every request may get the connection the
# other thread's request just used (and persistent connections, one per thread, could not fit in 3).
POOL_SIZE = 1


@pytest.fixture(scope="module")
def pooled_server(world: World, django_db_blocker: Any) -> Iterator[LiveServer]:
    """The same server with psycopg's connection pool (DB_POOL_SIZE) instead of persistent connections:
    a worker's two threads take whichever pooled connection is free, request after request."""
    with django_db_blocker.unblock():
        database_url = live_database_url()
    with (
        private_redis() as redis_server,
        gunicorn(
            database_url=database_url, redis_url=redis_server.url, env={"DB_POOL_SIZE": str(POOL_SIZE)}
        ) as server,
    ):
        yield server


def test_db_pool_size_turns_on_the_psycopg_pool_without_persistent_connections() -> None:
    probe = (
        "import django; django.setup(); from django.db import connection; "
        "print(connection.settings_dict['CONN_MAX_AGE'], connection.pool.max_size)"
    )
    env = {**os.environ, "DB_POOL_SIZE": "3", "DB_CONN_MAX_AGE": "60"}
    output = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert output.split() == ["0", "3"]


def test_concurrent_tenants_on_pooled_connections_only_ever_see_their_own_data(
    world: World, pooled_server: LiveServer, security_counters: SecurityCounters
) -> None:
    _run_load(
        world,
        pooled_server,
        security_counters,
        threads=8,
        per_thread=40,
        bursts=2,
        same_connections=True,
        max_connections=3 * POOL_SIZE,
    )


@pytest.mark.slow
def test_long_concurrent_load_on_reused_connections_never_leaks(
    world: World, attack_server: LiveServer, security_counters: SecurityCounters
) -> None:
    # Minutes long: connections are replaced after DB_CONN_MAX_AGE, as configured.
    _run_load(
        world, attack_server, security_counters, threads=16, per_thread=250, bursts=4, same_connections=False
    )
