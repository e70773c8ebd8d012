"""The job base every Celery job builds on, and the two tables that make jobs safe to run twice."""

from django.apps import AppConfig


class BackgroundConfig(AppConfig):
    name = "background"
    verbose_name = "Background jobs"
