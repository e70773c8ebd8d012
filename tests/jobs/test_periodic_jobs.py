"""Beat's schedule: every entry names a job the workers know, and the daily purge does its work."""

import uuid
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import User
from api.jobs import purge_idempotency_records
from api.models import IdempotencyRecord
from config.celery import app
from tenancy.models import Tenant


def test_every_beat_entry_names_a_registered_job() -> None:
    app.loader.import_default_modules()  # what a worker does at start: autodiscover every app's jobs
    for name, entry in app.conf.beat_schedule.items():
        assert entry["task"] in app.tasks, f"beat entry {name} sends an unknown job {entry['task']}"
        for job_name in entry.get("args", ()):
            assert job_name in app.tasks, f"beat entry {name} fans out an unknown job {job_name}"


@pytest.mark.django_db
def test_the_daily_purge_drops_only_expired_idempotency_records(
    tenant: Tenant, make_user: Callable[..., User]
) -> None:
    user = make_user(tenant=tenant)
    fresh, old = (
        IdempotencyRecord.objects.create(
            tenant_id=tenant.pk,
            user_id=user.pk,
            key=f"k-{uuid.uuid4()}",
            fingerprint="f",
            response_status=201,
            response_body={},
        )
        for _ in range(2)
    )
    IdempotencyRecord.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=25))

    assert purge_idempotency_records() >= 1
    assert IdempotencyRecord.objects.filter(pk=fresh.pk).exists()
    assert not IdempotencyRecord.objects.filter(pk=old.pk).exists()
