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


class StrictBooleanField(serializers.BooleanField):
    """For JSON bodies: only `true` and `false` pass (DRF would also take 0, 1, "yes", "on" and more)."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            raise serializers.ValidationError("Must be true or false.", code="invalid")
        return data


def query_values(query_params: Any) -> dict[str, str]:
    """Query parameters as a plain dict (the last value of each) for a query serializer. Given the QueryDict
    itself, DRF reads an empty value (`?to=`) as "not given" and lets it through; as a plain string it
    meets the field's own validation and is a 400 like any other malformed value."""
    return {name: query_params[name] for name in query_params}


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
