"""What a rule means, in plain Python: the reference every backend must agree with.

Logic is two-valued. A condition on a missing value (``None``) is false, whatever its
operator, except ``is null``; ``not`` turns false into true. So ``not (age >= 20)`` holds
for customers without a birth date, and ``age < 20`` does not.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any, TypeVar

from ecrm.domain.segment_fields import CUSTOMER_ROW_FIELDS, FieldRegistry
from ecrm.domain.segment_rules import And, Condition, Not, Op, Or, Rule, conditions

Facts = TypeVar("Facts")
Predicate = Callable[[Facts], bool]

_ORDERED: dict[Op, Callable[[Any, Any], bool]] = {
    Op.EQ: operator.eq, Op.NE: operator.ne, Op.LT: operator.lt, Op.LE: operator.le,
    Op.GT: operator.gt, Op.GE: operator.ge,
}


def passes(op: Op, value: Any, target: Any) -> bool:
    """Whether a field's ``value`` passes ``op target``."""
    if op is Op.IS_NULL:
        return value is None
    if value is None:
        return False
    if op is Op.IS_NOT_NULL:
        return True
    if op is Op.IN:
        return value in target
    if op is Op.NOT_IN:
        return value not in target
    if op is Op.CONTAINS:
        return target in value  # type: ignore[no-any-return]
    if op is Op.STARTS_WITH:
        return value.startswith(target)  # type: ignore[no-any-return]
    if op is Op.ENDS_WITH:
        return value.endswith(target)  # type: ignore[no-any-return]
    return _ORDERED[op](value, target)


def predicate(rule: Rule, reader: Callable[[Condition], Callable[[Facts], Any]]
              ) -> Callable[[Facts], bool]:
    """A function telling whether one customer's facts satisfy ``rule``. ``reader``
    returns, for each condition, the function that reads its field's value."""
    if isinstance(rule, Condition):
        read, op = reader(rule), rule.op
        target = frozenset(rule.value) if isinstance(rule.value, tuple) else rule.value
        return lambda facts: passes(op, read(facts), target)
    if isinstance(rule, Not):
        inner = predicate(rule.part, reader)
        return lambda facts: not inner(facts)
    parts = [predicate(part, reader) for part in rule.parts]
    if isinstance(rule, And):
        return lambda facts: all(part(facts) for part in parts)
    assert isinstance(rule, Or)
    return lambda facts: any(part(facts) for part in parts)


def cheap_first(rule: Rule, fields: FieldRegistry) -> Rule:
    """``rule`` with the parts of every and/or reordered so that those reading only the
    customer's own row (:data:`~ecrm.domain.segment_fields.CUSTOMER_ROW_FIELDS`) come
    first, the others after them in their order. The answer cannot change: every
    condition is true or false, never unknown, so and/or do not depend on the order of
    their parts; only how soon an evaluation can stop does. Backends evaluate aggregates
    over orders, interactions and the like only for customers the cheap parts let through.
    """
    if isinstance(rule, Condition):
        return rule
    if isinstance(rule, Not):
        return Not(cheap_first(rule.part, fields))
    parts = [cheap_first(part, fields) for part in rule.parts]
    parts.sort(key=lambda part: not _row_only(part, fields))
    return type(rule)(tuple(parts))


def _row_only(rule: Rule, fields: FieldRegistry) -> bool:
    """Whether every condition of ``rule`` is on a built-in field of the customer's row."""
    return all(condition.field in CUSTOMER_ROW_FIELDS and fields.get(condition.field).builtin
               for condition in conditions(rule))
