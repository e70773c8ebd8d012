"""The Celery application: Redis broker, two queues (`realtime`, `batch`), job modules named `jobs.py`."""

import os

from celery import Celery
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
app.autodiscover_tasks(related_name="jobs")
