"""Campaigns on every backend: audiences, consent and suppression at queue time, variants
and the hold-out, coupons per recipient, templates, schedules, retries and merges."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from ecrm import campaign_queue
from ecrm.crm import CRM
from ecrm.domain.campaigns import CONTROL, CampaignStatus, CouponOffer, MemberStatus, Variant
from ecrm.domain.campaigns import assign as assign_variant
from ecrm.domain.ids import new_id
from ecrm.domain.orders import OrderLine
from ecrm.domain.outbox import new_message
from ecrm.errors import ConflictError, DuplicateKey, NotFound, ValidationError
from ecrm.hookspecs import hookimpl
from ecrm.testing.conformance.base import ContractBase

SECRET = "campaign tests' secret, long enough"


def shop_with_audience(crm: CRM, size: int, *, consenting: int | None = None
                       ) -> tuple[str, list[str]]:
    """A static segment of ``size`` customers with e-mail addresses, the first
    ``consenting`` (all by default) opted in to marketing e-mail."""
    ids = []
    for n in range(size):
        customer = crm.customers.create(email=f"c{n:04d}@example.jp", name=f"客{n}",
                                        attributes={"rank": n})
        if consenting is None or n < consenting:
            crm.consent.grant(customer.id, "email")
        ids.append(customer.id)
    segment = crm.segments.create(f"audience-{size}", customer_ids=ids)
    return segment.id, ids


class CampaignContract(ContractBase):
    """What ``crm.campaigns`` does on every backend."""

    def test_a_campaign_queues_a_rendered_message_per_consenting_member(
            self, crm: CRM) -> None:
        segment, ids = shop_with_audience(crm, 6, consenting=4)
        crm.suppressions.add("email", "C0003@example.jp", reason="bounce")
        nomail = crm.customers.create(name="no mail")
        crm.segments.add(segment, [nomail.id])
        campaign = crm.campaigns.create(
            "spring sale", segment=segment, subject="{{ customer.name }}様へ",
            body="こんにちは {{ customer.name }}さん。春のセールです。")
        assert campaign.status == CampaignStatus.DRAFT
        progress = crm.campaigns.launch(campaign.id)
        assert progress.campaign.status == CampaignStatus.SENT
        assert (progress.queued, progress.skipped, progress.held_out) == (3, 4, 0)
        messages = crm.messages.list(campaign_id=campaign.id)
        assert sorted(m.recipient for m in messages) == [
            "c0000@example.jp", "c0001@example.jp", "c0002@example.jp"]
        first = next(m for m in messages if m.recipient == "c0000@example.jp")
        assert (first.subject, first.body, first.variant, first.purpose) == (
            "客0様へ", "こんにちは 客0さん。春のセールです。", "default", "marketing")
        reasons = {m.customer_id: m.reason for m in crm.campaigns.members(campaign.id)
                   if m.status == MemberStatus.SKIPPED}
        assert reasons == {ids[3]: "email address suppressed",
                           ids[4]: "no marketing consent on email",
                           ids[5]: "no marketing consent on email",
                           nomail.id: "no email address"}

    def test_launching_again_queues_nobody_twice(self, crm: CRM, monkeypatch) -> None:
        monkeypatch.setattr(campaign_queue, "CHUNK", 3)
        segment, _ = shop_with_audience(crm, 8)
        campaign = crm.campaigns.create("twice", segment=segment, body="hi")
        first = crm.campaigns.launch(campaign.id)
        again = crm.campaigns.launch(campaign.id)
        assert first.queued == again.queued == 8
        assert crm.campaigns.run_due() == []
        keys = [m.key for m in crm.messages.list(campaign_id=campaign.id)]
        assert len(keys) == len(set(keys)) == 8

    def test_variants_and_the_holdout_follow_the_deterministic_draw(self, crm: CRM) -> None:
        segment, ids = shop_with_audience(crm, 60)
        variants = [Variant("a", "A {{ campaign.variant }}"),
                    Variant("b", "B {{ campaign.variant }}", weight=2)]
        campaign = crm.campaigns.create("ab", segment=segment, variants=variants,
                                        holdout=0.25)
        crm.campaigns.launch(campaign.id)
        members = {m.customer_id: m for m in crm.campaigns.members(campaign.id)}
        for cid in ids:
            expected = assign_variant(campaign.id, cid, campaign.variants, 0.25)
            assert members[cid].variant == expected
            assert members[cid].status == (MemberStatus.CONTROL if expected == CONTROL
                                           else MemberStatus.QUEUED)
        bodies = Counter(m.body for m in crm.messages.list(campaign_id=campaign.id))
        drawn = Counter(m.variant for m in members.values())
        assert bodies == {f"{v.upper()} {v}": drawn[v] for v in ("a", "b") if drawn[v]}
        assert 0 < drawn[CONTROL] < 60

    def test_every_recipient_gets_a_coupon_of_their_own(self, crm: CRM) -> None:
        segment, ids = shop_with_audience(crm, 4)
        offer = CouponOffer(terms={"amount": 500, "min_order": 3000, "valid_days": 14,
                                   "description": "500円引き"}, prefix="WIN")
        campaign = crm.campaigns.create(
            "win back", segment=segment, coupon=offer,
            body="{{ coupon.description }}: {{ coupon.code }} ({{ coupon.valid_until "
                 "| date('%Y-%m-%d') }}まで)")
        crm.campaigns.launch(campaign.id)
        codes = {m.customer_id: m.coupon_code for m in crm.campaigns.members(campaign.id)}
        assert len(set(codes.values())) == 4 and all(c.startswith("WIN") for c in codes.values())
        for cid, code in codes.items():
            coupon = crm.coupons.get(code)
            assert (coupon.max_uses, coupon.issued_only, coupon.amount) == (1, True, 500)
            assert coupon.valid_until == crm.clock.now() + timedelta(days=14)
            assert [c.code for c in crm.coupons.issued_to(cid)] == [code]
        [message] = [m for m in crm.messages.list(campaign_id=campaign.id)
                     if m.customer_id == ids[0]]
        assert message.body.startswith(f"500円引き: {codes[ids[0]]} (")

    def test_a_shared_coupon_is_issued_to_each_recipient(self, crm: CRM) -> None:
        segment, ids = shop_with_audience(crm, 3, consenting=2)
        crm.coupons.create(code="THANKS", percent=10, issued_only=True)
        campaign = crm.campaigns.create("thanks", segment=segment,
                                        coupon=CouponOffer(code="thanks"),
                                        body="{{ coupon.code }} {{ coupon.percent }}%")
        crm.campaigns.launch(campaign.id)
        assert [c.code for c in crm.coupons.issued_to(ids[0])] == ["THANKS"]
        assert crm.coupons.issued_to(ids[2]) == []  # skipped: no consent
        assert {m.body for m in crm.messages.list(campaign_id=campaign.id)} == {"THANKS 10%"}

    @pytest.mark.parametrize(("arguments", "field"), [
        ({"body": "{{ customer.nmae }}"}, "variants[0]"),
        ({"body": "{{ shop.name }}"}, "variants[0]"),
        ({"body": "{% if %}"}, "variants[0]"),
        ({"body": "{{ coupon.code }}"}, "variants[0]"),
        ({"body": "{{ unsubscribe_url }}"}, "variants[0]"),
        ({"body": "{{ customer.__class__ }}"}, "variants[0]"),
        ({"body": "hi", "holdout": 0.95}, "holdout"),
        ({"body": "hi", "priority": 10}, "priority"),
        ({"body": "hi", "channel": "E-mail"}, "channel"),
        ({"body": "hi", "segment": "nope"}, "segment"),
        ({"body": "hi", "cost": -1}, "cost"),
        ({"body": "hi", "unsubscribe_url": "https://x.jp/u"}, "unsubscribe_url"),
        ({"variants": [Variant("control", "x")]}, "variants[0]"),
        ({"variants": [Variant("a", "x"), Variant("a", "y")]}, "variants[1]"),
        ({}, "body"),
        ({"body": "hi", "coupon": CouponOffer(terms={"percent": 200})}, "percent"),
        ({"body": "hi", "coupon": CouponOffer(code="NOPE")}, "coupon"),
    ])
    def test_a_bad_campaign_is_named_and_not_stored(self, crm: CRM, arguments: dict,
                                                    field: str) -> None:
        segment, _ = shop_with_audience(crm, 1)
        with pytest.raises(ValidationError) as error:
            crm.campaigns.create("bad", **{"segment": segment, **arguments})
        assert error.value.field == field
        assert crm.campaigns.list() == []

    def test_a_scheduled_campaign_launches_when_due(self, crm: CRM) -> None:
        segment, _ = shop_with_audience(crm, 2)
        at = crm.clock.now() + timedelta(hours=2)
        campaign = crm.campaigns.create("later", segment=segment, body="hi", scheduled_at=at)
        assert campaign.status == CampaignStatus.SCHEDULED
        assert crm.campaigns.run_due() == []
        [progress] = crm.campaigns.run_due(at)
        assert (progress.campaign.status, progress.queued) == (CampaignStatus.SENT, 2)
        assert progress.campaign.launched_at == at

    def test_only_open_campaigns_change_and_cancel_stops_the_queue(self, crm: CRM) -> None:
        segment, _ = shop_with_audience(crm, 2)
        first = crm.campaigns.create("one", segment=segment, body="hi")
        crm.campaigns.create("two", segment=segment, body="hi")
        with pytest.raises(ConflictError):
            crm.campaigns.update(first.id, name="two")
        changed = crm.campaigns.update(first.id, body="hello {{ customer.name }}",
                                       scheduled_at=crm.clock.now() + timedelta(days=1))
        assert (changed.variants[0].body, changed.status) == (
            "hello {{ customer.name }}", CampaignStatus.SCHEDULED)
        crm.campaigns.launch(first.id)
        with pytest.raises(ValidationError) as error:
            crm.campaigns.update(first.id, body="too late")
        assert error.value.field == "status"
        second = crm.campaigns.find("two")
        assert second is not None
        cancelled = crm.campaigns.cancel(second.id)
        assert cancelled.status == CampaignStatus.CANCELLED
        assert crm.campaigns.launch(second.id).queued == 0
        with pytest.raises(NotFound):
            crm.campaigns.get("nope")

    def test_cancelling_a_sending_campaign_cancels_its_unsent_messages(self,
                                                                      crm: CRM) -> None:
        segment, _ = shop_with_audience(crm, 3)
        campaign = crm.campaigns.create("stop", segment=segment, body="hi")
        crm.campaigns.launch(campaign.id)
        with pytest.raises(ValidationError):
            crm.campaigns.cancel(campaign.id)  # sent: every member queued
        counts = crm.messages.counts(campaign.id)
        assert counts["pending"] == 3

    def test_a_member_the_template_fails_for_is_skipped_with_the_reason(self,
                                                                        crm: CRM) -> None:
        segment, ids = shop_with_audience(crm, 2)
        crm.customers.update(ids[0], attributes={"nickname": "はなちゃん"})
        campaign = crm.campaigns.create("nick", segment=segment,
                                        body="{{ customer.attributes.nickname }}")
        progress = crm.campaigns.launch(campaign.id)
        assert (progress.queued, progress.skipped) == (1, 1)
        [skipped] = [m for m in crm.campaigns.members(campaign.id)
                     if m.status == MemberStatus.SKIPPED]
        assert skipped.customer_id == ids[1] and "undefined" in (skipped.reason or "")

    def test_the_unsubscribe_link_withdraws_consent(self, crm: CRM) -> None:
        shop = CRM(crm.backend, tenant=crm.tenant, clock=crm.clock, secret=SECRET)
        segment, ids = shop_with_audience(shop, 1)
        campaign = shop.campaigns.create(
            "news", segment=segment, body="stop: {{ unsubscribe_url }}",
            unsubscribe_url="https://shop.example/unsubscribe?t={token}")
        shop.campaigns.launch(campaign.id)
        [message] = shop.messages.list(campaign_id=campaign.id)
        url = message.data["unsubscribe_url"]
        assert message.body == f"stop: {url}"
        shop.consent.unsubscribe(url.split("t=")[1])
        assert not shop.consent.is_granted(ids[0], "email")

    def test_context_offers_points_tier_and_recommendations(self, crm: CRM) -> None:
        segment, ids = shop_with_audience(crm, 1)
        crm.loyalty.adjust(ids[0], 1200, key="gift-1", reason="welcome gift")
        campaign = crm.campaigns.create(
            "points", segment=segment,
            body="{{ points.balance | number }}pt {{ tier.name | default('-') }} "
                 "{{ recommendations | length }}")
        crm.campaigns.launch(campaign.id)
        [message] = crm.messages.list(campaign_id=campaign.id)
        assert message.body == "1,200pt - 0"

    def test_a_merge_keeps_one_membership_per_campaign(self, crm: CRM) -> None:
        segment, ids = shop_with_audience(crm, 2)
        campaign = crm.campaigns.create("merge", segment=segment, body="hi")
        crm.campaigns.launch(campaign.id)
        crm.customers.merge(ids[0], ids[1])
        members = crm.campaigns.members(campaign.id)
        assert [m.customer_id for m in members] == [ids[0]]

    def test_the_report_counts_each_variant_and_the_control_group(self, crm: CRM) -> None:
        postbox = Postbox()
        shop = CRM(crm.backend, tenant=crm.tenant, clock=crm.clock, plugins=[postbox])
        segment, ids = shop_with_audience(shop, 40, consenting=36)
        campaign = shop.campaigns.create("measured", segment=segment, holdout=0.25,
                                         body="hi", cost=12000,
                                         attribution_window=timedelta(days=7))
        shop.campaigns.launch(campaign.id)
        assert shop.messages.dispatch(limit=100).sent == len(postbox.sent)
        by_member = {m.customer_id: m for m in shop.campaigns.members(campaign.id)}
        treated = [cid for cid in ids if by_member[cid].status == MemberStatus.QUEUED]
        control = [cid for cid in ids if by_member[cid].status == MemberStatus.CONTROL]
        message_of = {m.customer_id: m.id for m in postbox.sent}
        for cid in treated[:6]:
            shop.messages.opened(message_of[cid])
        shop.messages.opened(message_of[treated[0]])  # a second open counts once
        shop.messages.clicked(message_of[treated[1]], url="https://shop.example/sale")
        shop.messages.bounced(message_of[treated[2]], reason="550 no such user")
        launched = shop.campaigns.get(campaign.id).launched_at
        assert launched is not None
        buyers = {treated[0]: 3000, treated[1]: 5000, control[0]: 2000,
                  treated[3]: 9999}  # treated[3] buys too late
        for n, (cid, amount) in enumerate(buyers.items()):
            when = launched + (timedelta(days=8) if cid == treated[3] else timedelta(hours=n))
            shop.orders.record(order_id=f"o{n}", customer_id=cid, placed_at=when,
                               channel="web", lines=[OrderLine("SKU", 1, Decimal(amount))])
        report = shop.campaigns.report(campaign.id)
        sent = report.variant("default")
        assert (sent.members, sent.sent, sent.delivered, sent.opened, sent.clicked) == (
            len(treated), len(treated), len(treated) - 1, 6, 1)
        assert (sent.converted, sent.orders, sent.revenue) == (2, 2, Decimal(8000))
        held = report.variant(CONTROL)
        assert (held.members, held.converted, held.revenue) == (len(control), 1,
                                                                Decimal(2000))
        assert report.cost_per_order == Decimal(6000)
        assert report.end - report.start == timedelta(days=7)
        assert report.test is not None and report.test.control == CONTROL
        assert shop.suppressions.is_suppressed("email", by_email(shop, treated[2]))


class Postbox:
    """An e-mail channel that keeps what it is given."""

    name = "email"

    def __init__(self) -> None:
        self.sent: list[Any] = []

    @hookimpl
    def ecrm_delivery_channels(self, crm: CRM) -> list[Postbox]:
        return [self]

    def send(self, message: Any) -> None:
        self.sent.append(message)


def by_email(crm: CRM, customer_id: str) -> str:
    email = crm.customers.get(customer_id).email
    assert email is not None
    return email


class FreshEnqueueContract(ContractBase):
    """The outbox's fresh path, which campaign chunks take."""

    def test_a_fresh_enqueue_refuses_a_stored_key_and_writes_nothing(self, crm: CRM) -> None:
        alice = crm.customers.create(email="alice@example.jp")

        def message(key: str) -> Any:
            return new_message(message_id=new_id(), key=key, channel="email",
                               purpose="marketing", customer_id=alice.id,
                               recipient="alice@example.jp", subject=None, body="hi",
                               data=None, priority=5, due_at=None, campaign_id="c",
                               variant=None, step=None, now=crm.clock.now())

        crm.transact(lambda uow: crm.messages.enqueue(uow, [message("k1")], fresh=True))
        with pytest.raises(DuplicateKey):
            crm.transact(lambda uow: crm.messages.enqueue(
                uow, [message("k2"), message("k1")], fresh=True))
        assert [m.key for m in crm.messages.list(campaign_id="c")] == ["k1"]
