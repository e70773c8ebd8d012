"""`/api/v1/sla-policies/`: every member reads the targets in force; only an ADMIN changes or resets them."""

from typing import Any

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import Role
from api.tenant_views import TenantScopedView
from sla import selectors, services
from sla.selectors import PolicyInForce
from sla.serializers import SlaPolicyInput, SlaPolicyListOutput, SlaPolicyOutput
from tracker.models import Priority


class SlaPolicyViewSet(TenantScopedView, viewsets.ViewSet):
    """One entry per priority (`/sla-policies/HIGH/`); DELETE returns a priority to the default targets."""

    lookup_field = "priority"
    lookup_value_regex = "|".join(Priority.values)
    required_roles = {"update": Role.ADMIN, "partial_update": Role.ADMIN, "destroy": Role.ADMIN}

    def _policy(self, priority: str) -> PolicyInForce:
        policy = selectors.policy_in_force(priority=priority)
        if policy is None:
            raise Http404
        return policy

    @extend_schema(responses=SlaPolicyListOutput, summary="SLA targets per priority (defaults included)")
    def list(self, request: Request) -> Response:
        results = SlaPolicyOutput(selectors.policies_in_force(), many=True).data
        return Response({"next": None, "previous": None, "results": results})

    @extend_schema(responses=SlaPolicyOutput, summary="The SLA targets of one priority")
    def retrieve(self, request: Request, priority: str) -> Response:
        return Response(SlaPolicyOutput(self._policy(priority)).data)

    @extend_schema(
        request=SlaPolicyInput, responses=SlaPolicyOutput, summary="Set both targets of a priority"
    )
    def update(self, request: Request, priority: str) -> Response:
        return self._save(request, priority, partial=False)

    @extend_schema(
        request=SlaPolicyInput, responses=SlaPolicyOutput, summary="Change one target of a priority"
    )
    def partial_update(self, request: Request, priority: str) -> Response:
        return self._save(request, priority, partial=True)

    @extend_schema(responses={204: None}, summary="Return a priority to the default targets")
    def destroy(self, request: Request, priority: str) -> Response:
        self._policy(priority)
        services.reset_policy(priority=priority)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _save(self, request: Request, priority: str, *, partial: bool) -> Response:
        current = self._policy(priority)
        context: dict[str, Any] = {
            "current_start": current.time_to_start_seconds,
            "current_done": current.time_to_done_seconds,
        }
        data = SlaPolicyInput(data=request.data, partial=partial, context=context)
        data.is_valid(raise_exception=True)
        services.set_policy(
            priority=priority,
            time_to_start_seconds=data.validated_data.get(
                "time_to_start_seconds", current.time_to_start_seconds
            ),
            time_to_done_seconds=data.validated_data.get(
                "time_to_done_seconds", current.time_to_done_seconds
            ),
        )
        return Response(SlaPolicyOutput(self._policy(priority)).data)
