"""`manage.py replay_dead_letters [--tenant SLUG] [--id UUID] [--dry-run]`: send failed jobs again.

Without --id it replays every dead letter not replayed yet; with --id exactly that one (even if it was
replayed before). Without --tenant it looks in every tenant's schema. A command is an entry point, so it
is also the one place here that enters tenant schemas.
"""

import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from background.base import tenant_job_kwargs
from background.dead_letters import dead_letters_to_replay, replay_dead_letter
from config.celery import app
from tenancy.models import Tenant
from tenancy.schema import activate_public, activate_tenant
from tenancy.selectors import all_tenants, tenant_by_slug


class Command(BaseCommand):
    help = "Re-queue jobs from the dead-letter table(s)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", help="Only this tenant (slug).")
        parser.add_argument("--id", dest="dead_letter_id", help="Only this dead letter (UUID).")
        parser.add_argument("--dry-run", action="store_true", help="List what would be replayed.")

    def handle(self, *args: Any, **options: Any) -> None:
        dead_letter_id = self._parse_id(options["dead_letter_id"])
        tenants = self._tenants(options["tenant"])
        app.loader.import_default_modules()  # every job module, so job names resolve
        replayed = 0
        try:
            for tenant in tenants:
                activate_tenant(tenant)
                for dead_letter in dead_letters_to_replay(dead_letter_id=dead_letter_id):
                    self.stdout.write(
                        f"{tenant.slug} {dead_letter.id} {dead_letter.job}: {dead_letter.error[:120]}"
                    )
                    if options["dry_run"]:
                        continue
                    replay_dead_letter(dead_letter=dead_letter, enqueue=self._enqueuer(tenant))
                    replayed += 1
        finally:
            activate_public()
        if dead_letter_id is not None and replayed == 0 and not options["dry_run"]:
            where = f"tenant {options['tenant']}" if options["tenant"] else "any tenant"
            raise CommandError(f"No dead letter {dead_letter_id} in {where}.")
        self.stdout.write(self.style.SUCCESS(f"Replayed {replayed} dead letter(s)."))

    @staticmethod
    def _parse_id(raw: str | None) -> uuid.UUID | None:
        if raw is None:
            return None
        try:
            return uuid.UUID(raw)
        except ValueError:
            raise CommandError(f"--id must be a dead letter UUID, got {raw!r}.") from None

    @staticmethod
    def _tenants(slug: str | None) -> list[Tenant]:
        if slug is None:
            return all_tenants()
        tenant = tenant_by_slug(slug=slug)
        if tenant is None:
            raise CommandError(f"No tenant with slug {slug!r}.")
        return [tenant]

    @staticmethod
    def _enqueuer(tenant: Tenant) -> Any:
        def enqueue(job_name: str, kwargs: dict[str, Any]) -> None:
            if job_name not in app.tasks:
                raise CommandError(f"Job {job_name!r} no longer exists; this dead letter cannot be replayed.")
            app.tasks[job_name].apply_async(kwargs=tenant_job_kwargs(tenant=tenant, **kwargs))

        return enqueue
