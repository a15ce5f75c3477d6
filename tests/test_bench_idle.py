"""The ``idle`` benchmark entry (``syncapi/bench/idle.py``).

Shape and honesty only, never speed: the entry is built-in and names its figures with
units; each side's idle subscribers of each protocol really run in a child process of
their own (RSS grows with them, the threads grow as each design says and the kernel
agrees), and their close leaves nothing behind there (a close that leaves a thread fails
the run) nor here (no thread, no child process); brokers are the session's real ones;
and a tiny round through the real runner gives a table and JSON with a ratio per figure.
The real benchmark is ``python -m syncapi.bench idle`` (see ``docs/benchmarks.md``).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable

import pytest

from syncapi.bench import idle, registry
from syncapi.bench.model import Params
from syncapi.bench.report import format_table, to_json
from syncapi.bench.runner import Benchmark, current_report
from tests.helpers import child_pids, threads_left

TOP = 10
"""The largest level of the tests' runs: levels 1 and 10."""
THREADS = ("bench-idle-", "bench-ws-raw-")
"""Name prefixes of the threads a run starts in this process (the bench's peers)."""

EXPECTED_THREADS: dict[tuple[str, str], Callable[[int], int]] = {
    ("baseline", "memory"): lambda n: n,  # a thread in get() per queue
    ("baseline", "tcp"): lambda n: n,  # a reader per socket
    ("baseline", "udp"): lambda n: n,  # a reader per socket
    ("baseline", "ws"): lambda n: n,  # a reader per connection
    ("baseline", "http"): lambda n: 1,  # werkzeug's server thread; routes cost none
    ("baseline", "kafka"): lambda n: 2 * n,  # kafka-python's own thread and the poller
    ("baseline", "amqp"): lambda n: 1,  # one thread for the connection's channels
    ("syncapi", "memory"): lambda n: n,  # the loop's thread per subscriber
    ("syncapi", "tcp"): lambda n: 2 * n,  # the connection's reader and the loop's thread
    ("syncapi", "udp"): lambda n: 2 * n,  # the socket's reader and the loop's thread
    ("syncapi", "ws"): lambda n: 2 * n + 1,  # reader and loop each, the producer's keepalive
    ("syncapi", "http"): lambda n: n + 1,  # the server, and the loop's thread per route
    ("syncapi", "kafka"): lambda n: 3 * n,  # kafka-python's, the keeper, the loop's thread
    ("syncapi", "amqp"): lambda n: n + 1,  # the connection's I/O thread, a loop per channel
}
"""Threads added by ``n`` idle subscribers, by side and protocol: what each design gives
today (see the module documentation of ``syncapi.bench.idle``)."""


def _params(protocols: str, top: int = TOP, **options: str) -> Params:
    return Params(messages=top, size=0, options={"protocols": protocols, **options})


def _nothing_left(children: list[int] | None) -> None:
    """No thread of a run alive here, and no child process besides ``children``."""
    assert threads_left(THREADS) == []
    if children is not None:
        deadline = time.monotonic() + 5.0
        while (now := child_pids()) != children and time.monotonic() < deadline:
            time.sleep(0.05)
        assert now == children


def _check(sample_extra: dict[str, float], side: str, protocol: str, top: int) -> None:
    """The figures of one side's protocol are sane: RSS grows, threads as designed (the
    kernel agrees), times and CPU positive."""
    steps = idle.protocol_levels(protocol, top)
    expected = EXPECTED_THREADS[(side, protocol)]
    rss = [sample_extra[idle.key(protocol, idle.RSS, n)] for n in steps]
    assert rss[-1] > 0, rss
    assert rss[-1] >= rss[0], rss
    for n in steps:
        assert sample_extra[idle.key(protocol, idle.THREADS, n)] == expected(n), (side, protocol, n)
    n = steps[-1]
    assert sample_extra[idle.key(protocol, idle.OS_THREADS, n)] == expected(n)
    assert sample_extra[idle.key(protocol, idle.START, n)] > 0
    assert sample_extra[idle.key(protocol, idle.CLOSE, n)] > 0
    assert sample_extra[idle.key(protocol, idle.CPU, n)] >= 0


# -- nothing started ------------------------------------------------------------------------
def test_idle_is_a_built_in_entry() -> None:
    assert "idle" in registry.entry_names()
    entry = registry.get_entry("idle")
    assert entry is idle.ENTRY
    assert entry.default_messages == idle.DEFAULT_SUBSCRIBERS == 100
    assert entry.rate_unit == "subscribers/s"
    assert entry.url_env is None  # brokers through the kafka and amqp entries' variables
    assert entry.check is None  # what cannot run here is left out, protocol by protocol
    assert [v.goals for v in entry.all_variants] == [{}, {}]  # figures, no targets yet


@pytest.mark.parametrize(
    ("top", "steps"),
    [(1, (1,)), (2, (1, 2)), (10, (1, 10)), (100, (1, 10, 100)), (1000, (1, 100, 1000))],
)
def test_levels_grow_to_the_largest(top: int, steps: tuple[int, ...]) -> None:
    assert idle.levels(top) == steps
    assert idle.protocol_levels("memory", top) == steps
    assert idle.protocol_levels("kafka", top) == idle.levels(min(top, idle.CAPS["kafka"]))
    with pytest.raises(ValueError, match="must be >= 1"):
        idle.levels(0)


def test_every_figure_has_a_unit_and_lower_is_better() -> None:
    units = {
        idle.key("tcp", idle.RSS, 1000): "MiB",
        idle.key("ws", idle.THREADS, 7): "threads",
        idle.key("kafka", idle.OS_THREADS, 10): "threads",
        idle.key("http", idle.START, 100): "s",
        idle.key("amqp", idle.CLOSE, 100): "s",
        idle.key("memory", idle.CPU, 100): "%",
    }
    copied = dict(idle.METRICS)  # what the runner keeps: the powers of ten
    for key, unit in units.items():
        assert idle.METRICS[key].unit == unit
        assert not idle.METRICS[key].higher_is_better
        assert idle.ENTRY.metric(key).unit == unit
    for key in (
        idle.key("udp", idle.RSS, 100),
        idle.key("ws", idle.CPU, 1000),
        idle.key("amqp", idle.START, 1),
    ):
        assert key in copied
    for bad in ("tcp: rss MiB", "smtp: rss MiB @1", "tcp: colour @1", "tcp: rss MiB @x"):
        assert bad not in idle.METRICS


def test_a_measurement_makes_its_figures_and_survives_json() -> None:
    levels = (idle.Level(1, 1100, 3, 4, 0.5), idle.Level(10, 3072, 12, 13, 1.5))
    measured = idle.Measurement("syncapi", "tcp", 1024, 2, 3, levels, 4.5, 0.25)
    assert idle.Measurement.from_json(measured.to_json()) == measured
    assert measured.extra() == {
        "tcp: rss MiB @1": pytest.approx(76 / 1024),
        "tcp: threads @1": 1.0,
        "tcp: rss MiB @10": 2.0,
        "tcp: threads @10": 10.0,
        "tcp: OS threads @10": 10.0,
        "tcp: start s @10": 2.0,
        "tcp: close s @10": 0.25,
        "tcp: idle CPU % @10": 4.5,
    }


def test_protocols_are_picked_by_option_and_brokers_need_a_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for env in ("SYNCAPI_BENCH_KAFKA_URL", "SYNCAPI_BENCH_AMQP_URL", idle.PROTOCOLS_ENV):
        monkeypatch.delenv(env, raising=False)
    assert idle.selected_protocols(Params(messages=1, size=0)) == idle.BROKERLESS
    assert idle.selected_protocols(_params("udp, memory")) == ("udp", "memory")
    monkeypatch.setenv(idle.PROTOCOLS_ENV, "tcp")
    assert idle.selected_protocols(Params(messages=1, size=0)) == ("tcp",)
    with pytest.raises(ValueError, match=r"unknown protocol\(s\) \['smtp'\]"):
        idle.selected_protocols(_params("memory,smtp"))
    with pytest.raises(ValueError, match="no broker for kafka: pass kafka_url"):
        idle.selected_protocols(_params("kafka"))
    given = _params("kafka,amqp", kafka_url="kafka://h:1", amqp_url="amqp://h/")
    assert idle.selected_protocols(given) == ("kafka", "amqp")
    assert idle.broker_url("amqp", given) == "amqp://h/"


class _Leaky:
    """A fleet whose close leaves one of its threads running."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def add(self, count: int) -> None:
        for _ in range(count):
            threading.Thread(target=self.release.wait, name="bench-idle-leak").start()

    def close(self) -> None:
        pass


def test_a_close_that_leaves_a_thread_fails_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(idle, "CLOSE_GRACE", 0.2)
    monkeypatch.setattr(idle, "IDLE_WINDOW", 0.01)
    fleet = _Leaky()
    try:
        with pytest.raises(RuntimeError, match=r"left 2 threads \(bench-idle-leak\)"):
            idle.measure(fleet, [1, 2], "baseline", "memory")
    finally:
        fleet.release.set()
    assert threads_left(("bench-idle-leak",)) == []


def test_the_hold_server_holds_connections_until_the_client_closes() -> None:
    import socket

    server = idle.HoldServer()
    try:
        host, port = server.url.removeprefix("tcp://").split(":")
        clients = [socket.create_connection((host, int(port)), timeout=5) for _ in range(3)]
        for sock in clients:
            sock.settimeout(0.2)
            with pytest.raises(TimeoutError):
                sock.recv(1)  # held open: nothing comes, no end
            sock.settimeout(5)
            sock.shutdown(socket.SHUT_WR)
            assert sock.recv(1) == b""  # the server closed in turn
            sock.close()
    finally:
        server.stop()
    assert threads_left(THREADS) == []


def test_a_child_that_fails_says_why() -> None:
    child = idle.Child("syncapi", "tcp")
    try:
        child.wait_ready()
        with pytest.raises(RuntimeError, match=r"syncapi tcp: the child process said .*Connect"):
            child.measure([1], peer="tcp://127.0.0.1:1")  # nobody listens there
    finally:
        child.close()
    assert child.process.returncode not in (None, 0)


# -- real subscribers, in child processes ------------------------------------------------------
@pytest.mark.parametrize("protocol", idle.BROKERLESS)
@pytest.mark.parametrize("side", idle.SIDES)
def test_each_side_measures_its_idle_subscribers(side: str, protocol: str) -> None:
    """1 and 10 idle subscribers in a child process: RSS grows, threads as designed,
    start, close and idle CPU measured; nothing left here afterwards."""
    children = child_pids()
    run = idle.run_syncapi if side == "syncapi" else idle.run_baseline
    sample = run(_params(protocol))
    assert sample.messages == TOP  # the subscribers started
    assert sample.seconds == sample.extra[idle.key(protocol, idle.START, TOP)]
    _check(dict(sample.extra), side, protocol, TOP)
    _nothing_left(children)


def test_kafka_idle_subscribers(kafka_url: str) -> None:
    children = child_pids()
    for side, run in (("baseline", idle.run_baseline), ("syncapi", idle.run_syncapi)):
        sample = run(_params("kafka", 2, kafka_url=kafka_url))
        _check(dict(sample.extra), side, "kafka", 2)
    _nothing_left(children)


def test_amqp_idle_subscribers(amqp_url: str) -> None:
    children = child_pids()
    for side, run in (("baseline", idle.run_baseline), ("syncapi", idle.run_syncapi)):
        sample = run(_params("amqp", TOP, amqp_url=amqp_url))
        _check(dict(sample.extra), side, "amqp", TOP)
    _nothing_left(children)


def test_suite_runs_with_tiny_sizes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Five rounds of 1 and 10 idle ``memory://`` subscribers through the real runner: a
    table with a unit and a ratio per figure, and the JSON."""
    monkeypatch.setattr(idle, "IDLE_WINDOW", 0.05)
    result = Benchmark(idle.ENTRY, _params("memory"), rounds=5, warmup_rounds=0).run()
    (row,) = result.rows
    keys = {idle.key("memory", what, n) for n in (1, TOP) for what in (idle.RSS, idle.THREADS)}
    keys |= {
        idle.key("memory", what, TOP)
        for what in (idle.OS_THREADS, idle.START, idle.CLOSE, idle.CPU)
    }
    assert set(row.result.extra) == set(result.baseline.extra) == keys
    assert row.result.extra[idle.key("memory", idle.THREADS, TOP)].median == TOP
    assert row.extra_ratios[idle.key("memory", idle.THREADS, TOP)] == 1.0

    table = format_table(result)
    assert "baseline: plain waiters" in table
    main = next(x for x in table.splitlines() if x.strip().startswith("start idle"))
    assert " subscribers/s " in main  # the main row's unit
    line = next(x for x in table.splitlines() if idle.key("memory", idle.THREADS, TOP) in x)
    assert re.search(r"threads\s+10\.00\s+10\.00-10\.00\s+10\.00\s+10\.00-10\.00\s+1\.000x", line)
    for key in keys - {idle.key("memory", idle.THREADS, TOP)}:
        line = next(x for x in table.splitlines() if key in x)
        assert f" {idle.METRICS[key].unit} " in line, line

    data = json.loads(json.dumps(to_json(current_report([result])), allow_nan=False))
    (entry,) = data["results"]
    assert entry["entry"] == "idle"
    (json_row,) = entry["rows"]
    assert set(json_row["extra"]) == keys
    assert all(len(sample["extra"]) == len(keys) for sample in json_row["samples"])
