"""Every SQL statement ecrm sends names its tenant: inserts write ``tenant_id``, and every
other statement constrains ``tenant_id`` on each ecrm table it touches."""

from __future__ import annotations

import functools
import inspect
import re
import uuid
from collections import Counter

import pytest
from sqlalchemy import event

from ecrm import CRM
from ecrm.backends.sql import SQLBackend, driver, make_engine, metadata
from tests.workload import exercise_everything

TABLES = sorted((t.name for t in metadata.sorted_tables), key=len, reverse=True)
CONTROL = re.compile(r"^\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE|PRAGMA)\b", re.I)


#: A table in a FROM, JOIN, UPDATE, DELETE or INSERT position (not ``table.column``), with
#: its alias if it has one.
OCCURRENCE = re.compile(rf"\b({'|'.join(TABLES)})\b(?!\.)(?:\s+AS\s+(\w+))?", re.I)
#: ``a.tenant_id = b.tenant_id``: a join on the tenant.
JOINED = re.compile(r"\b(\w+)\.tenant_id\s*=\s*(\w+)\.tenant_id\b")
INSERT_INTO = re.compile(r"\s*INSERT\s+(?:\w+\s+)*?INTO\s+(\w+)\s*\(([^)]*)\)", re.I)


def unscoped_tables(statement: str) -> list[str]:
    """The ecrm tables in ``statement`` that some reference to lacks a tenant constraint.

    Every reference to a table (by its name or its alias; a table may appear several
    times, in subqueries) needs a constraint of its own: ``name.tenant_id = <a value>``
    or ``IN (...)``, or a join ``name.tenant_id = other.tenant_id`` to a reference that is
    bound to a value itself. An INSERT's target is constrained by a ``tenant_id`` column
    in its column list; whatever it selects from is checked like any other statement.
    """
    names: dict[str, str] = {}  # reference name -> table
    occurrences: Counter[str] = Counter()
    bound: Counter[str] = Counter()
    for match in OCCURRENCE.finditer(statement):
        name = (match.group(2) or match.group(1)).lower()
        names[name] = match.group(1).lower()
        occurrences[name] += 1
    insert = INSERT_INTO.match(statement)
    if insert and "tenant_id" in insert.group(2):
        bound[insert.group(1).lower()] += 1
    joins = [(a.lower(), b.lower()) for a, b in JOINED.findall(statement)]
    for name in names:
        bound[name] += len(re.findall(
            rf"\b{name}\.tenant_id\s*(?:=|IN\b)(?!\s*\w+\.tenant_id\b)", statement, re.I))
    reached = {name for name in names if bound[name]}
    for _ in joins:  # a join scopes a reference joined to a bound one
        reached |= {b for a, b in joins if a in reached} | {a for a, b in joins if b in reached}
    linked = Counter(name for pair in joins for name in pair)
    enough = sum(occurrences.values()) <= sum(bound.values()) + len(joins)
    return sorted({table for name, table in names.items()
                   if name not in reached
                   or occurrences[name] > bound[name] + (linked[name] if enough else 0)})


def test_the_audit_notices_a_missing_predicate() -> None:
    assert unscoped_tables("SELECT ecrm_orders.order_id FROM ecrm_orders") == ["ecrm_orders"]
    assert unscoped_tables("INSERT INTO ecrm_orders (order_id) VALUES (?)") == ["ecrm_orders"]
    assert unscoped_tables("SELECT 1 FROM ecrm_orders WHERE ecrm_orders.tenant_id = ?") == []
    assert unscoped_tables("INSERT INTO ecrm_orders (tenant_id, order_id) VALUES (?, ?)") == []


def test_the_audit_sees_every_reference_not_just_every_table() -> None:
    scoped = "FROM ecrm_orders WHERE ecrm_orders.tenant_id = ?"
    # the same table again in a subquery, without its own predicate
    assert unscoped_tables(f"SELECT 1 {scoped} AND ecrm_orders.customer_id IN "
                           "(SELECT ecrm_orders.customer_id FROM ecrm_orders)") == [
        "ecrm_orders"]
    # an alias whose predicate is missing, while the table's own name has one
    assert unscoped_tables(f"SELECT 1 {scoped} AND ecrm_orders.customer_id IN (SELECT "
                           "theirs.customer_id FROM ecrm_orders AS theirs)") == ["ecrm_orders"]
    assert unscoped_tables(f"SELECT 1 {scoped} AND ecrm_orders.customer_id IN (SELECT "
                           "theirs.customer_id FROM ecrm_orders AS theirs WHERE "
                           "theirs.tenant_id = ?)") == []
    # a join on the tenant scopes nothing unless one side is bound to a value
    join = ("SELECT 1 FROM ecrm_orders JOIN ecrm_order_lines ON "
            "ecrm_order_lines.tenant_id = ecrm_orders.tenant_id")
    assert unscoped_tables(join) == ["ecrm_order_lines", "ecrm_orders"]
    assert unscoped_tables(f"{join} WHERE ecrm_orders.tenant_id = ?") == []
    assert unscoped_tables(f"{join} WHERE ecrm_orders.tenant_id = ? AND ecrm_orders.order_id "
                           "IN (SELECT ecrm_orders.order_id FROM ecrm_orders)") == [
        "ecrm_order_lines", "ecrm_orders"]
    # a comma-separated FROM list
    assert unscoped_tables("SELECT 1 FROM ecrm_order_lines, ecrm_orders WHERE "
                           "ecrm_order_lines.tenant_id = ?") == ["ecrm_orders"]
    # an INSERT's target names its tenant, but what it copies from must too
    assert unscoped_tables("INSERT INTO ecrm_segment_members (tenant_id, customer_id) SELECT "
                           "?, ecrm_customers.id FROM ecrm_customers") == ["ecrm_customers"]


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


def test_the_workload_calls_every_repository_method(tmp_path, monkeypatch) -> None:
    """The audit sees only what the workload runs: every public method of every
    repository a SQL unit of work holds must be called at least once."""
    backend = SQLBackend(make_engine(f"sqlite:///{tmp_path / 'calls.db'}"))
    backend.create_schema()
    with backend.unit_of_work("probe", read_only=True) as uow:
        repositories = {type(value) for name, value in vars(uow).items()
                        if not name.startswith("_") and name not in ("tenant", "callbacks")}
    methods = {(cls.__name__, name) for cls in repositories for name in dir(cls)
               if not name.startswith("_")
               and inspect.isfunction(inspect.getattr_static(cls, name))}
    called: set[tuple[str, str]] = set()
    for owner, name in methods:
        cls = next(c for c in repositories if c.__name__ == owner)
        monkeypatch.setattr(cls, name, _counting(getattr(cls, name), (owner, name), called))
    exercise_everything(CRM(backend, tenant="calls"))
    assert len(methods) > 150
    assert sorted(methods - called) == []


def _counting(method, key, called):
    @functools.wraps(method)
    def counted(*args, **kwargs):
        called.add(key)
        return method(*args, **kwargs)
    return counted


def assert_every_statement_is_scoped(statements: list[str]) -> None:
    data_statements = [s for s in statements if not CONTROL.match(s)]
    assert len(set(data_statements)) > 25  # the workload really ran
    offenders = {s: unscoped_tables(s) for s in data_statements if unscoped_tables(s)}
    assert not offenders, offenders
    assert {match.group(1).lower() for s in data_statements
            for match in OCCURRENCE.finditer(s)} == set(TABLES)
