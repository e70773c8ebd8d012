"""Nothing lost, nothing doubled: a broker outage during writes, and a worker killed mid-job."""

import os
import re
import signal
import time
from collections import Counter
from typing import Any

import pytest
import redis

from background.models import ProcessedEvent
from notifications.models import Notification
from tenancy.models import Tenant
from tests.jobs.helpers import in_tenant, make_cast, notifications_of, outbox_events
from tests.jobs.live import LiveStack
from tests.live import PrivateRedis, wait_until
from tracker.models import OutboxEvent, Status

pytestmark = pytest.mark.live_server

NOTIFY = "notifications.notify_task_event"
ANALYTICS = "analytics_refresh.on_task_event"

# Every wait below is "until this happened"; the deadline only stops a hang. It is not a latency budget:
# on a loaded machine (several suites at once) a relay sweep, a worker's reconnection (it backs off 2, 4,
# 6... s while the broker is away) and a worker's boot each take many times what they take when it is quiet.
HANG_GUARD = 180.0


def _notified_events(tenant: Tenant, event_ids: list[int]) -> Counter[tuple[int, str]]:
    """(recipient, cause) → how many notifications; a cause is `outbox:<event id>`."""
    keys = [f"outbox:{event_id}" for event_id in event_ids]
    with in_tenant(tenant):
        rows = Notification.objects.filter(dedupe_key__in=keys).values_list("recipient_id", "dedupe_key")
        return Counter(rows)


def _processed(tenant: Tenant, job: str, event_ids: list[int]) -> int:
    with in_tenant(tenant):
        return ProcessedEvent.objects.filter(job=job, key__in=[f"outbox:{i}" for i in event_ids]).count()


def test_with_the_broker_stopped_during_writes_every_event_is_delivered_exactly_once(
    live_stack: LiveStack, committed: None, jobs_tenant: Tenant, member: Any
) -> None:
    live_stack.stop_default()
    broker = PrivateRedis(durable=True)
    broker.start()
    relay = worker = None
    try:
        relay = live_stack.launch_relay(name="relay-outage", CELERY_BROKER_URL=broker.url)
        worker = live_stack.launch_worker(name="worker-outage", CELERY_BROKER_URL=broker.url)
        live_stack.started(relay, worker)
        cast = make_cast(tenant=jobs_tenant, member=member)
        tasks = [cast.task() for _ in range(4)]
        created = [outbox_events(jobs_tenant, task=task)[0].id for task in tasks]
        wait_until(
            lambda: _processed(jobs_tenant, ANALYTICS, created) == 4, timeout=HANG_GUARD, what="a calm start"
        )

        broker.stop()
        for task in tasks:  # committed while nothing can be published
            cast.move(task, Status.IN_PROGRESS)
            cast.move(task, Status.BLOCKED)
        events = [
            event.id
            for task in tasks
            for event in outbox_events(jobs_tenant, task=task, event_type="task.status_changed")
        ]
        assert len(events) == 8

        # The relay publishes a tenant's unsent rows oldest first and stops at the first it cannot publish:
        # that may be an older row than these eight, one the calm start's jobs wrote afterwards (an email
        # request). So the failed attempt it keeps is looked for on any unsent row of the tenant.
        def kept_after_failing() -> bool:
            with in_tenant(jobs_tenant):
                unsent = OutboxEvent.objects.filter(sent_at__isnull=True, attempts__gte=1)
                return unsent.exclude(last_error="").exists()

        wait_until(
            lambda: "publishing failed" in relay.log() and kept_after_failing(),
            timeout=HANG_GUARD,
            what="the relay to fail and keep the rows",
        )
        with in_tenant(jobs_tenant):
            assert not OutboxEvent.objects.filter(id__in=events, sent_at__isnull=False).exists()
        assert not _notified_events(jobs_tenant, events)

        broker.start()  # same port, same append-only file

        expected = {
            (user.pk, f"outbox:{event_id}") for event_id in events for user in (cast.assignee, cast.reporter)
        }
        wait_until(
            lambda: set(_notified_events(jobs_tenant, events)) == expected,
            timeout=HANG_GUARD,
            what="every notification",
        )
        wait_until(
            lambda: _processed(jobs_tenant, ANALYTICS, events) == len(events),
            timeout=HANG_GUARD,
            what="every analytics job",
        )
        counts = _notified_events(jobs_tenant, events)
        assert set(counts.values()) == {1}, counts
        assert _processed(jobs_tenant, NOTIFY, events) == len(events)

        # The relay publishes a batch inside its transaction and commits `sent_at` after the last publish,
        # so a worker can finish every job before that commit lands: the rows must end up marked sent (or
        # they would be published again and again), and nothing orders that before the jobs' effects.
        def all_marked_sent() -> bool:
            with in_tenant(jobs_tenant):
                return not OutboxEvent.objects.filter(id__in=events, sent_at__isnull=True).exists()

        wait_until(all_marked_sent, timeout=HANG_GUARD, what="the relay to mark every event sent")
    finally:
        for process in (relay, worker):
            if process is not None:
                process.stop()
        broker.close()


def test_a_worker_killed_mid_job_has_the_job_redelivered_without_a_duplicate_notification(
    live: LiveStack, committed: None, jobs_tenant: Tenant, member: Any, test_redis: redis.Redis
) -> None:
    # The default relay stays; the worker is replaced by one that hangs after the notification job's
    # commit, before its acknowledgement, and whose broker hands unacknowledged messages out again quickly.
    live.stop_worker()
    for key in ("tests:hang:claimed", "tests:hang:hanging"):
        test_redis.delete(key)
    visibility_timeout = 2.0
    quick_restore = {"CELERY_VISIBILITY_TIMEOUT": str(int(visibility_timeout))}
    doomed = live.launch_worker(name="worker-doomed", pool="solo", HANG_AFTER_JOB=NOTIFY, **quick_restore)
    live.started(doomed)
    successor = None
    try:
        cast = make_cast(tenant=jobs_tenant, member=member)
        task = cast.task()
        cast.move(task, Status.IN_PROGRESS)
        [event] = outbox_events(jobs_tenant, task=task, event_type="task.status_changed")

        hanging_pid = wait_until(
            lambda: test_redis.get("tests:hang:hanging"),
            timeout=HANG_GUARD,
            what="the job to hang after commit",
        )
        hung_at = time.monotonic()
        assert int(hanging_pid) == doomed.popen.pid  # type: ignore[union-attr]
        assert len(notifications_of(jobs_tenant, task=task)) == 2  # committed, not acknowledged
        os.kill(int(hanging_pid), signal.SIGKILL)
        doomed.popen.wait(timeout=10)  # type: ignore[union-attr]

        # Redis hands an unacknowledged message out again once it is older than the visibility timeout; a
        # worker that starts after that point takes it back at once.
        time.sleep(max(0.0, visibility_timeout + 0.5 - (time.monotonic() - hung_at)))
        successor = live.launch_worker(name="worker-successor", pool="solo", **quick_restore)
        live.started(successor)
        redelivered = re.compile(rf"Task {re.escape(NOTIFY)}\[[0-9a-f-]+\] succeeded in [0-9.]+s: 0")
        wait_until(
            lambda: redelivered.search(successor.log()),
            timeout=HANG_GUARD,
            what="the redelivered job to finish",
        )

        assert int(test_redis.get(f"tests:runs:{NOTIFY}:{event.id}") or 0) == 2  # ran twice, ...
        notes = notifications_of(jobs_tenant, task=task)  # ... and notified once
        assert sorted(note.recipient_id for note in notes) == sorted([cast.assignee.pk, cast.reporter.pk])
    finally:
        for process in (doomed, successor):
            if process is not None:
                process.stop()
