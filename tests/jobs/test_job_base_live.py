"""The job base in a real worker: tenant context, refusing tenantless jobs, dead letters and replay."""

import io
import uuid

import pytest
import redis
from django.core.management import call_command

from background.base import MissingTenantError, tenant_job_kwargs
from config.celery import app
from tenancy.models import Tenant
from tests.jobs import worker_extras
from tests.jobs.helpers import dead_letters
from tests.jobs.live import LiveStack
from tests.live import wait_until

pytestmark = pytest.mark.live_server


def test_a_job_runs_inside_its_tenants_schema(
    live: LiveStack, committed: None, jobs_tenant: Tenant, test_redis: redis.Redis
) -> None:
    marker = uuid.uuid4().hex
    worker_extras.record_schema.apply_async(kwargs=tenant_job_kwargs(tenant=jobs_tenant, marker=marker))

    seen = wait_until(
        lambda: test_redis.hgetall(f"tests:schema:{marker}"), what="the job to record its schema"
    )
    assert seen == {"schema": jobs_tenant.schema_name, "tenant": jobs_tenant.slug}


def test_a_job_without_a_tenant_fails_loudly_and_never_runs_in_public(
    live: LiveStack, committed: None, jobs_tenant: Tenant, test_redis: redis.Redis
) -> None:
    # The producer side refuses outright.
    with pytest.raises(MissingTenantError):
        worker_extras.record_schema.apply_async(kwargs={"marker": "never-sent"})

    # A message that slipped past it (another producer, an old message) is refused by the worker — also
    # one naming only a schema in the header, the way tenant-schemas-celery would.
    missing, by_header, unknown = (uuid.uuid4().hex for _ in range(3))
    app.send_task("tests.record_schema", kwargs={"marker": missing})
    app.send_task(
        "tests.record_schema", kwargs={"marker": by_header}, headers={"_schema_name": jobs_tenant.schema_name}
    )
    app.send_task("tests.record_schema", kwargs={"marker": unknown, "tenant_id": str(uuid.uuid4())})

    assert live.worker is not None
    wait_until(lambda: live.worker.log().count("Refused job tests.record_schema") >= 3, what="three refusals")
    log = live.worker.log()
    assert "CRITICAL" in log and "MissingTenantError" in log
    assert "refusing to run it in public" in log and "which does not exist" in log
    for marker in (missing, by_header, unknown):
        assert not test_redis.exists(f"tests:schema:{marker}")


def test_a_job_that_always_fails_lands_in_dead_letters_and_is_replayed(
    live: LiveStack, committed: None, jobs_tenant: Tenant, test_redis: redis.Redis
) -> None:
    marker = uuid.uuid4().hex
    test_redis.set(f"tests:fail:{marker}", "1")
    worker_extras.fail_while_flagged.apply_async(kwargs=tenant_job_kwargs(tenant=jobs_tenant, marker=marker))

    [letter] = wait_until(
        lambda: dead_letters(jobs_tenant, job="tests.fail_while_flagged", kwargs__marker=marker),
        what="the dead letter",
    )
    assert letter.attempts == 3  # the first try and JOBS_MAX_RETRIES=2 retries, with backoff between
    assert int(test_redis.get(f"tests:attempts:{marker}") or 0) == 3
    assert letter.error == f"RuntimeError: failing on purpose ({marker})"
    assert "Traceback" in letter.traceback and letter.replayed_at is None

    test_redis.delete(f"tests:fail:{marker}")  # the cause is fixed; replay it
    output = io.StringIO()
    call_command("replay_dead_letters", tenant=jobs_tenant.slug, dead_letter_id=str(letter.id), stdout=output)
    assert "Replayed 1 dead letter(s)." in output.getvalue()

    assert (
        wait_until(lambda: test_redis.get(f"tests:done:{marker}"), what="the replayed job")
        == jobs_tenant.slug
    )
    [replayed] = dead_letters(jobs_tenant, id=letter.id)
    assert replayed.replay_count == 1 and replayed.replayed_at is not None
    assert not dead_letters(jobs_tenant, kwargs__marker=marker, replayed_at__isnull=True)
