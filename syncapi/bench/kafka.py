"""Entry ``kafka``: ``kafka://`` against bare kafka-python, with FastStream alongside,
on a real broker.

Each round runs the baseline (kafka-python alone), syncapi and the alternative
FastStream (its ``KafkaBroker`` on aiokafka, in an asyncio loop: see
:mod:`syncapi.bench.faststream`), and each of them does the same three jobs, every one
on a fresh one-partition topic of its own:

1. **produce, batched** (the table's main row): ``messages`` records of ``size`` bytes,
   100 per round trip — kafka-python ``KafkaProducer.send()`` of 100 records, then
   ``.get()`` on each future; syncapi ``publisher.send(*envelopes)`` of 100 envelopes;
2. **produce, one at a time** (latency-bound, so only ``messages //``
   :data:`ONE_BY_ONE_SHARE` records): ``producer.send(...).get()`` against
   ``publisher.send(envelope)``;
3. **consume**: a topic pre-filled with ``messages`` records (before the clock starts)
   read by a consumer of a fresh group from the earliest offset — a kafka-python
   ``KafkaConsumer`` ``poll()`` loop that reads each record's value and headers and
   calls ``commit_async()`` once per poll batch, against syncapi
   ``subscriber.receive(callback, max_messages=messages)`` whose callback reads the
   payload, a header and the content type.

FastStream does the same jobs with ``await broker.publish_batch(*100 payloads)``,
``await broker.publish(payload)`` and a ``@broker.subscriber`` handler, and reports them
under the same keys.

Every record carries the same bytes on both sides: the payload, one ``str`` header and a
content type, which syncapi sends as the record header ``content-type`` after the user's
headers — so the baseline sends exactly those two wire headers. Both sides use the same
client settings (:data:`RAW_PRODUCER_SETTINGS`, :data:`RAW_CONSUMER_SETTINGS`: syncapi's
defaults, i.e. ``acks="all"``, idempotence on, ``linger_ms=0``). What is timed:

* produce: from the first ``send`` to the last acknowledgement, envelope making
  included (it is what a syncapi user writes); the producer, the topic and one warm-up
  record (topic metadata, producer id) come before the clock;
* consume: from the moment the consumer owns the partition (``wait_assigned()`` in
  syncapi, the same polling until an assignment in the baseline) to the last message
  handled; joining the group and closing come outside the clock.

The harness shows the batched produce rate as each variant's throughput and the two
other jobs as extra rows (``produce: send(env) msg/s``, ``consume: receive() msg/s``),
each with its syncapi median, baseline median and ratio, and FastStream's median.

The broker: ``Params.options["url"]``, else the environment variable
:data:`URL_ENV` (``kafka://host:port``), which ``python -m syncapi.bench kafka --url
kafka://host:port`` sets. ``python -m tests.services start kafka`` starts a broker and
prints its URL. Topics are deleted again after each run.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

from .faststream import check_faststream_kafka, run_faststream_kafka
from .model import Entry, Goal, Params, Sample, Variant

__all__ = [
    "BATCH",
    "CONTENT_TYPE",
    "DEFAULT_MESSAGES",
    "ENTRY",
    "EXTRA_CONSUME",
    "EXTRA_SEND_ONE",
    "HEADERS",
    "HEADER_NAME",
    "HEADER_VALUE",
    "NO_URL",
    "ONE_BY_ONE_SHARE",
    "RAW_CONSUMER_SETTINGS",
    "RAW_PRODUCER_SETTINGS",
    "URL_ENV",
    "WIRE_HEADERS",
    "Tally",
    "bootstrap_servers",
    "broker_url",
    "check",
    "one_by_one_count",
    "raw_consume",
    "raw_produce_batched",
    "raw_produce_one_by_one",
    "run_raw",
    "run_syncapi",
    "syncapi_consume",
    "syncapi_produce_batched",
    "syncapi_produce_one_by_one",
]

URL_ENV = "SYNCAPI_BENCH_KAFKA_URL"
"""The environment variable naming the broker (``kafka://host:port``)."""
NO_URL = (
    f"no Kafka broker given: pass --url kafka://HOST:PORT to python -m syncapi.bench kafka, "
    f"or set {URL_ENV}; `python -m tests.services start kafka` starts one and prints its URL"
)
"""The message given when the suite has no broker URL."""
DEFAULT_MESSAGES = 5_000
"""Messages per run of the batched produce and the consume job (a few seconds each)."""
BATCH = 100
"""Records per round trip in the batched produce job."""
ONE_BY_ONE_SHARE = 10
"""The one-at-a-time produce job sends ``messages // ONE_BY_ONE_SHARE`` records (at
least one): it waits for every acknowledgement, so it is far slower per message."""

HEADER_NAME = "x-bench"
"""The name of the one user header every message carries."""
HEADER_VALUE = "kafka"
"""Its value (a ``str``: UTF-8 on the wire)."""
HEADERS = {HEADER_NAME: HEADER_VALUE}
"""The user header of every syncapi envelope."""
CONTENT_TYPE = "application/octet-stream"
"""The content type of every syncapi envelope."""
WIRE_HEADERS = [
    (HEADER_NAME, HEADER_VALUE.encode("utf-8")),
    ("content-type", CONTENT_TYPE.encode("utf-8")),
]
"""The record headers the baseline sends: what syncapi puts on the wire for
:data:`HEADERS` and :data:`CONTENT_TYPE` (user headers, then ``content-type``)."""

RAW_PRODUCER_SETTINGS: dict[str, Any] = {
    "acks": "all",
    "enable_idempotence": True,
    "linger_ms": 0,
    "batch_size": 262_144,
    "max_request_size": 1_048_576,
    "compression_type": None,
}
"""The baseline's ``KafkaProducer`` settings: those syncapi's producer uses by default."""
RAW_CONSUMER_SETTINGS: dict[str, Any] = {
    "enable_auto_commit": False,
    "auto_offset_reset": "earliest",
    "max_poll_records": 500,
    "fetch_max_wait_ms": 500,
    "max_partition_fetch_bytes": 1_048_576,
    "isolation_level": "read_uncommitted",
}
"""The baseline's ``KafkaConsumer`` settings: syncapi's defaults, reading from the start."""

EXTRA_SEND_ONE = "produce: send(env) msg/s"
"""The extra figure of the one-at-a-time produce job (messages per second)."""
EXTRA_CONSUME = "consume: receive() msg/s"
"""The extra figure of the consume job (messages per second)."""

_CLIENT_ID = "syncapi-bench"
_DEFAULT_PORT = 9092


# -- the broker ---------------------------------------------------------------------------
def bootstrap_servers(url: str) -> list[str]:
    """The ``host:port`` list of ``kafka://host1:port1,host2:port2`` (port 9092 by default).

    Raises:
        ValueError: not such a URL (another scheme, no host, a path or query).
    """
    parts = urlsplit(url)
    if parts.scheme != "kafka" or not parts.netloc:
        raise ValueError(f"not a kafka://HOST:PORT URL: {url!r}")
    if parts.path.strip("/") or parts.query or parts.fragment:
        raise ValueError(
            f"the benchmark's Kafka URL names brokers only (no path or options): {url!r}"
        )
    servers = []
    for host in parts.netloc.split(","):
        if not host:
            raise ValueError(f"empty host in Kafka URL {url!r}")
        has_port = host.rpartition("]")[2].count(":") == 1 if host.startswith("[") else ":" in host
        servers.append(host if has_port else f"{host}:{_DEFAULT_PORT}")
    return servers


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
    """Why the entry cannot run here (kafka-python missing, no broker), or ``None``."""
    try:
        import kafka  # noqa: F401
    except ImportError:
        return "kafka-python is not installed (pip install 'syncapi[kafka]')"
    url = os.environ.get(URL_ENV)
    if not url:
        return NO_URL
    try:
        servers = bootstrap_servers(url)
    except ValueError as exc:
        return f"{URL_ENV}: {exc}"
    host, _, port = servers[0].rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=3.0):
            pass
    except OSError as exc:
        return (
            f"no Kafka broker answers at {url} ({exc}); "
            "`python -m tests.services start kafka` starts one and prints its URL"
        )
    return None


def one_by_one_count(params: Params) -> int:
    """How many records the one-at-a-time produce job sends."""
    return max(1, params.messages // ONE_BY_ONE_SHARE)


def _deadline(messages: int) -> float:
    """Seconds a job may take at most before it counts as hung (generous: 20 msg/s)."""
    return 60.0 + messages / 20.0


def _topic(side: str, job: str) -> str:
    return f"syncapi-bench-{side}-{job}-{uuid.uuid4().hex[:12]}"


# -- the jobs, baseline and syncapi side by side -------------------------------------------
# Each takes a ready client (made, connected, warmed up) and returns the seconds taken.


# 1. produce, batched
def raw_produce_batched(producer: Any, topic: str, payload: bytes, n: int) -> float:
    """kafka-python: ``send()`` :data:`BATCH` records, then ``get()`` each future."""
    send = producer.send
    start = time.perf_counter()
    for first in range(0, n, BATCH):
        futures = [
            send(topic, value=payload, headers=WIRE_HEADERS) for _ in range(min(BATCH, n - first))
        ]
        for future in futures:
            future.get()
    return time.perf_counter() - start


def syncapi_produce_batched(publisher: Any, payload: bytes, n: int) -> float:
    """syncapi: ``publisher.send(*envelopes)`` of :data:`BATCH` envelopes at a time."""
    send, envelope = publisher.send, publisher.envelope
    start = time.perf_counter()
    for first in range(0, n, BATCH):
        send(
            *[
                envelope(payload, headers=HEADERS, content_type=CONTENT_TYPE)
                for _ in range(min(BATCH, n - first))
            ]
        )
    return time.perf_counter() - start


# 2. produce, one at a time
def raw_produce_one_by_one(producer: Any, topic: str, payload: bytes, n: int) -> float:
    """kafka-python: ``send(...).get()`` per record."""
    send = producer.send
    start = time.perf_counter()
    for _ in range(n):
        send(topic, value=payload, headers=WIRE_HEADERS).get()
    return time.perf_counter() - start


def syncapi_produce_one_by_one(publisher: Any, payload: bytes, n: int) -> float:
    """syncapi: ``publisher.send(envelope)`` per message (it returns once acknowledged)."""
    send, envelope = publisher.send, publisher.envelope
    start = time.perf_counter()
    for _ in range(n):
        send(envelope(payload, headers=HEADERS, content_type=CONTENT_TYPE))
    return time.perf_counter() - start


# 3. consume
class Tally:
    """What a consume job saw, filled in by its callback.

    Attributes:
        messages: messages handled.
        size: payload bytes read.
        tagged: messages that carried the benchmark's header and content type.
    """

    def __init__(self) -> None:
        self.messages = 0
        self.size = 0
        self.tagged = 0

    def verify(self, what: str, n: int, payload_size: int) -> None:
        """Raise unless exactly ``n`` messages of ``payload_size`` bytes with the
        benchmark's header and content type were seen."""
        if (self.messages, self.size, self.tagged) != (n, n * payload_size, n):
            raise RuntimeError(
                f"{what}: saw {self.messages} messages, {self.size} payload bytes, "
                f"{self.tagged} with the header and content type; expected {n}, "
                f"{n * payload_size} and {n}"
            )


def raw_consume(consumer: Any, n: int, tally: Tally) -> float:
    """kafka-python: join the group (untimed), then ``poll()`` until ``n`` records were
    read (value and headers), with ``commit_async()`` after each non-empty poll."""
    # Join first, as syncapi's wait_assigned() does: records fetched meanwhile are kept.
    deadline = time.monotonic() + _deadline(n)
    joined: list[Any] = []
    while not consumer.assignment():
        if time.monotonic() > deadline:
            raise RuntimeError("kafka-python consumer: no partition assigned in time")
        for records in consumer.poll(timeout_ms=100).values():
            joined.extend(records)
    for tp in consumer.assignment():
        consumer.position(tp)
    content_type = WIRE_HEADERS[1][1]
    header_value = WIRE_HEADERS[0][1]

    def on_record(record: Any) -> None:
        tally.messages += 1
        tally.size += len(record.value)
        headers = dict(record.headers)
        if headers.get(HEADER_NAME) == header_value and headers.get("content-type") == content_type:
            tally.tagged += 1

    start = time.perf_counter()
    for record in joined:
        on_record(record)
    while tally.messages < n:
        if time.monotonic() > deadline:
            raise RuntimeError(f"kafka-python consumer: {tally.messages} of {n} records in time")
        batches = consumer.poll(timeout_ms=500)
        for records in batches.values():
            for record in records:
                on_record(record)
        if batches:
            consumer.commit_async()
    return time.perf_counter() - start


def syncapi_consume(subscriber: Any, n: int, tally: Tally) -> float:
    """syncapi: ``wait_assigned()`` (untimed), then ``receive(callback, max_messages=n)``
    with a callback reading the payload, a header and the content type."""
    subscriber.wait_assigned(timeout=_deadline(n))

    def on_message(env: Any) -> None:
        tally.messages += 1
        tally.size += len(env.payload)
        if env.headers.get(HEADER_NAME) == HEADER_VALUE and env.content_type == CONTENT_TYPE:
            tally.tagged += 1

    start = time.perf_counter()
    subscriber.receive(on_message, max_messages=n, timeout=_deadline(n))
    return time.perf_counter() - start


# -- one run of each side --------------------------------------------------------------------
def _fill(bootstrap: list[str], topic: str, payload: bytes, n: int) -> None:
    """Write ``n`` benchmark records to ``topic`` (untimed; the same for both sides)."""
    from kafka import KafkaProducer

    producer = KafkaProducer(
        bootstrap_servers=bootstrap, client_id=f"{_CLIENT_ID}-fill", acks="all", linger_ms=5
    )
    try:
        futures = [producer.send(topic, value=payload, headers=WIRE_HEADERS) for _ in range(n)]
        producer.flush()
        for future in futures:
            future.get()
    finally:
        producer.close()


def _delete(admin: Any, topics: list[str]) -> None:
    """Delete a run's topics (best effort: a failed run may not have made them all) and
    close the admin client."""
    try:
        admin.delete_topics(topics, raise_errors=False)
    except Exception:  # leftovers are harmless: every run uses fresh names
        pass
    finally:
        admin.close()


def _sample(params: Params, batched: float, one_by_one: float, consume: float) -> Sample:
    return Sample(
        messages=params.messages,
        seconds=batched,
        extra={
            EXTRA_SEND_ONE: one_by_one_count(params) / one_by_one,
            EXTRA_CONSUME: params.messages / consume,
        },
    )


def run_raw(params: Params) -> Sample:
    """Baseline: the three jobs with kafka-python's ``KafkaProducer`` and
    ``KafkaConsumer`` alone."""
    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer

    bootstrap = bootstrap_servers(broker_url(params))
    payload = params.payload()
    n, n_one = params.messages, one_by_one_count(params)
    topics = [_topic("raw", job) for job in ("batch", "one", "consume")]
    batch_topic, one_topic, consume_topic = topics
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id=f"{_CLIENT_ID}-admin")
    try:
        admin.create_topics({t: {"num_partitions": 1} for t in topics}, wait_for_metadata=True)
        producer = KafkaProducer(
            bootstrap_servers=bootstrap, client_id=f"{_CLIENT_ID}-raw", **RAW_PRODUCER_SETTINGS
        )
        try:
            for topic in (batch_topic, one_topic):  # warm up: metadata, producer id
                producer.send(topic, value=payload, headers=WIRE_HEADERS).get()
            batched = raw_produce_batched(producer, batch_topic, payload, n)
            one_by_one = raw_produce_one_by_one(producer, one_topic, payload, n_one)
        finally:
            producer.close()
        _fill(bootstrap, consume_topic, payload, n)
        tally = Tally()
        consumer = KafkaConsumer(
            consume_topic,
            bootstrap_servers=bootstrap,
            client_id=f"{_CLIENT_ID}-raw",
            group_id=f"{_CLIENT_ID}-raw-{uuid.uuid4().hex[:12]}",
            **RAW_CONSUMER_SETTINGS,
        )
        try:
            consume = raw_consume(consumer, n, tally)
        finally:
            consumer.close(autocommit=False)
        tally.verify("kafka-python consumer", n, len(payload))
    finally:
        _delete(admin, topics)
    return _sample(params, batched, one_by_one, consume)


def run_syncapi(params: Params) -> Sample:
    """syncapi ``kafka://``: the three jobs with a producer's publishers and a
    consumer's subscriber (topics made through ``ChannelBindings(partitions=1)``)."""
    from kafka import KafkaAdminClient

    import syncapi
    from syncapi.kafka import ChannelBindings

    url = broker_url(params)
    bootstrap = bootstrap_servers(url)
    payload = params.payload()
    n, n_one = params.messages, one_by_one_count(params)
    topics = [_topic("syncapi", job) for job in ("batch", "one", "consume")]
    batch_topic, one_topic, consume_topic = topics
    one_partition = ChannelBindings(partitions=1)
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id=f"{_CLIENT_ID}-admin")
    try:
        with syncapi.producer(url, client_id=f"{_CLIENT_ID}-syncapi", acks="all", linger_ms=0) as p:
            batch_pub = p.publisher(batch_topic, bindings=one_partition)
            one_pub = p.publisher(one_topic, bindings=one_partition)
            for pub in (batch_pub, one_pub):  # warm up: metadata, producer id
                pub.send(pub.envelope(payload, headers=HEADERS, content_type=CONTENT_TYPE))
            batched = syncapi_produce_batched(batch_pub, payload, n)
            one_by_one = syncapi_produce_one_by_one(one_pub, payload, n_one)
        admin.create_topics({consume_topic: {"num_partitions": 1}}, wait_for_metadata=True)
        _fill(bootstrap, consume_topic, payload, n)
        tally = Tally()
        with syncapi.consumer(
            url,
            client_id=f"{_CLIENT_ID}-syncapi",
            group_id=f"{_CLIENT_ID}-syncapi-{uuid.uuid4().hex[:12]}",
            auto_offset_reset="earliest",
        ) as consumer:
            consume = syncapi_consume(consumer.subscriber(consume_topic), n, tally)
        tally.verify("syncapi consumer", n, len(payload))
    finally:
        _delete(admin, topics)
    return _sample(params, batched, one_by_one, consume)


ENTRY = Entry(
    name="kafka",
    description=(
        "kafka:// vs bare kafka-python (and FastStream): produce (batched, one by one) and consume"
    ),
    baseline=Variant(
        name="kafka-python",
        run=run_raw,
        metric=f"produce: send() x{BATCH} + get() each",
    ),
    variants=(
        Variant(
            name="syncapi kafka://",
            run=run_syncapi,
            metric=f"produce: send(*{BATCH} envs)",
            goal=Goal(min_ratio=0.95),
        ),
    ),
    alternatives=(
        Variant(
            name="FastStream",
            run=run_faststream_kafka,
            metric=f"produce: await publish_batch(*{BATCH})",
            check=check_faststream_kafka,
        ),
    ),
    default_messages=DEFAULT_MESSAGES,
    check=check,
    url_env=URL_ENV,
)
"""The ``kafka`` entry of the harness."""
