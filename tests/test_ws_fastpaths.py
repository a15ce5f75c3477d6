"""``ws://`` fast paths (commits 332e6a1..10d3e93): each test reproduces a bug found in a
review of the non-blocking server reader, the client's batched reads and
``Inbox.put_many``. Real werkzeug servers and real sockets; where a thread interleaving
has to be forced, the test says how.
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import struct
import threading
import time
from collections.abc import Callable

import pytest

from syncapi import ws
from syncapi.errors import TimeoutError
from syncapi.inbox import Inbox
from syncapi.testing import wait_until
from syncapi.ws.connection import Connection

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


# -- helpers -------------------------------------------------------------------------------
def handshake(port: int, path: str) -> socket.socket:
    """A raw client socket past the 101 (it reads nothing more unless told)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)  # byte by byte: nothing after the 101 is taken off the socket
        assert chunk, "the server hung up during the handshake"
        head += chunk
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def frame(opcode: int, payload: bytes, *, masked: bool = False) -> bytes:
    """One final frame; ``masked`` with a zero key (the payload is unchanged)."""
    n = len(payload)
    bit = 0x80 if masked else 0
    if n < 126:
        head = bytes([0x80 | opcode, bit | n])
    elif n < 65536:
        head = bytes([0x80 | opcode, bit | 126]) + struct.pack("!H", n)
    else:
        head = bytes([0x80 | opcode, bit | 127]) + struct.pack("!Q", n)
    return head + (b"\0\0\0\0" if masked else b"") + payload


class RawServer:
    """A hand-written WebSocket server: accepts one client, answers the handshake, then
    runs ``script(sock)`` on its thread."""

    def __init__(self, script: Callable[[socket.socket], None]) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen()
        self.port = self.listener.getsockname()[1]
        self.script = script
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        sock, _ = self.listener.accept()
        try:
            sock.settimeout(10)
            request = b""
            while b"\r\n\r\n" not in request:
                request += sock.recv(4096)
            key = next(
                line.split(b":", 1)[1].strip()
                for line in request.split(b"\r\n")
                if line.lower().startswith(b"sec-websocket-key")
            )
            accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
            sock.sendall(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
            )
            self.script(sock)
        finally:
            sock.close()
            self.listener.close()


# -- server: a send before the reader made the socket non-blocking ---------------------------
def test_a_send_before_the_reader_starts_is_still_bounded_by_its_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``send(timeout=1)`` to a client that reads nothing must raise ``TimeoutError``
    within about a second, even when it is the connection's first send.

    ``Connection._sendall`` (connection.py) relies on the socket being non-blocking: it
    only checks its deadline when ``send`` raises ``BlockingIOError``. But the socket is
    made non-blocking by the reader, in ``_read_loop`` (``sock.setblocking(False)``), which
    the WSGI thread reaches only after the 101 is written and the write lock released
    (server.py: ``route.place`` / ``_run_handler``, then ``conn.serve()``). A taker that
    sends in between (an ``on_connect`` handler greeting the client, an ``accept()``
    caller) calls ``sock.send`` on werkzeug's *blocking* socket with no timeout: the
    kernel blocks it until the client reads, forever for a client that never does, and
    ``timeout=`` is never looked at. (The code before 332e6a1 set ``settimeout`` before
    every ``sendall``.)

    Here the WSGI thread is held back for 0.3 s before ``serve()`` (standing in for it
    losing the CPU), so the ``accept()`` caller's send lands in that window. Unforced, an
    ``on_connect`` handler sending 256 KiB first, to a client that never reads, behind a
    small send buffer, stayed blocked in 5 of 20 and 6 of 12 runs.
    """
    serve = Connection.serve

    def late_serve(self: Connection) -> None:
        time.sleep(0.3)
        serve(self)

    monkeypatch.setattr(Connection, "serve", late_serve)
    consumer = ws.Consumer(ping_interval=None, timeout=30, close_timeout=0.5)
    consumer.listen("greet")
    server = consumer.serve()
    client = handshake(server.port, "/greet")
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # and it never reads
    conn = consumer.accept("greet", timeout=5)
    outcome: list[object] = []

    def greet() -> None:
        started = time.monotonic()
        try:
            conn.send(b"x" * (8 << 20), timeout=1.0)
            outcome.append("sent")
        except Exception as exc:
            outcome.append(exc)
        outcome.append(time.monotonic() - started)

    sender = threading.Thread(target=greet, daemon=True)
    sender.start()
    sender.join(6)
    blocked = sender.is_alive()
    client.close()  # a reset ends a send stuck in the kernel
    sender.join(5)
    consumer.close()
    assert not blocked, "send(timeout=1.0) was still blocked after 6 s"
    assert isinstance(outcome[0], TimeoutError), outcome


# -- client: a message held back behind an incomplete frame -----------------------------------
def test_a_message_read_is_handed_over_while_the_next_frame_is_still_coming() -> None:
    """A message the client has read must reach the receive loop without waiting for
    the next frame to arrive whole.

    ``Publisher._read_frames`` (client.py) keeps read messages in ``batch`` while "more of
    a burst is coming": it hands them over only when ``_frame_waits`` and
    ``_readable(ws.sock)`` both say no. ``_readable`` is a ``poll``: true as soon as *any*
    byte of the next frame is in the socket. Then ``ws.recv_frame()`` blocks (the socket
    has no timeout) until that frame is complete, with the earlier message still in
    ``batch``: here message A waits the 3 s the server takes to finish message B. On a
    slow link any small message followed by a big one waits for the big one's whole
    transfer. (Before 332e6a1 each message was handed over as soon as it was read.)
    """
    big = frame(2, b"B" * 100_000)

    def script(sock: socket.socket) -> None:
        sock.sendall(frame(2, b"A") + big[:50_000])  # A whole; B's first half
        time.sleep(3)
        sock.sendall(big[50_000:])
        time.sleep(1)

    server = RawServer(script)
    producer = ws.Producer(f"ws://127.0.0.1:{server.port}", ping_interval=None, close_timeout=0.5)
    try:
        pub = producer.publisher("x")
        started = time.monotonic()
        got: list[tuple[bytes, float]] = []
        pub.subscriber.start(lambda env: got.append((env.payload[:1], time.monotonic() - started)))
        assert wait_until(lambda: len(got) == 2, 10), got
        assert got[0][0] == b"A" and got[1][0] == b"B"
        assert got[0][1] < 1.5, f"A reached the loop after {got[0][1]:.2f} s, with B"
    finally:
        producer.close()


# -- Inbox: a blocked put that nobody wakes ----------------------------------------------------
def test_every_blocked_put_is_woken_when_room_is_made() -> None:
    """Two readers waiting for room in one inbox must both go on as soon as the receive
    loop takes their predecessors' messages.

    ``Inbox.put_many`` (wire.py) sets ``blocked = True`` once before it waits, and resets
    it to ``False`` in ``finally`` when *its* wait ends; ``get`` now notifies only
    ``if self.blocked``. With two putters waiting, the first to get room resets
    ``blocked`` while the second goes back to waiting: the next ``get`` makes room but
    notifies nobody, and the second putter sleeps out its ``wait(0.25)``. A route's
    inbox is shared by all its connections' readers (server.py ``_Route.place``), so
    with three clients on a route and ``max_pending=1`` the third client's message
    reached the loop 0.25 s late (measured end to end; none before 332e6a1).
    """
    inbox = Inbox(1)
    assert inbox.put("x")
    putters = [threading.Thread(target=inbox.put, args=(item,)) for item in ("y", "z")]
    for putter in putters:
        putter.start()
    time.sleep(0.1)  # both wait for room
    taken = inbox.get(10, 1.0)
    time.sleep(0.05)  # one putter got the room; the other waits again
    taken += inbox.get(10, 1.0)
    started = time.monotonic()
    taken += inbox.get(10, 1.0)
    waited = time.monotonic() - started
    for putter in putters:
        putter.join(2)
    assert sorted(taken) == ["x", "y", "z"]
    assert waited < 0.1, f"the last put was woken only by its own 0.25 s poll ({waited:.3f} s)"


# -- server: idle_timeout against a client that sends only control frames -------------------
def test_idle_timeout_closes_a_client_that_sends_only_pongs() -> None:
    """``idle_timeout``: "close a connection after this many seconds without a message
    from the client. Pings and pongs do not count." A client that sends unsolicited
    pongs without pause must still be closed.

    ``Connection._read_loop`` (connection.py) checks the idle (and ping) timers only in
    the ``BlockingIOError`` branch, when a ``recv`` finds the socket empty; the data
    branch checks the close deadline alone. A client that keeps the socket from ever
    running dry (pongs parsed one by one by wsproto are slower to read than to write)
    is never looked at: here it is still connected after 5 s of a 0.5 s idle_timeout.
    """
    consumer = ws.Consumer(ping_interval=None, idle_timeout=0.5, close_timeout=0.5)
    consumer.subscriber("idle")
    server = consumer.serve()
    client = handshake(server.port, "/idle")
    pongs = frame(10, b"", masked=True) * 20_000
    stop = threading.Event()

    def flood() -> None:
        try:  # until the server closes (or the test stops)
            while not stop.is_set():
                client.sendall(pongs)
        except OSError:
            pass

    flooder = threading.Thread(target=flood, daemon=True)
    flooder.start()
    try:
        closed = wait_until(lambda: consumer.connections == [], 5)
    finally:
        stop.set()
        client.close()
        flooder.join(5)
        consumer.close()
    assert closed, "a client sending only pongs outlived idle_timeout=0.5 by 5 s"
