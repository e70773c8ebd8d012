"""Request ids (every request gets one, every log line and error body shows it) and problem+json fallbacks."""

import contextvars
import logging
import re
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
current_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        offered = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = offered if _SAFE_REQUEST_ID.match(offered) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        token = current_request_id.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            current_request_id.reset(token)
        response[REQUEST_ID_HEADER] = request_id
        return response


class RequestIdLogFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        request_id = current_request_id.get()
        if request_id == "-":
            # django.request logs 4xx/5xx after the middleware chain returned (the context is reset by
            # then), but it passes the request along.
            request_id = getattr(getattr(record, "request", None), "request_id", None) or "-"
        record.request_id = request_id
        return True


class ProblemFallbackMiddleware:
    """Keeps the promise that every /api/ error is problem+json, even for errors outside DRF views.

    Django answers unknown URLs and unhandled exceptions with HTML (a debug page under DEBUG); under /api/
    we replace those with problem bodies. Unhandled exceptions are logged with their traceback here.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not request.path.startswith("/api/") or response.status_code < 400:
            return response
        if response.get("Content-Type", "").startswith(("application/problem+json", "application/json")):
            return response
        from api.errors import api_not_found, problem_response

        if response.status_code == 404:
            replacement = api_not_found(request)
        else:
            replacement = problem_response(
                status_code=response.status_code,
                code="internal_error" if response.status_code >= 500 else "error",
                detail="The request failed; the server log has details under this request id.",
                request=request,
            )
        # Keep what the inner middleware set on the original (security headers, Vary, Retry-After).
        for header, value in response.items():
            if header.lower() not in ("content-type", "content-length"):
                replacement.setdefault(header, value)
        return replacement

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        from api.errors import database_unavailable_response, is_database_unavailable

        if is_database_unavailable(exception):
            # PostgreSQL is down or restarting: a 503 the client may retry, on every path (the web UI too).
            return database_unavailable_response(request, exception)
        if not request.path.startswith("/api/"):
            return None
        from django.http import Http404

        from api.errors import api_not_found, api_server_error

        if isinstance(exception, Http404):
            return api_not_found(request)
        logging.getLogger("api").error("Unhandled error on %s", request.path, exc_info=exception)
        return api_server_error(request)


class ContentSecurityPolicyMiddleware:
    """Sends settings.CONTENT_SECURITY_POLICY on every response (Django 5.2 has no CSP support of its own)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        from django.conf import settings

        self.policy: str = settings.CONTENT_SECURITY_POLICY

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if self.policy and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = self.policy
        return response
