"""The memory backend's saved segments: segments, memberships and their history in the
tenant's journaled tables.

Memberships are held per segment, as a dict from customer id to membership that is
replaced, never changed in place, so the journal can put the old dict back on rollback
and a segment's members are read without scanning every other segment's.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Collection
from datetime import datetime
from typing import TYPE_CHECKING

import attrs

from ecrm.domain.customers import Customer
from ecrm.domain.segments import Membership, MembershipChange, Segment
from ecrm.errors import DuplicateKey

if TYPE_CHECKING:
    from ecrm.backends.memory import _Table, _TenantData

Members = dict[str, Membership]


class MemorySegmentRepository:
    """Segments by id (unique name), memberships by segment, history by id."""

    def __init__(self, data: _TenantData) -> None:
        self._segments = data.segments
        self._customers = data.customers
        self._members = data.segment_members
        self._changes = data.segment_changes

    # -- segments ------------------------------------------------------------------------

    def add(self, segment: Segment) -> None:
        """Insert; the name is unique."""
        self._segments.insert(segment.id, _own_rule(segment))

    def get(self, segment_id: str, *, for_update: bool = False) -> Segment | None:
        """The segment, or None (the backend's lock already serialises units)."""
        found = self._segments.rows.get(segment_id)
        return None if found is None else _own_rule(found)

    def by_name(self, name: str) -> Segment | None:
        """The segment with exactly this name, or None."""
        found = self._segments.lookup("name", name)
        return None if found is None else _own_rule(found)

    def all(self) -> list[Segment]:
        """Every segment, by name."""
        return [_own_rule(s) for s in sorted(self._segments.rows.values(),
                                             key=lambda s: s.name)]

    def replace(self, segment: Segment) -> None:
        """Overwrite the stored segment."""
        self._segments.update(segment.id, _own_rule(segment))

    def delete(self, segment_id: str) -> None:
        """Remove the segment, its members and its history."""
        for change in self._history(lambda c: c.segment_id == segment_id):
            self._changes.delete(change.id)
        self._put_members(segment_id, {})
        _put(self._segments, segment_id, None)

    # -- members -------------------------------------------------------------------------

    def member_ids(self, segment_id: str) -> set[str]:
        """The ids of the segment's members."""
        return set(self._of(segment_id))

    def members(self, segment_id: str, *, after: str | None, limit: int
                ) -> list[Membership]:
        """A page of memberships by customer id, after ``after``."""
        mine = self._of(segment_id)
        chosen = sorted(c for c in mine if after is None or c > after)[:limit]
        return [mine[c] for c in chosen]

    def member_customers(self, segment_id: str, *, after: str | None, limit: int
                         ) -> list[Customer]:
        """The customers of the page of :meth:`members`, each a copy of its own."""
        customers = self._customers.rows
        return [attrs.evolve(customer, attributes=copy.deepcopy(customer.attributes))
                for m in self.members(segment_id, after=after, limit=limit)
                if (customer := customers.get(m.customer_id)) is not None]

    def is_member(self, segment_id: str, customer_id: str) -> bool:
        """True when the customer is a member."""
        return customer_id in self._of(segment_id)

    def add_members(self, memberships: Collection[Membership]) -> None:
        """Insert memberships, one new members dict per segment; a taken one raises."""
        by_segment: dict[str, Members] = {}
        for membership in memberships:
            fresh = by_segment.setdefault(membership.segment_id,
                                          dict(self._of(membership.segment_id)))
            if membership.customer_id in fresh:
                raise DuplicateKey("segment_members.customer_id", membership.customer_id)
            fresh[membership.customer_id] = membership
        for segment_id, members in by_segment.items():
            self._put_members(segment_id, members)

    def remove_members(self, segment_id: str, customer_ids: Collection[str]) -> None:
        """Remove these customers from the segment (non-members are ignored)."""
        mine = self._of(segment_id)
        doomed = set(customer_ids) & mine.keys()
        if doomed:
            self._put_members(segment_id, {c: m for c, m in mine.items() if c not in doomed})

    def memberships_of(self, customer_id: str) -> list[Membership]:
        """The customer's memberships, by segment id."""
        found = (members.get(customer_id) for members in self._members.rows.values())
        return sorted((m for m in found if m is not None), key=lambda m: m.segment_id)

    def absorb_member(self, duplicate_id: str, survivor_id: str) -> None:
        """Move the duplicate's memberships to the survivor, or drop those it holds too."""
        for membership in self.memberships_of(duplicate_id):
            mine = dict(self._of(membership.segment_id))
            del mine[duplicate_id]
            if survivor_id in mine:
                self._count_one_less(membership.segment_id)
            else:
                mine[survivor_id] = attrs.evolve(membership, customer_id=survivor_id)
            self._put_members(membership.segment_id, mine)

    # -- history -------------------------------------------------------------------------

    def add_changes(self, changes: Collection[MembershipChange]) -> None:
        """Append history entries."""
        for change in changes:
            self._changes.insert(change.id, change)

    def history(self, segment_id: str, *, customer_id: str | None = None,
                since: datetime | None = None, limit: int | None = None
                ) -> list[MembershipChange]:
        """The segment's history, oldest first, filtered and cut to ``limit``."""
        found = self._history(lambda c: c.segment_id == segment_id
                              and (customer_id is None or c.customer_id == customer_id)
                              and (since is None or c.at >= since))
        return found if limit is None else found[:limit]

    def history_of(self, customer_id: str) -> list[MembershipChange]:
        """The customer's history entries, oldest first."""
        return self._history(lambda c: c.customer_id == customer_id)

    # -- helpers -------------------------------------------------------------------------

    def _of(self, segment_id: str) -> Members:
        """The segment's members (the stored dict: read it, never change it)."""
        return self._members.rows.get(segment_id, {})

    def _put_members(self, segment_id: str, members: Members) -> None:
        """Store ``members`` as the segment's, through the journal (none: no row)."""
        _put(self._members, segment_id, members or None)

    def _count_one_less(self, segment_id: str) -> None:
        """One member fewer in the segment's ``member_count`` (never below zero)."""
        segment = self._segments.rows[segment_id]
        self._segments.update(segment_id, attrs.evolve(
            segment, member_count=max(segment.member_count - 1, 0)))

    def _history(self, wanted: Callable[[MembershipChange], bool]) -> list[MembershipChange]:
        return sorted((c for c in self._changes.rows.values() if wanted(c)),
                      key=lambda c: (c.at, c.id))


def _put(table: _Table, key: str, row: object | None) -> None:
    """Insert, overwrite or (with None) delete the row ``key`` of ``table``."""
    if row is None:
        if key in table.rows:
            table.delete(key)
    elif key in table.rows:
        table.update(key, row)
    else:
        table.insert(key, row)


def _own_rule(segment: Segment) -> Segment:
    """A copy whose rule is its own, so callers cannot change stored data."""
    if segment.rule is None:
        return segment
    return attrs.evolve(segment, rule=copy.deepcopy(dict(segment.rule)))
