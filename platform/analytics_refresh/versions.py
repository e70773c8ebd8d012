"""Cache versions for analytics: how a task change invalidates every cached analytics answer at once.

The scheme (for the analytics API and dashboards):
- Each tenant keeps two counters in the tenant cache (`api.cache.tenant_cache`, so the keys are prefixed
  with the tenant's schema): one per project, `analytics-version:project:<project uuid>`, and one for the
  whole tenant, `analytics-version:tenant`.
- A reader builds its cache key with `versioned_key(name=..., project_id=...)`, which embeds the current
  counter; a task change bumps the counters (`bump_versions`, run by the job on every task event), so the
  next read misses and recomputes. Old entries are never deleted; they expire by their own timeout.
- A missing counter reads as 0 (fresh Redis). Bumps use INCR, so concurrent bumps are never lost.

Versioning instead of deleting: the set of cached keys of a project (every date range, grouping and
filter) is open-ended, and a version makes all of them unreachable in one O(1) write.
"""

import uuid
from functools import lru_cache

import redis
from django.conf import settings
from django.core.cache import caches

from api.cache import MISSING, tenant_cache

TENANT_VERSION_KEY = "analytics-version:tenant"


def project_version_key(project_id: uuid.UUID | str) -> str:
    return f"analytics-version:project:{project_id}"


def _read(key: str) -> int:
    value = tenant_cache.get(key)
    return 0 if value is MISSING or value is None else int(value)


def current_version(*, project_id: uuid.UUID | str | None = None) -> int:
    """The project's counter, or the tenant-wide one when `project_id` is None (answers across projects)."""
    return _read(TENANT_VERSION_KEY if project_id is None else project_version_key(project_id))


def versioned_key(*, name: str, project_id: uuid.UUID | str | None = None) -> str:
    """A cache key for analytics answer `name` (which must encode every parameter of the answer)."""
    scope = f"project:{project_id}" if project_id is not None else "tenant"
    return f"analytics:{scope}:v{current_version(project_id=project_id)}:{name}"


def bump_versions(*, project_id: uuid.UUID | str | None) -> None:
    """Invalidate the project's and the tenant's cached analytics. Raises when Redis is unavailable, so
    the calling job retries: an invalidation that silently failed would leave stale answers cached.

    The counters are plain Redis integers under the cache's own (schema-prefixed) key names, so the cache
    reads them back as ints; INCR creates a missing one at 1, and both go out in one round trip.
    """
    cache = caches["default"]
    keys = [TENANT_VERSION_KEY] + ([project_version_key(project_id)] if project_id else [])
    with _redis().pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.incr(cache.make_key(key))
        pipe.execute()


@lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)


def _redis() -> redis.Redis:
    return _client(settings.REDIS_URL)
