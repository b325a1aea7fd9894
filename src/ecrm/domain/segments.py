"""Saved customer segments: a named set of customers, either kept by a rule (dynamic) or
by hand (static), the memberships, and the log of customers entering and leaving.

Only the records and their checks live here; the rule language, its evaluation and the
``crm.segments`` service build on them.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from ecrm.domain import validation as check
from ecrm.errors import ValidationError

#: The longest segment name, in characters.
MAX_NAME_CHARS = 100
#: The longest description, in characters.
MAX_DESCRIPTION_CHARS = 1000


class SegmentKind(enum.StrEnum):
    """How a segment's members are chosen: by its rule, re-evaluated on refresh
    (``dynamic``), or added and removed by hand (``static``)."""

    DYNAMIC = "dynamic"
    STATIC = "static"


class MembershipChangeKind(enum.StrEnum):
    """Whether a customer came into a segment or went out of it."""

    ENTERED = "entered"
    LEFT = "left"


@attrs.frozen
class Segment:
    """A saved segment. ``rule`` is a JSON-serialisable rule tree (dynamic segments only);
    ``refreshed_at`` is when the members were last computed and ``member_count`` how many
    there were."""

    id: str
    name: str
    kind: SegmentKind
    created_at: datetime
    updated_at: datetime
    description: str | None = None
    rule: Mapping[str, Any] | None = None
    refreshed_at: datetime | None = None
    member_count: int = 0


@attrs.frozen
class Membership:
    """A customer's place in a segment, held ``since`` the time it entered."""

    segment_id: str
    customer_id: str
    since: datetime


@attrs.frozen
class MembershipChange:
    """One entry of a segment's history: a customer entered or left at ``at``."""

    id: str
    segment_id: str
    customer_id: str
    change: MembershipChangeKind
    at: datetime


def new_segment(segment_id: str, now: datetime, *, name: object, kind: object,
                description: object = None, rule: object = None) -> Segment:
    """Validate the fields and build a segment created at ``now``, with no members yet.

    :raises ValidationError: a bad field, named (``name``, ``description``, ``kind`` or
        ``rule``).
    """
    clean_kind = check.choice(SegmentKind, "kind")(kind)
    return Segment(id=segment_id, name=segment_name(name), kind=clean_kind,
                   created_at=now, updated_at=now, description=segment_description(description),
                   rule=segment_rule(clean_kind, rule))


#: Fields :func:`change_segment` may change.
EDITABLE = ("name", "description", "kind", "rule")


def change_segment(segment: Segment, now: datetime, **changes: object) -> Segment:
    """``segment`` with ``changes`` (any of :data:`EDITABLE`) applied and checked as
    :func:`new_segment` checks them; ``updated_at`` moves to ``now`` when something
    changed, and ``segment`` itself comes back when nothing did. A kind and its rule are
    checked together, so turning a dynamic segment static needs ``rule=None`` in the same
    call.

    :raises ValidationError: an unknown field or a bad value, named.
    """
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise ValidationError(unknown[0], "is not a field a segment change can set "
                                          f"(one of {', '.join(EDITABLE)})")
    fields: dict[str, Any] = {name: getattr(segment, name) for name in EDITABLE}
    fields.update(changes)
    fresh = new_segment(segment.id, now, **fields)
    changed = attrs.evolve(segment, name=fresh.name, description=fresh.description,
                           kind=fresh.kind, rule=fresh.rule)
    return segment if changed == segment else attrs.evolve(changed, updated_at=now)


def segment_name(value: object) -> str:
    """A segment's name: text, not blank, at most :data:`MAX_NAME_CHARS` characters."""
    return check.required_text("name", value, MAX_NAME_CHARS)


def segment_description(value: object) -> str | None:
    """An optional description of at most :data:`MAX_DESCRIPTION_CHARS` characters."""
    return check.text("description", value, MAX_DESCRIPTION_CHARS)


def segment_rule(kind: SegmentKind, value: object) -> dict[str, Any] | None:
    """A dynamic segment's rule: a JSON-compatible mapping, deep-copied. A static
    segment has none.

    :raises ValidationError: naming ``rule``.
    """
    if kind is SegmentKind.STATIC:
        if value is not None:
            raise ValidationError("rule", "a static segment has no rule; leave it None")
        return None
    if not isinstance(value, Mapping):
        raise ValidationError("rule", "a dynamic segment needs a rule: a mapping, got "
                                      f"{type(value).__name__}")
    return check.json_mapping("rule", value)
