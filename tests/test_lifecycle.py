"""Threads syncapi starts end when they should: on close, on stop, and at interpreter exit."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path

import syncapi
from syncapi import memory
from syncapi.testing import Collector, wait_until

ROOT = Path(__file__).resolve().parent.parent


def _syncapi_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("syncapi[")]


def test_closing_the_consumer_ends_every_loop_thread() -> None:
    url = f"memory://life-{uuid.uuid4().hex[:8]}"
    before = set(_syncapi_threads())
    consumer = syncapi.consumer(url)
    workers = [consumer.subscriber(f"c{i}").start(lambda env: None, workers=3) for i in range(5)]
    new = set(_syncapi_threads()) - before
    assert len(new) == sum(len(w._loop.threads) for w in workers) >= 5 * 3
    started = time.monotonic()
    consumer.close()
    assert time.monotonic() - started < 1.0, "closing idle loops must be prompt"
    assert all(not w.alive for w in workers)
    assert wait_until(lambda: not (set(_syncapi_threads()) - before), 2), _syncapi_threads()
    memory.reset(url[len("memory://") :])


def test_consumer_close_timeout_is_shared_by_all_subscribers() -> None:
    url = f"memory://life-{uuid.uuid4().hex[:8]}"
    gate = threading.Event()
    with syncapi.producer(url) as producer:
        consumer = syncapi.consumer(url)
        for name in ("a", "b", "c"):
            sub = consumer.subscriber(name)
            sub.start(lambda env: gate.wait(10))
            producer.publisher(name).send(b"stuck")
        time.sleep(0.3)  # every callback is running now
        started = time.monotonic()
        consumer.close(timeout=0.5)
        elapsed = time.monotonic() - started
        gate.set()
    assert elapsed < 1.2, f"close(timeout=0.5) over 3 stuck subscribers took {elapsed:.2f} s"
    memory.reset(url[len("memory://") :])


def test_interpreter_exit_stops_workers_gracefully(tmp_path: Path) -> None:
    """A script that forgets worker.stop(): at exit the running callback finishes and is
    acked, and the process exits promptly instead of hanging or cutting it off."""
    script = tmp_path / "forgetful.py"
    script.write_text(
        textwrap.dedent(
            """
            import sys, time, syncapi
            p = syncapi.producer("memory://exit")
            c = syncapi.consumer("memory://exit")
            sub = c.subscriber("jobs")
            def slow(env):
                time.sleep(0.5)
                print("finished", env.read().decode(), flush=True)
            sub.start(slow)
            p.publisher("jobs").send(b"job-1")
            time.sleep(0.1)  # the callback is running; now the script just ends
            """
        )
    )
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=30, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    assert "finished job-1" in result.stdout, "the running callback was cut off at exit"
    assert time.monotonic() - started < 10


def test_quickstart_example_runs() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "quickstart.py")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "10000 messages from 20 threads received by 10000 acks" in result.stdout


def test_worker_is_a_context_manager() -> None:
    url = f"memory://life-{uuid.uuid4().hex[:8]}"
    with syncapi.producer(url) as producer, syncapi.consumer(url) as consumer:
        collect = Collector(expected=1)
        with consumer.subscriber("c").start(collect) as worker:
            producer.publisher("c").send(b"x")
            assert collect.wait(5)
        assert not worker.alive
    memory.reset(url[len("memory://") :])
