"""A FastAPI service over ecrm: a customer's timeline and recommendations, and orders.

``create_app(crm)`` serves a CRM you built; ``create_app(url)`` opens one (and closes it
at shutdown); ``create_app()`` opens ``$ECRM_URL`` (default ``sqlite:///crm.db``) for
the tenant ``$ECRM_TENANT`` (default ``default``), which is what
``uvicorn --factory crm_service:create_app`` runs.

JSON answers carry times in ISO 8601 and money as strings (``"1500"``), so no amount
passes through a float. ecrm's errors become HTTP statuses: ``NotFound`` 404,
``ValidationError`` 422 with the field, ``ConflictError`` 409, ``TransientError`` 503.
"""

from __future__ import annotations

import enum
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

import attrs
from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

import ecrm

#: ecrm's errors as HTTP statuses, most specific first.
STATUSES: list[tuple[type[ecrm.ECRMError], int]] = [
    (ecrm.NotFound, 404), (ecrm.ValidationError, 422), (ecrm.ConflictError, 409),
    (ecrm.TransientError, 503)]


def create_app(crm: ecrm.CRM | str | None = None) -> FastAPI:
    """The service, on ``crm`` (a CRM, or a URL for :meth:`ecrm.CRM.open`)."""
    if crm is None:
        crm = os.environ.get("ECRM_URL", "sqlite:///crm.db")
    opened = isinstance(crm, str)
    served = (ecrm.CRM.open(crm, tenant=os.environ.get("ECRM_TENANT", "default"))
              if isinstance(crm, str) else crm)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        if opened:
            served.close()

    app = FastAPI(title="ecrm example service", lifespan=lifespan)
    app.state.crm = served
    for error, status in STATUSES:
        app.add_exception_handler(error, _responder(status))
    _routes(app)
    return app


def get_crm(request: Request) -> ecrm.CRM:
    """The CRM the app serves (a dependency: override it in tests if you like)."""
    return request.app.state.crm


CRM = Annotated[ecrm.CRM, Depends(get_crm)]


def _responder(status: int) -> Any:
    def respond(request: Request, error: Exception) -> JSONResponse:
        body: dict[str, Any] = {"error": str(error)}
        if isinstance(error, ecrm.ValidationError):
            body = {"field": error.field, "error": error.message}
        return JSONResponse(body, status_code=status)

    return respond


def as_json(value: Any) -> Any:
    """An ecrm object (attrs classes, nested) as JSON data: times in ISO 8601, money and
    other decimals as strings, enums as their values."""
    return attrs.asdict(value, value_serializer=lambda _instance, _field, v: _plain(v))


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    return value


class LineIn(BaseModel):
    """An order line in a request; the price is a string or a number, read as Decimal."""

    sku: str
    quantity: int
    unit_price: Decimal
    category: str | None = None


class OrderIn(BaseModel):
    """An order to record for a customer."""

    order_id: str
    placed_at: datetime
    channel: str = "web"
    currency: str | None = None
    lines: list[LineIn]


def _routes(app: FastAPI) -> None:
    @app.get("/customers/{customer_id}/timeline")
    def timeline(customer_id: str, crm: CRM, limit: int = 50, after: str | None = None,
                 channels: Annotated[list[str] | None, Query()] = None,
                 kinds: Annotated[list[str] | None, Query()] = None,
                 sources: Annotated[list[str] | None, Query()] = None) -> dict[str, Any]:
        """One page of the customer's history, newest first; pass ``next_cursor`` as
        ``after`` for the next page (it is null on the last)."""
        page = crm.interactions.timeline(customer_id, limit=limit, after=after,
                                         channels=channels, kinds=kinds, sources=sources)
        return {"events": [{"at": event.at.isoformat(), "source": event.source,
                            "id": event.id, "kind": event.kind, "channel": event.channel,
                            "item": as_json(event.item)} for event in page.events],
                "next_cursor": page.next_cursor}

    @app.get("/customers/{customer_id}/recommendations")
    def recommendations(customer_id: str, crm: CRM, limit: int = 10,
                        cart: Annotated[list[str] | None, Query()] = None
                        ) -> dict[str, Any]:
        """What to suggest to the customer, best first, each item with its reasons.
        With ``cart`` (SKUs in the customer's cart now), the items that go with the
        cart instead of with the customer's history."""
        if cart:
            crm.customers.get(customer_id)  # 404 for an unknown customer all the same
            found = crm.recommendations.for_items(cart, limit=limit)
        else:
            found = crm.recommendations.for_customer(customer_id, limit=limit)
        return {"items": [{**as_json(item), "why": item.why} for item in found.items],
                "notes": list(found.notes)}

    @app.post("/customers/{customer_id}/orders", status_code=201)
    def record_order(customer_id: str, body: OrderIn, crm: CRM) -> dict[str, Any]:
        """Record an order (idempotent by ``order_id``: the same order again answers
        the stored one; another order under the same id is a 409)."""
        order = crm.orders.record(
            order_id=body.order_id, customer_id=customer_id, placed_at=body.placed_at,
            channel=body.channel, currency=body.currency,
            lines=[ecrm.OrderLine(line.sku, line.quantity, line.unit_price, line.category)
                   for line in body.lines])
        return as_json(order)
