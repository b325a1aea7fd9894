"""Personal data in reprs.

A repr ends up in logs, tracebacks and error trackers (which record the local variables
of each frame), so the domain classes that hold personal data (a customer's e-mail
address, name, phone number, birth date, postal address; a message's recipient and
body) show those fields masked: ``Customer(id='…', email=<hidden>, name=None, …)``.
Equality, hashing and the fields themselves are untouched.
"""

from __future__ import annotations

from typing import Any

import attrs


def hidden(value: object) -> str:
    """The repr of a personal value: ``None`` when absent, else ``<hidden>``."""
    return "None" if value is None else "<hidden>"


def personal(**kwargs: Any) -> Any:
    """An attrs field whose value is personal data, masked in the class's repr
    (``kwargs`` as for :func:`attrs.field`)."""
    return attrs.field(repr=hidden, **kwargs)
