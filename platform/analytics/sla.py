"""SLA targets: the documented defaults, and the targets in force for a tenant (its policies over them)."""

from dataclasses import dataclass

from tracker.models import Priority

HOUR = 3600
DAY = 24 * HOUR


@dataclass(frozen=True)
class SlaTarget:
    """Seconds of OPEN/IN_PROGRESS time allowed before a task starts, and before it is done."""

    time_to_start_seconds: int
    time_to_done_seconds: int


# The targets of a priority the tenant has no SlaPolicy row for. The one place these numbers live.
DEFAULT_TARGETS: dict[str, SlaTarget] = {
    Priority.URGENT: SlaTarget(time_to_start_seconds=1 * HOUR, time_to_done_seconds=8 * HOUR),
    Priority.HIGH: SlaTarget(time_to_start_seconds=4 * HOUR, time_to_done_seconds=3 * DAY),
    Priority.MEDIUM: SlaTarget(time_to_start_seconds=1 * DAY, time_to_done_seconds=7 * DAY),
    Priority.LOW: SlaTarget(time_to_start_seconds=3 * DAY, time_to_done_seconds=14 * DAY),
}
