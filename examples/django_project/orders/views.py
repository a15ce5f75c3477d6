"""The shop's views. They run on the server's request threads and share one publisher."""

from __future__ import annotations

import json
import logging
import uuid

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

import syncapi

from .messaging import messaging
from .store import orders

log = logging.getLogger("orders")


@csrf_exempt  # a JSON API for other programs; keep CSRF for views that browsers post to
@require_POST
def place_order(request: HttpRequest) -> HttpResponse:
    try:
        order = json.loads(request.body)
    except ValueError:
        order = None
    if not isinstance(order, dict) or not order.get("items"):
        return JsonResponse({"error": "expected a JSON object with items"}, status=400)
    order_id = uuid.uuid4().hex[:12]
    total = sum(item["qty"] * item["price"] for item in order["items"])
    orders.add(order_id, {"items": order["items"], "total": total, "status": "placed"})

    publisher = messaging.order_events  # the one shared publisher
    event = json.dumps({"id": order_id, "items": order["items"], "total": total})
    try:
        publisher.send(
            publisher.envelope(
                event, headers={"order-id": order_id}, content_type="application/json"
            ),
            timeout=10,
        )  # returns once the server accepted it
    except syncapi.SyncapiError as exc:
        log.error("order %s: the event was not sent: %s", order_id, exc)
        orders.update(order_id, status="failed")
        return JsonResponse(
            {"id": order_id, "error": "the order could not be passed on"}, status=503
        )
    return JsonResponse({"id": order_id, "status": "placed", "total": total}, status=201)


@require_GET
def show_order(request: HttpRequest, order_id: str) -> HttpResponse:
    order = orders.get(order_id)
    if order is None:
        return JsonResponse({"error": "no such order"}, status=404)
    return JsonResponse(order)


@require_GET
def health(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")
