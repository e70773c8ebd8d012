"""Keeps analytics fresh after task changes: cache versions bumped, (tenant, day) marked dirty."""

from django.apps import AppConfig


class AnalyticsRefreshConfig(AppConfig):
    name = "analytics_refresh"
    verbose_name = "Analytics refresh"
