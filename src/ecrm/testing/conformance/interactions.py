"""Interactions and the customer timeline on every backend."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecrm.clock import ManualClock
from ecrm.crm import CRM
from ecrm.domain.interactions import MAX_PAYLOAD_BYTES, Channel
from ecrm.errors import ConflictError, NotFound, ValidationError
from ecrm.hookspecs import hookimpl
from ecrm.testing.conformance.base import START, ContractBase, line, record, snapshot


class LineChannel:
    """A plugin contributing a LINE channel."""

    @hookimpl
    def ecrm_channels(self, crm: CRM) -> list[Channel]:
        return [Channel("line", "LINE", can_send=True, can_receive=True)]


def touch(crm: CRM, customer_id: str, minutes: int = 0, **fields: Any) -> Any:
    """Record a page view ``minutes`` after :data:`START` (fields override)."""
    values: dict[str, Any] = {"channel": "web", "kind": "page_view",
                              "occurred_at": START + timedelta(minutes=minutes)}
    return crm.interactions.record(customer_id, **{**values, **fields})


def all_events(crm: CRM, customer_id: str, limit: int, **filters: Any) -> list[Any]:
    """Every event of the timeline, page by page."""
    events, cursor = [], None
    while True:
        page = crm.interactions.timeline(customer_id, limit=limit, after=cursor, **filters)
        events.extend(page.events)
        if page.next_cursor is None:
            return events
        assert len(page.events) == limit
        cursor = page.next_cursor


class InteractionContract(ContractBase):
    """What ``crm.interactions`` does on every backend."""

    def test_recorded_interactions_come_back_unchanged(self, crm: CRM, recorder) -> None:
        customer = crm.customers.create(name="alice")
        payload = {"path": "/items/42", "tags": ["新着", 1, 2.5, None, True]}
        stored = touch(crm, customer.id, kind="product_view", payload=payload, sku="SKU-42",
                       reference="/items/42")
        payload["path"] = "changed by the caller"
        assert crm.interactions.get(stored.id) == stored
        assert stored.payload["path"] == "/items/42"
        assert (stored.channel, stored.kind, stored.sku) == ("web", "product_view", "SKU-42")
        assert stored.recorded_at == crm.clock.now()
        now = crm.interactions.record(customer.id, channel="email", kind="email_opened")
        assert now.occurred_at == crm.clock.now()
        assert [e[1]["interaction"] for e in recorder.events
                if e[0] == "interaction_recorded"] == [stored, now]
        with pytest.raises(NotFound):
            crm.interactions.get("no-such-interaction")

    def test_an_external_id_makes_recording_idempotent(self, crm: CRM, recorder) -> None:
        customer = crm.customers.create(name="alice")
        first = touch(crm, customer.id, channel="chat", kind="message_in", external_id="m-1",
                      payload={"text": "hello"})
        again = touch(crm, customer.id, channel="chat", kind="message_in", external_id="m-1",
                      payload={"text": "hello"})
        untimed = crm.interactions.record(customer.id, channel="chat", kind="message_in",
                                          external_id="m-1", payload={"text": "hello"})
        assert again == first and untimed == first
        with pytest.raises(ConflictError):
            touch(crm, customer.id, channel="chat", kind="message_in", external_id="m-1",
                  payload={"text": "other"})
        other_channel = touch(crm, customer.id, channel="email", kind="message_in",
                              external_id="m-1")
        assert other_channel.id != first.id
        assert recorder.names().count("interaction_recorded") == 2

    @pytest.mark.parametrize(("field", "value"), [
        ("channel", "pigeon"), ("channel", "Web"), ("kind", "Page View"),
        ("occurred_at", START.replace(tzinfo=None)), ("payload", ["not", "a", "mapping"]),
        ("payload", {"blob": "x" * MAX_PAYLOAD_BYTES}), ("payload", {"nan": float("nan")}),
        ("sku", "s" * 65), ("external_id", "\x00"),
    ])
    def test_bad_input_is_refused_and_nothing_is_written(self, crm: CRM, field: str,
                                                         value: Any) -> None:
        customer = crm.customers.create(name="alice")
        before = snapshot(crm)
        with pytest.raises(ValidationError) as error:
            touch(crm, customer.id, **{field: value})
        assert error.value.field.split(".")[0] == field
        assert snapshot(crm) == before

    def test_an_unknown_customer_is_refused(self, crm: CRM) -> None:
        with pytest.raises(ValidationError) as error:
            touch(crm, "no-such-customer")
        assert error.value.field == "customer_id"

    def test_plugins_add_channels(self, crm: CRM) -> None:
        shop = CRM(crm.backend, tenant=crm.tenant, clock=crm.clock, plugins=[LineChannel()])
        assert shop.interactions.channels["line"].can_send
        assert "line" not in crm.interactions.channels
        customer = shop.customers.create(name="alice")
        assert touch(shop, customer.id, channel="line", kind="message_in").channel == "line"
        twice = CRM(crm.backend, tenant=crm.tenant, plugins=[LineChannel(), LineChannel()])
        with pytest.raises(ValidationError) as error:
            touch(twice, customer.id, channel="line", kind="message_in")
        assert error.value.field == "channels"

    def test_import_many(self, crm: CRM, recorder) -> None:
        alice = crm.customers.create(name="alice", external_id="A-1")
        touch(crm, alice.id, external_id="ev-0")
        rows = [
            {"customer_id": alice.id, "channel": "web", "kind": "cart_add", "sku": "S-1",
             "occurred_at": (START + timedelta(hours=1)).isoformat(), "external_id": "ev-1"},
            {"customer_external_id": "A-1", "channel": "app", "kind": "page_view",
             "occurred_at": START + timedelta(hours=2)},
            {"customer_id": alice.id, "channel": "web", "kind": "page_view",
             "occurred_at": START, "external_id": "ev-0"},  # a replay of the first
            {"customer_id": alice.id, "channel": "fax", "kind": "page_view"},
            {"customer_id": "nobody", "channel": "web", "kind": "page_view"},
            {"customer_id": alice.id, "channel": "web", "kind": "cart_add", "sku": "S-2",
             "occurred_at": START, "external_id": "ev-1"},  # clashes with row 0
            {"customer_id": alice.id, "channel": "web", "kind": "page_view", "colour": 1},
        ]
        report = crm.interactions.import_many(rows, batch_size=3)
        assert (report.inserted, report.skipped) == (2, 1)
        assert [(r.index, r.field) for r in report.rejected] == [
            (3, "channel"), (4, "customer_id"), (5, None), (6, "colour")]
        kinds = [e.kind for e in crm.interactions.timeline(alice.id).events]
        assert kinds == ["page_view", "cart_add", "page_view"]
        assert recorder.names().count("interaction_recorded") == 3

    def test_purge_deletes_by_age(self, crm: CRM, clock: ManualClock) -> None:
        customer = crm.customers.create(name="alice")
        clock.set(START + timedelta(days=400))
        touch(crm, customer.id, 0)
        touch(crm, customer.id, 1, channel="email", kind="email_opened")
        kept = touch(crm, customer.id, 60 * 24 * 200)
        assert crm.interactions.purge(older_than=timedelta(days=365), kinds=["cart_add"]) == 0
        assert crm.interactions.purge(older_than=timedelta(days=365), channels=["web"]) == 1
        assert crm.interactions.purge(older_than=timedelta(days=365)) == 1
        assert crm.interactions.purge(older_than=timedelta(days=365)) == 0
        assert [e.item for e in crm.interactions.timeline(customer.id).events] == [kept]
        for bad in (timedelta(0), 30, None):
            with pytest.raises(ValidationError) as error:
                crm.interactions.purge(older_than=bad)  # type: ignore[arg-type]
            assert error.value.field == "older_than"

    def test_a_merge_moves_interactions_to_the_survivor(self, crm: CRM) -> None:
        alice, dup = crm.customers.create(name="alice"), crm.customers.create(name="alice 2")
        mine, theirs = touch(crm, alice.id, 0), touch(crm, dup.id, 1)
        crm.customers.merge(alice.id, dup.id)
        ids = [e.id for e in crm.interactions.timeline(alice.id).events]
        assert ids == [theirs.id, mine.id]
        assert [e.id for e in crm.interactions.timeline(dup.id).events] == ids
        assert crm.interactions.get(theirs.id).customer_id == alice.id


class TimelineContract(ContractBase):
    """The customer timeline: every source, newest first, keyset pages, filters."""

    def test_one_stream_of_every_source(self, crm: CRM) -> None:
        customer = crm.customers.create(name="alice")
        view = touch(crm, customer.id, 0)
        order = record(crm, "T-1", customer.id)  # placed at START, like the view
        crm.clock.set(START + timedelta(minutes=5))  # type: ignore[attr-defined]
        points = crm.loyalty.earn(customer.id, 100, key="welcome")
        mail = touch(crm, customer.id, 10, channel="email", kind="email_opened")
        page = crm.interactions.timeline(customer.id)
        assert [(e.source, e.kind, e.channel) for e in page.events] == [
            ("interaction", "email_opened", "email"), ("points", "points_earn", None),
            ("order", "order_placed", "web"), ("interaction", "page_view", "web")]
        assert [e.item for e in page.events] == [mail, points, order, view]
        assert page.next_cursor is None

    def test_filters(self, crm: CRM) -> None:
        customer = crm.customers.create(name="alice")
        touch(crm, customer.id, 0)
        record(crm, "F-1", customer.id, channel="app")
        crm.loyalty.earn(customer.id, 10, key="k")
        touch(crm, customer.id, 3, channel="email", kind="email_opened")

        def kinds(**filters: Any) -> list[str]:
            return [e.kind for e in crm.interactions.timeline(customer.id, **filters).events]

        assert kinds(channels=["web"]) == ["page_view"]
        assert kinds(channels=["app", "email"]) == ["email_opened", "order_placed"]
        assert kinds(kinds=["points_earn", "page_view"]) == ["points_earn", "page_view"]
        assert kinds(sources=["order", "points"]) == ["points_earn", "order_placed"]
        assert kinds(kinds=["cart_add"]) == []

    @pytest.mark.parametrize(("arguments", "field"), [
        ({"limit": 0}, "limit"), ({"limit": 501}, "limit"), ({"limit": "5"}, "limit"),
        ({"after": "garbage"}, "after"), ({"after": 12}, "after"),
        ({"channels": ["pigeon"]}, "channel"), ({"channels": "web"}, "channels"),
        ({"kinds": ["Bad Kind"]}, "kinds"), ({"sources": ["cases?"]}, "sources"),
    ])
    def test_bad_arguments(self, crm: CRM, arguments: dict[str, Any], field: str) -> None:
        customer = crm.customers.create(name="alice")
        with pytest.raises(ValidationError) as error:
            crm.interactions.timeline(customer.id, **arguments)
        assert error.value.field == field

    def test_an_unknown_customer_is_not_found(self, crm: CRM) -> None:
        with pytest.raises(NotFound):
            crm.interactions.timeline("no-such-customer")

    # Each backend's test class runs this method: that is the point, not a flaw.
    @settings(suppress_health_check=[HealthCheck.differing_executors, HealthCheck.too_slow,
                                     HealthCheck.function_scoped_fixture])
    @given(events=st.lists(st.tuples(st.sampled_from(["view", "order", "points"]),
                                     st.integers(0, 4)), max_size=25),
           limit=st.integers(1, 7))
    def test_paging_shows_every_event_once_in_order(self, crm: CRM,
                                                    events: list[tuple[str, int]],
                                                    limit: int) -> None:
        customer = crm.customers.create()
        clock: ManualClock = crm.clock  # type: ignore[assignment]
        for index, (source, minute) in enumerate(events):
            clock.set(START + timedelta(minutes=minute))
            if source == "view":
                touch(crm, customer.id, minute)
            elif source == "order":
                crm.orders.record(order_id=f"{customer.id}-{index}", customer_id=customer.id,
                                  placed_at=clock.now(), lines=[line()], channel="web")
            else:
                crm.loyalty.earn(customer.id, 1, key=f"{customer.id}-{index}")
        everything = crm.interactions.timeline(customer.id, limit=500).events
        assert len(everything) == len(events)
        keys = [(e.at, e.source, e.id) for e in everything]
        assert keys == sorted(keys, reverse=True)
        assert [e.id for e in all_events(crm, customer.id, limit)] == [e.id for e in everything]
