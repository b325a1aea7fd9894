"""The building blocks of a customer's data export (``crm.privacy.export``): turning domain
objects into plain JSON values, with no I/O."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Set
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import attrs

#: What the document's ``format`` field says.
FORMAT = "ecrm.customer-export"
#: The version of the document's layout; a change that could break a reader raises it.
FORMAT_VERSION = 1


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON values that ``json.dumps`` takes without a custom encoder:
    attrs objects become dicts of their fields, enums their values, datetimes ISO 8601
    with their offset, dates ISO 8601, decimals strings (money keeps its currency in the
    object's own ``currency`` field), sets sorted lists and tuples lists.

    :raises TypeError: a value of a type JSON cannot hold.
    """
    if isinstance(value, enum.Enum):
        return jsonable(value.value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if attrs.has(type(value)):
        return {field.name: jsonable(getattr(value, field.name))
                for field in attrs.fields(type(value))}
    if isinstance(value, Mapping):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, Set):
        return sorted(jsonable(item) for item in value)
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    raise TypeError(f"cannot export a {type(value).__name__}")
