"""``ip://`` end to end on real raw sockets over loopback, IPv4 and IPv6, on protocol 253
(reserved for experiments, RFC 3692). Needs root or CAP_NET_RAW, as raw IP itself does:
without it these tests fail (with the ConfigError saying so), they do not skip.

Loopback has many IPv4 addresses (all of 127.0.0.0/8), so tests give each end its own
(``127.0.0.2``, ``127.0.0.3``...): every raw socket of a protocol sees every packet sent
to its address, and distinct addresses keep the tests apart. IPv6 has only ``::1``.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from syncapi import ip
from syncapi.embedded import EmbeddedReader
from syncapi.errors import ClosedError, ConfigError, DecodeError, MessageTooLarge
from syncapi.headers import EMBED_MAGIC
from syncapi.ip.wire import ipv4_header_length
from syncapi.testing import Collector, wait_until
from tests.helpers import new_sockets, socket_fds, threads_named

ROOT = Path(__file__).resolve().parent.parent
PROTO = 253


def loopback() -> str:
    """A loopback address of its own for one end of a test."""
    return f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}"


def ip_threads() -> list[str]:
    return threads_named("syncapi-ip")


def waiting(fd: int, family: int) -> int:
    """Packets waiting in a raw socket's receive buffer, counted by reading them (on a
    duplicate of the descriptor) until none is left."""
    count = 0
    with socket.fromfd(fd, family, socket.SOCK_RAW, PROTO) as dup:
        try:
            while True:
                dup.recv(65_536, socket.MSG_DONTWAIT)
                count += 1
        except BlockingIOError:
            return count


@pytest.fixture(params=["ipv4", "ipv6"])
def host(request: pytest.FixtureRequest) -> str:
    return loopback() if request.param == "ipv4" else "::1"


def url_of(host: str, **query: object) -> str:
    shown = f"[{host}]" if ":" in host else host
    extra = "".join(f"&{k}={v}" for k, v in query.items())
    return f"ip://{shown}?protocol={PROTO}{extra}"


@pytest.fixture
def consumer(host: str) -> Iterator[ip.Consumer]:
    consumer = ip.Consumer(url_of(host))
    yield consumer
    consumer.close()


# -- round trips with the header's fields ----------------------------------------------------
def test_round_trip_with_the_header_fields(consumer: ip.Consumer, host: str) -> None:
    got: list[ip.EnvelopeReader] = []
    consumer.subscriber("probe").start(got.append)
    ipv6 = ":" in host
    source = "::1" if ipv6 else loopback()
    with ip.Producer(consumer.bound_url, ttl=17, source=source) as producer:
        pub = producer.publisher("probe")
        pub.send(pub.envelope(b"payload \x00\xff", headers={"h": "v"}, content_type="text/x"))
    assert wait_until(lambda: len(got) == 1, 5)
    env = got[0]
    assert env.payload == b"payload \x00\xff"
    assert env.headers == {"h": "v"} and env.content_type == "text/x"
    assert env.source == source
    assert env.destination == host
    assert env.ttl == 17
    assert env.protocol == PROTO
    assert env.channel == "probe"
    if ipv6:
        assert env.remote_addr[:2] == ("::1", 0) and env.version == 6 and env.header is None
    else:
        assert env.remote_addr == (source, 0) and env.version == 4
        header = env.header
        assert header is not None and len(header) == 20 and header[9] == PROTO
        assert socket.inet_ntoa(header[12:16]) == source


def test_a_packet_with_ip_options_is_cut_at_its_header_length() -> None:
    """A real IPv4 packet whose header is 24 bytes (IP_OPTIONS: three NOPs and an end
    of list) takes the reader's slower path and loses exactly its header."""
    with ip.Consumer(url_of(loopback())) as consumer:
        got: list[ip.EnvelopeReader] = []
        consumer.subscriber("opts").start(got.append)
        with socket.socket(socket.AF_INET, socket.SOCK_RAW, PROTO) as raw:
            raw.setsockopt(socket.IPPROTO_IP, socket.IP_OPTIONS, b"\x01\x01\x01\x00")
            raw.sendto(b"with options", (consumer.address, 0))
        assert wait_until(lambda: len(got) == 1, 5)
        assert got[0].payload == b"with options"
        header = got[0].header
        assert header is not None and len(header) == 24 and header.endswith(b"\x01\x01\x01\x00")
        assert consumer.malformed == 0


# -- the peer filter -------------------------------------------------------------------------
def test_the_peer_filter_keeps_one_senders_packets() -> None:
    here, friend, stranger = loopback(), loopback(), loopback()
    with ip.Consumer(url_of(here, peer=friend)) as consumer:
        assert consumer.peer == friend
        got = Collector()
        consumer.subscriber("peer").start(got)
        with (
            ip.Producer(consumer.bound_url, source=friend) as from_friend,
            ip.Producer(consumer.bound_url, source=stranger) as from_stranger,
        ):
            for i in range(5):
                from_stranger.publisher("peer").send(b"stranger %d" % i)
                from_friend.publisher("peer").send(b"friend %d" % i)
        assert wait_until(lambda: len(got) == 5, 5)
        time.sleep(0.2)
        assert sorted(got.payloads) == [b"friend %d" % i for i in range(5)]


def test_the_peer_filter_of_a_wildcard_consumer() -> None:
    """Bound to 0.0.0.0, the consumer gets the packets to every local address, and with
    ``peer`` only the peer's: it filters in its reader, since connect() would narrow the
    socket to one local address. Protocol 254, so that no other test's packets count."""
    friend, stranger = loopback(), loopback()
    with ip.Consumer("ip://0.0.0.0?protocol=254", peer=friend) as consumer:
        assert consumer.address == "0.0.0.0" and consumer.peer == friend
        got: list[ip.EnvelopeReader] = []
        consumer.subscriber("any").start(got.append)
        for destination in (loopback(), loopback()):
            for source in (stranger, friend):
                with ip.Producer(f"ip://{destination}?protocol=254", source=source) as producer:
                    producer.publisher("any").send(f"{source} to {destination}")
        assert wait_until(lambda: len(got) == 2, 5)
        time.sleep(0.2)
        assert len(got) == 2 and {env.source for env in got} == {friend}
        assert len({env.destination for env in got}) == 2


def test_the_peer_filter_over_ipv6() -> None:
    """Only ``::1`` exists on IPv6 loopback: a consumer filtering on ``::1`` gets the
    packet, one filtering on another address does not."""
    with (
        ip.Consumer(url_of("::1", peer="::1")) as kept,
        ip.Consumer(url_of("::1", peer="2001:db8::1")) as filtered,
        ip.Producer(url_of("::1")) as producer,
    ):
        got_kept, got_filtered = Collector(expected=1), Collector()
        kept.subscriber("k").start(got_kept)
        filtered.subscriber("f").start(got_filtered)
        producer.publisher("p").send(b"six")
        assert got_kept.wait(5)
        time.sleep(0.2)
        assert got_kept.payloads == [b"six"] and got_filtered.payloads == []


# -- the publisher's own copies ----------------------------------------------------------------
@pytest.mark.parametrize("family", ["ipv4", "ipv6"])
def test_a_publisher_keeps_no_copies_of_what_it_sends(family: str) -> None:
    """Every raw socket of the protocol gets a copy of each packet that comes to the
    host, the sender's own included. Measured: a plain raw socket (the control) holds
    the copies of 200 packets sent to this host; the publisher's socket, with its
    drop-all filter, holds nothing."""
    target = "::1" if family == "ipv6" else "127.0.0.1"
    af = socket.AF_INET6 if family == "ipv6" else socket.AF_INET
    with (
        ip.Producer(url_of(target)) as producer,
        socket.socket(af, socket.SOCK_RAW, PROTO) as control,
    ):
        pub = producer.publisher("own")
        assert pub.filtered
        for _ in range(200):
            pub.send(b"x" * 100)
        time.sleep(0.2)
        assert waiting(control.fileno(), af) == 200
        assert waiting(pub.fileno(), af) == 0


# -- errors: capability, protocol, URL ----------------------------------------------------------
NO_RAW = r"""
from syncapi import ip
from syncapi.errors import ConfigError
for make in (lambda: ip.Consumer("ip://127.0.0.1?protocol=253"),
             lambda: ip.Producer("ip://127.0.0.1?protocol=253").publisher("p")):
    try:
        make()
    except ConfigError as exc:
        print("ConfigError:", exc)
"""


def test_without_cap_net_raw_a_clear_config_error() -> None:
    """Run for real without CAP_NET_RAW: a child process whose capability bounding set
    lacks it (``setpriv``), so even root cannot open a raw socket."""
    result = subprocess.run(
        ["setpriv", "--bounding-set=-net_raw", sys.executable, "-c", NO_RAW],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2, result.stdout
    for line in lines:
        assert line.startswith("ConfigError:") and "root or the CAP_NET_RAW capability" in line
        assert "setcap cap_net_raw+ep" in line


@pytest.mark.parametrize(
    ("url", "options", "match"),
    [
        ("ip://127.0.0.1", {}, r"needs the IP protocol number: .*protocol=253.*RFC 3692"),
        ("ip://127.0.0.1?protocol=0", {}, r"'protocol' is 0; give the IP protocol number"),
        ("ip://127.0.0.1?protocol=255", {}, "IPPROTO_RAW"),
        ("ip://127.0.0.1", {"protocol": 300}, "from 1 to 254"),
        ("ip://127.0.0.1?protocol=abc", {}, "protocol"),
        ("ip://127.0.0.1:80?protocol=253", {}, "no ports"),
        ("ip://127.0.0.1/x?protocol=253", {}, "no paths"),
        ("ip://127.0.0.1?protocol=253&ttl=0", {}, "'ttl'"),
        ("ip://127.0.0.1?protocol=253&timeout=0", {}, "'timeout'"),
        ("ip://127.0.0.1?protocol=253&source=::1", {}, "address family"),
    ],
)
def test_bad_urls_and_options(url: str, options: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        ip.Producer(url, **options)


def test_bad_consumer_input() -> None:
    with pytest.raises(ConfigError, match="needs the IP protocol number"):
        ip.Consumer("ip://127.0.0.1")
    with pytest.raises(ConfigError, match="'max_pending'"):
        ip.Consumer("ip://127.0.0.1?protocol=253&max_pending=0")
    with ip.Consumer(url_of(loopback())) as consumer:
        sub = consumer.subscriber("one")
        with pytest.raises(ConfigError, match="one consumer is one raw socket"):
            consumer.subscriber("two")
        sub.close()
        with pytest.raises(ConfigError, match="was closed"):
            consumer.subscriber("three")
        with pytest.raises(ConfigError, match=r"ip\.ChannelBindings"):
            ip.Producer(consumer.bound_url).publisher("x", bindings=object())
    env = ip.EnvelopeWriter(b"x")
    env.set_remote_addr("127.0.0.1")
    assert env.remote_addr == ("127.0.0.1", 0)
    with pytest.raises(ConfigError, match="no ports"):
        env.set_remote_addr(("127.0.0.1", 80))


# -- sizes ------------------------------------------------------------------------------------
def test_the_largest_payload_arrives_and_one_more_byte_is_refused(
    consumer: ip.Consumer, host: str
) -> None:
    limit = ip.MAX_PAYLOAD_IPV6 if ":" in host else ip.MAX_PAYLOAD
    assert limit == (65_535 if ":" in host else 65_515)
    got = Collector(expected=1)
    consumer.subscriber("size").start(got)
    with ip.Producer(consumer.bound_url) as producer:
        pub = producer.publisher("size")
        big = os.urandom(limit)
        pub.send(big)
        with pytest.raises(MessageTooLarge) as caught:
            pub.send(b"small", big + b"!")
        assert len(caught.value.failures) == 2
    assert got.wait(5)
    assert got.payloads == [big]


# -- bad packets and payloads -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("packet", "why"),
    [
        (b"\x45\x00\x00", "shorter than an IPv4 header"),
        (b"\x65" + bytes(19), "IP version 6, not 4"),
        (b"\x44\x00\x00\x14" + bytes(16), "under the minimum of 20"),
        (b"\x4f\x00\x00\x14" + bytes(16), "header length 60 bytes, but the packet has 20"),
        (b"\x45\x00\x00\x40" + bytes(16), "says 64 bytes, 20 arrived"),
    ],
)
def test_malformed_ipv4_headers_are_named(packet: bytes, why: str) -> None:
    with pytest.raises(DecodeError, match=why):
        ipv4_header_length(packet)


def test_malformed_packets_are_counted_logged_and_skipped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A FAKE peer, because the fault cannot be made for real: the kernel checks every
    IPv4 header before a raw socket sees the packet (``ip_rcv`` drops bad ones). So the
    consumer's socket is swapped, before its subscriber starts, for a Unix datagram
    socket on which the test sends crafted "packets"; the reader thread and everything
    after it are the real ones."""
    consumer = ip.Consumer(url_of(loopback()))
    path = f"\0syncapi-test-ip-{os.getpid()}-{random.random()}"
    fake = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    fake.bind(path)
    consumer._gate.sock.close()
    consumer._gate.sock = fake
    sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sender.bind(path + "-sender")

    def packet(payload: bytes, *, total: int | None = None, first: int = 0x45) -> bytes:
        length = 20 + len(payload) if total is None else total
        return (
            bytes([first, 0])
            + length.to_bytes(2, "big")
            + bytes(4)
            + bytes([64, PROTO])
            + bytes(2)
            + socket.inet_aton("127.0.0.9")
            + socket.inet_aton(consumer.address)
            + payload
        )

    got = Collector(expected=2)
    try:
        with caplog.at_level(logging.WARNING, logger="syncapi.ip"):
            consumer.subscriber("bad").start(got)
            sender.sendto(packet(b"one"), path)
            sender.sendto(packet(b"bad", total=99), path)
            sender.sendto(packet(b"bad", first=0x65), path)
            sender.sendto(b"\x45", path)
            sender.sendto(packet(b"two"), path)
            assert got.wait(5), got.payloads
        assert got.payloads == [b"one", b"two"]
        assert consumer.malformed == 3
        warnings = [r for r in caplog.records if "malformed IPv4 packet" in r.message]
        assert len(warnings) == 1, "one WARNING, the rest at DEBUG"
    finally:
        consumer.close()
        sender.close()


def test_a_damaged_embedded_frame_does_not_stop_the_loop(consumer: ip.Consumer) -> None:
    good: list[bytes] = []
    failed: list[BaseException] = []
    consumer.subscriber("garbage").start(
        lambda env: good.append(env.payload),
        on_error=lambda env, exc: failed.append(exc) or "reject",
    )
    family = socket.AF_INET6 if ":" in consumer.address else socket.AF_INET
    with socket.socket(family, socket.SOCK_RAW, PROTO) as raw:
        raw.sendto(EMBED_MAGIC + b"\x01\x00\x00\x00\x05{bad", (consumer.address, 0))
        raw.sendto(os.urandom(300), (consumer.address, 0))
        raw.sendto(b"good", (consumer.address, 0))
    assert wait_until(lambda: b"good" in good, 5)
    assert len(failed) == 1 and isinstance(failed[0], DecodeError)
    assert len(good) == 2


# -- replies -----------------------------------------------------------------------------------
def test_reply_from_the_consumers_socket() -> None:
    """The echo consumer replies to the packet's source from its own socket (so from its
    own address); a second consumer bound to the source address gets the reply."""
    echo_addr, client_addr = loopback(), loopback()
    with (
        ip.Consumer(url_of(echo_addr)) as echo,
        ip.Consumer(url_of(client_addr)) as client,
        ip.Producer(echo.bound_url, source=client_addr) as producer,
    ):
        echo.subscriber("echo").start(lambda env: env.reply(env.payload.upper()))
        replies: list[ip.EnvelopeReader] = []
        client.subscriber("replies").start(replies.append)
        producer.publisher("echo").send(b"ping")
        assert wait_until(lambda: len(replies) == 1, 5)
        assert replies[0].payload == b"PING"
        assert replies[0].source == echo_addr and replies[0].destination == client_addr


# -- lifecycle -----------------------------------------------------------------------------------
def test_close_from_another_thread_unblocks_receive(consumer: ip.Consumer) -> None:
    sub = consumer.subscriber("close")
    timer = threading.Timer(0.3, sub.close)
    timer.start()
    started = time.monotonic()
    assert sub.receive(lambda env: None) == 0
    assert time.monotonic() - started < 1.3
    timer.join()
    with pytest.raises(ClosedError):
        sub.receive(lambda env: None, timeout=0.1)


def test_nothing_leaks_after_close() -> None:
    before_fds, before_threads = socket_fds(), ip_threads()
    for host in (loopback(), "::1"):
        for _ in range(3):
            consumer = ip.Consumer(url_of(host))
            producer = ip.Producer(consumer.bound_url)
            got = Collector(expected=1)
            worker = consumer.subscriber("leak").start(got, workers=2)
            producer.publisher("leak").send(b"x")
            assert got.wait(5)
            producer.close()
            consumer.close()
            assert worker.join(2)
    assert not new_sockets(before_fds), new_sockets(before_fds)
    assert ip_threads() == before_threads


def test_the_readers_fast_init_sets_every_slot() -> None:
    env = ip.EnvelopeReader(b"p", ("::1", 0, 0, 0), "c", None, True, None, None, [], PROTO)
    slots = [
        name
        for cls in type(env).__mro__
        for name in getattr(cls, "__slots__", ())
        if name != "__weakref__"
    ]
    for name in slots:
        getattr(env, name)
    assert isinstance(env, EmbeddedReader)
    assert (env.payload, env.protocol, env.destination, env.ttl) == (b"p", PROTO, None, None)


def test_capabilities_and_registry_object() -> None:
    caps = ip.CAPABILITIES
    assert (caps.ordered, caps.reliable, caps.brokerless, caps.max_payload) == (
        False,
        False,
        True,
        65_515,
    )
    assert ip.PROTOCOL.schemes == ("ip",)
    assert ip.Subscriber.default_on_error == "reject"
