"""Tenant provisioning: running every migration per new schema vs cloning a migrated template schema.

django-tenants can create a tenant by cloning `TENANT_BASE_SCHEMA` and faking the migrations. The product
runs the migrations (see README "Performance"); this benchmark keeps that choice honest by measuring both
in one run, with a few existing tenants and with more, so we see whether either grows with the count.

    python -m bench.tenant_provisioning [--runs 5] [--existing 10,50]
"""

import argparse
import os

from bench.results import BenchResult, add_report_arguments, median_seconds, report
from bench.scratch_db import drop_scratch_database, use_scratch_database

SCRATCH = "tp_bench_provisioning"
TEMPLATE_SCHEMA = "tenant_template"


def main(argv: list[str] | None = None) -> list[BenchResult]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--existing", default="10,50", help="comma-separated counts of existing tenants")
    add_report_arguments(parser)
    args = parser.parse_args(argv)
    counts = [int(value) for value in args.existing.split(",")]

    original_url = os.environ["DATABASE_URL"]
    use_scratch_database(SCRATCH)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DEBUG", "1")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import override_settings

    from tenancy.models import Tenant
    from tenancy.services import generate_schema_name

    call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE SCHEMA {TEMPLATE_SCHEMA}")
    call_command("migrate_schemas", tenant=True, schema_name=TEMPLATE_SCHEMA, interactive=False, verbosity=0)

    created = 0

    def provision() -> None:
        nonlocal created
        created += 1
        tenant = Tenant(schema_name=generate_schema_name(), name=f"Bench {created}", slug=f"bench-{created}")
        tenant.save(verbosity=0)

    def provision_by_clone() -> None:
        with override_settings(TENANT_BASE_SCHEMA=TEMPLATE_SCHEMA, TENANT_CREATION_FAKES_MIGRATIONS=True):
            provision()

    results = []
    try:
        for count in counts:
            while created < count:
                provision()
            by_migrations = median_seconds(provision, runs=args.runs)
            by_clone = median_seconds(provision_by_clone, runs=args.runs)
            results.append(
                BenchResult(
                    name=f"provision tenant by template clone ({count} existing)",
                    value=by_clone,
                    baseline_name="by running migrations",
                    baseline=by_migrations,
                    unit="s",
                    goal="clone kept only if ratio well below 1",
                )
            )
    finally:
        connection.close()
        drop_scratch_database(SCRATCH, original_url)
    return report(results, results_json=args.results_json)


if __name__ == "__main__":
    main()
