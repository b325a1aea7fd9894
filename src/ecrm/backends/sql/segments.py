"""SQL repository of saved segments, their members and their history."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, Select, bindparam, case, delete, insert, select, update

from ecrm.backends.sql import tables
from ecrm.backends.sql.repositories import (
    IN_CHUNK,
    TENANT,
    SQLCustomerRepository,
    _insert_many,
    _TenantScoped,
    tenant_of,
)
from ecrm.backends.sql.rows import customer_from_row
from ecrm.batching import chunks
from ecrm.domain.customers import Customer
from ecrm.domain.segments import (
    Membership,
    MembershipChange,
    MembershipChangeKind,
    Segment,
    SegmentKind,
)

_s = tables.segments
_m = tables.segment_members
_h = tables.segment_changes

#: One membership's DELETE by its whole key, built once (see ``remove_members``).
_remove_one = delete(_m).where(tenant_of(_m), _m.c.segment_id == bindparam("segment_id"),
                               _m.c.customer_id == bindparam("customer_id"))


class SQLSegmentRepository(_TenantScoped):
    """Segments in ``ecrm_segments``, their members in ``ecrm_segment_members`` and
    their history in ``ecrm_segment_changes``."""

    # -- segments ------------------------------------------------------------------------

    def add(self, segment: Segment) -> None:
        """Insert; the keys refuse a taken id or name."""
        self._conn.execute(insert(_s), _segment_params(self._tenant, segment))

    def get(self, segment_id: str, *, for_update: bool = False) -> Segment | None:
        """The segment, or None; ``for_update`` locks its row (SELECT ... FOR UPDATE)."""
        query = select(_s).where(self._mine(_s), _s.c.id == segment_id)
        if for_update:
            query = query.with_for_update()
        found = self._segments(query)
        return found[0] if found else None

    def by_name(self, name: str) -> Segment | None:
        """The segment with exactly this name, or None. Compared again here: MySQL's
        PAD SPACE collations match a name with trailing spaces too."""
        found = self._segments(select(_s).where(self._mine(_s), _s.c.name == name))
        return next((segment for segment in found if segment.name == name), None)

    def all(self) -> list[Segment]:
        """Every segment, sorted by name here (the database's collation of ``name`` may
        not be code point order)."""
        return sorted(self._segments(select(_s).where(self._mine(_s))),
                      key=lambda segment: segment.name)

    def replace(self, segment: Segment) -> None:
        """Overwrite every column of the stored segment."""
        params = _segment_params(self._tenant, segment)
        del params["tenant_id"], params["id"]
        self._conn.execute(update(_s).where(self._mine(_s), _s.c.id == segment.id)
                           .values(**params))

    def delete(self, segment_id: str) -> None:
        """Remove the history, the members and the segment, children first."""
        for table in (_h, _m):
            self._conn.execute(delete(table).where(self._mine(table),
                                                   table.c.segment_id == segment_id))
        self._conn.execute(delete(_s).where(self._mine(_s), _s.c.id == segment_id))

    # -- members -------------------------------------------------------------------------

    def member_ids(self, segment_id: str) -> set[str]:
        """The members' ids: one range of the primary key, read from the index alone."""
        query = select(_m.c.customer_id).where(self._mine(_m), _m.c.segment_id == segment_id)
        return set(self._conn.execute(query).scalars())

    def members(self, segment_id: str, *, after: str | None, limit: int
                ) -> list[Membership]:
        """A page of memberships by customer id, along the primary key."""
        return self._memberships(self._page(select(_m), segment_id, after, limit))

    def member_customers(self, segment_id: str, *, after: str | None, limit: int
                         ) -> list[Customer]:
        """The customers of the page of :meth:`members` (the foreign key keeps one per
        member). SQLite reads them in one join, walking the members' key and probing the
        customers'; elsewhere the page's ids come first, then their customers by key:
        PostgreSQL plans the join as a merge or hash join over every customer from the
        first (it does not carry ``> after`` across the join), so each page would cost
        more than the one before."""
        c = tables.customers
        if self._conn.dialect.name == "sqlite":
            joined = select(c).join(_m, (_m.c.tenant_id == c.c.tenant_id)
                                    & (_m.c.customer_id == c.c.id)).where(self._mine(c))
            return [customer_from_row(row) for row in self._conn.execute(
                self._page(joined, segment_id, after, limit)).mappings().all()]
        page = self._page(select(_m.c.customer_id), segment_id, after, limit)
        ids = list(self._conn.execute(page).scalars().all())
        found = SQLCustomerRepository(self._conn, self._tenant).get_many(ids)
        return [found[cid] for cid in ids if cid in found]

    def is_member(self, segment_id: str, customer_id: str) -> bool:
        """True when the (segment, customer) key exists."""
        query = select(_m.c.customer_id).where(self._mine(_m), _m.c.segment_id == segment_id,
                                               _m.c.customer_id == customer_id)
        return self._conn.execute(query).first() is not None

    def add_members(self, memberships: Collection[Membership]) -> None:
        """Insert in batches of one executemany each (the driver's own on SQLite)."""
        for batch in chunks(memberships, _INSERT_BATCH):
            _insert_many(self._conn, _m, [
                {"tenant_id": self._tenant, "segment_id": m.segment_id,
                 "customer_id": m.customer_id, "since": m.since} for m in batch])

    def remove_members(self, segment_id: str, customer_ids: Collection[str]) -> None:
        """DELETE by IN lists of at most ``IN_CHUNK`` ids; on psycopg one DELETE by the
        whole key per id instead, pipelined by its executemany. PostgreSQL's planner,
        before the table is analysed (right after a large refresh, say), takes the
        segment's whole range of the key for a couple of rows and filters it by the IN
        list: a second per batch on a segment of 200,000. A whole key it always looks
        up."""
        doomed = sorted(set(customer_ids))
        if self._conn.dialect.driver == "psycopg":
            for batch in chunks(doomed, _INSERT_BATCH):
                self._conn.execute(_remove_one, [
                    {TENANT: self._tenant, "segment_id": segment_id, "customer_id": c}
                    for c in batch])
            return
        for batch in chunks(doomed, IN_CHUNK):
            self._conn.execute(delete(_m).where(self._mine(_m), _m.c.segment_id == segment_id,
                                                _m.c.customer_id.in_(batch)))

    def memberships_of(self, customer_id: str) -> list[Membership]:
        """The customer's memberships through the customer index, by segment id."""
        found = self._memberships(select(_m).where(self._mine(_m),
                                                   _m.c.customer_id == customer_id))
        return sorted(found, key=lambda m: m.segment_id)

    def absorb_member(self, duplicate_id: str, survivor_id: str) -> None:
        """Drop the duplicate's memberships the survivor holds too (one member fewer in
        those segments' counts), then move the rest. Read first and then written by
        key: MySQL refuses a DELETE whose subquery reads the table it deletes from."""
        segment_ids = [m.segment_id for m in self.memberships_of(duplicate_id)]
        both = set(self._segments_holding(survivor_id, segment_ids))
        for batch in chunks(sorted(both), IN_CHUNK):
            self._conn.execute(delete(_m).where(
                self._mine(_m), _m.c.customer_id == duplicate_id, _m.c.segment_id.in_(batch)))
            count = _s.c.member_count
            self._conn.execute(update(_s).where(self._mine(_s), _s.c.id.in_(batch))
                               .values(member_count=case((count > 0, count - 1), else_=0)))
        if len(both) < len(segment_ids):
            self._conn.execute(update(_m).where(self._mine(_m), _m.c.customer_id == duplicate_id)
                               .values(customer_id=survivor_id))

    # -- history -------------------------------------------------------------------------

    def add_changes(self, changes: Collection[MembershipChange]) -> None:
        """Append in batches of one executemany each."""
        for batch in chunks(changes, _INSERT_BATCH):
            _insert_many(self._conn, _h, [
                {"tenant_id": self._tenant, "id": c.id, "segment_id": c.segment_id,
                 "customer_id": c.customer_id, "change": c.change.value, "at": c.at}
                for c in batch])

    def history(self, segment_id: str, *, customer_id: str | None = None,
                since: datetime | None = None, limit: int | None = None
                ) -> list[MembershipChange]:
        """The segment's history along its (at, id) index, oldest first."""
        conditions = [_h.c.segment_id == segment_id]
        if customer_id is not None:
            conditions.append(_h.c.customer_id == customer_id)
        if since is not None:
            conditions.append(_h.c.at >= since)
        query = select(_h).where(self._mine(_h), *conditions).order_by(_h.c.at, _h.c.id)
        return self._changes(query if limit is None else query.limit(limit))

    def history_of(self, customer_id: str) -> list[MembershipChange]:
        """The customer's entries through the customer index, sorted here (a customer
        has few)."""
        found = self._changes(select(_h).where(self._mine(_h), _h.c.customer_id == customer_id))
        return sorted(found, key=lambda c: (c.at, c.id))

    # -- helpers -------------------------------------------------------------------------

    def _segments_holding(self, customer_id: str, segment_ids: list[str]) -> list[str]:
        """Which of ``segment_ids`` the customer is a member of."""
        found: list[str] = []
        for batch in chunks(segment_ids, IN_CHUNK):
            query = select(_m.c.segment_id).where(
                self._mine(_m), _m.c.customer_id == customer_id, _m.c.segment_id.in_(batch))
            found.extend(self._conn.execute(query).scalars())
        return found

    def _segments(self, query: Select[Any]) -> list[Segment]:
        return [_segment_from_row(row) for row in self._conn.execute(query).mappings()]

    def _page(self, query: Select[Any], segment_id: str, after: str | None, limit: int
              ) -> Select[Any]:
        """``query`` narrowed to the segment's next ``limit`` members after ``after``."""
        query = query.where(self._mine(_m), _m.c.segment_id == segment_id)
        if after is not None:
            query = query.where(_m.c.customer_id > after)
        return query.order_by(_m.c.customer_id).limit(limit)

    def _memberships(self, query: Select[Any]) -> list[Membership]:
        return [Membership(row["segment_id"], row["customer_id"], row["since"])
                for row in self._conn.execute(query).mappings()]

    def _changes(self, query: Select[Any]) -> list[MembershipChange]:
        return [_change_from_row(row) for row in self._conn.execute(query).mappings()]


#: Rows per executemany of a bulk insert: large enough to amortise each round trip,
#: small enough to keep one batch's parameters in modest memory.
_INSERT_BATCH = 10_000


def _segment_params(tenant: str, segment: Segment) -> dict[str, Any]:
    return {
        "tenant_id": tenant, "id": segment.id, "name": segment.name,
        "kind": segment.kind.value, "description": segment.description,
        "rule": None if segment.rule is None else dict(segment.rule),
        "created_at": segment.created_at, "updated_at": segment.updated_at,
        "refreshed_at": segment.refreshed_at, "member_count": segment.member_count,
    }


def _segment_from_row(row: RowMapping) -> Segment:
    return Segment(
        id=row["id"], name=row["name"], kind=SegmentKind(row["kind"]),
        created_at=row["created_at"], updated_at=row["updated_at"],
        description=row["description"], rule=row["rule"], refreshed_at=row["refreshed_at"],
        member_count=row["member_count"])


def _change_from_row(row: RowMapping) -> MembershipChange:
    return MembershipChange(
        id=row["id"], segment_id=row["segment_id"], customer_id=row["customer_id"],
        change=MembershipChangeKind(row["change"]), at=row["at"])
