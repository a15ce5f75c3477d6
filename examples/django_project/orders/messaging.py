"""The project's messaging: one producer shared by every request, and the consumer that
``shop/urls.py`` mounts under ``/events/``.

``messaging.consumer`` exists from import on (the URL configuration needs it), but it
holds no socket and no thread. :meth:`Messaging.start` (called by ``OrdersConfig.ready``)
makes the producer and starts the receive loops; :meth:`Messaging.close` stops them.
"""

from __future__ import annotations

import json
import logging
import threading

import syncapi
from syncapi import http

from .store import orders

log = logging.getLogger("orders")


def on_payment(env: http.EnvelopeReader) -> None:
    """A payment provider's webhook, ``POST /events/payments/<order id>``.

    Runs on a receive-loop thread, not on the request's thread: everything about the
    request is on the envelope. Returning answers ``204``; raising answers ``500``.
    """
    order_id = env.params["order_id"]
    payment = json.loads(env.payload)
    if not orders.update(order_id, status="paid", paid=payment["amount"]):
        env.respond(404, f"no order {order_id}", content_type="text/plain")
        return
    log.info("order %s paid", order_id)


class Messaging:
    def __init__(self) -> None:
        self.consumer = http.Consumer()  # a WSGI app, served by Django's server
        self._producer: syncapi.Producer | None = None
        self._publisher: syncapi.Publisher | None = None
        self._workers: list[syncapi.Worker] = []
        self._lock = threading.Lock()

    def start(self, orders_url: str) -> None:
        """Make the producer and its publisher, and start the receive loops (once)."""
        with self._lock:
            if self._producer is not None:
                return
            self._producer = syncapi.producer(orders_url)  # Kafka and AMQP connect here
            self._publisher = self._producer.publisher("orders")
            self._workers.append(
                self.consumer.subscriber("payments/{order_id}").start(on_payment, workers=4)
            )
            log.info("messaging started: order events go to %s", self._producer.url)

    @property
    def order_events(self) -> syncapi.Publisher:
        """The one publisher of order events, shared by every request thread."""
        if self._publisher is None:
            raise syncapi.ClosedError("messaging is not started (is the orders app installed?)")
        return self._publisher

    def close(self) -> None:
        """Stop receiving (running callbacks finish), then flush and close the producer."""
        with self._lock:
            producer, self._producer, self._publisher = self._producer, None, None
        if producer is None:
            return
        self.consumer.close()  # requests that still wait are answered 503
        producer.close()  # waits for what was sent to be accepted
        log.info("messaging closed")


messaging = Messaging()
