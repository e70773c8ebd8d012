"""Sign-in, sign-out, the home redirect and the tenant switcher."""

import uuid
from typing import Any

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from accounts.models import User
from accounts.selectors import membership_for
from api.rate_limit import limiter, login_buckets
from dashboards.forms import EmailAuthenticationForm
from dashboards.web_tenant import (
    NotATenantMember,
    remember_tenant,
    resolve_web_tenant,
    selectable_memberships,
    tenant_context,
)
from tenancy.selectors import tenant_by_id


def home(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect("dashboards:login")
    return redirect("dashboards:overview")


class LoginView(auth_views.LoginView):
    """Session sign-in with the API's accounts. Failed attempts count against the same per-address login
    limit as the token endpoint, so the web form is no side door for password guessing."""

    template_name = "registration/login.html"
    authentication_form = EmailAuthenticationForm
    redirect_authenticated_user = True
    next_page = "dashboards:overview"  # resolve_url() takes URL names

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        decision = limiter.hit(login_buckets(request))
        if decision is not None and not decision.allowed:
            response = render(
                request,
                "dashboards/error.html",
                {
                    "title": "Too many sign-in attempts",
                    "message": f"Wait {decision.retry_after} seconds, then try again.",
                },
                status=429,
            )
            response["Retry-After"] = str(decision.retry_after)
            return response
        response = super().post(request, *args, **kwargs)
        if decision is not None and response.status_code == 302:
            limiter.refund(decision)  # only failures count
        return response


class LogoutView(auth_views.LogoutView):
    next_page = "dashboards:login"


def _safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


@login_required
def choose_tenant(request: HttpRequest) -> HttpResponse:
    """The tenant chooser, for a user with several memberships who has not picked one yet."""
    user = request.user
    assert isinstance(user, User)
    try:
        current = resolve_web_tenant(request)
    except NotATenantMember:
        current = None
    memberships = selectable_memberships(user)
    context = {
        **tenant_context(request, current),
        "memberships": memberships,
        "next": _safe_next(request, ""),
    }
    return render(request, "dashboards/choose_tenant.html", context)


@require_POST
@login_required
def switch_tenant(request: HttpRequest) -> HttpResponse:
    """Remember the chosen tenant in the session, after checking the user belongs to it."""
    user = request.user
    assert isinstance(user, User)
    try:
        tenant_id = uuid.UUID(request.POST.get("tenant", ""))
    except ValueError:
        return HttpResponseBadRequest("Choose a tenant.")
    tenant = tenant_by_id(tenant_id=tenant_id)
    if tenant is None or membership_for(user=user, tenant_id=tenant.pk) is None:
        return render(
            request,
            "403.html",
            {"exception": "You are not a member of this tenant.", **tenant_context(request, None)},
            status=403,
        )
    remember_tenant(request, tenant.pk)
    return redirect(_safe_next(request, reverse("dashboards:overview")))
