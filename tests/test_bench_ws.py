"""The ``ws`` benchmark entry (``syncapi/bench/ws.py``).

Shape and honesty only, never speed: the entry is built-in; each job's receiver really
counts the messages it is sent (a short count, a message of the wrong size or a missing
end marker fails the run); a run closes everything it opened; and a tiny round through
the real runner gives a table and JSON with syncapi's rates against websocket-client +
a raw wsproto server, a ratio each way. Both ends run in this process, so nothing needs
a server. The real benchmark is ``python -m syncapi.bench ws`` (see
``docs/benchmarks.md``).
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from syncapi.bench import registry, runner
from syncapi.bench import ws as bench_ws
from syncapi.bench.model import Goal, Params
from syncapi.bench.report import format_table, to_json
from syncapi.bench.runner import Benchmark, current_report

N = 40
"""Messages per job."""
SIZE = 1024
ROWS = (bench_ws.ENTRY.variants[0].metric, bench_ws.EXTRA_BACK)
"""The table's rows: client -> server (the main row), then server -> client."""

MEASURES: dict[str, Callable[[Params], bench_ws.Measured]] = {
    "websocket-client + wsproto": bench_ws.measure_baseline,
    "syncapi": bench_ws.measure_syncapi,
}
VARIANTS = {
    "websocket-client + wsproto": bench_ws.run_baseline,
    "syncapi": bench_ws.run_syncapi,
}
JOBS = {
    "websocket-client + wsproto": ("raw_client_send", "raw_server_send"),
    "syncapi": ("syncapi_client_send", "syncapi_server_send"),
}
"""The names of each side's two job functions: client -> server, server -> client."""
THREADS = ("bench-ws-", "syncapi-ws-", "syncapi[bench")
"""Name prefixes of the threads a run starts (raw server and client, syncapi's)."""


def _params(size: int = SIZE) -> Params:
    return Params(messages=N, size=size)


# -- no server needed ------------------------------------------------------------------------
def test_ws_is_a_built_in_entry() -> None:
    assert "ws" in registry.entry_names()
    entry = registry.get_entry("ws")
    assert entry is bench_ws.ENTRY
    assert entry.baseline.name == "websocket-client + wsproto"
    (variant,) = entry.variants
    assert variant.goal == Goal(min_ratio=0.9)
    assert entry.url_env is None  # both ends start in-process
    assert entry.check is not None and entry.check() is None  # the test extra has them
    assert entry.default_messages == bench_ws.DEFAULT_MESSAGES


def test_the_counter_counts_sizes_and_stamps_the_last_expected_message() -> None:
    counter = bench_ws.Counter(3, 4)
    counter.add(b"abcd")
    counter.add(b"abc")
    assert counter.reached_at == 0.0
    before = time.perf_counter()
    counter.add(b"abcd")
    assert counter.reached_at >= before
    stamp = counter.reached_at
    counter.add(b"abcd")  # one too many: counted, the stamp stays the third's
    assert (counter.messages, counter.bytes, counter.wrong_size) == (4, 15, 1)
    assert counter.reached_at == stamp
    assert counter.seconds(stamp - 2.0) == pytest.approx(2.0)


def test_a_missing_end_marker_fails_the_job(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench_ws, "_deadline", lambda n: 0.05)
    counter = bench_ws.Counter(5, 1)
    counter.add(b"x")
    with pytest.raises(RuntimeError, match=r"the end marker did not come in time \(1 of 5"):
        counter.wait("job")
    counter.end()
    counter.wait("job")


def _measured(**changes: int) -> bench_ws.Measured:
    fields = {
        "received": 10,
        "received_bytes": 640,
        "received_wrong": 0,
        "back_received": 10,
        "back_bytes": 640,
        "back_wrong": 0,
    }
    fields.update(changes)
    return bench_ws.Measured(
        library="x", messages=10, size=64, seconds=1.0, back_seconds=0.5, **fields
    )


def test_right_counts_pass_and_make_the_sample() -> None:
    run = _measured()
    run.verify()
    sample = run.sample()
    assert (sample.messages, sample.seconds) == (10, 1.0)
    assert dict(sample.extra) == {bench_ws.EXTRA_BACK: 20.0}


@pytest.mark.parametrize(
    "wrong",
    [
        {"received": 9},
        {"received": 11},
        {"received_bytes": 639},
        {"received_wrong": 1},
        {"back_received": 9},
        {"back_bytes": 641},
        {"back_wrong": 2},
    ],
)
def test_wrong_counts_fail_the_run(wrong: dict[str, int]) -> None:
    with pytest.raises(RuntimeError, match="expected 10 messages of 640 bytes each way"):
        _measured(**wrong).verify()


# -- on in-process servers ----------------------------------------------------------------------
def _threads_left() -> list[str]:
    """Threads of a finished run still alive after a short grace."""
    deadline = time.monotonic() + 5.0
    while True:
        left = [t.name for t in threading.enumerate() if t.name.startswith(THREADS)]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


def _open_fds() -> int | None:
    """Open file descriptors of this process (``None`` where /proc does not tell)."""
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return None


@pytest.mark.parametrize("library", list(MEASURES))
def test_each_side_receives_exactly_the_messages_sent(library: str) -> None:
    """Counted by the receiver of each job, not assumed: ``N`` messages of ``SIZE``
    bytes each way; the run leaves no thread behind."""
    run = MEASURES[library](_params())
    assert run.library == library
    counts = (
        run.received,
        run.received_bytes,
        run.received_wrong,
        run.back_received,
        run.back_bytes,
        run.back_wrong,
    )
    assert counts == (N, N * SIZE, 0, N, N * SIZE, 0)
    assert run.seconds > 0 and run.back_seconds > 0
    run.verify()
    assert _threads_left() == []


@pytest.mark.parametrize("size", [0, 125, 70_000])
@pytest.mark.parametrize("library", list(MEASURES))
def test_other_sizes_are_counted_whole(library: str, size: int) -> None:
    """An empty message, the largest with a 7-bit length, and one that takes several
    reads (and a 64-bit length): each arrives as one message of its size."""
    run = MEASURES[library](_params(size))
    assert (run.received, run.received_bytes, run.received_wrong) == (N, N * size, 0)
    assert (run.back_received, run.back_bytes, run.back_wrong) == (N, N * size, 0)


@pytest.mark.parametrize("library", list(VARIANTS))
def test_rounds_leak_no_thread_and_no_socket(library: str) -> None:
    """Three runs in a row: every thread ends and every socket is closed after each."""
    VARIANTS[library](_params())  # the first run imports and caches what it needs
    assert _threads_left() == []
    before = _open_fds()
    for _ in range(3):
        VARIANTS[library](_params())
    assert _threads_left() == []
    if before is not None:
        deadline = time.monotonic() + 5.0
        while (after := _open_fds()) != before and time.monotonic() < deadline:
            time.sleep(0.05)
        assert after == before


@pytest.mark.parametrize("job", [0, 1], ids=["client->server", "server->client"])
@pytest.mark.parametrize("library", list(MEASURES))
def test_a_lost_message_fails_the_run(
    library: str, job: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The count is the receiver's, not the sender's: a job that skips one message gives
    a run that does not verify, and the variant raises (failing the benchmark)."""
    name = JOBS[library][job]
    real = getattr(bench_ws, name)

    def one_short(conn: object, payload: bytes, n: int) -> float:
        return float(real(conn, payload, n - 1))

    monkeypatch.setattr(bench_ws, name, one_short)
    counts = (
        f"the server counted {N - 1} messages of {(N - 1) * SIZE} bytes"
        if job == 0
        else f"the client {N - 1} of {(N - 1) * SIZE} bytes"
    )
    with pytest.raises(
        RuntimeError, match=rf"expected {N} messages of {N * SIZE} bytes each way"
    ) as caught:
        VARIANTS[library](_params())
    message = str(caught.value)
    assert counts in message, message
    assert _threads_left() == []


@pytest.mark.parametrize("job", [0, 1], ids=["client->server", "server->client"])
@pytest.mark.parametrize("library", list(MEASURES))
def test_a_message_of_the_wrong_size_fails_the_run(
    library: str, job: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One message a byte short and one a byte long: the count and the bytes in all are
    right, the sizes are not, and the run fails."""
    name = JOBS[library][job]
    real = getattr(bench_ws, name)

    def send_uneven(conn: Any, payload: bytes, n: int) -> float:
        send = conn.send_binary if hasattr(conn, "send_binary") else conn.send
        send(payload[:-1])
        send(payload + b"!")
        return float(real(conn, payload, n - 2))  # then the end marker

    monkeypatch.setattr(bench_ws, name, send_uneven)
    with pytest.raises(RuntimeError, match=r"\(2 of another size"):
        VARIANTS[library](_params())
    assert _threads_left() == []


def test_the_raw_server_assembles_fragmented_messages() -> None:
    """The baseline's reader counts a message sent in three frames as one message of
    its whole size (as syncapi's reader does)."""
    import websocket

    counter = bench_ws.Counter(2, 300)
    server = bench_ws.RawServer({"/bench": counter})
    try:
        ws = websocket.create_connection(server.url + "/bench", timeout=10)
        try:
            abnf = websocket.ABNF
            ws.send_frame(abnf.create_frame(b"a" * 100, abnf.OPCODE_BINARY, fin=0))
            ws.send_frame(abnf.create_frame(b"b" * 100, abnf.OPCODE_CONT, fin=0))
            ws.send_frame(abnf.create_frame(b"c" * 100, abnf.OPCODE_CONT, fin=1))
            ws.send_binary(b"d" * 300)
            ws.send(bench_ws.END)
            counter.wait("fragments")
        finally:
            ws.close()
    finally:
        server.stop()
    assert (counter.messages, counter.bytes, counter.wrong_size) == (2, 600, 0)
    assert counter.reached_at > 0


def test_suite_runs_with_tiny_sizes(monkeypatch: pytest.MonkeyPatch) -> None:
    """One round of ``N`` messages each way through the real runner: websocket-client +
    wsproto and syncapi, both jobs, in the table with a ratio each, and in the JSON
    (the figures themselves are not checked)."""
    monkeypatch.setattr(runner, "MIN_ROUNDS", 1)  # the harness wants 5 rounds; 1 does here
    lines: list[str] = []
    result = Benchmark(
        bench_ws.ENTRY, _params(), rounds=1, warmup_rounds=0, progress=lines.append
    ).run()

    assert result.order == ("websocket-client + wsproto", "syncapi ws://")
    assert len(lines) == 2
    (row,) = result.rows
    for side in (result.baseline, row.result):
        (sample,) = side.samples
        assert sample.messages == N
        assert set(side.extra) == {bench_ws.EXTRA_BACK}
        assert side.rate.median > 0 and side.extra[bench_ws.EXTRA_BACK].median > 0
    assert row.ratio == pytest.approx(row.result.rate.median / result.baseline.rate.median)
    assert row.goal == Goal(min_ratio=0.9) and row.met == (row.ratio >= 0.9)

    table = format_table(result)
    assert "baseline: websocket-client + wsproto" in table
    for case in ROWS:
        line = next(line for line in table.splitlines() if line.strip().startswith(case))
        numbers = re.findall(r"\d[\d,]*(?:\.\d+)?", line.split(case, 1)[1])
        assert len(numbers) >= 6, line  # syncapi median, min, max; the baseline's; the ratio
        assert re.search(r"\s\d+\.\d{3}x(\s|$)", line), line
    main_row = next(line for line in table.splitlines() if line.strip().startswith(ROWS[0]))
    assert re.search(r">= 0\.90x\s+(yes|NO)$", main_row), main_row

    data = json.loads(json.dumps(to_json(current_report([result])), allow_nan=False))
    (entry,) = data["results"]
    assert entry["entry"] == "ws"
    (json_row,) = entry["rows"]
    assert json_row["ratio"] > 0
    assert json_row["goal"] == {"min_ratio": 0.9, "max_ratio": None}
    for side in (entry["baseline"], json_row):
        assert side["rate"]["median"] > 0
        assert side["extra"][bench_ws.EXTRA_BACK]["median"] > 0
        assert side["extra"][bench_ws.EXTRA_BACK]["count"] == 1
        (sample,) = side["samples"]
        assert sample["messages"] == N
