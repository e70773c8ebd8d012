"""On every task event: invalidate the project's cached analytics and mark (tenant, day) for the pipeline."""

from datetime import UTC, date, datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from analytics.dirty import mark_day_dirty
from analytics_refresh.versions import bump_versions
from background.base import TenantJob
from background.idempotency import claim, event_key
from config.celery import app
from tenancy.models import Tenant


def _day_of(occurred_at: Any) -> date:
    moment = parse_datetime(occurred_at) if isinstance(occurred_at, str) else occurred_at
    if not isinstance(moment, datetime):
        moment = timezone.now()
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).date()


@app.task(base=TenantJob, bind=True, name="analytics_refresh.on_task_event")
def on_task_event(
    self: Any, *, tenant: Tenant, event_id: int, event_type: str, payload: dict[str, Any]
) -> bool:
    """Both effects live in Redis, outside any transaction, and are idempotent (a second bump costs one
    cache miss, a second mark is the same marker), so they run first and the dedupe row is written after
    them: a failure in between only repeats them on the retry. Returns False for a repeat."""
    bump_versions(project_id=payload.get("project_id"))
    mark_day_dirty(tenant_slug=tenant.slug, day=_day_of(payload.get("occurred_at")))
    with transaction.atomic():
        return claim(job=self.name, key=event_key(event_id))
