"""SLA policies (ADMIN API over analytics.SlaPolicy) and the every-minute warning/breach check."""

from django.apps import AppConfig


class SlaConfig(AppConfig):
    name = "sla"
    verbose_name = "SLA alerts"
