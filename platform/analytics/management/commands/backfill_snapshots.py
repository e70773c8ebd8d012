"""`manage.py backfill_snapshots --from DATE --to DATE [--tenant SLUG]`: rebuild the analytics of a range of
days, for operators without the Dagster UI.

Runs the pipeline's asset job in this process through Dagster's Python API, one run per tenant and block of
at most --days-per-run days (each a partition range, computed in one pass), against the instance in
DAGSTER_HOME so the runs show in the UI; without DAGSTER_HOME, against a throwaway instance.
"""

import datetime as dt
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{value!r} is not a date (YYYY-MM-DD).") from None


@contextmanager
def _instance() -> Iterator[Any]:
    import dagster as dg

    if os.environ.get("DAGSTER_HOME"):
        with dg.DagsterInstance.get() as instance:
            yield instance
    else:
        with dg.DagsterInstance.ephemeral() as instance:
            yield instance


class Command(BaseCommand):
    help = "Rebuild TaskSLA and AnalyticsSnapshot for a range of days (all tenants, or one)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--from", dest="first_day", type=_date, required=True, help="First day, YYYY-MM-DD."
        )
        parser.add_argument("--to", dest="last_day", type=_date, required=True, help="Last day, YYYY-MM-DD.")
        parser.add_argument("--tenant", help="A tenant slug; default: every tenant.")
        parser.add_argument("--days-per-run", type=int, default=31, help="Days per Dagster run (default 31).")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar, only summary lines.")

    def handle(self, *args: Any, **options: Any) -> None:
        # The pipeline is a separate code location at the repository root; the platform never imports it
        # except here, in an operator's command. Appended, like definitions.py appends platform/.
        if str(settings.REPO_ROOT) not in sys.path:
            sys.path.append(str(settings.REPO_ROOT))
        import dagster as dg
        from tqdm import tqdm

        from pipelines.assets import ASSETS
        from pipelines.checks import RUN_CHECKS
        from pipelines.partitions import START_DATE, TENANTS_NAME, TenantDays, range_tags, split
        from pipelines.resources import TenantDatabase

        first, last = options["first_day"], options["last_day"]
        today = timezone.now().astimezone(dt.UTC).date()
        if first > last:
            raise CommandError(f"--from {first} is after --to {last}.")
        if first < START_DATE or last > today:
            raise CommandError(
                f"Days must lie between ANALYTICS_START_DATE ({START_DATE}) and today ({today})."
            )
        if options["days_per_run"] < 1:
            raise CommandError("--days-per-run must be at least 1.")
        tenant_db = TenantDatabase()
        slugs = tenant_db.tenant_slugs()
        if options["tenant"]:
            if options["tenant"] not in slugs:
                raise CommandError(f"No tenant with slug {options['tenant']!r}.")
            slugs = [options["tenant"]]
        pieces = [
            piece for slug in slugs for piece in split(TenantDays(slug, first, last), options["days_per_run"])
        ]
        failed_checks: list[str] = []
        with _instance() as instance:
            known = set(instance.get_dynamic_partitions(TENANTS_NAME))
            if missing := sorted(set(slugs) - known):
                instance.add_dynamic_partitions(TENANTS_NAME, missing)
            # tqdm gets the raw streams: OutputWrapper ends every write with a newline, which would break
            # the bar's in-place redraws.
            with tqdm(
                total=sum(len(piece.days) for piece in pieces),
                unit="day",
                file=self.stderr._out,
                disable=options["no_progress"],
            ) as progress:
                for piece in pieces:
                    progress.set_description(piece.tenant)
                    result = dg.materialize(
                        [*ASSETS, *RUN_CHECKS],
                        instance=instance,
                        resources={"tenant_db": tenant_db},
                        tags={**range_tags(piece), "trigger": "backfill_snapshots"},
                        raise_on_error=False,
                    )
                    if not result.success:
                        raise CommandError(f"Run {result.run_id} for {piece.tenant} failed; see its logs.")
                    failed_checks += [
                        f"{piece.tenant} {piece.first_day}..{piece.last_day}: {e.check_name}"
                        for e in result.get_asset_check_evaluations()
                        if not e.passed
                    ]
                    progress.update(len(piece.days))
                    progress.write(
                        f"{piece.tenant} {piece.first_day}..{piece.last_day}: run {result.run_id}",
                        file=self.stdout._out,
                    )
        self.stdout.write(
            f"Built {len(slugs)} tenant(s) x {(last - first).days + 1} day(s) in {len(pieces)} run(s)."
        )
        if failed_checks:
            raise CommandError("Asset checks failed:\n  " + "\n  ".join(failed_checks))
