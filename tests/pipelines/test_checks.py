"""Asset checks: they pass on what the pipeline built and fail on tampered projections."""

from __future__ import annotations

import datetime as dt

import dagster as dg
from django.db import connection
from django.utils import timezone

from analytics.models import AnalyticsSnapshot, TaskSLA
from pipelines.assets import ANALYTICS_SNAPSHOT, ASSETS
from pipelines.checks import RUN_CHECKS, sample_days
from pipelines.definitions import defs
from pipelines.partitions import TENANTS, TenantDays, partition_key
from pipelines.resources import TenantDatabase
from tenancy.models import Tenant
from tests.pipelines.activity import ActivityWriter, at
from tests.pipelines.helpers import build, check_results, memory_instance

FIRST, LAST = dt.date(2025, 2, 1), dt.date(2025, 2, 4)


def run_checks_alone(instance: dg.DagsterInstance, tenant: str) -> dict[str, bool]:
    """What "Execute checks" in the UI does: the checks without their assets, scoped by config."""
    scope = {"tenant": tenant, "first_day": FIRST.isoformat(), "last_day": LAST.isoformat()}
    result = dg.materialize(
        [*ASSETS, *RUN_CHECKS],
        instance=instance,
        resources={"tenant_db": TenantDatabase()},
        selection=dg.AssetSelection.checks(*RUN_CHECKS),
        run_config={"ops": {check.node_def.name: {"config": scope} for check in RUN_CHECKS}},
    )
    return check_results(result)


def test_checks_pass_on_built_data_and_fail_on_tampered_projections(
    instance: dg.DagsterInstance, writer: ActivityWriter, in_tenant: Tenant
) -> None:
    project = writer.project("CHK", created_at=at("2025-01-20"))
    for hour in ("09", "10", "11"):
        task = writer.create(project, at("2025-02-02", f"{hour}:00"))
        writer.move(task, "IN_PROGRESS", at("2025-02-02", f"{hour}:30"))
        writer.move(task, "DONE", at("2025-02-03", f"{hour}:00"))
    result = build(instance, in_tenant.slug, FIRST, LAST)
    assert all(check_results(result).values()), check_results(result)

    row = TaskSLA.objects.filter(day=dt.date(2025, 2, 2), status="OPEN").first()
    assert row is not None
    TaskSLA.objects.filter(pk=row.pk).update(seconds=-5)
    TaskSLA.objects.filter(day=dt.date(2025, 2, 3), status="IN_PROGRESS").update(seconds=86_000)
    AnalyticsSnapshot.objects.filter(day=dt.date(2025, 2, 3)).update(tasks_completed=2)
    AnalyticsSnapshot.objects.filter(day=dt.date(2025, 2, 4)).update(end_done=4, cycle_time_p50=-1)

    assert run_checks_alone(instance, in_tenant.slug) == {
        "task_sla:no_negative_durations": False,
        "task_sla:time_in_statuses_within_a_day": False,
        "analytics_snapshot:completed_matches_log": False,
        "analytics_snapshot:wip_matches_replay": False,
        "analytics_snapshot:no_negative_durations": False,
    }


def test_freshness_warns_until_every_tenant_has_yesterday_built(tenants: dict[str, Tenant]) -> None:
    yesterday = timezone.now().date() - dt.timedelta(days=1)
    connection.set_schema_to_public()
    with memory_instance() as instance:
        instance.add_dynamic_partitions(TENANTS.name, ["alpha", "beta"])
        freshness_job = defs.resolve_job_def("analytics_freshness_job")

        def evaluate() -> dg.AssetCheckEvaluation:
            result = freshness_job.execute_in_process(instance=instance)
            (evaluation,) = result.get_asset_check_evaluations()
            return evaluation

        stale = evaluate()
        assert not stale.passed and stale.severity == dg.AssetCheckSeverity.WARN
        assert stale.metadata["stale"].value == "alpha, beta"
        for tenant in ("alpha", "beta"):
            instance.report_runless_asset_event(
                dg.AssetMaterialization(
                    ANALYTICS_SNAPSHOT, partition=partition_key(tenant=tenant, day=yesterday)
                )
            )
        assert evaluate().passed


def test_reconciliation_samples_long_ranges_evenly() -> None:
    year = TenantDays("alpha", dt.date(2025, 1, 1), dt.date(2025, 12, 31))
    sampled = sample_days(year)
    assert len(sampled) == 14 and sampled[0] == year.first_day and sampled[-1] == year.last_day
    assert sample_days(TenantDays("alpha", FIRST, LAST)) == [FIRST + dt.timedelta(days=n) for n in range(4)]
