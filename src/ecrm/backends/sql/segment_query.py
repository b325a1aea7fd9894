"""Segment rules compiled to one SQLAlchemy Core SELECT over the tenant's customers.

Every value from a rule is a bound parameter: the compiler builds expressions from
registered fields and never puts rule text into SQL. Each condition compiles to a
predicate that is true or false, never NULL, so ``not`` means what it means in
:mod:`ecrm.domain.segment_eval` (the reference the backends are tested against).
Aggregates are correlated subqueries along the ``(tenant_id, customer_id, time)`` indexes;
the conditions on order aggregates of an and/or share one
(:mod:`ecrm.backends.sql.segment_orders`), and the customer's own columns are tested
before any subquery (:func:`ecrm.domain.segment_eval.cheap_first`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import attrs
from sqlalchemy import (
    BigInteger,
    String,
    and_,
    case,
    exists,
    extract,
    false,
    func,
    literal,
    not_,
    or_,
    select,
)

from ecrm.backends.sql import tables
from ecrm.backends.sql.repositories import _TenantScoped
from ecrm.backends.sql.rfm import rfm_query, segment_case
from ecrm.backends.sql.segment_compare import (
    Clause,
    Descending,
    Flag,
    Keyed,
    Scalar,
    birthdays_back,
    days_back,
    integer_division,
)
from ecrm.backends.sql.segment_orders import on_orders, orders_test
from ecrm.domain.cases import ACTIVE
from ecrm.domain.consent import MARKETING
from ecrm.domain.interactions import InteractionKind
from ecrm.domain.orders import OrderStatus
from ecrm.domain.rfm import DEFAULT_BINS, DEFAULT_SEGMENTS
from ecrm.domain.segment_eval import cheap_first
from ecrm.domain.segment_fields import FieldRegistry, RuleContext, ValueType
from ecrm.domain.segment_rules import And, Condition, Not, Or, Rule

c = tables.customers


@attrs.frozen
class SQLFieldContext:
    """What a plugin field's SQL form receives: the outer customer's ``customer_id`` and
    ``tenant_id`` columns to correlate with, the condition's parameters, the as-of time,
    the shop's currency, the dialect name and ecrm's tables."""

    customer_id: Any
    tenant_id: Any
    args: dict[str, Any]
    as_of: datetime
    currency: str
    dialect: str
    tables: Any = tables


# -- the repository -----------------------------------------------------------------------

class SQLSegmentQuery(_TenantScoped):
    """Evaluates rules over one tenant's customers with one SELECT."""

    def matching(self, rule: Rule, context: RuleContext) -> list[str]:
        """The ids of the customers ``rule`` selects, sorted."""
        query = select(c.c.id).where(self._mine(c), self.compile(rule, context))
        return [row[0] for row in self._conn.execute(query.order_by(c.c.id))]

    def count(self, rule: Rule, context: RuleContext) -> int:
        """How many customers ``rule`` selects."""
        query = select(func.count()).select_from(c).where(self._mine(c),
                                                          self.compile(rule, context))
        return int(self._conn.execute(query).scalar_one())

    def compile(self, rule: Rule, context: RuleContext) -> Clause:
        """``rule`` as a WHERE clause over ``ecrm_customers``: the customer's own columns
        tested first (:func:`~ecrm.domain.segment_eval.cheap_first`), and the conditions
        on order aggregates of each and/or read in one subquery
        (:mod:`ecrm.backends.sql.segment_orders`)."""
        return self._compile(cheap_first(rule, context.fields), context)

    def _compile(self, rule: Rule, context: RuleContext) -> Clause:
        if on_orders(rule, context.fields):
            return orders_test(self, rule, context)
        if isinstance(rule, Condition):
            return self._field(rule, context).compare(rule.op, rule.value)
        if isinstance(rule, Not):
            return not_(self._compile(rule.part, context))
        parts = [self._compile(part, context)
                 for part in _orders_together(rule, context.fields)]
        return and_(*parts) if isinstance(rule, And) else or_(*parts)

    def _field(self, condition: Condition, context: RuleContext) -> Any:
        field = context.fields.get(condition.field)
        args = dict(condition.args)
        if field.sql is not None:
            plugin = SQLFieldContext(c.c.id, c.c.tenant_id, args, context.as_of,
                                     context.currency, self._conn.dialect.name)
            dialect = self._conn.dialect.name if field.type is ValueType.TEXT else None
            return Scalar(field.sql(plugin), field.nullable, dialect)
        return _BUILTIN[field.name](self, args, context)

    # -- helpers the field builders share ---------------------------------------------

    def text_value(self, expr: Any) -> Scalar:
        """A nullable text column or expression."""
        return Scalar(expr, nullable=True, text_dialect=self._conn.dialect.name)

    def json_text(self, document: Any, key: str) -> Any:
        """The value under ``key`` of a JSON column when it is a JSON string, else NULL."""
        dialect = self._conn.dialect.name
        if dialect == "postgresql":
            name = literal(key, String())
            return case((func.jsonb_typeof(document.op("->")(name)) == "string",
                         document.op("->>", return_type=String())(name)))
        if dialect == "sqlite" and not key.isascii():
            # JSON text stores such keys \u-escaped, and SQLite's path lookup compares
            # them unescaped (no match); json_each reads keys unescaped.
            each = func.json_each(document).table_valued("key", "type", "value")
            return (select(each.c.value).where(each.c.key == key, each.c.type == "text")
                    .scalar_subquery())
        path = f'$."{key}"'  # key holds only word characters and '-'
        if dialect == "sqlite":
            return case((func.json_type(document, path) == "text",
                         func.json_extract(document, path)))
        extracted = func.json_extract(document, path)
        if not key.isascii():  # MariaDB compares keys as written: also try the \u form
            escaped = json.dumps(key)[1:-1]
            extracted = func.coalesce(extracted, func.json_extract(document, f'$."{escaped}"'))
        return case((func.json_type(extracted) == "STRING", func.json_unquote(extracted)))

    def orders_where(self, args: dict[str, Any], context: RuleContext,
                     customer: Any = c.c.id) -> list[Clause]:
        """The conditions picking the counted orders of ``customer`` (by default the
        customer the outer query is at), in the window and on the channel ``args`` give."""
        o = tables.orders
        conditions = [self._mine(o), o.c.customer_id == customer,
                      o.c.status != OrderStatus.CANCELLED.value,
                      o.c.placed_at <= context.as_of, *self.window(o.c.placed_at, args,
                                                                  context)]
        if "channel" in args:
            conditions.append(o.c.channel == args["channel"])
        return conditions

    @staticmethod
    def window(time: Any, args: dict[str, Any], context: RuleContext) -> list[Clause]:
        """``time`` within the last ``within_days`` before the as-of time, if given."""
        days = args.get("within_days")
        if days is None:
            return []
        bound = days_back(context.as_of)(days)
        if bound is ...:
            return []
        return [false()] if bound is None else [time >= bound]

    def integer_division(self, total: Any, count: Any) -> Any:
        """``total // count`` for non-negative integers on every dialect; NULL when
        ``count`` is 0. (SQLAlchemy's ``/`` is true division on SQLite.)"""
        divisor = func.nullif(count, 0, type_=BigInteger)
        dialect = self._conn.dialect.name
        if dialect == "postgresql":  # sum() of bigint is numeric there, and / exact
            return func.div(total, divisor)
        return integer_division(total, divisor, dialect)


def _orders_together(rule: And | Or, fields: FieldRegistry) -> list[Rule]:
    """The parts of ``rule``, those on order aggregates joined into one part of the same
    kind (and/or) where the first of them stood, so that one subquery reads them all."""
    on = [i for i, part in enumerate(rule.parts) if on_orders(part, fields)]
    if len(on) < 2:
        return list(rule.parts)
    joined = type(rule)(tuple(rule.parts[i] for i in on))
    return [joined if i == on[0] else part for i, part in enumerate(rule.parts)
            if i == on[0] or i not in on]


# -- the built-in fields (order aggregates: segment_orders) ------------------------------

Builder = Callable[[SQLSegmentQuery, dict[str, Any], RuleContext], Any]


def _column(name: str, kind: str = "scalar", nullable: bool = True) -> Builder:
    def build(q: SQLSegmentQuery, args: dict[str, Any], context: RuleContext) -> Any:
        column = c.c[name]
        return q.text_value(column) if kind == "text" else Scalar(column, nullable)
    return build


def _attribute(q: SQLSegmentQuery, args: dict[str, Any], context: RuleContext) -> Any:
    return q.text_value(q.json_text(c.c.attributes, args["key"]))


def _account(pick: Callable[[SQLSegmentQuery, Any, dict[str, Any]], Any]) -> Builder:
    def build(q: SQLSegmentQuery, args: dict[str, Any], context: RuleContext) -> Any:
        a = tables.accounts
        value = (select(pick(q, a, args)).where(q._mine(a), a.c.id == c.c.account_id)
                 .scalar_subquery())
        return q.text_value(value)
    return build


def _bought(q: SQLSegmentQuery, args: dict[str, Any], context: RuleContext) -> Any:
    o, line = tables.orders, tables.order_lines
    product = (line.c.sku == args["sku"]) if "sku" in args else \
        (line.c.category == args["category"])
    found = exists().where(q._mine(line), line.c.order_id == o.c.order_id, product,
                           *q.orders_where(args, context))
    return Flag(found)


def _points(q: SQLSegmentQuery, args: dict[str, Any], context: RuleContext) -> Any:
    lot, tx = tables.point_lots, tables.point_transactions
    held = select(func.coalesce(func.sum(lot.c.remaining), 0)).where(
        q._mine(lot), lot.c.customer_id == c.c.id, lot.c.remaining > 0,
        lot.c.available_at <= context.as_of,
        or_(lot.c.expires_at.is_(None), lot.c.expires_at > context.as_of)).scalar_subquery()
    owed = select(func.coalesce(func.sum(tx.c.debt), 0)).where(
        q._mine(tx), tx.c.customer_id == c.c.id).scalar_subquery()
    return Scalar(case((held - owed > 0, held - owed), else_=0), nullable=False)


def _tier(q: SQLSegmentQuery, args: dict[str, Any], context: RuleContext) -> Any:
    s = tables.tier_status
    return q.text_value(select(s.c.tier).where(q._mine(s), s.c.customer_id == c.c.id)
                  .scalar_subquery())


def _interactions_count(q: SQLSegmentQuery, args: dict[str, Any], context: RuleContext
                        ) -> Any:
    i = tables.interactions
    wanted = [i.c[name] == args[name] for name in ("kind", "channel", "sku") if name in args]
    count = select(func.count()).where(
        q._mine(i), i.c.customer_id == c.c.id, i.c.occurred_at <= context.as_of,
        *q.window(i.c.occurred_at, args, context), *wanted)
    return Scalar(count.scalar_subquery(), nullable=False)


def _cart_abandoned(q: SQLSegmentQuery, args: dict[str, Any], context: RuleContext) -> Any:
    i, o = tables.interactions, tables.orders
    ordered_since = exists().where(
        *q.orders_where({}, context, customer=i.c.customer_id),
        o.c.placed_at >= i.c.occurred_at)
    carts = exists().where(q._mine(i), i.c.customer_id == c.c.id,
                           i.c.kind == InteractionKind.CART_ADD.value,
                           i.c.occurred_at <= context.as_of,
                           *q.window(i.c.occurred_at, args, context), not_(ordered_since))
    return Flag(carts)


def _cases(opened: bool) -> Builder:
    def build(q: SQLSegmentQuery, args: dict[str, Any], context: RuleContext) -> Any:
        k = tables.cases
        conditions = [q._mine(k), k.c.customer_id == c.c.id]
        if "type" in args:
            conditions.append(k.c.type == args["type"])
        if opened:
            conditions += [k.c.opened_at <= context.as_of,
                           *q.window(k.c.opened_at, args, context)]
        else:
            conditions.append(k.c.status.in_(sorted(s.value for s in ACTIVE)))
        return Scalar(select(func.count()).where(*conditions).scalar_subquery(), False)
    return build


def _consent(q: SQLSegmentQuery, args: dict[str, Any], context: RuleContext) -> Any:
    k = tables.consents
    return Flag(exists().where(q._mine(k), k.c.customer_id == c.c.id,
                                k.c.channel == args["channel"], k.c.purpose == MARKETING,
                                k.c.granted.is_(True)))


def _rfm(column: str) -> Builder:
    def build(q: SQLSegmentQuery, args: dict[str, Any], context: RuleContext) -> Any:
        bins, dialect = args.get("bins", DEFAULT_BINS), q._conn.dialect.name
        scores = rfm_query(q._tenant, context.as_of, context.currency, bins,
                           dialect).subquery()
        ordered = exists().where(*q.orders_where({}, context))
        if column == "segment":
            return Keyed(c.c.id, scores.c.customer_id,
                         segment_case(scores.c, DEFAULT_SEGMENTS, bins), ordered, dialect)
        return Keyed(c.c.id, scores.c.customer_id, scores.c[column], ordered)
    return build


_BUILTIN: dict[str, Builder] = {
    **{name: _column(name, "text") for name in (
        "email", "name", "kana_name", "phone", "external_id", "gender", "country",
        "prefecture", "city", "postal_code", "acquisition_channel", "account_id")},
    "birth_date": _column("birth_date"),
    "signed_up_at": _column("signed_up_at", nullable=False),
    "birth_month": lambda q, args, context: Scalar(extract("month", c.c.birth_date), True),
    "age": lambda q, args, context: Descending(c.c.birth_date,
                                                birthdays_back(context.as_of.date())),
    "days_since_signup": lambda q, args, context: Descending(c.c.signed_up_at,
                                                              days_back(context.as_of)),
    "attribute": _attribute,
    "account.name": _account(lambda q, a, args: a.c.name),
    "account.attribute": _account(lambda q, a, args: q.json_text(a.c.attributes,
                                                                 args["key"])),
    "bought": _bought,
    "loyalty.points": _points,
    "loyalty.tier": _tier,
    "interactions.count": _interactions_count,
    "cart.abandoned": _cart_abandoned,
    "cases.open": _cases(opened=False),
    "cases.count": _cases(opened=True),
    "consent": _consent,
    **{f"rfm.{name}": _rfm(name) for name in ("r", "f", "m", "segment")},
}
