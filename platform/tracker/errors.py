"""The tracker's own problem codes (RFC 9457 bodies via `api.errors`); clients branch on `code`."""

from rest_framework import status
from rest_framework.exceptions import ValidationError

from api.errors import ProblemError


class InvalidTransitionError(ProblemError):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid_transition"
    default_detail = "The task's lifecycle does not allow this status change."


class ProjectArchivedError(ProblemError):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "project_archived"
    default_detail = "The project is archived: it takes no new tasks."


class NotTaskParticipantError(ProblemError):
    status_code = status.HTTP_403_FORBIDDEN
    default_code = "not_task_participant"
    default_detail = "A MEMBER may only change tasks they reported or are assigned to."


class PreconditionFailedError(ProblemError):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_code = "precondition_failed"
    default_detail = "The task changed since you read it (If-Match is stale): read it again and retry."


class TaskNotFoundError(ProblemError):
    status_code = status.HTTP_404_NOT_FOUND
    default_code = "not_found"
    default_detail = "No task has this id."


def field_error(field: str, message: str) -> ValidationError:
    """A 400 `validation_error` naming one field, for rules that only a service can check."""
    return ValidationError({field: [message]})
