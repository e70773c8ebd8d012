"""The relay's core step against real outbox rows, with a publisher that records or fails."""

from typing import Any

import pytest

from outbox.relay import relay_pending_events
from outbox.routes import ROUTES
from tenancy.models import Tenant
from tenancy.schema import activate_tenant
from tracker.models import OutboxEvent


class Recorder:
    def __init__(self, *, fail_on_event: int | None = None) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.fail_on_event = fail_on_event

    def __call__(self, job: Any, kwargs: dict[str, Any]) -> None:
        if kwargs["event_id"] == self.fail_on_event:
            raise ConnectionError("broker down")
        self.sent.append((job.name, kwargs))


@pytest.fixture
def outbox(tenant: Tenant) -> Any:
    activate_tenant(tenant)
    OutboxEvent.objects.filter(sent_at__isnull=True).update(sent_at="2026-01-01T00:00:00Z")

    def add(event_type: str) -> OutboxEvent:
        return OutboxEvent.objects.create(
            event_type=event_type, payload={"task_id": "t", "occurred_at": None}
        )

    return add


def test_each_event_goes_to_every_subscribed_job_with_its_tenant_and_is_marked_sent(
    tenant: Tenant, outbox: Any
) -> None:
    status = outbox("task.status_changed")
    created = outbox("task.created")
    publish = Recorder()

    result = relay_pending_events(tenant=tenant, publish=publish, routes=ROUTES)

    assert result.sent == 2 and not result.failed
    assert [(name, kwargs["event_id"]) for name, kwargs in publish.sent] == [
        ("notifications.notify_task_event", status.id),
        ("analytics_refresh.on_task_event", status.id),
        ("webhooks.fan_out_event", status.id),
        ("analytics_refresh.on_task_event", created.id),
        ("webhooks.fan_out_event", created.id),
    ]
    assert {kwargs["tenant_id"] for _, kwargs in publish.sent} == {str(tenant.id)}
    assert publish.sent[0][1]["event_type"] == "task.status_changed"
    for event in (status, created):
        event.refresh_from_db()
        assert event.sent_at is not None and event.attempts == 1
    assert relay_pending_events(tenant=tenant, publish=Recorder(), routes=ROUTES).sent == 0


def test_a_publishing_failure_keeps_that_event_and_the_later_ones_for_the_next_try(
    tenant: Tenant, outbox: Any
) -> None:
    first, second, third = (outbox("task.updated") for _ in range(3))

    result = relay_pending_events(tenant=tenant, publish=Recorder(fail_on_event=second.id), routes=ROUTES)

    assert result.sent == 1 and result.failed and "broker down" in result.error
    for event in (first, second, third):
        event.refresh_from_db()
    assert first.sent_at is not None
    assert (
        second.sent_at is None
        and second.attempts == 1
        and "ConnectionError: broker down" in second.last_error
    )
    assert third.sent_at is None and third.attempts == 0

    retry = relay_pending_events(tenant=tenant, publish=Recorder(), routes=ROUTES)
    assert retry.sent == 2
    second.refresh_from_db()
    assert second.sent_at is not None and second.attempts == 2 and second.last_error == ""


def test_events_nobody_subscribes_to_are_marked_sent(tenant: Tenant, outbox: Any) -> None:
    event = outbox("project.renamed.someday")
    publish = Recorder()
    assert relay_pending_events(tenant=tenant, publish=publish, routes=ROUTES).sent == 1
    assert publish.sent == []
    event.refresh_from_db()
    assert event.sent_at is not None


def test_the_batch_size_pages_through_a_backlog(tenant: Tenant, outbox: Any) -> None:
    for _ in range(7):
        outbox("task.deleted")
    publish = Recorder()
    assert relay_pending_events(tenant=tenant, publish=publish, routes=ROUTES, batch_size=3).sent == 7
    assert len(publish.sent) == 14


def test_the_webhook_fan_out_is_sent_only_while_a_webhook_wants_the_event_type(
    tenant: Tenant, outbox: Any, make_user: Any
) -> None:
    from outbox.routes import ONLY_WHEN
    from webhooks.models import Webhook

    Webhook.objects.filter(is_active=True).update(is_active=False)
    first = outbox("task.created")
    publish = Recorder()
    relay_pending_events(tenant=tenant, publish=publish, routes=ROUTES, only_when=ONLY_WHEN)
    assert [name for name, _ in publish.sent] == ["analytics_refresh.on_task_event"]

    Webhook.objects.create(
        url="https://93.184.216.34/h", secret="x" * 20, event_types=["task.created"], created_by=make_user()
    )
    second, other = outbox("task.created"), outbox("task.deleted")
    publish = Recorder()
    relay_pending_events(tenant=tenant, publish=publish, routes=ROUTES, only_when=ONLY_WHEN)
    assert [(name, kwargs["event_id"]) for name, kwargs in publish.sent] == [
        ("analytics_refresh.on_task_event", second.id),
        ("webhooks.fan_out_event", second.id),
        ("analytics_refresh.on_task_event", other.id),
    ]
    assert first.id < second.id
