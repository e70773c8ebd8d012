"""Base for every tenant-scoped API view: authenticate, check membership, then enter the tenant's schema."""

from typing import Any

from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request

from api.permissions import HasRequiredRole, IsTenantMember
from tenancy.schema import activate_tenant


class TenantScopedView:
    """Mixin for DRF views and viewsets whose data lives in a tenant schema.

    `tenant_scoped = True` tells `TenantSelectionMiddleware` to require `X-Tenant-ID`. The schema is
    activated here, only after the user proved membership, and it is the only place a request switches
    schemas.
    """

    tenant_scoped = True
    permission_classes: Any = [IsAuthenticated, IsTenantMember, HasRequiredRole]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        activate_tenant(request.tenant)  # type: ignore[attr-defined]
