"""Serializers shared by the whole API."""

from typing import Any

from rest_framework import serializers


class JsonStringOnly:
    """For string fields of input serializers: only JSON strings pass (DRF would turn `123` into "123")."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str):
            raise serializers.ValidationError("Not a valid string.", code="invalid")
        return super().to_internal_value(data)  # type: ignore[misc]


class StrictCharField(JsonStringOnly, serializers.CharField):
    pass


class StrictEmailField(JsonStringOnly, serializers.EmailField):
    pass


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details, as every error response carries them."""

    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    code = serializers.CharField(help_text="Stable machine-readable error code.")
    instance = serializers.CharField(required=False)
    request_id = serializers.CharField(required=False)
    errors = serializers.DictField(  # type: ignore[assignment]  # a field here, not Serializer.errors
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Validation errors per field.",
    )
