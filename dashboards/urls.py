"""Routes of the web UI, included at the site root by config/urls.py."""

from django.urls import path

from dashboards.views import account, analytics, tasks

app_name = "dashboards"

urlpatterns = [
    path("", account.home, name="home"),
    path("accounts/login/", account.LoginView.as_view(), name="login"),
    path("accounts/logout/", account.LogoutView.as_view(), name="logout"),
    path("tenants/", account.choose_tenant, name="choose-tenant"),
    path("tenants/switch/", account.switch_tenant, name="switch-tenant"),
    path("overview/", analytics.OverviewPage.as_view(), name="overview"),
    path("projects/<uuid:project_id>/", analytics.ProjectDashboardPage.as_view(), name="project-dashboard"),
    path("tasks/", tasks.TaskListPage.as_view(), name="task-list"),
    path("tasks/board/", tasks.TaskBoardPage.as_view(), name="task-board"),
    path("tasks/new/", tasks.TaskFormPage.as_view(), name="task-create"),
    path("tasks/<uuid:task_id>/", tasks.TaskDetailPage.as_view(), name="task-detail"),
    path("tasks/<uuid:task_id>/edit/", tasks.TaskFormPage.as_view(), name="task-edit"),
    path(
        "tasks/<uuid:task_id>/status/",
        tasks.TaskActionView.as_view(),
        {"action": "status"},
        name="task-status",
    ),
    path(
        "tasks/<uuid:task_id>/delete/",
        tasks.TaskActionView.as_view(),
        {"action": "delete"},
        name="task-delete",
    ),
]
