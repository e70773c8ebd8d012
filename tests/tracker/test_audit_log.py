"""The activity log is append-only in the database and tamper-evident through its hash chain."""

import hashlib
import json
from collections.abc import Callable
from io import StringIO
from itertools import pairwise
from unittest import mock

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections, transaction

from accounts.models import Role, User
from tenancy.models import Tenant
from tracker import audit, services, writes
from tracker.models import TaskActivity


@pytest.fixture
def logged(in_tenant: Tenant, make_user: Callable[..., User]) -> list[TaskActivity]:
    """A few changes to two tasks, written through the services (so the chain is the real one)."""
    actor = make_user(tenant=in_tenant, role=Role.MANAGER)
    project = services.create_project(actor=actor, name="Audit", key="AUD")
    first = services.create_task(actor=actor, project=project, title="First")
    second = services.create_task(actor=actor, project=project, title="Second")
    services.update_task(task=first, actor=actor, status="IN_PROGRESS", title="First!")
    services.delete_task(task=second, actor=actor)
    return list(TaskActivity.objects.order_by("seq"))


def verify(*args: str) -> str:
    out = StringIO()
    call_command("verify_audit_log", *args, stdout=out)
    return out.getvalue()


def test_seq_is_gap_free_and_every_hash_chains_to_the_previous(logged: list[TaskActivity]) -> None:
    assert [row.seq for row in logged] == list(range(1, len(logged) + 1))
    assert logged[0].prev_hash == "0" * 64
    for previous, row in pairwise(logged):
        assert row.prev_hash == previous.hash
    row = logged[2]
    content = json.dumps(
        {
            "seq": row.seq,
            "task_id": str(row.task_id),
            "actor_id": row.actor_id,
            "verb": row.verb,
            "changes": row.changes,
            "occurred_at": row.occurred_at.isoformat().replace("+00:00", "Z"),
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    assert row.hash == hashlib.sha256((row.prev_hash + content).encode()).hexdigest()
    assert audit.verify_chain().ok


def test_verify_audit_log_reports_an_intact_chain(logged: list[TaskActivity], in_tenant: Tenant) -> None:
    assert verify("--tenant", in_tenant.slug) == f"{in_tenant.slug}: ok ({len(logged)} rows)\n"
    assert f"{in_tenant.slug}: ok" in verify()


def _tamper(sql: str, params: list[object]) -> None:
    """Rewrite history as only a table owner could (the test's transaction undoes it)."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # ALTER TABLE refuses pending deferred FK checks
        cursor.execute("ALTER TABLE tracker_taskactivity DISABLE TRIGGER USER")
        cursor.execute(sql, params)
        cursor.execute("ALTER TABLE tracker_taskactivity ENABLE TRIGGER USER")


@pytest.mark.parametrize(
    ("sql", "broken_seq", "reason"),
    [
        ("UPDATE tracker_taskactivity SET changes = %s WHERE seq = 3", 3, "hash does not match"),
        (
            "UPDATE tracker_taskactivity SET occurred_at = occurred_at - interval '1 day' WHERE seq = 2",
            2,
            "hash",
        ),
        ("DELETE FROM tracker_taskactivity WHERE seq = 2", 3, "rows are missing"),
    ],
)
def test_verify_audit_log_finds_the_first_broken_link(
    logged: list[TaskActivity], in_tenant: Tenant, sql: str, broken_seq: int, reason: str
) -> None:
    _tamper(sql, [json.dumps({"title": ["First", "Forged"]})] if "%s" in sql else [])
    with pytest.raises(CommandError):
        verify("--tenant", in_tenant.slug)
    report = audit.verify_chain()
    assert report.broken is not None and report.broken.seq == broken_seq and reason in report.broken.reason


def test_a_row_rehashed_after_editing_breaks_the_next_link(logged: list[TaskActivity]) -> None:
    forged = logged[1]
    content = audit.canonical_content(
        seq=forged.seq, task_id=forged.task_id, actor_id=forged.actor_id, verb=forged.verb,
        changes={"title": ["x", "y"]}, occurred_at=forged.occurred_at,
    )  # fmt: skip
    new_hash = audit.chain_hash(forged.prev_hash, content)
    _tamper(
        "UPDATE tracker_taskactivity SET changes = %s, hash = %s WHERE seq = %s",
        [json.dumps({"title": ["x", "y"]}), new_hash, forged.seq],
    )
    report = audit.verify_chain()
    assert (
        report.broken is not None
        and report.broken.seq == forged.seq + 1
        and "prev_hash" in report.broken.reason
    )


def test_verify_audit_log_names_unknown_tenants(db: None) -> None:
    with pytest.raises(CommandError, match="no-such-tenant"):
        verify("--tenant", "no-such-tenant")


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE tracker_taskactivity SET verb = 'updated'",
        "DELETE FROM tracker_taskactivity",
        "TRUNCATE tracker_taskactivity CASCADE",
    ],
)
def test_the_database_rejects_rewriting_the_log(logged: list[TaskActivity], statement: str) -> None:
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # TRUNCATE refuses pending deferred FK checks
        cursor.execute(statement)
    assert TaskActivity.objects.count() == len(logged)


def test_the_orm_cannot_rewrite_the_log_either(logged: list[TaskActivity]) -> None:
    row = logged[0]
    row.verb = "deleted"
    with pytest.raises(DatabaseError), transaction.atomic():
        row.save()
    with pytest.raises(DatabaseError), transaction.atomic():
        TaskActivity.objects.filter(pk=row.pk).delete()


def test_the_log_is_only_written_inside_the_changes_transaction(logged: list[TaskActivity]) -> None:
    row = logged[0]
    with (
        mock.patch.object(connections[DEFAULT_DB_ALIAS], "in_atomic_block", False),
        pytest.raises(RuntimeError, match="transaction"),
    ):
        writes.log_change(
            task_id=row.task_id,
            project_id=None,
            actor_id=row.actor_id,
            verb="updated",
            changes={},
            occurred_at=row.occurred_at,
        )
