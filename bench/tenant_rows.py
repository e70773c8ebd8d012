"""Many tenants, fast: Tenant rows saved without the schema their save would create and migrate.

`Tenant.save()` creates and migrates the tenant's schema (about a second or two each). Benchmarks that
need hundreds of tenants save the rows with `auto_create_schema` off and give each schema what they need
themselves: an empty schema to time `migrate_schemas` on (bench.migrate_schemas), or a copy of a migrated
one as cheap "existing tenants" (bench.tenant_provisioning). Django must be set up.
"""

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def _schemas_not_created() -> Iterator[None]:
    from tenancy.models import Tenant

    before = Tenant.auto_create_schema
    Tenant.auto_create_schema = False
    try:
        yield
    finally:
        Tenant.auto_create_schema = before


def add_tenant_rows(count: int, *, slug_prefix: str) -> list[str]:
    """Save `count` tenants (slugs `<slug_prefix>-<n>`, continuing after the ones that exist) without
    their schemas; their schema names, which the caller must create."""
    from tenancy.models import Tenant
    from tenancy.services import generate_schema_name

    first = Tenant.objects.filter(slug__startswith=f"{slug_prefix}-").count() + 1
    schema_names = []
    with _schemas_not_created():
        for number in range(first, first + count):
            tenant = Tenant(
                schema_name=generate_schema_name(), name=f"Bench {number}", slug=f"{slug_prefix}-{number}"
            )
            tenant.save(verbosity=0)
            schema_names.append(tenant.schema_name)
    return schema_names
