"""TaskSLA and AnalyticsSnapshot, every column, against an independent replay of the log.

One history exercises the cases the issue names: reopened tasks, tasks crossing midnight, blocked for
days, soft-deleted (and restored) tasks, a project with no activity, priority and project changes,
same-second writes (one PATCH), a change at exactly midnight; backdated activity and a tenant added after
the start date have their own tests.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import dagster as dg
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import Role
from analytics.models import AnalyticsSnapshot, PartitionBuild, SlaPolicy, TaskSLA
from analytics.selectors import project_daily_series, projects_overview, sla_targets
from analytics_refresh.versions import current_version
from pipelines.partitions import TENANTS
from pipelines.resources import TenantDatabase
from pipelines.sensors import tenant_partitions_sensor
from tenancy.models import Tenant
from tests.pipelines.activity import ActivityWriter, at
from tests.pipelines.helpers import build, check_results, stored_sla, stored_snapshots
from tests.pipelines.replay import expected_rows

FIRST, LAST = dt.date(2025, 1, 1), dt.date(2025, 1, 14)


def days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]


def write_history(w: ActivityWriter) -> dict[str, Any]:
    ops = w.project("OPS", created_at=at("2025-01-01", "08:00"))
    quiet = w.project("QUIET", created_at=at("2025-01-01", "08:00"))  # never any activity
    later = w.project("LATER", created_at=at("2025-01-10", "12:00"))

    simple = w.create(ops, at("2025-01-02", "09:00"), priority="HIGH")
    w.move(simple, "IN_PROGRESS", at("2025-01-02", "11:30"))
    w.move(simple, "DONE", at("2025-01-03", "16:00"))

    midnight = w.create(ops, at("2025-01-02", "22:00:00.750"), priority="URGENT")  # sub-second: truncated
    w.move(midnight, "IN_PROGRESS", at("2025-01-02", "23:30"))
    w.move(midnight, "DONE", at("2025-01-03", "02:15"))

    reopened = w.create(ops, at("2025-01-02", "10:00"), priority="LOW")
    w.move(reopened, "IN_PROGRESS", at("2025-01-02", "12:00"))
    w.move(reopened, "DONE", at("2025-01-04", "09:00"))
    w.move(reopened, "OPEN", at("2025-01-06", "08:00"))  # reopened days later
    w.move(reopened, "IN_PROGRESS", at("2025-01-06", "10:00"))
    w.move(reopened, "DONE", at("2025-01-06", "12:00"))
    w.move(reopened, "OPEN", at("2025-01-06", "13:00"))  # done twice and reopened twice in one day
    w.move(reopened, "IN_PROGRESS", at("2025-01-06", "14:00"))
    w.move(reopened, "DONE", at("2025-01-06", "17:00"))

    blocked = w.create(ops, at("2025-01-03", "08:00"), priority="URGENT")
    w.move(blocked, "IN_PROGRESS", at("2025-01-03", "08:30"))
    w.move(blocked, "BLOCKED", at("2025-01-03", "12:00"))
    w.move(blocked, "IN_PROGRESS", at("2025-01-08", "09:00"))  # blocked for five days
    w.move(blocked, "DONE", at("2025-01-08", "15:00"))

    deleted = w.create(ops, at("2025-01-04", "09:00"))
    w.move(deleted, "IN_PROGRESS", at("2025-01-04", "10:00"))
    w.delete(deleted, at("2025-01-05", "14:00"))  # gone from the 5th on

    blinked = w.create(ops, at("2025-01-04", "11:00"))
    w.delete(blinked, at("2025-01-05", "10:00"))
    w.restore(blinked, at("2025-01-05", "15:00"))  # deleted and restored the same day: kept

    done_then_deleted = w.create(ops, at("2025-01-02", "08:00"), priority="HIGH")
    w.move(done_then_deleted, "IN_PROGRESS", at("2025-01-02", "08:10"))
    w.move(done_then_deleted, "DONE", at("2025-01-03", "08:00"))
    w.delete(done_then_deleted, at("2025-01-04", "08:00"))
    w.restore(done_then_deleted, at("2025-01-07", "08:00"))  # restored while DONE: no rows that day

    patched = w.create(ops, at("2025-01-05", "00:00"))  # created at exactly midnight
    w.update(patched, at("2025-01-05", "09:00"), priority="URGENT", title="Now urgent")  # one PATCH:
    w.assign(patched, w.actor, at("2025-01-05", "09:00"))  # updated, assigned, status_changed,
    w.move(patched, "IN_PROGRESS", at("2025-01-05", "09:00"))  # same occurred_at
    w.move(patched, "BLOCKED", at("2025-01-07", "00:00"))  # at exactly midnight
    w.update(patched, at("2025-01-11", "10:00"), project=later)  # moves project
    w.move(patched, "IN_PROGRESS", at("2025-01-12", "10:00"))

    stale = w.create(ops, at("2025-01-03", "12:00"), priority="LOW")  # never started: ages, breaches

    return {"ops": ops, "quiet": quiet, "later": later, "reopened": reopened, "stale": stale}


def assert_matches_replay(first: dt.date, last: dt.date) -> None:
    expected_sla, expected_snapshots = expected_rows(
        days(first, last), now=timezone.now(), targets=sla_targets()
    )
    actual_sla, actual_snapshots = stored_sla(), stored_snapshots()
    assert actual_sla.keys() == expected_sla.keys()
    for key, expected in expected_sla.items():
        assert actual_sla[key] == expected, key
    assert actual_snapshots.keys() == expected_snapshots.keys()
    for key, expected in expected_snapshots.items():
        assert actual_snapshots[key] == expected, key


def test_a_range_is_one_run_and_every_column_matches_the_replay(
    instance: dg.DagsterInstance, writer: ActivityWriter, in_tenant: Tenant
) -> None:
    history = write_history(writer)

    result = build(instance, in_tenant.slug, FIRST, LAST)

    assert result.success
    materialized = {
        event.partition
        for event in result.get_asset_materialization_events()
        if event.asset_key.path == ["task_sla"]
    }
    assert len(materialized) == 14  # fourteen days, one run
    assert all(check_results(result).values()), check_results(result)
    assert_matches_replay(FIRST, LAST)
    # Spot checks the replay cannot get wrong in the same way as the pipeline.
    quiet = AnalyticsSnapshot.objects.get(project=history["quiet"], day=dt.date(2025, 1, 5))
    assert (quiet.tasks_created, quiet.end_open, quiet.time_open_seconds, quiet.lead_time_p50) == (
        0,
        0,
        0,
        None,
    )
    assert not AnalyticsSnapshot.objects.filter(
        project=history["later"], day__lt=dt.date(2025, 1, 10)
    ).exists()
    reopened_day = AnalyticsSnapshot.objects.get(project=history["ops"], day=dt.date(2025, 1, 6))
    assert (reopened_day.tasks_completed, reopened_day.tasks_reopened) == (1, 1)
    stale = TaskSLA.objects.get(task=history["stale"], day=LAST)
    assert (stale.seconds, stale.status, stale.start_target_state) == (86_400, "OPEN", "breached")
    assert PartitionBuild.objects.filter(day__range=(FIRST, LAST)).count() == 14

    # What the dashboards and the API will read.
    series = project_daily_series(project_id=history["ops"].id, first_day=FIRST, last_day=dt.date(2025, 1, 7))
    overview = projects_overview()
    assert [row.day for row in series.rows] == days(FIRST, dt.date(2025, 1, 7))
    assert series.as_of == PartitionBuild.objects.get(day=dt.date(2025, 1, 7)).built_at
    assert overview.day == LAST and overview.as_of == PartitionBuild.objects.get(day=LAST).built_at
    assert {row.project_id for row in overview.rows} == {
        history["ops"].id,
        history["quiet"].id,
        history["later"].id,
    }


def test_rebuilding_changes_nothing_unless_the_log_changed_and_backdated_activity_refreshes_old_days(
    instance: dg.DagsterInstance, writer: ActivityWriter, in_tenant: Tenant
) -> None:
    history = write_history(writer)
    build(instance, in_tenant.slug, FIRST, LAST, checks=False)
    rows = lambda model: {  # noqa: E731
        row["id"]: row for row in model.objects.extra(select={"xmin": "xmin::text"}).values()
    }
    sla_before, snapshots_before = rows(TaskSLA), rows(AnalyticsSnapshot)

    rerun = build(instance, in_tenant.slug, FIRST, LAST, checks=False)

    # Not one row written: same values, same built_at, same physical row version (xmin).
    assert rows(TaskSLA) == sla_before
    assert rows(AnalyticsSnapshot) == snapshots_before
    written = {
        event.materialization.metadata["rows_written"].value
        for event in rerun.get_asset_materialization_events()
        if event.asset_key.path[0] in ("task_sla", "analytics_snapshot")
    }
    assert written == {0}

    # Imported history, written now (highest seq) but dated days back, and a backdated delete.
    imported = writer.create(history["ops"], at("2025-01-04", "07:00"), priority="HIGH", title="Imported")
    writer.move(imported, "IN_PROGRESS", at("2025-01-04", "08:00"))
    writer.move(imported, "DONE", at("2025-01-09", "18:30"))
    writer.delete(history["stale"], at("2025-01-08", "12:00"))
    result = build(instance, in_tenant.slug, dt.date(2025, 1, 4), LAST)  # what the dirty-day sensor asks

    assert result.success and all(check_results(result).values()), check_results(result)
    assert_matches_replay(FIRST, LAST)
    assert not TaskSLA.objects.filter(task=history["stale"], day__gte=dt.date(2025, 1, 8)).exists()
    changed = {
        row["day"]
        for row in rows(AnalyticsSnapshot).values()
        if row["xmin"] != snapshots_before.get(row["id"], {}).get("xmin")
    }
    assert min(changed) == dt.date(2025, 1, 4)  # days before the earliest change are untouched


def test_sla_policies_of_the_tenant_replace_the_defaults(
    instance: dg.DagsterInstance, writer: ActivityWriter, in_tenant: Tenant
) -> None:
    history = write_history(writer)
    SlaPolicy.objects.create(
        priority="LOW", time_to_start_seconds=10 * 86_400, time_to_done_seconds=30 * 86_400
    )

    build(instance, in_tenant.slug, dt.date(2025, 1, 8), dt.date(2025, 1, 10), checks=False)

    assert_matches_replay(dt.date(2025, 1, 8), dt.date(2025, 1, 10))
    stale = TaskSLA.objects.get(task=history["stale"], day=dt.date(2025, 1, 10))
    assert stale.start_target_state == "open"  # 7 days OPEN: breached by default (3 d), not under 10 d


def test_a_tenant_added_after_the_start_date(
    instance: dg.DagsterInstance, make_user: Callable[..., Any], tenants: dict[str, Tenant]
) -> None:
    """`beta` (created long after ANALYTICS_START_DATE) is unknown to Dagster until the tenant sensor
    adds it; its history starts in March, so the days before have no rows, and alpha is not touched."""
    late = tenants["beta"]
    instance.delete_dynamic_partition(TENANTS.name, late.slug)
    sensor = tenant_partitions_sensor(
        dg.build_sensor_context(instance=instance, resources={"tenant_db": TenantDatabase()})
    )
    assert isinstance(sensor, dg.SensorResult)
    (added,) = sensor.dynamic_partitions_requests or []
    assert list(added.partition_keys) == [late.slug]
    instance.add_dynamic_partitions(TENANTS.name, list(added.partition_keys))
    with schema_context(late.schema_name):
        w = ActivityWriter(make_user(tenant=late, role=Role.ADMIN))
        project = w.project("NEW", created_at=at("2025-03-10", "09:00"))
        task = w.create(project, at("2025-03-10", "10:00"))
        w.move(task, "IN_PROGRESS", at("2025-03-11", "10:00"))
        w.move(task, "DONE", at("2025-03-12", "10:00"))

    result = build(instance, late.slug, dt.date(2025, 3, 7), dt.date(2025, 3, 13))

    assert result.success and all(check_results(result).values())
    with schema_context(late.schema_name):
        assert not AnalyticsSnapshot.objects.filter(day__lt=dt.date(2025, 3, 10)).exists()
        assert AnalyticsSnapshot.objects.filter(day__gte=dt.date(2025, 3, 10)).count() == 4
        assert_matches_replay(dt.date(2025, 3, 7), dt.date(2025, 3, 13))
    with schema_context(tenants["alpha"].schema_name):
        assert not AnalyticsSnapshot.objects.exists()


def test_building_new_figures_invalidates_the_tenants_cached_analytics(
    instance: dg.DagsterInstance, writer: ActivityWriter, in_tenant: Tenant
) -> None:
    write_history(writer)
    before = current_version()
    assert build(instance, in_tenant.slug, FIRST, FIRST).success
    assert current_version() > before, "cached API and dashboard answers must not outlive a rebuild"
