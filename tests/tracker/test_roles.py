"""The role matrix: one table in code, from which views and services take their rules."""

from accounts.models import Role
from tracker.roles import MATRIX, Action, Scope, minimum_role, required_roles, unrestricted_role


def test_the_matrix_says_what_the_issue_says() -> None:
    admin = {action for action, grants in MATRIX.items() if grants[Role.ADMIN] is Scope.ANY}
    assert admin == set(Action)
    manager = {action for action, grants in MATRIX.items() if grants[Role.MANAGER] is Scope.ANY}
    assert manager == set(Action) - {Action.RESTORE_TASK, Action.VIEW_DELETED}
    member = {
        action: grants[Role.MEMBER]
        for action, grants in MATRIX.items()
        if grants[Role.MEMBER] is not Scope.NONE
    }
    assert member == {
        Action.VIEW: Scope.ANY,
        Action.CREATE_TASK: Scope.ANY,
        Action.UPDATE_TASK: Scope.OWN,
        Action.TRANSITION_TASK: Scope.OWN,
        Action.ASSIGN_TASK: Scope.SELF,
    }


def test_views_take_their_least_roles_from_the_matrix() -> None:
    assert required_roles({"destroy": Action.DELETE_TASK, "create": Action.CREATE_TASK}) == {
        "destroy": Role.MANAGER,
        "create": Role.MEMBER,
    }
    assert minimum_role(Action.UPDATE_TASK) == Role.MEMBER
    assert unrestricted_role(Action.UPDATE_TASK) == Role.MANAGER
    assert minimum_role(Action.RESTORE_TASK) == Role.ADMIN
