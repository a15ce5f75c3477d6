"""AMQP: a work queue with publisher confirms and competing consumers.

Run it with ``python examples/amqp_tasks.py [amqp://USER:PASSWORD@HOST:PORT/VHOST]``
(default ``amqp://guest:guest@127.0.0.1:5672/``). It needs ``pip install 'syncapi[amqp]'``
and a RabbitMQ broker.

* ``shop.tasks`` is a durable queue, declared by the channel bindings ``is_="queue"`` on
  both sides, so whichever side starts first creates it.
* Four threads share one publisher. Each ``send()`` returns once the broker confirmed the
  message (publisher confirms), and a message that no queue takes raises
  ``UnroutableError`` instead of being lost.
* Two consumers, two connections as two worker processes would have, compete for the
  tasks: the broker gives each task to one of them. ``prefetch=2`` keeps the work evenly
  spread, and each consumer runs its callbacks on 2 threads. A task is acknowledged after
  its callback returned (at-least-once), so the handler skips a task it has seen before.
"""

from __future__ import annotations

import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from syncapi import amqp

QUEUE = "shop.tasks"
TASKS = 60


def main() -> None:
    url = sys.argv[1] if len(sys.argv) > 1 else "amqp://guest:guest@127.0.0.1:5672/"
    run = uuid.uuid4().hex[:8]  # this run's tasks; the queue may hold older ones
    tasks = amqp.ChannelBindings(is_="queue")  # the durable queue named by the channel

    done: set[str] = set()
    by_worker: Counter[str] = Counter()
    lock = threading.Lock()
    all_done = threading.Event()

    def handler(name: str) -> Callable[[amqp.EnvelopeReader], None]:
        def resize(env: amqp.EnvelopeReader) -> None:
            time.sleep(0.01)  # the work
            if env.headers.get_str("run") != run or env.message_id is None:
                return  # from an earlier run: acknowledged and dropped
            with lock:
                if env.message_id in done:
                    return  # at-least-once: a redelivered task is done already
                done.add(env.message_id)
                by_worker[name] += 1
                if len(done) == TASKS:
                    all_done.set()

        return resize

    with (
        amqp.Consumer(url, prefetch=2, client_name="worker-a") as worker_a,
        amqp.Consumer(url, prefetch=2, client_name="worker-b") as worker_b,
        amqp.Producer(url) as producer,
    ):
        loops = [
            consumer.subscriber(QUEUE, tasks).start(handler(name), workers=2, name=name)
            for name, consumer in (("worker-a", worker_a), ("worker-b", worker_b))
        ]
        publisher = producer.publisher(QUEUE, tasks)  # one AMQP channel, shared by threads

        def submit(thread_no: int) -> None:
            for n in range(thread_no, TASKS, 4):
                publisher.send(
                    amqp.EnvelopeWriter(
                        f"photo-{n}.jpg",
                        headers={"run": run},
                        content_type="text/plain",
                        message_id=f"{run}-{n}",  # persistent by default
                    )
                )  # returns once the broker confirmed it

        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(submit, range(4)))
        print(f"sent {TASKS} tasks from 4 threads, each confirmed by the broker")

        try:
            producer.publisher("shop.no-such-queue").send(b"lost?")  # declares nothing
        except amqp.UnroutableError as exc:
            print(f"a task for a missing queue was refused: {type(exc).__name__}")

        arrived = all_done.wait(timeout=60)
        for loop in loops:
            loop.stop()  # running callbacks finish and their acks go through
    if not arrived:
        raise SystemExit(f"only {len(done)} of {TASKS} tasks were handled within 60 s")
    shares = ", ".join(f"{name} {count}" for name, count in sorted(by_worker.items()))
    print(f"handled {len(done)}/{TASKS} tasks: {shares}")


if __name__ == "__main__":
    main()
