"""Segment rules: nested and/or/not over conditions ``field op value``.

A rule has three equal forms that convert into each other without loss:

- the tree of :class:`Condition`, :class:`And`, :class:`Or` and :class:`Not` built here, or
  with the builder :func:`F` (``(F("orders.count") >= 3) & F("consent", channel="email")``);
- a JSON-serialisable document (:func:`to_document` / :func:`from_document`), for admin
  screens and storage;
- a short text (:mod:`ecrm.domain.segment_text`).

A tree built here is only *shaped* right; :meth:`ecrm.domain.segment_fields.FieldRegistry.bind`
checks it against the registered fields, converts its values to the fields' types and
enforces the limits below.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeAlias

import attrs

from ecrm.errors import ValidationError

#: How deeply and/or/not may nest.
MAX_DEPTH = 12
#: How many conditions one rule may hold.
MAX_CONDITIONS = 100
#: How many values an ``in`` list may hold.
MAX_LIST = 1000
#: The longest string value, in characters.
MAX_STRING = 500
#: The longest rule text, in characters.
MAX_TEXT = 20_000



class RuleError(ValidationError):
    """A rule that cannot be used: an unknown field or operator, a value of the wrong type,
    a syntax error or a broken limit. ``position`` is the 0-based offset in the rule text
    (None for trees and documents); ``field`` is ``"rule"`` or the path of the offending
    part of a document, e.g. ``"rule.and[1].op"``."""

    def __init__(self, field: str, message: str, position: int | None = None) -> None:
        self.position = position
        where = "" if position is None else f" (at position {position})"
        super().__init__(field, message + where)


class Op(enum.StrEnum):
    """The operators. Each value is how the operator is written in text and documents."""

    EQ = "=="
    NE = "!="
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="
    IN = "in"
    NOT_IN = "not in"
    CONTAINS = "contains"
    STARTS_WITH = "starts with"
    ENDS_WITH = "ends with"
    IS_NULL = "is null"
    IS_NOT_NULL = "is not null"


#: Operators that take no value.
NULL_TESTS = frozenset({Op.IS_NULL, Op.IS_NOT_NULL})
#: Operators that take a list of values.
LIST_OPS = frozenset({Op.IN, Op.NOT_IN})
#: Operators that compare order.
ORDER_OPS = frozenset({Op.LT, Op.LE, Op.GT, Op.GE})
#: Operators that match part of a text.
TEXT_OPS = frozenset({Op.CONTAINS, Op.STARTS_WITH, Op.ENDS_WITH})


def _args(value: Mapping[str, Any] | tuple[tuple[str, Any], ...] | None
          ) -> tuple[tuple[str, Any], ...]:
    items = value.items() if isinstance(value, Mapping) else (value or ())
    return tuple(sorted(items))


class _Combines:
    """``&``, ``|`` and ``~`` on rules build :class:`And`, :class:`Or` and :class:`Not`."""

    __slots__ = ()

    def __and__(self, other: Rule) -> And:
        return And((self, other))  # type: ignore[arg-type]

    def __or__(self, other: Rule) -> Or:
        return Or((self, other))  # type: ignore[arg-type]

    def __invert__(self) -> Not:
        return Not(self)  # type: ignore[arg-type]


@attrs.frozen
class Condition(_Combines):
    """``field(args) op value``. ``args`` are the field's parameters (a SKU, a window in
    days) as sorted (name, value) pairs; ``value`` is a tuple for ``in``/``not in`` and
    None for the null tests."""

    field: str
    op: Op = attrs.field(converter=Op)
    value: Any = None
    args: tuple[tuple[str, Any], ...] = attrs.field(default=(), converter=_args)


@attrs.frozen
class And(_Combines):
    """True when every part is true."""

    parts: tuple[Rule, ...] = attrs.field(converter=tuple)

    def __and__(self, other: Rule) -> And:
        return And((*self.parts, other))


@attrs.frozen
class Or(_Combines):
    """True when any part is true."""

    parts: tuple[Rule, ...] = attrs.field(converter=tuple)

    def __or__(self, other: Rule) -> Or:
        return Or((*self.parts, other))


@attrs.frozen
class Not(_Combines):
    """True when its part is false."""

    part: Rule


Rule: TypeAlias = "Condition | And | Or | Not"


class F:
    """The rule builder: ``F("orders.count") >= 3``, ``F("prefecture").in_(["東京都"])``,
    ``F("bought", sku="A-1", within_days=90) == True``; combine conditions with ``&``,
    ``|`` and ``~``."""

    __slots__ = ("name", "args")
    __hash__ = None  # type: ignore[assignment]  # == builds a condition, not a bool

    def __init__(self, name: str, **args: Any) -> None:
        self.name = name
        self.args = args

    def _cond(self, op: Op, value: Any = None) -> Condition:
        return Condition(self.name, op, value, self.args)

    def __eq__(self, value: object) -> Condition:  # type: ignore[override]
        return self._cond(Op.EQ, value)

    def __ne__(self, value: object) -> Condition:  # type: ignore[override]
        return self._cond(Op.NE, value)

    def __lt__(self, value: object) -> Condition:
        return self._cond(Op.LT, value)

    def __le__(self, value: object) -> Condition:
        return self._cond(Op.LE, value)

    def __gt__(self, value: object) -> Condition:
        return self._cond(Op.GT, value)

    def __ge__(self, value: object) -> Condition:
        return self._cond(Op.GE, value)

    def in_(self, values: Any) -> Condition:
        """The field's value is one of ``values``."""
        return self._cond(Op.IN, _as_tuple(values))

    def not_in(self, values: Any) -> Condition:
        """The field has a value and it is none of ``values``."""
        return self._cond(Op.NOT_IN, _as_tuple(values))

    def contains(self, text: str) -> Condition:
        """The field's text contains ``text`` (case-sensitive)."""
        return self._cond(Op.CONTAINS, text)

    def starts_with(self, text: str) -> Condition:
        """The field's text starts with ``text`` (case-sensitive)."""
        return self._cond(Op.STARTS_WITH, text)

    def ends_with(self, text: str) -> Condition:
        """The field's text ends with ``text`` (case-sensitive)."""
        return self._cond(Op.ENDS_WITH, text)

    def is_null(self) -> Condition:
        """The field has no value."""
        return self._cond(Op.IS_NULL)

    def is_not_null(self) -> Condition:
        """The field has a value."""
        return self._cond(Op.IS_NOT_NULL)

    def __bool__(self) -> bool:
        raise TypeError("use F(...) inside a comparison, e.g. F('orders.count') >= 3")

    def __repr__(self) -> str:
        return f"F({self.name!r}{''.join(f', {k}={v!r}' for k, v in self.args.items())})"


def _as_tuple(values: Any) -> Any:
    if isinstance(values, (list, tuple, set, frozenset)):
        return tuple(values)
    return values  # left for bind() to refuse with a clear message


def conditions(rule: Rule) -> Iterator[Condition]:
    """Every condition of ``rule``, left to right."""
    if isinstance(rule, Condition):
        yield rule
    elif isinstance(rule, Not):
        yield from conditions(rule.part)
    else:
        for part in rule.parts:
            yield from conditions(part)


def depth(rule: Rule) -> int:
    """How many and/or/not levels ``rule`` nests (a lone condition: 0; so is what is not a
    rule at all, which binding then refuses by its type)."""
    if isinstance(rule, Not):
        return 1 + depth(rule.part)
    if isinstance(rule, (And, Or)):
        return 1 + max((depth(part) for part in rule.parts), default=0)
    return 0


# -- the document form ------------------------------------------------------------------

def to_document(rule: Rule) -> dict[str, Any]:
    """The JSON-serialisable form: ``{"and": [...]}``, ``{"or": [...]}``, ``{"not": {...}}``
    or ``{"field": ..., "op": ..., "value": ..., "args": {...}}``. Decimals, dates and
    datetimes become ISO strings; :func:`from_document` plus ``bind`` turns them back."""
    if isinstance(rule, Condition):
        document: dict[str, Any] = {"field": rule.field, "op": rule.op.value}
        if rule.args:
            document["args"] = {name: _plain(value) for name, value in rule.args}
        if rule.op not in NULL_TESTS:
            document["value"] = ([_plain(v) for v in rule.value] if rule.op in LIST_OPS
                                 else _plain(rule.value))
        return document
    if isinstance(rule, Not):
        return {"not": to_document(rule.part)}
    key = "and" if isinstance(rule, And) else "or"
    return {key: [to_document(part) for part in rule.parts]}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def from_document(document: object, path: str = "rule", level: int = 0) -> Rule:
    """The tree a document describes; a malformed document raises :class:`RuleError`
    naming the path of the broken part."""
    if level > MAX_DEPTH:
        raise RuleError(path, f"nests deeper than {MAX_DEPTH} levels")
    if not isinstance(document, Mapping):
        raise RuleError(path, f"expected a mapping, got {type(document).__name__}")
    keys = set(document)
    if keys in ({"and"}, {"or"}):
        (key,) = keys
        parts = document[key]
        if not isinstance(parts, list) or not parts:
            raise RuleError(f"{path}.{key}", "expected a non-empty list of rules")
        built = tuple(from_document(p, f"{path}.{key}[{i}]", level + 1)
                      for i, p in enumerate(parts))
        return And(built) if key == "and" else Or(built)
    if keys == {"not"}:
        return Not(from_document(document["not"], f"{path}.not", level + 1))
    return _condition_from(document, path)


def _condition_from(document: Mapping[str, Any], path: str) -> Condition:
    unknown = set(document) - {"field", "op", "value", "args"}
    if unknown or "field" not in document or "op" not in document:
        raise RuleError(path, "expected {'and': [...]}, {'or': [...]}, {'not': {...}} or "
                              "{'field': ..., 'op': ..., 'value': ...}")
    field, op, args = document["field"], document["op"], document.get("args", {})
    if not isinstance(field, str):
        raise RuleError(f"{path}.field", f"expected a string, got {type(field).__name__}")
    if op not in Op._value2member_map_:
        raise RuleError(f"{path}.op", f"unknown operator {op!r}; use one of "
                                      f"{', '.join(o.value for o in Op)}")
    if not isinstance(args, Mapping) or not all(isinstance(k, str) for k in args):
        raise RuleError(f"{path}.args", "expected a mapping of parameter names to values")
    value = document.get("value")
    if Op(op) in LIST_OPS and isinstance(value, list):
        value = tuple(value)
    return Condition(field, Op(op), value, dict(args))
