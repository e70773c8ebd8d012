"""The product's routes plus two constant-JSON views: `GET /bench/constant/`, a plain Django view, and
`GET /bench/tenant-constant/`, the same bytes behind the API's tenant stack (a TenantScopedView: JWT,
X-Tenant-ID, membership, rate limit), which separates the stack's cost from the analytics view's own.

The bytes are those of a real analytics document (the file named by BENCH_CONSTANT_BODY, read once), so
both endpoints send the same payload through the same middleware and server: what the comparison measures
is the analytics view's own work on a cache hit (JWT, tenant and membership checks, rate limit, two cache
reads), not the size of the answer.
"""

import os
from functools import cache
from pathlib import Path

from django.http import HttpRequest, HttpResponse
from django.urls import path
from rest_framework.request import Request
from rest_framework.views import APIView

from api.tenant_views import TenantScopedView
from config.urls import urlpatterns as product_urlpatterns


@cache
def _body() -> bytes:
    source = os.environ.get("BENCH_CONSTANT_BODY")
    return Path(source).read_bytes() if source else b'{"ok":true}'


def constant_json(request: HttpRequest) -> HttpResponse:
    return HttpResponse(_body(), content_type="application/json")


class TenantConstantJson(TenantScopedView, APIView):
    def get(self, request: Request) -> HttpResponse:
        return HttpResponse(_body(), content_type="application/json")


urlpatterns = [
    path("bench/constant/", constant_json),
    path("bench/tenant-constant/", TenantConstantJson.as_view()),
    *product_urlpatterns,
]
