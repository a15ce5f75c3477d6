"""Entry ``udp``: ``udp://`` against a raw socket loop doing the same job, on loopback.

No external server: each run binds its own receiving sockets on ``127.0.0.1`` (any free
port) and closes everything afterwards. Every datagram holds one ``size``-byte payload.
Both sides' receivers get the same receive buffer, :data:`RCVBUF` (4 MiB, ``udp://``'s
default ``rcvbuf``; the raw socket asks for it with ``SO_RCVBUF`` and, past
``net.core.rmem_max``, ``SO_RCVBUFFORCE``, as syncapi does), so both may hold as many
datagrams before the kernel drops any. Three jobs, each with a fresh receiver:

1. **in-process** (the table's main row): the bench's thread sends ``messages``
   datagrams as fast as it can, a receiver in the same process counts them —

   * baseline: a plain ``socket`` and ``sock.sendto(payload, addr)`` per datagram; the
     receiver, a thread running :func:`raw_receive_loop` (``recvfrom(65536)`` in a loop,
     each datagram compared with the payload and counted);
   * syncapi: ``udp.Producer(consumer.bound_url).publisher("bench")`` and
     ``publisher.send(payload)`` per message, to a
     ``udp.Consumer("udp://127.0.0.1", rcvbuf=RCVBUF)`` whose
     ``consumer.subscriber("bench")`` runs ``subscriber.start(callback)`` (one worker),
     the callback counting each message.

   Sender and receiver share this process's GIL, as they do when an application sends
   to itself.

2. **other process, stream** (the extra rows :data:`EXTRA_STREAM`): a sender *process*
   (:class:`SenderProcess`, a child Python started and spoken to by
   :mod:`syncapi.bench.peer`, running :func:`sender_main`: plain ``sendto`` in a loop;
   the same for both sides) sends ``messages`` datagrams as fast as it can while the
   receiver (the raw loop, or syncapi's consumer and callback) counts them. This is the
   usual deployment (the producer is another program), and the sender does not share
   the receiver's GIL (on two CPUs or more it may run on a CPU of its own). Timed from
   the command to the sender process to the last datagram counted.

3. **other process, drain** (the extra rows :data:`EXTRA_DRAIN`): the receiving side's
   speed alone. The receiver is running; a pause marker makes its counting callback
   block (so the raw loop, or syncapi's reader thread, stops reading); the sender
   process fills the socket's receive buffer with a burst of datagrams (as many as
   :func:`burst_size` says fit, well under the buffer); then the callback is released
   and the clock runs until the last datagram of the burst is counted. Bursts repeat
   until ``messages`` datagrams were sent; the rate is the datagrams counted over the
   summed drain times. Nothing sends while a burst drains, so this is the rate at which
   each receiver empties a backlog, sender excluded.

Before the clock starts, each job waits until its receiver counted a start marker (see
below), so every receive loop is running (syncapi's in its steady state: the reader
thread runs the callbacks of an idle one-worker loop itself).

What is timed, and why it is the datagrams *received*: UDP has no flow control, so a
receiver that falls behind does not slow the sender down; the kernel drops what does
not fit in the receive buffer. A rate of datagrams sent would flatter a slow receiver.
So each job's throughput is the datagrams that arrived intact over the time from the
first send (job 3: the release of the receiver) to the moment the receiver counted the
last of them (stamped on the receiving thread). Binding, starting the receive loops,
starting the sender process, the markers (below) and closing everything come outside
the clock.

Counting, not trusting: each receiver compares every datagram with the payload whole
(a ``memcmp``) and counts those equal to it and those that differ. After its datagrams,
each job sends an end marker (:data:`MARK`, which no payload equals), outside the clock,
**again every millisecond until the receiver saw it** (a marker may be dropped like any
datagram): loopback keeps one sender's datagrams in order, so once the receiver saw it,
every datagram sent before it was counted or lost. A run fails (:class:`RuntimeError`)
when a receiver counted a datagram that differs from the payload, more datagrams than
were sent, or none at all, or when a marker does not come in time. It does **not** fail
on loss, which UDP allows: the fraction delivered is reported per job
(:data:`EXTRA_DELIVERED`).
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from . import peer as bench_peer
from .model import Entry, Goal, Params, Sample, Variant

__all__ = [
    "BUFSIZE",
    "CHANNEL",
    "DEFAULT_MESSAGES",
    "ENTRY",
    "EXTRA_DELIVERED",
    "EXTRA_DRAIN",
    "EXTRA_STREAM",
    "HOST",
    "MARK",
    "MARK_INTERVAL",
    "RCVBUF",
    "Counter",
    "Job",
    "Measured",
    "RawReceiver",
    "Receiver",
    "SenderProcess",
    "SyncapiReceiver",
    "burst_size",
    "measure_baseline",
    "measure_syncapi",
    "raw_receive_loop",
    "raw_send",
    "run_baseline",
    "run_syncapi",
    "sender_main",
    "set_raw_receive_buffer",
    "syncapi_send",
]

DEFAULT_MESSAGES = 20_000
"""Datagrams per run of each job."""
HOST = "127.0.0.1"
"""Where every receiving socket binds (on any free port)."""
CHANNEL = "bench"
"""The channel name of syncapi's publisher and subscriber (UDP carries no name)."""
RCVBUF = 4 * 1024 * 1024
"""The receive buffer both sides' receiving sockets ask for: ``udp://``'s default
``rcvbuf`` (4 MiB; Linux reports twice that)."""
BUFSIZE = 65_536
"""Bytes the raw loop asks ``recvfrom`` for: more than any datagram, as ``udp://``'s
reader asks."""
MARK = b"\xffsyncapi-bench-"
"""The start of every marker datagram (end of a job, pause of a drain). It never equals
a payload of :meth:`Params.payload` (whose first byte is 0), so receivers tell them
apart; what follows it is the marker's tag (``b"end"``, ``b"pause-3"``...)."""
MARK_INTERVAL = 0.001
"""Seconds between two sends of a marker that the receiver has not seen yet."""

IN_PROCESS = "in-process"
STREAM = "other process, stream"
DRAIN = "other process, drain"
JOBS = (IN_PROCESS, STREAM, DRAIN)
"""The jobs' names, in run order."""
EXTRA_STREAM = f"{STREAM}: msg/s"
"""The extra figure of job 2 (datagrams received per second from a sender process)."""
EXTRA_DRAIN = f"{DRAIN}: msg/s"
"""The extra figure of job 3 (datagrams counted per second of draining a full buffer)."""
EXTRA_DELIVERED = {job: f"{job}: delivered %" for job in JOBS}
"""The extra figures of the share of each job's datagrams that arrived (100: none lost)."""


def _deadline(messages: int) -> float:
    """Seconds a job may take at most before it counts as hung (generous: 500 msg/s)."""
    return 30.0 + messages / 500.0


def burst_size(rcvbuf: int, size: int) -> int:
    """How many datagrams of ``size`` bytes one burst of the drain job sends: what a
    receive buffer the kernel reports as ``rcvbuf`` surely holds. On Linux a datagram
    takes its size rounded up to a power of two plus about 300 bytes of bookkeeping
    (2,304 bytes for 1 KiB), and ``rcvbuf`` counts that; ``2 * (size + 1024)`` per
    datagram stays well under (about 55 % of the buffer for 1 KiB)."""
    return max(1, rcvbuf // (2 * (size + 1024)))


class Counter:
    """What a job's receiver saw: datagrams equal to the payload, the others, and the
    markers.

    The receiver calls :meth:`add` once per datagram, from one thread at a time. Each
    good datagram stamps :attr:`last_at` (``time.perf_counter``). A marker's tag is
    recorded once (:meth:`wait_mark` waits for it); a tag that starts with ``b"pause"``
    blocks the receiving thread in :meth:`add` until :meth:`release`, if :meth:`hold`
    was called before it came.

    Args:
        payload: what every datagram of the job holds.
        messages: how many the job sends (bounds the waits).
    """

    def __init__(self, payload: bytes, messages: int) -> None:
        self.payload = payload
        self.messages = messages
        self.received = 0
        self.wrong = 0
        self.last_at = 0.0
        self.marks: set[bytes] = set()
        self._marked = threading.Condition(threading.Lock())
        self._gate: threading.Event | None = None

    def add(self, data: bytes) -> None:
        """Count one datagram (or take a marker)."""
        if data == self.payload:
            self.received += 1
            self.last_at = time.perf_counter()
        elif data[: len(MARK)] == MARK:
            self._mark(data[len(MARK) :])
        else:
            self.wrong += 1

    def _mark(self, tag: bytes) -> None:
        with self._marked:
            if tag in self.marks:
                return  # a repeat of a marker already seen
            self.marks.add(tag)
            self._marked.notify_all()
            gate = self._gate if tag.startswith(b"pause") else None
        if gate is not None:
            gate.wait(_deadline(self.messages))

    def hold(self) -> None:
        """Make the next new pause marker block the receiving thread until :meth:`release`."""
        with self._marked:
            self._gate = threading.Event()

    def release(self) -> None:
        """Let a receiving thread blocked by a pause marker go on (no-op when none is)."""
        with self._marked:
            gate, self._gate = self._gate, None
        if gate is not None:
            gate.set()

    def wait_mark(self, tag: bytes, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the marker ``tag``; whether it came."""
        with self._marked:
            return self._marked.wait_for(lambda: tag in self.marks, timeout)

    def seconds(self, start: float) -> float:
        """Time from ``start`` to the last good datagram (``nan`` when none came: the
        job then fails, see :meth:`Job.problem`)."""
        return self.last_at - start if self.received else float("nan")


def repeat_marker(send: Callable[[bytes], object], counter: Counter, tag: bytes, what: str) -> None:
    """Send the marker ``tag`` with ``send``, again every :data:`MARK_INTERVAL` seconds,
    until ``counter`` saw it.

    Raises:
        RuntimeError: it did not come in time.
    """
    marker = MARK + tag
    deadline = time.monotonic() + _deadline(counter.messages)
    while True:
        send(marker)
        if counter.wait_mark(tag, MARK_INTERVAL):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"{what}: the marker {tag.decode()!r} did not come in time ({counter.received} "
                f"of {counter.messages} datagrams counted)"
            )


# -- the raw side ------------------------------------------------------------------------------
def raw_receive_loop(sock: socket.socket, add: Callable[[bytes], object]) -> None:
    """The baseline's receiver: ``recvfrom`` in a loop, calling ``add`` with each
    datagram, until the socket is shut down (``recvfrom`` then gives no address)."""
    recvfrom = sock.recvfrom
    while True:
        data, addr = recvfrom(BUFSIZE)
        if addr is None:
            return
        add(data)


def set_raw_receive_buffer(sock: socket.socket, size: int) -> int:
    """Ask for a receive buffer of ``size`` bytes as ``udp://`` does: ``SO_RCVBUF``, then,
    when the kernel capped it (``net.core.rmem_max``), ``SO_RCVBUFFORCE`` where the
    process may (Linux, ``CAP_NET_ADMIN``). Return what the kernel reports."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
    got = int(sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))
    wanted = 2 * size if sys.platform.startswith("linux") else size
    force = getattr(socket, "SO_RCVBUFFORCE", 33 if sys.platform.startswith("linux") else None)
    if got < wanted and force is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, force, size)
            got = int(sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))
    return got


class Receiver(Protocol):
    """One job's receiving side: a socket bound on :data:`HOST`, and a receive loop
    feeding a :class:`Counter`."""

    @property
    def address(self) -> tuple[str, int]:
        """Where the socket is bound."""
        ...

    @property
    def rcvbuf(self) -> int:
        """Its receive buffer as the kernel reports it."""
        ...

    def start(self, counter: Counter) -> None:
        """Start receiving into ``counter``."""
        ...

    def close(self) -> None:
        """Stop receiving and close everything; raise :class:`RuntimeError` if the
        receive loop failed."""
        ...


class RawReceiver:
    """The baseline's receiver: a plain UDP socket bound on :data:`HOST` (any free port)
    with a receive buffer of :data:`RCVBUF`, read by a thread running
    :func:`raw_receive_loop`.

    Args:
        name: names the thread (``bench-udp-raw-<name>``).
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self._rcvbuf = set_raw_receive_buffer(self.sock, RCVBUF)
            self.sock.bind((HOST, 0))
        except BaseException:
            self.sock.close()
            raise
        host, port = self.sock.getsockname()[:2]
        self._address = (str(host), int(port))
        self._thread: threading.Thread | None = None
        self.errors: list[BaseException] = []

    @property
    def address(self) -> tuple[str, int]:
        """Where the socket is bound."""
        return self._address

    @property
    def rcvbuf(self) -> int:
        """The socket's receive buffer as the kernel reports it."""
        return self._rcvbuf

    def start(self, counter: Counter) -> None:
        """Start the reading thread, counting into ``counter``."""

        def run() -> None:
            try:
                raw_receive_loop(self.sock, counter.add)
            except BaseException as exc:  # handed to the bench by close()
                self.errors.append(exc)

        self._thread = threading.Thread(target=run, name=f"bench-udp-raw-{self.name}", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Shut the socket down (which ends a blocked ``recvfrom``), join the thread,
        close the socket; raise :class:`RuntimeError` if the loop failed."""
        with contextlib.suppress(OSError):  # an unconnected socket says ENOTCONN, and shuts
            self.sock.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(10.0)
        self.sock.close()
        if self.errors:
            error = self.errors[0]
            raise RuntimeError(f"the raw receive loop failed: {error!r}") from error


def raw_send(sock: socket.socket, addr: tuple[str, int], payload: bytes, n: int) -> float:
    """Baseline, job 1: ``sock.sendto(payload, addr)`` per datagram; the start time."""
    sendto = sock.sendto
    start = time.perf_counter()
    for _ in range(n):
        sendto(payload, addr)
    return start


# -- the syncapi side --------------------------------------------------------------------------
def _syncapi_counting(counter: Counter) -> Callable[[Any], None]:
    """syncapi's receive callback: count the datagram (or take a marker)."""
    add = counter.add

    def on_message(env: Any) -> None:
        add(env.payload)

    return on_message


class SyncapiReceiver:
    """syncapi's receiver: ``udp.Consumer("udp://127.0.0.1", rcvbuf=RCVBUF)`` (bound at
    once, on any free port), and ``consumer.subscriber("bench").start(callback)`` (one
    worker) counting."""

    def __init__(self) -> None:
        from .. import udp

        self.consumer = udp.Consumer(f"udp://{HOST}", rcvbuf=RCVBUF)
        self._worker: Any = None

    @property
    def address(self) -> tuple[str, int]:
        """Where the consumer's socket is bound."""
        return self.consumer.address

    @property
    def rcvbuf(self) -> int:
        """The consumer's receive buffer as the kernel reports it."""
        return self.consumer.receive_buffer

    def start(self, counter: Counter) -> None:
        """Start the subscriber's receive loop, the callback counting into ``counter``."""
        subscriber = self.consumer.subscriber(CHANNEL)
        self._worker = subscriber.start(_syncapi_counting(counter))

    def close(self) -> None:
        """Stop the receive loop and close the consumer; raise :class:`RuntimeError` if
        the loop failed or a callback raised."""
        worker, self._worker = self._worker, None
        try:
            if worker is not None:
                worker.stop()
        finally:
            self.consumer.close()
        if worker is None:
            return
        error = worker.error
        if error is not None:
            raise RuntimeError(f"syncapi: the receive loop failed: {error!r}") from error
        if worker.failed:
            raise RuntimeError(f"syncapi: {worker.failed} callbacks raised (see the log)")


def syncapi_send(publisher: Any, payload: bytes, n: int) -> float:
    """syncapi, job 1: ``publisher.send(payload)`` per message; the start time."""
    send = publisher.send
    start = time.perf_counter()
    for _ in range(n):
        send(payload)
    return start


# -- the sender process (jobs 2 and 3) ---------------------------------------------------------
def sender_main(argv: list[str] | None = None) -> None:
    """The sender process of jobs 2 and 3 (run by :class:`SenderProcess`): a plain UDP
    socket that sends on command, read from standard input one line at a time.

    ``argv`` (default ``sys.argv[1:]``) holds the payload size. It writes ``ready``,
    then for each command:

    * ``send PORT N``: ``sendto(payload, (HOST, PORT))`` ``N`` times, as fast as it can
      (the same loop as :func:`raw_send`), then writes ``sent N``;
    * ``mark PORT HEX``: sends the marker ``bytes.fromhex(HEX)`` every
      :data:`MARK_INTERVAL` seconds until the next line comes (``stop``), then writes
      ``marked K`` (how many it sent).

    It ends at the end of its input.
    """
    args = sys.argv[1:] if argv is None else argv
    payload = Params(messages=1, size=int(args[0])).payload()
    lines = bench_peer.Lines(sys.stdin.fileno())
    out = sys.stdout.fileno()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sendto = sock.sendto
        os.write(out, b"ready\n")
        while (line := lines.read()) is not None:
            command, port, arg = line.split()
            addr = (HOST, int(port))
            if command == b"send":
                n = int(arg)
                for _ in range(n):
                    sendto(payload, addr)
                os.write(out, b"sent %d\n" % n)
            elif command == b"mark":
                marker, count = bytes.fromhex(arg.decode()), 0
                while True:
                    sendto(marker, addr)
                    count += 1
                    if lines.ready(MARK_INTERVAL):
                        break
                lines.read()  # the "stop"
                os.write(out, b"marked %d\n" % count)
            else:
                raise SystemExit(f"sender: unknown command {line!r}")


class SenderProcess(bench_peer.PeerProcess):
    """The sender of jobs 2 and 3: a child Python process running :func:`sender_main`,
    the same for both sides, started (and ready) outside the clock and ended by
    :meth:`close` (or the ``with`` block).

    Args:
        size: the payload size.
        messages: datagrams per job (bounds the waits).
    """

    def __init__(self, size: int, messages: int) -> None:
        super().__init__(
            sender_main,
            [size],
            timeout=_deadline(messages),
            linger=10.0,
            what="the sender process",
        )

    def send(self, port: int, n: int) -> None:
        """Tell the process to send ``n`` datagrams to ``port`` (returns at once)."""
        self._command("send", port, n)

    def wait_sent(self) -> None:
        """Wait until the process has sent what :meth:`send` asked for."""
        self._expect(b"sent")

    def mark(self, port: int, counter: Counter, tag: bytes, what: str) -> None:
        """Have the process send the marker ``tag`` to ``port`` every
        :data:`MARK_INTERVAL` seconds until ``counter`` saw it.

        Raises:
            RuntimeError: it did not come in time.
        """
        self._command("mark", port, (MARK + tag).hex())
        try:
            if not counter.wait_mark(tag, self.timeout):
                raise RuntimeError(
                    f"{what}: the marker {tag.decode()!r} did not come in time "
                    f"({counter.received} of {counter.messages} datagrams counted)"
                )
        finally:
            self._command("stop", 0, 0)
            self._expect(b"marked")


# -- the jobs ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Job:
    """What one job's receiver counted.

    Attributes:
        name: the job (:data:`JOBS`).
        sent: datagrams sent (the markers aside).
        received: datagrams counted equal to the payload.
        wrong: datagrams counted that differ from it.
        seconds: the job's timed part (``nan`` when nothing arrived).
    """

    name: str
    sent: int
    received: int
    wrong: int
    seconds: float

    @property
    def delivered(self) -> float:
        """The share of the datagrams sent that arrived intact, in percent."""
        return 100.0 * self.received / self.sent

    @property
    def rate(self) -> float:
        """Datagrams received intact per second."""
        return self.received / self.seconds

    def problem(self) -> str | None:
        """What makes the job fail, or ``None``: a datagram that differs from the
        payload, more datagrams than were sent, or none at all. Loss is no problem."""
        if self.wrong:
            return f"{self.wrong} datagrams not the payload"
        if self.received > self.sent:
            return f"{self.received} datagrams counted, more than the {self.sent} sent"
        if not self.received:
            return f"none of the {self.sent} datagrams arrived"
        return None


def job_in_process(
    receiver: Receiver,
    send: Callable[[bytes], object],
    send_n: Callable[[int], float],
    payload: bytes,
    n: int,
) -> Job:
    """Job 1: start ``receiver``; ``send_n(n)`` sends ``n`` datagrams of ``payload`` from
    this thread (and returns the time of the first); then the end marker, with ``send``,
    until it came. Closes the receiver."""
    counter = Counter(payload, n)
    try:
        receiver.start(counter)
        repeat_marker(send, counter, b"start", IN_PROCESS)  # the receiver runs
        start = send_n(n)
        repeat_marker(send, counter, b"end", IN_PROCESS)
    finally:
        receiver.close()
    return Job(IN_PROCESS, n, counter.received, counter.wrong, counter.seconds(start))


def job_stream(receiver: Receiver, sender: SenderProcess, payload: bytes, n: int) -> Job:
    """Job 2: start ``receiver``; the sender process sends ``n`` datagrams to it, then
    the end marker until it came; close the receiver."""
    port = receiver.address[1]
    try:
        counter = Counter(payload, n)
        receiver.start(counter)
        sender.mark(port, counter, b"start", STREAM)  # the receiver runs
        start = time.perf_counter()
        sender.send(port, n)
        sender.wait_sent()
        sender.mark(port, counter, b"end", STREAM)
    finally:
        receiver.close()
    return Job(STREAM, n, counter.received, counter.wrong, counter.seconds(start))


def job_drain(receiver: Receiver, sender: SenderProcess, payload: bytes, n: int) -> Job:
    """Job 3: start ``receiver``; then, burst after burst of :func:`burst_size`
    datagrams until ``n`` were sent: block it with a pause marker, have the sender
    process fill its buffer, release it and time it until the burst's end marker came.
    Close the receiver."""
    port = receiver.address[1]
    counter = Counter(payload, n)
    burst = burst_size(receiver.rcvbuf, len(payload))
    seconds, left, number = 0.0, n, 0
    try:
        receiver.start(counter)
        sender.mark(port, counter, b"start", DRAIN)  # the receiver runs
        while left:
            number += 1
            count = min(burst, left)
            counter.hold()
            sender.mark(port, counter, b"pause-%d" % number, DRAIN)  # the receiver waits
            before = counter.received
            sender.send(port, count)
            sender.wait_sent()
            start = time.perf_counter()
            counter.release()
            sender.mark(port, counter, b"end-%d" % number, DRAIN)
            if counter.received > before:
                seconds += counter.last_at - start
            left -= count
    finally:
        counter.release()  # never leave the receiving thread blocked
        receiver.close()
    return Job(DRAIN, n, counter.received, counter.wrong, seconds or float("nan"))


# -- one run of each side ---------------------------------------------------------------------
@dataclass(frozen=True)
class Measured:
    """What one side did in one run: its three jobs, counted by its receivers.

    Attributes:
        library: ``"raw socket"`` or ``"syncapi"``.
        size: the payload size in bytes.
        rcvbuf: the receiving sockets' receive buffer as the kernel reported it.
        in_process: job 1.
        stream: job 2.
        drain: job 3.
    """

    library: str
    size: int
    rcvbuf: int
    in_process: Job
    stream: Job
    drain: Job

    @property
    def jobs(self) -> tuple[Job, Job, Job]:
        """The three jobs, in run order."""
        return (self.in_process, self.stream, self.drain)

    def verify(self) -> None:
        """Raise :class:`RuntimeError` if a job's receiver counted a datagram that differs
        from the payload, more than were sent, or none (see :meth:`Job.problem`)."""
        problems = [f"{job.name}: {p}" for job in self.jobs if (p := job.problem())]
        if problems:
            counts = "; ".join(f"{job.name} {job.received}/{job.sent}" for job in self.jobs)
            raise RuntimeError(f"{self.library}: {'; '.join(problems)} (received/sent: {counts})")

    def sample(self) -> Sample:
        """The harness's sample of this run: job 1's rate as its throughput, jobs 2 and
        3 as :data:`EXTRA_STREAM` and :data:`EXTRA_DRAIN`, each job's delivered share as
        :data:`EXTRA_DELIVERED`."""
        extra = {EXTRA_STREAM: self.stream.rate, EXTRA_DRAIN: self.drain.rate}
        extra.update({EXTRA_DELIVERED[job.name]: job.delivered for job in self.jobs})
        return Sample(
            messages=self.in_process.received, seconds=self.in_process.seconds, extra=extra
        )


def measure_baseline(params: Params) -> Measured:
    """Raw sockets: the three jobs, each with a fresh :class:`RawReceiver`, with the
    receivers' counts (not verified: see :meth:`Measured.verify`)."""
    payload, n = params.payload(), params.messages
    receiver = RawReceiver(IN_PROCESS)
    rcvbuf, addr = receiver.rcvbuf, receiver.address
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    except BaseException:
        receiver.close()
        raise
    with sock:
        in_process = job_in_process(
            receiver,
            lambda data: sock.sendto(data, addr),
            lambda count: raw_send(sock, addr, payload, count),
            payload,
            n,
        )
    with SenderProcess(params.size, n) as sender:
        stream = job_stream(RawReceiver(STREAM), sender, payload, n)
        drain = job_drain(RawReceiver(DRAIN), sender, payload, n)
    return Measured("raw socket", params.size, rcvbuf, in_process, stream, drain)


def measure_syncapi(params: Params) -> Measured:
    """syncapi ``udp://``: the three jobs, each with a fresh :class:`SyncapiReceiver`
    (job 1 sending with a ``udp.Producer``'s publisher), with the receivers' counts (not
    verified: see :meth:`Measured.verify`)."""
    from .. import udp

    payload, n = params.payload(), params.messages
    receiver = SyncapiReceiver()
    rcvbuf = receiver.rcvbuf
    try:
        producer = udp.Producer(receiver.consumer.bound_url)
    except BaseException:
        receiver.close()
        raise
    with producer:
        publisher = producer.publisher(CHANNEL)
        in_process = job_in_process(
            receiver,
            publisher.send,
            lambda count: syncapi_send(publisher, payload, count),
            payload,
            n,
        )
    with SenderProcess(params.size, n) as sender:
        stream = job_stream(SyncapiReceiver(), sender, payload, n)
        drain = job_drain(SyncapiReceiver(), sender, payload, n)
    return Measured("syncapi", params.size, rcvbuf, in_process, stream, drain)


def run_baseline(params: Params) -> Sample:
    """The baseline variant: raw sockets, the three jobs, verified."""
    run = measure_baseline(params)
    run.verify()
    return run.sample()


def run_syncapi(params: Params) -> Sample:
    """The syncapi variant: ``udp://`` publisher and consumers, the three jobs, verified."""
    run = measure_syncapi(params)
    run.verify()
    return run.sample()


ENTRY = Entry(
    name="udp",
    description=(
        "udp:// vs a raw recvfrom() loop (same 4 MiB buffer): datagrams received/s with the "
        "sender in-process and in another process, and draining a full buffer; loss reported"
    ),
    baseline=Variant(
        name="raw socket",
        run=run_baseline,
        metric="in-process: sendto() -> recvfrom() loop",
    ),
    variants=(
        Variant(
            name="syncapi udp://",
            run=run_syncapi,
            metric="in-process: send(payload)",
            goal=Goal(min_ratio=0.9),
        ),
    ),
    default_messages=DEFAULT_MESSAGES,
)
"""The ``udp`` entry of the harness."""
