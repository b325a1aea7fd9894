"""Bad input gets a ValidationError that names the field, and nothing is written."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from ecrm.crm import CRM
from ecrm.domain.orders import OrderLine
from ecrm.errors import ValidationError
from ecrm.testing.conformance.base import START, ContractBase, line, snapshot

BAD_CUSTOMERS: list[tuple[str, dict[str, Any]]] = [
    ("email", {"email": "not-an-email"}),
    ("email", {"email": "two@@example.com"}),
    ("email", {"email": 42}),
    ("name", {"name": "x" * 201}),
    ("external_id", {"external_id": "x" * 129}),
    ("phone", {"phone": "call me"}),
    ("gender", {"gender": "robot"}),
    ("birth_date", {"birth_date": "1990-01-01"}),
    ("signed_up_at", {"signed_up_at": datetime(2026, 1, 1)}),
    ("address.prefecture", {"address": {"prefecture": "Tokyo"}}),
    ("address.country", {"address": {"country": "JPN"}}),
    ("address.floor", {"address": {"floor": 3}}),
    ("attributes", {"attributes": ["not", "a", "mapping"]}),
    ("attributes.when", {"attributes": {"when": datetime(2026, 1, 1)}}),
    ("attributes.n", {"attributes": {"n": float("nan")}}),
    ("acquisition_channel", {"acquisition_channel": "Web Shop"}),
    ("name", {"name": "nul\x00byte"}),
    ("attributes.note", {"attributes": {"note": "nul\x00byte"}}),
    ("attributes", {"attributes": {"k\x00": 1}}),
    ("name", {"name": "lone \udda2 surrogate"}),
    ("attributes.note[1]", {"attributes": {"note": ["ok", "\ud800"]}}),
]

BAD_ORDERS: list[tuple[str, dict[str, Any]]] = [
    ("lines[0].quantity", {"lines": [OrderLine("A", -1, Decimal("100"))]}),
    ("lines[0].quantity", {"lines": [OrderLine("A", 0, Decimal("100"))]}),
    ("lines[1].unit_price", {"lines": [line(), OrderLine("A", 1, Decimal("-1"))]}),
    ("lines[0].unit_price", {"lines": [OrderLine("A", 1, 10.5)]}),  # type: ignore[arg-type]
    ("lines[0].unit_price", {"lines": [OrderLine("A", 1, Decimal("10.5"))]}),  # JPY: no sen
    ("lines[0].sku", {"lines": [OrderLine("x" * 65, 1, Decimal("1"))]}),
    ("lines[0].sku", {"lines": [OrderLine("A\x00", 1, Decimal("1"))]}),
    ("lines", {"lines": []}),
    ("placed_at", {"placed_at": datetime(2026, 4, 1, 9, 0)}),
    ("placed_at", {"placed_at": "2026-04-01"}),
    ("currency", {"currency": "XYZ"}),
    ("currency", {"currency": "jpy"}),
    ("channel", {"channel": ""}),
    ("order_id", {"order_id": "x" * 129}),
    ("order_id", {"order_id": "  "}),
    ("customer_id", {"customer_id": "00000000-0000-7000-8000-000000000000"}),
]


class BadInputContract(ContractBase):
    """Every malformed field is refused by name, and the tenant is left untouched."""

    @pytest.mark.parametrize(("field", "fields"), BAD_CUSTOMERS,
                             ids=[f"{f}-{i}" for i, (f, _) in enumerate(BAD_CUSTOMERS)])
    def test_bad_customer_fields(self, crm: CRM, field: str, fields: dict[str, Any]) -> None:
        crm.customers.create(email="existing@example.com")
        before = snapshot(crm)
        with pytest.raises(ValidationError) as raised:
            crm.customers.create(**fields)
        assert raised.value.field == field
        assert snapshot(crm) == before

    @pytest.mark.parametrize(("field", "fields"), BAD_CUSTOMERS[:6],
                             ids=[f"{f}-{i}" for i, (f, _) in enumerate(BAD_CUSTOMERS[:6])])
    def test_bad_customer_updates(self, crm: CRM, field: str, fields: dict[str, Any]) -> None:
        existing = crm.customers.create(email="existing@example.com", name="Kept")
        before = snapshot(crm)
        with pytest.raises(ValidationError) as raised:
            crm.customers.update(existing.id, **fields)
        assert raised.value.field == field
        assert snapshot(crm) == before

    @pytest.mark.parametrize(("field", "changes"), BAD_ORDERS,
                             ids=[f"{f}-{i}" for i, (f, _) in enumerate(BAD_ORDERS)])
    def test_bad_orders(self, crm: CRM, field: str, changes: dict[str, Any]) -> None:
        buyer = crm.customers.create(email="buyer@example.com")
        arguments = {"order_id": "O-1", "customer_id": buyer.id, "placed_at": START,
                     "lines": [line()], "channel": "web", "currency": None, **changes}
        before = snapshot(crm)
        with pytest.raises(ValidationError) as raised:
            crm.orders.record(**arguments)
        assert raised.value.field == field
        assert snapshot(crm) == before
