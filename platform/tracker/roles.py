"""Who may do what with projects and tasks: the role matrix, written once.

Views derive their coarse `required_roles` from it (`minimum_role`), services apply the fine rules (own
tasks, self-assignment) through `ensure_allowed` / `ensure_may_assign`, and `matrix_markdown` renders it
for the README (a test keeps README.md in step).
"""

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from accounts.models import ROLE_RANK, Role
from api.errors import RoleTooLowError
from tracker.errors import NotTaskParticipantError


class Action(StrEnum):
    VIEW = "Read projects, tasks, activity and SLA"
    CREATE_PROJECT = "Create projects"
    UPDATE_PROJECT = "Update projects"
    ARCHIVE_PROJECT = "Archive projects"
    CREATE_TASK = "Create tasks"
    UPDATE_TASK = "Edit task fields"
    TRANSITION_TASK = "Change task status along the lifecycle"
    REOPEN_TASK = "Reopen tasks (DONE → OPEN)"
    ASSIGN_TASK = "Assign tasks"
    DELETE_TASK = "Delete tasks (soft)"
    RESTORE_TASK = "Restore deleted tasks"
    VIEW_DELETED = "List and read deleted tasks (`include_deleted=true`)"


class Scope(StrEnum):
    ANY = "yes"
    OWN = "own tasks ¹"
    SELF = "self only ²"
    NONE = "no"


FOOTNOTES = (
    "¹ tasks they reported or are assigned to.",
    "² on their own tasks, set the assignee to themselves or (when it is them) to nobody; "
    "this includes creating a task assigned to themselves.",
)

_A, _M, _E = Role.ADMIN, Role.MANAGER, Role.MEMBER
MATRIX: Mapping[Action, Mapping[str, Scope]] = MappingProxyType(
    {
        Action.VIEW: {_A: Scope.ANY, _M: Scope.ANY, _E: Scope.ANY},
        Action.CREATE_PROJECT: {_A: Scope.ANY, _M: Scope.ANY, _E: Scope.NONE},
        Action.UPDATE_PROJECT: {_A: Scope.ANY, _M: Scope.ANY, _E: Scope.NONE},
        Action.ARCHIVE_PROJECT: {_A: Scope.ANY, _M: Scope.ANY, _E: Scope.NONE},
        Action.CREATE_TASK: {_A: Scope.ANY, _M: Scope.ANY, _E: Scope.ANY},
        Action.UPDATE_TASK: {_A: Scope.ANY, _M: Scope.ANY, _E: Scope.OWN},
        Action.TRANSITION_TASK: {_A: Scope.ANY, _M: Scope.ANY, _E: Scope.OWN},
        Action.REOPEN_TASK: {_A: Scope.ANY, _M: Scope.ANY, _E: Scope.NONE},
        Action.ASSIGN_TASK: {_A: Scope.ANY, _M: Scope.ANY, _E: Scope.SELF},
        Action.DELETE_TASK: {_A: Scope.ANY, _M: Scope.ANY, _E: Scope.NONE},
        Action.RESTORE_TASK: {_A: Scope.ANY, _M: Scope.NONE, _E: Scope.NONE},
        Action.VIEW_DELETED: {_A: Scope.ANY, _M: Scope.NONE, _E: Scope.NONE},
    }
)

_ROLES_BY_RANK = sorted(ROLE_RANK, key=ROLE_RANK.__getitem__)  # least powerful first


def scope_of(action: Action, role: str) -> Scope:
    return MATRIX[action][role]


def minimum_role(action: Action) -> str:
    """The least role that may do `action` at all (possibly only on its own tasks)."""
    return next(role for role in _ROLES_BY_RANK if MATRIX[action][role] is not Scope.NONE)


def unrestricted_role(action: Action) -> str:
    """The least role that may do `action` on any task."""
    return next(role for role in _ROLES_BY_RANK if MATRIX[action][role] is Scope.ANY)


def roles_allowed(action: Action) -> list[str]:
    """Roles with any grant for `action`, most powerful first (for prose such as the lifecycle table)."""
    return [role for role in reversed(_ROLES_BY_RANK) if MATRIX[action][role] is not Scope.NONE]


def required_roles(actions: Mapping[str, Action]) -> dict[str, str]:
    """`required_roles` for a view ({view action: least role}), for `api.permissions.HasRequiredRole`."""
    return {view_action: minimum_role(action) for view_action, action in actions.items()}


def is_participant(*, actor_id: int, reporter_id: int, assignee_id: int | None) -> bool:
    return actor_id in (reporter_id, assignee_id)


def _too_low(action: Action) -> RoleTooLowError:
    needed = unrestricted_role(action)
    return RoleTooLowError(
        f"{action.value}: this needs the {needed} role or higher.", required_role=str(needed)
    )


def ensure_allowed(
    *,
    action: Action,
    role: str,
    actor_id: int,
    reporter_id: int | None = None,
    assignee_id: int | None = None,
) -> None:
    """Raise 403 unless `role` may do `action` (on the task with this reporter and assignee, if scoped)."""
    scope = scope_of(action, role)
    if scope is Scope.NONE:
        raise _too_low(action)
    if scope is Scope.OWN and not (
        reporter_id is not None
        and is_participant(actor_id=actor_id, reporter_id=reporter_id, assignee_id=assignee_id)
    ):
        raise NotTaskParticipantError()


def ensure_may_assign(
    *, role: str, actor_id: int, old_assignee_id: int | None, new_assignee_id: int | None
) -> None:
    """Raise 403 unless `role` may move the assignee from `old_assignee_id` to `new_assignee_id`."""
    scope = scope_of(Action.ASSIGN_TASK, role)
    if scope is Scope.ANY:
        return
    takes_it = new_assignee_id == actor_id
    drops_it = new_assignee_id is None and old_assignee_id == actor_id
    if scope is Scope.SELF and (takes_it or drops_it):
        return
    raise _too_low(Action.ASSIGN_TASK)


def matrix_markdown() -> str:
    """The matrix as a Markdown table with its footnotes, as README.md shows it."""
    roles = list(reversed(_ROLES_BY_RANK))
    lines = [
        "| action | " + " | ".join(roles) + " |",
        "|---|" + "---|" * len(roles),
    ]
    for action, grants in MATRIX.items():
        lines.append(f"| {action.value} | " + " | ".join(grants[role].value for role in roles) + " |")
    return "\n".join(lines) + "\n\n" + "\n\n".join(FOOTNOTES)
