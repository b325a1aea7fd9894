"""The demo's timed events: consent at sign-up, each order's coupon, points and refund,
the support desk's work, reviews, the monthly expiry of points, the yearly tier review
and two e-mail campaigns, each run by the builder with the clock at its moment."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import ecrm
from ecrm.demo import aftercare, catalogue
from ecrm.demo.buying import JST_OFFSET, PlannedOrder
from ecrm.demo.people import Person

if TYPE_CHECKING:
    from ecrm.demo.shop import _Builder

WINBACK_MIN_ORDER = 2000
SEASONS = {"OCHUGEN": "お中元", "OSEIBO": "お歳暮"}


def schedule(builder: _Builder, persons: list[Person],
             reviews: list[tuple[PlannedOrder, datetime, int]]) -> None:
    coupons = _coupons(builder)
    for person in persons:
        _consent(builder, person)
        for order in person.orders:
            _order(builder, order, coupons)
    for case in builder.cases:
        _case(builder, case)
    for order, when, _ in reviews:
        builder.at(when, _review(builder, order))
    _calendar(builder)
    _campaigns(builder, persons)


# -- consent ------------------------------------------------------------------------------


def _consent(builder: _Builder, person: Person) -> None:
    customer_id = builder.ids[person.external_id]
    for channel in person.consents:
        builder.at(person.signed_up_at, lambda channel=channel: _grant(builder, customer_id,
                                                                       channel))
        if channel == "email" and builder.rng.random() < 0.08:  # some unsubscribe later
            later = person.signed_up_at + (builder.now - person.signed_up_at) * builder.rng.random()
            builder.at(later, lambda: builder.shop.consent.withdraw(
                customer_id, "email", source="unsubscribe link"))


def _grant(builder: _Builder, customer_id: str, channel: str) -> None:
    builder.shop.consent.grant(customer_id, channel, source="signup form")
    builder.counts["consents"] += 1


# -- orders -------------------------------------------------------------------------------


def _coupons(builder: _Builder) -> list[tuple[str, datetime, datetime]]:
    """WELCOME500 for first orders, and 10% off gifts each gift season in the window:
    ``(code, valid from, valid until)`` of the seasonal ones."""
    shop = builder.shop
    shop.coupons.create(code="WELCOME500", amount=500, min_order=3000, per_customer_limit=1,
                        description="はじめてのご注文 500円引き")
    seasons = []
    for year in range(builder.start.year, builder.now.year + 1):
        for name, first, last in (("OCHUGEN", (6, 1), (7, 31)), ("OSEIBO", (11, 15), (12, 25))):
            valid_from = datetime(year, *first, tzinfo=builder.now.tzinfo) - JST_OFFSET
            valid_until = datetime(year, *last, 23, 59, tzinfo=builder.now.tzinfo) - JST_OFFSET
            if valid_until < builder.start or valid_from > builder.now:
                continue
            code = f"{name}{year}"
            shop.coupons.create(code=code, percent=10, max_discount=1000,
                                valid_from=valid_from, valid_until=valid_until,
                                description=f"{year}年 {SEASONS[name]}ギフト 10%オフ")
            seasons.append((code, valid_from, valid_until))
    builder.counts["coupons"] += 1 + len(seasons)
    return seasons


def _order(builder: _Builder, order: PlannedOrder,
           seasons: list[tuple[str, datetime, datetime]]) -> None:
    rng, at = builder.rng, order.placed_at
    customer_id = builder.ids[order.person.external_id]
    code = _coupon_for(rng, order, seasons)
    if code is not None:
        builder.at(at, lambda: _redeem_coupon(builder, code, order, customer_id))
    if order.number >= 2 and rng.random() < 0.4:
        share = rng.uniform(0.5, 1.0)
        builder.at(at, lambda: _spend_points(builder, order, customer_id, share))
    builder.at(at, lambda: _earn(builder, order.order_id))
    if order.cancel_after is not None:
        when = at + order.cancel_after
        builder.at(when, lambda: _cancel(builder, order.order_id, when))
    if order.refund is not None:
        what, when, reason = order.refund
        amount = None if what == "all" else catalogue.BY_SKU[what].price
        builder.at(when, lambda: _refund(builder, order.order_id, amount, when, reason))


def _coupon_for(rng: random.Random, order: PlannedOrder,
                seasons: list[tuple[str, datetime, datetime]]) -> str | None:
    if order.person.account is not None:
        return None
    if (order.number == 1 and order.channel in ("web", "app", "line")
            and order.total >= 3000 and rng.random() < 0.3):
        return "WELCOME500"
    gifts = any(catalogue.BY_SKU[sku].category == catalogue.GIFT for sku, _ in order.lines)
    for code, valid_from, valid_until in seasons:
        if gifts and valid_from <= order.placed_at <= valid_until and rng.random() < 0.35:
            return code
    return None


def _redeem_coupon(builder: _Builder, code: str, order: PlannedOrder, customer_id: str) -> None:
    builder.shop.coupons.redeem(code, order_id=order.order_id, order_total=order.total,
                                customer_id=customer_id)
    builder.counts["coupon_redemptions"] += 1


def _spend_points(builder: _Builder, order: PlannedOrder, customer_id: str, share: float
                  ) -> None:
    """Pay part of the order with points, when the customer has at least 100."""
    spendable = builder.shop.loyalty.balance(customer_id).spendable
    points = min(int(spendable * share) // 10 * 10, int(order.total))
    if spendable >= 100 and points > 0:
        builder.shop.loyalty.redeem(customer_id, points, key=f"redeem-{order.order_id}",
                                    reference=order.order_id, reason="used at checkout")
        builder.counts["points_redemptions"] += 1


def _earn(builder: _Builder, order_id: str) -> None:
    builder.shop.loyalty.earn_for_order(order_id)


def _cancel(builder: _Builder, order_id: str, when: datetime) -> None:
    builder.shop.orders.cancel(order_id, cancelled_at=when)
    builder.counts["cancellations"] += 1


def _refund(builder: _Builder, order_id: str, amount: Decimal | None, when: datetime,
            reason: str) -> None:
    builder.shop.orders.refund(order_id, refund_id=f"RF-{order_id}", amount=amount,
                               refunded_at=when, reason=reason)
    builder.counts["refunds"] += 1


def _review(builder: _Builder, order: PlannedOrder) -> Any:
    customer_id = builder.ids[order.person.external_id]
    return lambda: builder.shop.loyalty.award_review(customer_id,
                                                     review_id=f"review-{order.order_id}")


# -- support ------------------------------------------------------------------------------


def _case(builder: _Builder, case: aftercare.CaseScript) -> None:
    rng = builder.rng
    assignee = rng.choice(aftercare.STAFF)
    builder.at(case.opened_at, lambda: _open(builder, case, assignee))
    for moment, action, value in case.steps:
        builder.at(moment, lambda action=action, value=value: _step(
            builder, case, action, value, assignee))


def _open(builder: _Builder, case: aftercare.CaseScript, assignee: str) -> None:
    script = case.script
    opened = builder.shop.cases.open(
        builder.ids[case.person.external_id], subject=script["subject"], channel=case.channel,
        body=case.body(), type=script["type"], priority=case.priority, category=case.category,
        root_cause=script.get("root_cause"), assignee=assignee, team="care",
        order_ids=[case.order.order_id] if case.order else None,
        tags=["gift"] if case.category == "gift_wrapping" else None)
    case.case_id = opened.id
    builder.counts["cases"] += 1


def _step(builder: _Builder, case: aftercare.CaseScript, action: str, value: Any,
          assignee: str) -> None:
    cases = builder.shop.cases
    if action == "reply":
        cases.add_message(case.case_id, body=value, kind="reply", author=assignee)
    elif action == "inbound":
        cases.add_message(case.case_id, body=value)
    elif action in ("pending", "resolve", "close"):
        status = {"resolve": "resolved", "close": "closed"}.get(action, action)
        cases.change_status(case.case_id, status, actor=assignee)
    elif action == "survey":
        [survey] = cases.surveys(case.case_id)[-1:]
        comment = (builder.rng.choice(aftercare.COMMENTS[value])
                   if builder.rng.random() < 0.4 else None)
        cases.answer_survey(survey.id, value, comment=comment)
        builder.counts["survey_answers"] += 1


# -- the calendar -------------------------------------------------------------------------


def _calendar(builder: _Builder) -> None:
    """On the 1st of every month points past their expiry expire; on 2 February each
    year the tiers of the year that ended are reviewed."""
    year, month = builder.start.year, builder.start.month
    while True:
        year, month = (year, month + 1) if month < 12 else (year + 1, 1)
        moment = datetime(year, month, 1, 3, tzinfo=builder.now.tzinfo) - JST_OFFSET
        if moment > builder.now:
            break
        builder.at(moment, lambda: _expire(builder))
        if month == 2:
            builder.at(moment + timedelta(days=1), builder.shop.tiers.review_due)


def _expire(builder: _Builder) -> None:
    builder.counts["expiries"] += len(builder.shop.loyalty.expire_due())


# -- campaigns ----------------------------------------------------------------------------


def _campaigns(builder: _Builder, persons: list[Person]) -> None:
    """An A/B-tested announcement of the new tea to repeat buyers, a win-back mail with a
    coupon for each lapsed customer, and a year-end gift mail scheduled for next week."""
    by_id = {builder.ids[p.external_id]: p for p in persons}
    shop, now = builder.shop, builder.now
    launch_a = _morning(now - timedelta(days=200))
    launch_b = _morning(now - timedelta(days=45))

    def shincha() -> None:
        segment = shop.segments.create(
            "リピーター", rule="orders.count >= 2",
            description="2回以上ご購入のお客様")
        campaign = shop.campaigns.create(
            "新茶のご案内", segment=segment.id, channel="email", cost=20000,
            variants=[ecrm.Variant("plain", _NEWS, subject="{{ customer.name }}様、新茶のご案内"),
                      ecrm.Variant("limited", _NEWS,
                                   subject="【数量限定】今年の新茶が入荷しました")])
        _send(builder, campaign.id, by_id, response=0.06)

    def winback() -> None:
        segment = shop.segments.create(
            "休眠顧客", rule="orders.count >= 1 and days_since_last_order >= 120",
            description="120日以上ご購入のないお客様")
        campaign = shop.campaigns.create(
            "お久しぶりクーポン", segment=segment.id, channel="email", cost=15000,
            subject="{{ customer.name }}様、500円クーポンをお届けします",
            body=_WINBACK,
            coupon=ecrm.CouponOffer(terms={"amount": 500, "min_order": WINBACK_MIN_ORDER,
                                           "valid_days": 14}, prefix="BACK"))
        _send(builder, campaign.id, by_id, response=0.09, coupons=True)

    builder.at(launch_a, shincha)
    builder.at(launch_b, winback)
    builder.at(launch_b + timedelta(hours=1), lambda: _scheduled(builder))


def _scheduled(builder: _Builder) -> None:
    shop = builder.shop
    segment = shop.segments.create("ギフト購入者", rule='bought(category="ギフト")',
                                   description="ギフト商品をご購入のお客様")
    shop.campaigns.create("年末ギフト特集", segment=segment.id, channel="email",
                          subject="{{ customer.name }}様、お歳暮ギフトのご案内", body=_GIFTS,
                          scheduled_at=_morning(builder.now + timedelta(days=7)))
    builder.counts["campaigns"] += 1


def _send(builder: _Builder, campaign_id: str, by_id: dict[str, Person], *, response: float,
          coupons: bool = False) -> None:
    """Launch, deliver, and schedule what the recipients do: opens, clicks and orders.
    Each recipient's reaction is drawn from a generator of their own, so the counts do
    not depend on ecrm's ids or on the order they come in."""
    shop = builder.shop
    shop.campaigns.launch(campaign_id)
    while shop.messages.dispatch(limit=500).claimed:
        pass
    builder.counts["campaigns"] += 1
    sent = shop.messages.counts(campaign_id)["sent"]
    builder.counts["messages_sent"] += sent
    members, after = [], None
    while page := shop.campaigns.members(campaign_id, after=after):
        members += [m for m in page if m.message_id is not None]
        after = page[-1].customer_id
    launched = builder.clock.now()
    for member in members:
        person = by_id[member.customer_id]
        rng = random.Random(f"{builder.seed}:{launched.isoformat()}:{person.external_id}")
        if rng.random() < 0.35:
            opened = launched + timedelta(minutes=rng.expovariate(1 / 300))
            builder.at(opened, lambda m=member, at=opened: shop.messages.opened(m.message_id,
                                                                                  at=at))
            if rng.random() < 0.3:
                clicked = opened + timedelta(seconds=rng.randint(5, 120))
                builder.at(clicked, lambda m=member, at=clicked: shop.messages.clicked(
                    m.message_id, url="https://shop.example.jp/campaign", at=at))
        if rng.random() < response:
            when = launched + timedelta(days=rng.uniform(0.2, 6.5))
            code = member.coupon_code if coupons else None
            builder.at(when, lambda p=person, w=when, c=code: builder.record_response(
                p, w, c, WINBACK_MIN_ORDER))


def _morning(moment: datetime) -> datetime:
    """10:00 in Japan on ``moment``'s day (Japan time)."""
    local = (moment + JST_OFFSET).replace(hour=10, minute=0, second=0, microsecond=0)
    return local - JST_OFFSET


_NEWS = """{{ customer.name }}様

いつもご利用いただきありがとうございます。
今年の新茶が静岡の契約農家から届きました。摘みたての爽やかな香りをお楽しみください。

茶匠園"""
_WINBACK = """{{ customer.name }}様

しばらくご無沙汰しております。次回のお買い物でお使いいただける500円クーポンをお届けします。

クーポンコード: {{ coupon.code }}({{ coupon.valid_until | date('%m月%d日') }}まで)

茶匠園"""
_GIFTS = """{{ customer.name }}様

今年もお歳暮の季節となりました。玉露と羊羹の詰め合わせなど、贈り物にぴったりのギフトをご用意しています。

茶匠園"""
