"""In-app notifications (and their emails) for assignees, reporters and admins."""

from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
