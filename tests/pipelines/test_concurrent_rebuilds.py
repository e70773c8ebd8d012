"""Two rebuilds of one tenant's days at once take turns instead of racing for the same keys.

The pipeline writes projection rows with plain INSERTs (no ON CONFLICT), which is safe only because a
rebuild holds the tenant's lock on the table while it compares and writes. Here a second database session
holds that lock, as a concurrent run would, and the rebuild must wait for it, then write normally.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from django.db import connection

from analytics.models import TaskSLA
from analytics.selectors import sla_targets
from pipelines.partitions import TenantDays
from pipelines.projections import rebuild_lock_name, rebuild_projections
from pipelines.resources import TenantDatabase
from tenancy.models import Tenant
from tests.live import live_database_url
from tests.pipelines.activity import ActivityWriter, at

GIVE_UP_SECONDS = 60  # only a hang guard: the rebuild normally queues within milliseconds


@contextmanager
def other_session() -> Iterator[psycopg.Connection]:
    with psycopg.connect(live_database_url(), autocommit=True) as other:
        yield other


def release_once_waited_on(
    other: psycopg.Connection, lock: str, waiter_pid: int, seen: threading.Event, finished: threading.Event
) -> None:
    """Poll pg_locks until the waiter's backend queues for `lock`, note it, then release the lock. Gives
    up when the waiter finished without queueing (the failure this test looks for)."""
    deadline = dt.datetime.now(tz=dt.UTC) + dt.timedelta(seconds=GIVE_UP_SECONDS)
    while not finished.is_set() and dt.datetime.now(tz=dt.UTC) < deadline:
        waiting = other.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND pid = %s",
            [waiter_pid],
        ).fetchone()
        if waiting and waiting[0]:
            seen.set()
            break
        finished.wait(0.05)
    other.execute("SELECT pg_advisory_unlock(hashtext(%s))", [lock])


def test_a_rebuild_waits_for_the_tenant_lock_then_writes(writer: ActivityWriter, in_tenant: Tenant) -> None:
    ops = writer.project("OPS", created_at=at("2025-01-01", "08:00"))
    task = writer.create(ops, at("2025-01-02", "09:00"))
    writer.move(task, "IN_PROGRESS", at("2025-01-03", "10:00"))
    lock = rebuild_lock_name(schema_name=in_tenant.schema_name, table=TaskSLA._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        own_pid = cursor.fetchone()[0]

    waited, finished = threading.Event(), threading.Event()
    with other_session() as other:
        other.execute("SELECT pg_advisory_lock(hashtext(%s))", [lock])
        releaser = threading.Thread(
            target=release_once_waited_on, args=(other, lock, own_pid, waited, finished)
        )
        releaser.start()
        now = at("2025-01-05")
        with TenantDatabase().tenant(in_tenant.slug) as session:
            stats = rebuild_projections(
                session,
                TenantDays(in_tenant.slug, dt.date(2025, 1, 2), dt.date(2025, 1, 4)),
                now=now,
                targets=sla_targets(),
                built_at=now,
            )
        finished.set()
        releaser.join()

    assert waited.is_set(), "the rebuild wrote without waiting for the tenant's lock"
    # Day 2 and day 4 OPEN/IN_PROGRESS, day 3 both: four rows, all new.
    assert stats.task_sla.written == TaskSLA.objects.filter(task_id=task.pk).count() == 4
