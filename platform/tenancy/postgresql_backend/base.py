"""django-tenants' PostgreSQL backend, sending `SET search_path` once per transaction instead of once per
cursor inside a transaction block.

django-tenants (with `TENANT_LIMIT_SET_CALLS` off, as we keep it) sends `SET search_path` before every
cursor: one extra round trip per statement, seven of a task create's eighteen. Inside one transaction the
setting cannot change under us: a pooler keeps the transaction on one server connection, and the only
things that undo a SET are a rollback (to a savepoint or of the whole transaction) and our own schema
switch (`set_tenant`). So once it has been sent in the current transaction it is not sent again until
one of those happens, or the transaction ends. Outside transaction blocks (autocommit), every cursor still
sends it, exactly as before (docs/security.md, "Connection pooling").
"""

from typing import Any

from django_tenants.postgresql_backend import base as tenants_base


class DatabaseWrapper(tenants_base.DatabaseWrapper):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Set before the parent's __init__, which already selects the public schema.
        self._search_path_sent_in_transaction = False
        super().__init__(*args, **kwargs)

    def _handle_search_path(self, cursor: Any = None) -> None:
        if self.in_atomic_block and self._search_path_sent_in_transaction:
            return
        reentry = self._setting_search_path
        super()._handle_search_path(cursor)
        if not reentry:
            # Only a SET that went through counts (the parent clears search_path_set_schemas on failure).
            sent = self.search_path_set_schemas is not None
            self._search_path_sent_in_transaction = self.in_atomic_block and sent

    def _forget_search_path_in_transaction(self) -> None:
        self._search_path_sent_in_transaction = False

    def set_tenant(self, tenant: Any, include_public: bool = True) -> None:
        self._forget_search_path_in_transaction()
        super().set_tenant(tenant, include_public)

    def commit(self) -> None:
        self._forget_search_path_in_transaction()
        super().commit()

    def rollback(self) -> None:
        self._forget_search_path_in_transaction()
        super().rollback()

    def savepoint_rollback(self, sid: Any) -> None:
        try:
            super().savepoint_rollback(sid)
        finally:
            # After the rollback, like the parent: getting its cursor may send a SET that it then undoes.
            self._forget_search_path_in_transaction()

    def set_autocommit(self, *args: Any, **kwargs: Any) -> None:
        self._forget_search_path_in_transaction()
        super().set_autocommit(*args, **kwargs)

    def close(self) -> None:
        self._forget_search_path_in_transaction()
        super().close()
