"""The pure parts of recommendations: stored itemset keys, a customer's activity, and
combining the sources' suggestions."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from ecrm.domain.association_models import itemset_from_key, itemset_key
from ecrm.domain.recommendations import (
    ItemEvent,
    Reason,
    ReasonKind,
    Suggestion,
    build_activity,
    combine,
)

T0 = datetime(2026, 5, 1, tzinfo=timezone.utc)


@given(st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=4, unique=True))
def test_itemset_keys_are_compact_json_and_read_back(items: list[str]) -> None:
    itemset = tuple(sorted(items))
    key = itemset_key(itemset)
    assert key == json.dumps(list(itemset), ensure_ascii=False, separators=(",", ":"))
    assert itemset_from_key(key) == itemset


def test_the_cart_holds_what_was_added_after_the_last_order_and_not_removed() -> None:
    def at(hours: int) -> datetime:
        return T0 + timedelta(hours=hours)

    events = [ItemEvent("cart_add", "PEN", at(9)), ItemEvent("product_view", "INK", at(8)),
              ItemEvent("cart_remove", "CUP", at(7)), ItemEvent("cart_add", "CUP", at(6)),
              ItemEvent("product_view", "PEN", at(5)), ItemEvent("cart_add", "MUG", at(1)),
              ItemEvent("product_view", "INK", at(0))]
    activity = build_activity([("PAD", "paper"), ("PEN", None), ("PAD", "stationery")],
                              events, last_order_at=at(2))
    assert activity.in_cart == ("PEN",)  # CUP removed, MUG added before the last order
    assert activity.viewed == ("INK", "PEN")
    assert dict(activity.bought) == {"PAD": "paper", "PEN": None}
    assert activity.categories() == ["paper"]
    assert not activity.is_empty
    assert build_activity([], [], None).is_empty


def test_combining_keeps_first_places_and_gathers_reasons() -> None:
    viewed, popular = Reason(ReasonKind.VIEWED, ("A",)), Reason(ReasonKind.POPULAR)
    first = [Suggestion("A", "viewed", 1.0, (viewed,)), Suggestion("B", "viewed", 2.0,
                                                                   (viewed,))]
    second = [Suggestion("C", "popular", 9.0, (popular,)),
              Suggestion("A", "popular", 5.0, (popular,), "cat"),
              Suggestion("X", "popular", 8.0, (popular,))]
    merged = combine([first, second], excluded={"X"})
    assert [s.sku for s in merged] == ["B", "A", "C"]
    assert merged[1].reasons == (viewed, popular) and merged[1].category == "cat"
    assert merged[1].why == "viewed A; popular in the shop"
