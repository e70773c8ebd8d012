"""tenancy.postgresql_backend: `SET search_path` once per transaction (until a schema switch or a
rollback), and before every cursor outside transactions, as django-tenants does."""

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from tenancy.models import Tenant


def _sets(queries: CaptureQueriesContext) -> list[str]:
    return [query["sql"] for query in queries.captured_queries if query["sql"].startswith("SET search_path")]


def _search_path(conn: Any) -> str:
    with conn.cursor() as cursor:
        cursor.execute("SHOW search_path")
        return str(cursor.fetchone()[0])


def _schema_of_tracker_tables(conn: Any) -> str:
    """The schema that unqualified `tracker_task` resolves to on this connection."""
    with conn.cursor() as cursor:
        cursor.execute(
            "SELECT relnamespace::regnamespace::text FROM pg_class WHERE oid = 'tracker_task'::regclass"
        )
        return str(cursor.fetchone()[0]).strip('"')


@pytest.fixture
def autocommit_connection(tenants: dict[str, Tenant], django_db_blocker: Any) -> Iterator[Any]:
    """A second connection, outside any test transaction (only reads: nothing to roll back)."""
    with django_db_blocker.unblock():
        conn = connections.create_connection("default")
        yield conn
        conn.close()


@pytest.mark.django_db
def test_inside_a_transaction_the_search_path_is_sent_once(tenant: Tenant) -> None:
    assert connection.in_atomic_block  # the test's transaction
    connection.set_tenant(tenant)
    with CaptureQueriesContext(connection) as queries:
        for _ in range(3):
            assert _schema_of_tracker_tables(connection) == tenant.schema_name
    assert len(_sets(queries)) == 1


@pytest.mark.django_db
def test_a_schema_switch_inside_a_transaction_sends_it_again(tenant: Tenant, other_tenant: Tenant) -> None:
    connection.set_tenant(tenant)
    assert _schema_of_tracker_tables(connection) == tenant.schema_name
    with CaptureQueriesContext(connection) as queries:
        connection.set_tenant(other_tenant)
        assert _schema_of_tracker_tables(connection) == other_tenant.schema_name
        connection.set_schema_to_public()
        assert _search_path(connection) == "public"
    assert len(_sets(queries)) == 2


@pytest.mark.django_db
def test_a_rolled_back_savepoint_sends_it_again(tenant: Tenant, other_tenant: Tenant) -> None:
    """ROLLBACK TO SAVEPOINT undoes a SET sent after the savepoint: the next cursor must send it again."""
    connection.set_tenant(tenant)
    assert _schema_of_tracker_tables(connection) == tenant.schema_name
    sid = transaction.savepoint()
    connection.set_tenant(other_tenant)
    assert _schema_of_tracker_tables(connection) == other_tenant.schema_name
    transaction.savepoint_rollback(sid)  # PostgreSQL is back on `tenant`; the connection still names other
    assert _schema_of_tracker_tables(connection) == other_tenant.schema_name
    with pytest.raises(ValueError), transaction.atomic():
        _schema_of_tracker_tables(connection)
        raise ValueError("roll back the inner block")
    assert _schema_of_tracker_tables(connection) == other_tenant.schema_name


def test_outside_transactions_every_cursor_sends_it(
    autocommit_connection: Any, tenants: dict[str, Tenant]
) -> None:
    conn = autocommit_connection
    conn.set_tenant(tenants["alpha"])
    with CaptureQueriesContext(conn) as queries:
        for _ in range(3):
            assert _schema_of_tracker_tables(conn) == tenants["alpha"].schema_name
    assert len(_sets(queries)) == 3


def test_each_transaction_sends_it_afresh(autocommit_connection: Any, tenants: dict[str, Tenant]) -> None:
    conn = autocommit_connection
    conn.set_tenant(tenants["alpha"])
    with CaptureQueriesContext(conn) as queries:
        for _ in range(2):
            # What transaction.atomic does (it only takes an alias, and "default" is the test's connection).
            conn.set_autocommit(False)
            conn.in_atomic_block = True
            try:
                _schema_of_tracker_tables(conn)
                _schema_of_tracker_tables(conn)
            finally:
                conn.in_atomic_block = False
                conn.commit()
                conn.set_autocommit(True)
    assert len(_sets(queries)) == 2
