"""Quick start: send and receive through the embedded in-process broker (no server needed).

Run it with ``python examples/quickstart.py``. Twenty threads publish 500 messages each
with headers and a content type; a background worker with four threads receives them.
"""

from __future__ import annotations

import json
import threading
import time

import syncapi

URL = "memory://quickstart"


def main() -> None:
    received: list[dict[str, object]] = []
    lock = threading.Lock()
    all_in = threading.Event()
    total = 20 * 500

    def on_order(env: syncapi.EnvelopeReader) -> None:
        order = json.loads(env.read())
        with lock:
            received.append(order)
            if len(received) == total:
                all_in.set()

    with syncapi.producer(URL) as producer, syncapi.consumer(URL) as consumer:
        orders = consumer.subscriber("orders")
        worker = orders.start(on_order, workers=4)
        publisher = producer.publisher("orders")

        def publish(thread_no: int) -> None:
            for n in range(500):
                body = json.dumps({"thread": thread_no, "n": n}).encode()
                publisher.send(
                    publisher.envelope(
                        body,
                        headers={"trace-id": f"t{thread_no}-{n}"},
                        content_type="application/json",
                    )
                )

        started = time.perf_counter()
        threads = [threading.Thread(target=publish, args=(t,)) for t in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if not all_in.wait(timeout=30):
            raise SystemExit(f"only {len(received)} of {total} messages arrived")
        elapsed = time.perf_counter() - started
        worker.stop()
        print(
            f"{len(received)} messages from 20 threads received by {worker.acked} acks "
            f"in {elapsed:.2f} s ({len(received) / elapsed:,.0f} msg/s), "
            f"failed callbacks: {worker.failed}"
        )


if __name__ == "__main__":
    main()
