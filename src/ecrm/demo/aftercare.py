"""After the sale: cancellations, refunds and the support desk.

Complaints about broken teaware or tea gone stale end in a refund, a late parcel in an
apology, returns in a full refund; questions about gift wrapping, points and brewing come
in from e-mail, phone, chat and LINE. The desk answers on weekdays from 9:00 to 18:00 and
on Saturdays from 10:00 to 17:00 (Japan time), so what comes in on a Saturday evening
waits until Monday, and a backlog now and then makes a reply late: the SLA figures have
breaches to show. Resolved cases ask for a CSAT survey; about half the customers answer,
less kindly when they waited.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ecrm.demo import catalogue
from ecrm.demo.buying import JST_OFFSET, PlannedOrder
from ecrm.demo.people import Person, pick

STAFF = ("sato", "suzuki", "takahashi", "watanabe")
#: Opening hours of the desk by weekday (Monday 0): (open, close) hours in Japan.
HOURS = {0: (9, 18), 1: (9, 18), 2: (9, 18), 3: (9, 18), 4: (9, 18), 5: (10, 17)}

#: category -> (type, subject, first message, replies..., root cause)
SCRIPTS: dict[str, dict[str, Any]] = {
    "damaged_in_transit": dict(
        type="complaint", subject="商品が破損して届きました", root_cause="packaging",
        body="本日届いた「{product}」が割れていました。交換か返金をお願いできますか。",
        reply="ご迷惑をおかけし大変申し訳ございません。お手数ですが破損箇所の写真をお送り"
              "いただけますでしょうか。",
        follow_up="写真を添付します。箱もつぶれていました。",
        resolution="写真を確認いたしました。ご返金の手続きをいたしました。今後は梱包を見直します。"),
    "quality": dict(
        type="complaint", subject="お茶の風味について", root_cause="storage",
        body="「{product}」を開けたところ、いつもより香りが弱いように感じます。",
        reply="ご不快な思いをおかけし申し訳ございません。製造ロットを確認いたします。",
        resolution="保管中の品質低下が確認されたため、全額ご返金いたしました。"),
    "late_delivery": dict(
        type="complaint", subject="商品がまだ届きません", root_cause="carrier",
        body="注文から5日経ちますが、まだ届いていません。いつ届きますか。",
        reply="配送業者に確認いたしました。明日の午前中にお届けの予定です。大変お待たせして"
              "申し訳ございません。"),
    "return_request": dict(
        type="return", subject="返品について", root_cause="changed_mind",
        body="贈答用に購入しましたが不要になりました。未開封ですが返品できますか。",
        reply="未開封の商品は到着後14日以内であれば返品を承ります。返送用の伝票をお送りします。",
        resolution="返品商品の到着を確認し、ご返金いたしました。"),
    "product_question": dict(
        type="inquiry", subject="玉露の淹れ方について",
        body="玉露のおいしい淹れ方を教えてください。お湯の温度は何度がよいですか。",
        reply="50〜60℃のお湯で2分ほどじっくり淹れるのがおすすめです。"),
    "gift_wrapping": dict(
        type="inquiry", subject="のしの表書きについて",
        body="お中元用にのしをお願いしたいのですが、名入れは可能でしょうか。",
        reply="名入れ無料で承ります。ご注文時の備考欄にお名前をご記入ください。"),
    "points": dict(
        type="inquiry", subject="ポイントの有効期限について",
        body="ポイントの有効期限はいつまでですか。",
        reply="ポイントは付与から1年間有効です。マイページで期限をご確認いただけます。"),
    "delivery_date": dict(
        type="inquiry", subject="お届け日の変更について",
        body="お届け日を土曜日の午前中に変更できますか。",
        reply="土曜日午前中のお届けに変更いたしました。"),
    "account": dict(
        type="inquiry", subject="登録メールアドレスの変更",
        body="登録しているメールアドレスを変更したいです。",
        reply="マイページの「会員情報の変更」から変更いただけます。"),
}
INQUIRIES = (("product_question", 3), ("gift_wrapping", 2), ("points", 2),
             ("delivery_date", 2), ("account", 1))
THANKS = ("ありがとうございました。", "承知しました。助かります。", "丁寧にありがとうございます。")
COMMENTS = {5: ("迅速な対応ありがとうございました", "とても丁寧でした"),
            4: ("対応に満足しています",), 3: ("もう少し早いと助かります",),
            2: ("返信が遅かったです",), 1: ("対応に不満があります",)}


@dataclass
class CaseScript:
    """A support case as planned: who, about which order, and its steps in time."""

    person: Person
    category: str
    channel: str
    priority: str
    opened_at: datetime
    order: PlannedOrder | None = None
    steps: list[tuple[datetime, str, str | int | None]] = field(default_factory=list)
    case_id: str = ""

    @property
    def script(self) -> dict[str, Any]:
        return SCRIPTS[self.category]

    def body(self) -> str:
        product = catalogue.BY_SKU[self.order.lines[0][0]].name if self.order else ""
        return str(self.script["body"]).format(product=product)


def plan(rng: random.Random, persons: list[Person], now: datetime) -> list[CaseScript]:
    """Plan cancellations and refunds on the orders, and the support cases."""
    cases: list[CaseScript] = []
    for person in persons:
        for order in person.orders:
            _after_order(rng, order, now, cases)
        if person.orders and rng.random() < 0.08:
            first = person.orders[0].placed_at
            moment = first + (now - first) * rng.random()
            cases.append(_case(rng, person, pick(rng, INQUIRIES), moment, now))
    return [case for case in cases if case.opened_at < now]


def _after_order(rng: random.Random, order: PlannedOrder, now: datetime,
                 cases: list[CaseScript]) -> None:
    if order.person.account is not None:
        return
    draw = rng.random()
    if draw < 0.012:
        order.cancel_after = timedelta(minutes=rng.randint(10, 180))
    elif draw < 0.032:
        ware = [sku for sku, _ in order.lines
                if catalogue.BY_SKU[sku].category == catalogue.TEAWARE]
        category = "damaged_in_transit" if ware else "quality"
        case = _case(rng, order.person, category, order.placed_at + timedelta(
            days=rng.uniform(1.5, 4)), now, order)
        _refund_on_resolution(order, case, ware[0] if ware else "all",
                              "破損" if ware else "品質不良")
        cases.append(case)
    elif draw < 0.044:
        cases.append(_case(rng, order.person, "late_delivery", order.placed_at + timedelta(
            days=rng.uniform(4, 6)), now, order))
    elif draw < 0.05:
        case = _case(rng, order.person, "return_request", order.placed_at + timedelta(
            days=rng.uniform(3, 10)), now, order)
        _refund_on_resolution(order, case, "all", "返品")
        cases.append(case)


def _refund_on_resolution(order: PlannedOrder, case: CaseScript, what: str, reason: str
                          ) -> None:
    """Refund ``what`` (a SKU's line, or "all") just before the case is resolved."""
    for at, action, _ in case.steps:
        if action == "resolve":
            order.refund = (what, at - timedelta(minutes=1), reason)


def _case(rng: random.Random, person: Person, category: str, opened_at: datetime,
          now: datetime, order: PlannedOrder | None = None) -> CaseScript:
    kind = SCRIPTS[category]["type"]
    channel = pick(rng, (("email", 45), ("phone", 20), ("chat", 15),
                         ("line", 20 if "line" in person.consents else 0)))
    priority = ("urgent" if rng.random() < 0.04 else
                pick(rng, (("high", 5), ("normal", 5))) if kind == "complaint" else
                pick(rng, (("normal", 7), ("low", 3))))
    case = CaseScript(person, category, channel, priority, opened_at, order)
    case.steps = [step for step in _steps(rng, case) if step[0] < now]
    return case


def _steps(rng: random.Random, case: CaseScript) -> list[tuple[datetime, str, Any]]:
    script, steps = case.script, []
    fast = case.priority in ("urgent", "high")
    moment = desk_time(case.opened_at, rng.lognormvariate(4.0 if fast else 4.6, 0.8))
    if rng.random() < 0.07:  # a backlog: this one waits another day or two
        moment = desk_time(moment, rng.uniform(8, 20) * 60)
    steps.append((moment, "reply", script["reply"]))
    if "follow_up" in script:
        moment += timedelta(seconds=1)
        steps.append((moment, "pending", None))
        moment += timedelta(hours=rng.uniform(2, 30))
        steps.append((moment, "inbound", script["follow_up"]))
    elif rng.random() < 0.4:
        moment += timedelta(minutes=rng.uniform(20, 600))
        steps.append((moment, "inbound", rng.choice(THANKS)))
    if "resolution" in script:
        moment = desk_time(moment, rng.lognormvariate(5.5, 0.7))
        steps.append((moment, "reply", script["resolution"]))
    moment = desk_time(moment, rng.uniform(5, 60))
    steps.append((moment, "resolve", None))
    waited = moment - case.opened_at
    if rng.random() < 0.5:
        late = waited > timedelta(days=3)
        score = rng.choices((5, 4, 3, 2, 1), (15, 30, 25, 18, 12) if late
                            else (48, 34, 10, 5, 3))[0]
        steps.append((moment + timedelta(hours=rng.uniform(1, 48)), "survey", score))
    steps.append((moment + timedelta(days=7), "close", None))
    return steps


def desk_time(moment: datetime, minutes: float) -> datetime:
    """``minutes`` of the desk's opening hours after ``moment``."""
    remaining = timedelta(minutes=minutes)
    local = moment.replace(tzinfo=None, microsecond=0) + JST_OFFSET
    while True:
        hours = HOURS.get(local.weekday())
        if hours is not None:
            opens = local.replace(hour=hours[0], minute=0, second=0)
            closes = local.replace(hour=hours[1], minute=0, second=0)
            if local < closes:
                local = max(local, opens)
                if local + remaining <= closes:
                    return (local + remaining - JST_OFFSET).replace(microsecond=0,
                                                                    tzinfo=moment.tzinfo)
                remaining -= closes - local
        local = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0)
