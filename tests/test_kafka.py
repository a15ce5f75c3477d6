"""``kafka://`` on the real broker: delivery, groups, errors, topics and bad input."""

from __future__ import annotations

import logging
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

import syncapi
from syncapi import kafka, memory
from syncapi.errors import ClosedError, ConfigError, ConnectError, MessageTooLarge, SendError
from syncapi.testing import Collector, wait_until


def fresh(tag: str) -> str:
    """A topic name no other test uses."""
    return f"t-{tag}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def closing() -> Iterator[list[Any]]:
    """Closes (or stops) everything appended to it, last first."""
    things: list[Any] = []
    yield things
    for thing in reversed(things):
        if hasattr(thing, "stop"):
            thing.stop(timeout=10)
        else:
            thing.close()


def admin(url: str) -> Any:
    from kafka import KafkaAdminClient

    return KafkaAdminClient(bootstrap_servers=url.removeprefix("kafka://"))


# -- envelopes ------------------------------------------------------------------------------
def test_envelope_extras_round_trip(kafka_url: str, closing: list[Any]) -> None:
    """Key, partition, timestamp, str and bytes headers and content type all arrive."""
    topic = fresh("extras")
    producer = kafka.Producer(kafka_url)
    consumer = kafka.Consumer(kafka_url, auto_offset_reset="earliest")
    closing += [producer, consumer]
    pub = producer.publisher(topic, kafka.ChannelBindings(partitions=2))
    env = pub.envelope(
        b'{"id": 1}',
        headers={"trace-id": "abc", "raw": b"\x00\xff"},
        content_type="application/json",
        key="order-1",
        partition=1,
        timestamp=1_700_000_000.5,
    )
    pub.send(env, b"plain")
    got: list[kafka.EnvelopeReader] = []
    assert consumer.subscriber(topic).receive(got.append, max_messages=2, timeout=30) == 2
    raw = next(e for e in got if e.payload == b'{"id": 1}')
    assert raw.headers == {"trace-id": "abc", "raw": b"\x00\xff"}
    assert raw.content_type == "application/json"
    assert raw.key == b"order-1" and raw.partition == 1 and raw.topic == topic
    assert raw.timestamp_ms == 1_700_000_000_500 and raw.timestamp == 1_700_000_000.5
    assert raw.offset == 0 and raw.delivery_count == 1 and not raw.redelivered
    assert raw.identity == f"kafka topic {topic!r} partition 1 offset 0"
    plain = next(e for e in got if e.payload == b"plain")
    assert plain.headers == {} and plain.content_type is None and plain.key is None


def test_the_content_type_is_a_record_header_other_clients_can_read(
    kafka_url: str, closing: list[Any]
) -> None:
    from kafka import KafkaConsumer

    topic = fresh("ct")
    producer = kafka.Producer(kafka_url)
    closing.append(producer)
    producer.publisher(topic).send(
        kafka.EnvelopeWriter(b"x", headers={"a": "1"}, content_type="text/plain")
    )
    raw = KafkaConsumer(
        topic,
        bootstrap_servers=kafka_url.removeprefix("kafka://"),
        auto_offset_reset="earliest",
        consumer_timeout_ms=20_000,
    )
    try:
        record = next(iter(raw))
    finally:
        raw.close()
    assert record.headers == [("a", b"1"), ("content-type", b"text/plain")]


# -- groups and order -------------------------------------------------------------------------
def test_10000_messages_from_20_threads_reach_a_group_of_3_in_partition_order(
    kafka_url: str, closing: list[Any]
) -> None:
    """The issue's first acceptance test: one shared publisher, 20 sending threads, a
    group of three subscribers (one per partition); everything arrives unchanged, and
    each partition's messages arrive in offset order (so each thread's, keyed by it)."""
    topic, group = fresh("group3"), fresh("g")
    bindings = kafka.ChannelBindings(partitions=3)
    consumers = [kafka.Consumer(kafka_url, group_id=group) for _ in range(3)]
    producer = kafka.Producer(kafka_url, linger_ms=2)
    closing += [*consumers, producer]
    subs = [c.subscriber(topic, bindings) for c in consumers]
    lock = threading.Lock()
    seen: list[tuple[int, int, bytes, dict[str, str | bytes], str | None, bytes | None]] = []
    done = threading.Event()

    def record(env: kafka.EnvelopeReader) -> None:
        with lock:
            seen.append(
                (
                    env.partition,
                    env.offset,
                    env.read(),
                    dict(env.headers),
                    env.content_type,
                    env.key,
                )
            )
            if len(seen) >= 10_000:
                done.set()

    workers = [sub.start(record) for sub in subs]
    closing += workers
    # every member has its partition before anything is sent: no rebalance mid-flow
    assert wait_until(lambda: all(len(s.assignment()) == 1 for s in subs), 30), [
        s.assignment() for s in subs
    ]
    pub = producer.publisher(topic)
    errors: list[BaseException] = []

    def send(t: int) -> None:
        try:
            for i in range(500):
                env = pub.envelope(
                    f"{t}:{i}:{'x' * 40}".encode(),
                    headers={"thread": str(t), "bin": bytes([t, i % 256])},
                    content_type="text/plain",
                    key=f"thread-{t}",
                )
                pub.send(env)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(t,)) for t in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors[:3]
    assert done.wait(60), f"{len(seen)} of 10000 arrived"
    time.sleep(0.5)
    assert len(seen) == 10_000, f"{len(seen) - 10_000} duplicates"
    payloads = {p for _, _, p, _, _, _ in seen}
    assert payloads == {f"{t}:{i}:{'x' * 40}".encode() for t in range(20) for i in range(500)}
    for _, _, payload, headers, content_type, key in seen:
        t, i, _ = payload.decode().split(":")
        assert headers == {"thread": t, "bin": bytes([int(t), int(i) % 256])}
        assert content_type == "text/plain" and key == f"thread-{t}".encode()
    for partition in range(3):
        offsets = [o for p, o, *_ in seen if p == partition]
        assert offsets == sorted(offsets), f"partition {partition} out of order"
    per_thread: dict[str, list[int]] = {}
    for _, _, payload, *_ in seen:
        t, i, _ = payload.decode().split(":")
        per_thread.setdefault(t, []).append(int(i))
    assert all(seq == sorted(seq) for seq in per_thread.values()), "a thread's order was lost"
    assert sum(w.acked for w in workers) == 10_000
    assert all(w.received > 0 for w in workers), "a member got nothing"


def test_revocation_commits_what_was_handled(kafka_url: str, closing: list[Any]) -> None:
    """With periodic commits off, a member that loses its partitions to a new member still
    commits what it handled: the new member continues there, with no duplicates."""
    topic, group = fresh("revoke"), fresh("g")
    bindings = kafka.ChannelBindings(partitions=2)
    producer = kafka.Producer(kafka_url)
    first = kafka.Consumer(kafka_url, group_id=group, commit_interval=3600)
    second = kafka.Consumer(kafka_url, group_id=group, commit_interval=3600)
    closing += [producer, first, second]
    pub = producer.publisher(topic, bindings)
    sub1 = first.subscriber(topic, bindings)
    sub1.wait_assigned(30)
    pub.send(*(pub.envelope(f"m{i}".encode(), partition=i % 2) for i in range(100)))
    got1 = Collector()
    assert sub1.receive(got1, max_messages=60, timeout=30) == 60
    sub2 = second.subscriber(topic, bindings)
    got2 = Collector()
    w2 = sub2.start(got2)
    closing.append(w2)
    # sub1 runs no loop now: its keeper takes part in the rebalance, and commits on revocation
    assert wait_until(lambda: len(sub2.assignment()) == 1, 30), "the second member got nothing"
    w1 = sub1.start(got1)
    closing.append(w1)
    assert wait_until(lambda: len(got1) + len(got2) >= 100, 30), (len(got1), len(got2))
    time.sleep(1.0)
    payloads = got1.payloads + got2.payloads
    assert sorted(payloads) == sorted(f"m{i}".encode() for i in range(100)), Counter(
        payloads
    ).most_common(3)


def test_a_partition_that_comes_back_to_the_same_member_loses_nothing(
    kafka_url: str, closing: list[Any]
) -> None:
    """kafka-python keeps a partition's read position when a rebalance gives it back to
    the same member; the messages polled but not handed out before the rebalance must
    still come (the subscriber seeks back to them)."""
    topic, group = fresh("comeback"), fresh("g")
    bindings = kafka.ChannelBindings(partitions=2)
    producer = kafka.Producer(kafka_url)
    first = kafka.Consumer(kafka_url, group_id=group)
    closing += [producer, first]
    pub = producer.publisher(topic, bindings)
    sub1 = first.subscriber(topic, bindings)
    sub1.wait_assigned(30)
    pub.send(*(pub.envelope(f"m{i}".encode(), partition=i % 2) for i in range(100)))
    got = Collector()
    assert sub1.receive(got, max_messages=10, timeout=30) == 10  # the rest stays polled
    with kafka.Consumer(kafka_url, group_id=group) as second:
        sub2 = second.subscriber(topic, bindings)
        # rebalances wait for every member to rejoin: on a loaded machine (a CI run
        # beside other jobs) one took over 30 s, so these waits allow 90 s
        assert wait_until(lambda: len(sub2.assignment()) == 1, 90)  # sub1's keeper joined
        assert wait_until(lambda: len(sub1.assignment()) == 1, 90)
    # sub2 left: sub1 gets both partitions back, one of them with its old read position
    assert wait_until(lambda: len(sub1.assignment()) == 2, 90)
    sub1.receive(got, timeout=5)
    assert sorted(got.payloads) == sorted(f"m{i}".encode() for i in range(100)), (
        f"{100 - len(set(got.payloads))} missing"
    )


# -- errors in callbacks ----------------------------------------------------------------------
def _every_tenth_fails(env: kafka.EnvelopeReader) -> None:
    if int(env.payload) % 10 == 0:
        raise ValueError(f"message {env.payload!r} is bad on purpose")


@pytest.mark.parametrize("workers", [1, 3])
def test_every_tenth_message_raising_is_dead_lettered_and_nothing_else_is_lost(
    kafka_url: str, closing: list[Any], workers: int, caplog: pytest.LogCaptureFixture
) -> None:
    """Default policy (requeue): each failing message is delivered max_deliveries times,
    then moved to the dead-letter topic; every other message is handled, in order."""
    caplog.set_level(logging.CRITICAL, logger="syncapi.runtime")
    topic, dead, group = fresh("tenth"), fresh("dead"), fresh("g")
    bindings = kafka.ChannelBindings(partitions=2)
    producer = kafka.Producer(kafka_url)
    consumer = kafka.Consumer(
        kafka_url, group_id=group, auto_offset_reset="earliest", max_deliveries=3, dead_letter=dead
    )
    closing += [producer, consumer]
    pub = producer.publisher(topic, bindings)
    pub.send(*(pub.envelope(str(i).encode(), partition=i % 2) for i in range(200)))
    handled: list[int] = []
    attempts: Counter[int] = Counter()
    lock = threading.Lock()

    def callback(env: kafka.EnvelopeReader) -> None:
        n = int(env.read())
        with lock:
            attempts[n] += 1
        _every_tenth_fails(env)
        with lock:
            handled.append(n)

    worker = consumer.subscriber(topic, bindings).start(callback, workers=workers)
    closing.append(worker)
    good = [i for i in range(200) if i % 10]
    assert wait_until(lambda: set(handled) >= set(good), 60), len(set(handled))
    letters = Collector(expected=20)
    with kafka.Consumer(kafka_url, auto_offset_reset="earliest") as reader:
        reader.subscriber(dead).receive(letters, max_messages=20, timeout=30)
    assert sorted(int(p) for p in letters.payloads) == [i for i in range(200) if i % 10 == 0]
    for item in letters.items:
        n = int(item.payload)
        assert item.headers["x-death-reason"] == "delivered 3 times (max_deliveries)"
        assert item.headers["x-original-topic"] == topic
        assert item.headers["x-original-partition"] == str(n % 2)
        assert item.headers["x-original-offset"] == str(n // 2)
        assert attempts[n] == 3, f"message {n} was tried {attempts[n]} times"
    assert worker.alive and worker.error is None
    assert wait_until(lambda: worker.failed == 60, 5), worker.failed
    assert sorted(set(handled)) == good
    for partition in (0, 1):
        mine = [n for n in handled if n % 2 == partition]
        assert mine == sorted(mine), f"partition {partition} handled out of order"


@pytest.mark.parametrize(("policy", "dead_letters"), [("reject", 10), ("ack", 0)])
def test_reject_and_ack_policies(
    kafka_url: str,
    closing: list[Any],
    policy: str,
    dead_letters: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """``reject`` dead-letters at once (one attempt); ``ack`` skips the message."""
    caplog.set_level(logging.CRITICAL, logger="syncapi.runtime")
    topic, dead = fresh(policy), fresh("dead")
    producer = kafka.Producer(kafka_url)
    # consumer options in the URL: the dead-letter producer must not inherit them
    consumer = kafka.Consumer(
        f"{kafka_url}?group_id={fresh('g')}&auto_offset_reset=earliest", dead_letter=dead
    )
    closing += [producer, consumer]
    producer.publisher(topic).send(*(str(i).encode() for i in range(100)))
    attempts: Counter[int] = Counter()

    def callback(env: kafka.EnvelopeReader) -> None:
        attempts[int(env.read())] += 1
        _every_tenth_fails(env)

    sub = consumer.subscriber(topic)
    assert sub.receive(callback, on_error=policy, max_messages=100, timeout=30) == 100
    assert set(attempts.values()) == {1} and len(attempts) == 100
    letters = Collector()
    with kafka.Consumer(kafka_url, auto_offset_reset="earliest") as reader:
        reader.subscriber(dead).receive(letters, timeout=3)
    assert len(letters) == dead_letters
    if dead_letters:
        assert {item.headers["x-death-reason"] for item in letters.items} == {"rejected"}


def test_manual_nack_redelivers_from_that_message_in_order(
    kafka_url: str, closing: list[Any]
) -> None:
    """A nack rewinds the partition: the nacked message and the ones after it come again,
    in order, and nothing before it comes twice."""
    topic = fresh("nack")
    producer = kafka.Producer(kafka_url)
    consumer = kafka.Consumer(kafka_url, group_id=fresh("g"), auto_offset_reset="earliest")
    closing += [producer, consumer]
    producer.publisher(topic).send(*(str(i).encode() for i in range(10)))
    order: list[tuple[int, int]] = []

    def callback(env: kafka.EnvelopeReader) -> None:
        n = int(env.read())
        order.append((n, env.delivery_count))
        if n == 4 and env.delivery_count == 1:
            env.nack()
        else:
            env.ack()

    sub = consumer.subscriber(topic)
    assert sub.receive(callback, ack="manual", max_messages=11, timeout=30) == 11
    assert order == [(0, 1), (1, 1), (2, 1), (3, 1), (4, 1), (4, 2)] + [
        (n, 1) for n in range(5, 10)
    ]


# -- slow callbacks -------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_a_callback_longer_than_max_poll_interval_causes_no_rebalance(
    kafka_url: str, closing: list[Any], workers: int, caplog: pytest.LogCaptureFixture
) -> None:
    """The keeper polls with paused partitions while the callback runs: the member is not
    evicted, nothing is revoked, and no message comes twice."""
    caplog.set_level(logging.WARNING)
    topic, group = fresh("slow"), fresh("g")
    producer = kafka.Producer(kafka_url)
    consumer = kafka.Consumer(
        kafka_url,
        group_id=group,
        auto_offset_reset="earliest",
        max_poll_interval_ms=1500,
        session_timeout_ms=6000,
        heartbeat_interval_ms=500,
    )
    closing += [producer, consumer]
    producer.publisher(topic).send(*(str(i).encode() for i in range(6)))
    sub = consumer.subscriber(topic)
    revoked: list[object] = []
    original = sub._revoked

    async def spy(partitions: set[Any], lost: bool = False) -> None:
        if partitions:  # the first join revokes the empty set
            revoked.append(partitions)
        await original(partitions, lost)

    sub._revoked = spy  # type: ignore[method-assign]
    got: list[int] = []

    def slow(env: kafka.EnvelopeReader) -> None:
        n = int(env.read())
        if n in (0, 3):
            time.sleep(4.0)  # almost three max_poll_interval_ms
        got.append(n)

    if workers == 1:
        assert sub.receive(slow, max_messages=6, timeout=60) == 6
    else:
        worker = sub.start(slow, workers=workers)
        closing.append(worker)
        assert wait_until(lambda: len(got) == 6, 60), got
    time.sleep(1.0)
    assert got == list(range(6)), f"messages came again (a rebalance?): {got}"
    assert revoked == [], f"partitions were revoked: {revoked}"
    assert not [r for r in caplog.records if "poll timeout has expired" in r.getMessage()]


# -- topics ---------------------------------------------------------------------------------
def test_a_topic_is_created_from_channel_bindings(kafka_url: str, closing: list[Any]) -> None:
    from kafka.admin import ConfigResource

    topic = fresh("made")
    bindings = kafka.ChannelBindings.from_dict(
        {
            "partitions": 4,
            "replicas": 1,
            "topicConfiguration": {
                "cleanup.policy": ["delete", "compact"],
                "retention.ms": 7_200_000,
                "max.message.bytes": 65_536,
                "segment.ms": 3_600_000,
            },
        }
    )
    producer = kafka.Producer(kafka_url)
    closing.append(producer)
    producer.publisher(topic, bindings)
    producer.publisher(topic, bindings)  # idempotent: the second open just checks
    client = admin(kafka_url)
    try:
        (info,) = client.describe_topics([topic])
        configs = client.describe_configs([ConfigResource("TOPIC", topic)], config_filter="all")
    finally:
        client.close()
    assert len(info["partitions"]) == 4
    assert {len(p["replica_nodes"]) for p in info["partitions"]} == {1}
    values = {k: v["value"] for k, v in configs["topic"][topic].items()}
    assert values["cleanup.policy"] == "delete,compact"
    assert values["retention.ms"] == "7200000"
    assert values["max.message.bytes"] == "65536"
    assert values["segment.ms"] == "3600000"


def test_an_existing_topic_with_another_layout_is_reported(
    kafka_url: str, closing: list[Any], caplog: pytest.LogCaptureFixture
) -> None:
    topic = fresh("layout")
    producer = kafka.Producer(kafka_url)
    closing.append(producer)
    producer.publisher(topic, kafka.ChannelBindings(partitions=2))
    other = kafka.ChannelBindings(
        partitions=3, topic_configuration=kafka.TopicConfiguration(retention_ms=1000)
    )
    with (
        kafka.Producer(kafka_url) as fresh_producer,
        pytest.raises(kafka.TopicMismatchError) as caught,
    ):
        fresh_producer.publisher(topic, other)
    message = str(caught.value)
    assert "2 partitions, bindings say 3" in message and "retention.ms=" in message
    assert "topic_mismatch" in message
    caplog.set_level(logging.WARNING, logger="syncapi.kafka")
    with kafka.Consumer(kafka_url, topic_mismatch="warn") as consumer:
        consumer.subscriber(topic, other).close()
    assert any("2 partitions, bindings say 3" in r.getMessage() for r in caplog.records)


def test_create_topics_off_reports_a_missing_topic(kafka_url: str) -> None:
    topic = fresh("missing")
    with (
        kafka.Producer(kafka_url, create_topics=False) as producer,
        pytest.raises(kafka.TopicMismatchError, match="does not exist"),
    ):
        producer.publisher(topic, kafka.ChannelBindings(partitions=2))


def test_operation_bindings_set_group_and_client_id(kafka_url: str, closing: list[Any]) -> None:
    topic, group = fresh("opb"), fresh("g")
    consumer = kafka.Consumer(kafka_url, group_id="overridden", auto_offset_reset="earliest")
    producer = kafka.Producer(kafka_url)
    closing += [consumer, producer]
    op = kafka.OperationBindings.from_dict(
        {"groupId": {"type": "string", "enum": [group]}, "clientId": {"const": "billing-7"}}
    )
    sub = consumer.subscriber(topic, operation_bindings=op)
    assert sub.group_id == group
    producer.publisher(topic).send(b"one")
    assert sub.receive(lambda env: None, max_messages=1, timeout=30) == 1
    client = admin(kafka_url)  # the subscriber is still a member of its group
    try:
        groups = repr(client.list_groups())
        description = repr(client.describe_groups([group]))
    finally:
        client.close()
    sub.close()
    assert group in groups and "overridden" not in groups
    assert "billing-7" in description, description


# -- bad input ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["bad topic", "a/b", "", ".", "x" * 250, "caf\u00e9"])
def test_invalid_topic_names_fail_before_any_network_call(kafka_url: str, name: str) -> None:
    with kafka.Producer(kafka_url) as producer, kafka.Consumer(kafka_url) as consumer:
        started = time.monotonic()
        with pytest.raises(ConfigError, match="topic name"):
            producer.publisher(name)
        with pytest.raises(ConfigError, match="topic name"):
            consumer.subscriber(name)
        if name:
            with pytest.raises(ConfigError, match="topic"):
                producer.publisher("ok", kafka.ChannelBindings(topic=name))
        assert time.monotonic() - started < 0.5


def test_a_message_over_max_request_size_fails_at_once(kafka_url: str) -> None:
    with kafka.Producer(kafka_url, max_request_size=10_000) as producer:
        pub = producer.publisher(fresh("big"))
        started = time.monotonic()
        with pytest.raises(MessageTooLarge) as caught:
            pub.send(b"small", b"x" * 20_000, b"small too")
        assert time.monotonic() - started < 5
        error = caught.value
        assert "#2 (20000 bytes)" in str(error) and "max_request_size" in str(error)
        assert len(error.failures) == 1 and len(error.failures[0][0]) == 20_000


def test_a_message_the_broker_refuses_gives_its_reason_and_the_producer_goes_on(
    kafka_url: str, closing: list[Any], caplog: pytest.LogCaptureFixture
) -> None:
    """The topic allows 10,000 bytes: the broker refuses a 20,000-byte record with its own
    error (MESSAGE_TOO_LARGE); the same producer then sends the next records fine (kafka-
    python's idempotent producer would stay in its fatal state without syncapi's recovery)."""
    caplog.set_level(logging.ERROR)
    topic = fresh("broker-big")
    producer = kafka.Producer(kafka_url)
    consumer = kafka.Consumer(kafka_url, auto_offset_reset="earliest")
    closing += [producer, consumer]
    pub = producer.publisher(
        topic,
        kafka.ChannelBindings(
            partitions=1, topic_configuration=kafka.TopicConfiguration(max_message_bytes=10_000)
        ),
    )
    pub.send(b"before")
    started = time.monotonic()
    with pytest.raises(MessageTooLarge, match="MessageSizeTooLarge") as caught:
        pub.send(b"y" * 20_000)
    assert time.monotonic() - started < 10
    assert "message.max.bytes" in str(caught.value)
    assert "configurable maximum message size" in str(caught.value)  # the broker's reason
    pub.send(b"after")  # the producer recovered
    other = producer.publisher(fresh("other"))
    other.send(b"elsewhere")
    got = Collector(expected=2)
    consumer.subscriber(topic).receive(got, max_messages=2, timeout=30)
    assert got.payloads == [b"before", b"after"]


def test_an_unknown_binding_key_is_refused(kafka_url: str) -> None:
    with kafka.Producer(kafka_url) as producer:
        with pytest.raises(ConfigError, match="partitionz"):
            producer.publisher("x", {"partitionz": 3})
        with pytest.raises(ConfigError, match="kafka ChannelBindings"):
            producer.publisher("x", memory.ChannelBindings())


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"grup_id": "x"}, "did you mean 'group_id'"),
        ({"acks": "most"}, "acks"),
        ({"auto_offset_reset": "smallest"}, "auto_offset_reset"),
        ({"client_config": {"enable_auto_commit": True}}, "managed by syncapi"),
        ({"heartbeat_interval_ms": 50_000}, "heartbeat_interval_ms"),
    ],
)
def test_bad_options_are_refused_before_connecting(options: dict[str, Any], match: str) -> None:
    cls = kafka.Producer if "acks" in options else kafka.Consumer
    started = time.monotonic()
    with pytest.raises(ConfigError, match=match):
        cls("kafka://127.0.0.1:1", **options)
    assert time.monotonic() - started < 0.5


def test_a_url_with_a_path_is_refused() -> None:
    with pytest.raises(ConfigError, match="no path"):
        kafka.Producer("kafka://127.0.0.1:9092/orders")


def test_what_kafka_does_not_use_is_refused_not_ignored(kafka_url: str) -> None:
    from syncapi.security import UserPassword

    with pytest.raises(ConfigError, match="client_config"):
        kafka.Producer("kafka://user:secret@127.0.0.1:9092")
    with pytest.raises(ConfigError, match="not a KafkaConsumer setting"):
        kafka.Consumer(kafka_url, client_config={"linger_ms": 5})
    with pytest.raises(ConfigError, match="use the option 'group_id' instead"):
        kafka.Consumer(kafka_url, client_config={"group_id": "x"})
    with pytest.raises(ConfigError, match="syncapi sets it itself"):
        kafka.Consumer(kafka_url, client_config={"enable_auto_commit": True})
    security = UserPassword(username="u", password="p")
    with kafka.Producer(kafka_url) as producer, kafka.Consumer(kafka_url) as consumer:
        with pytest.raises(ConfigError, match="per-channel security"):
            producer.publisher("x", security=security)
        with pytest.raises(ConfigError, match="per-channel security"):
            consumer.subscriber("x", security=security)


def test_a_topic_the_broker_refuses_to_create_is_a_config_error(kafka_url: str) -> None:
    with (
        kafka.Producer(kafka_url) as producer,
        pytest.raises(ConfigError, match=r"refused to create .*replicas=3.*[Rr]eplication"),
    ):
        producer.publisher(fresh("replicas"), kafka.ChannelBindings(partitions=1, replicas=3))


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("side", ["producer", "consumer"])
def test_an_unreachable_broker_fails_fast_and_leaks_nothing(side: str) -> None:
    url = f"kafka://127.0.0.1:{_closed_port()}"
    before = set(threading.enumerate())
    started = time.monotonic()
    with pytest.raises(ConnectError, match="no broker could be reached") as caught:
        syncapi.producer(url, connect_timeout=1) if side == "producer" else syncapi.consumer(
            url, connect_timeout=1
        )
    elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < 3, elapsed
    assert caught.value.__cause__ is not None
    time.sleep(0.2)
    assert set(threading.enumerate()) <= before, "a kafka-python IO thread was left running"


# -- lifecycle ------------------------------------------------------------------------------
def test_close_leaves_no_thread_and_refuses_work(kafka_url: str) -> None:
    before = set(threading.enumerate())
    producer = kafka.Producer(kafka_url)
    consumer = kafka.Consumer(kafka_url, group_id=fresh("g"))
    topic = fresh("life")
    sub = consumer.subscriber(topic)
    worker = sub.start(lambda env: None, workers=2)
    with pytest.raises(ConfigError, match="beside a receive loop"):
        sub.wait_assigned(1)
    producer.publisher(topic).send(b"x")
    time.sleep(0.5)
    consumer.close()
    producer.close()
    assert not worker.alive
    with pytest.raises(ClosedError):
        sub.assignment()
    with pytest.raises(ClosedError):
        sub.wait_assigned(1)
    with pytest.raises(ClosedError):
        producer.publisher(topic)
    assert wait_until(lambda: set(threading.enumerate()) <= before, 5), [
        t.name for t in set(threading.enumerate()) - before
    ]


def test_send_error_names_the_failed_envelopes(kafka_url: str) -> None:
    """A record for a partition that does not exist fails alone; the others are delivered."""
    topic = fresh("partial")
    with kafka.Producer(kafka_url) as producer:
        pub = producer.publisher(topic, kafka.ChannelBindings(partitions=1))
        bad = pub.envelope(b"nowhere", partition=5)
        with pytest.raises(SendError) as caught:
            pub.send(b"first", bad, b"third")
    assert [env for env, _ in caught.value.failures] == [bad]
    assert "1 of 3 records failed" in str(caught.value) and "#2" in str(caught.value)
