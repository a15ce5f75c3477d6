"""Kafka: publish orders with a key and headers, consume them in a consumer group.

Run it with ``python examples/kafka_orders.py [kafka://HOST:PORT]`` (default
``kafka://127.0.0.1:9092``). It needs ``pip install 'syncapi[kafka]'`` and a broker.

* The topic ``shop.orders`` is declared with 3 partitions by its channel bindings, and
  created when it does not exist.
* 100 orders from 10 customers are sent in one ``send()`` call. The customer is the
  record key, so one customer's orders go to one partition and keep their order.
* A member of the consumer group ``shop.billing`` handles them on 3 worker threads: one
  callback per partition at a time, in offset order. Offsets are committed after the
  callbacks returned (at-least-once), so the handler skips an order it has seen before.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import uuid

from syncapi import kafka

TOPIC = "shop.orders"
GROUP = "shop.billing"
ORDERS = 100
CUSTOMERS = 10


def main() -> None:
    url = sys.argv[1] if len(sys.argv) > 1 else "kafka://127.0.0.1:9092"
    run = uuid.uuid4().hex[:8]  # this run's orders; a topic may hold older ones
    orders = kafka.ChannelBindings(partitions=3)  # created with 3 partitions if missing

    seen: set[str] = set()  # order ids handled: a redelivered order is skipped
    last_n: dict[bytes, int] = {}  # customer key -> the last order number handled
    partitions: set[int] = set()
    out_of_order: list[str] = []
    older = 0
    lock = threading.Lock()
    all_in = threading.Event()

    def on_order(env: kafka.EnvelopeReader) -> None:
        nonlocal older
        order = json.loads(env.payload)
        with lock:
            if env.headers.get_str("run") != run:
                older += 1  # from an earlier run of this example: acknowledged, skipped
                return
            if order["id"] in seen:
                return  # at-least-once: a second delivery does no harm
            seen.add(order["id"])
            assert env.key is not None
            if order["n"] <= last_n.get(env.key, -1):
                out_of_order.append(order["id"])
            last_n[env.key] = order["n"]
            partitions.add(env.partition)
            if len(seen) == ORDERS:
                all_in.set()

    # Subscribe first: a new group starts at the oldest message it may read
    # (auto_offset_reset="earliest"), a known group where it last committed.
    with (
        kafka.Consumer(url, group_id=GROUP, auto_offset_reset="earliest") as consumer,
        kafka.Producer(url) as producer,
    ):
        worker = consumer.subscriber(TOPIC, orders).start(on_order, workers=3)
        publisher = producer.publisher(TOPIC, orders)

        batch = [
            kafka.EnvelopeWriter(
                json.dumps({"id": f"{run}-{n}", "n": n, "total": 10 + n}),
                key=f"customer-{n % CUSTOMERS}",  # same key, same partition: order kept
                headers={"run": run, "trace-id": f"t-{n}"},
                content_type="application/json",
            )
            for n in range(ORDERS)
        ]
        started = time.perf_counter()
        publisher.send(*batch)  # returns once every in-sync replica has every record
        print(f"sent {ORDERS} orders to {TOPIC} in {time.perf_counter() - started:.2f} s")

        arrived = all_in.wait(timeout=60)
        worker.stop()  # running callbacks finish; close() then commits their offsets
    if not arrived:
        raise SystemExit(f"only {len(seen)} of {ORDERS} orders arrived within 60 s")
    in_order = "kept" if not out_of_order else f"broken for {out_of_order}"
    print(
        f"received {len(seen)}/{ORDERS} orders from {len(last_n)} customers "
        f"on {len(partitions)} partitions; per-customer order {in_order}; "
        f"skipped {older} from earlier runs"
    )


if __name__ == "__main__":
    main()
