"""The dedupe key per event: a job claims (job, key) in the same transaction as its effect."""

from django.db import connection

from background.models import ProcessedEvent


class ClaimOutsideTransactionError(RuntimeError):
    """A claim committed on its own would mark the event done even if the job's work then failed."""


def claim(*, job: str, key: str) -> bool:
    """True the first time (job, key) is claimed, False on every later try.

    Must run inside the job's `transaction.atomic()`: the claim commits or rolls back with the work. Two
    workers claiming the same key at once serialise on the unique index; the second sees False once the
    first commits (or True if the first rolls back).
    """
    if not connection.in_atomic_block:
        raise ClaimOutsideTransactionError(f"claim({job!r}, {key!r}) must run inside transaction.atomic()")
    # One statement (not get_or_create's SELECT, SAVEPOINT, INSERT, RELEASE): this runs once per job.
    table = ProcessedEvent._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO "{table}" (job, key, processed_at) VALUES (%s, %s, now()) '
            "ON CONFLICT (job, key) DO NOTHING RETURNING id",
            [job, key],
        )
        return cursor.fetchone() is not None


def event_key(event_id: int | str) -> str:
    """The key of an outbox event: its id, unique within the tenant's schema."""
    return f"outbox:{event_id}"
