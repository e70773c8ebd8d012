"""Shapes of the notification endpoints."""

from rest_framework import serializers

from accounts.serializers import StrictSerializer
from api.serializers import StrictBooleanField
from notifications.messages import describe
from notifications.models import Notification, NotificationPreference


class NotificationOutput(serializers.ModelSerializer):
    message = serializers.SerializerMethodField(help_text="One human sentence; clients may build their own.")
    task_id = serializers.UUIDField(allow_null=True, read_only=True)
    is_read = serializers.SerializerMethodField()

    class Meta:
        model = Notification
        fields = ["id", "kind", "task_id", "message", "payload", "created_at", "read_at", "is_read"]
        read_only_fields = fields

    def get_message(self, notification: Notification) -> str:
        return describe(notification)

    def get_is_read(self, notification: Notification) -> bool:
        return notification.read_at is not None


class NotificationListQuery(serializers.Serializer):
    unread = serializers.BooleanField(required=False, help_text="true: only unread; false: only read.")


class ReadAllOutput(serializers.Serializer):
    marked = serializers.IntegerField(help_text="How many unread notifications were marked read.")


class PreferenceOutput(serializers.ModelSerializer):
    class Meta:
        model = NotificationPreference
        fields = ["email_enabled"]
        read_only_fields = fields


class PreferenceInput(StrictSerializer):
    email_enabled = StrictBooleanField()
