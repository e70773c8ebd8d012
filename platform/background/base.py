"""The base of every tenant job: the one place a Celery job enters a tenant's schema.

Why our own base rather than tenant-schemas-celery's `TenantTask`: that library takes the schema name
from a message header the producer filled in from *its* connection, and runs the job in `public` when
the header is missing. We want the opposite on both counts: the message names the tenant by id, the
schema name comes only from the Tenant row (as for requests, see tenancy.middleware), and a message
without a valid tenant fails loudly instead of quietly running against `public`.

What the base adds to a job:
- `tenant_id` travels in the message kwargs; the job function receives the `Tenant` as `tenant=`.
- acks late (a worker killed mid-job has the message redelivered) and rejects on worker loss.
- retries on any exception with exponential backoff and full jitter (`background.retry`).
- after the last retry: the job's `on_exhausted` hook, then a DeadLetter row in the tenant's schema.
"""

import logging
import time
import uuid
from typing import Any

from celery import Task
from celery.exceptions import Retry
from django.db import transaction

from background.dead_letters import record_dead_letter
from background.retry import backoff_seconds, retry_limit
from tenancy.models import Tenant
from tenancy.schema import activate_public, activate_tenant
from tenancy.selectors import tenant_by_id

logger = logging.getLogger(__name__)

TENANT_KWARG = "tenant_id"


class MissingTenantError(RuntimeError):
    """A tenant job was sent without a tenant, or with one that does not exist. Never retried: no schema
    to run in means no schema to record a dead letter in either, so the error goes to the log, loudly."""


def tenant_job_kwargs(*, tenant: Tenant, **kwargs: Any) -> dict[str, Any]:
    """The message kwargs of a tenant job: the job's own arguments plus the tenant id."""
    return {TENANT_KWARG: str(tenant.id), **kwargs}


# Tenant rows rarely change and their schema name never does, so a worker remembers them briefly instead of
# reading the registry before every job. A deleted tenant is refused once its entry expires.
TENANT_CACHE_SECONDS = 30.0
_tenants: dict[uuid.UUID, tuple[float, Tenant]] = {}


def resolve_tenant(raw_tenant_id: Any, *, job: str) -> Tenant:
    if raw_tenant_id in (None, ""):
        raise MissingTenantError(f"Job {job} was sent without {TENANT_KWARG}; refusing to run it in public.")
    try:
        tenant_id = uuid.UUID(str(raw_tenant_id))
    except ValueError:
        raise MissingTenantError(f"Job {job} names {raw_tenant_id!r}, which is not a tenant id.") from None
    cached = _tenants.get(tenant_id)
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    tenant = tenant_by_id(tenant_id=tenant_id)
    if tenant is None:
        _tenants.pop(tenant_id, None)
        raise MissingTenantError(f"Job {job} names tenant {tenant_id}, which does not exist.")
    _tenants[tenant_id] = (time.monotonic() + TENANT_CACHE_SECONDS, tenant)
    return tenant


class TenantJob(Task):
    """Use as `@app.task(base=TenantJob, bind=True, name="app.job")` (its queue comes from `task_routes`);
    the function takes `tenant=` and its own keyword arguments."""

    acks_late = True
    reject_on_worker_lost = True
    ignore_result = True
    # The function's signature has `tenant`, the message has `tenant_id`: Celery must not compare them.
    typing = False

    def apply_async(self, args: Any = None, kwargs: Any = None, *rest: Any, **options: Any) -> Any:
        """Refuse, at the producer, to send a tenant job that names no tenant."""
        if not (kwargs or {}).get(TENANT_KWARG):
            raise MissingTenantError(f"{self.name} needs {TENANT_KWARG} in its kwargs (tenant_job_kwargs()).")
        return super().apply_async(args, kwargs, *rest, **options)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            tenant = resolve_tenant(kwargs.pop(TENANT_KWARG, None), job=self.name)
        except MissingTenantError:
            logger.critical(
                "Refused job %s (id %s): no valid tenant", self.name, self.request.id, exc_info=True
            )
            raise
        activate_tenant(tenant)
        try:
            return self.run(*args, tenant=tenant, **kwargs)
        except Retry:
            raise
        except Exception as error:
            self._retry_or_dead_letter(error, tenant=tenant, kwargs=kwargs)
            raise
        finally:
            activate_public()

    def on_exhausted(self, *, tenant: Tenant, kwargs: dict[str, Any], error: BaseException) -> None:
        """Called once, in the tenant's schema and the dead letter's transaction, after the last retry."""

    def _retry_or_dead_letter(self, error: Exception, *, tenant: Tenant, kwargs: dict[str, Any]) -> None:
        retries = int(self.request.retries or 0)
        limit = retry_limit()
        if retries < limit:
            countdown = backoff_seconds(retries)
            logger.warning(
                "Job %s failed (try %d of %d) for tenant %s: %r; retrying in %.2fs",
                self.name,
                retries + 1,
                limit + 1,
                tenant.slug,
                error,
                countdown,
            )
            raise self.retry(exc=error, countdown=countdown, max_retries=limit)
        try:
            with transaction.atomic():
                self.on_exhausted(tenant=tenant, kwargs=kwargs, error=error)
                record_dead_letter(job=self.name, kwargs=kwargs, error=error, attempts=retries + 1)
        except Exception:
            # Nowhere to keep the failure (database down?): keep the message instead, for one more try.
            logger.exception("Job %s: could not record its dead letter; retrying once more", self.name)
            raise self.retry(exc=error, countdown=backoff_seconds(limit), max_retries=retries + 1) from None
        logger.error(
            "Job %s failed %d times for tenant %s and is now a dead letter: %r",
            self.name,
            retries + 1,
            tenant.slug,
            error,
        )
