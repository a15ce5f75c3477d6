"""Entry ``latency``: end-to-end latency at a fixed rate, per protocol.

For each protocol a sender in this process sends ``messages`` messages at a fixed rate
(:data:`DEFAULT_RATE`, 1,000 msg/s; ``Params.options["rate"]`` or :data:`RATE_ENV`
changes it) to a receiver in this process, each message carrying the
``time.perf_counter_ns()`` of its send in its first 8 bytes (then its number, 4 bytes;
the rest of the ``size``-byte payload as :meth:`Params.payload` makes it). The receive
callback takes ``perf_counter_ns()`` first thing and records ``now - sent``: one process,
one clock. Reported per protocol, in milliseconds: the **median** (``p50 ms``), the
**99th percentile** (``p99 ms``) and the **largest** (``max ms``) latency, and the share
of the messages that **arrived** (``arrived %``).

The pace: message ``i`` is due ``i / rate`` seconds after the first, on a
``perf_counter_ns`` schedule (no drift: a late send does not push the later ones back);
the sender sleeps until each is due and stamps it just before the send. A sender that
falls behind sends at once until it is on time again. The stamp is the actual send time,
so the latency is that of the transport and the receive path, not of the sender's
lateness. The protocols whose ``send`` waits for an answer — ``http`` (the HTTP
response), ``kafka`` (the broker's acknowledgement), ``amqp`` (the publisher confirm) —
run at a tenth of the rate with a tenth of the messages (:data:`SLOW`; the same number
of seconds), since one sender thread cannot hold 1,000 round trips a second there.

Before the clock: the receiver runs (its receive loop started, its connection made) and
:data:`WARMUP` warm-up messages went through (numbered apart, not counted). After the
last message: the reliable protocols wait until every message arrived (a missing one, a
duplicate or one of the wrong size fails the run); ``udp`` waits :data:`UDP_GRACE`
seconds for stragglers and reports its loss in ``arrived %``.

Sender and receiver, per protocol (syncapi's receiver is always
``subscriber.start(callback)`` with one worker, what a user writes):

* ``memory``: ``publisher.send(data)`` into ``memory://`` / baseline: ``put`` on a
  ``queue.Queue`` (bounded as ``memory://``'s queues), a thread in ``get()`` calling back;
* ``tcp``: ``tcp.Producer(consumer.bound_url).publisher("latency").send(data)`` to a
  ``tcp.Consumer`` / baseline: :class:`syncapi.bench.tcp.RawPair` (``TCP_NODELAY``),
  ``sendall(prefix + data)``, the server's socket read by
  :func:`syncapi.bench.tcp.raw_read_loop`;
* ``udp``: ``udp.Producer(consumer.bound_url)``'s publisher to a ``udp.Consumer`` /
  baseline: ``sendto`` to a :class:`syncapi.bench.udp.RawReceiver` (the same 4 MiB
  receive buffer);
* ``ws``: ``ws.Producer(server.url)``'s publisher to a ``ws.Consumer`` served by
  ``consumer.serve()`` / baseline: websocket-client ``send_binary`` to a
  :class:`syncapi.bench.ws.RawServer` (wsproto, a thread per connection);
* ``http``: ``http.Producer(server.url)``'s publisher (each ``send`` is a POST) to an
  ``http.Consumer`` served by ``consumer.serve()`` / baseline: ``requests.Session().post``
  to :class:`syncapi.bench.http.FlaskServer` (a Flask route on werkzeug); the latency is
  to the callback (the route), not to the response;
* ``kafka`` (when a broker is given): ``syncapi.producer(url, acks="all",
  linger_ms=0)``'s publisher to a subscriber on a fresh one-partition topic (assigned
  before the clock) / baseline: kafka-python ``KafkaProducer.send(...).get()`` with
  :data:`syncapi.bench.kafka.RAW_PRODUCER_SETTINGS`, a ``KafkaConsumer`` polled by a
  thread;
* ``amqp`` (when a broker is given): a confirmed ``publisher.send(data)`` to a queue a
  subscriber consumes / baseline: pika ``basic_publish`` on a channel in confirm mode
  (persistent, mandatory: syncapi's defaults), a second ``BlockingConnection`` on a
  thread consuming with ``basic_qos(prefetch_count=100)`` (syncapi's default prefetch)
  and an ack per message.

The broker protocols run when the broker is given, as in the ``idle`` entry
(:func:`syncapi.bench.idle.broker_url`); ``Params.options["protocols"]`` (or
:data:`PROTOCOLS_ENV`) picks the protocols.

The sample: its throughput is the messages sent over the summed sending times (about
the rate: it shows the pace held); the figures above are its extras, named
``PROTOCOL: p50 ms`` and so on.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import os
import queue
import socket
import struct
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from . import amqp as bench_amqp
from . import http as bench_http
from . import kafka as bench_kafka
from . import tcp as bench_tcp
from . import udp as bench_udp
from . import ws as bench_ws
from .idle import BROKERS, PROTOCOLS, broker_url, kafka_topic, selected_protocols
from .memory import QUEUE_SIZE
from .model import Entry, Metric, Params, Sample, Variant
from .stats import percentile

__all__ = [
    "CHANNEL",
    "DEFAULT_MESSAGES",
    "DEFAULT_RATE",
    "ENTRY",
    "HEADER",
    "HOST",
    "METRICS",
    "PROTOCOLS_ENV",
    "RATE_ENV",
    "SLOW",
    "UDP_GRACE",
    "WARMUP",
    "WARMUP_INDEX",
    "Recorder",
    "Result",
    "arrived_key",
    "max_key",
    "measure",
    "p50_key",
    "p99_key",
    "paced",
    "plan",
    "rate_of",
    "run_baseline",
    "run_syncapi",
]

DEFAULT_MESSAGES = 1_000
"""Messages per protocol (one second each at the default rate)."""
DEFAULT_RATE = 1_000.0
"""Messages per second the sender sends."""
RATE_ENV = "SYNCAPI_BENCH_LATENCY_RATE"
"""The environment variable that may set the rate (messages per second)."""
PROTOCOLS_ENV = "SYNCAPI_BENCH_LATENCY_PROTOCOLS"
"""The environment variable that may name the protocols (``memory,tcp``)."""
SLOW: Mapping[str, int] = {"http": 10, "kafka": 10, "amqp": 10}
"""Protocols whose ``send`` waits for a round trip: they run at ``rate / SLOW[p]`` with
``messages / SLOW[p]`` messages (at least one)."""
WARMUP = 20
"""Warm-up messages that must arrive before the clock starts."""
WARMUP_INDEX = 0xFFFF_FFFF
"""The number every warm-up message carries (a measured one carries its own, from 0)."""
UDP_GRACE = 0.5
"""Seconds ``udp`` waits for stragglers after its last send."""
HEADER = struct.Struct(">qI")
"""The head of every message: its send time (``perf_counter_ns``), its number."""
HOST = "127.0.0.1"
CHANNEL = "latency"
"""The channel (path, queue prefix) of every protocol's sender and receiver."""

Send = Callable[[bytes], object]
"""Sends one message."""


def p50_key(protocol: str) -> str:
    """The extra key of ``protocol``'s median latency."""
    return f"{protocol}: p50 ms"


def p99_key(protocol: str) -> str:
    """The extra key of ``protocol``'s 99th-percentile latency."""
    return f"{protocol}: p99 ms"


def max_key(protocol: str) -> str:
    """The extra key of ``protocol``'s largest latency."""
    return f"{protocol}: max ms"


def arrived_key(protocol: str) -> str:
    """The extra key of the share of ``protocol``'s messages that arrived."""
    return f"{protocol}: arrived %"


_MS = Metric(unit="ms", higher_is_better=False)
METRICS: Mapping[str, Metric] = {
    **{f(p): _MS for p in PROTOCOLS for f in (p50_key, p99_key, max_key)},
    **{arrived_key(p): Metric(unit="%", higher_is_better=True) for p in PROTOCOLS},
}
"""How to show each extra figure."""


def rate_of(params: Params) -> float:
    """The rate of a run: ``params.options["rate"]``, else :data:`RATE_ENV`, else
    :data:`DEFAULT_RATE`.

    Raises:
        ValueError: not a positive number.
    """
    text = params.options.get("rate") or os.environ.get(RATE_ENV) or str(DEFAULT_RATE)
    rate = float(text)
    if not rate > 0:
        raise ValueError(f"the rate must be a positive number of messages per second, got {text}")
    return rate


def plan(protocol: str, messages: int, rate: float) -> tuple[int, float]:
    """The messages and the rate of ``protocol`` in a run of ``messages`` at ``rate``
    (see :data:`SLOW`)."""
    share = SLOW.get(protocol, 1)
    return max(1, messages // share), rate / share


# -- sending and recording --------------------------------------------------------------------
def paced(send: Send, n: int, rate: float, size: int, *, warmup: bool = False) -> float:
    """Send ``n`` stamped messages of ``size`` bytes (at least :data:`HEADER`'s) with
    ``send`` at ``rate`` per second: message ``i`` is due ``i / rate`` s after the first
    (``perf_counter_ns``), stamped just before its send. Numbered from 0, or all
    :data:`WARMUP_INDEX` with ``warmup``. Returns the seconds from the first send to
    the end of the last."""
    buf = bytearray(Params(messages=1, size=max(size, HEADER.size)).payload())
    interval = 1e9 / rate
    pack, now, sleep = HEADER.pack_into, time.perf_counter_ns, time.sleep
    start = now()
    for i in range(n):
        wait = start + round(i * interval) - now()
        if wait > 0:
            sleep(wait / 1e9)
        pack(buf, 0, now(), WARMUP_INDEX if warmup else i)
        send(bytes(buf))
    return (now() - start) / 1e9


class Recorder:
    """The receiving side's record: each message's latency, by its number.

    :meth:`add` is the receive callback's body (any thread; one at a time per
    protocol, as every receiver here calls back one message at a time).

    Args:
        expected: the measured messages (numbered ``0 .. expected - 1``).
        size: the size each message has.
    """

    def __init__(self, expected: int, size: int) -> None:
        self.expected = expected
        self.size = max(size, HEADER.size)
        self.latencies: list[int] = []
        self.seen = bytearray(expected)
        self.duplicates = 0
        self.wrong = 0
        self.warm = 0
        self.warmed = threading.Event()
        self.done = threading.Event()

    def add(self, data: bytes) -> None:
        """Record one message: ``now - sent`` (ns), taken first thing."""
        now = time.perf_counter_ns()
        if len(data) != self.size:
            self.wrong += 1
            return
        sent, index = HEADER.unpack_from(data)
        if index == WARMUP_INDEX:
            self.warm += 1
            if self.warm >= WARMUP:
                self.warmed.set()
        elif index >= self.expected:
            self.wrong += 1
        elif self.seen[index]:
            self.duplicates += 1
        else:
            self.seen[index] = 1
            self.latencies.append(now - sent)
            if len(self.latencies) == self.expected:
                self.done.set()

    def on_envelope(self, env: Any) -> None:
        """syncapi's receive callback: record the envelope's payload."""
        self.add(env.payload)


def _warm_up(send: Send, recorder: Recorder, rate: float, size: int, what: str) -> None:
    """Send :data:`WARMUP` warm-up messages (again, while some were lost) until the
    receiver saw as many.

    Raises:
        RuntimeError: they did not come within 30 s.
    """
    deadline = time.monotonic() + 30.0
    while not recorder.warmed.is_set():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: {recorder.warm} of {WARMUP} warm-up messages came")
        paced(send, WARMUP, rate, size, warmup=True)
        recorder.warmed.wait(1.0)


@dataclass(frozen=True)
class Result:
    """One protocol's run on one side.

    Attributes:
        protocol: the protocol.
        sent: measured messages sent.
        seconds: the sending time, first send to last.
        latencies: the latency of each message that arrived, in ns, in arrival order.
    """

    protocol: str
    sent: int
    seconds: float
    latencies: tuple[int, ...]

    def extra(self) -> dict[str, float]:
        """The sample's extra figures of this protocol (ms; ``arrived %``)."""
        ms = [value / 1e6 for value in self.latencies]
        return {
            p50_key(self.protocol): percentile(ms, 50),
            p99_key(self.protocol): percentile(ms, 99),
            max_key(self.protocol): max(ms),
            arrived_key(self.protocol): 100.0 * len(ms) / self.sent,
        }


# -- the receivers and senders, each side --------------------------------------------------
# Each is a context manager that starts the receiver (recording into the recorder), yields
# the send function, and closes both afterwards.
_Pair = Callable[[Recorder, str], contextlib.AbstractContextManager[Send]]


class _Stamping:
    """A bench receiver's counter made to record latencies instead (its ``add``)."""

    recorder: Recorder

    def add(self, data: bytes) -> None:
        self.recorder.add(data)


class _TcpStamps(_Stamping, bench_tcp.Counter):
    pass


class _UdpStamps(_Stamping, bench_udp.Counter):
    pass


class _WsStamps(_Stamping, bench_ws.Counter):
    pass


class _HttpStamps(_Stamping, bench_http.Counter):
    pass


def _stamps(cls: Any, recorder: Recorder, *args: Any) -> Any:
    counter = cls(*args)
    counter.recorder = recorder
    return counter


def _read_queue(handoff: queue.Queue[bytes | None], add: Callable[[bytes], None]) -> None:
    get = handoff.get
    while (item := get()) is not None:
        add(item)


@contextlib.contextmanager
def _raw_memory(recorder: Recorder, url: str) -> Iterator[Send]:
    handoff: queue.Queue[bytes | None] = queue.Queue(maxsize=QUEUE_SIZE)
    thread = threading.Thread(
        target=_read_queue, args=(handoff, recorder.add), name="bench-latency-queue", daemon=True
    )
    thread.start()
    try:
        yield handoff.put
    finally:
        handoff.put(None)
        thread.join(10.0)


@contextlib.contextmanager
def _raw_tcp(recorder: Recorder, url: str) -> Iterator[Send]:
    pair = bench_tcp.RawPair("latency")
    try:
        pair.read(pair.server, _stamps(_TcpStamps, recorder, recorder.expected, b""))
        sendall, pack = pair.client.sendall, bench_tcp.PREFIX.pack
        yield lambda data: sendall(pack(len(data)) + data)
    finally:
        pair.close()
    if pair.errors:
        raise RuntimeError(f"the raw tcp reader failed: {pair.errors[0]!r}") from pair.errors[0]


@contextlib.contextmanager
def _raw_udp(recorder: Recorder, url: str) -> Iterator[Send]:
    receiver = bench_udp.RawReceiver("latency")
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            receiver.start(_stamps(_UdpStamps, recorder, b"", recorder.expected))
            sendto, address = sock.sendto, receiver.address
            yield lambda data: sendto(data, address)
    finally:
        receiver.close()


@contextlib.contextmanager
def _raw_ws(recorder: Recorder, url: str) -> Iterator[Send]:
    import websocket

    counter = _stamps(_WsStamps, recorder, recorder.expected, recorder.size)
    server = bench_ws.RawServer({f"/{CHANNEL}": counter})
    try:
        ws = websocket.create_connection(f"{server.url}/{CHANNEL}", timeout=30)
        try:
            yield ws.send_binary
        finally:
            ws.close()
    finally:
        server.stop()


@contextlib.contextmanager
def _raw_http(recorder: Recorder, url: str) -> Iterator[Send]:
    import requests

    server = bench_http.FlaskServer(_stamps(_HttpStamps, recorder))
    try:
        with requests.Session() as session:
            post, target = session.post, server.url

            def send(data: bytes) -> None:
                response = post(target, data=data)
                if response.status_code != 204:
                    raise RuntimeError(f"Flask answered {response.status_code}, not 204")

            yield send
    finally:
        server.stop()


def _poll_into(consumer: Any, add: Callable[[bytes], None], stop: threading.Event) -> None:
    while not stop.is_set():
        for records in consumer.poll(timeout_ms=100).values():
            for record in records:
                add(record.value)


@contextlib.contextmanager
def _raw_kafka(recorder: Recorder, url: str) -> Iterator[Send]:
    from kafka import KafkaConsumer, KafkaProducer

    bootstrap = bench_kafka.bootstrap_servers(url)
    with kafka_topic(url, "latency") as topic:
        consumer = KafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            client_id="syncapi-bench-latency",
            group_id=None,
            **bench_kafka.RAW_CONSUMER_SETTINGS,
        )
        stop = threading.Event()
        thread = threading.Thread(
            target=_poll_into, args=(consumer, recorder.add, stop), name="bench-latency-kafka"
        )
        try:
            deadline = time.monotonic() + 30.0
            while not consumer.assignment():  # as syncapi's wait_assigned() below
                if time.monotonic() > deadline:
                    raise RuntimeError("kafka-python consumer: no partition assigned in time")
                consumer.poll(timeout_ms=100)
            for partition in consumer.assignment():
                consumer.position(partition)
            thread.start()
            producer = KafkaProducer(
                bootstrap_servers=bootstrap,
                client_id="syncapi-bench-latency",
                **bench_kafka.RAW_PRODUCER_SETTINGS,
            )
            try:
                send = producer.send
                yield lambda data: send(topic, value=data).get()
            finally:
                producer.close()
        finally:
            stop.set()
            if thread.ident is not None:
                thread.join(10.0)
            consumer.close(autocommit=False)


def _pika_connection(url: str) -> Any:
    import pika

    parameters = pika.URLParameters(url)
    parameters.client_properties = {"connection_name": "syncapi-bench-latency"}
    return pika.BlockingConnection(parameters)


def _consume_pika(
    url: str, queue_name: str, add: Callable[[bytes], None], ready: threading.Event, box: list[Any]
) -> None:
    """The baseline's amqp receiver thread: its own connection, ``basic_qos``,
    ``basic_consume`` with an ack per message, ``process_data_events`` until told to
    stop (``box[0]`` becomes ``None``); what fails goes to ``box[1:]``."""
    try:
        connection = _pika_connection(url)
        try:
            channel = connection.channel()
            channel.basic_qos(prefetch_count=100)  # syncapi's default prefetch

            def on_message(ch: Any, method: Any, properties: Any, body: bytes) -> None:
                add(body)
                ch.basic_ack(method.delivery_tag)

            channel.basic_consume(queue_name, on_message)
            ready.set()
            while box[0] is not None:
                connection.process_data_events(time_limit=0.1)
        finally:
            connection.close()
    except BaseException as exc:  # handed to the bench
        box.append(exc)
        ready.set()


@contextlib.contextmanager
def _raw_amqp(recorder: Recorder, url: str) -> Iterator[Send]:
    import pika

    name = f"syncapi-bench-latency-{uuid.uuid4().hex[:12]}"
    box: list[Any] = [True]
    ready = threading.Event()
    thread = threading.Thread(
        target=_consume_pika,
        args=(url, name, recorder.add, ready, box),
        name="bench-latency-pika",
        daemon=True,
    )
    try:
        connection = _pika_connection(url)
        try:
            channel = connection.channel()
            channel.queue_declare(name, durable=False, auto_delete=False, exclusive=False)
            channel.confirm_delivery()
            thread.start()
            if not ready.wait(30.0) or len(box) > 1:
                raise RuntimeError(f"the pika consumer did not start: {box[1:]!r}")
            properties = pika.BasicProperties(delivery_mode=bench_amqp.DELIVERY_MODE)
            publish = channel.basic_publish
            yield lambda data: publish("", name, data, properties, bench_amqp.MANDATORY)
        finally:
            connection.close()
    finally:
        box[0] = None
        if thread.ident is not None:
            thread.join(10.0)
        bench_amqp.delete_queues(url, [name])
    if len(box) > 1:
        raise RuntimeError(f"the pika consumer failed: {box[1]!r}") from box[1]


@contextlib.contextmanager
def _syncapi_loop(subscriber: Any, recorder: Recorder, what: str) -> Iterator[None]:
    """Run ``subscriber``'s receive loop (one worker) recording into ``recorder``."""
    worker = subscriber.start(recorder.on_envelope)
    try:
        yield
    finally:
        bench_tcp._stop(worker, what)


@contextlib.contextmanager
def _syncapi_memory(recorder: Recorder, url: str) -> Iterator[Send]:
    import syncapi
    from syncapi import memory

    name = f"bench-latency-{uuid.uuid4().hex}"
    try:
        with (
            syncapi.producer(f"memory://{name}") as producer,
            syncapi.consumer(f"memory://{name}") as consumer,
            _syncapi_loop(consumer.subscriber(CHANNEL), recorder, "memory://"),
        ):
            yield producer.publisher(CHANNEL).send
    finally:
        memory.reset(name)


@contextlib.contextmanager
def _syncapi_bound(protocol: str, recorder: Recorder, url: str) -> Iterator[Send]:
    """``tcp``, ``udp``: a consumer bound on :data:`HOST`, a producer dialling its
    ``bound_url``."""
    module: Any = importlib.import_module(f"syncapi.{protocol}")
    with (
        module.Consumer(f"{protocol}://{HOST}") as consumer,
        module.Producer(consumer.bound_url) as producer,
        _syncapi_loop(consumer.subscriber(CHANNEL), recorder, f"{protocol}://"),
    ):
        yield producer.publisher(CHANNEL).send


@contextlib.contextmanager
def _syncapi_served(protocol: str, recorder: Recorder, url: str) -> Iterator[Send]:
    """``ws``, ``http``: a consumer on ``consumer.serve()``, a producer to its URL."""
    module: Any = importlib.import_module(f"syncapi.{protocol}")
    with (
        module.Consumer() as consumer,
        _syncapi_loop(consumer.subscriber(CHANNEL), recorder, f"{protocol}://"),
        module.Producer(consumer.serve().url) as producer,
    ):
        yield producer.publisher(CHANNEL).send


@contextlib.contextmanager
def _syncapi_kafka(recorder: Recorder, url: str) -> Iterator[Send]:
    import syncapi

    with (
        kafka_topic(url, "latency") as topic,
        syncapi.consumer(
            url, client_id="syncapi-bench-latency", auto_offset_reset="earliest"
        ) as consumer,
        syncapi.producer(url, client_id="syncapi-bench-latency", acks="all", linger_ms=0) as p,
    ):
        subscriber: Any = consumer.subscriber(topic)  # a syncapi.kafka Subscriber
        subscriber.wait_assigned(timeout=30.0)
        with _syncapi_loop(subscriber, recorder, "kafka://"):
            yield p.publisher(topic).send


@contextlib.contextmanager
def _syncapi_amqp(recorder: Recorder, url: str) -> Iterator[Send]:
    import syncapi
    from syncapi import amqp

    name = f"syncapi-bench-latency-{uuid.uuid4().hex[:12]}"
    queue_ = amqp.Queue(name=name, durable=False, auto_delete=False)
    bindings = amqp.ChannelBindings(is_="queue", queue=queue_)
    try:
        with (
            syncapi.consumer(url) as consumer,
            _syncapi_loop(consumer.subscriber(name, bindings), recorder, "amqp://"),
            syncapi.producer(url) as producer,
        ):
            yield producer.publisher(name, bindings).send
    finally:
        bench_amqp.delete_queues(url, [name])


_PAIRS: Mapping[str, Mapping[str, _Pair]] = {
    "baseline": {
        "memory": _raw_memory,
        "tcp": _raw_tcp,
        "udp": _raw_udp,
        "ws": _raw_ws,
        "http": _raw_http,
        "kafka": _raw_kafka,
        "amqp": _raw_amqp,
    },
    "syncapi": {
        "memory": _syncapi_memory,
        "tcp": functools.partial(_syncapi_bound, "tcp"),
        "udp": functools.partial(_syncapi_bound, "udp"),
        "ws": functools.partial(_syncapi_served, "ws"),
        "http": functools.partial(_syncapi_served, "http"),
        "kafka": _syncapi_kafka,
        "amqp": _syncapi_amqp,
    },
}
"""Each side's receiver-and-sender pair, by protocol."""


def _deadline(n: int, rate: float) -> float:
    """Seconds to wait for the last messages at most (generous)."""
    return 30.0 + 2.0 * n / rate


def measure(side: str, protocol: str, n: int, rate: float, size: int, url: str = "") -> Result:
    """Send ``n`` messages of ``protocol`` at ``rate`` on ``side`` (``"baseline"`` or
    ``"syncapi"``) and record their latencies.

    Raises:
        RuntimeError: a message of the wrong size, a duplicate, none arrived, or (but on
            ``udp``) not all arrived in time.
    """
    what = f"{side} {protocol}"
    recorder = Recorder(n, size)
    with _PAIRS[side][protocol](recorder, url) as send:
        _warm_up(send, recorder, rate, size, what)
        seconds = paced(send, n, rate, size)
        reliable = protocol != "udp"
        recorder.done.wait(_deadline(n, rate) if reliable else UDP_GRACE)
    got = len(recorder.latencies)
    if recorder.wrong or recorder.duplicates or not got or (reliable and got != n):
        raise RuntimeError(
            f"{what}: {got} of {n} messages arrived, {recorder.duplicates} twice and "
            f"{recorder.wrong} of another size or number"
        )
    return Result(protocol, n, seconds, tuple(recorder.latencies))


def _run(side: str, params: Params) -> Sample:
    rate = rate_of(params)
    sent, seconds = 0, 0.0
    extra: dict[str, float] = {}
    for protocol in selected_protocols(params, PROTOCOLS_ENV):
        n, protocol_rate = plan(protocol, params.messages, rate)
        url = (broker_url(protocol, params) or "") if protocol in BROKERS else ""
        result = measure(side, protocol, n, protocol_rate, params.size, url)
        extra.update(result.extra())
        sent += result.sent
        seconds += result.seconds
    return Sample(messages=sent, seconds=seconds, extra=extra)


def run_baseline(params: Params) -> Sample:
    """The baseline variant: each protocol's raw library or socket loop, paced."""
    return _run("baseline", params)


def run_syncapi(params: Params) -> Sample:
    """The syncapi variant: each protocol's publisher to a ``start()`` loop, paced."""
    return _run("syncapi", params)


ENTRY = Entry(
    name="latency",
    description=(
        f"end-to-end latency (p50/p99/max) at a fixed rate ({DEFAULT_RATE:,.0f} msg/s; "
        "http and brokers a tenth) per protocol vs the raw library or socket loop"
    ),
    baseline=Variant(
        name="raw libraries",
        run=run_baseline,
        metric="paced sends, all protocols: msg/s",
    ),
    variants=(
        Variant(
            name="syncapi start()",
            run=run_syncapi,
            metric="paced sends, all protocols: msg/s",
        ),
    ),
    metrics=METRICS,
    default_messages=DEFAULT_MESSAGES,
)
"""The ``latency`` entry of the harness."""
