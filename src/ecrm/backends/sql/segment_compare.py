"""How each kind of segment field compares in SQL, true or false and never NULL: plain
values (:class:`Scalar`), yes/no facts (:class:`Flag`), money in minor units
(:class:`Money`) and whole numbers that fall as a stored time grows (:class:`Descending`:
days since, age)."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs
from sqlalchemy import BigInteger, LargeBinary, and_, cast, false, func, not_, or_, select, true
from sqlalchemy.sql import ColumnElement

from ecrm.domain.segment_rules import LIST_OPS, NULL_TESTS, Op

Clause = ColumnElement[bool]

MYSQL = frozenset({"mysql", "mariadb"})


@attrs.frozen
class Scalar:
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
class Flag:
    """A yes/no fact, compiled to EXISTS."""

    clause: Clause

    def compare(self, op: Op, value: bool) -> Clause:
        return self.clause if (op is Op.EQ) == value else not_(self.clause)


@attrs.frozen
class Money:
    """An amount held as an integer of minor units; rule values are compared exactly by
    rounding the threshold, never the stored amount."""

    minor: Any
    exponent: int
    nullable: bool

    def compare(self, op: Op, value: Any) -> Clause:
        if op in NULL_TESTS:
            return Scalar(self.minor, self.nullable).compare(op, value)
        if op in LIST_OPS:
            whole = [int(m) for m in map(self._minor, value) if m == m.to_integral_value()]
            return Scalar(self.minor, self.nullable).compare(op, tuple(whole)) if whole \
                else (false() if op is Op.IN else self._present())
        threshold = self._minor(value)
        exact = threshold == threshold.to_integral_value()
        if op in (Op.EQ, Op.NE):
            if not exact:
                return false() if op is Op.EQ else self._present()
            return Scalar(self.minor, self.nullable).compare(op, int(threshold))
        rounded = math.ceil(threshold) if op in (Op.GE, Op.LT) else math.floor(threshold)
        return Scalar(self.minor, self.nullable).compare(op, rounded)

    def _minor(self, amount: Decimal) -> Decimal:
        return amount.scaleb(self.exponent)

    def _present(self) -> Clause:
        return self.minor.is_not(None) if self.nullable else true()  # type: ignore[no-any-return]


@attrs.frozen
class Keyed:
    """A value a derived table holds for some customers, keyed by customer id (``key``),
    such as RFM scores ranked over the whole shop: compared as ``customer IN (SELECT key
    FROM table WHERE value op target)``, uncorrelated, so the database works the table
    out once, not once per customer. A customer the table leaves out has no value;
    whether there is one is ``present``, a test of the customer's own rows (cheaper
    than a NOT IN over the whole table)."""

    customer: Any
    key: Any
    value: Any
    present: Clause
    text_dialect: str | None = None

    def compare(self, op: Op, value: Any) -> Clause:
        if op is Op.IS_NULL:
            return not_(self.present)
        if op is Op.IS_NOT_NULL:
            return self.present
        keys = select(self.key)
        test = Scalar(self.value, nullable=False, text_dialect=self.text_dialect)
        return self.customer.in_(keys.where(test.compare(op, value)))  # type: ignore[no-any-return]


@attrs.frozen
class Descending:
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


def days_back(as_of: datetime) -> Callable[[int], Any]:
    def bound(days: int) -> Any:
        try:
            return as_of - timedelta(days=days)
        except OverflowError:
            return None if days > 0 else ...
    return bound


def birthdays_back(today: date) -> Callable[[int], Any]:
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


_MULTIPLY = 8  # SQLAlchemy's precedence of * and /


def integer_division(total: Any, count: Any, dialect: str) -> Any:
    """``total // count`` for non-negative integers: ``/`` of two integers on SQLite and
    PostgreSQL, ``DIV`` on MySQL/MariaDB (where SQLAlchemy's ``//`` is FLOOR of a
    rounded decimal)."""
    if dialect in MYSQL:  # DIV binds as * and /: an operand like a - b is parenthesised
        return total.op("DIV", precedence=_MULTIPLY, return_type=BigInteger)(count)
    return total // count
