"""The baseline importer: plain ``csv`` + ``sqlite3`` ``executemany`` into tables equal to
ecrm's (same columns, primary keys, unique constraints, indexes and foreign keys, same
PRAGMAs), one transaction per batch. It stores the same values ecrm stores (UTC datetimes
as SQLAlchemy's SQLite text, integer yen, time-ordered ids) but validates nothing,
detects no replays and runs no hooks: it is the floor an importer could reach in Python.
"""

from __future__ import annotations

import csv
import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import groupby, islice
from pathlib import Path

from ecrm.domain.ids import new_id

TENANT = "default"
SCHEMA = """
CREATE TABLE accounts (
    tenant_id VARCHAR(64) NOT NULL, id VARCHAR(36) NOT NULL, name VARCHAR(200) NOT NULL,
    external_id VARCHAR(128), attributes JSON NOT NULL, created_at DATETIME NOT NULL,
    updated_at DATETIME NOT NULL,
    PRIMARY KEY (tenant_id, id), UNIQUE (tenant_id, external_id));
CREATE TABLE customers (
    tenant_id VARCHAR(64) NOT NULL, id VARCHAR(36) NOT NULL, email VARCHAR(254),
    name VARCHAR(200), kana_name VARCHAR(200), phone VARCHAR(32), external_id VARCHAR(128),
    birth_date DATE, gender VARCHAR(16), country VARCHAR(2), postal_code VARCHAR(16),
    prefecture VARCHAR(32), city VARCHAR(100), street VARCHAR(200), building VARCHAR(200),
    acquisition_channel VARCHAR(32), account_id VARCHAR(36), attributes JSON NOT NULL,
    signed_up_at DATETIME NOT NULL, created_at DATETIME NOT NULL,
    updated_at DATETIME NOT NULL,
    PRIMARY KEY (tenant_id, id), UNIQUE (tenant_id, email), UNIQUE (tenant_id, external_id),
    FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id));
CREATE INDEX ix_customers_account ON customers (tenant_id, account_id);
CREATE TABLE orders (
    tenant_id VARCHAR(64) NOT NULL, order_id VARCHAR(128) NOT NULL,
    customer_id VARCHAR(36) NOT NULL, placed_at DATETIME NOT NULL,
    channel VARCHAR(32) NOT NULL, currency VARCHAR(3) NOT NULL, status VARCHAR(24) NOT NULL,
    total_minor BIGINT NOT NULL, refunded_minor BIGINT NOT NULL,
    created_at DATETIME NOT NULL, cancelled_at DATETIME,
    PRIMARY KEY (tenant_id, order_id),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id));
CREATE INDEX ix_orders_customer ON orders (tenant_id, customer_id, placed_at);
CREATE TABLE order_lines (
    tenant_id VARCHAR(64) NOT NULL, order_id VARCHAR(128) NOT NULL, line_no INTEGER NOT NULL,
    sku VARCHAR(64) NOT NULL, category VARCHAR(64), quantity INTEGER NOT NULL,
    unit_price_minor BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, order_id, line_no),
    FOREIGN KEY (tenant_id, order_id) REFERENCES orders (tenant_id, order_id));
"""
ADDRESS = ("country", "postal_code", "prefecture", "city", "street", "building")


def connect(path: Path) -> sqlite3.Connection:
    """A connection with ecrm's PRAGMAs, managing transactions by hand like ecrm does."""
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in ("foreign_keys = ON", "busy_timeout = 30000", "journal_mode = WAL",
                   "synchronous = NORMAL"):
        conn.execute(f"PRAGMA {pragma}")
    conn.executescript(SCHEMA)
    return conn


def utc_text(value: str | datetime) -> str:
    """An aware time as the naive-UTC text SQLAlchemy stores in SQLite."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def batches(rows: Iterator, size: int) -> Iterator[list]:
    """Successive lists of ``size`` items."""
    while batch := list(islice(rows, size)):
        yield batch


def import_customers(conn: sqlite3.Connection, path: Path, batch_size: int) -> int:
    """Insert every customer row; return how many."""
    sql = f"INSERT INTO customers VALUES ({', '.join('?' * 21)})"
    count = 0
    with open(path, newline="", encoding="utf-8-sig") as handle:
        for batch in batches(csv.DictReader(handle), batch_size):
            now = utc_text(datetime.now(UTC))
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(sql, [_customer(row, now) for row in batch])
            conn.execute("COMMIT")
            count += len(batch)
    return count


def _customer(row: dict[str, str], now: str) -> tuple:
    attributes = {k.removeprefix("attributes."): v for k, v in row.items()
                  if k.startswith("attributes.") and v}
    c = {k: (v or None) for k, v in row.items()}
    return (TENANT, new_id(), c["email"], c["name"], c["kana_name"], c["phone"],
            c["external_id"], c["birth_date"], c["gender"], *(c[k] for k in ADDRESS),
            c["acquisition_channel"], None, json.dumps(attributes),
            utc_text(row["signed_up_at"]), now, now)


def import_orders(conn: sqlite3.Connection, path: Path, batch_size: int) -> int:
    """Insert every order and its lines; return how many orders."""
    count = 0
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        grouped = groupby(reader, key=lambda r: r[0])
        for batch in batches(((oid, list(rows)) for oid, rows in grouped), batch_size):
            _insert_orders(conn, header, batch)
            count += len(batch)
    return count


def _insert_orders(conn: sqlite3.Connection, header: list[str],
                   batch: list[tuple[str, list[list[str]]]]) -> None:
    col = {name: i for i, name in enumerate(header)}
    now = utc_text(datetime.now(UTC))
    conn.execute("BEGIN IMMEDIATE")
    customer_ids = _customer_ids(conn, {rows[0][col["customer_external_id"]]
                                        for _, rows in batch})
    orders, lines = [], []
    for order_id, rows in batch:
        head = rows[0]
        total = 0
        for line_no, row in enumerate(rows, start=1):
            quantity, price = int(row[col["quantity"]]), int(row[col["unit_price"]])
            total += quantity * price
            lines.append((TENANT, order_id, line_no, row[col["sku"]],
                          row[col["category"]] or None, quantity, price))
        orders.append((TENANT, order_id, customer_ids[head[col["customer_external_id"]]],
                       utc_text(head[col["placed_at"]]), head[col["channel"]],
                       head[col["currency"]], "placed", total, 0, now, None))
    conn.executemany("INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", orders)
    conn.executemany("INSERT INTO order_lines VALUES (?, ?, ?, ?, ?, ?, ?)", lines)
    conn.execute("COMMIT")


def _customer_ids(conn: sqlite3.Connection, external_ids: set[str]) -> dict[str, str]:
    """external id -> customer id, one query per batch (as any streaming importer needs)."""
    refs = list(external_ids)
    query = (f"SELECT external_id, id FROM customers WHERE tenant_id = ? AND external_id IN "
             f"({', '.join('?' * len(refs))})")
    return dict(conn.execute(query, [TENANT, *refs]).fetchall())
