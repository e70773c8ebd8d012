"""The Redis markers "(tenant, day) needs a refresh": left by background jobs, taken by the Dagster sensor.

Key `analytics:dirty-days` (in the database of REDIS_URL) is a sorted set. Each member is
`<tenant slug>|<YYYY-MM-DD>`; its score is the Unix time the day was first marked, so marking a day twice
before the sensor runs is one refresh, and the sensor takes the longest-waiting days first. `ZPOPMIN`
takes and removes them in one atomic step, so two sensor ticks never refresh the same marker twice.

A marker taken by a sensor tick that then fails is lost; the daily schedule rebuilds yesterday anyway.
A change to day D also changes later days (work in progress, ages, SLA clocks): the sensor refreshes from
the earliest marked day through today, so callers mark only the day the change happened on.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from functools import lru_cache

import redis
from django.conf import settings

DIRTY_DAYS_KEY = "analytics:dirty-days"
_SEPARATOR = "|"


@dataclass(frozen=True, order=True)
class DirtyDay:
    tenant_slug: str
    day: dt.date


@lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0, decode_responses=True)


def _redis() -> redis.Redis:
    return _client(settings.REDIS_URL)


def mark_day_dirty(*, tenant_slug: str, day: dt.date) -> None:
    """Ask for (tenant, day) to be rebuilt; a day already waiting keeps its place in the queue."""
    if _SEPARATOR in tenant_slug:
        raise ValueError(f"Invalid tenant slug {tenant_slug!r}.")
    _redis().zadd(DIRTY_DAYS_KEY, {f"{tenant_slug}{_SEPARATOR}{day.isoformat()}": time.time()}, nx=True)


def take_dirty_days(limit: int) -> list[DirtyDay]:
    """Remove and return up to `limit` markers, longest-waiting first. Malformed members are dropped."""
    if limit <= 0:
        return []
    popped: list[tuple[str, float]] = _redis().zpopmin(DIRTY_DAYS_KEY, limit)  # type: ignore[assignment]
    result = []
    for member, _score in popped:
        slug, _, day = member.partition(_SEPARATOR)
        try:
            result.append(DirtyDay(tenant_slug=slug, day=dt.date.fromisoformat(day)))
        except ValueError:
            continue
    return result


def pending_dirty_days() -> int:
    """How many markers wait (for monitoring)."""
    return int(_redis().zcard(DIRTY_DAYS_KEY))
