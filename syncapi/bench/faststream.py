"""FastStream as an alternative in the ``kafka`` and ``amqp`` entries.

`FastStream <https://faststream.ag2.ai>`_ is the asyncio messaging framework a user
might pick instead of syncapi: a broker object, ``await broker.publish(...)`` to send,
``@broker.subscriber(...)`` handlers to receive, all in an event loop. Each variant here
does exactly the jobs of its entry's baseline (read the docstrings of
:mod:`syncapi.bench.kafka` and :mod:`syncapi.bench.amqp`): the same payload, headers,
message counts and timed spans, fresh topics or queues per run, every message counted on
arrival and the topics or queues deleted afterwards — written the way a FastStream user
writes it, inside one ``asyncio.run(...)`` per run.

Kafka (``KafkaBroker``, on aiokafka), :func:`run_faststream_kafka`:

1. produce, batched: ``await broker.publish_batch(*payloads, topic=..., headers=...)``
   of :data:`~syncapi.bench.kafka.BATCH` records, which returns once the broker
   acknowledged the batch (one produce request: FastStream builds one aiokafka batch,
   so the broker's ``max_batch_size`` is raised to hold :data:`~syncapi.bench.kafka.BATCH`
   records — at aiokafka's default of 16 KiB ``publish_batch`` raises
   ``BatchBufferOverflowException`` past 15 records of 1 KiB; payloads over about 9 KiB
   go in smaller batches, as many as fit in 1 MB);
2. produce, one at a time: ``await broker.publish(payload, topic, headers=...)`` per
   record, which returns once acknowledged;
3. consume: a ``@broker.subscriber(topic, group_id=..., auto_offset_reset="earliest")``
   handler ``async def handle(body: bytes, message: KafkaMessage)`` that reads the
   payload, a header and the content type, with FastStream's default acknowledgement for
   Kafka (``AckPolicy.ACK_FIRST``: aiokafka's auto-commit, every 5 s and on close). The
   clock runs from the partition's assignment (a ``ConsumerRebalanceListener``, the
   hook FastStream passes to aiokafka) to the last record handled.

The producer uses the baseline's settings where FastStream exposes them
(:data:`FASTSTREAM_KAFKA_SETTINGS`: ``acks="all"``, idempotence on, ``linger_ms=0``, no
compression). FastStream puts the content type in the record header ``content-type``
(given here in ``headers``, as FastStream has no content-type argument for Kafka) and
always adds a ``correlation_id`` header of its own: a few dozen bytes per record more
than the baseline sends.

RabbitMQ (``RabbitBroker``, on aio-pika), :func:`run_faststream_amqp`:

1. publish with confirms, one per send: ``await broker.publish(payload, queue,
   persist=True, mandatory=True)`` per message (FastStream's channels are in confirm
   mode by default — ``Channel(publisher_confirms=True)`` — so each call returns once the
   broker confirmed);
2. publish 100 at a time: FastStream has no batch publish for RabbitMQ; the asyncio way
   to send several messages at once is ``asyncio.gather`` of
   :data:`~syncapi.bench.amqp.BATCH` ``publish()`` calls, which aio-pika pipelines on
   the channel, each call awaiting its own confirm;
3. consume with one ack per message, prefetch :data:`~syncapi.bench.amqp.PREFETCH`: a
   ``@broker.subscriber(RabbitQueue(...), channel=Channel(prefetch_count=PREFETCH))``
   handler ``async def handle(body: bytes)`` with FastStream's default acknowledgement
   for RabbitMQ (``AckPolicy.REJECT_ON_ERROR``: an ack after the handler returned). The
   clock runs from ``await broker.start()`` on a connected broker (channel, ``basic.qos``,
   queue declaration and ``basic.consume``, as on every side) to the last message
   handled; the last ack follows right after, and the broker's count after closing shows
   that every ack arrived.

FastStream also gives every RabbitMQ message a ``correlation_id``, a ``message_id``
and an ``app_id`` property, as it always does.

By default a FastStream broker logs two lines per message handled ("Received",
"Processed") and its subscribers' start and stop, at ``INFO``, to stdout. A user running
at volume turns that down; the brokers here are given a logger of the benchmark's own
(:data:`LOGGER_NAME`) at ``WARNING``, so FastStream still makes its per-message logging
calls, but prints only warnings and errors (to stderr, through Python's last-resort
handler), and the harness's table stays readable.

The variant functions import FastStream inside, and the entries list them with
:func:`check_faststream_kafka` / :func:`check_faststream_amqp`, which say how to install
it when it is missing (``pip install 'syncapi[bench]'`` brings it).
"""

# No ``from __future__ import annotations`` here: FastStream reads the handlers' annotations
# at run time to decode and inject their arguments, and the handlers' types are imported
# inside the variants (FastStream is optional), where string annotations could not be
# resolved.

import asyncio
import contextlib
import dataclasses
import importlib
import logging
import time
import uuid
from typing import TYPE_CHECKING, Any

from .model import Params, Sample

if TYPE_CHECKING:  # imported when used: amqp.py and kafka.py list this module's variants
    from .amqp import Measured, Tally
    from .kafka import Tally as KafkaTally

__all__ = [
    "FASTSTREAM_KAFKA_SETTINGS",
    "LOGGER_NAME",
    "check_faststream_amqp",
    "check_faststream_kafka",
    "faststream_amqp_consume",
    "faststream_amqp_publish",
    "faststream_amqp_publish_gathered",
    "faststream_kafka_consume",
    "faststream_kafka_produce_batched",
    "faststream_kafka_produce_one_by_one",
    "kafka_batch_records",
    "kafka_max_batch_size",
    "measure_faststream_amqp",
    "run_faststream_amqp",
    "run_faststream_kafka",
]

FASTSTREAM_KAFKA_SETTINGS: dict[str, Any] = {
    "acks": "all",
    "enable_idempotence": True,
    "linger_ms": 0,
    "max_request_size": 1_048_576,
    "compression_type": None,
}
"""The ``KafkaBroker`` producer settings: the baseline's
(:data:`~syncapi.bench.kafka.RAW_PRODUCER_SETTINGS`), as far as FastStream takes them;
``max_batch_size`` comes from :func:`kafka_max_batch_size`."""

LOGGER_NAME = "syncapi.bench.faststream"
"""The logger given to every FastStream broker here, at ``WARNING``."""
_RECORD_OVERHEAD = 256
"""Bytes allowed per record besides its payload in a ``publish_batch`` batch (record
framing and the three headers take about 120)."""
_BATCH_LIMIT = 1_000_000
"""The most bytes one ``publish_batch`` may take: below the broker's default
``message.max.bytes`` and the producer's ``max_request_size`` (1 MiB each)."""


# -- is it there? ---------------------------------------------------------------------------
def _missing(module: str, extra: str) -> str | None:
    try:
        importlib.import_module(module)
    except ImportError as exc:
        return f"faststream is not installed: pip install 'faststream[{extra}]' ({exc})"
    return None


def check_faststream_kafka() -> str | None:
    """Why the FastStream Kafka variant cannot run here (FastStream or aiokafka
    missing), or ``None``."""
    return _missing("faststream.kafka", "kafka")


def check_faststream_amqp() -> str | None:
    """Why the FastStream RabbitMQ variant cannot run here (FastStream or aio-pika
    missing), or ``None``."""
    return _missing("faststream.rabbit", "rabbit")


def _logger() -> logging.Logger:
    """The brokers' logger: FastStream's per-message and start/stop lines (``INFO``) are
    dropped, its warnings and errors kept."""
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(logging.WARNING)
    return logger


# -- Kafka ------------------------------------------------------------------------------------
def kafka_batch_records(size: int) -> int:
    """Records per ``publish_batch`` call: :data:`~syncapi.bench.kafka.BATCH`, or as many
    as fit in a request the broker takes (:data:`_BATCH_LIMIT`) when records of ``size``
    payload bytes are too large for that, at least one."""
    from . import kafka as bench

    return max(1, min(bench.BATCH, _BATCH_LIMIT // (size + _RECORD_OVERHEAD)))


def kafka_max_batch_size(size: int) -> int:
    """The ``max_batch_size`` that lets one ``publish_batch`` hold
    :func:`kafka_batch_records` records of ``size`` payload bytes (at least aiokafka's
    default of 16 KiB)."""
    return max(16_384, kafka_batch_records(size) * (size + _RECORD_OVERHEAD))


def _kafka_headers() -> dict[str, str]:
    """The headers of every record: the baseline's header and content type."""
    from . import kafka as bench

    return {bench.HEADER_NAME: bench.HEADER_VALUE, "content-type": bench.CONTENT_TYPE}


# 1. produce, batched
async def faststream_kafka_produce_batched(
    broker: Any, topic: str, payload: bytes, n: int
) -> float:
    """``await broker.publish_batch(*payloads, topic=..., headers=...)`` of
    :data:`~syncapi.bench.kafka.BATCH` records at a time (fewer for payloads too large
    for 100 in one request: :func:`kafka_batch_records`); each call returns once the
    batch is acknowledged."""
    publish_batch, headers = broker.publish_batch, _kafka_headers()
    batch = kafka_batch_records(len(payload))
    start = time.perf_counter()
    for first in range(0, n, batch):
        await publish_batch(
            *[payload for _ in range(min(batch, n - first))], topic=topic, headers=headers
        )
    return time.perf_counter() - start


# 2. produce, one at a time
async def faststream_kafka_produce_one_by_one(
    broker: Any, topic: str, payload: bytes, n: int
) -> float:
    """``await broker.publish(payload, topic, headers=...)`` per record (it returns once
    acknowledged)."""
    publish, headers = broker.publish, _kafka_headers()
    start = time.perf_counter()
    for _ in range(n):
        await publish(payload, topic, headers=headers)
    return time.perf_counter() - start


# 3. consume
async def faststream_kafka_consume(
    bootstrap: list[str], topic: str, n: int, tally: "KafkaTally"
) -> float:
    """A ``KafkaBroker`` with one ``@broker.subscriber`` handler (a fresh group, from the
    earliest offset, FastStream's default ack policy) that reads the payload, a header
    and the content type; timed from the partition's assignment to the ``n``-th record
    handled. Starting the broker, joining the group and stopping are untimed.

    Raises:
        RuntimeError: ``n`` records were not handled in time.
    """
    from aiokafka import ConsumerRebalanceListener  # type: ignore[import-untyped]
    from faststream.kafka import KafkaBroker
    from faststream.kafka.annotations import KafkaMessage

    from . import kafka as bench

    assigned: list[float] = []
    finished: list[float] = []
    done = asyncio.Event()

    class Assigned(ConsumerRebalanceListener):  # type: ignore[misc]  # aiokafka is untyped
        """Notes when the consumer first owns a partition: the clock's start."""

        async def on_partitions_revoked(self, revoked: Any) -> None:
            pass

        async def on_partitions_assigned(self, partitions: Any) -> None:
            if partitions and not assigned:
                assigned.append(time.perf_counter())

    broker = KafkaBroker(bootstrap, client_id=f"{bench._CLIENT_ID}-faststream", logger=_logger())

    @broker.subscriber(
        topic,
        group_id=f"{bench._CLIENT_ID}-faststream-{uuid.uuid4().hex[:12]}",
        auto_offset_reset="earliest",
        max_poll_records=bench.RAW_CONSUMER_SETTINGS["max_poll_records"],
        fetch_max_wait_ms=bench.RAW_CONSUMER_SETTINGS["fetch_max_wait_ms"],
        listener=Assigned(),
    )
    async def handle(body: bytes, message: KafkaMessage) -> None:
        tally.messages += 1
        tally.size += len(body)
        if (
            message.headers.get(bench.HEADER_NAME) == bench.HEADER_VALUE
            and message.content_type == bench.CONTENT_TYPE
        ):
            tally.tagged += 1
        if tally.messages == n:
            finished.append(time.perf_counter())
            done.set()

    await broker.start()
    try:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(done.wait(), timeout=bench._deadline(n))
    finally:
        await broker.stop()
    if not (assigned and finished):
        raise RuntimeError(f"FastStream Kafka subscriber: {tally.messages} of {n} records in time")
    return finished[0] - assigned[0]


async def _kafka_jobs(
    bootstrap: list[str],
    topics: list[str],
    payload: bytes,
    n: int,
    n_one: int,
    tally: "KafkaTally",
) -> tuple[float, float, float]:
    """The three jobs in one event loop: the produce broker (started and warmed up before
    the clock), the untimed fill of the consume topic, then the consuming broker."""
    from faststream.kafka import KafkaBroker

    from . import kafka as bench

    batch_topic, one_topic, consume_topic = topics
    broker = KafkaBroker(
        bootstrap,
        client_id=f"{bench._CLIENT_ID}-faststream",
        max_batch_size=kafka_max_batch_size(len(payload)),
        logger=_logger(),
        **FASTSTREAM_KAFKA_SETTINGS,
    )
    await broker.start()
    try:
        for topic in (batch_topic, one_topic):  # warm up: metadata, producer id
            await broker.publish(payload, topic, headers=_kafka_headers())
        batched = await faststream_kafka_produce_batched(broker, batch_topic, payload, n)
        one_by_one = await faststream_kafka_produce_one_by_one(broker, one_topic, payload, n_one)
    finally:
        await broker.stop()
    await asyncio.to_thread(bench._fill, bootstrap, consume_topic, payload, n)
    consume = await faststream_kafka_consume(bootstrap, consume_topic, n, tally)
    return batched, one_by_one, consume


def run_faststream_kafka(params: Params) -> Sample:
    """FastStream's ``KafkaBroker``: the three jobs of the ``kafka`` entry, verified, in
    the baseline's sample keys (topics made and deleted with kafka-python's admin client,
    as the baseline does)."""
    from kafka import KafkaAdminClient

    from . import kafka as bench

    bootstrap = bench.bootstrap_servers(bench.broker_url(params))
    payload = params.payload()
    n, n_one = params.messages, bench.one_by_one_count(params)
    topics = [bench._topic("faststream", job) for job in ("batch", "one", "consume")]
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id=f"{bench._CLIENT_ID}-admin")
    try:
        admin.create_topics({t: {"num_partitions": 1} for t in topics}, wait_for_metadata=True)
        tally = bench.Tally()
        batched, one_by_one, consume = asyncio.run(
            _kafka_jobs(bootstrap, topics, payload, n, n_one, tally)
        )
        tally.verify("FastStream Kafka subscriber", n, len(payload))
    finally:
        bench._delete(admin, topics)
    return bench._sample(params, batched, one_by_one, consume)


# -- RabbitMQ ---------------------------------------------------------------------------------
def _rabbit_queue(name: str) -> Any:
    """The suite's kind of queue as FastStream declares it: non-durable, not auto-deleted."""
    from faststream.rabbit import RabbitQueue

    return RabbitQueue(name, durable=False, auto_delete=False)


# 1. publish, confirmed, one message per send
async def faststream_amqp_publish(broker: Any, queue: str, payload: bytes, n: int) -> float:
    """``await broker.publish(payload, queue, persist=True, mandatory=True)`` per message
    (it returns once the broker confirmed)."""
    from . import amqp as bench

    publish = broker.publish  # persist=True: delivery_mode 2, as DELIVERY_MODE
    start = time.perf_counter()
    for _ in range(n):
        await publish(payload, queue, persist=True, mandatory=bench.MANDATORY)
    return time.perf_counter() - start


# 2. publish, 100 at a time
async def faststream_amqp_publish_gathered(
    broker: Any, queue: str, payload: bytes, n: int
) -> float:
    """``asyncio.gather`` of :data:`~syncapi.bench.amqp.BATCH` ``broker.publish(...)``
    calls at a time (FastStream has no batch publish for RabbitMQ; each call awaits its
    own confirm, and aio-pika pipelines them on the channel)."""
    from . import amqp as bench

    publish = broker.publish
    start = time.perf_counter()
    for first in range(0, n, bench.BATCH):
        await asyncio.gather(
            *[
                publish(payload, queue, persist=True, mandatory=bench.MANDATORY)
                for _ in range(min(bench.BATCH, n - first))
            ]
        )
    return time.perf_counter() - start


# 3. consume, one ack per message
async def faststream_amqp_consume(url: str, queue: str, n: int, tally: "Tally") -> float:
    """A ``RabbitBroker`` with one ``@broker.subscriber`` handler on ``queue`` (prefetch
    :data:`~syncapi.bench.amqp.PREFETCH`, FastStream's default ack after the handler)
    that reads the payload; timed from ``await broker.start()`` on a connected broker to
    the ``n``-th message handled. Connecting and stopping are untimed.

    Raises:
        RuntimeError: ``n`` messages were not handled in time.
    """
    from faststream.rabbit import Channel, RabbitBroker

    from . import amqp as bench

    finished: list[float] = []
    done = asyncio.Event()
    broker = RabbitBroker(url, logger=_logger())

    @broker.subscriber(_rabbit_queue(queue), channel=Channel(prefetch_count=bench.PREFETCH))
    async def handle(body: bytes) -> None:
        tally.add(body)
        if tally.messages == n:
            finished.append(time.perf_counter())
            done.set()

    await broker.connect()
    try:
        start = time.perf_counter()
        await broker.start()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(done.wait(), timeout=bench._deadline(n))
    finally:
        await broker.stop()
    if not finished:
        raise RuntimeError(f"FastStream RabbitMQ subscriber: {tally.messages} of {n} messages")
    return finished[0] - start


async def _amqp_jobs(
    url: str, queues: tuple[str, str, str], payload: bytes, n: int, tally: "Tally"
) -> tuple[float, float, float]:
    """The three jobs in one event loop: the publishing broker (started, queues declared
    and one warm-up message before the clock), the untimed fill of the consume queue,
    then the consuming broker."""
    from faststream.rabbit import RabbitBroker

    from . import amqp as bench

    publish_queue, batch_queue, consume_queue = queues
    broker = RabbitBroker(url, logger=_logger())
    await broker.start()
    try:
        for queue in (publish_queue, batch_queue):
            await broker.declare_queue(_rabbit_queue(queue))
        await faststream_amqp_publish(broker, publish_queue, payload, bench._WARMUP)
        publish = await faststream_amqp_publish(broker, publish_queue, payload, n)
        batch = await faststream_amqp_publish_gathered(broker, batch_queue, payload, n)
    finally:
        await broker.stop()
    await asyncio.to_thread(bench.fill, url, consume_queue, payload, n)
    consume = await faststream_amqp_consume(url, consume_queue, n, tally)
    return publish, batch, consume


def measure_faststream_amqp(params: Params) -> "Measured":
    """FastStream's ``RabbitBroker``: the ``amqp`` entry's jobs, with the broker's counts,
    as a :class:`~syncapi.bench.amqp.Measured` (not verified: see its ``verify``)."""
    from . import amqp as bench

    url = bench.broker_url(params)
    payload, n = params.payload(), params.messages
    queues = (
        bench._queue_name("faststream", "publish"),
        bench._queue_name("faststream", "consume"),
    )
    batch_queue = bench._queue_name("faststream", "batch")
    tally = bench.Tally()
    try:
        publish, batch, consume = asyncio.run(
            _amqp_jobs(url, (queues[0], batch_queue, queues[1]), payload, n, tally)
        )
        measured = bench._measured("FastStream", params, url, queues, (publish, consume), tally)
        return dataclasses.replace(
            measured, batch_seconds=batch, batch_published=bench.queue_depth(url, batch_queue)
        )
    finally:
        bench.delete_queues(url, [*queues, batch_queue])


def run_faststream_amqp(params: Params) -> Sample:
    """FastStream's ``RabbitBroker``: the ``amqp`` entry's jobs, verified, in the
    baseline's sample keys (its publish rate as the throughput)."""
    from . import amqp as bench

    run = measure_faststream_amqp(params)
    run.verify()
    return bench.sample_of(run)
