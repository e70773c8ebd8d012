"""`/api/v1/webhooks/` (ADMIN only): register URLs for task events, and read each one's delivery log."""

import uuid
from typing import Any, cast

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, mixins, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import Role, User
from api.pagination import KeysetPagination
from api.tenant_views import TenantScopedView
from webhooks import selectors, services
from webhooks.models import Webhook, WebhookDelivery
from webhooks.serializers import (
    DeliveryOutput,
    WebhookCreatedOutput,
    WebhookCreateInput,
    WebhookOutput,
    WebhookUpdateInput,
)

_ADMIN_ONLY = {action: Role.ADMIN for action in ("list", "retrieve", "create", "partial_update", "destroy")}


class WebhookViewSet(
    TenantScopedView, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    serializer_class = WebhookOutput
    required_roles = _ADMIN_ONLY
    lookup_value_regex = r"[0-9a-fA-F-]{36}"

    def get_queryset(self) -> Any:
        return selectors.webhooks()

    def get_object(self) -> Webhook:
        try:
            webhook_id = uuid.UUID(self.kwargs["pk"])
        except ValueError:
            raise Http404 from None
        webhook = selectors.webhook_by_id(webhook_id=webhook_id)
        if webhook is None:
            raise Http404
        return webhook

    @extend_schema(
        request=WebhookCreateInput, responses={201: WebhookCreatedOutput}, summary="Register a webhook"
    )
    def create(self, request: Request) -> Response:
        data = WebhookCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        webhook = services.create_webhook(created_by=cast(User, request.user), **data.validated_data)
        return Response(WebhookCreatedOutput(webhook).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=WebhookUpdateInput, responses=WebhookOutput, summary="Change or re-enable a webhook"
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        webhook = self.get_object()
        data = WebhookUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        webhook = services.update_webhook(webhook=webhook, **data.validated_data)
        return Response(WebhookOutput(webhook).data)

    @extend_schema(responses={204: None}, summary="Delete a webhook and its delivery log")
    def destroy(self, request: Request, pk: str) -> Response:
        services.delete_webhook(webhook=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class DeliveryPagination(KeysetPagination):
    ordering = "-id"


class WebhookDeliveryListView(TenantScopedView, generics.ListAPIView):
    """The delivery log of one webhook, newest first: status, attempts, last response."""

    serializer_class = DeliveryOutput
    pagination_class = DeliveryPagination
    required_roles = {"get": Role.ADMIN}

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular introspecting, no request
            return WebhookDelivery.objects.none()
        webhook = selectors.webhook_by_id(webhook_id=self.kwargs["webhook_id"])
        if webhook is None:
            raise Http404
        return selectors.deliveries_of(webhook=webhook)

    @extend_schema(summary="A webhook's delivery log")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)
