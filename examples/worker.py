"""A threaded worker service that stops cleanly on SIGTERM or Ctrl-C.

Run it with ``python examples/worker.py [URL] [CHANNEL] [--workers N] [--job-seconds S]``
(default ``amqp://guest:guest@127.0.0.1:5672/?prefetch=8`` and the channel ``jobs``).
Consumer options go in the URL's query; on Kafka, name the consumer group there:
``kafka://broker:9092?group_id=workers&auto_offset_reset=earliest``.

* ``subscriber.start(workers=N)`` runs the callbacks on N threads that syncapi owns. A
  message is acknowledged after its callback returned: at-least-once delivery.
* SIGTERM (what ``docker stop``, Kubernetes and systemd send) and SIGINT (Ctrl-C) only
  *ask* the worker to stop, with ``worker.stop(timeout=0)``: the handler runs on the main
  thread and must not wait. The main thread waits in short sleeps until the worker's
  threads have ended: the callbacks that were running finish and their acks go through,
  and the messages fetched but not started are put back for the next run.
* Leaving the ``with`` block closes the consumer (on Kafka: commits the offsets and
  leaves the group). The exit status is 0 after a clean stop, 1 when the receive loop
  failed (the broker went away for good) or the broker could not be reached.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from collections.abc import Sequence
from types import FrameType

import syncapi

log = logging.getLogger("worker")
print_lock = threading.Lock()


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Consume a channel with worker threads.")
    parser.add_argument("url", nargs="?", default="amqp://guest:guest@127.0.0.1:5672/?prefetch=8")
    parser.add_argument("channel", nargs="?", default="jobs")
    parser.add_argument("--workers", type=int, default=4, help="callback threads (default 4)")
    parser.add_argument("--job-seconds", type=float, default=0.2, help="pretend work per job")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    for chatty in ("pika", "kafka"):  # the client libraries log every connection step
        logging.getLogger(chatty).setLevel(logging.WARNING)

    def handle(env: syncapi.EnvelopeReader) -> None:
        time.sleep(args.job_seconds)  # the work; it should be safe to run twice
        with print_lock:
            print(f"handled {env.payload.decode()}", flush=True)

    try:
        consumer = syncapi.consumer(args.url)
    except syncapi.SyncapiError as exc:
        log.error("cannot start: %s", exc)
        return 1
    with consumer:
        jobs = consumer.subscriber(args.channel)  # AMQP: declares the durable queue
        worker = jobs.start(
            handle, workers=args.workers, max_in_flight=2 * args.workers, name="jobs"
        )
        received_signal: list[str] = []

        def on_signal(signum: int, frame: FrameType | None) -> None:
            # Runs on the main thread, between two bytecodes: only *ask* for the stop.
            received_signal.append(signal.Signals(signum).name)
            worker.stop(timeout=0)

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        with print_lock:
            print(f"ready: {args.workers} workers on {args.channel}", flush=True)

        while worker.alive:  # not worker.join(): a signal must find the main thread awake
            time.sleep(0.1)

        log.info(
            "stopped by %s: received=%d handled=%d acked=%d put back=%d failed=%d",
            received_signal[0] if received_signal else f"an error: {worker.error!r}",
            worker.received,
            worker.handled,
            worker.acked,
            worker.nacked,
            worker.failed,
        )
    # the consumer is closed here: running callbacks' acks went through before
    return 1 if worker.error else 0


if __name__ == "__main__":
    sys.exit(main())
