"""Jobs of the job machinery itself: the beat fan-out to tenants, and pruning of dedupe rows."""

import logging
from datetime import timedelta
from typing import Any

from django.utils import timezone

from background.base import TenantJob, tenant_job_kwargs
from background.models import ProcessedEvent
from config.celery import app
from tenancy.models import Tenant
from tenancy.selectors import all_tenants

logger = logging.getLogger(__name__)

# A redelivery comes within the broker's visibility timeout (an hour) and a replay re-runs a job that never
# committed its dedupe row, so a week of rows is far more than enough.
PROCESSED_EVENT_RETENTION = timedelta(days=7)


@app.task(name="background.for_each_tenant", acks_late=True, ignore_result=True)
def for_each_tenant(job_name: str) -> int:
    """Beat's entry point for periodic tenant work: send `job_name` once per tenant.

    Beat knows no tenant, and a tenant job refuses to run without one, so periodic work is this fan-out
    (reads the public tenant registry only) followed by one ordinary tenant job per tenant — which also
    keeps one big tenant from holding up the others.
    """
    job = app.tasks[job_name]
    tenants = all_tenants()
    for tenant in tenants:
        job.apply_async(kwargs=tenant_job_kwargs(tenant=tenant))
    logger.info("Sent %s to %d tenants", job_name, len(tenants))
    return len(tenants)


@app.task(base=TenantJob, bind=True, name="background.prune_processed_events")
def prune_processed_events(self: Any, *, tenant: Tenant) -> int:
    cutoff = timezone.now() - PROCESSED_EVENT_RETENTION
    deleted, _ = ProcessedEvent.objects.filter(processed_at__lt=cutoff).delete()
    return deleted
