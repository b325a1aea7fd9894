"""PostgreSQL row-level security for ecrm's tables: the database itself keeps tenants apart.

Every ecrm statement already names its tenant (a test proves it for every statement). Row
level security adds a second, independent guard for a database shared by many tenants:
each ecrm table gets the policy :data:`POLICY`, which lets a session see and write only the
rows whose ``tenant_id`` equals the setting :data:`SETTING`, and
``SQLBackend(..., row_level_security=True)`` sets that setting, transaction-locally, at the
start of every unit of work. With no tenant set, no row is visible and none can be written.

PostgreSQL applies the policies only to roles that are neither superusers nor ``BYPASSRLS``
and, unless ``force=True`` (``FORCE ROW LEVEL SECURITY``), not the tables' owner: the
application should connect as a role of its own that was granted the data privileges only.
See ``docs/row-level-security.md``.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, Engine, Table, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql.compiler import IdentifierPreparer

from ecrm.backends.sql import tables
from ecrm.errors import ValidationError

#: The name of the policy on every ecrm table.
POLICY = "ecrm_tenant_isolation"
#: The run-time setting that names the session's tenant (``current_setting`` reads it).
SETTING = "ecrm.tenant_id"
#: Sets :data:`SETTING` for the current transaction only (``is_local`` true).
SET_TENANT = text(f"SELECT set_config('{SETTING}', :tenant, true)")

_TENANT_MATCHES = f"tenant_id = current_setting('{SETTING}', true)"


def row_security_ddl(*, force: bool = False,
                     preparer: IdentifierPreparer | None = None) -> list[str]:
    """The statements that turn row-level security on for every ecrm table, for a DBA to
    review and run (``"\\n".join(...)``) or for :func:`enable_row_security`.

    They are idempotent: the policy is dropped, if present, and created again. With
    ``force`` the tables' owner is held to the policy too (``FORCE ROW LEVEL SECURITY``).
    """
    quote = preparer or postgresql.dialect().identifier_preparer
    statements: list[str] = []
    for table in _tables():
        name = quote.format_table(table)
        statements += [
            f"ALTER TABLE {name} ENABLE ROW LEVEL SECURITY",
            f"ALTER TABLE {name} {'FORCE' if force else 'NO FORCE'} ROW LEVEL SECURITY",
            f"DROP POLICY IF EXISTS {POLICY} ON {name}",
            f"CREATE POLICY {POLICY} ON {name} USING ({_TENANT_MATCHES}) "
            f"WITH CHECK ({_TENANT_MATCHES})",
        ]
    return statements


def no_row_security_ddl(*, preparer: IdentifierPreparer | None = None) -> list[str]:
    """The statements that undo :func:`row_security_ddl`."""
    quote = preparer or postgresql.dialect().identifier_preparer
    statements: list[str] = []
    for table in _tables():
        name = quote.format_table(table)
        statements += [f"DROP POLICY IF EXISTS {POLICY} ON {name}",
                       f"ALTER TABLE {name} NO FORCE ROW LEVEL SECURITY",
                       f"ALTER TABLE {name} DISABLE ROW LEVEL SECURITY"]
    return statements


def app_role_ddl(role: str, *, schema: str = "public") -> list[str]:
    """The statements that let ``role`` (an existing login role that is neither the
    tables' owner, nor a superuser, nor ``BYPASSRLS``) use ecrm's tables in ``schema``:
    data privileges only, so the policies hold it."""
    quote = postgresql.dialect().identifier_preparer
    who, where = quote.quote(role), quote.quote_schema(schema)
    return [f"GRANT USAGE ON SCHEMA {where} TO {who}",
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON "
            f"{', '.join(f'{where}.{quote.quote(t.name)}' for t in _tables())} "
            f"TO {who}"]


def enable_row_security(bind: Engine | Connection, *, force: bool = False) -> None:
    """Run :func:`row_security_ddl` on ``bind`` (as the tables' owner), in one transaction
    of its own on an engine, in the caller's on a connection.

    :raises ValidationError: ``bind`` is not a PostgreSQL database.
    """
    _run(bind, lambda preparer: row_security_ddl(force=force, preparer=preparer))


def disable_row_security(bind: Engine | Connection) -> None:
    """Run :func:`no_row_security_ddl` on ``bind``, as :func:`enable_row_security` does."""
    _run(bind, lambda preparer: no_row_security_ddl(preparer=preparer))


def require_postgresql(bind: Engine | Connection, field: str) -> None:
    """Row-level security is a PostgreSQL feature: refuse any other database, naming
    ``field``."""
    if bind.dialect.name != "postgresql":
        raise ValidationError(field, f"row-level security needs PostgreSQL, not "
                                     f"{bind.dialect.name}; on other databases the tenant "
                                     "predicate every ecrm statement carries is the guard")


def _tables() -> list[Table]:
    return list(tables.metadata.sorted_tables)


def _run(bind: Engine | Connection,
         statements_for: Callable[[IdentifierPreparer], list[str]]) -> None:
    require_postgresql(bind, "bind")
    if isinstance(bind, Engine):
        with bind.begin() as conn:
            _execute(conn, statements_for(conn.dialect.identifier_preparer))
    else:
        _execute(bind, statements_for(bind.dialect.identifier_preparer))


def _execute(conn: Connection, statements: list[str]) -> None:
    for statement in statements:
        conn.exec_driver_sql(statement)

