"""Hypothesis strategies for ecrm's inputs: valid ones, and ones that must be refused."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from ecrm.domain.customers import GENDERS, JAPANESE_PREFECTURES
from ecrm.domain.orders import OrderLine

#: Offsets seen in real shops' data, so round trips through UTC are exercised.
ZONES = [timezone.utc, timezone(timedelta(hours=9)), timezone(timedelta(hours=-5)),
         timezone(timedelta(hours=5, minutes=30))]

names = st.text(alphabet=st.sampled_from("山田太郎花子佐藤鈴木アイウエオabcXYZ "), min_size=1,
                max_size=20).map(str.strip).filter(bool)
keys = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=12)
emails = st.builds(lambda local, domain: f"{local}@{domain}.example", keys, keys)


def aware_datetimes(start: int = 2020, end: int = 2027) -> st.SearchStrategy[datetime]:
    """Timezone-aware datetimes with microseconds, in assorted offsets."""
    return st.builds(
        lambda naive, zone: naive.replace(tzinfo=zone),
        st.datetimes(datetime(start, 1, 1), datetime(end, 1, 1)),
        st.sampled_from(ZONES),
    )


#: Any text a database stores: every character but NUL (refused as invalid input).
stored_text = st.text(st.characters(exclude_characters="\x00", exclude_categories=("Cs",)),
                      max_size=10)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | stored_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
    max_leaves=6,
)
attributes = st.dictionaries(keys, json_values, max_size=4)

addresses = st.fixed_dictionaries({}, optional={
    "postal_code": st.from_regex(r"\A[0-9]{3}-[0-9]{4}\Z"),
    "prefecture": st.sampled_from(JAPANESE_PREFECTURES),
    "city": names,
    "street": names,
})


def customer_fields(emails: st.SearchStrategy[str] = emails,
                    external_ids: st.SearchStrategy[str] = keys) -> st.SearchStrategy[
                        dict[str, Any]]:
    """Keyword arguments for ``crm.customers.create`` that are all valid."""
    return st.fixed_dictionaries({}, optional={
        "email": emails,
        "name": names,
        "kana_name": names,
        "phone": st.from_regex(r"\A0[0-9]{2}-[0-9]{4}-[0-9]{4}\Z"),
        "external_id": external_ids,
        "birth_date": st.dates(date(1930, 1, 1), date(2010, 12, 31)),
        "gender": st.sampled_from(GENDERS),
        "address": addresses,
        "acquisition_channel": st.sampled_from(["web", "app", "line", "store"]),
        "attributes": attributes,
        "signed_up_at": aware_datetimes(),
    })


def order_lines(currency_places: int = 0) -> st.SearchStrategy[OrderLine]:
    """Valid order lines priced in a currency with ``currency_places`` decimals."""
    prices = st.decimals(min_value=0, max_value=Decimal("999999"), places=currency_places)
    return st.builds(OrderLine, sku=keys, quantity=st.integers(1, 20), unit_price=prices,
                     category=st.none() | st.sampled_from(["books", "music", "food"]))
