"""Plugin hooks: notifications after commit only, vetoes inside the transaction."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from ecrm.backends.base import Backend
from ecrm.crm import CRM
from ecrm.errors import ValidationError
from ecrm.hookspecs import hookimpl
from ecrm.testing.conformance.base import ContractBase, Recorder, line, record, snapshot


class VetoLargeOrders:
    """Refuses orders above a limit, and customers named "blocked"."""

    @hookimpl
    def ecrm_validate_order(self, crm: CRM, order: Any) -> None:
        if order.total > 100_000:
            raise ValidationError("total", "orders above 100,000 need a manual check")

    @hookimpl
    def ecrm_validate_customer(self, crm: CRM, customer: Any, changes: Any) -> None:
        if customer.name == "blocked":
            raise ValidationError("name", "this name is blocked")


class RecordsValidation:
    """Keeps what ecrm_validate_customer was given."""

    def __init__(self) -> None:
        self.changes: list[dict[str, Any]] = []

    @hookimpl
    def ecrm_validate_customer(self, crm: CRM, customer: Any, changes: Any) -> None:
        self.changes.append(changes)


class SeesCommittedOrder:
    """Reads the order back from a fresh unit of work when notified."""

    def __init__(self) -> None:
        self.seen: list[Any] = []

    @hookimpl
    def ecrm_order_recorded(self, crm: CRM, order: Any) -> None:
        self.seen.append(crm.orders.get(order.order_id))


class Broken:
    """A notification hook that fails."""

    @hookimpl
    def ecrm_customer_created(self, crm: CRM, customer: Any) -> None:
        raise RuntimeError("mail server down")


class PluginContract(ContractBase):
    """Hook behaviour every backend must show."""

    @pytest.fixture
    def guarded(self, backend: Backend, tenant: str, clock, recorder: Recorder) -> CRM:
        return CRM(backend, tenant=tenant, clock=clock, plugins=[VetoLargeOrders(), recorder])

    def test_notifications_carry_the_stored_objects(self, crm: CRM, recorder) -> None:
        customer = crm.customers.create(name="n")
        updated = crm.customers.update(customer.id, name="m")
        order = record(crm, "O", customer.id)
        assert recorder.events == [
            ("customer_created", {"customer": customer}),
            ("customer_updated", {"customer": updated, "changes": {"name": "m"}}),
            ("order_recorded", {"order": order}),
        ]

    def test_validation_sees_the_clean_values_of_given_fields(self, backend: Backend,
                                                              tenant: str) -> None:
        spy = RecordsValidation()
        crm = CRM(backend, tenant=tenant, plugins=[spy])
        customer = crm.customers.create(email=" A@Example.com ", name="n")
        crm.customers.update(customer.id, name="m", phone=None)
        assert spy.changes == [{"email": "a@example.com", "name": "n"}, {"name": "m"}]

    def test_notifications_fire_after_commit(self, backend: Backend, tenant: str) -> None:
        watcher = SeesCommittedOrder()
        crm = CRM(backend, tenant=tenant, plugins=[watcher])
        customer = crm.customers.create(name="n")
        order = record(crm, "O", customer.id)
        assert watcher.seen == [order]

    def test_veto_writes_nothing_and_notifies_nobody(self, guarded: CRM, recorder) -> None:
        customer = guarded.customers.create(name="ok")
        before, events = snapshot(guarded), list(recorder.events)
        with pytest.raises(ValidationError, match="total"):
            record(guarded, "BIG", customer.id, lines=[line(quantity=101, price="1000")])
        with pytest.raises(ValidationError, match="name"):
            guarded.customers.create(name="blocked")
        with pytest.raises(ValidationError, match="name"):
            guarded.customers.update(customer.id, name="blocked")
        assert snapshot(guarded) == before and recorder.events == events

    def test_veto_rejects_only_that_row_in_bulk(self, guarded: CRM) -> None:
        customer = guarded.customers.create(name="ok")
        rows = [{"order_id": f"B{q}", "customer_id": customer.id, "placed_at": "2026-04-01T00:00Z",
                 "lines": [line(quantity=q, price="1000")], "channel": "web"} for q in (1, 200, 3)]
        report = guarded.orders.import_many(rows)
        assert report.inserted == 2 and [r.key for r in report.rejected] == ["B200"]

    def test_veto_rejects_only_that_customer_in_bulk(self, guarded: CRM) -> None:
        report = guarded.customers.import_many([{"name": "fine"}, {"name": "blocked"},
                                                {"name": "also fine"}])
        assert report.inserted == 2
        assert [(r.index, r.field) for r in report.rejected] == [(1, "name")]
        assert sorted(c.name for c in guarded.customers.iterate()) == ["also fine", "fine"]

    def test_failed_work_notifies_nobody(self, crm: CRM, recorder) -> None:
        crm.customers.create(email="taken@example.com")
        with pytest.raises(Exception):  # noqa: B017 - any failure will do
            crm.customers.create(email="taken@example.com")
        assert recorder.names() == ["customer_created"]

    def test_a_failing_notification_is_logged_not_raised(
            self, backend: Backend, tenant: str, caplog: pytest.LogCaptureFixture) -> None:
        crm = CRM(backend, tenant=tenant, plugins=[Broken()])
        with caplog.at_level(logging.ERROR, logger="ecrm.plugins"):
            created = crm.customers.create(name="still stored")
        assert crm.customers.get(created.id) == created
        assert "mail server down" in caplog.text
