"""Small field checks shared by the domain factories. Each raises ``ValidationError``
naming the field, or returns the normalised value."""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, timezone
from typing import Any, TypeVar

from ecrm.errors import ValidationError

E = TypeVar("E", bound=enum.Enum)

_EMAIL = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")
_PHONE = re.compile(r"^\+?[0-9][0-9 ()\-]{5,30}$")
_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
#: PostgreSQL stores no NUL character in text or JSON; refusing it everywhere keeps every
#: backend alike.
NUL_MESSAGE = "must not contain the NUL character (\\x00)"
SURROGATE_MESSAGE = "must be valid Unicode; a lone surrogate (\\ud800-\\udfff) cannot be stored"
#: How deep a JSON value (attributes, payloads, message data) may nest: deep enough for
#: any real document, and far from Python's recursion limit, which a hostile one would
#: otherwise reach (a RecursionError instead of a ValidationError).
MAX_JSON_DEPTH = 64
_TENANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


def text(field: str, value: object, max_length: int, *, required: bool = False) -> str | None:
    """A string of at most ``max_length`` characters, stripped; blank counts as absent."""
    if value is None:
        if required:
            raise ValidationError(field, "is required")
        return None
    if not isinstance(value, str):
        raise ValidationError(field, f"expected a string, got {type(value).__name__}")
    value = value.strip()
    if not value:
        if required:
            raise ValidationError(field, "must not be blank")
        return None
    if len(value) > max_length:
        raise ValidationError(field, f"is {len(value)} characters long; at most {max_length}")
    _check_characters(field, value)
    return value


def _check_characters(field: str, value: str) -> None:
    """No NUL, and nothing UTF-8 cannot encode (a lone surrogate), on any backend."""
    if "\x00" in value:
        raise ValidationError(field, NUL_MESSAGE)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError(field, SURROGATE_MESSAGE) from None


def required_text(field: str, value: object, max_length: int) -> str:
    """Like :func:`text` but the value must be present."""
    result = text(field, value, max_length, required=True)
    assert result is not None
    return result


def email(field: str, value: object) -> str | None:
    """A plausible e-mail address, lower-cased so look-ups are case-insensitive."""
    address = text(field, value, 254)
    if address is None:
        return None
    if not _EMAIL.match(address):
        raise ValidationError(field, "is not a valid e-mail address")
    return address.lower()


def phone(field: str, value: object) -> str | None:
    """Digits with optional leading ``+`` and the usual separators."""
    number = text(field, value, 32)
    if number is not None and not _PHONE.match(number):
        raise ValidationError(field, "is not a phone number")
    return number


def identifier(field: str, value: object) -> str:
    """A short lower-case name such as a channel: ``[a-z][a-z0-9_]{0,31}``."""
    name = required_text(field, value, 32)
    if not _IDENTIFIER.match(name):
        raise ValidationError(field, "must match [a-z][a-z0-9_]* (at most 32 chars)")
    return name


def tenant(value: object) -> str:
    """A tenant key: letters, digits, ``_ . -``, at most 64 characters."""
    if not isinstance(value, str) or not _TENANT.fullmatch(value):
        raise ValidationError("tenant", f"{value!r} must match [A-Za-z0-9][A-Za-z0-9_.-]{{0,63}}")
    return value


def aware(field: str, value: object, *, required: bool = True) -> datetime | None:
    """A timezone-aware datetime, normalised to UTC. Naive datetimes are refused."""
    if value is None:
        if required:
            raise ValidationError(field, "is required")
        return None
    if not isinstance(value, datetime):
        raise ValidationError(field, f"expected a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(field, "must be timezone-aware (naive datetimes are ambiguous)")
    return value.astimezone(timezone.utc)


def a_date(field: str, value: object) -> date | None:
    """A calendar date (not a datetime)."""
    if value is None:
        return None
    if isinstance(value, datetime) or not isinstance(value, date):
        raise ValidationError(field, f"expected a date, got {type(value).__name__}")
    return value


def positive_int(field: str, value: object) -> int:
    """An int greater than zero (bools are refused)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(field, f"expected an integer, got {type(value).__name__}")
    if value <= 0:
        raise ValidationError(field, f"must be greater than zero, got {value}")
    return value


def json_mapping(field: str, value: object) -> dict[str, Any]:
    """A JSON-compatible mapping with string keys, nesting at most
    :data:`MAX_JSON_DEPTH` levels, deep-copied so callers cannot mutate it."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValidationError(field, f"expected a mapping, got {type(value).__name__}")
    return _json_value(field, value)


def _json_value(field: str, value: Any, depth: int = 0) -> Any:
    if isinstance(value, str):
        _check_characters(field, value)
        return value
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if abs(value) >= 2**53:
            raise ValidationError(field, "integers must fit in 53 bits to survive JSON")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValidationError(field, "NaN and infinity are not JSON")
        return value
    if isinstance(value, (Mapping, list, tuple)) and depth >= MAX_JSON_DEPTH:
        raise ValidationError(field, f"nests deeper than {MAX_JSON_DEPTH} levels")
    if isinstance(value, Mapping):
        result = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValidationError(field, f"keys must be strings, got {type(key).__name__}")
            _check_characters(field, key)
            result[key] = _json_value(f"{field}.{key}", item, depth + 1)
        return result
    if isinstance(value, (list, tuple)):
        return [_json_value(f"{field}[{i}]", item, depth + 1) for i, item in enumerate(value)]
    raise ValidationError(field, f"{type(value).__name__} is not JSON (use str, number, bool, "
                                 "None, list or mapping)")


def names(field: str, values: object) -> list[object]:
    """The items of a collection of names (a list, set or tuple; a lone string is
    refused, as it would read as its letters)."""
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise ValidationError(field, "expected a collection of names, e.g. a list")
    return list(values)


def choice(kind: type[E], field: str) -> Callable[[object], E]:
    """A converter to member of ``kind`` (by value) that names ``field`` when it fails."""
    def convert(value: object) -> E:
        try:
            return kind(value)
        except ValueError:
            allowed = ", ".join(repr(member.value) for member in kind)
            raise ValidationError(field, f"is not one of {allowed}") from None

    return convert
