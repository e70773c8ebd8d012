"""Pipeline backfill: a year of one tenant's analytics, against one sequential read of its activity log.

Builds a tenant whose activity log holds about --rows rows over --days days (the sample-data simulation,
loaded with COPY), then, in one run, times
  - the baseline: one sequential scan of those rows, the columns the pipeline needs, streamed to this
    process (COPY … TO STDOUT), best of two;
  - the backfill: the assets over every day of the tenant's history as ONE Dagster run (the
    single-run backfill policy), in this process against a throwaway instance;
  - the same backfill again, when nothing changed (every row compared, none written);
  - the same run over a tenant whose log is empty: Dagster's own cost for a year of partition events (and
    the run's fixed SQL), the floor under any backfill's ratio.
It prints rows/s, the ratio backfill/scan (goal ≤ 5), this process's peak RSS and PostgreSQL's temp-file
bytes (the SQL sorts and joins run in the server, so Python's memory does not grow with the log).

    python -m bench.pipeline_backfill [--rows 1000000] [--days 365] [--in-place]

By default, like every benchmark here, it works in a scratch database next to DATABASE_URL's; --in-place
uses DATABASE_URL's database itself (migrated first) with tenants `bench-pipeline`, rebuilt on each run,
and `bench-pipeline-empty`.
"""

import argparse
import datetime as dt
import math
import os
import random
import resource
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from bench.results import BenchResult, add_report_arguments, report
from bench.scratch_db import drop_scratch_database, use_scratch_database

if TYPE_CHECKING:  # Django is set up inside main(), after the scratch database is chosen
    from pipelines.partitions import TenantDays
    from tenancy.models import Tenant

SCRATCH = "tp_bench_pipeline"
SLUG = "bench-pipeline"
EMPTY_SLUG = "bench-pipeline-empty"
PROJECTS = 3  # the sample loader's project count
REPO_ROOT = Path(__file__).resolve().parent.parent


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DEBUG", "1")
    for path in (str(REPO_ROOT), str(REPO_ROOT / "platform")):
        if path not in sys.path:
            sys.path.append(path)
    import django

    django.setup()


def _events_per_task(days: int) -> float:
    """The simulation's mean activity rows per task, from a small sample (no database)."""
    import uuid

    from sampledata.simulation import Person, simulate_project_tasks

    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    people = [Person(1, "ADMIN"), Person(2, "MANAGER"), *(Person(n, "MEMBER") for n in range(3, 8))]
    sample = list(
        simulate_project_tasks(
            random.Random(7),
            project_id=uuid.uuid4(),
            project_key="CAL",
            people=people,
            count=400,
            start=now - dt.timedelta(days=days),
            now=now,
        )
    )
    return sum(len(task.events) for task in sample) / max(len(sample), 1)


def _build_tenant(rows: int, days: int, *, reuse: bool) -> tuple["Tenant", dt.datetime]:
    from django.contrib.auth.hashers import make_password
    from sampledata.loader import load_tenant

    from tenancy.selectors import tenant_by_slug

    existing = tenant_by_slug(slug=SLUG)
    if existing is not None and reuse:
        return existing, dt.datetime.now(tz=dt.UTC).replace(microsecond=0)
    if existing is not None:
        existing.delete(force_drop=True)
    tasks_per_project = max(1, math.ceil(rows / PROJECTS / _events_per_task(days)))
    now = dt.datetime.now(tz=dt.UTC).replace(microsecond=0)

    def progress(label: str, done: int, total: int) -> None:
        sys.stderr.write(f"\r  loading {label}: {done}/{total} activity rows")
        if done == total:
            sys.stderr.write("\n")

    load_tenant(
        slug=SLUG,
        name="Bench pipeline",
        seed=1,
        days=days,
        tasks_per_project=tasks_per_project,
        now=now,
        password_hash=make_password(None),
        progress=progress,
    )
    tenant = tenant_by_slug(slug=SLUG)
    assert tenant is not None
    return tenant, now


def _scan_seconds(tenant: "Tenant") -> tuple[float, int]:
    """One sequential read of the log's pipeline columns, streamed here; best of two (warm cache)."""
    from django.db import connection

    from tenancy.schema import activate_public, activate_tenant

    activate_tenant(tenant)
    timings, count = [], 0
    try:
        with connection.cursor() as cursor:
            raw = cursor.cursor
            for _ in range(2):
                started, count = time.perf_counter(), 0
                with raw.copy(
                    "COPY (SELECT task_id, seq, verb, changes, occurred_at FROM tracker_taskactivity)"
                    " TO STDOUT"
                ) as copy:
                    for block in copy:  # raw blocks: no per-row work in Python inflates the baseline
                        count += bytes(block).count(b"\n")
                timings.append(time.perf_counter() - started)
    finally:
        activate_public()
    return min(timings), count


def _empty_tenant() -> str:
    """A tenant whose log is empty: the same run over it is what Dagster and the run's fixed SQL cost."""
    from tenancy.selectors import tenant_by_slug
    from tenancy.services import create_tenant

    if tenant_by_slug(slug=EMPTY_SLUG) is None:
        create_tenant(name="Bench pipeline, empty", slug=EMPTY_SLUG, admin_email="bench-pipeline@example.com")
    return EMPTY_SLUG


def _clear_projections(tenant: "Tenant") -> None:
    """A from-scratch backfill, also when --reuse keeps the tenant of an earlier run."""
    from django.db import connection

    from tenancy.schema import activate_public, activate_tenant

    activate_tenant(tenant)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "TRUNCATE analytics_tasksla, analytics_analyticssnapshot, analytics_partitionbuild"
            )
    finally:
        activate_public()


def _projection_rows(tenant: "Tenant") -> tuple[int, int]:
    from analytics.models import AnalyticsSnapshot, TaskSLA
    from tenancy.schema import activate_public, activate_tenant

    activate_tenant(tenant)
    try:
        return TaskSLA.objects.count(), AnalyticsSnapshot.objects.count()
    finally:
        activate_public()


def _sql_only_seconds(span: "TenantDays") -> float:
    """The assets' SQL for the span without Dagster around it (rows unchanged by then)."""
    from analytics.selectors import sla_targets
    from pipelines.projections import day_activity, rebuild_projections
    from pipelines.resources import TenantDatabase

    now = dt.datetime.now(tz=dt.UTC).replace(microsecond=0)
    started = time.perf_counter()
    with TenantDatabase().tenant(SLUG) as session:
        day_activity(session, span, now=now)
        rebuild_projections(session, span, now=now, targets=sla_targets(), built_at=now)
    return time.perf_counter() - started


def _temp_bytes() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT temp_bytes FROM pg_stat_database WHERE datname = current_database()")
        return int(cursor.fetchone()[0])


def main(argv: list[str] | None = None) -> list[BenchResult]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--rows", type=int, default=1_000_000, help="activity rows, about (default 1 000 000)"
    )
    parser.add_argument("--days", type=int, default=365, help="days of history (default 365)")
    parser.add_argument("--in-place", action="store_true", help="use DATABASE_URL's database, no scratch one")
    parser.add_argument(
        "--reuse", action="store_true", help="with --in-place: keep the tenant of a previous run"
    )
    add_report_arguments(parser)
    args = parser.parse_args(argv)

    original_url = os.environ["DATABASE_URL"]
    if not args.in_place:
        use_scratch_database(SCRATCH)
    _setup_django()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
    import dagster as dg

    from pipelines.assets import ASSETS
    from pipelines.partitions import START_DATE, TENANTS_NAME, TenantDays, range_tags
    from pipelines.resources import TenantDatabase

    try:
        tenant, now = _build_tenant(args.rows, args.days, reuse=args.reuse and args.in_place)
        _clear_projections(tenant)
        scan, rows = _scan_seconds(tenant)
        span = TenantDays(SLUG, max(START_DATE, (now - dt.timedelta(days=args.days)).date()), now.date())
        empty_span = TenantDays(_empty_tenant(), span.first_day, span.last_day)
        temp_before = _temp_bytes()
        timings = []
        with dg.DagsterInstance.ephemeral() as instance:
            instance.add_dynamic_partitions(TENANTS_NAME, [SLUG, empty_span.tenant])

            def run(days: TenantDays) -> float:
                started = time.perf_counter()
                result = dg.materialize(
                    ASSETS,
                    instance=instance,
                    resources={"tenant_db": TenantDatabase()},
                    tags=range_tags(days),
                )
                assert result.success
                return time.perf_counter() - started

            timings = [run(span), run(span)]  # the second run finds every row unchanged
            temp_mb = (_temp_bytes() - temp_before) / 2**20 / 2
            floor = run(empty_span)
        sql_only = _sql_only_seconds(span)
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        sla_rows, snapshot_rows = _projection_rows(tenant)
        backfill, rerun = timings
        print(
            f"\nactivity rows: {rows}   days: {len(span.days)} ({span.first_day}..{span.last_day})\n"
            f"written: {sla_rows} TaskSLA rows ({sla_rows / rows:.1f} per activity row), "
            f"{snapshot_rows} snapshot rows\n"
            f"scan:                    {scan:8.2f} s  {rows / scan:10,.0f} rows/s\n"
            f"backfill (one run):      {backfill:8.2f} s  {rows / backfill:10,.0f} rows/s   "
            f"ratio backfill/scan {backfill / scan:.1f}\n"
            f"same again, unchanged:   {rerun:8.2f} s  (every row compared, none written)\n"
            f"unchanged, SQL only:     {sql_only:8.2f} s  (the same work without Dagster's "
            f"{3 * len(span.days)} partition events)\n"
            f"same run, empty log:     {floor:8.2f} s  ratio to the scan {floor / scan:.1f}: Dagster's "
            f"own cost for these partitions, the floor under the backfill's ratio\n"
            f"peak RSS of this process: {peak_mb:.0f} MiB; PostgreSQL temp files per run: {temp_mb:.0f} MiB\n"
        )
        results = [
            BenchResult(
                name=f"pipeline backfill, {len(span.days)} days, {rows} activity rows",
                value=backfill,
                baseline_name="one sequential scan of the log",
                baseline=scan,
                unit="s",
                goal="ratio <= 5",
            ),
            BenchResult(
                name=f"the same Dagster run, {len(span.days)} days, empty log (the floor)",
                value=floor,
                baseline_name="one sequential scan of the log",
                baseline=scan,
                unit="s",
            ),
        ]
    finally:
        connection.close()
        if not args.in_place:
            drop_scratch_database(SCRATCH, original_url)
    return report(results, results_json=args.results_json)


if __name__ == "__main__":
    main()
