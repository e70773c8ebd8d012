"""`manage.py run_outbox_relay [--once]`: the outbox relay process (see outbox.relay for why a process)."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from outbox.relay import OutboxRelay, publish_with_celery
from outbox.routes import ONLY_WHEN, ROUTES


class Command(BaseCommand):
    help = "Publish unsent outbox rows of every tenant to Celery, forever (or once with --once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="One sweep over every tenant, then exit.")
        parser.add_argument("--sweep-seconds", type=float, default=settings.OUTBOX_RELAY_SWEEP_SECONDS)
        parser.add_argument("--batch-size", type=int, default=settings.OUTBOX_RELAY_BATCH_SIZE)

    def handle(self, *args: Any, **options: Any) -> None:
        relay = OutboxRelay(
            publish=publish_with_celery,
            routes=ROUTES,
            only_when=ONLY_WHEN,
            sweep_seconds=options["sweep_seconds"],
            batch_size=options["batch_size"],
            listen=not options["once"],
        )
        if options["once"]:
            result = relay.relay_all_once()
            self.stdout.write(
                f"Sent {result.sent} event(s)" + (f"; stopped on: {result.error}" if result.failed else "")
            )
            return
        relay.install_signal_handlers()
        relay.run()
