"""`manage.py purge_idempotency_records`: drop Idempotency-Key records older than the retention window."""

from typing import Any

from django.core.management.base import BaseCommand

from api.idempotency import RETENTION, purge_expired_records


class Command(BaseCommand):
    help = f"Delete Idempotency-Key records older than {RETENTION}."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"Deleted {purge_expired_records()} expired idempotency record(s).")
