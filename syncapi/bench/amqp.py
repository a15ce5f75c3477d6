"""Entry ``amqp``: ``amqp://`` against raw pika, with Kombu and FastStream alongside,
on a real RabbitMQ.

The baseline is raw pika; Kombu and FastStream are *alternatives* (other libraries a
user might pick instead of syncapi), which run in the same alternation and report the
same figures. Every side does the same jobs on the same broker, each on fresh
non-durable queues of its own (``durable=False, auto_delete=False``, deleted after the
run):

1. **publish with publisher confirms, one message per send** (the table's main row):
   ``messages`` messages of ``size`` bytes to a queue through the default exchange, each
   send waiting for the broker's confirm —

   * raw pika: a ``BlockingConnection`` channel in confirm mode
     (``channel.confirm_delivery()``), then ``channel.basic_publish(...)`` per message
     (it returns once the message is confirmed);
   * Kombu: ``Producer.publish(...)`` per message on a ``Connection`` with the transport
     option ``confirm_publish=True`` (Kombu's ``amqp://`` transport, py-amqp, then waits
     for each confirm);
   * FastStream: ``await broker.publish(...)`` per message on a ``RabbitBroker``, whose
     channels are in confirm mode by default (see :mod:`syncapi.bench.faststream`);
   * syncapi: ``publisher.send(publisher.envelope(payload))`` per message (it returns
     once the broker confirmed);

2. **publish 100 at a time** (:data:`EXTRA_BATCH`): syncapi's ``publisher.send(*100
   envelopes)``, one wait for all their confirms, and FastStream's ``asyncio.gather`` of
   100 ``publish()`` calls; raw pika's ``BlockingChannel`` in confirm mode cannot
   pipeline, so the baseline's figure here is its one-by-one rate, and Kombu (which waits
   for each confirm inside ``publish``) has none;

3. **consume with a per-message ack**, prefetch :data:`PREFETCH` on every side: a queue
   pre-filled with ``messages`` messages (by the same raw pika code for every side,
   before the clock starts) read until all were handled —

   * raw pika: a channel, ``queue_declare``, ``basic_qos(prefetch_count=PREFETCH)``,
     ``basic_consume`` with a callback that reads the body and calls ``basic_ack``,
     then ``process_data_events()`` until ``messages`` were handled;
   * Kombu: a channel and a ``Consumer`` with ``prefetch_count=PREFETCH`` (it declares
     the queue) whose ``on_message`` reads the body and calls ``message.ack()``, then
     ``consume()`` and ``connection.drain_events()`` until ``messages`` were handled;
   * FastStream: a ``@broker.subscriber`` handler with ``Channel(prefetch_count=PREFETCH)``
     and FastStream's default ack after the handler;
   * syncapi: a consumer made with ``prefetch=PREFETCH``, ``consumer.subscriber(...)``
     and ``subscriber.receive(callback, max_messages=messages)``, whose default
     ``ack="auto"`` acks each message after its callback returned.

Every message is published alike: the payload, ``delivery_mode`` 2 (persistent) and the
``mandatory`` flag — syncapi's producer defaults (``persistent=True``,
``mandatory=True``), which the other libraries set explicitly (persistence costs nothing
on a non-durable queue: RabbitMQ keeps such a queue's messages in memory anyway).

What is timed: publish, from the first send to the last confirm (envelope making
included: it is what a syncapi user writes); connecting, declaring the queue, confirm
mode and one warm-up message come before the clock. Consume, from opening the
consuming channel on a connected client to the last message handled and acked: the
channel, the queue's declaration, ``basic.qos`` and ``basic.consume`` are inside the
clock on every side, because syncapi's ``consumer.subscriber()`` does all four (and the
broker starts delivering as soon as it has); connecting, filling the queue and closing
are outside.

Counting, not trusting: after each run the broker is asked how many messages the publish
queue holds (it must be ``messages`` plus the warm-up one) and, once the consumer has
closed, how many the consume queue still holds (it must be none: every message was
acked); the callbacks count messages and payload bytes. A run whose counts are off
raises :class:`RuntimeError` and fails the benchmark.

The table: each variant's throughput is its publish rate (the main row, ``publish:
send(env)``; goal >= 0.95x raw pika), and its other figures are the extra rows
:data:`EXTRA_CONSUME` and :data:`EXTRA_BATCH`, each with syncapi's median, the
baseline's and their ratio, and the alternatives' medians beside them. The goals are
>= 0.95x raw pika and >= 1.0x Kombu on both jobs; the harness shows ``goal``/``met`` on
the main row against raw pika only.

The broker: ``Params.options["url"]``, else the environment variable :data:`URL_ENV`
(``amqp://user:password@host:port/vhost``), which ``python -m syncapi.bench amqp --url
amqp://guest:guest@127.0.0.1:5672/`` sets. ``python -m tests.services start amqp``
starts a broker and prints its URL.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .faststream import check_faststream_amqp, run_faststream_amqp
from .model import Entry, Goal, Params, Sample, Variant

__all__ = [
    "BATCH",
    "DEFAULT_MESSAGES",
    "DELIVERY_MODE",
    "ENTRY",
    "EXTRA_BATCH",
    "EXTRA_CONSUME",
    "MANDATORY",
    "NO_URL",
    "PREFETCH",
    "URL_ENV",
    "Measured",
    "Tally",
    "broker_url",
    "check",
    "check_kombu",
    "delete_queues",
    "fill",
    "kombu_consume",
    "kombu_publish",
    "measure_kombu",
    "measure_pika",
    "measure_syncapi",
    "queue_depth",
    "raw_consume",
    "raw_publish",
    "run_kombu",
    "run_pika",
    "run_syncapi",
    "sample_of",
    "syncapi_consume",
    "syncapi_publish",
    "syncapi_publish_batches",
]

URL_ENV = "SYNCAPI_BENCH_AMQP_URL"
"""The environment variable naming the broker (``amqp://user:password@host:port/vhost``)."""
NO_URL = (
    "no RabbitMQ broker given: pass --url amqp://USER:PASSWORD@HOST:PORT/ to "
    f"python -m syncapi.bench amqp, or set {URL_ENV}; "
    "`python -m tests.services start amqp` starts one and prints its URL"
)
"""The message given when the suite has no broker URL."""
DEFAULT_MESSAGES = 3_000
"""Messages per run of each job: one to three seconds per publish job at 1,000 to 3,000
msg/s, so that a round of all four sides (FastStream's the slowest, about 8 s) and the
whole entry (a warm-up and five timed rounds) stay within about two minutes."""
PREFETCH = 100
"""The prefetch (``basic.qos`` prefetch count) of every consumer, on all three sides."""
DELIVERY_MODE = 2
"""The ``delivery_mode`` of every message: persistent, syncapi's default."""
MANDATORY = True
"""The ``mandatory`` flag of every publish: syncapi's default."""

EXTRA_CONSUME = "consume msg/s"
"""The extra figure of the consume job (messages per second), in every side's samples."""

EXTRA_BATCH = "publish: 100 at a time msg/s"
"""Publishing :data:`BATCH` messages at a time: syncapi's ``send`` of :data:`BATCH`
envelopes (one wait for all their confirms), FastStream's ``asyncio.gather`` of
:data:`BATCH` ``publish()`` calls. Raw pika's ``BlockingChannel`` in confirm mode cannot
pipeline, so the baseline's figure is its one-at-a-time publish rate (what a caller that
has several messages at once gains over it); Kombu's samples leave the key out."""
BATCH = 100
"""Messages per ``send`` call (or per ``gather``) in the :data:`EXTRA_BATCH` job."""

_WARMUP = 1  # messages published before the clock starts, on every side
_CLIENT_NAME = "syncapi-bench"
_DEFAULT_PORT = 5672


# -- the libraries, imported when used ----------------------------------------------------
def _pika() -> Any:
    import pika

    return pika


def _kombu() -> Any:
    import kombu

    return kombu  # used untyped, like pika: only a handful of calls


# -- the broker -----------------------------------------------------------------------------
def _host_port(url: str) -> tuple[str, int]:
    """The host and port of an ``amqp://`` URL (port 5672 by default).

    Raises:
        ValueError: not such a URL.
    """
    parts = urlsplit(url)
    if parts.scheme != "amqp" or not parts.hostname:
        raise ValueError(f"not an amqp://USER:PASSWORD@HOST:PORT/VHOST URL: {url!r}")
    return parts.hostname, parts.port or _DEFAULT_PORT


def broker_url(params: Params) -> str:
    """The broker URL of a run: ``params.options["url"]``, else :data:`URL_ENV`.

    Raises:
        RuntimeError: neither is set (the message says how to start a broker).
    """
    url = params.options.get("url") or os.environ.get(URL_ENV)
    if not url:
        raise RuntimeError(NO_URL)
    return url


def check() -> str | None:
    """Why the entry cannot run here (pika missing, no broker), or ``None``."""
    try:
        _pika()
    except ImportError:
        return "pika is not installed (pip install 'syncapi[amqp]')"
    url = os.environ.get(URL_ENV)
    if not url:
        return NO_URL
    try:
        host, port = _host_port(url)
    except ValueError as exc:
        return f"{URL_ENV}: {exc}"
    try:
        with socket.create_connection((host, port), timeout=3.0):
            pass
    except OSError as exc:
        return (
            f"no RabbitMQ broker answers at {url} ({exc}); "
            "`python -m tests.services start amqp` starts one and prints its URL"
        )
    return None


def check_kombu() -> str | None:
    """Why the Kombu alternative cannot run here (Kombu missing), or ``None``."""
    try:
        _kombu()
    except ImportError as exc:
        return f"kombu is not installed: pip install 'kombu>=5.3,<6' ({exc})"
    return None


def _deadline(messages: int) -> float:
    """Seconds a job may take at most before it counts as hung (generous: 20 msg/s)."""
    return 60.0 + messages / 20.0


def _queue_name(side: str, job: str) -> str:
    return f"syncapi-bench-{side}-{job}-{uuid.uuid4().hex[:12]}"


def _pika_connection(url: str, name: str) -> Any:
    pika = _pika()
    parameters = pika.URLParameters(url)
    parameters.client_properties = {"connection_name": f"{_CLIENT_NAME}-{name}"}
    return pika.BlockingConnection(parameters)


def _declare(channel: Any, queue: str) -> None:
    """Declare the suite's kind of queue: non-durable, not auto-deleted, not exclusive."""
    channel.queue_declare(queue, durable=False, auto_delete=False, exclusive=False)


def queue_depth(url: str, queue: str) -> int:
    """How many ready messages the broker holds in ``queue`` (a passive declare on a
    connection of its own)."""
    connection = _pika_connection(url, "count")
    try:
        ok = connection.channel().queue_declare(queue, passive=True)
        return int(ok.method.message_count)
    finally:
        connection.close()


def fill(url: str, queue: str, payload: bytes, n: int) -> None:
    """Declare ``queue`` and put ``n`` messages of ``payload`` in it with raw pika (no
    confirms: the broker's queue depth is polled until it holds all ``n``). Untimed, and
    the same for every side's consume job.

    Raises:
        RuntimeError: the queue did not reach ``n`` messages in time.
    """
    pika = _pika()
    properties = pika.BasicProperties(delivery_mode=DELIVERY_MODE)
    connection = _pika_connection(url, "fill")
    try:
        channel = connection.channel()
        _declare(channel, queue)
        for _ in range(n):
            channel.basic_publish("", queue, payload, properties)
        deadline = time.monotonic() + _deadline(n)
        while True:
            depth = int(channel.queue_declare(queue, passive=True).method.message_count)
            if depth == n:
                return
            if depth > n or time.monotonic() > deadline:
                raise RuntimeError(f"filling {queue}: the queue holds {depth} messages, not {n}")
            time.sleep(0.01)
    finally:
        connection.close()


def delete_queues(url: str, queues: list[str]) -> None:
    """Delete a run's queues (best effort: a failed run may not have made them all)."""
    try:
        connection = _pika_connection(url, "cleanup")
    except Exception:  # leftovers are harmless: every run uses fresh names
        return
    try:
        for queue in queues:
            # a channel per queue: a queue that is missing closes its channel
            with contextlib.suppress(Exception):
                connection.channel().queue_delete(queue)
    finally:
        with contextlib.suppress(Exception):
            connection.close()


# -- the jobs, side by side ------------------------------------------------------------------
# Each takes a ready client (connected, queue declared, warmed up) and returns the seconds
# taken by the timed part.


# 1. publish, confirmed, one message per send
def raw_publish(channel: Any, queue: str, payload: bytes, n: int) -> float:
    """Raw pika: ``channel.basic_publish(...)`` per message on a channel in confirm mode
    (each call returns once the broker confirmed)."""
    properties = _pika().BasicProperties(delivery_mode=DELIVERY_MODE)
    publish = channel.basic_publish
    start = time.perf_counter()
    for _ in range(n):
        publish("", queue, payload, properties, MANDATORY)
    return time.perf_counter() - start


def kombu_publish(producer: Any, queue: str, payload: bytes, n: int) -> float:
    """Kombu: ``producer.publish(...)`` per message on a connection with
    ``confirm_publish=True`` (each call returns once the broker confirmed)."""
    publish = producer.publish
    start = time.perf_counter()
    for _ in range(n):
        publish(payload, routing_key=queue, delivery_mode=DELIVERY_MODE, mandatory=MANDATORY)
    return time.perf_counter() - start


def syncapi_publish(publisher: Any, payload: bytes, n: int) -> float:
    """syncapi: ``publisher.send(publisher.envelope(payload))`` per message (it returns
    once the broker confirmed)."""
    send, envelope = publisher.send, publisher.envelope
    start = time.perf_counter()
    for _ in range(n):
        send(envelope(payload))
    return time.perf_counter() - start


def syncapi_publish_batches(publisher: Any, payload: bytes, n: int) -> float:
    """syncapi: ``publisher.send(*envelopes)`` with :data:`BATCH` envelopes per call
    (the last call takes what is left), each call returning once all its messages are
    confirmed."""
    envelopes = [publisher.envelope(payload) for _ in range(min(BATCH, n))]
    send = publisher.send
    start = time.perf_counter()
    for first in range(0, n, BATCH):
        send(*envelopes[: min(BATCH, n - first)])
    return time.perf_counter() - start


# 2. consume, one ack per message
class Tally:
    """What a consume job saw, filled in by its callback.

    Attributes:
        messages: messages handled.
        size: payload bytes read.
    """

    def __init__(self) -> None:
        self.messages = 0
        self.size = 0

    def add(self, body: bytes) -> None:
        """Count one message with payload ``body``."""
        self.messages += 1
        self.size += len(body)


def raw_consume(connection: Any, queue: str, n: int, tally: Tally) -> float:
    """Raw pika: open a channel, declare the queue, ``basic_qos``, ``basic_consume`` with
    a callback that reads the body and calls ``basic_ack``, then
    ``process_data_events()`` until ``n`` were handled — all of it timed."""

    def on_message(ch: Any, method: Any, properties: Any, body: bytes) -> None:
        tally.add(body)
        ch.basic_ack(method.delivery_tag)

    deadline = time.monotonic() + _deadline(n)
    process = connection.process_data_events
    start = time.perf_counter()
    channel = connection.channel()
    _declare(channel, queue)
    channel.basic_qos(prefetch_count=PREFETCH)
    channel.basic_consume(queue, on_message)
    while tally.messages < n:
        if time.monotonic() > deadline:
            raise RuntimeError(f"raw pika consumer: {tally.messages} of {n} messages in time")
        process(time_limit=1.0)
    return time.perf_counter() - start


def kombu_consume(connection: Any, queue: str, n: int, tally: Tally) -> float:
    """Kombu: open a channel, make a ``Consumer`` with ``prefetch_count=PREFETCH``
    (it declares the queue and sets the qos) whose ``on_message`` reads the body and
    calls ``message.ack()``, ``consume()``, then ``connection.drain_events()`` until
    ``n`` were handled — all of it timed."""
    kombu = _kombu()

    def on_message(message: Any) -> None:
        tally.add(message.body)
        message.ack()

    deadline = time.monotonic() + _deadline(n)
    drain = connection.drain_events
    start = time.perf_counter()
    channel = connection.channel()
    try:
        consumer = kombu.Consumer(
            channel,
            queues=[kombu.Queue(queue, durable=False, auto_delete=False)],
            on_message=on_message,
            prefetch_count=PREFETCH,
        )
        consumer.consume()
        while tally.messages < n:
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kombu consumer: {tally.messages} of {n} messages in time")
            try:
                drain(timeout=1.0)
            except TimeoutError:  # nothing came within the second: check the deadline
                continue
        return time.perf_counter() - start
    finally:
        channel.close()


def syncapi_consume(consumer: Any, queue: str, bindings: Any, n: int, tally: Tally) -> float:
    """syncapi: ``consumer.subscriber(queue, bindings)`` (it opens a channel, sets the
    qos, declares the queue and starts consuming), then
    ``subscriber.receive(callback, max_messages=n)`` with a callback reading the payload
    (the message is acked when it returns, the default) — all of it timed.

    Raises:
        RuntimeError: ``receive`` handled another number of messages than ``n``.
    """

    def on_message(env: Any) -> None:
        tally.add(env.payload)

    start = time.perf_counter()
    subscriber = consumer.subscriber(queue, bindings)
    handled = subscriber.receive(on_message, max_messages=n, timeout=_deadline(n))
    seconds = time.perf_counter() - start
    if handled != n:
        raise RuntimeError(f"syncapi receive() handled {handled} of {n} messages in time")
    return seconds


# -- one run of each side ------------------------------------------------------------------
@dataclass(frozen=True)
class Measured:
    """What one library did in one run: its two timings and the counts behind them.

    Attributes:
        library: ``"raw pika"``, ``"Kombu"``, ``"FastStream"`` or ``"syncapi"``.
        messages: messages each job was asked to move.
        size: their payload size in bytes.
        publish_seconds: the publish job's timed part.
        consume_seconds: the consume job's timed part.
        published: messages the broker held in the publish queue after the job, the
            warm-up message left out (the broker's count, not the client's).
        consumed: messages the consume job's callback handled.
        consumed_bytes: payload bytes it read.
        left: messages the consume queue still held after the consumer closed (``0``
            when every message was acked).
    """

    library: str
    messages: int
    size: int
    publish_seconds: float
    consume_seconds: float
    published: int
    consumed: int
    consumed_bytes: int
    left: int
    batch_seconds: float | None = None
    """syncapi and FastStream only: the timed part of the :data:`EXTRA_BATCH` publish
    job."""
    batch_published: int | None = None
    """syncapi and FastStream only: what the batch job's queue held after it (the
    broker's count)."""

    def verify(self) -> None:
        """Raise :class:`RuntimeError` unless the run moved exactly :attr:`messages`
        messages of :attr:`size` bytes both ways and acked every consumed one."""
        n = self.messages
        if self.batch_seconds is not None and self.batch_published != n:
            raise RuntimeError(
                f"{self.library}: the batch publish job left {self.batch_published} "
                f"messages in its queue (broker count); expected {n}"
            )
        seen = (self.published, self.consumed, self.consumed_bytes, self.left)
        wanted = (n, n, n * self.size, 0)
        if seen != wanted:
            raise RuntimeError(
                f"{self.library}: published {self.published} (broker count), consumed "
                f"{self.consumed} messages of {self.consumed_bytes} bytes in all, "
                f"{self.left} left unacked; expected {n}, {n}, {n * self.size} and 0"
            )


def _measured(
    library: str,
    params: Params,
    url: str,
    queues: tuple[str, str],
    seconds: tuple[float, float],
    tally: Tally,
) -> Measured:
    """Count the broker's side of a run (its consumer is closed by now)."""
    publish_queue, consume_queue = queues
    return Measured(
        library=library,
        messages=params.messages,
        size=params.size,
        publish_seconds=seconds[0],
        consume_seconds=seconds[1],
        published=queue_depth(url, publish_queue) - _WARMUP,
        consumed=tally.messages,
        consumed_bytes=tally.size,
        left=queue_depth(url, consume_queue),
    )


def measure_pika(params: Params) -> Measured:
    """Raw pika (``BlockingConnection``): both jobs, with the broker's counts (not
    verified: see :meth:`Measured.verify`)."""
    url = broker_url(params)
    payload, n = params.payload(), params.messages
    queues = (_queue_name("pika", "publish"), _queue_name("pika", "consume"))
    tally = Tally()
    try:
        connection = _pika_connection(url, "pika")
        try:
            channel = connection.channel()
            _declare(channel, queues[0])
            channel.confirm_delivery()
            raw_publish(channel, queues[0], payload, _WARMUP)
            publish = raw_publish(channel, queues[0], payload, n)
        finally:
            connection.close()
        fill(url, queues[1], payload, n)
        connection = _pika_connection(url, "pika")
        try:
            consume = raw_consume(connection, queues[1], n, tally)
        finally:
            connection.close()
        return _measured("raw pika", params, url, queues, (publish, consume), tally)
    finally:
        delete_queues(url, list(queues))


def measure_kombu(params: Params) -> Measured:
    """Kombu (``amqp://``, i.e. py-amqp): both jobs, with the broker's counts (not
    verified: see :meth:`Measured.verify`)."""
    kombu = _kombu()
    url = broker_url(params)
    payload, n = params.payload(), params.messages
    queues = (_queue_name("kombu", "publish"), _queue_name("kombu", "consume"))
    tally = Tally()
    try:
        with kombu.Connection(url, transport_options={"confirm_publish": True}) as connection:
            channel = connection.channel()
            try:
                _declare_kombu(kombu, channel, queues[0])
                producer = kombu.Producer(channel)
                kombu_publish(producer, queues[0], payload, _WARMUP)
                publish = kombu_publish(producer, queues[0], payload, n)
            finally:
                channel.close()
        fill(url, queues[1], payload, n)
        with kombu.Connection(url) as connection:
            consume = kombu_consume(connection, queues[1], n, tally)
        return _measured("Kombu", params, url, queues, (publish, consume), tally)
    finally:
        delete_queues(url, list(queues))


def _declare_kombu(kombu: Any, channel: Any, queue: str) -> None:
    kombu.Queue(queue, durable=False, auto_delete=False, channel=channel).declare()


def measure_syncapi(params: Params) -> Measured:
    """syncapi ``amqp://``: both jobs through a producer's publisher and a consumer's
    subscriber on ``is: queue`` channels, with the broker's counts (not verified: see
    :meth:`Measured.verify`)."""
    import syncapi
    from syncapi import amqp

    url = broker_url(params)
    payload, n = params.payload(), params.messages
    queues = (_queue_name("syncapi", "publish"), _queue_name("syncapi", "consume"))
    batch_queue = _queue_name("syncapi", "batch")

    def bindings(name: str) -> Any:
        queue = amqp.Queue(name=name, durable=False, auto_delete=False)
        return amqp.ChannelBindings(is_="queue", queue=queue)

    tally = Tally()
    try:
        with syncapi.producer(url) as producer:
            publisher = producer.publisher(queues[0], bindings(queues[0]))
            syncapi_publish(publisher, payload, _WARMUP)
            publish = syncapi_publish(publisher, payload, n)
            batcher = producer.publisher(batch_queue, bindings(batch_queue))
            batch = syncapi_publish_batches(batcher, payload, n)
        fill(url, queues[1], payload, n)
        with syncapi.consumer(url, prefetch=PREFETCH) as consumer:
            consume = syncapi_consume(consumer, queues[1], bindings(queues[1]), n, tally)
        measured = _measured("syncapi", params, url, queues, (publish, consume), tally)
        return dataclasses.replace(
            measured, batch_seconds=batch, batch_published=queue_depth(url, batch_queue)
        )
    finally:
        delete_queues(url, [*queues, batch_queue])


def sample_of(run: Measured) -> Sample:
    """The sample of a verified run: its publish rate as the throughput,
    :data:`EXTRA_CONSUME`, and :data:`EXTRA_BATCH` when the run had a batch job."""
    n = run.messages
    extra = {EXTRA_CONSUME: n / run.consume_seconds}
    if run.batch_seconds is not None:
        extra[EXTRA_BATCH] = n / run.batch_seconds
    return Sample(messages=n, seconds=run.publish_seconds, extra=extra)


def run_pika(params: Params) -> Sample:
    """The baseline: raw pika, both jobs, verified. Its :data:`EXTRA_BATCH` is its
    one-at-a-time publish rate (its ``BlockingChannel`` cannot pipeline confirms)."""
    run = measure_pika(params)
    run.verify()
    sample = sample_of(run)
    return dataclasses.replace(sample, extra={**sample.extra, EXTRA_BATCH: sample.rate})


def run_kombu(params: Params) -> Sample:
    """The Kombu alternative: both jobs, verified (no :data:`EXTRA_BATCH`: Kombu waits
    for each confirm inside ``publish``)."""
    run = measure_kombu(params)
    run.verify()
    return sample_of(run)


def run_syncapi(params: Params) -> Sample:
    """The syncapi variant: the publish jobs (one per send, :data:`BATCH` per send) and
    the consume job, verified."""
    run = measure_syncapi(params)
    run.verify()
    return sample_of(run)


ENTRY = Entry(
    name="amqp",
    description=(
        f"amqp:// vs raw pika (and Kombu, FastStream): publish with confirms (one per "
        f"send), consume with an ack each (prefetch {PREFETCH})"
    ),
    baseline=Variant(
        name="raw pika",
        run=run_pika,
        metric="publish: basic_publish() + confirm",
    ),
    variants=(
        Variant(
            name="syncapi amqp://",
            run=run_syncapi,
            metric="publish: send(env)",
            goal=Goal(min_ratio=0.95),
        ),
    ),
    alternatives=(
        Variant(
            name="Kombu",
            run=run_kombu,
            metric="publish: Producer.publish() + confirm",
            check=check_kombu,
        ),
        Variant(
            name="FastStream",
            run=run_faststream_amqp,
            metric="publish: await broker.publish() + confirm",
            check=check_faststream_amqp,
        ),
    ),
    default_messages=DEFAULT_MESSAGES,
    check=check,
    url_env=URL_ENV,
)
"""The ``amqp`` entry of the harness."""
