"""The tamper-evident activity log: appending a row to the tenant's hash chain, and verifying the chain.

Contract (docs/activity-log.md): `seq` is per tenant and gap-free, and

    hash = sha256(prev_hash + canonical_json(seq, task_id, actor_id, verb, changes, occurred_at))

where canonical JSON is `json.dumps(..., sort_keys=True, separators=(",", ":"), ensure_ascii=False)`
encoded as UTF-8, `task_id` is the UUID string, `occurred_at` is ISO 8601 in UTC ending in `Z`
(`log_value`), and the first row's `prev_hash` is 64 zeros.

Writers of one tenant are serialised by a transaction-scoped advisory lock keyed on the schema name
(advisory locks are database-wide, so the key must name the tenant), taken right before the last row is
read: the next writer waits until this transaction commits and then sees its row.
"""

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import connection

from tracker.models import Task, TaskActivity

GENESIS_HASH = "0" * 64


def log_value(value: Any) -> Any:
    """How a field value is written into `changes`: UUIDs and datetimes as strings, users as ids."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def task_log_state(task: Task) -> dict[str, Any]:
    """The task's fields as the log records them; replaying a task's `changes` must give exactly this."""
    return {
        "project": log_value(task.project_id),
        "title": task.title,
        "description": task.description,
        "status": str(task.status),
        "priority": str(task.priority),
        "assignee": task.assignee_id,
        "reporter": task.reporter_id,
        "due_at": log_value(task.due_at),
        "deleted_at": log_value(task.deleted_at),
    }


def canonical_content(
    *,
    seq: int,
    task_id: uuid.UUID | str,
    actor_id: int,
    verb: str,
    changes: dict[str, Any],
    occurred_at: datetime,
) -> str:
    content = {
        "seq": seq,
        "task_id": str(task_id),
        "actor_id": actor_id,
        "verb": str(verb),
        "changes": changes,
        "occurred_at": log_value(occurred_at),
    }
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def chain_hash(prev_hash: str, content: str) -> str:
    return hashlib.sha256((prev_hash + content).encode("utf-8")).hexdigest()


_LOCK_IDS: dict[str, int] = {}


def _tenant_log_lock_id() -> int:
    schema: str = connection.schema_name  # type: ignore[attr-defined]  # django-tenants' backend
    lock_id = _LOCK_IDS.get(schema)
    if lock_id is None:
        digest = hashlib.sha256(f"tracker_taskactivity:{schema}".encode()).digest()
        lock_id = _LOCK_IDS[schema] = int.from_bytes(digest[:8], "big", signed=True)
    return lock_id


def locked_chain_head() -> tuple[int, str]:
    """(seq, prev_hash) of the next row of the tenant's chain, with the tenant's log locked until the
    transaction ends. One round trip of two statements: the lock, then the read of the last row, whose
    snapshot (taken per statement: READ COMMITTED) comes after the lock was granted, so it sees the row of
    the writer that held the lock before."""
    if not connection.in_atomic_block:
        raise RuntimeError("The activity log is written inside the transaction of the change it records.")
    table = connection.ops.quote_name(TaskActivity._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT pg_advisory_xact_lock(%s); SELECT seq, hash FROM {table} ORDER BY seq DESC LIMIT 1",
            [_tenant_log_lock_id()],
        )
        cursor.nextset()
        last = cursor.fetchone()
    return (last[0] + 1, last[1]) if last else (1, GENESIS_HASH)


@dataclass(frozen=True)
class BrokenLink:
    seq: int
    reason: str


@dataclass(frozen=True)
class ChainReport:
    rows: int
    broken: BrokenLink | None

    @property
    def ok(self) -> bool:
        return self.broken is None


def verify_chain() -> ChainReport:
    """Walk the active tenant's log in `seq` order and report the first row that breaks the chain."""
    expected_seq, prev_hash, rows = 1, GENESIS_HASH, 0
    fields = ("seq", "task_id", "actor_id", "verb", "changes", "occurred_at", "prev_hash", "hash")
    for seq, task_id, actor_id, verb, changes, occurred_at, stored_prev, stored_hash in (
        TaskActivity.objects.order_by("seq").values_list(*fields).iterator(chunk_size=2000)
    ):
        rows += 1
        if seq != expected_seq:
            return ChainReport(rows, BrokenLink(seq, f"expected seq {expected_seq}: rows are missing"))
        if stored_prev != prev_hash:
            return ChainReport(rows, BrokenLink(seq, "prev_hash differs from the previous row's hash"))
        content = canonical_content(
            seq=seq, task_id=task_id, actor_id=actor_id, verb=verb, changes=changes, occurred_at=occurred_at
        )
        if chain_hash(prev_hash, content) != stored_hash:
            return ChainReport(rows, BrokenLink(seq, "hash does not match the row's content"))
        expected_seq, prev_hash = seq + 1, stored_hash
    return ChainReport(rows, None)
