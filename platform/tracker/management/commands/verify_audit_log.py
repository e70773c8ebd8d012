"""`manage.py verify_audit_log [--tenant SLUG]`: walk each tenant's activity hash chain.

Prints one line per tenant and exits non-zero when any chain is broken, naming the first broken row.
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_tenants.utils import tenant_context

from tenancy.selectors import all_tenants, tenant_by_slug
from tracker.audit import verify_chain


class Command(BaseCommand):
    help = "Verify the tamper-evident activity log of every tenant (or one) and report the first broken link."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", metavar="SLUG", help="Only this tenant.")

    def handle(self, *args: Any, **options: Any) -> None:
        slug = options.get("tenant")
        if slug:
            tenant = tenant_by_slug(slug=slug)
            if tenant is None:
                raise CommandError(f"No tenant has the slug {slug!r}.")
            tenants = [tenant]
        else:
            tenants = all_tenants()
        broken = 0
        for tenant in tenants:
            with tenant_context(tenant):
                report = verify_chain()
            if report.broken is None:
                self.stdout.write(f"{tenant.slug}: ok ({report.rows} rows)")
            else:
                broken += 1
                self.stdout.write(f"{tenant.slug}: BROKEN at seq {report.broken.seq}: {report.broken.reason}")
        if broken:
            raise CommandError(f"The activity log is broken in {broken} tenant(s); see above.")
