"""Writes of webhooks: managing them, fanning events out to deliveries, delivering, disabling."""

import json
import logging
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import User
from api.errors import ProblemError
from notifications.models import NotificationKind
from notifications.services import notify_tenant_admins
from outbox.services import record_event
from tenancy.models import Tenant
from webhooks import signing, transport
from webhooks.models import DeliveryStatus, Webhook, WebhookDelivery
from webhooks.selectors import subscribed_webhooks
from webhooks.url_safety import UnsafeUrlError, check_webhook_url

logger = logging.getLogger(__name__)

DELIVERY_EVENT = "webhook.delivery_requested"


class WebhookUrlRefusedError(ProblemError):
    status_code = 400
    default_code = "webhook_url_refused"
    default_detail = "This URL cannot receive webhooks."


class WebhookDeliveryFailedError(RuntimeError):
    """A delivery attempt that did not get a 2xx; the job base retries it with backoff."""


def _checked_url(url: str) -> str:
    try:
        check_webhook_url(url)
    except UnsafeUrlError as error:
        raise WebhookUrlRefusedError(str(error), errors={"url": [str(error)]}) from None
    return url


def create_webhook(
    *, url: str, event_types: list[str], created_by: User, description: str = "", secret: str | None = None
) -> Webhook:
    """Register a webhook; without a secret one is generated (the API shows it once, in the response)."""
    return Webhook.objects.create(
        url=_checked_url(url),
        event_types=sorted(set(event_types)),
        description=description,
        secret=secret or secrets.token_urlsafe(32),
        created_by=created_by,
    )


def update_webhook(
    *,
    webhook: Webhook,
    url: str | None = None,
    event_types: list[str] | None = None,
    description: str | None = None,
    secret: str | None = None,
    is_active: bool | None = None,
) -> Webhook:
    """Change fields; turning a webhook back on clears its failure count and the reason it was disabled."""
    if url is not None:
        webhook.url = _checked_url(url)
    if event_types is not None:
        webhook.event_types = sorted(set(event_types))
    if description is not None:
        webhook.description = description
    if secret is not None:
        webhook.secret = secret
    if is_active is not None and is_active != webhook.is_active:
        webhook.is_active = is_active
        if is_active:
            webhook.consecutive_failures = 0
            webhook.disabled_at = None
            webhook.disabled_reason = ""
        else:
            webhook.disabled_at = timezone.now()
            webhook.disabled_reason = "Disabled by an admin."
    webhook.save()
    return webhook


def delete_webhook(*, webhook: Webhook) -> None:
    """Removes the webhook and its delivery log; queued deliveries find nothing and stop."""
    webhook.delete()


def _body(
    *, tenant: Tenant, delivery_id: uuid.UUID, event_id: int, event_type: str, payload: dict[str, Any]
) -> str:
    return json.dumps(
        {
            "delivery_id": str(delivery_id),
            "event_id": event_id,
            "event_type": event_type,
            "tenant_id": str(tenant.id),
            "occurred_at": payload.get("occurred_at"),
            "data": payload,
        },
        sort_keys=True,
        separators=(",", ":"),
    )


def fan_out_event(
    *, tenant: Tenant, event_id: int, event_type: str, payload: dict[str, Any]
) -> list[WebhookDelivery]:
    """One delivery row per subscribed webhook, each handed to the delivery job through the outbox."""
    created = []
    with transaction.atomic():
        for webhook in subscribed_webhooks(event_type=event_type):
            delivery_id = uuid.uuid4()
            delivery, is_new = WebhookDelivery.objects.get_or_create(
                webhook=webhook,
                event_id=event_id,
                defaults={
                    "delivery_id": delivery_id,
                    "event_type": event_type,
                    "body": _body(
                        tenant=tenant,
                        delivery_id=delivery_id,
                        event_id=event_id,
                        event_type=event_type,
                        payload=payload,
                    ),
                },
            )
            if is_new:
                record_event(event_type=DELIVERY_EVENT, payload={"delivery_id": str(delivery.delivery_id)})
                created.append(delivery)
    return created


@dataclass(frozen=True)
class AttemptResult:
    delivered: bool
    skipped: bool = False
    error: str = ""


def attempt_delivery(*, delivery_id: uuid.UUID) -> AttemptResult:
    """POST the delivery once and log the attempt; raise WebhookDeliveryFailedError when it did not land.

    The row is locked (SKIP LOCKED) for the attempt, so a redelivered message cannot send it twice at the
    same moment; a delivery that succeeded, was cancelled, or belongs to a disabled webhook is skipped.
    """
    with transaction.atomic():
        delivery = (
            # Lock only the delivery row (`of`): deliveries to one webhook must not skip each other.
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("webhook")
            .filter(delivery_id=delivery_id)
            .first()
        )
        if delivery is None or delivery.status in (DeliveryStatus.SUCCEEDED, DeliveryStatus.CANCELLED):
            return AttemptResult(delivered=False, skipped=True)
        webhook = delivery.webhook
        if not webhook.is_active:
            delivery.status = DeliveryStatus.CANCELLED
            delivery.save(update_fields=["status"])
            return AttemptResult(delivered=False, skipped=True)
        outcome = _post(webhook=webhook, delivery=delivery)
        delivery.attempts += 1
        delivery.last_attempt_at = timezone.now()
        delivery.response_status = outcome.status
        delivery.last_error = outcome.error[:2000]
        if outcome.ok:
            delivery.status = DeliveryStatus.SUCCEEDED
            delivery.delivered_at = delivery.last_attempt_at
            Webhook.objects.filter(id=webhook.id).update(consecutive_failures=0)
        else:
            delivery.status = DeliveryStatus.PENDING
        delivery.save()
    if not outcome.ok:
        raise WebhookDeliveryFailedError(f"Delivery {delivery_id} to {webhook.url} failed: {outcome.error}")
    return AttemptResult(delivered=True)


def _post(*, webhook: Webhook, delivery: WebhookDelivery) -> transport.PostOutcome:
    try:
        # Again (DNS may point somewhere else since the webhook was saved), and the POST goes to an address
        # this check approved: the transport never resolves the host a second time.
        target = check_webhook_url(webhook.url)
    except UnsafeUrlError as error:
        return transport.PostOutcome(status=None, error=f"Refused: {error}")
    body = delivery.body.encode()
    headers = {
        signing.SIGNATURE_HEADER: signing.signature(secret=webhook.secret, body=body),
        signing.DELIVERY_HEADER: str(delivery.delivery_id),
        signing.EVENT_HEADER: delivery.event_type,
    }
    return transport.post(
        target=target, body=body, headers=headers, timeout=settings.WEBHOOKS_TIMEOUT_SECONDS
    )


def record_exhausted_delivery(*, tenant: Tenant, delivery_id: uuid.UUID, error: BaseException) -> bool:
    """Every retry failed: mark the delivery failed, count it, and at the limit disable the webhook and tell
    the tenant's admins. Returns True when this failure disabled the webhook."""
    delivery = WebhookDelivery.objects.select_related("webhook").filter(delivery_id=delivery_id).first()
    if delivery is None:
        return False
    WebhookDelivery.objects.filter(id=delivery.id, status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.FAILED
    )
    Webhook.objects.filter(id=delivery.webhook_id).update(consecutive_failures=F("consecutive_failures") + 1)
    limit = int(settings.WEBHOOKS_DISABLE_AFTER_FAILURES)
    reason = f"{limit} deliveries in a row failed; the last: {delivery.last_error or error}"[:2000]
    disabled = Webhook.objects.filter(
        id=delivery.webhook_id, is_active=True, consecutive_failures__gte=limit
    ).update(is_active=False, disabled_at=timezone.now(), disabled_reason=reason)
    if not disabled:
        return False
    webhook = delivery.webhook
    logger.warning("Webhook %s of tenant %s disabled: %s", webhook.id, tenant.slug, reason)
    notify_tenant_admins(
        tenant=tenant,
        kind=NotificationKind.WEBHOOK_DISABLED,
        payload={
            "webhook_id": str(webhook.id),
            "url": webhook.url,
            "consecutive_failures": limit,
            "last_error": delivery.last_error or str(error),
        },
        dedupe_key=f"webhook-disabled:{delivery.delivery_id}",
    )
    return True
