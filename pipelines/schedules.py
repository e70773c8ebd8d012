"""Schedules: yesterday for every tenant, one run per tenant; the freshness check each morning."""

import datetime as dt

import dagster as dg

from pipelines.jobs import analytics_job, freshness_job
from pipelines.partitions import START_DATE, TENANTS_NAME, partition_key


@dg.schedule(
    job=analytics_job,
    cron_schedule="15 0 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
def daily_analytics_schedule(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
    """At 00:15 UTC, rebuild the day that just ended for every tenant, one run each (the run key makes a
    retried tick launch nothing twice)."""
    yesterday = context.scheduled_execution_time.astimezone(dt.UTC).date() - dt.timedelta(days=1)
    if yesterday < START_DATE:
        return []
    return [
        dg.RunRequest(
            run_key=f"{yesterday.isoformat()}|{tenant}",
            partition_key=partition_key(tenant=tenant, day=yesterday),
            tags={"tenant": tenant},
        )
        for tenant in sorted(context.instance.get_dynamic_partitions(TENANTS_NAME))
    ]


analytics_freshness_schedule = dg.ScheduleDefinition(
    name="analytics_freshness_schedule",
    job=freshness_job,
    cron_schedule="0 6 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="At 06:00 UTC, warn if yesterday's partition of any tenant is not built yet.",
)

SCHEDULES = [daily_analytics_schedule, analytics_freshness_schedule]
