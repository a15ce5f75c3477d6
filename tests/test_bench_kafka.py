"""The ``kafka`` benchmark entry (``syncapi/bench/kafka.py``).

Shape and fairness only, never speed: the entry is built-in, its two sides use the same
client settings and put the same headers on the wire, it runs against the session's
broker with tiny sizes, and its table and JSON carry both sides and a ratio for each of
its three jobs. The real benchmark is ``python -m syncapi.bench kafka`` (see
``docs/benchmarks.md``).
"""

from __future__ import annotations

import json
import os
import re
import uuid

import pytest

from syncapi.bench import cli, registry, runner
from syncapi.bench import kafka as bench_kafka
from syncapi.bench.model import Goal, Params
from syncapi.bench.report import format_table, to_json
from syncapi.bench.runner import Benchmark, current_report
from syncapi.kafka import ConsumerOptions, ProducerOptions

CASES = (
    bench_kafka.ENTRY.variants[0].metric,  # the batched produce: each variant's throughput
    bench_kafka.EXTRA_SEND_ONE,
    bench_kafka.EXTRA_CONSUME,
)


# -- no broker needed ---------------------------------------------------------------------------
def test_kafka_is_a_built_in_entry() -> None:
    assert "kafka" in registry.entry_names()
    entry = registry.get_entry("kafka")
    assert entry is bench_kafka.ENTRY
    assert entry.baseline.name == "kafka-python"
    (variant,) = entry.variants
    assert variant.goal == Goal(min_ratio=0.95)
    assert entry.check is not None


@pytest.mark.parametrize(
    ("url", "servers"),
    [
        ("kafka://127.0.0.1:46855", ["127.0.0.1:46855"]),
        ("kafka://a:1,b", ["a:1", "b:9092"]),
        ("kafka://[::1]:9093,[::1]", ["[::1]:9093", "[::1]:9092"]),
    ],
)
def test_bootstrap_servers(url: str, servers: list[str]) -> None:
    assert bench_kafka.bootstrap_servers(url) == servers


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:1", "kafka://", "kafka://h:1/orders", "kafka://h:1?acks=1"]
)
def test_bootstrap_servers_refuses_other_urls(url: str) -> None:
    with pytest.raises(ValueError):
        bench_kafka.bootstrap_servers(url)


def test_without_a_url_the_entry_is_skipped_saying_how_to_start_a_broker(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(bench_kafka.URL_ENV, raising=False)
    assert cli.main(["kafka", "-q"]) == 0
    out = capsys.readouterr().out
    assert "--url" in out and "python -m tests.services start kafka" in out
    assert bench_kafka.check() == bench_kafka.NO_URL
    with pytest.raises(RuntimeError, match=r"tests\.services start kafka"):
        bench_kafka.run_raw(Params(messages=1, size=1))


def test_url_option_reaches_the_entry(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(bench_kafka.URL_ENV, "kafka://placeholder:1")  # restored afterwards
    closed = f"kafka://127.0.0.1:{_closed_port()}"
    assert cli.main(["kafka", "--url", closed, "-q"]) == 0
    assert os.environ[bench_kafka.URL_ENV] == closed
    assert f"no Kafka broker answers at {closed}" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["memory", "--url", closed])  # memory needs no server


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_baseline_settings_are_syncapis_defaults() -> None:
    """Both sides configure kafka-python alike: the baseline's settings are those syncapi
    passes to ``KafkaProducer``/``KafkaConsumer`` for the options the suite uses."""
    produce = ProducerOptions(acks="all", linger_ms=0).client_settings(["h:1"], None)
    for key, value in bench_kafka.RAW_PRODUCER_SETTINGS.items():
        assert produce[key] == value, key
    consume = ConsumerOptions(group_id="g", auto_offset_reset="earliest").client_settings(
        ["h:1"], None, "g"
    )
    for key, value in bench_kafka.RAW_CONSUMER_SETTINGS.items():
        assert consume[key] == value, key


# -- on the session's broker ------------------------------------------------------------------------
def test_baseline_sends_the_wire_headers_syncapi_sends(kafka_url: str) -> None:
    """A record syncapi sends with the suite's header and content type carries exactly
    :data:`WIRE_HEADERS`, which the baseline sends."""
    from kafka import KafkaConsumer

    import syncapi
    from syncapi.kafka import ChannelBindings

    topic = f"bench-wire-{uuid.uuid4().hex[:12]}"
    with syncapi.producer(kafka_url) as producer:
        pub = producer.publisher(topic, bindings=ChannelBindings(partitions=1))
        pub.send(
            pub.envelope(b"x", headers=bench_kafka.HEADERS, content_type=bench_kafka.CONTENT_TYPE)
        )
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bench_kafka.bootstrap_servers(kafka_url),
        auto_offset_reset="earliest",
        consumer_timeout_ms=20_000,
    )
    try:
        record = next(iter(consumer))
    finally:
        consumer.close()
    assert list(record.headers) == bench_kafka.WIRE_HEADERS


def test_suite_runs_with_tiny_sizes(kafka_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two rounds of 30 messages through the real runner: both sides, three jobs, a ratio
    each, in the table and in the JSON (the figures themselves are not checked)."""
    monkeypatch.setattr(runner, "MIN_ROUNDS", 1)  # the harness wants 5 rounds; 2 do here
    lines: list[str] = []
    params = Params(messages=30, size=1024, options={"url": kafka_url})
    result = Benchmark(
        bench_kafka.ENTRY, params, rounds=2, warmup_rounds=0, progress=lines.append
    ).run()

    assert result.order == ("kafka-python", "syncapi kafka://", "syncapi kafka://", "kafka-python")
    assert len(lines) == 4
    (row,) = result.rows
    for side in (result.baseline, row.result):
        assert len(side.samples) == 2
        assert all(s.messages == 30 for s in side.samples)
        assert set(side.extra) == {bench_kafka.EXTRA_SEND_ONE, bench_kafka.EXTRA_CONSUME}
        assert side.rate.median > 0 and all(s.median > 0 for s in side.extra.values())
    assert row.ratio > 0

    table = format_table(result)
    for case in CASES:
        line = next(line for line in table.splitlines() if line.strip().startswith(case))
        numbers = re.findall(r"\d[\d,]*(?:\.\d+)?", line.split(case, 1)[1])
        assert len(numbers) >= 6, line  # syncapi median, min, max; baseline's; the ratio
        assert re.search(r"\s\d+\.\d{3}x(\s|$)", line), line

    data = json.loads(json.dumps(to_json(current_report([result])), allow_nan=False))
    (entry,) = data["results"]
    assert entry["entry"] == "kafka"
    (json_row,) = entry["rows"]
    assert json_row["ratio"] > 0
    assert json_row["goal"] == {"min_ratio": 0.95, "max_ratio": None}
    for side in (entry["baseline"], json_row):
        assert side["rate"]["median"] > 0
        for key in (bench_kafka.EXTRA_SEND_ONE, bench_kafka.EXTRA_CONSUME):
            assert side["extra"][key]["median"] > 0
            assert side["extra"][key]["count"] == 2
