"""The demo's interactions, as rows for ``crm.interactions.import_many``: the browsing
and cart events before web and app orders, browsing that ended in an abandoned cart,
store visits, the monthly e-mail newsletter (sent, opened, clicked), LINE messages and
product reviews."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from ecrm.demo import catalogue
from ecrm.demo.buying import PlannedOrder
from ecrm.demo.people import Person

Row = dict[str, Any]
VIEWABLE = [p.sku for p in catalogue.PRODUCTS if p.weight]
LINE_MESSAGES = ("ありがとうございます", "新茶はいつ届きますか?", "クーポンは使えますか?")


def interactions(rng: random.Random, persons: list[Person], now: datetime) -> Iterator[Row]:
    """Every planned interaction, customer by customer."""
    newsletters = _monthly(now, months=12, day=10, hour=10)
    line_pushes = _monthly(now, months=12, day=20, hour=12)[::2]
    for person in persons:
        for order in person.orders:
            yield from _before_order(rng, order)
        yield from _browsing(rng, person, now)
        if "email" in person.consents:
            yield from _newsletters(rng, person, newsletters, now)
        if "line" in person.consents:
            yield from _line(rng, person, line_pushes, now)


def reviews(rng: random.Random, persons: list[Person], now: datetime
            ) -> list[tuple[PlannedOrder, datetime, int]]:
    """(order, when, rating) of the reviews customers write, a week or two after an order
    arrives."""
    result = []
    for person in persons:
        for order in person.orders:
            when = order.placed_at + timedelta(days=rng.uniform(5, 14))
            if (person.account is None and order.cancel_after is None and when < now
                    and rng.random() < 0.08):
                rating = rng.choices((5, 4, 3, 2, 1), (50, 30, 12, 5, 3))[0]
                result.append((order, when, rating))
    return result


def review_row(order: PlannedOrder, when: datetime, rating: int) -> Row:
    return {"customer_external_id": order.person.external_id, "channel": "web",
            "kind": "review", "occurred_at": when, "sku": order.lines[0][0],
            "reference": order.order_id, "payload": {"rating": rating}}


def _row(person: Person, channel: str, kind: str, at: datetime, **extra: Any) -> Row:
    return {"customer_external_id": person.external_id, "channel": channel, "kind": kind,
            "occurred_at": at, **extra}


def _before_order(rng: random.Random, order: PlannedOrder) -> Iterator[Row]:
    person, at = order.person, order.placed_at
    if order.channel == "store":
        yield _row(person, "store", "visit", at - timedelta(minutes=rng.randint(5, 30)))
        return
    if order.channel not in ("web", "app"):
        return  # marketplaces and LINE orders happen elsewhere
    skus = [sku for sku, _ in order.lines]
    viewed = skus + rng.sample(VIEWABLE, rng.randint(0, 3))
    moment = at - timedelta(minutes=rng.randint(8, 45))
    for sku in viewed:
        yield _row(person, order.channel, "product_view", moment, sku=sku)
        moment += timedelta(seconds=rng.randint(20, 240))
    for sku, quantity in order.lines:
        yield _row(person, order.channel, "cart_add", min(moment, at), sku=sku,
                   payload={"quantity": quantity})
    yield _row(person, order.channel, "checkout_started", at - timedelta(minutes=2))


def _browsing(rng: random.Random, person: Person, now: datetime) -> Iterator[Row]:
    """Visits that bought nothing; a third of them leave something in the cart."""
    channel = person.channel if person.channel in ("web", "app") else "web"
    days = (now - person.signed_up_at).days
    for _ in range(rng.randint(0, max(0, days // 90))):
        moment = person.signed_up_at + timedelta(days=rng.uniform(0, days),
                                                 minutes=rng.randint(0, 600))
        if any(abs(o.placed_at - moment) < timedelta(days=3) for o in person.orders):
            continue  # a visit that did buy is already there
        skus = rng.sample(VIEWABLE, rng.randint(1, 4))
        for sku in skus:
            yield _row(person, channel, "product_view", moment, sku=sku)
            moment += timedelta(seconds=rng.randint(20, 300))
        if rng.random() < 0.35:
            yield _row(person, channel, "cart_add", moment, sku=skus[-1],
                       payload={"quantity": 1})


def _newsletters(rng: random.Random, person: Person, sends: list[tuple[datetime, str]],
                 now: datetime) -> Iterator[Row]:
    engaged = rng.betavariate(2, 4)  # this reader's open rate
    for at, issue in sends:
        if at < person.signed_up_at:
            continue
        reference = f"newsletter-{issue}"
        yield _row(person, "email", "email_sent", at, reference=reference)
        if rng.random() < engaged:
            opened = at + timedelta(minutes=rng.expovariate(1 / 240))
            if opened < now:
                yield _row(person, "email", "email_opened", opened, reference=reference)
                if rng.random() < 0.22:
                    yield _row(person, "email", "email_clicked",
                               opened + timedelta(seconds=rng.randint(5, 90)),
                               reference=reference)


def _line(rng: random.Random, person: Person, pushes: list[tuple[datetime, str]],
          now: datetime) -> Iterator[Row]:
    for at, issue in pushes:
        if at < person.signed_up_at:
            continue
        yield _row(person, "line", "message_out", at, reference=f"line-{issue}")
        if rng.random() < 0.04:
            reply = at + timedelta(minutes=rng.randint(3, 300))
            if reply < now:
                yield _row(person, "line", "message_in", reply, reference=f"line-{issue}",
                           payload={"text": rng.choice(LINE_MESSAGES)})


def _monthly(now: datetime, *, months: int, day: int, hour: int
             ) -> list[tuple[datetime, str]]:
    """``(when, "YYYY-MM")`` of a monthly send at ``hour`` in Japan, the last ``months``
    months before ``now``."""
    result = []
    year, month = now.year, now.month
    for _ in range(months + 1):
        at = datetime(year, month, day, hour - 9, tzinfo=now.tzinfo)
        if at < now:
            result.append((at, f"{year}-{month:02d}"))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return sorted(result)[-months:]
