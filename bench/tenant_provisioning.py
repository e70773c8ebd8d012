"""Tenant provisioning: running every migration per new schema vs cloning a migrated template schema.

django-tenants can create a tenant by cloning `TENANT_BASE_SCHEMA` and faking the migrations. The product
runs the migrations (see README "Performance"); this benchmark keeps that choice honest by measuring both
in one run, with a few existing tenants and with many, so we see whether either grows with the count.
Each figure is the median of --runs provisions.

The existing tenants are real in what could slow either way down: a Tenant row each and a schema with
every table, index, constraint, trigger and function a migrated tenant has (the catalog is what both
ways read and write; its size is what grows with the tenant count). They are made fast, not by migrating
each (1-2 s apiece, minutes for 500): the template schema's migration is recorded once, statement by
statement (DDL and the django_migrations rows; not the introspection reads), and replayed into each new
schema in one transaction (bench/tenant_rows.py saves the rows without schemas). A replica is checked
against the template, object class by object class, before anything is timed.

    python -m bench.tenant_provisioning [--runs 5] [--existing 10,50]
"""

import argparse
import os
from collections.abc import Callable
from typing import Any

import psycopg

from bench.results import BenchResult, add_report_arguments, median_seconds, report
from bench.scratch_db import scratch_run
from bench.tenant_rows import add_tenant_rows

SCRATCH = "tp_bench_provisioning"
TEMPLATE_SCHEMA = "tenant_template"
# Objects per schema, by catalog: a replica must have as many of each as the template.
CATALOG_COUNTS = {
    "relations": "SELECT count(*) FROM pg_class WHERE relnamespace = %(schema)s::regnamespace",
    "constraints": "SELECT count(*) FROM pg_constraint WHERE connamespace = %(schema)s::regnamespace",
    "triggers": "SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
    "WHERE c.relnamespace = %(schema)s::regnamespace",
    "functions": "SELECT count(*) FROM pg_proc WHERE pronamespace = %(schema)s::regnamespace",
}


def _record_migration(migrate: Callable[[], object]) -> list[str]:
    """Run `migrate` and return the statements it wrote with, parameters bound (reads and SETs left out)."""
    from django.db import connection

    statements: list[str] = []

    def record(
        execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]
    ) -> Any:
        if not sql.lstrip().upper().startswith(("SELECT", "SET ", "SHOW")):
            cursor = context["cursor"].cursor  # psycopg's client-side-binding cursor under Django's
            for one in params if many else [params]:
                statements.append(sql if one is None else cursor.mogrify(sql, one))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        migrate()
    return statements


def _replay(statements: list[str], schema_names: list[str]) -> None:
    """Create each schema and replay the template's migration into it, one transaction per schema."""
    script = ";\n".join(statements)
    with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
        for name in schema_names:
            conn.execute(
                f'CREATE SCHEMA "{name}"; SET LOCAL search_path TO "{name}", public;\n'
                + script.replace(TEMPLATE_SCHEMA, name)
            )
            conn.commit()


def _catalog_counts(schema: str) -> dict[str, int]:
    with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
        counts = {}
        for label, query in CATALOG_COUNTS.items():
            row = conn.execute(query, {"schema": f'"{schema}"'}).fetchone()
            counts[label] = row[0] if row else 0
        row = conn.execute(f'SELECT count(*) FROM "{schema}"."django_migrations"').fetchone()
        counts["applied migrations"] = row[0] if row else 0
        return counts


def main(argv: list[str] | None = None) -> list[BenchResult]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--existing", default="10,50", help="comma-separated counts of existing tenants")
    add_report_arguments(parser)
    args = parser.parse_args(argv)
    counts = [int(value) for value in args.existing.split(",")]

    with scratch_run(SCRATCH):
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
        template_migration = _record_migration(
            lambda: call_command(
                "migrate_schemas", tenant=True, schema_name=TEMPLATE_SCHEMA, interactive=False, verbosity=0
            )
        )
        template = _catalog_counts(TEMPLATE_SCHEMA)

        created = 0

        def provision() -> None:
            nonlocal created
            created += 1
            tenant = Tenant(
                schema_name=generate_schema_name(), name=f"Bench {created}", slug=f"bench-{created}"
            )
            tenant.save(verbosity=0)

        def provision_by_clone() -> None:
            with override_settings(TENANT_BASE_SCHEMA=TEMPLATE_SCHEMA, TENANT_CREATION_FAKES_MIGRATIONS=True):
                provision()

        results = []
        try:
            for count in counts:
                existing = Tenant.objects.exclude(schema_name="public").count()
                if count > existing:
                    schema_names = add_tenant_rows(count - existing, slug_prefix="existing")
                    _replay(template_migration, schema_names)
                    replica = _catalog_counts(schema_names[0])
                    if replica != template:
                        raise SystemExit(f"a replica differs from the template: {replica} != {template}")
                    print(f"{count} existing tenants, each with {template}", flush=True)
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
    return report(results, results_json=args.results_json)


if __name__ == "__main__":
    main()
