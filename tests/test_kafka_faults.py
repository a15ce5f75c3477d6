"""``kafka://`` through real broker restarts: nothing sent is silently lost.

The session's broker (``kafka_service``) is stopped and started again, twice, while
producer threads send and a consumer group receives. Every send either returned (the
broker acknowledged it) or raised; every acknowledged message must arrive, duplicates
are allowed (at-least-once) and counted.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import Counter
from typing import Any

import pytest

from syncapi import kafka
from syncapi.testing import wait_until
from tests.services.base import Service

pytestmark = pytest.mark.slow

TOTAL = 10_000
THREADS = 4


def test_two_broker_restarts_lose_no_acknowledged_message(
    kafka_service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    url = kafka_service.url
    if kafka_service.pid is None:
        kafka_service.start()
    topic, group = f"restart-{uuid.uuid4().hex[:8]}", f"g-{uuid.uuid4().hex[:8]}"
    bindings = kafka.ChannelBindings(partitions=3)
    producer = kafka.Producer(url, linger_ms=5, request_timeout_ms=10_000)
    consumers = [
        kafka.Consumer(
            url,
            group_id=group,
            auto_offset_reset="earliest",
            session_timeout_ms=10_000,
            heartbeat_interval_ms=1_000,
            request_timeout_ms=10_000,
            connect_timeout=30,
        )
        for _ in range(2)
    ]
    received: Counter[bytes] = Counter()
    lock = threading.Lock()

    def record(env: kafka.EnvelopeReader) -> None:
        with lock:
            received[env.payload] += 1

    workers: list[Any] = []
    try:
        pub = producer.publisher(topic, bindings)
        subs = [c.subscriber(topic, bindings) for c in consumers]
        workers = [sub.start(record, workers=2) for sub in subs]
        delivered: list[bytes] = []
        failed: list[tuple[bytes, BaseException]] = []
        progress = Counter[int]()

        def send(t: int) -> None:
            for i in range(TOTAL // THREADS):
                payload = f"{t}-{i}".encode()
                try:
                    pub.send(pub.envelope(payload, key=str(t)), timeout=60)
                except Exception as exc:
                    with lock:
                        failed.append((payload, exc))
                else:
                    with lock:
                        delivered.append(payload)
                progress[t] += 1

        threads = [threading.Thread(target=send, args=(t,)) for t in range(THREADS)]
        for thread in threads:
            thread.start()
        restarts = []
        for mark in (TOTAL // 4, TOTAL * 3 // 5):
            assert wait_until(lambda m=mark: sum(progress.values()) >= m, 120), progress
            started = time.monotonic()
            kafka_service.restart()
            restarts.append(time.monotonic() - started)
        for thread in threads:
            thread.join(300)
        assert sum(progress.values()) == TOTAL
        assert len(delivered) + len(failed) == TOTAL, "a send neither returned nor raised"
        missing = lambda: [p for p in delivered if not received[p]]  # noqa: E731
        assert wait_until(lambda: not missing(), 120), (
            f"{len(missing())} acknowledged messages never arrived, e.g. {missing()[:5]}"
        )
        sent = {f"{t}-{i}".encode() for t in range(THREADS) for i in range(TOTAL // THREADS)}
        assert set(received) <= sent, "received a message that was never sent"
        duplicates = sum(n - 1 for n in received.values())
        print(
            f"\nbroker restarts took {', '.join(f'{r:.1f} s' for r in restarts)}; "
            f"{len(delivered)} acknowledged, {len(failed)} raised "
            f"({Counter(type(e).__name__ for _, e in failed)}), {len(received)} distinct "
            f"received, {duplicates} duplicates"
        )
        for _, exc in failed:  # a failed send says why, in syncapi's words
            assert type(exc).__module__ == "syncapi.errors", exc
        assert all(w.alive and w.error is None for w in workers), workers
    finally:
        for worker in workers:
            worker.stop(timeout=10)
        for consumer in consumers:
            consumer.close()
        producer.close()


def test_send_while_the_broker_is_down_times_out_as_asked(kafka_service: Service) -> None:
    """With the broker stopped, ``send(timeout=1)`` raises syncapi's TimeoutError after
    about a second (the record may still be delivered later: it is at-least-once)."""
    from syncapi.errors import TimeoutError as SyncapiTimeout

    if kafka_service.pid is None:
        kafka_service.start()
    topic = f"down-{uuid.uuid4().hex[:8]}"
    with kafka.Producer(kafka_service.url) as producer:
        pub = producer.publisher(topic)
        pub.send(b"while up")  # the topic and its leader are known
        kafka_service.stop()
        try:
            started = time.monotonic()
            with pytest.raises(SyncapiTimeout, match="not acknowledged within 1"):
                pub.send(b"while down", timeout=1)
            assert 0.9 <= time.monotonic() - started < 3
        finally:
            kafka_service.start()
        pub.send(b"up again", timeout=60)
