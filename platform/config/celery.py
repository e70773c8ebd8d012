"""The Celery application: Redis broker, two queues (`realtime`, `batch`), job modules named `jobs.py`."""

import os

from celery import Celery
from celery.schedules import crontab
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("task_platform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = (Queue("realtime"), Queue("batch"))
app.conf.task_default_queue = "realtime"
# A job is acknowledged only after it ran, so a worker killed mid-job has it redelivered.
app.conf.task_acks_late = True
app.conf.task_reject_on_worker_lost = True
app.conf.worker_prefetch_multiplier = 1
app.conf.broker_connection_retry_on_startup = True
# When the broker connection drops, jobs still running can no longer be acknowledged and will be delivered
# again: stop them rather than finish work a second worker is about to repeat (Celery 6's default).
app.conf.worker_cancel_long_running_tasks_on_connection_loss = True
app.autodiscover_tasks(related_name="jobs")

# Which queue each job goes to: `realtime` for what people wait for (notifications, cache invalidation,
# webhooks), `batch` for heavy or periodic work. Anything unlisted goes to the default, `realtime`.
app.conf.task_routes = {
    "notifications.*": {"queue": "realtime"},
    "webhooks.*": {"queue": "realtime"},
    "analytics_refresh.*": {"queue": "realtime"},
    "sla.*": {"queue": "batch"},
    "background.*": {"queue": "batch"},
    "api.*": {"queue": "batch"},
}

# Periodic work. Beat knows no tenant: it sends `background.for_each_tenant`, which sends the named tenant
# job once per tenant (docs/jobs.md). `expires` drops ticks that waited out a broker outage.
app.conf.beat_schedule = {
    "sla-check-every-minute": {
        "task": "background.for_each_tenant",
        "schedule": 60.0,
        "args": ("sla.check_sla",),
        "options": {"expires": 55},
    },
    "prune-processed-events-daily": {
        "task": "background.for_each_tenant",
        "schedule": crontab(hour=3, minute=17),
        "args": ("background.prune_processed_events",),
        "options": {"expires": 3600},
    },
    "purge-idempotency-records-daily": {
        "task": "api.purge_idempotency_records",
        "schedule": crontab(hour=3, minute=37),
        "options": {"expires": 3600},
    },
}
