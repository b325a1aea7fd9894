"""The fixed set of template filters, and how a plain value prints.

Filters take and return plain values only (text, numbers, dates, lists, mappings, None).
Their arguments are literals written in the template, checked when it is parsed
(:func:`check_filter`); a filter that cannot handle its value raises :class:`FilterFailure`,
which the renderer reports with the line and column of the call.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal

import attrs

from ecrm.domain.money import CURRENCY_EXPONENTS

#: ``truncate(n)`` and ``date(format)`` arguments stay below these sizes.
MAX_TRUNCATE = 100_000
MAX_DATE_FORMAT = 200
MAX_PLACES = 10
#: Exact enough for any number the context may hold (below 10**30, 30 places).
_DECIMALS = Context(prec=100)
_CURRENCY_SYMBOLS = {"JPY": "¥", "USD": "$", "EUR": "€", "GBP": "£", "KRW": "₩"}
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")
_JAPANESE_WEEKDAYS = "月火水木金土日"


class FilterFailure(ValueError):
    """A filter cannot handle the value it was given."""


def kind(value: object) -> str:
    """How a value is called in messages: ``text``, ``number``, ``list``, ..."""
    kinds = {str: "text", bool: "true/false", int: "number", float: "number",
             Decimal: "number", date: "date", datetime: "datetime", list: "list",
             tuple: "list", dict: "mapping", type(None): "none"}
    return kinds.get(type(value), type(value).__name__)


def display(value: object) -> str:
    """The text a value prints as: None as ``""``, booleans as ``true``/``false``,
    Decimals without exponent, dates in ISO 8601. Lists and mappings do not print."""
    if value is None:
        return ""
    if type(value) is str:
        return value
    if type(value) is bool:
        return "true" if value else "false"
    if type(value) is Decimal:
        return format(value, "f")
    if type(value) in (int, float):
        return repr(value)
    if type(value) in (date, datetime):
        return value.isoformat()  # type: ignore[attr-defined, no-any-return]
    raise FilterFailure(f"a {kind(value)} cannot be printed; loop over it or use a filter "
                        "such as join, length, first or last")


# -- text ---------------------------------------------------------------------------------

def _truncate(value: object, length: int) -> str:
    text = display(value)
    return text if len(text) <= length else text[:length - 1] + "…"


def _join(value: object, separator: str = "") -> str:
    return separator.join(display(item) for item in _sequence("join", value))


def _sequence(name: str, value: object) -> Sequence[object]:
    if type(value) not in (list, tuple):
        raise FilterFailure(f"{name} expects a list, got {kind(value)}")
    return value  # type: ignore[return-value]


def _length(value: object) -> int:
    if type(value) not in (str, list, tuple, dict):
        raise FilterFailure(f"length expects text, a list or a mapping, got {kind(value)}")
    return len(value)  # type: ignore[arg-type]


def _first(value: object) -> object:
    items = value if type(value) is str else _sequence("first", value)
    return items[0] if items else None  # type: ignore[index]


def _last(value: object) -> object:
    items = value if type(value) is str else _sequence("last", value)
    return items[-1] if items else None  # type: ignore[index]


# -- numbers and money --------------------------------------------------------------------

def _decimal(name: str, value: object) -> Decimal:
    if type(value) in (int, Decimal):
        return Decimal(value)  # type: ignore[arg-type]
    if type(value) is float:
        return Decimal(repr(value))
    raise FilterFailure(f"{name} expects a number, got {kind(value)}")


def _rounded(number: Decimal, places: int) -> Decimal:
    return number.quantize(Decimal(1).scaleb(-places), ROUND_HALF_EVEN, _DECIMALS)


def _number(value: object, places: int | None = None) -> str:
    number = _decimal("number", value)
    if places is not None:
        number = _rounded(number, places)
    return format(number, ",f")


def _money(value: object, currency: str = "JPY") -> str:
    amount = _rounded(_decimal("money", value), CURRENCY_EXPONENTS[currency])
    digits = format(abs(amount), ",f")
    sign = "-" if amount < 0 else ""
    symbol = _CURRENCY_SYMBOLS.get(currency)
    return f"{sign}{symbol}{digits}" if symbol else f"{sign}{digits} {currency}"


def _yen(value: object) -> str:
    return _money(value, "JPY")


# -- dates --------------------------------------------------------------------------------

_DATE_DIRECTIVES: dict[str, Callable[[date], str]] = {
    "Y": lambda d: f"{d.year:04d}",
    "y": lambda d: f"{d.year % 100:02d}",
    "m": lambda d: f"{d.month:02d}",
    "d": lambda d: f"{d.day:02d}",
    "a": lambda d: _WEEKDAYS[d.weekday()][:3],
    "A": lambda d: _WEEKDAYS[d.weekday()],
    "b": lambda d: _MONTHS[d.month - 1][:3],
    "B": lambda d: _MONTHS[d.month - 1],
    "J": lambda d: _JAPANESE_WEEKDAYS[d.weekday()],
}
_TIME_DIRECTIVES: dict[str, Callable[[datetime], str]] = {
    "H": lambda t: f"{t.hour:02d}",
    "I": lambda t: f"{(t.hour - 1) % 12 + 1:02d}",
    "M": lambda t: f"{t.minute:02d}",
    "S": lambda t: f"{t.second:02d}",
    "p": lambda t: "AM" if t.hour < 12 else "PM",
}
#: Directives that ``%-`` may unpad (``%-m`` prints 6 rather than 06).
_PADDED = frozenset("ymdHIMS")
DATE_DIRECTIVES = "%Y %y %m %d %a %A %b %B %J %H %I %M %S %p %%"


def date_pieces(pattern: str) -> list[tuple[str, bool, str]]:
    """The pattern as (directive, unpadded, literal text) triples; ``directive`` is ``""``
    for plain text. Unknown directives raise :class:`FilterFailure`."""
    pieces, position = [], 0
    while position < len(pattern):
        if pattern[position] != "%":
            end = pattern.find("%", position)
            end = len(pattern) if end < 0 else end
            pieces.append(("", False, pattern[position:end]))
            position = end
            continue
        unpadded = pattern.startswith("%-", position)
        code = pattern[position + 1 + unpadded:position + 2 + unpadded]
        known = code == "%" or code in _DATE_DIRECTIVES or code in _TIME_DIRECTIVES
        if not known or (unpadded and code not in _PADDED):
            written = pattern[position:position + 2 + unpadded]
            raise FilterFailure(f"date: {written!r} is not a known directive; use "
                                f"{DATE_DIRECTIVES} (and %-m, %-d, %-H ... unpadded)")
        pieces.append((code, unpadded, ""))
        position += 2 + unpadded
    return pieces


def _date(value: object, pattern: str = "%Y-%m-%d") -> str:
    if type(value) not in (date, datetime):
        raise FilterFailure(f"date expects a date or a datetime, got {kind(value)}")
    return "".join(_date_piece(value, piece) for piece in date_pieces(pattern))  # type: ignore[arg-type]


def _date_piece(value: date, piece: tuple[str, bool, str]) -> str:
    code, unpadded, text = piece
    if not code:
        return text
    if code == "%":
        return "%"
    if code in _TIME_DIRECTIVES:
        if type(value) is not datetime:
            raise FilterFailure(f"date: %{code} needs a datetime, got a date")
        printed = _TIME_DIRECTIVES[code](value)
    else:
        printed = _DATE_DIRECTIVES[code](value)
    return (printed.lstrip("0") or "0") if unpadded else printed


# -- the table ----------------------------------------------------------------------------

def _text(argument: object) -> str | None:
    return None if type(argument) is str else f"expected a quoted string, got {argument!r}"


def _count(argument: object) -> str | None:
    if type(argument) is int and 1 <= argument <= MAX_TRUNCATE:  # type: ignore[operator]
        return None
    return f"expected a whole number from 1 to {MAX_TRUNCATE:,}, got {argument!r}"


def _places(argument: object) -> str | None:
    if type(argument) is int and 0 <= argument <= MAX_PLACES:  # type: ignore[operator]
        return None
    return f"expected a whole number from 0 to {MAX_PLACES}, got {argument!r}"


def _currency(argument: object) -> str | None:
    if type(argument) is str and argument in CURRENCY_EXPONENTS:
        return None
    return f"{argument!r} is not an ISO 4217 currency code (e.g. 'JPY', 'USD')"


def _date_format(argument: object) -> str | None:
    if type(argument) is not str or len(argument) > MAX_DATE_FORMAT:
        return f"expected a quoted format of at most {MAX_DATE_FORMAT} characters"
    try:
        date_pieces(argument)
    except FilterFailure as failure:
        return str(failure).removeprefix("date: ")
    return None


def _anything(argument: object) -> str | None:
    return None


@attrs.frozen
class _Filter:
    apply: Callable[..., object]
    params: tuple[Callable[[object], str | None], ...] = ()
    required: int = 0


def _escape(value: object) -> str:
    return html.escape(display(value), quote=True)


FILTERS: dict[str, _Filter] = {
    "default": _Filter(lambda value, fallback: value, (_anything,), required=1),
    "upper": _Filter(lambda value: display(value).upper()),
    "lower": _Filter(lambda value: display(value).lower()),
    "title": _Filter(lambda value: display(value).title()),
    "trim": _Filter(lambda value: display(value).strip()),
    "truncate": _Filter(_truncate, (_count,), required=1),
    "money": _Filter(_money, (_currency,)),
    "yen": _Filter(_yen),
    "number": _Filter(_number, (_places,)),
    "date": _Filter(_date, (_date_format,)),
    "escape": _Filter(_escape),
    "e": _Filter(_escape),
    "length": _Filter(_length),
    "join": _Filter(_join, (_text,)),
    "first": _Filter(_first),
    "last": _Filter(_last),
}


def check_filter(name: str, arguments: Sequence[object]) -> str | None:
    """What is wrong with calling filter ``name`` with these literal ``arguments``, or
    None when the call is fine."""
    spec = FILTERS.get(name)
    if spec is None:
        return f"unknown filter {name!r}; the filters are {', '.join(sorted(FILTERS))}"
    if not spec.required <= len(arguments) <= len(spec.params):
        counts = (str(spec.required) if spec.required == len(spec.params)
                  else f"{spec.required} to {len(spec.params)}")
        return f"{name} takes {counts} argument(s), got {len(arguments)}"
    for check, argument in zip(spec.params, arguments, strict=False):
        if problem := check(argument):
            return f"{name}: {problem}"
    return None


def apply_filter(name: str, value: object, arguments: Sequence[object]) -> object:
    """Filter ``name`` applied to ``value``; :class:`FilterFailure` when it cannot be."""
    return FILTERS[name].apply(value, *arguments)
