"""What the HTTP benchmarks share: gunicorn serving a settings module, and a load driver that compares
endpoints over alternating rounds (each benchmark runs against a scratch database: `scratch_db.scratch_run`).

A benchmark here starts one or more gunicorns (`gunicorn(...)`, DEBUG off, the product's middleware, rate
limits raised out of the way), describes each endpoint it compares as a `Target`, and hands the targets to
`alternating_rounds`. Each measurement runs `--client-processes` processes of `--client-threads` threads,
each thread with its own keep-alive `requests.Session`, for `--seconds`; it counts the answers with the
expected status, the others (errors), and reads the gunicorn master's and workers' CPU time, which the
load generator sharing the machine's cores disturbs less than requests/s. The order of the targets
alternates from round to round (A B, B A, ...) so that neither always runs first, and the benchmarks
compare medians: a neighbour's burst on a shared machine hits one round of one target and the median
shrugs it off, where the best round would reward the luckiest one.
"""

import argparse
import multiprocessing
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import requests

from bench.results import BenchResult

REPO_ROOT = Path(__file__).resolve().parent.parent
# Never refuse during a benchmark, but let the buckets grow to their real size in a window: the limiter
# still runs on every tenant request.
UNLIMITED_RATE = {"RATE_LIMIT_REQUESTS": "10000000", "RATE_LIMIT_USER_REQUESTS": "10000000"}


@dataclass(frozen=True)
class Server:
    url: str
    master: psutil.Process  # the gunicorn master; its workers are its children


@dataclass(frozen=True)
class Request:
    """What a client sends again and again, and what answer it counts as served."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None
    expect_status: int
    # Count expected answers that lack this header (the rate limiter failed open: no RateLimit headers).
    require_header: str | None


@dataclass(frozen=True)
class Target:
    """One endpoint under load: every request is the same `method` to `url` with `headers` and `body`."""

    name: str
    url: str
    headers: Mapping[str, str]
    server: Server  # whose CPU time is counted
    method: str = "GET"
    body: bytes | None = None
    expect_status: int = 200
    require_header: str | None = None

    def request(self) -> Request:
        """The part the client processes need (picklable: no server handle)."""
        return Request(
            self.method, self.url, dict(self.headers), self.body, self.expect_status, self.require_header
        )


@dataclass(frozen=True)
class Load:
    processes: int
    threads: int


@dataclass(frozen=True)
class Round:
    name: str
    requests_per_second: float
    cpu_microseconds_per_request: float
    errors: int
    missing_header: int  # expected answers without the target's `require_header`
    first_error: str = ""


@dataclass
class _Counts:
    ok: int = 0
    errors: int = 0
    missing: int = 0
    first_error: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def add_load_arguments(
    parser: argparse.ArgumentParser, *, seconds: float, rounds: int, database: str
) -> None:
    parser.add_argument(
        "--seconds", type=float, default=seconds, help="measured seconds per round and endpoint"
    )
    parser.add_argument(
        "--rounds", type=int, default=rounds, help="alternating rounds; the medians are compared"
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per server")
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument("--client-threads", type=int, default=4)
    parser.add_argument("--database", default=database, help="scratch database (dropped)")


def load_from(args: argparse.Namespace) -> Load:
    return Load(processes=args.client_processes, threads=args.client_threads)


@contextmanager
def gunicorn(
    settings_module: str,
    *,
    workers: int,
    secret_key: str,
    ready_path: str,
    env: Mapping[str, str] | None = None,
    label: str = "",
) -> Iterator[Server]:
    """gunicorn serving `settings_module` in production mode (DEBUG off) with the rate limits raised, up
    once `ready_path` answers at all (any status), stopped at the end."""
    port = free_port()
    server_env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "platform"), str(REPO_ROOT)]),
        "DJANGO_SETTINGS_MODULE": settings_module,
        "DEBUG": "0",  # production behaviour: no query log, no debug pages
        "SECRET_KEY": secret_key,
        "ALLOWED_HOSTS": "127.0.0.1",
        "LOG_LEVEL": "ERROR",
        **UNLIMITED_RATE,
        **(env or {}),
    }
    command = [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--bind", f"127.0.0.1:{port}"]
    process = subprocess.Popen(
        [*command, "--workers", str(workers), "--log-level", "warning"], cwd=REPO_ROOT, env=server_env
    )
    url = f"http://127.0.0.1:{port}"
    name = f"gunicorn ({label})" if label else "gunicorn"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}")
            try:
                requests.get(url + ready_path, timeout=5)
                break
            except requests.RequestException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield Server(url, psutil.Process(process.pid))
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def server_cpu_seconds(master: psutil.Process) -> float:
    total = 0.0
    for proc in [master, *master.children(recursive=True)]:
        try:
            times = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def _client_thread(request: Request, stop_at: float, counts: _Counts) -> None:
    done = bad = missing = 0
    first_error = ""
    with requests.Session() as session:
        session.headers.update(request.headers)
        while time.monotonic() < stop_at:
            try:
                response = session.request(request.method, request.url, data=request.body, timeout=10)
            except requests.RequestException as error:
                bad += 1
                first_error = first_error or repr(error)
                continue
            if response.status_code == request.expect_status:
                done += 1
                missing += bool(request.require_header) and request.require_header not in response.headers
            else:
                bad += 1
                first_error = first_error or f"{response.status_code} {response.text[:300]}"
    with counts.lock:
        counts.ok += done
        counts.errors += bad
        counts.missing += missing
        counts.first_error = counts.first_error or first_error


def _client_process(
    request: Request, threads: int, seconds: float, out: "multiprocessing.Queue[tuple[int, int, int, str]]"
) -> None:
    counts = _Counts()
    stop_at = time.monotonic() + seconds
    workers = [
        threading.Thread(target=_client_thread, args=(request, stop_at, counts)) for _ in range(threads)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    out.put((counts.ok, counts.errors, counts.missing, counts.first_error))


def measure(target: Target, load: Load, *, seconds: float, warm_up: float = 0.0) -> Round:
    """Drive `target` with `load` for `seconds` (after `warm_up` seconds of the same, not counted)."""
    if warm_up:
        measure(target, load, seconds=warm_up)
    queue: multiprocessing.Queue[tuple[int, int, int, str]] = multiprocessing.Queue()
    clients = [
        multiprocessing.Process(target=_client_process, args=(target.request(), load.threads, seconds, queue))
        for _ in range(load.processes)
    ]
    cpu_before = server_cpu_seconds(target.server.master)
    started = time.monotonic()
    for client in clients:
        client.start()
    results = [queue.get() for _ in clients]
    for client in clients:
        client.join()
    elapsed = time.monotonic() - started
    cpu = server_cpu_seconds(target.server.master) - cpu_before
    ok = sum(result[0] for result in results)
    first_error = next((result[3] for result in results if result[3]), "")
    return Round(
        name=target.name,
        requests_per_second=ok / elapsed,
        cpu_microseconds_per_request=cpu / max(ok, 1) * 1e6,
        errors=sum(result[1] for result in results),
        missing_header=sum(result[2] for result in results),
        first_error=first_error,
    )


def describe(measured: Round, *, width: int = 9) -> str:
    line = (
        f"{measured.name:>{width}}: {measured.requests_per_second:8.1f} req/s, "
        f"{measured.cpu_microseconds_per_request:7.0f} us server CPU/req, {measured.errors} errors"
    )
    return line + (f" (first: {measured.first_error})" if measured.first_error else "")


def alternating_rounds(
    targets: Sequence[Target],
    load: Load,
    *,
    rounds: int,
    seconds: float,
    warm_up: float = 0.0,
    show: Callable[[Round], str] = describe,
) -> list[Round]:
    """`rounds` measurements of every target, in the given order in even rounds and reversed in odd ones;
    each measurement after `warm_up` seconds of the same load. Each is printed with `show`."""
    measured: list[Round] = []
    for index in range(rounds):
        for target in targets if index % 2 == 0 else reversed(targets):
            result = measure(target, load, seconds=seconds, warm_up=warm_up)
            measured.append(result)
            print(show(result), flush=True)
    return measured


def ensure_no_errors(rounds: Sequence[Round]) -> None:
    failed = [r for r in rounds if r.errors]
    if failed:
        raise SystemExit(f"some requests failed ({failed[0].first_error}); the figures are not comparable")


def median_of(rounds: Sequence[Round], name: str, figure: str) -> float:
    return statistics.median(getattr(r, figure) for r in rounds if r.name == name)


_UNITS = {"requests_per_second": "req/s", "cpu_microseconds_per_request": "us"}


def compared(
    rounds: Sequence[Round],
    *,
    value: str,
    baseline: str,
    figure: str = "requests_per_second",
    name: str,
    baseline_name: str,
    goal: str = "",
) -> BenchResult:
    """The medians of one figure (requests/s or server CPU per request) of two targets, as a result."""
    return BenchResult(
        name=name,
        value=median_of(rounds, value, figure),
        baseline_name=baseline_name,
        baseline=median_of(rounds, baseline, figure),
        unit=_UNITS[figure],
        goal=goal,
    )


def paired_ratios(rounds: Sequence[Round], value: str, baseline: str) -> list[float]:
    """Per round, requests/s of `value` over that of `baseline` (rounds are consecutive groups of targets)."""
    by_name: dict[str, list[float]] = {}
    for measured in rounds:
        by_name.setdefault(measured.name, []).append(measured.requests_per_second)
    return [v / b for v, b in zip(by_name[value], by_name[baseline], strict=True)]
