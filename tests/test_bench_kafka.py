"""The ``kafka`` benchmark entry (``syncapi/bench/kafka.py``) and its FastStream
alternative (``syncapi/bench/faststream.py``).

Shape and fairness only, never speed: the entry is built-in, its baseline and syncapi use
the same client settings and put the same headers on the wire (FastStream the same ones,
plus its own ``correlation_id``), it runs against the session's broker with tiny sizes,
every side delivers every message, and its table and JSON carry every side and a ratio
for each of its three jobs. The real benchmark is ``python -m syncapi.bench kafka`` (see
``docs/benchmarks.md``).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import uuid

import pytest

from syncapi.bench import cli, registry, runner
from syncapi.bench import faststream as bench_faststream
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
    (alternative,) = entry.alternatives
    assert alternative.name == "FastStream"
    assert alternative.run is bench_faststream.run_faststream_kafka
    assert alternative.check is bench_faststream.check_faststream_kafka


def test_faststream_is_installed_here() -> None:
    """The ``test`` extra installs FastStream: its variant is not left out here."""
    assert bench_faststream.check_faststream_kafka() is None


def test_a_missing_faststream_leaves_the_alternative_out_with_the_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Simulated with a fake: ``None`` in ``sys.modules`` makes ``import faststream.kafka``
    fail as it does where FastStream (or aiokafka) is not installed."""
    monkeypatch.setitem(sys.modules, "faststream.kafka", None)
    reason = bench_faststream.check_faststream_kafka()
    assert reason is not None
    assert reason.startswith("faststream is not installed: pip install 'faststream[kafka]'")
    params = Params(messages=1, size=1, options={"url": "kafka://127.0.0.1:1"})
    variants, unavailable = Benchmark(bench_kafka.ENTRY, params, rounds=5).runnable()
    assert [v.name for v in variants] == ["kafka-python", "syncapi kafka://"]
    assert unavailable == {"FastStream": reason}


def test_faststream_uses_the_baseline_producer_settings() -> None:
    """FastStream's ``KafkaBroker`` gets the baseline's producer settings, as far as it
    takes them, and a batch size that holds a whole ``publish_batch``."""
    for key, value in bench_faststream.FASTSTREAM_KAFKA_SETTINGS.items():
        assert bench_kafka.RAW_PRODUCER_SETTINGS[key] == value, key
    assert bench_faststream.kafka_batch_records(1024) == bench_kafka.BATCH
    assert bench_faststream.kafka_max_batch_size(1024) >= bench_kafka.BATCH * 1024
    assert bench_faststream.kafka_max_batch_size(0) >= 16_384  # aiokafka's default, at least
    # records too large for 100 in a request the broker takes go in smaller batches
    assert 1 < bench_faststream.kafka_batch_records(64 * 1024) < bench_kafka.BATCH
    assert bench_faststream.kafka_max_batch_size(64 * 1024) < 1_048_576
    assert bench_faststream.kafka_batch_records(2 * 1024 * 1024) == 1


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
    for run in (bench_kafka.run_raw, bench_faststream.run_faststream_kafka):
        with pytest.raises(RuntimeError, match=r"tests\.services start kafka"):
            run(Params(messages=1, size=1))


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
    import syncapi
    from syncapi.kafka import ChannelBindings

    topic = f"bench-wire-{uuid.uuid4().hex[:12]}"
    with syncapi.producer(kafka_url) as producer:
        pub = producer.publisher(topic, bindings=ChannelBindings(partitions=1))
        pub.send(
            pub.envelope(b"x", headers=bench_kafka.HEADERS, content_type=bench_kafka.CONTENT_TYPE)
        )
    record = _read_one(kafka_url, topic)
    assert list(record.headers) == bench_kafka.WIRE_HEADERS  # type: ignore[attr-defined]


def _read_one(kafka_url: str, topic: str) -> object:
    """The first record of ``topic`` (waiting up to 20 s for it)."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bench_kafka.bootstrap_servers(kafka_url),
        auto_offset_reset="earliest",
        consumer_timeout_ms=20_000,
    )
    try:
        return next(iter(consumer))
    finally:
        consumer.close()


@pytest.mark.parametrize("batched", [False, True], ids=["publish", "publish_batch"])
def test_faststream_sends_the_wire_headers_plus_its_correlation_id(
    kafka_url: str, batched: bool
) -> None:
    """A record FastStream's jobs send carries the payload and the baseline's two headers
    with the same bytes, plus the ``correlation_id`` header FastStream always adds."""
    from faststream.kafka import KafkaBroker

    topic = f"bench-wire-fs-{uuid.uuid4().hex[:12]}"
    bootstrap = bench_kafka.bootstrap_servers(kafka_url)

    async def send() -> None:
        broker = KafkaBroker(bootstrap, logger=None)
        await broker.start()
        try:
            if batched:
                await bench_faststream.faststream_kafka_produce_batched(broker, topic, b"x", 1)
            else:
                await bench_faststream.faststream_kafka_produce_one_by_one(broker, topic, b"x", 1)
        finally:
            await broker.stop()

    asyncio.run(send())
    record = _read_one(kafka_url, topic)
    assert record.value == b"x"  # type: ignore[attr-defined]
    headers = dict(record.headers)  # type: ignore[attr-defined]
    assert set(headers) == {name for name, _ in bench_kafka.WIRE_HEADERS} | {"correlation_id"}
    for name, value in bench_kafka.WIRE_HEADERS:
        assert headers[name] == value, name


def test_faststream_does_every_job_with_tiny_sizes(kafka_url: str) -> None:
    """FastStream's variant on its own: 30 messages through the three jobs, each consumed
    record counted with its bytes, header and content type (a short count raises), and a
    sample with the baseline's keys."""
    sample = bench_faststream.run_faststream_kafka(
        Params(messages=30, size=1024, options={"url": kafka_url})
    )
    assert sample.messages == 30
    assert set(sample.extra) == {bench_kafka.EXTRA_SEND_ONE, bench_kafka.EXTRA_CONSUME}
    assert sample.rate > 0 and all(v > 0 for v in sample.extra.values())


def test_faststream_consume_counts_what_arrived(
    kafka_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The consume job's tally is what the handler saw: asked for more records than the
    topic holds, it gives up at the deadline and says how many arrived."""
    from kafka import KafkaAdminClient

    bootstrap = bench_kafka.bootstrap_servers(kafka_url)
    topic = f"bench-short-fs-{uuid.uuid4().hex[:12]}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics({topic: {"num_partitions": 1}}, wait_for_metadata=True)
        bench_kafka._fill(bootstrap, topic, b"abc", 3)
        tally = bench_kafka.Tally()
        monkeypatch.setattr(bench_kafka, "_deadline", lambda messages: 8.0)
        with pytest.raises(RuntimeError, match="3 of 4 records"):
            asyncio.run(bench_faststream.faststream_kafka_consume(bootstrap, topic, 4, tally))
        assert (tally.messages, tally.size, tally.tagged) == (3, 9, 3)
    finally:
        bench_kafka._delete(admin, [topic])


def test_suite_runs_with_tiny_sizes(kafka_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two rounds of 30 messages through the real runner: the baseline, syncapi and
    FastStream, three jobs each, syncapi's ratio to the baseline and to FastStream on
    every job, in the table and in the JSON (the figures themselves are not checked)."""
    monkeypatch.setattr(runner, "MIN_ROUNDS", 1)  # the harness wants 5 rounds; 2 do here
    lines: list[str] = []
    params = Params(messages=30, size=1024, options={"url": kafka_url})
    result = Benchmark(
        bench_kafka.ENTRY, params, rounds=2, warmup_rounds=0, progress=lines.append
    ).run()

    sides = ("kafka-python", "syncapi kafka://", "FastStream")
    assert result.order == (*sides, *reversed(sides))
    assert len(lines) == 6
    assert result.unavailable == {}
    (row,) = result.rows
    (alternative,) = result.alternatives
    assert alternative.name == "FastStream"
    for side in (result.baseline, row.result, alternative):
        assert len(side.samples) == 2
        assert all(s.messages == 30 for s in side.samples)
        assert set(side.extra) == {bench_kafka.EXTRA_SEND_ONE, bench_kafka.EXTRA_CONSUME}
        assert side.rate.median > 0 and all(s.median > 0 for s in side.extra.values())
    assert row.ratio > 0

    table = format_table(result)
    assert "C FastStream" in table
    for case in CASES:
        line = next(line for line in table.splitlines() if line.strip().startswith(case))
        numbers = re.findall(r"\d[\d,]*(?:\.\d+)?", line.split(case, 1)[1])
        # syncapi median, min, max; the baseline's; the ratio; FastStream's median and ratio
        assert len(numbers) >= 8, line
        assert len(re.findall(r"\s\d+\.\d{3}x(?=\s|$)", line)) == 2, line

    data = json.loads(json.dumps(to_json(current_report([result])), allow_nan=False))
    (entry,) = data["results"]
    assert entry["entry"] == "kafka"
    (json_row,) = entry["rows"]
    assert json_row["ratio"] > 0
    assert json_row["goal"] == {"min_ratio": 0.95, "max_ratio": None}
    (json_alternative,) = entry["alternatives"]
    assert json_alternative["name"] == "FastStream"
    for side in (entry["baseline"], json_row, json_alternative):
        assert side["rate"]["median"] > 0
        for key in (bench_kafka.EXTRA_SEND_ONE, bench_kafka.EXTRA_CONSUME):
            assert side["extra"][key]["median"] > 0
            assert side["extra"][key]["count"] == 2
