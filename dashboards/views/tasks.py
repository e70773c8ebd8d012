"""Task pages: list (the API's filters), board, detail with activity and SLA, create/edit, status buttons.

Every write goes through `tracker.services`, so the web UI follows exactly the API's lifecycle and role
rules; their errors become field errors, a message, or the 403 page.
"""

from collections.abc import Callable
from functools import partial
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views import View
from django.views.generic import TemplateView
from rest_framework.exceptions import NotFound, ValidationError

from accounts.models import User
from accounts.selectors import members_of_tenant
from analytics.selectors import sla_targets
from api.errors import ProblemError
from dashboards.forms import TaskForm
from dashboards.web_tenant import TenantPageMixin, tenant_context
from sla.clock import task_clocks
from sla.selectors import status_changes_of
from tracker import lifecycle, selectors, services
from tracker.errors import InvalidTransitionError, PreconditionFailedError
from tracker.filters import TaskFilter
from tracker.models import Priority, Status, Task
from tracker.pagination import TaskPagination
from tracker.roles import Action, Scope, scope_of, unrestricted_role

PAGE_SIZE = 50
BOARD_COLUMN_LIMIT = 50
FILTER_NAMES = tuple(TaskFilter.base_filters)


class TaskPageMixin(TenantPageMixin):
    request: HttpRequest

    @property
    def actor(self) -> User:
        user = self.request.user
        assert isinstance(user, User)
        return user

    @property
    def role(self) -> str:
        return self.web_tenant.membership.role

    def forbidden(self, error: ProblemError) -> HttpResponse:
        context = {"exception": str(error.detail), **tenant_context(self.request, self.web_tenant)}
        return render(self.request, "403.html", context, status=403)

    def load_task(self, task_id: Any) -> Task:
        try:
            return selectors.get_task(task_id=task_id)
        except ProblemError as error:
            raise Http404("No such task in this tenant.") from error

    def members(self) -> list[tuple[int, str]]:
        memberships = members_of_tenant(tenant_id=self.web_tenant.tenant.pk).filter(user__is_active=True)
        return [(m.user_id, m.user.full_name or m.user.email) for m in memberships]


def _filter_data(query: QueryDict) -> QueryDict:
    """The API's filter parameters from the page's query string, without blanks and the page number."""
    data = QueryDict(mutable=True)
    for name in FILTER_NAMES:
        values = [value for value in query.getlist(name) if value.strip()]
        if values:
            data.setlist(name, values)
    return data


class TaskListPage(TaskPageMixin, TemplateView):
    template_name = "dashboards/task_list.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        data = _filter_data(self.request.GET)
        filterset = TaskFilter(
            data=data, queryset=selectors.task_list(include_deleted=True), request=self.request
        )
        errors: dict[str, list[str]] = {}
        try:
            valid = filterset.is_valid()
            tasks = filterset.qs if valid else Task.objects.none()
        except ProblemError as error:  # include_deleted=true below ADMIN
            valid, tasks = False, Task.objects.none()
            errors["include_deleted"] = [str(error.detail)]
        if not valid and not errors:
            errors = {
                name: [str(message) for message in messages_] for name, messages_ in filterset.errors.items()
            }
        ordering = data.get("ordering") or TaskPagination.default_ordering
        if ordering not in TaskPagination.orderings:
            ordering = TaskPagination.default_ordering
        tasks = tasks.order_by(*TaskPagination.orderings[ordering].order_by(reverse=False)).select_related(
            "project", "assignee"
        )
        page = Paginator(tasks, PAGE_SIZE).get_page(self.request.GET.get("page"))
        query_without_page = data.urlencode()
        context.update(
            nav="tasks",
            page=page,
            tasks=page.object_list,
            filter_errors=errors,
            query=query_without_page,
            selected=data,
            selected_statuses=data.getlist("status"),
            selected_priorities=data.getlist("priority"),
            projects=selectors.project_list().order_by("key"),
            members=self.members(),
            statuses=Status.choices,
            priorities=Priority.choices,
            orderings=list(TaskPagination.orderings),
            ordering=ordering,
            may_view_deleted=scope_of(Action.VIEW_DELETED, self.role) is not Scope.NONE,
        )
        return context


class TaskBoardPage(TaskPageMixin, TemplateView):
    template_name = "dashboards/task_board.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        tasks = selectors.task_list().select_related("project", "assignee")
        project_id = self.request.GET.get("project") or ""
        project = None
        if project_id:
            try:
                project = selectors.get_project(project_id=project_id)
            except (NotFound, ValueError, ValidationError):
                project = None
            tasks = tasks.filter(project=project) if project else tasks.none()
        columns = []
        for status, label in Status.choices:
            in_status = tasks.filter(status=status).order_by("-priority_rank", "-updated_at", "-id")
            columns.append(
                {
                    "status": status,
                    "label": label,
                    "count": in_status.count(),
                    "tasks": list(in_status[:BOARD_COLUMN_LIMIT]),
                }
            )
        context.update(
            nav="board",
            columns=columns,
            project=project,
            projects=selectors.project_list().order_by("key"),
            limit=BOARD_COLUMN_LIMIT,
        )
        return context


_MOVE_LABELS: dict[str, str] = {
    Status.IN_PROGRESS: "Start",
    Status.BLOCKED: "Block",
    Status.DONE: "Done",
    Status.OPEN: "Back to open",
}


def _transition_buttons(task: Task, role: str) -> list[dict[str, Any]]:
    """One button per status the lifecycle allows from here; a role the matrix denies still sees it,
    marked, and gets the 403 page with the reason (the server decides, as for the API)."""
    buttons = []
    for target in lifecycle.allowed_targets(task.status):
        reopening = lifecycle.is_reopening(task.status, target)
        action = Action.REOPEN_TASK if reopening else Action.TRANSITION_TASK
        buttons.append(
            {
                "status": target,
                "label": "Reopen"
                if reopening
                else "Resume"
                if (task.status, target) == (Status.BLOCKED, Status.IN_PROGRESS)
                else _MOVE_LABELS[target],
                "needs": None if scope_of(action, role) is not Scope.NONE else unrestricted_role(action),
            }
        )
    return buttons


class TaskDetailPage(TaskPageMixin, TemplateView):
    template_name = "dashboards/task_detail.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        task = self.load_task(self.kwargs["task_id"])
        now = timezone.now()
        in_status = selectors.time_in_status(task=task, now=now)
        clocks = task_clocks(
            created_at=task.created_at,
            status_changes=status_changes_of(task_ids=[task.pk]).get(task.pk, []),
            now=now,
            targets=sla_targets()[task.priority],
        )
        delete_needs = None
        if scope_of(Action.DELETE_TASK, self.role) is Scope.NONE:
            delete_needs = unrestricted_role(Action.DELETE_TASK)
        context.update(
            nav="tasks",
            task=task,
            buttons=_transition_buttons(task, self.role),
            activity=list(selectors.task_activity(task=task).select_related("actor")),
            time_in_status=[
                (status, label, in_status.durations[status].total_seconds())
                for status, label in Status.choices
            ],
            status_since=in_status.status_since,
            clocks=clocks,
            delete_needs=delete_needs,
        )
        return context


def _apply_service_errors(form: TaskForm, error: Exception) -> None:
    """Field errors of a service's ValidationError onto the form's fields (others: the form's top)."""
    detail = error.detail if isinstance(error, ValidationError) else None
    if isinstance(detail, dict):
        for name, problems in detail.items():
            for problem in problems if isinstance(problems, list) else [problems]:
                form.add_error(name if name in form.fields else None, str(problem))
    elif isinstance(error, ProblemError):
        form.add_error("project" if error.code == "project_archived" else None, str(error.detail))
    else:
        form.add_error(None, str(detail if detail is not None else error))


class TaskFormPage(TaskPageMixin, View):
    """Create (no task id) or edit a task."""

    template_name = "dashboards/task_form.html"

    def get_task(self) -> Task | None:
        return self.load_task(self.kwargs["task_id"]) if "task_id" in self.kwargs else None

    def build_form(self, task: Task | None, data: QueryDict | None = None) -> TaskForm:
        projects = selectors.project_list().order_by("key")
        if task is None:
            projects = projects.filter(archived_at__isnull=True)
            initial: dict[str, Any] = {"project": self.request.GET.get("project") or None}
        else:
            initial = {
                "project": task.project_id,
                "title": task.title,
                "description": task.description,
                "priority": task.priority,
                "assignee": task.assignee_id,
                "due_at": task.due_at,
                "version": task.version,
            }
        return TaskForm(data, initial=initial, projects=projects, members=self.members())

    def page(self, form: TaskForm, task: Task | None) -> HttpResponse:
        """The form page; with errors too it answers 200 (Django's convention for a form shown again)."""
        for name in form.errors:
            if name in form.fields:
                widget = form.fields[name].widget
                widget.attrs["class"] = f"{widget.attrs.get('class', '')} is-invalid".strip()
        context = {
            "form": form,
            "task": task,
            "nav": "tasks",
            **tenant_context(self.request, self.web_tenant),
        }
        return render(self.request, self.template_name, context)

    def get(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        task = self.get_task()
        return self.page(self.build_form(task), task)

    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        task = self.get_task()
        form = self.build_form(task, request.POST)
        if not form.is_valid():
            return self.page(form, task)
        fields = form.cleaned_data
        assignee = User.objects.filter(pk=fields["assignee"]).first() if fields["assignee"] else None
        try:
            if task is None:
                task = services.create_task(
                    actor=self.actor,
                    project=fields["project"],
                    title=fields["title"],
                    description=fields["description"],
                    priority=fields["priority"],
                    assignee=assignee,
                    due_at=fields["due_at"],
                )
                messages.success(request, f"Created “{task.title}”.")
            else:
                task = services.update_task(
                    task=task,
                    actor=self.actor,
                    project=fields["project"],
                    title=fields["title"],
                    description=fields["description"],
                    priority=fields["priority"],
                    assignee=assignee,
                    due_at=fields["due_at"],
                    expected_version=fields["version"],
                )
                messages.success(request, f"Saved “{task.title}”.")
        except PreconditionFailedError:
            form.add_error(None, "Someone changed this task since you opened it: reload it and edit again.")
            return self.page(form, task)
        except ProblemError as error:
            if error.status_code == 403:
                return self.forbidden(error)
            _apply_service_errors(form, error)
            return self.page(form, task)
        except ValidationError as error:
            _apply_service_errors(form, error)
            return self.page(form, task)
        return redirect("dashboards:task-detail", task_id=task.pk)


class TaskActionView(TaskPageMixin, View):
    """POST-only buttons: change status, delete. Errors: 403 page, or a message on the task's page."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        task = self.load_task(kwargs["task_id"])
        action: Callable[[], Any]
        if kwargs["action"] == "status":
            to_status = request.POST.get("to", "")
            action = partial(services.transition_task, task=task, actor=self.actor, to_status=to_status)
            done = f"Moved to {to_status.replace('_', ' ').lower()}."
        elif kwargs["action"] == "delete":
            action = partial(services.delete_task, task=task, actor=self.actor)
            done = f"Deleted “{task.title}”."
        else:
            raise Http404("No such action.")
        try:
            action()
        except InvalidTransitionError as error:
            messages.error(request, str(error.detail))
        except ProblemError as error:
            if error.status_code == 403:
                return self.forbidden(error)
            messages.error(request, str(error.detail))
        except ValidationError as error:
            messages.error(request, "; ".join(str(item) for item in _flat(error.detail)))
        else:
            messages.success(request, done)
            if kwargs["action"] == "delete":
                return redirect("dashboards:task-list")
        return redirect(reverse("dashboards:task-detail", kwargs={"task_id": task.pk}))


def _flat(detail: Any) -> list[Any]:
    if isinstance(detail, dict):
        return [item for value in detail.values() for item in _flat(value)]
    if isinstance(detail, list):
        return [item for value in detail for item in _flat(value)]
    return [detail]
