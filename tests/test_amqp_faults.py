"""``amqp://`` under real faults: long callbacks vs heartbeats, broker restarts, dropped
connections with sends in flight, and a broker that stays unreachable.

Every fault is produced on the real RabbitMQ of the test session: restarted with
SIGTERM, connections force-closed and memory alarms raised with ``rabbitmqctl``.
Tests that restart the broker need the session's own broker (``amqp_service``) and are
skipped when ``SYNCAPI_TEST_AMQP_URL`` points elsewhere.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pika
import pytest

from syncapi import amqp
from syncapi.errors import ReceiveError, SendError, SyncapiError
from syncapi.testing import wait_until

pytestmark = pytest.mark.slow

TIMEOUT = 30.0


def _name(tag: str) -> str:
    return f"f-{tag}-{uuid.uuid4().hex[:8]}"


def _queue(name: str, durable: bool = False) -> amqp.ChannelBindings:
    return amqp.ChannelBindings(is_="queue", queue=amqp.Queue(name=name, durable=durable))


def _count(url: str, queue: str) -> int:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        return int(connection.channel().queue_declare(queue, passive=True).method.message_count)
    finally:
        connection.close()


def _delete(url: str, queue: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        connection.channel().queue_delete(queue)
    finally:
        connection.close()


@pytest.fixture
def memory_alarm(amqp_service: Any) -> Iterator[Any]:
    """Returns a function that raises (True) or clears (False) a memory alarm: a broker
    in alarm stops reading from publishing connections, so their messages stay
    unconfirmed. Cleared after the test whatever happens."""

    def alarm(on: bool) -> None:
        if on:
            amqp_service.ctl("set_vm_memory_high_watermark", "absolute", "1")
        else:
            amqp_service.ctl("set_vm_memory_high_watermark", "0.4")

    yield alarm
    alarm(False)


def test_a_callback_sleeping_three_heartbeats_keeps_the_connection(
    amqp_url: str, caplog: Any
) -> None:
    """heartbeat=1 and a callback sleeping 3.5 s: the I/O thread answers the broker's
    heartbeats meanwhile, so the connection stays up and the message is acked once."""
    caplog.set_level(logging.WARNING, logger="syncapi.amqp")
    q = _name("heartbeat")
    runs: list[bool] = []
    with (
        amqp.Consumer(amqp_url, heartbeat=1) as consumer,
        amqp.Producer(amqp_url, heartbeat=1) as producer,
    ):
        sub = consumer.subscriber(q, _queue(q))
        pub = producer.publisher(q, _queue(q))
        pub.send(b"slow")

        def callback(env: amqp.EnvelopeReader) -> None:
            runs.append(env.redelivered)
            time.sleep(3.5)

        worker = sub.start(callback)
        assert wait_until(lambda: worker.acked == 1, TIMEOUT)
        time.sleep(2.5)  # two more heartbeat intervals: a dead connection would show now
        pub.send(b"after")  # the producer idled 6 s on heartbeat=1 and still works
        assert wait_until(lambda: worker.acked == 2, TIMEOUT)
        worker.stop()
        assert runs == [False, False], "a message came twice: the connection was lost"
        assert consumer.connected and producer.connected
        assert consumer.reconnects == 0 and producer.reconnects == 0
        assert "connection lost" not in caplog.text
    assert _count(amqp_url, q) == 0
    _delete(amqp_url, q)


def test_broker_restarted_twice_during_ten_thousand_persistent_messages(
    amqp_url: str, amqp_service: Any
) -> None:
    """10,000 persistent messages on a durable queue while the broker restarts twice:
    every confirmed message is received (duplicates counted, none lost), and the
    consumer resumed without user code."""
    q = _name("restart")
    bindings = _queue(q, durable=True)
    total, batch = 10_000, 20
    received: Counter[bytes] = Counter()
    lock = threading.Lock()
    confirmed: list[bytes] = []
    failed: list[tuple[list[bytes], BaseException]] = []
    options = {"reconnect_delay": 0.2, "reconnect_max_delay": 1.0}
    with (
        amqp.Consumer(amqp_url, prefetch=200, **options) as consumer,
        amqp.Producer(amqp_url, send_timeout=120, **options) as producer,
    ):
        sub = consumer.subscriber(q, bindings)
        pub = producer.publisher(q, bindings)

        def on_message(env: amqp.EnvelopeReader) -> None:
            with lock:
                received[env.payload] += 1

        worker = sub.start(on_message, workers=2)

        def send_all() -> None:
            for start in range(0, total, batch):
                payloads = [f"m{i}".encode() for i in range(start, start + batch)]
                try:
                    pub.send(*payloads)
                except SyncapiError as exc:
                    failed.append((payloads, exc))
                else:
                    confirmed.extend(payloads)

        sender = threading.Thread(target=send_all)
        sender.start()
        for at in (2_000, 6_000):
            assert wait_until(lambda at=at: len(confirmed) >= at, 120, 0.05), len(confirmed)
            amqp_service.restart()
        sender.join(300)
        assert not sender.is_alive()
        assert wait_until(lambda: set(confirmed) <= set(received), 120, 0.1), (
            f"{len(set(confirmed) - set(received))} confirmed messages never arrived"
        )
        worker.stop(10)
        duplicates = sum(count - 1 for count in received.values())
        print(
            f"\nconfirmed {len(confirmed)}, failed sends {len(failed)}, received "
            f"{len(received)} distinct, {duplicates} duplicates; reconnects: producer "
            f"{producer.reconnects}, consumer {consumer.reconnects}"
        )
        assert not failed, f"sends failed across the restarts: {failed[0][1]!r}"
        assert len(confirmed) == total
        assert consumer.reconnects >= 2 and producer.reconnects >= 2
        assert set(received) <= {f"m{i}".encode() for i in range(total)}
    _delete(amqp_url, q)


@pytest.mark.parametrize("republish", [True, False])
def test_send_in_flight_when_the_connection_drops(
    amqp_url: str, amqp_service: Any, memory_alarm: Any, republish: bool
) -> None:
    """A message published but not confirmed when the connection drops: with
    ``republish=True`` (the default) it is published again on the new connection and
    the send returns; with ``republish=False`` the send raises SendError at once."""
    q = _name("inflight")
    with amqp.Producer(
        amqp_url, republish=republish, reconnect_delay=0.2, reconnect_max_delay=0.5
    ) as producer:
        pub = producer.publisher(q, _queue(q))
        pub.send(b"before")
        memory_alarm(True)
        time.sleep(1.0)  # the broker raises the alarm and stops reading publishers
        outcome: list[BaseException | None] = []

        def send() -> None:
            try:
                pub.send(b"in flight", timeout=60)
                outcome.append(None)
            except SyncapiError as exc:
                outcome.append(exc)

        sender = threading.Thread(target=send)
        sender.start()
        time.sleep(1.0)
        assert not outcome, "the broker confirmed a message during a memory alarm"
        amqp_service.ctl("close_all_connections", "fault injection")
        if republish:
            time.sleep(1.0)
            assert not outcome, "the send ended although the message was never confirmed"
            memory_alarm(False)
            sender.join(60)
            assert outcome == [None]
            assert wait_until(lambda: _count(amqp_url, q) == 2, TIMEOUT)
        else:
            sender.join(30)
            assert len(outcome) == 1 and isinstance(outcome[0], SendError), outcome
            assert outcome[0].failures and outcome[0].failures[0][0].payload == b"in flight"
            memory_alarm(False)
            assert wait_until(lambda: producer.connected, TIMEOUT)
            assert wait_until(lambda: _sends(pub), TIMEOUT), "the publisher did not recover"
    _delete(amqp_url, q)


def _sends(pub: Any) -> bool:
    try:
        pub.send(b"later", timeout=5)
    except SyncapiError:
        return False
    return True


def test_a_broker_that_stays_away_fails_sends_and_receives(
    amqp_url: str, amqp_service: Any
) -> None:
    """After ``reconnect_attempts`` failed attempts the connection is given up: the
    receive loop raises ReceiveError and sends raise, instead of hanging."""
    q = _name("gone")
    options = {"reconnect_attempts": 2, "reconnect_delay": 0.1, "reconnect_max_delay": 0.2}
    consumer = amqp.Consumer(amqp_url, **options)
    producer = amqp.Producer(amqp_url, **options)
    try:
        sub = consumer.subscriber(q, _queue(q))
        pub = producer.publisher(q, _queue(q))
        amqp_service.ctl("change_password", "guest", "changed-for-the-test")
        try:
            amqp_service.ctl("close_all_connections", "fault injection")
            with pytest.raises(ReceiveError, match="gave up after 2 reconnect attempts"):
                sub.receive(lambda env: None, timeout=TIMEOUT)
            with pytest.raises(SyncapiError, match=r"gave up|closed"):
                pub.send(b"nowhere", timeout=TIMEOUT)
        finally:
            amqp_service.ctl("change_password", "guest", "guest")
    finally:
        consumer.close()
        producer.close()
    _delete(amqp_url, q)


def test_close_while_reconnecting_returns_at_once(amqp_url: str, amqp_service: Any) -> None:
    """A producer and consumer whose broker refuses them (they keep retrying, no limit)
    close within a bounded time, and their I/O threads end."""
    q = _name("closing")
    consumer = amqp.Consumer(amqp_url, reconnect_delay=0.1, reconnect_max_delay=0.2)
    producer = amqp.Producer(amqp_url, reconnect_delay=0.1, reconnect_max_delay=0.2)
    sub = consumer.subscriber(q, _queue(q))
    pub = producer.publisher(q, _queue(q))
    worker = sub.start(lambda env: None)
    amqp_service.ctl("change_password", "guest", "changed-for-the-test")
    try:
        amqp_service.ctl("close_all_connections", "fault injection")
        assert wait_until(lambda: not consumer.connected and not producer.connected, TIMEOUT)
        time.sleep(0.5)  # a few refused attempts
        started = time.monotonic()
        worker.stop(5)
        consumer.close()
        producer.close()
        assert time.monotonic() - started < 5
        assert not [t for t in threading.enumerate() if t.name.startswith("syncapi-amqp-io")]
        with pytest.raises(SyncapiError):
            pub.send(b"after close")
    finally:
        amqp_service.ctl("change_password", "guest", "guest")
    _delete(amqp_url, q)


def test_automatic_ack_messages_survive_a_reconnect(amqp_url: str, amqp_service: Any) -> None:
    """With ack=False the broker forgets a message once sent: what the inbox holds when
    the connection drops is still handed out (it will never come again)."""
    q = _name("autoack")
    op = amqp.OperationBindings(ack=False)
    with amqp.Consumer(amqp_url) as consumer, amqp.Producer(amqp_url) as producer:
        sub = consumer.subscriber(q, _queue(q), operation_bindings=op)
        producer.publisher(q, _queue(q)).send(*[f"a{i}".encode() for i in range(50)])
        assert wait_until(lambda: sub._inbox.qsize() >= 50, TIMEOUT)
        amqp_service.ctl("close_all_connections", "fault injection")
        assert wait_until(lambda: consumer.reconnects >= 1, TIMEOUT)
        got: list[bytes] = []
        sub.receive(lambda env: got.append(env.payload), max_messages=50, timeout=TIMEOUT)
        assert sorted(got) == sorted(f"a{i}".encode() for i in range(50))
    _delete(amqp_url, q)


def test_messages_of_a_lost_channel_are_not_handed_out_while_reconnecting(
    amqp_url: str, amqp_service: Any
) -> None:
    """What a dropped channel delivered cannot be acked any more: the broker sends it
    again. So it is dropped from the inbox at once, not run (and then run again)."""
    q = _name("stale")
    with (
        amqp.Consumer(amqp_url, prefetch=10, reconnect_delay=2.0) as consumer,
        amqp.Producer(amqp_url) as producer,
    ):
        sub = consumer.subscriber(q, _queue(q))
        producer.publisher(q, _queue(q)).send(*[f"m{i}".encode() for i in range(10)])
        assert wait_until(lambda: sub._inbox.qsize() >= 10, TIMEOUT)
        amqp_service.ctl("close_all_connections", "fault injection")
        assert wait_until(lambda: not consumer.connected, TIMEOUT)
        seen: list[bytes] = []
        sub.receive(lambda env: seen.append(env.payload), timeout=1.0)
        assert seen == [], "messages of the lost channel ran during the reconnect"
        assert wait_until(lambda: consumer.connected, TIMEOUT)
        sub.receive(lambda env: seen.append(env.payload), max_messages=10, timeout=TIMEOUT)
        assert sorted(seen) == sorted(f"m{i}".encode() for i in range(10))
    _delete(amqp_url, q)


def test_closing_during_a_half_open_reconnect_closes_its_socket(
    amqp_url: str, amqp_service: Any
) -> None:
    """The reconnect goes to a host that accepts TCP and never speaks AMQP; closing the
    producer then must close that socket too, not leave it to the process's end."""
    import socket

    accepted: list[socket.socket] = []
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(5)
        silent.settimeout(TIMEOUT)
        port = silent.getsockname()[1]
        host = amqp_url.split("@", 1)[1].split("/", 1)[0]
        producer = amqp.Producer(
            f"amqp://guest:guest@{host},127.0.0.1:{port}/", reconnect_delay=0.1, connect_timeout=30
        )
        try:
            amqp_service.ctl("close_all_connections", "fault injection")
            connection, _ = silent.accept()  # the reconnect, round to the second host
            accepted.append(connection)
            connection.settimeout(5)
            # Wait for the protocol header before closing: accept() returns once the kernel
            # has the handshake, which can be before pika writes its first bytes.
            assert connection.recv(8).startswith(b"AMQP")
        finally:
            producer.close()
        with connection:
            assert connection.recv(100) == b"", "the half-open socket was left open"
