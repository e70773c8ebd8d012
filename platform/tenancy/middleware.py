"""Which tenant a request is for, from the `X-Tenant-ID` header.

This middleware only *identifies* the tenant (a read in the public schema). The tenant's schema is
activated later, in `api.tenant_views.TenantScopedView.initial`, after DRF has authenticated the user and
checked the membership: a user of tenant A naming tenant B never causes a single query in B's schema.
The header value itself never reaches `set_schema`; only the schema name read from the Tenant row does.
"""

import uuid
from collections.abc import Callable

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve
from django.utils.cache import patch_vary_headers

from api.errors import database_unavailable_response, is_database_unavailable, problem_response
from tenancy.schema import activate_public
from tenancy.selectors import tenant_by_id

TENANT_HEADER = "X-Tenant-ID"


def is_tenant_scoped_path(path: str) -> bool:
    """True when the URL resolves to a view that declares `tenant_scoped = True`."""
    try:
        match = resolve(path)
    except Resolver404:
        return False
    view_class = getattr(match.func, "cls", None) or getattr(match.func, "view_class", None)
    return bool(getattr(view_class, "tenant_scoped", False))


class TenantSelectionMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # Persistent connections carry the previous request's search_path: start every request in public.
        activate_public()
        request.tenant = None  # type: ignore[attr-defined]
        tenant_scoped = is_tenant_scoped_path(request.path_info)
        if tenant_scoped:
            try:
                early = self._identify_tenant(request)
            except DatabaseError as error:
                # Raised here, outside any view, Django would answer 500: a database outage is a 503.
                if not is_database_unavailable(error):
                    raise
                early = database_unavailable_response(request, error)
            if early is not None:
                patch_vary_headers(early, [TENANT_HEADER])
                return early
        try:
            response = self.get_response(request)
        finally:
            activate_public()
        if tenant_scoped:
            patch_vary_headers(response, [TENANT_HEADER])
        return response

    def _identify_tenant(self, request: HttpRequest) -> HttpResponse | None:
        raw = request.headers.get(TENANT_HEADER)
        if raw is None or not raw.strip():
            return problem_response(
                status_code=400,
                code="tenant_header_missing",
                detail=f"This endpoint is tenant-scoped: send the {TENANT_HEADER} header with a tenant id.",
                request=request,
            )
        try:
            tenant_id = uuid.UUID(raw.strip())
        except ValueError:
            return problem_response(
                status_code=400,
                code="tenant_header_invalid",
                detail=f"{TENANT_HEADER} must be a tenant UUID.",
                request=request,
            )
        tenant = tenant_by_id(tenant_id=tenant_id)
        if tenant is None:
            return problem_response(
                status_code=404, code="tenant_not_found", detail="No tenant has this id.", request=request
            )
        request.tenant = tenant  # type: ignore[attr-defined]
        return None
