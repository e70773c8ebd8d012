"""Input and output shapes of the account endpoints."""

from rest_framework import serializers

from accounts.models import Membership, Role, User
from api.serializers import StrictCharField, StrictEmailField


class UserOutput(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "email", "full_name", "is_active", "date_joined"]
        read_only_fields = fields


class MembershipOfUserOutput(serializers.ModelSerializer):
    tenant_id = serializers.UUIDField(source="tenant.id", read_only=True)
    tenant_name = serializers.CharField(source="tenant.name", read_only=True)
    tenant_slug = serializers.CharField(source="tenant.slug", read_only=True)

    class Meta:
        model = Membership
        fields = ["tenant_id", "tenant_name", "tenant_slug", "role"]
        read_only_fields = fields


class MeOutput(serializers.Serializer):
    user = UserOutput()
    memberships = MembershipOfUserOutput(many=True)


class MemberOutput(serializers.ModelSerializer):
    user = UserOutput(read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "user", "role", "created_at"]
        read_only_fields = fields


class StrictSerializer(serializers.Serializer):
    """Rejects fields it does not know instead of silently ignoring them."""

    def validate(self, attrs: dict) -> dict:
        unknown = set(self.initial_data) - set(self.fields) if isinstance(self.initial_data, dict) else set()
        if unknown:
            raise serializers.ValidationError({name: ["Unknown field."] for name in sorted(unknown)})
        return attrs


class MemberCreateInput(StrictSerializer):
    email = StrictEmailField()
    role = serializers.ChoiceField(choices=Role.choices, default=Role.MEMBER)
    full_name = StrictCharField(max_length=200, required=False, default="")
    password = StrictCharField(
        min_length=8, max_length=128, required=False, write_only=True, help_text="Only for a new account."
    )


class MemberUpdateInput(StrictSerializer):
    role = serializers.ChoiceField(choices=Role.choices)
