"""`/api/v1/notifications/`: the signed-in user's own notifications in the tenant, and their preference."""

from typing import Any, cast

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import User
from api.pagination import KeysetPagination
from api.serializers import query_values
from api.tenant_views import TenantScopedView
from notifications import selectors, services
from notifications.models import Notification
from notifications.serializers import (
    NotificationListQuery,
    NotificationOutput,
    PreferenceInput,
    PreferenceOutput,
    ReadAllOutput,
)


class NotificationPagination(KeysetPagination):
    ordering = "-id"


class NotificationViewSet(TenantScopedView, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Every member sees only the notifications addressed to them."""

    serializer_class = NotificationOutput
    pagination_class = NotificationPagination
    lookup_value_regex = r"\d+"

    def _user(self) -> User:
        return cast(User, self.request.user)

    def get_queryset(self) -> Any:
        unread = getattr(self, "_unread_filter", None)
        return selectors.notifications_of(user=self._user(), unread=unread)

    def get_object(self) -> Notification:
        notification = selectors.notification_of(user=self._user(), notification_id=int(self.kwargs["pk"]))
        if notification is None:
            raise Http404
        return notification

    @extend_schema(
        summary="My notifications, newest first",
        parameters=[
            OpenApiParameter("unread", OpenApiTypes.BOOL, description="true: only unread; false: only read.")
        ],
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        query = NotificationListQuery(data=query_values(request.query_params))
        query.is_valid(raise_exception=True)
        self._unread_filter = query.validated_data.get("unread")
        return super().list(request, *args, **kwargs)

    @extend_schema(request=None, responses=NotificationOutput, summary="Mark one notification read")
    @action(detail=True, methods=["post"])
    def read(self, request: Request, pk: str) -> Response:
        notification = services.mark_read(notification=self.get_object())
        return Response(NotificationOutput(notification).data)

    @extend_schema(request=None, responses=ReadAllOutput, summary="Mark all my notifications read")
    @action(detail=False, methods=["post"], url_path="read-all")
    def read_all(self, request: Request) -> Response:
        marked = services.mark_all_read(user=self._user())
        return Response(ReadAllOutput({"marked": marked}).data)

    @extend_schema(
        methods=["GET"], request=None, responses=PreferenceOutput, summary="My notification preferences"
    )
    @extend_schema(
        methods=["PATCH"], request=PreferenceInput, responses=PreferenceOutput, summary="Turn email on or off"
    )
    @action(detail=False, methods=["get", "patch"])
    def preferences(self, request: Request) -> Response:
        if request.method == "PATCH":
            data = PreferenceInput(data=request.data)
            data.is_valid(raise_exception=True)
            preference = services.set_email_preference(
                user=self._user(), email_enabled=data.validated_data["email_enabled"]
            )
        else:
            preference = selectors.preference_of(user=self._user())
        return Response(PreferenceOutput(preference).data)
