"""examples/fastapi_service: the JSON of each endpoint against ecrm's own answers, on
the memory backend and SQLite; paging walks the whole timeline once; errors map to
HTTP statuses."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="FastAPI is not installed (pip install .[test])")
pytest.importorskip("httpx", reason="httpx is not installed (pip install .[test])")

from fastapi.testclient import TestClient  # noqa: E402

import ecrm  # noqa: E402

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "fastapi_service"
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
BASKETS = [["PHONE", "CASE"], ["PHONE", "CASE", "FILM"], ["PHONE"], ["CASE", "CABLE"],
           ["PHONE", "CASE", "CABLE"]]


@pytest.fixture
def service(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The example's module."""
    monkeypatch.syspath_prepend(str(EXAMPLE))
    return importlib.import_module("crm_service")


@pytest.fixture(params=["memory", "sqlite"])
def crm(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ecrm.CRM]:
    """A seeded shop: five customers with one order each, association rules mined, and
    ``hanako`` (customer c2) with a busy timeline, several events at the same instant."""
    url = "memory://" if request.param == "memory" else f"sqlite:///{tmp_path / 'crm.db'}"
    with ecrm.CRM.open(url, clock=ecrm.ManualClock(NOW)) as shop:
        for n, skus in enumerate(BASKETS):
            customer = shop.customers.create(external_id=f"c{n}")
            shop.orders.record(order_id=f"o{n}", customer_id=customer.id, channel="web",
                               placed_at=NOW - timedelta(days=10 - n),
                               lines=[ecrm.OrderLine(sku, 1, Decimal(1500)) for sku in skus])
        shop.recommendations.mine(min_support=0.2, min_confidence=0.3)
        hanako = shop.customers.find(external_id="c2")
        for minute in range(9):
            at = NOW - timedelta(hours=5) + timedelta(minutes=minute // 3)  # 3 per instant
            shop.interactions.record(hanako.id, channel="web", kind="product_view",
                                     sku="CASE", occurred_at=at, payload={"n": minute})
        shop.loyalty.earn(hanako.id, 30, key="o2-points")
        yield shop


@pytest.fixture
def client(service: ModuleType, crm: ecrm.CRM) -> TestClient:
    """A test client of the service on ``crm``."""
    return TestClient(service.create_app(crm))


def hanako(crm: ecrm.CRM) -> ecrm.Customer:
    customer = crm.customers.find(external_id="c2")
    assert customer is not None
    return customer


def walk(client: TestClient, path: str, **params: Any) -> list[list[dict[str, Any]]]:
    """Every page of a timeline, following ``next_cursor`` to the end."""
    pages, after = [], None
    while True:
        answer = client.get(path, params={**params, **({"after": after} if after else {})})
        assert answer.status_code == 200, answer.text
        pages.append(answer.json()["events"])
        after = answer.json()["next_cursor"]
        if after is None:
            return pages


def test_paging_walks_the_whole_timeline_once(client: TestClient, crm: ecrm.CRM) -> None:
    customer = hanako(crm)
    pages = walk(client, f"/customers/{customer.id}/timeline", limit=2)

    events = crm.interactions.timeline(customer.id, limit=500).events
    assert [len(page) for page in pages] == [2, 2, 2, 2, 2, 1]
    assert [(e["source"], e["id"]) for page in pages for e in page] == [
        (e.source, e.id) for e in events]
    assert [e["at"] for page in pages for e in page] == [e.at.isoformat() for e in events]


def test_timeline_items_are_json_with_iso_times_and_money_as_strings(
        client: TestClient, crm: ecrm.CRM) -> None:
    customer = hanako(crm)
    events = client.get(f"/customers/{customer.id}/timeline").json()["events"]

    points, view, order = events[0], events[1], events[-1]
    assert (points["source"], points["kind"], points["channel"]) == (
        "points", "points_earn", None)
    assert points["item"]["points"] == 30
    assert (view["kind"], view["item"]["sku"], view["item"]["payload"]) == (
        "product_view", "CASE", {"n": 8})
    assert view["at"] == "2026-06-01T07:02:00+00:00"
    assert (order["source"], order["id"], order["channel"]) == ("order", "o2", "web")
    assert order["item"]["total"] == "1500"
    assert order["item"]["lines"] == [
        {"sku": "PHONE", "quantity": 1, "unit_price": "1500", "category": None}]
    assert order["item"]["placed_at"] == crm.orders.get("o2").placed_at.isoformat()


def test_timeline_filters(client: TestClient, crm: ecrm.CRM) -> None:
    customer = hanako(crm)
    answer = client.get(f"/customers/{customer.id}/timeline",
                        params=[("sources", "order"), ("sources", "points")]).json()
    assert [e["kind"] for e in answer["events"]] == ["points_earn", "order_placed"]
    views = walk(client, f"/customers/{customer.id}/timeline", kinds="product_view",
                 limit=4)
    assert sum(len(page) for page in views) == 9


def test_recommendations_are_ecrms(client: TestClient, crm: ecrm.CRM) -> None:
    customer = hanako(crm)
    answer = client.get(f"/customers/{customer.id}/recommendations",
                        params={"limit": 2}).json()

    expected = crm.recommendations.for_customer(customer.id, limit=2)
    assert [item["sku"] for item in answer["items"]] == expected.skus() == ["CASE", "CABLE"]
    assert [item["why"] for item in answer["items"]] == [item.why for item in expected]
    assert answer["items"][0]["reasons"][0]["kind"] == "association"
    assert answer["notes"] == list(expected.notes)


def test_recommendations_for_a_cart(client: TestClient, crm: ecrm.CRM) -> None:
    customer = hanako(crm)
    answer = client.get(f"/customers/{customer.id}/recommendations",
                        params=[("cart", "CABLE"), ("limit", "3")]).json()
    assert [item["sku"] for item in answer["items"]] == crm.recommendations.for_items(
        ["CABLE"], limit=3).skus()
    assert answer["items"][0]["sku"] == "CASE"


def test_recording_an_order(client: TestClient, crm: ecrm.CRM) -> None:
    customer = hanako(crm)
    body = {"order_id": "o9", "placed_at": "2026-06-01T10:30:00+09:00",
            "lines": [{"sku": "FILM", "quantity": 2, "unit_price": "980"}]}
    created = client.post(f"/customers/{customer.id}/orders", json=body)

    assert created.status_code == 201
    assert created.json() == service_json(crm.orders.get("o9"))
    assert created.json()["total"] == "1960"
    assert client.post(f"/customers/{customer.id}/orders", json=body).json() == created.json()
    other = {**body, "lines": [{"sku": "FILM", "quantity": 3, "unit_price": "980"}]}
    assert client.post(f"/customers/{customer.id}/orders", json=other).status_code == 409


def service_json(order: ecrm.Order) -> dict[str, Any]:
    """The JSON the service should give for ``order``, written out by hand."""
    return {"order_id": order.order_id, "customer_id": order.customer_id,
            "placed_at": order.placed_at.isoformat(), "channel": order.channel,
            "currency": order.currency, "status": order.status.value,
            "lines": [{"sku": line.sku, "quantity": line.quantity,
                       "unit_price": str(line.unit_price), "category": line.category}
                      for line in order.lines],
            "created_at": order.created_at.isoformat(), "total": str(order.total),
            "refunded": str(order.refunded), "cancelled_at": None}


@pytest.mark.parametrize(("path", "params"), [
    ("timeline", {}), ("recommendations", {}), ("recommendations", {"cart": "CASE"})])
def test_an_unknown_customer_is_404(client: TestClient, path: str,
                                    params: dict[str, str]) -> None:
    answer = client.get(f"/customers/nobody/{path}", params=params)
    assert answer.status_code == 404 and "nobody" in answer.json()["error"]


@pytest.mark.parametrize(("path", "params", "field"), [
    ("timeline", {"limit": 0}, "limit"),
    ("timeline", {"after": "not-a-cursor"}, "after"),
    ("timeline", {"sources": "mail"}, "sources"),
    ("recommendations", {"limit": 1000}, "limit"),
    ("recommendations", {"cart": "NO-SUCH-SKU"}, "skus"),
])
def test_bad_input_is_422_naming_the_field(client: TestClient, crm: ecrm.CRM, path: str,
                                           params: dict[str, Any], field: str) -> None:
    answer = client.get(f"/customers/{hanako(crm).id}/{path}", params=params)
    assert (answer.status_code, answer.json()["field"]) == (422, field)


def test_a_naive_time_or_a_bad_line_is_422(client: TestClient, crm: ecrm.CRM) -> None:
    path = f"/customers/{hanako(crm).id}/orders"
    naive = {"order_id": "o10", "placed_at": "2026-06-01T10:30:00",
             "lines": [{"sku": "FILM", "quantity": 1, "unit_price": "980"}]}
    answer = client.post(path, json=naive)
    assert (answer.status_code, answer.json()["field"]) == (422, "placed_at")
    bad_line = {**naive, "placed_at": "2026-06-01T10:30:00Z",
                "lines": [{"sku": "FILM", "quantity": 0, "unit_price": "980"}]}
    answer = client.post(path, json=bad_line)
    assert answer.status_code == 422 and answer.json()["field"].startswith("lines[0]")
    with pytest.raises(ecrm.NotFound):
        crm.orders.get("o10")


def test_the_app_opens_and_closes_a_crm_from_a_url(service: ModuleType,
                                                   tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'own.db'}"
    with ecrm.CRM.open(url) as shop:
        taro = shop.customers.create(name="太郎")
        shop.interactions.record(taro.id, channel="web", kind="page_view", occurred_at=NOW)
    with TestClient(service.create_app(url)) as client:
        events = client.get(f"/customers/{taro.id}/timeline").json()["events"]
    assert [e["kind"] for e in events] == ["page_view"]


def test_the_crm_is_a_dependency_tests_can_override(service: ModuleType,
                                                    crm: ecrm.CRM) -> None:
    other = ecrm.CRM.open("memory://")
    jiro = other.customers.create(name="二郎")
    app = service.create_app(crm)
    app.dependency_overrides[service.get_crm] = lambda: other
    client = TestClient(app)
    assert client.get(f"/customers/{jiro.id}/timeline").json() == {
        "events": [], "next_cursor": None}
    assert client.get(f"/customers/{hanako(crm).id}/timeline").status_code == 404
