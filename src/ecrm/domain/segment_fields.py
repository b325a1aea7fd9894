"""The fields a segment rule may use, and the check that binds a rule to them.

Each field has a name, a value type, optional parameters (a SKU, a window in days) and,
for fields contributed by plugins, an SQL form and a Python form. The built-in fields
(:data:`BUILTIN_FIELDS`) are implemented natively by every backend.
"""

from __future__ import annotations

import difflib
import enum
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

import attrs

from ecrm.domain.rfm import DEFAULT_BINS, MAX_BINS, MIN_BINS
from ecrm.domain.segment_rules import (
    LIST_OPS,
    MAX_CONDITIONS,
    MAX_DEPTH,
    MAX_LIST,
    MAX_STRING,
    NULL_TESTS,
    ORDER_OPS,
    TEXT_OPS,
    And,
    Condition,
    Not,
    Op,
    Or,
    Rule,
    RuleError,
    depth,
)


class ValueType(enum.StrEnum):
    """What a field's values are."""

    TEXT = "text"
    INTEGER = "integer"
    DECIMAL = "decimal"
    BOOLEAN = "boolean"
    DATETIME = "datetime"
    DATE = "date"


_EQUALITY = frozenset({Op.EQ, Op.NE})
#: The operators each type of field accepts (null tests come on top for nullable fields).
OPERATORS: dict[ValueType, frozenset[Op]] = {
    ValueType.TEXT: _EQUALITY | LIST_OPS | TEXT_OPS,
    ValueType.INTEGER: _EQUALITY | ORDER_OPS | LIST_OPS,
    ValueType.DECIMAL: _EQUALITY | ORDER_OPS | LIST_OPS,
    ValueType.BOOLEAN: _EQUALITY,
    ValueType.DATETIME: _EQUALITY | ORDER_OPS,
    ValueType.DATE: _EQUALITY | ORDER_OPS,
}

_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")
#: Attribute keys and channel names in rules: word characters and ``-``, nothing that
#: could mean something to a JSON path or SQL. Checked with ``fullmatch``: ``$`` alone
#: would let a trailing newline through.
_KEY = re.compile(r"^[^\W][\w\-]{0,63}$")
_BIGGEST = 2**63


@attrs.frozen
class RuleContext:
    """What a rule is evaluated against: the as-of time (windows and "days since" count
    back from it; ``age`` uses its date in its own time zone), the shop's currency (money
    fields) and the fields."""

    as_of: datetime
    currency: str
    fields: FieldRegistry


@attrs.frozen
class Param:
    """A parameter of a field, e.g. ``within_days`` of ``orders.count``. ``key`` params
    name an attribute key or channel and accept only word characters and ``-``."""

    name: str
    type: ValueType
    required: bool = False
    key: bool = False
    description: str = ""


@attrs.frozen
class SegmentField:
    """A field rules can test.

    Built-in fields leave ``sql`` and ``python`` empty: every backend implements them.
    A plugin's field supplies both forms (see ``ecrm_segment_fields`` in the plugin
    guide): ``sql(context)`` returns an SQLAlchemy column expression for the customer
    ``context.customer_id``; ``python(context)`` returns the value for
    ``context.customer``. Both receive the condition's parameters as ``context.args``.
    """

    name: str
    type: ValueType
    description: str
    nullable: bool = False
    params: tuple[Param, ...] = ()
    sql: Callable[[Any], Any] | None = None
    python: Callable[[Any], Any] | None = None

    @property
    def operators(self) -> frozenset[Op]:
        """The operators this field accepts."""
        return OPERATORS[self.type] | (NULL_TESTS if self.nullable else frozenset())

    @property
    def builtin(self) -> bool:
        """True for ecrm's own fields, which backends implement natively."""
        return self.sql is None and self.python is None


def _p(name: str, kind: ValueType = ValueType.TEXT, *, required: bool = False,
       key: bool = False, description: str = "") -> Param:
    return Param(name, kind, required, key, description)


_WINDOW = _p("within_days", ValueType.INTEGER,
             description="only what happened in the last N days before the rule's as-of time")
_CHANNEL = _p("channel", key=True, description="only this channel")
_BINS = _p("bins", ValueType.INTEGER,
           description=f"scores out of {MIN_BINS}..{MAX_BINS} bins (default {DEFAULT_BINS})")
TEXT, INT, DEC, BOOL, TIME, DATE = (ValueType.TEXT, ValueType.INTEGER, ValueType.DECIMAL,
                                   ValueType.BOOLEAN, ValueType.DATETIME, ValueType.DATE)

#: ecrm's own fields. Order aggregates count orders in the shop's currency, cancelled
#: ones left out, placed at or before the as-of time; money is net of refunds.
BUILTIN_FIELDS: tuple[SegmentField, ...] = (
    SegmentField("email", TEXT, "the e-mail address (lower-case)", nullable=True),
    SegmentField("name", TEXT, "the customer's name", nullable=True),
    SegmentField("kana_name", TEXT, "the name in kana", nullable=True),
    SegmentField("phone", TEXT, "the phone number as stored", nullable=True),
    SegmentField("external_id", TEXT, "the host's id for the customer", nullable=True),
    SegmentField("gender", TEXT, "female, male, other or unspecified", nullable=True),
    SegmentField("birth_date", DATE, "the date of birth", nullable=True),
    SegmentField("birth_month", INT, "the month of birth, 1-12", nullable=True),
    SegmentField("age", INT, "full years of age on the as-of date", nullable=True),
    SegmentField("country", TEXT, "the address's ISO country code", nullable=True),
    SegmentField("prefecture", TEXT, "the address's prefecture, e.g. 東京都", nullable=True),
    SegmentField("city", TEXT, "the address's city", nullable=True),
    SegmentField("postal_code", TEXT, "the address's postal code", nullable=True),
    SegmentField("acquisition_channel", TEXT, "the channel the customer came from",
                 nullable=True),
    SegmentField("signed_up_at", TIME, "when the customer signed up"),
    SegmentField("days_since_signup", INT, "whole days from sign-up to the as-of time"),
    SegmentField("attribute", TEXT, "a custom attribute's value when it is a text",
                 nullable=True, params=(_p("key", required=True, key=True),)),
    SegmentField("account_id", TEXT, "the B2B account's id", nullable=True),
    SegmentField("account.name", TEXT, "the B2B account's name", nullable=True),
    SegmentField("account.attribute", TEXT, "a custom attribute of the account (text values)",
                 nullable=True, params=(_p("key", required=True, key=True),)),
    SegmentField("orders.count", INT, "how many orders", params=(_CHANNEL, _WINDOW)),
    SegmentField("orders.total_spent", DEC, "money spent, net of refunds",
                 params=(_CHANNEL, _WINDOW)),
    SegmentField("orders.average_value", DEC, "average order value, net of refunds",
                 nullable=True, params=(_CHANNEL, _WINDOW)),
    SegmentField("orders.first_at", TIME, "when the first order was placed", nullable=True),
    SegmentField("orders.last_at", TIME, "when the last order was placed", nullable=True),
    SegmentField("days_since_first_order", INT, "whole days since the first order",
                 nullable=True),
    SegmentField("days_since_last_order", INT, "whole days since the last order",
                 nullable=True),
    SegmentField("bought", BOOL, "bought a SKU or a category (give one)",
                 params=(_p("sku"), _p("category"), _WINDOW)),
    SegmentField("loyalty.points", INT, "spendable points at the as-of time"),
    SegmentField("loyalty.tier", TEXT, "the current tier", nullable=True),
    SegmentField("interactions.count", INT, "how many interactions",
                 params=(_p("kind", key=True), _CHANNEL, _p("sku"), _WINDOW)),
    SegmentField("cart.abandoned", BOOL, "added to cart and placed no order since",
                 params=(_WINDOW,)),
    SegmentField("cases.open", INT, "support cases not yet resolved",
                 params=(_p("type", key=True),)),
    SegmentField("cases.count", INT, "support cases opened",
                 params=(_p("type", key=True), _WINDOW)),
    SegmentField("consent", BOOL, "currently opted in on a channel (e.g. email, line, ads)",
                 params=(_p("channel", required=True, key=True),)),
    *(SegmentField(f"rfm.{score}", INT, f"the RFM {what} score, 1 (worst) to bins, among "
                   "the customers with orders", nullable=True, params=(_BINS,))
      for score, what in (("r", "recency"), ("f", "frequency"), ("m", "monetary"))),
    SegmentField("rfm.segment", TEXT, "the RFM segment (the default map)", nullable=True,
                 params=(_BINS,)),
)

#: The built-in fields read from the customer's own row, without looking at other tables:
#: cheap to test, so evaluators test them before the others
#: (:func:`ecrm.domain.segment_eval.cheap_first`).
CUSTOMER_ROW_FIELDS = frozenset({
    "email", "name", "kana_name", "phone", "external_id", "gender", "birth_date",
    "birth_month", "age", "country", "prefecture", "city", "postal_code",
    "acquisition_channel", "signed_up_at", "days_since_signup", "attribute", "account_id",
})


class FieldRegistry:
    """The fields rules may use: ecrm's plus those plugins contribute."""

    def __init__(self, fields: Iterable[SegmentField] = BUILTIN_FIELDS) -> None:
        self._fields: dict[str, SegmentField] = {}
        for field in fields:
            self._add(field)

    def _add(self, field: SegmentField) -> None:
        if not isinstance(field, SegmentField):
            raise RuleError("fields", f"expected a SegmentField, got {type(field).__name__}")
        if not _NAME.fullmatch(field.name):
            raise RuleError("fields", f"{field.name!r} is not a field name "
                                      "(lower-case words joined by dots)")
        if field.name in self._fields:
            raise RuleError("fields", f"field {field.name!r} is registered twice")
        if (field.sql is None) != (field.python is None):
            raise RuleError("fields", f"field {field.name!r} needs both an SQL and a "
                                      "Python form")
        self._fields[field.name] = field

    def with_fields(self, fields: Iterable[SegmentField]) -> FieldRegistry:
        """A registry with ``fields`` added to these."""
        return FieldRegistry([*self._fields.values(), *fields])

    def __iter__(self) -> Iterator[SegmentField]:
        return iter(sorted(self._fields.values(), key=lambda f: f.name))

    def __contains__(self, name: object) -> bool:
        return name in self._fields

    def get(self, name: str) -> SegmentField:
        """The field called ``name``; an unknown name raises :class:`RuleError`."""
        field = self._fields.get(name)
        if field is None:
            close = difflib.get_close_matches(str(name), self._fields, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise RuleError("rule", f"unknown field {name!r}{hint}")
        return field

    def bind(self, rule: Rule, positions: list[int] | None = None) -> Rule:
        """``rule`` checked against the fields: known fields and operators, parameters
        and values of the right types (converted: ISO strings to dates, numbers to
        Decimal), within the limits. ``positions`` (from the text parser) are the text
        offsets of the conditions, left to right, for error messages."""
        if depth(rule) > MAX_DEPTH:
            raise RuleError("rule", f"nests deeper than {MAX_DEPTH} levels")
        counter = iter(range(MAX_CONDITIONS + 1))
        return self._bind(rule, counter, positions)

    def _bind(self, rule: Rule, counter: Iterator[int], positions: list[int] | None) -> Rule:
        if isinstance(rule, Condition):
            index = next(counter, None)
            if index is None or index >= MAX_CONDITIONS:
                raise RuleError("rule", f"has more than {MAX_CONDITIONS} conditions")
            position = positions[index] if positions and index < len(positions) else None
            try:
                return self._bind_condition(rule)
            except RuleError as error:
                raise RuleError(error.field, error.message, position) from None
        if isinstance(rule, Not):
            return Not(self._bind(rule.part, counter, positions))
        if isinstance(rule, (And, Or)):
            if not rule.parts:
                raise RuleError("rule", f"an empty {type(rule).__name__.lower()}")
            return type(rule)(tuple(self._bind(p, counter, positions) for p in rule.parts))
        raise RuleError("rule", f"expected a rule, got {type(rule).__name__}")

    def _bind_condition(self, condition: Condition) -> Condition:
        field = self.get(condition.field)
        if condition.op not in field.operators:
            allowed = ", ".join(sorted(op.value for op in field.operators))
            raise RuleError("rule", f"operator {condition.op.value!r} does not apply to "
                                    f"{field.name} ({field.type.value}); use {allowed}")
        args = _bind_args(field, dict(condition.args))
        if condition.op in NULL_TESTS:
            if condition.value is not None:
                raise RuleError("rule", f"{condition.op.value!r} takes no value")
            return Condition(field.name, condition.op, None, args)
        return Condition(field.name, condition.op, _bind_value(field, condition), args)


def _bind_args(field: SegmentField, args: dict[str, Any]) -> dict[str, Any]:
    known = {param.name: param for param in field.params}
    for name in args:
        if name not in known:
            names = ", ".join(known) or "none"
            raise RuleError("rule", f"{field.name} has no parameter {name!r} "
                                    f"(parameters: {names})")
    bound = {}
    for param in field.params:
        value = args.get(param.name)
        if value is None:
            if param.required:
                raise RuleError("rule", f"{field.name} needs parameter {param.name!r}")
            continue
        where = f"{field.name}({param.name})"
        bound[param.name] = coerce(param.type, value, where)
        if param.key and not _KEY.fullmatch(bound[param.name]):
            raise RuleError("rule", f"{where}: {value!r} may hold only letters, digits, "
                                    "'_' and '-' (at most 64)")
    if not MIN_BINS <= bound.get("bins", DEFAULT_BINS) <= MAX_BINS:
        raise RuleError("rule", f"{field.name}(bins) must be from {MIN_BINS} to {MAX_BINS}")
    if bound.get("within_days", 0) < 0:
        raise RuleError("rule", f"{field.name}(within_days) must be at least 0")
    if field.name == "bought" and ("sku" in bound) == ("category" in bound):
        raise RuleError("rule", "bought needs exactly one of sku or category")
    return bound


def _bind_value(field: SegmentField, condition: Condition) -> Any:
    where = field.name
    if condition.op in LIST_OPS:
        values = condition.value
        if not isinstance(values, tuple) or not values:
            raise RuleError("rule", f"{where} {condition.op.value} needs a non-empty list")
        if len(values) > MAX_LIST:
            raise RuleError("rule", f"{where} {condition.op.value}: the list holds "
                                    f"{len(values)} values; at most {MAX_LIST}")
        return tuple(dict.fromkeys(coerce(field.type, v, where) for v in values))
    if condition.value is None:
        raise RuleError("rule", f"{where} {condition.op.value} needs a value "
                                "(use 'is null' to test for a missing value)")
    value = coerce(field.type, condition.value, where)
    if condition.op in TEXT_OPS and not value:
        raise RuleError("rule", f"{where} {condition.op.value} needs a non-empty text")
    return value


def coerce(kind: ValueType, value: object, where: str) -> Any:
    """``value`` as a value of type ``kind``, or :class:`RuleError` naming ``where``."""
    converter = _CONVERTERS[kind]
    try:
        return converter(value)
    except (TypeError, ValueError, InvalidOperation, OverflowError) as error:
        if isinstance(error, RuleError):
            raise
        raise RuleError("rule", f"{where}: {_describe(value)} is not {_NAMES[kind]} "
                                f"({error})") from None


_NAMES = {
    ValueType.TEXT: "a text",
    ValueType.INTEGER: "an integer",
    ValueType.DECIMAL: "a decimal number",
    ValueType.BOOLEAN: "true or false",
    ValueType.DATETIME: "a datetime",
    ValueType.DATE: "a date (YYYY-MM-DD)",
}


def _describe(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"got {type(value).__name__}")
    if len(value) > MAX_STRING:
        raise ValueError(f"{len(value)} characters; at most {MAX_STRING}")
    if "\x00" in value:
        raise ValueError("the NUL character cannot be stored")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("a lone surrogate is not valid Unicode") from None
    return value


def _integer(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise TypeError(f"got {type(value).__name__}")
    if isinstance(value, Decimal) and value != value.to_integral_value():
        raise ValueError("not a whole number")
    number = int(value)
    if abs(number) >= _BIGGEST:
        raise ValueError("out of range")
    return number


def _decimal(value: object) -> Decimal:
    if isinstance(value, bool):
        raise TypeError("got bool")
    if isinstance(value, float):
        value = repr(value)
    if not isinstance(value, (int, Decimal, str)):
        raise TypeError(f"got {type(value).__name__}")
    number = Decimal(value)
    if not number.is_finite() or abs(number) >= Decimal(10) ** 14:
        raise ValueError("out of range")
    if number.as_tuple().exponent < -6:  # type: ignore[operator]
        raise ValueError("more than 6 decimal places")
    return number


def _boolean(value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"got {type(value).__name__}")
    return value


def _datetime(value: object) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        raise TypeError(f"got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("must carry a UTC offset, e.g. 2025-01-01T00:00:00+09:00")
    return value.astimezone(timezone.utc)


def _date(value: object) -> date:
    if isinstance(value, str):
        value = date.fromisoformat(value)
    if isinstance(value, datetime) or not isinstance(value, date):
        raise TypeError(f"got {type(value).__name__}")
    return value



#: The Python types a plugin field's ``python`` form may return for each value type.
_PLUGIN_TYPES: dict[ValueType, tuple[type, ...]] = {
    ValueType.TEXT: (str,), ValueType.INTEGER: (int,), ValueType.DECIMAL: (Decimal, int),
    ValueType.BOOLEAN: (bool,), ValueType.DATETIME: (datetime,), ValueType.DATE: (date,),
}


def plugin_value(field: SegmentField, value: object) -> Any:
    """``value``, what ``field``'s plugin ``python`` form returned, when it is None (for a
    nullable field) or of the field's type; else ValidationError on ``fields`` naming the
    field and the type returned (never the value)."""
    if value is None and field.nullable:
        return None
    kind = field.type
    wrong_bool = isinstance(value, bool) and kind is not ValueType.BOOLEAN
    wrong_date = isinstance(value, datetime) and kind is ValueType.DATE
    naive = isinstance(value, datetime) and value.utcoffset() is None
    if (not isinstance(value, _PLUGIN_TYPES[kind]) or wrong_bool or wrong_date or naive):
        raise RuleError("fields", f"plugin field {field.name} returned "
                                  f"{type(value).__name__} for a {kind.value} field"
                                  + ("" if field.nullable else " that is not nullable"))
    return value


_CONVERTERS: dict[ValueType, Callable[[object], Any]] = {
    ValueType.TEXT: _text,
    ValueType.INTEGER: _integer,
    ValueType.DECIMAL: _decimal,
    ValueType.BOOLEAN: _boolean,
    ValueType.DATETIME: _datetime,
    ValueType.DATE: _date,
}
