"""/api/v1/analytics/*: cached analytics documents for any member of the tenant.

The documents come from `analytics.selectors` (built from the projections, cached per tenant, project,
range and analytics version); the views parse the range, answer `If-None-Match` with 304 and otherwise
send the cached bytes unchanged, so a cache hit costs no rendering.
"""

import uuid
from typing import Any

from django.http import HttpResponse, HttpResponseNotModified
from django.utils.cache import patch_vary_headers
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.views import APIView

from analytics import selectors
from analytics.serializers import DateRangeInput, OverviewOutput, ProjectAnalyticsOutput, ProjectSlaOutput
from api.openapi import problem_responses
from api.serializers import query_values
from api.tenant_views import TenantScopedView

_RANGE_PARAMETERS = [
    OpenApiParameter(
        name="from",
        type=OpenApiTypes.DATE,
        required=False,
        description=f"First day (UTC, included). Default: {selectors.DEFAULT_RANGE_DAYS} days before `to`.",
    ),
    OpenApiParameter(
        name="to", type=OpenApiTypes.DATE, required=False, description="Last day, included. Default: today."
    ),
    OpenApiParameter(
        name="If-None-Match",
        type=str,
        location=OpenApiParameter.HEADER,
        required=False,
        description="An ETag you hold: 304 with no body while the document is unchanged.",
    ),
]
_ERRORS = problem_responses(
    {
        400: f"`validation_error` (a bad date or an unknown parameter), `invalid_range` (from after to), "
        f"`range_too_long` (more than {selectors.MAX_RANGE_DAYS} days).",
        403: "`not_a_member`.",
        404: "`not_found` (no such project here) or `tenant_not_found`.",
    }
)
_NOT_MODIFIED = OpenApiResponse(description="Not modified: the ETag in If-None-Match is current.")


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    candidates = {value.strip().removeprefix("W/") for value in header.split(",")}
    return "*" in candidates or etag in candidates


def report_response(request: Request, report: selectors.Report) -> HttpResponse:
    """The cached document, or 304 when the client already holds it. Private: it is one tenant's data."""
    if _etag_matches(request.headers.get("If-None-Match"), report.etag):
        response: HttpResponse = HttpResponseNotModified()
    else:
        response = HttpResponse(report.body, content_type="application/json")
    response["ETag"] = report.etag
    response["Cache-Control"] = "private, no-cache"
    patch_vary_headers(response, ["Authorization"])
    return response


def _date_range(request: Request) -> dict[str, Any]:
    data = DateRangeInput(data=query_values(request.query_params))
    data.is_valid(raise_exception=True)
    return dict(data.validated_data)


class ProjectAnalyticsView(TenantScopedView, APIView):
    @extend_schema(
        summary="A project's daily analytics, totals over the range and live status counts",
        parameters=_RANGE_PARAMETERS,
        responses={"200": ProjectAnalyticsOutput, "304": _NOT_MODIFIED, **_ERRORS},
    )
    def get(self, request: Request, project_id: uuid.UUID) -> HttpResponse:
        report = selectors.project_report(project_id=project_id, **_date_range(request))
        return report_response(request, report)


class ProjectSlaView(TenantScopedView, APIView):
    @extend_schema(
        summary="A project's SLA outcomes per target and priority, and the tasks at risk",
        parameters=_RANGE_PARAMETERS,
        responses={"200": ProjectSlaOutput, "304": _NOT_MODIFIED, **_ERRORS},
    )
    def get(self, request: Request, project_id: uuid.UUID) -> HttpResponse:
        report = selectors.project_sla_report(project_id=project_id, **_date_range(request))
        return report_response(request, report)


class OverviewView(TenantScopedView, APIView):
    @extend_schema(
        summary="Headline analytics of every project of the tenant",
        parameters=_RANGE_PARAMETERS,
        responses={"200": OverviewOutput, "304": _NOT_MODIFIED, **_ERRORS},
    )
    def get(self, request: Request) -> HttpResponse:
        return report_response(request, selectors.tenant_overview_report(**_date_range(request)))
