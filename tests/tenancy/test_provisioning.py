"""Provisioning tenants: schema created from the server-generated name, first admin, clear errors."""

import io

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from accounts.models import Membership, Role
from tenancy.models import Tenant
from tenancy.services import TenantProvisioningError, create_tenant, generate_schema_name

pytestmark = pytest.mark.external_services


def schema_exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", [name])
        return cursor.fetchone() is not None


def tables_in(schema: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s", [schema])
        return {row[0] for row in cursor.fetchall()}


def test_schema_names_are_generated_never_derived_from_input() -> None:
    names = {generate_schema_name() for _ in range(100)}
    assert len(names) == 100
    assert all(name.startswith("t_") and name[2:].isalnum() and len(name) <= 63 for name in names)


def test_tenant_fixture_has_a_migrated_schema_with_tenant_tables(tenant: Tenant) -> None:
    assert tenant.schema_name.startswith("t_")
    assert {"tracker_task", "tracker_taskactivity", "tracker_outboxevent"} <= tables_in(tenant.schema_name)
    # Shared tables stay in public only.
    assert "accounts_user" not in tables_in(tenant.schema_name)


@pytest.mark.django_db
def test_create_tenant_command_prints_id_and_makes_first_admin(tenants: dict[str, Tenant]) -> None:
    out = io.StringIO()
    call_command(
        "create_tenant", name="Umbrella Corp", slug="umbrella", admin_email="Boss@Umbrella.test", stdout=out
    )
    tenant = Tenant.objects.get(slug="umbrella")
    assert str(tenant.id) in out.getvalue().splitlines()
    assert schema_exists(tenant.schema_name)
    membership = Membership.objects.get(tenant=tenant)
    assert membership.user.email == "boss@umbrella.test"
    assert membership.role == Role.ADMIN
    assert tenant.domains.get().domain == "umbrella.localhost"


@pytest.mark.django_db
def test_duplicate_slug_is_refused_with_a_clear_message(tenants: dict[str, Tenant]) -> None:
    with pytest.raises(CommandError, match="already exists"):
        call_command("create_tenant", name="Alpha again", slug="alpha", admin_email="x@alpha.test")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "slug", "code"),
    [
        ("   ", "blank", "invalid_name"),
        ("x" * 201, "long", "invalid_name"),
        ("Bad slug", "Not A Slug!", "invalid_slug"),
        ("Public", "public", "invalid_slug"),
        ("Injection", "a;drop schema public", "invalid_slug"),
    ],
)
def test_bad_names_and_slugs_are_refused(tenants: dict[str, Tenant], name: str, slug: str, code: str) -> None:
    with pytest.raises(TenantProvisioningError) as caught:
        create_tenant(name=name, slug=slug, admin_email="a@b.test")
    assert caught.value.code == code
