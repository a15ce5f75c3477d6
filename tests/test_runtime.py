"""The receive runtime: loops, workers, ordering keys, back-pressure, policies, stopping.

These run on memory://, the in-process broker, except where a test needs a protocol hook
to misbehave on purpose; such test doubles are named ``Fake…`` and say what they fake.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
import uuid
from collections.abc import Hashable, Iterator, Sequence
from typing import Any

import pytest

import syncapi
from syncapi import core, memory
from syncapi.errors import ClosedError, ConfigError, ReceiveError
from syncapi.runtime import Outcome
from syncapi.testing import Collector, wait_until


@pytest.fixture
def url() -> Iterator[str]:
    name = f"rt-{uuid.uuid4().hex[:8]}"
    yield f"memory://{name}"
    memory.reset(name)


@pytest.fixture
def pair(url: str) -> Iterator[tuple[syncapi.Publisher, syncapi.Subscriber]]:
    with syncapi.producer(url) as producer, syncapi.consumer(url) as consumer:
        yield producer.publisher("ch"), consumer.subscriber("ch")


def test_receive_returns_count_and_honours_max_messages(pair: Any) -> None:
    pub, sub = pair
    pub.send(*[str(i) for i in range(10)])
    collect = Collector()
    assert sub.receive(collect, max_messages=4) == 4
    assert collect.payloads == [b"0", b"1", b"2", b"3"]
    assert sub.receive(collect, max_messages=6) == 6
    assert collect.payloads == [str(i).encode() for i in range(10)]


def test_stop_event_set_inside_callback_requeues_the_rest(pair: Any) -> None:
    pub, sub = pair
    pub.send(*[str(i) for i in range(10)])
    stop = threading.Event()
    seen: list[bytes] = []

    def callback(env: Any) -> None:
        seen.append(env.read())
        if len(seen) == 3:
            stop.set()

    assert sub.receive(callback, stop=stop) == 3
    rest = Collector()
    assert sub.receive(rest, max_messages=7) == 7
    assert rest.payloads == [str(i).encode() for i in range(3, 10)], "unstarted messages were lost"


def test_on_error_policies(pair: Any, caplog: pytest.LogCaptureFixture) -> None:
    pub, sub = pair
    attempts: dict[bytes, int] = {}

    def flaky(env: Any) -> None:
        payload = env.read()
        attempts[payload] = attempts.get(payload, 0) + 1
        if attempts[payload] == 1:
            raise ValueError(f"boom {payload!r}")

    pub.send(b"a")
    with caplog.at_level(logging.ERROR, logger="syncapi.runtime"):
        assert sub.receive(flaky, max_messages=2, on_error="requeue", timeout=5) == 2
    assert attempts == {b"a": 2}
    assert "callback failed for message on memory://" in caplog.text
    assert "boom" in caplog.text  # the traceback is logged

    pub.send(b"b")
    assert sub.receive(flaky, max_messages=1, on_error="ack", timeout=5) == 1
    assert sub.receive(flaky, timeout=0.3) == 0, "an acked message came back"

    pub.send(b"c")
    with pytest.raises(ValueError, match="boom"):
        sub.receive(flaky, on_error="stop", timeout=5)
    assert sub.receive(flaky, max_messages=1, timeout=5) == 1, "on_error='stop' must requeue"
    assert attempts[b"c"] == 2


def test_callable_on_error_gets_env_and_exception(pair: Any) -> None:
    pub, sub = pair
    calls: list[tuple[bytes, str]] = []

    def policy(env: Any, exc: BaseException) -> Outcome:
        calls.append((env.read(), str(exc)))
        return Outcome.REJECT

    pub.send(b"x")
    sub.receive(lambda env: 1 / 0, on_error=policy, max_messages=1, timeout=5)
    assert calls == [(b"x", "division by zero")]
    assert sub.receive(lambda env: None, timeout=0.3) == 0, "a rejected message came back"


def test_bad_arguments_are_config_errors(pair: Any) -> None:
    _, sub = pair
    with pytest.raises(ConfigError, match="ack must be one of"):
        sub.receive(lambda env: None, ack="sometimes", timeout=0)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="on_error"):
        sub.receive(lambda env: None, on_error="explode", timeout=0)
    with pytest.raises(ConfigError, match="workers must be"):
        sub.start(lambda env: None, workers=0)
    with pytest.raises(ConfigError, match="max_in_flight"):
        sub.start(lambda env: None, workers=4, max_in_flight=2)
    with pytest.raises(ConfigError, match="callback must be callable"):
        sub.receive("not callable", timeout=0)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="timeout"):
        sub.receive(lambda env: None, timeout=-1)


@pytest.mark.parametrize("concurrent", [True, False], ids=["concurrent-fetch", "one-fetcher"])
def test_in_flight_work_is_bounded(
    url: str, concurrent: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Slow callbacks: the loop never holds more than max_in_flight fetched messages,
    whether each worker fetches for itself or one fetcher hands off to the workers."""
    monkeypatch.setattr(memory.Subscriber, "concurrent_fetch", concurrent)
    broker = memory.get_broker(url.split("//")[1])
    with syncapi.producer(url) as producer, syncapi.consumer(url) as consumer:
        sub = consumer.subscriber("slow")
        producer.publisher("slow").send(*[str(i) for i in range(200)])
        release = threading.Event()
        worker = sub.start(
            Collector(on_message=lambda env: release.wait(10)), workers=3, max_in_flight=5
        )
        try:
            assert wait_until(lambda: broker.depth("slow") <= 197, 5)
            time.sleep(0.3)
            taken = 200 - broker.depth("slow")
            assert 3 <= taken <= 5, f"{taken} messages taken with max_in_flight=5"
        finally:
            release.set()
            assert worker.stop(timeout=5)


def test_ordering_key_serialises_per_key_and_parallelises_across_keys() -> None:
    """With workers > 1, one key's callbacks never overlap and keep their order."""
    active: dict[Hashable, int] = {}
    order: dict[Hashable, list[int]] = {}
    overlap: list[Hashable] = []
    lock = threading.Lock()
    max_parallel = [0]

    def callback(env: Any) -> None:
        key = env.ordering_key
        with lock:
            active[key] = active.get(key, 0) + 1
            if active[key] > 1:
                overlap.append(key)
            max_parallel[0] = max(max_parallel[0], sum(active.values()))
            order.setdefault(key, []).append(int(env.read()))
        time.sleep(0.002)
        with lock:
            active[key] -= 1

    sub = FakeKeyedSubscriber(keys=4, per_key=50)
    worker = sub.start(callback, workers=4)
    assert wait_until(lambda: worker.acked == 200, 10), worker
    worker.stop()
    assert not overlap, f"callbacks of one key overlapped: {overlap[:5]}"
    assert all(seq == sorted(seq) for seq in order.values()), "per-key order broken"
    assert max_parallel[0] > 1, "different keys never ran in parallel"
    sub.close()


class FakeKeyedSubscriber(core.Subscriber):
    """A test double standing in for a partitioned log (Kafka-like ordering keys).

    memory:// has no ordering keys, so this fake serves ``keys × per_key`` messages whose
    ordering key is ``n % keys``; it exists only to drive the runtime's key logic.
    """

    def __init__(self, keys: int, per_key: int) -> None:
        super().__init__("fake")
        self._items = [FakeKeyedEnvelope(i, i % keys, self) for i in range(keys * per_key)]
        self._wake = threading.Event()

    def _fetch(self, max_messages: int, timeout: float | None) -> Sequence[core.EnvelopeReader]:
        if self._closed:
            raise ClosedError("closed")
        if not self._items:
            self._wake.wait(timeout)
            self._wake.clear()
            return []
        batch, self._items = self._items[:max_messages], self._items[max_messages:]
        return batch

    def _interrupt(self) -> None:
        self._wake.set()


class FakeKeyedEnvelope(core.EnvelopeReader):
    """An envelope with a fixed ordering key (see :class:`FakeKeyedSubscriber`)."""

    __slots__ = ("_key",)

    def __init__(self, n: int, key: int, sub: core.Subscriber) -> None:
        super().__init__(str(n).encode(), channel="fake", subscriber=sub)
        self._key = key

    @property
    def ordering_key(self) -> Hashable:
        return self._key


class FakeBrokenSubscriber(core.Subscriber):
    """A test double whose fetch raises a library error, as a broken client would."""

    def _fetch(self, max_messages: int, timeout: float | None) -> Sequence[core.EnvelopeReader]:
        raise OSError("connection reset by fake peer")


def test_fetch_failure_is_a_receive_error_with_cause() -> None:
    sub = FakeBrokenSubscriber("broken")
    with pytest.raises(ReceiveError) as info:
        sub.receive(lambda env: None, timeout=1)
    assert isinstance(info.value.__cause__, OSError)
    worker = sub.start(lambda env: None)
    assert worker.join(2)
    assert isinstance(worker.error, ReceiveError)
    assert not worker.alive


def test_stop_from_inside_callback_does_not_deadlock(pair: Any) -> None:
    pub, sub = pair
    holder: list[syncapi.Worker] = []
    stopped: list[bool] = []
    ready = threading.Event()

    def callback(env: Any) -> None:
        ready.wait(5)
        stopped.append(holder[0].stop(timeout=5))

    holder.append(sub.start(callback))
    ready.set()
    pub.send(b"x")
    assert holder[0].join(5)
    assert stopped == [False]  # it cannot wait for itself, and says so
    assert holder[0].acked == 1


def test_close_from_inside_callback(pair: Any) -> None:
    pub, sub = pair
    pub.send(b"x")
    assert sub.receive(lambda env: sub.close(), timeout=5) == 1
    assert sub.closed


def test_worker_stop_requeues_unstarted_messages(url: str) -> None:
    with syncapi.producer(url) as producer, syncapi.consumer(url, group="g") as consumer:
        sub = consumer.subscriber("q")
        producer.publisher("q").send(*[str(i) for i in range(20)])
        gate = threading.Event()
        started = threading.Event()

        def slow(env: Any) -> None:
            started.set()
            gate.wait(5)

        worker = sub.start(slow, workers=2, max_in_flight=10)
        assert started.wait(5)
        stopper = threading.Thread(target=worker.stop, kwargs={"timeout": 5})
        stopper.start()
        time.sleep(0.2)
        gate.set()
        stopper.join(5)
        assert not worker.alive
        assert worker.acked == 2, "only the two running callbacks finish"
        rest = Collector()
        assert sub.receive(rest, timeout=1) == 18
        assert len(set(rest.payloads)) == 18, "a requeued message came twice"


@pytest.mark.skipif(not hasattr(signal, "SIGUSR1"), reason="needs POSIX signals")
def test_stop_from_a_signal_handler(pair: Any) -> None:
    """A SIGTERM-style handler on the main thread stops a worker; receive on main returns."""
    _, sub = pair
    worker = sub.start(lambda env: None)
    previous = signal.signal(signal.SIGUSR1, lambda signum, frame: worker.stop(timeout=5))
    try:
        threading.Timer(0.2, os.kill, args=(os.getpid(), signal.SIGUSR1)).start()
        assert worker.join(3), "the signal handler did not stop the worker"
    finally:
        signal.signal(signal.SIGUSR1, previous)
    other = sub
    signal.signal(signal.SIGUSR1, lambda signum, frame: other.close())
    try:
        threading.Timer(0.2, os.kill, args=(os.getpid(), signal.SIGUSR1)).start()
        started = time.monotonic()
        assert other.receive(lambda env: None, timeout=10) == 0
        assert time.monotonic() - started < 1.5
    finally:
        signal.signal(signal.SIGUSR1, previous)


def test_worker_counters_and_repr(pair: Any) -> None:
    pub, sub = pair
    collect = Collector(expected=5, fail=lambda item: item.payload == b"2")
    with sub.start(collect, on_error="ack") as worker:
        pub.send(*[str(i) for i in range(5)])
        assert collect.wait(5)
        assert wait_until(lambda: worker.acked == 5, 2)
        assert (worker.received, worker.handled, worker.failed, worker.nacked) == (5, 4, 1, 0)
        assert "alive" in repr(worker)
    assert not worker.alive and "stopped" in repr(worker)


def test_receive_timeout_is_kept_within_a_batch(pair: Any) -> None:
    """A fetched batch does not make receive() overrun its timeout by the whole batch."""
    pub, sub = pair
    pub.send(*[str(i) for i in range(30)])
    started = time.monotonic()
    handled = sub.receive(lambda env: time.sleep(0.05), timeout=0.25)
    elapsed = time.monotonic() - started
    assert handled < 30 and elapsed < 0.6, f"{handled} handled in {elapsed:.2f} s"
    rest = Collector()
    assert sub.receive(rest, max_messages=30 - handled, timeout=2) == 30 - handled, "messages lost"


@pytest.mark.parametrize("workers", [1, 4])
def test_close_from_a_callback_keeps_running_callbacks_acks(url: str, workers: int) -> None:
    """close() inside a callback: callbacks already running finish and are acked, so a
    handled message never comes back; messages not started go back to the group."""
    group_url = f"{url}?group=g"
    with syncapi.producer(group_url) as producer, syncapi.consumer(group_url) as consumer:
        sub = consumer.subscriber("orders")
        handled: list[bytes] = []
        lock = threading.Lock()

        def callback(env: Any) -> None:
            payload = env.read()
            if payload == b"m0":
                time.sleep(0.1)  # the other workers are inside their callbacks now
                sub.close()
            time.sleep(0.3)
            with lock:
                handled.append(payload)

        producer.publisher("orders").send(*[f"m{i}".encode() for i in range(4)])
        worker = sub.start(callback, workers=workers)
        assert worker.join(5)
        assert sub.closed
        with syncapi.consumer(group_url) as again:
            rest = Collector()
            again.subscriber("orders").receive(rest, timeout=0.5)
        assert not set(handled) & set(rest.payloads), "a handled message came back"
        assert sorted(handled + rest.payloads) == [b"m0", b"m1", b"m2", b"m3"], "lost"


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs setitimer")
def test_close_from_a_signal_storm_never_deadlocks(url: str) -> None:
    """A handler calling close() may land anywhere in receive(): it must never hang."""
    consumer = syncapi.consumer(url)
    current: list[syncapi.Subscriber] = []
    closes = [0]

    def handler(signum: int, frame: object) -> None:
        if current and not current[-1].closed:
            current[-1].close(timeout=0)
            closes[0] += 1

    previous = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, 0.0005, 0.0005)
    try:
        end = time.monotonic() + 2
        while time.monotonic() < end:
            current.append(consumer.subscriber("c"))
            with pytest.raises(ClosedError):
                while True:
                    current[-1].receive(lambda env: None, timeout=0)
            current.clear()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        consumer.close()
    assert closes[0] > 10, "the handler never ran: the test proved nothing"


def test_on_error_handler_returning_nonsense_falls_back(
    pair: Any, caplog: pytest.LogCaptureFixture
) -> None:
    pub, sub = pair
    pub.send(b"bad", b"ok")
    seen: list[bytes] = []

    def callback(env: Any) -> None:
        seen.append(env.read())
        if seen[-1] == b"bad" and seen.count(b"bad") == 1:
            raise RuntimeError("first time")

    with caplog.at_level(logging.ERROR, logger="syncapi.runtime"):
        n = sub.receive(callback, on_error=lambda env, exc: "retry", max_messages=3, timeout=5)
    assert n == 3 and sorted(seen) == [b"bad", b"bad", b"ok"], "the default (requeue) applies"
    assert "on_error handler result" in caplog.text


def test_keyboard_interrupt_in_a_callback_hands_back_the_batch(pair: Any) -> None:
    pub, sub = pair
    pub.send(*[str(i) for i in range(5)])

    def callback(env: Any) -> None:
        if env.read() == b"1":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sub.receive(callback)
    rest = Collector()
    assert sub.receive(rest, max_messages=4, timeout=2) == 4
    assert rest.payloads == [b"1", b"2", b"3", b"4"], "the interrupted batch was not handed back"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"max_messages": 2.0}, "max_messages must be an integer"),
        ({"max_messages": True}, "max_messages must be an integer"),
        ({"timeout": "5"}, "timeout must be a number"),
        ({"stop": True}, "stop must be a threading.Event"),
    ],
)
def test_receive_argument_types(pair: Any, kwargs: dict[str, Any], match: str) -> None:
    pub, sub = pair
    pub.send(b"kept")
    with pytest.raises(ConfigError, match=match):
        sub.receive(lambda env: None, **kwargs)
    with pytest.raises(ConfigError, match="max_messages must be an integer"):
        sub.fetch(max_messages=1.5)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="timeout must be a number"):
        pub.send(b"x", timeout="1")
    assert [e.read() for e in sub.fetch(timeout=1)] == [b"kept"], "a refused call lost a message"


class FakeLossySubscriber(core.Subscriber):
    """A test double that records each fetch's timeout and whose interrupt is lost when
    no fetch is blocked (protocols need not remember one). The race it stands for, a stop
    landing between the loop's check and the fetch's wait, cannot be hit on demand."""

    def __init__(self) -> None:
        super().__init__("lossy")
        self.timeouts: list[float | None] = []
        self._wake = threading.Event()
        self.blocked = threading.Event()
        self.lose_next = False

    def _fetch(self, max_messages: int, timeout: float | None) -> Sequence[core.EnvelopeReader]:
        if self._closed:
            raise ClosedError("closed")
        self.timeouts.append(timeout)
        self._wake.clear()
        self.blocked.set()
        self._wake.wait(timeout)
        return []

    def _interrupt(self) -> None:
        if self.lose_next:
            self.lose_next = False
            return
        self._wake.set()


def test_an_idle_loop_waits_idle_wait_and_a_stop_event_loop_poll_interval() -> None:
    """A start() loop only a stop can end blocks up to idle_wait per fetch (idle loops do
    not wake twice a second); with a stop= event the fetch waits poll_interval."""
    sub = FakeLossySubscriber()
    worker = sub.start(lambda env: None)
    assert sub.blocked.wait(5)
    started = time.monotonic()
    assert worker.stop(timeout=5) and time.monotonic() - started < 0.5
    assert sub.timeouts == [sub.idle_wait] and sub.idle_wait == 5.0
    sub.timeouts.clear()
    event = threading.Event()
    threading.Timer(0.3, event.set).start()
    assert sub.receive(lambda env: None, stop=event) == 0
    assert sub.timeouts and set(sub.timeouts) == {sub.poll_interval}
    sub.close()


def test_a_lost_interrupt_does_not_hold_a_stop_for_idle_wait() -> None:
    """stop(timeout) interrupts again every poll_interval while it waits, so an interrupt
    lost to the race above costs at most about poll_interval, not idle_wait."""
    sub = FakeLossySubscriber()
    worker = sub.start(lambda env: None)
    assert sub.blocked.wait(5)
    sub.lose_next = True
    started = time.monotonic()
    assert worker.stop(timeout=4)
    took = time.monotonic() - started
    assert 0.4 <= took < 1.5, f"stop took {took:.2f} s"
    sub.close()
