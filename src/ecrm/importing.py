"""Bulk import of customers and orders, and readers for plain CSV exports.

Input is streamed in batches, each batch one unit of work, so memory stays flat however
long the input is. Every row ends up in the report: inserted, skipped as a duplicate, or
rejected with the field and reason.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime, tzinfo
from itertools import groupby
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

import attrs

from ecrm import audit
from ecrm.backends.base import UnitOfWork
from ecrm.batching import chunks
from ecrm.domain import audit as audit_rules
from ecrm.domain import customers as customer_rules
from ecrm.domain import orders as order_rules
from ecrm.domain.customers import Customer
from ecrm.domain.ids import new_id
from ecrm.domain.orders import Order, OrderLine
from ecrm.domain.validation import required_text
from ecrm.errors import ConflictError, ECRMError, ValidationError
from ecrm.plugins import has_listeners

if TYPE_CHECKING:
    from ecrm.crm import CRM

C = TypeVar("C")


@attrs.frozen
class RejectedRow:
    """A row that was not imported: its position in the input, its key (order id or
    external id, when it had one), the field at fault and why. Neither ``key`` nor
    ``reason`` holds a personal value such as an e-mail address: ``index`` says which
    row it was."""

    index: int
    key: str | None
    field: str | None
    reason: str


@attrs.define
class ImportReport:
    """What a bulk import did with each row."""

    inserted: int = 0
    skipped: int = 0
    rejected: list[RejectedRow] = attrs.field(factory=list)

    @property
    def total(self) -> int:
        """Rows seen."""
        return self.inserted + self.skipped + len(self.rejected)

    def add(self, other: ImportReport) -> None:
        """Fold a batch's report into this one."""
        self.inserted += other.inserted
        self.skipped += other.skipped
        self.rejected.extend(other.rejected)

    def reject(self, index: int, key: object, error: ECRMError) -> None:
        """Record row ``index`` as rejected because of ``error``."""
        field = getattr(error, "field", None)
        reason = getattr(error, "message", None) or str(error)
        self.rejected.append(RejectedRow(index, None if key is None else str(key), field,
                                         reason))


# -- customers ---------------------------------------------------------------------------


def import_in_batches(crm: CRM, rows: Iterable[object], batch_size: int,
                      candidate: Callable[[object], C], key_of: Callable[[object], object],
                      store: Callable[[UnitOfWork, list[tuple[int, C]]], ImportReport]
                      ) -> ImportReport:
    """The bulk import loop: ``rows`` in batches, each row checked by ``candidate``
    (ValidationError: rejected under ``key_of(row)``), each batch's candidates, with their
    row index, stored by ``store`` in one unit of work (retried as a whole on a lost race
    for a unique key)."""
    report = ImportReport()
    for batch in chunks(enumerate(rows), checked_batch_size(batch_size)):
        batch_report = ImportReport()
        candidates = []
        for index, row in batch:
            try:
                candidates.append((index, candidate(row)))
            except ValidationError as error:
                batch_report.reject(index, key_of(row), error)
        batch_report.add(_store_batch(crm, store, candidates))
        batch_report.rejected.sort(key=lambda rejected: rejected.index)
        report.add(batch_report)
    return report


def _store_batch(crm: CRM, store: Callable[[UnitOfWork, list[tuple[int, C]]], ImportReport],
                 candidates: list[tuple[int, C]]) -> ImportReport:
    return crm.transact(lambda uow: store(uow, candidates), replay_on_duplicate=True)


def import_customers(crm: CRM, rows: Iterable[Mapping[str, Any]], *, batch_size: int
                     ) -> ImportReport:
    """Insert customers in batches; see ``crm.customers.import_many``."""
    return import_in_batches(crm, rows, batch_size, lambda row: _customer_candidate(crm, row),
                             _customer_key, lambda uow, found: _store_customers(crm, uow, found))


def _customer_candidate(crm: CRM, row: object) -> Customer:
    if not isinstance(row, Mapping):
        raise ValidationError("row", f"expected a mapping, got {type(row).__name__}")
    fields = dict(row)
    for name in ("signed_up_at",):
        fields[name] = parse_datetime(name, fields.get(name))
    fields["birth_date"] = _date("birth_date", fields.get("birth_date"))
    fields = {k: v for k, v in fields.items() if v is not None}
    return customer_rules.new_customer(new_id(), crm.clock.now(), fields)


def _customer_key(row: object) -> str | None:
    if not isinstance(row, Mapping):
        return None
    return row.get("external_id")


def _store_customers(crm: CRM, uow: UnitOfWork, candidates: list[tuple[int, Customer]]
                     ) -> ImportReport:
    report = ImportReport()
    taken = {key: set(uow.customers.ids_by(key, [getattr(c, key) for _, c in candidates
                                                  if getattr(c, key) is not None]))
             for key in ("email", "external_id")}
    accounts = {c.account_id for _, c in candidates if c.account_id is not None}
    missing_accounts = {a for a in accounts if uow.accounts.get(a) is None}
    validate = has_listeners(crm.plugin_manager, "ecrm_validate_customer")
    fresh = []
    for index, customer in candidates:
        if customer.account_id in missing_accounts:
            report.reject(index, customer.external_id,
                          ValidationError("account_id", f"no account {customer.account_id!r}"))
            continue
        keys = [(k, getattr(customer, k)) for k in ("external_id", "email")]
        if any(value is not None and value in taken[k] for k, value in keys):
            report.skipped += 1
            continue
        if validate and not _passes_customer_hooks(crm, index, customer, report):
            continue
        for key, value in keys:
            if value is not None:
                taken[key].add(value)
        fresh.append(customer)
    uow.customers.add_many(fresh)
    report.inserted = len(fresh)
    if fresh:  # one entry per batch: ids and counts, no row's content
        audit.record(crm, uow, audit_rules.CUSTOMERS_IMPORTED, "customer_import", new_id(),
                     details={"inserted": len(fresh), "skipped": report.skipped,
                              "rejected": len(report.rejected), "first_id": fresh[0].id,
                              "last_id": fresh[-1].id})
    if has_listeners(crm.plugin_manager, "ecrm_customer_created"):
        for customer in fresh:
            crm.notify_after_commit(uow, "ecrm_customer_created", customer=customer)
    return report


def _passes_customer_hooks(crm: CRM, index: int, customer: Customer, report: ImportReport
                           ) -> bool:
    """Run the validation hooks as ``create`` does; a veto rejects only this row."""
    given = {name: getattr(customer, name) for name in customer_rules.EDITABLE_FIELDS
             if getattr(customer, name) not in (None, {})}
    try:
        crm.validate("ecrm_validate_customer", customer=customer, changes=given)
    except ValidationError as error:
        report.reject(index, customer.external_id, error)
        return False
    return True


# -- orders ------------------------------------------------------------------------------


def import_orders(crm: CRM, rows: Iterable[Mapping[str, Any]], *, batch_size: int
                  ) -> ImportReport:
    """Record orders in batches; see ``crm.orders.import_many``."""
    return import_in_batches(
        crm, rows, batch_size, lambda row: _order_candidate(crm, row),
        lambda row: row.get("order_id") if isinstance(row, Mapping) else None,
        lambda uow, found: _store_orders(crm, uow, found))


_ORDER_FIELDS = frozenset({"order_id", "customer_id", "customer_external_id", "placed_at",
                           "lines", "channel", "currency"})


def _order_candidate(crm: CRM, row: object) -> tuple[Order, str]:
    """The order a row describes, its ``customer_id`` still the raw reference, and which
    customer key (``"id"`` or ``"external_id"``) that reference is."""
    if not isinstance(row, Mapping):
        raise ValidationError("row", f"expected a mapping, got {type(row).__name__}")
    if not _ORDER_FIELDS.issuperset(row):
        unknown = sorted(set(row) - _ORDER_FIELDS)
        raise ValidationError(unknown[0], "is not a field of an order")
    if row.get("customer_external_id") is not None:
        key, ref = "external_id", required_text("customer_external_id",
                                                row["customer_external_id"], 128)
    else:
        key, ref = "id", required_text("customer_id", row.get("customer_id"), 36)
    currency = row.get("currency") or crm.currency
    order = order_rules.build_order(
        order_id=row.get("order_id"), customer_id=ref,
        placed_at=parse_datetime("placed_at", row.get("placed_at")),
        lines=_lines(row.get("lines")), channel=row.get("channel"), currency=currency,
        now=crm.clock.now(),
    )
    return order, key


def _store_orders(crm: CRM, uow: UnitOfWork,
                  candidates: list[tuple[int, tuple[Order, str]]]) -> ImportReport:
    report = ImportReport()
    customer_ids = resolve_references(uow, [(key, order.customer_id)
                                            for _, (order, key) in candidates])
    stored = uow.orders.get_many({order.order_id for _, (order, _) in candidates})
    validate = has_listeners(crm.plugin_manager, "ecrm_validate_order")
    fresh: dict[str, Order] = {}
    for index, (order, key) in candidates:
        survivor = customer_ids.get((key, order.customer_id))
        if survivor is None:
            report.reject(index, order.order_id, no_customer(key, order.customer_id))
            continue
        order = order_rules.with_customer(order, survivor)
        earlier = stored.get(order.order_id) or fresh.get(order.order_id)
        if earlier is not None:
            if order_rules.same_content(earlier, order):
                report.skipped += 1
            else:
                report.reject(index, order.order_id, ConflictError(
                    f"order {order.order_id!r} was already recorded with other content"))
            continue
        if validate:
            try:
                crm.validate("ecrm_validate_order", order=order)
            except ValidationError as error:
                report.reject(index, order.order_id, error)
                continue
        fresh[order.order_id] = order
    uow.orders.add_many(list(fresh.values()))
    report.inserted = len(fresh)
    if has_listeners(crm.plugin_manager, "ecrm_order_recorded"):
        for order in fresh.values():
            crm.notify_after_commit(uow, "ecrm_order_recorded", order=order)
    return report


def no_customer(key: str, reference: str) -> ValidationError:
    """The error of a row whose customer reference (by ``key``) names nobody."""
    field = "customer_external_id" if key == "external_id" else "customer_id"
    return ValidationError(field, f"no customer {reference!r}")


def resolve_references(uow: UnitOfWork, references: Iterable[tuple[str, str]]
                       ) -> dict[tuple[str, str], str]:
    """Map each ``(key, reference)``, key ``"id"`` or ``"external_id"``, to the id of the
    customer it names, following merges; unknown references are left out."""
    wanted: dict[str, set[str]] = {"id": set(), "external_id": set()}
    for key, reference in references:
        wanted[key].add(reference)
    found = {(key, ref): cid for key, refs in wanted.items()
             for ref, cid in uow.customers.ids_by(key, refs).items()}
    for ref in wanted["id"]:
        if ("id", ref) not in found:
            survivor = uow.customers.merged_into(ref)
            while survivor is not None and uow.customers.get(survivor) is None:
                survivor = uow.customers.merged_into(survivor)
            if survivor is not None:
                found[("id", ref)] = survivor
    return found


# -- coercion of text input (CSV, JSON) --------------------------------------------------


def parse_datetime(field: str, value: object) -> object:
    """Parse ISO 8601 text; other values pass through to the domain's checks."""
    if not isinstance(value, str):
        return value
    if not value.strip():
        return None
    try:
        return datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValidationError(field, "is not an ISO 8601 datetime") from None


def _date(field: str, value: object) -> object:
    if not isinstance(value, str):
        return value
    if not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ValidationError(field, "is not an ISO 8601 date") from None


def _lines(lines: object) -> object:
    if not isinstance(lines, (list, tuple)):
        return lines
    return [_line(index, line) for index, line in enumerate(lines)]


def _line(index: int, line: object) -> object:
    if isinstance(line, Mapping):
        try:
            line = OrderLine(**line)
        except TypeError as exc:
            raise ValidationError(f"lines[{index}]", f"not an order line: {exc}") from None
    if isinstance(line, OrderLine) and isinstance(line.quantity, str):
        try:
            quantity = int(line.quantity.strip())
        except ValueError:
            raise ValidationError(f"lines[{index}].quantity",
                                  f"{line.quantity!r} is not an integer") from None
        line = OrderLine(line.sku, quantity, line.unit_price, line.category)
    return line


def checked_batch_size(value: int) -> int:
    """``batch_size``, a positive integer."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError("batch_size", "must be a positive integer")
    return value


# -- CSV readers -------------------------------------------------------------------------

#: Columns of the customers CSV beside ``create``'s own argument names.
ADDRESS_COLUMNS = ("postal_code", "prefecture", "city", "street", "building", "country")
ORDER_COLUMNS = ("order_id", "customer_id", "customer_external_id", "placed_at", "channel",
                 "currency")
LINE_COLUMNS = ("sku", "category", "quantity", "unit_price")


def read_customers_csv(source: str | Path | TextIO) -> Iterator[dict[str, Any]]:
    """Rows of a customers CSV (header: any of ``create``'s arguments, the address columns
    ``postal_code, prefecture, city, street, building, country``, and ``attributes.KEY``
    columns) as mappings for ``crm.customers.import_many``. Empty cells are absent. A line
    the csv module cannot read raises ValidationError on ``source`` (batches before it
    are stored)."""
    with _open(source) as handle:
        for row in _csv_rows(handle):
            yield _customer_row(row)


def _customer_row(row: Mapping[str, str | None]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    address: dict[str, str] = {}
    attributes: dict[str, str] = {}
    for column, value in row.items():
        if value is None or value == "" or column is None:
            continue
        if column in ADDRESS_COLUMNS:
            address[column] = value
        elif column.startswith("attributes."):
            attributes[column.removeprefix("attributes.")] = value
        else:
            result[column] = value
    if address:
        result["address"] = address
    if attributes:
        result["attributes"] = attributes
    return result


def read_orders_csv(source: str | Path | TextIO, *, default_timezone: tzinfo | None = None
                    ) -> Iterator[dict[str, Any]]:
    """Orders of a CSV with one row per order line (header: ``order_id``,
    ``customer_id`` or ``customer_external_id``, ``placed_at``, ``channel``, ``currency``,
    ``sku``, ``category``, ``quantity``, ``unit_price``) as mappings for
    ``crm.orders.import_many``. Lines of one order must be on adjacent rows.

    ``placed_at`` is ISO 8601; times without an offset are taken in ``default_timezone``
    when given, and rejected as naive otherwise.
    """
    with _open(source) as handle:
        for order_id, group in groupby(_csv_rows(handle), key=lambda r: r.get("order_id")):
            rows = list(group)
            head = rows[0]
            order: dict[str, Any] = {c: head[c] for c in ORDER_COLUMNS if head.get(c)}
            order["order_id"] = order_id
            if default_timezone is not None and "placed_at" in order:
                order["placed_at"] = _in_zone(order["placed_at"], default_timezone)
            order["lines"] = [
                OrderLine(sku=r.get("sku"), quantity=r.get("quantity"),  # type: ignore[arg-type]
                          unit_price=r.get("unit_price"),  # type: ignore[arg-type]
                          category=r.get("category") or None)
                for r in rows
            ]
            yield order


def _csv_rows(handle: TextIO) -> Iterator[dict[str, str]]:
    """Rows keyed by the header like ``csv.DictReader``'s, built more cheaply: blank lines
    are skipped, cells missing from a short row are absent, cells beyond the header are
    dropped (both readers ignore them). A file the csv module cannot read (a cell larger
    than ``csv.field_size_limit()``) raises ValidationError on ``source`` naming the line,
    as the rows are read."""
    reader = csv.reader(handle)
    try:
        header = next(reader, None)
        if header is None:
            return
        for values in reader:
            if values:
                yield dict(zip(header, values, strict=False))
    except csv.Error as error:  # e.g. a cell over csv.field_size_limit()
        raise ValidationError("source", f"line {reader.line_num}: {error}") from None


def _in_zone(text: str, zone: tzinfo) -> object:
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        return text  # reported by the import with the row
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=zone)


@contextmanager
def _open(source: str | Path | TextIO) -> Iterator[TextIO]:
    """Open a path for reading CSV, or pass an already open text file through."""
    if isinstance(source, (str, Path)):
        with open(source, newline="", encoding="utf-8-sig") as handle:
            yield handle
    elif hasattr(source, "read"):
        yield source
    else:
        raise ValidationError("source", "expected a path or an open text file")
