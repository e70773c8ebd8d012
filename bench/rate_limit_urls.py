"""The benchmark's one endpoint, `GET /ping/`, answering `{"ok": true}`.

With BENCH_STACK=full it is a tenant-scoped view: X-Tenant-ID resolved by the tenant middleware (cached
row), the rate limit, JWT auth, the membership and role checks (cached membership) and the schema switch.
With BENCH_STACK=bare it is the same view with JWT auth only. The difference is the cost measured.
"""

from django.conf import settings
from django.urls import path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.tenant_views import TenantScopedView


class BarePing(APIView):
    def get(self, request: Request) -> Response:
        return Response({"ok": True})


class TenantPing(TenantScopedView, BarePing):
    pass


urlpatterns = [
    path("ping/", (TenantPing if getattr(settings, "BENCH_STACK", "full") == "full" else BarePing).as_view())
]
