"""Shapes of the webhook endpoints. The secret is write-only, shown once when the webhook is created."""

import json
from typing import Any

from rest_framework import serializers

from accounts.serializers import StrictSerializer
from webhooks.models import WEBHOOK_EVENT_TYPES, DeliveryStatus, Webhook, WebhookDelivery

_EVENT_TYPES = serializers.ListField(
    child=serializers.ChoiceField(choices=WEBHOOK_EVENT_TYPES),
    min_length=1,
    max_length=len(WEBHOOK_EVENT_TYPES),
)


class WebhookOutput(serializers.ModelSerializer):
    class Meta:
        model = Webhook
        fields = [
            "id", "url", "event_types", "description", "is_active", "consecutive_failures",
            "disabled_at", "disabled_reason", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields


class WebhookCreatedOutput(WebhookOutput):
    secret = serializers.CharField(
        read_only=True, help_text="Shown only here: store it to verify signatures."
    )

    class Meta(WebhookOutput.Meta):
        fields = [*WebhookOutput.Meta.fields, "secret"]
        read_only_fields = fields


class WebhookCreateInput(StrictSerializer):
    url = serializers.URLField(max_length=2000)
    event_types = _EVENT_TYPES
    description = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)
    secret = serializers.CharField(
        min_length=16, max_length=200, required=False, help_text="Omit to have a strong one generated."
    )


class WebhookUpdateInput(StrictSerializer):
    url = serializers.URLField(max_length=2000, required=False)
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=WEBHOOK_EVENT_TYPES),
        min_length=1,
        max_length=len(WEBHOOK_EVENT_TYPES),
        required=False,
    )
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    secret = serializers.CharField(
        min_length=16, max_length=200, required=False, help_text="Rotate the secret."
    )
    is_active = serializers.BooleanField(required=False, help_text="true re-enables a disabled webhook.")


class DeliveryOutput(serializers.ModelSerializer):
    id = serializers.UUIDField(source="delivery_id", read_only=True)
    status = serializers.ChoiceField(choices=DeliveryStatus.choices, read_only=True)
    request_body = serializers.SerializerMethodField(help_text="The JSON body that was (or will be) sent.")

    class Meta:
        model = WebhookDelivery
        fields = [
            "id", "event_id", "event_type", "status", "attempts", "response_status", "last_error",
            "created_at", "last_attempt_at", "delivered_at", "request_body",
        ]  # fmt: skip
        read_only_fields = fields

    def get_request_body(self, delivery: WebhookDelivery) -> Any:
        return json.loads(delivery.body)
