"""Reads of projects, tasks and the activity log, including the per-task time in each status (the SLA).

Time in status is computed at read time from the task's own log (DESIGN.md §2.5): the interval that is
still open runs up to `now`. The clock runs whether or not the task is soft-deleted, so the durations
always add up to the task's age.
"""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from rest_framework.exceptions import NotFound

from api.cache import LOCAL_MEMO_SECONDS, LocalMemo, cached_row
from tenancy.schema import active_schema_name
from tracker.errors import TaskNotFoundError
from tracker.models import ActivityVerb, Project, Status, Task, TaskActivity

# Projects a task write named, per process and schema (see `project_reference`).
_referenced_projects = LocalMemo(LOCAL_MEMO_SECONDS)


def project_list() -> QuerySet[Project]:
    return Project.objects.all()


def get_project(*, project_id: uuid.UUID | str) -> Project:
    project = Project.objects.filter(pk=project_id).first()
    if project is None:
        raise NotFound("No project has this id.")
    return project


def project_reference(*, project_id: uuid.UUID) -> Project | None:
    """The project a task create or change names, for input validation: None if the active tenant has no
    project with this id.

    Creating tasks in one project is the busiest write, and this check was two of its round trips (the
    read and the `SET search_path` before it, outside the write's transaction). Projects are never deleted
    (archived instead, and tasks PROTECT them), so a project once seen keeps existing: it is remembered
    for `LOCAL_MEMO_SECONDS` in this process, keyed by schema and id. The returned row may be that old;
    the services read the project again inside their transaction (is it archived? does it still exist?)
    and rely on nothing else from it.
    """
    key = f"{active_schema_name()}:{project_id}"
    return cached_row(  # unknown ids are not remembered: they may be created a moment later
        Project,
        get=lambda: _referenced_projects.get(key),
        put=lambda row: _referenced_projects.put(key, row),
        load=lambda: Project.objects.filter(pk=project_id).first(),
    )


def task_list(*, include_deleted: bool = False) -> QuerySet[Task]:
    """All tasks of the tenant (live ones unless `include_deleted`); the list filters narrow it."""
    tasks = Task.objects.all()
    return tasks if include_deleted else tasks.filter(deleted_at__isnull=True)


def get_task(*, task_id: uuid.UUID | str, include_deleted: bool = False) -> Task:
    """One task; a soft-deleted one only with `include_deleted` (otherwise it is as unknown: 404)."""
    task = task_list(include_deleted=include_deleted).filter(pk=task_id).first()
    if task is None:
        raise TaskNotFoundError()
    return task


def task_activity(*, task: Task) -> QuerySet[TaskActivity]:
    """The task's log, oldest first."""
    return TaskActivity.objects.filter(task=task).order_by("seq")


def replay_activity(rows: Iterable[TaskActivity]) -> dict[str, Any]:
    """Fold a task's `changes` into the state they describe (comparable to `audit.task_log_state`)."""
    state: dict[str, Any] = {"deleted_at": None}
    for row in rows:
        for field, (_old, new) in row.changes.items():
            state[field] = new
    return state


@dataclass(frozen=True)
class TimeInStatus:
    task_id: uuid.UUID
    current_status: str
    status_since: datetime
    as_of: datetime
    durations: dict[str, timedelta]

    @property
    def total(self) -> timedelta:
        return sum(self.durations.values(), timedelta())


def time_in_status(*, task: Task, now: datetime | None = None) -> TimeInStatus:
    """How long the task spent in each status, from its `created` and `status_changed` rows, up to `now`."""
    rows = (
        TaskActivity.objects.filter(task=task, verb__in=[ActivityVerb.CREATED, ActivityVerb.STATUS_CHANGED])
        .order_by("seq")
        .values_list("changes", "occurred_at")
    )
    durations = {status: timedelta() for status in Status.values}
    current: str | None = None
    since: datetime | None = None
    for changes, occurred_at in rows:
        new_status = changes["status"][1]
        if current is not None and since is not None:
            durations[current] += occurred_at - since
        current, since = new_status, occurred_at
    if current is None or since is None:
        raise TaskNotFoundError("This task has no activity log.")
    # A change written "now" by another process may be a hair ahead of this clock.
    as_of = max(now or timezone.now(), since)
    durations[current] += as_of - since
    return TimeInStatus(
        task_id=task.pk, current_status=current, status_since=since, as_of=as_of, durations=durations
    )
