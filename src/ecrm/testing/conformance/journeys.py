"""Triggered journeys on every backend: each trigger fires once per occasion at the
right time, steps wait, orders exit, repeats change nothing, bad input writes nothing."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from ecrm.crm import CRM
from ecrm.domain.automation import EnrollmentStatus, JourneyTrigger, Step
from ecrm.domain.campaigns import CouponOffer
from ecrm.domain.orders import OrderLine
from ecrm.errors import ConflictError, ValidationError
from ecrm.testing.conformance.base import ContractBase

HOUR, DAY = timedelta(hours=1), timedelta(days=1)
SERIES = [Step(timedelta(0), "ようこそ {{ customer.name }}さん", subject="Welcome"),
          Step(2 * DAY, "{{ customer.name }}さん、二日目です")]


def member(crm: CRM, name: str, **fields: object) -> str:
    """A customer with an e-mail address, opted in to marketing e-mail."""
    customer = crm.customers.create(email=f"{name}@example.jp", name=name, **fields)
    crm.consent.grant(customer.id, "email")
    return customer.id


def order(crm: CRM, order_id: str, customer_id: str, at: datetime | None = None) -> None:
    """Record a one-line order placed ``at`` (now by default)."""
    crm.orders.record(order_id=order_id, customer_id=customer_id, channel="web",
                      placed_at=at or crm.clock.now(),
                      lines=[OrderLine("SKU", 1, Decimal(1000))])


def occasions(crm: CRM, journey_id: str) -> list[str]:
    """The journey's enrolled occasions."""
    return [e.occasion for e in crm.journeys.enrollments(journey_id)]


def journey_messages(crm: CRM) -> Counter[str]:
    """How many outbox messages each journey key has."""
    return Counter(m.key for m in crm.messages.list(limit=1000)
                   if m.key.startswith("journey:"))


class JourneyContract(ContractBase):
    """What ``crm.journeys`` does on every backend."""

    def test_journey_signup_series_waits_between_steps_and_renders(self, crm: CRM) -> None:
        before = member(crm, "early")
        crm.clock.advance(HOUR)
        journey = crm.journeys.create("welcome", trigger=JourneyTrigger.signup(),
                                      steps=SERIES)
        ids = [member(crm, "hana"), member(crm, "taro")]
        report = crm.journeys.run_due()
        assert (report.enrolled, report.queued, report.completed) == (2, 2, 0)
        assert sorted(occasions(crm, journey.id)) == sorted(ids)
        assert before not in occasions(crm, journey.id)
        welcome = [m for m in crm.messages.list() if m.customer_id == ids[0]]
        assert [(m.subject, m.body, m.recipient) for m in welcome] == [
            ("Welcome", "ようこそ hanaさん", "hana@example.jp")]
        crm.clock.advance(DAY)
        assert crm.journeys.run_due().queued == 0
        crm.clock.advance(DAY)
        report = crm.journeys.run_due()
        assert (report.queued, report.completed) == (2, 2)
        assert crm.journeys.run_due().queued == 0
        keys = journey_messages(crm)
        assert keys == {f"journey:{journey.id}:{cid}:{step}": 1 for cid in ids
                        for step in (0, 1)}
        done = crm.journeys.enrollments(journey.id, status="completed")
        assert sorted(e.customer_id for e in done) == sorted(ids)

    def test_journey_run_twice_at_the_same_time_changes_nothing(self, crm: CRM) -> None:
        journey = crm.journeys.create("welcome", trigger=JourneyTrigger.signup(),
                                      steps=SERIES)
        member(crm, "hana")
        first = crm.journeys.run_due()
        enrolled = crm.journeys.enrollments(journey.id)
        messages = journey_messages(crm)
        again = crm.journeys.run_due()
        assert (first.enrolled, again.enrolled, again.queued) == (1, 0, 0)
        assert crm.journeys.enrollments(journey.id) == enrolled
        assert journey_messages(crm) == messages

    def test_journey_birthday_in_the_customers_zone_once_a_year(self, crm: CRM) -> None:
        # The clock starts at 2026-04-01 09:00 in Tokyo (00:00 UTC).
        tokyo = member(crm, "tokyo", birth_date=date(1990, 4, 2))
        angeles = member(crm, "angeles", birth_date=date(1990, 4, 2),
                         attributes={"timezone": "America/Los_Angeles"})
        member(crm, "other", birth_date=date(1990, 5, 2))
        journey = crm.journeys.create("birthday", trigger=JourneyTrigger.birthday(1),
                                      steps=[Step(timedelta(0), "おめでとう")])
        crm.journeys.run_due()
        assert occasions(crm, journey.id) == [f"{tokyo}:2026"]
        crm.clock.advance(12 * HOUR)  # 05:00 on 1 April in Los Angeles
        assert crm.journeys.run_due().enrolled == 1
        assert sorted(occasions(crm, journey.id)) == sorted([f"{tokyo}:2026",
                                                             f"{angeles}:2026"])
        crm.clock.advance(6 * HOUR)
        assert crm.journeys.run_due().enrolled == 0
        crm.clock.set(datetime(2027, 3, 31, 16, tzinfo=timezone.utc))  # 1 April, Tokyo
        assert crm.journeys.run_due().enrolled == 1
        assert f"{tokyo}:2027" in occasions(crm, journey.id)

    def test_journey_birthday_on_29_february_falls_on_28_february(self, crm: CRM) -> None:
        leap = member(crm, "leap", birth_date=date(2000, 2, 29))
        journey = crm.journeys.create("birthday", trigger=JourneyTrigger.birthday(),
                                      steps=[Step(timedelta(0), "おめでとう")])
        crm.clock.set(datetime(2027, 2, 27, 16, tzinfo=timezone.utc))  # 28 Feb, Tokyo
        assert crm.journeys.run_due().enrolled == 1
        crm.clock.set(datetime(2028, 2, 27, 16, tzinfo=timezone.utc))  # leap year
        assert crm.journeys.run_due().enrolled == 0
        crm.clock.advance(DAY)
        assert crm.journeys.run_due().enrolled == 1
        assert sorted(occasions(crm, journey.id)) == [f"{leap}:2027", f"{leap}:2028"]

    def test_journey_cart_abandoned_unless_an_order_followed(self, crm: CRM) -> None:
        journey = crm.journeys.create(
            "cart", trigger=JourneyTrigger.cart_abandoned(after=4 * HOUR),
            steps=[Step(timedelta(0), "お忘れ物はありませんか")])
        left, bought = member(crm, "left"), member(crm, "bought")
        crm.interactions.record(left, channel="web", kind="cart_add", sku="A")
        first = crm.interactions.record(left, channel="web", kind="checkout_started")
        crm.interactions.record(bought, channel="web", kind="cart_add", sku="A")
        crm.interactions.record(bought, channel="web", kind="product_view", sku="A")
        crm.clock.advance(HOUR)
        order(crm, "bought-1", bought)
        crm.clock.advance(2 * HOUR)
        assert crm.journeys.run_due().enrolled == 0  # three hours: not yet
        crm.clock.advance(HOUR)
        assert crm.journeys.run_due().enrolled == 1
        assert occasions(crm, journey.id) == [first.id]
        again = crm.interactions.record(left, channel="web", kind="cart_add", sku="B")
        crm.clock.advance(4 * HOUR)
        crm.journeys.run_due()
        assert sorted(occasions(crm, journey.id)) == sorted([first.id, again.id])

    def test_journey_order_placed_follow_up_skips_cancelled_orders(self, crm: CRM) -> None:
        buyer = member(crm, "buyer")
        order(crm, "old", buyer, crm.clock.now() - DAY)
        journey = crm.journeys.create(
            "review", trigger=JourneyTrigger.order_placed(after=3 * DAY),
            steps=[Step(timedelta(0), "レビューをお願いします")])
        order(crm, "kept", buyer)
        order(crm, "cancelled", buyer)
        crm.orders.cancel("cancelled")
        crm.clock.advance(2 * DAY)
        assert crm.journeys.run_due().enrolled == 0
        crm.clock.advance(DAY)
        assert crm.journeys.run_due().enrolled == 1
        assert occasions(crm, journey.id) == ["kept"]

    def test_journey_second_purchase_and_win_back(self, crm: CRM) -> None:
        once, twice = member(crm, "once"), member(crm, "twice")
        start = crm.clock.now()
        order(crm, "once-1", once, start)
        order(crm, "twice-1", twice, start)
        order(crm, "twice-2", twice, start + 10 * DAY)
        nudge = crm.journeys.create(
            "nudge", trigger=JourneyTrigger.second_purchase(after=30 * DAY),
            steps=[Step(timedelta(0), "二回目")])
        back = crm.journeys.create(
            "back", trigger=JourneyTrigger.win_back(after=90 * DAY),
            steps=[Step(timedelta(0), "お久しぶりです")])
        crm.clock.advance(29 * DAY)
        assert crm.journeys.run_due().enrolled == 0
        crm.clock.advance(DAY)
        crm.journeys.run_due()
        assert occasions(crm, nudge.id) == [once]
        crm.clock.advance(60 * DAY)  # 90 days after the first orders
        crm.journeys.run_due()
        assert occasions(crm, back.id) == [f"{once}:once-1"]
        crm.clock.advance(10 * DAY)
        crm.journeys.run_due()
        assert sorted(occasions(crm, back.id)) == sorted([f"{once}:once-1",
                                                          f"{twice}:twice-2"])
        order(crm, "once-2", once)
        crm.clock.advance(90 * DAY)
        crm.journeys.run_due()
        assert f"{once}:once-2" in occasions(crm, back.id)
        assert occasions(crm, nudge.id) == [once]

    def test_journey_points_expiring_once_per_lot(self, crm: CRM) -> None:
        journey = crm.journeys.create(
            "expiring", trigger=JourneyTrigger.points_expiring(within=14 * DAY),
            steps=[Step(timedelta(0), "ポイントの期限が近づいています")])
        holder = member(crm, "holder")
        now = crm.clock.now()
        crm.loyalty.earn(holder, 100, key="soon", expires_at=now + 20 * DAY)
        crm.loyalty.earn(holder, 100, key="later", expires_at=now + 60 * DAY)
        crm.loyalty.earn(holder, 100, key="never")
        crm.loyalty.earn(holder, 100, key="pending", available_at=now + 30 * DAY,
                         expires_at=now + 40 * DAY)
        assert crm.journeys.run_due().enrolled == 0
        crm.clock.advance(6 * DAY)
        assert crm.journeys.run_due().enrolled == 1
        (enrolled,) = crm.journeys.enrollments(journey.id)
        assert (enrolled.customer_id, enrolled.occasion) == (
            holder, crm.loyalty.lots(holder)[0].id)
        crm.clock.advance(DAY)
        assert crm.journeys.run_due().enrolled == 0

    def test_journey_tier_changed_to_a_tier(self, crm: CRM) -> None:
        from ecrm.domain.program import LoyaltyProgram
        from ecrm.domain.tiers import Tier, TierPolicy

        program = LoyaltyProgram(timezone="Asia/Tokyo", tiers=TierPolicy(
            tiers=(Tier("silver", 10000), Tier("gold", 50000))))
        shop = CRM(crm.backend, tenant=crm.tenant, clock=crm.clock, loyalty=program)
        any_change = shop.journeys.create("tiers", trigger=JourneyTrigger.tier_changed(),
                                          steps=[Step(timedelta(0), "ランクが変わりました")])
        gold = shop.journeys.create("gold", trigger=JourneyTrigger.tier_changed(to="gold"),
                                    steps=[Step(timedelta(0), "ゴールドへようこそ")])
        climber = member(shop, "climber")
        shop.tiers.set_floor(climber, "silver")
        shop.journeys.run_due()
        crm.clock.advance(HOUR)
        shop.tiers.set_floor(climber, "gold")
        shop.journeys.run_due()
        changes = shop.tiers.history(climber)
        assert sorted(occasions(shop, any_change.id)) == sorted(c.id for c in changes)
        assert occasions(shop, gold.id) == [changes[-1].id]
        assert shop.journeys.run_due().enrolled == 0

    def test_journey_case_resolved_after_a_wait(self, crm: CRM) -> None:
        journey = crm.journeys.create(
            "csat", trigger=JourneyTrigger.case_resolved(after=DAY),
            steps=[Step(timedelta(0), "ご対応はいかがでしたか")])
        customer = member(crm, "asker")
        case = crm.cases.open(customer, subject="届かない", channel="email", body="まだです")
        other = crm.cases.open(customer, subject="質問", channel="email", body="?")
        crm.cases.change_status(case.id, "resolved")
        crm.clock.advance(12 * HOUR)
        assert crm.journeys.run_due().enrolled == 0
        crm.clock.advance(12 * HOUR)
        assert crm.journeys.run_due().enrolled == 1
        assert occasions(crm, journey.id) == [case.id]
        assert other.id not in occasions(crm, journey.id)

    def test_journey_exit_on_order_stops_the_series(self, crm: CRM) -> None:
        journey = crm.journeys.create("welcome", trigger=JourneyTrigger.signup(),
                                      steps=SERIES, exit_on=["order_placed"])
        buyer, idle = member(crm, "buyer"), member(crm, "idle")
        crm.journeys.run_due()
        crm.clock.advance(HOUR)
        order(crm, "first", buyer)
        crm.clock.advance(2 * DAY)
        report = crm.journeys.run_due()
        assert (report.exited, report.queued, report.completed) == (1, 1, 1)
        stopped = crm.journeys.enrollments(journey.id, status=EnrollmentStatus.EXITED)
        assert [(e.customer_id, e.reason) for e in stopped] == [(buyer, "order_placed")]
        assert [m.customer_id for m in crm.messages.list()
                if m.key.endswith(":1")] == [idle]

    def test_journey_consent_and_suppression_skip_the_step(self, crm: CRM) -> None:
        journey = crm.journeys.create("welcome", trigger=JourneyTrigger.signup(),
                                      steps=SERIES[:1])
        silent = crm.customers.create(email="silent@example.jp").id
        listed = member(crm, "listed")
        crm.suppressions.add("email", "listed@example.jp", reason="bounce")
        report = crm.journeys.run_due()
        assert (report.queued, report.skipped, report.completed) == (0, 2, 2)
        reasons = {e.customer_id: e.reason for e in crm.journeys.enrollments(journey.id)}
        assert reasons == {silent: "no marketing consent on email",
                           listed: "email address suppressed"}
        assert journey_messages(crm) == {}

    def test_journey_unsubscribe_link_withdraws_consent(self, crm: CRM) -> None:
        shop = CRM(crm.backend, tenant=crm.tenant, clock=crm.clock,
                   secret="journey tests' secret, long enough")
        shop.journeys.create("welcome", trigger=JourneyTrigger.signup(), steps=[
            Step(timedelta(0), "stop: {{ unsubscribe_url }}",
                 unsubscribe_url="https://shop.example/unsubscribe?t={token}")])
        customer = member(shop, "hana")
        assert shop.journeys.run_due().queued == 1
        [message] = [m for m in shop.messages.list() if m.customer_id == customer]
        url = message.data["unsubscribe_url"]
        assert message.body == f"stop: {url}" and url.startswith("https://shop.example/")
        token = url.split("t=")[1]
        assert shop.consent.read_token(token).customer_id == customer
        shop.consent.unsubscribe(token)
        assert not shop.consent.is_granted(customer, "email")

    def test_journey_coupon_per_recipient(self, crm: CRM) -> None:
        crm.journeys.create("welcome", trigger=JourneyTrigger.signup(), steps=[
            Step(timedelta(0), "{{ coupon.code }}",
                 coupon=CouponOffer(terms={"amount": 500, "valid_days": 7}, prefix="HI"))])
        hana = member(crm, "hana")
        crm.journeys.run_due()
        (message,) = crm.messages.list()
        assert message.body.startswith("HI")
        assert crm.coupons.get(message.body).valid_until == crm.clock.now() + 7 * DAY
        assert message.customer_id == hana

    def test_journey_paused_journeys_do_nothing(self, crm: CRM) -> None:
        journey = crm.journeys.create("welcome", trigger=JourneyTrigger.signup(),
                                      steps=SERIES, enabled=False)
        member(crm, "hana")
        assert crm.journeys.run_due().enrolled == 0
        crm.journeys.resume(journey.id)
        assert crm.journeys.run_due().enrolled == 1
        crm.journeys.pause(journey.id)
        crm.clock.advance(3 * DAY)
        assert crm.journeys.run_due().queued == 0
        assert not crm.journeys.get(journey.id).enabled
        crm.journeys.resume(journey.id)
        assert crm.journeys.run_due().completed == 1

    @pytest.mark.parametrize(("fields", "field"), [
        ({"name": " "}, "name"),
        ({"trigger": "signup"}, "trigger"),
        ({"steps": []}, "steps"),
        ({"steps": ["hi"]}, "steps[0]"),
        ({"steps": [Step(-DAY, "hi")]}, "steps[0].wait"),
        ({"steps": [Step(DAY, "{{ customer.nmae }}")]}, "steps[0]"),
        ({"steps": [Step(DAY, "{{ points.balance }}")]}, "steps[0]"),
        ({"steps": [Step(DAY, "{{ coupon.code }}")]}, "steps[0]"),
        ({"steps": [Step(DAY, "{{ unsubscribe_url }}")]}, "steps[0]"),
        ({"steps": [Step(DAY, "hi", unsubscribe_url="https://x.jp/u")]}, "steps[0]"),
        ({"steps": [Step(DAY, "hi", channel="pigeon post")]}, "steps[0]"),
        ({"exit_on": ["refund"]}, "exit_on"),
        ({"enabled": "yes"}, "enabled"),
    ])
    def test_journey_bad_input_names_the_field_and_writes_nothing(
            self, crm: CRM, fields: dict[str, object], field: str) -> None:
        given: dict[str, object] = {"name": "welcome", "trigger": JourneyTrigger.signup(),
                                    "steps": SERIES} | fields
        with pytest.raises(ValidationError) as raised:
            crm.journeys.create(**given)  # type: ignore[arg-type]
        assert raised.value.field == field
        assert crm.journeys.list() == []

    def test_journey_bad_trigger_options_and_names(self, crm: CRM) -> None:
        for build, field in [(lambda: JourneyTrigger.birthday(-1), "days_before"),
                             (lambda: JourneyTrigger.cart_abandoned(timedelta(0)), "after"),
                             (lambda: JourneyTrigger.order_placed(3), "after"),  # type: ignore[arg-type]
                             (lambda: JourneyTrigger.win_back(-DAY), "after"),
                             (lambda: JourneyTrigger.points_expiring(timedelta(0)), "within"),
                             (lambda: JourneyTrigger.tier_changed(" "), "to"),
                             (lambda: JourneyTrigger.case_resolved(-DAY), "after")]:
            with pytest.raises(ValidationError) as raised:
                build()
            assert raised.value.field == field
        crm.journeys.create("welcome", trigger=JourneyTrigger.signup(), steps=SERIES)
        with pytest.raises(ConflictError):
            crm.journeys.create("welcome", trigger=JourneyTrigger.signup(), steps=SERIES)
        with pytest.raises(ValidationError) as raised:
            crm.journeys.run_due(datetime(2026, 4, 1))
        assert raised.value.field == "now"
        assert [j.name for j in crm.journeys.list()] == ["welcome"]

    def test_journey_enrollments_follow_a_merge(self, crm: CRM) -> None:
        """The survivor keeps one sign-up series; each order keeps its follow-up."""
        journey = crm.journeys.create("welcome", trigger=JourneyTrigger.signup(),
                                      steps=SERIES)
        follow_up = crm.journeys.create("thanks", trigger=JourneyTrigger.order_placed(HOUR),
                                        steps=SERIES)
        survivor, duplicate = member(crm, "survivor"), member(crm, "duplicate")
        order(crm, "o-survivor", survivor)
        order(crm, "o-duplicate", duplicate)
        crm.clock.advance(HOUR)
        assert crm.journeys.run_due().queued == 4
        crm.customers.merge(survivor, duplicate)
        mine = crm.journeys.for_customer(survivor)
        assert sorted(e.occasion for e in mine) == sorted(
            [survivor, duplicate, "o-survivor", "o-duplicate"])
        assert crm.journeys.for_customer(duplicate) == []
        at_merge = {(e.journey_id, e.occasion): (e.status, e.reason) for e in mine}
        assert at_merge[(journey.id, duplicate)] == (EnrollmentStatus.EXITED,
                                                      f"merged into {survivor}")
        crm.clock.advance(2 * DAY)
        assert crm.journeys.run_due().queued == 3
        ended = {(e.journey_id, e.occasion): e.status
                 for e in crm.journeys.for_customer(survivor)}
        assert ended == {(journey.id, survivor): EnrollmentStatus.COMPLETED,
                         (journey.id, duplicate): EnrollmentStatus.EXITED,
                         (follow_up.id, "o-survivor"): EnrollmentStatus.COMPLETED,
                         (follow_up.id, "o-duplicate"): EnrollmentStatus.COMPLETED}
        assert journey_messages(crm) == {
            **{f"journey:{journey.id}:{survivor}:{step}": 1 for step in (0, 1)},
            f"journey:{journey.id}:{duplicate}:0": 1,
            **{f"journey:{follow_up.id}:o-{who}:{step}": 1
               for who in ("survivor", "duplicate") for step in (0, 1)}}
