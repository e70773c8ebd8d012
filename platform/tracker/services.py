"""Writes to projects and tasks. Every task change, in one transaction:

    the Task row (version + 1) → one TaskActivity row per verb (hash chain) → one OutboxEvent per row

Authorisation follows `tracker.roles` (the actor's role in the active tenant), the status follows
`tracker.lifecycle`. Functions take keyword arguments only; `occurred_at` (default: now) lets sample-data
generation and imports write history in the past, but never before the task's last change.
"""

import re
from datetime import datetime
from enum import Enum
from typing import Any, Final, Literal

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.models import User
from accounts.selectors import is_member, membership_for
from api.errors import NotAMemberError
from tracker import lifecycle, writes
from tracker.audit import log_value, task_log_state
from tracker.errors import PreconditionFailedError, ProjectArchivedError, TaskNotFoundError, field_error
from tracker.models import PRIORITY_RANK, ActivityVerb, Priority, Project, Status, Task
from tracker.outbox import record_project_event
from tracker.roles import Action, ensure_allowed, ensure_may_assign


class _Unset(Enum):
    TOKEN = "unset"


UNSET: Final = _Unset.TOKEN
"""Marks an argument the caller did not give (None is a real value for assignee and due_at)."""

Unset = Literal[_Unset.TOKEN]

PROJECT_KEY_PATTERN = r"^[A-Z][A-Z0-9]{1,9}$"
TITLE_MAX_LENGTH = 200
DESCRIPTION_MAX_LENGTH = 20_000

# The order in which one change's rows are written (docs/activity-log.md).
_EDITED_FIELDS = ("project", "title", "description", "priority", "due_at")


# --- helpers ------------------------------------------------------------------------------------------


def _active_tenant_id() -> Any:
    tenant = getattr(connection, "tenant", None)
    if tenant is None or getattr(tenant, "schema_name", None) == "public":
        raise RuntimeError("Tracker services run inside a tenant schema (TenantScopedView, tenant_context).")
    return tenant.pk


def actor_role(actor: User) -> str:
    """The actor's role in the active tenant; 403 `not_a_member` without a membership."""
    membership = membership_for(user=actor, tenant_id=_active_tenant_id())
    if membership is None:
        raise NotAMemberError()
    return membership.role


def _when(occurred_at: datetime | None, *, not_before: datetime | None = None) -> datetime:
    """The time of a change: now by default; a given time must be aware, not future, and not go backwards."""
    now = timezone.now()
    if occurred_at is None:
        # Clocks may step back; the log's order must not.
        return max(now, not_before) if not_before is not None else now
    if timezone.is_naive(occurred_at):
        raise ValueError("occurred_at must be timezone-aware.")
    if occurred_at > now:
        raise ValueError("occurred_at must not be in the future.")
    if not_before is not None and occurred_at < not_before:
        raise ValueError(
            f"occurred_at {occurred_at.isoformat()} is before the task's last change "
            f"({not_before.isoformat()})."
        )
    return occurred_at


def _ensure_storable(value: str, *, field: str) -> None:
    """PostgreSQL text holds neither NUL characters nor lone surrogates: a 400, not a database error."""
    if "\x00" in value:
        raise field_error(field, "Null characters are not allowed.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise field_error(field, "Not a valid string.") from None


def _clean_title(value: str, *, field: str = "title") -> str:
    _ensure_storable(value, field=field)
    cleaned = value.strip()
    if not cleaned:
        raise field_error(field, "This field may not be blank.")
    if len(cleaned) > TITLE_MAX_LENGTH:
        raise field_error(field, f"Ensure this field has no more than {TITLE_MAX_LENGTH} characters.")
    return cleaned


def _clean_description(value: str) -> str:
    _ensure_storable(value, field="description")
    if len(value) > DESCRIPTION_MAX_LENGTH:
        raise field_error(
            "description", f"Ensure this field has no more than {DESCRIPTION_MAX_LENGTH} characters."
        )
    return value


def _ensure_member(assignee: User | None) -> None:
    if assignee is not None and not is_member(user_id=assignee.pk, tenant_id=_active_tenant_id()):
        raise field_error("assignee", "No member of this tenant has this id.")


def _current_project(project: Project) -> Project:
    """The project's row as committed now; a 400 on `project` if it no longer exists (the caller's copy
    may be older: `selectors.project_reference`)."""
    current = Project.objects.filter(pk=project.pk).first()
    if current is None:
        raise field_error("project", "No project of this tenant has this id.")
    return current


def _ensure_open_project(project: Project) -> None:
    if project.archived_at is not None:
        raise ProjectArchivedError(f"Project {project.key} is archived: it takes no new tasks.")


def _log(*, task: Task, actor: User, verb: str, changes: dict[str, Any], occurred_at: datetime) -> None:
    """The change's activity row, next in the tenant's hash chain, and its outbox event, in one statement
    (`tracker.writes`)."""
    writes.log_change(
        task_id=task.pk,
        project_id=task.project_id,
        actor_id=actor.pk,
        verb=verb,
        changes=changes,
        occurred_at=occurred_at,
    )


def _lock_task(task: Task, *, include_deleted: bool = False) -> Task:
    """The task's current row, locked until the transaction ends: concurrent writers queue here."""
    locked = Task.objects.select_for_update().filter(pk=task.pk).first()
    if locked is None or (locked.deleted_at is not None and not include_deleted):
        raise TaskNotFoundError()
    return locked


# --- projects -----------------------------------------------------------------------------------------


def create_project(
    *, actor: User, name: str, key: str, description: str = "", occurred_at: datetime | None = None
) -> Project:
    ensure_allowed(action=Action.CREATE_PROJECT, role=actor_role(actor), actor_id=actor.pk)
    clean_key = key.strip().upper()
    if not re.match(PROJECT_KEY_PATTERN, clean_key):
        raise field_error("key", "Use 2-10 letters and digits, starting with a letter (e.g. OPS).")
    when = _when(occurred_at)
    project = Project(
        name=_clean_title(name, field="name"),
        key=clean_key,
        description=_clean_description(description),
        created_by=actor,
        created_at=when,
    )
    try:
        with transaction.atomic():
            project.save(force_insert=True)
            changes = {
                "name": [None, project.name],
                "key": [None, project.key],
                "description": [None, project.description],
            }
            record_project_event(
                event_type="project.created",
                project=project,
                actor_id=actor.pk,
                changes=changes,
                occurred_at=when,
            )
    except IntegrityError as error:
        # The key is unique per tenant; a concurrent create of the same key lands here.
        if Project.objects.filter(key=clean_key).exists():
            raise field_error("key", f"A project with key {clean_key} already exists.") from error
        raise
    return project


def update_project(
    *,
    project: Project,
    actor: User,
    name: str | Unset = UNSET,
    description: str | Unset = UNSET,
    occurred_at: datetime | None = None,
) -> Project:
    """Rename or redescribe a project (its key is its identity and stays). Archived projects may be edited."""
    ensure_allowed(action=Action.UPDATE_PROJECT, role=actor_role(actor), actor_id=actor.pk)
    with transaction.atomic():
        locked = Project.objects.select_for_update().get(pk=project.pk)
        changes: dict[str, list[Any]] = {}
        if name is not UNSET and (clean := _clean_title(name, field="name")) != locked.name:
            changes["name"] = [locked.name, clean]
            locked.name = clean
        if description is not UNSET and _clean_description(description) != locked.description:
            changes["description"] = [locked.description, description]
            locked.description = description
        if changes:
            locked.save(update_fields=list(changes))
            record_project_event(
                event_type="project.updated",
                project=locked,
                actor_id=actor.pk,
                changes=changes,
                occurred_at=_when(occurred_at),
            )
    return locked


def archive_project(*, project: Project, actor: User, occurred_at: datetime | None = None) -> Project:
    """Archive (the API's DELETE): project and tasks stay readable; no new tasks. Idempotent."""
    ensure_allowed(action=Action.ARCHIVE_PROJECT, role=actor_role(actor), actor_id=actor.pk)
    with transaction.atomic():
        locked = Project.objects.select_for_update().get(pk=project.pk)
        if locked.archived_at is None:
            locked.archived_at = _when(occurred_at)
            locked.save(update_fields=["archived_at"])
            record_project_event(
                event_type="project.archived",
                project=locked,
                actor_id=actor.pk,
                changes={"archived_at": [None, log_value(locked.archived_at)]},
                occurred_at=locked.archived_at,
            )
    return locked


# --- tasks --------------------------------------------------------------------------------------------


def create_task(
    *,
    actor: User,
    project: Project,
    title: str,
    description: str = "",
    priority: str = Priority.MEDIUM,
    assignee: User | None = None,
    due_at: datetime | None = None,
    occurred_at: datetime | None = None,
) -> Task:
    """A new task, always OPEN, reported by the actor; logged as `created` with every initial field."""
    role = actor_role(actor)
    ensure_allowed(action=Action.CREATE_TASK, role=role, actor_id=actor.pk)
    if assignee is not None:
        ensure_may_assign(role=role, actor_id=actor.pk, old_assignee_id=None, new_assignee_id=assignee.pk)
    if priority not in PRIORITY_RANK:
        raise field_error("priority", f'"{priority}" is not a valid choice.')
    clean_title = _clean_title(title)
    _clean_description(description)
    _ensure_member(assignee)
    when = _when(occurred_at)
    with transaction.atomic():
        # The project as committed now (archived or gone since the caller read it?) and, only if it is
        # open, the task: one statement.
        current, task = writes.insert_task(
            project_id=project.pk,
            title=clean_title,
            description=description,
            status=lifecycle.INITIAL_STATUS,
            priority=priority,
            priority_rank=PRIORITY_RANK[priority],
            assignee=assignee,
            reporter=actor,
            due_at=due_at,
            created_at=when,
        )
        if current is None:
            raise field_error("project", "No project of this tenant has this id.")
        _ensure_open_project(current)
        if task is None:  # cannot be: only an archived project's task is not inserted
            raise RuntimeError("The task of an open project was not inserted.")
        state = task_log_state(task)
        state.pop("deleted_at")
        _log(
            task=task,
            actor=actor,
            verb=ActivityVerb.CREATED,
            changes={field: [None, value] for field, value in state.items()},
            occurred_at=when,
        )
    return task


def update_task(
    *,
    task: Task,
    actor: User,
    project: Project | Unset = UNSET,
    title: str | Unset = UNSET,
    description: str | Unset = UNSET,
    priority: str | Unset = UNSET,
    due_at: datetime | Unset | None = UNSET,
    assignee: User | Unset | None = UNSET,
    status: str | Unset = UNSET,
    expected_version: int | None = None,
    occurred_at: datetime | None = None,
) -> Task:
    """Edit fields, the assignee and the status in one change (one version, one row per verb).

    Runs under the task's row lock, so concurrent changes apply one after the other and each sees the
    previous one. `expected_version` (the client's If-Match) must equal the current version, else 412.
    Values equal to the current ones are not changes; a call that changes nothing writes nothing.
    """
    role = actor_role(actor)
    with transaction.atomic():
        current = _lock_task(task)
        participants = {"reporter_id": current.reporter_id, "assignee_id": current.assignee_id}
        ensure_allowed(action=Action.UPDATE_TASK, role=role, actor_id=actor.pk, **participants)
        if expected_version is not None and current.version != expected_version:
            raise PreconditionFailedError(current_version=current.version)
        before = task_log_state(current)

        if project is not UNSET and project.pk != current.project_id:
            project = _current_project(project)
            _ensure_open_project(project)
            current.project = project
        if title is not UNSET:
            current.title = _clean_title(title)
        if description is not UNSET:
            current.description = _clean_description(description)
        if priority is not UNSET:
            if priority not in PRIORITY_RANK:
                raise field_error("priority", f'"{priority}" is not a valid choice.')
            current.priority, current.priority_rank = priority, PRIORITY_RANK[priority]
        if due_at is not UNSET:
            current.due_at = due_at
        if assignee is not UNSET and (assignee.pk if assignee else None) != current.assignee_id:
            ensure_may_assign(
                role=role,
                actor_id=actor.pk,
                old_assignee_id=current.assignee_id,
                new_assignee_id=assignee.pk if assignee else None,
            )
            _ensure_member(assignee)
            current.assignee = assignee
        if status is not UNSET and status != current.status:
            if status not in Status.values:
                raise field_error("status", f'"{status}" is not a valid choice.')
            ensure_allowed(action=Action.TRANSITION_TASK, role=role, actor_id=actor.pk, **participants)
            lifecycle.ensure_transition(current=current.status, target=status)
            if lifecycle.is_reopening(current.status, status):
                ensure_allowed(action=Action.REOPEN_TASK, role=role, actor_id=actor.pk)
            current.status = status

        after = task_log_state(current)
        changed = {field: [before[field], after[field]] for field in after if before[field] != after[field]}
        if not changed:
            return current
        when = _when(occurred_at, not_before=current.updated_at)
        current.version += 1
        current.updated_at = when
        current.save()
        edited = {field: changed[field] for field in _EDITED_FIELDS if field in changed}
        for verb, changes in (
            (ActivityVerb.UPDATED, edited),
            (ActivityVerb.ASSIGNED, {"assignee": changed["assignee"]} if "assignee" in changed else {}),
            (ActivityVerb.STATUS_CHANGED, {"status": changed["status"]} if "status" in changed else {}),
        ):
            if changes:
                _log(task=current, actor=actor, verb=verb, changes=changes, occurred_at=when)
    return current


def transition_task(*, task: Task, actor: User, to_status: str, occurred_at: datetime | None = None) -> Task:
    """Move a task along the lifecycle (a status-only `update_task`)."""
    return update_task(task=task, actor=actor, status=to_status, occurred_at=occurred_at)


def delete_task(*, task: Task, actor: User, occurred_at: datetime | None = None) -> Task:
    """Soft delete: the task disappears from reads (except an ADMIN's). Deleting a deleted task is a no-op."""
    ensure_allowed(action=Action.DELETE_TASK, role=actor_role(actor), actor_id=actor.pk)
    with transaction.atomic():
        current = _lock_task(task, include_deleted=True)
        if current.deleted_at is not None:
            return current
        when = _when(occurred_at, not_before=current.updated_at)
        current.deleted_at, current.updated_at = when, when
        current.version += 1
        current.save(update_fields=["deleted_at", "updated_at", "version"])
        changes = {"deleted_at": [None, log_value(when)]}
        _log(task=current, actor=actor, verb=ActivityVerb.DELETED, changes=changes, occurred_at=when)
    return current


def restore_task(*, task: Task, actor: User, occurred_at: datetime | None = None) -> Task:
    """Undo a soft delete. Restoring a live task is a no-op."""
    ensure_allowed(action=Action.RESTORE_TASK, role=actor_role(actor), actor_id=actor.pk)
    with transaction.atomic():
        current = _lock_task(task, include_deleted=True)
        if current.deleted_at is None:
            return current
        when = _when(occurred_at, not_before=current.updated_at)
        changes = {"deleted_at": [log_value(current.deleted_at), None]}
        current.deleted_at, current.updated_at = None, when
        current.version += 1
        current.save(update_fields=["deleted_at", "updated_at", "version"])
        _log(task=current, actor=actor, verb=ActivityVerb.RESTORED, changes=changes, occurred_at=when)
    return current
