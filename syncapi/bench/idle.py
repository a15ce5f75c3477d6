"""Entry ``idle``: what idle subscribers cost — memory, threads, CPU, starting and closing.

An *idle subscriber* is what a user has after ``subscriber.start(callback)`` while no
message comes: a receive loop waiting. For each protocol the entry starts 1, then 10,
then 100 of them (``--messages N`` sets the largest level; the levels are 1, ``N // 10``
and ``N``: ``--messages 1000`` measures the issue's 1, 100 and 1,000), and after each
level measures in that process:

* **RSS growth** (``rss MiB @N``): ``VmRSS`` of ``/proc/self/status`` minus what it was
  before the first subscriber (modules imported, garbage collected), in MiB;
* **threads** (``threads @N``): ``threading.active_count()`` minus its value before;
  and at the largest level also the kernel's count (``OS threads @N``: ``Threads`` of
  ``/proc/self/status``, minus its value before), which would also see threads that
  Python does not;
* at the largest level: **idle CPU** (``idle CPU % @N``: the process's CPU time over
  :data:`IDLE_WINDOW` seconds of idling, in percent of one CPU), **time to start**
  (``start s @N``: every level's start-up summed, the first subscriber's connection or
  server included) and **time to close** (``close s @N``: from the close call until
  every thread the subscribers started has ended; a close that leaves a thread, an OS
  thread or a file descriptor behind fails the run).

Why 100 by default and not 1,000: at 1,000 the entry takes minutes (10 child processes
a round, each starting 1,000 threads and, for ws, making 1,000 WebSocket handshakes
against a server in the bench), against about 70 s at 100 with 5 rounds; the
per-subscriber costs already show at 100. ``--messages 1000`` gives the 1,000 figures
(see ``docs/benchmarks.md``).

Each measurement (one side, one protocol, all its levels) runs in a **fresh child
process** (``python -m syncapi.bench.idle --child SIDE PROTOCOL``: :class:`Child`), so
memory freed by one measurement is never reused by the next, and the levels grow in
place (1, then 9 more, then 90 more) without closing anything in between. A run starts
its children together (their Python start-ups overlap); once all are ready, each in
turn starts its subscribers and measures its levels; then all idle at once (each
measures its own process's CPU, so the windows may overlap); then each in turn closes
and writes its figures as one JSON line. The bench (the parent) hosts the peers a
client needs (a TCP or WebSocket server) and the Kafka topic, so the child holds only
the subscribers' side.

Per protocol, the subscriber and its baseline — the plainest code doing the same wait:

* ``memory``: one ``syncapi.consumer("memory://…")``, and per subscriber
  ``consumer.subscriber(f"idle-{i}").start(callback)`` (its own channel and queue).
  Baseline: a ``queue.Queue`` per subscriber, each read by a thread blocked in
  ``get()``. Close: ``consumer.close()`` / a ``None`` into each queue, then join.
* ``tcp``: the client side, a connection waiting for what the server pushes: one
  ``tcp.Producer(url)``, and per subscriber ``producer.publisher("idle")`` (a connection
  each) whose ``publisher.subscriber.start(callback)`` receives. Baseline: per
  subscriber a connected socket (``TCP_NODELAY``, as syncapi sets it) read by a thread
  running :func:`syncapi.bench.tcp.raw_read_loop`. The server is the bench's: it accepts
  and holds every connection on one thread (a selector) and closes each one when the
  client does. Close: ``producer.close()`` (graceful: each connection's end of stream,
  then the server's) / ``shutdown(SHUT_WR)`` on each socket, join the readers, close.
  (The server side — one ``tcp.Consumer`` per port, one subscriber each — is not
  measured: a listening port with no client is not what a user calls a subscriber.)
* ``udp``: per subscriber a ``udp.Consumer("udp://127.0.0.1")`` (one socket each, bound
  to a free port) whose ``consumer.subscriber("idle").start(callback)`` receives.
  Baseline: per subscriber a :class:`syncapi.bench.udp.RawReceiver` (a socket with the
  same 4 MiB receive buffer, read by a thread in ``recvfrom``). Close: each consumer's
  ``close()`` / each receiver's ``close()``.
* ``ws``: the client side: one ``ws.Producer(url)``, and per subscriber
  ``producer.publisher("idle")`` (a connection each) whose ``subscriber.start(callback)``
  receives. Baseline: per subscriber a websocket-client ``create_connection(url)`` read
  by a thread in ``ws.recv()``. The server is the bench's
  :class:`syncapi.bench.ws.RawServer` (wsproto, a thread per connection, in the bench
  process). Close: ``producer.close()`` / ``send_close()`` on each connection (the
  server answers, which ends the reader), join, ``shutdown()``.
* ``http``: an HTTP subscriber is a **route** of a consumer, waiting for requests: one
  ``http.Consumer()`` served by ``consumer.serve()`` (a werkzeug server), and per
  subscriber ``consumer.subscriber(f"idle/{i}").start(callback)``. Baseline: a Flask app
  on the same werkzeug server (``make_server(threaded=True)`` with syncapi's request
  handler) with one ``POST`` route per subscriber. Close: ``consumer.close()`` / the
  server's ``shutdown()``.
* ``kafka`` (when a broker is given): one ``syncapi.consumer(url)`` and per subscriber
  ``consumer.subscriber(topic).start(callback)`` (syncapi gives each subscriber its own
  ``KafkaConsumer``; no group, the default), all on one one-partition topic the bench
  makes. Baseline: per subscriber a kafka-python ``KafkaConsumer(topic, group_id=None)``
  polled by a thread (``poll(timeout_ms=500)`` in a loop). **At most 10 subscribers**
  (:data:`CAPS`; the levels are then 1 and 10): each ``KafkaConsumer`` connects,
  bootstraps and fetches metadata on its own, and syncapi's subscriber also waits for
  the topic's metadata (in 20 ms sleeps) and starts a keeper thread: on a loaded 2-CPU
  machine 100 took 6 s (kafka-python) and 54 s (syncapi) to start and 1 s and 22 s to
  close, minutes a round.
* ``amqp`` (when a broker is given): one ``syncapi.consumer(url)`` (one connection) and
  per subscriber ``consumer.subscriber(queue, bindings).start(callback)`` on an
  exclusive, auto-deleted queue of its own (a channel each). Baseline: one pika
  ``BlockingConnection`` with a channel per subscriber, each ``basic_consume`` on its
  own exclusive queue, and one thread running ``process_data_events()`` for all of
  them (channels are opened on that thread, through ``add_callback_threadsafe``: pika
  is not thread-safe). Exclusive queues vanish with the connection.

The broker protocols run when the broker is given: ``Params.options["kafka_url"]`` /
``["amqp_url"]``, else the environment variables of the ``kafka`` and ``amqp`` entries
(:data:`syncapi.bench.kafka.URL_ENV`, :data:`syncapi.bench.amqp.URL_ENV`) when those
entries' ``check()`` passes (the library is installed and the broker answers).
``Params.options["protocols"]`` (or :data:`PROTOCOLS_ENV`), a comma-separated list,
picks the protocols.

The sample: its throughput is the subscribers started per second (every protocol's
largest level over the summed times to start them); the figures above are its extras,
one set per protocol, named ``PROTOCOL: what @N``.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import json
import os
import queue
import selectors
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from . import http as bench_http
from . import kafka as bench_kafka
from . import peer as bench_peer
from . import tcp as bench_tcp
from . import udp as bench_udp
from . import ws as bench_ws
from .memory import QUEUE_SIZE
from .model import Entry, Metric, Params, Sample, Variant

__all__ = [
    "BASELINE",
    "BROKERLESS",
    "BROKERS",
    "CAPS",
    "CHANNEL",
    "CLOSE",
    "CPU",
    "DEFAULT_SUBSCRIBERS",
    "ENTRY",
    "HOST",
    "IDLE_WINDOW",
    "METRICS",
    "OS_THREADS",
    "PROTOCOLS",
    "PROTOCOLS_ENV",
    "RSS",
    "SETTLE",
    "SIDES",
    "START",
    "SYNCAPI",
    "THREADS",
    "Child",
    "HoldServer",
    "Level",
    "Measurement",
    "broker_url",
    "child_main",
    "kafka_topic",
    "key",
    "levels",
    "measure",
    "protocol_levels",
    "run_baseline",
    "run_syncapi",
    "selected_protocols",
]

DEFAULT_SUBSCRIBERS = 100
"""The largest level: idle subscribers per protocol (``--messages`` changes it)."""
BROKERLESS = ("memory", "tcp", "udp", "ws", "http")
"""The protocols measured without a broker, in run order."""
BROKERS = ("kafka", "amqp")
"""The protocols measured when their broker is given."""
PROTOCOLS = BROKERLESS + BROKERS
CAPS: Mapping[str, int] = {"kafka": 10}
"""The most subscribers per protocol, where fewer than the largest level (see the module
documentation)."""
BASELINE = "baseline"
SYNCAPI = "syncapi"
SIDES = (BASELINE, SYNCAPI)
HOST = "127.0.0.1"
CHANNEL = "idle"
"""The channel (path, queue prefix) of every subscriber."""
SETTLE = 0.05
"""Seconds to wait after each level's start-up before measuring: the new threads reach
their blocking call."""
IDLE_WINDOW = 5.0
"""Seconds of idling over which the largest level's CPU use is measured: syncapi's
``Subscriber.idle_wait``, the longest an idle loop sleeps, so that every loop that wakes
up on a timer is seen waking once (started together, they wake together: a shorter window
may see all of them or none, and the median swings between the two)."""
CLOSE_GRACE = 30.0
"""Seconds a close may take before the run fails (threads or descriptors left)."""
PROTOCOLS_ENV = "SYNCAPI_BENCH_IDLE_PROTOCOLS"
"""The environment variable that may name the protocols (``memory,tcp``)."""


# -- the figures -------------------------------------------------------------------------------
RSS = "rss MiB"
"""The RSS growth with ``n`` subscribers (``VmRSS``), in MiB."""
THREADS = "threads"
"""The threads added for ``n`` subscribers (``threading.active_count()``)."""
OS_THREADS = "OS threads"
"""The threads added for ``n`` subscribers (the kernel's count)."""
START = "start s"
"""The time to start ``n`` subscribers (every level's start-up summed), in seconds."""
CLOSE = "close s"
"""The time to close ``n`` subscribers, until every thread they started ended."""
CPU = "idle CPU %"
"""The CPU ``n`` idle subscribers use, in percent of one CPU."""


def key(protocol: str, what: str, n: int) -> str:
    """The extra key of figure ``what`` (:data:`RSS`, :data:`THREADS`...) of
    ``protocol`` with ``n`` subscribers: ``"tcp: rss MiB @100"``."""
    return f"{protocol}: {what} @{n}"


_UNITS = {
    RSS: Metric(unit="MiB", higher_is_better=False),
    THREADS: Metric(unit="threads", higher_is_better=False),
    OS_THREADS: Metric(unit="threads", higher_is_better=False),
    START: Metric(unit="s", higher_is_better=False),
    CLOSE: Metric(unit="s", higher_is_better=False),
    CPU: Metric(unit="%", higher_is_better=False),
}


class _Metrics(Mapping[str, Metric]):
    """The metric of every extra key of the entry, whatever its protocol and level: the
    key's middle part (``rss MiB`` in ``"tcp: rss MiB @1000"``) tells it. Iterating (what
    the runner copies) gives the keys of every power of ten from 1 to 10,000: the levels
    of a ``--messages`` that is one (the default, 100, and the issue's 1,000 included)."""

    def __getitem__(self, name: str) -> Metric:
        protocol, _, rest = name.partition(": ")
        what, at, n = rest.rpartition(" @")
        if protocol not in PROTOCOLS or not at or not n.isdigit() or what not in _UNITS:
            raise KeyError(name)
        return _UNITS[what]

    def _keys(self) -> list[str]:
        return [key(p, what, 10**power) for p in PROTOCOLS for what in _UNITS for power in range(5)]

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys())

    def __len__(self) -> int:
        return len(self._keys())


METRICS: Mapping[str, Metric] = _Metrics()
"""How to show each extra figure (MiB, threads, s, %; lower is better for all)."""


def levels(top: int) -> tuple[int, ...]:
    """The subscriber counts measured, growing: 1, ``top // 10`` and ``top``, once each."""
    if top < 1:
        raise ValueError(f"the largest level must be >= 1, got {top}")
    return tuple(sorted({1, max(1, top // 10), top}))


def protocol_levels(protocol: str, top: int) -> tuple[int, ...]:
    """:func:`levels` for ``protocol``, its largest one capped by :data:`CAPS`."""
    return levels(min(top, CAPS.get(protocol, top)))


@dataclass(frozen=True)
class Level:
    """What one level measured, cumulative since before the first subscriber.

    Attributes:
        subscribers: idle subscribers running.
        rss_kib: ``VmRSS`` then, in KiB.
        threads: ``threading.active_count()`` then.
        os_threads: the kernel's thread count then.
        start_seconds: the time this level's new subscribers took to start.
    """

    subscribers: int
    rss_kib: int
    threads: int
    os_threads: int
    start_seconds: float


@dataclass(frozen=True)
class Measurement:
    """One side's figures for one protocol (one child process).

    Attributes:
        side: :data:`BASELINE` or :data:`SYNCAPI`.
        protocol: one of :data:`PROTOCOLS`.
        rss_kib: ``VmRSS`` before the first subscriber, in KiB.
        threads: ``threading.active_count()`` before.
        os_threads: the kernel's thread count before.
        levels: each level's figures, growing.
        idle_cpu_percent: CPU used while the largest level idled, in percent of one CPU.
        close_seconds: the time the close took, until every thread had ended.
    """

    side: str
    protocol: str
    rss_kib: int
    threads: int
    os_threads: int
    levels: tuple[Level, ...]
    idle_cpu_percent: float
    close_seconds: float

    @property
    def top(self) -> Level:
        """The largest level."""
        return self.levels[-1]

    @property
    def start_seconds(self) -> float:
        """The time to start every subscriber of the largest level."""
        return sum(level.start_seconds for level in self.levels)

    def extra(self) -> dict[str, float]:
        """The sample's extra figures of this protocol (see the module documentation)."""
        p, top = self.protocol, self.top.subscribers
        out: dict[str, float] = {}
        for level in self.levels:
            out[key(p, RSS, level.subscribers)] = (level.rss_kib - self.rss_kib) / 1024
            out[key(p, THREADS, level.subscribers)] = float(level.threads - self.threads)
        out[key(p, OS_THREADS, top)] = float(self.top.os_threads - self.os_threads)
        out[key(p, START, top)] = self.start_seconds
        out[key(p, CLOSE, top)] = self.close_seconds
        out[key(p, CPU, top)] = self.idle_cpu_percent
        return out

    def to_json(self) -> str:
        """One JSON line (what the child process writes)."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Measurement:
        """The measurement of a child process's JSON line."""
        data = json.loads(text)
        data["levels"] = tuple(Level(**level) for level in data["levels"])
        return cls(**data)


# -- what a process holds ------------------------------------------------------------------------
def _status() -> tuple[int, int]:
    """``VmRSS`` (KiB) and ``Threads`` of ``/proc/self/status``."""
    rss = threads = -1
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("Threads:"):
                threads = int(line.split()[1])
    if rss < 0 or threads < 0:
        raise RuntimeError("/proc/self/status has no VmRSS or Threads line")
    return rss, threads


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


class Fleet(Protocol):
    """One side's idle subscribers of one protocol, in a child process."""

    def add(self, count: int) -> None:
        """Start ``count`` more idle subscribers (the first call also opens what they
        share: a consumer, a connection, a server)."""

    def close(self) -> None:
        """Close every subscriber and what they share; raise if one failed."""


def _ignore(message: object) -> None:
    """The callback of every idle subscriber (never called: nothing is sent)."""


def measure(
    fleet: Fleet,
    steps: Sequence[int],
    side: str,
    protocol: str,
    pause: Callable[[str], object] | None = None,
) -> Measurement:
    """Start ``fleet``'s subscribers level by level and measure each level, idle for
    :data:`IDLE_WINDOW` seconds measuring the CPU, close and measure the close; the
    figures. ``pause``, when given, is called with ``"up"`` before the idle window and
    with ``"idled"`` after it (the child process then waits for the bench's go).

    Raises:
        RuntimeError: a thread or a file descriptor the subscribers opened was left
            after the close.
    """
    gc.collect()
    rss, os_threads = _status()
    threads, fds = threading.active_count(), _fds()
    before = {thread.ident for thread in threading.enumerate()}
    done, measured = 0, []
    for n in steps:
        start = time.perf_counter()
        fleet.add(n - done)
        seconds = time.perf_counter() - start
        done = n
        time.sleep(SETTLE)
        gc.collect()
        level_rss, level_os_threads = _status()
        measured.append(Level(n, level_rss, threading.active_count(), level_os_threads, seconds))
    if pause is not None:
        pause("up")
    cpu_start, wall_start = time.process_time(), time.perf_counter()
    time.sleep(IDLE_WINDOW)
    wall = time.perf_counter() - wall_start
    cpu = 100.0 * (time.process_time() - cpu_start) / wall
    if pause is not None:
        pause("idled")
    start = time.perf_counter()
    fleet.close()
    deadline = start + CLOSE_GRACE
    while threading.active_count() > threads and time.perf_counter() < deadline:
        time.sleep(0.001)
    close_seconds = time.perf_counter() - start
    while (_status()[1] > os_threads or _fds() > fds) and time.perf_counter() < deadline:
        time.sleep(0.01)
    if threading.active_count() > threads or _status()[1] > os_threads or _fds() > fds:
        left = sorted({t.name for t in threading.enumerate() if t.ident not in before})
        raise RuntimeError(
            f"{side} {protocol}: the close left {threading.active_count() - threads} threads "
            f"({', '.join(left[:5])}), {_status()[1] - os_threads} OS threads "
            f"and {_fds() - fds} file descriptors behind"
        )
    return Measurement(
        side, protocol, rss, threads, os_threads, tuple(measured), cpu, close_seconds
    )


# -- the baselines (in the child process) -------------------------------------------------------
class _Threads:
    """A baseline whose subscribers are each a thing read by a thread of its own: make
    them with :meth:`_spawn`; :meth:`close` signals every thing (:meth:`_signal`),
    joins every thread, then releases every thing (:meth:`_release`)."""

    def __init__(self) -> None:
        self.things: list[Any] = []
        self.threads: list[threading.Thread] = []

    def _spawn(self, thing: Any, read: Callable[[Any], object], name: str) -> None:
        thread = threading.Thread(target=read, args=(thing,), name=name, daemon=True)
        thread.start()
        self.things.append(thing)
        self.threads.append(thread)

    def _signal(self, thing: Any) -> None:
        raise NotImplementedError

    def _release(self, thing: Any) -> None:
        """Hook: free ``thing`` once its thread has ended (default: nothing)."""

    def close(self) -> None:
        for thing in self.things:
            self._signal(thing)
        for thread in self.threads:
            thread.join(CLOSE_GRACE)
        for thing in self.things:
            self._release(thing)


def _read_queue(handoff: queue.Queue[bytes | None]) -> None:
    get = handoff.get
    while (item := get()) is not None:
        _ignore(item)


class _QueueThreads(_Threads):
    """memory's baseline: a ``queue.Queue`` per subscriber, a thread blocked in ``get()``."""

    def add(self, count: int) -> None:
        for _ in range(count):
            handoff: queue.Queue[bytes | None] = queue.Queue(maxsize=QUEUE_SIZE)
            self._spawn(handoff, _read_queue, "bench-idle-queue")

    def _signal(self, thing: Any) -> None:
        thing.put(None)


def _read_socket(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        bench_tcp.raw_read_loop(sock, _ignore)


class _SocketThreads(_Threads):
    """tcp's baseline: a connected socket per subscriber, read by a thread."""

    def __init__(self, peer: str) -> None:
        super().__init__()
        parts = urlsplit(peer)
        self.address = (str(parts.hostname), int(parts.port or 0))

    def add(self, count: int) -> None:
        for _ in range(count):
            sock = socket.create_connection(self.address, timeout=30)
            sock.settimeout(None)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._spawn(sock, _read_socket, "bench-idle-socket")

    def _signal(self, thing: Any) -> None:
        with contextlib.suppress(OSError):
            thing.shutdown(socket.SHUT_WR)  # the server closes: the reader sees the end

    def _release(self, thing: Any) -> None:
        thing.close()


def _read_websocket(ws: Any) -> None:
    with contextlib.suppress(Exception):  # the close, or a connection already gone
        while ws.recv() != "" or ws.connected:
            pass


class _WebSocketThreads(_Threads):
    """ws's baseline: a websocket-client connection per subscriber, read by a thread."""

    def __init__(self, peer: str) -> None:
        import websocket

        super().__init__()
        self.url = f"{peer}/{CHANNEL}"
        self._connect = websocket.create_connection

    def add(self, count: int) -> None:
        for _ in range(count):
            ws = self._connect(self.url, timeout=30)
            ws.settimeout(None)
            self._spawn(ws, _read_websocket, "bench-idle-websocket")

    def _signal(self, thing: Any) -> None:
        with contextlib.suppress(Exception):
            thing.send_close()  # the server answers with its close: the reader ends

    def _release(self, thing: Any) -> None:
        thing.shutdown()


class _DatagramReaders:
    """udp's baseline: a :class:`~syncapi.bench.udp.RawReceiver` per subscriber."""

    def __init__(self) -> None:
        self.receivers: list[bench_udp.RawReceiver] = []

    def add(self, count: int) -> None:
        for _ in range(count):
            receiver = bench_udp.RawReceiver(CHANNEL)
            self.receivers.append(receiver)
            receiver.start(bench_udp.Counter(b"", 1))

    def close(self) -> None:
        for receiver in self.receivers:
            receiver.close()


def _flask_route() -> tuple[str, int]:
    from flask import request

    request.get_data()
    return ("", 204)


class _FlaskRoutes:
    """http's baseline: a Flask app on a threaded werkzeug server, a route per subscriber."""

    def __init__(self) -> None:
        from flask import Flask
        from werkzeug.serving import make_server

        from ..wsgi import RequestHandler

        self.app = Flask("syncapi-bench-idle")
        self._make_server = make_server
        self._handler = RequestHandler
        self.server: Any = None
        self.thread: threading.Thread | None = None
        self.routes = 0

    def add(self, count: int) -> None:
        if self.server is None:
            self.server = self._make_server(
                HOST, 0, self.app, threaded=True, request_handler=self._handler
            )
            self.server.daemon_threads = True
            self.thread = threading.Thread(
                target=self.server.serve_forever,
                kwargs={"poll_interval": 0.1},  # as consumer.serve()
                name="bench-idle-flask",
                daemon=True,
            )
            self.thread.start()
        for _ in range(count):
            self.app.add_url_rule(
                f"/{CHANNEL}/{self.routes}",
                endpoint=f"idle{self.routes}",
                view_func=_flask_route,
                methods=["POST"],
            )
            self.routes += 1

    def close(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
        if self.thread is not None:
            self.thread.join(CLOSE_GRACE)


def _poll_kafka(pair: tuple[Any, threading.Event]) -> None:
    consumer, stop = pair
    while not stop.is_set():
        consumer.poll(timeout_ms=500)


class _KafkaPollers(_Threads):
    """kafka's baseline: a ``KafkaConsumer`` per subscriber, polled by a thread."""

    def __init__(self, url: str, topic: str) -> None:
        from kafka import KafkaConsumer

        super().__init__()
        self.topic = topic
        self.bootstrap = bench_kafka.bootstrap_servers(url)
        self.stop = threading.Event()
        self._make = KafkaConsumer

    def add(self, count: int) -> None:
        settings = dict(bench_kafka.RAW_CONSUMER_SETTINGS, auto_offset_reset="latest")
        for _ in range(count):
            consumer = self._make(
                self.topic,
                bootstrap_servers=self.bootstrap,
                client_id="syncapi-bench-idle",
                group_id=None,
                **settings,
            )
            self._spawn((consumer, self.stop), _poll_kafka, "bench-idle-kafka")

    def _signal(self, thing: Any) -> None:
        self.stop.set()

    def _release(self, thing: Any) -> None:
        thing[0].close(autocommit=False)


class _PikaChannels:
    """amqp's baseline: one pika ``BlockingConnection``, a channel consuming an exclusive
    queue per subscriber, one thread in ``process_data_events()`` for all of them
    (channels open on that thread: pika is not thread-safe)."""

    def __init__(self, url: str) -> None:
        import pika

        self._pika = pika
        self.url = url
        self.connection: Any = None
        self.thread: threading.Thread | None = None
        self.stopping = False
        self.queues = 0
        self.prefix = f"syncapi-bench-idle-{uuid.uuid4().hex[:12]}"

    def _run(self) -> None:
        while not self.stopping:
            self.connection.process_data_events(time_limit=None)

    def _on_loop(self, job: Callable[[], None]) -> None:
        """Run ``job`` on the connection's thread and wait for it."""
        done = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            try:
                job()
            except BaseException as exc:  # handed to the caller below
                errors.append(exc)
            finally:
                done.set()

        self.connection.add_callback_threadsafe(run)
        if not done.wait(CLOSE_GRACE):
            raise RuntimeError("pika's connection thread did not run a job in time")
        if errors:
            raise errors[0]

    def _consume(self, count: int) -> None:
        for _ in range(count):
            channel = self.connection.channel()
            name = f"{self.prefix}-{self.queues}"
            channel.queue_declare(name, exclusive=True, auto_delete=True)
            channel.basic_consume(name, lambda ch, method, props, body: None, auto_ack=False)
            self.queues += 1

    def add(self, count: int) -> None:
        if self.connection is None:
            params = self._pika.URLParameters(self.url)
            params.client_properties = {"connection_name": "syncapi-bench-idle"}
            self.connection = self._pika.BlockingConnection(params)
            self.thread = threading.Thread(target=self._run, name="bench-idle-pika", daemon=True)
            self.thread.start()
        self._on_loop(lambda: self._consume(count))

    def close(self) -> None:
        if self.connection is None:
            return

        def stop() -> None:
            self.stopping = True

        self._on_loop(stop)
        assert self.thread is not None
        self.thread.join(CLOSE_GRACE)
        self.connection.close()


# -- syncapi (in the child process) --------------------------------------------------------------
class _SyncapiFleet:
    """syncapi's side: subscribers made by :meth:`_subscriber`, each running
    ``start(callback)``; :meth:`close` closes what :meth:`_open` and :meth:`_subscriber`
    registered (consumers, producers), then checks every loop ended without an error."""

    def __init__(self, protocol: str, peer: str, url: str) -> None:
        self.protocol = protocol
        self.peer = peer
        self.url = url
        self.endpoint: Any = None
        self.closers: list[Any] = []
        self.workers: list[Any] = []
        self.memory_name = ""

    def _open(self) -> Any:
        """What every subscriber shares (``None``: nothing)."""
        import syncapi

        protocol = self.protocol
        endpoint: Any = None
        if protocol == "memory":
            self.memory_name = f"bench-idle-{uuid.uuid4().hex}"
            endpoint = syncapi.consumer(f"memory://{self.memory_name}")
        elif protocol in ("tcp", "ws"):
            endpoint = syncapi.producer(self.peer)
        elif protocol == "http":
            endpoint = syncapi.consumer(f"http://{HOST}/")
            endpoint.serve()
        elif protocol == "kafka":
            endpoint = syncapi.consumer(self.url, client_id="syncapi-bench-idle")
        elif protocol == "amqp":
            endpoint = syncapi.consumer(self.url, client_name="syncapi-bench-idle")
        if endpoint is not None:
            self.closers.append(endpoint)
        return endpoint

    def _subscriber(self, i: int) -> Any:
        protocol, endpoint = self.protocol, self.endpoint
        if protocol == "memory":
            return endpoint.subscriber(f"{CHANNEL}-{i}")
        if protocol in ("tcp", "ws"):
            return endpoint.publisher(CHANNEL).subscriber
        if protocol == "udp":
            import syncapi

            consumer = syncapi.consumer(f"udp://{HOST}")
            self.closers.append(consumer)
            return consumer.subscriber(CHANNEL)
        if protocol == "http":
            return endpoint.subscriber(f"{CHANNEL}/{i}")
        if protocol == "kafka":
            return endpoint.subscriber(self.peer)  # the topic the bench made
        from ..amqp import ChannelBindings, Queue

        name = f"syncapi-bench-idle-{uuid.uuid4().hex[:12]}-{i}"
        queue_ = Queue(name=name, durable=False, exclusive=True, auto_delete=True)
        return endpoint.subscriber(name, ChannelBindings(is_="queue", queue=queue_))

    def add(self, count: int) -> None:
        if not self.workers and self.endpoint is None:
            self.endpoint = self._open()
        for _ in range(count):
            subscriber = self._subscriber(len(self.workers))
            self.workers.append(subscriber.start(_ignore))

    def close(self) -> None:
        for closer in self.closers:
            closer.close()
        if self.memory_name:
            from .. import memory

            memory.reset(self.memory_name)
        failed = [w for w in self.workers if w.alive or w.error is not None]
        if failed:
            raise RuntimeError(
                f"syncapi {self.protocol}: {len(failed)} receive loops did not end cleanly: "
                f"{failed[0]!r} (error {failed[0].error!r})"
            )


def _fleet(side: str, protocol: str, peer: str, url: str) -> Fleet:
    """The fleet of ``side`` for ``protocol`` (its libraries imported, nothing opened)."""
    if side == SYNCAPI:
        return _SyncapiFleet(protocol, peer, url)
    if protocol == "memory":
        return _QueueThreads()
    if protocol == "tcp":
        return _SocketThreads(peer)
    if protocol == "udp":
        return _DatagramReaders()
    if protocol == "ws":
        return _WebSocketThreads(peer)
    if protocol == "http":
        return _FlaskRoutes()
    if protocol == "kafka":
        return _KafkaPollers(url, peer)
    return _PikaChannels(url)


_IMPORTS: Mapping[str, tuple[str, ...]] = {
    "ws": ("websocket",),
    "http": ("flask", "werkzeug.serving", "syncapi.wsgi"),
    "kafka": ("kafka",),
    "amqp": ("pika",),
}
"""What a baseline child imports before it says ``ready``, by protocol (syncapi's child
imports ``syncapi`` and ``syncapi.<protocol>``)."""


def _wait_for_go(phase: str) -> None:
    """The child's pause: say ``phase``, wait for the bench's ``go``."""
    print(phase, flush=True)
    if sys.stdin.readline().strip() != "go":
        raise SystemExit(f"the bench did not say go after {phase!r}")


def child_main(argv: Sequence[str] | None = None) -> None:
    """The child process (see :class:`Child`): ``python -m syncapi.bench.idle --child
    SIDE PROTOCOL``. It imports what the side's subscribers of ``PROTOCOL`` use and writes
    ``ready``; reads one request line on standard input (JSON: ``levels``, and ``peer``
    and ``url`` where the protocol needs them: a server's URL or the Kafka topic, the
    broker's URL); starts and measures the levels and writes ``up``; at the line ``go``
    idles (measuring the CPU) and writes ``idled``; at the next ``go`` closes and writes
    the :class:`Measurement` as one JSON line. By hand::

        printf '{"levels": [1, 10, 100]}\\ngo\\ngo\\n' |
            python -m syncapi.bench.idle --child syncapi memory
    """
    parser = argparse.ArgumentParser(prog="python -m syncapi.bench.idle")
    parser.add_argument("--child", nargs=2, metavar=("SIDE", "PROTOCOL"), required=True)
    side, protocol = parser.parse_args(argv).child
    if side not in SIDES or protocol not in PROTOCOLS:
        parser.error(f"unknown side or protocol: {side} {protocol}")
    imports = ("syncapi", f"syncapi.{protocol}") if side == SYNCAPI else _IMPORTS.get(protocol, ())
    for name in imports:
        importlib.import_module(name)
    print("ready", flush=True)
    request = json.loads(sys.stdin.readline())
    fleet = _fleet(side, protocol, str(request.get("peer", "")), str(request.get("url", "")))
    steps = [int(n) for n in request["levels"]]
    print(measure(fleet, steps, side, protocol, _wait_for_go).to_json(), flush=True)


# -- the bench's side -------------------------------------------------------------------------------
class HoldServer:
    """The peer of the tcp clients: a listening socket on :data:`HOST` that accepts every
    connection and holds it, unread but for the end of the stream, closing each one when
    its client closes; one thread, a selector.

    Attributes:
        url: ``tcp://HOST:PORT``.
    """

    def __init__(self) -> None:
        self.listener = socket.create_server((HOST, 0), backlog=1024)
        self.listener.setblocking(False)
        self.url = f"tcp://{HOST}:{self.listener.getsockname()[1]}"
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.listener, selectors.EVENT_READ)
        self.stopping = False
        self.thread = threading.Thread(target=self._run, name="bench-idle-hold", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopping:
            for key, _ in self.selector.select(0.05):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                if sock is self.listener:
                    with contextlib.suppress(BlockingIOError, ConnectionAbortedError):
                        conn, _ = sock.accept()
                        conn.setblocking(False)
                        self.selector.register(conn, selectors.EVENT_READ)
                    continue
                try:
                    data = sock.recv(65_536)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    self.selector.unregister(sock)
                    sock.close()

    def stop(self) -> None:
        """Stop, close every connection still held and the listening socket."""
        self.stopping = True
        self.thread.join(10.0)
        for key in list(self.selector.get_map().values()):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            sock.close()
        self.selector.close()


class Child:
    """A child process measuring one side's idle subscribers of one protocol (running
    :func:`child_main`): started, imports done, before the measurement is asked for, so
    that the bench can start every child of a run at once (their Python starts overlap)
    and then measure with one at a time. Ended by :meth:`close` (or the ``with`` block),
    killed if it lingers.

    Args:
        side: :data:`BASELINE` or :data:`SYNCAPI`.
        protocol: one of :data:`PROTOCOLS`.
    """

    def __init__(self, side: str, protocol: str) -> None:
        from .. import __file__ as package_file

        self.what = f"{side} {protocol}"
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "syncapi.bench.idle", "--child", side, protocol],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            bufsize=0,
            cwd=Path(package_file).resolve().parent.parent,  # -m finds this syncapi first
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self._stdin = self.process.stdin
        self._lines = bench_peer.Lines(self.process.stdout.fileno())
        self.steps: list[int] = [1]

    def _line(self, prefix: bytes, what: str, timeout: float) -> bytes:
        try:
            line = self._lines.read(timeout)
        except TimeoutError:
            line = b"(nothing in time)"
        if line is None or not line.startswith(prefix):
            self._stderr.seek(0)
            lines = self._stderr.read().decode(errors="replace").strip().splitlines()
            raise RuntimeError(
                f"{self.what}: the child process said {line!r}, not {what} (exit status "
                f"{self.process.poll()}): {' | '.join(lines[-4:])}"
            )
        return line

    def wait_ready(self) -> None:
        """Wait until the child has imported what it needs.

        Raises:
            RuntimeError: it failed or took over a minute.
        """
        self._line(b"ready", "ready", 60.0)

    def _timeout(self) -> float:
        return 120.0 + self.steps[-1] * 0.5

    def start(self, steps: Sequence[int], peer: str = "", url: str = "") -> None:
        """Have the child start its subscribers at ``steps`` (``peer``, ``url``: see
        :func:`child_main`) and measure each level; return once they all run.

        Raises:
            RuntimeError: the child failed (the end of its traceback says why) or hung.
        """
        self.steps = list(steps)
        request = {"levels": self.steps, "peer": peer, "url": url}
        self._stdin.write(json.dumps(request).encode() + b"\n")
        self._line(b"up", "up", self._timeout())

    def idle(self) -> None:
        """Have the child start its idle window (returns at once: see :meth:`idled`)."""
        self._stdin.write(b"go\n")

    def idled(self) -> None:
        """Wait for the end of the child's idle window."""
        self._line(b"idled", "idled", self._timeout())

    def finish(self) -> Measurement:
        """Have the child close its subscribers; its figures."""
        self._stdin.write(b"go\n")
        line = self._line(b"{", "its figures", self._timeout())
        return Measurement.from_json(line.decode())

    def measure(self, steps: Sequence[int], peer: str = "", url: str = "") -> Measurement:
        """:meth:`start`, :meth:`idle`, :meth:`idled` and :meth:`finish` in a row."""
        self.start(steps, peer, url)
        self.idle()
        self.idled()
        return self.finish()

    def close(self) -> None:
        """End the child (the end of its input) and wait for it; kill it if it lingers."""
        try:
            self.process.communicate(timeout=10.0)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.communicate()
        self._stderr.close()

    def __enter__(self) -> Child:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _broker_check(protocol: str) -> tuple[str, Callable[[], str | None]]:
    """The environment variable and the ``check`` of the ``kafka`` or ``amqp`` entry
    (imported here: the amqp entry's module is not light, and the child processes never
    need it)."""
    if protocol == "kafka":
        return bench_kafka.URL_ENV, bench_kafka.check
    from . import amqp as bench_amqp

    return bench_amqp.URL_ENV, bench_amqp.check


def broker_url(protocol: str, params: Params) -> str | None:
    """The broker of ``protocol`` (``"kafka"``, ``"amqp"``): ``params.options
    ["<protocol>_url"]``, else the ``kafka``/``amqp`` entry's environment variable when
    that entry's ``check()`` passes; ``None`` when there is none."""
    given = params.options.get(f"{protocol}_url")
    if given:
        return given
    env, check = _broker_check(protocol)
    return os.environ.get(env) if check() is None else None


_LIBRARY_CHECKS: Mapping[str, Callable[[], str | None]] = {
    "ws": bench_ws.check,
    "http": bench_http.check,
}


def selected_protocols(params: Params, env: str = PROTOCOLS_ENV) -> tuple[str, ...]:
    """The protocols a run measures: those ``params.options["protocols"]`` (or ``env``)
    names, else every brokerless one whose libraries are installed and every broker one
    whose broker is given.

    Raises:
        ValueError: an unknown protocol is named, or a broker one without its broker.
    """
    named = params.options.get("protocols") or os.environ.get(env, "")
    if named:
        chosen = tuple(p.strip() for p in named.split(",") if p.strip())
        unknown = [p for p in chosen if p not in PROTOCOLS]
        if unknown:
            raise ValueError(f"unknown protocol(s) {unknown}; known: {', '.join(PROTOCOLS)}")
        missing = [p for p in chosen if p in BROKERS and broker_url(p, params) is None]
        if missing:
            raise ValueError(
                f"no broker for {', '.join(missing)}: pass {missing[0]}_url in the options or "
                f"set {_broker_check(missing[0])[0]}"
            )
        return chosen
    chosen = tuple(
        p for p in BROKERLESS if p not in _LIBRARY_CHECKS or _LIBRARY_CHECKS[p]() is None
    )
    return chosen + tuple(p for p in BROKERS if broker_url(p, params) is not None)


@contextlib.contextmanager
def kafka_topic(url: str, what: str) -> Iterator[str]:
    """A fresh one-partition topic (``syncapi-bench-<what>-<random>``) on the broker at
    ``url``, deleted afterwards."""
    from kafka import KafkaAdminClient

    topic = f"syncapi-bench-{what}-{uuid.uuid4().hex[:12]}"
    admin = KafkaAdminClient(
        bootstrap_servers=bench_kafka.bootstrap_servers(url), client_id=f"syncapi-bench-{what}"
    )
    try:
        admin.create_topics({topic: {"num_partitions": 1}}, wait_for_metadata=True)
        yield topic
    finally:
        with contextlib.suppress(Exception):  # leftovers are harmless: fresh names
            admin.delete_topics([topic], raise_errors=False)
        admin.close()


@contextlib.contextmanager
def _peer(protocol: str, url: str) -> Iterator[str]:
    """What the bench hosts for ``protocol``'s clients, as the child needs it named: a
    TCP server's or a WebSocket server's URL, or a fresh Kafka topic's name."""
    if protocol == "tcp":
        server = HoldServer()
        try:
            yield server.url
        finally:
            server.stop()
    elif protocol == "ws":
        ws_server = bench_ws.RawServer({})
        try:
            yield ws_server.url
        finally:
            ws_server.stop()
    elif protocol == "kafka":
        with kafka_topic(url, "idle") as topic:
            yield topic
    else:
        yield ""


def _run(side: str, params: Params) -> Sample:
    """One run of ``side``: a child process per protocol, all started at once; then
    one at a time, each starts its subscribers level by level; then all idle at once
    (each measures its own CPU, so the windows may overlap); then one at a time, each
    closes."""
    protocols = selected_protocols(params)
    # the children end first (a failed run's connections with them), then the peers
    with contextlib.ExitStack() as peers, contextlib.ExitStack() as stack:
        children = [stack.enter_context(Child(side, protocol)) for protocol in protocols]
        for child in children:
            child.wait_ready()
        for protocol, child in zip(protocols, children, strict=True):
            url = (broker_url(protocol, params) or "") if protocol in BROKERS else ""
            peer = peers.enter_context(_peer(protocol, url))
            child.start(protocol_levels(protocol, params.messages), peer, url)
        for child in children:
            child.idle()
        for child in children:
            child.idled()
        results = [child.finish() for child in children]
    extra: dict[str, float] = {}
    for result in results:
        extra.update(result.extra())
    started = sum(result.top.subscribers for result in results)
    seconds = sum(result.start_seconds for result in results)
    return Sample(messages=started, seconds=seconds, extra=extra)


def run_baseline(params: Params) -> Sample:
    """The baseline variant: each protocol's plainest idle waiters, measured."""
    return _run(BASELINE, params)


def run_syncapi(params: Params) -> Sample:
    """The syncapi variant: each protocol's idle ``subscriber.start(callback)`` loops,
    measured."""
    return _run(SYNCAPI, params)


ENTRY = Entry(
    name="idle",
    description=(
        "idle subscribers (a running receive loop, nothing sent): RSS, threads, idle CPU, "
        "time to start and close 1, 10, 100 per protocol (--messages 1000: up to 1,000) vs the "
        "plainest waiting code"
    ),
    baseline=Variant(
        name="plain waiters",
        run=run_baseline,
        metric="start idle subscribers: subscribers/s",
    ),
    variants=(
        Variant(
            name="syncapi start()",
            run=run_syncapi,
            metric="start idle subscribers: subscribers/s",
        ),
    ),
    metrics=METRICS,
    default_messages=DEFAULT_SUBSCRIBERS,
    rate_unit="subscribers/s",
)
"""The ``idle`` entry of the harness."""


if __name__ == "__main__":
    child_main()
