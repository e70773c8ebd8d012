"""The SLA clocks of one task, from its status history (pure: no database, no `now()` of its own).

The rules (analytics.models.SlaPolicy): both clocks run only while the task is OPEN or IN_PROGRESS, so
time in BLOCKED is paused (and time in DONE is not counted either). `time_to_start` runs from creation to
the first IN_PROGRESS (or DONE); `time_to_done` runs until the task is DONE, and again if it is reopened.
States: `met` (finished within target), `breached` (past the target, finished or not), `warning` (at 80%
or more, running), `ok`.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from analytics.sla import SlaTarget
from sla.models import SlaLevel, SlaTargetName
from tracker.models import Status

WARNING_FRACTION = 0.8
_RUNNING = frozenset({Status.OPEN, Status.IN_PROGRESS})
_STARTED = frozenset({Status.IN_PROGRESS, Status.DONE})


@dataclass(frozen=True)
class TargetClock:
    target: str
    target_seconds: int
    elapsed_seconds: float
    paused_seconds: float
    finished: bool

    @property
    def remaining_seconds(self) -> float:
        return max(0.0, self.target_seconds - self.elapsed_seconds)

    @property
    def state(self) -> str:
        if self.elapsed_seconds > self.target_seconds:
            return "breached"
        if self.finished:
            return "met"
        if self.elapsed_seconds >= WARNING_FRACTION * self.target_seconds:
            return "warning"
        return "ok"

    @property
    def level(self) -> str | None:
        """The alert level this clock has reached while running (finished clocks raise nothing)."""
        if self.finished:
            return None
        if self.elapsed_seconds > self.target_seconds:
            return SlaLevel.BREACHED
        if self.elapsed_seconds >= WARNING_FRACTION * self.target_seconds:
            return SlaLevel.WARNING
        return None


def _segments(
    created_at: datetime, changes: Sequence[tuple[datetime, str]], now: datetime
) -> list[tuple[str, float]]:
    """(status, seconds) spans from creation (OPEN) through every change to `now`."""
    spans = []
    status, since = Status.OPEN.value, created_at
    for occurred_at, new_status in changes:
        spans.append((status, max(0.0, (occurred_at - since).total_seconds())))
        status, since = new_status, occurred_at
    spans.append((status, max(0.0, (now - since).total_seconds())))
    return spans


def task_clocks(
    *, created_at: datetime, status_changes: Sequence[tuple[datetime, str]], now: datetime, targets: SlaTarget
) -> list[TargetClock]:
    """Both clocks of a task; `status_changes` are (occurred_at, new status) in log order."""
    spans = _segments(created_at, status_changes, now)

    start_elapsed = start_paused = 0.0
    started = False
    for status, seconds in spans:
        if status in _STARTED:
            started = True
            break
        if status in _RUNNING:
            start_elapsed += seconds
        elif status == Status.BLOCKED:
            start_paused += seconds

    done_elapsed = sum(seconds for status, seconds in spans if status in _RUNNING)
    done_paused = sum(seconds for status, seconds in spans if status == Status.BLOCKED)
    done = spans[-1][0] == Status.DONE

    return [
        TargetClock(
            target=SlaTargetName.TIME_TO_START,
            target_seconds=targets.time_to_start_seconds,
            elapsed_seconds=start_elapsed,
            paused_seconds=start_paused,
            finished=started,
        ),
        TargetClock(
            target=SlaTargetName.TIME_TO_DONE,
            target_seconds=targets.time_to_done_seconds,
            elapsed_seconds=done_elapsed,
            paused_seconds=done_paused,
            finished=done,
        ),
    ]
