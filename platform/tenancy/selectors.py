"""Reads of the tenant registry."""

import uuid

from django_tenants.utils import get_public_schema_name

from api.cache import cached_row, public_cache
from tenancy.models import Tenant, tenant_cache_key

# Every tenant-scoped request reads this row; it changes rarely and every save invalidates it
# (tenancy.models.forget_cached_tenant). The timeout only bounds staleness after a lost invalidation.
TENANT_CACHE_SECONDS = 300


def tenant_by_id(*, tenant_id: uuid.UUID) -> Tenant | None:
    """The tenant a client names in X-Tenant-ID; the public schema is never a tenant a client can select.

    Read through the public cache. Unknown ids are not cached: random ids would fill Redis, and the miss
    is one primary-key lookup.
    """
    key = tenant_cache_key(tenant_id)
    selectable = Tenant.objects.exclude(schema_name=get_public_schema_name())
    return cached_row(
        Tenant,
        get=lambda: public_cache.get(key),
        put=lambda row: public_cache.set(key, row, TENANT_CACHE_SECONDS),
        load=lambda: selectable.filter(pk=tenant_id).first(),
    )


def tenant_by_slug(*, slug: str) -> Tenant | None:
    return Tenant.objects.exclude(schema_name=get_public_schema_name()).filter(slug=slug).first()


def all_tenants() -> list[Tenant]:
    return list(Tenant.objects.exclude(schema_name=get_public_schema_name()).order_by("slug"))
