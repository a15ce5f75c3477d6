"""The ``amqp`` benchmark entry (``syncapi/bench/amqp.py``), with its alternatives Kombu
and FastStream (``syncapi/bench/faststream.py``).

Shape, fairness and honesty only, never speed: the entry is built-in; every side really
moves the messages it is asked to (counted by its callbacks and by the broker, and a
short count fails the run); the other libraries publish what syncapi publishes; and a
tiny round through the real runner gives a table and JSON with syncapi's rates against
raw pika's, Kombu's and FastStream's, a ratio each. The real benchmark is
``python -m syncapi.bench amqp`` (see ``docs/benchmarks.md``).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import sys
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from syncapi.bench import amqp as bench_amqp
from syncapi.bench import cli, registry, runner
from syncapi.bench import faststream as bench_faststream
from syncapi.bench.model import Goal, Params, Sample
from syncapi.bench.report import format_table, to_json
from syncapi.bench.runner import Benchmark, current_report

N = 150
"""Messages per job in the tests on the broker: more than the prefetch window
(:data:`~syncapi.bench.amqp.PREFETCH`), so a consumer gets them all only by acking."""

EXTRAS = {bench_amqp.EXTRA_CONSUME, bench_amqp.EXTRA_BATCH}
"""The extra figures of raw pika, syncapi and FastStream (Kombu has no batch job)."""
ROWS = (bench_amqp.ENTRY.variants[0].metric, *sorted(EXTRAS))
"""The table's rows: publish (the main row), then the extras."""


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- no broker needed ---------------------------------------------------------------------------
def test_amqp_is_a_built_in_entry() -> None:
    assert "amqp" in registry.entry_names()
    entry = registry.get_entry("amqp")
    assert entry is bench_amqp.ENTRY
    assert entry.baseline.name == "raw pika"
    assert entry.baseline.run is bench_amqp.run_pika
    (variant,) = entry.variants
    assert variant.goal == Goal(min_ratio=0.95)
    assert entry.check is not None and entry.url_env == bench_amqp.URL_ENV
    kombu, faststream = entry.alternatives
    assert (kombu.name, kombu.run, kombu.check) == (
        "Kombu",
        bench_amqp.run_kombu,
        bench_amqp.check_kombu,
    )
    assert (faststream.name, faststream.run, faststream.check) == (
        "FastStream",
        bench_faststream.run_faststream_amqp,
        bench_faststream.check_faststream_amqp,
    )


def test_the_rows_name_no_single_library() -> None:
    """Every side reports under the same keys, so their names favour none of them."""
    for key in (bench_amqp.EXTRA_CONSUME, bench_amqp.EXTRA_BATCH):
        assert "vs" not in key and "pika" not in key and "receive" not in key
    assert not hasattr(bench_amqp, "EXTRA_KOMBU_PUBLISH")
    assert not hasattr(bench_amqp, "EXTRA_KOMBU_CONSUME")


def test_the_alternatives_are_installed_here() -> None:
    """The ``test`` extra installs Kombu and FastStream: neither is left out here."""
    assert bench_amqp.check_kombu() is None
    assert bench_faststream.check_faststream_amqp() is None


@pytest.mark.parametrize(
    ("module", "name", "install"),
    [
        ("kombu", "Kombu", "pip install 'kombu>=5.3,<6'"),
        ("faststream.rabbit", "FastStream", "pip install 'faststream[rabbit]'"),
    ],
)
def test_a_missing_alternative_is_left_out_with_the_reason(
    monkeypatch: pytest.MonkeyPatch, module: str, name: str, install: str
) -> None:
    """Simulated with a fake: ``None`` in ``sys.modules`` makes the import fail as it does
    where the library is not installed; the entry still runs raw pika and syncapi."""
    monkeypatch.setitem(sys.modules, module, None)
    (alternative,) = [v for v in bench_amqp.ENTRY.alternatives if v.name == name]
    assert alternative.check is not None
    reason = alternative.check()
    assert reason is not None and install in reason
    params = Params(messages=1, size=1, options={"url": "amqp://guest:guest@127.0.0.1:1/"})
    variants, unavailable = Benchmark(bench_amqp.ENTRY, params, rounds=5).runnable()
    assert unavailable == {name: reason}
    assert [v.name for v in variants][:2] == ["raw pika", "syncapi amqp://"]
    assert name not in [v.name for v in variants]
    assert bench_amqp.check() != reason  # the entry itself needs pika only


def test_without_a_url_the_entry_is_skipped_saying_how_to_start_a_broker(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(bench_amqp.URL_ENV, raising=False)
    assert cli.main(["amqp", "-q"]) == 0
    out = capsys.readouterr().out
    assert "amqp: skipped:" in out
    assert "--url" in out and "python -m tests.services start amqp" in out
    assert bench_amqp.check() == bench_amqp.NO_URL
    for run in (
        bench_amqp.run_pika,
        bench_amqp.run_syncapi,
        bench_amqp.run_kombu,
        bench_faststream.run_faststream_amqp,
    ):
        with pytest.raises(RuntimeError, match=r"tests\.services start amqp"):
            run(Params(messages=1, size=1))


def test_url_option_reaches_the_entry(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(bench_amqp.URL_ENV, "amqp://placeholder:1/")  # restored afterwards
    closed = f"amqp://guest:guest@127.0.0.1:{_closed_port()}/"
    assert cli.main(["amqp", "--url", closed, "-q"]) == 0
    assert os.environ[bench_amqp.URL_ENV] == closed
    assert f"no RabbitMQ broker answers at {closed}" in capsys.readouterr().out


def test_a_url_of_another_scheme_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(bench_amqp.URL_ENV, "kafka://127.0.0.1:9092")
    reason = bench_amqp.check()
    assert reason is not None and "amqp://" in reason


def _measured(**changes: int) -> bench_amqp.Measured:
    fields = {"published": 10, "consumed": 10, "consumed_bytes": 10 * 64, "left": 0}
    fields.update(changes)
    return bench_amqp.Measured(
        library="x", messages=10, size=64, publish_seconds=1.0, consume_seconds=1.0, **fields
    )


def test_right_counts_pass() -> None:
    _measured().verify()


@pytest.mark.parametrize(
    "wrong",
    [
        {"published": 9},
        {"published": 11},
        {"consumed": 9},
        {"consumed_bytes": 10 * 64 - 1},
        {"left": 1},
    ],
)
def test_wrong_counts_fail_the_run(wrong: dict[str, int]) -> None:
    with pytest.raises(RuntimeError, match="expected 10, 10, 640 and 0"):
        _measured(**wrong).verify()


def test_a_short_batch_queue_fails_the_run() -> None:
    import dataclasses

    good = dataclasses.replace(_measured(), batch_seconds=1.0, batch_published=10)
    good.verify()
    with pytest.raises(RuntimeError, match="batch publish job left 9"):
        dataclasses.replace(good, batch_published=9).verify()


# -- on the session's broker ------------------------------------------------------------------------
MEASURES: dict[str, Callable[[Params], bench_amqp.Measured]] = {
    "raw pika": bench_amqp.measure_pika,
    "Kombu": bench_amqp.measure_kombu,
    "FastStream": bench_faststream.measure_faststream_amqp,
    "syncapi": bench_amqp.measure_syncapi,
}
BATCHING = {"FastStream", "syncapi"}
"""The sides with a publish-100-at-a-time job."""


@pytest.mark.parametrize("library", list(MEASURES))
def test_each_side_moves_exactly_the_messages_asked_for(amqp_url: str, library: str) -> None:
    """Counted, not assumed: the broker holds ``N`` published messages (plus the warm-up
    one), the consume callback saw ``N`` full payloads, and nothing is left unacked; a
    side with a batch job left ``N`` messages in its queue too."""
    run = MEASURES[library](Params(messages=N, size=1024, options={"url": amqp_url}))
    assert run.library == library
    assert (run.published, run.consumed, run.consumed_bytes, run.left) == (N, N, N * 1024, 0)
    assert run.publish_seconds > 0 and run.consume_seconds > 0
    if library in BATCHING:
        assert run.batch_published == N
        assert run.batch_seconds is not None and run.batch_seconds > 0
    else:
        assert run.batch_published is None and run.batch_seconds is None
    run.verify()


RUNS: dict[str, Callable[[Params], object]] = {
    "raw pika": bench_amqp.run_pika,
    "Kombu": bench_amqp.run_kombu,
    "FastStream": bench_faststream.run_faststream_amqp,
}


@pytest.mark.parametrize("library", list(RUNS))
def test_each_library_reports_under_the_baselines_keys(amqp_url: str, library: str) -> None:
    """A verified sample each: the publish rate as the throughput, the consume rate under
    :data:`EXTRA_CONSUME` and, for the sides that batch, :data:`EXTRA_BATCH` (raw pika's
    is its one-by-one rate: its ``BlockingChannel`` cannot pipeline)."""
    sample = RUNS[library](Params(messages=N, size=64, options={"url": amqp_url}))
    assert isinstance(sample, Sample)
    assert sample.messages == N and sample.rate > 0
    wanted = {bench_amqp.EXTRA_CONSUME} if library == "Kombu" else EXTRAS
    assert set(sample.extra) == wanted
    assert all(value > 0 for value in sample.extra.values())
    if library == "raw pika":
        assert sample.extra[bench_amqp.EXTRA_BATCH] == pytest.approx(sample.rate)


def test_a_lost_message_fails_the_run(amqp_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The publish count is the broker's, not the client's: a publish job that skips a
    message yields a run that does not verify."""
    real = bench_amqp.raw_publish

    def one_short(channel: object, queue: str, payload: bytes, n: int) -> float:
        return real(channel, queue, payload, n - 1 if n > 1 else n)

    monkeypatch.setattr(bench_amqp, "raw_publish", one_short)
    run = bench_amqp.measure_pika(Params(messages=5, size=16, options={"url": amqp_url}))
    assert run.published == 4
    with pytest.raises(RuntimeError, match="published 4"):
        run.verify()


def test_a_short_queue_fails_the_consume_job(
    amqp_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A consumer that cannot get all its messages gives up at the deadline and raises."""
    monkeypatch.setattr(bench_amqp, "_deadline", lambda messages: 0.5)
    queue = f"bench-short-{uuid.uuid4().hex[:12]}"
    try:
        bench_amqp.fill(amqp_url, queue, b"x", 3)
        connection = bench_amqp._pika_connection(amqp_url, "test")
        try:
            tally = bench_amqp.Tally()
            with pytest.raises(RuntimeError, match="3 of 4 messages"):
                bench_amqp.raw_consume(connection, queue, 4, tally)
        finally:
            connection.close()
    finally:
        bench_amqp.delete_queues(amqp_url, [queue])


def _get_one(amqp_url: str, queue: str) -> tuple[Any, Any, bytes | None]:
    """Take one message off ``queue`` with raw pika: ``(method, properties, body)``, the
    method ``None`` when the queue is empty."""
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        result: tuple[Any, Any, bytes | None] = connection.channel().basic_get(queue, auto_ack=True)
        return result
    finally:
        connection.close()


def test_baselines_publish_the_properties_syncapi_publishes(amqp_url: str) -> None:
    """A message syncapi's producer sends by default has the properties the baselines
    set: ``delivery_mode`` :data:`~syncapi.bench.amqp.DELIVERY_MODE`, nothing else."""

    import syncapi
    from syncapi import amqp

    queue = f"bench-wire-{uuid.uuid4().hex[:12]}"
    bindings = amqp.ChannelBindings(
        is_="queue", queue=amqp.Queue(name=queue, durable=False, auto_delete=False)
    )
    try:
        with syncapi.producer(amqp_url) as producer:
            pub = producer.publisher(queue, bindings)
            pub.send(pub.envelope(b"x"))
        method, properties, body = _get_one(amqp_url, queue)
    finally:
        bench_amqp.delete_queues(amqp_url, [queue])
    assert method is not None and body == b"x"
    assert properties.delivery_mode == bench_amqp.DELIVERY_MODE
    assert properties.content_type is None and not properties.headers


@pytest.mark.parametrize("gathered", [False, True], ids=["publish", "gather"])
def test_faststream_publishes_persistent_mandatory_messages(amqp_url: str, gathered: bool) -> None:
    """FastStream's publish jobs send the payload with ``delivery_mode``
    :data:`~syncapi.bench.amqp.DELIVERY_MODE`, as the other sides do (plus the
    properties FastStream always sets), and are confirmed: the message is in the queue
    when the call returns."""

    queue = f"bench-wire-fs-{uuid.uuid4().hex[:12]}"

    async def send() -> None:
        from faststream.rabbit import RabbitBroker

        broker = RabbitBroker(amqp_url, logger=None)
        await broker.start()
        try:
            await broker.declare_queue(bench_faststream._rabbit_queue(queue))
            job = (
                bench_faststream.faststream_amqp_publish_gathered
                if gathered
                else bench_faststream.faststream_amqp_publish
            )
            await job(broker, queue, b"x", 1)
        finally:
            await broker.stop()

    try:
        asyncio.run(send())
        assert bench_amqp.queue_depth(amqp_url, queue) == 1
        method, properties, body = _get_one(amqp_url, queue)
    finally:
        bench_amqp.delete_queues(amqp_url, [queue])
    assert method is not None and body == b"x"
    assert properties.delivery_mode == bench_amqp.DELIVERY_MODE


def test_a_short_queue_fails_the_faststream_consume_job(
    amqp_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FastStream's handler counts what arrived: asked for more than the queue holds, the
    job gives up at the deadline and says how many it handled."""
    monkeypatch.setattr(bench_amqp, "_deadline", lambda messages: 2.0)
    queue = f"bench-short-fs-{uuid.uuid4().hex[:12]}"
    try:
        bench_amqp.fill(amqp_url, queue, b"xy", 3)
        tally = bench_amqp.Tally()
        with pytest.raises(RuntimeError, match="3 of 4 messages"):
            asyncio.run(bench_faststream.faststream_amqp_consume(amqp_url, queue, 4, tally))
        assert (tally.messages, tally.size) == (3, 6)
        assert bench_amqp.queue_depth(amqp_url, queue) == 0  # the three were acked
    finally:
        bench_amqp.delete_queues(amqp_url, [queue])


def test_suite_runs_with_tiny_sizes(amqp_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """One round of ``N`` messages through the real runner: raw pika, syncapi, Kombu and
    FastStream, both jobs, in the table with syncapi's ratio to each, and in the JSON (the
    figures themselves are not checked)."""
    monkeypatch.setattr(runner, "MIN_ROUNDS", 1)  # the harness wants 5 rounds; 1 does here
    lines: list[str] = []
    params = Params(messages=N, size=1024, options={"url": amqp_url})
    result = Benchmark(
        bench_amqp.ENTRY, params, rounds=1, warmup_rounds=0, progress=lines.append
    ).run()

    assert result.order == ("raw pika", "syncapi amqp://", "Kombu", "FastStream")
    assert len(lines) == 4
    assert result.unavailable == {}
    (row,) = result.rows
    kombu, faststream = result.alternatives
    assert (kombu.name, faststream.name) == ("Kombu", "FastStream")
    for side in (result.baseline, row.result, kombu, faststream):
        (sample,) = side.samples
        assert sample.messages == N
        assert set(side.extra) == (EXTRAS if side is not kombu else {bench_amqp.EXTRA_CONSUME})
        assert side.rate.median > 0 and all(s.median > 0 for s in side.extra.values())
    assert row.ratio > 0
    baseline_extra = result.baseline.samples[0].extra
    assert baseline_extra[bench_amqp.EXTRA_BATCH] == pytest.approx(result.baseline.rate.median)

    table = format_table(result)
    assert "baseline: raw pika" in table and "C Kombu, D FastStream" in table
    for case in ROWS:
        line = next(line for line in table.splitlines() if line.strip().startswith(case))
        numbers = re.findall(r"\d[\d,]*(?:\.\d+)?", line.split(case, 1)[1])
        # syncapi median, min, max; raw pika's; the ratio; then Kombu's and FastStream's
        assert len(numbers) >= 8, line
        ratios = re.findall(r"\s\d+\.\d{3}x(?=\s|$)", line)
        # against raw pika, Kombu (which has no batch figure) and FastStream
        assert len(ratios) == (2 if case == bench_amqp.EXTRA_BATCH else 3), line
    main_row = next(line for line in table.splitlines() if line.strip().startswith(ROWS[0]))
    assert re.search(r">= 0\.95x\s+(yes|NO)\s", main_row), main_row

    data = json.loads(json.dumps(to_json(current_report([result])), allow_nan=False))
    (entry,) = data["results"]
    assert entry["entry"] == "amqp"
    (json_row,) = entry["rows"]
    assert json_row["ratio"] > 0
    assert json_row["goal"] == {"min_ratio": 0.95, "max_ratio": None}
    json_kombu, json_faststream = entry["alternatives"]
    assert (json_kombu["name"], json_faststream["name"]) == ("Kombu", "FastStream")
    assert set(json_kombu["extra"]) == {bench_amqp.EXTRA_CONSUME}
    for side in (entry["baseline"], json_row, json_faststream):
        assert side["rate"]["median"] > 0
        for key in EXTRAS:
            assert side["extra"][key]["median"] > 0
            assert side["extra"][key]["count"] == 1
