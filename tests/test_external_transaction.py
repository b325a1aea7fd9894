"""SQLBackend(connection): ecrm's writes join the host's transaction.

ecrm never commits or rolls back the host's transaction; a host rollback undoes ecrm's
writes; a failed ecrm call undoes only itself; notifications wait for the host's commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone

import pytest
from sqlalchemy import Connection, Engine, create_engine, text

from ecrm import CRM, ConflictError, OrderLine
from ecrm.backends.sql import SQLBackend
from ecrm.testing.conformance.base import Recorder

WHEN = datetime(2026, 4, 1, tzinfo=timezone.utc)


@pytest.fixture(params=["sqlite_backend", "postgres_backend", "mysql_backend"])
def engine_backend(request: pytest.FixtureRequest) -> SQLBackend:
    """ecrm's own engine-mode backend on each database (to look from outside)."""
    return request.getfixturevalue(request.param)


@pytest.fixture
def tenant() -> str:
    return f"host-{uuid.uuid4().hex[:8]}"


@contextmanager
def host_transaction(engine: Engine, tenant: str, *plugins: object
                     ) -> Iterator[tuple[Connection, CRM]]:
    """A host connection with its transaction begun, and a CRM joined to it."""
    with engine.connect() as conn:
        conn.begin()
        yield conn, CRM(SQLBackend(conn), tenant=tenant, plugins=list(plugins))


def write_something(crm: CRM) -> str:
    customer = crm.customers.create(email="host@example.com")
    crm.orders.record(order_id="H1", customer_id=customer.id, placed_at=WHEN,
                      lines=[OrderLine("S", 1, 100)], channel="web")
    return customer.id


def test_host_rollback_takes_the_audit_entries_with_it(engine_backend, tenant):
    outside = CRM(engine_backend, tenant=tenant)
    with host_transaction(engine_backend.engine, tenant) as (conn, crm):
        with crm.acting_as("staff:1"):
            customer_id = write_something(crm)
        assert [e.action for e in crm.audit.for_customer(customer_id).items] == [
            "customer.created"]
        conn.rollback()
    assert outside.audit.entries().items == []
    with host_transaction(engine_backend.engine, tenant) as (conn, crm):
        with crm.acting_as("staff:1"):
            customer_id = write_something(crm)
        conn.commit()
    assert [(e.actor, e.action) for e in outside.audit.for_customer(customer_id).items] == [
        ("staff:1", "customer.created")]


def test_host_rollback_undoes_ecrm_writes_and_drops_notifications(engine_backend, tenant):
    recorder = Recorder()
    outside = CRM(engine_backend, tenant=tenant)
    with host_transaction(engine_backend.engine, tenant, recorder) as (conn, crm):
        customer_id = write_something(crm)
        assert crm.customers.get(customer_id).email == "host@example.com"
        assert conn.in_transaction()  # ecrm did not commit
        conn.rollback()
    assert outside.customers.find(email="host@example.com") is None
    assert recorder.events == []


def test_host_commit_publishes_writes_then_notifies(engine_backend, tenant):
    recorder = Recorder()
    outside = CRM(engine_backend, tenant=tenant)
    with host_transaction(engine_backend.engine, tenant, recorder) as (conn, crm):
        write_something(crm)
        assert recorder.events == []  # not before the host commits
        conn.commit()
    assert recorder.names() == ["customer_created", "order_recorded"]
    assert outside.customers.find(email="host@example.com") is not None


def test_a_failed_call_undoes_only_itself(engine_backend, tenant):
    outside = CRM(engine_backend, tenant=tenant)
    with host_transaction(engine_backend.engine, tenant) as (conn, crm):
        conn.execute(text("CREATE TEMPORARY TABLE host_marker (n INTEGER)"))
        conn.execute(text("INSERT INTO host_marker (n) VALUES (1)"))
        write_something(crm)
        with pytest.raises(ConflictError):
            crm.customers.create(email="host@example.com")
        crm.customers.create(email="after@example.com")  # the transaction is still usable
        assert conn.execute(text("SELECT n FROM host_marker")).scalar() == 1
        conn.commit()
    assert outside.customers.find(email="after@example.com") is not None
    assert outside.orders.get("H1").total == 100


def test_close_keeps_notifications_for_the_host_commit(engine_backend, tenant):
    recorder = Recorder()
    with host_transaction(engine_backend.engine, tenant, recorder) as (conn, crm):
        crm.customers.create(name="x")
        crm.close()
        assert recorder.events == []
        conn.commit()
    assert recorder.names() == ["customer_created"]


def test_host_savepoint_rollback_drops_the_notifications_of_its_work(engine_backend, tenant):
    recorder = Recorder()
    outside = CRM(engine_backend, tenant=tenant)
    with host_transaction(engine_backend.engine, tenant, recorder) as (conn, crm):
        crm.customers.create(email="kept@example.com")
        savepoint = conn.begin_nested()
        crm.customers.create(email="undone@example.com")
        savepoint.rollback()
        conn.commit()
    assert [e[1]["customer"].email for e in recorder.events] == ["kept@example.com"]
    assert outside.customers.find(email="undone@example.com") is None


def test_a_plain_host_sqlite_engine_keeps_ecrm_inside_its_transaction(tmp_path, tenant):
    """pysqlite's default transaction handling would let ecrm's first savepoint commit on
    its own; ecrm begins the host's transaction explicitly instead."""
    host_engine = create_engine(f"sqlite:///{tmp_path / 'host.db'}")
    SQLBackend(host_engine).create_schema()
    with host_engine.connect() as conn:
        conn.begin()
        write_something(CRM(SQLBackend(conn), tenant=tenant))
        conn.rollback()
    assert CRM(SQLBackend(host_engine), tenant=tenant).customers.find(
        email="host@example.com") is None
    with host_engine.connect() as conn:
        conn.begin()
        write_something(CRM(SQLBackend(conn), tenant=tenant))
        conn.commit()
    assert CRM(SQLBackend(host_engine), tenant=tenant).orders.get("H1").total == 100
    host_engine.dispose()
