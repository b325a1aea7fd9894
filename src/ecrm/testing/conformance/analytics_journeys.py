"""Cart abandonment, journeys and funnels on every backend: hand-computed answers."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from ecrm.crm import CRM
from ecrm.domain.journeys import CartStatus, cart_sessions
from ecrm.domain.orders import OrderLine
from ecrm.domain.segment_rules import F
from ecrm.errors import ValidationError
from ecrm.testing.conformance.base import ContractBase

T0 = datetime(2026, 5, 1, 0, 0, tzinfo=timezone.utc)
H = timedelta(hours=1)
D = timedelta(days=1)


def _order(crm: CRM, order_id: str, customer_id: str, at: datetime, *, sku: str = "TEA",
           channel: str = "web") -> None:
    crm.orders.record(order_id=order_id, customer_id=customer_id, placed_at=at,
                      lines=[OrderLine(sku, 1, Decimal(1000))], channel=channel)


def _touch(crm: CRM, customer_id: str, kind: str, at: datetime, channel: str = "web",
           sku: str | None = None) -> None:
    crm.interactions.record(customer_id, channel=channel, kind=kind, occurred_at=at, sku=sku)


def cart_shop(crm: CRM) -> dict[str, str]:
    """Six customers' carts around ``T0`` (a 24-hour window), see the test."""
    ids = {name: crm.customers.create(name=name).id for name in "abcdefgh"}
    # a: add, add 2h later, order 20h after the last add: one converted cart (TEA, COFFEE).
    _touch(crm, ids["a"], "cart_add", T0 + H, sku="TEA")
    _touch(crm, ids["a"], "cart_add", T0 + 3 * H, sku="COFFEE")
    _order(crm, "a1", ids["a"], T0 + 23 * H)
    # b: add on the app, no order: abandoned.
    _touch(crm, ids["b"], "cart_add", T0 + 2 * H, channel="app", sku="TEA")
    # c: add, order 2 days later (outside the window): abandoned; then a new cart after
    # the order, converted at the very end of its window.
    _touch(crm, ids["c"], "cart_add", T0 + D, sku="TEA")
    _order(crm, "c1", ids["c"], T0 + 3 * D)
    _touch(crm, ids["c"], "cart_add", T0 + 4 * D, sku="MUG")
    _order(crm, "c2", ids["c"], T0 + 5 * D)
    # d: two adds 30 hours apart, no order: two abandoned carts.
    _touch(crm, ids["d"], "cart_add", T0 + 2 * D, channel="app")
    _touch(crm, ids["d"], "cart_add", T0 + 2 * D + 30 * H, channel="app")
    # e: an add at the as-of time's edge: still open.
    _touch(crm, ids["e"], "cart_add", T0 + 9 * D + 12 * H, sku="TEA")
    # f: an add, then a cancelled order: abandoned. Its add before the window is no cart of
    # the window's.
    _touch(crm, ids["f"], "cart_add", T0 - 5 * D, sku="OLD")
    _touch(crm, ids["f"], "cart_add", T0 + 6 * D, sku="TEA")
    _order(crm, "f1", ids["f"], T0 + 6 * D + H)
    crm.orders.cancel("f1")
    # g: an add whose cart began before the window (joined within 24h): not started in it.
    _touch(crm, ids["g"], "cart_add", T0 - 10 * H, sku="TEA")
    _touch(crm, ids["g"], "cart_add", T0 + 5 * H, sku="TEA")
    # h: an add, then another add and an order at the same instant: the second add joins
    # the cart (the order comes after it), and the order converts it: one cart.
    _touch(crm, ids["h"], "cart_add", T0 + 7 * D, sku="TEA")
    _touch(crm, ids["h"], "cart_add", T0 + 7 * D + 2 * H, sku="MUG")
    _order(crm, "h1", ids["h"], T0 + 7 * D + 2 * H)
    return ids


class JourneyAnalyticsContract(ContractBase):
    """What ``crm.analytics.cart_abandonment``, ``journeys`` and ``funnel`` answer on
    every backend."""

    def test_cart_abandonment_by_hand(self, crm: CRM) -> None:
        cart_shop(crm)
        as_of = T0 + 10 * D
        report = crm.analytics.cart_abandonment(start=T0, end=T0 + 10 * D, period="week",
                                                as_of=as_of)
        # carts: a converted; b abandoned; c abandoned + converted; d two abandoned;
        # e open; f abandoned (cancelled orders do not count); g started before T0;
        # h converted.
        overall = report.overall
        assert (overall.started, overall.converted, overall.abandoned, overall.open) \
            == (9, 3, 5, 1)
        assert overall.abandonment_rate == 5 / 8
        # 2026-05-01 is a Friday: weeks from Monday 27 April (a, b, c's first, d's
        # first) and 4 May (d's second at 06:00 on 4 May, c's second, f, e, h).
        assert [(r.period, r.started, r.converted, r.abandoned, r.open)
                for r in report.by_period] == [
            (date(2026, 4, 27), 4, 1, 3, 0), (date(2026, 5, 4), 5, 2, 2, 1)]
        assert [(r.sku, r.started, r.converted, r.abandoned) for r in report.by_product] \
            == [("COFFEE", 1, 1, 0), ("MUG", 2, 2, 0), ("TEA", 6, 2, 3), (None, 2, 0, 2)]
        assert [(r.channel, r.started, r.abandoned, r.abandonment_rate)
                for r in report.by_channel] == [("app", 3, 3, 1.0), ("web", 6, 2, 0.4)]

    def test_cart_abandonment_periods_follow_the_time_zone(self, crm: CRM) -> None:
        customer = crm.customers.create(name="tz").id
        _touch(crm, customer, "cart_add", T0 + 14 * H + 59 * timedelta(minutes=1))
        _touch(crm, customer, "cart_add", T0 + D + 15 * H)  # 00:00 on 3 May in Tokyo
        report = crm.analytics.cart_abandonment(start=T0, end=T0 + 2 * D, period="day",
                                                tz="Asia/Tokyo", as_of=T0 + 9 * D)
        assert [(r.period, r.started) for r in report.by_period] == [
            (date(2026, 5, 1), 1), (date(2026, 5, 2), 0), (date(2026, 5, 3), 1)]
        monthly = crm.analytics.cart_abandonment(start=T0, end=T0 + 2 * D, period="month",
                                                 as_of=T0 + 9 * D)
        assert [(r.period, r.abandoned) for r in monthly.by_period] == [(date(2026, 5, 1), 2)]

    def test_cart_abandonment_agrees_with_the_cart_abandoned_segment_field(
            self, crm: CRM) -> None:
        """A cart is abandoned exactly when ``cart.abandoned`` holds for its customer at
        the moment its conversion window closes; an open cart's customer is in the
        segment now."""
        cart_shop(crm)
        as_of = T0 + 10 * D
        events = crm.transact(lambda uow: uow.analytics.cart_events(
            T0 - 30 * D, as_of, as_of), read_only=True)
        sessions = cart_sessions(events, D, as_of)
        assert len(sessions) == 11
        rule = F("cart.abandoned") == True  # noqa: E712
        for session in sessions:
            when = as_of if session.status is CartStatus.OPEN else session.last_add_at + D
            members = crm.segments.evaluate(rule, as_of=when)
            assert (session.customer_id in members) == (
                session.status is not CartStatus.CONVERTED), session
        report = crm.analytics.cart_abandonment(start=T0 - 30 * D, end=as_of, as_of=as_of)
        assert (report.converted, report.abandoned, report.open) == (3, 7, 1)

    def test_cart_abandonment_of_an_empty_shop_and_bad_input(self, crm: CRM) -> None:
        empty = crm.analytics.cart_abandonment(start=T0, end=T0 + 2 * D, period="day",
                                               as_of=T0 + 3 * D)
        assert (empty.started, empty.abandonment_rate) == (0, None)
        assert [(r.started, r.abandonment_rate) for r in empty.by_period] == [
            (0, None), (0, None)]
        assert (len(empty.by_product), len(empty.by_channel)) == (0, 0)
        naive = datetime(2026, 5, 1)
        for call, field in [
            (dict(start=naive, end=T0), "start"),
            (dict(start=T0, end=T0), "end"),
            (dict(start=T0, end=T0 + D, period="fortnight"), "period"),
            (dict(start=T0, end=T0 + D, tz="Mars/Olympus"), "tz"),
            (dict(start=T0, end=T0 + D, conversion_window=timedelta(0)), "conversion_window"),
            (dict(start=T0, end=T0 + D, as_of=naive), "as_of"),
        ]:
            with pytest.raises(ValidationError) as error:
                crm.analytics.cart_abandonment(**call)
            assert error.value.field == field

    def test_journeys_by_hand(self, crm: CRM) -> None:
        ids = {name: crm.customers.create(name=name).id for name in "abcdef"}
        for name, channel_kinds, days in [
            ("a", [("email", "email_clicked"), ("web", "page_view"), ("web", "page_view"),
                   ("web", "cart_add")], 4),
            ("b", [("email", "email_clicked"), ("web", "page_view"), ("web", "cart_add")], 2),
            ("c", [("sns", "page_view"), ("web", "cart_add")], 1),
        ]:
            for n, (channel, kind) in enumerate(channel_kinds):
                _touch(crm, ids[name], kind, T0 + n * H, channel=channel)
            _order(crm, f"{name}1", ids[name], T0 + days * D)
            _touch(crm, ids[name], "page_view", T0 + days * D + H)  # after: not counted
        _order(crm, "d1", ids["d"], T0 + D)  # no touch before the first order
        _touch(crm, ids["e"], "page_view", T0 - 40 * D)
        _order(crm, "e0", ids["e"], T0 - 30 * D)  # first order before the window
        _order(crm, "e1", ids["e"], T0 + D)
        _touch(crm, ids["f"], "page_view", T0)  # no order at all
        table = crm.analytics.journeys(start=T0, end=T0 + 10 * D)
        assert table.buyers == 4
        assert [(r.path, r.customers, r.share) for r in table] == [
            (("email:email_clicked", "web:page_view", "web:cart_add"), 2, 0.5),
            ((), 1, 0.25),
            (("sns:page_view", "web:cart_add"), 1, 0.25)]
        assert table[0].median_days_to_purchase == 3.0  # a: 4 days, b: 2 days
        assert table[1].median_days_to_purchase is None
        short = crm.analytics.journeys(start=T0, end=T0 + 10 * D, max_length=2, top=1,
                                       kinds=["page_view", "cart_add"])
        assert [(r.path, r.customers) for r in short] == [
            (("web:page_view", "web:cart_add"), 2)]
        assert crm.analytics.journeys().buyers == 5

    def test_journeys_of_an_empty_shop_and_bad_input(self, crm: CRM) -> None:
        empty = crm.analytics.journeys(start=T0, end=T0 + D)
        assert (empty.buyers, len(empty), empty.columns()[0]) == (0, 0, "path")
        for call, field in [(dict(start=datetime(2026, 1, 1)), "start"),
                            (dict(start=T0, end=T0 - D), "end"),
                            (dict(kinds="page_view"), "kinds"),
                            (dict(kinds=["Page View"]), "kinds"),
                            (dict(max_length=0), "max_length"),
                            (dict(top=-1), "top")]:
            with pytest.raises(ValidationError) as error:
                crm.analytics.journeys(**call)
            assert error.value.field == field

    def test_funnel_by_hand(self, crm: CRM) -> None:
        ids = {name: crm.customers.create(name=name).id for name in "abcde"}
        steps = ["product_view", {"kind": "cart_add", "channel": "web"}, "order"]
        _touch(crm, ids["a"], "product_view", T0 + H)
        _touch(crm, ids["a"], "cart_add", T0 + 2 * H)
        _order(crm, "a1", ids["a"], T0 + 3 * D)
        _touch(crm, ids["b"], "product_view", T0 + H)
        _touch(crm, ids["b"], "cart_add", T0 + 2 * H)
        _touch(crm, ids["c"], "product_view", T0 + H)
        _touch(crm, ids["c"], "cart_add", T0 + 2 * H, channel="app")  # wrong channel
        _touch(crm, ids["d"], "cart_add", T0 + H)  # before the first step: does not count
        _touch(crm, ids["d"], "product_view", T0 + 2 * H)
        _order(crm, "d1", ids["d"], T0 + 3 * H)
        _touch(crm, ids["e"], "product_view", T0 + 2 * H)
        _touch(crm, ids["e"], "cart_add", T0 + 2 * H)  # the same instant: not after
        table = crm.analytics.funnel(steps, start=T0, end=T0 + 10 * D)
        assert [(r.step, r.customers, r.from_previous, r.from_first) for r in table] == [
            ("product_view", 5, 1.0, 1.0), ("cart_add[web]", 2, 0.4, 0.4),
            ("order", 1, 0.5, 0.2)]
        quick = crm.analytics.funnel(steps, start=T0, end=T0 + 10 * D, within=D)
        assert [r.customers for r in quick] == [5, 2, 0]
        edge = crm.analytics.funnel(steps, start=T0, end=T0 + 3 * D, within=3 * D - H)
        assert [r.customers for r in edge] == [5, 2, 0]  # the order is at the end: out
        exact = crm.analytics.funnel(steps, start=T0, end=T0 + 4 * D, within=3 * D - H)
        assert [r.customers for r in exact] == [5, 2, 1]  # 3 days - 1 hour after step 1

    def test_funnel_steps_with_sku_and_bad_steps(self, crm: CRM) -> None:
        customer = crm.customers.create(name="s").id
        _touch(crm, customer, "product_view", T0, sku="TEA")
        _order(crm, "s1", customer, T0 + H, sku="MUG")
        window = {"start": T0, "end": T0 + D}
        tea = crm.analytics.funnel([{"kind": "product_view", "sku": "TEA"},
                                    {"kind": "order", "sku": "TEA"}], **window)
        mug = crm.analytics.funnel([{"kind": "product_view", "sku": "TEA"},
                                    {"kind": "order", "sku": "MUG", "channel": "web"}],
                                   **window)
        assert ([r.customers for r in tea], [r.customers for r in mug]) == ([1, 0], [1, 1])
        empty = crm.analytics.funnel(["page_view", "order"], start=T0 - 9 * D, end=T0)
        assert [(r.customers, r.from_previous, r.from_first) for r in empty] == [
            (0, None, None), (0, None, None)]
        for steps, field in [(["page_view"], "steps"), ("page_view", "steps"),
                             (["page_view", 3], "steps[1]"),
                             (["page_view", "Cart Add"], "steps[1]"),
                             ([{"kind": "order", "colour": "red"}, "order"], "steps[0]"),
                             (["order", {"kind": "cart_add", "channel": "pigeon"}],
                              "steps[1]")]:
            with pytest.raises(ValidationError) as error:
                crm.analytics.funnel(steps, **window)
            assert error.value.field == field
        with pytest.raises(ValidationError) as error:
            crm.analytics.funnel(["page_view", "order"], start=T0, end=T0 + D,
                                 within=timedelta(0))
        assert error.value.field == "within"

