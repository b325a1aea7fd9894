"""Cart abandonment, journeys and funnels give the same answers on every backend: random
small shops whose orders and touches sit on and around the edges of the windows (a
microsecond either side of the start, the end, the as-of time and the conversion
window), analysed on memory (the reference), SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecrm import CRM, ManualClock
from ecrm.backends.memory import MemoryBackend
from ecrm.backends.sql import SQLBackend
from ecrm.domain.orders import OrderLine
from ecrm.errors import ValidationError

START = datetime(2026, 3, 28, 15, 0, tzinfo=timezone.utc)  # 00:00 29 March in Tokyo
END = START + timedelta(days=3)
AS_OF = END + timedelta(hours=5)
US, H, D = timedelta(microseconds=1), timedelta(hours=1), timedelta(days=1)
WINDOWS = (H, D)
#: When things happen, relative to START: on and around every edge.
OFFSETS = (-D - US, -D, -US, timedelta(0), US, H - US, H, H + US, D - US, D, D + US,
           D + H, 2 * D, 3 * D - US, 3 * D, 3 * D + US, 3 * D + 5 * H - US, 3 * D + 5 * H,
           3 * D + 5 * H + US, 4 * D)
KINDS = ("cart_add", "cart_add", "page_view", "product_view", "checkout_started",
         "email_clicked")
CHANNELS = ("web", "app", "email")
SKUS = ("A", "B", None)

touches = st.tuples(st.sampled_from(KINDS), st.sampled_from(CHANNELS),
                    st.sampled_from(SKUS), st.sampled_from(OFFSETS))
orders = st.tuples(st.sampled_from(OFFSETS), st.sampled_from(("web", "app")),
                   st.sampled_from(("A", "B")), st.booleans())
customers = st.tuples(st.lists(touches, max_size=6), st.lists(orders, max_size=3))
shops = st.lists(customers, max_size=6)

steps = st.one_of(
    st.sampled_from(KINDS[1:] + ("order",)),
    st.fixed_dictionaries({"kind": st.sampled_from(("cart_add", "product_view", "order"))},
                          optional={"channel": st.sampled_from(("web", "app")),
                                    "sku": st.sampled_from(("A", "B"))}))

BACKENDS = ["sqlite_backend", "postgres_backend", "mysql_backend"]


def load(backend: Any, shop: list[Any]) -> CRM:
    crm = CRM(backend, tenant=f"jr-{uuid.uuid4().hex[:10]}", clock=ManualClock(AS_OF))
    for n, (their_touches, their_orders) in enumerate(shop):
        customer = crm.customers.create(name=f"c{n}").id
        for kind, channel, sku, offset in their_touches:
            crm.interactions.record(customer, channel=channel, kind=kind, sku=sku,
                                    occurred_at=START + offset)
        for m, (offset, channel, sku, cancelled) in enumerate(their_orders):
            crm.orders.record(order_id=f"c{n}-o{m}", customer_id=customer,
                              placed_at=START + offset, channel=channel,
                              lines=[OrderLine(sku, 1, Decimal(100))])
            if cancelled:
                crm.orders.cancel(f"c{n}-o{m}")
    return crm


def arguments(data: st.DataObject) -> dict[str, Any]:
    """The arguments of one round of analyses."""
    return {
        "window": data.draw(st.sampled_from(WINDOWS), label="conversion_window"),
        "period": data.draw(st.sampled_from((None, "day", "week", "month", "quarter")),
                            label="period"),
        "tz": data.draw(st.sampled_from(("UTC", "Asia/Tokyo", "America/New_York")),
                        label="tz"),
        "as_of": data.draw(st.sampled_from((AS_OF, END, START + D + H)), label="as_of"),
        "kinds": data.draw(st.none() | st.lists(st.sampled_from(KINDS), min_size=1,
                                                max_size=3), label="kinds"),
        "max_length": data.draw(st.integers(1, 4), label="max_length"),
        "steps": data.draw(st.lists(steps, min_size=2, max_size=4), label="steps"),
        "within": data.draw(st.sampled_from((None, H, D - US, D)), label="within"),
        "bounds": data.draw(st.sampled_from(((START, END), (None, None), (START + D, None))),
                            label="journey window"),
    }


def analyses(crm: CRM, args: dict[str, Any]) -> dict[str, Any]:
    """Each analysis over ``crm`` with ``args``."""
    return {
        "carts": crm.analytics.cart_abandonment(
            start=START, end=END, period=args["period"], tz=args["tz"],
            conversion_window=args["window"], as_of=args["as_of"]),
        "journeys": crm.analytics.journeys(
            start=args["bounds"][0], end=args["bounds"][1], kinds=args["kinds"],
            max_length=args["max_length"], top=20),
        "funnel": crm.analytics.funnel(args["steps"], start=START, end=END,
                                       within=args["within"]),
    }


@pytest.mark.parametrize("fixture", BACKENDS)
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(shop=shops, data=st.data())
def test_each_analysis_is_the_same_on_every_backend(fixture: str, shop: list[Any],
                                                    data: st.DataObject,
                                                    request: pytest.FixtureRequest) -> None:
    reference = load(MemoryBackend(), shop)
    subject = load(request.getfixturevalue(fixture), shop)
    try:
        for _ in range(3):
            args = arguments(data)
            expected = analyses(reference, args)
            got = analyses(subject, args)
            for label, answer in expected.items():
                assert got[label] == answer, label
    finally:
        forget(subject)


#: The server backends the random shops were written to.
USED: dict[str, SQLBackend] = {}


def forget(crm: CRM) -> None:
    """Note the server backend, whose schema is made afresh after this module."""
    backend = crm.backend
    if isinstance(backend, SQLBackend) and backend.engine.dialect.name != "sqlite":
        USED[backend.engine.dialect.name] = backend


@pytest.fixture(scope="module", autouse=True)
def fresh_server_schemas() -> Any:
    """Thousands of small shops change what the servers' planners choose (PostgreSQL's
    plans for near-empty tables differ), which tests/test_query_plans.py checks later in
    the session: leave the servers' schemas as new, as the session began with them."""
    yield
    for backend in USED.values():
        backend.drop_schema()
        backend.create_schema()
    USED.clear()


@pytest.mark.parametrize("fixture", ["memory", *BACKENDS])
def test_an_empty_shop_gives_empty_well_defined_answers(
        fixture: str, request: pytest.FixtureRequest) -> None:
    backend = MemoryBackend() if fixture == "memory" else request.getfixturevalue(fixture)
    crm = load(backend, [])
    report = crm.analytics.cart_abandonment(start=START, end=END, period="day", as_of=AS_OF)
    assert (report.started, report.converted, report.abandoned, report.open,
            report.abandonment_rate) == (0, 0, 0, 0, None)
    assert [r.started for r in report.by_period] == [0, 0, 0, 0]  # 28-31 March (UTC)
    assert report.by_product.to_dicts() == [] == report.by_channel.to_dicts()
    journeys = crm.analytics.journeys()
    assert (journeys.buyers, journeys.rows) == (0, ())
    funnel = crm.analytics.funnel(["cart_add", "order"], start=START, end=END)
    assert [(r.customers, r.from_previous) for r in funnel] == [(0, None), (0, None)]


@pytest.mark.parametrize("call", [
    lambda crm: crm.analytics.cart_abandonment(start=datetime(2026, 1, 1), end=END),
    lambda crm: crm.analytics.cart_abandonment(start=END, end=START),
    lambda crm: crm.analytics.cart_abandonment(start=START, end=END, period="hour"),
    lambda crm: crm.analytics.cart_abandonment(start=START, end=END, tz=9),
    lambda crm: crm.analytics.cart_abandonment(start=START, end=END, conversion_window=24),
    lambda crm: crm.analytics.cart_abandonment(start=START, end=START + 6000 * D,
                                               period="day"),
    lambda crm: crm.analytics.journeys(end=datetime(2026, 1, 1)),
    lambda crm: crm.analytics.journeys(max_length=True),
    lambda crm: crm.analytics.journeys(kinds=[]),
    lambda crm: crm.analytics.funnel([], start=START, end=END),
    lambda crm: crm.analytics.funnel(["order", None], start=START, end=END),
    lambda crm: crm.analytics.funnel({"kind": "order"}, start=START, end=END),
    lambda crm: crm.analytics.funnel(["order", "order"], start=START, end=START),
    lambda crm: crm.analytics.funnel(["order", "order"], start=START, end=END, within=-D),
])
def test_bad_input_is_refused(call: Any) -> None:
    with pytest.raises(ValidationError):
        call(CRM.open("memory://"))
