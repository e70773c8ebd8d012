"""Writes of notifications: who is told about what, marking read, preferences, and the emails.

Recipients are only active members of the tenant: a person removed from the organisation keeps their
old notifications but gets no new ones.
"""

import logging
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Role, User
from accounts.selectors import members_of_tenant
from notifications.messages import email_subject_and_body
from notifications.models import Notification, NotificationKind, NotificationPreference
from notifications.selectors import email_enabled_user_ids
from outbox.services import record_event
from tenancy.models import Tenant
from tracker.models import Task

logger = logging.getLogger(__name__)

EMAIL_EVENT = "notification.email_requested"

_KIND_OF_TASK_EVENT = {
    "task.assigned": NotificationKind.TASK_ASSIGNED,
    "task.status_changed": NotificationKind.TASK_STATUS_CHANGED,
}


def _active_member_ids(*, tenant: Tenant, user_ids: Iterable[int | None]) -> list[int]:
    wanted = {user_id for user_id in user_ids if user_id is not None}
    if not wanted:
        return []
    return sorted(
        members_of_tenant(tenant_id=tenant.pk)
        .filter(user_id__in=wanted, user__is_active=True)
        .values_list("user_id", flat=True)
    )


def notify(
    *,
    tenant: Tenant,
    recipient_ids: Iterable[int | None],
    kind: str,
    payload: dict[str, Any],
    dedupe_key: str,
    task: Task | None = None,
) -> list[Notification]:
    """Create one notification per recipient for this cause, unless it already exists; return the new ones.

    Emails are not sent here: the new notifications that want one are handed to the email job as an outbox
    row in this same transaction, so a crash can neither lose the email nor send it for a rolled-back
    notification.
    """
    recipients = _active_member_ids(tenant=tenant, user_ids=recipient_ids)
    if not recipients:
        return []
    email_wanted = email_enabled_user_ids(user_ids=recipients)
    rows = [
        Notification(
            recipient_id=recipient_id,
            kind=kind,
            task=task,
            payload=payload,
            dedupe_key=dedupe_key,
            email_wanted=recipient_id in email_wanted,
        )
        for recipient_id in recipients
    ]
    with transaction.atomic():
        try:
            with transaction.atomic():  # one INSERT for everyone: the usual case, and the hot path
                created = Notification.objects.bulk_create(rows)
        except IntegrityError:  # some were told already (a repeated cause): add only the missing ones
            created = []
            for row in rows:
                notification, is_new = Notification.objects.get_or_create(
                    recipient_id=row.recipient_id,
                    dedupe_key=dedupe_key,
                    defaults={
                        "kind": kind,
                        "task": task,
                        "payload": payload,
                        "email_wanted": row.email_wanted,
                    },
                )
                if is_new:
                    created.append(notification)
        emails = [notification.id for notification in created if notification.email_wanted]
        if emails:
            record_event(event_type=EMAIL_EVENT, payload={"notification_ids": emails})
    return created


def notify_task_event(
    *, tenant: Tenant, event_type: str, payload: dict[str, Any], dedupe_key: str
) -> list[Notification]:
    """Tell the task's assignee and reporter — never the person who made the change — about it."""
    kind = _KIND_OF_TASK_EVENT.get(event_type)
    task_id = payload.get("task_id")
    task = Task.objects.filter(id=task_id).select_related("assignee").first() if task_id else None
    if kind is None or task is None:
        return []
    actor_id = payload.get("actor_id")
    recipients = {task.assignee_id, task.reporter_id} - {None, actor_id}
    body = {
        "event_type": event_type,
        "task_id": str(task.id),
        "task_title": task.title,
        "project_id": str(task.project_id),
        "actor_id": actor_id,
        "changes": payload.get("changes", {}),
        "occurred_at": payload.get("occurred_at"),
        "assignee_email": task.assignee.email if task.assignee else None,
    }
    return notify(
        tenant=tenant, recipient_ids=recipients, kind=kind, payload=body, dedupe_key=dedupe_key, task=task
    )


def notify_tenant_admins(
    *, tenant: Tenant, kind: str, payload: dict[str, Any], dedupe_key: str
) -> list[Notification]:
    admins = members_of_tenant(tenant_id=tenant.pk).filter(role=Role.ADMIN).values_list("user_id", flat=True)
    return notify(
        tenant=tenant, recipient_ids=list(admins), kind=kind, payload=payload, dedupe_key=dedupe_key
    )


def mark_read(*, notification: Notification) -> Notification:
    """Idempotent: reading a read notification keeps its first `read_at`."""
    if notification.read_at is None:
        now = timezone.now()
        Notification.objects.filter(id=notification.id, read_at__isnull=True).update(read_at=now)
        notification.refresh_from_db(fields=["read_at"])
    return notification


def mark_all_read(*, user: User) -> int:
    return Notification.objects.filter(recipient=user, read_at__isnull=True).update(read_at=timezone.now())


def set_email_preference(*, user: User, email_enabled: bool) -> NotificationPreference:
    preference, _ = NotificationPreference.objects.update_or_create(
        user=user, defaults={"email_enabled": email_enabled}
    )
    return preference


def send_notification_emails(*, tenant: Tenant, notification_ids: Iterable[int]) -> int:
    """Email each notification that still wants one, one at a time, marking it sent in the same step.

    Each row is locked (SKIP LOCKED) while its email goes out and `emailed_at` commits right after, so a
    redelivered job skips what was sent. A crash between the SMTP handover and that commit sends one email
    twice — email is at least once. A user who muted email since the notification was made gets none.
    """
    pending = list(
        Notification.objects.filter(id__in=list(notification_ids), email_wanted=True, emailed_at__isnull=True)
        .select_related("recipient")
        .order_by("id")
    )
    if not pending:
        return 0
    wanted = email_enabled_user_ids(user_ids={notification.recipient_id for notification in pending})
    sent = 0
    with get_connection() as mailer:  # one SMTP session for the batch
        for notification in pending:
            with transaction.atomic():
                still_pending = (
                    Notification.objects.select_for_update(skip_locked=True)
                    .filter(id=notification.id, emailed_at__isnull=True)
                    .values_list("id", flat=True)
                    .first()
                )
                if still_pending is None:
                    continue
                recipient = notification.recipient
                if recipient.is_active and recipient.pk in wanted:
                    subject, body = email_subject_and_body(notification, tenant_name=tenant.name)
                    EmailMessage(
                        subject, body, settings.DEFAULT_FROM_EMAIL, [recipient.email], connection=mailer
                    ).send()
                    sent += 1
                Notification.objects.filter(id=notification.id).update(emailed_at=timezone.now())
    return sent
