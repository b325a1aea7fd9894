"""The audit trail on every backend: an entry for every listed change, in the change's
unit of work, with the host's actor and without personal data; reads, pages and merges."""

from __future__ import annotations

import asyncio
import json
import threading
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecrm import audit
from ecrm.backends.base import Backend
from ecrm.clock import ManualClock
from ecrm.crm import CRM
from ecrm.domain.audit import AuditEntry
from ecrm.errors import ConflictError, ValidationError
from ecrm.hookspecs import hookimpl
from ecrm.testing.conformance.base import ContractBase, record
from ecrm.testing.conformance.consent_purposes import signing
from ecrm.testing.conformance.tiers import tiered
from ecrm.testing.conformance.units import Boom


def trail(crm: CRM, **filters: Any) -> list[AuditEntry]:
    """Every entry passing ``filters``, oldest first, read page by page."""
    return list(crm.audit.iterate(batch_size=3, **filters))


def actions(crm: CRM, **filters: Any) -> list[str]:
    """The actions of :func:`trail`."""
    return [e.action for e in trail(crm, **filters)]


def as_text(entries: list[AuditEntry]) -> str:
    """Everything the entries hold, as one string (to look for data that must not be
    there)."""
    return json.dumps([[e.id, e.at.isoformat(), e.actor, e.action, e.subject_kind,
                        e.subject_id, e.customer_id, e.details] for e in entries])


class Veto:
    """A plugin that refuses every customer change."""

    @hookimpl
    def ecrm_validate_customer(self, crm: CRM, customer: Any, changes: Any) -> None:
        raise ValidationError("name", "vetoed")


class AuditContract(ContractBase):
    """What ``crm.audit`` and the entries the services write look like on every backend."""

    def test_customer_changes_are_recorded_with_the_actor(self, crm: CRM) -> None:
        with crm.acting_as("staff:7"):
            alice = crm.customers.create(email="alice@example.com", name="Alice")
            crm.customers.update(alice.id, name="Alice B", phone="+81 3 1234 5678")
            crm.customers.update(alice.id, name="Alice B")  # no change: no entry
        bob = crm.customers.create(email="bob@example.com", kana_name="ボブ")
        with crm.acting_as("staff:8"):
            crm.customers.merge(alice.id, bob.id)
        entries = trail(crm)
        assert [(e.action, e.actor, e.customer_id, dict(e.details)) for e in entries] == [
            ("customer.created", "staff:7", alice.id, {"fields": ["email", "name"]}),
            ("customer.updated", "staff:7", alice.id, {"fields": ["name", "phone"]}),
            ("customer.created", None, bob.id, {"fields": ["email", "kana_name"]}),
            ("customer.merged", "staff:8", alice.id, {
                "survivor_id": alice.id, "duplicate_id": bob.id, "filled": ["kana_name"]}),
        ]
        assert all(e.at == crm.clock.now() for e in entries)
        assert {(e.subject_kind, e.subject_id) for e in entries} == {
            ("customer", alice.id), ("customer", bob.id)}

    def test_entries_hold_no_personal_data(self, crm: CRM) -> None:
        crm = signing(crm)
        canaries = {"email": "canary-mail-1f9e@example.com", "name": "CanaryName1f9e",
                    "kana_name": "カナリア一九", "phone": "+81 90 1199 2288",
                    "external_id": "canary-ext-1f9e", "attributes": {"note": "canary-attr"},
                    "address": {"country": "JP", "postal_code": "100-0001",
                                "prefecture": "東京都", "city": "canary-city",
                                "street": "canary-street", "building": "canary-bldg"}}
        with crm.acting_as("staff:1"):
            customer = crm.customers.create(email="plain@example.com")
            crm.customers.update(customer.id, **canaries)
            crm.consent.grant(customer.id, "email", source="canary-source")
            crm.loyalty.adjust(customer.id, 5, key="k", reason="canary-reason")
            case = crm.cases.open(customer.id, subject="canary-subject", channel="email",
                                  body="canary-body", author="canary-author")
            crm.cases.update(case.id, assignee="canary-assignee", tags=["canary_tag"],
                             category="canary-category")
        text = as_text(trail(crm))
        assert "canary" not in text.lower() and "カナリア" not in text
        assert "1199" not in text and "100-0001" not in text and "東京都" not in text
        updated = trail(crm, action="customer.updated")
        assert updated[0].details["fields"] == sorted(canaries)

    # Each backend's test class runs this method: that is the point, not a flaw.
    @settings(max_examples=20, deadline=None,
              suppress_health_check=[HealthCheck.differing_executors, HealthCheck.too_slow,
                                     HealthCheck.function_scoped_fixture])
    @given(values=st.lists(st.fixed_dictionaries({}, optional={
        "name": st.text(st.characters(codec="utf-8", exclude_characters="\x00"),
                        min_size=1, max_size=12),
        "gender": st.sampled_from(["female", "male", None]),
        "attributes": st.dictionaries(st.sampled_from(["a", "b"]), st.integers(0, 3))}),
        max_size=5))
    def test_an_update_entry_names_exactly_the_fields_that_changed(
            self, crm: CRM, values: list[dict[str, Any]]) -> None:
        customer = crm.customers.create()
        before = len(trail(crm))
        expected = []
        for changes in values:
            old = crm.customers.get(customer.id)
            new = crm.customers.update(customer.id, **changes)
            changed = sorted(n for n in changes if getattr(old, n) != getattr(new, n))
            if changed:
                expected.append(changed)
        got = [e.details["fields"] for e in trail(crm)[before:]]
        assert got == expected

    def test_a_failed_change_leaves_no_entry(self, crm: CRM, backend: Backend,
                                             tenant: str, clock: ManualClock) -> None:
        alice = crm.customers.create(email="alice@example.com")
        bob = crm.customers.create(email="bob@example.com")
        start = trail(crm)
        with pytest.raises(ConflictError):
            crm.customers.update(bob.id, email="alice@example.com")
        vetoing = CRM(backend, tenant=tenant, clock=clock, plugins=[Veto()])
        with pytest.raises(ValidationError):
            vetoing.customers.create(name="x")
        with pytest.raises(ValidationError):
            vetoing.customers.update(alice.id, name="x")
        with pytest.raises(ConflictError):
            crm.cases.change_status(crm.cases.open(alice.id, subject="s", channel="email").id,
                                    "closed")
        with pytest.raises(ValidationError):
            crm.loyalty.adjust(alice.id, -5, key="k", reason="more than she has")

        def work(uow: Any) -> None:
            audit.record(crm, uow, "customer.erased", "customer", alice.id,
                         customer_id=alice.id)
            raise Boom

        with pytest.raises(Boom):
            crm.transact(work)
        assert actions(crm) == [e.action for e in start] + ["case.opened"]

    def test_a_replay_writes_no_entry(self, crm: CRM) -> None:
        alice = crm.customers.create(email="alice@example.com")
        crm.loyalty.adjust(alice.id, 10, key="adj", reason="goodwill")
        crm.loyalty.adjust(alice.id, 10, key="adj", reason="goodwill")
        when = crm.clock.now() - timedelta(hours=1)
        crm.consent.grant(alice.id, "email", at=when)
        crm.consent.grant(alice.id, "email", at=when)
        crm.cases.open(alice.id, subject="s", channel="email", body="b", external_id="m1")
        crm.cases.open(alice.id, subject="s", channel="email", body="b", external_id="m1")
        rows = [{"external_id": "E1"}, {"external_id": "E2"}]
        assert crm.customers.import_many(rows).inserted == 2
        assert crm.customers.import_many(rows).inserted == 0
        assert actions(crm) == ["customer.created", "loyalty.adjusted", "consent.granted",
                                "case.opened", "customer.imported"]
        imported = trail(crm, action="customer.imported")[0]
        assert imported.customer_id is None and imported.subject_kind == "customer_import"
        assert {k: v for k, v in imported.details.items() if not k.endswith("_id")} == {
            "inserted": 2, "skipped": 0, "rejected": 0}

    def test_consent_decisions_are_recorded(self, crm: CRM) -> None:
        crm = signing(crm)
        alice = crm.customers.create(email="alice@example.com")
        with crm.acting_as("api:shop-front"):
            crm.consent.grant(alice.id, "email")
            crm.consent.withdraw(alice.id, "sms", purpose="transactional")
            crm.consent.grant(alice.id, "email", at=crm.clock.now() - timedelta(days=1))
        token = crm.consent.confirmation_token(alice.id, "line")
        crm.clock.advance(minutes=1)  # type: ignore[attr-defined]
        crm.consent.confirm(token)
        entries = trail(crm, customer_id=alice.id)[1:]
        assert [(e.action, e.actor, dict(e.details)) for e in entries] == [
            ("consent.granted", "api:shop-front", {"channel": "email", "purpose": "marketing",
                                                   "granted": True, "effective": True,
                                                   "level": "single"}),
            ("consent.withdrawn", "api:shop-front", {
                "channel": "sms", "purpose": "transactional", "granted": False,
                "effective": True, "level": None}),
            ("consent.granted", "api:shop-front", {"channel": "email", "purpose": "marketing",
                                                   "granted": True, "effective": False,
                                                   "level": "single"}),
            ("consent.granted", None, {"channel": "line", "purpose": "marketing",
                                       "granted": True, "effective": True,
                                       "level": "confirmed"}),
        ]
        history = {c.id for c in crm.consent.history(alice.id)}
        assert {e.subject_id for e in entries} == history
        assert {e.subject_kind for e in entries} == {"consent"}

    def test_point_adjustments_and_reversals_are_recorded(self, crm: CRM) -> None:
        alice = crm.customers.create(email="alice@example.com")
        earned = crm.loyalty.earn(alice.id, 100, key="e")
        spent = crm.loyalty.redeem(alice.id, 30, key="r")
        with crm.acting_as("staff:3"):
            added = crm.loyalty.adjust(alice.id, 20, key="a1", reason="goodwill")
            taken = crm.loyalty.adjust(alice.id, -5, key="a2", reason="typo")
            undone = crm.loyalty.reverse(spent.id, key="v", reason="order cancelled")
        entries = trail(crm, subject=None, action=["loyalty.adjusted", "loyalty.reversed"])
        assert [(e.action, e.actor, e.subject_kind, e.subject_id, e.customer_id,
                 dict(e.details)) for e in entries] == [
            ("loyalty.adjusted", "staff:3", "points_transaction", added.id, alice.id,
             {"points": 20}),
            ("loyalty.adjusted", "staff:3", "points_transaction", taken.id, alice.id,
             {"points": -5}),
            ("loyalty.reversed", "staff:3", "points_transaction", undone.id, alice.id,
             {"reverses_id": spent.id, "reversed_kind": "redeem", "points": 30}),
        ]
        assert earned.id not in as_text(trail(crm))  # earning and redeeming are the ledger's

    def test_tier_floors_set_by_hand_are_recorded(self, crm: CRM) -> None:
        shop = tiered(crm)
        vip = shop.customers.create(name="vip")
        with shop.acting_as("staff:4"):
            shop.tiers.set_floor(vip.id, "gold")
            shop.tiers.set_floor(vip.id, "gold")  # the same floor: no entry
            shop.tiers.set_floor(vip.id, None)
        entries = trail(shop, action="loyalty.tier_floor_set")
        assert [(e.actor, e.subject_kind, e.subject_id, e.customer_id, dict(e.details))
                for e in entries] == [
            ("staff:4", "customer", vip.id, vip.id, {"floor": {"from": None, "to": "gold"},
                                                     "tier": {"from": None, "to": "gold"}}),
            ("staff:4", "customer", vip.id, vip.id, {"floor": {"from": "gold", "to": None},
                                                     "tier": {"from": "gold", "to": "gold"}}),
        ]

    def test_case_changes_are_recorded(self, crm: CRM) -> None:
        alice = crm.customers.create(email="alice@example.com")
        record(crm, "O-1", alice.id)
        with crm.acting_as("agent:5"):
            case = crm.cases.open(alice.id, subject="Late parcel", channel="email",
                                  type="complaint")
            crm.cases.update(case.id, priority="high", assignee="agent-9", team="logistics")
            crm.cases.update(case.id, priority="high")  # no change: no entry
            crm.cases.change_status(case.id, "pending", actor="agent-9")
            crm.cases.link_order(case.id, "O-1")
            crm.cases.link_order(case.id, "O-1")  # linked already: no entry
        crm.cases.add_message(case.id, body="any news?")  # the customer writes: reopens
        entries = trail(crm, subject=("case", case.id))
        assert [(e.action, e.actor, dict(e.details)) for e in entries] == [
            ("case.opened", "agent:5", {"type": "complaint", "priority": "normal",
                                        "status": "new", "channel": "email"}),
            ("case.updated", "agent:5", {"fields": ["assignee", "priority", "team"],
                                         "priority": {"from": "normal", "to": "high"}}),
            ("case.status_changed", "agent:5", {"from": "new", "to": "pending",
                                                "via": "change_status"}),
            ("case.order_linked", "agent:5", {"order_id": "O-1"}),
            ("case.status_changed", None, {"from": "pending", "to": "open", "via": "message"}),
        ]
        assert {e.customer_id for e in entries} == {alice.id}

    def test_entries_are_read_with_filters_and_pages(self, crm: CRM) -> None:
        alice = crm.customers.create(email="alice@example.com")
        crm.clock.advance(hours=1)  # type: ignore[attr-defined]
        middle = crm.clock.now()
        with crm.acting_as("staff:1"):
            bob = crm.customers.create(email="bob@example.com")
            crm.customers.update(alice.id, name="A")
        crm.clock.advance(hours=1)  # type: ignore[attr-defined]
        crm.customers.update(bob.id, name="B")
        everything = trail(crm)
        assert [(e.action, e.customer_id) for e in everything] == [
            ("customer.created", alice.id), ("customer.created", bob.id),
            ("customer.updated", alice.id), ("customer.updated", bob.id)]
        assert [(e.at, e.id) for e in everything] == sorted((e.at, e.id) for e in everything)
        assert trail(crm, customer_id=alice.id) == [everything[0], everything[2]]
        assert trail(crm, subject=("customer", bob.id)) == [everything[1], everything[3]]
        assert trail(crm, action="customer.updated") == everything[2:]
        assert trail(crm, actor="staff:1") == everything[1:3]
        assert trail(crm, since=middle) == everything[1:]
        assert trail(crm, until=middle) == everything[:1]
        assert trail(crm, since=middle, until=middle + timedelta(hours=1)) == everything[1:3]
        first = crm.audit.entries(limit=3)
        assert first.items == everything[:3] and first.next_after is not None
        rest = crm.audit.entries(after=first.next_after, limit=3)
        assert rest.items == everything[3:] and rest.next_after is None
        assert crm.audit.entries(customer_id="nobody").items == []

    @pytest.mark.parametrize(("filters", "field"), [
        ({"limit": 0}, "limit"), ({"limit": 1001}, "limit"), ({"limit": True}, "limit"),
        ({"after": "not a cursor"}, "after"), ({"after": 5}, "after"),
        ({"subject": "case"}, "subject"), ({"subject": ("Case!", "x")}, "subject"),
        ({"action": "updated"}, "action"), ({"action": "customer.updated"}, None),
        ({"actor": " "}, "actor"), ({"customer_id": ""}, "customer_id"),
        ({"since": "yesterday"}, "since"),
    ])
    def test_bad_filters_are_named(self, crm: CRM, filters: dict[str, Any],
                                   field: str | None) -> None:
        if field is None:
            assert crm.audit.entries(**filters).items == []
            return
        with pytest.raises(ValidationError) as caught:
            crm.audit.entries(**filters)
        assert caught.value.field == field

    def test_for_customer_follows_merges_without_rewriting_the_log(self, crm: CRM) -> None:
        alice = crm.customers.create(email="alice@example.com")
        bob = crm.customers.create(email="bob@example.com")
        carol = crm.customers.create(email="carol@example.com")
        crm.customers.update(bob.id, name="Bob")
        crm.customers.merge(bob.id, carol.id)
        crm.customers.merge(alice.id, bob.id)
        everything = trail(crm)
        assert [e.customer_id for e in everything] == [
            alice.id, bob.id, carol.id, bob.id, bob.id, alice.id]
        family = crm.audit.for_customer(alice.id)
        assert family.items == everything and family.next_after is None
        assert crm.audit.for_customer(carol.id).items == everything  # merged away
        assert crm.audit.for_customer(alice.id, action="customer.merged").items == [
            everything[4], everything[5]]
        assert [e.details for e in trail(crm, customer_id=carol.id)] == [
            {"fields": ["email"]}]
        assert crm.audit.for_customer("gone-for-good").items == []

    def test_the_actor_is_per_crm_per_thread_and_per_task(self, crm: CRM,
                                                          backend: Backend) -> None:
        other = CRM(backend, tenant=crm.tenant, clock=crm.clock)
        assert crm.actor is None
        seen: dict[str, str | None] = {}
        with crm.acting_as("  staff:1 "):
            assert crm.actor == "staff:1" and other.actor is None
            with crm.acting_as("staff:2"):
                assert crm.actor == "staff:2"
            assert crm.actor == "staff:1"
            worker = threading.Thread(target=lambda: seen.update(thread=crm.actor))
            worker.start()
            worker.join()
        assert crm.actor is None and seen == {"thread": None}

        async def act(name: str) -> str | None:
            with crm.acting_as(name):
                await asyncio.sleep(0)
                await asyncio.sleep(0)
                return crm.actor

        async def both() -> list[str | None]:
            return list(await asyncio.gather(act("task:a"), act("task:b")))

        assert asyncio.run(both()) == ["task:a", "task:b"]
        assert crm.actor is None

    @pytest.mark.parametrize("bad", ["", "   ", "x" * 129, None, 42])
    def test_a_bad_actor_is_refused(self, crm: CRM, bad: Any) -> None:
        with pytest.raises(ValidationError) as caught:
            crm.acting_as(bad)
        assert caught.value.field == "actor" and crm.actor is None
        with crm.acting_as("x" * 128):
            assert crm.actor == "x" * 128

    def test_services_write_their_own_entries_with_record(self, crm: CRM) -> None:
        alice = crm.customers.create(email="alice@example.com")

        def erase(uow: Any) -> AuditEntry:
            return audit.record(crm, uow, "customer.erased", "customer", alice.id,
                                customer_id=alice.id, details={"tables": 3})

        with crm.acting_as("dpo:1"):
            written = crm.transact(erase)
        assert trail(crm, action="customer.erased") == [written]
        assert (written.actor, written.details) == ("dpo:1", {"tables": 3})
        for bad, field in [("Erased", "action"), ("customer", "action"),
                           ("customer.erased", "subject_kind")]:
            with pytest.raises(ValidationError) as caught:
                crm.transact(lambda uow, a=bad, f=field: audit.record(
                    crm, uow, a if f == "action" else "customer.erased",
                    "Customer" if f == "subject_kind" else "customer", alice.id))
            assert caught.value.field == field
        with pytest.raises(ValidationError) as caught:
            crm.transact(lambda uow: audit.record(crm, uow, "customer.erased", "customer",
                                                  alice.id, details={"x": object()}))
        assert caught.value.field == "details.x"

    def test_entries_stay_in_their_tenant_and_cannot_be_changed(self, crm: CRM,
                                                                backend: Backend) -> None:
        crm.customers.create(email="alice@example.com")
        other = CRM(backend, tenant=f"{crm.tenant}-other", clock=crm.clock)
        assert other.audit.entries().items == []
        entry = trail(crm)[0]
        entry.details["fields"].append("tampered")  # type: ignore[index,union-attr]
        assert trail(crm)[0].details == {"fields": ["email"]}
        assert not any(hasattr(crm.audit, name) for name in (
            "add", "update", "delete", "remove", "record"))
