"""Run a command with the local servers up: `python -m devstack.launch [--keep] -- CMD ARGS...`.

Why a launcher and not a shell one-liner: the servers run in their own session, so they survive a
Ctrl-C in the terminal. Someone has to stop them afterwards, in order and only if this run started
them, and that is this process. It starts (or reuses) the servers whose URL variable is unset,
exports DATABASE_URL, REDIS_URL and CELERY_BROKER_URL to the command, runs it in the foreground,
relays SIGINT/SIGTERM/SIGHUP to it, and when it has exited stops what this run started (unless
`--keep`, or another launcher still uses it). The exit status is the command's.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import FrameType
from urllib.parse import urlsplit, urlunsplit

from devstack.services import LocalService, ServiceError, managed_services

log = logging.getLogger("devstack")

RELAYED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
USAGE = "%(prog)s [--keep] -- CMD [ARGS...]"
BROKER_DB = 1  # Celery's broker in its own Redis database, apart from the cache (db 0)


def broker_url(redis_url: str) -> str:
    """REDIS_URL with the database number replaced by the broker's."""
    parts = urlsplit(redis_url)
    return urlunsplit(parts._replace(path=f"/{BROKER_DB}"))


def _say(message: str) -> None:
    """One status line on stderr, so the command's stdout stays its own."""
    print(f"devstack: {message}", file=sys.stderr, flush=True)


def _terminal_already_sent_it(signum: int, child_pid: int) -> bool:
    """True for a Ctrl-C typed at a terminal whose foreground group holds the child too.

    The terminal signals the whole foreground group, so the child already has that SIGINT; sending
    it a second one could cut short its own clean-up (pytest's teardown, honcho's shutdown).
    """
    if signum != signal.SIGINT:
        return False
    try:
        with open("/dev/tty", "rb") as tty:
            foreground = os.tcgetpgrp(tty.fileno())
        return foreground == os.getpgrp() == os.getpgid(child_pid)
    except OSError:
        return False


@dataclass
class SignalRelay:
    """Remembers the first stop signal and passes signals on to the child once there is one.

    Installed before the servers start, so a signal during start-up only defers the stop until
    the servers are up (and can be stopped cleanly) instead of killing the launcher and leaking them.
    """

    child: subprocess.Popen[bytes] | None = None
    received: list[int] = field(default_factory=list)

    def install(self) -> None:
        for signum in RELAYED_SIGNALS:
            signal.signal(signum, self._handle)

    def attach(self, child: subprocess.Popen[bytes]) -> None:
        """Adopt the child; a signal that arrived while it was being spawned is passed on now."""
        self.child = child
        if self.received:
            self._forward(self.received[0])

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.received.append(signum)
        if self.child is not None:
            self._forward(signum)

    def _forward(self, signum: int) -> None:
        assert self.child is not None
        if self.child.poll() is None and not _terminal_already_sent_it(signum, self.child.pid):
            self.child.send_signal(signum)


def _start_service(service: LocalService, *, keep: bool) -> str:
    """Ensure one server, say where it is and whether this run started it; return its URL."""
    endpoint = service.ensure(keep=keep, holder=os.getpid())
    verb = "started" if endpoint.started else "reused (already running)"
    _say(f"{service.name} {verb} at {endpoint.url} (data in {endpoint.data})")
    return endpoint.url


def _release_services(services: Sequence[LocalService]) -> None:
    """Release in reverse start order, deaf to further Ctrl-C so the stop is never cut short."""
    for signum in RELAYED_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)
    for service in reversed(services):
        try:
            _say(f"{service.name} {service.release(os.getpid())}")
        except ServiceError as error:
            log.error("%s", error)


def child_environment(base: Mapping[str, str], urls: Mapping[str, str]) -> dict[str, str]:
    """The child's environment: the caller's, plus the local URLs, plus the broker URL if unset."""
    env = {**base, **urls}
    if not env.get("CELERY_BROKER_URL") and env.get("REDIS_URL"):
        env["CELERY_BROKER_URL"] = broker_url(env["REDIS_URL"])
    return env


def _exit_status(returncode: int) -> int:
    """The shell's convention: death by signal N is status 128+N."""
    return 128 - returncode if returncode < 0 else returncode


def run(command: Sequence[str], *, keep: bool = False) -> int:
    """Run `command` with the servers up and return its exit status."""
    relay = SignalRelay()
    relay.install()
    services: list[LocalService] = []
    urls: dict[str, str] = {}
    try:
        for service in managed_services(os.environ):
            services.append(service)  # before ensure, so a half-done start is still released
            urls[service.env_var] = _start_service(service, keep=keep)
        if relay.received:
            _say("interrupted during start-up; not running the command")
            return 128 + relay.received[0]
        child = subprocess.Popen(command, env=child_environment(os.environ, urls))
        relay.attach(child)
        return _exit_status(child.wait())
    finally:
        _release_services(services)


def _parse(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    """Split at the first `--`: launcher options before it, the command after it."""
    parser = argparse.ArgumentParser(prog="python -m devstack.launch", usage=USAGE)
    parser.add_argument("--keep", action="store_true", help="leave servers this run starts running")
    if "--" not in argv:
        parser.error("put the command after `--`")
    split = list(argv).index("--")
    command = list(argv[split + 1 :])
    if not command:
        parser.error("no command after `--`")
    return parser.parse_args(argv[:split]), command


def main(argv: Sequence[str] | None = None) -> int:
    args, command = _parse(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="devstack: %(message)s", stream=sys.stderr)
    try:
        return run(command, keep=args.keep)
    except ServiceError as error:
        log.error("%s", error)
        return 1
    except FileNotFoundError as error:
        log.error("cannot run %s: %s", command[0], error.strerror)
        return 127


if __name__ == "__main__":
    sys.exit(main())
