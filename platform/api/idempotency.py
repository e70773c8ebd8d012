"""`Idempotency-Key` on POST and PATCH (DESIGN.md §4), as a decorator for DRF view handlers.

    class ThingViewSet(TenantScopedView, viewsets.GenericViewSet):
        @idempotent
        def create(self, request: Request) -> Response: ...

Semantics, scoped to (tenant, user) and kept for `RETENTION`:
- same key, same request (method, path, canonical JSON body) → the first response is replayed with
  `Idempotent-Replayed: true`;
- same key, different request → 422 `idempotency_key_reused`;
- same key while the first request still runs → 409 `idempotency_in_flight`.

How: the handler runs in one transaction that first takes a transaction-scoped advisory lock on the
key (`pg_try_advisory_xact_lock`: a second holder gets 409 instead of waiting), and stores the response in
the same transaction as the handler's writes. So the record exists exactly when the change does, a crash
leaves neither behind, and the lock vanishes with the transaction: no "stuck in flight" states.
Only successful (2xx) responses are stored: an error wrote nothing, so a corrected retry may reuse the key.
"""

import functools
import hashlib
import json
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

from django.db import connection, transaction
from django.http import QueryDict
from django.utils import timezone
from rest_framework import status
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from api.errors import ProblemError
from api.models import IdempotencyRecord

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
RETENTION = timedelta(hours=24)
# Headers of the first response that a replay repeats (the body and status always are).
REPLAYED_RESPONSE_HEADERS = ("ETag", "Location")
_KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")

Handler = TypeVar("Handler", bound=Callable[..., Response])


class IdempotencyKeyInvalidError(ProblemError):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "idempotency_key_invalid"
    default_detail = f"{IDEMPOTENCY_HEADER} must be 1-255 visible ASCII characters (a UUID is a good choice)."


class IdempotencyInFlightError(ProblemError):
    status_code = status.HTTP_409_CONFLICT
    default_code = "idempotency_in_flight"
    default_detail = f"A request with this {IDEMPOTENCY_HEADER} is still being processed; retry shortly."


class IdempotencyKeyReusedError(ProblemError):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "idempotency_key_reused"
    default_detail = f"This {IDEMPOTENCY_HEADER} was already used for a different request."


def request_fingerprint(request: Request) -> str:
    """SHA-256 over method, path (with query) and the body as canonical JSON (key order is irrelevant)."""
    data = request.data
    if isinstance(data, QueryDict):
        data = {key: data.getlist(key) for key in sorted(data)}
    body = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    material = "\n".join([request.method or "", request.get_full_path(), body])
    return hashlib.sha256(material.encode("utf-8", "surrogatepass")).hexdigest()


def lock_key(*, tenant_id: object, user_id: object, key: str) -> int:
    """The 64-bit advisory lock id of one (tenant, user, key): PostgreSQL advisory locks are database-wide."""
    digest = hashlib.sha256(f"idempotency:{tenant_id}:{user_id}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _try_lock(lock_id: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [lock_id])
        row = cursor.fetchone()
    return bool(row and row[0])


def _replay(record: IdempotencyRecord) -> Response:
    headers = {**record.response_headers, REPLAYED_HEADER: "true"}
    return Response(record.response_body, status=record.response_status, headers=headers)


def _remember(*, tenant_id: Any, user_id: Any, key: str, fingerprint: str, response: Response) -> None:
    body = None if response.data is None else json.loads(JSONRenderer().render(response.data))
    headers = {name: response[name] for name in REPLAYED_RESPONSE_HEADERS if response.has_header(name)}
    # An expired record of the same key may still exist: the unique constraint allows one row per key.
    IdempotencyRecord.objects.filter(tenant_id=tenant_id, user_id=user_id, key=key).delete()
    IdempotencyRecord.objects.create(
        tenant_id=tenant_id,
        user_id=user_id,
        key=key,
        fingerprint=fingerprint,
        response_status=response.status_code,
        response_body=body,
        response_headers=headers,
    )


def idempotent(handler: Handler) -> Handler:
    """Make a POST/PATCH view handler honour `Idempotency-Key` (a request without the header runs as is)."""

    @functools.wraps(handler)
    def wrapper(view: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if key is None:
            return handler(view, request, *args, **kwargs)
        if not _KEY_PATTERN.match(key):
            raise IdempotencyKeyInvalidError()
        tenant = getattr(request, "tenant", None)
        tenant_id: Any = tenant.pk if tenant is not None else None
        user_id: Any = request.user.pk
        fingerprint = request_fingerprint(request)
        with transaction.atomic():
            if not _try_lock(lock_key(tenant_id=tenant_id, user_id=user_id, key=key)):
                raise IdempotencyInFlightError()
            record = (
                IdempotencyRecord.objects.filter(
                    tenant_id=tenant_id, user_id=user_id, key=key, created_at__gte=timezone.now() - RETENTION
                )
                .only("fingerprint", "response_status", "response_body", "response_headers")
                .first()
            )
            if record is not None:
                if record.fingerprint != fingerprint:
                    raise IdempotencyKeyReusedError()
                return _replay(record)
            response = handler(view, request, *args, **kwargs)
            if status.is_success(response.status_code):
                _remember(
                    tenant_id=tenant_id, user_id=user_id, key=key, fingerprint=fingerprint, response=response
                )
            return response

    wrapper.idempotent = True  # type: ignore[attr-defined]  # read by api.openapi to document the header
    return cast(Handler, wrapper)


def is_idempotent(handler: object) -> bool:
    return bool(getattr(handler, "idempotent", False))


def purge_expired_records(*, now: datetime | None = None) -> int:
    """Delete records past the retention window; returns how many went."""
    cutoff = (now or timezone.now()) - RETENTION
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted
