"""``tcp://`` against real sockets over loopback (IPv4 and IPv6): the issue's "done
means" (20 connections x 1,000 messages in each framing, a 16 MiB message, bad peers
dropped while the others go on), the wire format a foreign peer sees, and the
consumer's ways of taking connections."""

from __future__ import annotations

import os
import socket
import struct
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

import syncapi
from syncapi import tcp
from syncapi.errors import ClosedError, ConfigError, ConnectError, MessageTooLarge, TimeoutError
from syncapi.headers import EMBED_MAGIC
from syncapi.testing import Collector, wait_until
from tests.helpers import (
    frame,
    is_disconnected,
    new_sockets,
    read_exactly,
    read_frame,
    socket_fds,
    threads_named,
)


def tcp_threads() -> list[str]:
    return threads_named("syncapi-tcp")


@pytest.fixture
def consumer() -> Iterator[tcp.Consumer]:
    with tcp.Consumer("tcp://127.0.0.1") as c:
        yield c


# -- the done-means -----------------------------------------------------------------
FRAMINGS: list[dict[str, Any]] = [
    {"framing": "length"},
    {"framing": "length", "length_prefix": 2},
    {"framing": "delimiter"},
    {"framing": "delimiter", "delimiter": "\r\n"},
]


@pytest.mark.parametrize("options", FRAMINGS, ids=lambda o: "-".join(map(str, o.values())))
def test_twenty_connections_a_thousand_messages_each(options: dict[str, Any]) -> None:
    """20 clients x 1,000 messages each, in one framing: every message intact, each
    client's in the order sent, and the server's answers back on each connection."""
    with tcp.Consumer("tcp://127.0.0.1", **options) as consumer:
        got: dict[Any, list[bytes]] = {}
        lock = threading.Lock()

        def on_message(env: tcp.EnvelopeReader) -> None:
            with lock:
                got.setdefault(env.remote_addr, []).append(env.read())
            if env.payload.endswith(b"-999"):
                env.reply(b"done " + env.payload)

        sub = consumer.subscriber("load")
        sub.start(on_message, workers=4)
        with tcp.Producer(consumer.bound_url, **options) as producer:
            pubs = [producer.publisher("load") for _ in range(20)]

            def client(n: int) -> None:
                pub = pubs[n]
                for i in range(0, 1000, 50):  # some single sends, some batches
                    if i % 100:
                        pub.send(
                            *[
                                f"c{n}-{j:03d}".encode() * 3 + f"-{j}".encode()
                                for j in range(i, i + 50)
                            ]
                        )
                    else:
                        for j in range(i, i + 50):
                            pub.send(f"c{n}-{j:03d}".encode() * 3 + f"-{j}".encode())

            threads = [threading.Thread(target=client, args=(n,)) for n in range(20)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert wait_until(lambda: sum(map(len, got.values())) == 20_000, 60), (
                f"{sum(map(len, got.values()))} of 20000 arrived"
            )
            assert len(got) == 20
            for n, pub in enumerate(pubs):
                assert pub.local_addr is not None
                seen = got[pub.local_addr]
                assert seen == [
                    f"c{n}-{j:03d}".encode() * 3 + f"-{j}".encode() for j in range(1000)
                ]
                answers = pub.subscriber.fetch(1, timeout=10)
                assert [env.read() for env in answers] == [b"done " + seen[-1]]


def test_raw_stream_twenty_connections_bytes_intact() -> None:
    """framing="raw": reads are not messages, but the stream of each of 20 connections
    arrives intact and in order (1,000 writes each)."""
    with tcp.Consumer("tcp://127.0.0.1", framing="raw") as consumer:
        got: dict[Any, list[bytes]] = {}
        lock = threading.Lock()

        def on_chunk(env: tcp.EnvelopeReader) -> None:
            with lock:
                got.setdefault(env.remote_addr, []).append(env.read())

        consumer.subscriber("raw").start(on_chunk, workers=2)
        with tcp.Producer(consumer.bound_url, framing="raw") as producer:
            pubs = [producer.publisher("raw") for _ in range(20)]
            expected = {}
            for n, pub in enumerate(pubs):
                writes = [f"<{n}:{j}>".encode() for j in range(1000)]
                for w in writes:
                    pub.send(w)
                assert pub.local_addr is not None
                expected[pub.local_addr] = b"".join(writes)
            total = sum(map(len, expected.values()))
            assert wait_until(lambda: sum(len(c) for cs in got.values() for c in cs) == total, 30)
            for addr, stream in expected.items():
                assert b"".join(got[addr]) == stream


def test_sixteen_mib_message_both_ways() -> None:
    """A 16 MiB message (the default max_message) arrives whole, client to server and
    back; the default limit is exactly that."""
    big = os.urandom(16 * 1024 * 1024)
    with tcp.Consumer("tcp://127.0.0.1") as consumer:
        sub = consumer.subscriber("big")
        sub.start(lambda env: env.reply(env.read()[::-1]))
        with tcp.Producer(consumer.bound_url) as producer:
            pub = producer.publisher("big")
            pub.send(big)
            back: list[bytes] = []
            pub.subscriber.receive(lambda env: back.append(env.read()), max_messages=1, timeout=60)
            assert back == [big[::-1]]
            with pytest.raises(MessageTooLarge, match="over max_message"):
                pub.send(big + b"!")
            pub.send(b"still open")  # nothing was written: the connection goes on


def test_giant_length_prefix_drops_that_peer_only(consumer: tcp.Consumer) -> None:
    """A peer announcing a 4 GiB frame is disconnected before anything is buffered; a
    good client connected at the same time, and one connecting after, go on."""
    got = Collector()
    consumer.subscriber("x").start(got)
    host, port = consumer.address
    with tcp.Producer(consumer.bound_url) as producer:
        good = producer.publisher("x")
        good.send(b"before")
        with socket.create_connection((host, port)) as bad:
            bad.sendall(b"\xff\xff\xff\xff" + b"x" * 100)
            assert is_disconnected(bad)
        good.send(b"after")
        producer.publisher("x").send(b"new client")
        assert wait_until(lambda: len(got) >= 3, 10), got.payloads
        assert sorted(got.payloads) == [b"after", b"before", b"new client"]
        assert wait_until(lambda: len(consumer.connections) == 2, 5)


def test_garbage_peer_dropped_others_go_on() -> None:
    """Garbage instead of frames: an HTTP request read as a length prefix ("GET " is a
    1.2 GB frame) and a delimiter-less flood over max_message both drop the peer."""
    with tcp.Consumer("tcp://127.0.0.1", max_message=4096) as consumer:
        got = Collector()
        consumer.subscriber("x").start(got)
        with socket.create_connection(consumer.address) as bad:
            bad.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert is_disconnected(bad)
        with tcp.Producer(consumer.bound_url) as producer:
            producer.publisher("x").send(b"fine")
            assert wait_until(lambda: len(got) >= 1, 10)
    with tcp.Consumer("tcp://127.0.0.1", framing="delimiter", max_message=4096) as consumer:
        got = Collector()
        consumer.subscriber("x").start(got)
        with socket.create_connection(consumer.address) as bad:
            bad.sendall(b"line one\n" + os.urandom(8192).replace(b"\n", b"."))
            assert is_disconnected(bad)
        with tcp.Producer(consumer.bound_url, framing="delimiter") as producer:
            producer.publisher("x").send(b"fine")
            assert wait_until(lambda: len(got) >= 2, 10)
        assert got.payloads == [b"line one", b"fine"]


def test_a_peer_vanishing_mid_frame_is_not_a_message(consumer: tcp.Consumer) -> None:
    got = Collector()
    consumer.subscriber("x").start(got)
    with socket.create_connection(consumer.address) as bad:
        bad.sendall(frame(b"whole") + struct.pack(">I", 100) + b"half")
    assert wait_until(lambda: len(got) >= 1, 10)
    assert wait_until(lambda: not consumer.connections, 5)
    time.sleep(0.2)
    assert got.payloads == [b"whole"]


# -- the wire a foreign peer sees ----------------------------------------------------------
def test_wire_format_length_prefix_and_embedded_headers(consumer: tcp.Consumer) -> None:
    """Length framing is a 4-byte big-endian length then the bytes; a message without
    headers is bare, one with headers carries the documented embed block."""
    conn_box: list[tcp.Connection] = []
    with socket.create_connection(consumer.address) as raw:
        conn = consumer.accept(timeout=5)
        conn_box.append(conn)
        conn.send(b"plain")
        conn.send(conn.envelope(b"body", headers={"k": "v"}, content_type="text/plain"))
        assert read_frame(raw) == b"plain"
        embedded = read_frame(raw)
        assert embedded.startswith(EMBED_MAGIC) and embedded.endswith(b"body")
        raw.sendall(frame(b"from raw") + frame(b"") + frame(EMBED_MAGIC + b"broken"))
        got: list[Any] = []
        errors: list[BaseException] = []

        def cb(env: tcp.EnvelopeReader) -> None:
            got.append(env.read())

        conn.receive(cb, max_messages=3, timeout=5, on_error=lambda env, exc: errors.append(exc))
        assert got == [b"from raw", b""]
        assert len(errors) == 1 and "embed" in str(errors[0]).lower()


@pytest.mark.parametrize("prefix", [1, 2, 8])
def test_length_prefix_sizes(prefix: int) -> None:
    fmt = {1: ">B", 2: ">H", 8: ">Q"}[prefix]
    with (
        tcp.Consumer("tcp://127.0.0.1", length_prefix=prefix, max_message=200) as consumer,
        socket.create_connection(consumer.address) as raw,
    ):
        conn = consumer.accept(timeout=5)
        conn.send(b"abc")
        assert read_exactly(raw, prefix + 3) == struct.pack(fmt, 3) + b"abc"
        raw.sendall(struct.pack(fmt, 2) + b"hi")
        got: list[bytes] = []
        conn.receive(lambda env: got.append(env.read()), max_messages=1, timeout=5)
        assert got == [b"hi"]
        with pytest.raises(MessageTooLarge):
            conn.send(b"x" * 201)


def test_delimiter_framing_refuses_a_payload_with_the_delimiter(consumer: tcp.Consumer) -> None:
    with (
        tcp.Consumer("tcp://127.0.0.1", framing="delimiter") as server,
        tcp.Producer(server.bound_url, framing="delimiter") as producer,
    ):
        pub = producer.publisher("x")
        with pytest.raises(ConfigError, match="contains the delimiter"):
            pub.send(b"two\nlines")
        with pytest.raises(ConfigError, match="header policy is 'raise'"):
            pub.send(pub.envelope(b"x", headers={"a": "b"}))
        conn = server.accept(timeout=5)
        pub.send(b"ok")
        got: list[bytes] = []
        conn.receive(lambda env: got.append(env.read()), max_messages=1, timeout=5)
        assert got == [b"ok"]  # nothing of the refused sends went out


def test_headers_round_trip_and_policies(consumer: tcp.Consumer) -> None:
    got: list[tcp.EnvelopeReader] = []
    consumer.subscriber("h").start(got.append)
    with tcp.Producer(consumer.bound_url) as producer:
        pub = producer.publisher("h")
        pub.send(
            pub.envelope(
                b"{}", headers={"trace": "abc", "bin": b"\x00\xff"}, content_type="application/json"
            )
        )
        pub.send(EMBED_MAGIC + b"looks embedded")  # framed, so it cannot be misread
        assert wait_until(lambda: len(got) == 2, 10)
        assert got[0].headers == {"trace": "abc", "bin": b"\x00\xff"}
        assert got[0].content_type == "application/json" and got[0].read() == b"{}"
        assert got[1].read() == EMBED_MAGIC + b"looks embedded" and not got[1].headers
    with tcp.Producer(consumer.bound_url, headers="warn") as producer:
        pub = producer.publisher("h")
        with pytest.warns(RuntimeWarning, match="dropped"):
            pub.send(pub.envelope(b"plain", headers={"a": "b"}))
        assert wait_until(lambda: len(got) == 3, 10)
        assert got[2].read() == b"plain" and not got[2].headers


def test_ipv6_loopback() -> None:
    with tcp.Consumer("tcp://[::1]") as consumer:
        assert consumer.bound_url.startswith("tcp://[::1]:")
        echo = consumer.subscriber("v6")
        echo.start(lambda env: env.reply(env.read() + b" back"))
        with tcp.Producer(consumer.bound_url) as producer:
            pub = producer.publisher("v6")
            pub.send(pub.envelope(b"hi", headers={"h": "1"}))
            got: list[bytes] = []
            pub.subscriber.receive(lambda env: got.append(env.read()), max_messages=1, timeout=5)
            assert got == [b"hi back"]
            assert pub.remote_addr[0] == "::1"


# -- taking connections ------------------------------------------------------------------------
def test_accept_on_connect_and_backlog(consumer: tcp.Consumer) -> None:
    """A client that connects before anything takes connections waits (unread) for the
    first taker; accept() returns connections in order; on_connect gets the rest."""
    with tcp.Producer(consumer.bound_url) as producer:
        early = producer.publisher("a")
        early.send(b"sent before accept")
        conn = consumer.accept(timeout=5)
        got: list[bytes] = []
        conn.receive(lambda env: got.append(env.read()), max_messages=1, timeout=5)
        assert got == [b"sent before accept"]
        assert conn.remote_addr == early.local_addr
        with pytest.raises(TimeoutError):
            consumer.accept(timeout=0.2)

        seen: list[bytes] = []

        def handler(c: tcp.Connection) -> None:
            c.receive(
                lambda env: (seen.append(env.read()), c.send(b"ack")), max_messages=1, timeout=5
            )

        consumer.on_connect(handler)
        with pytest.raises(ConfigError, match="handler already"):
            consumer.on_connect(handler)
        late = producer.publisher("b")
        late.send(b"to the handler")
        answers: list[bytes] = []
        late.subscriber.receive(lambda env: answers.append(env.read()), max_messages=1, timeout=5)
        assert answers == [b"ack"] and seen == [b"to the handler"]
        # the handler returned: the server closed the connection, the client's loop ends quietly
        assert late.subscriber.receive(lambda env: None, timeout=5) == 0
        assert wait_until(lambda: not late.connected, 5)


def test_one_subscriber_per_consumer(consumer: tcp.Consumer) -> None:
    sub = consumer.subscriber("one")
    with pytest.raises(ConfigError, match="one subscriber"):
        consumer.subscriber("two")
    sub.close()
    consumer.subscriber("two").close()  # once the first is closed, a new one may come


def test_max_connections_and_accept_backlog() -> None:
    with tcp.Consumer("tcp://127.0.0.1", max_connections=2, accept_backlog=1) as consumer:
        a = socket.create_connection(consumer.address)
        b = socket.create_connection(consumer.address)  # over the backlog of 1: dropped
        assert is_disconnected(b)
        consumer.accept(timeout=5)  # takes a
        c = socket.create_connection(consumer.address)  # waits in the backlog: 2 open
        d = socket.create_connection(consumer.address)  # over max_connections: dropped
        assert is_disconnected(d)
        assert not is_disconnected(c, timeout=0.3) and not is_disconnected(a, timeout=0.1)
        for s in (a, b, c, d):
            s.close()


def test_connection_close_is_graceful_nothing_lost() -> None:
    """The server sends 1,000 messages and closes at once: the client reads them all,
    then its loop ends quietly."""
    with tcp.Consumer("tcp://127.0.0.1") as consumer, tcp.Producer(consumer.bound_url) as producer:
        pub = producer.publisher("x")
        conn = consumer.accept(timeout=5)
        for i in range(1000):
            conn.send(f"m{i}".encode())
        conn.close()
        got: list[bytes] = []
        assert pub.subscriber.receive(lambda env: got.append(env.read()), timeout=10) == 1000
        assert got == [f"m{i}".encode() for i in range(1000)]
        assert conn.end is not None and conn.end.normal
        with pytest.raises(tcp.ConnectionClosedError) as info:
            pub.send(b"late")
        assert info.value.normal and info.value.failures


def test_reset_ends_the_loop_with_an_error(consumer: tcp.Consumer) -> None:
    raw = socket.create_connection(consumer.address)
    conn = consumer.accept(timeout=5)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    raw.close()  # RST
    with pytest.raises(tcp.ConnectionClosedError, match="reset"):
        conn.receive(lambda env: None, timeout=5)


# -- lifecycle and faults -----------------------------------------------------------------
def test_nothing_left_behind_either_side_closing_first() -> None:
    before_fds, before_threads = socket_fds(), tcp_threads()
    for server_first in (True, False):
        consumer = tcp.Consumer("tcp://127.0.0.1")
        sub = consumer.subscriber("x")
        got = Collector(expected=30)
        sub.start(got, workers=2)
        producer = tcp.Producer(consumer.bound_url)
        pubs = [producer.publisher("x") for _ in range(3)]
        for i, pub in enumerate(pubs):
            pub.send(*[f"{i}-{j}".encode() for j in range(10)])
        assert got.wait(10)
        if server_first:
            consumer.close()
            for pub in pubs:
                assert pub.subscriber.receive(lambda env: None, timeout=5) == 0  # ends quietly
            producer.close()
        else:
            producer.close()
            assert wait_until(lambda c=consumer: not c.connections, 5)
            consumer.close()
    assert wait_until(lambda: tcp_threads() == before_threads, 5), tcp_threads()
    assert wait_until(lambda: not new_sockets(before_fds), 5), new_sockets(before_fds)


def test_close_unblocks_accept_and_closed_objects_refuse(consumer: tcp.Consumer) -> None:
    errors: list[BaseException] = []

    def wait() -> None:
        try:
            consumer.accept(timeout=30)
        except BaseException as exc:
            errors.append(exc)

    t = threading.Thread(target=wait)
    t.start()
    time.sleep(0.2)
    started = time.monotonic()
    consumer.close()
    t.join(5)
    assert time.monotonic() - started < 5
    assert errors and isinstance(errors[0], ClosedError)
    with pytest.raises(ClosedError):
        consumer.subscriber("x")


def test_connect_errors_are_clear() -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there
    with (
        tcp.Producer(f"tcp://127.0.0.1:{port}", connect_timeout=2) as producer,
        pytest.raises(ConnectError, match=r"cannot connect to tcp://127\.0\.0\.1"),
    ):
        producer.publisher("x")
    with pytest.raises(ConfigError, match="one host and its port"):
        tcp.Producer("tcp://127.0.0.1")
    with pytest.raises(ConfigError, match="no path"):
        tcp.Producer("tcp://127.0.0.1:9/orders")
    with (
        tcp.Consumer("tcp://127.0.0.1") as taken,
        pytest.raises(ConnectError, match="cannot listen"),
    ):
        tcp.Consumer(f"tcp://127.0.0.1:{taken.address[1]}", reuse_address=False)
    for bad in (
        {"framing": "lines"},
        {"length_prefix": 3},
        {"delimiter": ""},
        {"max_message": 0},
        {"framing": "delimiter", "headers": "embed"},
        {"length_prefix": 1, "max_message": 256},
    ):
        with pytest.raises(ConfigError):
            tcp.Consumer("tcp://127.0.0.1", **bad)


def test_send_timeout_on_a_peer_that_reads_nothing() -> None:
    """A server that never reads: send(timeout=) raises TimeoutError within about that
    time, and the connection is dropped (a frame may be half written)."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    with listener, tcp.Producer(f"tcp://127.0.0.1:{port}") as producer:
        pub = producer.publisher("x")
        peer, _ = listener.accept()  # accepted, never read
        peer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        chunk = b"x" * (1024 * 1024)
        started = time.monotonic()
        with pytest.raises(TimeoutError, match="read nothing"):
            for _ in range(200):
                pub.send(chunk, timeout=0.5)
        assert time.monotonic() - started < 10
        assert not pub.connected
        with pytest.raises(tcp.ConnectionClosedError):
            pub.send(b"after")
        peer.close()


@pytest.mark.parametrize(
    ("options", "bound"),
    [
        ({"max_pending": 10}, lambda inbox: inbox._count <= 10 + 4),
        (
            {"max_pending": 100_000, "max_pending_bytes": 1024 * 1024},
            lambda inbox: inbox._bytes <= 1024 * 1024 + 256 * 1024,
        ),
    ],
    ids=["messages", "bytes"],
)
def test_backpressure_bounded_by_max_pending(options: dict[str, Any], bound: Any) -> None:
    """A subscriber that does not keep up stops the reading: at most max_pending
    messages (or max_pending_bytes, give or take one read) wait in memory, the sender
    is slowed by TCP flow control (here until its send times out)."""
    with tcp.Consumer("tcp://127.0.0.1", **options) as consumer:
        sub = consumer.subscriber("slow")
        with tcp.Producer(consumer.bound_url) as producer:
            pub = producer.publisher("slow")
            payload = b"x" * 65536
            sent = 0
            with pytest.raises(TimeoutError):
                for _ in range(100_000):
                    pub.send(payload + sent.to_bytes(4, "big"), timeout=0.5)
                    sent += 1
            assert bound(sub._inbox), (sub._inbox._count, sub._inbox._bytes)
            assert sent > 10


def test_reconnect_after_the_server_restarts() -> None:
    first = tcp.Consumer("tcp://127.0.0.1")
    port = first.address[1]
    got = Collector()
    first.subscriber("r").start(got)
    with tcp.Producer(
        first.bound_url, reconnect=True, reconnect_delay=0.05, reconnect_max_delay=0.2
    ) as producer:
        pub = producer.publisher("r")
        pub.send(b"one")
        assert wait_until(lambda: len(got) >= 1, 5)
        first.close()
        assert wait_until(lambda: not pub.connected, 5)
        second = tcp.Consumer(f"tcp://127.0.0.1:{port}")
        try:
            got2 = Collector()
            second.subscriber("r").start(got2)
            pub.send(b"two", timeout=10)  # waits for the reconnect
            assert wait_until(lambda: len(got2) >= 1, 10)
            assert got2.payloads == [b"two"] and pub.reconnects >= 1
        finally:
            second.close()


def test_reconnect_gives_up_after_attempts() -> None:
    consumer = tcp.Consumer("tcp://127.0.0.1")
    with tcp.Producer(
        consumer.bound_url,
        reconnect=True,
        reconnect_delay=0.05,
        reconnect_max_delay=0.1,
        reconnect_attempts=2,
    ) as producer:
        pub = producer.publisher("r")
        consumer.close()
        with pytest.raises(tcp.ConnectionClosedError, match="gave up"):
            pub.subscriber.receive(lambda env: None, timeout=10)
        with pytest.raises(tcp.ConnectionClosedError, match="gave up"):
            pub.send(b"x", timeout=5)


def test_registry_and_url_options() -> None:
    with syncapi.consumer(
        "tcp://127.0.0.1?framing=delimiter&delimiter=%0D%0A&max_message=64"
    ) as consumer:
        assert isinstance(consumer, tcp.Consumer)
        assert consumer.options.delimiter == "\r\n" and consumer.options.headers == "raise"
        with syncapi.producer(
            consumer.bound_url + "?framing=delimiter&delimiter=%0D%0A"
        ) as producer:
            producer.publisher("x").send(b"line")
            conn = consumer.accept(timeout=5)
            got: list[bytes] = []
            conn.receive(lambda env: got.append(env.read()), max_messages=1, timeout=5)
            assert got == [b"line"]


def test_make_readers_sets_every_slot_as_the_constructor_does() -> None:
    """The receive path's fast reader factory and ``EnvelopeReader(...)`` agree on every
    slot (a slot added to the class, or to its bases, must be added to both)."""
    from syncapi.tcp.wire import make_readers

    def slots(cls: type) -> set[str]:
        return {name for klass in cls.__mro__ for name in getattr(klass, "__slots__", ())}

    sub = tcp.Consumer.__new__(tcp.Consumer)  # only an identity here
    conn = object()
    for payload in (b"plain", EMBED_MAGIC + b"x", b""):
        for embedded in (True, False):
            for ordered in (True, False):
                slow = tcp.EnvelopeReader(
                    payload,
                    channel="c",
                    subscriber=sub,  # type: ignore[arg-type]
                    connection=conn,
                    embedded=embedded,
                    item=payload,
                    ordered=ordered,
                )
                (fast,) = make_readers(
                    [payload],
                    channel="c",
                    subscriber=sub,  # type: ignore[arg-type]
                    connection=conn,
                    embedded=embedded,
                    ordered=ordered,
                )
                for name in slots(tcp.EnvelopeReader):
                    assert getattr(fast, name) == getattr(slow, name), name
