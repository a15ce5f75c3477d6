"""The ``tcp`` benchmark entry (``syncapi/bench/tcp.py``).

Shape and honesty only, never speed: the entry is built-in; each job's receiver really
counts the messages it is sent and compares each with the payload (a short count, a
message of the wrong size or with other bytes, or a missing end marker fails the run);
the raw baseline's reader cuts frames out of any split of the stream; a run closes
everything it opened; and a tiny round through the real runner gives a table and JSON
with syncapi's rates against raw sockets, a ratio each way. Both ends run in this
process. The real benchmark is ``python -m syncapi.bench tcp`` (see
``docs/benchmarks.md``).
"""

from __future__ import annotations

import json
import os
import re
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from syncapi.bench import registry, runner
from syncapi.bench import tcp as bench_tcp
from syncapi.bench.model import Goal, Params
from syncapi.bench.report import format_table, to_json
from syncapi.bench.runner import Benchmark, current_report

N = 40
"""Messages per job."""
SIZE = 1024
ROWS = (bench_tcp.ENTRY.variants[0].metric, bench_tcp.EXTRA_BACK)
"""The table's rows: client -> server (the main row), then server -> client."""

MEASURES: dict[str, Callable[[Params], bench_tcp.Measured]] = {
    "raw socket": bench_tcp.measure_baseline,
    "syncapi": bench_tcp.measure_syncapi,
}
VARIANTS = {
    "raw socket": bench_tcp.run_baseline,
    "syncapi": bench_tcp.run_syncapi,
}
JOBS = {
    "raw socket": ("raw_client_send", "raw_server_send"),
    "syncapi": ("syncapi_client_send", "syncapi_server_send"),
}
"""The names of each side's two job functions: client -> server, server -> client."""
THREADS = ("bench-tcp-", "syncapi-tcp-", "syncapi[bench")
"""Name prefixes of the threads a run starts (the raw readers, syncapi's)."""


def _params(size: int = SIZE) -> Params:
    return Params(messages=N, size=size)


def _framed(*messages: bytes) -> bytes:
    return b"".join(bench_tcp.PREFIX.pack(len(m)) + m for m in messages)


# -- no socket needed -------------------------------------------------------------------------
def test_tcp_is_a_built_in_entry() -> None:
    assert "tcp" in registry.entry_names()
    entry = registry.get_entry("tcp")
    assert entry is bench_tcp.ENTRY
    assert entry.baseline.name == "raw socket"
    (variant,) = entry.variants
    assert variant.goal == Goal(min_ratio=0.9)
    assert entry.url_env is None  # both ends start in-process
    assert entry.check is None  # the standard library only
    assert entry.default_messages == bench_tcp.DEFAULT_MESSAGES == 20_000


def test_the_end_marker_is_never_a_payload() -> None:
    for size in range(0, 300):
        assert Params(messages=1, size=size).payload() != bench_tcp.END


def test_the_counter_compares_each_message_and_stamps_the_last_expected_one() -> None:
    counter = bench_tcp.Counter(3, b"abcd")
    counter.add(b"abcd")
    counter.add(b"abc")  # too short
    counter.add(b"abce")  # the right size, other bytes
    assert counter.reached_at == 0.0
    counter.add(b"abcd")
    before = time.perf_counter()
    counter.add(b"abcd")
    assert counter.reached_at >= before
    stamp = counter.reached_at
    counter.add(b"abcd")  # one too many: counted, the stamp stays the third's
    assert (counter.messages, counter.bytes, counter.wrong) == (4, 23, 2)
    assert counter.reached_at == stamp
    assert not counter.ended.is_set()
    counter.add(bench_tcp.END)
    assert counter.ended.is_set()
    assert (counter.messages, counter.bytes) == (4, 23)  # the marker is not counted
    assert counter.seconds(stamp - 2.0) == pytest.approx(2.0)


def test_a_missing_end_marker_fails_the_job(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench_tcp, "_deadline", lambda n: 0.05)
    counter = bench_tcp.Counter(5, b"x")
    counter.add(b"x")
    with pytest.raises(RuntimeError, match=r"the end marker did not come in time \(1 of 5"):
        counter.wait("job")
    counter.add(bench_tcp.END)
    counter.wait("job")


def _measured(**changes: int) -> bench_tcp.Measured:
    fields = {
        "received": 10,
        "received_bytes": 640,
        "received_wrong": 0,
        "back_received": 10,
        "back_bytes": 640,
        "back_wrong": 0,
    }
    fields.update(changes)
    return bench_tcp.Measured(
        library="x", messages=10, size=64, seconds=1.0, back_seconds=0.5, **fields
    )


def test_right_counts_pass_and_make_the_sample() -> None:
    run = _measured()
    run.verify()
    sample = run.sample()
    assert (sample.messages, sample.seconds) == (10, 1.0)
    assert dict(sample.extra) == {bench_tcp.EXTRA_BACK: 20.0}


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


class _Chunks:
    """A socket stand-in whose ``recv`` returns the given chunks, then the end."""

    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = list(chunks)

    def recv(self, size: int) -> bytes:
        return self._chunks.pop(0) if self._chunks else b""


@pytest.mark.parametrize("step", [1, 3, 4, 5, 1000, bench_tcp.READ_SIZE])
def test_the_raw_reader_cuts_frames_out_of_any_split(step: int) -> None:
    """Frames split anywhere (inside the prefix, inside a message, several per chunk)
    come out whole, in order; a long frame gathered in chunks too. The first 20,000
    bytes come in chunks of ``step`` bytes, the rest in reads of ``READ_SIZE``."""
    big = bytes(range(256)) * 3000  # 768,000 bytes: over twice READ_SIZE
    messages = [b"", b"a", b"bc" * 500, b"d" * 7, big[:70_000], big, b"e"]
    stream = _framed(*messages)
    head, read = 20_000, bench_tcp.READ_SIZE
    chunks = [stream[i : min(i + step, head)] for i in range(0, head, step)]
    chunks += [stream[i : i + read] for i in range(head, len(stream), read)]
    assert b"".join(chunks) == stream
    got: list[bytes] = []
    bench_tcp.raw_read_loop(_Chunks(chunks), got.append)  # type: ignore[arg-type]
    assert got == messages


# -- on real sockets ----------------------------------------------------------------------------
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


def test_the_raw_pair_is_connected_both_ways_with_nodelay() -> None:
    pair = bench_tcp.RawPair("test")
    try:
        for sock in (pair.client, pair.server):
            assert sock.gettimeout() is None
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        assert pair.client.getpeername() == pair.server.getsockname()
        counter = bench_tcp.Counter(2, b"xyz")
        pair.read(pair.server, counter)
        pair.client.sendall(_framed(b"xyz", b"xyz", bench_tcp.END))
        counter.wait("pair")
        assert (counter.messages, counter.wrong) == (2, 0)
    finally:
        pair.close()
    assert pair.errors == []
    assert _threads_left() == []


@pytest.mark.parametrize("library", list(MEASURES))
def test_each_side_receives_exactly_the_messages_sent(library: str) -> None:
    """Counted by the receiver of each job, not assumed: ``N`` messages equal to the
    payload each way; the run leaves no thread behind."""
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


@pytest.mark.parametrize("size", [0, 3, 300_000])
@pytest.mark.parametrize("library", list(MEASURES))
def test_other_sizes_are_counted_whole(library: str, size: int) -> None:
    """An empty message, one shorter than the length prefix, and one that takes several
    reads: each arrives as one message equal to the payload."""
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
    real = getattr(bench_tcp, name)

    def one_short(conn: object, payload: bytes, n: int) -> float:
        return float(real(conn, payload, n - 1))

    monkeypatch.setattr(bench_tcp, name, one_short)
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


def _send_one(conn: Any, data: bytes) -> None:
    """Send one message on either side's connection (a raw socket frames it itself)."""
    if isinstance(conn, socket.socket):
        conn.sendall(_framed(data))
    else:
        conn.send(data)


@pytest.mark.parametrize("job", [0, 1], ids=["client->server", "server->client"])
@pytest.mark.parametrize("library", list(MEASURES))
def test_a_damaged_message_fails_the_run(
    library: str, job: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One message a byte short, one a byte long and one of the right size with a byte
    changed: the run fails, with the three counted as not the payload."""
    name = JOBS[library][job]
    real = getattr(bench_tcp, name)

    def send_damaged(conn: Any, payload: bytes, n: int) -> float:
        _send_one(conn, payload[:-1])
        _send_one(conn, payload + b"!")
        _send_one(conn, payload[:-1] + bytes([payload[-1] ^ 1]))
        return float(real(conn, payload, n - 3))  # then the end marker

    monkeypatch.setattr(bench_tcp, name, send_damaged)
    with pytest.raises(RuntimeError, match=r"\(3 not the payload"):
        VARIANTS[library](_params())
    assert _threads_left() == []


def test_suite_runs_with_tiny_sizes(monkeypatch: pytest.MonkeyPatch) -> None:
    """One round of ``N`` messages each way through the real runner: raw sockets and
    syncapi, both jobs, in the table with a ratio each, and in the JSON (the figures
    themselves are not checked)."""
    monkeypatch.setattr(runner, "MIN_ROUNDS", 1)  # the harness wants 5 rounds; 1 does here
    lines: list[str] = []
    result = Benchmark(
        bench_tcp.ENTRY, _params(), rounds=1, warmup_rounds=0, progress=lines.append
    ).run()

    assert result.order == ("raw socket", "syncapi tcp://")
    assert len(lines) == 2
    (row,) = result.rows
    for side in (result.baseline, row.result):
        (sample,) = side.samples
        assert sample.messages == N
        assert set(side.extra) == {bench_tcp.EXTRA_BACK}
        assert side.rate.median > 0 and side.extra[bench_tcp.EXTRA_BACK].median > 0
    assert row.ratio == pytest.approx(row.result.rate.median / result.baseline.rate.median)
    assert row.goal == Goal(min_ratio=0.9) and row.met == (row.ratio >= 0.9)

    table = format_table(result)
    assert "baseline: raw socket" in table
    for case in ROWS:
        line = next(line for line in table.splitlines() if line.strip().startswith(case))
        numbers = re.findall(r"\d[\d,]*(?:\.\d+)?", line.split(case, 1)[1])
        assert len(numbers) >= 6, line  # syncapi median, min, max; the baseline's; the ratio
        assert re.search(r"\s\d+\.\d{3}x(\s|$)", line), line
    main_row = next(line for line in table.splitlines() if line.strip().startswith(ROWS[0]))
    assert re.search(r">= 0\.90x\s+(yes|NO)$", main_row), main_row

    data = json.loads(json.dumps(to_json(current_report([result])), allow_nan=False))
    (entry,) = data["results"]
    assert entry["entry"] == "tcp"
    (json_row,) = entry["rows"]
    assert json_row["ratio"] > 0
    assert json_row["goal"] == {"min_ratio": 0.9, "max_ratio": None}
    for side in (entry["baseline"], json_row):
        assert side["rate"]["median"] > 0
        assert side["extra"][bench_tcp.EXTRA_BACK]["median"] > 0
        assert side["extra"][bench_tcp.EXTRA_BACK]["count"] == 1
        (sample,) = side["samples"]
        assert sample["messages"] == N
