"""Account endpoints: who am I, and the tenant's member list (ADMIN-managed)."""

from typing import Any, cast

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors, services
from accounts.models import Membership, Role, User
from accounts.serializers import MemberCreateInput, MemberOutput, MemberUpdateInput, MeOutput
from api.openapi import problem_responses
from api.pagination import KeysetPagination
from api.tenant_views import TenantScopedView


class MeView(APIView):
    @extend_schema(responses=MeOutput, summary="The signed-in user and their tenant memberships")
    def get(self, request: Request) -> Response:
        user = cast(User, request.user)  # IsAuthenticated ran: never anonymous here
        memberships = selectors.memberships_of_user(user=user)
        return Response(MeOutput({"user": user, "memberships": memberships}).data)


class MemberPagination(KeysetPagination):
    ordering = "id"


class MemberViewSet(
    TenantScopedView,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Members of the tenant: any member reads; only an ADMIN adds, changes roles or removes."""

    serializer_class = MemberOutput
    lookup_value_regex = r"\d+"
    pagination_class = MemberPagination
    required_roles = {
        "create": Role.ADMIN,
        "partial_update": Role.ADMIN,
        "destroy": Role.ADMIN,
    }

    def get_queryset(self) -> Any:
        return selectors.members_of_tenant(tenant_id=self.request.tenant.pk)  # type: ignore[attr-defined]

    def get_object(self) -> Membership:
        return get_object_or_404(self.get_queryset(), pk=self.kwargs["pk"])

    @extend_schema(
        request=MemberCreateInput,
        responses={
            201: MemberOutput,
            **problem_responses(
                {
                    400: "`validation_error`, or `password_required` for a new account without a password.",
                    409: "`already_member`: the user is a member of this tenant already.",
                }
            ),
        },
        summary="Add a user to the tenant",
    )
    def create(self, request: Request) -> Response:
        data = MemberCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        membership = services.add_member(tenant=request.tenant, **data.validated_data)  # type: ignore[attr-defined]
        return Response(MemberOutput(membership).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=MemberUpdateInput, responses=MemberOutput, summary="Change a member's role")
    def partial_update(self, request: Request, pk: str) -> Response:
        membership = self.get_object()
        data = MemberUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        membership = services.change_role(membership=membership, role=data.validated_data["role"])
        return Response(MemberOutput(membership).data)

    @extend_schema(responses={204: None}, summary="Remove a membership (the user account stays)")
    def destroy(self, request: Request, pk: str) -> Response:
        services.remove_member(membership=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
