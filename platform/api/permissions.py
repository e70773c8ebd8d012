"""Tenant membership and role checks, run by DRF after authentication."""

from typing import Any

from django.http import HttpRequest
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from accounts.models import Membership, role_at_least
from accounts.selectors import membership_for
from api.errors import NotAMemberError, RoleTooLowError


def request_membership(request: Request | HttpRequest) -> Membership:
    membership = getattr(request, "membership", None)
    if membership is None:
        raise NotAMemberError()
    return membership


class IsTenantMember(BasePermission):
    """The authenticated user belongs to the tenant named by X-Tenant-ID; remembers the membership."""

    def has_permission(self, request: Request, view: Any) -> bool:
        tenant = getattr(request, "tenant", None)
        if tenant is None or request.user is None or not request.user.is_authenticated:
            return False
        membership = membership_for(user=request.user, tenant_id=tenant.pk)
        if membership is None:
            raise NotAMemberError()
        request.membership = membership  # type: ignore[attr-defined]
        return True


class HasRequiredRole(BasePermission):
    """The view names the least role per action in `required_roles` ({"create": Role.MANAGER, ...})."""

    def has_permission(self, request: Request, view: Any) -> bool:
        required_roles: dict[str, str] = getattr(view, "required_roles", {})
        action = getattr(view, "action", None) or (request.method or "").lower()
        minimum = required_roles.get(action)
        if minimum is None:
            return True
        if not role_at_least(request_membership(request).role, minimum):
            raise RoleTooLowError(f"This action needs the {minimum} role or higher.", required_role=minimum)
        return True
