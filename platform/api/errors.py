"""RFC 9457 problem details for every error under /api/.

Every error body is `application/problem+json` with `type`, `title`, `status`, `detail`, a stable machine
`code`, the request id, and for validation errors `errors: {field: [messages]}`. Clients branch on `code`;
`title` and `detail` are for people.
"""

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://task-platform.dev/problems/"


class ProblemError(exceptions.APIException):
    """Base for our own errors: subclasses set `status_code`, `default_code` and `default_detail`.

    `extra` carries fields added to the problem body (e.g. the allowed transitions).
    """

    status_code: int = status.HTTP_400_BAD_REQUEST
    default_code = "bad_request"
    default_detail = "The request cannot be processed."

    def __init__(self, detail: str | None = None, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(detail=detail, code=code)
        self.code = code or self.default_code
        self.extra = extra


class NotAMemberError(ProblemError):
    status_code = status.HTTP_403_FORBIDDEN
    default_code = "not_a_member"
    default_detail = "You are not a member of this tenant."


class RoleTooLowError(ProblemError):
    status_code = status.HTTP_403_FORBIDDEN
    default_code = "role_too_low"
    default_detail = "Your role in this tenant does not allow this action."


class DatabaseUnavailableError(ProblemError):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "database_unavailable"
    default_detail = "The database cannot be reached right now; retry in a few seconds."


# A client retrying after this many seconds usually finds a restarted PostgreSQL back: Django reconnects
# on the next request (CONN_HEALTH_CHECKS), nothing needs restarting on our side.
DATABASE_RETRY_AFTER_SECONDS = 2


def is_database_unavailable(exc: BaseException) -> bool:
    """The database is down, restarting or dropped our connection: a 503 to retry, not a bug (500).

    OperationalError also covers transient server-side failures (a statement timeout, a deadlock), which
    are equally worth a retry. Errors in our SQL or data (ProgrammingError, DataError) stay 500s.
    """
    return isinstance(exc, OperationalError | InterfaceError)


def _log_database_unavailable(request: HttpRequest | None, exc: BaseException) -> None:
    # One line without traceback: during an outage every request lands here.
    first_line = (str(exc).strip().splitlines() or [""])[0]
    logger.warning(
        "database unavailable on %s: %s: %s", getattr(request, "path", "?"), type(exc).__name__, first_line
    )


def _title(status_code: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status_code).phrase
    except ValueError:
        return "Error"


def problem_body(
    *, status_code: int, code: str, detail: str, request: HttpRequest | None = None, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": _title(status_code),
        "status": status_code,
        "detail": detail,
        "code": code,
    }
    if request is not None:
        body["instance"] = request.path
        request_id = getattr(request, "request_id", None)
        if request_id:
            body["request_id"] = request_id
    body.update(extra)
    return body


def problem_response(
    *, status_code: int, code: str, detail: str, request: HttpRequest | None = None, **extra: Any
) -> JsonResponse:
    """A problem+json response for code outside DRF views (middleware, handler404/500)."""
    body = problem_body(status_code=status_code, code=code, detail=detail, request=request, **extra)
    return JsonResponse(body, status=status_code, content_type=PROBLEM_CONTENT_TYPE)


# Stable codes for DRF's own exceptions (their default codes are fine words, but we pin them here so an
# upgrade of DRF cannot change our contract).
_DRF_CODES: dict[type[exceptions.APIException], str] = {
    exceptions.ParseError: "malformed_request",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "rate_limited",
    exceptions.ValidationError: "validation_error",
}


def _flatten_errors(detail: Any) -> dict[str, list[str]]:
    """DRF validation detail → {field: [messages]}; nested fields are joined with dots."""
    errors: dict[str, list[str]] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), inner)
        elif isinstance(value, list):
            if all(not isinstance(item, dict | list) for item in value):
                errors.setdefault(prefix or "non_field_errors", []).extend(str(item) for item in value)
            else:
                for index, inner in enumerate(value):
                    walk(f"{prefix}.{index}" if prefix else str(index), inner)
        else:
            errors.setdefault(prefix or "non_field_errors", []).append(str(value))

    walk("", detail)
    return errors


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's EXCEPTION_HANDLER: map every exception a view raises to problem+json."""
    request = context.get("request")
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif is_database_unavailable(exc):
        _log_database_unavailable(getattr(request, "_request", request), exc)
        exc = DatabaseUnavailableError()
    if not isinstance(exc, exceptions.APIException):
        return None  # a bug: Django's handler500 answers with a problem body and logs the traceback

    headers: dict[str, str] = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header  # type: ignore[attr-defined]
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))  # type: ignore[attr-defined]
    if isinstance(exc, DatabaseUnavailableError):
        headers["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)

    extra: dict[str, Any] = {}
    if isinstance(exc, ProblemError):
        code = exc.code
        detail = str(exc.detail)
        extra = dict(exc.extra)
    elif isinstance(exc, exceptions.ValidationError):
        code = "validation_error"
        detail = "The request has invalid fields."
        extra["errors"] = _flatten_errors(exc.detail)
    else:
        code = _DRF_CODES.get(type(exc)) or next(
            (value for cls, value in _DRF_CODES.items() if isinstance(exc, cls)), "error"
        )
        # simplejwt's InvalidToken carries a structured detail; keep its message only.
        raw = exc.detail
        detail = str(raw.get("detail", raw)) if isinstance(raw, dict) else str(raw)
        if isinstance(raw, dict) and raw.get("code") == "token_not_valid":
            code = "token_not_valid"

    set_rollback()
    body = problem_body(
        status_code=exc.status_code,
        code=code,
        detail=detail,
        request=getattr(request, "_request", request),
        **extra,
    )
    return Response(body, status=exc.status_code, headers=headers, content_type=PROBLEM_CONTENT_TYPE)


def api_not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return problem_response(
        status_code=404, code="not_found", detail="No resource at this address.", request=request
    )


def database_unavailable_response(request: HttpRequest, exc: BaseException) -> HttpResponse:
    """503 for a database failure raised outside a DRF view (middleware, plain views): problem+json
    under /api/, plain text for the web pages."""
    _log_database_unavailable(request, exc)
    response: HttpResponse
    if request.path.startswith("/api/"):
        response = problem_response(
            status_code=DatabaseUnavailableError.status_code,
            code=DatabaseUnavailableError.default_code,
            detail=DatabaseUnavailableError.default_detail,
            request=request,
        )
    else:
        response = HttpResponse(
            DatabaseUnavailableError.default_detail,
            status=DatabaseUnavailableError.status_code,
            content_type="text/plain; charset=utf-8",
        )
    response["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
    return response


def api_server_error(request: HttpRequest) -> JsonResponse:
    return problem_response(
        status_code=500,
        code="internal_error",
        detail="Something went wrong on our side; it has been logged with this request id.",
        request=request,
    )
