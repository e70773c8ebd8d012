"""The product's routes plus `/bench/tasks/`, the baselines of `bench.task_api`: plain Django, no DRF, no
authentication, no tenant selection (the product's middleware still runs, as for any path).

- `GET /bench/tasks/`: the newest 50 live tasks of one tenant from ONE raw SQL query, as JSON rows equal
  to the API's list page's (the benchmark checks: same rows, same order, same fields and values).
- `POST /bench/tasks/`: `{"project": ..., "title": ...}` → ONE `INSERT` of a task row (no activity, no
  outbox, no idempotency, no checks), answered 201 with the row.

The tenant's schema and the reporter come from the environment (BENCH_TENANT_SCHEMA, BENCH_REPORTER_ID),
set by the benchmark for its gunicorn.
"""

import json
import os
import re
import uuid
from datetime import datetime
from functools import cache
from typing import Any

from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.urls import path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from config.urls import urlpatterns as product_urlpatterns
from tracker.lifecycle import allowed_targets
from tracker.models import PRIORITY_RANK, Priority, Status

PAGE_SIZE = 50
COLUMNS = (
    "id",
    "project_id",
    "title",
    "description",
    "status",
    "priority",
    "assignee_id",
    "reporter_id",
    "due_at",
    "version",
    "created_at",
    "updated_at",
    "deleted_at",
)


@cache
def _table() -> str:
    schema = os.environ.get("BENCH_TENANT_SCHEMA", "")
    if not re.fullmatch(r"t_[0-9a-f]{20}", schema):  # the server's own schema names only
        raise ValueError(f"BENCH_TENANT_SCHEMA must name a tenant schema, not {schema!r}")
    return f'"{schema}"."tracker_task"'


def _plain(value: Any) -> str:
    """UUIDs and datetimes as DRF writes them (ISO 8601, UTC as `Z`), so that the rows compare equal."""
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _json(document: Any, *, status: int = 200) -> HttpResponse:
    return HttpResponse(
        json.dumps(document, default=_plain, separators=(",", ":")),
        status=status,
        content_type="application/json",
    )


def _as_api_row(row: tuple[Any, ...]) -> dict[str, Any]:
    task = dict(zip(COLUMNS, row, strict=True))
    return {
        "id": task["id"],
        "project": task["project_id"],
        "title": task["title"],
        "description": task["description"],
        "status": task["status"],
        "allowed_transitions": [str(target) for target in allowed_targets(task["status"])],
        "priority": task["priority"],
        "assignee": task["assignee_id"],
        "reporter": task["reporter_id"],
        "due_at": task["due_at"],
        "version": task["version"],
        "created_at": task["created_at"],
        "updated_at": task["updated_at"],
        "deleted_at": task["deleted_at"],
    }


def _page() -> HttpResponse:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(COLUMNS)} FROM {_table()} WHERE deleted_at IS NULL "
            f"ORDER BY created_at DESC, id DESC LIMIT {PAGE_SIZE}"
        )
        rows = cursor.fetchall()
    return _json({"results": [_as_api_row(row) for row in rows]})


def _insert(request: HttpRequest) -> HttpResponse:
    body = json.loads(request.body)
    now = timezone.now()
    reporter_id = int(os.environ["BENCH_REPORTER_ID"])
    # In COLUMNS' order: a new OPEN task of MEDIUM priority, unassigned, no due date, version 1.
    open_task = (uuid.uuid4(), uuid.UUID(body["project"]), body["title"], "", Status.OPEN.value)
    task = (*open_task, Priority.MEDIUM.value, None, reporter_id, None, 1, now, now, None)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {_table()} ({', '.join(COLUMNS)}, priority_rank) "
            f"VALUES ({', '.join(['%s'] * len(COLUMNS))}, %s)",
            (*task, PRIORITY_RANK[Priority.MEDIUM]),
        )
    return _json(_as_api_row(task), status=201)


@csrf_exempt
def bare_tasks(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _page()
    if request.method == "POST":
        return _insert(request)
    return HttpResponseNotAllowed(["GET", "POST"])


urlpatterns = [path("bench/tasks/", bare_tasks), *product_urlpatterns]
