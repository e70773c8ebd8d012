"""Routes of `/api/v1/`. Each app owns its views; this module only wires them."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.routers import SimpleRouter
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from accounts.views import MemberViewSet, MeView
from analytics.views import OverviewView, ProjectAnalyticsView, ProjectSlaView
from notifications.views import NotificationViewSet
from sla.views import SlaPolicyViewSet
from tracker.views import ProjectViewSet, TaskViewSet
from webhooks.views import WebhookDeliveryListView, WebhookViewSet

router = SimpleRouter()
router.register("members", MemberViewSet, basename="member")
router.register("projects", ProjectViewSet, basename="project")
router.register("tasks", TaskViewSet, basename="task")
router.register("notifications", NotificationViewSet, basename="notification")
router.register("webhooks", WebhookViewSet, basename="webhook")
router.register("sla-policies", SlaPolicyViewSet, basename="sla-policy")

urlpatterns = [
    path("auth/token/", TokenObtainPairView.as_view(), name="token-obtain"),
    path("auth/token/refresh/", TokenRefreshView.as_view(), name="token-refresh"),
    path("me/", MeView.as_view(), name="me"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path(
        "webhooks/<uuid:webhook_id>/deliveries/", WebhookDeliveryListView.as_view(), name="webhook-deliveries"
    ),
    path("analytics/overview/", OverviewView.as_view(), name="analytics-overview"),
    path("analytics/projects/<uuid:project_id>/", ProjectAnalyticsView.as_view(), name="analytics-project"),
    path("analytics/projects/<uuid:project_id>/sla/", ProjectSlaView.as_view(), name="analytics-project-sla"),
    path("", include(router.urls)),
]
