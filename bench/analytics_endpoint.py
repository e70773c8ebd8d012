"""Requests/s of the cached project analytics endpoint against a constant-JSON Django view.

One gunicorn (DEBUG off, the product's middleware) serves all three: `GET /api/v1/analytics/projects/{id}/`
as a member (Bearer token, X-Tenant-ID; the document comes from the Redis cache after the first request),
`GET /bench/constant/`, a plain Django view answering the same bytes (the baseline the goal names), and
`GET /bench/tenant-constant/`, those bytes behind the API's tenant stack (JWT user, tenant and membership
reads, rate limit), which shows how much of the gap is the shared stack and how much the analytics view
(bench/analytics_urls.py). Client processes with threads drive each in turn, alternating for --rounds; the
medians are compared. The data:
a sample tenant (`load_sample_data`) with its last 30 days built by the pipeline (`backfill_snapshots`).

    python -m bench.analytics_endpoint [--seconds 4] [--rounds 5] [--database tp_bench_analytics]

Goal: ratio >= 0.7. The server's CPU time per request is printed too: it is less disturbed than requests/s
when the load generator shares the machine's cores.
"""

import argparse
import datetime as dt
import io
import multiprocessing
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil
import requests

from bench.results import BenchResult, add_report_arguments, report
from bench.scratch_db import drop_scratch_database, use_scratch_database

REPO_ROOT = Path(__file__).resolve().parent.parent
CONSTANT_PATH = "/bench/constant/"
TENANT_CONSTANT_PATH = "/bench/tenant-constant/"


@dataclass(frozen=True)
class Round:
    endpoint: str
    requests_per_second: float
    cpu_microseconds_per_request: float
    errors: int


@dataclass(frozen=True)
class Target:
    name: str
    url: str
    headers: dict[str, str]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _gunicorn(*, workers: int, secret_key: str, body_file: str) -> Iterator[tuple[str, psutil.Process]]:
    port = _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "platform"), str(REPO_ROOT)]),
        "DJANGO_SETTINGS_MODULE": "bench.analytics_settings",
        "DEBUG": "0",  # production behaviour: no query log, no debug pages
        "SECRET_KEY": secret_key,
        "ALLOWED_HOSTS": "127.0.0.1",
        "LOG_LEVEL": "ERROR",
        "BENCH_CONSTANT_BODY": body_file,
        # Never refuse during the benchmark; the limiter still runs on every analytics request.
        "RATE_LIMIT_REQUESTS": "10000000",
        "RATE_LIMIT_USER_REQUESTS": "10000000",
    }
    command = [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--bind", f"127.0.0.1:{port}"]
    process = subprocess.Popen(
        [*command, "--workers", str(workers), "--log-level", "warning"], cwd=REPO_ROOT, env=env
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {process.returncode}")
            try:
                requests.get(url + "/healthz", timeout=5)
                break
            except requests.RequestException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield url, psutil.Process(process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _server_cpu_seconds(master: psutil.Process) -> float:
    total = 0.0
    for proc in [master, *master.children(recursive=True)]:
        try:
            times = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def _client_process(
    target: Target, threads: int, seconds: float, out: "multiprocessing.Queue[tuple[int, int]]"
) -> None:
    ok = errors = 0
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def loop() -> None:
        nonlocal ok, errors
        done = bad = 0
        with requests.Session() as session:
            session.headers.update(target.headers)
            while time.monotonic() < stop_at:
                try:
                    response = session.get(target.url, timeout=10)
                    done += response.status_code == 200
                    bad += response.status_code != 200
                except requests.RequestException:
                    bad += 1
        with lock:
            ok += done
            errors += bad

    workers = [threading.Thread(target=loop) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    out.put((ok, errors))


def _measure(target: Target, master: psutil.Process, args: argparse.Namespace, *, seconds: float) -> Round:
    queue: multiprocessing.Queue[tuple[int, int]] = multiprocessing.Queue()
    clients = [
        multiprocessing.Process(target=_client_process, args=(target, args.client_threads, seconds, queue))
        for _ in range(args.client_processes)
    ]
    cpu_before = _server_cpu_seconds(master)
    started = time.monotonic()
    for client in clients:
        client.start()
    results = [queue.get() for _ in clients]
    for client in clients:
        client.join()
    elapsed = time.monotonic() - started
    cpu = _server_cpu_seconds(master) - cpu_before
    ok = sum(done for done, _ in results)
    errors = sum(bad for _, bad in results)
    return Round(target.name, ok / elapsed, cpu / max(ok, 1) * 1e6, errors)


def _prepare_data() -> tuple[str, str, dict[str, str]]:
    """Migrate, load one sample tenant, build its last 30 days: (tenant id, project id, member's auth)."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django_tenants.utils import tenant_context
    from rest_framework_simplejwt.tokens import AccessToken
    from sampledata.loader import load_sample_data

    from accounts.models import Membership, Role
    from analytics.selectors import utc_today
    from tenancy.selectors import tenant_by_slug
    from tracker.models import Project

    call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
    load = load_sample_data(tenants=1, days=30, tasks_per_project=60, seed=7)[0]
    today = utc_today()
    first = today - dt.timedelta(days=29)
    built = io.StringIO()
    call_command(
        "backfill_snapshots",
        "--from",
        first.isoformat(),
        "--to",
        today.isoformat(),
        "--tenant",
        load.slug,
        "--no-progress",
        stdout=built,
    )
    tenant = tenant_by_slug(slug=load.slug)
    assert tenant is not None
    member = Membership.objects.filter(tenant=tenant, role=Role.MEMBER).select_related("user").first()
    assert member is not None
    with tenant_context(tenant):
        project_id = str(Project.objects.order_by("key").values_list("pk", flat=True)[0])
    token = str(AccessToken.for_user(member.user))
    connection.close()
    return str(tenant.id), project_id, {"Authorization": f"Bearer {token}", "X-Tenant-ID": str(tenant.id)}


def main(argv: list[str] | None = None) -> list[BenchResult]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=4.0, help="measured seconds per round and endpoint")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds; the medians are compared")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument("--client-threads", type=int, default=4)
    parser.add_argument("--database", default="tp_bench_analytics", help="scratch database (dropped)")
    add_report_arguments(parser)
    args = parser.parse_args(argv)

    original_url = os.environ["DATABASE_URL"]
    os.environ["DATABASE_URL"] = use_scratch_database(args.database)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DEBUG", "1")
    secret_key = secrets.token_urlsafe(40)
    os.environ["SECRET_KEY"] = secret_key  # the token minted here must verify in the server
    rounds: list[Round] = []
    try:
        _, project_id, auth = _prepare_data()
        with (
            tempfile.TemporaryDirectory(prefix="bench-analytics-") as scratch,
            _gunicorn(
                workers=args.workers, secret_key=secret_key, body_file=str(Path(scratch) / "body.json")
            ) as (url, master),
        ):
            body_file = Path(scratch) / "body.json"
            analytics = Target("analytics", f"{url}/api/v1/analytics/projects/{project_id}/", auth)
            first = requests.get(analytics.url, headers=auth, timeout=30)
            second = requests.get(analytics.url, headers=auth, timeout=30)
            if first.status_code != 200 or second.headers.get("ETag") != first.headers.get("ETag"):
                raise RuntimeError(f"the analytics endpoint does not answer as expected: {first.status_code}")
            body_file.write_bytes(first.content)
            constant = Target("constant", url + CONSTANT_PATH, {})
            stacked = Target("stacked", url + TENANT_CONSTANT_PATH, auth)
            for target in (constant, stacked):
                if requests.get(target.url, headers=target.headers, timeout=10).content != first.content:
                    raise RuntimeError(f"{target.url} does not answer the analytics document's bytes")
            print(f"payload: {len(first.content)} bytes, {len(first.json()['series'])} days", flush=True)
            for target in (constant, stacked, analytics):
                _measure(target, master, args, seconds=0.5)  # warm up workers and connections
            for _ in range(args.rounds):
                for target in (constant, stacked, analytics):
                    measured = _measure(target, master, args, seconds=args.seconds)
                    rounds.append(measured)
                    print(
                        f"{target.name:>9}: {measured.requests_per_second:8.1f} req/s, "
                        f"{measured.cpu_microseconds_per_request:7.0f} us server CPU/req, "
                        f"{measured.errors} errors",
                        flush=True,
                    )
    finally:
        drop_scratch_database(args.database, original_url)

    if any(r.errors for r in rounds):
        raise SystemExit("some requests failed; the figures are not comparable")

    def median_of(endpoint: str, figure: str) -> float:
        return statistics.median(getattr(r, figure) for r in rounds if r.endpoint == endpoint)

    analytics_rps, constant_rps, stacked_rps = (
        median_of(name, "requests_per_second") for name in ("analytics", "constant", "stacked")
    )
    print(f"\ncached analytics endpoint: {analytics_rps:.1f} req/s")
    print(f"constant-JSON Django view: {constant_rps:.1f} req/s")
    print(f"ratio: {analytics_rps / constant_rps:.2f} (goal >= 0.7)")
    print(
        f"constant JSON behind the tenant stack: {stacked_rps:.1f} req/s; the analytics view's own share: "
        f"ratio {analytics_rps / stacked_rps:.2f}\n",
        flush=True,
    )
    results = [
        BenchResult(
            name="cached project analytics endpoint",
            value=analytics_rps,
            baseline_name="constant-JSON Django view, same bytes",
            baseline=constant_rps,
            unit="req/s",
            goal="ratio >= 0.7",
        ),
        BenchResult(
            name="cached project analytics endpoint",
            value=analytics_rps,
            baseline_name="constant JSON behind the same tenant stack",
            baseline=stacked_rps,
            unit="req/s",
        ),
        BenchResult(
            name="server CPU per request, analytics endpoint",
            value=median_of("analytics", "cpu_microseconds_per_request"),
            baseline_name="constant-JSON Django view",
            baseline=median_of("constant", "cpu_microseconds_per_request"),
            unit="us",
        ),
    ]
    return report(results, results_json=args.results_json)


if __name__ == "__main__":
    main()
