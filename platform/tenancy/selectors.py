"""Reads of the tenant registry."""

import uuid

from django_tenants.utils import get_public_schema_name

from api.cache import MISSING, public_cache, row_from_cache, row_to_cache
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
    cached = public_cache.get(key)
    if cached is not MISSING:
        tenant = row_from_cache(Tenant, cached)
        if tenant is not None:
            return tenant
    tenant = Tenant.objects.exclude(schema_name=get_public_schema_name()).filter(id=tenant_id).first()
    if tenant is not None:
        public_cache.set(key, row_to_cache(tenant), TENANT_CACHE_SECONDS)
    return tenant


def tenant_by_slug(*, slug: str) -> Tenant | None:
    return Tenant.objects.exclude(schema_name=get_public_schema_name()).filter(slug=slug).first()


def all_tenants() -> list[Tenant]:
    return list(Tenant.objects.exclude(schema_name=get_public_schema_name()).order_by("slug"))
