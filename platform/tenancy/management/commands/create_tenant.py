"""`manage.py create_tenant --name --slug --admin-email`: provision a tenant and print its id."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenancy.services import TenantProvisioningError, create_tenant


class Command(BaseCommand):
    help = "Create a tenant with its own schema and a first ADMIN; prints the tenant id for X-Tenant-ID."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True, help="Display name, e.g. 'Acme Corp'.")
        parser.add_argument("--slug", required=True, help="Short unique name, e.g. 'acme'.")
        parser.add_argument("--admin-email", required=True, help="First ADMIN (existing or new user).")
        parser.add_argument("--admin-password", help="Password when the admin user is new.")
        parser.add_argument("--domain", help="Host name for the web UI (default <slug>.localhost).")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            provisioned = create_tenant(
                name=options["name"],
                slug=options["slug"],
                admin_email=options["admin_email"],
                admin_password=options.get("admin_password"),
                domain=options.get("domain"),
            )
        except TenantProvisioningError as error:
            raise CommandError(str(error)) from None
        tenant = provisioned.tenant
        self.stdout.write(
            f"created tenant {tenant.slug} id={tenant.id} schema={tenant.schema_name} "
            f"admin={provisioned.admin.email}"
        )
        self.stdout.write(str(tenant.id))
