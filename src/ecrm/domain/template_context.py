"""The check a template's context passes before rendering: plain values only.

The renderer looks up keys in dicts and indexes in lists, and nothing else; this check is
what makes that true. It looks at each value's exact type (``type(value)``, which an
object cannot fake) and never calls a method of a value it does not know, so a hostile
object with a ``__getattr__``, ``__str__`` or ``__eq__`` trap is refused untouched.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, datetime, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

from ecrm.errors import ValidationError

#: A context holds at most this many values, nested at most this deep.
MAX_CONTEXT_VALUES = 100_000
MAX_CONTEXT_DEPTH = 32
#: Numbers stay below 10**30 with at most 30 decimal places, so every filter prints them
#: exactly and quickly.
MAX_NUMBER_DIGITS = 30

_SCALARS = frozenset({str, bool, type(None), date})
_PLAIN = ("str, int, float, Decimal, bool, None, date, aware datetime, or dicts (text keys), "
          "lists and tuples of those")


def _type_name(value: object) -> str:
    # Read the name from ``type`` itself, so a metaclass cannot run code here.
    return type.__dict__["__name__"].__get__(type(value))  # type: ignore[no-any-return]


#: Where a value sits: ``()`` for the context itself, else ``(parent, key or index)``.
#: The path's text is built only for an error message.
_Where = tuple[object, ...]


def _text(where: _Where) -> str:
    steps: list[str | int] = []
    while where:
        where, step = where  # type: ignore[assignment]
        steps.append(step)  # type: ignore[arg-type]
    text = ""
    for step in reversed(steps):
        text = f"{text}[{step}]" if type(step) is int else f"{text}.{step}" if text else \
            str(step)
    return text


class _Check:
    def __init__(self) -> None:
        self.count = 0

    def value(self, value: object, where: _Where, depth: int) -> None:
        kind = type(value)
        if kind in _SCALARS:
            return
        if kind is dict:
            self.mapping(value, where, depth)  # type: ignore[arg-type]
        elif kind in (list, tuple):
            self.sequence(value, where, depth)  # type: ignore[arg-type]
        elif kind in (int, float, Decimal):
            _number(value, where)  # type: ignore[arg-type]
        elif kind is datetime:
            _datetime(value, where)  # type: ignore[arg-type]
        else:
            raise ValidationError("context", f"{_text(where)} is a {_type_name(value)}; a "
                                             f"template context holds only {_PLAIN}")

    def mapping(self, mapping: dict[object, object], where: _Where, depth: int) -> None:
        self._count(len(mapping))
        too_deep = depth >= MAX_CONTEXT_DEPTH
        for key, item in mapping.items():
            if type(key) is not str:
                raise ValidationError("context", f"{_text(where)}: keys must be text, got a "
                                                 f"{_type_name(key)}")
            if too_deep:
                _too_deep((where, key))
            if type(item) not in _SCALARS:
                self.value(item, (where, key), depth + 1)

    def sequence(self, items: list[object], where: _Where, depth: int) -> None:
        self._count(len(items))
        for index, item in enumerate(items):
            if depth >= MAX_CONTEXT_DEPTH:
                _too_deep((where, index))
            if type(item) not in _SCALARS:
                self.value(item, (where, index), depth + 1)

    def _count(self, values: int) -> None:
        self.count += values
        if self.count > MAX_CONTEXT_VALUES:
            raise ValidationError("context", f"holds more than {MAX_CONTEXT_VALUES:,} values")


def _too_deep(where: _Where) -> None:
    raise ValidationError("context", f"{_text(where)}: nests deeper than {MAX_CONTEXT_DEPTH} "
                                     "levels")


def _number(value: int | float | Decimal, where: _Where) -> None:
    if type(value) is float and not math.isfinite(value):
        raise ValidationError("context", f"{_text(where)}: NaN and infinity cannot be "
                                         "printed")
    number = Decimal(repr(value)) if type(value) is float else Decimal(value)
    if not number.is_finite():
        raise ValidationError("context", f"{_text(where)}: NaN and infinity cannot be "
                                         "printed")
    exponent = number.as_tuple().exponent
    # A float's few significant digits print quickly however small it is.
    too_fine = type(value) is Decimal and isinstance(exponent, int) and \
        exponent < -MAX_NUMBER_DIGITS
    if too_fine or (number and number.adjusted() >= MAX_NUMBER_DIGITS):
        raise ValidationError("context", f"{_text(where)}: numbers must stay below 10**"
                                         f"{MAX_NUMBER_DIGITS} with at most "
                                         f"{MAX_NUMBER_DIGITS} decimal places")


def _datetime(value: datetime, where: _Where) -> None:
    # A tzinfo of another class could run code when the datetime prints.
    if type(value.tzinfo) not in (timezone, ZoneInfo):
        raise ValidationError("context", f"{_text(where)}: datetimes must be timezone-aware, "
                                         "with a datetime.timezone or zoneinfo.ZoneInfo")


def check_context(context: object) -> dict[str, object]:
    """``context`` as a plain dict, after checking that it holds only plain values;
    anything else raises ``ValidationError("context", ...)`` naming the path."""
    if not issubclass(type(context), Mapping):
        raise ValidationError("context", f"expected a mapping, got a {_type_name(context)}")
    plain = dict(context.items())  # type: ignore[attr-defined]
    _Check().mapping(plain, (), 0)
    return plain
