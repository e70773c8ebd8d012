"""The local servers are real, keep their data across a restart, are reused, and stop completely.

Each test gets its own data directory, so these never touch the servers `make test` runs in.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import psutil
import psycopg
import pytest
import redis

from devstack.launch import broker_url, child_environment
from devstack.services import LocalPostgres, LocalRedis, LocalService, data_dir, managed_services

pytestmark = pytest.mark.devstack


def processes_naming(path: Path) -> list[psutil.Process]:
    """Processes whose command line names `path` (the postmaster does; Redis retitles itself)."""
    return [
        process
        for process in psutil.process_iter(["cmdline"])
        if any(str(path) in part for part in process.info["cmdline"] or [])
    ]


def is_alive(process: psutil.Process) -> bool:
    try:
        return bool(process.status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def postgres(root: Path) -> Iterator[LocalPostgres]:
    service = LocalPostgres(root)
    yield service
    service.stop()


@pytest.fixture
def redis_service(root: Path) -> Iterator[LocalRedis]:
    service = LocalRedis(root)
    yield service
    service.stop()


def stop_and_check_gone(service: LocalService) -> None:
    """Stop, then check the server and every process it forked have exited."""
    running = service.probe()
    assert running is not None
    server = psutil.Process(running.pid)
    family = [server, *server.children(recursive=True)]

    assert service.stop() is True

    assert [process for process in family if is_alive(process)] == []
    assert service.probe() is None
    assert processes_naming(service.data) == []


def test_postgres_keeps_rows_across_a_restart_on_the_same_port(postgres: LocalPostgres) -> None:
    first = postgres.ensure()
    assert first.started
    with psycopg.connect(first.url, autocommit=True) as connection:
        connection.execute("CREATE TABLE note (body text)")
        connection.execute("INSERT INTO note VALUES ('survives')")
    stop_and_check_gone(postgres)

    second = postgres.ensure()

    assert second.started
    assert second.url == first.url
    with psycopg.connect(second.url) as connection:
        assert connection.execute("SELECT body FROM note").fetchall() == [("survives",)]


def test_postgres_is_reused_while_running(postgres: LocalPostgres) -> None:
    first = postgres.ensure()

    again = postgres.ensure()

    assert not again.started
    assert (again.url, again.pid) == (first.url, first.pid)


def test_postgres_url_names_the_application_database(postgres: LocalPostgres) -> None:
    endpoint = postgres.ensure()

    assert endpoint.url.startswith("postgres://postgres@127.0.0.1:")
    with psycopg.connect(endpoint.url) as connection:
        assert connection.execute("SELECT current_database()").fetchone() == ("task_platform",)


def test_redis_keeps_keys_across_a_restart_on_the_same_port(redis_service: LocalRedis) -> None:
    first = redis_service.ensure()
    with redis.Redis.from_url(first.url) as client:
        client.set("note", "survives")
    stop_and_check_gone(redis_service)

    second = redis_service.ensure()

    assert second.started
    assert second.url == first.url
    with redis.Redis.from_url(second.url) as client:
        assert client.get("note") == b"survives"


def test_redis_is_reused_while_running(redis_service: LocalRedis) -> None:
    first = redis_service.ensure()

    again = redis_service.ensure()

    assert not again.started
    assert (again.url, again.pid) == (first.url, first.pid)


def test_stop_when_nothing_runs_is_harmless(root: Path) -> None:
    assert [service.stop() for service in (LocalPostgres(root), LocalRedis(root))] == [False, False]


def test_a_launcher_stops_what_it_started_once_released(redis_service: LocalRedis) -> None:
    redis_service.ensure(keep=False, holder=os.getpid())

    assert redis_service.release(holder=os.getpid()) == "stopped"
    assert redis_service.probe() is None


def test_a_server_started_to_stay_survives_a_launcher(redis_service: LocalRedis) -> None:
    redis_service.ensure(keep=True)
    redis_service.ensure(keep=False, holder=os.getpid())

    assert redis_service.release(holder=os.getpid()) == "left running"
    assert redis_service.probe() is not None


def test_only_services_without_a_url_in_the_environment_are_managed(root: Path) -> None:
    env = {"DATABASE_URL": "postgres://elsewhere/db"}

    assert [service.name for service in managed_services(env, root)] == ["redis"]


def test_data_dir_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TASK_PLATFORM_DATA_DIR", str(tmp_path / "elsewhere"))

    assert data_dir() == tmp_path / "elsewhere"
    assert LocalRedis().data == tmp_path / "elsewhere" / "redis"


def test_the_broker_gets_its_own_redis_database_unless_set() -> None:
    assert broker_url("redis://127.0.0.1:6000/0") == "redis://127.0.0.1:6000/1"
    urls = {"REDIS_URL": "redis://127.0.0.1:6000/0"}
    assert child_environment({}, urls)["CELERY_BROKER_URL"] == "redis://127.0.0.1:6000/1"
    assert child_environment({"CELERY_BROKER_URL": "redis://b/2"}, urls)["CELERY_BROKER_URL"] == "redis://b/2"
