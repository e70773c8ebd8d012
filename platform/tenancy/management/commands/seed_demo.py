"""`manage.py seed_demo`: the built-in demo tenants and users, created if absent, credentials printed."""

from typing import Any

from django.core.management.base import BaseCommand

from tenancy.demo import DEMO_PASSWORD, ensure_demo_data


class Command(BaseCommand):
    help = "Create the demo tenants (acme, globex) and one user per role in each, if absent."

    def handle(self, *args: Any, **options: Any) -> None:
        accounts = ensure_demo_data()
        self.stdout.write(f"Demo accounts (password: {DEMO_PASSWORD}):")
        for account in accounts:
            self.stdout.write(
                f"  {account.email:<24} {account.role:<8} tenant={account.tenant.slug} id={account.tenant.id}"
            )
