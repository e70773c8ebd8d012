"""Requests/s of the cached project analytics endpoint against a constant-JSON Django view.

One gunicorn (DEBUG off, the product's middleware) serves all three: `GET /api/v1/analytics/projects/{id}/`
as a member (Bearer token, X-Tenant-ID; the document comes from the Redis cache after the first request),
`GET /bench/constant/`, a plain Django view answering the same bytes (the baseline the goal names), and
`GET /bench/tenant-constant/`, those bytes behind the API's tenant stack (JWT user, tenant and membership
reads, rate limit), which shows how much of the gap is the shared stack and how much the analytics view
(bench/analytics_urls.py). Client processes with threads drive each in turn for --rounds, the order
reversed every other round (bench/http_load.py); the medians are compared. The data:
a sample tenant (`load_sample_data`) with its last 30 days built by the pipeline (`backfill_snapshots`).

    python -m bench.analytics_endpoint [--seconds 4] [--rounds 5] [--database tp_bench_analytics]

Goal: ratio >= 0.7. The server's CPU time per request is printed too: it is less disturbed than requests/s
when the load generator shares the machine's cores.
"""

import argparse
import datetime as dt
import io
import tempfile
from pathlib import Path

import requests

from bench import http_load
from bench.results import BenchResult, add_report_arguments, report
from bench.scratch_db import scratch_run

CONSTANT_PATH = "/bench/constant/"
TENANT_CONSTANT_PATH = "/bench/tenant-constant/"


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
    http_load.add_load_arguments(parser, seconds=4.0, rounds=5, database="tp_bench_analytics")
    add_report_arguments(parser)
    args = parser.parse_args(argv)
    load = http_load.load_from(args)

    with (
        scratch_run(args.database) as secret_key,
        tempfile.TemporaryDirectory(prefix="bench-analytics-") as scratch,
    ):
        _, project_id, auth = _prepare_data()
        body_file = Path(scratch) / "body.json"
        with http_load.gunicorn(
            "bench.analytics_settings",
            env={"BENCH_CONSTANT_BODY": str(body_file)},
            workers=args.workers,
            secret_key=secret_key,
            ready_path="/healthz",
        ) as server:
            url = server.url
            analytics = http_load.Target(
                "analytics", f"{url}/api/v1/analytics/projects/{project_id}/", auth, server
            )
            first = requests.get(analytics.url, headers=auth, timeout=30)
            second = requests.get(analytics.url, headers=auth, timeout=30)
            if first.status_code != 200 or second.headers.get("ETag") != first.headers.get("ETag"):
                raise RuntimeError(f"the analytics endpoint does not answer as expected: {first.status_code}")
            body_file.write_bytes(first.content)
            constant = http_load.Target("constant", url + CONSTANT_PATH, {}, server)
            stacked = http_load.Target("stacked", url + TENANT_CONSTANT_PATH, auth, server)
            for target in (constant, stacked):
                if requests.get(target.url, headers=target.headers, timeout=10).content != first.content:
                    raise RuntimeError(f"{target.url} does not answer the analytics document's bytes")
            print(f"payload: {len(first.content)} bytes, {len(first.json()['series'])} days", flush=True)
            targets = [constant, stacked, analytics]
            for target in targets:
                http_load.measure(target, load, seconds=0.5)  # warm up workers and connections
            rounds = http_load.alternating_rounds(targets, load, rounds=args.rounds, seconds=args.seconds)

    http_load.ensure_no_errors(rounds)
    analytics_rps, constant_rps, stacked_rps = (
        http_load.median_of(rounds, name, "requests_per_second")
        for name in ("analytics", "constant", "stacked")
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
        http_load.compared(
            rounds,
            value="analytics",
            baseline="constant",
            name="cached project analytics endpoint",
            baseline_name="constant-JSON Django view, same bytes",
            goal="ratio >= 0.7",
        ),
        http_load.compared(
            rounds,
            value="analytics",
            baseline="stacked",
            name="cached project analytics endpoint",
            baseline_name="constant JSON behind the same tenant stack",
        ),
        http_load.compared(
            rounds,
            value="analytics",
            baseline="constant",
            figure="cpu_microseconds_per_request",
            name="server CPU per request, analytics endpoint",
            baseline_name="constant-JSON Django view",
        ),
    ]
    return report(results, results_json=args.results_json)


if __name__ == "__main__":
    main()
