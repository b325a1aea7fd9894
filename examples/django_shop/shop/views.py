"""The shop's checkout endpoint: ``POST /orders`` with a JSON order."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

import ecrm
from shop.orders import place_order


@csrf_exempt  # an API for the shop's front end; a real shop authenticates it
@require_POST
def checkout(request: HttpRequest) -> JsonResponse:
    """Place the order in the body: ``{"number", "customer_ref", "email", "placed_at",
    "lines": [{"sku", "quantity", "unit_price"}]}``; 201 with its total, 422 naming the
    field of bad input, 409 for an order number already used for another order."""
    try:
        body = json.loads(request.body)
        order = place_order(
            number=body["number"], customer_ref=body["customer_ref"], email=body["email"],
            placed_at=datetime.fromisoformat(body["placed_at"]),
            lines=[ecrm.OrderLine(line["sku"], line["quantity"], Decimal(line["unit_price"]))
                   for line in body["lines"]])
    except ecrm.ValidationError as error:
        return JsonResponse({"field": error.field, "error": error.message}, status=422)
    except ecrm.ConflictError as error:
        return JsonResponse({"error": str(error)}, status=409)
    except (ValueError, KeyError, TypeError, InvalidOperation) as error:
        return JsonResponse({"error": f"malformed order: {error!r}"}, status=400)
    return JsonResponse({"number": order.number, "total": str(order.total)}, status=201)
