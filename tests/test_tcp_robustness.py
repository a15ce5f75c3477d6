"""Robustness of ``tcp://``: each test is a bug a review found (now fixed), against real
sockets on loopback.

Where a race cannot be hit on demand, the test widens its window by wrapping an
internal function with a wait (named "timing injected" in the test's docstring); the
fault itself (a reset, a close, a dial) is still real.
"""

from __future__ import annotations

import math
import socket
import struct
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from syncapi import tcp
from syncapi.errors import ConnectError, SyncapiError, TimeoutError
from syncapi.tcp import client as tcp_client
from syncapi.tcp.connection import Connection
from syncapi.tcp.stream import configure as stream_configure
from syncapi.testing import Collector, wait_until
from tests.helpers import frame, is_disconnected, read_frame


# -- helpers ---------------------------------------------------------------------------------
def tcp_threads() -> set[str]:
    return {t.name for t in threading.enumerate() if t.name.startswith("syncapi-tcp")}


def reset(sock: socket.socket) -> None:
    """Close ``sock`` with a RST (SO_LINGER 0)."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def raw_client(address: tuple[str, int]) -> socket.socket:
    sock = socket.create_connection(address)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A plain listening socket: a server peer we control byte by byte."""
    sock = socket.create_server(("127.0.0.1", 0))
    sock.settimeout(10)
    with sock:
        yield sock


# -- framing ---------------------------------------------------------------------------------
def test_delimiter_split_across_three_reads_is_found() -> None:
    """A multi-byte delimiter that arrives over three or more reads ("abc\\r", "\\n",
    "\\r\\n" for "\\r\\n\\r\\n") is missed: DelimiterDecoder only looks for it across
    the *last* chunk and the new one, so the message is held until some later read
    happens to contain a whole delimiter (a request/response peer waits forever)."""
    with (
        tcp.Consumer("tcp://127.0.0.1", framing="delimiter", delimiter="\r\n\r\n") as consumer,
        raw_client(consumer.address) as raw,
    ):
        conn = consumer.accept(timeout=5)
        for piece in (b"abc\r", b"\n", b"\r\n"):
            raw.sendall(piece)
            time.sleep(0.15)  # each piece is its own read on the server
        got = conn.fetch(1, timeout=2)
        assert [env.read() for env in got] == [b"abc"]


def test_message_of_exactly_max_message_with_delimiter_in_single_bytes() -> None:
    """Same cause, worse effect: a message of exactly max_message bytes whose 4-byte
    delimiter comes one byte per read is taken for an over-long line, and the peer is
    disconnected with a FrameError."""
    with (
        tcp.Consumer(
            "tcp://127.0.0.1", framing="delimiter", delimiter="\r\n\r\n", max_message=8
        ) as consumer,
        raw_client(consumer.address) as raw,
    ):
        conn = consumer.accept(timeout=5)
        raw.sendall(b"12345678")
        time.sleep(0.15)
        for byte in b"\r\n\r\n":
            raw.sendall(bytes([byte]))
            time.sleep(0.15)
        got: list[bytes] = []
        try:
            conn.receive(lambda env: got.append(env.read()), max_messages=1, timeout=2)
        finally:
            assert conn.end is None or conn.end.normal, conn.end
        assert got == [b"12345678"]


def test_messages_before_a_bad_length_header_are_delivered() -> None:
    """A read holding a whole good frame and then an over-max_message header: the good
    frame was complete and valid, but LengthDecoder.feed raises FrameError with the
    frames it already cut out of that read in a local list, so they are lost."""
    with tcp.Consumer("tcp://127.0.0.1") as consumer, raw_client(consumer.address) as raw:
        conn = consumer.accept(timeout=5)
        raw.sendall(frame(b"good") + b"\xff\xff\xff\xff")
        assert is_disconnected(raw, 5)
        got: list[bytes] = []
        with pytest.raises(tcp.ConnectionClosedError, match="max_message"):
            conn.receive(lambda env: got.append(env.read()), timeout=2)
        assert got == [b"good"]


# -- sending -----------------------------------------------------------------------------------
def test_send_without_timeout_to_a_slow_reader_is_not_cut_off() -> None:
    """``timeout`` option, documented: "None: the timeout option bounds each stall (a
    peer that keeps reading, however slowly, is not cut off)". Stream.write passes a
    deadline of now + timeout to send_whole, so the *whole* write is bounded: a peer
    that reads steadily (~12 MB/s, a 12 MB message in about a second) is cut off after
    0.3 s, and the error says it "read nothing"."""
    lst = socket.socket()
    lst.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    lst.bind(("127.0.0.1", 0))
    lst.listen()
    port = lst.getsockname()[1]
    stop = threading.Event()
    read = [0]
    with lst, tcp.Producer(f"tcp://127.0.0.1:{port}", timeout=0.3) as producer:
        pub = producer.publisher("x")
        peer, _ = lst.accept()

        def slow_reader() -> None:
            peer.settimeout(5)
            while not stop.is_set():
                try:
                    data = peer.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                read[0] += len(data)
                time.sleep(0.005)  # never stalls anywhere near 0.3 s

        reader = threading.Thread(target=slow_reader, daemon=True)
        reader.start()
        try:
            pub.send(b"y" * (12 << 20))  # ~12 MB at ~12 MB/s: about a second
        finally:
            stop.set()
            reader.join(5)
            peer.close()


def test_infinite_timeouts_are_config_errors(listener: socket.socket) -> None:
    """Options and ``timeout=`` accept ``math.inf`` (a natural way to say "never"), and
    it fails later with a bare OverflowError from set_send_timeout / Lock.acquire: from
    ``producer.publisher()`` (leaving the dialled socket open), from ``send``, and on a
    consumer every incoming connection fails in the accept loop."""
    port = listener.getsockname()[1]
    try:  # refusing inf as an option (ConfigError) is as good as honouring it
        with tcp.Producer(f"tcp://127.0.0.1:{port}", timeout=math.inf) as producer:
            producer.publisher("x")
    except SyncapiError:
        pass
    except Exception as exc:
        pytest.fail(f"publisher() with timeout=inf raised a bare {exc!r}")
    with tcp.Producer(f"tcp://127.0.0.1:{port}") as producer:
        pub = producer.publisher("x")
        try:
            pub.send(b"x", timeout=math.inf)
        except SyncapiError:
            pass
        except Exception as exc:
            pytest.fail(f"send(timeout=inf) raised a bare {exc!r}")


# -- dialling ----------------------------------------------------------------------------------
def _reset_after_configure(
    monkeypatch: pytest.MonkeyPatch, listener: socket.socket, call: int
) -> threading.Event:
    """Timing injected: on the ``call``-th dial, after the socket is configured and before
    the Publisher makes its Stream, the server accepts that connection and resets it
    (a real RST, as a server at its connection limit or a proxy would send)."""
    real = stream_configure
    calls = [0]
    done = threading.Event()

    def configure(sock: socket.socket, options: Any) -> None:
        real(sock, options)
        calls[0] += 1
        if calls[0] == call:
            peer, _ = listener.accept()
            reset(peer)
            time.sleep(0.2)  # the RST arrives: getpeername() now fails with ENOTCONN
            done.set()

    monkeypatch.setattr(tcp_client, "configure", configure)
    return done


def test_dial_reset_before_attach_is_a_connect_error(
    monkeypatch: pytest.MonkeyPatch, listener: socket.socket
) -> None:
    """A connection reset right after connect(): Publisher._attach builds a Stream,
    whose getpeername() raises OSError(ENOTCONN) outside _dial's error handling, so
    ``producer.publisher()`` raises a bare OSError (not ConnectError) and leaks the
    socket."""
    _reset_after_configure(monkeypatch, listener, call=1)
    port = listener.getsockname()[1]
    with tcp.Producer(f"tcp://127.0.0.1:{port}") as producer:
        try:
            producer.publisher("x")
        except ConnectError:
            pass
        except Exception as exc:
            pytest.fail(f"publisher() raised a bare {exc!r}, not a ConnectError")
        else:
            pass  # a publisher whose connection is already gone is acceptable too


def test_redial_reset_before_attach_is_a_failed_attempt(
    monkeypatch: pytest.MonkeyPatch, listener: socket.socket
) -> None:
    """The same reset during a *reconnect*: the OSError escapes _redial on the old
    reader thread (the thread dies with a traceback), nobody dials again and nothing
    ends the publisher: every send times out with "not reconnected in time" although
    the server accepts connections again."""
    done = _reset_after_configure(monkeypatch, listener, call=2)
    died: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: died.append(args.exc_value))
    port = listener.getsockname()[1]
    with tcp.Producer(
        f"tcp://127.0.0.1:{port}", reconnect=True, reconnect_delay=0.05, reconnect_max_delay=0.1
    ) as producer:
        pub = producer.publisher("x")
        first, _ = listener.accept()
        first.close()  # the server closes: the publisher reconnects (dial 2 is reset)
        assert done.wait(5)
        accepted: list[socket.socket] = []

        def serve() -> None:
            try:
                while True:
                    sock, _ = listener.accept()
                    accepted.append(sock)
            except OSError:  # the listener's timeout: the test is over
                pass

        listener.settimeout(4)
        server = threading.Thread(target=serve, daemon=True)
        server.start()
        try:
            try:
                pub.send(b"after", timeout=3)  # the third dial would get through
            except TimeoutError as exc:
                pytest.fail(f"{exc} (the reconnecting thread died of: {died!r})")
            assert wait_until(lambda: bool(accepted), 2)
            assert read_frame(accepted[-1]) == b"after"
        finally:
            server.join(6)
            for sock in accepted:
                sock.close()


def test_close_during_redial_closes_the_new_connection(
    monkeypatch: pytest.MonkeyPatch, listener: socket.socket
) -> None:
    """Timing injected: close() lands between _redial's ``_is_ending()`` check and
    ``_attach``. close() takes the *old* stream from self._stream; _attach then installs
    the new one and starts its reader. After close() returns, the new connection stays
    open (the server never sees it close) and its reader thread runs on."""
    real_attach = tcp_client.Publisher._attach
    calls = [0]

    def attach(self: tcp_client.Publisher, sock: socket.socket) -> None:
        calls[0] += 1
        if calls[0] > 1:  # a reconnect: wait until close() has begun
            wait_until(lambda: self._ending, 5)
            time.sleep(0.1)
        real_attach(self, sock)

    monkeypatch.setattr(tcp_client.Publisher, "_attach", attach)
    port = listener.getsockname()[1]
    before = tcp_threads()
    producer = tcp.Producer(
        f"tcp://127.0.0.1:{port}",
        reconnect=True,
        reconnect_delay=0.05,
        reconnect_max_delay=0.1,
        close_timeout=0.5,
    )
    pub = producer.publisher("x")
    first, _ = listener.accept()
    first.close()  # the publisher reconnects; the kernel completes the new handshake
    second, _ = listener.accept()
    with second:
        time.sleep(0.1)
        pub.close()
        producer.close()
        try:
            assert is_disconnected(second, 2), "the reconnected socket is still open"
            assert wait_until(lambda: tcp_threads() <= before, 2), tcp_threads() - before
        finally:
            second.close()


def test_close_interrupts_a_reconnect_dial(listener: socket.socket) -> None:
    """A reconnect blocked in connect() (a server whose accept queue is full drops the
    SYN): close() cannot interrupt socket.create_connection, so it waits close_timeout
    plus the 2 s extra join of wait_closed, returns, and the dialling thread lives on
    for up to connect_timeout."""
    listener.listen(0)
    port = listener.getsockname()[1]
    producer = tcp.Producer(
        f"tcp://127.0.0.1:{port}",
        reconnect=True,
        reconnect_delay=0.05,
        reconnect_max_delay=0.1,
        connect_timeout=6,
        close_timeout=0.3,
    )
    before = tcp_threads()
    pub = producer.publisher("x")
    first, _ = listener.accept()
    fillers = [socket.create_connection(("127.0.0.1", port))]  # fills the accept queue
    blocked = socket.socket()
    blocked.setblocking(False)
    blocked.connect_ex(("127.0.0.1", port))  # its SYN is dropped
    fillers.append(blocked)
    try:
        first.close()  # the publisher reconnects: its SYN is dropped too
        time.sleep(0.5)
        started = time.monotonic()
        pub.close()
        took = time.monotonic() - started
        left = tcp_threads() - before
        assert not left, f"{left} still run after close()"
        assert took < 1.5, f"close() took {took:.1f} s with close_timeout=0.3"
    finally:
        producer.close()
        for sock in fillers:
            sock.close()


def test_close_lets_a_send_in_progress_finish() -> None:
    """Publisher.close() ("flush what is pending, then release") while another thread's
    send is being written to a peer that reads steadily: begin_close shuts the sending
    side at once, under the writer, so that send fails with a broken pipe and the peer
    gets half a frame, although it would have been written within milliseconds."""
    lst = socket.socket()
    lst.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    lst.bind(("127.0.0.1", 0))
    lst.listen()
    port = lst.getsockname()[1]
    big = b"y" * (8 << 20)
    received = bytearray()
    with lst, tcp.Producer(f"tcp://127.0.0.1:{port}") as producer:
        pub = producer.publisher("x")
        peer, _ = lst.accept()

        def reader() -> None:  # ~12 MB/s: the 8 MB send takes well under a second
            peer.settimeout(5)
            try:
                while True:
                    data = peer.recv(65536)
                    if not data:
                        return
                    received.extend(data)
                    time.sleep(0.005)
            except OSError:
                return
            finally:
                peer.close()  # at the end of the stream: the publisher's close completes

        errors: list[BaseException] = []

        def send() -> None:
            try:
                pub.send(big)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=reader), threading.Thread(target=send)]
        for t in threads:
            t.start()
        time.sleep(0.05)  # the send is under way
        pub.close()
        for t in threads:
            t.join(10)
    assert errors == [], errors
    assert bytes(received) == frame(big)


# -- closing -----------------------------------------------------------------------------------
def test_producer_close_honours_its_timeout() -> None:
    """Producer.close(timeout=) ignores ``timeout``: each publisher's subscriber is
    closed with Subscriber.close's default of 10 s, one after the other, so a busy
    callback on a publisher's subscriber holds producer.close(timeout=0.5) for as long
    as it runs."""
    release = threading.Event()
    started = threading.Event()
    with (
        tcp.Consumer("tcp://127.0.0.1") as consumer,
        tcp.Producer(consumer.bound_url, close_timeout=0.5) as producer,
    ):
        pub = producer.publisher("x")
        assert isinstance(pub, tcp.Publisher)
        conn = consumer.accept(timeout=5)

        def busy(env: Any) -> None:
            started.set()
            release.wait(6)

        pub.subscriber.start(busy)
        conn.send(b"work")
        assert started.wait(5)
        began = time.monotonic()
        try:
            producer.close(timeout=0.5)
            took = time.monotonic() - began
        finally:
            release.set()
        assert took < 2.0, f"producer.close(timeout=0.5) took {took:.1f} s"


def test_consumer_close_bounded_with_several_stuck_handlers() -> None:
    """Consumer._close joins each handler thread with ``deadline - now + 1.0``: after the
    deadline every stuck handler adds a full second, so N handlers that do not read
    their connection make close() take close_timeout + N seconds."""
    release = threading.Event()
    entered: list[tcp.Connection] = []
    with tcp.Consumer("tcp://127.0.0.1", close_timeout=0.3) as consumer:

        def stuck(conn: tcp.Connection) -> None:
            entered.append(conn)
            release.wait(30)

        consumer.on_connect(stuck)
        clients = [raw_client(consumer.address) for _ in range(5)]
        try:
            assert wait_until(lambda: len(entered) == 5, 5)
            began = time.monotonic()
            consumer.close()
            took = time.monotonic() - began
        finally:
            release.set()
            for sock in clients:
                sock.close()
    assert took < 2.5, f"consumer.close() took {took:.1f} s (close_timeout=0.3, 5 handlers)"


def test_consumer_close_from_a_connection_handler() -> None:
    """A handler that closes the consumer (a "shutdown" command): Consumer._close joins
    every handler thread, its own included, and raises RuntimeError("cannot join
    current thread")."""
    errors: list[BaseException] = []
    done = threading.Event()

    def handler(conn: tcp.Connection) -> None:
        try:
            consumer.close()
        except BaseException as exc:
            errors.append(exc)
        finally:
            done.set()

    consumer = tcp.Consumer("tcp://127.0.0.1", close_timeout=0.3)
    try:
        consumer.on_connect(handler)
        with raw_client(consumer.address):
            assert done.wait(10)
    finally:
        consumer.close()
    assert errors == []


def test_closing_a_backlogged_connection_forgets_it() -> None:
    """``consumer.connections`` lists backlogged connections; closing one (its stream
    never started, so no reader reports the end) leaves it in the consumer's set and
    backlog: it still counts against max_connections / accept_backlog, and the next
    accept() hands out the closed connection."""
    with (
        tcp.Consumer("tcp://127.0.0.1", close_timeout=0.3) as consumer,
        raw_client(consumer.address),
    ):
        assert wait_until(lambda: bool(consumer.connections), 5)
        (waiting,) = consumer.connections
        waiting.close()
        assert wait_until(lambda: not consumer.connections, 2), consumer.connections
        with pytest.raises(TimeoutError):
            conn = consumer.accept(timeout=0.5)
            pytest.fail(f"accept() returned {conn!r} (closed: {conn.closed})")


def test_subscriber_close_racing_a_new_connection_closes_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Timing injected: _admit picks the subscriber under the consumer's lock but starts
    the connection (Connection._start(route)) after releasing it. A Subscriber.close()
    in between takes its connection list before the new connection's _route is set,
    so that connection is neither closed nor routed elsewhere: it is read into the
    closed subscriber's finished inbox, where put_many returns False and everything the
    client sends is dropped silently, for as long as the client stays."""
    real_start = Connection._start
    gate = threading.Event()

    def start(self: Any, route: Any) -> None:
        if route is not None:
            gate.wait(5)  # the subscriber closes meanwhile
        real_start(self, route)

    monkeypatch.setattr(Connection, "_start", start)
    with tcp.Consumer("tcp://127.0.0.1", close_timeout=0.3) as consumer:
        sub = consumer.subscriber("first")
        with raw_client(consumer.address) as raw:
            assert wait_until(lambda: bool(consumer.connections), 5)
            sub.close()
            gate.set()
            time.sleep(0.2)
            got = Collector()
            consumer.subscriber("second").start(got)
            raw.sendall(frame(b"hello"))
            assert wait_until(lambda: len(got) == 1, 2) or is_disconnected(raw, 1), (
                "the message vanished and the client is still connected"
            )


def test_half_closed_client_still_gets_its_reply() -> None:
    """A client that sends its request and shuts down its sending side (``nc -N``,
    ``shutdown(SHUT_WR)``) and then reads the answer: on the end of the stream the
    server's reader closes the whole socket (Stream._read_loop -> _close_fd), so
    ``env.reply`` fails with ConnectionClosedError("closed by the peer") and the
    client gets nothing."""
    errors: list[BaseException] = []

    def echo(env: tcp.EnvelopeReader) -> None:
        time.sleep(0.2)  # the client's FIN arrives before the answer is written
        try:
            env.reply(b"re:" + env.read())
        except BaseException as exc:
            errors.append(exc)
            raise

    with tcp.Consumer("tcp://127.0.0.1") as consumer:
        consumer.subscriber("echo").start(echo)
        with raw_client(consumer.address) as raw:
            raw.sendall(frame(b"req"))
            raw.shutdown(socket.SHUT_WR)
            try:
                answer = read_frame(raw)
            except EOFError:
                answer = None
        assert answer == b"re:req", f"the client got {answer!r}"


def test_memory_stays_bounded_while_a_connection_closes() -> None:
    """While Connection.close() waits (close_timeout) for the client's end of the stream,
    the reader goes on reading a client that keeps sending, and Inbox.put_many queues
    everything *over* the limit because its ``stop`` (stream.closing) is set: with
    max_pending_bytes=1 MiB, hundreds of MB pile up in 0.5 s on loopback, only to be
    dropped by _close. (Publisher.close and Consumer.close do the same.)"""
    limit = 1 << 20
    with (
        tcp.Consumer(
            "tcp://127.0.0.1", max_pending=10, max_pending_bytes=limit, close_timeout=0.5
        ) as consumer,
        raw_client(consumer.address) as raw,
    ):
        conn = consumer.accept(timeout=5)
        stop = threading.Event()
        block = frame(b"z" * 65536) * 16
        peak = [0]

        def flood() -> None:  # keeps sending, never reads, never closes
            try:
                while not stop.is_set():
                    raw.sendall(block)
            except OSError:
                pass

        def watch() -> None:
            while not stop.is_set():
                peak[0] = max(peak[0], conn._inbox._bytes)
                if peak[0] > 64 * limit:
                    stop.set()  # proven; spare the machine's memory
                time.sleep(0.005)

        threads = [threading.Thread(target=flood), threading.Thread(target=watch)]
        for t in threads:
            t.start()
        try:
            assert wait_until(lambda: conn._inbox.blocked, 5)  # backpressure works: full
            conn.close()
        finally:
            stop.set()
            for t in threads:
                t.join(5)
        assert peak[0] <= limit + 2 * 65540 * 16, f"{peak[0] / 1e6:.0f} MB queued during close"
