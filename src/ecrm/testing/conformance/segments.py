"""Saved segments on every backend, driven through ``uow.segments``: what was written
comes back unchanged, members page and bulk-load, history keeps its order, deletes and
merges leave nothing behind, tenants stay apart and a failed unit writes nothing."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecrm.backends.base import Backend, SegmentRepository
from ecrm.crm import CRM
from ecrm.domain.customers import Customer
from ecrm.domain.ids import new_id
from ecrm.domain.segments import (
    Membership,
    MembershipChange,
    MembershipChangeKind,
    Segment,
    change_segment,
    new_segment,
)
from ecrm.errors import DuplicateKey
from ecrm.testing.conformance.base import ContractBase, RepositoryTenant
from ecrm.testing.conformance.concurrency import run_together
from ecrm.testing.conformance.units import Boom

JST = timezone(timedelta(hours=9))
T0 = datetime(2026, 4, 1, 9, 30, 15, 123456, tzinfo=JST)
RULE = {"all": [{"field": "orders.count", "op": ">=", "value": 3},
                {"field": "prefecture", "op": "in", "value": ["東京都", "大阪府"]},
                {"not": {"field": "tier", "op": "=", "value": None}}],
        "weight": 0.5, "enabled": True}
ENTERED, LEFT = MembershipChangeKind.ENTERED, MembershipChangeKind.LEFT


@attrs.define
class Store(RepositoryTenant[SegmentRepository]):
    """One tenant of the backend under test, reached through its segment repository."""

    repository = "segments"

    def customers(self, count: int) -> list[str]:
        """The ids of ``count`` new customers, sorted."""
        ids = sorted(new_id() for _ in range(count))
        with self.unit() as uow:
            uow.customers.add_many([Customer(id=c, created_at=T0, updated_at=T0,
                                             signed_up_at=T0) for c in ids])
        return ids

    def segment(self, name: str | None = None, **fields: Any) -> Segment:
        """A new static segment (``fields`` override), stored."""
        segment = new_segment(new_id(), T0, name=name or f"segment {new_id()}",
                              kind=fields.pop("kind", "static"), **fields)
        self.write(lambda r: r.add(segment))
        return segment

    def join(self, segment: Segment, customer_ids: list[str], since: datetime = T0) -> None:
        """Make the customers members of the segment."""
        self.write(lambda r: r.add_members([Membership(segment.id, c, since)
                                            for c in customer_ids]))

    def leave(self, segment: Segment, customer_ids: Collection[str]) -> None:
        """Take the customers out of the segment."""
        self.write(lambda r: r.remove_members(segment.id, customer_ids))

    def page(self, segment: Segment, *, after: str | None, limit: int) -> list[Membership]:
        """A page of the segment's memberships."""
        return self.read(lambda r: r.members(segment.id, after=after, limit=limit))


def change(segment: Segment, customer_id: str, kind: MembershipChangeKind, at: datetime,
           change_id: str | None = None) -> MembershipChange:
    """A history entry."""
    return MembershipChange(change_id or new_id(), segment.id, customer_id, kind, at)


class SegmentContract(ContractBase):
    """What every backend's segment repository does."""

    @pytest.fixture
    def store(self, backend: Backend, tenant: str) -> Store:
        return Store(backend, tenant)

    def test_segments_come_back_as_written(self, store: Store) -> None:
        refreshed = T0 + timedelta(hours=1, microseconds=7)
        dynamic = attrs.evolve(store.segment("日本の優良顧客 🎉", kind="dynamic", rule=RULE,
                                             description="三回以上購入した顧客。" * 50),
                               refreshed_at=refreshed, member_count=3)
        store.write(lambda r: r.replace(dynamic))
        static = store.segment("B")
        others = [store.segment(name) for name in ("b", "a", "é", "Z")]
        assert store.read(lambda r: r.get(dynamic.id)) == dynamic
        assert store.read(lambda r: r.get(static.id, for_update=True)) == static
        assert store.read(lambda r: r.by_name("日本の優良顧客 🎉")) == dynamic
        assert store.read(lambda r: (r.by_name("b"), r.by_name("c"), r.get("none"))) == (
            others[0], None, None)
        assert [s.name for s in store.read(lambda r: r.all())] == [
            "B", "Z", "a", "b", "é", "日本の優良顧客 🎉"]
        copy = store.read(lambda r: r.get(dynamic.id))
        assert copy is not None and copy.rule is not None
        copy.rule["all"].append("mutated")  # type: ignore[attr-defined]
        assert store.read(lambda r: r.get(dynamic.id)) == dynamic

    def test_replace_stores_every_field(self, store: Store) -> None:
        segment = store.segment("loyal", kind="dynamic", rule=RULE)
        taken = store.segment("taken")
        later = T0 + timedelta(days=2)
        changed = attrs.evolve(change_segment(segment, later, name="static now", kind="static",
                                              rule=None, description="by hand"),
                               refreshed_at=later, member_count=12)
        store.write(lambda r: r.replace(changed))
        assert store.read(lambda r: r.get(segment.id)) == changed
        with pytest.raises(DuplicateKey) as raised:
            store.write(lambda r: r.replace(attrs.evolve(changed, name="taken")))
        assert raised.value.key == "segments.name"
        assert store.read(lambda r: (r.get(segment.id), r.get(taken.id))) == (changed, taken)

    def test_a_taken_name_or_id_is_refused(self, store: Store) -> None:
        first = store.segment("VIP")
        with pytest.raises(DuplicateKey) as raised:
            store.segment("VIP")
        assert raised.value.key == "segments.name"
        with pytest.raises(DuplicateKey):
            store.write(lambda r: r.add(attrs.evolve(first, name="other")))
        assert store.read(lambda r: r.all()) == [first]
        assert store.segment("vip").name == "vip"  # names are case-sensitive

    def test_members_page_by_customer_id(self, store: Store) -> None:
        customers = store.customers(7)
        segment, other = store.segment("one"), store.segment("two")
        joined = [Membership(segment.id, c, T0 + timedelta(minutes=n))
                  for n, c in enumerate(reversed(customers))]
        store.write(lambda r: r.add_members(joined))
        store.join(other, customers[:2], since=T0.astimezone(timezone.utc))
        expected = sorted(joined, key=lambda m: m.customer_id)
        pages = [store.page(segment, after=None, limit=3)]
        while len(pages[-1]) == 3:
            pages.append(store.page(segment, after=pages[-1][-1].customer_id, limit=3))
        assert [m for page in pages for m in page] == expected
        assert [len(page) for page in pages] == [3, 3, 1]
        assert store.read(lambda r: (r.is_member(segment.id, customers[0]),
                                     r.is_member(other.id, customers[3]))) == (True, False)
        found = store.read(lambda r: r.memberships_of(customers[0]))
        assert found == sorted([expected[0], Membership(other.id, customers[0], T0)],
                               key=lambda m: m.segment_id)
        assert store.read(lambda r: r.memberships_of("nobody")) == []

    def test_member_customers_are_the_customers_of_a_members_page(self, store: Store
                                                                  ) -> None:
        customers = store.customers(7)
        with store.unit() as uow:
            uow.customers.replace(attrs.evolve(uow.customers.get(customers[2]),
                                               name="顧客", attributes={"rank": [1, "a"]}))
        segment, other = store.segment("one"), store.segment("two")
        store.join(segment, customers[1:6])
        store.join(other, customers)
        for after, limit in [(None, 3), (customers[3], 3), (customers[0], 10),
                             (customers[6], 3)]:
            with store.unit() as uow:
                page = uow.segments.members(segment.id, after=after, limit=limit)
                found = uow.customers.get_many([m.customer_id for m in page])
                expected = [found[m.customer_id] for m in page]
                assert uow.segments.member_customers(segment.id, after=after,
                                                     limit=limit) == expected

    def test_thousands_of_members_come_and_go_in_bulk(self, store: Store) -> None:
        customers = store.customers(3000)
        big, small = store.segment("big"), store.segment("small")
        store.join(big, customers)
        store.join(small, customers[:1000])
        leaving = customers[::2] + ["not-a-member"]
        store.write(lambda r: r.remove_members(big.id, leaving))
        staying = set(customers[1::2])
        assert store.read(lambda r: r.member_ids(big.id)) == staying
        assert store.read(lambda r: r.member_ids(small.id)) == set(customers[:1000])
        page = store.read(lambda r: r.members(big.id, after=None, limit=5000))
        assert [m.customer_id for m in page] == sorted(staying)
        store.write(lambda r: r.remove_members(big.id, []))
        assert len(store.read(lambda r: r.member_ids(big.id))) == 1500

    def test_a_membership_added_twice_is_refused_whole(self, store: Store) -> None:
        first, second = store.customers(2)
        segment = store.segment()
        store.join(segment, [first])
        with pytest.raises(DuplicateKey):
            store.join(segment, [second, first])
        with pytest.raises(DuplicateKey):
            store.join(segment, [second, second])
        assert store.read(lambda r: r.member_ids(segment.id)) == {first}

    def test_history_is_oldest_first_and_filters(self, store: Store) -> None:
        alice, bob = store.customers(2)
        segment, other = store.segment("one"), store.segment("two")
        at = [T0, T0 + timedelta(microseconds=1), T0.astimezone(timezone.utc)]
        entries = [change(segment, alice, ENTERED, at[1], "h-3"),
                   change(segment, bob, ENTERED, at[0], "h-2"),
                   change(segment, alice, LEFT, at[2], "h-1"),
                   change(segment, bob, LEFT, at[1], "h-0"),
                   change(other, alice, ENTERED, at[0], "h-4")]
        store.write(lambda r: r.add_changes(entries))
        by_time = ["h-1", "h-2", "h-0", "h-3"]
        history = store.read(lambda r: r.history(segment.id))
        assert [c.id for c in history] == by_time
        assert set(history) == set(entries[:4])
        read = store.read
        assert [c.id for c in read(lambda r: r.history(segment.id, customer_id=alice))] == [
            "h-1", "h-3"]
        assert [c.id for c in read(lambda r: r.history(segment.id, since=at[1]))] == [
            "h-0", "h-3"]
        assert [c.id for c in read(lambda r: r.history(segment.id, limit=2))] == by_time[:2]
        assert [c.id for c in read(lambda r: r.history_of(alice))] == ["h-1", "h-4", "h-3"]
        assert read(lambda r: r.history(segment.id, customer_id="nobody")) == []
        with pytest.raises(DuplicateKey):
            store.write(lambda r: r.add_changes([change(other, bob, LEFT, T0, "h-4")]))

    def test_delete_takes_members_and_history_along(self, store: Store) -> None:
        customers = store.customers(3)
        doomed, kept = store.segment("doomed"), store.segment("kept")
        for segment in (doomed, kept):
            store.join(segment, customers)
        store.write(lambda r: r.add_changes([change(s, c, ENTERED, T0)
                                             for s in (doomed, kept) for c in customers]))
        store.write(lambda r: r.delete(doomed.id))
        assert store.read(lambda r: (r.get(doomed.id), r.member_ids(doomed.id),
                                     r.history(doomed.id))) == (None, set(), [])
        assert {m.segment_id for m in store.read(lambda r: r.memberships_of(customers[0]))
                } == {kept.id}
        assert {c.segment_id for c in store.read(lambda r: r.history_of(customers[0]))
                } == {kept.id}
        assert store.read(lambda r: r.member_ids(kept.id)) == set(customers)
        assert store.segment("doomed").name == "doomed"  # the name is free again
        store.write(lambda r: r.delete("no-such-segment"))

    def test_a_merge_absorbs_the_duplicates_memberships(self, crm: CRM, store: Store) -> None:
        survivor, duplicate = (crm.customers.create(name="a").id,
                               crm.customers.create(name="b").id)
        both, only_duplicate = store.segment("both"), store.segment("only the duplicate")
        store.write(lambda r: r.replace(attrs.evolve(both, member_count=2)))
        store.join(both, [survivor], since=T0)
        store.join(both, [duplicate], since=T0 - timedelta(days=1))
        store.join(only_duplicate, [duplicate], since=T0 + timedelta(days=1))
        entered = change(only_duplicate, duplicate, ENTERED, T0)
        store.write(lambda r: r.add_changes([entered]))
        crm.customers.merge(survivor, duplicate)
        assert store.read(lambda r: r.memberships_of(survivor)) == sorted(
            [Membership(both.id, survivor, T0),
             Membership(only_duplicate.id, survivor, T0 + timedelta(days=1))],
            key=lambda m: m.segment_id)
        assert store.read(lambda r: r.memberships_of(duplicate)) == []
        assert store.read(lambda r: r.member_ids(both.id)) == {survivor}
        counts = store.read(lambda r: [r.get(s.id).member_count  # type: ignore[union-attr]
                                       for s in (both, only_duplicate)])
        assert counts == [1, 0]
        assert store.read(lambda r: r.history_of(survivor)) == [
            attrs.evolve(entered, customer_id=survivor)]
        store.write(lambda r: r.absorb_member("nobody", survivor))  # nothing to move

    def test_tenants_do_not_see_each_others_segments(self, store: Store) -> None:
        neighbour = Store(store.backend, f"{store.tenant}-n")
        mine, theirs = store.customers(2), neighbour.customers(2)
        segment = store.segment("same name")
        store.join(segment, mine)
        assert neighbour.read(lambda r: (r.get(segment.id), r.by_name("same name"),
                                         r.all(), r.member_ids(segment.id))) == (
            None, None, [], set())
        twin = attrs.evolve(segment, description="theirs")
        neighbour.write(lambda r: r.add(twin))
        neighbour.join(twin, theirs)
        neighbour.write(lambda r: r.remove_members(segment.id, mine))
        neighbour.write(lambda r: r.absorb_member(mine[0], mine[1]))
        assert store.read(lambda r: r.member_ids(segment.id)) == set(mine)
        neighbour.write(lambda r: r.delete(segment.id))
        assert store.read(lambda r: r.get(segment.id)) == segment

    def test_a_failed_unit_leaves_no_segment_trace(self, store: Store) -> None:
        customers = store.customers(4)
        kept = store.segment("kept")
        store.join(kept, customers[:2])
        with pytest.raises(Boom), store.unit() as uow:
            fresh = new_segment(new_id(), T0, name="fresh", kind="static")
            uow.segments.add(fresh)
            uow.segments.add_members([Membership(fresh.id, c, T0) for c in customers])
            uow.segments.add_changes([change(fresh, customers[0], ENTERED, T0)])
            uow.segments.add_members([Membership(kept.id, customers[3], T0)])
            uow.segments.remove_members(kept.id, customers[:1])
            uow.segments.replace(attrs.evolve(kept, name="renamed", member_count=9))
            raise Boom
        assert store.read(lambda r: (r.all(), r.member_ids(kept.id),
                                     r.history_of(customers[0]))) == (
            [kept], set(customers[:2]), [])
        with pytest.raises(Boom), store.unit() as uow:
            uow.segments.delete(kept.id)
            raise Boom
        assert store.read(lambda r: (r.get(kept.id), r.member_ids(kept.id))) == (
            kept, set(customers[:2]))

    def test_locked_reads_serialise_writers(self, store: Store) -> None:
        segment = store.segment("counted")

        def count_up(_: int) -> None:
            for _ in range(5):
                with store.unit() as uow:
                    current = uow.segments.get(segment.id, for_update=True)
                    assert current is not None
                    uow.segments.replace(attrs.evolve(current,
                                                      member_count=current.member_count + 1))

        errors = [e for e in run_together(count_up, workers=4) if e is not None]
        assert errors == []
        assert store.read(lambda r: r.get(segment.id)).member_count == 20  # type: ignore

    # Each backend's test class runs this method: that is the point, not a flaw.
    @settings(suppress_health_check=[HealthCheck.differing_executors, HealthCheck.too_slow,
                                     HealthCheck.function_scoped_fixture])
    @given(steps=st.lists(st.tuples(st.booleans(), st.sets(st.integers(0, 5))), max_size=8))
    def test_members_follow_a_set_model(self, store: Store,
                                        steps: list[tuple[bool, set[int]]]) -> None:
        customers = store.customers(6)
        segment = store.segment()
        model: set[str] = set()
        for adding, picks in steps:
            chosen = {customers[i] for i in picks}
            if not adding:
                store.leave(segment, chosen)
                model -= chosen
            elif chosen & model:
                with pytest.raises(DuplicateKey):
                    store.join(segment, sorted(chosen))
            else:
                store.join(segment, sorted(chosen))
                model |= chosen
            assert store.read(lambda r: r.member_ids(segment.id)) == model
            assert store.read(lambda r: {c for c in customers
                                         if r.is_member(segment.id, c)}) == model
