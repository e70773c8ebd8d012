"""Hand-written SQL for the rows every task change writes, in fewer round trips than the ORM's one per row.

- `insert_task`: re-reads the task's project and inserts the task in ONE statement, only if the project
  is open (what `Project.objects.filter(pk=...).first()`, the archived check and `Task.objects.create()`
  did in two).
- `log_change`: the activity row (`tracker.audit`: the tenant's log locked and its head read in one
  round trip) and its outbox event (`tracker.outbox`'s payload) in ONE statement.

Both write every column the ORM would, with the values it would write: tests/tracker/test_write_fast_paths.py
compares the rows, column by column, with those of the straightforward ORM writes in
tests/tracker/orm_reference.py. Besides the round trips they save the ORM's per-statement Python work
(building the model, compiling the query).
"""

from datetime import datetime
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, models
from django.utils import timezone
from psycopg.types.json import Jsonb

from accounts.models import User
from tracker.audit import canonical_content, chain_hash, locked_chain_head
from tracker.models import OutboxEvent, Project, Task, TaskActivity
from tracker.outbox import task_event_payload, task_event_type

# The project's columns as `Project.from_db` takes them (the order of its concrete fields).
_PROJECT_FIELDS = [field.attname for field in Project._meta.concrete_fields]
_PROJECT_COLUMNS = [str(field.column) for field in Project._meta.concrete_fields]
_TASK_COLUMNS = [str(field.column) for field in Task._meta.concrete_fields]


def _sql_insert_task() -> str:
    project_table = connection.ops.quote_name(Project._meta.db_table)
    task_table = connection.ops.quote_name(Task._meta.db_table)
    project_columns = ", ".join(connection.ops.quote_name(column) for column in _PROJECT_COLUMNS)
    task_columns = ", ".join(connection.ops.quote_name(column) for column in _TASK_COLUMNS)
    # Values cast to their column's type (a NULL, no assignee or no due date, has no type of its own),
    # except text: a cast to varchar(n) would cut a long value short where the INSERT rejects it.
    values = ", ".join(
        "p.id"
        if field.column == "project_id"
        else "%s"
        if isinstance(field, models.CharField | models.TextField)
        else f"%s::{field.db_type(connection)}"
        for field in Task._meta.concrete_fields
    )
    return (
        f"WITH p AS (SELECT {project_columns} FROM {project_table} WHERE id = %s), "
        f"t AS (INSERT INTO {task_table} ({task_columns}) SELECT {values} FROM p "
        "WHERE p.archived_at IS NULL RETURNING 1) "
        "SELECT p.*, (SELECT count(*) FROM t) FROM p"
    )


def _sql_log_change() -> str:
    activity_table = connection.ops.quote_name(TaskActivity._meta.db_table)
    outbox_table = connection.ops.quote_name(OutboxEvent._meta.db_table)
    return (
        f"WITH a AS (INSERT INTO {activity_table} "
        "(seq, task_id, actor_id, verb, changes, occurred_at, prev_hash, hash) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING 1) "
        f"INSERT INTO {outbox_table} "
        "(event_type, task_id, payload, created_at, sent_at, attempts, last_error) "
        "SELECT %s, %s, %s, %s, NULL, 0, '' FROM a"
    )


_SQL: dict[str, str] = {}


def _sql(name: str) -> str:
    sql = _SQL.get(name)
    if sql is None:
        sql = _SQL[name] = _sql_insert_task() if name == "task" else _sql_log_change()
    return sql


def insert_task(
    *,
    project_id: Any,
    title: str,
    description: str,
    status: str,
    priority: str,
    priority_rank: int,
    assignee: User | None,
    reporter: User,
    due_at: datetime | None,
    created_at: datetime,
) -> tuple[Project | None, Task | None]:
    """(the project as committed now or None if it is gone, the new task or None if the project is
    archived): the task is inserted only into an open project, in the caller's transaction. The task is
    the instance `Task.objects.create(...)` would return (saved, its project, assignee and reporter set)."""
    if not connection.in_atomic_block:
        raise RuntimeError("A task is inserted inside the transaction that logs it.")
    task = Task(
        title=title,
        description=description,
        status=status,
        priority=priority,
        priority_rank=priority_rank,
        assignee=assignee,
        reporter=reporter,
        due_at=due_at,
        version=1,
        created_at=created_at,
        updated_at=created_at,
    )
    values = {
        "id": task.id,
        "title": str(title),
        "description": str(description),
        "status": str(status),
        "priority": str(priority),
        "priority_rank": int(priority_rank),
        "assignee_id": task.assignee_id,
        "reporter_id": task.reporter_id,
        "due_at": due_at,
        "version": 1,
        "created_at": created_at,
        "updated_at": created_at,
        "deleted_at": None,
    }
    params = [project_id] + [values[column] for column in _TASK_COLUMNS if column != "project_id"]
    with connection.cursor() as cursor:
        cursor.execute(_sql("task"), params)
        row = cursor.fetchone()
    if row is None:
        return None, None
    project = Project.from_db(DEFAULT_DB_ALIAS, _PROJECT_FIELDS, row[:-1])
    if not row[-1]:
        return project, None
    task.project = project
    task._state.adding = False
    task._state.db = DEFAULT_DB_ALIAS
    return project, task


def log_change(
    *,
    task_id: Any,
    project_id: Any,
    actor_id: int,
    verb: str,
    changes: dict[str, Any],
    occurred_at: datetime,
) -> None:
    """One change's activity row (next in the tenant's chain) and its outbox event, in the caller's
    transaction, in one statement."""
    seq, prev_hash = locked_chain_head()
    content = canonical_content(
        seq=seq, task_id=task_id, actor_id=actor_id, verb=verb, changes=changes, occurred_at=occurred_at
    )
    payload = task_event_payload(
        task_id=task_id,
        project_id=project_id,
        actor_id=actor_id,
        verb=verb,
        changes=changes,
        occurred_at=occurred_at,
        seq=seq,
    )
    params = [
        seq,
        task_id,
        actor_id,
        str(verb),
        Jsonb(changes),
        occurred_at,
        prev_hash,
        chain_hash(prev_hash, content),
        task_event_type(verb),
        task_id,
        Jsonb(payload),
        timezone.now(),  # OutboxEvent.created_at is auto_now_add: the time of the insert
    ]
    with connection.cursor() as cursor:
        cursor.execute(_sql("log"), params)
