"""``ws://`` robustness: each test reproduces a bug a code review found (all fixed), so
that it stays fixed. Real werkzeug servers, real websocket-client connections and raw sockets;
where a thread interleaving or a signal has to be forced, the test says how.

Tests that can deadlock the interpreter run their scenario in a child process with a
``faulthandler`` watchdog, so that a hang is a failure (with the stack), not a stuck suite.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import os
import queue
import signal
import socket
import ssl
import struct
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncapi import ws
from syncapi.errors import ClosedError, ConfigError
from syncapi.inbox import _WAKE, Inbox
from syncapi.testing import wait_until

ROOT = Path(__file__).resolve().parents[1]
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


# -- helpers -------------------------------------------------------------------------------
def run_child(code: str, timeout: float = 40.0) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter that imports this checkout of syncapi."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=str(ROOT),
    )


def raw_handshake(port: int, path: str, *, tls: ssl.SSLContext | None = None) -> socket.socket:
    sock: socket.socket = socket.create_connection(("127.0.0.1", port), timeout=5)
    if tls is not None:
        sock = tls.wrap_socket(sock, server_hostname="127.0.0.1")
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        assert chunk, "the server hung up during the handshake"
        head += chunk
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def masked(opcode: int, payload: bytes) -> bytes:
    key = os.urandom(4)
    assert len(payload) < 126
    return (
        bytes([0x80 | opcode, 0x80 | len(payload)])
        + key
        + bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    )


class RawServer:
    """A WebSocket server written by hand on a raw socket: accepts one client, answers
    the handshake, then runs ``script(sock)`` on its thread."""

    def __init__(self, script: object) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen()
        self.port = self.listener.getsockname()[1]
        self.script = script
        self.result: list[object] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        sock, _ = self.listener.accept()
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
        try:
            self.result.append(self.script(sock))  # type: ignore[operator]
        except Exception as exc:  # reported through result
            self.result.append(exc)
        finally:
            sock.close()
            self.listener.close()


def read_frame(sock: socket.socket) -> tuple[int, bytes] | None:
    """One (unmasked or masked) frame from ``sock``; ``None`` at EOF."""

    def exactly(n: int) -> bytes | None:
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            if not chunk:
                return None
            data += chunk
        return data

    head = exactly(2)
    if head is None:
        return None
    opcode, length, has_mask = head[0] & 0x0F, head[1] & 0x7F, head[1] & 0x80
    if length == 126:
        length = struct.unpack("!H", exactly(2) or b"\0\0")[0]
    elif length == 127:
        length = struct.unpack("!Q", exactly(8) or b"\0" * 8)[0]
    key = exactly(4) if has_mask else None
    payload = exactly(length) or b""
    if key:
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return opcode, payload


@pytest.fixture
def listening() -> Iterator[ws.Consumer]:
    consumer = ws.Consumer("ws://127.0.0.1/", ping_interval=None)
    consumer.listen("c")
    consumer.serve()
    yield consumer
    consumer.close()


# -- close from a signal handler -----------------------------------------------------------
def test_connection_close_from_a_signal_handler_does_not_hang() -> None:
    """DESIGN §2: close() may be called from a signal handler and returns in bounded time.

    A server pushing data on the main thread gets SIGTERM; the handler calls
    ``conn.close(timeout=0)``. The handler runs on the main thread, which was inside
    ``conn.send()``: ``Connection._write`` holds ``_write_lock`` and, while wsproto frames
    the message, the plain ``_proto_lock``. ``Connection.close`` -> ``_start_close``
    (connection.py:268) takes ``_proto_lock`` with no timeout: the thread waits for
    itself forever. (When the signal lands in ``sendall`` instead, ``_send_control``
    waits the whole ``timeout`` option for ``_write_lock``, then the close frame is
    never sent.)
    """
    child = run_child(
        """
        import faulthandler, signal, sys, time
        from syncapi import ws
        consumer = ws.Consumer(ping_interval=None, timeout=3.0, close_timeout=0.5)
        consumer.listen("c")
        server = consumer.serve()
        producer = ws.Producer(server.url, ping_interval=None)
        pub = producer.publisher("c")
        pub.subscriber.start(lambda env: None)        # the client reads everything
        conn = consumer.accept("c", timeout=5)
        took = []
        def on_term(signum, frame):
            t0 = time.monotonic()
            conn.close(timeout=0)
            took.append(time.monotonic() - t0)
        signal.signal(signal.SIGALRM, on_term)
        faulthandler.dump_traceback_later(15, exit=True)
        signal.setitimer(signal.ITIMER_REAL, 0.3)
        try:
            while not took:
                conn.send(b"x" * 4_000_000)
        except Exception:
            pass
        print("TOOK", took[0], flush=True)
        faulthandler.cancel_dump_traceback_later()
        producer.close()
        consumer.close()
        """
    )
    assert "TOOK" in child.stdout, f"the process hung in close():\n{child.stderr[-3000:]}"
    took = float(child.stdout.split("TOOK", 1)[1].split()[0])
    assert took < 2.0, f"close() in the signal handler took {took:.1f} s"


def test_interrupt_from_a_signal_handler_does_not_deadlock() -> None:
    """Subscriber._interrupt is documented (core.py) as called from signal handlers and
    never blocking for long; ``Subscriber.close()`` / ``Worker.stop()`` call it.

    ``Inbox.wake`` (wire.py:438) takes ``_waiters_lock`` and ``queue.Queue.put`` (the
    queue's mutex) with no bound. A signal that lands while the main thread's receive
    loop is inside ``Inbox.get`` (holding either lock) makes the handler wait for a lock
    its own thread holds: the process hangs. Here a timer signal calls the hook while the
    main thread polls the connection (as a loop does); it hangs within milliseconds.
    """
    child = run_child(
        """
        import faulthandler, signal, time
        from syncapi import ws
        consumer = ws.Consumer(ping_interval=None)
        consumer.listen("c")
        server = consumer.serve()
        producer = ws.Producer(server.url, ping_interval=None)
        pub = producer.publisher("c")
        conn = consumer.accept("c", timeout=5)
        busy = [False]
        def on_signal(signum, frame):
            if busy[0]:
                return                 # no nesting: a hang is then a plain deadlock
            busy[0] = True
            conn._interrupt()          # what close() / Worker.stop() call
            busy[0] = False
        signal.signal(signal.SIGALRM, on_signal)
        faulthandler.dump_traceback_later(12, exit=True)
        signal.setitimer(signal.ITIMER_REAL, 0.002, 0.001)
        t0 = time.monotonic()
        while time.monotonic() - t0 < 3:
            conn.fetch(1, timeout=0)
        signal.setitimer(signal.ITIMER_REAL, 0)
        faulthandler.cancel_dump_traceback_later()
        print("DONE", flush=True)
        producer.close()
        consumer.close()
        """
    )
    assert "DONE" in child.stdout, f"the signal handler deadlocked:\n{child.stderr[-3000:]}"


# -- reader blocked in Inbox.put -----------------------------------------------------------
def test_send_with_reconnect_does_not_busy_loop(listening: ws.Consumer) -> None:
    """reconnect=True: when the connection breaks while the reader thread is blocked in
    ``Inbox.put`` (the subscriber is not being read), ``Publisher._write`` loops:
    ``ws.send`` fails, ``_break``, then ``_current`` hands back the same broken ``ws``
    (only the blocked reader clears ``self._ws``), ``send`` fails again at once... The
    send burns a whole core until its deadline (30 s by default), then raises a
    misleading "the connection was busy with other sends"; no reconnect is ever tried,
    since the reader never sees the break. (Before 7f1e067 it spun forever.)
    """
    producer = ws.Producer(
        listening.servers[0].url, reconnect=True, max_pending=1, ping_interval=None, timeout=5
    )
    try:
        pub = producer.publisher("c")
        conn = listening.accept("c", timeout=5)
        for i in range(5):
            conn.send(f"m{i}")  # the client's inbox takes one; its reader blocks on the next
        time.sleep(0.3)
        conn._drop("the server side breaks off")  # an abrupt drop (crash, network)
        time.sleep(0.3)
        outcome: list[str] = []

        def send() -> None:
            try:
                for _ in range(3):  # the first may still go into the socket buffer
                    pub.send(b"x" * 100_000, timeout=2.0)
                outcome.append("sent")
            except Exception as exc:  # any error is fine, without spinning
                outcome.append(f"{type(exc).__name__}: {exc}")

        cpu = time.process_time()
        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        sender.join(8)
        burnt = time.process_time() - cpu
        assert not sender.is_alive(), "send(timeout=2) x3 still running after 8 s"
        assert burnt < 0.5, (
            f"three send(timeout=2) burnt {burnt:.1f} s of CPU; they ended with {outcome}"
        )
    finally:
        producer.close()  # ends a spinning send (ClosedError)


def test_unread_subscriber_does_not_make_the_keepalive_drop_a_live_server(
    listening: ws.Consumer,
) -> None:
    """A publisher whose subscriber is not read (a send-only user, or a slow loop) stops
    reading its socket once ``max_pending`` messages wait (the reader blocks in
    ``Inbox.put``). The keepalive (client.py:511) keeps pinging, never sees the pong the
    reader does not read, and drops the connection as "the server is gone" — a server
    that is alive and answered at once. It then logs that warning at every tick while
    the reader stays blocked, and the next ``send`` waits its whole timeout in
    ``_wait_ended`` before failing with code 1006 and no reason.
    """
    producer = ws.Producer(
        listening.servers[0].url, ping_interval=0.2, ping_timeout=0.4, max_pending=2, timeout=2
    )
    try:
        pub = producer.publisher("c")
        conn = listening.accept("c", timeout=5)
        for i in range(5):
            conn.send(f"news {i}")
        time.sleep(1.5)
        assert conn.connected, (
            f"the client dropped a live server: {conn.close_code} {conn.close_reason!r}"
        )
        pub.send("still there?")
    finally:
        producer.close()


# -- lost messages ---------------------------------------------------------------------------
def test_a_stopped_loop_hands_back_the_messages_it_did_not_run(listening: ws.Consumer) -> None:
    """runtime: "fetched messages no callback has started are nacked for redelivery, so
    nothing is lost". A loop fetches up to 32 messages at once; when it stops after the
    first, runtime hands the other 31 to ``Subscriber._release``, which no ws subscriber
    implements (the default ``_nack`` is a no-op): they are dropped, without a log line.
    The next receive on the same connection never sees them.
    """
    with ws.Producer(listening.servers[0].url, ping_interval=None) as producer:
        pub = producer.publisher("c")
        conn = listening.accept("c", timeout=5)
        for i in range(10):
            pub.send(f"m{i}")
        assert wait_until(lambda: conn._inbox._count == 10, 5)
        stop = threading.Event()
        first: list[str] = []

        def take_one(env: ws.EnvelopeReader) -> None:
            first.append(env.text)
            stop.set()

        conn.receive(take_one, stop=stop, timeout=5)
        rest: list[str] = []
        conn.receive(lambda env: rest.append(env.text), timeout=1.0)
        assert first + rest == [f"m{i}" for i in range(10)], (
            f"first loop ran {first}, the next got {rest}"
        )


# -- timeouts ----------------------------------------------------------------------------------
def test_close_while_a_send_is_blocked_takes_close_timeout_not_the_send_timeout() -> None:
    """``Connection.close()`` while another thread's ``send`` is blocked on a client that
    does not read: ``_start_close`` -> ``_send_control`` waits up to the ``timeout``
    option (30 s by default) for ``_write_lock`` before ``close_timeout`` even starts.
    ``Consumer.close`` / SIGTERM handlers wait that long; dropping the socket would do."""
    consumer = ws.Consumer("ws://127.0.0.1/", ping_interval=None, timeout=6, close_timeout=0.5)
    consumer.listen("c")
    server = consumer.serve()
    producer = ws.Producer(server.url, ping_interval=None, max_pending=1)
    try:
        producer.publisher("c")
        conn = consumer.accept("c", timeout=5)

        def flood() -> None:
            try:
                while True:
                    conn.send(b"x" * 1_000_000)
            except Exception:
                pass

        threading.Thread(target=flood, daemon=True).start()
        time.sleep(0.5)
        started = time.monotonic()
        conn.close()
        took = time.monotonic() - started
        assert took < 2.0, f"close() took {took:.1f} s (close_timeout 0.5)"
    finally:
        producer.close()
        consumer.close()


# -- close time that grows with the number of channels --------------------------------------------
def test_consumer_close_with_blocking_handlers_is_bounded() -> None:
    """``Consumer._close`` (server.py:375) joins each handler thread for ``close_timeout``
    one after the other: with N handlers that do not return promptly, close takes
    N x close_timeout (100 handlers: 200 s at the default)."""
    consumer = ws.Consumer("ws://127.0.0.1/", ping_interval=None, close_timeout=0.5)
    forever = threading.Event()
    consumer.on_connect("h", lambda conn: forever.wait(30))
    server = consumer.serve()
    producer = ws.Producer(server.url, ping_interval=None)
    try:
        for _ in range(6):
            producer.publisher("h")
        assert wait_until(lambda: len(consumer._handlers) == 6, 5)
        started = time.monotonic()
        consumer.close()
        took = time.monotonic() - started
        assert took < 1.5, f"close() took {took:.1f} s for 6 handlers (close_timeout 0.5)"
    finally:
        forever.set()
        producer.close()
        consumer.close()


def test_producer_close_with_publishers_to_a_dead_server_is_bounded() -> None:
    """``Producer.close`` closes its publishers one after the other, and each
    ``Publisher._close`` waits 2 s for the server's close answer (client.py:554) before
    breaking the socket: N connections to a dead (frozen) server take N x 2 s."""
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys\nfrom syncapi import ws\nc = ws.Consumer(ping_interval=None)\n"
            "c.subscriber('feed').start(lambda env: None)\nprint(c.serve().port, flush=True)\n"
            "sys.stdin.read()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert child.stdout is not None
        port = int(child.stdout.readline())
        producer = ws.Producer(f"ws://127.0.0.1:{port}", ping_interval=None)
        for _ in range(5):
            producer.publisher("feed")
        os.kill(child.pid, signal.SIGSTOP)
        started = time.monotonic()
        producer.close()
        took = time.monotonic() - started
        assert took < 5.0, f"producer.close() took {took:.1f} s for 5 connections"
    finally:
        os.kill(child.pid, signal.SIGCONT)
        child.kill()
        child.wait(10)
        for stream in (child.stdin, child.stdout):
            if stream is not None:
                stream.close()


# -- close codes and the close handshake ----------------------------------------------------------
def test_werkzeug_does_not_parse_the_tls_close_as_an_http_request(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The hijack recipe raises ConnectionError (server.py, end of ``__call__``), but the
    handshake was HTTP/1.1, so a stock werkzeug handler (``make_server``, ``flask run
    --cert``: the only way to serve wss, ``consumer.serve()`` has no TLS) loops
    (``close_connection`` is False) and reads the socket again for a next request. With
    TLS, ``SSLSocket.shutdown`` has dropped the TLS layer, so the client's close_notify
    (what a correct TLS client sends after the WebSocket close) is read as raw bytes:
    werkzeug logs ``code 400, message Bad request syntax`` at ERROR and writes a
    plaintext 400 into the TLS stream. ``Connection._discard_unread`` (meant for this)
    is never called; ``RequestHandler.connection_dropped`` only covers syncapi's own
    handler. It is a race with werkzeug's next read, so the test opens 20 connections."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    from werkzeug.serving import make_server

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    consumer = ws.Consumer(ping_interval=None)
    consumer.subscriber("e").start(lambda env: None)
    server = make_server("127.0.0.1", 0, consumer, threaded=True, ssl_context=context)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    caplog.set_level(logging.DEBUG, logger="werkzeug")
    try:
        client = ssl.create_default_context(cafile=str(cert))
        for _ in range(20):
            sock = raw_handshake(server.server_port, "/e", tls=client)
            sock.sendall(masked(0x8, (1000).to_bytes(2, "big")))
            assert read_frame(sock) is not None  # the server's close answer
            assert isinstance(sock, ssl.SSLSocket)
            with contextlib.suppress(OSError, ssl.SSLError):
                sock.unwrap()  # TLS close_notify
            time.sleep(0.05)
            sock.close()
        time.sleep(0.3)
        bad = [r.getMessage() for r in caplog.records if " 400" in r.getMessage()]
        assert not bad, f"werkzeug parsed bytes after the WebSocket as HTTP: {bad[:2]}"
    finally:
        consumer.close()
        server.shutdown()
        server.server_close()
        thread.join(5)


# -- Inbox ---------------------------------------------------------------------------------------------
def test_inbox_finish_racing_a_put_still_ends_the_inbox() -> None:
    """``Inbox.put`` counts the item under ``_space`` but queues it after releasing the
    lock (wire.py:382-387). A ``finish()`` from another thread in between
    (``Consumer._close_connections``, server stop) queues the end marker *before* the
    item; ``get`` then takes the marker while the queue is not empty and returns ``[]``
    (wire.py:411-414), consuming the only marker: the receive loop never ends (and
    ``serve()``'s own finish(error) is a no-op by then).

    The interleaving is forced with a queue that pauses the reader's put (a fake, only
    for timing)."""
    inbox = Inbox(8)
    in_put, go = threading.Event(), threading.Event()

    class PausingQueue(queue.Queue):  # type: ignore[type-arg]
        def put(self, item: object, block: bool = True, timeout: float | None = None) -> None:
            if item is not _WAKE:
                in_put.set()
                go.wait(5)  # the reader thread is preempted right here
            super().put(item, block, timeout)

    inbox._items = PausingQueue()
    reader = threading.Thread(target=inbox.put, args=(b"last message",))
    reader.start()
    assert in_put.wait(5)
    finisher = threading.Thread(target=inbox.finish)  # races the paused put
    finisher.start()
    time.sleep(0.1)
    go.set()
    finisher.join(5)
    reader.join(5)
    got: list[object] = []
    with pytest.raises(ClosedError):
        for _ in range(5):
            got.extend(inbox.get(10, 0.1))
    assert got == [b"last message"]


# -- keepalive ---------------------------------------------------------------------------------------
def test_keepalive_does_not_drop_a_server_that_is_streaming_a_message() -> None:
    """The client's ``_last_heard`` moves only when a whole frame has been read
    (client.py:478). While a large message streams in (slow link), the server cannot
    send a pong inside the frame, so after ping_interval + ping_timeout the keepalive
    breaks a connection on which bytes arrive all the time ("the server is gone")."""

    def script(sock: socket.socket) -> str:
        size = 200_000
        sock.sendall(bytes([0x82, 127]) + size.to_bytes(8, "big"))
        for _ in range(20):  # one frame, streamed over 2 s
            sock.sendall(b"x" * (size // 20))
            time.sleep(0.1)
        time.sleep(1)
        return "sent"

    server = RawServer(script)
    producer = ws.Producer(f"ws://127.0.0.1:{server.port}", ping_interval=0.2, ping_timeout=0.5)
    try:
        pub = producer.publisher("x")
        sizes: list[int] = []
        pub.subscriber.start(lambda env: sizes.append(len(env.payload)))
        assert wait_until(lambda: bool(sizes) or pub.close_code is not None, 5)
        assert sizes == [200_000], f"dropped mid-message: {pub.close_code} {pub.close_reason!r}"
    finally:
        producer.close()


# -- wire ----------------------------------------------------------------------------------------------
def test_a_non_ascii_handshake_header_is_refused_or_kept(listening: ws.Consumer) -> None:
    """``Publisher.__init__`` checks handshake headers for CR/LF only; websocket-client
    writes the value as UTF-8 and werkzeug reads headers as latin-1, so ``"Zoë"`` arrives
    as ``"ZoÃ«"``. Bad input should get a ConfigError (or arrive unchanged)."""
    with ws.Producer(listening.servers[0].url, ping_interval=None) as producer:
        try:
            producer.publisher("c", handshake_headers={"X-Name": "Zo\u00eb"})
        except ConfigError:
            return
        conn = listening.accept("c", timeout=5)
        assert dict(conn.request_headers)["X-Name"] == "Zo\u00eb"
