"""The task list's two shortcuts give what the generic paths give: TaskOutput's hand-written rendering
(DRF's declared fields) and QueryFilterBackend's unfiltered list (the FilterSet with no parameters)."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from django.http import QueryDict
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from accounts.models import Role
from tenancy.models import Tenant
from tests.tracker.conftest import Tracker, default_project_for, stored_task
from tracker.filters import NON_FILTER_PARAMETERS, ProjectFilter, QueryFilterBackend, TaskFilter
from tracker.models import Project, Task
from tracker.serializers import TaskOutput
from tracker.services import create_task, delete_task


def _generic(task: Task) -> dict[str, Any]:
    """What DRF renders from TaskOutput's declared fields."""
    return dict(serializers.ModelSerializer.to_representation(TaskOutput(), task))


def test_task_output_matches_the_declared_fields(
    tracker_as: Callable[..., Tracker], tenant: Tenant, in_tenant: Tenant
) -> None:
    manager = tracker_as(Role.MANAGER)
    member = tracker_as(Role.MEMBER)
    project = default_project_for(tenant)
    fresh = create_task(actor=manager.user, project=project, title="Fresh, enum values unsaved")
    assigned = create_task(
        actor=manager.user,
        project=project,
        title="Assigned",
        assignee=member.user,
        priority="URGENT",
        due_at=datetime(2031, 5, 6, 7, 8, 9, 123456, tzinfo=timezone(timedelta(hours=5, minutes=30))),
    )
    doomed = create_task(actor=manager.user, project=project, title="Gone")
    deleted = delete_task(task=doomed, actor=manager.user)
    for task in [fresh, assigned, deleted, *Task.objects.filter(pk__in=[fresh.pk, assigned.pk, deleted.pk])]:
        assert TaskOutput(task).data == _generic(task)
        assert list(TaskOutput(task).data) == TaskOutput.Meta.fields
    assert TaskOutput([assigned, deleted], many=True).data == [_generic(assigned), _generic(deleted)]
    assert TaskOutput(stored_task(tenant, str(assigned.pk))).data["due_at"] == "2031-05-06T01:38:09.123456Z"


def test_task_output_renders_in_the_current_time_zone_like_drf(
    tracker_as: Callable[..., Tracker], tenant: Tenant, in_tenant: Tenant
) -> None:
    from django.utils import timezone as django_timezone

    manager = tracker_as(Role.MANAGER)
    task = create_task(
        actor=manager.user,
        project=default_project_for(tenant),
        title="Zoned",
        due_at=datetime(2030, 1, 1, tzinfo=UTC),
    )
    with django_timezone.override("Asia/Tokyo"):
        assert TaskOutput(task).data == _generic(task)
        assert TaskOutput(task).data["due_at"] == "2030-01-01T09:00:00+09:00"


def _request(query: str) -> Request:
    return Request(APIRequestFactory().get("/", QueryDict(query)))


class _View:
    def __init__(self, filterset_class: type) -> None:
        self.filterset_class = filterset_class


@pytest.mark.parametrize(
    ("filterset_class", "model"), [(TaskFilter, Task), (ProjectFilter, Project)], ids=["tasks", "projects"]
)
@pytest.mark.parametrize("query", ["", "page_size=50", "cursor=abc&page_size=3&format=json"])
def test_unfiltered_list_matches_the_filterset(
    filterset_class: type, model: type, query: str, in_tenant: Tenant
) -> None:
    request = _request(query)
    queryset = model.objects.all()
    assert NON_FILTER_PARAMETERS.issuperset(request.query_params)
    fast = QueryFilterBackend().filter_queryset(request, queryset, _View(filterset_class))
    filterset = filterset_class(data=request.query_params, queryset=queryset, request=request)
    assert filterset.is_valid(), filterset.errors
    assert str(fast.query) == str(filterset.qs.query)


@pytest.mark.parametrize("query", ["status=OPEN", "page_size=5&sttaus=OPEN", "q=", "include_deleted=false"])
def test_any_filter_parameter_takes_the_filterset(query: str, tracker_as: Callable[..., Tracker]) -> None:
    """Filter parameters, known or not, blank or not, still go through the FilterSet and its checks."""
    response = tracker_as(Role.MEMBER).http.get(f"/api/v1/tasks/?{query}")
    expected = 400 if query in ("page_size=5&sttaus=OPEN",) else 200
    assert response.status_code == expected, response.json()
