"""examples/django_shop: the shop's order and ecrm's record of it in one Django
transaction, on SQLite and PostgreSQL (Django's postgresql backend on psycopg 3).

Django is configured once for the module, with a SQLite file as ``default`` and a
dedicated PostgreSQL database as ``postgres``; ``manage.py migrate`` builds both,
ecrm's tables included. What ecrm holds is read through a CRM of its own, on another
connection, so only committed rows count.
"""

from __future__ import annotations

import importlib
import itertools
import json
import os
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("django", reason="Django is not installed (pip install .[test])")

import django  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connections  # noqa: E402
from django.test import Client, override_settings  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.pool import NullPool  # noqa: E402

import ecrm  # noqa: E402
from tests.servers import SERVERS, server_database, server_url  # noqa: E402

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "django_shop"
PLACED_AT = datetime(2026, 4, 1, 1, 30, tzinfo=timezone.utc)
TEA = ecrm.OrderLine("TEA-01", 2, Decimal(1500))
CUP = ecrm.OrderLine("CUP-02", 1, Decimal(800))
_numbers = itertools.count(1)


@pytest.fixture(scope="module")
def database_urls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Django set up with the example's settings and migrated databases: the SQLAlchemy
    URL of each Django alias, to read them from outside."""
    with ExitStack() as stack:
        monkeypatch = stack.enter_context(pytest.MonkeyPatch.context())
        monkeypatch.syspath_prepend(str(EXAMPLE))
        shop_settings = importlib.import_module("shop_site.settings")
        urls = {"default": f"sqlite:///{tmp_path_factory.mktemp('django') / 'shop.db'}"}
        if os.environ.get(SERVERS["postgres"]):
            engine = stack.enter_context(server_database("postgres", "ecrm_django"))
            urls["postgres"] = engine.url.render_as_string(hide_password=False)
        example = {name: getattr(shop_settings, name) for name in dir(shop_settings)
                   if name.isupper()}
        settings.configure(**{**example, "DATABASES": {
            alias: shop_settings.django_database(url) for alias, url in urls.items()}})
        django.setup()
        for alias in urls:
            call_command("migrate", database=alias, verbosity=0)
        yield urls
        connections.close_all()  # before the PostgreSQL database is dropped


@pytest.fixture(params=["default", pytest.param("postgres", marks=pytest.mark.postgres)],
                ids=["sqlite", "postgres"])
def alias(request: pytest.FixtureRequest, database_urls: dict[str, str]) -> str:
    """The Django database alias a test runs on."""
    if request.param == "postgres":
        server_url("postgres")  # skips, or fails under ECRM_REQUIRE_SERVICES=1
    return request.param


@pytest.fixture
def outside(alias: str, database_urls: dict[str, str]) -> Iterator[ecrm.CRM]:
    """The shop's CRM on a connection of its own: it sees only what was committed."""
    with ecrm.CRM.open(database_urls[alias], tenant=settings.ECRM_TENANT) as crm:
        yield crm


@pytest.fixture
def number() -> str:
    """An order number no other test uses."""
    return f"A-{next(_numbers)}"


class OrderLog:
    """A plugin noting each ``ecrm_order_recorded``, and whether another connection saw
    the shop's order at that moment (it does only after Django's commit)."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url, poolclass=NullPool)
        self.seen: list[tuple[str, bool]] = []

    @ecrm.hookimpl
    def ecrm_order_recorded(self, crm: ecrm.CRM, order: ecrm.Order) -> None:
        query = text("SELECT COUNT(*) FROM shop_order WHERE number = :number")
        with self.engine.connect() as conn:
            committed = conn.execute(query, {"number": order.order_id}).scalar() == 1
        self.seen.append((order.order_id, committed))


@pytest.fixture
def order_log(alias: str, database_urls: dict[str, str]) -> Iterator[OrderLog]:
    """An :class:`OrderLog` loaded by the shop's CRM."""
    log = OrderLog(database_urls[alias])
    with override_settings(ECRM_PLUGINS=[log]):
        yield log
    log.engine.dispose()


def shop() -> Any:
    """The example's modules (importable once Django is set up)."""
    return importlib.import_module("shop.orders"), importlib.import_module("shop.models")


def place(alias: str, number: str, *lines: ecrm.OrderLine, customer_ref: str = "") -> Any:
    orders, _ = shop()
    return orders.place_order(number=number, customer_ref=customer_ref or f"user-{number}",
                              email=f"{number.lower()}@example.jp", placed_at=PLACED_AT,
                              lines=lines or [TEA], using=alias)


def saved(alias: str, number: str) -> list[Any]:
    """The shop's orders numbered ``number``."""
    _, models = shop()
    return list(models.Order.objects.using(alias).filter(number=number))


def test_an_order_lands_in_the_shop_and_in_ecrm(alias: str, outside: ecrm.CRM, number: str,
                                                order_log: OrderLog) -> None:
    order = place(alias, number, TEA, CUP)

    [stored] = saved(alias, number)
    assert (stored.pk, stored.total, stored.placed_at) == (order.pk, Decimal(3800), PLACED_AT)
    assert [(line.sku, line.quantity, line.unit_price) for line in stored.lines.order_by("id")
            ] == [("TEA-01", 2, Decimal(1500)), ("CUP-02", 1, Decimal(800))]
    customer = outside.customers.find(external_id=f"user-{number}")
    assert customer is not None and customer.email == f"{number.lower()}@example.jp"
    [recorded] = outside.orders.for_customer(customer.id)
    assert (recorded.order_id, recorded.total, recorded.placed_at, recorded.lines) == (
        number, Decimal(3800), PLACED_AT, (TEA, CUP))
    assert outside.orders.summary(customer.id).total_spent == Decimal(3800)
    assert [(e.kind, e.id) for e in outside.interactions.timeline(customer.id).events] == [
        ("order_placed", number)]
    assert order_log.seen == [(number, True)]


def test_a_second_order_finds_the_customer_by_the_shops_user_id(
        alias: str, outside: ecrm.CRM, number: str) -> None:
    place(alias, number, customer_ref=f"regular-{number}")
    place(alias, f"{number}-2", CUP, customer_ref=f"regular-{number}")

    customer = outside.customers.find(external_id=f"regular-{number}")
    assert customer is not None
    assert [o.order_id for o in outside.orders.for_customer(customer.id)] == [
        number, f"{number}-2"]


def test_an_error_after_the_ecrm_write_rolls_both_back(alias: str, outside: ecrm.CRM,
                                                       number: str, order_log: OrderLog
                                                       ) -> None:
    from shop.crm import crm_transaction

    _, models = shop()
    with pytest.raises(RuntimeError, match="payment declined"), \
            crm_transaction(using=alias) as crm:
        models.Order.objects.using(alias).create(
            number=number, customer_ref="u", email="u@example.jp", placed_at=PLACED_AT,
            total=3000)
        customer = crm.customers.create(external_id=f"user-{number}")
        crm.orders.record(order_id=number, customer_id=customer.id, placed_at=PLACED_AT,
                          lines=[TEA], channel="web")
        assert crm.orders.get(number).total == Decimal(3000)  # written, not committed
        raise RuntimeError("payment declined")

    assert saved(alias, number) == []
    assert outside.customers.find(external_id=f"user-{number}") is None
    with pytest.raises(ecrm.NotFound):
        outside.orders.get(number)
    assert order_log.seen == []


def test_sqlalchemy_leaves_djangos_transaction_alone(alias: str, outside: ecrm.CRM,
                                                     number: str) -> None:
    """A SQLAlchemy connection opened and closed inside Django's block (closing rolls
    back SQLAlchemy's side of the transaction) neither ends nor undoes Django's."""
    from django.db import transaction
    from shop.crm import engine_for

    from ecrm.backends.sql import SQLBackend

    _, models = shop()
    with transaction.atomic(using=alias):
        models.Order.objects.using(alias).create(
            number=number, customer_ref="u", email="u@example.jp", placed_at=PLACED_AT,
            total=3000)
        with engine_for(alias).connect() as connection:
            crm = ecrm.CRM(SQLBackend(connection), tenant=settings.ECRM_TENANT)
            crm.customers.create(external_id=f"user-{number}")
        assert connections[alias].in_atomic_block

    assert len(saved(alias, number)) == 1
    assert outside.customers.find(external_id=f"user-{number}") is not None


def test_json_reads_back_as_json_on_djangos_connection(alias: str, number: str) -> None:
    from shop.crm import crm_transaction

    attributes = {"newsletter": True, "sizes": ["M", "L"]}
    with crm_transaction(using=alias) as crm:
        customer = crm.customers.create(external_id=f"user-{number}", attributes=attributes)
        crm.interactions.record(customer.id, channel="web", kind="cart_add", sku="TEA-01",
                                payload={"quantity": 2})
        assert crm.customers.get(customer.id).attributes == attributes
        [event] = crm.interactions.timeline(customer.id).events
        assert event.item.payload == {"quantity": 2}


def test_an_ecrm_validation_error_saves_no_order(alias: str, outside: ecrm.CRM,
                                                 number: str, order_log: OrderLog) -> None:
    with pytest.raises(ecrm.ValidationError) as error:
        place(alias, number, TEA, ecrm.OrderLine("", 1, Decimal(100)))

    assert error.value.field.startswith("lines[1]")
    assert saved(alias, number) == []
    assert outside.customers.find(external_id=f"user-{number}") is None  # made, undone
    assert order_log.seen == []


def test_a_retried_order_is_idempotent(alias: str, outside: ecrm.CRM, number: str,
                                       order_log: OrderLog) -> None:
    first = place(alias, number)
    again = place(alias, number)

    assert again.pk == first.pk and len(saved(alias, number)) == 1
    customer = outside.customers.find(external_id=f"user-{number}")
    assert customer is not None
    assert [o.order_id for o in outside.orders.for_customer(customer.id)] == [number]
    assert order_log.seen == [(number, True)]  # the replay wrote, and announced, nothing

    with pytest.raises(ecrm.ConflictError):
        place(alias, number, CUP)  # the same number for another order
    assert outside.orders.get(number).lines == (TEA,)
    assert [line.sku for line in saved(alias, number)[0].lines.all()] == ["TEA-01"]


def test_the_checkout_view(database_urls: dict[str, str], number: str) -> None:
    """The view runs on Django's default database, SQLite here."""
    outside = ecrm.CRM.open(database_urls["default"], tenant=settings.ECRM_TENANT)
    client = Client()
    body = {"number": number, "customer_ref": f"user-{number}", "email": "a@example.jp",
            "placed_at": "2026-04-01T10:30:00+09:00",
            "lines": [{"sku": "TEA-01", "quantity": 2, "unit_price": "1500"}]}
    created = client.post("/orders", json.dumps(body), content_type="application/json")
    assert (created.status_code, created.json()) == (201, {"number": number, "total": "3000"})
    assert outside.orders.get(number).placed_at == PLACED_AT

    naive = {**body, "number": f"{number}-naive", "placed_at": "2026-04-01T10:30:00"}
    refused = client.post("/orders", json.dumps(naive), content_type="application/json")
    assert (refused.status_code, refused.json()["field"]) == (422, "placed_at")
    assert saved("default", f"{number}-naive") == []

    other = {**body, "lines": [{"sku": "CUP-02", "quantity": 1, "unit_price": "800"}]}
    conflict = client.post("/orders", json.dumps(other), content_type="application/json")
    assert conflict.status_code == 409
    assert client.post("/orders", "{", content_type="application/json").status_code == 400


def test_sqlite_needs_django_to_leave_datetimes_alone(database_urls: dict[str, str]
                                                      ) -> None:
    from django.core.exceptions import ImproperlyConfigured
    from shop.crm import engine_for

    database = connections["default"].settings_dict
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(database, "OPTIONS", {})
        with pytest.raises(ImproperlyConfigured, match="detect_types"):
            engine_for.__wrapped__("default")
