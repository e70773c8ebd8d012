"""Real processes for the job tests: Celery workers and the outbox relay (gunicorn, a private redis-server
and the rest are in tests/live.py)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.live import REPO_ROOT, wait_until

PYTHON = Path(sys.executable)
CELERY = PYTHON.parent / "celery"


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
            self.argv,
            env=self.env,
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        return self

    def wait_ready(self, *, timeout: float = 120.0) -> "Process":  # a hang guard: boots crawl under load
        wait_until(
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
        argv = [str(PYTHON), str(REPO_ROOT / "platform" / "manage.py"), "run_outbox_relay", "--skip-checks"]
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
