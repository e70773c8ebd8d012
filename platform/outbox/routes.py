"""Which jobs each outbox event type goes to — the one table that shows every flow out of a write.

Each job dedupes on (job name, event id), so one event may go to several jobs, and one job may see an
event twice, without any effect happening twice. Event types with no entry are marked sent and dropped.
Order matters a little: jobs are published in this order into one FIFO queue, so what people wait for
(notifications) goes first.
"""

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from analytics_refresh.jobs import on_task_event as refresh_analytics
from notifications.jobs import notify_task_event, send_emails
from webhooks.jobs import deliver as deliver_webhook
from webhooks.jobs import fan_out_event as fan_out_to_webhooks
from webhooks.selectors import subscribed_event_types

ROUTES: Mapping[str, tuple[Any, ...]] = MappingProxyType(
    {
        "task.created": (refresh_analytics, fan_out_to_webhooks),
        "task.updated": (refresh_analytics, fan_out_to_webhooks),
        "task.assigned": (notify_task_event, refresh_analytics, fan_out_to_webhooks),
        "task.status_changed": (notify_task_event, refresh_analytics, fan_out_to_webhooks),
        "task.deleted": (refresh_analytics, fan_out_to_webhooks),
        "task.restored": (refresh_analytics, fan_out_to_webhooks),
        "project.created": (refresh_analytics,),
        "project.updated": (refresh_analytics,),
        "project.archived": (refresh_analytics,),
        "notification.email_requested": (send_emails,),
        "webhook.delivery_requested": (deliver_webhook,),
    }
)

# Jobs worth sending only when the tenant configured something: the question returns the event types
# that currently need the job. The relay asks once per batch, in the tenant's schema, so a tenant without
# webhooks never pays for a fan-out job. (A webhook created while a batch is being relayed may miss that
# batch's events, which happened before it existed anyway.)
ONLY_WHEN: Mapping[Any, Callable[[], set[str]]] = MappingProxyType(
    {fan_out_to_webhooks: subscribed_event_types}
)
