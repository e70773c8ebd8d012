"""Liveness and readiness probes for process managers and load balancers."""

import logging

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from redis.backoff import NoBackoff
from redis.retry import Retry

from api.cache import FALLBACKS

logger = logging.getLogger(__name__)


def healthz(request: HttpRequest) -> JsonResponse:
    """The process is alive and serving; checks nothing else, so a database outage never restarts us."""
    return JsonResponse({"status": "ok"})


def _postgres_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:  # any failure means "not ready"; the log keeps the reason
        logger.warning("readiness: PostgreSQL does not answer", exc_info=True)
        return False


def _redis_ok() -> bool:
    client = redis.Redis.from_url(
        settings.REDIS_URL,
        socket_timeout=settings.REDIS_SOCKET_TIMEOUT * 4,
        socket_connect_timeout=settings.REDIS_SOCKET_TIMEOUT * 4,
        retry=Retry(NoBackoff(), 0),
    )
    try:
        return bool(client.ping())
    except redis.RedisError:
        logger.warning("readiness: Redis does not answer", exc_info=True)
        return False
    finally:
        client.close()


def readyz(request: HttpRequest) -> JsonResponse:
    """Ready when PostgreSQL and Redis both answer; otherwise 503 naming the failing part.

    `redis_fallbacks` counts, in the worker process that answered, the requests served without Redis
    since it started (rate limit failed open, cache bypassed): a quick look at a Redis incident's reach.
    """
    checks = {"postgres": _postgres_ok(), "redis": _redis_ok()}
    failing = [name for name, ok in checks.items() if not ok]
    body = {
        "status": "ok" if not failing else "unavailable",
        "checks": {name: "ok" if ok else "failing" for name, ok in checks.items()},
        "failing": failing,
        "redis_fallbacks": {"scope": "this worker process", **FALLBACKS.snapshot()},
    }
    return JsonResponse(body, status=200 if not failing else 503)
