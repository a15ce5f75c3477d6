"""Entry ``tcp``: ``tcp://`` against raw sockets doing the same job with the same framing:
both ends in this process, and with the peer in another process.

No external server: each run makes its own listening sockets on ``127.0.0.1`` (any free
port) and closes everything afterwards. Each job moves ``messages`` messages of ``size``
bytes on one connection, framed as ``tcp://`` frames them by default: a 4-byte
big-endian length, then the message. Four jobs:

1. **client -> server** (the table's main row), both ends in this process —

   * baseline: a connected ``socket`` (``TCP_NODELAY``, as syncapi sets it) and
     ``sock.sendall(prefix + payload)`` per message from the bench's thread
     (:func:`raw_send`) — one system call per message, as syncapi's ``send`` makes (it
     also joins the prefix and the payload into one buffer and writes it with one
     ``send``); on the server's socket, a plain reader thread: ``recv(READ_SIZE)``, cut
     the frames out with ``struct.unpack_from``, count each message
     (:func:`raw_read_loop`);
   * syncapi: ``tcp.Producer(consumer.bound_url).publisher("bench")`` and
     ``publisher.send(payload)`` per message (:func:`syncapi_send`), to a
     ``tcp.Consumer("tcp://127.0.0.1")`` whose ``consumer.subscriber("bench")`` runs
     ``subscriber.start(callback)`` (one worker), the callback counting each message;

2. **server -> client** (the extra row :data:`EXTRA_BACK`), both ends in this process —

   * baseline: the same two functions the other way round: the accepted socket
     ``sendall``\\ s, the dialling socket's reader thread counts;
   * syncapi: ``consumer.accept()`` (the subscriber of job 1 is closed first, so the new
     connection waits for ``accept``) and ``connection.send(payload)`` per message, from
     the bench's thread (:func:`syncapi_send`, the loop of job 1); on the client, the
     publisher's receive loop ``publisher.subscriber.start(callback)``, the callback
     counting;

3. **receive (sender in another process)** (the extra row :data:`EXTRA_RECEIVE`): the
   peer process (:class:`PeerProcess`, a child Python started and spoken to by
   :mod:`syncapi.bench.peer`, running :func:`peer_main`: plain socket code, the same for
   both sides) connects and sends the frames with a plain ``sendall`` loop (one
   ready-made frame per call); measured is the receiving side in this process —

   * baseline: a listening socket; the accepted connection read by a thread running
     :func:`raw_read_loop`, counting each message;
   * syncapi: ``tcp.Consumer("tcp://127.0.0.1")`` and
     ``consumer.subscriber("bench").start(callback)`` (one worker: the callback runs on
     the connection's reader thread), the callback counting;

4. **send (reader in another process)** (the extra row :data:`EXTRA_SEND`): the peer
   process listens, reads with :func:`raw_read_loop` and counts each message (the same
   :class:`Counter` as this process's receivers); measured is the sending side in this
   process —

   * baseline: ``socket.create_connection`` (``TCP_NODELAY``) and
     ``sock.sendall(prefix + payload)`` per message (:func:`raw_send`, the loop of
     jobs 1 and 2);
   * syncapi: ``tcp.Producer("tcp://127.0.0.1:PORT").publisher("bench")`` and
     ``publisher.send(payload)`` per message (:func:`syncapi_send`, the loop of jobs 1
     and 2).

Why jobs 3 and 4: with both ends in one process, the sender's and the receiver's Python
share one GIL, so jobs 1 and 2 measure the *sum* of both sides' Python per message. An
application usually holds one side of a connection, its peer another program: jobs 3 and
4 measure each side alone, the peer's Python running beside it (on its own CPU when there
is one).

What is timed: jobs 1, 2 and 4, from the first send, on the sending thread, to the moment
the receiving side counted the last of the ``messages`` messages (jobs 1 and 2: stamped
by its counter, on the receiving thread; job 4: when the bench reads the peer process's
``reached`` line, which the peer writes as it counts the last message, one pipe hop
later). Job 3, from the moment the bench tells the peer process to send (``go``, on its
standard input; stamped just before) to the last message counted (stamped on the
receiving thread). Before the clock starts, the connection of jobs 3 and 4 is made and
carried one start marker, :data:`START`, which the receiver counted: the peer process is
running, connected and reading (or about to send), and the receive loop runs. Starting
the peer process, listening, connecting, the markers and closing everything come outside
the clock.

Counting, not trusting: the receiving side of each job counts the messages equal to the
payload sent, their bytes, and those that differ from it (a wrong size or wrong bytes:
every message is compared with the payload whole, a ``memcmp``). After the ``messages``
messages the sender sends one more, :data:`END`, outside the clock: the connection keeps
the order, so once the receiver saw it, every message sent before it was counted (job 4:
the peer process then reports its counts, ``end GOOD BYTES WRONG``). A job must show
exactly ``messages`` messages equal to the payload and none other, or the run raises
:class:`RuntimeError` and fails the benchmark; so does a job whose markers do not come in
time, or a peer process that fails.
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from . import peer as bench_peer
from .model import Entry, Goal, Params, Sample, Variant

__all__ = [
    "BACK",
    "CHANNEL",
    "DEFAULT_MESSAGES",
    "END",
    "ENTRY",
    "EXTRA_BACK",
    "EXTRA_RECEIVE",
    "EXTRA_SEND",
    "FORTH",
    "HOST",
    "JOBS",
    "PREFIX",
    "READ_SIZE",
    "RECEIVE",
    "SEND",
    "START",
    "Counter",
    "Job",
    "Measured",
    "PeerProcess",
    "RawPair",
    "measure_baseline",
    "measure_syncapi",
    "peer_main",
    "raw_read_loop",
    "raw_send",
    "receive_raw",
    "receive_syncapi",
    "run_baseline",
    "run_syncapi",
    "send_raw",
    "send_syncapi",
    "syncapi_send",
]

DEFAULT_MESSAGES = 20_000
"""Messages per run of each job."""
HOST = "127.0.0.1"
"""Where every listening socket listens (on any free port)."""
CHANNEL = "bench"
"""The channel name of syncapi's publishers and subscribers (TCP carries no name)."""
END = b"\xffsyncapi-bench-end\xff"
"""The message that ends a job (outside the clock). It never equals a payload of
:meth:`Params.payload` (whose first byte is 0), so the receiver tells them apart."""
START = b"\xffsyncapi-bench-start\xff"
"""The message that opens jobs 3 and 4 (outside the clock): once the receiver counted it,
the connection is up and the receive loop runs. Never a payload, like :data:`END`."""
READ_SIZE = 256 * 1024
"""Bytes the raw reader asks for per ``recv``: the same as ``tcp://``'s reader."""
PREFIX = struct.Struct(">I")
"""The length prefix: 4 bytes, big-endian, as ``tcp://`` frames by default."""

FORTH = "client -> server"
BACK = "server -> client"
RECEIVE = "receive (sender in another process)"
SEND = "send (reader in another process)"
JOBS = (FORTH, BACK, RECEIVE, SEND)
"""The jobs' names, in run order."""

EXTRA_BACK = f"{BACK}: msg/s"
"""The extra figure of the server -> client job (messages per second): the baseline's in
its samples (raw accepted socket -> raw client reader), syncapi's in syncapi's
(``connection.send`` -> the publisher's subscriber)."""
EXTRA_RECEIVE = f"{RECEIVE}: msg/s"
"""The extra figure of job 3 (messages per second received from a peer process)."""
EXTRA_SEND = f"{SEND}: msg/s"
"""The extra figure of job 4 (messages per second sent to a peer process's reader)."""


def _deadline(messages: int) -> float:
    """Seconds a job may take at most before it counts as hung (generous: 500 msg/s)."""
    return 30.0 + messages / 500.0


def _frame(data: bytes) -> bytes:
    """``data`` with its length prefix."""
    return PREFIX.pack(len(data)) + data


class Counter:
    """What a job's receiver saw: messages equal to the payload, their bytes, the others;
    and the markers.

    The receiver calls :meth:`add` once per message, from one thread (each job has one
    receiving thread). The ``expected``-th good message stamps :attr:`reached_at`
    (``time.perf_counter``); :data:`START` sets :attr:`started`, :data:`END` sets
    :attr:`ended`. ``report``, when given, is called with ``b"started"``,
    ``b"reached"`` and ``b"end GOOD BYTES WRONG"`` as those happen (the peer process
    writes them to the bench).

    Args:
        expected: the messages the job sends.
        payload: what each of them holds.
        report: called with a line at each event (not per message).
    """

    def __init__(
        self, expected: int, payload: bytes, report: Callable[[bytes], object] | None = None
    ) -> None:
        self.expected = expected
        self.payload = payload
        self.size = len(payload)
        self.messages = 0
        self.bytes = 0
        self.wrong = 0
        self.reached_at = 0.0
        self.started = threading.Event()
        self.ended = threading.Event()
        self.report = report

    def add(self, data: bytes) -> None:
        """Count one message (or see a marker)."""
        if data == self.payload:
            self.messages += 1
            self.bytes += len(data)
            if self.messages == self.expected:
                self.reached_at = time.perf_counter()
                if self.report is not None:
                    self.report(b"reached")
        elif data == END:
            self.ended.set()
            if self.report is not None:
                self.report(b"end %d %d %d" % (self.messages, self.bytes, self.wrong))
        elif data == START:
            self.started.set()
            if self.report is not None:
                self.report(b"started")
        else:
            self.wrong += 1
            self.bytes += len(data)

    def _wait(self, event: threading.Event, marker: str, what: str) -> None:
        if not event.wait(_deadline(self.expected)):
            raise RuntimeError(
                f"{what}: the {marker} marker did not come in time ({self.messages} of "
                f"{self.expected} messages counted)"
            )

    def wait(self, what: str) -> None:
        """Wait for the end marker.

        Raises:
            RuntimeError: it did not come in time.
        """
        self._wait(self.ended, "end", what)

    def wait_started(self, what: str) -> None:
        """Wait for the start marker.

        Raises:
            RuntimeError: it did not come in time.
        """
        self._wait(self.started, "start", what)

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


def _start_reader(
    sock: socket.socket, counter: Counter, errors: list[BaseException], name: str
) -> threading.Thread:
    """Start a thread (``bench-tcp-raw-<name>``) running :func:`raw_read_loop` on
    ``sock`` into ``counter``; what it raises goes to ``errors``."""

    def run() -> None:
        try:
            raw_read_loop(sock, counter.add)
        except BaseException as exc:  # handed to the bench by _check_errors
            errors.append(exc)

    thread = threading.Thread(target=run, name=f"bench-tcp-raw-{name}", daemon=True)
    thread.start()
    return thread


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
        self._threads.append(_start_reader(sock, counter, self.errors, self.name))

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


# -- the jobs' send loops, side by side --------------------------------------------------------
# Each side sends with one loop in every job this process sends in (1, 2 and 4): ``n``
# messages on a ready connection, then the end marker; it returns the time.perf_counter()
# of its first send.
def raw_send(sock: socket.socket, payload: bytes, n: int) -> float:
    """Baseline: ``sock.sendall(prefix + payload)`` per message on a connected socket
    (job 1: the dialling one; job 2: the accepted one; job 4: the one connected to the
    peer process's reader)."""
    sendall, pack = sock.sendall, PREFIX.pack
    start = time.perf_counter()
    for _ in range(n):
        sendall(pack(len(payload)) + payload)
    sendall(pack(len(END)) + END)
    return start


def syncapi_send(sender: Any, payload: bytes, n: int) -> float:
    """syncapi: ``sender.send(payload)`` per message (jobs 1 and 4: a publisher; job 2:
    the connection ``consumer.accept()`` gave)."""
    send = sender.send
    start = time.perf_counter()
    for _ in range(n):
        send(payload)
    send(END)
    return start


def _syncapi_counting(counter: Counter) -> Callable[[Any], None]:
    """syncapi's receive callback: count the message (or see a marker)."""
    add = counter.add

    def on_message(env: Any) -> None:
        add(env.payload)

    return on_message


# -- the peer process (jobs 3 and 4) -----------------------------------------------------------
def peer_main(argv: list[str] | None = None) -> None:
    """The peer process of jobs 3 and 4 (run by :class:`PeerProcess`): plain sockets,
    doing what its standard input says, one line at a time.

    ``argv`` (default ``sys.argv[1:]``) holds the payload size. It writes ``ready``, then
    for each command:

    * ``send PORT N`` (job 3): connect to ``PORT`` on :data:`HOST` (``TCP_NODELAY``),
      send :data:`START`, wait for the line ``go``, then ``sendall(frame)`` ``N`` times
      (``frame``, the length prefix and the payload, made once), then :data:`END`;
      close the connection and write ``sent N``;
    * ``listen N`` (job 4): listen on :data:`HOST` (any free port) and write
      ``port PORT``; take one connection and read it with :func:`raw_read_loop` into a
      :class:`Counter` of ``N`` messages until the bench closes it; the counter writes
      ``started`` (:data:`START` came), ``reached`` (the ``N``-th message equal to the
      payload) and ``end GOOD BYTES WRONG`` (:data:`END` came: its counts).

    It ends at the end of its input.
    """
    args = sys.argv[1:] if argv is None else argv
    payload = Params(messages=1, size=int(args[0])).payload()
    frame = _frame(payload)
    commands = sys.stdin.buffer
    out = sys.stdout.fileno()

    def say(line: bytes) -> None:
        os.write(out, line + b"\n")

    say(b"ready")
    while line := commands.readline():
        command, *words = line.split()
        if command == b"send":
            port, n = int(words[0]), int(words[1])
            with socket.create_connection((HOST, port), timeout=_deadline(n)) as sock:
                sock.settimeout(None)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.sendall(_frame(START))
                if commands.readline().strip() != b"go":
                    return  # the bench gave up
                sendall = sock.sendall
                for _ in range(n):
                    sendall(frame)
                sendall(_frame(END))
            say(b"sent %d" % n)
        elif command == b"listen":
            n = int(words[0])
            counter = Counter(n, payload, report=say)
            with socket.create_server((HOST, 0)) as listener:
                listener.settimeout(_deadline(n))
                say(b"port %d" % listener.getsockname()[1])
                conn, _ = listener.accept()
            with conn:
                conn.settimeout(None)
                raw_read_loop(conn, counter.add)
        else:
            raise SystemExit(f"tcp bench peer: unknown command {line!r}")


class PeerProcess(bench_peer.PeerProcess):
    """The peer of jobs 3 and 4: a child Python process running :func:`peer_main`, the
    same for both sides, started (and ready) outside the clock and ended by
    :meth:`close` (or the ``with`` block); the commands of :func:`peer_main` as methods.

    Args:
        size: the payload size.
        messages: messages per job (bounds the waits).
    """

    def __init__(self, size: int, messages: int) -> None:
        self.size = size
        super().__init__(peer_main, [size], timeout=_deadline(messages), linger=5.0)

    # job 3
    def send_to(self, port: int, n: int) -> None:
        """Tell the process to connect to ``port`` and send :data:`START` (returns at
        once); :meth:`go` then has it send ``n`` messages and :data:`END`."""
        self._command("send", port, n)

    def go(self) -> float:
        """Tell the process to send its messages; the ``time.perf_counter()`` just before."""
        start = time.perf_counter()
        self._command("go")
        return start

    def wait_sent(self) -> None:
        """Wait until the process has sent what :meth:`send_to` asked for."""
        self._expect(b"sent")

    # job 4
    def listen(self, n: int) -> int:
        """Have the process listen and read ``n`` messages; the port it listens on."""
        self._command("listen", n)
        return int(self._expect(b"port").split()[1])

    def wait_started(self) -> None:
        """Wait until the process's reader counted :data:`START`."""
        self._expect(b"started")

    def counted(self, name: str, payload: bytes, n: int, start: float) -> Job:
        """Wait for the reader's counts after :data:`END` and make job ``name`` of them:
        its time runs from ``start`` to the moment the ``reached`` line came (``nan``
        when it did not: the counts then fail)."""
        either = "'reached' or 'end'"
        line = self._expect(b"", name=either)
        reached_at = 0.0
        if line == b"reached":
            reached_at = time.perf_counter()
            line = self._expect(b"end ", name="'end'")
        elif not line.startswith(b"end "):
            raise RuntimeError(f"{self.what} said {line!r}, not {either}")
        good, size, wrong = (int(word) for word in line.split()[1:])
        seconds = reached_at - start if reached_at else float("nan")
        return Job(name, n, len(payload), seconds, good, size, wrong)


# -- jobs 3 and 4, each side --------------------------------------------------------------------
def _peer_sends(peer: PeerProcess, counter: Counter) -> float:
    """Job 3 once the peer process was told to connect (:meth:`PeerProcess.send_to`)
    and the receiver counts into ``counter``: once :data:`START` was counted, ``go``
    (the start time, returned); then wait for :data:`END` and the peer's ``sent``."""
    counter.wait_started(RECEIVE)
    start = peer.go()
    counter.wait(RECEIVE)
    peer.wait_sent()
    return start


def receive_raw(peer: PeerProcess, payload: bytes, n: int) -> Job:
    """Baseline, job 3: a listening socket; the connection the peer process makes read by
    a :func:`raw_read_loop` thread, counting. Returns the job (not verified)."""
    counter = Counter(n, payload)
    errors: list[BaseException] = []
    with socket.create_server((HOST, 0)) as listener:
        listener.settimeout(_deadline(n))
        peer.send_to(listener.getsockname()[1], n)
        conn, _ = listener.accept()
    try:
        conn.settimeout(None)
        thread = _start_reader(conn, counter, errors, "receive")
        try:
            start = _peer_sends(peer, counter)
        finally:
            # the peer closed after END (the loop ends at the end of the stream); if the
            # job failed, this wakes the loop
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            thread.join(10.0)
    finally:
        conn.close()
    _check_errors(errors, "the raw receiver (job 3)")
    return Job.of(RECEIVE, counter, start)


def receive_syncapi(peer: PeerProcess, payload: bytes, n: int) -> Job:
    """syncapi, job 3: ``tcp.Consumer("tcp://127.0.0.1")`` and
    ``consumer.subscriber("bench").start(callback)`` (one worker), the callback counting
    the messages of the peer process's connection. Returns the job (not verified)."""
    from .. import tcp

    counter = Counter(n, payload)
    with tcp.Consumer(f"tcp://{HOST}") as consumer:
        subscriber = consumer.subscriber(CHANNEL)
        try:
            worker = subscriber.start(_syncapi_counting(counter))
            try:
                peer.send_to(consumer.address[1], n)
                start = _peer_sends(peer, counter)
            finally:
                _stop(worker, "the receive loop (job 3)")
        finally:
            subscriber.close()
    return Job.of(RECEIVE, counter, start)


def send_raw(peer: PeerProcess, payload: bytes, n: int) -> Job:
    """Baseline, job 4: a plain socket connected to the peer process's reader
    (``TCP_NODELAY``): :data:`START`, then :func:`raw_send`. Returns the job, counted
    by the peer (not verified)."""
    port = peer.listen(n)
    with socket.create_connection((HOST, port), timeout=30) as sock:
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(_frame(START))
        peer.wait_started()
        start = raw_send(sock, payload, n)
        return peer.counted(SEND, payload, n, start)


def send_syncapi(peer: PeerProcess, payload: bytes, n: int) -> Job:
    """syncapi, job 4: ``tcp.Producer("tcp://127.0.0.1:PORT").publisher("bench")``
    connected to the peer process's reader: :data:`START`, then
    :func:`syncapi_send`. Returns the job, counted by the peer (not verified)."""
    from .. import tcp

    port = peer.listen(n)
    with tcp.Producer(f"tcp://{HOST}:{port}") as producer:
        publisher = producer.publisher(CHANNEL)
        try:
            publisher.send(START)
            peer.wait_started()
            start = syncapi_send(publisher, payload, n)
            return peer.counted(SEND, payload, n, start)
        finally:
            publisher.close()


# -- one run of each side ---------------------------------------------------------------------
@dataclass(frozen=True)
class Job:
    """What one job's receiver counted, and the job's timed part.

    Attributes:
        name: the job (:data:`JOBS`).
        messages: messages the job was asked to send.
        size: their size in bytes.
        seconds: the timed part (``nan`` when the last message never came).
        received: messages equal to the payload the receiver counted.
        received_bytes: the bytes of every message it counted (the markers aside).
        wrong: messages it got that differ from the payload.
    """

    name: str
    messages: int
    size: int
    seconds: float
    received: int
    received_bytes: int
    wrong: int

    @classmethod
    def of(cls, name: str, counter: Counter, start: float) -> Job:
        """Job ``name`` from its receiver's counter and its start time."""
        return cls(
            name=name,
            messages=counter.expected,
            size=counter.size,
            seconds=counter.seconds(start),
            received=counter.messages,
            received_bytes=counter.bytes,
            wrong=counter.wrong,
        )

    @property
    def rate(self) -> float:
        """Messages per second."""
        return self.messages / self.seconds

    def problem(self) -> str | None:
        """What makes the job fail, or ``None``: counts other than exactly
        :attr:`messages` messages equal to the payload and nothing else, or no time."""
        n, total = self.messages, self.messages * self.size
        if (self.received, self.received_bytes, self.wrong) != (n, total, 0):
            return (
                f"the receiver counted {self.received} messages of {self.received_bytes} "
                f"bytes in all ({self.wrong} not the payload sent); expected {n} messages "
                f"of {total} bytes"
            )
        if not (self.seconds > 0 and math.isfinite(self.seconds)):
            return f"no time measured ({self.seconds})"
        return None


@dataclass(frozen=True)
class Measured:
    """What one side did in one run: its four jobs, counted by their receivers.

    Attributes:
        library: ``"raw socket"`` or ``"syncapi"``.
        forth: job 1, client -> server.
        back: job 2, server -> client.
        receive: job 3, from the peer process.
        send: job 4, to the peer process.
    """

    library: str
    forth: Job
    back: Job
    receive: Job
    send: Job

    @property
    def jobs(self) -> tuple[Job, Job, Job, Job]:
        """The four jobs, in run order."""
        return (self.forth, self.back, self.receive, self.send)

    def verify(self) -> None:
        """Raise :class:`RuntimeError` unless each job's receiver counted exactly its
        messages, each equal to the payload, and nothing else (:meth:`Job.problem`)."""
        problems = [f"{job.name}: {p}" for job in self.jobs if (p := job.problem())]
        if problems:
            raise RuntimeError(f"{self.library}: {'; '.join(problems)}")

    def sample(self) -> Sample:
        """The harness's sample of this run: the client -> server rate as its throughput,
        the other jobs' rates as :data:`EXTRA_BACK`, :data:`EXTRA_RECEIVE` and
        :data:`EXTRA_SEND`."""
        return Sample(
            messages=self.forth.messages,
            seconds=self.forth.seconds,
            extra={
                EXTRA_BACK: self.back.rate,
                EXTRA_RECEIVE: self.receive.rate,
                EXTRA_SEND: self.send.rate,
            },
        )


def _check_errors(errors: list[BaseException], what: str) -> None:
    if errors:
        raise RuntimeError(f"{what} failed: {errors[0]!r}") from errors[0]


def _stop(worker: Any, what: str) -> None:
    """Stop a receive loop; raise :class:`RuntimeError` if it had failed or a callback
    raised."""
    worker.stop()
    if worker.error is not None:
        raise RuntimeError(f"syncapi: {what} failed: {worker.error!r}") from worker.error
    if worker.failed:
        raise RuntimeError(f"syncapi: {what}: {worker.failed} callbacks raised (see the log)")


def _raw_pair_job(reader: Literal["server", "client"], counter: Counter, payload: bytes) -> float:
    """Baseline, job 1 (``reader="server"``) or job 2 (``"client"``) on a fresh
    :class:`RawPair`: that end's reader thread counts into ``counter``, the other end
    sends with :func:`raw_send`. Returns the start time.

    Raises:
        RuntimeError: the end marker did not come in time, or the reader failed.
    """
    pair = RawPair(reader)
    if reader == "server":
        receiving, sending, writer = pair.server, pair.client, "client"
    else:
        receiving, sending, writer = pair.client, pair.server, "server"
    try:
        pair.read(receiving, counter)
        start = raw_send(sending, payload, counter.expected)
        counter.wait(f"raw {writer} -> raw {reader}")
    finally:
        pair.close()
    _check_errors(pair.errors, f"the raw {reader}'s reader")
    return start


def measure_baseline(params: Params) -> Measured:
    """Raw sockets: jobs 1 and 2 on a fresh :class:`RawPair` each, jobs 3 and 4 with a
    :class:`PeerProcess`, with the receivers' counts (not verified: see
    :meth:`Measured.verify`)."""
    payload, n = params.payload(), params.messages
    forth, back = Counter(n, payload), Counter(n, payload)
    forth_start = _raw_pair_job("server", forth, payload)
    back_start = _raw_pair_job("client", back, payload)
    with PeerProcess(params.size, n) as peer:
        receive = receive_raw(peer, payload, n)
        send = send_raw(peer, payload, n)
    return Measured(
        "raw socket",
        Job.of(FORTH, forth, forth_start),
        Job.of(BACK, back, back_start),
        receive,
        send,
    )


def _syncapi_send_job(sender: Any, counter: Counter, payload: bytes, what: str) -> float:
    """syncapi, job 1 (``sender``: a publisher) or job 2 (the connection
    ``consumer.accept()`` gave): :func:`syncapi_send`, then wait until the receiver
    counting into ``counter`` saw :data:`END`; ``sender`` is closed after. Returns the
    start time.

    Raises:
        RuntimeError: the end marker did not come in time.
    """
    try:
        start = syncapi_send(sender, payload, counter.expected)
        counter.wait(what)
    finally:
        sender.close()
    return start


def measure_syncapi(params: Params) -> Measured:
    """syncapi ``tcp://``: jobs 1 and 2 between a producer's publishers and a fresh
    consumer, jobs 3 and 4 with a :class:`PeerProcess`, with the receivers' counts (not
    verified: see :meth:`Measured.verify`)."""
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
                forth_start = _syncapi_send_job(
                    producer.publisher(CHANNEL),
                    forth,
                    payload,
                    "syncapi publisher -> consumer subscriber",
                )
            finally:
                _stop(worker, "the server's receive loop")
        finally:
            subscriber.close()  # the next connection waits for accept()
        dialled = producer.publisher(CHANNEL)
        try:
            assert isinstance(dialled, tcp.Publisher)
            worker = dialled.subscriber.start(_syncapi_counting(back))
            try:
                back_start = _syncapi_send_job(
                    consumer.accept(timeout=30.0),
                    back,
                    payload,
                    "syncapi connection -> publisher subscriber",
                )
            finally:
                _stop(worker, "the client's receive loop")
        finally:
            dialled.close()
    with PeerProcess(params.size, n) as peer:
        receive = receive_syncapi(peer, payload, n)
        send = send_syncapi(peer, payload, n)
    return Measured(
        "syncapi", Job.of(FORTH, forth, forth_start), Job.of(BACK, back, back_start), receive, send
    )


def run_baseline(params: Params) -> Sample:
    """The baseline variant: raw sockets, the four jobs, verified."""
    run = measure_baseline(params)
    run.verify()
    return run.sample()


def run_syncapi(params: Params) -> Sample:
    """The syncapi variant: ``tcp://`` publishers and consumers, the four jobs, verified."""
    run = measure_syncapi(params)
    run.verify()
    return run.sample()


ENTRY = Entry(
    name="tcp",
    description=(
        "tcp:// vs raw sockets with the same 4-byte length framing: client -> server and "
        "server -> client in-process; receiving from and sending to a peer in another process"
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
