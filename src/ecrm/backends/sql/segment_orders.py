"""Conditions on a customer's order aggregates (count, money spent, average value, first
and last order), compiled together: a part of a rule whose conditions all read order
aggregates becomes one correlated subquery that reads the customer's counted orders once,
along the ``(tenant_id, customer_id, placed_at)`` index, and returns 1 when the part holds.

::

    (SELECT CASE WHEN count(*) >= 3 AND coalesce(sum(CASE WHEN currency = 'JPY'
                 THEN total_minor - refunded_minor END), 0) >= 20000 ... THEN 1 ELSE 0 END
     FROM ecrm_orders WHERE tenant_id = ... AND customer_id = ecrm_customers.id
       AND status != 'cancelled' AND placed_at <= :as_of) = 1

Each aggregate picks its orders as the field says (window, channel, the shop's currency
for money): what every aggregate of the part picks by goes into the WHERE clause, the rest
into a ``CASE`` inside that aggregate. An aggregate query without ``GROUP BY`` returns
exactly one row, over no orders too (count 0, sums and times NULL), as the separate
subqueries did; a part whose conditions fold to true or false reads no orders at all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, case, func, not_, or_, select
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.visitors import iterate

from ecrm.backends.sql import tables
from ecrm.backends.sql.repositories import hinted
from ecrm.backends.sql.segment_compare import Clause, Descending, Money, Scalar, days_back
from ecrm.domain.money import CURRENCY_EXPONENTS
from ecrm.domain.segment_fields import FieldRegistry, RuleContext
from ecrm.domain.segment_rules import And, Condition, Not, Rule, conditions

if TYPE_CHECKING:
    from ecrm.backends.sql.segment_query import SQLSegmentQuery

o = tables.orders
#: MariaDB without statistics may walk the tenant's orders by primary key for every
#: customer; the customer's index is the right one whatever the data.
_HINT = "FORCE INDEX (ix_ecrm_orders_tenant_id_customer_id_placed_at)"
#: A way orders are picked: ("within_days", days), ("channel", name) or ("currency", code).
Pick = tuple[str, Any]
Comparable = Any  # Scalar, Money or Descending


def on_orders(rule: Rule, fields: FieldRegistry) -> bool:
    """Whether every condition of ``rule`` reads a built-in order aggregate."""
    return all(condition.field in _AGGREGATES and fields.get(condition.field).builtin
               for condition in conditions(rule))


def orders_test(q: SQLSegmentQuery, rule: Rule, context: RuleContext) -> Clause:
    """``rule``, whose conditions all read order aggregates, as one correlated subquery."""
    picks = {condition: _picks(condition, context) for condition in conditions(rule)}
    common = frozenset.intersection(*picks.values())

    def comparable(condition: Condition) -> Comparable:
        only = _clauses(q, picks[condition] - common, context)
        return _AGGREGATES[condition.field](q, only, context)

    test = _compile(rule, comparable)
    if not any(isinstance(part, FunctionElement) for part in iterate(test)):
        # Folded to true or false (``average_value in (0.5)`` in yen, say): a select
        # without an aggregate would give a row per order, or none.
        return test
    found = select(case((test, 1), else_=0)).where(*q.orders_where({}, context),
                                                   *_clauses(q, common, context))
    return hinted(found, o, _HINT).scalar_subquery() == 1  # type: ignore[no-any-return]


def _compile(rule: Rule, comparable: Callable[[Condition], Comparable]) -> Clause:
    if isinstance(rule, Condition):
        return comparable(rule).compare(rule.op, rule.value)  # type: ignore[no-any-return]
    if isinstance(rule, Not):
        return not_(_compile(rule.part, comparable))
    parts = [_compile(part, comparable) for part in rule.parts]
    return and_(*parts) if isinstance(rule, And) else or_(*parts)


def _picks(condition: Condition, context: RuleContext) -> frozenset[Pick]:
    """How the condition's field picks orders beyond the counted ones."""
    args = dict(condition.args)
    picks: set[Pick] = {(name, args[name]) for name in ("within_days", "channel")
                        if name in args}
    if condition.field in _MONEY:
        picks.add(("currency", context.currency))
    return frozenset(picks)


def _clauses(q: SQLSegmentQuery, picks: frozenset[Pick], context: RuleContext
             ) -> list[Clause]:
    clauses: list[Clause] = []
    for name, value in sorted(picks, key=lambda pick: pick[0]):
        if name == "within_days":
            clauses += q.window(o.c.placed_at, {name: value}, context)
        else:
            clauses.append(o.c[name] == value)
    return clauses


def _only(clauses: list[Clause], value: Any) -> Any:
    """``value`` for the orders ``clauses`` pick, NULL for the others."""
    return case((and_(*clauses), value)) if clauses else value


def _net() -> Any:
    return o.c.total_minor - o.c.refunded_minor


# -- the aggregates: (q, the clauses picking this aggregate's orders, context) --------------

def _count(q: SQLSegmentQuery, only: list[Clause], context: RuleContext) -> Comparable:
    return Scalar(func.count(_only(only, 1)) if only else func.count(), nullable=False)


def _total_spent(q: SQLSegmentQuery, only: list[Clause], context: RuleContext
                 ) -> Comparable:
    total = func.coalesce(func.sum(_only(only, _net())), 0)
    return Money(total, CURRENCY_EXPONENTS[context.currency], nullable=False)


def _average_value(q: SQLSegmentQuery, only: list[Clause], context: RuleContext
                   ) -> Comparable:
    count = func.count(_only(only, 1)) if only else func.count()
    average = q.integer_division(func.sum(_only(only, _net())), count)
    return Money(average, CURRENCY_EXPONENTS[context.currency], nullable=True)


def _order_time(pick: Any, days: bool) -> Callable[..., Comparable]:
    def build(q: SQLSegmentQuery, only: list[Clause], context: RuleContext) -> Comparable:
        moment = pick(o.c.placed_at)
        return Descending(moment, days_back(context.as_of)) if days \
            else Scalar(moment, nullable=True)
    return build


_MONEY = frozenset({"orders.total_spent", "orders.average_value"})
_AGGREGATES: dict[str, Callable[..., Comparable]] = {
    "orders.count": _count,
    "orders.total_spent": _total_spent,
    "orders.average_value": _average_value,
    "orders.first_at": _order_time(func.min, days=False),
    "orders.last_at": _order_time(func.max, days=False),
    "days_since_first_order": _order_time(func.min, days=True),
    "days_since_last_order": _order_time(func.max, days=True),
}
