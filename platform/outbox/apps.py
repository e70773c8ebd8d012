"""The outbox relay: moves the outbox rows that writes leave behind to Celery, losing none."""

from django.apps import AppConfig


class OutboxConfig(AppConfig):
    name = "outbox"
    verbose_name = "Outbox relay"
