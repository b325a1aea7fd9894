"""Opaque keyset cursors and page sizes, shared by the paged reads (the timeline, the
audit log)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from ecrm.errors import ValidationError

T = TypeVar("T")


def page_size(value: object, most: int) -> int:
    """A page size from 1 to ``most``. :raises ValidationError: naming ``limit``."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= most:
        raise ValidationError("limit", f"must be a whole number from 1 to {most}, "
                                       f"got {value!r}")
    return value


def encode(version: str, *parts: Any) -> str:
    """An opaque, URL-safe cursor holding ``parts`` (JSON values) under ``version``."""
    raw = json.dumps([version, *parts], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(cursor: object, version: str, convert: Callable[[list[Any]], T],
           message: str) -> T | None:
    """What ``convert`` makes of the parts of a cursor of ``version`` (None for None).

    :raises ValidationError: naming ``after`` with ``message``, when the cursor is not
        one of ``version`` or ``convert`` raises TypeError or ValueError.
    """
    if cursor is None:
        return None
    try:
        if not isinstance(cursor, str):
            raise TypeError(cursor)
        padded = cursor + "=" * (-len(cursor) % 4)
        found = json.loads(base64.urlsafe_b64decode(padded))
        if not isinstance(found, list) or not found or found[0] != version:
            raise ValueError(cursor)
        return convert(found[1:])
    except (TypeError, ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationError("after", message) from None


def aware_time(text: object) -> datetime:
    """A timezone-aware datetime from its ISO text. :raises ValueError: otherwise."""
    if not isinstance(text, str):
        raise TypeError(text)
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(text)
    return moment
