"""``tcp://`` passes the conformance kit: real TCP connections over loopback, consumer
and producer in this process.

The kit's channel is the consumer's subscriber (every connection's messages) on the
server, and a connection on the client (:meth:`tcp.Producer.publisher`).
"""

from __future__ import annotations

import time

from syncapi import tcp
from syncapi.testing import Collector, ProtocolConformance, wait_until


class TestTcpConformance(ProtocolConformance):
    """Every kit scenario the TCP flags allow (brokerless, ordered, not persistent)."""

    capabilities = tcp.CAPABILITIES
    timeout = 30.0

    def make_consumer(self, group: str | None = None) -> tcp.Consumer:
        return tcp.Consumer("tcp://127.0.0.1")

    def make_producer(self, consumer: object) -> tcp.Producer:
        assert isinstance(consumer, tcp.Consumer)
        return tcp.Producer(consumer.bound_url)

    def test_channels_are_isolated(self) -> None:
        """A subscriber receives its own channel's messages only.

        TCP carries no channel name: a channel is a listening port, so the two channels
        are two consumers (the kit's version opens two subscribers on one consumer,
        which a tcp consumer refuses with a ConfigError).
        """
        consumer_a, consumer_b = self.consumer(), self.consumer()
        sub_a = self.subscribe(consumer_a, "iso-a")
        sub_b = self.subscribe(consumer_b, "iso-b")
        got_a, got_b = Collector(expected=20), Collector(expected=20)
        self.start(sub_a, got_a)
        self.start(sub_b, got_b)
        pub_a = self.open_publisher(self.producer(consumer_a), "iso-a")
        pub_b = self.open_publisher(self.producer(consumer_b), "iso-b")
        for i in range(20):
            pub_a.send(f"a{i}".encode())
            pub_b.send(f"b{i}".encode())
        self._expect_all(got_a, [f"a{i}".encode() for i in range(20)], "channel a")
        self._expect_all(got_b, [f"b{i}".encode() for i in range(20)], "channel b")
        time.sleep(0.2)
        assert all(p.startswith(b"a") for p in got_a.payloads)
        assert all(p.startswith(b"b") for p in got_b.payloads)

    def test_parallel_workers(self) -> None:
        """workers=4 runs callbacks in parallel and loses nothing.

        The subscriber keeps each client's messages in order, so one connection's
        callbacks never run at once; the parallelism comes from four connections.
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
