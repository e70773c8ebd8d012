"""Redis-backed caches that never fail a request, and the outage bookkeeping shared with the rate limiter.

Django's `RedisCache` raises on every connection error. A cache is an optimisation, so when Redis is down
or slow the callers here get a miss (reads fall through to PostgreSQL) and writes are skipped, with a
warning in the log and a count in `FALLBACKS`.

Two aliases, two helpers (settings.CACHES):
- `public_cache`: cross-tenant data (the tenant row behind X-Tenant-ID, memberships). Keys are global,
  so they must name the tenant themselves.
- `tenant_cache`: data owned by the active tenant (e.g. analytics responses). django-tenants' key
  function prefixes every key with `connection.schema_name`, so the same key in two tenants is two
  entries and one tenant can never read the other's.

Never `cache.clear()`: Redis is shared with the rate limiter, other tenants and Celery. Invalidate keys.
"""

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Final, TypeVar

import redis
from django.core.cache import caches
from django.db import models, transaction

logger = logging.getLogger(__name__)

T = TypeVar("T")
M = TypeVar("M", bound=models.Model)


class _Missing:
    """The marker for "not in the cache (or the cache is unavailable)"; cached values may be None."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()

# A hung Redis costs a full socket timeout per call; after a failure we stop asking for this long, then
# try again. Short enough that everything resumes within about a second of Redis coming back.
BREAKER_COOLDOWN_SECONDS = 1.0

_REDIS_ERRORS = (redis.RedisError, OSError)


class FallbackCounters:
    """In-process counts of requests served without Redis (per worker process; /readyz shows them)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {"rate_limit_fail_open": 0, "cache_bypassed": 0}

    def add(self, name: str) -> None:
        with self._lock:
            self._counts[name] = self._counts.get(name, 0) + 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)


FALLBACKS = FallbackCounters()


class RedisBreaker:
    """Skips Redis for `cooldown` seconds after a failure, so a dead or hung Redis costs one timeout per
    second per process rather than one per request. Nothing is cached but the time of the last failure:
    the next call after the cooldown goes to Redis again (redis-py's pool reconnects on its own)."""

    def __init__(self, name: str, cooldown: float = BREAKER_COOLDOWN_SECONDS) -> None:
        self.name = name
        self.cooldown = cooldown
        self._open_until = 0.0

    def allows_call(self) -> bool:
        return time.monotonic() >= self._open_until

    def record_failure(self, error: BaseException) -> None:
        already_open = not self.allows_call()
        self._open_until = time.monotonic() + self.cooldown
        if not already_open:
            logger.warning(
                "Redis unavailable for %s (%s: %s); falling back", self.name, type(error).__name__, error
            )

    def reset(self) -> None:
        self._open_until = 0.0


class LocalMemo:
    """A per-process copy of recent reads, kept for a couple of seconds.

    Every tenant-scoped request reads the tenant row and a membership. From Redis each read costs a round
    trip plus Django building a fresh redis-py client (together ~0.2 ms of CPU), which the benchmark
    showed to be most of the middleware stack's cost. Invalidations clear the memo of the process that
    wrote at once; other processes serve the old value for at most `seconds`.
    """

    MAX_ENTRIES = 10_000

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._entries: dict[str, tuple[float, Any]] = {}

    def get(self, key: str) -> Any:
        entry = self._entries.get(key)
        if entry is None or entry[0] < time.monotonic():
            return MISSING
        return entry[1]

    def put(self, key: str, value: Any) -> None:
        if len(self._entries) >= self.MAX_ENTRIES:
            self._entries.clear()  # crude, but bounded; the next reads refill it from Redis
        self._entries[key] = (time.monotonic() + self.seconds, value)

    def forget(self, key: str) -> None:
        self._entries.pop(key, None)


class SafeCache:
    """A Django cache alias whose failures become misses and skipped writes, optionally fronted by a
    short per-process memo (`local_seconds`; only for keys that do not depend on the active schema)."""

    def __init__(self, alias: str, *, local_seconds: float = 0) -> None:
        self.alias = alias
        self.breaker = RedisBreaker(f"cache {alias!r}")
        self.local = LocalMemo(local_seconds) if local_seconds > 0 else None

    def _failed(self, error: BaseException) -> None:
        FALLBACKS.add("cache_bypassed")
        self.breaker.record_failure(error)

    def get(self, key: str) -> Any:
        """The cached value, or MISSING when absent or when Redis does not answer."""
        if self.local is not None and (value := self.local.get(key)) is not MISSING:
            return value
        if not self.breaker.allows_call():
            FALLBACKS.add("cache_bypassed")
            return MISSING
        try:
            value = caches[self.alias].get(key, MISSING)
        except _REDIS_ERRORS as error:
            self._failed(error)
            return MISSING
        if self.local is not None and value is not MISSING:
            self.local.put(key, value)
        return value

    def set(self, key: str, value: Any, timeout: float) -> None:
        if self.local is not None:
            self.local.put(key, value)
        if not self.breaker.allows_call():
            return
        try:
            caches[self.alias].set(key, value, timeout)
        except _REDIS_ERRORS as error:
            self._failed(error)

    def delete(self, key: str) -> None:
        """Always tries Redis, even while the breaker is open: a lost invalidation means stale data (bounded
        by the entry's timeout), a wasted timeout only means a slower write."""
        if self.local is not None:
            self.local.forget(key)
        try:
            caches[self.alias].delete(key)
        except _REDIS_ERRORS as error:
            logger.warning(
                "Cache invalidation of %r in %r failed; the entry expires by its timeout", key, self.alias
            )
            self._failed(error)

    def delete_now_and_on_commit(self, key: str) -> None:
        """Invalidate for a write in progress: now, and again after the commit, so a reader that cached
        the old row between the two (it could not see the uncommitted change) is corrected."""
        self.delete(key)
        transaction.on_commit(lambda: self.delete(key))

    def get_or_compute(self, key: str, compute: Callable[[], T], timeout: float) -> T:
        value = self.get(key)
        if value is not MISSING:
            return value
        fresh = compute()
        self.set(key, fresh, timeout)
        return fresh


# How long another worker process may serve a tenant row or membership after it was invalidated.
LOCAL_MEMO_SECONDS = 2.0

public_cache = SafeCache("public", local_seconds=LOCAL_MEMO_SECONDS)
tenant_cache = SafeCache("default")  # keys are prefixed with the active schema
# User rows read by JWT authentication (accounts.selectors.user_for_authentication). Process-local only:
# the read it saves is one primary-key lookup, and a Redis round trip would cost about as much.
user_memo = LocalMemo(LOCAL_MEMO_SECONDS)


def row_to_cache(instance: models.Model) -> dict[str, Any]:
    """A model row as plain column values: smaller than a pickled instance, and a deploy that changes the
    model's fields turns old entries into misses instead of half-filled objects."""
    return {field.attname: getattr(instance, field.attname) for field in instance._meta.concrete_fields}


def cached_row(
    model: type[M],
    *,
    get: Callable[[], Any],
    put: Callable[[dict[str, Any] | None], None],
    load: Callable[[], M | None],
    remember_absence: bool = False,
) -> M | None:
    """Read-through for one model row: the stored copy (a new instance on every call, so no caller sees
    another's changes) or, on a miss or an entry of another shape, `load()`, stored with `put`. A missing
    row is stored (as None) only with `remember_absence`: right for "not a member", which a stream of
    requests to a foreign tenant repeats, wrong for ids that may exist a moment later."""
    cached = get()
    if cached is None and remember_absence:
        return None
    if cached is not MISSING:
        row = row_from_cache(model, cached)
        if row is not None:
            return row
    row = load()
    if row is not None or remember_absence:
        put(None if row is None else row_to_cache(row))
    return row


def row_from_cache(model: type[M], data: Any) -> M | None:
    """The instance `row_to_cache` stored, loaded as if read from the database; None if the shape differs."""
    if not isinstance(data, dict):
        return None
    names = [field.attname for field in model._meta.concrete_fields]
    if set(names) != set(data):
        return None
    return model.from_db("default", names, [data[name] for name in names])
