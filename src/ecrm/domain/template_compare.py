"""Comparisons in template conditions: ``== != < <= > >= in``, ``not in``.

They compare single plain values only, so their work stays in proportion to the values
(no deep comparison of nested lists), and values of unlike kinds are an error rather than
Python's answer: ``true`` is not ``1``, and text is not less than a number.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from ecrm.domain.template_filters import kind
from ecrm.domain.template_nodes import Place

_CONTAINERS = (list, tuple, dict)
_ORDERS: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
_ORDERED = frozenset({"number", "text", "date", "datetime"})


def compare(op: str, left: object, right: object, place: Place) -> bool:
    """Whether ``left op right`` holds; unlike or unsuitable values raise a
    ``TemplateError`` at ``place``."""
    if op in ("in", "not in"):
        return _contains(right, left, place) == (op == "in")
    if type(left) in _CONTAINERS or type(right) in _CONTAINERS:
        raise place.error(f"{op} compares single values, not lists or mappings "
                          "(use length, first or in)")
    if op == "==":
        return _same(left, right)
    if op == "!=":
        return not _same(left, right)
    kinds = kind(left), kind(right)
    if kinds[0] != kinds[1] or kinds[0] not in _ORDERED:
        raise place.error(f"cannot compare {kinds[0]} with {kinds[1]} using {op}")
    return bool(_ORDERS[op](left, right))


def _same(left: object, right: object) -> bool:
    # true is not 1 here, though it is in Python.
    if (type(left) is bool) != (type(right) is bool):
        return False
    return bool(left == right)


def _contains(container: object, item: object, place: Place) -> bool:
    if type(item) in _CONTAINERS:
        raise place.error(f"'in' needs a single value on its left, got {kind(item)}")
    if type(container) in (list, tuple):
        elements: list[object] = container  # type: ignore[assignment]
        return any(type(e) not in _CONTAINERS and _same(item, e) for e in elements)
    if type(container) in (str, dict):
        if type(item) is not str:
            raise place.error(f"'in' {kind(container)} needs text on its left, "
                              f"got {kind(item)}")
        return item in container  # type: ignore[operator]
    raise place.error(f"'in' needs text, a list or a mapping on its right, "
                      f"got {kind(container)}")
