"""The live servers of the security and reliability suites: gunicorn as in production, and a private Redis.

Live servers get a private Redis: the fuzzer and the attack suite spend login and per-address rate-limit
budgets that would otherwise outlive the run in a shared Redis and refuse the next run's logins.

The processes themselves, and why the data they read must be committed, are in tests/live.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from tests import live

# Generous limits: these suites measure isolation and failures, not the rate limiter (tests/redis does).
UNLIMITED = {"RATE_LIMIT_REQUESTS": "10000000", "RATE_LIMIT_USER_REQUESTS": "10000000"}


def gunicorn(
    *,
    database_url: str,
    redis_url: str,
    workers: int = 3,
    threads: int = 2,
    env: dict[str, str] | None = None,
) -> AbstractContextManager[live.LiveServer]:
    """The project under gunicorn on a free port, as in production (DEBUG off, access log on), with
    persistent database connections (DB_CONN_MAX_AGE=60: reused across requests and tenants)."""
    suite_env = {
        "CELERY_BROKER_URL": redis_url,
        "DB_CONN_MAX_AGE": "60",
        "WEBHOOKS_ALLOW_PRIVATE_URLS": "1",  # the worlds' webhooks point at 127.0.0.1 (nothing is sent)
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        **UNLIMITED,
        **(env or {}),
    }
    return live.gunicorn(
        database_url=database_url,
        redis_url=redis_url,
        workers=workers,
        threads=threads,
        production=True,
        access_log=True,
        log_level="info",
        env=suite_env,
        ready_timeout=60,
        stop_timeout=15,
    )


@contextmanager
def private_redis() -> Iterator[live.PrivateRedis]:
    server = live.PrivateRedis()
    try:
        server.start(timeout=15)
        yield server
    finally:
        server.close()
