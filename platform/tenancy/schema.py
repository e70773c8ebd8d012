"""The two ways code enters a schema. Entry points (request middleware and views, the Celery job base, the
Dagster resource) call these; nothing else switches schemas."""

from typing import Any, cast

from django.db import connection

from tenancy.models import Tenant


def _tenant_connection() -> Any:
    # django-tenants' backend adds set_tenant/set_schema_to_public to the connection; the stubs don't know.
    return cast(Any, connection)


def activate_public() -> None:
    _tenant_connection().set_schema_to_public()


def activate_tenant(tenant: Tenant) -> None:
    """Enter the tenant's schema (search_path = tenant, public); the name comes from the Tenant row."""
    _tenant_connection().set_tenant(tenant)


def active_schema_name() -> str:
    return str(_tenant_connection().schema_name)
