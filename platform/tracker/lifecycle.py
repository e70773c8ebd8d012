"""The task lifecycle: the one table of allowed status changes, and what follows from it.

The README and the OpenAPI text show `lifecycle_markdown()`; a test keeps README.md in step.
"""

from collections.abc import Mapping
from types import MappingProxyType

from tracker.errors import InvalidTransitionError
from tracker.models import Status
from tracker.roles import Action, roles_allowed

# from → allowed targets. Staying in the current status is not a transition (and writes nothing).
TRANSITIONS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        Status.OPEN: (Status.IN_PROGRESS,),
        Status.IN_PROGRESS: (Status.BLOCKED, Status.DONE, Status.OPEN),
        Status.BLOCKED: (Status.IN_PROGRESS,),
        Status.DONE: (Status.OPEN,),
    }
)

# Transitions that are reopenings: the role matrix restricts them (Action.REOPEN_TASK).
REOPENINGS: frozenset[tuple[str, str]] = frozenset({(Status.DONE, Status.OPEN)})

INITIAL_STATUS = Status.OPEN


def allowed_targets(current: str) -> tuple[str, ...]:
    return TRANSITIONS[current]


def is_reopening(current: str, target: str) -> bool:
    return (current, target) in REOPENINGS


def ensure_transition(*, current: str, target: str) -> None:
    """Raise 400 `invalid_transition` (with the allowed targets) unless current → target is in the table."""
    allowed = allowed_targets(current)
    if target not in allowed:
        raise InvalidTransitionError(
            f"A task in {current} can move to {', '.join(allowed)}, not to {target}.",
            current_status=str(current),
            requested_status=str(target),
            allowed=[str(status) for status in allowed],
        )


def lifecycle_markdown() -> str:
    reopen_roles = " or ".join(reversed(roles_allowed(Action.REOPEN_TASK)))
    lines = ["| from | to |", "|---|---|"]
    for current, targets in TRANSITIONS.items():
        cells = [
            f"{target} (reopen — {reopen_roles} only)" if is_reopening(current, target) else str(target)
            for target in targets
        ]
        lines.append(f"| {current} | {', '.join(cells)} |")
    return "\n".join(lines)
