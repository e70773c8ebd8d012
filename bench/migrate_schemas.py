"""`migrate_schemas` over many tenants: the sequential (standard) executor against the parallel one.

Set-up, not timed: a scratch database with the public schema migrated and --tenants tenant rows, saved
with `auto_create_schema` off (bench/tenant_rows.py) and each given an empty schema, which is what
`migrate_schemas` finds on a fresh deploy with N tenants to bring up.

Each timed run is what an operator types, in its own process:
`python -m django migrate_schemas --tenant --executor={standard|multiprocessing} --noinput -v 0`, Django's
start-up (about a second, the same for both) included. The multiprocessing executor's pool size is
django-tenants' TENANT_MULTIPROCESSING_MAX_PROCESSES (the product leaves it at the default, 2); it is
printed with the results.

Fairness: before every timed run, each tenant schema is dropped and created empty again and the database
is vacuumed (the drop leaves dead rows in pg_class, pg_attribute, ...), so every run, of either executor,
starts from the same state: N empty schemas. Not `migrate_schemas <app> zero`: unapplying runs the
reverse operations, which are not the forward ones' mirror image (RunPython without a reverse, triggers
and functions created by RunSQL), keeps each schema's django_migrations table and leaves the catalog
with a different history, so the second executor would start from a state the first never saw. The order
alternates (standard first in even rounds, multiprocessing first in odd ones) and each figure is the
median over --rounds. After each run every schema must hold every migration, else the run is refused.

    python -m bench.migrate_schemas [--tenants 200] [--rounds 2] [--database tp_bench_migrate]

No goal in seconds: the ratio says what the parallel executor buys on this machine's cores.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.results import BenchResult, add_report_arguments, report
from bench.scratch_db import scratch_run
from bench.tenant_rows import add_tenant_rows

REPO_ROOT = Path(__file__).resolve().parent.parent
EXECUTORS = ("standard", "multiprocessing")


def _reset_schemas(schema_names: list[str]) -> None:
    """Every tenant schema empty again, one transaction per schema (one for all would exhaust the lock
    table), then VACUUM so the catalog carries no dead rows from the drop into the next run."""
    from django.db import connection

    with connection.cursor() as cursor:
        for name in schema_names:
            cursor.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
            cursor.execute(f'CREATE SCHEMA "{name}"')
        cursor.execute("VACUUM")
    connection.close()


def _applied_counts(schema_names: list[str]) -> set[int]:
    from django.db import connection

    with connection.cursor() as cursor:
        counts = set()
        for name in schema_names:
            cursor.execute(f'SELECT count(*) FROM "{name}"."django_migrations"')
            (count,) = cursor.fetchone() or (0,)
            counts.add(count)
    connection.close()
    return counts


def _expected_migrations() -> int:
    """How many migrations a tenant schema records once migrated: every app's, as django-tenants does."""
    from django.db.migrations.loader import MigrationLoader

    return len(MigrationLoader(None, ignore_no_migrations=True).disk_migrations)


def _migrate(executor: str) -> float:
    command = [sys.executable, "-m", "django", "migrate_schemas", "--tenant", f"--executor={executor}"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "platform"), str(REPO_ROOT)])}
    started = time.perf_counter()
    subprocess.run([*command, "--noinput", "-v", "0"], check=True, cwd=REPO_ROOT, env=env)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> list[BenchResult]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tenants", type=int, default=200, help="tenant schemas to migrate")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each executor, order alternating")
    parser.add_argument("--database", default="tp_bench_migrate", help="scratch database (dropped)")
    add_report_arguments(parser)
    args = parser.parse_args(argv)

    timings: dict[str, list[float]] = {executor: [] for executor in EXECUTORS}
    with scratch_run(args.database):
        import django

        django.setup()
        from django.conf import settings
        from django.core.management import call_command

        call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
        schema_names = add_tenant_rows(args.tenants, slug_prefix="migrate")
        expected = _expected_migrations()
        processes = getattr(settings, "TENANT_MULTIPROCESSING_MAX_PROCESSES", 2)
        for index in range(args.rounds):
            for executor in EXECUTORS if index % 2 == 0 else reversed(EXECUTORS):
                _reset_schemas(schema_names)
                seconds = _migrate(executor)
                applied = _applied_counts(schema_names)
                if applied != {expected}:
                    raise SystemExit(f"{executor}: schemas hold {sorted(applied)} migrations, not {expected}")
                timings[executor].append(seconds)
                print(
                    f"{executor:>15}: {seconds:6.1f} s for {args.tenants} tenants "
                    f"({seconds / args.tenants:.2f} s/tenant)",
                    flush=True,
                )

    parallel, sequential = (statistics.median(timings[executor]) for executor in reversed(EXECUTORS))
    results = [
        BenchResult(
            name=f"migrate_schemas, {args.tenants} tenants, multiprocessing executor ({processes} processes)",
            value=parallel,
            baseline_name="sequential (standard) executor",
            baseline=sequential,
            unit="s",
        )
    ]
    return report(results, results_json=args.results_json)


if __name__ == "__main__":
    main()
