"""The SLA check (queue `batch`), sent to every tenant each minute by beat (background.for_each_tenant)."""

from typing import Any

from django.utils import timezone

from background.base import TenantJob
from config.celery import app
from sla import services
from tenancy.models import Tenant


@app.task(base=TenantJob, bind=True, name="sla.check_sla", expires=55)
def check_sla(self: Any, *, tenant: Tenant) -> int:
    """Idempotent by its alert records: a second run in the same minute raises nothing new."""
    return len(services.check_sla(tenant=tenant, now=timezone.now()))
