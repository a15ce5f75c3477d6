"""``syncapi demo``: real round trips on loopback through every brokerless protocol that
is installed, so that a new user sees them all work in seconds, with no broker.

For each protocol (``memory``, ``http``, ``ws``, ``tcp``, ``udp``) it makes a consumer
and a producer on ``127.0.0.1``, starts a receive loop (``subscriber.start``), sends
``messages`` small messages one ``send`` at a time, and waits for them. Each row tells
how many arrived (UDP may lose some: it says so rather than fail), the rate from the
first send to the last message received, and the median time from ``send`` to the
callback. A protocol whose extra is not installed shows the ``pip install`` that brings
it, and the others go on.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

from .errors import SyncapiError

__all__ = ["PROTOCOLS", "DemoRow", "format_table", "run_demo"]

PROTOCOLS = ("memory", "http", "ws", "tcp", "udp")
"""The brokerless protocols the demo runs, in order."""


@dataclass(frozen=True)
class DemoRow:
    """One protocol's round trips.

    Attributes:
        protocol: the URL scheme.
        sent: messages sent.
        delivered: messages the callback received.
        rate: messages per second, from the first send to the last one received.
        p50_ms: the median time from ``send`` to the callback, in milliseconds.
        error: why the protocol did not run (``None`` when it did).
    """

    protocol: str
    sent: int = 0
    delivered: int = 0
    rate: float = 0.0
    p50_ms: float = 0.0
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether it ran and every message arrived (UDP may lose some and still be ok)."""
        return self.error is None and (
            self.delivered == self.sent or (self.protocol == "udp" and self.delivered > 0)
        )


@contextmanager
def _endpoints(protocol: str) -> Iterator[tuple[Any, Any]]:
    """A consumer and a producer of ``protocol`` on loopback, ready to use."""
    import syncapi

    with ExitStack() as stack:
        if protocol == "memory":
            consumer = stack.enter_context(syncapi.consumer("memory://syncapi-demo"))
            producer = stack.enter_context(syncapi.producer("memory://syncapi-demo"))
        elif protocol in ("http", "ws"):
            served: Any = stack.enter_context(syncapi.consumer(f"{protocol}://127.0.0.1/"))
            consumer = served
            producer = stack.enter_context(syncapi.producer(served.serve().url))
        else:  # tcp, udp: a free port
            bound: Any = stack.enter_context(syncapi.consumer(f"{protocol}://127.0.0.1"))
            consumer = bound
            producer = stack.enter_context(syncapi.producer(bound.bound_url))
        yield consumer, producer


def _round_trips(protocol: str, messages: int, timeout: float) -> DemoRow:
    sent_at: list[float] = [0.0] * messages
    latency: list[float] = []
    lock = threading.Lock()
    done = threading.Event()
    last = [0.0]

    def on_message(env: Any) -> None:
        now = time.perf_counter()
        index = int(env.read())
        with lock:
            latency.append(now - sent_at[index])
            last[0] = now
            if len(latency) == messages:
                done.set()

    with _endpoints(protocol) as (consumer, producer):
        sub = consumer.subscriber("demo")
        worker = sub.start(on_message)
        pub = producer.publisher("demo")
        clock = time.perf_counter
        started = clock()
        for i in range(messages):
            sent_at[i] = clock()
            pub.send(b"%d" % i)
        done.wait(timeout)
        worker.stop(5)
    with lock:
        delivered = len(latency)
        took = (last[0] - started) if delivered else 0.0
        p50 = statistics.median(latency) * 1000 if latency else 0.0
    return DemoRow(
        protocol,
        sent=messages,
        delivered=delivered,
        rate=delivered / took if took > 0 else 0.0,
        p50_ms=p50,
    )


def run_demo(
    protocols: Sequence[str] = PROTOCOLS,
    *,
    messages: int = 1000,
    timeout: float = 10.0,
    progress: Callable[[DemoRow], object] | None = None,
) -> list[DemoRow]:
    """Run ``messages`` round trips through each of ``protocols``; one row each.

    A protocol that cannot run (its extra is missing, a port cannot be bound) gets a row
    with ``error`` set; the others still run. ``progress`` is called with each row as it
    is done.
    """
    rows = []
    for protocol in protocols:
        try:
            row = _round_trips(protocol, messages, timeout)
        except SyncapiError as exc:
            row = DemoRow(protocol, error=str(exc).splitlines()[0])
        rows.append(row)
        if progress is not None:
            progress(row)
    return rows


def format_table(rows: Sequence[DemoRow]) -> str:
    """The rows as the text table ``syncapi demo`` prints."""
    lines = [f"{'protocol':<9} {'delivered':>16} {'msg/s':>10} {'p50 latency':>12}"]
    for row in rows:
        if row.error is not None:
            lines.append(f"{row.protocol:<9} {'not run:':>16} {row.error}")
            continue
        share = 100.0 * row.delivered / row.sent if row.sent else 0.0
        delivered = f"{row.delivered}/{row.sent} {share:.0f}%"
        lines.append(f"{row.protocol:<9} {delivered:>16} {row.rate:>10,.0f} {row.p50_ms:>9.2f} ms")
    return "\n".join(lines)
