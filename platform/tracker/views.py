"""Project and task endpoints: HTTP in and out; the rules live in services, selectors and filters."""

import re

from django.db.models import QuerySet
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from api.idempotency import idempotent
from api.openapi import problem_responses
from api.permissions import request_membership
from api.tenant_views import TenantScopedView
from sla.selectors import task_target_clocks
from tracker import selectors, services
from tracker.filters import ProjectFilter, QueryFilterBackend, TaskFilter
from tracker.lifecycle import lifecycle_markdown
from tracker.models import Project, Task
from tracker.pagination import ActivityPagination, ProjectPagination, TaskPagination
from tracker.roles import Action, ensure_allowed, required_roles
from tracker.serializers import (
    ActivityOutput,
    ProjectCreateInput,
    ProjectOutput,
    ProjectUpdateInput,
    SlaOutput,
    TaskCreateInput,
    TaskOutput,
    TaskUpdateInput,
)

UUID_PATTERN = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_ETAG = re.compile(r'^"([0-9]{1,18})"$')

_ETAG_HEADER = OpenApiParameter(
    name="ETag",
    type=str,
    location=OpenApiParameter.HEADER,
    response=True,
    description='The version, e.g. "3".',
)
_IF_MATCH = OpenApiParameter(
    name="If-Match",
    type=str,
    location=OpenApiParameter.HEADER,
    required=False,
    description='The ETag you read (e.g. "3"): the change applies only if the task is still at that version.',
)
_INCLUDE_DELETED = OpenApiParameter(
    name="include_deleted",
    type=OpenApiTypes.STR,
    enum=["true", "false"],
    required=False,
    description="`true` finds a soft-deleted task too (ADMIN only).",
)
_PAGE_PARAMETERS = [
    OpenApiParameter(name="cursor", type=str, required=False, description="From a `next`/`previous` link."),
    OpenApiParameter(name="page_size", type=int, required=False, description="1-200, default 50."),
]


def _etag(task: Task) -> dict[str, str]:
    return {"ETag": f'"{task.version}"'}


def _expected_version(request: Request) -> int | None:
    """The version named by If-Match (`*` or no header: any)."""
    raw = request.headers.get("If-Match")
    if raw is None or raw.strip() == "*":
        return None
    match = _ETAG.match(raw.strip())
    if match is None:
        raise ValidationError({"If-Match": ['Send one ETag of this task as given, e.g. "3", or *.']})
    return int(match.group(1))


def _include_deleted(request: Request) -> bool:
    raw = request.query_params.get("include_deleted", "false")
    if raw not in ("true", "false"):
        raise ValidationError({"include_deleted": ["Send true or false."]})
    if raw == "false":
        return False
    membership = request_membership(request)
    ensure_allowed(action=Action.VIEW_DELETED, role=membership.role, actor_id=membership.user_id)
    return True


class ProjectViewSet(TenantScopedView, viewsets.GenericViewSet):
    """Projects of the tenant. Everyone reads; MANAGER and ADMIN create, edit and archive."""

    queryset = Project.objects.none()  # the model, for the schema; rows come from selectors
    serializer_class = ProjectOutput
    filter_backends = [QueryFilterBackend]
    filterset_class = ProjectFilter
    pagination_class = ProjectPagination
    lookup_value_regex = UUID_PATTERN
    required_roles = required_roles(
        {
            "create": Action.CREATE_PROJECT,
            "partial_update": Action.UPDATE_PROJECT,
            "destroy": Action.ARCHIVE_PROJECT,
        }
    )

    def get_queryset(self) -> QuerySet[Project]:
        return selectors.project_list()

    def _project(self) -> Project:
        return selectors.get_project(project_id=self.kwargs["pk"])

    @extend_schema(summary="List projects (newest first)", parameters=_PAGE_PARAMETERS)
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(ProjectOutput(page, many=True).data)

    @extend_schema(
        summary="Create a project",
        request=ProjectCreateInput,
        responses={
            "201": ProjectOutput,
            **problem_responses({400: "`validation_error` (e.g. a duplicate key)."}),
        },
    )
    @idempotent
    def create(self, request: Request) -> Response:
        data = ProjectCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        project = services.create_project(actor=request.user, **data.validated_data)  # type: ignore[arg-type]
        location = request.build_absolute_uri(reverse("project-detail", kwargs={"pk": project.pk}))
        return Response(
            ProjectOutput(project).data, status=status.HTTP_201_CREATED, headers={"Location": location}
        )

    @extend_schema(summary="Read a project", responses=ProjectOutput)
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(ProjectOutput(self._project()).data)

    @extend_schema(
        summary="Rename or redescribe a project", request=ProjectUpdateInput, responses=ProjectOutput
    )
    @idempotent
    def partial_update(self, request: Request, pk: str) -> Response:
        project = self._project()
        data = ProjectUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        project = services.update_project(project=project, actor=request.user, **data.validated_data)  # type: ignore[arg-type]
        return Response(ProjectOutput(project).data)

    @extend_schema(
        summary="Archive a project",
        description="Project and tasks stay readable; it takes no new tasks. Repeating it is still 204.",
        responses={"204": None},
    )
    def destroy(self, request: Request, pk: str) -> Response:
        services.archive_project(project=self._project(), actor=request.user)  # type: ignore[arg-type]
        return Response(status=status.HTTP_204_NO_CONTENT)


_TRANSITION_HELP = (
    "Fields, the assignee and the status change together in one version. The status moves only along "
    "this table (staying in the current status is no change and writes nothing):\n\n" + lifecycle_markdown()
)


class TaskViewSet(TenantScopedView, viewsets.GenericViewSet):
    """Tasks of the tenant, their audit log and their time in each status."""

    queryset = Task.objects.none()  # the model, for the schema; rows come from selectors
    serializer_class = TaskOutput
    filter_backends = [QueryFilterBackend]
    filterset_class = TaskFilter
    pagination_class = TaskPagination
    lookup_value_regex = UUID_PATTERN
    required_roles = required_roles(
        {
            "create": Action.CREATE_TASK,
            "partial_update": Action.UPDATE_TASK,
            "destroy": Action.DELETE_TASK,
            "restore": Action.RESTORE_TASK,
        }
    )

    def get_queryset(self) -> QuerySet[Task]:
        # Deleted tasks are in the base set; TaskFilter drops them unless an ADMIN asks for them.
        return selectors.task_list(include_deleted=True)

    def _task(self, *, include_deleted: bool) -> Task:
        return selectors.get_task(task_id=self.kwargs["pk"], include_deleted=include_deleted)

    @extend_schema(summary="List tasks", parameters=_PAGE_PARAMETERS)
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(TaskOutput(page, many=True).data)

    @extend_schema(
        summary="Create a task (it starts OPEN; you are its reporter)",
        request=TaskCreateInput,
        responses={
            "201": TaskOutput,
            **problem_responses(
                {
                    400: "`validation_error` (with `errors`), or `project_archived`.",
                    403: "`role_too_low` (e.g. a MEMBER assigning someone else), `not_a_member`.",
                }
            ),
        },
        parameters=[_ETAG_HEADER],
    )
    @idempotent
    def create(self, request: Request) -> Response:
        data = TaskCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        task = services.create_task(actor=request.user, **data.validated_data)  # type: ignore[arg-type]
        location = request.build_absolute_uri(reverse("task-detail", kwargs={"pk": task.pk}))
        return Response(
            TaskOutput(task).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": location, **_etag(task)},
        )

    @extend_schema(summary="Read a task", responses=TaskOutput, parameters=[_INCLUDE_DELETED, _ETAG_HEADER])
    def retrieve(self, request: Request, pk: str) -> Response:
        task = self._task(include_deleted=_include_deleted(request))
        return Response(TaskOutput(task).data, headers=_etag(task))

    @extend_schema(
        summary="Change a task: fields, assignee and status",
        description=_TRANSITION_HELP,
        request=TaskUpdateInput,
        parameters=[_IF_MATCH, _ETAG_HEADER],
        responses={
            "200": TaskOutput,
            **problem_responses(
                {
                    400: "`validation_error`, `invalid_transition` (with `current_status`, `allowed`), "
                    "`project_archived`.",
                    403: "`role_too_low` (reopen, assign), `not_task_participant` (a MEMBER's others' task).",
                    404: "`not_found`: no such task, or it is deleted.",
                    412: "`precondition_failed`: If-Match is stale (with `current_version`).",
                }
            ),
        },
    )
    @idempotent
    def partial_update(self, request: Request, pk: str) -> Response:
        task = self._task(include_deleted=False)
        expected_version = _expected_version(request)
        data = TaskUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        task = services.update_task(
            task=task,
            actor=request.user,  # type: ignore[arg-type]
            expected_version=expected_version,
            **data.validated_data,
        )
        return Response(TaskOutput(task).data, headers=_etag(task))

    @extend_schema(
        summary="Delete a task (soft)",
        description="The task disappears from reads; an ADMIN can restore it. Repeating it is still 204.",
        responses={"204": None},
    )
    def destroy(self, request: Request, pk: str) -> Response:
        services.delete_task(task=self._task(include_deleted=True), actor=request.user)  # type: ignore[arg-type]
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(summary="Restore a soft-deleted task (ADMIN)", request=None, responses={"200": TaskOutput})
    @action(detail=True, methods=["post"])
    @idempotent
    def restore(self, request: Request, pk: str) -> Response:
        task = services.restore_task(task=self._task(include_deleted=True), actor=request.user)  # type: ignore[arg-type]
        return Response(TaskOutput(task).data, headers=_etag(task))

    @extend_schema(
        summary="The task's audit log, oldest first",
        parameters=[_INCLUDE_DELETED, *_PAGE_PARAMETERS],
        responses=OpenApiResponse(
            ActivityOutput(many=True), description="A page: `next`, `previous`, `results`."
        ),
    )
    @action(detail=True, methods=["get"])
    def activity(self, request: Request, pk: str) -> Response:
        task = self._task(include_deleted=_include_deleted(request))
        paginator = ActivityPagination()
        page = paginator.paginate_queryset(selectors.task_activity(task=task), request, view=self)
        return paginator.get_paginated_response(ActivityOutput(page, many=True).data)

    @extend_schema(summary="Time in each status so far, from the task's log", parameters=[_INCLUDE_DELETED])
    @action(detail=True, methods=["get"], serializer_class=SlaOutput)
    def sla(self, request: Request, pk: str) -> Response:
        task = self._task(include_deleted=_include_deleted(request))
        spent = selectors.time_in_status(task=task)
        targets = task_target_clocks(task=task, now=spent.as_of)
        return Response(SlaOutput(spent, context={"targets": targets}).data)
