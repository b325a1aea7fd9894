"""Segments (``crm.segments``): who matches a rule, saved segments and their membership.

A *dynamic* segment holds a rule; :meth:`SegmentService.refresh` evaluates it, stores the
members and records who entered and who left. A *static* segment holds the members it is
given. Every membership change is one unit of work, recorded in the segment's history and
announced by ``ecrm_segment_membership_changed`` after commit. Refreshes of one segment
are serialised by a lock on the segment, so racing workers never record a change twice.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any, TypeAlias

import attrs

from ecrm.backends.base import UnitOfWork
from ecrm.domain import validation
from ecrm.domain.audience import AudienceMember
from ecrm.domain.ids import new_id
from ecrm.domain.segment_fields import BUILTIN_FIELDS, FieldRegistry, RuleContext
from ecrm.domain.segment_rules import F, Rule, from_document, to_document
from ecrm.domain.segment_text import parse, to_text
from ecrm.domain.segments import (
    Membership,
    MembershipChange,
    MembershipChangeKind,
    Segment,
    SegmentKind,
    change_segment,
    new_segment,
)
from ecrm.errors import ConflictError, NotFound, ValidationError
from ecrm.segment_export import DEFAULT_COLUMNS, audience_of, write_csv

if TYPE_CHECKING:
    from ecrm.crm import CRM

#: What :meth:`SegmentService.rule` accepts: a rule tree (or a bare ``F`` for a yes/no
#: field), its text, or its JSON document.
RuleInput: TypeAlias = "Rule | F | str | Mapping[str, Any]"


@attrs.frozen
class MembershipDelta:
    """What one refresh, ``add`` or ``remove`` changed: the customers who entered and
    left (sorted ids), and the segment as it stands after."""

    segment: Segment
    entered: tuple[str, ...]
    left: tuple[str, ...]

    @property
    def changed(self) -> bool:
        """True when anyone entered or left."""
        return bool(self.entered or self.left)


class SegmentService:
    """The ``crm.segments`` capability."""

    def __init__(self, crm: CRM) -> None:
        self._crm = crm
        self._fields: FieldRegistry | None = None

    # -- rules ------------------------------------------------------------------------

    @property
    def fields(self) -> FieldRegistry:
        """The fields rules may use: ecrm's and those plugins contribute
        (``ecrm_segment_fields``), gathered once."""
        if self._fields is None:
            contributed = self._crm.plugin_manager.hook.ecrm_segment_fields(crm=self._crm)
            self._fields = FieldRegistry(
                [*BUILTIN_FIELDS, *(f for fields in contributed for f in fields or ())])
        return self._fields

    def rule(self, rule: RuleInput) -> Rule:
        """``rule`` in any of its forms, checked against :attr:`fields`.

        :raises RuleError: (a ``ValidationError``) an unknown field or operator, a value
            of the wrong type, a syntax error or a broken limit; text errors carry the
            position.
        """
        if isinstance(rule, str):
            return parse(rule, self.fields)
        if isinstance(rule, F):
            rule = rule == True  # noqa: E712  (a bare yes/no field means "is true")
        if isinstance(rule, Mapping):
            rule = from_document(rule)
        return self.fields.bind(rule)  # type: ignore[arg-type]

    def text(self, rule: RuleInput) -> str:
        """The text form of ``rule``."""
        return to_text(self.rule(rule))

    def document(self, rule: RuleInput) -> dict[str, Any]:
        """The JSON-serialisable form of ``rule``."""
        return to_document(self.rule(rule))

    def evaluate(self, rule: RuleInput, *, as_of: datetime | None = None) -> list[str]:
        """The ids of the customers ``rule`` selects at ``as_of`` (default now), sorted."""
        bound, context = self.rule(rule), self._context(as_of)
        return self._crm.transact(lambda uow: uow.segment_query.matching(bound, context),
                                  read_only=True)

    def count(self, rule: RuleInput, *, as_of: datetime | None = None) -> int:
        """How many customers ``rule`` selects at ``as_of`` (default now)."""
        bound, context = self.rule(rule), self._context(as_of)
        return self._crm.transact(lambda uow: uow.segment_query.count(bound, context),
                                  read_only=True)

    def _context(self, as_of: datetime | None) -> RuleContext:
        if as_of is None:
            as_of = self._crm.clock.now()
        else:  # refuse naive times, but keep the caller's zone: ``age`` uses its calendar
            validation.aware("as_of", as_of)
        return RuleContext(as_of, self._crm.currency, self.fields)

    # -- saved segments ---------------------------------------------------------------

    def create(self, name: str, *, rule: RuleInput | None = None,
               description: str | None = None,
               customer_ids: Collection[str] = ()) -> Segment:
        """Save a segment: dynamic when given a ``rule`` (members appear with the first
        :meth:`refresh`), static otherwise, starting with ``customer_ids``.

        :raises ConflictError: a segment of that name exists.
        :raises ValidationError: a bad name, description or rule, or unknown customers.
        """
        document = None if rule is None else to_document(self.rule(rule))
        customer_ids = validation.names("customer_ids", customer_ids)
        if document is not None and customer_ids:
            raise ValidationError("customer_ids", "a dynamic segment's members come from "
                                                  "its rule")
        now = self._crm.clock.now()
        segment = new_segment(new_id(), now, name=name, description=description,
                              kind=SegmentKind.STATIC if rule is None else SegmentKind.DYNAMIC,
                              rule=document)

        def work(uow: UnitOfWork) -> Segment:
            self._add_segment(uow, segment)
            if customer_ids:
                return self._change(uow, segment, _known(uow, customer_ids), (), now).segment
            return segment
        return self._crm.transact(work)

    def _add_segment(self, uow: UnitOfWork, segment: Segment) -> None:
        _name_is_free(uow, segment)
        uow.segments.add(segment)  # the unique key backs the check up in a race

    def get(self, segment_id: str) -> Segment:
        """The segment. :raises NotFound: no such segment."""
        return self._crm.transact(lambda uow: _segment(uow, segment_id), read_only=True)

    def find(self, name: str) -> Segment | None:
        """The segment called ``name``, or None."""
        return self._crm.transact(lambda uow: uow.segments.by_name(name), read_only=True)

    def all(self) -> list[Segment]:
        """Every saved segment, by name."""
        return self._crm.transact(lambda uow: uow.segments.all(), read_only=True)

    def update(self, segment_id: str, *, name: str | None = None,
               description: str | None = None, rule: RuleInput | None = None) -> Segment:
        """Rename, redescribe or change the rule of a segment (members follow the new rule
        at the next :meth:`refresh`). :raises ConflictError: the name is taken, or a rule
        for a static segment."""
        changes: dict[str, Any] = {}
        if name is not None:
            changes["name"] = name
        if description is not None:
            changes["description"] = description
        if rule is not None:
            changes["rule"] = to_document(self.rule(rule))

        def work(uow: UnitOfWork) -> Segment:
            segment = _segment(uow, segment_id, for_update=True)
            if rule is not None and segment.kind is SegmentKind.STATIC:
                raise ConflictError(f"segment {segment.name!r} is static: it has no rule")
            changed = change_segment(segment, self._crm.clock.now(), **changes)
            _name_is_free(uow, changed)
            uow.segments.replace(changed)
            return changed
        return self._crm.transact(work)

    def delete(self, segment_id: str) -> None:
        """Remove a segment with its members and history. :raises NotFound:"""
        def work(uow: UnitOfWork) -> None:
            _segment(uow, segment_id, for_update=True)
            uow.segments.delete(segment_id)
        self._crm.transact(work)

    # -- membership -------------------------------------------------------------------

    def refresh(self, segment_id: str, *, as_of: datetime | None = None) -> MembershipDelta:
        """Evaluate a dynamic segment's rule at ``as_of`` (default now), store the
        members, record who entered and left, and fire
        ``ecrm_segment_membership_changed`` after commit when anyone did.

        :raises ConflictError: the segment is static.
        :raises RuleError: the stored rule names a field no longer registered.
        """
        context = self._context(as_of)

        def work(uow: UnitOfWork) -> MembershipDelta:
            segment = _segment(uow, segment_id, for_update=True)
            if segment.kind is SegmentKind.STATIC:
                raise ConflictError(f"segment {segment.name!r} is static: add and remove "
                                    "its members instead")
            rule = self.fields.bind(from_document(segment.rule))
            wanted = set(uow.segment_query.matching(rule, context))
            current = uow.segments.member_ids(segment.id)
            now = self._crm.clock.now()
            refreshed = attrs.evolve(segment, refreshed_at=now)
            return self._change(uow, refreshed, wanted - current, current - wanted, now)
        return self._crm.transact(work)

    def refresh_all(self, *, as_of: datetime | None = None) -> list[MembershipDelta]:
        """Refresh every dynamic segment, each in its own unit of work, by name."""
        return [self.refresh(s.id, as_of=as_of) for s in self.all()
                if s.kind is SegmentKind.DYNAMIC]

    def add(self, segment_id: str, customer_ids: Collection[str]) -> MembershipDelta:
        """Put customers into a static segment (those already in stay as they are).
        :raises ConflictError: the segment is dynamic. :raises ValidationError: unknown
        customers."""
        return self._edit(segment_id, customer_ids, entering=True)

    def remove(self, segment_id: str, customer_ids: Collection[str]) -> MembershipDelta:
        """Take customers out of a static segment. :raises ConflictError: the segment is
        dynamic."""
        return self._edit(segment_id, customer_ids, entering=False)

    def _edit(self, segment_id: str, customer_ids: Collection[str], *, entering: bool
              ) -> MembershipDelta:
        wanted = set(validation.names("customer_ids", customer_ids))

        def work(uow: UnitOfWork) -> MembershipDelta:
            segment = _segment(uow, segment_id, for_update=True)
            if segment.kind is SegmentKind.DYNAMIC:
                raise ConflictError(f"segment {segment.name!r} is dynamic: its rule decides "
                                    "its members")
            current = uow.segments.member_ids(segment.id)
            now = self._crm.clock.now()
            if entering:
                return self._change(uow, segment, _known(uow, wanted) - current, (), now)
            return self._change(uow, segment, (), wanted & current, now)
        return self._crm.transact(work)

    def _change(self, uow: UnitOfWork, segment: Segment, entered: Iterable[str],
                left: Iterable[str], now: datetime) -> MembershipDelta:
        entered, left = tuple(sorted(entered)), tuple(sorted(left))
        uow.segments.remove_members(segment.id, left)
        uow.segments.add_members([Membership(segment.id, c, now) for c in entered])
        uow.segments.add_changes(
            [MembershipChange(new_id(), segment.id, c, MembershipChangeKind.ENTERED, now)
             for c in entered]
            + [MembershipChange(new_id(), segment.id, c, MembershipChangeKind.LEFT, now)
               for c in left])
        segment = attrs.evolve(segment, member_count=segment.member_count + len(entered)
                               - len(left))
        uow.segments.replace(segment)
        delta = MembershipDelta(segment, entered, left)
        if delta.changed:
            self._crm.notify_after_commit(uow, "ecrm_segment_membership_changed",
                                          segment=segment, entered=entered, left=left)
        return delta

    def members(self, segment_id: str, *, after: str | None = None, limit: int = 100
                ) -> list[Membership]:
        """Up to ``limit`` members by customer id, after ``after`` (keyset paging)."""
        validation.positive_int("limit", limit)

        def work(uow: UnitOfWork) -> list[Membership]:
            _segment(uow, segment_id)
            return uow.segments.members(segment_id, after=after, limit=limit)
        return self._crm.transact(work, read_only=True)

    def is_member(self, segment_id: str, customer_id: str) -> bool:
        """Whether the customer is a stored member of the segment."""
        return self._crm.transact(
            lambda uow: uow.segments.is_member(segment_id, customer_id), read_only=True)

    def history(self, segment_id: str, *, customer_id: str | None = None,
                since: datetime | None = None, limit: int | None = None
                ) -> list[MembershipChange]:
        """Who entered and left the segment, oldest first."""
        since = validation.aware("since", since, required=False)
        return self._crm.transact(lambda uow: uow.segments.history(
            segment_id, customer_id=customer_id, since=since, limit=limit), read_only=True)

    def memberships(self, customer_id: str) -> list[Membership]:
        """The segments the customer is a stored member of."""
        return self._crm.transact(lambda uow: uow.segments.memberships_of(customer_id),
                                  read_only=True)

    # -- export -----------------------------------------------------------------------

    def export_csv(self, segment_id: str, file: IO[str], *, consent: str | None = "email",
                   columns: Collection[str] = DEFAULT_COLUMNS) -> int:
        """Write the segment's stored members to ``file`` as CSV (a header, then one row
        each) and return how many rows were written. Only customers who consented on
        ``consent`` are written (None: everyone, e.g. for analysis that sends nothing).
        Cells that a spreadsheet would run as a formula are prefixed with ``'``.

        :raises ValidationError: an unknown column.
        """
        self.get(segment_id)
        return write_csv(self._crm, segment_id, file, consent=consent, columns=columns)

    def audience(self, segment_id: str, *, consent: str | None = "ads",
                 phone_plus: bool = True, country: str = "JP") -> Iterator[AudienceMember]:
        """The segment's consenting members as hashed matching keys for advertising
        platforms (SHA-256 of the normalised e-mail and E.164 phone), streamed page by
        page so memory stays flat. National phone numbers are read in the customer's
        address country, else ``country``; ``phone_plus=False`` hashes the number without
        its ``+`` (Meta's format)."""
        self.get(segment_id)
        return audience_of(self._crm, segment_id, consent=consent, phone_plus=phone_plus,
                           country=country)


def _segment(uow: UnitOfWork, segment_id: str, *, for_update: bool = False) -> Segment:
    segment = uow.segments.get(segment_id, for_update=for_update)
    if segment is None:
        raise NotFound("segment", segment_id)
    return segment


def _name_is_free(uow: UnitOfWork, segment: Segment) -> None:
    holder = uow.segments.by_name(segment.name)
    if holder is not None and holder.id != segment.id:
        raise ConflictError(f"a segment named {segment.name!r} exists")


def _known(uow: UnitOfWork, customer_ids: Collection[str]) -> set[str]:
    wanted = set(customer_ids)
    found = set(uow.customers.ids_by("id", wanted))
    if missing := sorted(wanted - found):
        raise ValidationError("customer_ids", f"no customer {missing[0]!r}"
                              + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
    return found


__all__ = ["MembershipDelta", "RuleInput", "SegmentService"]
