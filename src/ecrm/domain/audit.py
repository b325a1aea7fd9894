"""The audit trail: who (an actor the host names) changed what, and when.

An entry names its subject by kind and id, the customer it concerns by id, and says what
changed in ``details``: field *names*, enum values, numbers and ids, never the values a
person typed (an e-mail, a name, a note). So erasing a customer never has to touch the
append-only log. See ``docs/audit.md``.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

import attrs

from ecrm.domain import cursors
from ecrm.domain import validation as check
from ecrm.errors import ValidationError

#: The longest actor, action, subject kind and id an entry stores (the columns' sizes).
MAX_ACTOR = 128
MAX_ACTION = 64
MAX_KIND = 32
MAX_SUBJECT_ID = 128
#: Page sizes of :meth:`ecrm.audit.AuditService.entries`: the default and the most.
DEFAULT_PAGE = 100
MAX_PAGE = 1000

_ACTION = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
_KIND = re.compile(r"^[a-z][a-z0-9_]*$")
_CURSOR_VERSION = "a1"

# The actions ecrm writes itself.
CUSTOMER_CREATED = "customer.created"
CUSTOMER_UPDATED = "customer.updated"
CUSTOMER_MERGED = "customer.merged"
CUSTOMERS_IMPORTED = "customer.imported"
CUSTOMER_ERASED = "customer.erased"
CONSENT_GRANTED = "consent.granted"
CONSENT_WITHDRAWN = "consent.withdrawn"
POINTS_ADJUSTED = "loyalty.adjusted"
POINTS_REVERSED = "loyalty.reversed"
TIER_FLOOR_SET = "loyalty.tier_floor_set"
CASE_OPENED = "case.opened"
CASE_UPDATED = "case.updated"
CASE_STATUS_CHANGED = "case.status_changed"
CASE_ORDER_LINKED = "case.order_linked"


@attrs.frozen
class AuditEntry:
    """One change, as the audit trail keeps it.

    ``actor`` is who the host said was acting (``crm.acting_as``), None when it said
    nothing. ``action`` reads ``"<kind>.<what happened>"`` (``"customer.updated"``);
    ``subject_kind`` and ``subject_id`` name the record changed (``"case"`` and the
    case's id); ``customer_id`` is the customer it concerns, as it was then (merges do
    not rewrite it). ``details`` holds field names, enum values, numbers and ids only.
    """

    id: str
    at: datetime
    actor: str | None
    action: str
    subject_kind: str
    subject_id: str
    customer_id: str | None = None
    details: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class AuditQuery:
    """Which entries to read: every filter given must hold. ``customer_ids`` any of;
    ``actions`` any of; ``since`` inclusive, ``until`` exclusive; ``after`` the position
    ``(at, id)`` the page starts behind."""

    customer_ids: tuple[str, ...] | None = None
    subject_kind: str | None = None
    subject_id: str | None = None
    actions: tuple[str, ...] | None = None
    actor: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    after: tuple[datetime, str] | None = None
    limit: int = DEFAULT_PAGE

    def matches(self, entry: AuditEntry) -> bool:
        """True when ``entry`` passes every filter (the position and limit aside)."""
        return ((self.customer_ids is None or entry.customer_id in self.customer_ids)
                and self.subject_kind in (None, entry.subject_kind)
                and self.subject_id in (None, entry.subject_id)
                and (self.actions is None or entry.action in self.actions)
                and self.actor in (None, entry.actor)
                and (self.since is None or entry.at >= self.since)
                and (self.until is None or entry.at < self.until)
                and (self.after is None or (entry.at, entry.id) > self.after))


def actor(value: object) -> str:
    """An actor: a non-blank string of at most :data:`MAX_ACTOR` characters (stripped)."""
    return check.required_text("actor", value, MAX_ACTOR)


def action(value: object, field: str = "action") -> str:
    """An action such as ``"customer.updated"``: dotted lower-case words."""
    found = check.required_text(field, value, MAX_ACTION)
    if not _ACTION.match(found):
        raise ValidationError(field, f"{found!r} is not an action such as 'customer.updated'")
    return found


def subject_kind(value: object, field: str = "subject_kind") -> str:
    """A subject kind such as ``"customer"`` or ``"case"``: one lower-case word."""
    found = check.required_text(field, value, MAX_KIND)
    if not _KIND.match(found):
        raise ValidationError(field, f"{found!r} is not a kind such as 'customer'")
    return found


def new_entry(entry_id: str, at: datetime, who: str | None, what: str, kind: str,
              subject_id: str, customer_id: str | None,
              details: Mapping[str, Any] | None) -> AuditEntry:
    """An entry, checked: :raises ValidationError: naming the bad argument."""
    return AuditEntry(
        id=entry_id, at=at, actor=who, action=action(what),
        subject_kind=subject_kind(kind),
        subject_id=check.required_text("subject_id", subject_id, MAX_SUBJECT_ID),
        customer_id=check.text("customer_id", customer_id, MAX_SUBJECT_ID),
        details=check.json_mapping("details", details))


def changed_names(before: object, after: object, names: Collection[str]) -> list[str]:
    """The names among ``names`` whose attribute differs between the two, sorted."""
    return sorted(name for name in names if getattr(before, name) != getattr(after, name))


def page_size(value: object) -> int:
    """A page size from 1 to :data:`MAX_PAGE`."""
    return cursors.page_size(value, MAX_PAGE)


def encode_cursor(entry: AuditEntry) -> str:
    """An opaque, URL-safe cursor standing just behind ``entry``."""
    return cursors.encode(_CURSOR_VERSION, entry.at.isoformat(), entry.id)


def decode_cursor(cursor: object) -> tuple[datetime, str] | None:
    """The position ``(at, id)`` a cursor stands for (None for None).

    :raises ValidationError: naming ``after``, when it is not a cursor of the audit log.
    """
    def position(parts: list[Any]) -> tuple[datetime, str]:
        at, entry_id = parts
        if not isinstance(entry_id, str):
            raise TypeError(entry_id)
        return cursors.aware_time(at), entry_id

    return cursors.decode(cursor, _CURSOR_VERSION, position, "is not a cursor of the "
                          "audit log (pass the next_after of a previous page)")
