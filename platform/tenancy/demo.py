"""The small built-in demo set that `make run` creates when absent: two tenants and a user per role."""

from dataclasses import dataclass

from django.db import transaction

from accounts.models import Membership, Role, User
from tenancy.models import Tenant
from tenancy.selectors import tenant_by_slug
from tenancy.services import create_tenant

DEMO_PASSWORD = "demo-password-1"


@dataclass(frozen=True)
class DemoAccount:
    email: str
    tenant: Tenant
    role: str


DEMO_TENANTS = [("acme", "Acme Corp"), ("globex", "Globex")]


def ensure_demo_data() -> list[DemoAccount]:
    """Create the demo tenants and their users if absent; return every demo account."""
    accounts: list[DemoAccount] = []
    for slug, name in DEMO_TENANTS:
        tenant = tenant_by_slug(slug=slug)
        if tenant is None:
            tenant = create_tenant(
                name=name, slug=slug, admin_email=f"admin@{slug}.example", admin_password=DEMO_PASSWORD
            ).tenant
        for role in (Role.ADMIN, Role.MANAGER, Role.MEMBER):
            email = f"{role.lower()}@{slug}.example"
            with transaction.atomic():
                user = User.objects.filter(email=email).first()
                if user is None:
                    user = User.objects.create_user(email, DEMO_PASSWORD, full_name=f"{name} {role.title()}")
                Membership.objects.get_or_create(user=user, tenant=tenant, defaults={"role": role})
            accounts.append(DemoAccount(email=email, tenant=tenant, role=role))
    return accounts
