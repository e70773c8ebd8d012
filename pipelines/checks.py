"""Asset checks: the projections agree with the log, hold no impossible values, and yesterday is built.

In a partitioned run the checks look at the run's partitions; run on their own (UI: asset → Checks →
Execute) they look at the days and tenant of their `CheckScope` config, by default yesterday of every
tenant. The reconciliations replay the log independently of pipelines/projections.py (latest row per task
with DISTINCT ON, not segments) on at most RECONCILE_DAYS_MAX days per tenant and run, spread evenly.
"""

import datetime as dt
from collections.abc import Callable, Iterator

import dagster as dg
from django.utils import timezone

from pipelines.assets import ANALYTICS_SNAPSHOT, TASK_SLA, run_as_of
from pipelines.partitions import TENANTS_NAME, TenantDays, partition_key, tenant_spans
from pipelines.projections import DAY, LOG, SLA, SNAPSHOT, day_number, end_seconds
from pipelines.resources import TenantDatabase, TenantSession, UnknownTenantError

RECONCILE_DAYS_MAX = 14
SHOWN_PROBLEMS = 10


class CheckScope(dg.Config):
    """The partitions a check looks at when it runs outside a partitioned run."""

    tenant: str = ""  # a tenant slug; empty: every tenant
    first_day: str = ""  # YYYY-MM-DD; empty: yesterday (UTC)
    last_day: str = ""  # YYYY-MM-DD; empty: first_day


def check_spans(
    context: dg.AssetCheckExecutionContext, config: CheckScope, tenant_db: TenantDatabase
) -> list[TenantDays]:
    if context.has_partition_key or context.has_partition_key_range:
        return tenant_spans(context.partition_keys)
    yesterday = timezone.now().astimezone(dt.UTC).date() - dt.timedelta(days=1)
    first = dt.date.fromisoformat(config.first_day) if config.first_day else yesterday
    last = dt.date.fromisoformat(config.last_day) if config.last_day else first
    tenants = [config.tenant] if config.tenant else tenant_db.tenant_slugs()
    return [TenantDays(tenant, first, last) for tenant in tenants]


def sample_days(span: TenantDays, limit: int = RECONCILE_DAYS_MAX) -> list[dt.date]:
    """All days of the span, or `limit` of them spread evenly, first and last included."""
    days = span.days
    if len(days) <= limit:
        return days
    step = (len(days) - 1) / (limit - 1)
    return sorted({days[round(index * step)] for index in range(limit)})


def _sessions(
    tenant_db: TenantDatabase, spans: list[TenantDays]
) -> Iterator[tuple[TenantDays, TenantSession]]:
    for span in spans:
        try:
            with tenant_db.tenant(span.tenant) as session:
                yield span, session
        except UnknownTenantError:
            continue


def _result(problems: list[str], checked: str, **metadata: int | str) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=not problems,
        metadata={
            "checked": checked,
            "problems": len(problems),
            **metadata,
            "first_problems": "\n".join(problems[:SHOWN_PROBLEMS]) or "none",
        },
    )


def _describe(spans: list[TenantDays]) -> str:
    return ", ".join(f"{s.tenant} {s.first_day}..{s.last_day}" for s in spans) or "nothing"


# --- reconciliation ------------------------------------------------------------------------------------
_DONE_TRANSITIONS = f"""
SELECT count(DISTINCT a.task_id) FROM {LOG} a
WHERE a.verb = 'status_changed' AND a.changes -> 'status' ->> 1 = 'DONE'
  AND a.occurred_at >= to_timestamp(%(start_t)s) AND a.occurred_at < to_timestamp(%(end_t)s)
  AND coalesce((SELECT d.verb FROM {LOG} d
                WHERE d.task_id = a.task_id AND d.verb IN ('deleted', 'restored')
                  AND d.occurred_at < to_timestamp(%(end_t)s)
                ORDER BY d.seq DESC LIMIT 1), '') <> 'deleted'
"""

_STATUS_REPLAY = f"""
WITH upto AS (SELECT task_id, seq, verb, changes FROM {LOG} WHERE occurred_at < to_timestamp(%(end_t)s)),
status AS (SELECT DISTINCT ON (task_id) task_id, changes -> 'status' ->> 1 AS status
           FROM upto WHERE changes ? 'status' ORDER BY task_id, seq DESC),
project AS (SELECT DISTINCT ON (task_id) task_id, changes -> 'project' ->> 1 AS project
            FROM upto WHERE changes ? 'project' ORDER BY task_id, seq DESC),
removal AS (SELECT DISTINCT ON (task_id) task_id, verb = 'deleted' AS deleted
            FROM upto WHERE verb IN ('deleted', 'restored') ORDER BY task_id, seq DESC)
SELECT p.project, s.status, count(*)
FROM status s JOIN project p USING (task_id) LEFT JOIN removal r USING (task_id)
WHERE NOT coalesce(r.deleted, false)
GROUP BY 1, 2
"""

_END_COUNTS = f"""
SELECT project_id::text, end_open, end_in_progress, end_blocked, end_done FROM {SNAPSHOT} WHERE day = %(day)s
"""


def _day_params(day: dt.date, now: dt.datetime) -> dict[str, object]:
    return {"day": day, "start_t": day_number(day) * DAY, "end_t": end_seconds(day, now)}


@dg.asset_check(
    asset=ANALYTICS_SNAPSHOT,
    description="Each day's completed count equals the DONE "
    "transitions in the log that day (tasks deleted at the end of the day left out).",
)
def completed_matches_log(
    context: dg.AssetCheckExecutionContext, config: CheckScope, tenant_db: TenantDatabase
) -> dg.AssetCheckResult:
    now = run_as_of(context)
    spans = check_spans(context, config, tenant_db)
    problems = []
    checked = 0
    for span, session in _sessions(tenant_db, spans):
        for day in sample_days(span):
            params = _day_params(day, now)
            in_log = session.fetchone(_DONE_TRANSITIONS, params)[0]
            snapshot = session.fetchone(
                f"SELECT coalesce(sum(tasks_completed), 0) FROM {SNAPSHOT} WHERE day = %(day)s", params
            )[0]
            checked += 1
            if in_log != snapshot:
                problems.append(f"{span.tenant} {day}: log {in_log} DONE transitions, snapshot {snapshot}")
    return _result(problems, _describe(spans), days_checked=checked)


@dg.asset_check(
    asset=ANALYTICS_SNAPSHOT,
    description="End-of-day tasks per project and status equal the "
    "tasks in that status replayed from the log.",
)
def wip_matches_replay(
    context: dg.AssetCheckExecutionContext, config: CheckScope, tenant_db: TenantDatabase
) -> dg.AssetCheckResult:
    now = run_as_of(context)
    spans = check_spans(context, config, tenant_db)
    statuses = ("OPEN", "IN_PROGRESS", "BLOCKED", "DONE")
    problems = []
    checked = 0
    for span, session in _sessions(tenant_db, spans):
        for day in sample_days(span):
            params = _day_params(day, now)
            replayed = {
                (str(project), status): n for project, status, n in session.fetchall(_STATUS_REPLAY, params)
            }
            stored = {
                (project, status): n
                for project, *counts in session.fetchall(_END_COUNTS, params)
                for status, n in zip(statuses, counts, strict=True)
                if n
            }
            checked += 1
            for key in sorted(replayed.keys() | stored.keys()):
                if replayed.get(key, 0) != stored.get(key, 0):
                    problems.append(
                        f"{span.tenant} {day} project {key[0]} {key[1]}: "
                        f"log {replayed.get(key, 0)}, snapshot {stored.get(key, 0)}"
                    )
    return _result(problems, _describe(spans), days_checked=checked)


# --- impossible values ---------------------------------------------------------------------------------
_NEGATIVE_SLA = f"""
SELECT task_id::text, day::text, status FROM {SLA}
WHERE day BETWEEN %(first_day)s AND %(last_day)s
  AND (seconds < 0 OR start_clock_seconds < 0 OR done_clock_seconds < 0)
ORDER BY day, task_id
"""

_NEGATIVE_SNAPSHOT = f"""
SELECT project_id::text, day::text, 'snapshot' FROM {SNAPSHOT}
WHERE day BETWEEN %(first_day)s AND %(last_day)s
  AND least(cycle_time_p50, cycle_time_p85, cycle_time_p95, lead_time_p50, lead_time_p85, lead_time_p95,
            open_age_p50, open_age_p85, open_age_max,
            time_open_seconds, time_in_progress_seconds, time_blocked_seconds) < 0
ORDER BY day, project_id
"""

_OVER_A_DAY = f"""
SELECT task_id::text, day::text, sum(seconds) FROM {SLA}
WHERE day BETWEEN %(first_day)s AND %(last_day)s
GROUP BY task_id, day HAVING sum(seconds) > {DAY}
ORDER BY day, task_id
"""


def _rows_check(
    sql: str, describe: Callable[[tuple[object, ...]], str]
) -> Callable[..., dg.AssetCheckResult]:
    def evaluate(
        context: dg.AssetCheckExecutionContext, config: CheckScope, tenant_db: TenantDatabase
    ) -> dg.AssetCheckResult:
        spans = check_spans(context, config, tenant_db)
        problems = []
        for span, session in _sessions(tenant_db, spans):
            params = {"first_day": span.first_day, "last_day": span.last_day}
            problems += [f"{span.tenant} {describe(row)}" for row in session.fetchall(sql, params)]
        return _result(problems, _describe(spans))

    return evaluate


no_negative_durations = dg.asset_check(
    asset=TASK_SLA,
    name="no_negative_durations",
    description="No TaskSLA row has a negative time in status or SLA clock.",
)(_rows_check(_NEGATIVE_SLA, lambda row: f"task {row[0]} {row[1]} {row[2]}: negative duration"))

snapshot_no_negative_durations = dg.asset_check(
    asset=ANALYTICS_SNAPSHOT,
    name="no_negative_durations",
    description="No snapshot has a negative cycle/lead time, age or time in status.",
)(_rows_check(_NEGATIVE_SNAPSHOT, lambda row: f"project {row[0]} {row[1]}: negative duration"))

day_within_24h = dg.asset_check(
    asset=TASK_SLA,
    name="time_in_statuses_within_a_day",
    description="A task's seconds across statuses within one day sum to at most 24 h.",
)(_rows_check(_OVER_A_DAY, lambda row: f"task {row[0]} {row[1]}: {row[2]} s in one day"))


# --- freshness -----------------------------------------------------------------------------------------
@dg.asset_check(
    asset=ANALYTICS_SNAPSHOT,
    description="Yesterday's partition of every tenant was built after yesterday ended (so it saw the whole "
    "day). Warns, since the daily schedule (00:15 UTC) and its retries may still be on their way.",
)
def yesterday_is_fresh(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
    today = timezone.now().astimezone(dt.UTC).date()
    yesterday = today - dt.timedelta(days=1)
    midnight = dt.datetime.combine(today, dt.time(), tzinfo=dt.UTC).timestamp()
    stale = []
    tenants = context.instance.get_dynamic_partitions(TENANTS_NAME)
    for tenant in tenants:
        records = context.instance.fetch_materializations(
            dg.AssetRecordsFilter(
                asset_key=ANALYTICS_SNAPSHOT,
                asset_partitions=[str(partition_key(tenant=tenant, day=yesterday))],
            ),
            limit=1,
        ).records
        if not records or records[0].timestamp < midnight:
            stale.append(tenant)
    return dg.AssetCheckResult(
        passed=not stale,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"day": yesterday.isoformat(), "tenants": len(tenants), "stale": ", ".join(stale) or "none"},
    )


# Run with every materialization of their asset; freshness runs on its own schedule instead.
RUN_CHECKS = [
    completed_matches_log,
    wip_matches_replay,
    no_negative_durations,
    snapshot_no_negative_durations,
    day_within_24h,
]
CHECKS = [*RUN_CHECKS, yesterday_is_fresh]
