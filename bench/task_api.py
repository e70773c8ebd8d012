"""The task API against bare Django views doing the same with one SQL statement, served by one gunicorn.

One gunicorn (DEBUG off, the product's settings and middleware, `--workers`, rate limits raised out of
the way) serves the product's routes and, from a bench-only URLconf (bench/task_api_urls.py), two bare
views. Under the same client load it compares
  (a) `GET /api/v1/tasks/?page_size=50` (JWT from the real login endpoint, X-Tenant-ID: authentication,
      tenant and membership, rate limit, filters, keyset pagination, serializers) with `GET /bench/tasks/`,
      the same 50 rows from one raw SQL query, as the same JSON rows (checked). Goal: ratio >= 0.5.
  (b) `POST /api/v1/tasks/` (validation, role and membership checks, the task row, its `created` activity
      row in the tenant's hash chain and its outbox row, in one transaction) with `POST /bench/tasks/`,
      one INSERT of a task row. Goal: ratio >= 0.4.
The data: one sample tenant (`load_sample_data`: acme, its projects and months of task history); the
client is its manager. Each pair is measured for --rounds, the order reversed every other round, after a
short warm-up; the figures are medians (bench/http_load.py). Server CPU per request is reported too: the
load generator shares the machine's cores, and CPU time is less disturbed by that than requests/s.

    python -m bench.task_api [--seconds 4] [--rounds 5] [--workers 2] [--database tp_bench_task_api]
"""

import argparse
import json
from dataclasses import dataclass

import requests

from bench import http_load
from bench.results import BenchResult, add_report_arguments, report
from bench.scratch_db import scratch_run

API_TASKS = "/api/v1/tasks/"
BARE_TASKS = "/bench/tasks/"
PAGE_SIZE = 50


@dataclass(frozen=True)
class BenchTenant:
    tenant_id: str
    schema_name: str
    project_id: str
    email: str
    password: str
    user_id: int


def _prepare_data(*, days: int, tasks_per_project: int) -> BenchTenant:
    """Migrate the scratch database and load one sample tenant; who the client is and where it writes."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django_tenants.utils import tenant_context
    from sampledata.loader import SAMPLE_PASSWORD, load_sample_data

    from accounts.models import User
    from tenancy.models import Tenant
    from tracker.models import Project

    call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
    load = load_sample_data(tenants=1, days=days, tasks_per_project=tasks_per_project, seed=7)[0]
    tenant = Tenant.objects.get(pk=load.tenant_id)
    email = f"manager@{load.slug}.example"
    with tenant_context(tenant):
        project = Project.objects.filter(archived_at__isnull=True).order_by("key").first()
        assert project is not None, "the sample tenant has no open project"
    user_id = User.objects.get(email=email).pk
    connection.close()
    return BenchTenant(str(tenant.pk), tenant.schema_name, str(project.pk), email, SAMPLE_PASSWORD, user_id)


def _created_rows(tenant: BenchTenant, task_id: str) -> tuple[int, int]:
    """(activity rows, outbox rows) of one task: what an API create must have written with it."""
    from django.db import connection
    from django_tenants.utils import tenant_context

    from tenancy.models import Tenant
    from tracker.models import OutboxEvent, TaskActivity

    with tenant_context(Tenant.objects.get(pk=tenant.tenant_id)):
        counts = (
            TaskActivity.objects.filter(task_id=task_id).count(),
            OutboxEvent.objects.filter(task_id=task_id).count(),
        )
    connection.close()
    return counts


def _check(
    tenant: BenchTenant,
    page: http_load.Target,
    bare_page: http_load.Target,
    create: http_load.Target,
    bare_create: http_load.Target,
) -> None:
    """Each pair does the same: the same rows in the same order; a create writes task, activity, outbox."""
    listed = requests.get(page.url, headers=page.headers, timeout=30)
    bare_listed = requests.get(bare_page.url, headers=bare_page.headers, timeout=30)
    if listed.status_code != 200 or bare_listed.status_code != 200:
        raise RuntimeError(f"list: {listed.status_code} {listed.text[:300]} / {bare_listed.status_code}")
    api_rows, bare_rows = listed.json()["results"], bare_listed.json()["results"]
    if len(api_rows) != PAGE_SIZE or api_rows != bare_rows:
        raise RuntimeError("the bare view does not answer the rows of the API's page of tasks")
    print(
        f"list page: {len(listed.content)} bytes (API), {len(bare_listed.content)} bytes (bare)", flush=True
    )
    for target in (create, bare_create):
        created = requests.post(target.url, data=target.body, headers=target.headers, timeout=30)
        if created.status_code != 201:
            raise RuntimeError(f"{target.name}: {created.status_code} {created.text[:300]}")
        if target is create and _created_rows(tenant, created.json()["id"]) != (1, 1):
            raise RuntimeError("an API create did not write one activity row and one outbox row")


def _show(measured: http_load.Round) -> str:
    return http_load.describe(measured, width=11)


def _measure_pair(
    pair: list[http_load.Target], load: http_load.Load, args: argparse.Namespace
) -> list[http_load.Round]:
    for target in pair:
        http_load.measure(target, load, seconds=0.5)  # warm up workers, connections and caches
    return http_load.alternating_rounds(pair, load, rounds=args.rounds, seconds=args.seconds, show=_show)


def main(argv: list[str] | None = None) -> list[BenchResult]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    http_load.add_load_arguments(parser, seconds=4.0, rounds=5, database="tp_bench_task_api")
    parser.add_argument("--days", type=int, default=90, help="days of sample history")
    parser.add_argument("--tasks-per-project", type=int, default=120, help="sample tasks per project")
    add_report_arguments(parser)
    args = parser.parse_args(argv)
    load = http_load.load_from(args)

    with scratch_run(args.database) as secret_key:
        tenant = _prepare_data(days=args.days, tasks_per_project=args.tasks_per_project)
        with http_load.gunicorn(
            "bench.task_api_settings",
            env={"BENCH_TENANT_SCHEMA": tenant.schema_name, "BENCH_REPORTER_ID": str(tenant.user_id)},
            workers=args.workers,
            secret_key=secret_key,
            ready_path="/healthz",
        ) as server:
            rounds = _run(tenant, server, load, args)

    http_load.ensure_no_errors(rounds)
    # (what, its baseline, the table's words for each, the goal)
    pairs = [
        ("list", f"task list page of {PAGE_SIZE} (API)", "bare view, one raw SQL query", "ratio >= 0.5"),
        ("create", "task create: task + activity + outbox (API)", "bare view, one INSERT", "ratio >= 0.4"),
    ]
    results = [
        http_load.compared(
            rounds, value=f"API {kind}", baseline=f"bare {kind}", name=name, baseline_name=baseline, goal=goal
        )
        for kind, name, baseline, goal in pairs
    ] + [
        http_load.compared(
            rounds,
            value=f"API {kind}",
            baseline=f"bare {kind}",
            figure="cpu_microseconds_per_request",
            name=f"server CPU per request, task {kind} (API)",
            baseline_name=f"bare {kind} view",
        )
        for kind, *_ in pairs
    ]
    return report(results, results_json=args.results_json)


def _run(
    tenant: BenchTenant, server: http_load.Server, load: http_load.Load, args: argparse.Namespace
) -> list[http_load.Round]:
    login = requests.post(
        f"{server.url}/api/v1/auth/token/",
        json={"email": tenant.email, "password": tenant.password},
        timeout=30,
    )
    if login.status_code != 200:
        raise RuntimeError(f"login: {login.status_code} {login.text[:300]}")
    # The same headers for both sides of each pair: the bare views ignore them, but send the same bytes.
    headers = {"Authorization": f"Bearer {login.json()['access']}", "X-Tenant-ID": tenant.tenant_id}
    post_headers = {**headers, "Content-Type": "application/json"}
    body = json.dumps({"project": tenant.project_id, "title": "Benchmark task"}).encode()
    page = http_load.Target("API list", f"{server.url}{API_TASKS}?page_size={PAGE_SIZE}", headers, server)
    bare_page = http_load.Target("bare list", server.url + BARE_TASKS, headers, server)
    create = http_load.Target(
        "API create",
        server.url + API_TASKS,
        post_headers,
        server,
        method="POST",
        body=body,
        expect_status=201,
    )
    bare_create = http_load.Target(
        "bare create",
        server.url + BARE_TASKS,
        post_headers,
        server,
        method="POST",
        body=body,
        expect_status=201,
    )
    _check(tenant, page, bare_page, create, bare_create)
    # The list pair first: the creates that follow put new tasks on top of the page.
    return _measure_pair([page, bare_page], load, args) + _measure_pair([create, bare_create], load, args)


if __name__ == "__main__":
    main()
