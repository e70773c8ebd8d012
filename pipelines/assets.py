"""The assets: a tenant's activity log for a day → TaskSLA rows → AnalyticsSnapshot rows.

Every asset is partitioned by UTC day x tenant and takes a whole partition range in one run (single-run
backfill policy): it groups the run's partitions into spans of consecutive days per tenant and computes
each span in one pass over that tenant's log (pipelines/projections.py), one tenant at a time.
"""

import datetime as dt
import hashlib
from collections import Counter
from collections.abc import Iterator

import dagster as dg
from django.utils import timezone
from redis.exceptions import RedisError

from analytics.selectors import sla_targets
from analytics_refresh.versions import bump_versions
from pipelines.partitions import PARTITIONS, TenantDays, tenant_spans
from pipelines.projections import DayActivity, WriteStats, day_activity, rebuild_projections
from pipelines.resources import TenantDatabase, UnknownTenantError

GROUP = "analytics"
SINGLE_RUN = dg.BackfillPolicy.single_run()


def run_as_of(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> dt.datetime:
    """The instant "now" means for this run: its creation time, the same for every step of the run, so
    today's partition is computed (and checked) against one horizon."""
    record = context.instance.get_run_record_by_id(context.run.run_id)
    created = record.create_timestamp if record is not None else timezone.now()
    return min(created, timezone.now()).astimezone(dt.UTC).replace(microsecond=0)


def _spans(context: dg.AssetExecutionContext) -> list[TenantDays]:
    return tenant_spans(context.partition_keys)


def _stats_metadata(stats: WriteStats, spans: list[TenantDays]) -> dict[str, int | str]:
    return {
        "rows_written": stats.written,
        "rows_unchanged": stats.unchanged,
        "rows_deleted": stats.deleted,
        "spans": ", ".join(f"{s.tenant} {s.first_day}..{s.last_day}" for s in spans),
    }


@dg.asset(
    partitions_def=PARTITIONS,
    backfill_policy=SINGLE_RUN,
    group_name=GROUP,
    kinds={"postgres"},
)
def activity_day(context: dg.AssetExecutionContext, tenant_db: TenantDatabase) -> dg.MaterializeResult:
    """The day's slice of one tenant's activity log (`tracker_taskactivity`), as a digest.

    The log is append-only and already stored, so nothing is copied: the materialization records the
    day's row count per verb, its seq range and a fingerprint (row count, last seq and last row's hash).
    The fingerprint is the data version of a single-day run, so a day whose log did not change keeps it.
    """
    now = run_as_of(context)
    days: list[DayActivity] = []
    for span in _spans(context):
        try:
            with tenant_db.tenant(span.tenant) as session:
                days.extend(day_activity(session, span, now=now))
        except UnknownTenantError as error:
            context.log.warning(f"{error} Skipped; the tenant sensor removes its partitions.")
    verbs: Counter[str] = Counter()
    for day in days:
        verbs.update(day.by_verb)
    fingerprint = hashlib.md5(
        "".join(d.fingerprint for d in days).encode(), usedforsecurity=False
    ).hexdigest()
    return dg.MaterializeResult(
        metadata={
            "activity_rows": sum(d.rows for d in days),
            "days_with_activity": len(days),
            "rows_by_verb": dict(sorted(verbs.items())),
            "fingerprint": fingerprint,
        },
        data_version=dg.DataVersion(fingerprint) if len(context.partition_keys) == 1 else None,
    )


TASK_SLA = dg.AssetKey("task_sla")
ANALYTICS_SNAPSHOT = dg.AssetKey("analytics_snapshot")


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            TASK_SLA,
            deps=[activity_day],
            group_name=GROUP,
            kinds={"postgres"},
            description="TaskSLA rows (table `analytics_tasksla`, tenant schema): per task, day and status, "
            "the seconds the task spent in that status within the day, with its project, priority, SLA "
            "clocks and the state of each SLA target (met / breached / open) at the end of the day. Keyed "
            "(task, day, status).",
        ),
        dg.AssetSpec(
            ANALYTICS_SNAPSHOT,
            deps=[TASK_SLA],
            group_name=GROUP,
            kinds={"postgres"},
            description="AnalyticsSnapshot rows (table `analytics_analyticssnapshot`, tenant schema): one "
            "per project and day — tasks created/started/completed/reopened/blocked, tasks per status at "
            "the end of the day, cycle and lead time percentiles, age of open work, time in each status, "
            "SLA met/breached counts. Keyed (project, day). Also records each day's build time "
            "(PartitionBuild), the figures' `as_of`.",
        ),
    ],
    partitions_def=PARTITIONS,
    backfill_policy=SINGLE_RUN,
)
def task_sla_and_snapshot(
    context: dg.AssetExecutionContext, tenant_db: TenantDatabase
) -> Iterator[dg.MaterializeResult]:
    """TaskSLA, then the snapshots computed from it, in one step: both replay the same segments of the
    log (pipelines/projections.py), which are the costliest part of a rebuild to compute, so they are
    computed once. Materializing either asset materializes both."""
    now = run_as_of(context)
    spans = _spans(context)
    task_sla, snapshots = WriteStats(), WriteStats()
    for span in spans:
        try:
            with tenant_db.tenant(span.tenant) as session:
                stats = rebuild_projections(session, span, now=now, targets=sla_targets(), built_at=now)
                task_sla += stats.task_sla
                snapshots += stats.snapshots
                _invalidate_cached_analytics(context)
        except UnknownTenantError as error:
            context.log.warning(f"{error} Skipped; the tenant sensor removes its partitions.")
    yield dg.MaterializeResult(asset_key=TASK_SLA, metadata=_stats_metadata(task_sla, spans))
    yield dg.MaterializeResult(asset_key=ANALYTICS_SNAPSHOT, metadata=_stats_metadata(snapshots, spans))


def _invalidate_cached_analytics(context: dg.AssetExecutionContext) -> None:
    """New figures for the tenant: cached analytics answers (API and dashboards) must not outlive them.

    A failed bump is logged, not raised: the figures are written, and cached answers expire on their own
    (analytics cache timeout), so failing the run would only repeat work that succeeded."""
    try:
        bump_versions(project_id=None)
    except RedisError as error:
        context.log.warning(f"Could not invalidate cached analytics ({error}); they expire on their own.")


ASSETS = [activity_day, task_sla_and_snapshot]
