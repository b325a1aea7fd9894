"""Random small shops and random segment rules, for differential tests: the same rule over
the same shop must select the same customers on every backend.

The pools are small on purpose: times sit on and around the edges of the windows rules
test (exactly N days back, a second either side), texts differ by case, padding and LIKE
wildcards, and birthdays fall around 29 February, so a backend that rounds, pads or folds
differently from :mod:`ecrm.domain.segment_eval` is caught.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import attrs
from hypothesis import strategies as st

from ecrm.domain.orders import OrderLine
from ecrm.domain.segment_fields import FieldRegistry, SegmentField, ValueType
from ecrm.domain.segment_rules import NULL_TESTS, And, Condition, Not, Op, Or, Rule

JST = timezone(timedelta(hours=9))
#: As-of times: a leap day in Japan, midnight UTC on 1 March, an evening in New York.
AS_OF = (datetime(2028, 2, 29, 10, 0, tzinfo=JST),
         datetime(2027, 3, 1, 0, 0, tzinfo=timezone.utc),
         datetime(2026, 11, 22, 19, 30, tzinfo=timezone(timedelta(hours=-5))))
SECOND, DAY = timedelta(seconds=1), timedelta(days=1)
#: How long before the as-of time things happen (negative: after it).
AGES = (timedelta(0), SECOND, DAY - SECOND, DAY, DAY + SECOND, 7 * DAY, 30 * DAY,
        30 * DAY + SECOND, 90 * DAY, 365 * DAY, -DAY)
DAYS = (-1, 0, 1, 2, 7, 29, 30, 31, 90, 365)
TEXTS = ("gold", "Gold", "gold ", "g%ld", "g_ld", "ゴールド", "東京都", "神奈川県", "web",
         "sns", "@shop.example", "A", "x", "new", "lost", "champions", "hibernating",
         "potential_loyalist")
AMOUNTS = ("0", "999", "1000", "1000.5", "1500", "2000", "2999", "3000", "4500.25")
SKUS, CATEGORIES = ("A", "B", "a"), ("books", "food")
CHANNELS = ("web", "sns", "store")
KINDS = ("cart_add", "product_view", "email_opened")
#: When lots become spendable and expire, relative to the as-of time.
LOTS = ((-DAY, None), (-DAY, -SECOND), (-DAY, timedelta(0)), (-DAY, 2 * DAY), (DAY, None),
        (DAY, 2 * DAY))
RANKS = ("gold", "Gold", "gold ", "g%ld", "ゴールド", 3, True)


@attrs.frozen
class OrderPlan:
    """One order of a planned customer."""

    age: timedelta
    channel: str
    lines: tuple[tuple[str, str | None, int, int], ...]  # sku, category, quantity, price
    currency: str = "JPY"
    cancelled: bool = False
    refund: int = 0


@attrs.frozen
class CustomerPlan:
    """One planned customer and what happened to them."""

    birth_date: date | None
    prefecture: str | None
    rank: Any
    signed_up: timedelta
    in_account: bool
    orders: tuple[OrderPlan, ...]
    interactions: tuple[tuple[str, str, str | None, timedelta], ...]  # kind, channel, sku
    cases: tuple[tuple[str, bool, timedelta], ...]  # type, resolved, age
    points: tuple[tuple[int, timedelta, timedelta | None], ...]  # points, available, expiry
    consents: tuple[str, ...]


@attrs.frozen
class ShopPlan:
    """A small shop, as of one moment."""

    as_of: datetime
    customers: tuple[CustomerPlan, ...]


def _births(as_of: datetime) -> st.SearchStrategy[date | None]:
    return st.none() | st.builds(
        lambda years, month_day: _valid_date(as_of.year - years, *month_day),
        st.sampled_from((19, 20, 21, 40)),
        st.sampled_from(((2, 28), (3, 1), (as_of.month, as_of.day), (12, 31))),
    ) | st.just(date(2004, 2, 29))


def _valid_date(year: int, month: int, day: int) -> date:
    """The date, or 28 February for a 29 February outside leap years."""
    try:
        return date(year, month, day)
    except ValueError:
        return date(year, 2, 28)


_orders = st.builds(
    OrderPlan,
    age=st.sampled_from(AGES),
    channel=st.sampled_from(CHANNELS),
    lines=st.lists(st.tuples(st.sampled_from(SKUS), st.sampled_from((*CATEGORIES, None)),
                             st.integers(1, 3), st.sampled_from((100, 999, 1000, 1500))),
                   min_size=1, max_size=2).map(tuple),
    currency=st.sampled_from(("JPY", "JPY", "JPY", "USD")),
    cancelled=st.booleans(),
    refund=st.sampled_from((0, 0, 1, 100)),
)


def _customers(as_of: datetime) -> st.SearchStrategy[CustomerPlan]:
    small = {"max_size": 3}
    return st.builds(
        CustomerPlan,
        birth_date=_births(as_of),
        prefecture=st.sampled_from(("東京都", "神奈川県", None)),
        rank=st.sampled_from((*RANKS, None)),
        signed_up=st.sampled_from(AGES[:-1] + (400 * DAY,)),
        in_account=st.booleans(),
        orders=st.lists(_orders, **small).map(tuple),
        interactions=st.lists(st.tuples(st.sampled_from(KINDS), st.sampled_from(CHANNELS),
                                        st.sampled_from((*SKUS, None)), st.sampled_from(AGES)),
                              **small).map(tuple),
        cases=st.lists(st.tuples(st.sampled_from(("complaint", "inquiry")), st.booleans(),
                                 st.sampled_from(AGES[:-1])), max_size=2).map(tuple),
        points=st.lists(st.tuples(st.sampled_from((10, 500)), st.sampled_from(LOTS))
                        .map(lambda pair: (pair[0], *pair[1])), max_size=2).map(tuple),
        consents=st.lists(st.sampled_from(("email", "ads")), max_size=2,
                          unique=True).map(tuple),
    )


shops = st.sampled_from(AS_OF).flatmap(lambda as_of: st.builds(
    ShopPlan, st.just(as_of), st.lists(_customers(as_of), min_size=1, max_size=6).map(tuple)))


def load_shop(crm: Any, plan: ShopPlan) -> dict[str, str]:
    """Write ``plan`` through ``crm`` (whose clock must be a ``ManualClock``); returns
    customer id -> the plan's name for it (``c0``, ``c1``, ...)."""
    account = crm.accounts.create(name="Acme 100%_shop", attributes={"rank": "gold"})
    names = {}
    for number, person in enumerate(plan.customers):
        crm.clock.set(plan.as_of - person.signed_up)
        customer = crm.customers.create(
            email=f"c{number}@shop.example", birth_date=person.birth_date,
            external_id=f"c{number}",
            attributes={} if person.rank is None else {"rank": person.rank})
        crm.customers.update(customer.id, address={"prefecture": person.prefecture},
                             account_id=account.id if person.in_account else None)
        names[customer.id] = f"c{number}"
        _load_history(crm, plan.as_of, customer.id, f"c{number}", person)
    crm.clock.set(plan.as_of)
    return names


def _load_history(crm: Any, as_of: datetime, customer_id: str, prefix: str,
                  person: CustomerPlan) -> None:
    record_orders(crm, as_of, customer_id, prefix, person)
    for kind, channel, sku, age in person.interactions:
        crm.interactions.record(customer_id, channel=channel, kind=kind, sku=sku,
                                occurred_at=as_of - age)
    for n, (kind, resolved, age) in enumerate(person.cases):
        crm.clock.set(as_of - age)
        case = crm.cases.open(customer_id, subject=f"case {n}", channel="email", type=kind)
        if resolved:
            crm.cases.change_status(case.id, "resolved")
    for n, (points, available, expiry) in enumerate(person.points):
        crm.clock.set(as_of - 5 * DAY)
        crm.loyalty.earn(customer_id, points, key=f"{prefix}-p{n}",
                         available_at=as_of + available,
                         expires_at=None if expiry is None else as_of + expiry)
    for channel in person.consents:
        crm.consent.grant(customer_id, channel)


def record_orders(crm: Any, as_of: datetime, customer_id: str, prefix: str,
                  person: CustomerPlan) -> None:
    """Record the customer's planned orders (ids ``{prefix}-o{n}``), refunded or
    cancelled as planned, each with the CRM's manual clock set to its time."""
    for n, order in enumerate(person.orders):
        order_id = f"{prefix}-o{n}"
        crm.clock.set(as_of - order.age)
        crm.orders.record(order_id=order_id, customer_id=customer_id,
                          placed_at=as_of - order.age, channel=order.channel,
                          currency=order.currency,
                          lines=[OrderLine(sku, q, Decimal(p), category=cat)
                                 for sku, cat, q, p in order.lines])
        if order.refund:
            crm.orders.refund(order_id, refund_id=f"{order_id}-r", amount=order.refund)
        elif order.cancelled:
            crm.orders.cancel(order_id)


# -- rules ------------------------------------------------------------------------------

def _values(kind: ValueType, as_of: datetime) -> st.SearchStrategy[Any]:
    pools: dict[ValueType, Callable[[], st.SearchStrategy[Any]]] = {
        ValueType.TEXT: lambda: st.sampled_from(TEXTS),
        ValueType.INTEGER: lambda: st.sampled_from(DAYS + (3, 5, 20, 21, 40, 510, 1500)),
        ValueType.DECIMAL: lambda: st.sampled_from(AMOUNTS).map(Decimal),
        ValueType.BOOLEAN: st.booleans,
        ValueType.DATETIME: lambda: st.sampled_from(AGES).map(lambda age: as_of - age),
        ValueType.DATE: lambda: _births(as_of).filter(lambda d: d is not None),
    }
    return pools[kind]()


_PARAMS: dict[str, st.SearchStrategy[Any]] = {
    "within_days": st.sampled_from((0, 1, 7, 30, 365)),
    "channel": st.sampled_from((*CHANNELS, "email", "ads")),
    "kind": st.sampled_from(("cart_add", "product_view", "complaint", "inquiry")),
    "sku": st.sampled_from(SKUS),
    "category": st.sampled_from(CATEGORIES),
    "key": st.sampled_from(("rank", "missing")),
    "type": st.sampled_from(("complaint", "inquiry")),
    "bins": st.sampled_from((2, 3, 5, 10)),
}


def _args(field: SegmentField) -> st.SearchStrategy[dict[str, Any]]:
    if field.name == "bought":
        return st.builds(lambda which, value, days: {which: value, **days},
                         st.sampled_from(("sku", "category")), st.sampled_from(SKUS),
                         st.sampled_from(({}, {"within_days": 30})))
    return st.fixed_dictionaries(
        {p.name: _PARAMS[p.name] for p in field.params if p.required},
        optional={p.name: _PARAMS[p.name] for p in field.params if not p.required})


def _condition(field: SegmentField, as_of: datetime) -> st.SearchStrategy[Condition]:
    def value_for(op: Op) -> st.SearchStrategy[Any]:
        if op in NULL_TESTS:
            return st.none()
        if op in (Op.IN, Op.NOT_IN):
            return st.lists(_values(field.type, as_of), min_size=1, max_size=3).map(tuple)
        return _values(field.type, as_of)

    ops = sorted(field.operators, key=lambda op: op.value)
    return st.sampled_from(ops).flatmap(lambda op: st.builds(
        Condition, st.just(field.name), st.just(op), value_for(op), _args(field)))


def rules(registry: FieldRegistry, as_of: datetime) -> st.SearchStrategy[Rule]:
    """Random rules over ``registry``'s built-in fields, bound and ready to evaluate."""
    fields = [f for f in registry if f.builtin]
    leaves = st.sampled_from(fields).flatmap(lambda f: _condition(f, as_of))
    trees = st.recursive(leaves, lambda inner: (
        st.lists(inner, min_size=2, max_size=3).map(lambda parts: And(tuple(parts)))
        | st.lists(inner, min_size=2, max_size=3).map(lambda parts: Or(tuple(parts)))
        | inner.map(Not)), max_leaves=5)
    return trees.map(registry.bind)


__all__ = ["AS_OF", "CustomerPlan", "OrderPlan", "ShopPlan", "load_shop", "rules", "shops"]
