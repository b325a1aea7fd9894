"""RFM analysis on every backend: a small shop whose scores and segments are worked out
by hand, ties, cancelled and refunded orders, another currency and orders after the
as-of time included."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from ecrm.crm import CRM
from ecrm.domain.orders import OrderLine
from ecrm.domain.rfm import RFMSegmentMap, RFMSegmentRule
from ecrm.errors import ValidationError
from ecrm.testing.conformance.base import START, ContractBase

AS_OF = START + timedelta(days=100)

#: name -> (days before AS_OF, amount, currency, what happens to the order). Negative
#: days: after AS_OF. The table below each customer is worked out in HAND.
SHOP: dict[str, list[tuple[float, int, str, str]]] = {
    "a": [(1, 1000, "JPY", ""), (10, 2000, "JPY", "")],
    "b": [(1.5, 5000, "JPY", "")],                       # 1.5 days: 1 whole day, as a
    "c": [(30, 1000, "JPY", ""), (40, 1000, "JPY", ""), (50, 1000, "JPY", "")],
    "d": [(0, 500, "JPY", "")],                          # placed at AS_OF: counts
    "e": [(-1, 9000, "JPY", ""), (200, 4000, "JPY", "")],  # the later one is after AS_OF
    "f": [(2, 9000, "JPY", "cancel"), (60, 2000, "JPY", "")],
    "g": [(5, 10000, "JPY", "refund all"), (20, 3000, "JPY", "refund 1000")],
    "h": [(3, 50, "USD", ""), (90, 6000, "JPY", "")],    # dollars count, as 0 yen
    "i": [(7, 20, "USD", "")],
    "j": [(2, 1000, "JPY", ""), (16, 1000, "JPY", ""), (17, 1000, "JPY", ""),
          (18, 1000, "JPY", "")],
    "k": [],                                             # no order: not in the table
    "l": [(-2, 1000, "JPY", "")],                        # only after AS_OF: not either
    "m": [(4, 1000, "JPY", "cancel")],                   # only cancelled: not either
}

# Ten customers count, so a score is 1 + 5 * worse // 10 = 1 + worse // 2, ``worse``
# being how many of the ten have a strictly worse value:
#   days   d0 a1 b1 j2 h3 g5 i7 c30 f60 e200  -> worse 9 7 7 6 5 4 3 2 1 0
#   orders b1 d1 e1 f1 i1 a2 g2 h2 c3 j4      -> worse 0 0 0 0 0 5 5 5 8 9
#   yen    i0 d500 f2000 g2000 a3000 c3000 e4000 j4000 b5000 h6000
#                                             -> worse 0 1 2 2 4 4 6 6 8 9
HAND = {  # name: (recency_days, frequency, monetary, score, segment)
    "a": (1, 2, Decimal(3000), "433", "potential_loyalist"),
    "b": (1, 1, Decimal(5000), "415", "promising"),
    "c": (30, 3, Decimal(3000), "253", "cant_lose"),
    "d": (0, 1, Decimal(500), "511", "new"),
    "e": (200, 1, Decimal(4000), "114", "lost"),
    "f": (60, 1, Decimal(2000), "112", "lost"),
    "g": (5, 2, Decimal(2000), "332", "need_attention"),
    "h": (3, 2, Decimal(6000), "335", "need_attention"),
    "i": (7, 1, Decimal(0), "211", "hibernating"),
    "j": (2, 4, Decimal(4000), "454", "loyal"),
}


def load(crm: CRM) -> dict[str, str]:
    """Write :data:`SHOP` (the clock after AS_OF, so every refund comes after it too);
    returns customer id -> name."""
    crm.clock.set(AS_OF + timedelta(days=5))  # type: ignore[attr-defined]
    names = {}
    for name, orders in SHOP.items():
        customer_id = crm.customers.create(name=name).id
        names[customer_id] = name
        for n, (days, amount, currency, then) in enumerate(orders):
            order_id = f"{name}{n}"
            crm.orders.record(order_id=order_id, customer_id=customer_id,
                              placed_at=AS_OF - timedelta(days=days), channel="web",
                              currency=currency,
                              lines=[OrderLine("SKU-1", 1, Decimal(amount))])
            if then == "cancel":
                crm.orders.cancel(order_id)
            elif then.startswith("refund"):
                refund = amount if then == "refund all" else int(then.split()[1])
                crm.orders.refund(order_id, refund_id=f"{order_id}r", amount=Decimal(refund))
    return names


class RFMContract(ContractBase):
    """What ``crm.analytics.rfm`` answers on every backend."""

    def test_rfm_scores_and_segments_a_hand_computed_shop(self, crm: CRM) -> None:
        names = load(crm)
        table = crm.analytics.rfm(as_of=AS_OF)
        found = {names[row.customer_id]: (row.recency_days, row.frequency, row.monetary,
                                          row.score, row.segment) for row in table}
        assert found == HAND
        assert [row.customer_id for row in table] == sorted(row.customer_id for row in table)
        a = next(row for row in table if names[row.customer_id] == "a")
        assert (a.r, a.f, a.m) == (4, 3, 3)
        assert (table.as_of, table.bins, table.currency) == (AS_OF, 5, "JPY")
        assert table.segment_counts() == {
            "lost": 2, "hibernating": 1, "at_risk": 0, "cant_lose": 1, "about_to_sleep": 0,
            "need_attention": 2, "loyal": 1, "promising": 1, "new": 1,
            "potential_loyalist": 1, "champions": 0}
        assert sorted(names[row.customer_id] for row in table.by_segment("lost")) == ["e", "f"]

    def test_rfm_figures_are_those_of_the_segment_fields(self, crm: CRM) -> None:
        names = load(crm)
        for row in crm.analytics.rfm(as_of=AS_OF):
            rule = (f"days_since_last_order = {row.recency_days} and orders.count = "
                    f"{row.frequency} and orders.total_spent = {row.monetary}")
            assert row.customer_id in crm.segments.evaluate(rule, as_of=AS_OF), \
                names[row.customer_id]

    def test_rfm_rescales_other_bins_to_the_default_segments(self, crm: CRM) -> None:
        names = load(crm)
        # Two bins: 1 + 2 * worse // 10 = 1 + worse // 5; 1 and 2 become 3 and 5 of 5.
        rows = {names[row.customer_id]: row for row in crm.analytics.rfm(as_of=AS_OF,
                                                                          bins=2)}
        assert {name: row.score for name, row in rows.items()} == {
            "a": "221", "b": "212", "c": "121", "d": "211", "e": "112", "f": "111",
            "g": "121", "h": "222", "i": "111", "j": "222"}
        assert rows["a"].segment == "champions"            # 5, 5
        assert rows["d"].segment == "potential_loyalist"   # 5, 3
        assert rows["f"].segment == "need_attention"       # 3, 3
        ten = {names[row.customer_id]: row for row in crm.analytics.rfm(as_of=AS_OF,
                                                                         bins=10)}
        assert ten["d"].score == "100102" and ten["d"].segment == "new"  # 10, 1 -> 5, 1
        assert ten["e"].score == "010107"

    def test_rfm_takes_a_segment_map_of_its_own(self, crm: CRM) -> None:
        names = load(crm)
        mine = RFMSegmentMap([RFMSegmentRule("big", monetary=(5, 5)),
                              RFMSegmentRule("recent", recency=(4, 5)),
                              RFMSegmentRule("other")])
        table = crm.analytics.rfm(as_of=AS_OF, segments=mine)
        assert {names[row.customer_id]: row.segment for row in table} == {
            "a": "recent", "b": "big", "c": "other", "d": "recent", "e": "other",
            "f": "other", "g": "other", "h": "big", "i": "other", "j": "recent"}
        assert table.segment_counts() == {"big": 2, "recent": 3, "other": 5}
        gaps = RFMSegmentMap([RFMSegmentRule("big", monetary=(5, 5))])
        with pytest.raises(ValidationError, match="no rule matches r=1, f=1, m=1"):
            crm.analytics.rfm(as_of=AS_OF, segments=gaps)
        with pytest.raises(ValidationError, match="goes past 3"):
            crm.analytics.rfm(as_of=AS_OF, bins=3, segments=mine)

    def test_rfm_counts_whole_days_to_the_microsecond(self, crm: CRM) -> None:
        as_of = AS_OF + timedelta(microseconds=999_999)
        micro, day = timedelta(microseconds=1), timedelta(days=1)
        ages = {"now": timedelta(0), "day-1us": day - micro, "day": day,
                "day+1us": day + micro, "3days-1us": 3 * day - micro,
                "400y": 146_097 * day + micro}
        names = {}
        for name, age in ages.items():
            customer_id = crm.customers.create(name=name).id
            names[customer_id] = name
            crm.orders.record(order_id=name, customer_id=customer_id, channel="web",
                              placed_at=as_of - age, lines=[OrderLine("S", 1, Decimal(1))])
        found = {names[row.customer_id]: row.recency_days
                 for row in crm.analytics.rfm(as_of=as_of)}
        assert found == {"now": 0, "day-1us": 0, "day": 1, "day+1us": 1, "3days-1us": 2,
                         "400y": 146_097}

    def test_rfm_of_no_orders_is_an_empty_table(self, crm: CRM) -> None:
        assert len(crm.analytics.rfm(as_of=AS_OF)) == 0
        load(crm)
        early = crm.analytics.rfm(as_of=AS_OF - timedelta(days=365))
        assert list(early) == [] and early.columns()[0] == "customer_id"
        assert early.segment_counts()["champions"] == 0
        # Now (the clock, five days after AS_OF) the orders after AS_OF count too: l joins.
        assert len(crm.analytics.rfm()) == 11

    def test_rfm_rejects_bad_input(self, crm: CRM) -> None:
        for bins in (1, 11, 0, True, 5.0, "5"):
            with pytest.raises(ValidationError, match="bins"):
                crm.analytics.rfm(bins=bins)  # type: ignore[arg-type]
        with pytest.raises(ValidationError, match="as_of"):
            crm.analytics.rfm(as_of=datetime(2026, 1, 1))
        with pytest.raises(ValidationError, match="segments"):
            crm.analytics.rfm(segments={"champions": (5, 5)})  # type: ignore[arg-type]
