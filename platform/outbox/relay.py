"""The outbox relay: publish each tenant's unsent outbox rows to Celery and mark them sent.

Why a separate small process (`manage.py run_outbox_relay`) and not a beat-driven job:
- it must keep working when the broker is down, and a Celery job cannot even be started then; the relay
  just keeps the rows and retries, so an outage delays events and drops none;
- it wakes on PostgreSQL NOTIFY at the commit of every outbox row (trigger from migration 0001), so an
  event reaches a worker in milliseconds rather than at the next beat tick — that is what keeps the
  notification latency far under a second;
- it is tiny and stateless: any number can run (rows are claimed with FOR UPDATE SKIP LOCKED), and a
  sweep every few seconds covers missed notifications and new tenants.

Delivery is at least once: a crash between publishing and marking sent publishes again, and every job
dedupes on (job, event id). Rows are never deleted here; `sent_at` says when they left.
"""

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import connections, transaction
from django.db.models import F
from django.utils import timezone

from background.base import tenant_job_kwargs
from tenancy.models import Tenant
from tenancy.schema import activate_public, activate_tenant
from tenancy.selectors import all_tenants
from tracker.models import OutboxEvent

logger = logging.getLogger(__name__)

NOTIFY_CHANNEL = "outbox_event"

# (job, message kwargs) → published, or an exception. The job is a Celery task; tests pass fakes.
Publisher = Callable[[Any, dict[str, Any]], None]
Routes = Mapping[str, Iterable[Any]]
Conditions = Mapping[Any, Callable[[], set[str]]]


@dataclass(frozen=True)
class RelayResult:
    sent: int
    error: str = ""

    @property
    def failed(self) -> bool:
        return bool(self.error)


def publish_with_celery(job: Any, kwargs: dict[str, Any]) -> None:
    """Publish once, no hidden retries: on a broker error the relay keeps the row and tries later."""
    job.apply_async(kwargs=kwargs, retry=False)


class _Guard:
    """Answers "send this job for this event type?", asking each job's question at most once."""

    def __init__(self, only_when: Conditions) -> None:
        self.only_when = only_when
        self.answers: dict[Any, set[str]] = {}

    def allows(self, job: Any, event_type: str) -> bool:
        question = self.only_when.get(job)
        if question is None:
            return True
        if job not in self.answers:
            self.answers[job] = question()
        return event_type in self.answers[job]


def relay_pending_events(
    *,
    tenant: Tenant,
    publish: Publisher,
    routes: Routes,
    only_when: Conditions | None = None,
    batch_size: int = 500,
) -> RelayResult:
    """Publish the active tenant schema's unsent outbox rows, oldest first, to every job subscribed to
    their type; mark a row sent only when all its jobs were published. Stops at the first failure.

    `only_when` names jobs that are sent only for the event types its question returns (asked once per
    batch, lazily)."""
    sent = 0
    while True:
        guard = _Guard(only_when or {})
        with transaction.atomic():
            events = list(
                OutboxEvent.objects.select_for_update(skip_locked=True)
                .filter(sent_at__isnull=True)
                .order_by("id")[:batch_size]
            )
            published: list[int] = []
            failure: tuple[OutboxEvent, Exception] | None = None
            for event in events:
                try:
                    for job in routes.get(event.event_type, ()):
                        if not guard.allows(job, event.event_type):
                            continue
                        publish(
                            job,
                            tenant_job_kwargs(
                                tenant=tenant,
                                event_id=event.id,
                                event_type=event.event_type,
                                payload=event.payload,
                            ),
                        )
                except Exception as error:
                    failure = (event, error)
                    break
                published.append(event.id)
            if published:
                OutboxEvent.objects.filter(id__in=published).update(
                    sent_at=timezone.now(), attempts=F("attempts") + 1, last_error=""
                )
            if failure is not None:
                failed_event, failed_error = failure
                OutboxEvent.objects.filter(id=failed_event.id).update(
                    attempts=F("attempts") + 1,
                    last_error=f"{type(failed_error).__name__}: {failed_error}"[:2000],
                )
        sent += len(published)
        if failure is not None:
            return RelayResult(sent=sent, error=f"{type(failure[1]).__name__}: {failure[1]}")
        if len(events) < batch_size:
            return RelayResult(sent=sent)


class _Listener:
    """A dedicated autocommit connection LISTENing for the outbox trigger's NOTIFY (payload: schema name)."""

    def __init__(self) -> None:
        self._wrapper: Any = None

    def _connection(self) -> Any:
        if self._wrapper is None:
            wrapper = connections.create_connection("default")
            wrapper.ensure_connection()
            wrapper.connection.execute(f"LISTEN {NOTIFY_CHANNEL}")
            self._wrapper = wrapper
        return self._wrapper.connection

    def wait(self, timeout: float) -> set[str]:
        """Schema names notified within `timeout` seconds (empty on timeout)."""
        try:
            conn = self._connection()
            names = {note.payload for note in conn.notifies(timeout=max(timeout, 0.0), stop_after=1)}
            if names:  # a burst: take what else has arrived without waiting
                names |= {note.payload for note in conn.notifies(timeout=0.005)}
            return names
        except Exception:
            logger.warning("Outbox relay: LISTEN connection failed; reconnecting", exc_info=True)
            self.close()
            time.sleep(min(timeout, 1.0))
            return set()

    def close(self) -> None:
        if self._wrapper is not None:
            try:
                self._wrapper.close()
            except Exception:
                logger.debug("closing the LISTEN connection failed", exc_info=True)
            self._wrapper = None


class OutboxRelay:
    """The relay loop: relay notified schemas at once, every schema each sweep, back off while failing
    (doubling from 0.25 s up to one sweep interval)."""

    def __init__(
        self,
        *,
        publish: Publisher,
        routes: Routes,
        only_when: Conditions | None = None,
        sweep_seconds: float = 5.0,
        batch_size: int = 500,
        listen: bool = True,
    ) -> None:
        self.publish = publish
        self.routes = routes
        self.only_when = only_when
        self.sweep_seconds = sweep_seconds
        self.batch_size = batch_size
        self.listener = _Listener() if listen else None
        self.stop = threading.Event()
        self._tenants: dict[str, Tenant] = {}

    def install_signal_handlers(self) -> None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: self.stop.set())

    def relay_all_once(self) -> RelayResult:
        """One full sweep over every tenant (also what `--once` runs)."""
        self._refresh_tenants()
        return self._relay_schemas(list(self._tenants))

    def run(self) -> None:
        backoff = 0.0
        next_sweep = 0.0
        due: set[str] = set()
        logger.info("Outbox relay started (sweep every %.1fs)", self.sweep_seconds)
        while not self.stop.is_set():
            if time.monotonic() >= next_sweep:
                self._refresh_tenants()
                due |= set(self._tenants)
                next_sweep = time.monotonic() + self.sweep_seconds
            result = self._relay_schemas(sorted(due))
            due.clear()
            if result.failed:
                backoff = min(max(self.sweep_seconds, 0.25), max(0.25, backoff * 2))
                logger.warning(
                    "Outbox relay: publishing failed (%s); retrying in %.2fs", result.error, backoff
                )
                self.stop.wait(backoff)
                next_sweep = 0.0  # after a failure, retry every tenant
                continue
            backoff = 0.0
            wait = min(1.0, max(0.0, next_sweep - time.monotonic()))
            if self.listener is not None:
                due |= self.listener.wait(wait)
            else:
                self.stop.wait(wait)
            if due - set(self._tenants):
                self._refresh_tenants()
        if self.listener is not None:
            self.listener.close()
        logger.info("Outbox relay stopped")

    def _refresh_tenants(self) -> None:
        try:
            self._tenants = {tenant.schema_name: tenant for tenant in all_tenants()}
        except Exception:
            logger.warning("Outbox relay: cannot read the tenant registry", exc_info=True)
            connections["default"].close()

    def _relay_schemas(self, schema_names: list[str]) -> RelayResult:
        sent = 0
        for schema_name in schema_names:
            tenant = self._tenants.get(schema_name)
            if tenant is None:
                continue
            try:
                activate_tenant(tenant)
                result = relay_pending_events(
                    tenant=tenant,
                    publish=self.publish,
                    routes=self.routes,
                    only_when=self.only_when,
                    batch_size=self.batch_size,
                )
            except Exception as error:  # the database, most likely: log, drop the connection, back off
                logger.warning("Outbox relay: tenant %s failed", tenant.slug, exc_info=True)
                connections["default"].close()
                result = RelayResult(sent=0, error=f"{type(error).__name__}: {error}")
            finally:
                try:
                    activate_public()
                except Exception:
                    connections["default"].close()
            sent += result.sent
            if result.sent:
                logger.debug("Outbox relay: %s sent %d", tenant.slug, result.sent)
            if result.failed:
                return RelayResult(sent=sent, error=result.error)
        return RelayResult(sent=sent)
