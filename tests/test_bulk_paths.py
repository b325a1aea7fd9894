"""The shortcuts the bulk import takes for speed behave exactly like the general code."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import attrs
import pytest
from sqlalchemy import Connection, Engine, Table, insert

import ecrm
from ecrm.backends.sql import SQLBackend, make_engine, rows, tables
from ecrm.backends.sql.repositories import _insert_many
from ecrm.domain import orders as rules
from ecrm.domain.customers import Address, Customer
from ecrm.domain.orders import Order, OrderLine, OrderStatus
from ecrm.errors import DuplicateKey
from ecrm.importing import _csv_rows, read_customers_csv, read_orders_csv

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


def test_with_customer_copies_every_other_field() -> None:
    order = Order("o1", "c1", T0, "web", "JPY", (OrderLine("A", 1, Decimal(5)),), T0,
                  OrderStatus.PARTIALLY_REFUNDED, Decimal(5), Decimal(2), T0)
    moved = rules.with_customer(order, "c2")
    assert moved == attrs.evolve(order, customer_id="c2")
    assert rules.with_customer(order, "c1") is order


CSV_TEXT = ("order_id,customer_external_id,placed_at,sku,quantity,unit_price\n"
            "\n"
            "A1,C1,2024-01-01T09:00:00+09:00,S1,1,100,extra,cells\n"
            "A1,C1,2024-01-01T09:00:00+09:00,S2\n"
            "A2,,,S3,2,50\n")


def test_csv_rows_read_like_dict_reader() -> None:
    """Same values for every header column; a short row's missing cells are absent
    instead of None, and cells beyond the header are dropped: the readers treat both
    alike."""
    ours = list(_csv_rows(io.StringIO(CSV_TEXT)))
    theirs = list(csv.DictReader(io.StringIO(CSV_TEXT)))
    assert len(ours) == len(theirs) == 3
    for mine, reference in zip(ours, theirs, strict=True):
        assert {k: v for k, v in reference.items() if k is not None and v is not None} == mine


def test_csv_rows_of_an_empty_file() -> None:
    assert list(_csv_rows(io.StringIO(""))) == []
    assert list(read_orders_csv(io.StringIO(""))) == []
    assert list(read_customers_csv(io.StringIO(""))) == []


def test_short_and_long_rows_become_the_same_orders() -> None:
    orders = list(read_orders_csv(io.StringIO(CSV_TEXT)))
    assert [o["order_id"] for o in orders] == ["A1", "A2"]
    assert orders[0]["lines"][1] == OrderLine("S2", None, None, None)  # type: ignore[arg-type]
    assert "customer_external_id" not in orders[1] and "placed_at" not in orders[1]


@pytest.mark.parametrize(("line", "field", "message"), [
    ({"sku": "A", "quantity": 1}, "lines[1]", "not an order line: "),
    ("A,1,100", "lines[1]", "expected an OrderLine, got str"),
    (OrderLine(" ", 1, Decimal(1)), "lines[1].sku", "must not be blank"),
    (OrderLine("A", "x", Decimal(1)), "lines[1].quantity", "'x' is not an integer"),
    (OrderLine("A", 0, Decimal(1)), "lines[1].quantity", "must be greater than zero, got 0"),
    (OrderLine("A", 1, "1.5"), "lines[1].unit_price",
     "1.5 has more than 0 decimal places, the minor unit of JPY"),
    (OrderLine("A", 1, Decimal(-1)), "lines[1].unit_price", "must not be negative, got -1"),
    (OrderLine("A", 1, Decimal(1), "c" * 65), "lines[1].category",
     "is 65 characters long; at most 64"),
])
def test_bad_lines_are_rejected_naming_the_line_and_field(line: object, field: str,
                                                          message: str) -> None:
    crm = ecrm.CRM.open("memory://")
    crm.customers.create(external_id="C1")
    row = {"order_id": "A1", "customer_external_id": "C1", "placed_at": T0, "channel": "web",
           "lines": [OrderLine("OK", 1, Decimal(1)), line]}
    report = crm.orders.import_many([row])
    [rejected] = report.rejected
    assert rejected.field == field
    assert rejected.reason.startswith(message)
    assert crm.orders.import_many([{**row, "lines": [row["lines"][0]]}]).inserted == 1


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'bulk.db'}")
    tables.metadata.create_all(engine)
    yield engine
    engine.dispose()


def _rows(conn: Connection, table: Table, tenant: str) -> list[tuple[object, ...]]:
    """Every stored value with its SQLite storage class, tenant column left out."""
    names = [c.name for c in table.columns if c.name != "tenant_id"]
    typed = ", ".join(f"{n}, typeof({n})" for n in names)
    return list(conn.exec_driver_sql(
        f"SELECT {typed} FROM {table.name} WHERE tenant_id = ? ORDER BY 1, 3", (tenant,)))


def test_the_sqlite_driver_path_stores_what_sqlalchemy_stores(sqlite_engine: Engine) -> None:
    customer = Customer(id="c1", created_at=T0, updated_at=T0, signed_up_at=T0,
                        email="a@example.jp", birth_date=date(1990, 1, 2),
                        address=Address(prefecture="東京都"), attributes={"rank": "gold"})
    order = Order("o1", "c1", T0, "web", "JPY", (OrderLine("A", 2, Decimal(5), "x"),
                                                 OrderLine("B", 1, Decimal(7))), T0,
                  total=Decimal(17), cancelled_at=T0)
    batches = [(tables.customers, [rows.customer_params(t, customer) for t in "ab"]),
               (tables.orders, [rows.order_params(t, order) for t in "ab"]),
               (tables.order_lines, [p for t in "ab" for p in rows.line_params(t, order)])]
    with sqlite_engine.begin() as conn:
        for table, params in batches:
            conn.execute(insert(table), [p for p in params if p["tenant_id"] == "a"])
            _insert_many(conn, table, [p for p in params if p["tenant_id"] == "b"])
        for table, _ in batches:
            assert _rows(conn, table, "a") == _rows(conn, table, "b") != []


def test_a_duplicate_on_the_driver_path_is_a_duplicate_key(sqlite_engine: Engine) -> None:
    backend = SQLBackend(sqlite_engine)
    customer = Customer(id="c1", created_at=T0, updated_at=T0, signed_up_at=T0)
    order = Order("o1", "c1", T0, "web", "JPY", (OrderLine("A", 1, Decimal(5)),), T0,
                  total=Decimal(5))
    with backend.unit_of_work("t") as uow:
        uow.customers.add_many([customer])
        uow.orders.add_many([order])
    with pytest.raises(DuplicateKey) as caught, backend.unit_of_work("t") as uow:
        uow.orders.add_many([order])
    assert caught.value.key == "orders.order_id"
