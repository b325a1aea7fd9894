"""Segment rules compiled to one SQLAlchemy Core SELECT over the tenant's customers.

Every value from a rule is a bound parameter: the compiler builds expressions from
registered fields and never puts rule text into SQL. Each condition compiles to a
predicate that is true or false, never NULL, so ``not`` means what it means in
:mod:`ecrm.domain.segment_eval` (the reference the backends are tested against).
Aggregates are correlated subqueries along the ``(tenant_id, customer_id, time)`` indexes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs
from sqlalchemy import (
    LargeBinary,
    String,
    and_,
    case,
    cast,
    exists,
    extract,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.sql import ColumnElement

from ecrm.backends.sql import tables
from ecrm.backends.sql.repositories import _TenantScoped
from ecrm.domain.cases import ACTIVE
from ecrm.domain.interactions import InteractionKind
from ecrm.domain.money import CURRENCY_EXPONENTS
from ecrm.domain.orders import OrderStatus
from ecrm.domain.segment_fields import RuleContext, ValueType
from ecrm.domain.segment_rules import (
    LIST_OPS,
    NULL_TESTS,
    And,
    Condition,
    Not,
    Op,
    Rule,
)

Clause = ColumnElement[bool]
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


# -- how each kind of field compares -----------------------------------------------------

MYSQL = frozenset({"mysql", "mariadb"})


@attrs.frozen
class _Scalar:
    """A plain value: text, number, date or time. Texts carry their dialect: MySQL and
    MariaDB compare them as bytes (their collations pad and may fold case), SQLite
    matches parts with ``instr``/``substr`` (its LIKE ignores ASCII case)."""

    expr: Any
    nullable: bool
    text_dialect: str | None = None

    def compare(self, op: Op, value: Any) -> Clause:
        if op is Op.IS_NULL:
            return self.expr.is_(None) if self.nullable else false()
        if op is Op.IS_NOT_NULL:
            return self.expr.is_not(None) if self.nullable else true()
        if op in (Op.CONTAINS, Op.STARTS_WITH, Op.ENDS_WITH):
            return self._guard(self._match(op, value))
        if self.text_dialect in MYSQL:
            value = tuple(map(_utf8, value)) if op in LIST_OPS else _utf8(value)
            return self._guard(_compare(cast(self.expr, LargeBinary), op, value))
        return self._guard(_compare(self.expr, op, value))

    def _guard(self, clause: Clause) -> Clause:
        return and_(self.expr.is_not(None), clause) if self.nullable else clause

    def _match(self, op: Op, text: str) -> Clause:
        expr = self.expr
        if self.text_dialect == "sqlite":
            if op is Op.CONTAINS:
                return func.instr(expr, text) > 0  # type: ignore[no-any-return]
            if op is Op.STARTS_WITH:
                return func.substr(expr, 1, len(text)) == text  # type: ignore[no-any-return]
            return func.substr(expr, -len(text)) == text  # type: ignore[no-any-return]
        escaped = text.replace("!", "!!").replace("%", "!%").replace("_", "!_")
        pattern = {Op.CONTAINS: f"%{escaped}%", Op.STARTS_WITH: f"{escaped}%",
                   Op.ENDS_WITH: f"%{escaped}"}[op]
        if self.text_dialect in MYSQL:  # LIKE does not pad; the binary collation keeps case
            expr = expr.collate("utf8mb4_bin")
        return expr.like(pattern, escape="!")  # type: ignore[no-any-return]


def _compare(expr: Any, op: Op, value: Any) -> Clause:
    if op is Op.IN:
        return expr.in_(list(value))  # type: ignore[no-any-return]
    if op is Op.NOT_IN:
        return expr.not_in(list(value))  # type: ignore[no-any-return]
    return {Op.EQ: expr.__eq__, Op.NE: expr.__ne__, Op.LT: expr.__lt__, Op.LE: expr.__le__,
            Op.GT: expr.__gt__, Op.GE: expr.__ge__}[op](value)  # type: ignore[no-any-return]


def _utf8(text: str) -> bytes:
    return text.encode("utf-8")


@attrs.frozen
class _Flag:
    """A yes/no fact, compiled to EXISTS."""

    clause: Clause

    def compare(self, op: Op, value: bool) -> Clause:
        return self.clause if (op is Op.EQ) == value else not_(self.clause)


@attrs.frozen
class _Money:
    """An amount held as an integer of minor units; rule values are compared exactly by
    rounding the threshold, never the stored amount."""

    minor: Any
    exponent: int
    nullable: bool

    def compare(self, op: Op, value: Any) -> Clause:
        if op in NULL_TESTS:
            return _Scalar(self.minor, self.nullable).compare(op, value)
        if op in LIST_OPS:
            whole = [int(m) for m in map(self._minor, value) if m == m.to_integral_value()]
            return _Scalar(self.minor, self.nullable).compare(op, tuple(whole)) if whole \
                else (false() if op is Op.IN else self._present())
        threshold = self._minor(value)
        exact = threshold == threshold.to_integral_value()
        if op in (Op.EQ, Op.NE):
            if not exact:
                return false() if op is Op.EQ else self._present()
            return _Scalar(self.minor, self.nullable).compare(op, int(threshold))
        rounded = math.ceil(threshold) if op in (Op.GE, Op.LT) else math.floor(threshold)
        return _Scalar(self.minor, self.nullable).compare(op, rounded)

    def _minor(self, amount: Decimal) -> Decimal:
        return amount.scaleb(self.exponent)

    def _present(self) -> Clause:
        return self.minor.is_not(None) if self.nullable else true()  # type: ignore[no-any-return]


@attrs.frozen
class _Descending:
    """A whole number that falls as a stored time grows (days since, age): compared by
    turning ``value >= k`` into ``time <= bound(k)``. ``bound`` returns None when no time
    is that far back and ``...`` when every time is."""

    time: Any
    bound: Callable[[int], Any]

    def at_least(self, k: int) -> Clause:
        limit = self.bound(k)
        if limit is None:
            return false()
        present = self.time.is_not(None)
        return present if limit is ... else and_(present, self.time <= limit)

    def equals(self, k: int) -> Clause:
        return and_(self.at_least(k), not_(self.at_least(k + 1)))

    def compare(self, op: Op, value: Any) -> Clause:
        present = self.time.is_not(None)
        if op in NULL_TESTS:
            return present if op is Op.IS_NOT_NULL else self.time.is_(None)
        build: dict[Op, Callable[[], Clause]] = {
            Op.GE: lambda: self.at_least(value),
            Op.GT: lambda: self.at_least(value + 1),
            Op.LE: lambda: and_(present, not_(self.at_least(value + 1))),
            Op.LT: lambda: and_(present, not_(self.at_least(value))),
            Op.EQ: lambda: self.equals(value),
            Op.NE: lambda: and_(present, not_(self.equals(value))),
            Op.IN: lambda: or_(*(self.equals(k) for k in value)),
            Op.NOT_IN: lambda: and_(present, not_(or_(*(self.equals(k) for k in value)))),
        }
        return build[op]()


def _days_back(as_of: datetime) -> Callable[[int], Any]:
    def bound(days: int) -> Any:
        try:
            return as_of - timedelta(days=days)
        except OverflowError:
            return None if days > 0 else ...
    return bound


def _birthdays_back(today: date) -> Callable[[int], Any]:
    def bound(years: int) -> Any:
        year = today.year - years
        if year < 1:
            return None
        if year > 9999:
            return ...
        day = 28 if (today.month, today.day) == (2, 29) and not _leap(year) else today.day
        return date(year, today.month, day)
    return bound


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


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
        """``rule`` as a WHERE clause over ``ecrm_customers``."""
        if isinstance(rule, Condition):
            return self._field(rule, context).compare(rule.op, rule.value)
        if isinstance(rule, Not):
            return not_(self.compile(rule.part, context))
        parts = [self.compile(part, context) for part in rule.parts]
        return and_(*parts) if isinstance(rule, And) else or_(*parts)

    def _field(self, condition: Condition, context: RuleContext) -> Any:
        field = context.fields.get(condition.field)
        args = dict(condition.args)
        if field.sql is not None:
            plugin = SQLFieldContext(c.c.id, c.c.tenant_id, args, context.as_of,
                                     context.currency, self._conn.dialect.name)
            dialect = self._conn.dialect.name if field.type is ValueType.TEXT else None
            return _Scalar(field.sql(plugin), field.nullable, dialect)
        return _BUILTIN[field.name](self, args, context)

    # -- helpers the field builders share ---------------------------------------------

    def text_value(self, expr: Any) -> _Scalar:
        """A nullable text column or expression."""
        return _Scalar(expr, nullable=True, text_dialect=self._conn.dialect.name)

    def json_text(self, document: Any, key: str) -> Any:
        """The value under ``key`` of a JSON column when it is a JSON string, else NULL."""
        dialect = self._conn.dialect.name
        if dialect == "postgresql":
            name = literal(key, String())
            return case((func.jsonb_typeof(document.op("->")(name)) == "string",
                         document.op("->>", return_type=String())(name)))
        path = f'$."{key}"'  # key holds only word characters and '-'
        if dialect == "sqlite":
            return case((func.json_type(document, path) == "text",
                         func.json_extract(document, path)))
        extracted = func.json_extract(document, path)
        return case((func.json_type(extracted) == "STRING", func.json_unquote(extracted)))

    def orders_where(self, args: dict[str, Any], context: RuleContext, *, money: bool,
                     customer: Any = c.c.id) -> list[Clause]:
        """The conditions picking the counted orders of ``customer`` (by default the
        customer the outer query is at)."""
        o = tables.orders
        conditions = [self._mine(o), o.c.customer_id == customer,
                      o.c.status != OrderStatus.CANCELLED.value,
                      o.c.placed_at <= context.as_of, *self.window(o.c.placed_at, args,
                                                                  context)]
        if "channel" in args:
            conditions.append(o.c.channel == args["channel"])
        if money:
            conditions.append(o.c.currency == context.currency)
        return conditions

    @staticmethod
    def window(time: Any, args: dict[str, Any], context: RuleContext) -> list[Clause]:
        """``time`` within the last ``within_days`` before the as-of time, if given."""
        days = args.get("within_days")
        if days is None:
            return []
        bound = _days_back(context.as_of)(days)
        if bound is ...:
            return []
        return [false()] if bound is None else [time >= bound]

    def integer_division(self, total: Any, count: Any) -> Any:
        """``total // count`` for non-negative integers, on every dialect."""
        dialect = self._conn.dialect.name
        if dialect == "postgresql":
            return func.div(total, func.nullif(count, 0))
        if dialect in MYSQL:
            return total.op("DIV")(func.nullif(count, 0))
        return total / func.nullif(count, 0)


# -- the built-in fields ------------------------------------------------------------------

Builder = Callable[[SQLSegmentQuery, dict[str, Any], RuleContext], Any]


def _column(name: str, kind: str = "scalar", nullable: bool = True) -> Builder:
    def build(q: SQLSegmentQuery, args: dict[str, Any], context: RuleContext) -> Any:
        column = c.c[name]
        return q.text_value(column) if kind == "text" else _Scalar(column, nullable)
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


def _orders_count(q: SQLSegmentQuery, args: dict[str, Any], context: RuleContext) -> Any:
    count = select(func.count()).where(*q.orders_where(args, context, money=False))
    return _Scalar(count.scalar_subquery(), nullable=False)


def _net(o: Any) -> Any:
    return o.c.total_minor - o.c.refunded_minor


def _total_spent(q: SQLSegmentQuery, args: dict[str, Any], context: RuleContext) -> Any:
    o = tables.orders
    total = select(func.coalesce(func.sum(_net(o)), 0)).where(
        *q.orders_where(args, context, money=True))
    return _Money(total.scalar_subquery(), CURRENCY_EXPONENTS[context.currency], False)


def _average_value(q: SQLSegmentQuery, args: dict[str, Any], context: RuleContext) -> Any:
    o = tables.orders
    average = select(q.integer_division(func.sum(_net(o)), func.count())).where(
        *q.orders_where(args, context, money=True))
    return _Money(average.scalar_subquery(), CURRENCY_EXPONENTS[context.currency], True)


def _order_time(pick: Any, days: bool) -> Builder:
    def build(q: SQLSegmentQuery, args: dict[str, Any], context: RuleContext) -> Any:
        o = tables.orders
        moment = select(pick(o.c.placed_at)).where(
            *q.orders_where({}, context, money=False)).scalar_subquery()
        return _Descending(moment, _days_back(context.as_of)) if days \
            else _Scalar(moment, nullable=True)
    return build


def _bought(q: SQLSegmentQuery, args: dict[str, Any], context: RuleContext) -> Any:
    o, line = tables.orders, tables.order_lines
    product = (line.c.sku == args["sku"]) if "sku" in args else \
        (line.c.category == args["category"])
    found = exists().where(q._mine(line), line.c.order_id == o.c.order_id, product,
                           *q.orders_where(args, context, money=False))
    return _Flag(found)


def _points(q: SQLSegmentQuery, args: dict[str, Any], context: RuleContext) -> Any:
    lot, tx = tables.point_lots, tables.point_transactions
    held = select(func.coalesce(func.sum(lot.c.remaining), 0)).where(
        q._mine(lot), lot.c.customer_id == c.c.id, lot.c.remaining > 0,
        lot.c.available_at <= context.as_of,
        or_(lot.c.expires_at.is_(None), lot.c.expires_at > context.as_of)).scalar_subquery()
    owed = select(func.coalesce(func.sum(tx.c.debt), 0)).where(
        q._mine(tx), tx.c.customer_id == c.c.id).scalar_subquery()
    return _Scalar(case((held - owed > 0, held - owed), else_=0), nullable=False)


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
    return _Scalar(count.scalar_subquery(), nullable=False)


def _cart_abandoned(q: SQLSegmentQuery, args: dict[str, Any], context: RuleContext) -> Any:
    i, o = tables.interactions, tables.orders
    ordered_since = exists().where(
        *q.orders_where({}, context, money=False, customer=i.c.customer_id),
        o.c.placed_at >= i.c.occurred_at)
    carts = exists().where(q._mine(i), i.c.customer_id == c.c.id,
                           i.c.kind == InteractionKind.CART_ADD.value,
                           i.c.occurred_at <= context.as_of,
                           *q.window(i.c.occurred_at, args, context), not_(ordered_since))
    return _Flag(carts)


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
        return _Scalar(select(func.count()).where(*conditions).scalar_subquery(), False)
    return build


def _consent(q: SQLSegmentQuery, args: dict[str, Any], context: RuleContext) -> Any:
    k = tables.consents
    return _Flag(exists().where(q._mine(k), k.c.customer_id == c.c.id,
                                k.c.channel == args["channel"], k.c.granted.is_(True)))


_BUILTIN: dict[str, Builder] = {
    **{name: _column(name, "text") for name in (
        "email", "name", "kana_name", "phone", "external_id", "gender", "country",
        "prefecture", "city", "postal_code", "acquisition_channel", "account_id")},
    "birth_date": _column("birth_date"),
    "signed_up_at": _column("signed_up_at", nullable=False),
    "birth_month": lambda q, args, context: _Scalar(extract("month", c.c.birth_date), True),
    "age": lambda q, args, context: _Descending(c.c.birth_date,
                                                _birthdays_back(context.as_of.date())),
    "days_since_signup": lambda q, args, context: _Descending(c.c.signed_up_at,
                                                              _days_back(context.as_of)),
    "attribute": _attribute,
    "account.name": _account(lambda q, a, args: a.c.name),
    "account.attribute": _account(lambda q, a, args: q.json_text(a.c.attributes,
                                                                 args["key"])),
    "orders.count": _orders_count,
    "orders.total_spent": _total_spent,
    "orders.average_value": _average_value,
    "orders.first_at": _order_time(func.min, days=False),
    "orders.last_at": _order_time(func.max, days=False),
    "days_since_first_order": _order_time(func.min, days=True),
    "days_since_last_order": _order_time(func.max, days=True),
    "bought": _bought,
    "loyalty.points": _points,
    "loyalty.tier": _tier,
    "interactions.count": _interactions_count,
    "cart.abandoned": _cart_abandoned,
    "cases.open": _cases(opened=False),
    "cases.count": _cases(opened=True),
    "consent": _consent,
}
