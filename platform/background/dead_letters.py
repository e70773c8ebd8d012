"""Writes and reads of the dead-letter table (the active tenant's schema)."""

import traceback as traceback_module
import uuid
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from background.models import DeadLetter


def record_dead_letter(
    *, job: str, kwargs: dict[str, Any], error: BaseException, attempts: int
) -> DeadLetter:
    """Keep what the job was asked to do and why its last try failed, for an operator to replay."""
    return DeadLetter.objects.create(
        job=job,
        kwargs=kwargs,
        error=f"{type(error).__name__}: {error}"[:10_000],
        traceback="".join(traceback_module.format_exception(error))[-20_000:],
        attempts=attempts,
    )


def dead_letters_to_replay(*, dead_letter_id: uuid.UUID | None = None) -> QuerySet[DeadLetter]:
    """The one named by id (replayed before or not), or every one not replayed yet."""
    if dead_letter_id is not None:
        return DeadLetter.objects.filter(id=dead_letter_id)
    return DeadLetter.objects.filter(replayed_at__isnull=True).order_by("failed_at")


def replay_dead_letter(*, dead_letter: DeadLetter, enqueue: Callable[[str, dict[str, Any]], None]) -> None:
    """Send the job again with its original arguments, then mark the row replayed.

    `enqueue` publishes to the broker; if it raises, the row stays unreplayed. A crash between publishing
    and marking means a second replay later, which the job's own dedupe key absorbs.
    """
    enqueue(dead_letter.job, dict(dead_letter.kwargs))
    with transaction.atomic():
        DeadLetter.objects.filter(id=dead_letter.id).update(
            replayed_at=timezone.now(), replay_count=F("replay_count") + 1
        )
