"""The words of a notification: one sentence for the API (`message`) and the email's subject and body."""

from typing import Any

from notifications.models import Notification, NotificationKind

_TARGET_NAMES = {"time_to_start": "time to start", "time_to_done": "time to done"}


def _duration(seconds: Any) -> str:
    try:
        total = int(float(seconds))
    except (TypeError, ValueError):
        return "?"
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def describe(notification: Notification) -> str:
    payload = notification.payload or {}
    title = payload.get("task_title", "a task")
    kind = notification.kind
    if kind == NotificationKind.TASK_ASSIGNED:
        return f"“{title}” is now assigned to {payload.get('assignee_email') or 'nobody'}."
    if kind == NotificationKind.TASK_STATUS_CHANGED:
        old, new = (payload.get("changes", {}).get("status") or [None, None])[:2]
        return f"“{title}” moved from {old} to {new}."
    if kind in (NotificationKind.SLA_WARNING, NotificationKind.SLA_BREACHED):
        target = _TARGET_NAMES.get(payload.get("target", ""), payload.get("target", "SLA"))
        verb = "has used 80% of" if kind == NotificationKind.SLA_WARNING else "has breached"
        return (
            f"“{title}” {verb} its {target} target ({_duration(payload.get('elapsed_seconds'))} "
            f"of {_duration(payload.get('target_seconds'))})."
        )
    if kind == NotificationKind.WEBHOOK_DISABLED:
        return (
            f"The webhook to {payload.get('url')} was disabled after {payload.get('consecutive_failures')} "
            f"failed deliveries in a row (last error: {payload.get('last_error', '')[:200]})."
        )
    return kind


def email_subject_and_body(notification: Notification, *, tenant_name: str) -> tuple[str, str]:
    sentence = describe(notification)
    subject = f"[{tenant_name}] {sentence}"
    if len(subject) > 150:
        subject = subject[:147] + "..."
    body = (
        f"{sentence}\n\n"
        f"Organisation: {tenant_name}\n"
        "You receive this because you are the assignee or reporter of the task, or an admin of the "
        "organisation. Turn these emails off with PATCH /api/v1/notifications/preferences/ "
        '{"email_enabled": false}.\n'
    )
    return subject, body
