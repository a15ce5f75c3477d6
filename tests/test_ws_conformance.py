"""``ws://`` passes the conformance kit: real websocket-client connections against the
consumer served on a real threaded werkzeug server (both in this process, over loopback).

The kit's channel is a route on the server (:meth:`ws.Consumer.subscriber`: every
connection's messages) and a connection on the client (:meth:`ws.Producer.publisher`).
"""

from __future__ import annotations

import time

from syncapi import ws
from syncapi.testing import Collector, ProtocolConformance, wait_until


class TestWsConformance(ProtocolConformance):
    """Every kit scenario the WebSocket flags allow (brokerless, ordered, not persistent)."""

    capabilities = ws.CAPABILITIES
    timeout = 30.0

    def make_consumer(self, group: str | None = None) -> ws.Consumer:
        consumer = ws.Consumer("ws://127.0.0.1/")
        consumer.serve()
        return consumer

    def make_producer(self, consumer: object) -> ws.Producer:
        assert isinstance(consumer, ws.Consumer)
        return ws.Producer(consumer.servers[0].url)

    def test_parallel_workers(self) -> None:
        """workers=4 runs callbacks in parallel and loses nothing.

        A route keeps each client's messages in order, so one connection's callbacks
        never run at once; the parallelism comes from four connections (clients).
        """
        consumer = self.consumer()
        producer = self.producer(consumer)
        channel = self.channel_name("parallel")
        sub = self.subscribe(consumer, channel)
        collect = Collector(expected=40, delay=0.05)
        worker = self.start(sub, collect, workers=4)
        pubs = [self.open_publisher(producer, channel) for _ in range(4)]
        sent = [f"p{i}".encode() for i in range(40)]
        started = time.monotonic()
        for i, payload in enumerate(sent):
            pubs[i % 4].send(payload)
        self._expect_all(collect, sent, "parallel workers")
        assert len({item.thread for item in collect.items}) > 1, "callbacks ran on one thread"
        assert time.monotonic() - started < 40 * 0.05, "callbacks did not run in parallel"
        assert wait_until(lambda: worker.acked == 40, 2), f"acked {worker.acked} of 40"
