"""Shapes of `/api/v1/sla-policies/`."""

from typing import Any

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from accounts.serializers import StrictSerializer

_MAX_SECONDS = 366 * 24 * 3600


class SlaPolicyOutput(serializers.Serializer):
    priority = serializers.CharField()
    time_to_start_seconds = serializers.IntegerField()
    time_to_done_seconds = serializers.IntegerField()
    is_default = serializers.BooleanField(
        help_text="True when the tenant has not set this priority's targets."
    )


# many=False: drf-spectacular documents a `list` action's response as an array of its serializer; this one is
# already the whole page, in the shape every other list of the API has.
@extend_schema_serializer(many=False)
class SlaPolicyListOutput(serializers.Serializer):
    next = serializers.CharField(allow_null=True, help_text="Always null: there are four priorities.")
    previous = serializers.CharField(allow_null=True)
    results = SlaPolicyOutput(many=True)


class SlaPolicyInput(StrictSerializer):
    time_to_start_seconds = serializers.IntegerField(min_value=1, max_value=_MAX_SECONDS)
    time_to_done_seconds = serializers.IntegerField(min_value=1, max_value=_MAX_SECONDS)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        start = attrs.get("time_to_start_seconds", self.context.get("current_start"))
        done = attrs.get("time_to_done_seconds", self.context.get("current_done"))
        if start is not None and done is not None and start > done:
            raise serializers.ValidationError(
                {
                    "time_to_start_seconds": [
                        "Must not exceed time_to_done_seconds: a task starts before it is done."
                    ]
                }
            )
        return attrs
