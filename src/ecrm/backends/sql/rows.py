"""Conversions between domain objects and table rows (``to_params`` / ``from_row``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

import attrs

from ecrm.domain.customers import Account, Address, Customer, CustomerMerge
from ecrm.domain.money import from_minor, to_minor
from ecrm.domain.orders import Order, OrderLine, OrderStatus, Refund

_ADDRESS_FIELDS = ("postal_code", "prefecture", "city", "street", "building")


def customer_params(tenant: str, customer: Customer) -> dict[str, Any]:
    """The ``ecrm_customers`` row of ``customer``."""
    params = {
        "tenant_id": tenant, "id": customer.id, "email": customer.email, "name": customer.name,
        "kana_name": customer.kana_name, "phone": customer.phone,
        "external_id": customer.external_id, "birth_date": customer.birth_date,
        "gender": customer.gender, "acquisition_channel": customer.acquisition_channel,
        "account_id": customer.account_id, "attributes": customer.attributes,
        "signed_up_at": customer.signed_up_at, "created_at": customer.created_at,
        "updated_at": customer.updated_at, "country": None,
    }
    params.update(dict.fromkeys(_ADDRESS_FIELDS))
    if customer.address is not None:
        params.update(attrs.asdict(customer.address))
    return params


def customer_from_row(row: Mapping[str, Any]) -> Customer:
    """The Customer stored in ``row``."""
    address = None
    if row["country"] is not None:
        address = Address(country=row["country"], **{f: row[f] for f in _ADDRESS_FIELDS})
    return Customer(
        id=row["id"], email=row["email"], name=row["name"], kana_name=row["kana_name"],
        phone=row["phone"], external_id=row["external_id"], birth_date=row["birth_date"],
        gender=row["gender"], address=address, acquisition_channel=row["acquisition_channel"],
        account_id=row["account_id"], attributes=row["attributes"],
        signed_up_at=row["signed_up_at"], created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def customer_to_json(customer: Customer) -> dict[str, Any]:
    """A JSON-safe snapshot of ``customer`` (for merge records)."""
    def encode(value: Any) -> Any:
        return value.isoformat() if isinstance(value, (date, datetime)) else value

    return {k: encode(v) for k, v in attrs.asdict(customer, recurse=True).items()}


def customer_from_json(data: Mapping[str, Any]) -> Customer:
    """Inverse of :func:`customer_to_json`."""
    fields = dict(data)
    for name in ("created_at", "updated_at", "signed_up_at"):
        fields[name] = datetime.fromisoformat(fields[name])
    if fields.get("birth_date"):
        fields["birth_date"] = date.fromisoformat(fields["birth_date"])
    if fields.get("address"):
        fields["address"] = Address(**fields["address"])
    return Customer(**fields)


def merge_params(tenant: str, merge: CustomerMerge) -> dict[str, Any]:
    """The ``ecrm_customer_merges`` row of ``merge``."""
    return {"tenant_id": tenant, "duplicate_id": merge.duplicate_id,
            "survivor_id": merge.survivor_id, "merged_at": merge.merged_at,
            "duplicate": customer_to_json(merge.duplicate)}


def merge_from_row(row: Mapping[str, Any]) -> CustomerMerge:
    """The CustomerMerge stored in ``row``."""
    return CustomerMerge(survivor_id=row["survivor_id"], duplicate_id=row["duplicate_id"],
                         merged_at=row["merged_at"],
                         duplicate=customer_from_json(row["duplicate"]))


def account_params(tenant: str, account: Account) -> dict[str, Any]:
    """The ``ecrm_accounts`` row of ``account``."""
    return {"tenant_id": tenant, **attrs.asdict(account, recurse=False)}


def account_from_row(row: Mapping[str, Any]) -> Account:
    """The Account stored in ``row``."""
    return Account(id=row["id"], name=row["name"], external_id=row["external_id"],
                   attributes=row["attributes"], created_at=row["created_at"],
                   updated_at=row["updated_at"])


def order_params(tenant: str, order: Order) -> dict[str, Any]:
    """The ``ecrm_orders`` row of ``order``."""
    return {
        "tenant_id": tenant, "order_id": order.order_id, "customer_id": order.customer_id,
        "placed_at": order.placed_at, "channel": order.channel, "currency": order.currency,
        "status": order.status.value,
        "total_minor": to_minor("total", order.total, order.currency),
        "refunded_minor": to_minor("refunded", order.refunded, order.currency),
        "created_at": order.created_at, "cancelled_at": order.cancelled_at,
    }


def line_params(tenant: str, order: Order) -> list[dict[str, Any]]:
    """The ``ecrm_order_lines`` rows of ``order``, numbered from 1."""
    return [
        {"tenant_id": tenant, "order_id": order.order_id, "line_no": number, "sku": line.sku,
         "category": line.category, "quantity": line.quantity,
         "unit_price_minor": to_minor("unit_price", line.unit_price, order.currency)}
        for number, line in enumerate(order.lines, start=1)
    ]


def order_from_rows(row: Mapping[str, Any], lines: Iterable[Mapping[str, Any]]) -> Order:
    """The Order stored in ``row`` with its line rows (already in line order)."""
    currency = row["currency"]
    return Order(
        order_id=row["order_id"], customer_id=row["customer_id"], placed_at=row["placed_at"],
        channel=row["channel"], currency=currency,
        lines=tuple(
            OrderLine(sku=line["sku"], quantity=line["quantity"],
                      unit_price=from_minor(line["unit_price_minor"], currency),
                      category=line["category"])
            for line in lines
        ),
        created_at=row["created_at"], status=OrderStatus(row["status"]),
        total=from_minor(row["total_minor"], currency),
        refunded=from_minor(row["refunded_minor"], currency),
        cancelled_at=row["cancelled_at"],
    )


def refund_params(tenant: str, refund: Refund, currency: str) -> dict[str, Any]:
    """The ``ecrm_refunds`` row of ``refund``."""
    return {"tenant_id": tenant, "refund_id": refund.refund_id, "order_id": refund.order_id,
            "amount_minor": to_minor("amount", refund.amount, currency),
            "refunded_at": refund.refunded_at, "reason": refund.reason}


def refund_from_row(row: Mapping[str, Any], currency: str) -> Refund:
    """The Refund stored in ``row``."""
    return Refund(refund_id=row["refund_id"], order_id=row["order_id"],
                  amount=from_minor(row["amount_minor"], currency),
                  refunded_at=row["refunded_at"], reason=row["reason"])
