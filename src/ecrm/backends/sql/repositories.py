"""SQL repositories: SQLAlchemy Core statements, every one restricted to one tenant."""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable, Mapping, Sequence
from itertools import groupby
from typing import Any

from sqlalchemy import (
    Connection,
    String,
    Table,
    and_,
    any_,
    bindparam,
    func,
    insert,
    not_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import CursorResult
from sqlalchemy.sql import ColumnElement, Executable, Insert, Select

from ecrm.backends.base import CustomerKey
from ecrm.backends.sql import driver, rows, tables
from ecrm.batching import chunks
from ecrm.domain.customers import Account, Customer, CustomerMerge
from ecrm.domain.money import from_minor
from ecrm.domain.orders import CustomerOrderSummary, Order, OrderStatus, Refund
from ecrm.domain.timeline import Before

#: Bound parameters per IN list; stays under every driver's limit.
IN_CHUNK = 500

#: The bound parameter naming the tenant in statements built once (see :func:`tenant_of`).
TENANT = "ecrm_tenant"


def tenant_of(table: Table) -> ColumnElement[bool]:
    """``table``'s tenant predicate for a statement built once, at import: the tenant is
    bound at execution as ``TENANT`` (see :meth:`_TenantScoped._run`). Building a
    statement and its cache key costs more than executing it on SQLite."""
    return table.c.tenant_id == bindparam(TENANT)


def older_than(time: Any, row_id: Any, before: Before) -> ColumnElement[bool]:
    """``(time, row_id) < (before.at, before.id)``, written so that every database walks
    its ``(..., time, id)`` index backwards from the bound (a row-value comparison is not
    used by every planner)."""
    return and_(time <= before.at, not_(and_(time == before.at, row_id >= before.id)))


def hinted(query: Select[Any], table: Table, hint: str | None) -> Select[Any]:
    """``query`` with index hint ``hint`` on ``table`` for MySQL/MariaDB (other databases
    get none)."""
    if hint is not None:
        for dialect in ("mysql", "mariadb"):
            query = query.with_hint(table, hint, dialect_name=dialect)
    return query


class _TenantScoped:
    """Base of every repository: a connection and the one tenant it may touch."""

    def __init__(self, conn: Connection, tenant: str, *, direct: bool = False) -> None:
        self._conn = conn
        self._tenant = tenant
        # Whether hot statements go straight to the driver (see ``driver.usable``).
        self._direct = direct

    def _mine(self, table: Table) -> ColumnElement[bool]:
        return table.c.tenant_id == self._tenant

    def _among(self, column: ColumnElement[str], keys: Collection[str]
               ) -> ColumnElement[bool]:
        """``column IN keys``; on PostgreSQL ``column = ANY(:keys)``, one array parameter
        instead of one per key, which SQLAlchemy, psycopg and the server handle in about
        half the time for a page of a thousand."""
        if self._conn.dialect.name == "postgresql":
            return column == any_(bindparam(None, list(keys), type_=ARRAY(String())))
        return column.in_(list(keys))

    def _upsert(self, table: Table, key: Mapping[str, Any], values: Mapping[str, Any]
                ) -> None:
        """Overwrite ``values`` of this tenant's row of ``table`` whose columns equal
        ``key``, or insert the row. Callers hold a lock (their customer's row) that keeps
        a concurrent insert of the same key out."""
        matches = [table.c[column] == value for column, value in key.items()]
        changed = self._conn.execute(update(table).where(self._mine(table), *matches)
                                     .values(dict(values)))
        if not changed.rowcount:
            self._conn.execute(insert(table), {"tenant_id": self._tenant, **key, **values})

    def _timeline_slice(self, selected: Any, table: Table, *, time: Any, row_id: Any,
                        customer_id: str, before: Before | None, limit: int,
                        only: Mapping[Any, Collection[str] | None] | None = None,
                        hint: str | None = None) -> Select[Any]:
        """SELECT ``selected`` of up to ``limit`` of the customer's rows of ``table`` with
        ``(time, row_id)`` below ``before`` (all when None), newest first: one source's
        timeline slice, read backwards along its ``(tenant_id, customer_id, time, id)``
        index. ``only`` maps columns to the values they must take (None: any)."""
        conditions = [table.c.customer_id == customer_id]
        if before is not None:
            conditions.append(older_than(time, row_id, before))
        for column, values in (only or {}).items():
            if values is not None:
                conditions.append(column.in_(sorted(values)))
        query = (select(selected).where(self._mine(table), *conditions)
                 .order_by(time.desc(), row_id.desc()).limit(limit))
        return hinted(query, table, hint)

    def _run(self, statement: Executable, **params: Any
             ) -> CursorResult[*tuple[Any, ...]]:
        """Execute a statement built with :func:`tenant_of`, for this tenant."""
        return self._conn.execute(statement, {TENANT: self._tenant, **params})

    def _rows(self, statement: Executable, **params: Any) -> Sequence[Sequence[Any]]:
        """The rows of a SELECT built with :func:`tenant_of`, for this tenant; on the
        driver when allowed (see :mod:`~ecrm.backends.sql.driver`)."""
        bound = {TENANT: self._tenant, **params}
        if self._direct:
            return driver.rows(self._conn, statement, bound)
        return list(self._conn.execute(statement, bound))

    def _write(self, statement: Executable, params: Mapping[str, Any] | Sequence[Mapping[str, Any]]
               ) -> None:
        """Execute a DML statement built once, with one set of parameters or several; on
        the driver when allowed (see :mod:`~ecrm.backends.sql.driver`)."""
        if self._direct:
            driver.write(self._conn, statement, params)
        else:
            self._conn.execute(statement, params)


class SQLCustomerRepository(_TenantScoped):
    """Customers and merges in ``ecrm_customers`` / ``ecrm_customer_merges``."""

    _t = tables.customers
    _get = select(_t).where(tenant_of(_t), _t.c.id == bindparam("customer_id"))
    _get_for_update = _get.with_for_update()
    _lock = (select(_t.c.id).where(tenant_of(_t), _t.c.id == bindparam("customer_id"))
             .with_for_update())

    def add(self, customer: Customer) -> None:
        self._conn.execute(insert(self._t), rows.customer_params(self._tenant, customer))

    def add_many(self, customers: Collection[Customer]) -> None:
        if customers:
            params = [rows.customer_params(self._tenant, c) for c in customers]
            _insert_many(self._conn, self._t, params)

    def get(self, customer_id: str, *, for_update: bool = False) -> Customer | None:
        query = self._get_for_update if for_update else self._get
        row = self._run(query, customer_id=customer_id).mappings().first()
        return None if row is None else rows.customer_from_row(row)

    def lock(self, customer_id: str) -> bool:
        return bool(self._rows(self._lock, customer_id=customer_id))

    def find(self, key: CustomerKey, value: str) -> Customer | None:
        query = select(self._t).where(self._mine(self._t), self._t.c[key] == value)
        row = self._conn.execute(query).mappings().first()
        return None if row is None else rows.customer_from_row(row)

    def ids_by(self, key: CustomerKey, values: Collection[str]) -> dict[str, str]:
        column = self._t.c[key]
        found: dict[str, str] = {}
        for batch in chunks(set(values), IN_CHUNK):
            query = select(column, self._t.c.id).where(self._mine(self._t), column.in_(batch))
            found.update({value: cid for value, cid in self._conn.execute(query)})
        return found

    def get_many(self, customer_ids: Collection[str]) -> dict[str, Customer]:
        found: dict[str, Customer] = {}
        for batch in chunks(set(customer_ids), IN_CHUNK):
            query = select(self._t).where(self._mine(self._t), self._among(self._t.c.id, batch))
            found.update((r["id"], rows.customer_from_row(r))
                         for r in self._conn.execute(query).mappings().all())
        return found

    def replace(self, customer: Customer) -> None:
        params = rows.customer_params(self._tenant, customer)
        del params["tenant_id"], params["id"]
        statement = update(self._t).where(self._mine(self._t), self._t.c.id == customer.id)
        self._conn.execute(statement.values(**params))

    def delete(self, customer_id: str) -> None:
        statement = self._t.delete().where(self._mine(self._t), self._t.c.id == customer_id)
        self._conn.execute(statement)

    def page(self, *, after: str | None, limit: int, account_id: str | None) -> list[Customer]:
        query = select(self._t).where(self._mine(self._t))
        if after is not None:
            query = query.where(self._t.c.id > after)
        if account_id is not None:
            query = query.where(self._t.c.account_id == account_id)
        query = query.order_by(self._t.c.tenant_id, self._t.c.id).limit(limit)
        return [rows.customer_from_row(r) for r in self._conn.execute(query).mappings()]

    def add_merge(self, merge: CustomerMerge) -> None:
        self._conn.execute(insert(tables.customer_merges),
                           rows.merge_params(self._tenant, merge))

    def merged_into(self, customer_id: str) -> str | None:
        m = tables.customer_merges
        query = select(m.c.survivor_id).where(self._mine(m), m.c.duplicate_id == customer_id)
        return self._conn.execute(query).scalar()

    def merges_into(self, survivor_id: str) -> list[CustomerMerge]:
        m = tables.customer_merges
        query = (select(m).where(self._mine(m), m.c.survivor_id == survivor_id)
                 .order_by(m.c.merged_at, m.c.duplicate_id))
        return [rows.merge_from_row(r) for r in self._conn.execute(query).mappings()]


class SQLAccountRepository(_TenantScoped):
    """B2B accounts in ``ecrm_accounts``."""

    _t = tables.accounts

    def add(self, account: Account) -> None:
        self._conn.execute(insert(self._t), rows.account_params(self._tenant, account))

    def get(self, account_id: str) -> Account | None:
        return self._one(self._t.c.id == account_id)

    def find_by_external_id(self, external_id: str) -> Account | None:
        return self._one(self._t.c.external_id == external_id)

    def replace(self, account: Account) -> None:
        params = rows.account_params(self._tenant, account)
        del params["tenant_id"], params["id"]
        statement = update(self._t).where(self._mine(self._t), self._t.c.id == account.id)
        self._conn.execute(statement.values(**params))

    def _one(self, condition: ColumnElement[bool]) -> Account | None:
        row = self._conn.execute(
            select(self._t).where(self._mine(self._t), condition)).mappings().first()
        return None if row is None else rows.account_from_row(row)


class SQLOrderRepository(_TenantScoped):
    """Orders, lines and refunds in ``ecrm_orders``, ``ecrm_order_lines``, ``ecrm_refunds``."""

    _o = tables.orders
    _l = tables.order_lines
    _r = tables.refunds

    def add(self, order: Order) -> None:
        self.add_many([order])

    def add_many(self, orders: Collection[Order]) -> None:
        if not orders:
            return
        _insert_many(self._conn, self._o, [rows.order_params(self._tenant, o) for o in orders])
        _insert_many(self._conn, self._l,
                    [line for o in orders for line in rows.line_params(self._tenant, o)])

    def get(self, order_id: str, *, for_update: bool = False) -> Order | None:
        query = select(self._o).where(self._mine(self._o), self._o.c.order_id == order_id)
        if for_update:
            query = query.with_for_update()
        row = self._conn.execute(query).mappings().first()
        if row is None:
            return None
        # Locking the lines too keeps every read of a for_update get a locking read: on
        # MySQL/MariaDB the first plain read fixes the transaction's snapshot, and callers
        # lock more rows (the customer) before they may read.
        lines = self._lines_where(self._l.c.order_id == order_id, for_update=for_update)
        return rows.order_from_rows(row, lines)

    def get_many(self, order_ids: Collection[str]) -> dict[str, Order]:
        found: dict[str, Order] = {}
        for batch in chunks(set(order_ids), IN_CHUNK):
            found.update(self._orders_where(self._o.c.order_id.in_(batch)))
        return found

    def for_customer(self, customer_id: str) -> list[Order]:
        orders = self._orders_where(self._o.c.customer_id == customer_id)
        return sorted(orders.values(), key=lambda o: (o.placed_at, o.order_id))

    def timeline(self, customer_id: str, *, before: Before | None, limit: int,
                 channels: Collection[str] | None) -> list[Order]:
        o = self._o
        query = self._timeline_slice(o.c.order_id, o, time=o.c.placed_at, row_id=o.c.order_id,
                                     customer_id=customer_id, before=before, limit=limit,
                                     only={o.c.channel: channels})
        found = self.get_many(list(self._conn.execute(query).scalars()))
        return sorted(found.values(), key=lambda o: (o.placed_at, o.order_id), reverse=True)

    def count_for_customer(self, customer_id: str) -> int:
        query = select(func.count()).select_from(self._o).where(
            self._mine(self._o), self._o.c.customer_id == customer_id,
            self._o.c.status != OrderStatus.CANCELLED.value)
        return int(self._conn.execute(query).scalar_one())

    def replace_state(self, order: Order) -> None:
        params = rows.order_params(self._tenant, order)
        statement = update(self._o).where(self._mine(self._o),
                                          self._o.c.order_id == order.order_id)
        self._conn.execute(statement.values(
            status=params["status"], refunded_minor=params["refunded_minor"],
            cancelled_at=params["cancelled_at"]))

    def add_refund(self, refund: Refund) -> None:
        currency = self._conn.execute(
            select(self._o.c.currency).where(self._mine(self._o),
                                             self._o.c.order_id == refund.order_id)).scalar_one()
        self._conn.execute(insert(self._r), rows.refund_params(self._tenant, refund, currency))

    def get_refund(self, refund_id: str) -> Refund | None:
        found = self._refunds_where(self._r.c.refund_id == refund_id)
        return found[0] if found else None

    def refunds(self, order_id: str) -> list[Refund]:
        return self._refunds_where(self._r.c.order_id == order_id)

    def summary(self, customer_id: str, currency: str) -> CustomerOrderSummary:
        return self.summaries([customer_id], currency)[customer_id]

    def summaries(self, customer_ids: Iterable[str] | None,
                  currency: str) -> Mapping[str, CustomerOrderSummary]:
        if customer_ids is None:
            return self._summaries_where(None, currency)
        wanted = list(customer_ids)
        found: dict[str, CustomerOrderSummary] = {}
        for batch in chunks(wanted, IN_CHUNK):
            found.update(self._summaries_where(self._o.c.customer_id.in_(batch), currency))
        return {cid: found.get(cid) or _no_orders(cid, currency) for cid in wanted}

    def _summaries_where(self, condition: ColumnElement[bool] | None,
                         currency: str) -> dict[str, CustomerOrderSummary]:
        o = self._o
        query = (
            select(o.c.customer_id, func.count(), func.sum(o.c.total_minor - o.c.refunded_minor),
                   func.min(o.c.placed_at), func.max(o.c.placed_at))
            .where(self._mine(o), o.c.currency == currency,
                   o.c.status != OrderStatus.CANCELLED.value)
            .group_by(o.c.customer_id)
        )
        if condition is not None:
            query = query.where(condition)
        return {
            cid: CustomerOrderSummary(cid, currency, count, from_minor(int(spent), currency),
                                      first, last)
            for cid, count, spent, first, last in self._conn.execute(query)
        }

    def _orders_where(self, condition: ColumnElement[bool]) -> dict[str, Order]:
        o, line = self._o, self._l
        order_rows = self._conn.execute(select(o).where(self._mine(o), condition)).mappings()
        by_id = {r["order_id"]: r for r in order_rows}
        if not by_id:
            return {}
        # The lines by the order ids just read, not by joining ``condition`` again: with
        # the join, SQLite walked every line of the tenant in primary-key order.
        grouped: dict[str, list[Mapping[str, Any]]] = {}
        for batch in chunks(sorted(by_id), IN_CHUNK):
            line_rows = self._lines_where(line.c.order_id.in_(batch))
            grouped.update((oid, list(group))
                           for oid, group in groupby(line_rows, lambda r: r["order_id"]))
        return {oid: rows.order_from_rows(r, grouped.get(oid, ())) for oid, r in by_id.items()}

    def _lines_where(self, condition: ColumnElement[bool], *, for_update: bool = False
                     ) -> Sequence[Mapping[str, Any]]:
        query = (select(self._l).where(self._mine(self._l), condition)
                 .order_by(self._l.c.order_id, self._l.c.line_no))
        if for_update:
            query = query.with_for_update()
        return list(self._conn.execute(query).mappings())

    def _refunds_where(self, condition: ColumnElement[bool]) -> list[Refund]:
        r, o = self._r, self._o
        query = (
            select(r, o.c.currency)
            .join(o, (o.c.tenant_id == r.c.tenant_id) & (o.c.order_id == r.c.order_id))
            .where(self._mine(r), self._mine(o), condition)
            .order_by(r.c.refunded_at, r.c.refund_id)
        )
        return [rows.refund_from_row(row, row["currency"])
                for row in self._conn.execute(query).mappings()]


def _insert_many(conn: Connection, table: Table, params: list[dict[str, Any]]) -> None:
    """INSERT rows (``params``: dicts naming every column of ``table``) in one executemany.

    The rows go straight to the driver's ``executemany`` (through ``exec_driver_sql``, so
    statement listeners still see them and errors are translated as usual), each value
    converted by its column type's bind processor (:func:`driver.compile_once`):
    SQLAlchemy's own per-row parameter handling costs about as much as SQLite's insert
    does. For INSERT without RETURNING, SQLAlchemy hands the rows to the same
    ``executemany`` (psycopg pipelines them, PyMySQL folds them into multi-row
    statements), so only its parameter handling is skipped.
    """
    if not params:
        return
    compiled = driver.compile_once(conn.dialect, _insert_of(table), tuple(params[0]))
    conn.exec_driver_sql(compiled.sql, compiled.many(params))  # type: ignore[arg-type]


@functools.lru_cache(maxsize=64)
def _insert_of(table: Table) -> Insert:
    """One INSERT per table, so that the driver's compile cache, keyed on the statement,
    keeps a single entry for it."""
    return insert(table)


def _no_orders(customer_id: str, currency: str) -> CustomerOrderSummary:
    return CustomerOrderSummary(customer_id, currency, 0, from_minor(0, currency), None, None)

