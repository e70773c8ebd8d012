"""Writes to the tenant registry: provisioning a tenant with its schema and first admin."""

import re
import uuid
from dataclasses import dataclass

from django.db import transaction
from django.utils.text import slugify

from accounts.models import Membership, Role, User
from tenancy.models import Domain, Tenant

SLUG_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
RESERVED_SLUGS = frozenset({"public", "www", "api", "admin", "static"})


class TenantProvisioningError(ValueError):
    """Raised with a message a person can act on (duplicate slug, bad name)."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class ProvisionedTenant:
    tenant: Tenant
    admin: User
    admin_created: bool


def generate_schema_name() -> str:
    """A schema name that no client input can influence."""
    return f"t_{uuid.uuid4().hex[:20]}"


def validate_tenant_identity(*, name: str, slug: str) -> tuple[str, str]:
    clean_name = " ".join(name.split())
    if not clean_name:
        raise TenantProvisioningError("The tenant name must not be blank.", code="invalid_name")
    if len(clean_name) > 200:
        raise TenantProvisioningError("The tenant name must be at most 200 characters.", code="invalid_name")
    clean_slug = slug.strip().lower() or slugify(clean_name)
    if not SLUG_PATTERN.match(clean_slug):
        raise TenantProvisioningError(
            f"Slug {clean_slug!r} is invalid: use 1-63 lowercase letters, digits and inner hyphens.",
            code="invalid_slug",
        )
    if clean_slug in RESERVED_SLUGS:
        raise TenantProvisioningError(f"Slug {clean_slug!r} is reserved.", code="invalid_slug")
    if Tenant.objects.filter(slug=clean_slug).exists():
        raise TenantProvisioningError(
            f"A tenant with slug {clean_slug!r} already exists.", code="duplicate_slug"
        )
    return clean_name, clean_slug


def create_tenant(
    *,
    name: str,
    slug: str,
    admin_email: str,
    admin_password: str | None = None,
    domain: str | None = None,
) -> ProvisionedTenant:
    """Create a tenant, its schema (migrated) and its first ADMIN membership.

    The admin is an existing user (found by email) or a new one. `domain` defaults to `<slug>.localhost`,
    which lets the web UI select the tenant by host name in development.
    """
    clean_name, clean_slug = validate_tenant_identity(name=name, slug=slug)
    email = User.objects.normalize_email(admin_email).strip().lower()
    if not email or "@" not in email:
        raise TenantProvisioningError(f"{admin_email!r} is not an email address.", code="invalid_email")

    # Saving the tenant creates and migrates its schema (DDL, transactional in PostgreSQL), so the
    # registry row, the schema and the membership appear together or not at all.
    with transaction.atomic():
        tenant = Tenant(schema_name=generate_schema_name(), name=clean_name, slug=clean_slug)
        tenant.save(verbosity=0)
        Domain.objects.create(tenant=tenant, domain=domain or f"{clean_slug}.localhost", is_primary=True)
        admin, admin_created = User.objects.get_or_create(email=email)
        if admin_created:
            if admin_password:
                admin.set_password(admin_password)
            else:
                admin.set_unusable_password()
            admin.save()
        Membership.objects.create(user=admin, tenant=tenant, role=Role.ADMIN)
    return ProvisionedTenant(tenant=tenant, admin=admin, admin_created=admin_created)
