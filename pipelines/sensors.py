"""Sensors: tenants in and out of the `tenant` partition dimension; days marked dirty in Redis → runs."""

import datetime as dt
from collections import defaultdict

import dagster as dg
from django.utils import timezone

from analytics.dirty import take_dirty_days
from pipelines.jobs import analytics_job
from pipelines.partitions import START_DATE, TENANTS, TENANTS_NAME, TenantDays, range_tags
from pipelines.resources import TenantDatabase

DIRTY_DAYS_PER_TICK = 1000


@dg.sensor(minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING)
def tenant_partitions_sensor(
    context: dg.SensorEvaluationContext, tenant_db: TenantDatabase
) -> dg.SensorResult | dg.SkipReason:
    """Adds a partition for each new tenant and removes those of deleted tenants."""
    current = set(tenant_db.tenant_slugs())
    known = set(context.instance.get_dynamic_partitions(TENANTS_NAME))
    added, removed = sorted(current - known), sorted(known - current)
    if not added and not removed:
        return dg.SkipReason(f"{len(known)} tenants, none added or deleted.")
    requests: list[dg.AddDynamicPartitionsRequest | dg.DeleteDynamicPartitionsRequest] = []
    if added:
        requests.append(TENANTS.build_add_request(added))
    if removed:
        requests.append(TENANTS.build_delete_request(removed))
    context.log.info(f"Tenants added: {added or 'none'}; removed: {removed or 'none'}.")
    return dg.SensorResult(dynamic_partitions_requests=requests)


@dg.sensor(job=analytics_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING)
def dirty_days_sensor(
    context: dg.SensorEvaluationContext, tenant_db: TenantDatabase
) -> dg.SensorResult | dg.SkipReason:
    """Takes the "(tenant, day) changed" markers from Redis (analytics.dirty) and launches one run per
    tenant over [earliest marked day, today]: a change on day D also moves every later day's end-of-day
    figures, so a backdated change rebuilds from its day on."""
    markers = take_dirty_days(DIRTY_DAYS_PER_TICK)
    if not markers:
        return dg.SkipReason("No day marked dirty.")
    today = timezone.now().astimezone(dt.UTC).date()
    earliest: dict[str, dt.date] = defaultdict(lambda: today)
    for marker in markers:
        earliest[marker.tenant_slug] = min(earliest[marker.tenant_slug], max(marker.day, START_DATE))
    existing = set(tenant_db.tenant_slugs())
    known = set(context.instance.get_dynamic_partitions(TENANTS_NAME))
    spans = [
        TenantDays(tenant, first_day, today)
        for tenant, first_day in sorted(earliest.items())
        if tenant in existing and first_day <= today
    ]
    dropped = sorted(set(earliest) - existing)
    if dropped:
        context.log.info(f"Markers of unknown tenants dropped: {dropped}.")
    # A tenant created a moment ago may not have its partition yet; add it in the same tick.
    missing = sorted({span.tenant for span in spans} - known)
    return dg.SensorResult(
        run_requests=[dg.RunRequest(tags={**range_tags(span), "trigger": "dirty-days"}) for span in spans],
        dynamic_partitions_requests=[TENANTS.build_add_request(missing)] if missing else [],
    )


SENSORS = [tenant_partitions_sensor, dirty_days_sensor]
