"""Reads of the tenant registry."""

import uuid

from django_tenants.utils import get_public_schema_name

from tenancy.models import Tenant


def tenant_by_id(*, tenant_id: uuid.UUID) -> Tenant | None:
    """The tenant a client names in X-Tenant-ID; the public schema is never a tenant a client can select."""
    return Tenant.objects.exclude(schema_name=get_public_schema_name()).filter(id=tenant_id).first()


def tenant_by_slug(*, slug: str) -> Tenant | None:
    return Tenant.objects.exclude(schema_name=get_public_schema_name()).filter(slug=slug).first()


def all_tenants() -> list[Tenant]:
    return list(Tenant.objects.exclude(schema_name=get_public_schema_name()).order_by("slug"))
