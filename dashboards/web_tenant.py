"""Which tenant a web page is for, and the one place the web UI enters a tenant's schema.

The API names its tenant in `X-Tenant-ID`; a browser cannot send that header on a link, so the web UI
selects the tenant by host name (a `tenancy.Domain` row such as `acme.localhost`) or, on a neutral host
such as 127.0.0.1, by the choice the user made in the tenant switcher (kept in the session). A user with a
single membership needs no choice. Membership is checked before `activate_tenant`, exactly as the API
does, so a user never causes a query in a schema they do not belong to.
"""

import uuid
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode

from accounts.models import Membership, User
from accounts.selectors import membership_for, memberships_of_user
from tenancy.models import Domain, Tenant
from tenancy.schema import activate_tenant
from tenancy.selectors import tenant_by_id

SESSION_TENANT_KEY = "dashboards.tenant_id"


class NotATenantMember(PermissionDenied):
    """The host names a tenant the signed-in user does not belong to."""


@dataclass(frozen=True)
class WebTenant:
    tenant: Tenant
    membership: Membership
    bound_to_host: bool  # the host name chose the tenant: the switcher cannot change it here


def host_name(request: HttpRequest) -> str:
    """The request's host without the port (get_host() has already checked it against ALLOWED_HOSTS)."""
    host = request.get_host().lower()
    if host.startswith("["):  # IPv6 literal
        return host.split("]")[0] + "]"
    return host.rsplit(":", 1)[0] if ":" in host else host


def tenant_for_host(request: HttpRequest) -> Tenant | None:
    domain = Domain.objects.select_related("tenant").filter(domain=host_name(request)).first()
    if domain is None or domain.tenant.schema_name == "public":
        return None
    return domain.tenant


def selectable_memberships(user: User) -> list[Membership]:
    return list(memberships_of_user(user=user))


def remember_tenant(request: HttpRequest, tenant_id: uuid.UUID) -> None:
    request.session[SESSION_TENANT_KEY] = str(tenant_id)


def resolve_web_tenant(request: HttpRequest) -> WebTenant | None:
    """The tenant this page is for, with the user's membership; None when the user must choose one.

    Raises NotATenantMember when the host names a tenant the user does not belong to.
    """
    user = request.user
    assert isinstance(user, User)
    host_tenant = tenant_for_host(request)
    if host_tenant is not None:
        membership = membership_for(user=user, tenant_id=host_tenant.pk)
        if membership is None:
            raise NotATenantMember(f"You are not a member of {host_tenant.name}.")
        return WebTenant(tenant=host_tenant, membership=membership, bound_to_host=True)

    raw = request.session.get(SESSION_TENANT_KEY)
    if raw:
        try:
            chosen = tenant_by_id(tenant_id=uuid.UUID(str(raw)))
        except ValueError:
            chosen = None
        membership = membership_for(user=user, tenant_id=chosen.pk) if chosen is not None else None
        if chosen is not None and membership is not None:
            return WebTenant(tenant=chosen, membership=membership, bound_to_host=False)
        del request.session[SESSION_TENANT_KEY]  # removed from the tenant since: choose again

    memberships = selectable_memberships(user)
    if len(memberships) == 1:
        only = memberships[0]
        remember_tenant(request, only.tenant_id)
        return WebTenant(tenant=only.tenant, membership=only, bound_to_host=False)
    return None


class TenantPageMixin(LoginRequiredMixin):
    """For class-based views of tenant data: sign-in, tenant choice, membership, then the schema switch.

    Sets `self.web_tenant`, `request.tenant` and `request.membership` (the names the API uses, so role
    checks shared with the API read the same attributes).
    """

    web_tenant: WebTenant
    request: HttpRequest

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        web_tenant = resolve_web_tenant(request)
        if web_tenant is None:
            return redirect(
                f"{reverse('dashboards:choose-tenant')}?{urlencode({'next': request.get_full_path()})}"
            )
        self.web_tenant = web_tenant
        request.tenant = web_tenant.tenant  # type: ignore[attr-defined]
        request.membership = web_tenant.membership  # type: ignore[attr-defined]
        activate_tenant(web_tenant.tenant)  # TenantSelectionMiddleware returns to public afterwards
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context: dict[str, Any] = super().get_context_data(**kwargs)  # type: ignore[misc]
        context.update(tenant_context(self.request, self.web_tenant))
        return context


@dataclass(frozen=True)
class SwitchTarget:
    tenant: Tenant
    role: str
    current: bool
    url: str  # on a tenant's own host name, switching means going to the other tenant's host


def switch_targets(request: HttpRequest, web_tenant: WebTenant | None) -> list[SwitchTarget]:
    user = request.user
    if not isinstance(user, User):
        return []
    memberships = selectable_memberships(user)
    if len(memberships) < 2:
        return []
    hosts: dict[Any, str] = {}
    if web_tenant is not None and web_tenant.bound_to_host:
        port = request.get_port()
        suffix = "" if port in ("80", "443") else f":{port}"
        for domain in Domain.objects.filter(tenant__in=[m.tenant_id for m in memberships], is_primary=True):
            hosts[domain.tenant_id] = f"{request.scheme}://{domain.domain}{suffix}/"
    current_id = web_tenant.tenant.pk if web_tenant else None
    return [
        SwitchTarget(
            tenant=m.tenant, role=m.role, current=m.tenant_id == current_id, url=hosts.get(m.tenant_id, "")
        )
        for m in memberships
    ]


def tenant_context(request: HttpRequest, web_tenant: WebTenant | None) -> dict[str, Any]:
    """What the navigation bar shows: the current tenant, the role, and the tenants to switch to."""
    return {
        "current_tenant": web_tenant.tenant if web_tenant else None,
        "current_role": web_tenant.membership.role if web_tenant else None,
        "tenant_bound_to_host": web_tenant.bound_to_host if web_tenant else False,
        "switch_targets": switch_targets(request, web_tenant),
    }
