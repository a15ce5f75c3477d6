"""The conformance kit: one pytest base class that proves a protocol implementation.

Subclass :class:`ProtocolConformance` in a test module, say what the protocol can do, and
tell the kit how to make a consumer and a producer::

    from syncapi.testing import ProtocolConformance
    from syncapi import Capabilities

    class TestMyProtocol(ProtocolConformance):
        capabilities = Capabilities(ordered=True, redelivery=True, max_payload=1 << 20)

        def make_consumer(self, group=None):
            return MyConsumer("myproto://127.0.0.1:7000", group=group)

        def make_producer(self, consumer):
            return MyProducer("myproto://127.0.0.1:7000")

pytest then runs every scenario below against the real implementation. A scenario that
the capability flags rule out is *skipped* with the flag named, never passed silently.
The kit closes everything it made after each test.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

from ..core import Capabilities, Consumer, Producer, Publisher, Subscriber
from ..errors import ClosedError, MessageTooLarge, SyncapiError
from ..runtime import Worker
from .collect import Collector, wait_until

__all__ = ["ProtocolConformance"]


class ProtocolConformance:
    """Base class of a protocol's conformance tests (see the module documentation).

    A subclass sets the class attributes below (``capabilities`` is required) and
    implements :meth:`make_consumer` and :meth:`make_producer`. Optional:
    :meth:`channel_name`, :meth:`open_subscriber`, :meth:`open_publisher`,
    :meth:`wait_ready`.

    Attributes:
        capabilities: the protocol's :class:`~syncapi.Capabilities` (required).
        timeout: seconds a scenario waits for messages (default 20).
        max_payload_tested: the largest payload sent by the size scenario (default: the
            protocol's ``max_payload``, or 4 MiB when it has none).
    """

    capabilities: ClassVar[Capabilities]
    timeout: ClassVar[float] = 20.0
    max_payload_tested: ClassVar[int | None] = None

    # -- what a protocol supplies ------------------------------------------------------
    def make_consumer(self, group: str | None = None) -> Consumer:
        """Return a new consumer; subscribers it makes share ``group`` (if not ``None``)."""
        raise NotImplementedError("ProtocolConformance subclasses implement make_consumer()")

    def make_producer(self, consumer: Consumer) -> Producer:
        """Return a new producer that reaches ``consumer`` (brokerless protocols aim at it)."""
        raise NotImplementedError("ProtocolConformance subclasses implement make_producer()")

    def channel_name(self, tag: str) -> str:
        """Return a fresh channel address for one scenario."""
        return f"kit-{tag}-{uuid.uuid4().hex[:10]}"

    def open_subscriber(self, consumer: Consumer, channel: str) -> Subscriber:
        """Open a subscriber on ``channel`` (override to pass bindings)."""
        return consumer.subscriber(channel)

    def open_publisher(self, producer: Producer, channel: str) -> Publisher:
        """Open a publisher on ``channel`` (override to pass bindings)."""
        return producer.publisher(channel)

    def wait_ready(self, subscriber: Subscriber) -> None:
        """Block until ``subscriber`` will see messages sent from now on (default: at once).

        Kafka waits for its partition assignment here, for example.
        """

    # -- plumbing ----------------------------------------------------------------------
    @pytest.fixture(autouse=True)
    def _syncapi_kit_resources(self) -> Iterator[None]:
        self._kit_resources: list[Any] = []
        yield
        leaked = []
        for resource in reversed(self._kit_resources):
            try:
                if isinstance(resource, Worker):
                    if not resource.stop(timeout=5):
                        leaked.append(resource)
                else:
                    resource.close()
            except SyncapiError:
                pass
        assert not leaked, f"receive loops still running 5 s after stop(): {leaked}"

    def _keep(self, resource: Any) -> Any:
        self._kit_resources.append(resource)
        return resource

    def consumer(self, group: str | None = None) -> Consumer:
        """A consumer closed after the test."""
        return self._keep(self.make_consumer(group))  # type: ignore[no-any-return]

    def producer(self, consumer: Consumer) -> Producer:
        """A producer closed after the test."""
        return self._keep(self.make_producer(consumer))  # type: ignore[no-any-return]

    def subscribe(self, consumer: Consumer, channel: str) -> Subscriber:
        """A ready subscriber closed after the test."""
        sub = self._keep(self.open_subscriber(consumer, channel))
        self.wait_ready(sub)
        return sub  # type: ignore[no-any-return]

    def start(self, sub: Subscriber, callback: Any, **kwargs: Any) -> Worker:
        """Start a receive loop stopped after the test."""
        return self._keep(sub.start(callback, **kwargs))  # type: ignore[no-any-return]

    def _need(self, flag: str) -> None:
        if not getattr(self.capabilities, flag):
            pytest.skip(f"protocol capability {flag!r} is False")

    def _expect_all(self, collect: Collector, sent: list[bytes], what: str) -> None:
        """Wait for ``sent`` and check it arrived (exactly, or measured when unreliable)."""
        collect.wait(self.timeout)
        got = collect.payloads
        if self.capabilities.reliable:
            missing = len(set(sent) - set(got))
            assert missing == 0, f"{what}: {missing} of {len(sent)} messages never arrived"
            assert len(got) == len(set(got)), f"{what}: duplicates received"
        else:
            assert set(got) <= set(sent), f"{what}: received messages that were never sent"
            assert got, f"{what}: nothing arrived of {len(sent)} messages"

    # -- scenarios ---------------------------------------------------------------------
    def test_messages_arrive_intact(self) -> None:
        """100 messages keep payload, headers (str and bytes) and content type."""
        consumer = self.consumer()
        producer = self.producer(consumer)
        channel = self.channel_name("intact")
        sub = self.subscribe(consumer, channel)
        collect = Collector(expected=100)
        self.start(sub, collect)
        pub = self.open_publisher(producer, channel)
        sent = []
        for i in range(100):
            payload = f'{{"n": {i}, "text": "h\u00e9llo \u2603"}}'.encode()
            sent.append(payload)
            env = pub.envelope(payload)
            if self.capabilities.headers:
                env.headers["seq"] = str(i)
                env.headers["unicode"] = "caf\u00e9 \u2603"
                env.headers["binary"] = bytes([0, 255, i % 256])
                env.set_content_type("application/json")
            pub.send(env)
        self._expect_all(collect, sent, "intact")
        for item in collect.items:
            if self.capabilities.headers:
                i = int(item.headers["seq"])
                assert item.payload == sent[i]
                assert item.headers == {
                    "seq": str(i),
                    "unicode": "caf\u00e9 \u2603",
                    "binary": bytes([0, 255, i % 256]),
                }, "headers changed on the way"
                assert item.content_type == "application/json"
            assert item.channel == channel
        if self.capabilities.ordered:
            assert collect.payloads == sent, "messages arrived out of order"

    def test_concurrent_publishers(self) -> None:
        """20 threads share one publisher; nothing is lost or duplicated."""
        consumer = self.consumer()
        producer = self.producer(consumer)
        channel = self.channel_name("threads")
        sub = self.subscribe(consumer, channel)
        threads, per_thread = 20, 50
        collect = Collector(expected=threads * per_thread)
        self.start(sub, collect)
        pub = self.open_publisher(producer, channel)
        errors: list[BaseException] = []
        barrier = threading.Barrier(threads)

        def publish(t: int) -> None:
            try:
                barrier.wait()
                for i in range(per_thread):
                    env = pub.envelope(f"{t}:{i}".encode())
                    if self.capabilities.headers:
                        env.headers["thread"] = str(t)
                    pub.send(env)
            except BaseException as exc:  # reported below
                errors.append(exc)

        workers = [threading.Thread(target=publish, args=(t,)) for t in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(self.timeout)
        assert not errors, f"send failed in a thread: {errors[0]!r}"
        sent = [f"{t}:{i}".encode() for t in range(threads) for i in range(per_thread)]
        self._expect_all(collect, sent, "concurrent publishers")
        if self.capabilities.ordered and self.capabilities.reliable:
            by_thread: dict[str, list[int]] = {}
            for payload in collect.payloads:
                t, i = payload.decode().split(":")
                by_thread.setdefault(t, []).append(int(i))
            for t, seq in by_thread.items():
                assert seq == sorted(seq), f"thread {t}'s messages arrived out of order"

    def test_channels_are_isolated(self) -> None:
        """A subscriber receives its own channel's messages only."""
        consumer = self.consumer()
        producer = self.producer(consumer)
        a, b = self.channel_name("iso-a"), self.channel_name("iso-b")
        sub_a, sub_b = self.subscribe(consumer, a), self.subscribe(consumer, b)
        got_a, got_b = Collector(expected=20), Collector(expected=20)
        self.start(sub_a, got_a)
        self.start(sub_b, got_b)
        pub_a, pub_b = self.open_publisher(producer, a), self.open_publisher(producer, b)
        for i in range(20):
            pub_a.send(f"a{i}".encode())
            pub_b.send(f"b{i}".encode())
        self._expect_all(got_a, [f"a{i}".encode() for i in range(20)], "channel a")
        self._expect_all(got_b, [f"b{i}".encode() for i in range(20)], "channel b")
        time.sleep(0.2)
        assert all(p.startswith(b"a") for p in got_a.payloads)
        assert all(p.startswith(b"b") for p in got_b.payloads)

    def test_payload_sizes(self) -> None:
        """Empty, every byte value, and the largest payload arrive whole; one byte more is refused."""
        limit = self.max_payload_tested or self.capabilities.max_payload or 4 * 1024 * 1024
        consumer = self.consumer()
        producer = self.producer(consumer)
        channel = self.channel_name("sizes")
        sub = self.subscribe(consumer, channel)
        big = os.urandom(limit)
        payloads = [b"", (bytes(range(256)) * 4)[: max(1, limit - 1)], big]
        collect = Collector(expected=len(payloads))
        self.start(sub, collect)
        pub = self.open_publisher(producer, channel)
        for payload in payloads:
            pub.send(payload)
        assert collect.wait(self.timeout), (
            f"only {len(collect)} of {len(payloads)} payloads arrived"
        )
        assert sorted(collect.payloads, key=len) == payloads
        if self.capabilities.max_payload is not None and limit == self.capabilities.max_payload:
            with pytest.raises(MessageTooLarge):
                pub.send(big + b"!")

    def test_nack_redelivers(self) -> None:
        """A nacked message, and one whose callback raised, come again."""
        self._need("redelivery")
        consumer = self.consumer()
        producer = self.producer(consumer)
        channel = self.channel_name("nack")
        sub = self.subscribe(consumer, channel)
        seen: dict[bytes, int] = {}
        lock = threading.Lock()
        done = threading.Event()

        def callback(env: Any) -> None:
            payload = env.read()
            with lock:
                seen[payload] = seen.get(payload, 0) + 1
                count = seen[payload]
                if all(seen.get(p, 0) >= 2 for p in (b"nack-me", b"raise-me")) and b"plain" in seen:
                    done.set()
            if payload == b"nack-me" and count == 1:
                env.nack(requeue=True)
            elif payload == b"raise-me" and count == 1:
                raise RuntimeError("first delivery fails on purpose")

        self.start(sub, callback, on_error="requeue")
        pub = self.open_publisher(producer, channel)
        pub.send(b"nack-me", b"raise-me", b"plain")
        assert done.wait(self.timeout), f"redelivery did not happen: {seen}"
        time.sleep(0.2)
        assert seen[b"plain"] == 1, "an acked message came again"

    def test_order_is_kept(self) -> None:
        """500 messages from one publisher arrive in order."""
        self._need("ordered")
        consumer = self.consumer()
        producer = self.producer(consumer)
        channel = self.channel_name("order")
        sub = self.subscribe(consumer, channel)
        collect = Collector(expected=500)
        self.start(sub, collect)
        pub = self.open_publisher(producer, channel)
        sent = [str(i).encode() for i in range(500)]
        for i in range(0, 500, 50):
            pub.send(*sent[i : i + 50])
        assert collect.wait(self.timeout), f"only {len(collect)} of 500 arrived"
        assert collect.payloads == sent

    def test_close_unblocks_receive(self) -> None:
        """close() from another thread ends a blocked receive() within 1 s."""
        consumer = self.consumer()
        sub = self.subscribe(consumer, self.channel_name("close"))
        returned = threading.Event()
        outcome: list[object] = []

        def run() -> None:
            try:
                outcome.append(sub.receive(lambda env: None))
            except BaseException as exc:
                outcome.append(exc)
            returned.set()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        time.sleep(0.3)
        started = time.monotonic()
        sub.close()
        assert returned.wait(1.0), "receive() still blocked 1 s after close()"
        assert time.monotonic() - started < 1.0
        assert outcome == [0], f"receive() after close returned {outcome}"
        with pytest.raises(ClosedError):
            sub.receive(lambda env: None, timeout=0.1)

    def test_stop_from_another_thread(self) -> None:
        """Worker.stop() from another thread ends the loop within 1 s; a stop event too."""
        consumer = self.consumer()
        sub = self.subscribe(consumer, self.channel_name("stop"))
        worker = self.start(sub, lambda env: None, workers=2)
        time.sleep(0.2)
        assert worker.alive
        result: list[bool] = []
        started = time.monotonic()
        stopper = threading.Thread(target=lambda: result.append(worker.stop(timeout=5)))
        stopper.start()
        stopper.join(5)
        assert result == [True] and worker.join(0), "worker still alive after stop()"
        assert time.monotonic() - started < 1.0, "stop() took more than 1 s"
        event = threading.Event()
        threading.Timer(0.2, event.set).start()
        started = time.monotonic()
        assert sub.receive(lambda env: None, stop=event) == 0
        assert time.monotonic() - started < 1.2, (
            "receive(stop=event) did not end within 1 s of set()"
        )

    def test_stop_soon_after_start_every_time(self) -> None:
        """Loops stopped at once, or a few milliseconds after they started (before, during
        or after their first fetch), end within 1 s every time, with one worker or two;
        ``receive(stop=event)`` too, with the event set from another thread right away
        (it is read at least every ``poll_interval``)."""
        consumer = self.consumer()
        sub = self.subscribe(consumer, self.channel_name("churn"))
        for i in range(20):
            worker = self.start(sub, lambda env: None, workers=1 + i % 2)
            time.sleep(0.001 * (i % 5))
            started = time.monotonic()
            assert worker.stop(timeout=5), f"round {i}: the loop still ran 5 s after stop()"
            took = time.monotonic() - started
            assert took < 1.0, f"round {i}: stop() took {took:.2f} s"
        for i in range(4):
            event = threading.Event()
            setter = threading.Timer(0.002 * i, event.set)
            started = time.monotonic()
            setter.start()
            assert sub.receive(lambda env: None, stop=event) == 0
            elapsed = time.monotonic() - started
            setter.join()
            assert elapsed < 1.2, f"receive(stop=event) ended {elapsed:.2f} s after set()"

    def test_receive_timeout(self) -> None:
        """receive(timeout=...) returns after the timeout when nothing comes."""
        consumer = self.consumer()
        sub = self.subscribe(consumer, self.channel_name("timeout"))
        started = time.monotonic()
        assert sub.receive(lambda env: None, timeout=0.5) == 0
        elapsed = time.monotonic() - started
        assert 0.45 <= elapsed < 1.5, f"receive(timeout=0.5) returned after {elapsed:.2f} s"

    def test_raising_callback_does_not_end_the_loop(self) -> None:
        """A callback that raises goes to on_error; the loop goes on with the next messages."""
        consumer = self.consumer()
        producer = self.producer(consumer)
        channel = self.channel_name("raise")
        sub = self.subscribe(consumer, channel)
        collect = Collector(expected=10, fail=lambda item: item.payload == b"3")
        worker = self.start(sub, collect, on_error="ack")
        pub = self.open_publisher(producer, channel)
        for i in range(10):
            pub.send(str(i).encode())
        self._expect_all(collect, [str(i).encode() for i in range(10)], "after a raising callback")
        assert wait_until(lambda: worker.failed == 1, 2), f"failed counter is {worker.failed}"
        assert worker.alive and worker.error is None

    def test_publisher_close_flushes(self) -> None:
        """Everything sent before publisher.close() arrives."""
        consumer = self.consumer()
        producer = self.producer(consumer)
        channel = self.channel_name("flush")
        sub = self.subscribe(consumer, channel)
        collect = Collector(expected=200)
        self.start(sub, collect)
        pub = self.open_publisher(producer, channel)
        sent = [f"m{i}".encode() for i in range(200)]
        for payload in sent:
            pub.send(payload)
        pub.close()
        with pytest.raises(ClosedError):
            pub.send(b"after close")
        self._expect_all(collect, sent, "publisher close")

    def test_resubscribe_continues(self) -> None:
        """A re-created subscriber in the same group continues where the last one stopped."""
        self._need("persistent")
        group = f"kit-group-{uuid.uuid4().hex[:8]}"
        channel = self.channel_name("persist")
        consumer = self.consumer(group)
        producer = self.producer(consumer)
        sub = self.subscribe(consumer, channel)
        pub = self.open_publisher(producer, channel)
        first = [f"first-{i}".encode() for i in range(10)]
        second = [f"second-{i}".encode() for i in range(10)]
        pub.send(*first)
        got_first = Collector(expected=10)
        assert sub.receive(got_first, max_messages=10, timeout=self.timeout) == 10
        assert sorted(got_first.payloads) == sorted(first)
        sub.close()
        consumer.close()
        pub.send(*second)
        consumer2 = self.consumer(group)
        sub2 = self.subscribe(consumer2, channel)
        got_second = Collector(expected=10)
        self.start(sub2, got_second)
        assert got_second.wait(self.timeout), (
            f"only {len(got_second)} of 10 arrived after resubscribing"
        )
        time.sleep(0.3)
        assert sorted(got_second.payloads) == sorted(second), (
            "re-created subscriber saw acked messages again"
        )

    def test_consumer_groups(self) -> None:
        """Two groups each get everything; two subscribers in one group share without duplicates."""
        self._need("consumer_groups")
        channel = self.channel_name("groups")
        group_a, group_b = (f"kit-{g}-{uuid.uuid4().hex[:8]}" for g in "ab")
        cons_a1, cons_a2, cons_b = (
            self.consumer(group_a),
            self.consumer(group_a),
            self.consumer(group_b),
        )
        producer = self.producer(cons_a1)
        got_a1, got_a2, got_b = Collector(), Collector(), Collector(expected=100)
        for cons, collect in ((cons_a1, got_a1), (cons_a2, got_a2), (cons_b, got_b)):
            self.start(self.subscribe(cons, channel), collect)
        pub = self.open_publisher(producer, channel)
        sent = [f"g{i}".encode() for i in range(100)]
        pub.send(*sent)
        self._expect_all(got_b, sent, "group b")
        assert wait_until(lambda: len(got_a1) + len(got_a2) >= 100, self.timeout)
        time.sleep(0.3)
        shared = got_a1.payloads + got_a2.payloads
        assert sorted(shared) == sorted(sent), "group a lost or duplicated messages"

    def test_manual_ack_and_ack_before(self) -> None:
        """ack="manual" leaves settling to the callback; ack="before" acks first."""
        consumer = self.consumer()
        producer = self.producer(consumer)
        channel = self.channel_name("manual")
        sub = self.subscribe(consumer, channel)
        settled: list[bool] = []

        def callback(env: Any) -> None:
            assert not env.settled
            env.ack()
            settled.append(env.settled)

        pub = self.open_publisher(producer, channel)
        worker = self.start(sub, callback, ack="manual")
        pub.send(b"one", b"two")
        assert wait_until(lambda: len(settled) == 2, self.timeout), settled
        worker.stop()
        before: list[bool] = []
        worker = self.start(sub, lambda env: before.append(env.settled), ack="before")
        pub.send(b"three")
        assert wait_until(lambda: before == [True], self.timeout), before

    def test_parallel_workers(self) -> None:
        """workers=4 runs callbacks in parallel and loses nothing."""
        consumer = self.consumer()
        producer = self.producer(consumer)
        channel = self.channel_name("parallel")
        sub = self.subscribe(consumer, channel)
        collect = Collector(expected=40, delay=0.05)
        worker = self.start(sub, collect, workers=4)
        pub = self.open_publisher(producer, channel)
        sent = [f"p{i}".encode() for i in range(40)]
        started = time.monotonic()
        pub.send(*sent)
        self._expect_all(collect, sent, "parallel workers")
        threads = {item.thread for item in collect.items}
        assert len(threads) > 1, f"callbacks ran on one thread only: {threads}"
        assert time.monotonic() - started < 40 * 0.05, "callbacks did not run in parallel"
        assert wait_until(lambda: worker.acked == 40, 2), f"acked {worker.acked} of 40"

    def test_closed_objects_refuse_work(self) -> None:
        """Closed producers, publishers and subscribers raise ClosedError; close() twice is fine."""
        consumer = self.consumer()
        producer = self.producer(consumer)
        channel = self.channel_name("closed")
        sub = self.subscribe(consumer, channel)
        pub = self.open_publisher(producer, channel)
        producer.close()
        producer.close()
        assert pub.closed, "closing a producer must close its publishers"
        with pytest.raises(ClosedError):
            pub.send(b"x")
        with pytest.raises(ClosedError):
            producer.publisher(channel)
        consumer.close()
        assert sub.closed, "closing a consumer must close its subscribers"
        with pytest.raises(ClosedError):
            sub.start(lambda env: None)
        with pytest.raises(ClosedError):
            consumer.subscriber(channel)
