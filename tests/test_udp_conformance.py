"""``udp://`` passes the conformance kit: real UDP sockets over loopback, both ends in this
process. UDP is unreliable and unordered (``reliable=False``, ``ordered=False``): the
kit measures what arrives instead of demanding all of it, and skips the ordering,
redelivery, persistence and group scenarios, naming the flag."""

from __future__ import annotations

import time

from syncapi import udp
from syncapi.testing import Collector, ProtocolConformance


class TestUdpConformance(ProtocolConformance):
    """Every kit scenario the UDP flags allow."""

    capabilities = udp.CAPABILITIES

    def make_consumer(self, group: str | None = None) -> udp.Consumer:
        return udp.Consumer("udp://127.0.0.1")

    def make_producer(self, consumer: object) -> udp.Producer:
        assert isinstance(consumer, udp.Consumer)
        return udp.Producer(consumer.bound_url)

    def test_channels_are_isolated(self) -> None:
        """A subscriber receives its own channel's messages only.

        One UDP consumer is one bound socket with one subscriber (a second raises
        ConfigError), so the two channels are two consumers (two ports), each with its
        own producer: a channel name on UDP is a label, the port is the channel.
        """
        consumer_a, consumer_b = self.consumer(), self.consumer()
        producer_a, producer_b = self.producer(consumer_a), self.producer(consumer_b)
        a, b = self.channel_name("iso-a"), self.channel_name("iso-b")
        got_a, got_b = Collector(expected=20), Collector(expected=20)
        self.start(self.subscribe(consumer_a, a), got_a)
        self.start(self.subscribe(consumer_b, b), got_b)
        pub_a, pub_b = self.open_publisher(producer_a, a), self.open_publisher(producer_b, b)
        for i in range(20):
            pub_a.send(f"a{i}".encode())
            pub_b.send(f"b{i}".encode())
        self._expect_all(got_a, [f"a{i}".encode() for i in range(20)], "channel a")
        self._expect_all(got_b, [f"b{i}".encode() for i in range(20)], "channel b")
        time.sleep(0.2)
        assert all(p.startswith(b"a") for p in got_a.payloads)
        assert all(p.startswith(b"b") for p in got_b.payloads)
