"""Segments on every backend: rules in all three forms, refreshes with entered/left
history and notifications, static edits, plugin fields, and consent-respecting exports."""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func

from ecrm.crm import CRM
from ecrm.domain.orders import OrderLine
from ecrm.domain.segment_fields import SegmentField, ValueType
from ecrm.domain.segment_rules import F, RuleError
from ecrm.domain.segments import MembershipChangeKind, SegmentKind
from ecrm.errors import ConflictError, NotFound, ValidationError
from ecrm.hookspecs import hookimpl
from ecrm.testing.conformance.base import START, ContractBase, record


def membership_events(recorder: Any) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """The ``ecrm_segment_membership_changed`` notifications as (entered, left)."""
    return [(e["entered"], e["left"]) for name, e in recorder.events
            if name == "segment_membership_changed"]


class NameLength:
    """A plugin contributing ``name.length``, with both forms."""

    @hookimpl
    def ecrm_segment_fields(self, crm: CRM) -> list[SegmentField]:
        return [SegmentField(
            "name.length", ValueType.INTEGER, "characters in the name", nullable=True,
            sql=lambda context: func.length(context.tables.customers.c.name),
            python=lambda context: None if context.customer.name is None
            else len(context.customer.name))]


class SegmentServiceContract(ContractBase):
    """``crm.segments`` behaves the same on every backend."""

    def _shop(self, crm: CRM) -> dict[str, str]:
        ids = {}
        for name, orders in (("Aoi", 3), ("Ren", 1), ("Mio", 0)):
            customer = crm.customers.create(email=f"{name.lower()}@shop.example", name=name,
                                            phone="090-1234-000" + str(orders))
            ids[name] = customer.id
            for n in range(orders):
                record(crm, f"{name}-{n}", customer.id, days=n)
        crm.clock.set(START + timedelta(days=10))  # type: ignore[attr-defined]
        return ids

    def test_average_order_value_rounds_down_to_the_minor_unit(self, crm: CRM) -> None:
        """(100 + 100 + 101) / 3 yen is 100 yen, never 100.33 (SQLite once divided
        exactly, so ``== 100`` selected nobody there)."""
        customer = crm.customers.create(name="Mio")
        for n, price in enumerate((100, 100, 101)):
            record(crm, f"avg-{n}", customer.id, days=n,
                   lines=[OrderLine("SKU-1", 1, Decimal(price))])
        crm.clock.set(START + timedelta(days=10))  # type: ignore[attr-defined]
        assert crm.segments.evaluate("orders.average_value == 100") == [customer.id]
        assert crm.segments.count("orders.average_value > 100") == 0

    def test_the_three_forms_select_the_same_customers(self, crm: CRM) -> None:
        ids = self._shop(crm)
        text = "orders.count >= 1 and name != 'Ren'"
        document = {"and": [{"field": "orders.count", "op": ">=", "value": 1},
                            {"field": "name", "op": "!=", "value": "Ren"}]}
        built = (F("orders.count") >= 1) & (F("name") != "Ren")
        assert crm.segments.evaluate(text) == crm.segments.evaluate(document) \
            == crm.segments.evaluate(built) == [ids["Aoi"]]
        assert crm.segments.count(text) == 1
        assert crm.segments.text(document) == "orders.count >= 1 and name != \"Ren\""

    def test_refresh_records_who_entered_and_left(self, crm: CRM, clock: Any,
                                                  recorder: Any) -> None:
        ids = self._shop(crm)
        segment = crm.segments.create("repeaters", rule="orders.count >= 2",
                                      description="two orders or more")
        assert segment.kind is SegmentKind.DYNAMIC and segment.member_count == 0
        first = crm.segments.refresh(segment.id)
        assert first.entered == (ids["Aoi"],) and first.left == ()
        record(crm, "Ren-1", ids["Ren"], days=5)
        clock.advance(timedelta(hours=1))
        crm.orders.cancel("Aoi-2")
        crm.orders.cancel("Aoi-1")
        second = crm.segments.refresh(segment.id)
        assert (second.entered, second.left) == ((ids["Ren"],), (ids["Aoi"],))
        assert second.segment.member_count == 1 and second.segment.refreshed_at is not None
        assert not crm.segments.refresh(segment.id).changed
        assert membership_events(recorder) == [((ids["Aoi"],), ()),
                                               ((ids["Ren"],), (ids["Aoi"],))]
        history = crm.segments.history(segment.id)
        assert [(h.customer_id, h.change) for h in history] == [
            (ids["Aoi"], MembershipChangeKind.ENTERED), (ids["Ren"], MembershipChangeKind.ENTERED),
            (ids["Aoi"], MembershipChangeKind.LEFT)]
        assert [m.customer_id for m in crm.segments.members(segment.id)] == [ids["Ren"]]
        assert crm.segments.is_member(segment.id, ids["Ren"])
        assert [m.segment_id for m in crm.segments.memberships(ids["Ren"])] == [segment.id]
        assert crm.segments.get(segment.id).member_count == 1

    def test_refresh_as_of_an_earlier_time(self, crm: CRM) -> None:
        ids = self._shop(crm)
        segment = crm.segments.create("early", rule="orders.count >= 2")
        delta = crm.segments.refresh(segment.id, as_of=START + timedelta(hours=1))
        assert delta.entered == () and crm.segments.count(
            "orders.count >= 2", as_of=START + timedelta(days=1, hours=1)) == 1
        assert crm.segments.evaluate("orders.count >= 3") == [ids["Aoi"]]

    def test_static_segments_change_only_by_hand(self, crm: CRM, recorder: Any) -> None:
        ids = self._shop(crm)
        vip = crm.segments.create("vip", customer_ids=[ids["Mio"]])
        assert vip.kind is SegmentKind.STATIC and vip.member_count == 1
        added = crm.segments.add(vip.id, [ids["Mio"], ids["Ren"]])
        assert added.entered == (ids["Ren"],) and added.segment.member_count == 2
        removed = crm.segments.remove(vip.id, [ids["Mio"], ids["Aoi"]])
        assert removed.left == (ids["Mio"],)
        with pytest.raises(ConflictError, match="static"):
            crm.segments.refresh(vip.id)
        with pytest.raises(ConflictError, match="static"):
            crm.segments.update(vip.id, rule="age >= 20")
        with pytest.raises(ValidationError, match="no customer 'nobody'"):
            crm.segments.add(vip.id, ["nobody", ids["Aoi"]])
        assert [m.customer_id for m in crm.segments.members(vip.id)] == [ids["Ren"]]
        dynamic = crm.segments.create("dyn", rule="orders.count >= 1")
        with pytest.raises(ConflictError, match="dynamic"):
            crm.segments.add(dynamic.id, [ids["Mio"]])
        assert len(membership_events(recorder)) == 3

    def test_names_are_unique_and_segments_can_go(self, crm: CRM) -> None:
        first = crm.segments.create("a", rule="age >= 20")
        crm.segments.create("b")
        with pytest.raises(ConflictError, match="named 'a'"):
            crm.segments.create("a")
        with pytest.raises(ConflictError, match="named 'b'"):
            crm.segments.update(first.id, name="b")
        renamed = crm.segments.update(first.id, name="adults", rule="age >= 18")
        assert crm.segments.find("adults") == renamed
        assert crm.segments.text(renamed.rule) == "age >= 18"
        assert [s.name for s in crm.segments.all()] == ["adults", "b"]
        crm.segments.delete(first.id)
        with pytest.raises(NotFound):
            crm.segments.get(first.id)
        assert crm.segments.find("adults") is None

    def test_bad_rules_write_nothing(self, crm: CRM) -> None:
        with pytest.raises(RuleError) as caught:
            crm.segments.create("bad", rule="orders.count >= 'many'")
        assert caught.value.position == 0
        with pytest.raises(ValidationError):
            crm.segments.create("bad", rule="age >= 20", customer_ids=["x"])
        assert crm.segments.all() == []

    def test_plugin_fields_work_in_sql_and_python(self, backend: Any, tenant: str,
                                                  clock: Any) -> None:
        crm = CRM(backend, tenant=tenant, clock=clock, plugins=[NameLength()])
        ids = self._shop(crm)
        crm.customers.create(email="x@shop.example")
        assert crm.segments.evaluate("name.length == 3 and name starts with 'A'") \
            == [ids["Aoi"]]
        assert len(crm.segments.evaluate("not name.length is null")) == 3

    def test_exports_respect_consent(self, crm: CRM) -> None:
        ids = self._shop(crm)
        crm.customers.update(ids["Mio"], name="=HYPERLINK(\"x\")")
        everyone = crm.segments.create("all", rule="email is not null")
        crm.segments.refresh(everyone.id)
        crm.consent.grant(ids["Aoi"], "ads")
        crm.consent.grant(ids["Mio"], "email")
        crm.consent.grant(ids["Ren"], "ads")
        crm.consent.withdraw(ids["Ren"], "ads", at=crm.clock.now() + timedelta(seconds=1))
        keys = list(crm.segments.audience(everyone.id))
        assert [k.customer_id for k in keys] == [ids["Aoi"]]
        assert keys[0].email_sha256 == hashlib.sha256(b"aoi@shop.example").hexdigest()
        assert keys[0].phone_sha256 == hashlib.sha256(b"+819012340003").hexdigest()
        out = io.StringIO()
        assert crm.segments.export_csv(everyone.id, out, columns=["email", "name"]) == 1
        assert list(csv.reader(io.StringIO(out.getvalue()))) == [
            ["email", "name"], ["mio@shop.example", "'=HYPERLINK(\"x\")"]]
        assert crm.segments.export_csv(everyone.id, io.StringIO(), consent=None) == 3
        with pytest.raises(ValidationError, match="unknown column 'password'"):
            crm.segments.export_csv(everyone.id, io.StringIO(), columns=["password"])
