"""Every SQL statement ecrm sends names its tenant: inserts write ``tenant_id``, and every
other statement constrains ``tenant_id`` on each ecrm table it touches."""

from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import event

from ecrm import CRM
from ecrm.backends.sql import SQLBackend, driver, make_engine, metadata
from tests.workload import exercise_everything

TABLES = sorted((t.name for t in metadata.sorted_tables), key=len, reverse=True)
CONTROL = re.compile(r"^\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE|PRAGMA)\b", re.I)


def unscoped_tables(statement: str) -> list[str]:
    """The ecrm tables in ``statement`` that lack a tenant constraint."""
    touched = {t for t in TABLES if re.search(rf"\b{t}\b", statement)}
    if statement.lstrip().upper().startswith("INSERT"):
        columns = statement[statement.index("(") + 1: statement.index(")")]
        return [] if "tenant_id" in columns else sorted(touched)
    return sorted(t for t in touched
                  if not re.search(rf"\b{t}\.tenant_id\s*(=|IN\b)", statement))


def test_the_audit_notices_a_missing_predicate() -> None:
    assert unscoped_tables("SELECT ecrm_orders.order_id FROM ecrm_orders") == ["ecrm_orders"]
    assert unscoped_tables("INSERT INTO ecrm_orders (order_id) VALUES (?)") == ["ecrm_orders"]
    assert unscoped_tables("SELECT 1 FROM ecrm_orders WHERE ecrm_orders.tenant_id = ?") == []


@pytest.mark.parametrize("fixture", ["sqlite_backend", "postgres_backend", "mysql_backend"])
def test_every_statement_carries_the_tenant(fixture: str, request: pytest.FixtureRequest
                                            ) -> None:
    backend = request.getfixturevalue(fixture)
    statements: list[str] = []

    def capture(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(statement)

    event.listen(backend.engine, "before_cursor_execute", capture)
    try:
        exercise_everything(CRM(backend, tenant=f"audit-{uuid.uuid4().hex[:8]}"))
    finally:
        event.remove(backend.engine, "before_cursor_execute", capture)
    assert_every_statement_is_scoped(statements)


def test_statements_sent_straight_to_sqlite_carry_the_tenant_too(tmp_path) -> None:
    """SQLite's own trace sees the statements of the driver path (which a statement
    listener would switch off)."""
    backend = SQLBackend(make_engine(f"sqlite:///{tmp_path / 'traced.db'}"))
    backend.create_schema()
    statements: list[str] = []

    def trace(dbapi_connection, record, proxy) -> None:
        dbapi_connection.set_trace_callback(statements.append)

    event.listen(backend.engine, "checkout", trace)
    with backend.engine.connect() as conn:
        assert driver.usable(conn)
    exercise_everything(CRM(backend, tenant="traced"))
    assert_every_statement_is_scoped(statements)


def assert_every_statement_is_scoped(statements: list[str]) -> None:
    data_statements = [s for s in statements if not CONTROL.match(s)]
    assert len(set(data_statements)) > 25  # the workload really ran
    offenders = {s: unscoped_tables(s) for s in data_statements if unscoped_tables(s)}
    assert not offenders, offenders
    assert {t for s in data_statements for t in TABLES if t in s} == set(TABLES)
