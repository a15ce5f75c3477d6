"""The ``latency`` benchmark entry (``syncapi/bench/latency.py``).

Shape and honesty only, never speed: the entry is built-in and names its figures with
units; the sender keeps its pace and stamps each message; the receiver records each
message once, by its number (a wrong size, a duplicate or a missing message on a
reliable protocol fails the run; UDP's loss is reported); every side of every protocol
delivers every message at a fixed rate with ordered percentiles, brokers being the
session's real ones; a run leaves no thread behind; and a tiny round through the real
runner gives a table and JSON with a ratio per figure. The real benchmark is
``python -m syncapi.bench latency`` (see ``docs/benchmarks.md``).
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest

from syncapi.bench import latency, registry
from syncapi.bench.model import Params
from syncapi.bench.report import format_table, to_json
from syncapi.bench.runner import Benchmark, current_report
from tests.helpers import threads_left

N = 200
"""Messages per protocol (at 1,000 msg/s: 0.2 s)."""
RATE = 1_000.0
SIZE = 64
THREADS = (
    "bench-latency-",
    "bench-tcp-raw-",
    "bench-udp-raw-",
    "bench-ws-raw-",
    "syncapi-bench-flask",
    "syncapi[latency",
    "syncapi-tcp",
    "syncapi-udp",
    "syncapi-ws",
    "syncapi-http",
)
"""Name prefixes of the threads a run starts (the raw receivers, syncapi's)."""


def _params(protocols: str, messages: int = N, **options: str) -> Params:
    return Params(messages=messages, size=SIZE, options={"protocols": protocols, **options})


def _check(result: latency.Result, n: int, arrived: float = 100.0) -> dict[str, float]:
    """The figures of one protocol are sane: ordered percentiles, every (or the given
    share of every) message arrived."""
    figures = result.extra()
    p = result.protocol
    p50, p99, top = (figures[f(p)] for f in (latency.p50_key, latency.p99_key, latency.max_key))
    assert 0 < p50 <= p99 <= top, figures
    assert figures[latency.arrived_key(p)] == pytest.approx(arrived)
    assert result.sent == n and result.seconds > 0
    return figures


# -- nothing to receive -----------------------------------------------------------------------
def test_latency_is_a_built_in_entry() -> None:
    assert "latency" in registry.entry_names()
    entry = registry.get_entry("latency")
    assert entry is latency.ENTRY
    assert entry.default_messages == latency.DEFAULT_MESSAGES == 1_000
    assert latency.DEFAULT_RATE == 1_000.0
    assert entry.url_env is None and entry.check is None
    for protocol in ("memory", "udp", "kafka"):
        for key in (latency.p50_key(protocol), latency.max_key(protocol)):
            assert entry.metric(key).unit == "ms" and not entry.metric(key).higher_is_better
        assert entry.metric(latency.arrived_key(protocol)).unit == "%"
        assert entry.metric(latency.arrived_key(protocol)).higher_is_better


def test_the_rate_is_an_option(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(latency.RATE_ENV, raising=False)
    assert latency.rate_of(Params(messages=1, size=0)) == latency.DEFAULT_RATE
    assert latency.rate_of(Params(messages=1, size=0, options={"rate": "250"})) == 250.0
    monkeypatch.setenv(latency.RATE_ENV, "500")
    assert latency.rate_of(Params(messages=1, size=0)) == 500.0
    for bad in ("0", "-3", "nan"):
        with pytest.raises(ValueError, match="positive"):
            latency.rate_of(Params(messages=1, size=0, options={"rate": bad}))


def test_round_trip_protocols_run_slower_for_as_long() -> None:
    assert latency.plan("tcp", 1000, 1000.0) == (1000, 1000.0)
    assert latency.plan("http", 1000, 1000.0) == (100, 100.0)
    assert latency.plan("amqp", 5, 1000.0) == (1, 100.0)


def test_the_sender_keeps_its_pace_and_stamps_each_message() -> None:
    sent: list[tuple[int, int, int]] = []

    def send(data: bytes) -> None:
        sent.append((*latency.HEADER.unpack_from(data), len(data)))

    before = time.perf_counter_ns()
    seconds = latency.paced(send, 50, 1000.0, 100)
    assert seconds >= 0.049  # 49 gaps of 1 ms, never faster
    assert [index for _, index, _ in sent] == list(range(50))
    assert {size for _, _, size in sent} == {100}
    stamps = [stamp for stamp, _, _ in sent]
    assert stamps == sorted(stamps) and stamps[0] >= before
    assert stamps[-1] - stamps[0] >= 49_000_000  # on schedule: the 50th is due at 49 ms
    sent.clear()
    latency.paced(send, 3, 1e6, 0, warmup=True)  # at least the header, every one a warm-up
    assert [(index, size) for _, index, size in sent] == [(latency.WARMUP_INDEX, 12)] * 3


def test_the_recorder_takes_each_message_once() -> None:
    recorder = latency.Recorder(3, 16)
    warmups: list[bytes] = []
    stamped: list[bytes] = []
    latency.paced(warmups.append, latency.WARMUP, 1e6, 16, warmup=True)
    latency.paced(stamped.append, 3, 1e6, 16)
    for data in warmups:  # first, as a run sends them
        recorder.add(data)
    assert recorder.warmed.is_set() and recorder.latencies == []
    recorder.add(stamped[1])
    recorder.add(stamped[1])  # twice
    recorder.add(stamped[0][:15])  # the wrong size
    recorder.add(latency.HEADER.pack(0, 7) + bytes(4))  # a number never sent
    assert (len(recorder.latencies), recorder.duplicates, recorder.wrong) == (1, 1, 2)
    assert not recorder.done.is_set()
    recorder.add(stamped[0])
    recorder.add(stamped[2])
    assert recorder.done.is_set() and all(value > 0 for value in recorder.latencies)


def test_a_result_makes_its_figures() -> None:
    result = latency.Result("tcp", 4, 0.004, (1_000_000, 2_000_000, 3_000_000))
    figures = _check(result, 4, arrived=75.0)
    assert figures == {
        "tcp: p50 ms": 2.0,
        "tcp: p99 ms": pytest.approx(2.98),
        "tcp: max ms": 3.0,
        "tcp: arrived %": 75.0,
    }


# -- real senders and receivers ------------------------------------------------------------------
@pytest.mark.parametrize("protocol", ["memory", "tcp", "udp", "ws", "http"])
@pytest.mark.parametrize("side", ["baseline", "syncapi"])
def test_each_side_delivers_every_message_at_the_rate(side: str, protocol: str) -> None:
    n, rate = latency.plan(protocol, N, RATE)
    result = latency.measure(side, protocol, n, rate, SIZE)
    assert len(result.latencies) == n  # UDP on loopback at this rate loses none either
    _check(result, n)
    assert result.seconds >= (n - 1) / rate
    assert threads_left(THREADS) == []


def test_kafka_latency(kafka_url: str) -> None:
    for side in ("baseline", "syncapi"):
        _check(latency.measure(side, "kafka", 20, 100.0, SIZE, kafka_url), 20)
    assert threads_left(THREADS) == []


def test_amqp_latency(amqp_url: str) -> None:
    for side in ("baseline", "syncapi"):
        _check(latency.measure(side, "amqp", 20, 100.0, SIZE, amqp_url), 20)
    assert threads_left(THREADS) == []


def _dropping_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the sender skip message number 3 (not a warm-up)."""
    real = latency.paced

    def skip(send: Any, n: int, rate: float, size: int, *, warmup: bool = False) -> float:
        if warmup:
            return real(send, n, rate, size, warmup=True)

        def dropping(data: bytes) -> object:
            return None if latency.HEADER.unpack_from(data)[1] == 3 else send(data)

        return real(dropping, n, rate, size)

    monkeypatch.setattr(latency, "paced", skip)
    monkeypatch.setattr(latency, "_deadline", lambda n, rate: 0.5)


@pytest.mark.parametrize("side", ["baseline", "syncapi"])
def test_a_lost_message_fails_a_reliable_protocol(
    side: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _dropping_one(monkeypatch)
    with pytest.raises(RuntimeError, match=rf"{side} tcp: 199 of 200 messages arrived, 0 twice"):
        latency.measure(side, "tcp", N, RATE, SIZE)
    assert threads_left(THREADS) == []


def test_udp_reports_its_loss(monkeypatch: pytest.MonkeyPatch) -> None:
    _dropping_one(monkeypatch)
    _check(latency.measure("syncapi", "udp", N, RATE, SIZE), N, arrived=99.5)


def test_suite_runs_with_tiny_sizes() -> None:
    """Five rounds of 50 ``memory://`` and ``udp://`` messages through the real runner:
    a table with a unit and a ratio per figure, and the JSON."""
    params = _params("memory,udp", 50)
    result = Benchmark(latency.ENTRY, params, rounds=5, warmup_rounds=0).run()
    (row,) = result.rows
    keys = {
        f(p)
        for p in ("memory", "udp")
        for f in (latency.p50_key, latency.p99_key, latency.max_key, latency.arrived_key)
    }
    assert set(row.result.extra) == set(result.baseline.extra) == keys
    for side in (result.baseline, row.result):
        assert all(sample.messages == 100 for sample in side.samples)
        assert 0 < side.rate.median <= 1_100  # about the rate: the pace held
    assert set(row.extra_ratios) == keys

    table = format_table(result)
    assert "baseline: raw libraries" in table
    for key in keys:
        line = next(x for x in table.splitlines() if key in x)
        assert f" {latency.METRICS[key].unit} " in line, line
        assert re.search(r"\s\d+\.\d{3}x\s", line), line

    data = json.loads(json.dumps(to_json(current_report([result])), allow_nan=False))
    (entry,) = data["results"]
    assert entry["entry"] == "latency"
    (json_row,) = entry["rows"]
    assert set(json_row["extra"]) == keys
