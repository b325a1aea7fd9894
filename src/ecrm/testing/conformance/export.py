"""The customer export on every backend: one customer with data in every section, exported,
sent through ``json.dumps`` and back, and each section compared with what the services
say about that customer; nothing of another customer or another tenant leaks in."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any

import attrs
import pytest

from ecrm import customer_export
from ecrm.crm import CRM
from ecrm.customer_export import SECTIONS
from ecrm.domain.automation import JourneyTrigger, Step
from ecrm.domain.export_document import FORMAT, FORMAT_VERSION, jsonable
from ecrm.domain.program import LoyaltyProgram
from ecrm.domain.referrals import ReferralReward
from ecrm.domain.sla import SLATarget, SupportPolicy
from ecrm.domain.tiers import Tier, TierPolicy
from ecrm.domain.timeline import Source
from ecrm.errors import NotFound, ValidationError
from ecrm.testing.conformance.base import START, ContractBase, line, record


@attrs.frozen
class Shop:
    """The seeded tenant: ``alice`` has data in every section, ``zed`` (whose data must
    not show in alice's export) has some too, ``dup`` was merged into alice."""

    crm: CRM
    alice: str
    zed: str
    dup: str
    dup_before: Any


def seed(crm: CRM) -> Shop:
    """Give alice a row in every table the export covers."""
    shop = CRM(crm.backend, tenant=crm.tenant, clock=crm.clock,
               plugins=crm.plugin_manager.get_plugins(), loyalty=LoyaltyProgram(
                   tiers=TierPolicy([Tier("silver", 1000), Tier("gold", 100000)]),
                   referral=ReferralReward(referrer_points=50, referee_points=30)),
               support=SupportPolicy(targets=(SLATarget(first_response=timedelta(hours=1)),)))
    shop.journeys.create("welcome", trigger=JourneyTrigger.signup(),
                         steps=[Step(timedelta(0), "Welcome {{ customer.name }}")])
    account = shop.accounts.create(name="Acme", external_id="ACME")
    alice = shop.customers.create(email="alice@example.com", name="Alice", phone="090-1111-2222",
                                  external_id="A-1", birth_date=date(1990, 5, 17),
                                  attributes={"rank": "vip", "score": 3})
    shop.customers.update(alice.id, gender="female", acquisition_channel="instagram")
    shop.customers.update(alice.id, account_id=account.id, kana_name="アリス",
                          address={"postal_code": "100-0001", "prefecture": "東京都",
                                   "city": "千代田区", "street": "1-1",
                                   "building": "Ecrm Bldg 3F"})
    zed = shop.customers.create(email="zed@example.com", name="Zed", phone="090-9999-0000")
    carol = shop.customers.create(email="carol@example.com", name="Carol")
    dup = shop.customers.create(email="alice.old@example.com", name="Alice (old)")
    _referrals(shop, alice.id, carol.id)
    _contact(shop, alice.id, zed.id)
    _purchases(shop, alice.id, zed.id, dup.id)
    _support(shop, alice.id, zed.id)
    _marketing(shop, alice.id, zed.id)
    dup_before = shop.customers.get(dup.id)
    shop.customers.merge(alice.id, dup.id)
    return Shop(shop, alice.id, zed.id, dup.id, dup_before)


def _referrals(shop: CRM, alice: str, carol: str) -> None:
    shop.referrals.refer(alice, code=shop.referrals.code_for(carol))
    bob = shop.customers.create(email="bob@example.com", name="Bob").id
    shop.referrals.refer(bob, code=shop.referrals.code_for(alice))


def _contact(shop: CRM, alice: str, zed: str) -> None:
    shop.consent.grant(alice, "email", source="signup form", at=START - timedelta(hours=2))
    shop.consent.withdraw(alice, "sms", at=START - timedelta(hours=1))
    shop.consent.grant(zed, "email", at=START)
    shop.suppressions.add("sms", "09011112222", reason="complaint")
    shop.suppressions.add("email", "zed@example.com", reason="bounce")
    shop.suppressions.add("email", "someone@example.com")
    for customer_id in (alice, zed):
        shop.interactions.record(customer_id, channel="web", kind="product_view", sku="SKU-1",
                                 occurred_at=START, payload={"page": "/p/1"})
    shop.interactions.record(alice, channel="app", kind="cart_add", sku="SKU-2",
                             occurred_at=START + timedelta(minutes=5))


def _purchases(shop: CRM, alice: str, zed: str, dup: str) -> None:
    record(shop, "A-1", alice, lines=[line("SKU-1", 2, "1500", "books"), line("SKU-2")])
    record(shop, "A-2", alice, days=2, lines=[line("SKU-3", 1, "12.50")], currency="USD")
    shop.orders.refund("A-1", refund_id="RF-1", amount=500, reason="damaged")
    record(shop, "D-1", dup, days=1)
    record(shop, "Z-1", zed)
    shop.loyalty.earn(alice, 200, key="earn-1", reason="welcome",
                      expires_at=START + timedelta(days=365))
    shop.loyalty.redeem(alice, 50, key="redeem-1")
    shop.loyalty.earn(zed, 70, key="earn-z")
    shop.tiers.set_floor(alice, "gold")
    shop.coupons.create(code="SPRING", amount=300, issued_only=True, description="spring")
    shop.coupons.issue("SPRING", [alice, zed])
    shop.coupons.redeem("SPRING", order_id="A-1", order_total=3500, customer_id=alice)
    shop.coupons.redeem("SPRING", order_id="Z-1", order_total=1000, customer_id=zed)


def _support(shop: CRM, alice: str, zed: str) -> None:
    case = shop.cases.open(alice, subject="Broken", channel="email", body="It broke",
                           priority="urgent", occurred_at=START, order_ids=["A-1"])
    shop.cases.open(zed, subject="Zed's question", channel="email", body="zed here",
                    occurred_at=START)
    shop.clock.advance(timedelta(hours=3))
    shop.cases.check_sla()
    shop.cases.add_message(case.id, body="Sorry, we send a new one", kind="reply")
    shop.cases.change_status(case.id, "resolved")
    [survey] = shop.cases.surveys(case.id)
    shop.cases.answer_survey(survey.id, 4, comment="fast")


def _marketing(shop: CRM, alice: str, zed: str) -> None:
    segment = shop.segments.create("fans", customer_ids=[alice, zed])
    campaign = shop.campaigns.create("spring sale", segment=segment.id, body="Sale!")
    shop.campaigns.launch(campaign.id)
    shop.journeys.run_due(shop.clock.now())


def exported(shop: Shop, customer_id: str | None = None) -> dict[str, Any]:
    """alice's export (or ``customer_id``'s) after a trip through JSON text."""
    document = shop.crm.privacy.export(customer_id or shop.alice)
    text = json.dumps(document)
    assert json.loads(text) == document  # plain JSON values only
    return json.loads(text)


class ExportContract(ContractBase):
    """What ``crm.privacy.export`` gives on every backend."""

    @pytest.fixture
    def seeded(self, crm: CRM) -> Shop:
        return seed(crm)

    def test_export_the_document_names_its_format_customer_and_time(self, seeded: Shop) -> None:
        doc = exported(seeded)
        assert (doc["format"], doc["format_version"]) == (FORMAT, FORMAT_VERSION)
        assert datetime.fromisoformat(doc["exported_at"]) == seeded.crm.clock.now()
        assert (doc["customer_id"], doc["requested_id"]) == (seeded.alice, seeded.alice)
        assert doc["tenant"] == seeded.crm.tenant
        assert [name for name in doc if name in {s.name for s in SECTIONS}] == [
            s.name for s in SECTIONS]

    def test_export_every_section_holds_alices_data(self, seeded: Shop) -> None:
        doc = exported(seeded)
        for section in SECTIONS:
            if section.name != "erasures":  # alice was never erased
                assert _filled(doc[section.name]), section.name

    def test_export_after_erasure_holds_the_record_and_no_personal_data(self, seeded: Shop
                                                                        ) -> None:
        crm = seeded.crm
        email = crm.customers.get(seeded.alice).email
        before = exported(seeded)
        redaction = crm.privacy.erase(seeded.alice)
        doc = exported(seeded)
        [erasure] = doc["erasures"]
        assert datetime.fromisoformat(erasure.pop("erased_at")) == redaction.erased_at
        assert erasure == {"id": redaction.id, "customer_id": seeded.alice,
                           "removed": dict(redaction.removed)}
        assert doc["profile"]["email"] is None
        assert email is not None and email not in json.dumps(doc, ensure_ascii=False)
        books = [[(o["order_id"], o["total"], o["refunded"]) for o in d["orders"]]
                 for d in (before, doc)]
        assert books[0] == books[1] and books[0]

    def test_export_profile_and_merges(self, seeded: Shop) -> None:
        crm, doc = seeded.crm, exported(seeded)
        alice = crm.customers.get(seeded.alice)
        profile = dict(doc["profile"])
        assert profile.pop("account") == jsonable(crm.accounts.get(alice.account_id))
        assert profile == jsonable(alice)
        assert profile["address"]["prefecture"] == "東京都"
        assert profile["birth_date"] == "1990-05-17"
        [merge] = crm.customers.merges(seeded.alice)
        assert doc["merged_customers"] == [{
            "duplicate_id": seeded.dup, "survivor_id": seeded.alice,
            "merged_at": merge.merged_at.isoformat(), "snapshot": jsonable(seeded.dup_before)}]

    def test_export_consents_and_suppressions(self, seeded: Shop) -> None:
        crm, doc = seeded.crm, exported(seeded)
        assert doc["consents"] == {"current": jsonable(crm.consent.for_customer(seeded.alice)),
                                   "history": jsonable(crm.consent.history(seeded.alice))}
        assert {(c["channel"], c["granted"]) for c in doc["consents"]["current"]} >= {
            ("email", True), ("sms", False)}
        assert doc["suppressions"] == [jsonable(crm.suppressions.get("sms", "09011112222"))]

    def test_export_orders_with_lines_and_refunds(self, seeded: Shop) -> None:
        crm, doc = seeded.crm, exported(seeded)
        orders = crm.orders.for_customer(seeded.alice)
        assert [o["order_id"] for o in doc["orders"]] == [o.order_id for o in orders] == [
            "A-1", "D-1", "A-2"]
        for got, order in zip(doc["orders"], orders, strict=True):
            refunds = got.pop("refunds")
            assert got == jsonable(order)
            assert refunds == jsonable(crm.orders.refunds(order.order_id))
        first = doc["orders"][0]
        assert (first["total"], first["currency"], first["refunded"]) == ("4000", "JPY", "500")
        assert first["lines"][0] == {"sku": "SKU-1", "quantity": 2, "unit_price": "1500",
                                     "category": "books"}
        assert (doc["orders"][2]["total"], doc["orders"][2]["currency"]) == ("12.50", "USD")

    def test_export_interactions_and_cases(self, seeded: Shop) -> None:
        crm, doc = seeded.crm, exported(seeded)
        events = crm.interactions.timeline(seeded.alice, limit=500).events
        mine = [e.item for e in reversed(events) if e.source == Source.INTERACTION]
        assert sorted(doc["interactions"], key=lambda i: i["id"]) == sorted(
            jsonable(mine), key=lambda i: i["id"])
        [case] = crm.cases.for_customer(seeded.alice)
        [got] = doc["cases"]
        assert got == {**jsonable(case),
                       "status_changes": jsonable(crm.cases.history(case.id)),
                       "messages": jsonable(crm.cases.messages(case.id)),
                       "sla_breaches": jsonable(crm.cases.breaches(case.id)),
                       "surveys": jsonable(crm.cases.surveys(case.id))}
        assert got["order_ids"] == ["A-1"] and len(got["messages"]) == 2
        assert got["sla_breaches"] and got["surveys"][0]["score"] == 4

    def test_export_loyalty(self, seeded: Shop) -> None:
        crm, doc = seeded.crm, exported(seeded)
        loyalty = doc["loyalty"]
        assert loyalty["transactions"] == jsonable(crm.loyalty.history(seeded.alice))
        assert sum(t["points"] for t in loyalty["transactions"]) == crm.loyalty.balance(
            seeded.alice).total
        held = jsonable(crm.loyalty.lots(seeded.alice))
        assert held and all(lot in loyalty["lots"] for lot in held)
        assert loyalty["tier"] == jsonable(crm.tiers.status(seeded.alice))
        assert loyalty["tier_changes"] == jsonable(crm.tiers.history(seeded.alice))
        assert loyalty["tier"]["floor"] == "gold"

    def test_export_coupons_and_referrals(self, seeded: Shop) -> None:
        crm, doc = seeded.crm, exported(seeded)
        assert [i["coupon"]["code"] for i in doc["coupons"]["issued"]] == [
            c.code for c in crm.coupons.issued_to(seeded.alice)] == ["SPRING"]
        assert doc["coupons"]["issued"][0]["coupon"]["amount"] == "300"
        assert doc["coupons"]["redeemed"] == jsonable(
            [r for r in crm.coupons.redemptions("SPRING") if r.customer_id == seeded.alice])
        referrals = doc["referrals"]
        assert referrals["codes"] == [crm.referrals.code_for(seeded.alice)]
        assert referrals["as_referee"] == jsonable([crm.referrals.of(seeded.alice)])
        assert referrals["as_referrer"] == jsonable(crm.referrals.made_by(seeded.alice))

    def test_export_segments_campaigns_messages_and_journeys(self, seeded: Shop) -> None:
        crm, doc = seeded.crm, exported(seeded)
        memberships = crm.segments.memberships(seeded.alice)
        assert [{k: v for k, v in m.items() if k != "segment_name"}
                for m in doc["segments"]["memberships"]] == jsonable(memberships)
        assert doc["segments"]["memberships"][0]["segment_name"] == "fans"
        segment_id = memberships[0].segment_id
        assert doc["segments"]["changes"] == jsonable(
            crm.segments.history(segment_id, customer_id=seeded.alice))
        campaign = crm.campaigns.find("spring sale")
        assert campaign is not None
        members = [m for m in crm.campaigns.members(campaign.id) if m.customer_id == seeded.alice]
        assert doc["campaigns"]["memberships"] == [
            {**jsonable(m), "campaign_name": "spring sale"} for m in members]
        assert doc["messages"] == jsonable(crm.messages.for_customer(seeded.alice))
        assert {m["campaign_id"] for m in doc["messages"]} >= {campaign.id, None}
        assert doc["journeys"]["enrollments"] == [
            {**jsonable(e), "journey_name": "welcome"}
            for e in crm.journeys.for_customer(seeded.alice)]

    def test_export_reads_long_histories_page_by_page(self, seeded: Shop,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
        whole = exported(seeded)
        monkeypatch.setattr(customer_export, "PAGE", 1)
        paged = exported(seeded)
        assert {k: v for k, v in paged.items() if k != "exported_at"} == {
            k: v for k, v in whole.items() if k != "exported_at"}
        assert len(paged["interactions"]) > 1 and len(paged["messages"]) > 1

    def test_export_nothing_of_another_customer(self, seeded: Shop) -> None:
        text = json.dumps(exported(seeded))
        for secret in (seeded.zed, "zed@example.com", "Z-1", "Zed's question", "zed here",
                       "someone@example.com"):
            assert secret not in text

    def test_export_a_merged_away_id_answers_with_the_survivors_document(
            self, seeded: Shop) -> None:
        doc = exported(seeded, seeded.dup)
        assert (doc["customer_id"], doc["requested_id"]) == (seeded.alice, seeded.dup)
        assert {k: v for k, v in doc.items() if k != "requested_id"} == {
            k: v for k, v in exported(seeded).items() if k != "requested_id"}
        assert doc["merged_customers"][0]["snapshot"]["email"] == "alice.old@example.com"

    def test_export_a_chain_of_merges_shows_every_duplicate(self, crm: CRM) -> None:
        first, second, third = (crm.customers.create(name=n).id for n in ("a", "b", "c"))
        crm.customers.merge(second, third)
        crm.clock.advance(timedelta(minutes=1))
        crm.customers.merge(first, second)
        doc = crm.privacy.export(third)
        assert doc["customer_id"] == first
        assert [m["duplicate_id"] for m in doc["merged_customers"]] == [third, second]

    def test_export_unknown_and_bad_ids(self, crm: CRM) -> None:
        with pytest.raises(NotFound):
            crm.privacy.export("no-such-customer")
        with pytest.raises(ValidationError) as raised:
            crm.privacy.export(42)  # type: ignore[arg-type]
        assert raised.value.field == "customer_id"

    def test_export_nothing_of_another_tenant(self, seeded: Shop) -> None:
        crm = seeded.crm
        other = CRM(crm.backend, tenant=crm.tenant + "-other", clock=crm.clock)
        twin = other.customers.create(email="alice@example.com", name="Other Alice")
        record(other, "A-1X", twin.id)
        other.suppressions.add("email", "alice@example.com")
        text = json.dumps(exported(seeded))
        assert twin.id not in text and "A-1X" not in text and "Other Alice" not in text
        with pytest.raises(NotFound):
            other.privacy.export(seeded.alice)
        assert other.privacy.export(twin.id)["orders"][0]["order_id"] == "A-1X"


def _filled(value: Any) -> bool:
    """True when a section has entries: a list that is not empty, or a dict whose every
    value is set (lists not empty)."""
    if isinstance(value, dict):
        return all(part is not None and part != [] for part in value.values())
    return bool(value)
