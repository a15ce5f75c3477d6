"""UDP: a metrics collector that knows each sender and answers it.

Run it with ``python examples/udp_metrics.py [udp://HOST[:PORT]]`` (default
``udp://127.0.0.1``: a free port on this machine). Nothing needs installing.

* The consumer is one UDP socket, bound when it is made. Its subscriber gets every
  datagram with the sender's address (``env.remote_addr``) and answers the sender from
  the same socket with ``env.reply()``.
* Each ``producer.publisher()`` is a UDP socket of its own, with its own port: here one
  per service. ``send()`` returns once the kernel took the datagram; UDP does not confirm
  delivery. The service name travels as a header, embedded in the datagram (UDP has no
  headers of its own).
* ``publisher.subscriber`` receives what comes back to the publisher's socket.
"""

from __future__ import annotations

import sys
import threading
from collections import defaultdict

from syncapi import udp

SERVICES = ("web-1", "web-2", "billing")
PER_SERVICE = 20


def main() -> None:
    url = sys.argv[1] if len(sys.argv) > 1 else "udp://127.0.0.1"
    totals: dict[str, float] = defaultdict(float)  # metric name -> sum of its values
    senders: dict[str, set[tuple[str, int]]] = defaultdict(set)  # service -> addresses
    lock = threading.Lock()
    count = 0
    all_in = threading.Event()

    def on_datagram(env: udp.EnvelopeReader) -> None:
        nonlocal count
        name, _, rest = env.payload.decode().partition(":")  # "requests:1|c"
        value = float(rest.split("|")[0])
        with lock:
            totals[name] += value
            senders[env.headers.get_str("service") or "?"].add(env.remote_addr)
            count += 1
            if count == len(SERVICES) * PER_SERVICE:
                all_in.set()
        env.reply(f"ok {name}")  # back to the sender's own socket

    with udp.Consumer(url) as consumer:
        worker = consumer.subscriber("metrics").start(on_datagram)
        print(f"listening on {consumer.bound_url}")

        with udp.Producer(consumer.bound_url) as producer:
            # a udp publisher has .subscriber, for the replies to what it sent
            publishers = {s: producer.publisher("metrics") for s in SERVICES}
            for service, pub in publishers.items():
                for n in range(PER_SERVICE):
                    metric = "requests:1|c" if n % 2 else f"latency_ms:{n}|ms"
                    pub.send(pub.envelope(metric, headers={"service": service}))
            if not all_in.wait(timeout=10):
                raise SystemExit(f"only {count} datagrams arrived (UDP may drop them)")

            replies = {
                service: pub.subscriber.receive(
                    lambda env: None, max_messages=PER_SERVICE, timeout=10
                )
                for service, pub in publishers.items()
            }
        worker.stop()

    print(
        f"received {count}/{len(SERVICES) * PER_SERVICE} datagrams from "
        f"{sum(len(addresses) for addresses in senders.values())} sender sockets; "
        f"requests={totals['requests']:.0f}, latency_ms sum={totals['latency_ms']:.0f}"
    )
    print(f"replies per service: {replies}")


if __name__ == "__main__":
    main()
