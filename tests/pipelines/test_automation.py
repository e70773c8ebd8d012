"""The dirty-day markers in Redis, the sensors that turn tenants and markers into partitions and runs, and
the daily schedule."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import dagster as dg
import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from analytics.dirty import (
    DIRTY_DAYS_KEY,
    DirtyDay,
    _redis,
    mark_day_dirty,
    pending_dirty_days,
    take_dirty_days,
)
from analytics.models import PartitionBuild
from pipelines.definitions import defs
from pipelines.partitions import RANGE_END_TAG, RANGE_START_TAG, TENANTS, partition_key
from pipelines.resources import TenantDatabase
from pipelines.schedules import daily_analytics_schedule
from pipelines.sensors import dirty_days_sensor, tenant_partitions_sensor
from tenancy.models import Tenant

pytestmark = pytest.mark.django_db


@pytest.fixture
def markers() -> Iterator[None]:
    """An empty marker set before and after (Redis is shared by the whole test run)."""
    _redis().delete(DIRTY_DAYS_KEY)
    yield
    _redis().delete(DIRTY_DAYS_KEY)


def sensor_context(instance: dg.DagsterInstance) -> dg.SensorEvaluationContext:
    return dg.build_sensor_context(instance=instance, resources={"tenant_db": TenantDatabase()})


@pytest.mark.usefixtures("markers")
def test_marking_a_day_twice_is_one_marker_and_taking_is_oldest_first_and_atomic() -> None:
    mark_day_dirty(tenant_slug="alpha", day=dt.date(2025, 3, 2))
    mark_day_dirty(tenant_slug="beta", day=dt.date(2025, 3, 1))
    mark_day_dirty(tenant_slug="alpha", day=dt.date(2025, 3, 2))
    assert pending_dirty_days() == 2

    assert take_dirty_days(1) == [DirtyDay("alpha", dt.date(2025, 3, 2))]
    assert take_dirty_days(10) == [DirtyDay("beta", dt.date(2025, 3, 1))]
    assert take_dirty_days(10) == []
    with pytest.raises(ValueError, match="slug"):
        mark_day_dirty(tenant_slug="a|b", day=dt.date(2025, 3, 1))


def test_tenant_sensor_adds_new_tenants_and_removes_deleted_ones(instance: dg.DagsterInstance) -> None:
    instance.delete_dynamic_partition(TENANTS.name, "beta")
    instance.add_dynamic_partitions(TENANTS.name, ["deleted-long-ago"])

    result = tenant_partitions_sensor(sensor_context(instance))

    assert isinstance(result, dg.SensorResult)
    requests = {type(r).__name__: list(r.partition_keys) for r in result.dynamic_partitions_requests or []}
    assert requests == {
        "AddDynamicPartitionsRequest": ["beta"],
        "DeleteDynamicPartitionsRequest": ["deleted-long-ago"],
    }
    instance.add_dynamic_partitions(TENANTS.name, ["beta"])
    instance.delete_dynamic_partition(TENANTS.name, "deleted-long-ago")
    assert isinstance(tenant_partitions_sensor(sensor_context(instance)), dg.SkipReason)


@pytest.mark.usefixtures("markers")
def test_dirty_sensor_requests_one_run_per_tenant_from_the_earliest_marked_day_through_today(
    instance: dg.DagsterInstance, tenants: dict[str, Tenant]
) -> None:
    today = timezone.now().date()
    mark_day_dirty(tenant_slug="alpha", day=dt.date(2025, 3, 5))
    mark_day_dirty(tenant_slug="alpha", day=dt.date(2025, 3, 2))  # backdated: refresh from here on
    mark_day_dirty(tenant_slug="beta", day=today)
    mark_day_dirty(tenant_slug="no-such-tenant", day=today)
    instance.delete_dynamic_partition(TENANTS.name, "beta")  # a tenant whose partition is not added yet

    result = dirty_days_sensor(sensor_context(instance))

    assert isinstance(result, dg.SensorResult)
    ranges = {
        r.tags["tenant"]: (r.tags[RANGE_START_TAG], r.tags[RANGE_END_TAG]) for r in result.run_requests or []
    }
    assert ranges == {
        "alpha": ("2025-03-02|alpha", f"{today.isoformat()}|alpha"),
        "beta": (f"{today.isoformat()}|beta", f"{today.isoformat()}|beta"),
    }
    assert [list(r.partition_keys) for r in result.dynamic_partitions_requests or []] == [["beta"]]
    assert pending_dirty_days() == 0
    assert isinstance(dirty_days_sensor(sensor_context(instance)), dg.SkipReason)

    # The request is a runnable run of the analytics job: today's partition of beta.
    instance.add_dynamic_partitions(TENANTS.name, ["beta"])
    (beta,) = [r for r in result.run_requests or [] if r.tags["tenant"] == "beta"]
    run = defs.resolve_job_def("analytics_job").execute_in_process(instance=instance, tags=beta.tags)
    assert run.success
    assert {e.partition for e in run.get_asset_materialization_events()} == {f"{today.isoformat()}|beta"}
    with schema_context(tenants["beta"].schema_name):
        assert PartitionBuild.objects.filter(day=today).exists()


def test_daily_schedule_builds_yesterday_for_every_tenant_one_run_each(instance: dg.DagsterInstance) -> None:
    context = dg.build_schedule_context(
        instance=instance, scheduled_execution_time=dt.datetime(2025, 3, 10, 0, 15, tzinfo=dt.UTC)
    )

    requests = list(daily_analytics_schedule(context))

    assert [(r.partition_key, r.run_key, r.tags["tenant"]) for r in requests] == [
        (partition_key(tenant="alpha", day=dt.date(2025, 3, 9)), "2025-03-09|alpha", "alpha"),
        (partition_key(tenant="beta", day=dt.date(2025, 3, 9)), "2025-03-09|beta", "beta"),
    ]
