"""Outgoing webhooks: signed HTTP deliveries of task events to URLs the tenant's admins register."""

from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
