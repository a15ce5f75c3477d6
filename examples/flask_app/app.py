"""A Flask shop: a view publishes order events; payment webhooks arrive through a mounted
``http://`` consumer; browsers follow the orders live through a mounted ``ws://`` consumer.

Run it with ``python examples/flask_app/app.py [--host H] [--port P]`` (werkzeug's
threaded server, port 5000 by default, ``0`` for a free one; SIGTERM and Ctrl-C stop it
cleanly), or with ``flask --app examples/flask_app/app.py run``. It needs
``pip install flask 'syncapi[http,ws]'`` plus the extra of the protocol you send orders
with. The WebSocket side needs werkzeug's server (both commands above use it): under
gunicorn or waitress its handshakes are answered ``501``.

* ``SHOP_ORDERS_URL`` (default ``memory://shop``, which keeps the events in this process)
  is where ``POST /orders`` sends each order event, to the channel ``orders``: for
  example ``kafka://broker:9092`` or the ``http://`` base URL of a fulfilment service.
* ``POST /events/payments/<order id>`` is a payment provider's webhook. The path
  ``/events`` is an ``http.Consumer`` mounted in the app: it shares the app's server and
  port, and its callbacks run on receive-loop threads that syncapi owns.
* ``ws://HOST:PORT/live/orders`` is a live order feed. The path ``/live`` is a
  ``ws.Consumer`` mounted in the app (same server and port): every client connected
  there gets a JSON text message ``{"id", "status", "total"}`` whenever an order is
  placed, paid or fails, and may send ``{"get": "<order id>"}`` to be answered the
  current status of that order on its own connection.
* One producer and one publisher are made when the app is made and shared by every
  request thread (they are thread-safe); they are closed, with both consumers, when the
  process ends.
"""

from __future__ import annotations

import argparse
import atexit
import json
import logging
import os
import signal
import threading
import uuid
from collections.abc import Callable
from typing import Any

from flask import Flask, request
from flask.typing import ResponseReturnValue
from werkzeug.serving import make_server

import syncapi
from syncapi import http, ws
from syncapi.http.mount import mount_in_flask


class Orders:
    """The orders of this process, shared by request and receive-loop threads (a real app
    keeps them in a database)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._orders: dict[str, dict[str, Any]] = {}

    def add(self, order_id: str, order: dict[str, Any]) -> None:
        with self._lock:
            self._orders[order_id] = dict(order)  # the caller keeps its own

    def get(self, order_id: str) -> dict[str, Any] | None:
        with self._lock:
            order = self._orders.get(order_id)
            return dict(order) if order is not None else None

    def update(self, order_id: str, **changes: Any) -> dict[str, Any] | None:
        """Change an order; return it as it is now (``None``: no such order)."""
        with self._lock:
            order = self._orders.get(order_id)
            if order is None:
                return None
            order.update(changes)
            return dict(order)


def status_message(order_id: str, order: dict[str, Any]) -> str:
    """What the live feed says about an order: JSON text, which any browser reads."""
    return json.dumps({"id": order_id, "status": order["status"], "total": order["total"]})


class Messaging:
    """What every request shares: one producer with its publisher, the consumer that the
    app serves under ``/events``, and the WebSocket consumer of the live feed (``/live``)."""

    def __init__(self, orders_url: str) -> None:
        self.producer = syncapi.producer(orders_url)  # Kafka and AMQP connect here
        self.order_events = self.producer.publisher("orders")  # thread-safe: share it
        self.consumer = http.Consumer()  # no serve(): the app's server serves it
        # headers="raise": plain WebSocket messages, as browsers expect (no syncapi framing)
        self.live = ws.Consumer(headers="raise")  # served by the app's server too
        self.feed = self.live.subscriber("orders")  # every connection on /live/orders
        self._workers: list[syncapi.Worker] = []
        self._lock = threading.Lock()
        self._closed = False

    def receive(
        self, route: str, callback: Callable[[http.EnvelopeReader], None], workers: int
    ) -> None:
        """Start the receive loop of a route; its requests wait for ``callback``."""
        self._workers.append(self.consumer.subscriber(route).start(callback, workers=workers))

    def broadcast(self, message: str) -> None:
        """Send ``message`` to every client of the live feed. Any thread may call it (views,
        receive loops): ``Connection.send`` is thread-safe and writes each message whole."""
        for conn in self.feed.connections:  # the open ones now; clients come and go meanwhile
            try:
                conn.send(message, timeout=5)  # at most 5 s: a client that reads nothing is dropped
            except syncapi.SyncapiError as exc:  # it left meanwhile, or was dropped: skip it
                logging.getLogger("shop.live").info("%r missed an update: %s", conn, exc)

    def close(self) -> None:
        """Stop receiving (running callbacks finish), then flush and close the producer.
        Idempotent: both an explicit call and ``atexit`` may run it."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self.live.close()  # closes the feed's connections (1001, going away)
        self.consumer.close()  # requests that still wait are answered 503
        self.producer.close()  # waits for what was sent to be accepted


def create_app(orders_url: str | None = None) -> Flask:
    app = Flask(__name__)
    orders = Orders()
    messaging = Messaging(orders_url or os.environ.get("SHOP_ORDERS_URL", "memory://shop"))
    app.extensions["shop.messaging"] = messaging
    atexit.register(messaging.close)  # runs at a normal exit: Ctrl-C, sys.exit, gunicorn

    def on_payment(env: http.EnvelopeReader) -> None:
        # A receive-loop thread, not a request thread: Flask's `request` and `g` are not
        # here; everything about the request is on the envelope.
        order_id = env.params["order_id"]
        payment = json.loads(env.payload)
        order = orders.update(order_id, status="paid", paid=payment["amount"])
        if order is None:
            env.respond(404, f"no order {order_id}", content_type="text/plain")
            return
        app.logger.info("order %s paid", order_id)
        messaging.broadcast(status_message(order_id, order))
        # returning answers 204 No Content; an exception would answer 500

    messaging.receive("payments/{order_id}", on_payment, workers=4)
    mount_in_flask(app, "/events", messaging.consumer)  # POST /events/payments/<id>

    def on_live_message(env: ws.EnvelopeReader) -> None:
        # A receive-loop thread too: what a client of the feed sends, {"get": "<order id>"}.
        # One loop serves every connection; env.reply() answers on the sender's own one.
        try:
            asked = json.loads(env.payload)
        except ValueError:
            asked = None
        order_id = asked.get("get") if isinstance(asked, dict) else None
        if not isinstance(order_id, str):
            env.reply(json.dumps({"error": 'expected {"get": "<order id>"}'}))
            return
        order = orders.get(order_id)
        if order is None:
            env.reply(json.dumps({"id": order_id, "error": "no such order"}))
            return
        env.reply(status_message(order_id, order))

    # two clients' messages at once, each client's in order; closing messaging.live stops it
    messaging.feed.start(on_live_message, workers=2)
    ws.mount_in_flask(app, "/live", messaging.live)  # ws://HOST:PORT/live/orders

    @app.post("/orders")
    def place_order() -> ResponseReturnValue:
        order = request.get_json(silent=True)
        if not isinstance(order, dict) or not order.get("items"):
            return {"error": "expected a JSON object with items"}, 400
        order_id = uuid.uuid4().hex[:12]
        total = sum(item["qty"] * item["price"] for item in order["items"])
        placed = {"items": order["items"], "total": total, "status": "placed"}
        orders.add(order_id, placed)

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
            app.logger.error("order %s: the event was not sent: %s", order_id, exc)
            orders.update(order_id, status="failed")
            messaging.broadcast(status_message(order_id, {**placed, "status": "failed"}))
            return {"id": order_id, "error": "the order could not be passed on"}, 503
        messaging.broadcast(status_message(order_id, placed))  # before the client hears 201
        return {"id": order_id, "status": "placed", "total": total}, 201

    @app.get("/orders/<order_id>")
    def show_order(order_id: str) -> ResponseReturnValue:
        order = orders.get(order_id)
        return (order, 200) if order is not None else ({"error": "no such order"}, 404)

    @app.get("/health")
    def health() -> ResponseReturnValue:
        return "ok"

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the shop on werkzeug's threaded server.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000, help="0: a free port")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(threadName)s %(name)s: %(message)s")
    for chatty in ("werkzeug", "pika", "kafka"):  # no access log, no connection steps
        logging.getLogger(chatty).setLevel(logging.WARNING)

    app = create_app()
    server = make_server(args.host, args.port, app, threaded=True)  # a thread per request
    # SIGTERM (docker stop, systemd) ends serve_forever() as Ctrl-C does.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    print(f"listening on http://{args.host}:{server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()  # no new requests
        app.extensions["shop.messaging"].close()
    print("stopped: the consumers and the producer are closed", flush=True)


if __name__ == "__main__":
    main()
