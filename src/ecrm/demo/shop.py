"""Building the demo shop: the plan of :mod:`ecrm.demo.people`, :mod:`~ecrm.demo.buying`,
:mod:`~ecrm.demo.touchpoints` and :mod:`~ecrm.demo.aftercare`, written through ecrm's
public API.

What has no time of its own is bulk-imported first (customers, orders, interactions).
Everything whose effect depends on when it happens (points earned and spent, coupons,
refunds, support cases, consent, campaigns) then runs in time order with the CRM's
clock set to each event's moment, so lots expire, tiers change and SLA clocks run as
they would have.
"""

from __future__ import annotations

import heapq
import random
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from itertools import count
from typing import Any

import ecrm
from ecrm.demo import aftercare, catalogue, touchpoints
from ecrm.demo.buying import JST_OFFSET, PlannedOrder, basket, plan_orders
from ecrm.demo.people import Company, Person, people
from ecrm.demo.summary import DemoSummary

DAYS = 730  # two years of history

#: The demo's points programme: 1 point per 100 yen, a first-order bonus, double points
#: in the birthday month, 50 points per review, a 14-day return window, points valid for
#: a year, silver and gold tiers by yearly spend.
LOYALTY_PROGRAM = ecrm.LoyaltyProgram(
    rates=[ecrm.BaseRate(points=1, per=Decimal(100), currency="JPY")],
    rules=[ecrm.FirstPurchaseBonus(100), ecrm.BirthdayMonthBonus(factor=Decimal(2)),
           ecrm.TierMultiplier({"silver": Decimal("1.5"), "gold": 2})],
    return_window=timedelta(days=14),
    points_valid_for=timedelta(days=365),
    review_bonus=50,
    timezone="Asia/Tokyo",
    tiers=ecrm.TierPolicy(tiers=[ecrm.Tier("silver", 20000), ecrm.Tier("gold", 50000)],
                          measure="spend", period="calendar_year",
                          grace=timedelta(days=31), currency="JPY"),
)
#: The demo's support targets: a reply within two days (one day for serious complaints,
#: four hours when urgent), a resolution within five days (three, two). The clocks count
#: every hour (the default calendar), so the figures read the same whether or not a CRM
#: opened later passes this policy; breaches are recorded in the database as they happen.
SUPPORT_POLICY = ecrm.SupportPolicy(targets=[
    ecrm.SLATarget(first_response=timedelta(hours=48), resolution=timedelta(hours=120)),
    ecrm.SLATarget(type="complaint", priority="high", first_response=timedelta(hours=24),
                   resolution=timedelta(hours=72)),
    ecrm.SLATarget(priority="urgent", first_response=timedelta(hours=4),
                   resolution=timedelta(hours=48)),
])


class Postbox:
    """The demo's e-mail delivery channel: accepts every message and sends nothing."""

    name = "email"

    def send(self, message: Any) -> str:
        return f"demo-{message.id}"


class DemoPlugin:
    """LINE as a channel of interactions and cases, and the e-mail postbox."""

    @ecrm.hookimpl
    def ecrm_channels(self, crm: Any) -> list[ecrm.Channel]:
        return [ecrm.Channel("line", "LINE", can_send=True, can_receive=True)]

    @ecrm.hookimpl
    def ecrm_delivery_channels(self, crm: Any) -> list[Postbox]:
        return [Postbox()]


def build_demo_shop(crm: ecrm.CRM, *, customers: int = 1000, seed: int = 0,
                    now: datetime | None = None,
                    progress: Callable[[str], None] | None = None) -> DemoSummary:
    """Fill ``crm``'s shop (its backend and tenant, which must hold no customers yet)
    with a demo Japanese tea shop of ``customers`` customers and two years of history
    up to ``now`` (default: the current time).

    The same ``seed``, ``customers`` and ``now`` give the same shop: the same people,
    external ids, order ids, amounts and counts (ecrm's own ids are new each time).
    Needs Faker (``pip install "ecrm[demo]"``).

    :param progress: called with the name of each stage as it starts.
    :raises ecrm.ConflictError: the shop already has customers.
    :raises ecrm.ValidationError: ``customers`` below 10.
    """
    if not isinstance(customers, int) or isinstance(customers, bool) or customers < 10:
        raise ecrm.ValidationError("customers", "the demo needs at least 10 customers")
    moment = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(
        microsecond=0)
    builder = _Builder(crm, customers, seed, moment, progress or (lambda stage: None))
    return builder.build()


class _Builder:
    def __init__(self, crm: ecrm.CRM, customers: int, seed: int, now: datetime,
                 progress: Callable[[str], None]) -> None:
        self.now, self.start = now, now - timedelta(days=DAYS)
        self.size, self.seed, self.progress = customers, seed, progress
        self.rng = random.Random(seed)
        self.clock = ecrm.ManualClock(self.start)
        self.shop = ecrm.CRM(crm.backend, tenant=crm.tenant, clock=self.clock,
                             currency="JPY", loyalty=LOYALTY_PROGRAM, support=SUPPORT_POLICY,
                             plugins=[DemoPlugin()])
        self.ids: dict[str, str] = {}  # external id -> ecrm id
        self.counts: Counter[str] = Counter()
        self.queue: list[tuple[datetime, int, Callable[[], object]]] = []
        self.sequence = count()
        self.order_numbers: Counter[tuple[str, str]] = Counter()

    # -- the stages -------------------------------------------------------------------

    def build(self) -> DemoSummary:
        started = time.perf_counter()
        if self.shop.customers.list(limit=1).items:
            raise ecrm.ConflictError(f"tenant {self.shop.tenant!r} already has customers; "
                                     "the demo needs an empty shop")
        self.progress("planning")
        persons, companies = self._plan()
        self.progress("customers")
        self._import_customers(persons, companies)
        self.progress("orders")
        self._import_orders(persons)
        self.progress("interactions")
        reviews = touchpoints.reviews(self.rng, persons, self.now)
        self._import_interactions(persons, reviews)
        self.progress("points, coupons, refunds, support and campaigns")
        self._schedule(persons, reviews)
        self._run()
        self.progress("mining association rules")
        self.clock.set(self.now)
        self.shop.cases.check_sla()  # the open cases past their targets
        [desk] = self.shop.cases.figures(since=self.start, until=self.now + timedelta(seconds=1))
        self.counts["sla_breaches"] = desk.breached
        model = self.shop.recommendations.mine(min_support=0.005, min_confidence=0.2)
        return DemoSummary.of(self.shop, self.counts, self.start, self.now, model.rule_count,
                              time.perf_counter() - started)

    def _plan(self) -> tuple[list[Person], list[Company]]:
        from faker import Faker

        fake = Faker("ja_JP")
        fake.seed_instance(self.seed)
        persons, companies = people(fake, self.rng, self.size, start=self.start, now=self.now)
        for person in persons:
            plan_orders(self.rng, person, self.now)
        orders = sorted((o for p in persons for o in p.orders), key=lambda o: o.placed_at)
        for order in orders:
            order.order_id = self._order_id(order.channel, order.placed_at)
        self.cases = aftercare.plan(self.rng, persons, self.now)
        return persons, companies

    def _order_id(self, channel: str, placed_at: datetime) -> str:
        prefix = next(p for name, _, p in catalogue.ORDER_CHANNELS if name == channel)
        day = (placed_at + JST_OFFSET).strftime("%y%m%d")
        self.order_numbers[(prefix, day)] += 1
        return f"{prefix}-{day}-{self.order_numbers[(prefix, day)]:04d}"

    def _import_customers(self, persons: list[Person], companies: list[Company]) -> None:
        accounts = {c.external_id: self.shop.accounts.create(
            name=c.name, external_id=c.external_id, attributes=c.attributes).id
            for c in companies}
        rows = [{**p.row, "account_id": accounts[p.account]} if p.account else p.row
                for p in persons]
        _check(self.shop.customers.import_many(rows), "customers")
        self.ids = {c.external_id: c.id for c in self.shop.customers.iterate()
                    if c.external_id is not None}
        self.counts.update(customers=len(persons), accounts=len(companies))

    def _import_orders(self, persons: list[Person]) -> None:
        rows = ({"order_id": o.order_id, "customer_external_id": p.external_id,
                 "placed_at": o.placed_at, "channel": o.channel, "lines": o.line_items()}
                for p in persons for o in p.orders)
        self.counts["orders"] += _check(self.shop.orders.import_many(rows), "orders")

    def _import_interactions(self, persons: list[Person],
                             reviews: list[tuple[PlannedOrder, datetime, int]]) -> None:
        rows = touchpoints.interactions(self.rng, persons, self.now)
        report = self.shop.interactions.import_many(rows)
        review_rows = (touchpoints.review_row(*review) for review in reviews)
        self.counts["interactions"] += _check(report, "interactions") + _check(
            self.shop.interactions.import_many(review_rows), "reviews")

    # -- events in time order -----------------------------------------------------------

    def at(self, moment: datetime, action: Callable[[], object]) -> None:
        """Run ``action`` with the clock at ``moment`` (if that is not in the future)."""
        if moment <= self.now:
            heapq.heappush(self.queue, (moment, next(self.sequence), action))

    def _run(self) -> None:
        month = ""
        while self.queue:
            moment, _, action = heapq.heappop(self.queue)
            self.clock.set(moment)
            action()
            if f"{moment:%Y-%m}" != month:
                month = f"{moment:%Y-%m}"
                self.progress(f"points, coupons, refunds, support and campaigns: {month}")

    def _schedule(self, persons: list[Person],
                  reviews: list[tuple[PlannedOrder, datetime, int]]) -> None:
        from ecrm.demo import events

        events.schedule(self, persons, reviews)

    def record_response(self, person: Person, placed_at: datetime, coupon: str | None,
                        min_order: int = 0) -> None:
        """A campaign's recipient buys: recorded as it happens (earning its points), with
        the campaign's ``coupon`` when the order reaches its ``min_order``."""
        channel = person.channel if person.channel in ("web", "app", "line") else "web"
        order = PlannedOrder(person, placed_at, channel,
                             basket(self.rng, person, placed_at, repeat=True))
        order.order_id = self._order_id(channel, placed_at)
        self.shop.orders.record(order_id=order.order_id, customer_id=self.ids[
            person.external_id], placed_at=placed_at, channel=channel, lines=order.line_items())
        self.counts["orders"] += 1
        if coupon is not None and order.total >= min_order:
            self.shop.coupons.redeem(coupon, order_id=order.order_id, order_total=order.total,
                                     customer_id=self.ids[person.external_id])
            self.counts["coupon_redemptions"] += 1


def _check(report: Any, what: str) -> int:
    """The rows ``report`` inserted; a rejected row is a bug in the demo's plan."""
    if report.rejected:
        first = report.rejected[0]
        raise AssertionError(f"the demo's {what} were rejected: {first.field}: {first.reason}")
    return int(report.inserted)
