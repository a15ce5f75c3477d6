"""Entry ``ws``: ``ws://`` against raw websocket-client + a raw wsproto server, both ends
in this process.

No external server: each run starts its own server and client on ``127.0.0.1`` (any
free port) and stops them afterwards. Both sides do the same two jobs, ``messages``
binary messages of ``size`` bytes each, on one connection:

1. **client -> server** (the table's main row) —

   * baseline: ``websocket.create_connection(url)`` (websocket-client) and
     ``ws.send_binary(payload)`` per message, to a :class:`RawServer`: a plain
     ``socket`` accept loop on a thread, each connection read on a thread of its own
     and framed by ``wsproto.WSConnection`` (which does the handshake with its
     ``H11Handshake``), the reader counting each whole message;
   * syncapi: ``ws.Producer(server.url).publisher("bench")`` and
     ``publisher.send(payload)`` per message, to a ``ws.Consumer()`` whose
     ``consumer.subscriber("bench")`` runs the receive loop ``subscriber.start(callback)``
     (one worker), the callback counting each message, served by ``consumer.serve()``;

2. **server -> client** (the extra row :data:`EXTRA_BACK`) —

   * baseline: the raw server's connection, ``wsproto`` framing each
     ``BytesMessage(data=payload)`` and ``sock.sendall`` writing it, from the bench's
     thread; on the client, a thread in a websocket-client ``ws.recv()`` loop counting;
   * syncapi: ``consumer.listen("bench2")`` before the client dials, then
     ``consumer.accept("bench2")`` and ``connection.send(payload)`` per message, from
     the bench's thread; on the client, the publisher's receive loop
     ``publisher.subscriber.start(callback)``, the callback counting.

What is timed: from the first send, on the sending thread, to the moment the receiving
side counted the last of the ``messages`` messages (stamped by its counter, on the
receiving thread). Starting the servers, the handshakes, the receive loops, the end
marker (below) and closing everything come outside the clock.

Counting, not trusting: the receiving side of each job (the raw server's reader, the
syncapi callback, the raw client's ``recv()`` loop, the syncapi client's callback)
counts the binary messages it got, their bytes and those whose size is not ``size``.
After the ``messages`` binary messages, the sender sends one text message, ``"end"``,
outside the clock: the connection keeps the order, so once the receiver saw it, every
message sent before it was counted. A job must show exactly ``messages`` binary messages
of ``size`` bytes each, or the run raises :class:`RuntimeError` and fails the benchmark;
so does a job whose end marker does not come in time.

Closing: each run closes its connections (the client's close handshake), its receive
loops, its server and its threads before it returns, so rounds leave nothing behind.
"""

from __future__ import annotations

import contextlib
import queue
import select
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .model import Entry, Goal, Params, Sample, Variant

__all__ = [
    "CHANNEL",
    "CHANNEL_BACK",
    "DEFAULT_MESSAGES",
    "END",
    "ENTRY",
    "EXTRA_BACK",
    "HOST",
    "READ_SIZE",
    "Counter",
    "Measured",
    "RawConnection",
    "RawServer",
    "check",
    "measure_baseline",
    "measure_syncapi",
    "raw_client_send",
    "raw_server_send",
    "run_baseline",
    "run_syncapi",
    "syncapi_client_send",
    "syncapi_server_send",
]

DEFAULT_MESSAGES = 20_000
"""Messages per run of each job (a second or two per job on a small machine)."""
HOST = "127.0.0.1"
"""Where both sides' servers listen (on any free port)."""
CHANNEL = "bench"
"""The path of the client -> server job: ``ws://HOST:PORT/bench``."""
CHANNEL_BACK = "bench2"
"""The path of the server -> client job: ``ws://HOST:PORT/bench2``."""
END = "end"
"""The text message that ends a job (outside the clock): every data message is binary."""
READ_SIZE = 65_536
"""Bytes the raw server asks for per ``recv``."""

EXTRA_BACK = "server -> client: msg/s"
"""The extra figure of the server -> client job (messages per second): the baseline's in
its samples (raw wsproto server -> websocket-client ``recv()``), syncapi's in syncapi's
(``connection.send`` -> the publisher's subscriber)."""


def check() -> str | None:
    """Why the entry cannot run here (websocket-client, wsproto or werkzeug missing), or
    ``None``."""
    try:
        import websocket  # noqa: F401
        import werkzeug  # noqa: F401
        import wsproto  # noqa: F401
    except ImportError:
        return (
            "websocket-client, wsproto and werkzeug are not installed (pip install 'syncapi[ws]')"
        )
    return None


def _deadline(messages: int) -> float:
    """Seconds a job may take at most before it counts as hung (generous: 500 msg/s)."""
    return 30.0 + messages / 500.0


class Counter:
    """What a job's receiver saw: binary messages, their bytes, and those not of the
    expected size; and the end marker.

    Both sides' receivers call :meth:`add` once per binary message and :meth:`end` on
    the text marker, from one thread (each job has one receiving thread). The
    ``expected``-th message stamps :attr:`reached_at` (``time.perf_counter``).

    Args:
        expected: the messages the job sends.
        size: their size in bytes.
    """

    def __init__(self, expected: int, size: int) -> None:
        self.expected = expected
        self.size = size
        self.messages = 0
        self.bytes = 0
        self.wrong_size = 0
        self.reached_at = 0.0
        self.ended = threading.Event()

    def add(self, data: bytes) -> None:
        """Count one binary message."""
        self.messages += 1
        self.bytes += len(data)
        if len(data) != self.size:
            self.wrong_size += 1
        if self.messages == self.expected:
            self.reached_at = time.perf_counter()

    def end(self) -> None:
        """The end marker came: every message sent before it was counted."""
        self.ended.set()

    def wait(self, what: str) -> None:
        """Wait for the end marker.

        Raises:
            RuntimeError: it did not come in time.
        """
        if not self.ended.wait(_deadline(self.expected)):
            raise RuntimeError(
                f"{what}: the end marker did not come in time ({self.messages} of "
                f"{self.expected} messages counted)"
            )

    def seconds(self, start: float) -> float:
        """The job's time from ``start`` to the ``expected``-th message (``nan`` when it
        never came: the counts then fail :meth:`Measured.verify`)."""
        return self.reached_at - start if self.reached_at else float("nan")


# -- the raw server -----------------------------------------------------------------------
class RawConnection:
    """One connection of :class:`RawServer`: a socket framed by a
    ``wsproto.WSConnection``, read by a thread of its own (handshake, messages, pings,
    the close); :meth:`send_binary` sends from any thread (one lock keeps wsproto's state
    and the frames on the socket whole).

    Attributes:
        path: the handshake's request target, once the handshake is done.
    """

    def __init__(self, server: RawServer, sock: socket.socket) -> None:
        from wsproto import ConnectionType, WSConnection

        self._server = server
        self._sock = sock
        self._ws = WSConnection(ConnectionType.SERVER)
        self._lock = threading.Lock()
        self.path = ""
        self.thread = threading.Thread(target=self._read, name="bench-ws-raw-conn", daemon=True)

    def send_binary(self, payload: bytes) -> None:
        """Frame ``payload`` as one binary message and write it whole."""
        from wsproto.events import BytesMessage

        with self._lock:
            self._sock.sendall(self._ws.send(BytesMessage(data=payload)))

    def send_text(self, text: str) -> None:
        """Frame ``text`` as one text message and write it whole."""
        from wsproto.events import TextMessage

        with self._lock:
            self._sock.sendall(self._ws.send(TextMessage(data=text)))

    def _reply(self, event: Any) -> None:
        with self._lock:
            self._sock.sendall(self._ws.send(event))

    def _read(self) -> None:
        from wsproto.events import (
            AcceptConnection,
            BytesMessage,
            CloseConnection,
            Ping,
            Request,
            TextMessage,
        )

        sock, ws = self._sock, self._ws
        counter: Counter | None = None
        parts: list[bytes | bytearray] = []
        try:
            while True:
                data = sock.recv(READ_SIZE)
                with self._lock:
                    ws.receive_data(data or None)
                    events = list(ws.events())
                for event in events:
                    if isinstance(event, BytesMessage):
                        parts.append(event.data)
                        if event.message_finished:
                            message = parts[0] if len(parts) == 1 else b"".join(parts)
                            parts = []
                            if counter is not None:
                                counter.add(bytes(message))
                    elif isinstance(event, TextMessage):
                        if event.message_finished and counter is not None:
                            counter.end()
                    elif isinstance(event, Request):
                        self.path = event.target
                        self._reply(AcceptConnection())
                        counter = self._server.counters.get(event.target)
                        if counter is None:
                            self._server.accepted.put(self)
                    elif isinstance(event, Ping):
                        self._reply(event.response())
                    elif isinstance(event, CloseConnection):
                        with contextlib.suppress(Exception):
                            self._reply(event.response())
                        return
                if not data:
                    return
        except OSError:
            return
        finally:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


class RawServer:
    """The baseline's server: a plain listening ``socket`` whose accept loop runs on a
    thread, each connection a :class:`RawConnection` read on a thread of its own.

    Args:
        counters: by request target (``"/bench"``), the :class:`Counter` that counts
            what clients send on it; a connection on any other target is handed to
            :meth:`accept` once its handshake is done.

    Attributes:
        url: ``ws://HOST:PORT``.
    """

    def __init__(self, counters: Mapping[str, Counter]) -> None:
        self.counters = dict(counters)
        self.accepted: queue.Queue[RawConnection] = queue.Queue()
        self._listener = socket.create_server((HOST, 0))
        self.url = f"ws://{HOST}:{self._listener.getsockname()[1]}"
        self._stopping = threading.Event()
        self._conns: list[RawConnection] = []
        self._thread = threading.Thread(
            target=self._accept_loop, name="bench-ws-raw-accept", daemon=True
        )
        self._thread.start()

    def _accept_loop(self) -> None:
        listener = self._listener
        while not self._stopping.is_set():
            ready, _, _ = select.select([listener], [], [], 0.05)
            if not ready:
                continue
            try:
                sock, _ = listener.accept()
            except OSError:
                continue
            conn = RawConnection(self, sock)
            self._conns.append(conn)
            conn.thread.start()

    def accept(self, timeout: float) -> RawConnection:
        """The next connection on a target without a counter, handshake done.

        Raises:
            RuntimeError: none within ``timeout`` seconds.
        """
        try:
            return self.accepted.get(timeout=timeout)
        except queue.Empty:
            raise RuntimeError(f"no connection to the raw server within {timeout} s") from None

    def stop(self) -> None:
        """Stop accepting, close the listening socket, and end every thread (a
        connection still open is shut)."""
        self._stopping.set()
        self._thread.join(10.0)
        self._listener.close()
        for conn in self._conns:
            conn.thread.join(2.0)
            if conn.thread.is_alive():
                with contextlib.suppress(OSError):
                    conn._sock.shutdown(socket.SHUT_RDWR)
                conn.thread.join(2.0)


# -- the jobs, side by side -----------------------------------------------------------------
# Each sends ``n`` messages on a ready connection, then the end marker, and returns the
# time.perf_counter() of its first send.
def raw_client_send(ws: Any, payload: bytes, n: int) -> float:
    """Baseline, client -> server: ``ws.send_binary(payload)`` per message."""
    send = ws.send_binary
    start = time.perf_counter()
    for _ in range(n):
        send(payload)
    ws.send(END)
    return start


def syncapi_client_send(publisher: Any, payload: bytes, n: int) -> float:
    """syncapi, client -> server: ``publisher.send(payload)`` per message."""
    send = publisher.send
    start = time.perf_counter()
    for _ in range(n):
        send(payload)
    send(END)
    return start


def raw_server_send(conn: RawConnection, payload: bytes, n: int) -> float:
    """Baseline, server -> client: wsproto frames each message, ``sendall`` writes it."""
    send = conn.send_binary
    start = time.perf_counter()
    for _ in range(n):
        send(payload)
    conn.send_text(END)
    return start


def syncapi_server_send(conn: Any, payload: bytes, n: int) -> float:
    """syncapi, server -> client: ``connection.send(payload)`` per message."""
    send = conn.send
    start = time.perf_counter()
    for _ in range(n):
        send(payload)
    send(END)
    return start


def _raw_recv_loop(ws: Any, counter: Counter, errors: list[BaseException]) -> None:
    """Baseline, the client's receiving thread: ``ws.recv()`` until the end marker."""
    recv, add = ws.recv, counter.add
    try:
        while True:
            data = recv()
            if isinstance(data, str):
                counter.end()
                return
            add(data)
    except BaseException as exc:  # handed to the bench by _check_errors
        errors.append(exc)


def _syncapi_counting(counter: Counter) -> Callable[[Any], None]:
    """syncapi's receive callback: count a binary message, or see the end marker."""
    from ..ws import Opcode

    add, text = counter.add, Opcode.TEXT

    def on_message(env: Any) -> None:
        if env.opcode is text:
            counter.end()
        else:
            add(env.payload)

    return on_message


# -- one run of each side ---------------------------------------------------------------------
@dataclass(frozen=True)
class Measured:
    """What one side did in one run: its two timings and the receivers' counts behind them.

    Attributes:
        library: ``"websocket-client + wsproto"`` or ``"syncapi"``.
        messages: messages each job was asked to send.
        size: their size in bytes.
        seconds: the client -> server job's timed part.
        back_seconds: the server -> client job's timed part.
        received: binary messages the server counted (client -> server).
        received_bytes: their bytes.
        received_wrong: those of them not of :attr:`size` bytes.
        back_received: binary messages the client counted (server -> client).
        back_bytes: their bytes.
        back_wrong: those of them not of :attr:`size` bytes.
    """

    library: str
    messages: int
    size: int
    seconds: float
    back_seconds: float
    received: int
    received_bytes: int
    received_wrong: int
    back_received: int
    back_bytes: int
    back_wrong: int

    @classmethod
    def of(
        cls, library: str, forth: Counter, forth_start: float, back: Counter, back_start: float
    ) -> Measured:
        """The measurement of a run from its two jobs' counters and start times."""
        return cls(
            library=library,
            messages=forth.expected,
            size=forth.size,
            seconds=forth.seconds(forth_start),
            back_seconds=back.seconds(back_start),
            received=forth.messages,
            received_bytes=forth.bytes,
            received_wrong=forth.wrong_size,
            back_received=back.messages,
            back_bytes=back.bytes,
            back_wrong=back.wrong_size,
        )

    def verify(self) -> None:
        """Raise :class:`RuntimeError` unless each receiver counted exactly
        :attr:`messages` binary messages, each of :attr:`size` bytes."""
        n, total = self.messages, self.messages * self.size
        seen = (
            self.received,
            self.received_bytes,
            self.received_wrong,
            self.back_received,
            self.back_bytes,
            self.back_wrong,
        )
        if seen != (n, total, 0, n, total, 0):
            raise RuntimeError(
                f"{self.library}: the server counted {self.received} messages of "
                f"{self.received_bytes} bytes in all ({self.received_wrong} of another size "
                f"than {self.size}) and the client {self.back_received} of {self.back_bytes} "
                f"bytes ({self.back_wrong} of another size); expected {n} messages of "
                f"{total} bytes each way"
            )

    def sample(self) -> Sample:
        """The harness's sample of this run: the client -> server rate as its throughput,
        the server -> client rate as :data:`EXTRA_BACK`."""
        n = self.messages
        return Sample(messages=n, seconds=self.seconds, extra={EXTRA_BACK: n / self.back_seconds})


def _check_errors(errors: list[BaseException], what: str) -> None:
    if errors:
        raise RuntimeError(f"{what} failed: {errors[0]!r}") from errors[0]


def measure_baseline(params: Params) -> Measured:
    """websocket-client + wsproto: both jobs against a fresh :class:`RawServer`, with the
    receivers' counts (not verified: see :meth:`Measured.verify`)."""
    import websocket

    payload, n = params.payload(), params.messages
    forth, back = Counter(n, params.size), Counter(n, params.size)
    server = RawServer({f"/{CHANNEL}": forth})
    try:
        ws = websocket.create_connection(f"{server.url}/{CHANNEL}", timeout=30)
        try:
            forth_start = raw_client_send(ws, payload, n)
            forth.wait("websocket-client -> raw wsproto server")
        finally:
            ws.close()
        ws = websocket.create_connection(f"{server.url}/{CHANNEL_BACK}", timeout=30)
        errors: list[BaseException] = []
        reader = threading.Thread(
            target=_raw_recv_loop, args=(ws, back, errors), name="bench-ws-raw-recv", daemon=True
        )
        try:
            conn = server.accept(30.0)
            reader.start()
            back_start = raw_server_send(conn, payload, n)
            reader.join(_deadline(n))
            _check_errors(errors, "websocket-client's recv() loop")
            back.wait("raw wsproto server -> websocket-client")
        finally:
            ws.close()
            reader.join(10.0)
    finally:
        server.stop()
    return Measured.of("websocket-client + wsproto", forth, forth_start, back, back_start)


def _stop(worker: Any, what: str) -> None:
    """Stop a receive loop; raise :class:`RuntimeError` if it had failed."""
    worker.stop()
    if worker.error is not None:
        raise RuntimeError(f"syncapi: {what} failed: {worker.error!r}") from worker.error


def measure_syncapi(params: Params) -> Measured:
    """syncapi ``ws://``: both jobs between a producer's publishers and a consumer on a
    fresh ``consumer.serve()``, with the receivers' counts (not verified: see
    :meth:`Measured.verify`)."""
    from .. import ws

    payload, n = params.payload(), params.messages
    forth, back = Counter(n, params.size), Counter(n, params.size)
    consumer = ws.Consumer()
    try:
        subscriber = consumer.subscriber(CHANNEL)
        worker = subscriber.start(_syncapi_counting(forth))
        consumer.listen(CHANNEL_BACK)  # the client may dial before accept() below
        server = consumer.serve()
        with ws.Producer(server.url) as producer:
            try:
                publisher = producer.publisher(CHANNEL)
                try:
                    forth_start = syncapi_client_send(publisher, payload, n)
                    forth.wait("syncapi publisher -> consumer subscriber")
                finally:
                    publisher.close()
            finally:
                _stop(worker, "the server's receive loop")
            publisher = producer.publisher(CHANNEL_BACK)
            try:
                worker = publisher.subscriber.start(_syncapi_counting(back))
                try:
                    conn = consumer.accept(CHANNEL_BACK, timeout=30.0)
                    try:
                        back_start = syncapi_server_send(conn, payload, n)
                        back.wait("syncapi connection -> publisher subscriber")
                    finally:
                        conn.close()
                finally:
                    _stop(worker, "the client's receive loop")
            finally:
                publisher.close()
    finally:
        consumer.close()
    return Measured.of("syncapi", forth, forth_start, back, back_start)


def run_baseline(params: Params) -> Sample:
    """The baseline variant: websocket-client + raw wsproto server, both jobs, verified."""
    run = measure_baseline(params)
    run.verify()
    return run.sample()


def run_syncapi(params: Params) -> Sample:
    """The syncapi variant: ``ws://`` publisher and consumer, both jobs, verified."""
    run = measure_syncapi(params)
    run.verify()
    return run.sample()


ENTRY = Entry(
    name="ws",
    description=(
        "ws:// vs raw websocket-client + wsproto server (in-process): binary messages "
        "client -> server and server -> client"
    ),
    baseline=Variant(
        name="websocket-client + wsproto",
        run=run_baseline,
        metric="client -> server: send_binary() -> wsproto",
    ),
    variants=(
        Variant(
            name="syncapi ws://",
            run=run_syncapi,
            metric="client -> server: send(payload)",
            goal=Goal(min_ratio=0.9),
        ),
    ),
    default_messages=DEFAULT_MESSAGES,
    check=check,
)
"""The ``ws`` entry of the harness."""
