"""Entry ``memory``: ``memory://`` against a plain ``queue.Queue`` hand-off between threads.

The job: one producer thread hands ``messages`` payloads of ``size`` bytes to one
consumer thread, which calls a trivial callback for each (it counts them and keeps the
last payload's length). The clock runs from just before the first hand-off (on the
producer thread) to the callback of the last message (on the consumer thread); starting
and stopping threads is outside it.

* baseline ``queue.Queue``: ``put`` / ``get`` on a queue bounded at 10,000 items, as the
  broker's queues are by default;
* ``syncapi memory://``: ``pub.send(pub.envelope(payload))`` per message into a
  subscriber running ``sub.start(callback)`` with one worker — what a user writes;
* ``syncapi memory:// batch``: the same with ``pub.send(*envs)`` of 100 envelopes at a
  time (shown, no goal).

Each syncapi run uses a broker of its own (``memory://bench-<uuid>``), forgotten after.
"""

from __future__ import annotations

import queue
import threading
import time
import uuid
from collections.abc import Callable

from .model import Entry, Goal, Params, Sample, Variant

__all__ = ["BATCH", "ENTRY", "QUEUE_SIZE", "run_queue", "run_syncapi", "run_syncapi_batch"]

QUEUE_SIZE = 10_000
"""Bound of the baseline's queue: the default ``max_queue`` of ``memory://``."""
BATCH = 100
"""Envelopes per ``send`` in the batch variant."""
_CHANNEL = "bench"


def _deadline_for(params: Params) -> float:
    """Seconds to wait for a run at most before calling it hung (generous: 100 msg/s)."""
    return 60.0 + params.messages / 100.0


class _Clock:
    """The start and end of one timed hand-off, set from the two threads."""

    def __init__(self) -> None:
        self.start = 0.0
        self.end = 0.0
        self.done = threading.Event()
        self.error: BaseException | None = None

    def seconds(self) -> float:
        return self.end - self.start


def _run_producer(clock: _Clock, produce: Callable[[], None]) -> threading.Thread:
    """Start a thread that stamps the start time, then calls ``produce``."""

    def body() -> None:
        try:
            clock.start = time.perf_counter()
            produce()
        except BaseException as exc:  # handed to the caller by _finish
            clock.error = exc
            clock.done.set()

    thread = threading.Thread(target=body, name="bench-producer", daemon=True)
    thread.start()
    return thread


def _finish(clock: _Clock, producer: threading.Thread, params: Params, what: str) -> Sample:
    """Wait for the consumer's last callback and the producer's end; make the sample."""
    if not clock.done.wait(_deadline_for(params)):
        raise RuntimeError(f"{what}: the consumer did not see {params.messages} messages in time")
    producer.join(_deadline_for(params))
    if clock.error is not None:
        raise RuntimeError(f"{what}: the producer failed: {clock.error!r}") from clock.error
    return Sample(messages=params.messages, seconds=clock.seconds())


def run_queue(params: Params) -> Sample:
    """Baseline: a producer thread ``put``\\ s, a consumer thread ``get``\\ s and calls back."""
    n = params.messages
    payload = params.payload()
    handoff: queue.Queue[bytes] = queue.Queue(maxsize=QUEUE_SIZE)
    clock = _Clock()
    seen = 0
    last_length = -1

    def callback(data: bytes) -> None:
        nonlocal seen, last_length
        seen += 1
        last_length = len(data)
        if seen == n:
            clock.end = time.perf_counter()
            clock.done.set()

    def consume() -> None:
        get = handoff.get
        for _ in range(n):
            callback(get())

    def produce() -> None:
        put = handoff.put
        for _ in range(n):
            put(payload)

    consumer = threading.Thread(target=consume, name="bench-consumer", daemon=True)
    consumer.start()
    producer = _run_producer(clock, produce)
    sample = _finish(clock, producer, params, "queue.Queue")
    consumer.join(_deadline_for(params))
    if last_length != len(payload):
        raise RuntimeError(
            f"queue.Queue: the last payload had {last_length} bytes, not {len(payload)}"
        )
    return sample


def _run_syncapi(params: Params, batch: int) -> Sample:
    import syncapi
    from syncapi import memory

    n = params.messages
    payload = params.payload()
    name = f"bench-{uuid.uuid4().hex}"
    url = f"memory://{name}"
    what = f"syncapi {url}"
    clock = _Clock()
    seen = 0
    last_length = -1

    def callback(env: syncapi.EnvelopeReader) -> None:
        nonlocal seen, last_length
        seen += 1
        last_length = len(env.read())
        if seen == n:
            clock.end = time.perf_counter()
            clock.done.set()

    try:
        with syncapi.producer(url) as producer, syncapi.consumer(url) as consumer:
            sub = consumer.subscriber(_CHANNEL)
            pub = producer.publisher(_CHANNEL)
            worker = sub.start(callback, workers=1)
            try:
                if batch == 1:

                    def produce() -> None:
                        send, envelope = pub.send, pub.envelope
                        for _ in range(n):
                            send(envelope(payload))

                else:

                    def produce() -> None:
                        send, envelope = pub.send, pub.envelope
                        for first in range(0, n, batch):
                            send(*[envelope(payload) for _ in range(min(batch, n - first))])

                producer_thread = _run_producer(clock, produce)
                sample = _finish(clock, producer_thread, params, what)
            finally:
                worker.stop(timeout=10)
            if worker.error is not None:
                raise RuntimeError(
                    f"{what}: the receive loop failed: {worker.error!r}"
                ) from worker.error
    finally:
        memory.reset(name)
    if last_length != len(payload):
        raise RuntimeError(f"{what}: the last payload had {last_length} bytes, not {len(payload)}")
    return sample


def run_syncapi(params: Params) -> Sample:
    """``memory://``: one ``send(envelope)`` per message into a one-worker subscriber."""
    return _run_syncapi(params, batch=1)


def run_syncapi_batch(params: Params) -> Sample:
    """``memory://``: ``send(*envelopes)`` of :data:`BATCH` at a time."""
    return _run_syncapi(params, batch=BATCH)


ENTRY = Entry(
    name="memory",
    description="memory:// vs queue.Queue: one producer thread -> one consumer thread (callback)",
    baseline=Variant(name="queue.Queue", run=run_queue, metric="queue.Queue put/get"),
    variants=(
        Variant(
            name="syncapi memory://",
            run=run_syncapi,
            metric="memory:// send(env)",
            goal=Goal(min_ratio=0.8),
        ),
        Variant(
            name="syncapi memory:// batch",
            run=run_syncapi_batch,
            metric=f"memory:// send(*{BATCH} envs)",
        ),
    ),
    default_messages=50_000,
)
"""The ``memory`` entry of the harness."""
