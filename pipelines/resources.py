"""Database access for the pipeline: the one place that enters a tenant's schema (DESIGN.md §3)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import dagster as dg
from django.db import close_old_connections, connection, transaction
from django_tenants.utils import get_public_schema_name

from tenancy.schema import activate_public, activate_tenant
from tenancy.selectors import all_tenants, tenant_by_slug

# Session settings for the pipeline's analytical SQL. JIT off: generate_series over rows makes the planner
# overestimate row counts a thousandfold, which triggers JIT compilation costing seconds per statement for
# queries that run in milliseconds. work_mem: sorts of a tenant's log stay in memory instead of spilling.
SESSION_SETTINGS = {"jit": "off", "work_mem": "64MB"}


class UnknownTenantError(LookupError):
    """The partition names a tenant slug that has no Tenant row (deleted since the partition was added)."""


@dataclass(frozen=True)
class TenantSession:
    """SQL inside one tenant's schema; unqualified table names resolve to that tenant's tables."""

    tenant_slug: str
    schema_name: str

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> int:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.rowcount

    def fetchall(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return list(cursor.fetchall())

    def fetchone(self, sql: str, params: dict[str, Any] | None = None) -> tuple[Any, ...]:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        if row is None:
            raise LookupError("The query returned no row.")
        return tuple(row)

    def atomic(self) -> transaction.Atomic:
        return transaction.atomic()


def _release_connection() -> None:
    """Close Django's connection between units of work, but never inside a transaction someone else
    opened (a test's, or a caller's `atomic`): closing it would roll their work back."""
    if not connection.in_atomic_block:
        connection.close()


class TenantDatabase(dg.ConfigurableResource):
    """The platform's PostgreSQL through Django's connection, one tenant schema at a time.

    Every unit of work starts on a fresh connection (`close_old_connections`) and closes it when done, so
    a long-lived code server or daemon holds no idle connection and never carries a search_path over.
    """

    def tenant_slugs(self) -> list[str]:
        """Slugs of every tenant (public schema)."""
        with self._unit_of_work():
            return [tenant.slug for tenant in all_tenants()]

    @contextmanager
    def tenant(self, slug: str) -> Iterator[TenantSession]:
        """Work inside the schema of the tenant `slug` (its name read from the Tenant row)."""
        with self._unit_of_work():
            tenant = tenant_by_slug(slug=slug)
            if tenant is None:
                raise UnknownTenantError(f"No tenant with slug {slug!r}.")
            # Whatever schema the caller was in (a test, a management command) is restored afterwards.
            previous: Any = getattr(connection, "tenant", None)
            activate_tenant(tenant)
            session = TenantSession(tenant_slug=slug, schema_name=tenant.schema_name)
            for name, value in SESSION_SETTINGS.items():
                session.execute(f"SET {name} = %(value)s", {"value": value})
            try:
                yield session
            finally:
                for name in SESSION_SETTINGS:
                    session.execute(f"RESET {name}")
                if previous is not None and previous.schema_name != get_public_schema_name():
                    activate_tenant(previous)
                else:
                    activate_public()

    @contextmanager
    def _unit_of_work(self) -> Iterator[None]:
        if not connection.in_atomic_block:
            close_old_connections()
        try:
            yield
        finally:
            _release_connection()
