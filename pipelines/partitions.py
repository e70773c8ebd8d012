"""Partitions: UTC day x tenant. A partition key reads `2025-03-01|acme` (dimensions sorted by name)."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import groupby

import dagster as dg

DATE = "date"
TENANT = "tenant"


def _start_date() -> dt.date:
    raw = os.environ.get("ANALYTICS_START_DATE", "2025-01-01")
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"ANALYTICS_START_DATE must be a date like 2025-01-01, got {raw!r}") from None


START_DATE = _start_date()

# end_offset=1: today is a partition too, so the dirty-day sensor can keep today's figures minutes old.
DAYS = dg.DailyPartitionsDefinition(start_date=START_DATE.isoformat(), timezone="UTC", end_offset=1)
# Keys are tenant slugs; the tenant sensor keeps them in step with the Tenant table.
TENANTS_NAME = "tenants"
TENANTS = dg.DynamicPartitionsDefinition(name=TENANTS_NAME)
PARTITIONS = dg.MultiPartitionsDefinition({DATE: DAYS, TENANT: TENANTS})

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


@dataclass(frozen=True)
class TenantDays:
    """Consecutive days of one tenant: the unit the assets compute in one pass."""

    tenant: str
    first_day: dt.date
    last_day: dt.date

    @property
    def days(self) -> list[dt.date]:
        count = (self.last_day - self.first_day).days + 1
        return [self.first_day + dt.timedelta(days=offset) for offset in range(count)]


def partition_key(*, tenant: str, day: dt.date) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({DATE: day.isoformat(), TENANT: tenant})


def range_tags(span: TenantDays) -> dict[str, str]:
    """Run tags that make one run cover `span` (the assets' single-run backfill policy reads them)."""
    return {
        RANGE_START_TAG: str(partition_key(tenant=span.tenant, day=span.first_day)),
        RANGE_END_TAG: str(partition_key(tenant=span.tenant, day=span.last_day)),
        "tenant": span.tenant,
    }


def tenant_spans(partition_keys: Iterable[str]) -> list[TenantDays]:
    """Group a run's partition keys into runs of consecutive days per tenant, tenants in slug order."""
    pairs = set()
    for key in partition_keys:
        parsed = key if isinstance(key, dg.MultiPartitionKey) else PARTITIONS.get_partition_key_from_str(key)
        dims = parsed.keys_by_dimension
        pairs.add((dims[TENANT], dt.date.fromisoformat(dims[DATE])))
    spans: list[TenantDays] = []
    for tenant, items in groupby(sorted(pairs), key=lambda pair: pair[0]):
        days = [day for _, day in items]
        start = previous = days[0]
        for day in days[1:]:
            if day != previous + dt.timedelta(days=1):
                spans.append(TenantDays(tenant, start, previous))
                start = day
            previous = day
        spans.append(TenantDays(tenant, start, previous))
    return spans


def split(span: TenantDays, max_days: int) -> Sequence[TenantDays]:
    """`span` cut into pieces of at most `max_days` (each piece is written in its own transaction)."""
    pieces = []
    first = span.first_day
    while first <= span.last_day:
        last = min(span.last_day, first + dt.timedelta(days=max_days - 1))
        pieces.append(TenantDays(span.tenant, first, last))
        first = last + dt.timedelta(days=1)
    return pieces
