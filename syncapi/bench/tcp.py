"""Entry ``tcp``: ``tcp://`` against raw sockets doing the same job with the same framing,
both ends in this process.

No external server: each run makes its own listening socket on ``127.0.0.1`` (any free
port) and closes everything afterwards. Both sides move ``messages`` messages of
``size`` bytes on one connection, framed as ``tcp://`` frames them by default: a 4-byte
big-endian length, then the message. Two jobs:

1. **client -> server** (the table's main row) —

   * baseline: a connected ``socket`` (``TCP_NODELAY``, as syncapi sets it) and
     ``sock.sendall(prefix + payload)`` per message from the bench's thread — one
     system call per message, as syncapi's ``send`` makes (it also joins the prefix
     and the payload into one buffer and writes it with one ``send``); on the server's
     socket, a plain reader thread: ``recv(READ_SIZE)``, cut the frames out with
     ``struct.unpack_from``, count each message (:func:`raw_read_loop`);
   * syncapi: ``tcp.Producer(consumer.bound_url).publisher("bench")`` and
     ``publisher.send(payload)`` per message, to a ``tcp.Consumer("tcp://127.0.0.1")``
     whose ``consumer.subscriber("bench")`` runs ``subscriber.start(callback)`` (one
     worker), the callback counting each message;

2. **server -> client** (the extra row :data:`EXTRA_BACK`) —

   * baseline: the same two functions the other way round: the accepted socket
     ``sendall``\\ s, the dialling socket's reader thread counts;
   * syncapi: ``consumer.accept()`` (the subscriber of job 1 is closed first, so the new
     connection waits for ``accept``) and ``connection.send(payload)`` per message, from
     the bench's thread; on the client, the publisher's receive loop
     ``publisher.subscriber.start(callback)``, the callback counting.

What is timed: from the first send, on the sending thread, to the moment the receiving
side counted the last of the ``messages`` messages (stamped by its counter, on the
receiving thread). Listening, connecting, starting the receive loops, the end marker
(below) and closing everything come outside the clock.

Counting, not trusting: the receiving side of each job counts the messages equal to the
payload sent, their bytes, and those that differ from it (a wrong size or wrong bytes:
every message is compared with the payload whole, a ``memcmp``). After the ``messages``
messages the sender sends one more, :data:`END`, outside the clock: the connection keeps
the order, so once the receiver saw it, every message sent before it was counted. A job
must show exactly ``messages`` messages equal to the payload and none other, or the run
raises :class:`RuntimeError` and fails the benchmark; so does a job whose end marker does
not come in time.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .model import Entry, Goal, Params, Sample, Variant

__all__ = [
    "CHANNEL",
    "DEFAULT_MESSAGES",
    "END",
    "ENTRY",
    "EXTRA_BACK",
    "HOST",
    "PREFIX",
    "READ_SIZE",
    "Counter",
    "Measured",
    "RawPair",
    "measure_baseline",
    "measure_syncapi",
    "raw_client_send",
    "raw_read_loop",
    "raw_server_send",
    "run_baseline",
    "run_syncapi",
    "syncapi_client_send",
    "syncapi_server_send",
]

DEFAULT_MESSAGES = 20_000
"""Messages per run of each job."""
HOST = "127.0.0.1"
"""Where both sides listen (on any free port)."""
CHANNEL = "bench"
"""The channel name of syncapi's publishers and subscriber (TCP carries no name)."""
END = b"\xffsyncapi-bench-end\xff"
"""The message that ends a job (outside the clock). It never equals a payload of
:meth:`Params.payload` (whose first byte is 0), so the receiver tells them apart."""
READ_SIZE = 256 * 1024
"""Bytes the raw reader asks for per ``recv``: the same as ``tcp://``'s reader."""
PREFIX = struct.Struct(">I")
"""The length prefix: 4 bytes, big-endian, as ``tcp://`` frames by default."""

EXTRA_BACK = "server -> client: msg/s"
"""The extra figure of the server -> client job (messages per second): the baseline's in
its samples (raw accepted socket -> raw client reader), syncapi's in syncapi's
(``connection.send`` -> the publisher's subscriber)."""


def _deadline(messages: int) -> float:
    """Seconds a job may take at most before it counts as hung (generous: 500 msg/s)."""
    return 30.0 + messages / 500.0


class Counter:
    """What a job's receiver saw: messages equal to the payload, their bytes, the others;
    and the end marker.

    Both sides' receivers call :meth:`add` once per message, from one thread (each job
    has one receiving thread). The ``expected``-th good message stamps
    :attr:`reached_at` (``time.perf_counter``); :data:`END` sets :attr:`ended`.

    Args:
        expected: the messages the job sends.
        payload: what each of them holds.
    """

    def __init__(self, expected: int, payload: bytes) -> None:
        self.expected = expected
        self.payload = payload
        self.size = len(payload)
        self.messages = 0
        self.bytes = 0
        self.wrong = 0
        self.reached_at = 0.0
        self.ended = threading.Event()

    def add(self, data: bytes) -> None:
        """Count one message (or see the end marker)."""
        if data == self.payload:
            self.messages += 1
            self.bytes += len(data)
            if self.messages == self.expected:
                self.reached_at = time.perf_counter()
        elif data == END:
            self.ended.set()
        else:
            self.wrong += 1
            self.bytes += len(data)

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


# -- the raw side ------------------------------------------------------------------------------
def raw_read_loop(sock: socket.socket, add: Callable[[bytes], object]) -> None:
    """The baseline's receiver: read big chunks, cut length-prefixed frames out of them,
    call ``add`` with each message, until the peer closes its side.

    A partial frame is joined with the next chunk; one longer than two reads waits in a
    list of chunks joined once, when it is whole (a competent plain-Python reader: no
    quadratic re-copying of a long frame)."""
    recv, unpack = sock.recv, PREFIX.unpack_from
    rest = b""
    parts: list[bytes] = []
    have = need = 0  # a long frame being gathered in parts: bytes held, bytes wanted
    while True:
        chunk = recv(READ_SIZE)
        if not chunk:
            return
        if need:
            parts.append(chunk)
            have += len(chunk)
            if have < need:
                continue
            data = b"".join(parts)
            parts = []
            have = need = 0
        else:
            data = rest + chunk if rest else chunk
        pos, end = 0, len(data)
        while end - pos >= 4:
            (length,) = unpack(data, pos)
            stop = pos + 4 + length
            if stop > end:
                break
            add(data[pos + 4 : stop])
            pos = stop
        rest = data[pos:] if pos < end else b""
        if len(rest) >= 4:
            (length,) = unpack(rest)
            if length + 4 > 2 * READ_SIZE:
                parts, have, need, rest = [rest], len(rest), length + 4, b""


class RawPair:
    """A connected pair of plain sockets on loopback: :attr:`client` dialled
    :attr:`server` (both ``TCP_NODELAY``, as ``tcp://`` sets its sockets), and a reader
    thread per job.

    Args:
        name: names the reader threads (``bench-tcp-raw-<name>``).
    """

    def __init__(self, name: str) -> None:
        self.name = name
        with socket.create_server((HOST, 0)) as listener:
            self.client = socket.create_connection(listener.getsockname()[:2], timeout=30)
            self.server, _ = listener.accept()
        for sock in (self.client, self.server):
            sock.settimeout(None)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._threads: list[threading.Thread] = []
        self.errors: list[BaseException] = []

    def read(self, sock: socket.socket, counter: Counter) -> None:
        """Start a thread running :func:`raw_read_loop` on ``sock`` into ``counter``."""

        def run() -> None:
            try:
                raw_read_loop(sock, counter.add)
            except BaseException as exc:  # handed to the bench by _check_errors
                self.errors.append(exc)

        thread = threading.Thread(target=run, name=f"bench-tcp-raw-{self.name}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def close(self) -> None:
        """Close both sockets gracefully (each side's end of stream ends the readers)
        and join the reader threads."""
        for sock in (self.client, self.server):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_WR)
        for thread in self._threads:
            thread.join(10.0)
        for sock in (self.client, self.server):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        for thread in self._threads:
            thread.join(2.0)


# -- the jobs, side by side ---------------------------------------------------------------------
# Each sends ``n`` messages on a ready connection, then the end marker, and returns the
# time.perf_counter() of its first send.
def raw_client_send(sock: socket.socket, payload: bytes, n: int) -> float:
    """Baseline, client -> server: ``sock.sendall(prefix + payload)`` per message."""
    sendall, pack = sock.sendall, PREFIX.pack
    start = time.perf_counter()
    for _ in range(n):
        sendall(pack(len(payload)) + payload)
    sendall(pack(len(END)) + END)
    return start


def raw_server_send(sock: socket.socket, payload: bytes, n: int) -> float:
    """Baseline, server -> client: the accepted socket, ``sendall(prefix + payload)`` per
    message."""
    sendall, pack = sock.sendall, PREFIX.pack
    start = time.perf_counter()
    for _ in range(n):
        sendall(pack(len(payload)) + payload)
    sendall(pack(len(END)) + END)
    return start


def syncapi_client_send(publisher: Any, payload: bytes, n: int) -> float:
    """syncapi, client -> server: ``publisher.send(payload)`` per message."""
    send = publisher.send
    start = time.perf_counter()
    for _ in range(n):
        send(payload)
    send(END)
    return start


def syncapi_server_send(conn: Any, payload: bytes, n: int) -> float:
    """syncapi, server -> client: ``connection.send(payload)`` per message."""
    send = conn.send
    start = time.perf_counter()
    for _ in range(n):
        send(payload)
    send(END)
    return start


def _syncapi_counting(counter: Counter) -> Callable[[Any], None]:
    """syncapi's receive callback: count the message (or see the end marker)."""
    add = counter.add

    def on_message(env: Any) -> None:
        add(env.payload)

    return on_message


# -- one run of each side ---------------------------------------------------------------------
@dataclass(frozen=True)
class Measured:
    """What one side did in one run: its two timings and the receivers' counts behind them.

    Attributes:
        library: ``"raw socket"`` or ``"syncapi"``.
        messages: messages each job was asked to send.
        size: their size in bytes.
        seconds: the client -> server job's timed part.
        back_seconds: the server -> client job's timed part.
        received: messages equal to the payload the server counted (client -> server).
        received_bytes: the bytes of every message it counted (the marker aside).
        received_wrong: messages it got that differ from the payload.
        back_received: messages equal to the payload the client counted (server -> client).
        back_bytes: the bytes of every message it counted (the marker aside).
        back_wrong: messages it got that differ from the payload.
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
            received_wrong=forth.wrong,
            back_received=back.messages,
            back_bytes=back.bytes,
            back_wrong=back.wrong,
        )

    def verify(self) -> None:
        """Raise :class:`RuntimeError` unless each receiver counted exactly
        :attr:`messages` messages, each equal to the payload, and nothing else."""
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
                f"{self.received_bytes} bytes in all ({self.received_wrong} not the payload "
                f"sent) and the client {self.back_received} of {self.back_bytes} bytes "
                f"({self.back_wrong} not the payload); expected {n} messages of {total} "
                "bytes each way"
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
    """Raw sockets: both jobs on a fresh :class:`RawPair` each, with the receivers'
    counts (not verified: see :meth:`Measured.verify`)."""
    payload, n = params.payload(), params.messages
    forth, back = Counter(n, payload), Counter(n, payload)
    pair = RawPair("server")
    try:
        pair.read(pair.server, forth)
        forth_start = raw_client_send(pair.client, payload, n)
        forth.wait("raw client -> raw server")
    finally:
        pair.close()
    _check_errors(pair.errors, "the raw server's reader")
    pair = RawPair("client")
    try:
        pair.read(pair.client, back)
        back_start = raw_server_send(pair.server, payload, n)
        back.wait("raw server -> raw client")
    finally:
        pair.close()
    _check_errors(pair.errors, "the raw client's reader")
    return Measured.of("raw socket", forth, forth_start, back, back_start)


def _stop(worker: Any, what: str) -> None:
    """Stop a receive loop; raise :class:`RuntimeError` if it had failed."""
    worker.stop()
    if worker.error is not None:
        raise RuntimeError(f"syncapi: {what} failed: {worker.error!r}") from worker.error


def measure_syncapi(params: Params) -> Measured:
    """syncapi ``tcp://``: both jobs between a producer's publishers and a fresh consumer,
    with the receivers' counts (not verified: see :meth:`Measured.verify`)."""
    from .. import tcp

    payload, n = params.payload(), params.messages
    forth, back = Counter(n, payload), Counter(n, payload)
    with (
        tcp.Consumer(f"tcp://{HOST}") as consumer,
        tcp.Producer(consumer.bound_url) as producer,
    ):
        subscriber = consumer.subscriber(CHANNEL)
        try:
            worker = subscriber.start(_syncapi_counting(forth))
            try:
                publisher = producer.publisher(CHANNEL)
                try:
                    forth_start = syncapi_client_send(publisher, payload, n)
                    forth.wait("syncapi publisher -> consumer subscriber")
                finally:
                    publisher.close()
            finally:
                _stop(worker, "the server's receive loop")
        finally:
            subscriber.close()  # the next connection waits for accept()
        dialled = producer.publisher(CHANNEL)
        try:
            assert isinstance(dialled, tcp.Publisher)
            worker = dialled.subscriber.start(_syncapi_counting(back))
            try:
                conn = consumer.accept(timeout=30.0)
                try:
                    back_start = syncapi_server_send(conn, payload, n)
                    back.wait("syncapi connection -> publisher subscriber")
                finally:
                    conn.close()
            finally:
                _stop(worker, "the client's receive loop")
        finally:
            dialled.close()
    return Measured.of("syncapi", forth, forth_start, back, back_start)


def run_baseline(params: Params) -> Sample:
    """The baseline variant: raw sockets, both jobs, verified."""
    run = measure_baseline(params)
    run.verify()
    return run.sample()


def run_syncapi(params: Params) -> Sample:
    """The syncapi variant: ``tcp://`` publisher and consumer, both jobs, verified."""
    run = measure_syncapi(params)
    run.verify()
    return run.sample()


ENTRY = Entry(
    name="tcp",
    description=(
        "tcp:// vs raw sockets with the same 4-byte length framing (in-process): "
        "messages client -> server and server -> client"
    ),
    baseline=Variant(
        name="raw socket",
        run=run_baseline,
        metric="client -> server: sendall() -> recv() loop",
    ),
    variants=(
        Variant(
            name="syncapi tcp://",
            run=run_syncapi,
            metric="client -> server: send(payload)",
            goal=Goal(min_ratio=0.9),
        ),
    ),
    default_messages=DEFAULT_MESSAGES,
)
"""The ``tcp`` entry of the harness."""
