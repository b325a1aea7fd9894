"""A workload that calls every public operation once, for statement-level audits."""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs

from ecrm import (
    CRM,
    ClawbackPolicy,
    LoyaltyProgram,
    OrderLine,
    ReferralReward,
    Tier,
    TierPolicy,
)
from ecrm.domain.automation import JourneyTrigger, Step
from ecrm.domain.campaigns import CampaignStatus, CouponOffer
from ecrm.domain.cases import (
    Case,
    CaseMessage,
    CaseStatus,
    CaseType,
    MessageKind,
    Priority,
    SLABreach,
    SLAMetric,
    StatusChange,
    Survey,
    SurveyKind,
)
from ecrm.domain.segments import (
    Membership,
    MembershipChange,
    MembershipChangeKind,
    change_segment,
    new_segment,
)
from ecrm.domain.timeline import Before
from ecrm.importing import read_orders_csv

WHEN = datetime(2026, 4, 1, tzinfo=timezone.utc)
ORDERS_CSV = """\
order_id,customer_external_id,placed_at,channel,currency,sku,category,quantity,unit_price
W1,E1,2026-04-01T10:00:00+09:00,web,JPY,SKU-1,books,2,1500
"""


def exercise_everything(crm: CRM) -> None:
    """Create, read, update, merge, list, import, refund and cancel in one tenant."""
    import io

    account = crm.accounts.create(name="Acme", external_id="A1")
    crm.accounts.get(account.id)
    crm.accounts.find(external_id="A1")
    crm.accounts.update(account.id, name="Acme KK")
    one = crm.customers.create(email="one@example.com", external_id="E1", account_id=account.id)
    two = crm.customers.create(email="two@example.com")
    crm.customers.get(one.id)
    crm.customers.find(email="one@example.com")
    crm.customers.find(external_id="E1")
    crm.customers.update(one.id, name="One")
    crm.customers.list(limit=1)
    crm.customers.list(after=one.id, account_id=account.id)
    crm.customers.import_many([{"external_id": "E9", "email": "nine@example.com"}])
    crm.orders.record(order_id="O1", customer_id=two.id, placed_at=WHEN,
                      lines=[OrderLine("S", 2, 500)], channel="web")
    crm.orders.import_many(read_orders_csv(io.StringIO(ORDERS_CSV)))
    crm.orders.refund("O1", refund_id="R1", amount=100)
    crm.orders.refunds("O1")
    crm.orders.cancel("W1")
    crm.customers.merge(one.id, two.id)
    crm.customers.get(two.id)
    crm.customers.merges(one.id)
    crm.orders.get("O1")
    crm.orders.for_customer(one.id)
    crm.orders.summary(one.id)
    crm.orders.summaries()
    crm.orders.summaries([one.id])
    earned = crm.loyalty.earn(one.id, 100, key="E1", expires_at=datetime(2099, 1, 1,
                                                                         tzinfo=timezone.utc))
    spent = crm.loyalty.redeem(one.id, 30, key="R1")
    crm.loyalty.redeem(one.id, 30, key="R1")  # a replay
    crm.loyalty.adjust(one.id, 5, key="A1", reason="goodwill")
    crm.loyalty.reverse(spent.id, key="V1")
    crm.loyalty.expire_due()
    crm.loyalty.balance(one.id)
    crm.loyalty.history(one.id)
    crm.loyalty.lots(one.id)
    crm.loyalty.totals()
    assert earned.points == 100
    exercise_programme(crm)
    exercise_coupons(crm, one.id)
    exercise_interactions(crm, one.id)
    exercise_case_repository(crm, one.id)
    exercise_consent(crm, one.id)
    exercise_segment_repository(crm, one.id)
    exercise_analytics(crm, one.id)
    exercise_cohort_analytics(crm)
    exercise_segment_service(crm, one.id)
    exercise_recommendations(crm, one.id)
    exercise_outbox(crm, one.id)
    exercise_campaigns(crm)
    exercise_journeys(crm)
    exercise_audit(crm, one.id)
    crm.privacy.export(two.id)  # merged into one: one's whole document
    exercise_privacy(crm, one.id)


def exercise_audit(crm: CRM, customer_id: str) -> None:
    """Read the audit trail the calls above wrote, every way it can be read."""
    with crm.acting_as("staff:1"):
        crm.customers.update(customer_id, name="Audited")
    page = crm.audit.entries(limit=2)
    crm.audit.entries(customer_id=customer_id, action=["customer.updated", "case.opened"],
                      actor="staff:1", since=WHEN - timedelta(days=1), until=WHEN + timedelta(
                          days=3650), after=page.next_after)
    crm.audit.entries(subject=("customer", customer_id))
    crm.audit.for_customer(customer_id)


def exercise_interactions(crm: CRM, customer_id: str) -> None:
    """Record, import, page through the timeline with filters, and purge."""
    cart = crm.interactions.record(customer_id, channel="web", kind="cart_add", sku="S",
                                   occurred_at=WHEN, external_id="ev-1")
    crm.interactions.record(customer_id, channel="web", kind="cart_add", sku="S",
                            occurred_at=WHEN, external_id="ev-1")  # a replay
    crm.interactions.get(cart.id)
    crm.interactions.import_many([
        {"customer_id": customer_id, "channel": "email", "kind": "email_opened",
         "occurred_at": WHEN, "external_id": "ev-2"},
        {"customer_external_id": "E1", "channel": "app", "kind": "page_view",
         "occurred_at": WHEN}])
    first = crm.interactions.timeline(customer_id, limit=2)
    crm.interactions.timeline(customer_id, limit=2, after=first.next_cursor)
    crm.interactions.timeline(customer_id, channels=["web"], kinds=["cart_add"])
    crm.interactions.purge(older_than=timedelta(days=3650), channels=["app"],
                           kinds=["page_view"])


def exercise_consent(crm: CRM, customer_id: str) -> None:
    """Every consent operation, an out-of-order decision, a merge that absorbs consents,
    and the audience read of the repository."""
    other = crm.customers.create(email="consent@example.com").id
    crm.consent.grant(other, "email", source="signup form", at=WHEN)
    crm.consent.withdraw(other, "sms", at=WHEN)
    crm.consent.grant(customer_id, "email", at=WHEN - timedelta(days=1))
    crm.consent.withdraw(customer_id, "email", at=WHEN - timedelta(days=2))  # older
    crm.consent.get(customer_id, "email")
    crm.consent.is_granted(customer_id, "sms")
    crm.consent.history(customer_id, "email")
    crm.customers.merge(customer_id, other)
    crm.consent.for_customer(customer_id)
    crm.consent.history(customer_id)
    crm.consent.withdraw(customer_id, "email", purpose="transactional", at=WHEN)
    crm.consent.permits(customer_id, "email", min_level="confirmed")
    with crm.backend.unit_of_work(crm.tenant, read_only=True) as uow:
        uow.consents.granted_ids("email", None)
        uow.consents.granted_ids("email", [customer_id, other])
        uow.consents.granted_ids("email", None, "transactional")
    crm.suppressions.add("email", "bounced@example.com", reason="bounce")
    crm.suppressions.add("email", "bounced@example.com")  # listed already
    crm.suppressions.is_suppressed("email", "bounced@example.com")
    crm.suppressions.list()
    crm.suppressions.list("email")
    with crm.backend.unit_of_work(crm.tenant, read_only=True) as uow:
        uow.suppressions.suppressed("email", ["bounced@example.com"])
    crm.suppressions.remove("email", "bounced@example.com")


def exercise_programme(crm: CRM) -> None:
    """The automatic earnings of a loyalty programme: sign-up, order, review, clawbacks."""
    tiers = TierPolicy([Tier("silver", 1000), Tier("gold", 100000)])
    shop = CRM(crm.backend, tenant=crm.tenant, clock=crm.clock, loyalty=LoyaltyProgram(
        signup_bonus=10, review_bonus=5, clawback=ClawbackPolicy.ALLOW_NEGATIVE, tiers=tiers))
    member = shop.customers.create(email="member@example.com")
    shop.orders.record(order_id="P1", customer_id=member.id, placed_at=WHEN,
                       lines=[OrderLine("S", 1, 5000)], channel="web")
    shop.orders.import_many([{"order_id": "P2", "customer_id": member.id, "placed_at": WHEN,
                              "lines": [OrderLine("S", 1, 900)], "channel": "web"}])
    shop.loyalty.earn_for_order("P2")
    shop.loyalty.quote("P1")
    shop.loyalty.award_review(member.id, review_id="REV1")
    shop.loyalty.redeem(member.id, 60, key="R2")
    shop.orders.refund("P1", refund_id="R2", amount=2500)
    shop.orders.cancel("P2")
    assert shop.loyalty.balance(member.id).debt > 0
    other = shop.customers.create(email="other@example.com")
    shop.tiers.set_floor(other.id, "gold")
    shop.customers.merge(member.id, other.id)
    shop.tiers.status(member.id)
    shop.tiers.history(member.id)
    shop.tiers.review_due()
    exercise_referrals(crm)


def exercise_referrals(crm: CRM) -> None:
    """Codes, a referral and its reward on the first order."""
    shop = CRM(crm.backend, tenant=crm.tenant, clock=crm.clock, loyalty=LoyaltyProgram(
        referral=ReferralReward(referrer_points=50, referee_points=30)))
    referrer = shop.customers.create(email="referrer@example.com")
    referee = shop.customers.create(email="referee@example.com")
    shop.referrals.refer(referee.id, code=shop.referrals.code_for(referrer.id))
    shop.orders.record(order_id="F1", customer_id=referee.id, placed_at=WHEN,
                       lines=[OrderLine("S", 1, 1000)], channel="web")
    shop.referrals.of(referee.id)
    shop.referrals.made_by(referrer.id)
    shop.customers.merge(referrer.id, referee.id)


def exercise_coupons(crm: CRM, customer_id: str) -> None:
    """Every public coupon operation once (``customer_id`` names a live customer)."""
    crm.coupons.create(code="W-ONE", percent=10, max_uses=5, per_customer_limit=2,
                       issued_only=True, budget=1000)
    crm.coupons.create(code="W-ONE", percent=10, max_uses=5, per_customer_limit=2,
                       issued_only=True, budget=1000)  # a replay
    crm.coupons.create(amount=100)
    crm.coupons.generate(3, prefix="W-", amount=100)
    crm.coupons.import_codes(["W-IMP-1", "W-IMP-2"], amount=200)
    crm.coupons.get("W-ONE")
    crm.coupons.issue("W-ONE", [customer_id])
    crm.coupons.issued_to(customer_id)
    crm.coupons.redeem("W-ONE", order_id="O1", order_total=1000, customer_id=customer_id)
    crm.coupons.redeem("W-ONE", order_id="O1", order_total=1000, customer_id=customer_id)
    crm.coupons.restore("W-ONE", order_id="O1")
    crm.coupons.redemptions("W-ONE")


def exercise_case_repository(crm: CRM, customer_id: str) -> None:
    """Every method of the backend's case repository once, with a merge that moves a new
    customer's case, message and survey over to ``customer_id``."""
    other_id = crm.customers.create(email="cases@example.com").id
    case = Case(id="case-1", customer_id=other_id, type=CaseType.RETURN, subject="Broken",
                priority=Priority.HIGH, status=CaseStatus.NEW, channel="email",
                opened_at=WHEN, updated_at=WHEN, order_ids=("O1", "W1"))
    message = CaseMessage(id="msg-1", case_id=case.id, customer_id=other_id,
                          kind=MessageKind.INBOUND, channel="email", body="It broke",
                          occurred_at=WHEN, recorded_at=WHEN, external_id="<m1@x>")
    with crm.backend.unit_of_work(crm.tenant) as uow:
        cases = uow.cases
        cases.add(case)
        cases.get(case.id, for_update=True)
        cases.replace(attrs.evolve(case, status=CaseStatus.OPEN, order_ids=("O1",)))
        cases.add_status_change(StatusChange(case.id, 1, WHEN, None, CaseStatus.NEW))
        cases.add_message(message)
        cases.add_breach(SLABreach(case.id, SLAMetric.FIRST_RESPONSE, WHEN, WHEN))
        cases.add_survey(Survey("survey-1", case.id, other_id, SurveyKind.CSAT, WHEN))
        survey = cases.get_survey("survey-1", for_update=True)
        cases.answer_survey(attrs.evolve(survey, answered_at=WHEN, score=5))
        uow.reassign_customer(other_id, customer_id)
    with crm.backend.unit_of_work(crm.tenant, read_only=True) as uow:
        read_cases(uow.cases, customer_id, case.id)


def read_cases(cases: Any, customer_id: str, case_id: str) -> None:
    """Every read of the case repository."""
    cases.get(case_id)
    cases.for_customer(customer_id)
    cases.for_order("O1")
    cases.active(after=None, limit=10)
    cases.active(after=case_id, limit=10)
    cases.opened_between(WHEN, WHEN + timedelta(days=1))
    cases.history(case_id)
    cases.histories([case_id])
    cases.messages(case_id)
    cases.message_by_external_id("email", "<m1@x>")
    cases.messages_by_external_ids(["<m1@x>"])
    for before in (None, Before(WHEN, "msg-2")):
        cases.message_timeline(customer_id, before=before, limit=5, channels=["email"],
                               kinds=["inbound"])
        cases.case_timeline(customer_id, before=before, limit=5, channels=["email"])
    cases.breaches([case_id])
    cases.surveys([case_id])


#: One rule over every built-in segment field, so each field's SQL is audited.
EVERY_FIELD = " or ".join([
    'email == "x"', 'name == "x"', 'kana_name == "x"', 'phone == "x"', 'external_id == "x"',
    'gender == "x"', 'birth_date < "2000-01-01"', "birth_month == 1", "age >= 20",
    'country == "JP"', 'prefecture contains "東"', 'city starts with "x"',
    'postal_code ends with "1"', 'acquisition_channel in ("web")',
    'signed_up_at < "2030-01-01T00:00:00+00:00"',
    "days_since_signup > 1", 'attribute("rank") == "gold"', 'account_id == "x"',
    'account.name == "x"', 'account.attribute("plan") == "x"',
    'orders.count(channel="web", within_days=30) >= 1', "orders.total_spent > 100.5",
    "orders.average_value == 250", 'orders.first_at < "2030-01-01T00:00:00+00:00"',
    "orders.last_at is null", "days_since_first_order in (1, 2)",
    "days_since_last_order != 3", 'bought(sku="S", within_days=7)',
    'bought(category="tea")', "loyalty.points > 0", 'loyalty.tier == "gold"',
    'interactions.count(kind="cart_add", channel="web", sku="S", within_days=1) > 0',
    "cart.abandoned(within_days=7)", 'cases.open(type="complaint") > 0',
    'cases.count(type="inquiry", within_days=30) > 0', 'consent("email")',
    "rfm.r >= 4", "rfm.f(bins=3) in (1, 3)", "rfm.m is null",
    'rfm.segment(bins=10) == "champions"'])


def exercise_segment_service(crm: CRM, customer_id: str) -> None:
    """Every method of ``crm.segments`` once, over a rule naming every built-in field."""
    crm.segments.count(EVERY_FIELD)
    crm.segments.evaluate("not " + f"({EVERY_FIELD})")
    dynamic = crm.segments.create("every-field", rule=EVERY_FIELD)
    crm.segments.refresh_all()
    crm.segments.update(dynamic.id, name="every field", rule="orders.count >= 0")
    crm.segments.refresh(dynamic.id)
    static = crm.segments.create("hand-picked", customer_ids=[customer_id])
    crm.segments.add(static.id, [customer_id])
    crm.segments.members(static.id)
    crm.segments.is_member(static.id, customer_id)
    crm.segments.history(static.id, customer_id=customer_id)
    crm.segments.memberships(customer_id)
    crm.segments.find("hand-picked")
    crm.consent.grant(customer_id, "ads")
    list(crm.segments.audience(dynamic.id))
    crm.segments.export_csv(dynamic.id, io.StringIO(), consent=None)
    crm.segments.remove(static.id, [customer_id])
    crm.segments.delete(static.id)


def exercise_segment_repository(crm: CRM, customer_id: str) -> None:
    """Every method of the backend's segment repository once: members of two segments,
    a duplicate absorbed into ``customer_id`` (one membership moved, one dropped), and a
    segment deleted with its members and history."""
    other_id = crm.customers.create(email="segments@example.com").id
    kept = new_segment("seg-1", WHEN, name="VIP", kind="dynamic",
                       rule={"field": "orders.count", "op": ">=", "value": 1})
    doomed = new_segment("seg-2", WHEN, name="Newsletter", kind="static")
    with crm.backend.unit_of_work(crm.tenant) as uow:
        segments = uow.segments
        segments.add(kept)
        segments.add(doomed)
        segments.get(kept.id, for_update=True)
        segments.replace(change_segment(kept, WHEN, description="Best customers"))
        segments.add_members([Membership(kept.id, customer_id, WHEN),
                              Membership(kept.id, other_id, WHEN),
                              Membership(doomed.id, other_id, WHEN)])
        segments.add_changes([MembershipChange("chg-1", kept.id, other_id,
                                               MembershipChangeKind.ENTERED, WHEN)])
        segments.absorb_member(other_id, customer_id)
        segments.remove_members(kept.id, [customer_id, "nobody"])
    with crm.backend.unit_of_work(crm.tenant, read_only=True) as uow:
        read_segments(uow.segments, customer_id, kept.id)
    with crm.backend.unit_of_work(crm.tenant) as uow:
        uow.segments.delete(doomed.id)


def read_segments(segments: Any, customer_id: str, segment_id: str) -> None:
    """Every read of the segment repository."""
    segments.get(segment_id)
    segments.by_name("VIP")
    segments.all()
    segments.member_ids(segment_id)
    segments.members(segment_id, after=None, limit=10)
    segments.members(segment_id, after=customer_id, limit=10)
    segments.is_member(segment_id, customer_id)
    segments.memberships_of(customer_id)
    segments.history(segment_id)
    segments.history(segment_id, customer_id=customer_id, since=WHEN, limit=5)
    segments.history_of(customer_id)


def exercise_analytics(crm: CRM, customer_id: str) -> None:
    """Every analysis once, over whatever the workload recorded."""
    fresh = [crm.customers.create(name=f"AB{i}").id for i in range(3)]
    crm.analytics.ab_test({"A": [customer_id, fresh[0]], "B": fresh[1:]},
                          start=WHEN - timedelta(days=365), end=WHEN + timedelta(days=365))
    crm.analytics.rfm()
    crm.analytics.rfm(as_of=WHEN, bins=10)
    year = {"start": WHEN - timedelta(days=365), "end": WHEN + timedelta(days=365)}
    crm.analytics.cart_abandonment(**year, period="month", tz="Asia/Tokyo")
    crm.transact(lambda uow: uow.analytics.cart_events(year["start"], year["end"], WHEN),
                 read_only=True)
    crm.analytics.journeys(**year, kinds=["cart_add", "page_view"])
    crm.analytics.funnel(["email_opened", {"kind": "cart_add", "channel": "web", "sku": "S"},
                          {"kind": "order", "channel": "web", "sku": "S"}],
                         **year, within=timedelta(days=30))

    crm.analytics.historical_value(as_of=WHEN + timedelta(days=1))
    for tz, start in (("UTC", None), ("America/New_York", WHEN - timedelta(days=30))):
        # One offset; a CASE over DST changes, and a cohort start.
        crm.analytics.clv_summary(calibration_end=WHEN + timedelta(days=400), tz=tz,
                                  observation_start=start)

def exercise_cohort_analytics(crm: CRM) -> None:
    """Cohorts, repeat purchase, churn and channels, each in every form it has."""
    window = {"start": WHEN - timedelta(days=365), "end": WHEN + timedelta(days=1)}
    analytics, as_of = crm.analytics, WHEN + timedelta(days=30)
    analytics.cohorts(period="week", tz="Asia/Tokyo", as_of=as_of, **window)
    analytics.repeat_purchase(as_of=as_of, **window)
    analytics.churn(inactive_days=7, as_of=as_of)
    analytics.churn(inactive_days=7, period="month", as_of=as_of, **window)
    analytics.channels(as_of=as_of, costs={"web": 1000}, **window)
    analytics.orders_by_channel(period="day", as_of=as_of, **window)


def exercise_recommendations(crm: CRM, customer_id: str) -> None:
    """Rules, mining, refreshing and serving, and the repository reads no service call
    makes."""
    recs = crm.recommendations
    crm.interactions.record(customer_id, channel="web", kind="product_view", sku="SKU-1",
                            occurred_at=WHEN)
    recs.add_rule("with books", if_skus=["SKU-1"], suggest_skus=["S"],
                  suggest_categories=["books"], segment="every field")
    recs.update_rule("with books", priority=2)
    recs.get_rule("with books")
    recs.rules()
    recs.mine(min_support=0.01, min_confidence=0.0)
    recs.mine(min_support=0.01, min_confidence=0.0, window_days=3650)  # replaces
    crm.orders.record(order_id="O2", customer_id=customer_id, placed_at=WHEN,
                      lines=[OrderLine("S", 1, 500), OrderLine("SKU-1", 1, 500)],
                      channel="web")
    recs.refresh()  # adds O2
    crm.orders.cancel("O2")
    recs.refresh()  # takes it away
    recs.models()
    recs.association_rules()
    recs.association_rules(antecedent=["S"])
    recs.for_customer(customer_id)
    recs.for_items(["S"])
    with crm.backend.unit_of_work(crm.tenant, read_only=True) as uow:
        uow.recommendations.get_rule("no-such-rule")
        uow.recommendations.items("default", ["S"])
    recs.remove_rule("with books")
    recs.drop_model("default")


def exercise_outbox(crm: CRM, customer_id: str) -> None:
    """Every outbox operation: send (and a replay), bulk enqueue, dispatch with no channel
    installed (so the message goes dead), retry, cancel, the listings and counts."""
    from ecrm.domain.ids import new_id
    from ecrm.domain.outbox import new_message

    message = crm.messages.send(key="welcome", channel="email", purpose="marketing",
                                customer_id=customer_id, recipient="one@example.com",
                                body="Welcome", due_at=WHEN)
    crm.messages.send(key="welcome", channel="email", purpose="marketing",
                      customer_id=customer_id, recipient="one@example.com", body="Welcome",
                      due_at=WHEN)  # a replay
    bulk = [new_message(message_id=new_id(), key=f"bulk-{n}", channel="sms",
                        purpose="marketing", customer_id=customer_id, recipient="+8190",
                        subject=None, body="Sale", data=None, priority=1, due_at=None,
                        campaign_id="spring", variant="a", step=None, now=WHEN)
            for n in range(2)]
    crm.transact(lambda uow: crm.messages.enqueue(uow, bulk))
    single = attrs.evolve(bulk[0], id=new_id(), key="single")
    crm.transact(lambda uow: uow.outbox.add(single))  # the repository's one-row insert
    crm.messages.dispatch(limit=1, now=WHEN)
    crm.messages.retry(message.id)
    crm.messages.cancel(bulk[0].id)
    crm.messages.get(message.id)
    crm.messages.for_customer(customer_id)
    crm.messages.list(status="pending", campaign_id="spring")
    crm.messages.counts()
    crm.messages.counts("spring")


def exercise_campaigns(crm: CRM) -> None:
    """Every campaign operation: create, update, schedule, launch with a minted coupon,
    an unsubscribe link, points, tier and recommendations in the templates, run_due,
    the listings, cancel (with queued messages), a merge of two members, and a dispatch
    through the contact gate."""
    shop = CRM(crm.backend, tenant=crm.tenant, clock=crm.clock, secret="a" * 16)
    ids = [shop.customers.create(email=f"camp{n}@example.com").id for n in range(3)]
    for customer_id in ids:
        shop.consent.grant(customer_id, "email", at=WHEN)
    segment = shop.segments.create("campaign audience", customer_ids=ids)
    campaign = shop.campaigns.create(
        "workload", segment=segment.id, holdout=0.1, unsubscribe_url="https://x.jp/{token}",
        coupon=CouponOffer(terms={"amount": 100, "valid_days": 7}),
        body="{{ coupon.code }} {{ points.balance }} {{ tier.name | default('-') }} "
             "{{ recommendations | length }} {{ unsubscribe_url }}")
    shop.campaigns.update(campaign.id, cost=1000)
    shop.campaigns.launch(campaign.id)
    later = shop.campaigns.create("later", segment=segment.name, body="hi",
                                  scheduled_at=WHEN)
    shop.campaigns.run_due(WHEN + timedelta(days=1))
    shop.campaigns.create("stopped", segment=segment.id, body="hi")
    stopped = shop.campaigns.find("stopped")
    assert stopped is not None
    with shop.backend.unit_of_work(shop.tenant) as uow:  # a sending one with messages
        uow.campaigns.replace(attrs.evolve(stopped, status=CampaignStatus.SENDING))
    shop.campaigns.cancel(stopped.id)
    shop.campaigns.get(later.id)
    shop.campaigns.list(status="sent")
    shop.campaigns.progress(campaign.id)
    shop.campaigns.members(campaign.id, limit=2)
    shop.customers.merge(ids[0], ids[1])
    shop.messages.dispatch(now=WHEN + timedelta(days=1, hours=3))


def exercise_journeys(crm: CRM) -> None:
    """Every journey operation: one journey per trigger kind (every occasion query),
    pause and resume, run_due enrolling and sending two steps with a coupon, an exit on
    an order, the listings, and a merge of two enrolled customers."""
    shop = CRM(crm.backend, tenant=crm.tenant, clock=crm.clock)
    start = crm.clock.now()
    steps = [Step(timedelta(0), "hi {{ customer.email }} {{ coupon.code }}",
                  coupon=CouponOffer(terms={"amount": 100, "valid_days": 7})),
             Step(timedelta(days=1), "again")]
    triggers = [JourneyTrigger.signup(), JourneyTrigger.birthday(),
                JourneyTrigger.cart_abandoned(), JourneyTrigger.order_placed(),
                JourneyTrigger.second_purchase(), JourneyTrigger.win_back(),
                JourneyTrigger.points_expiring(), JourneyTrigger.tier_changed(to="gold"),
                JourneyTrigger.case_resolved()]
    journeys = [shop.journeys.create(f"journey {t.kind.value}", trigger=t, steps=steps,
                                     exit_on=["order_placed"]) for t in triggers]
    ids = [shop.customers.create(email=f"journey{n}@example.com").id for n in range(2)]
    for customer_id in ids:
        shop.consent.grant(customer_id, "email", at=start)
    shop.journeys.pause(journeys[0].id)
    shop.journeys.resume(journeys[0].id)
    shop.run_due(start)
    shop.orders.record(order_id="journey-order", customer_id=ids[0], channel="web",
                       placed_at=start + timedelta(hours=1),
                       lines=[OrderLine("J", 1, 1000)])
    shop.journeys.run_due(start + timedelta(days=2))
    shop.journeys.get(journeys[0].id)
    shop.journeys.find(journeys[0].name)
    shop.journeys.enrollments(journeys[0].id, status="completed", after="", limit=5)
    shop.customers.merge(ids[0], ids[1])
    shop.journeys.for_customer(ids[0])


def exercise_privacy(crm: CRM, customer_id: str) -> None:
    """Erase a customer who has a bit of everything, read the erasure record, and purge
    old interactions and messages."""
    crm.privacy.erase(customer_id)
    crm.privacy.redactions(customer_id)
    crm.privacy.purge(interactions_older_than=timedelta(days=3650),
                      messages_older_than=timedelta(days=3650))
