"""Reads of notifications and preferences (the active tenant's schema)."""

from collections.abc import Iterable

from django.db.models import QuerySet

from accounts.models import User
from notifications.models import Notification, NotificationPreference


def notifications_of(*, user: User, unread: bool | None = None) -> QuerySet[Notification]:
    """The user's own notifications, newest first; `unread=True` only unread, `False` only read."""
    queryset = Notification.objects.filter(recipient=user)
    if unread is not None:
        queryset = queryset.filter(read_at__isnull=unread)
    return queryset.order_by("-id")


def notification_of(*, user: User, notification_id: int) -> Notification | None:
    """One of the user's notifications; another user's is as absent as a missing one."""
    return Notification.objects.filter(recipient=user, id=notification_id).first()


def preference_of(*, user: User) -> NotificationPreference:
    """The stored preference, or an unsaved one holding the defaults."""
    return NotificationPreference.objects.filter(user=user).first() or NotificationPreference(user=user)


def email_enabled_user_ids(*, user_ids: Iterable[int]) -> set[int]:
    wanted = set(user_ids)
    muted = set(
        NotificationPreference.objects.filter(user_id__in=wanted, email_enabled=False).values_list(
            "user_id", flat=True
        )
    )
    return wanted - muted
