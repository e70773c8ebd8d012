"""Reads of the analytics projections, for the dashboards and /api/v1/analytics (current tenant's schema).

`as_of` is when the newest day in the range was last built (PartitionBuild): a rebuild that changes no row
still moves it, so a reader can tell "checked against the log at 12:03" from "last changed at 09:12".
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from django.db.models import Max

from analytics.models import AnalyticsSnapshot, PartitionBuild, SlaPolicy, TaskSLA
from analytics.sla import DEFAULT_TARGETS, SlaTarget


@dataclass(frozen=True)
class DailySeries:
    """One row per built day of the range, oldest first; days not built yet are absent."""

    rows: list[AnalyticsSnapshot]
    as_of: dt.datetime | None


@dataclass(frozen=True)
class ProjectsOverview:
    """Each project's figures for `day` (the newest built day unless asked otherwise)."""

    day: dt.date | None
    rows: list[AnalyticsSnapshot]
    as_of: dt.datetime | None


def as_of(*, first_day: dt.date, last_day: dt.date) -> dt.datetime | None:
    """When the newest partition in [first_day, last_day] was built; None if none was."""
    newest = PartitionBuild.objects.filter(day__range=(first_day, last_day)).aggregate(Max("built_at"))
    return newest["built_at__max"]


def project_daily_series(*, project_id: uuid.UUID, first_day: dt.date, last_day: dt.date) -> DailySeries:
    rows = list(
        AnalyticsSnapshot.objects.filter(project_id=project_id, day__range=(first_day, last_day)).order_by(
            "day"
        )
    )
    return DailySeries(rows=rows, as_of=as_of(first_day=first_day, last_day=last_day))


def projects_overview(*, day: dt.date | None = None) -> ProjectsOverview:
    if day is None:
        day = AnalyticsSnapshot.objects.aggregate(Max("day"))["day__max"]
        if day is None:
            return ProjectsOverview(day=None, rows=[], as_of=None)
    rows = list(AnalyticsSnapshot.objects.filter(day=day).order_by("project_id"))
    return ProjectsOverview(day=day, rows=rows, as_of=as_of(first_day=day, last_day=day))


def task_sla_days(*, task_id: uuid.UUID, first_day: dt.date, last_day: dt.date) -> list[TaskSLA]:
    """A task's time in each status per day, oldest first."""
    return list(
        TaskSLA.objects.filter(task_id=task_id, day__range=(first_day, last_day)).order_by("day", "status")
    )


def sla_targets() -> dict[str, SlaTarget]:
    """The targets in force per priority: the tenant's policies over the documented defaults."""
    targets = dict(DEFAULT_TARGETS)
    for policy in SlaPolicy.objects.all():
        targets[policy.priority] = SlaTarget(
            time_to_start_seconds=policy.time_to_start_seconds,
            time_to_done_seconds=policy.time_to_done_seconds,
        )
    return targets


# --- Reports for /api/v1/analytics/* and the dashboards (cached; appended for issue 7) ----------------------
#
# One JSON document per (report, project, range), read from the projections only (AnalyticsSnapshot, TaskSLA,
# PartitionBuild) plus today's live status counts from the task table: nothing aggregates the activity log on
# the request path. Documents are cached in the tenant cache together with the analytics versions they were
# built at (analytics_refresh.versions: every task change bumps its project's and the tenant's); a pipeline
# run that rewrote days invalidates them with `bump_versions(project_id=None)`, and the timeout bounds
# staleness if a bump is lost. The API serves `Report.body` as is and `Report.etag` for If-None-Match; the
# dashboards read `Report.data`, so both show the same numbers.

import hashlib  # noqa: E402
import json  # noqa: E402
from collections import defaultdict  # noqa: E402
from collections.abc import Callable, Iterable  # noqa: E402
from typing import Any  # noqa: E402

import redis  # noqa: E402
from django.core.cache import caches  # noqa: E402
from django.db.models import Count, F  # noqa: E402
from django.utils import timezone  # noqa: E402

from analytics.models import SlaState  # noqa: E402
from analytics_refresh.versions import TENANT_VERSION_KEY, project_version_key  # noqa: E402
from api.cache import FALLBACKS, tenant_cache  # noqa: E402
from tracker.models import Priority, Project, Status, Task  # noqa: E402
from tracker.selectors import get_project  # noqa: E402

REPORT_FORMAT = 1  # part of every cache key: a deploy that changes a document's shape starts afresh
REPORT_CACHE_SECONDS = 120
AT_RISK_FRACTION = 0.8  # a running SLA clock at 80% of its target is "at risk" (as the SLA alerts warn)
AT_RISK_LIMIT = 50
SLA_TARGET_NAMES = ("time_to_start", "time_to_done")
_NOT_METRICS = {"id", "project", "day", "built_at"}

# Every metric the pipeline produces, in the model's order: new snapshot columns reach the API by themselves.
SNAPSHOT_METRICS: tuple[str, ...] = tuple(
    field.name for field in AnalyticsSnapshot._meta.concrete_fields if field.name not in _NOT_METRICS
)
_FLOW_COUNTS = ("tasks_created", "tasks_started", "tasks_completed", "tasks_reopened", "tasks_blocked")
_TIME_IN_STATUS = {
    Status.OPEN: "time_open_seconds",
    Status.IN_PROGRESS: "time_in_progress_seconds",
    Status.BLOCKED: "time_blocked_seconds",
}
_END_OF_DAY = {
    Status.OPEN: "end_open",
    Status.IN_PROGRESS: "end_in_progress",
    Status.BLOCKED: "end_blocked",
    Status.DONE: "end_done",
}


@dataclass(frozen=True)
class Report:
    """A JSON document as cached: its bytes, their ETag, and the parsed data for templates."""

    body: bytes
    etag: str

    @property
    def data(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.body)
        return data


def _read_cached(keys: list[str]) -> dict[str, Any]:
    """Several tenant-cache keys in one round trip; {} when Redis is unavailable (counted, like SafeCache)."""
    if not tenant_cache.breaker.allows_call():
        FALLBACKS.add("cache_bypassed")
        return {}
    try:
        found: dict[str, Any] = caches[tenant_cache.alias].get_many(keys)
    except (redis.RedisError, OSError) as error:
        FALLBACKS.add("cache_bypassed")
        tenant_cache.breaker.record_failure(error)
        return {}
    return found


def _report(*, name: str, project_id: Any, build: Callable[[], dict[str, Any]]) -> Report:
    """The cached document `name` of the project (or of the whole tenant when `project_id` is None).

    An entry stores the analytics versions it was built at (analytics_refresh.versions): the tenant's, which
    any change bumps (a task event, or a pipeline run that rewrote days), and the project's. One MGET reads
    the entry with the current versions, so a hit costs one round trip, and an entry built before the latest
    bump is rebuilt. A missing version reads as 0, as `current_version` does.
    """
    version_keys = [TENANT_VERSION_KEY] + ([] if project_id is None else [project_version_key(project_id)])
    key = f"analytics-report:{'tenant' if project_id is None else project_id}:{name}"
    found = _read_cached([*version_keys, key])
    versions = tuple(int(found.get(version_key) or 0) for version_key in version_keys)
    cached = found.get(key)
    if isinstance(cached, tuple) and len(cached) == 3 and cached[0] == versions:
        return Report(body=cached[1], etag=cached[2])
    body = json.dumps(build(), separators=(",", ":"), sort_keys=True, default=str).encode()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    tenant_cache.set(key, (versions, body, etag), REPORT_CACHE_SECONDS)
    return Report(body=body, etag=etag)


def _range_name(kind: str, first_day: dt.date, last_day: dt.date) -> str:
    return f"{kind}:f{REPORT_FORMAT}:{first_day.isoformat()}:{last_day.isoformat()}"


def _iso(value: dt.date | dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def weighted_percentile(pairs: Iterable[tuple[int | None, int]], fraction: float) -> int | None:
    """The smallest value whose cumulative weight reaches `fraction` of the total (percentile_disc over
    weighted values); None when nothing is weighted. Used to summarise daily percentiles over a range."""
    kept = sorted((value, weight) for value, weight in pairs if value is not None and weight > 0)
    total = sum(weight for _, weight in kept)
    if not total:
        return None
    running = 0
    for value, weight in kept:
        running += weight
        if running >= fraction * total:
            return value
    return kept[-1][0]


def _live_counts(project_ids: list[Any]) -> dict[str, dict[str, int]]:
    """Tasks per project and status right now (soft-deleted tasks left out): one grouped, indexed query."""
    counts: dict[str, dict[str, int]] = {str(pid): dict.fromkeys(Status.values, 0) for pid in project_ids}
    rows = (
        Task.objects.filter(project_id__in=project_ids, deleted_at__isnull=True)
        .values("project_id", "status")
        .annotate(n=Count("id"))
    )
    for row in rows:
        counts[str(row["project_id"])][row["status"]] = row["n"]
    return counts


def _snapshot_rows(
    project_ids: list[Any], first_day: dt.date, last_day: dt.date
) -> dict[str, list[AnalyticsSnapshot]]:
    by_project: dict[str, list[AnalyticsSnapshot]] = {str(pid): [] for pid in project_ids}
    rows = AnalyticsSnapshot.objects.filter(project_id__in=project_ids, day__range=(first_day, last_day))
    for row in rows.order_by("project_id", "day"):
        by_project[str(row.project_id)].append(row)
    return by_project


def _latest_task_slas(project_ids: list[Any], first_day: dt.date, last_day: dt.date) -> list[dict[str, Any]]:
    """Per task of the projects, its SLA figures on its last day in the range (one row per task)."""
    return [
        dict(row)
        for row in TaskSLA.objects.filter(project_id__in=project_ids, day__range=(first_day, last_day))
        .order_by("task_id", "-day")
        .distinct("task_id")
        .values(
            "task_id",
            "project_id",
            "day",
            "priority",
            "start_clock_seconds",
            "done_clock_seconds",
            "start_target_state",
            "done_target_state",
        )
    ]


def _target_outcome(row: dict[str, Any], target: str) -> tuple[str, int]:
    prefix = "start" if target == "time_to_start" else "done"
    return row[f"{prefix}_target_state"], row[f"{prefix}_clock_seconds"]


def _breach_rate(met: int, breached: int) -> float | None:
    return round(breached / (met + breached), 4) if met + breached else None


def _sla_totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Target outcomes (both targets) of the tasks in `rows`: met, breached, still open, breach rate."""
    met = breached = running = 0
    for row in rows:
        for target in SLA_TARGET_NAMES:
            state, _ = _target_outcome(row, target)
            met += state == SlaState.MET
            breached += state == SlaState.BREACHED
            running += state == SlaState.OPEN
    return {"met": met, "breached": breached, "open": running, "breach_rate": _breach_rate(met, breached)}


def _series_row(row: AnalyticsSnapshot) -> dict[str, Any]:
    return {"day": row.day.isoformat(), **{name: getattr(row, name) for name in SNAPSHOT_METRICS}}


def _range_totals(rows: list[AnalyticsSnapshot], days_in_range: int) -> dict[str, Any]:
    """Headline numbers of a range from its daily rows. Counts add up; percentiles over the range are
    weighted percentiles of the daily ones (exact per-task percentiles would need the raw log)."""
    last = rows[-1] if rows else None
    totals: dict[str, Any] = {name: sum(getattr(row, name) for row in rows) for name in _FLOW_COUNTS}
    totals["throughput_per_day"] = round(totals["tasks_completed"] / days_in_range, 3) if days_in_range else 0
    totals["time_in_status_seconds"] = {
        status: sum(getattr(row, column) for row in rows) for status, column in _TIME_IN_STATUS.items()
    }
    for measure in ("cycle_time", "lead_time"):
        for percent, fraction in (("p50", 0.5), ("p85", 0.85)):
            totals[f"{measure}_{percent}"] = weighted_percentile(
                ((getattr(row, f"{measure}_{percent}"), row.tasks_completed) for row in rows), fraction
            )
    totals["wip_at_end"] = (
        {status: getattr(last, column) for status, column in _END_OF_DAY.items()}
        if last is not None
        else None
    )
    totals["open_age_max_at_end"] = last.open_age_max if last is not None else None
    return totals


def project_report(*, project_id: uuid.UUID, first_day: dt.date, last_day: dt.date) -> Report:
    """The daily series (every snapshot metric), the range's totals, SLA outcomes, today's live counts.

    The project is read only to build the document (404 `not_found` for an unknown id): a cache hit
    costs no query.
    """

    def build() -> dict[str, Any]:
        project = get_project(project_id=project_id)
        rows = _snapshot_rows([project.pk], first_day, last_day)[str(project.pk)]
        days_in_range = (last_day - first_day).days + 1
        return {
            "project": {"id": str(project.pk), "key": project.key, "name": project.name},
            "from": first_day.isoformat(),
            "to": last_day.isoformat(),
            "as_of": _iso(as_of(first_day=first_day, last_day=last_day)),
            "days_in_range": days_in_range,
            "days_built": len(rows),
            "metrics": list(SNAPSHOT_METRICS),
            "series": [_series_row(row) for row in rows],
            "totals": _range_totals(rows, days_in_range),
            "sla": _sla_totals(_latest_task_slas([project.pk], first_day, last_day)),
            "live": {
                "by_status": _live_counts([project.pk])[str(project.pk)],
                "computed_at": _iso(timezone.now().replace(microsecond=0)),
            },
        }

    return _report(name=_range_name("project", first_day, last_day), project_id=project_id, build=build)


def _sla_breakdown(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per target and priority: met, breached, still open, breach rate, p50/p85 of the clocks that stopped
    or went over (for a breached task still running, its clock at the end of the range)."""
    groups: dict[tuple[str, str], list[tuple[str, int]]] = defaultdict(list)
    for row in rows:
        for target in SLA_TARGET_NAMES:
            groups[(target, row["priority"])].append(_target_outcome(row, target))
    targets = sla_targets()
    result = []
    for target in SLA_TARGET_NAMES:
        for priority in (Priority.URGENT, Priority.HIGH, Priority.MEDIUM, Priority.LOW):
            outcomes = groups.get((target, priority), [])
            met = sum(state == SlaState.MET for state, _ in outcomes)
            breached = sum(state == SlaState.BREACHED for state, _ in outcomes)
            settled = [(seconds, 1) for state, seconds in outcomes if state != SlaState.OPEN]
            goal = targets[priority]
            result.append(
                {
                    "target": target,
                    "priority": str(priority),
                    "target_seconds": goal.time_to_start_seconds
                    if target == "time_to_start"
                    else goal.time_to_done_seconds,
                    "met": met,
                    "breached": breached,
                    "open": len(outcomes) - met - breached,
                    "breach_rate": _breach_rate(met, breached),
                    "p50_seconds": weighted_percentile(settled, 0.5),
                    "p85_seconds": weighted_percentile(settled, 0.85),
                }
            )
    return result


def _at_risk(project: Project, last_built_day: dt.date | None) -> list[dict[str, Any]]:
    """Tasks not DONE at the end of the newest built day whose SLA clock is running at ≥ 80% of its target
    or has gone over: the ones to look at first (most overdue first)."""
    if last_built_day is None:
        return []
    targets = sla_targets()
    rows = TaskSLA.objects.filter(project_id=project.pk, day=last_built_day, in_status_at_end=True).exclude(
        status=Status.DONE
    )
    found: dict[Any, dict[str, Any]] = {}
    for row in rows:
        goal = targets[row.priority]
        clocks = (
            ("time_to_start", row.start_clock_seconds, goal.time_to_start_seconds, row.start_target_state),
            ("time_to_done", row.done_clock_seconds, goal.time_to_done_seconds, row.done_target_state),
        )
        for target, elapsed, limit, state in clocks:
            # The done clock runs until DONE; the start clock only until the first IN_PROGRESS, which the
            # projection does not record, so a breached start clock counts as running while the task is OPEN.
            running = (
                target == "time_to_done"
                or state == SlaState.OPEN
                or (state == SlaState.BREACHED and row.status == Status.OPEN)
            )
            used = elapsed / limit if limit else 0.0
            if not running or used < AT_RISK_FRACTION:
                continue
            if row.task_id not in found or used > found[row.task_id]["used"]:
                found[row.task_id] = {
                    "task_id": str(row.task_id),
                    "status": row.status,
                    "priority": row.priority,
                    "target": target,
                    "level": "breached" if elapsed > limit else "warning",
                    "elapsed_seconds": elapsed,
                    "target_seconds": limit,
                    "used": round(used, 3),
                }
    titles = dict(Task.objects.filter(pk__in=list(found), deleted_at__isnull=True).values_list("pk", "title"))
    ranked = sorted(
        (item for task_id, item in found.items() if task_id in titles), key=lambda item: -item["used"]
    )
    for item in ranked:
        item["title"] = titles[uuid.UUID(item["task_id"])]
    return ranked[:AT_RISK_LIMIT]


def project_sla_report(*, project_id: uuid.UUID, first_day: dt.date, last_day: dt.date) -> Report:
    """SLA outcomes per target and priority, and the tasks at risk (the project is read on a miss only)."""

    def build() -> dict[str, Any]:
        project = get_project(project_id=project_id)
        rows = _latest_task_slas([project.pk], first_day, last_day)
        last_built = TaskSLA.objects.filter(
            project_id=project.pk, day__range=(first_day, last_day)
        ).aggregate(Max("day"))["day__max"]
        return {
            "project": {"id": str(project.pk), "key": project.key, "name": project.name},
            "from": first_day.isoformat(),
            "to": last_day.isoformat(),
            "as_of": _iso(as_of(first_day=first_day, last_day=last_day)),
            "tasks_measured": len(rows),
            "totals": _sla_totals(rows),
            "by_target": _sla_breakdown(rows),
            "at_risk_as_of_day": _iso(last_built),
            "at_risk": _at_risk(project, last_built),
        }

    return _report(name=_range_name("sla", first_day, last_day), project_id=project_id, build=build)


def tenant_overview_report(*, first_day: dt.date, last_day: dt.date) -> Report:
    """One entry per project (archived ones last): the project report's headline numbers and the daily
    throughput, for sparklines. Keyed on the tenant-wide version, which every task change bumps."""

    def build() -> dict[str, Any]:
        projects = list(Project.objects.order_by(F("archived_at").asc(nulls_first=True), "key"))
        ids = [project.pk for project in projects]
        snapshots = _snapshot_rows(ids, first_day, last_day)
        live = _live_counts(ids)
        slas: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in _latest_task_slas(ids, first_day, last_day):
            slas[str(row["project_id"])].append(row)
        days_in_range = (last_day - first_day).days + 1
        entries = []
        for project in projects:
            rows = snapshots[str(project.pk)]
            entries.append(
                {
                    "project": {
                        "id": str(project.pk),
                        "key": project.key,
                        "name": project.name,
                        "archived": project.archived_at is not None,
                    },
                    "days_built": len(rows),
                    "totals": _range_totals(rows, days_in_range),
                    "sla": _sla_totals(slas[str(project.pk)]),
                    "throughput": [
                        {"day": row.day.isoformat(), "completed": row.tasks_completed} for row in rows
                    ],
                    "live": {"by_status": live[str(project.pk)]},
                }
            )
        return {
            "from": first_day.isoformat(),
            "to": last_day.isoformat(),
            "as_of": _iso(as_of(first_day=first_day, last_day=last_day)),
            "days_in_range": days_in_range,
            "projects": entries,
        }

    return _report(name=_range_name("overview", first_day, last_day), project_id=None, build=build)


# The date ranges reports accept (API and dashboards alike): inclusive UTC days, 30 by default, 366 at most.
DEFAULT_RANGE_DAYS = 30
MAX_RANGE_DAYS = 366


def utc_today() -> dt.date:
    return timezone.now().astimezone(dt.UTC).date()


def default_range(*, today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """The last DEFAULT_RANGE_DAYS days, today included."""
    last = today or utc_today()
    return last - dt.timedelta(days=DEFAULT_RANGE_DAYS - 1), last


def range_days(first_day: dt.date, last_day: dt.date) -> int:
    return (last_day - first_day).days + 1
