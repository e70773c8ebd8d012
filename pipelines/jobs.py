"""Dagster jobs (runs of asset selections; not the Celery jobs of platform/*/jobs.py)."""

import dagster as dg

from pipelines.assets import ASSETS
from pipelines.checks import RUN_CHECKS, yesterday_is_fresh

# The three assets and their checks for some (tenant, day) partitions: what the schedule, the dirty-day
# sensor and `manage.py backfill_snapshots` launch.
analytics_job = dg.define_asset_job(
    name="analytics_job",
    selection=dg.AssetSelection.assets(*ASSETS).without_checks() | dg.AssetSelection.checks(*RUN_CHECKS),
    tags={"pipeline": "analytics"},
)

freshness_job = dg.define_asset_job(
    name="analytics_freshness_job",
    selection=dg.AssetSelection.checks(yesterday_is_fresh),
)
