"""The SQLite driver path (``ecrm.backends.sql.driver``): it stores and reads exactly what
SQLAlchemy's own path does, raises the same ecrm errors, and steps aside whenever
someone watches the statements."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import event

from ecrm import CRM
from ecrm.backends.sql import SQLBackend, driver, make_engine
from ecrm.backends.sql.backend import SQLUnitOfWork
from ecrm.backends.sql.loyalty import SQLIdempotencyRepository, SQLLoyaltyRepository
from ecrm.domain.loyalty import LedgerEntry, LotUse, PointLot, PointsTransaction, TransactionKind
from ecrm.errors import DuplicateKey, SchemaMissing, TransientError

# -- when the driver path is used -----------------------------------------------------


@pytest.fixture()
def sqlite_file(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'driver.db'}"


def usable_now(backend: SQLBackend) -> bool:
    with backend.engine.connect() as conn:
        return driver.usable(conn)


def test_a_plain_sqlite_engine_uses_the_driver(sqlite_file: str) -> None:
    assert usable_now(SQLBackend(make_engine(sqlite_file)))


@pytest.mark.parametrize("event_name", ["before_cursor_execute", "after_cursor_execute",
                                        "before_execute", "after_execute"])
def test_a_statement_listener_sends_everything_through_sqlalchemy(
        sqlite_file: str, event_name: str) -> None:
    backend = SQLBackend(make_engine(sqlite_file))

    def listener(*args: object) -> None:
        return None

    event.listen(backend.engine, event_name, listener)
    assert not usable_now(backend)
    event.remove(backend.engine, event_name, listener)
    assert usable_now(backend)


def test_an_error_listener_sends_everything_through_sqlalchemy(sqlite_file: str) -> None:
    engine = make_engine(sqlite_file)
    event.listen(engine, "handle_error", lambda context: None)
    assert not usable_now(SQLBackend(engine))


def test_echo_and_schema_translation_send_everything_through_sqlalchemy(
        sqlite_file: str) -> None:
    assert not usable_now(SQLBackend(make_engine(sqlite_file, echo=True)))
    engine = make_engine(sqlite_file, execution_options={"schema_translate_map": {None: None}})
    assert not usable_now(SQLBackend(engine))


@pytest.mark.parametrize("fixture", ["postgres_backend", "mysql_backend"])
def test_other_databases_never_use_it(fixture: str, request: pytest.FixtureRequest) -> None:
    assert not usable_now(request.getfixturevalue(fixture))


# -- same rows both ways --------------------------------------------------------------


@pytest.fixture()
def customer(sqlite_backend: SQLBackend) -> Iterator[tuple[str, str]]:
    """A fresh tenant on the session's SQLite file and one customer in it."""
    tenant = f"driver-{uuid.uuid4().hex[:8]}"
    crm = CRM(sqlite_backend, tenant=tenant)
    yield tenant, crm.customers.create(email="driver@example.com").id


def repositories(uow: SQLUnitOfWork, direct: bool
                 ) -> tuple[SQLLoyaltyRepository, SQLIdempotencyRepository]:
    conn, tenant = uow._conn, uow.tenant
    return (SQLLoyaltyRepository(conn, tenant, direct=direct),
            SQLIdempotencyRepository(conn, tenant, direct=direct))


moments = st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(9999, 12, 30),
                       timezones=st.sampled_from([UTC, timezone(timedelta(hours=9)),
                                                  timezone(timedelta(hours=-3, minutes=-30))]))
points = st.integers(min_value=-(2**62), max_value=2**62)
# Examples share a customer, whose debts the test sums: small enough that a thousand of
# them stay inside SQLite's 64-bit SUM (beyond it SQLite raises "integer overflow").
debts = st.integers(min_value=-(2**52), max_value=2**52)
texts = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)


@given(written_directly=st.booleans(), amount=points, remaining=points, earned=moments,
       available=moments, expires=st.none() | moments, reason=st.none() | texts,
       debt=debts, key=texts.filter(bool))
def test_what_one_path_writes_the_other_reads_back(
        sqlite_backend: SQLBackend, customer: tuple[str, str], written_directly: bool,
        amount: int, remaining: int, earned: datetime, available: datetime,
        expires: datetime | None, reason: str | None, debt: int, key: str) -> None:
    tenant, customer_id = customer
    tx_id, lot_id = str(uuid.uuid4()), str(uuid.uuid4())
    key = f"{tx_id}{key}"[:128]  # examples share the tenant
    tx = PointsTransaction(
        id=tx_id, customer_id=customer_id, kind=TransactionKind.ADJUST, points=amount,
        occurred_at=earned, entries=(LedgerEntry("customer", amount),
                                     LedgerEntry("system:issued", -amount)),
        lot_uses=(LotUse(lot_id, -amount),), reason=reason, reference=key,
        debt=debt)
    lot = PointLot(id=lot_id, customer_id=customer_id, transaction_id=tx_id, amount=amount,
                   remaining=abs(remaining) or 1, earned_at=earned, available_at=available,
                   expires_at=expires)
    with sqlite_backend.unit_of_work(tenant) as uow:
        (writer, writer_keys), (reader, reader_keys) = (
            repositories(uow, written_directly), repositories(uow, not written_directly))
        debt_before = reader.debt(customer_id)
        writer.add_transaction(tx)
        writer.add_lot(lot)
        writer_keys.claim("test", key, "f" * 64, tx_id, earned)
        assert reader.get_transaction(tx_id) == tx
        assert [found for found in reader.lots(customer_id) if found.id == lot_id] == [lot]
        assert reader.debt(customer_id) == debt_before + debt
        assert reader_keys.get("test", key) == ("f" * 64, tx_id)
        writer.update_lots([attrs.evolve(lot, remaining=lot.remaining + 1)])
        assert {found.id: found.remaining for found in reader.lots(customer_id)}[lot_id] == (
            lot.remaining + 1)
        assert uow.customers.lock(customer_id)
        assert not uow.customers.lock(str(uuid.uuid4()))


# -- the same errors ------------------------------------------------------------------


def test_a_duplicate_key_on_the_driver_is_a_duplicate_key(
        sqlite_backend: SQLBackend, customer: tuple[str, str]) -> None:
    tenant, _ = customer
    now = datetime.now(UTC)
    with (pytest.raises(DuplicateKey, match="idempotency_keys"),
          sqlite_backend.unit_of_work(tenant) as uow):
        _, keys = repositories(uow, direct=True)
        keys.claim("test", "twice", "f" * 64, "a", now)
        keys.claim("test", "twice", "f" * 64, "b", now)
    with sqlite_backend.unit_of_work(tenant, read_only=True) as uow:
        assert repositories(uow, direct=True)[1].get("test", "twice") is None  # rolled back


def test_missing_tables_on_the_driver_say_so(sqlite_file: str) -> None:
    crm = CRM(SQLBackend(make_engine(sqlite_file)))
    assert usable_now(crm.backend)
    with pytest.raises(SchemaMissing):
        crm.loyalty.redeem("nobody", 10, key="k")


def test_a_locked_database_on_the_driver_is_transient(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    engine = make_engine(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def _short_wait(dbapi_connection: sqlite3.Connection, record: object) -> None:
        dbapi_connection.execute("PRAGMA busy_timeout = 20")

    crm = CRM(SQLBackend(engine))
    crm.backend.create_schema()
    customer_id = crm.customers.create(email="locked@example.com").id
    assert usable_now(crm.backend)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(TransientError):
            crm.loyalty.earn(customer_id, 10, key="while-locked")
    finally:
        holder.rollback()
        holder.close()
    assert crm.loyalty.earn(customer_id, 10, key="while-locked").points == 10


# -- bulk parameters ----------------------------------------------------------------------

MOMENTS = st.sampled_from([datetime(2026, 4, 1, 3, tzinfo=UTC),
                           datetime(2026, 4, 1, 12, tzinfo=timezone(timedelta(hours=9))),
                           None])


@pytest.mark.parametrize("dialect_name", ["sqlite", "postgresql+psycopg", "mysql+pymysql"])
@given(st.lists(st.tuples(MOMENTS, MOMENTS, st.sampled_from([{}, {"a": [1, "x"]}, None]),
                          st.booleans()), min_size=1, max_size=8))
def test_bulk_parameters_convert_shared_values_as_they_convert_copies(
        dialect_name: str, rows: list[tuple[datetime | None, datetime | None,
                                            dict[str, object] | None, bool]]) -> None:
    """``many`` converts a value repeated from the row before once; a row built from
    copies (no value repeated) must come out the same, and so must each row alone."""
    import copy

    from sqlalchemy import insert
    from sqlalchemy.engine.url import make_url

    from ecrm.backends.sql import tables

    dialect = make_url(f"{dialect_name}://").get_dialect()()
    shared: list[dict[str, object]] = []
    for due_at, lease_until, data, fresh_copy in rows:
        previous = shared[-1] if shared else None
        row = {name: None for name in (c.name for c in tables.outbox.columns)}
        row.update(tenant_id="t", id=str(uuid.uuid4()), key="k", channel="email",
                   purpose="marketing", recipient="r", body="b", priority=5,
                   status="pending", attempts=0, created_at=datetime(2026, 4, 1, tzinfo=UTC),
                   due_at=due_at, lease_until=lease_until, data=data)
        if previous is not None and not fresh_copy:  # the very objects of the row before
            row.update(due_at=previous["due_at"], data=previous["data"])
        shared.append(row)
    compiled = driver.compile_once(dialect, insert(tables.outbox), tuple(shared[0]))
    copied = [copy.deepcopy(row) for row in shared]
    assert comparable(compiled.many(shared)) == comparable(compiled.many(copied))
    assert comparable(compiled.many(shared)) == comparable(
        [compiled.many([row])[0] for row in copied])


def comparable(rows: list[Any]) -> list[list[object]]:
    """Rows of driver parameters with psycopg's JSON wrappers (which compare by
    identity) replaced by what they wrap."""
    def plain(value: object) -> object:
        return ("json", value.obj) if type(value).__name__ in ("Json", "Jsonb") else value  # type: ignore[attr-defined]

    return [[plain(v) for v in (row.values() if isinstance(row, dict) else row)]
            for row in rows]
