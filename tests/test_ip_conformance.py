"""``ip://`` passes the conformance kit: real raw sockets of protocol 253 (for
experiments, RFC 3692) over IPv4 loopback, both ends in this process (root or
CAP_NET_RAW needed, as for raw IP itself).

Each consumer is bound to a loopback address of its own (``127.x.y.z``): every raw
socket of a protocol sees every packet sent to its address, so distinct addresses keep
the kit's consumers — and a test running next to this one — apart. Raw IP is unreliable
and unordered (``reliable=False``, ``ordered=False``): the kit measures what arrives."""

from __future__ import annotations

import itertools
import os
import time

from syncapi import ip
from syncapi.testing import Collector, ProtocolConformance

_addresses = itertools.count(1)


def fresh_loopback() -> str:
    """A loopback address no other consumer of this run uses."""
    n = next(_addresses) + (os.getpid() % 1000) * 1000
    return f"127.{100 + n // 65_536 % 100}.{n // 256 % 256}.{n % 256 or 1}"


class TestIpConformance(ProtocolConformance):
    """Every kit scenario the raw IP flags allow."""

    capabilities = ip.CAPABILITIES

    def make_consumer(self, group: str | None = None) -> ip.Consumer:
        return ip.Consumer(f"ip://{fresh_loopback()}?protocol=253")

    def make_producer(self, consumer: object) -> ip.Producer:
        assert isinstance(consumer, ip.Consumer)
        return ip.Producer(consumer.bound_url)

    def test_channels_are_isolated(self) -> None:
        """A subscriber receives its own channel's messages only.

        One raw IP consumer is one raw socket with one subscriber (a second raises
        ConfigError), so the two channels are two consumers on two addresses, each with
        its own producer: on raw IP the destination address (and the protocol number)
        is the channel, the channel name a label.
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
