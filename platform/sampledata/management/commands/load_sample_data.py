"""`manage.py load_sample_data`: tenants, people for every role, projects and months of task history."""

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from sampledata.loader import SAMPLE_PASSWORD, load_sample_data, sample_accounts


class Command(BaseCommand):
    help = (
        "Create sample tenants (acme, globex, initech, ...) with users for every role, projects and tasks "
        "whose history goes back --days days. Deterministic for a --seed; running it again adds nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenants", type=int, default=3, help="how many tenants (default 3)")
        parser.add_argument("--days", type=int, default=90, help="days of history (default 90)")
        parser.add_argument(
            "--tasks-per-project", type=int, default=120, help="tasks per project (default 120)"
        )
        parser.add_argument("--seed", type=int, default=42)

    def handle(self, *args: Any, **options: Any) -> None:
        def progress(label: str, done: int, total: int) -> None:
            width = 30
            filled = width * done // max(total, 1)
            sys.stderr.write(
                f"\r  {label:<10} [{'#' * filled}{'.' * (width - filled)}] {done}/{total} activity rows"
            )
            if done == total:
                sys.stderr.write("\n")
            sys.stderr.flush()

        loads = load_sample_data(
            tenants=options["tenants"],
            days=options["days"],
            tasks_per_project=options["tasks_per_project"],
            seed=options["seed"],
            progress=progress,
        )
        for load in loads:
            state = f"{load.tasks} tasks, {load.activity} activity rows" if load.created else "already loaded"
            self.stdout.write(f"tenant {load.slug:<10} id={load.tenant_id}  {state}")
        self.stdout.write(f"\nSample accounts (password: {SAMPLE_PASSWORD}):")
        for account in sample_accounts(loads):
            self.stdout.write(f"  {account.email:<26} {account.role:<8} tenant={account.tenant_slug}")
