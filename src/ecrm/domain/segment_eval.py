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
from ecrm.domain.segment_rules import And, Condition, Not, Op, Rule, conditions

Facts = TypeVar("Facts")

_ORDERED: dict[Op, Callable[[Any, Any], bool]] = {
    Op.EQ: operator.eq, Op.NE: operator.ne, Op.LT: operator.lt, Op.LE: operator.le,
    Op.GT: operator.gt, Op.GE: operator.ge,
}


def passes(op: Op, value: Any, target: Any) -> bool:
    """Whether a field's ``value`` passes ``op target``."""
    return tester(op, target)(value)


def tester(op: Op, target: Any) -> Callable[[Any], bool]:
    """The test ``op target`` as a function of a field's value. A missing value (None)
    passes ``is null`` and nothing else; texts match case-sensitively."""
    if op is Op.IS_NULL:
        return _missing
    if op is Op.IS_NOT_NULL:
        return _present
    check = _check(op, target)
    return lambda value: value is not None and check(value)


def _missing(value: Any) -> bool:
    return value is None


def _present(value: Any) -> bool:
    return value is not None


def _check(op: Op, target: Any) -> Callable[[Any], bool]:
    """``op target`` for a value that is present."""
    if op is Op.IN:
        return frozenset(target).__contains__
    if op is Op.NOT_IN:
        members = frozenset(target)
        return lambda value: value not in members
    if op is Op.CONTAINS:
        return lambda value: target in value  # type: ignore[no-any-return]
    if op is Op.STARTS_WITH:
        return lambda value: value.startswith(target)  # type: ignore[no-any-return]
    if op is Op.ENDS_WITH:
        return lambda value: value.endswith(target)  # type: ignore[no-any-return]
    compare = _ORDERED[op]
    return lambda value: compare(value, target)


Reader = Callable[[Condition], Callable[[Facts], Any]]


def select(rule: Rule, items: list[Facts], reader: Reader[Facts]) -> list[Facts]:
    """The items (distinct objects: customers, their facts) that satisfy ``rule``, in their
    order, worked out a condition at a time over the whole list, so a condition sees only
    the items its rule has not decided yet. An
    *and* narrows the list part by part, an *or* hands each part what the earlier ones
    did not take, a *not* keeps what its part drops."""
    if isinstance(rule, Condition):
        read, test = reader(rule), tester(rule.op, rule.value)
        return [item for item in items if test(read(item))]
    if isinstance(rule, Not):
        dropped = set(map(id, select(rule.part, items, reader)))
        return [item for item in items if id(item) not in dropped]
    if isinstance(rule, And):
        for part in rule.parts:
            items = select(part, items, reader)
        return items
    taken: set[int] = set()  # ids: the items need not be hashable
    undecided = items
    for part in rule.parts:
        taken.update(map(id, select(part, undecided, reader)))
        undecided = [item for item in undecided if id(item) not in taken]
    return [item for item in items if id(item) in taken]


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


def split_on_row(rule: Rule, fields: FieldRegistry) -> tuple[Rule | None, Rule | None]:
    """``rule`` as (a part reading only the customer's row, the rest), such that ``rule``
    holds exactly when both do (None: no such part, which always holds). The row part is
    the whole rule or the row-only parts of a top-level *and*, so an evaluator can narrow
    the customers with it before it looks at anything else."""
    if _row_only(rule, fields):
        return rule, None
    if isinstance(rule, And):
        row = [part for part in rule.parts if _row_only(part, fields)]
        rest = [part for part in rule.parts if not _row_only(part, fields)]
        if row:
            return _joined(row), _joined(rest)
    return None, rule


def _joined(parts: list[Rule]) -> Rule:
    return parts[0] if len(parts) == 1 else And(tuple(parts))
