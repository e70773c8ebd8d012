"""Webhook deliveries to a receiver on loopback: signed, retried, and a failing webhook switched off."""

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from accounts.models import Membership, Role
from background.models import DeadLetter
from notifications.models import NotificationKind
from tenancy.models import Tenant
from tests.jobs.helpers import in_tenant, make_cast, notifications_of
from tests.jobs.live import LiveStack
from tests.live import wait_until
from webhooks import services
from webhooks.models import DeliveryStatus, Webhook, WebhookDelivery
from webhooks.signing import DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, verify

DELIVERY, EVENT, SIGNATURE = (name.lower() for name in (DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER))

pytestmark = pytest.mark.live_server


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """An HTTP endpoint that answers with the queued status codes (then 200) and keeps every request."""

    answers: list[int] = field(default_factory=list)
    requests: list[Received] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            headers = {name.lower(): value for name, value in self.headers.items()}  # names are case-blind
            state.requests.append(Received(headers=headers, body=body))
            status = state.answers.pop(0) if state.answers else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/task-platform"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def webhook_for(committed: None, jobs_tenant: Tenant, member: Any) -> Iterator[Any]:
    """Registers webhooks in the jobs tenant, and deletes them after the test so later tests' events
    are not delivered to a receiver that is gone."""
    created: list[Webhook] = []

    def register(url: str, event_types: list[str]) -> Webhook:
        with in_tenant(jobs_tenant):
            webhook = services.create_webhook(url=url, event_types=event_types, created_by=member(Role.ADMIN))
        created.append(webhook)
        return webhook

    yield register
    with in_tenant(jobs_tenant):
        for webhook in created:
            services.delete_webhook(webhook=webhook)


def test_a_receiver_on_loopback_gets_a_signed_delivery_and_the_retry_after_a_500(
    live: LiveStack, jobs_tenant: Tenant, member: Any, receiver: Receiver, webhook_for: Any
) -> None:
    webhook = webhook_for(receiver.url, ["task.created"])
    receiver.answers = [500]
    cast = make_cast(tenant=jobs_tenant, member=member)

    task = cast.task(title="Ship the webhooks")

    wait_until(lambda: len(receiver.requests) >= 2, what="the delivery and its retry")
    first, retry = receiver.requests[:2]
    assert first.body == retry.body
    assert first.headers[DELIVERY] == retry.headers[DELIVERY]
    for request in (first, retry):
        assert verify(secret=webhook.secret, body=request.body, header_value=request.headers[SIGNATURE])
        assert request.headers[EVENT] == "task.created"
        assert request.headers["content-type"] == "application/json"
    assert not verify(secret="not-the-secret", body=first.body, header_value=first.headers[SIGNATURE])
    body = json.loads(first.body)
    assert body["delivery_id"] == first.headers[DELIVERY]
    assert body["event_type"] == "task.created" and body["tenant_id"] == str(jobs_tenant.id)
    assert body["data"]["task_id"] == str(task.pk)
    assert body["data"]["changes"]["title"] == [None, "Ship the webhooks"]

    def delivered() -> WebhookDelivery | None:
        with in_tenant(jobs_tenant):
            return WebhookDelivery.objects.filter(webhook=webhook, status=DeliveryStatus.SUCCEEDED).first()

    delivery = wait_until(delivered, what="the delivery log to say succeeded")
    assert delivery.attempts == 2 and delivery.response_status == 200
    assert str(delivery.delivery_id) == first.headers[DELIVERY]
    assert len(receiver.requests) == 2


def test_a_webhook_is_disabled_after_repeated_failures_and_the_admins_are_told(
    live: LiveStack, jobs_tenant: Tenant, member: Any, receiver: Receiver, webhook_for: Any
) -> None:
    receiver.answers = [503] * 100
    webhook = webhook_for(receiver.url, ["task.created"])
    cast = make_cast(tenant=jobs_tenant, member=member)

    for _ in range(2):  # WEBHOOKS_DISABLE_AFTER_FAILURES=2 deliveries, each failing all 3 tries
        cast.task()

    def reloaded() -> Webhook:
        with in_tenant(jobs_tenant):
            return Webhook.objects.get(id=webhook.id)

    wait_until(lambda: not reloaded().is_active, timeout=30, what="the webhook to be disabled")
    disabled = reloaded()
    assert disabled.disabled_at is not None and "503" in disabled.disabled_reason
    assert len(receiver.requests) == 6
    with in_tenant(jobs_tenant):
        deliveries = list(WebhookDelivery.objects.filter(webhook=webhook))
        assert {d.status for d in deliveries} == {DeliveryStatus.FAILED} and {
            d.attempts for d in deliveries
        } == {3}
        assert DeadLetter.objects.filter(job="webhooks.deliver").count() >= 2
    admin_notes = notifications_of(
        jobs_tenant, kind=NotificationKind.WEBHOOK_DISABLED, payload__webhook_id=str(webhook.id)
    )
    admins = Membership.objects.filter(tenant=jobs_tenant, role=Role.ADMIN).values_list("user_id", flat=True)
    assert sorted(note.recipient_id for note in admin_notes) == sorted(admins)  # each admin, once

    cast.task()  # a disabled webhook gets no new deliveries
    with in_tenant(jobs_tenant):
        wait_until(lambda: not WebhookDelivery.objects.filter(webhook=webhook, attempts=0).exists())
    assert len(receiver.requests) == 6
