"""How the demo's customers buy: when, where and what.

Each customer follows a simple buy-till-you-die process, the one the BG/NBD model of
``crm.analytics.predict_clv`` assumes: a first order soon after signing up, then orders
at a personal pace with seasonal peaks (新茶 in May, お中元 in July, お歳暮 in
December), and after each order a chance of never coming back. Most buy once, some
become regulars, some regulars drift away. Baskets follow each customer's taste, come back
to their favourite tea and hold the cross-selling pairs of the catalogue. B2B buyers
order gift sets by the dozen for the gift seasons.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import ecrm
from ecrm.demo import catalogue
from ecrm.demo.people import Person, pick

JST_OFFSET = timedelta(hours=9)
#: Orders per hour of the day in Japan: lunch, and the evening after work.
HOURS = (2, 1, 0.5, 0.3, 0.2, 0.3, 0.8, 1.5, 2, 2.5, 3, 3.5, 4.5, 4, 3, 3, 3, 3.5, 4, 5, 6,
         6.5, 5.5, 3.5)


@dataclass
class PlannedOrder:
    """An order as planned, with what will happen to it later."""

    person: Person
    placed_at: datetime
    channel: str
    lines: list[tuple[str, int]]  # (sku, quantity)
    number: int = 0  # the customer's how-many-th order
    order_id: str = ""
    cancel_after: timedelta | None = None
    refund: tuple[str, datetime, str] | None = None  # (sku or "all", when, reason)

    @property
    def total(self) -> Decimal:
        return sum((catalogue.BY_SKU[sku].price * qty for sku, qty in self.lines), Decimal(0))

    def line_items(self) -> list[ecrm.OrderLine]:
        return [ecrm.OrderLine(sku, qty, catalogue.BY_SKU[sku].price,
                               catalogue.BY_SKU[sku].category) for sku, qty in self.lines]


def plan_orders(rng: random.Random, person: Person, now: datetime) -> None:
    """Fill ``person.orders`` with their orders up to ``now``."""
    if person.account is not None:
        _plan_business(rng, person, now)
    elif rng.random() < 0.88:
        _plan_consumer(rng, person, now)
    for number, order in enumerate(sorted(person.orders, key=lambda o: o.placed_at), 1):
        order.number = number
    person.orders.sort(key=lambda order: order.placed_at)


def _plan_consumer(rng: random.Random, person: Person, now: datetime) -> None:
    start = person.signed_up_at
    moment = start + (timedelta(minutes=rng.randint(5, 120)) if rng.random() < 0.6
                      else timedelta(days=rng.expovariate(1 / 12)))
    pace = rng.lognormvariate(4.0, 0.45)  # mean days between orders, median ~55
    leave_after_first = 0.55
    leave_later = rng.betavariate(1.5, 9)
    first = True
    while moment < now:
        person.orders.append(_order(rng, person, _at_hour(rng, moment), first=first))
        if rng.random() < (leave_after_first if first else leave_later):
            break
        first = False
        moment = _next(rng, moment, pace)
    _plan_gifts(rng, person, now)


def _next(rng: random.Random, moment: datetime, pace: float) -> datetime:
    """The next order after ``moment``: purchase chances at the customer's pace, taken
    more often in busy months."""
    while True:
        moment += timedelta(days=max(7.0, rng.expovariate(1 / (pace * 0.7))))
        if rng.random() < catalogue.SEASON[_local(moment).month] / 1.5:
            return moment


def _plan_gifts(rng: random.Random, person: Person, now: datetime) -> None:
    """Extra gift orders in the gift seasons from customers who like giving gifts."""
    if not person.orders:
        return
    giver = person.taste[catalogue.GIFT] / catalogue.CATEGORY_WEIGHTS[catalogue.GIFT]
    last = person.orders[-1].placed_at + timedelta(days=120)  # only while still a customer
    for year in range(person.signed_up_at.year, now.year + 1):
        for month, day in ((7, 5), (12, 5)):
            moment = datetime(year, month, day, tzinfo=now.tzinfo) + timedelta(
                days=rng.uniform(-20, 15))
            if person.signed_up_at < moment < min(now, last) and rng.random() < 0.12 * giver:
                person.orders.append(_order(rng, person, _at_hour(rng, moment), gift=True))


def _plan_business(rng: random.Random, person: Person, now: datetime) -> None:
    for year in range(person.signed_up_at.year, now.year + 1):
        for month in range(1, 13):
            moment = datetime(year, month, rng.randint(3, 20), tzinfo=now.tzinfo) \
                - JST_OFFSET + timedelta(hours=rng.randint(10, 16))
            if not person.signed_up_at < moment < now:
                continue
            if month in (7, 12):
                gift = rng.choice(["GIFT-PREMIUM", "GIFT-TEA-YOKAN"])
                quantity = rng.randint(2, 8) * 5
                lines = [(gift, quantity), ("GIFT-WRAP", quantity)]
            elif rng.random() < 0.45:
                lines = [(rng.choice(["TEA-MIZUDASHI-50P", "TEA-SENCHA-100", "TEA-HOJICHA-200"]),
                          rng.randint(5, 12))]
            else:
                continue
            person.orders.append(PlannedOrder(person, moment, "web", lines))


def _order(rng: random.Random, person: Person, placed_at: datetime, *, first: bool = False,
           gift: bool = False) -> PlannedOrder:
    channel = person.channel if rng.random() < 0.8 or first else pick(
        rng, [(name, share) for name, share, _ in catalogue.ORDER_CHANNELS])
    return PlannedOrder(person, placed_at, channel, basket(rng, person, placed_at, gift=gift,
                                                          repeat=not first))


def basket(rng: random.Random, person: Person, placed_at: datetime, *, gift: bool = False,
           repeat: bool = False) -> list[tuple[str, int]]:
    """The lines of one order: a main item, its usual partners, sometimes one more."""
    month = _local(placed_at).month
    if gift:
        main = rng.choice(["GIFT-TEA-YOKAN", "GIFT-PREMIUM"])
    elif repeat and rng.random() < 0.45:
        main = person.favourite
    else:
        weights = {category: weight * (catalogue.GIFT_MONTHS.get(month, 0.6)
                                       if category == catalogue.GIFT else 1.0)
                   for category, weight in person.taste.items()}
        category = pick(rng, weights.items())
        skus, sku_weights = catalogue.MAIN_ITEMS[category]
        main = rng.choices(skus, sku_weights)[0]
    items = [main]
    for partner, chance in catalogue.PARTNERS.get(main, ()):
        if partner not in items and rng.random() < chance:
            items.append(partner)
    if rng.random() < 0.15:
        extra = rng.choice([p.sku for p in catalogue.PRODUCTS if p.weight])
        if extra not in items:
            items.append(extra)
    lines = [(sku, _quantity(rng, sku)) for sku in items if sku != "GIFT-WRAP"]
    if "GIFT-WRAP" in items:  # one wrapping per gift
        gifts = sum(qty for sku, qty in lines if catalogue.BY_SKU[sku].category == catalogue.GIFT)
        lines.append(("GIFT-WRAP", gifts or 1))
    return lines


def _quantity(rng: random.Random, sku: str) -> int:
    category = catalogue.BY_SKU[sku].category
    if category == catalogue.TEAWARE:
        return 1
    if category == catalogue.GIFT:
        return pick(rng, ((1, 0.7), (2, 0.2), (3, 0.1)))
    return pick(rng, ((1, 0.68), (2, 0.24), (3, 0.08)))


def _at_hour(rng: random.Random, moment: datetime) -> datetime:
    """``moment``'s day in Japan at a typical shopping hour."""
    local = _local(moment)
    hour = rng.choices(range(24), HOURS)[0]
    return (local.replace(hour=hour, minute=rng.randrange(60), second=rng.randrange(60),
                          microsecond=0) - JST_OFFSET).replace(tzinfo=moment.tzinfo)


def _local(moment: datetime) -> datetime:
    """``moment`` (UTC) as a naive Japan time."""
    return moment.replace(tzinfo=None) + JST_OFFSET - (moment.utcoffset() or timedelta(0))
