"""Test-only jobs and hooks, imported by the test worker with `--include tests.jobs.worker_extras`.

They talk to the test through Redis keys under `tests:` (in REDIS_URL's database), so the test can see
what happened inside the worker process and steer it (make a job fail, make the worker hang).
"""

import os
import time
from typing import Any

import redis
from celery.signals import task_postrun, task_prerun
from django.conf import settings
from django.db import connection

from background.base import TenantJob
from config.celery import app
from tenancy.models import Tenant


def test_redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, decode_responses=True)


@app.task(base=TenantJob, bind=True, name="tests.record_schema")
def record_schema(self: Any, *, tenant: Tenant, marker: str) -> None:
    """Which schema the job body ran in, as the database connection itself reports it."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        (schema,) = cursor.fetchone()
    test_redis().hset(f"tests:schema:{marker}", mapping={"schema": schema, "tenant": tenant.slug})


@app.task(base=TenantJob, bind=True, name="tests.fail_while_flagged")
def fail_while_flagged(self: Any, *, tenant: Tenant, marker: str) -> None:
    """Fails on every try while `tests:fail:<marker>` exists; afterwards succeeds and says so."""
    client = test_redis()
    client.incr(f"tests:attempts:{marker}")
    if client.exists(f"tests:fail:{marker}"):
        raise RuntimeError(f"failing on purpose ({marker})")
    client.set(f"tests:done:{marker}", tenant.slug)


@task_prerun.connect
def _count_runs(task_id: str | None = None, task: Any = None, kwargs: Any = None, **_: Any) -> None:
    if task is not None and isinstance(kwargs, dict) and "event_id" in kwargs:
        test_redis().incr(f"tests:runs:{task.name}:{kwargs['event_id']}")


@task_postrun.connect
def _hang_after_commit(task: Any = None, **_: Any) -> None:
    """With HANG_AFTER_JOB=<job name> in the environment, the first run of that job hangs after its body
    (its transaction committed) and before the acknowledgement — the moment to SIGKILL the worker."""
    if task is None or task.name != os.environ.get("HANG_AFTER_JOB"):
        return
    client = test_redis()
    if client.set("tests:hang:claimed", "1", nx=True):
        client.set("tests:hang:hanging", str(os.getpid()))
        time.sleep(600)
