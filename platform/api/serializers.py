"""Serializers shared by the whole API."""

from rest_framework import serializers


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
