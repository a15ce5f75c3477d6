"""The Kafka test broker (``tests/services/kafka.py``), checked with the raw kafka-python client.

The broker is the session's (``kafka_service`` from ``conftest.py``); the restart test
restarts it, and the stop test uses a broker of its own so the session's keeps running.
"""

from __future__ import annotations

import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic

from tests.services.base import pid_alive, processes_mentioning
from tests.services.kafka import KafkaService

pytestmark = pytest.mark.kafka

_FIRST_START: dict[str, float] = {}


@pytest.fixture
def own_kafka(kafka_service: KafkaService) -> Iterator[KafkaService]:
    """The session's broker, running before and after each test."""
    if not _FIRST_START:
        _FIRST_START.update(kafka_service.timings)
        print(f"\nkafka {kafka_service.version}: {_describe(kafka_service.timings)}")
    if kafka_service.pid is None:
        kafka_service.start()
    yield kafka_service
    if kafka_service.pid is None:
        kafka_service.start()


def _describe(timings: dict[str, float]) -> str:
    download = timings.get("download", 0.0)
    kind = "cold (jars downloaded)" if download else "warm (jars cached)"
    return (
        f"{kind} start {timings['start']:.1f} s = download {download:.1f} s"
        f" + class archive {timings.get('class_archive', 0.0):.1f} s"
        f" + launch to ready {timings['start'] - timings['install']:.1f} s"
    )


def _topic(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _admin(service: KafkaService) -> Any:
    return KafkaAdminClient(bootstrap_servers=service.bootstrap, request_timeout_ms=10000)


def _create_topic(service: KafkaService, name: str, partitions: int, **configs: str) -> None:
    admin = _admin(service)
    try:
        admin.create_topics(
            [NewTopic(name, num_partitions=partitions, replication_factor=1, topic_configs=configs)]
        )
        admin.wait_for_topics([name], timeout_ms=10000)
    finally:
        admin.close()


def _producer(service: KafkaService) -> Any:
    return KafkaProducer(
        bootstrap_servers=service.bootstrap,
        acks="all",
        linger_ms=5,
        request_timeout_ms=10000,
        max_block_ms=10000,
    )


def test_start_times(own_kafka: KafkaService, record_property: Any) -> None:
    """Not a check but a record: how long the module's broker took to come up."""
    for key, seconds in _FIRST_START.items():
        record_property(f"kafka_{key}_s", round(seconds, 2))
    record_property("kafka_version", own_kafka.version)
    assert own_kafka.url == f"kafka://127.0.0.1:{own_kafka.port}"
    assert own_kafka.bootstrap == f"127.0.0.1:{own_kafka.port}"


def test_thousand_messages_round_trip_with_headers_and_commits(own_kafka: KafkaService) -> None:
    topic, group = _topic("round-trip"), _topic("group")
    _create_topic(own_kafka, topic, partitions=3)
    count = 1000
    producer = _producer(own_kafka)
    try:
        futures = [
            producer.send(
                topic,
                key=f"key-{i % 10}".encode(),
                value=f"message {i} ".encode() + bytes(range(256)),
                headers=[("seq", str(i).encode()), ("content-type", b"application/octet-stream")],
            )
            for i in range(count)
        ]
        producer.flush(30)
        sent = [future.get(timeout=10) for future in futures]
    finally:
        producer.close()
    assert {meta.partition for meta in sent} == {0, 1, 2}

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=own_kafka.bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        request_timeout_ms=20000,
    )
    by_partition: dict[int, list[int]] = {}
    key_partition: dict[bytes, int] = {}
    received = 0
    try:
        deadline = time.monotonic() + 60
        while received < count and time.monotonic() < deadline:
            batches = consumer.poll(timeout_ms=500)
            for tp, records in batches.items():
                for record in records:
                    headers = dict(record.headers)
                    seq = int(headers["seq"])
                    assert headers["content-type"] == b"application/octet-stream"
                    assert record.value == f"message {seq} ".encode() + bytes(range(256))
                    assert record.key == f"key-{seq % 10}".encode()
                    assert key_partition.setdefault(record.key, tp.partition) == tp.partition
                    by_partition.setdefault(tp.partition, []).append(seq)
                    received += 1
            if batches:
                consumer.commit()
        assignment = consumer.assignment()
        committed = {tp.partition: consumer.committed(tp) for tp in assignment}
        ends = {tp.partition: offset for tp, offset in consumer.end_offsets(assignment).items()}
    finally:
        consumer.close()

    assert sorted(seq for seqs in by_partition.values() for seq in seqs) == list(range(count))
    for partition, seqs in by_partition.items():
        assert seqs == sorted(seqs), f"partition {partition} out of order"
    assert committed == ends
    assert sum(ends.values()) == count

    # The commits hold: the same group starts where it stopped and finds nothing left.
    again = KafkaConsumer(
        topic,
        bootstrap_servers=own_kafka.bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    try:
        deadline = time.monotonic() + 30
        leftover = 0
        while not again.assignment() and time.monotonic() < deadline:
            leftover += sum(len(records) for records in again.poll(timeout_ms=200).values())
        resumed_at = {tp.partition: again.position(tp) for tp in again.assignment()}
    finally:
        again.close()
    assert leftover == 0
    assert resumed_at == ends


def test_admin_creates_topic_with_three_partitions(own_kafka: KafkaService) -> None:
    topic = _topic("three")
    _create_topic(own_kafka, topic, partitions=3, **{"retention.ms": "600000"})
    admin = _admin(own_kafka)
    try:
        assert topic in admin.list_topics()
        [described] = admin.describe_topics([topic])
    finally:
        admin.close()
    assert described["error_code"] == 0
    assert sorted(p["partition_index"] for p in described["partitions"]) == [0, 1, 2]

    consumer = KafkaConsumer(bootstrap_servers=own_kafka.bootstrap)
    try:
        assert consumer.partitions_for_topic(topic) == {0, 1, 2}
    finally:
        consumer.close()


def test_restart_keeps_data_and_port(own_kafka: KafkaService, record_property: Any) -> None:
    topic = _topic("restart")
    port, controller_port, old_pid = own_kafka.port, own_kafka.controller_port, own_kafka.pid
    producer = _producer(own_kafka)
    try:
        producer.send(topic, value=b"written before the restart", headers=[("h", b"1")])
        producer.flush(30)
    finally:
        producer.close()

    seconds = own_kafka.restart()
    record_property("kafka_restart_s", round(seconds, 2))
    print(f"\nkafka restart (stop + start, data kept): ready in {seconds:.1f} s")
    assert (own_kafka.port, own_kafka.controller_port) == (port, controller_port)
    assert own_kafka.pid != old_pid
    assert old_pid is not None and not pid_alive(old_pid)

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=own_kafka.bootstrap,
        group_id=_topic("after-restart"),
        auto_offset_reset="earliest",
        consumer_timeout_ms=15000,
    )
    try:
        records = [next(consumer)]
    finally:
        consumer.close()
    assert records[0].value == b"written before the restart"
    assert records[0].headers == [("h", b"1")]


def test_stop_leaves_no_process(tmp_path: Path, record_property: Any) -> None:
    service = KafkaService(tmp_path / "stop-me")
    try:
        seconds = service.start()
        record_property("kafka_fresh_warm_start_s", round(seconds, 2))
        print(f"\nkafka fresh data dir, jars cached: ready in {seconds:.1f} s")
        pids = service.pids()
        assert pids and all(pid_alive(pid) for pid in pids)
        assert pids[0] in processes_mentioning(str(service.workdir))
    finally:
        started = time.monotonic()
        service.stop()
        stop_seconds = time.monotonic() - started
    record_property("kafka_stop_s", round(stop_seconds, 2))

    assert service.pids() == []
    assert not any(pid_alive(pid) for pid in pids)
    assert processes_mentioning(str(service.workdir)) == []
    pgrep = subprocess.run(
        ["pgrep", "-f", f"kafka.Kafka {service.config_file}"], capture_output=True, check=False
    )
    assert pgrep.returncode == 1, pgrep.stdout
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", service.port), timeout=2):
        pass
