"""The ``tcp`` benchmark entry (``syncapi/bench/tcp.py``).

Shape and honesty only, never speed: the entry is built-in; each job's receiver really
counts the messages it is sent and compares each with the payload (a short count, a
message of the wrong size or with other bytes, or a missing marker fails the run), in
this process (jobs 1-3) or in the peer process (job 4); the raw baseline's reader cuts
frames out of any split of the stream; the peer process does what it is told; a run
closes every socket, thread and process it opened; and a tiny round through the real
runner gives a table and JSON with syncapi's rates against raw sockets, a ratio per job.
The real benchmark is ``python -m syncapi.bench tcp`` (see ``docs/benchmarks.md``).
"""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Callable
from typing import Any

import pytest

from syncapi.bench import registry, runner
from syncapi.bench import tcp as bench_tcp
from syncapi.bench.model import Goal, Params
from syncapi.bench.report import format_table, to_json
from syncapi.bench.runner import Benchmark, current_report
from tests.helpers import child_pids, open_fds, threads_left

N = 40
"""Messages per job."""
SIZE = 1024
EXTRAS = {bench_tcp.EXTRA_BACK, bench_tcp.EXTRA_RECEIVE, bench_tcp.EXTRA_SEND}
"""Every extra figure of a sample: jobs 2, 3 and 4."""
ROWS = (bench_tcp.ENTRY.variants[0].metric, *sorted(EXTRAS))
"""The table's rows: client -> server (the main row), then the extra rows."""

MEASURES: dict[str, Callable[[Params], bench_tcp.Measured]] = {
    "raw socket": bench_tcp.measure_baseline,
    "syncapi": bench_tcp.measure_syncapi,
}
VARIANTS = {
    "raw socket": bench_tcp.run_baseline,
    "syncapi": bench_tcp.run_syncapi,
}
SENDS = {"raw socket": "raw_send", "syncapi": "syncapi_send"}
"""The name of each side's send loop, the same in every job this process sends in."""
SENT_HERE = (bench_tcp.FORTH, bench_tcp.BACK, bench_tcp.SEND)
"""The jobs this process sends in, in the order a run calls the send loop (job 3's
sender is the peer process)."""
SendLoop = Callable[[Any, bytes, int], float]
"""A send loop: ``(connection, payload, n)``, the time of its first send."""
RECEIVES: dict[str, Callable[[bench_tcp.PeerProcess, bytes, int], bench_tcp.Job]] = {
    "raw socket": bench_tcp.receive_raw,
    "syncapi": bench_tcp.receive_syncapi,
}
PEER_SENDS: dict[str, Callable[[bench_tcp.PeerProcess, bytes, int], bench_tcp.Job]] = {
    "raw socket": bench_tcp.send_raw,
    "syncapi": bench_tcp.send_syncapi,
}
THREADS = ("bench-tcp-", "syncapi-tcp-", "syncapi[bench")
"""Name prefixes of the threads a run starts (the raw readers, syncapi's)."""


def _params(size: int = SIZE) -> Params:
    return Params(messages=N, size=size)


def _patch_send(
    monkeypatch: pytest.MonkeyPatch,
    library: str,
    job: str,
    body: Callable[[SendLoop, Any, bytes, int], float],
) -> None:
    """Replace ``library``'s send loop in job ``job`` (one of :data:`SENT_HERE`) by
    ``body(real_loop, conn, payload, n)``; the other jobs keep the real loop."""
    name = SENDS[library]
    real = getattr(bench_tcp, name)
    jobs = iter(SENT_HERE)

    def send(conn: Any, payload: bytes, n: int) -> float:
        if next(jobs) == job:
            return body(real, conn, payload, n)
        return float(real(conn, payload, n))

    monkeypatch.setattr(bench_tcp, name, send)


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
    assert entry.url_env is None  # everything starts here (and one child process)
    assert entry.check is None  # the standard library only
    assert entry.default_messages == bench_tcp.DEFAULT_MESSAGES == 20_000
    assert bench_tcp.JOBS == (
        "client -> server",
        "server -> client",
        "receive (sender in another process)",
        "send (reader in another process)",
    )
    assert bench_tcp.EXTRA_BACK == "server -> client: msg/s"


def test_the_markers_are_never_a_payload() -> None:
    assert bench_tcp.START != bench_tcp.END
    for size in range(0, 300):
        payload = Params(messages=1, size=size).payload()
        assert payload not in (bench_tcp.END, bench_tcp.START)


def test_the_counter_compares_each_message_and_stamps_the_last_expected_one() -> None:
    lines: list[bytes] = []
    counter = bench_tcp.Counter(3, b"abcd", report=lines.append)
    counter.add(bench_tcp.START)
    assert counter.started.is_set() and lines == [b"started"]
    counter.add(b"abcd")
    counter.add(b"abc")  # too short
    counter.add(b"abce")  # the right size, other bytes
    assert counter.reached_at == 0.0
    counter.add(b"abcd")
    before = time.perf_counter()
    counter.add(b"abcd")
    assert counter.reached_at >= before
    assert lines == [b"started", b"reached"]
    stamp = counter.reached_at
    counter.add(b"abcd")  # one too many: counted, the stamp stays the third's
    assert (counter.messages, counter.bytes, counter.wrong) == (4, 23, 2)
    assert counter.reached_at == stamp
    assert not counter.ended.is_set()
    counter.add(bench_tcp.END)
    assert counter.ended.is_set()
    assert (counter.messages, counter.bytes) == (4, 23)  # the markers are not counted
    assert lines == [b"started", b"reached", b"end 4 23 2"]
    assert counter.seconds(stamp - 2.0) == pytest.approx(2.0)


def test_the_counter_reports_no_reached_when_a_message_is_missing() -> None:
    lines: list[bytes] = []
    counter = bench_tcp.Counter(3, b"x", report=lines.append)
    for data in (b"x", b"x", bench_tcp.END):
        counter.add(data)
    assert lines == [b"end 2 2 0"]
    assert counter.seconds(0.0) != counter.seconds(0.0)  # nan


def test_a_missing_marker_fails_the_job(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench_tcp, "_deadline", lambda n: 0.05)
    counter = bench_tcp.Counter(5, b"x")
    with pytest.raises(RuntimeError, match=r"the start marker did not come in time \(0 of 5"):
        counter.wait_started("job")
    counter.add(b"x")
    with pytest.raises(RuntimeError, match=r"the end marker did not come in time \(1 of 5"):
        counter.wait("job")
    counter.add(bench_tcp.START)
    counter.add(bench_tcp.END)
    counter.wait_started("job")
    counter.wait("job")


def _job(name: str, **changes: Any) -> bench_tcp.Job:
    fields: dict[str, Any] = {
        "name": name,
        "messages": 10,
        "size": 64,
        "seconds": 1.0,
        "received": 10,
        "received_bytes": 640,
        "wrong": 0,
    }
    fields.update(changes)
    return bench_tcp.Job(**fields)


def _measured(job: str = "", **changes: Any) -> bench_tcp.Measured:
    seconds = dict(zip(bench_tcp.JOBS, (1.0, 0.5, 0.25, 0.125), strict=True))
    jobs = [
        _job(name, **{"seconds": seconds[name], **(changes if name == job else {})})
        for name in bench_tcp.JOBS
    ]
    return bench_tcp.Measured("x", *jobs)


def test_right_counts_pass_and_make_the_sample() -> None:
    run = _measured()
    run.verify()
    assert [job.name for job in run.jobs] == list(bench_tcp.JOBS)
    sample = run.sample()
    assert (sample.messages, sample.seconds) == (10, 1.0)
    assert dict(sample.extra) == {
        bench_tcp.EXTRA_BACK: 20.0,
        bench_tcp.EXTRA_RECEIVE: 40.0,
        bench_tcp.EXTRA_SEND: 80.0,
    }


@pytest.mark.parametrize(
    "wrong",
    [
        {"received": 9},
        {"received": 11},
        {"received_bytes": 639},
        {"received_bytes": 641},
        {"wrong": 1},
    ],
)
@pytest.mark.parametrize("job", bench_tcp.JOBS)
def test_wrong_counts_in_any_job_fail_the_run(job: str, wrong: dict[str, int]) -> None:
    run = _measured(job, **wrong)
    with pytest.raises(RuntimeError) as caught:
        run.verify()
    message = str(caught.value)
    assert message.startswith(f"x: {job}: the receiver counted ")
    assert message.endswith("expected 10 messages of 640 bytes")
    assert message.count("expected") == 1  # only the job that is wrong


def test_a_job_without_a_time_fails_the_run() -> None:
    with pytest.raises(RuntimeError, match=r"send \(reader in another process\): no time"):
        _measured(bench_tcp.SEND, seconds=float("nan")).verify()


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
def _nothing_left(children: list[int] | None) -> None:
    """No thread of a run alive, and no child process besides ``children``."""
    assert threads_left(THREADS) == []
    if children is not None:
        assert child_pids() == children


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
    assert threads_left(THREADS) == []


def test_the_peer_process_sends_and_reads_as_told() -> None:
    """``send``: it connects, sends the start marker, waits for ``go``, then the
    messages and the end marker. ``listen``: it counts what it reads and reports. It
    ends at the end of its input."""
    payload, children = _params().payload(), child_pids()
    with bench_tcp.PeerProcess(SIZE, N) as peer:
        counter = bench_tcp.Counter(N, payload)
        with socket.create_server((bench_tcp.HOST, 0)) as listener:
            peer.send_to(listener.getsockname()[1], N)
            conn, _ = listener.accept()
        with conn:
            conn.settimeout(10.0)
            assert conn.recv(100) == _framed(bench_tcp.START)  # and nothing more before go
            with pytest.raises(TimeoutError):
                conn.settimeout(0.2)
                conn.recv(100)
            conn.settimeout(10.0)
            start = peer.go()
            bench_tcp.raw_read_loop(conn, counter.add)  # to the end: the peer closes
        peer.wait_sent()
        assert (counter.messages, counter.bytes, counter.wrong) == (N, N * SIZE, 0)
        assert counter.ended.is_set() and counter.reached_at > start

        port = peer.listen(N)
        with socket.create_connection((bench_tcp.HOST, port)) as sock:
            sock.sendall(_framed(bench_tcp.START))
            peer.wait_started()
            sock.sendall(_framed(*[payload] * N, payload[:-1], bench_tcp.END))
            job = peer.counted("test", payload, N, time.perf_counter())
        assert (job.received, job.received_bytes, job.wrong) == (N, N * SIZE + SIZE - 1, 1)
        assert job.seconds >= 0 and job.problem() is not None  # the extra one
        process = peer.process
    assert process.returncode == 0  # ended by the end of its input
    if children is not None:
        assert child_pids() == children


def test_a_peer_process_that_is_gone_fails_the_job() -> None:
    with bench_tcp.PeerProcess(SIZE, N) as peer:
        peer.process.kill()
        peer.process.wait()
        with pytest.raises(RuntimeError, match=r"the peer process is gone \(exit status -9\)"):
            bench_tcp.send_raw(peer, _params().payload(), N)


@pytest.mark.parametrize("library", list(MEASURES))
def test_each_side_receives_exactly_the_messages_sent(library: str) -> None:
    """Counted by the receiver of each job, not assumed: ``N`` messages equal to the
    payload in each of the four jobs; the run leaves no thread or process behind."""
    children = child_pids()
    run = MEASURES[library](_params())
    assert run.library == library
    for job in run.jobs:
        assert (job.messages, job.size) == (N, SIZE)
        assert (job.received, job.received_bytes, job.wrong) == (N, N * SIZE, 0), job.name
        assert job.seconds > 0, job.name
    assert [job.name for job in run.jobs] == list(bench_tcp.JOBS)
    run.verify()
    _nothing_left(children)


@pytest.mark.parametrize("size", [0, 3, 300_000])
@pytest.mark.parametrize("library", list(MEASURES))
def test_other_sizes_are_counted_whole(library: str, size: int) -> None:
    """An empty message, one shorter than the length prefix, and one that takes several
    reads: each arrives as one message equal to the payload, in every job."""
    run = MEASURES[library](_params(size))
    for job in run.jobs:
        assert (job.received, job.received_bytes, job.wrong) == (N, N * size, 0), job.name
    run.verify()


@pytest.mark.parametrize("library", list(VARIANTS))
def test_rounds_leak_no_thread_socket_or_process(library: str) -> None:
    """Three runs in a row: every thread, socket and peer process ends after each."""
    VARIANTS[library](_params())  # the first run imports and caches what it needs
    assert threads_left(THREADS) == []
    before, children = open_fds(), child_pids()
    for _ in range(3):
        VARIANTS[library](_params())
    _nothing_left(children)
    if before is not None:
        deadline = time.monotonic() + 5.0
        while (after := open_fds()) != before and time.monotonic() < deadline:
            time.sleep(0.05)
        assert after == before


def _counts(job: str, received: int, received_bytes: int, wrong: int) -> str:
    return (
        f"{job}: the receiver counted {received} messages of {received_bytes} bytes in all "
        f"({wrong} not the payload sent); expected {N} messages of {N * SIZE} bytes"
    )


@pytest.mark.parametrize("job", bench_tcp.JOBS)
@pytest.mark.parametrize("library", list(MEASURES))
def test_a_lost_message_fails_the_run(
    library: str, job: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The count is the receiver's, not the sender's: a job that skips one message gives
    a run that does not verify, and the variant raises (failing the benchmark); the
    other jobs stay right. Job 3's sender, the peer process, is asked for one less."""
    if job == bench_tcp.RECEIVE:
        real_send_to = bench_tcp.PeerProcess.send_to

        def ask_one_less(peer: bench_tcp.PeerProcess, port: int, n: int) -> None:
            real_send_to(peer, port, n - 1)

        monkeypatch.setattr(bench_tcp.PeerProcess, "send_to", ask_one_less)
    else:
        _patch_send(
            monkeypatch, library, job, lambda real, conn, payload, n: real(conn, payload, n - 1)
        )
    children = child_pids()
    with pytest.raises(RuntimeError) as caught:
        VARIANTS[library](_params())
    message = str(caught.value)
    assert message == f"{library}: {_counts(job, N - 1, (N - 1) * SIZE, 0)}"
    _nothing_left(children)


def _send_one(conn: Any, data: bytes) -> None:
    """Send one message on either side's connection (a raw socket frames it itself)."""
    if isinstance(conn, socket.socket):
        conn.sendall(_framed(data))
    else:
        conn.send(data)


@pytest.mark.parametrize("job", SENT_HERE)
@pytest.mark.parametrize("library", list(MEASURES))
def test_a_damaged_message_fails_the_run(
    library: str, job: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One message a byte short, one a byte long and one of the right size with a byte
    changed, in the jobs this process sends (job 4 counted by the peer process): the run
    fails, with the three counted as not the payload."""

    def send_damaged(real: SendLoop, conn: Any, payload: bytes, n: int) -> float:
        _send_one(conn, payload[:-1])
        _send_one(conn, payload + b"!")
        _send_one(conn, payload[:-1] + bytes([payload[-1] ^ 1]))
        return float(real(conn, payload, n - 3))  # then the end marker

    _patch_send(monkeypatch, library, job, send_damaged)
    children = child_pids()
    with pytest.raises(RuntimeError) as caught:
        VARIANTS[library](_params())
    assert str(caught.value) == f"{library}: {_counts(job, N - 3, N * SIZE, 3)}"
    _nothing_left(children)


@pytest.mark.parametrize("delta", [-1, 1])
@pytest.mark.parametrize("job", [RECEIVES, PEER_SENDS], ids=["receive", "send"])
@pytest.mark.parametrize("library", list(MEASURES))
def test_the_other_process_jobs_compare_each_message(
    library: str, job: dict[str, Any], delta: int
) -> None:
    """A peer process whose payload is a byte shorter or longer than this process's:
    every message is counted as not the payload, whichever side receives it (job 3:
    this process; job 4: the peer)."""
    payload, children = _params().payload(), child_pids()
    with bench_tcp.PeerProcess(SIZE + delta, N) as peer:
        result = job[library](peer, payload, N)
    assert (result.received, result.wrong) == (0, N)
    sent = SIZE + delta if job is RECEIVES else SIZE  # the sender's payload size
    assert result.received_bytes == N * sent
    assert result.problem() is not None
    _nothing_left(children)


@pytest.mark.parametrize("library", list(PEER_SENDS))
def test_a_peer_that_never_gets_the_end_marker_fails_in_time(
    library: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Job 4 without its end marker: the peer process never reports its counts, the job
    fails when the wait runs out, and the peer process still ends."""
    payload = _params().payload()
    name = SENDS[library]  # job 4 alone sends here

    def without_end(conn: Any, payload: bytes, n: int) -> float:
        start = time.perf_counter()
        for _ in range(n):
            _send_one(conn, payload)
        return start

    monkeypatch.setattr(bench_tcp, name, without_end)
    children = child_pids()
    with bench_tcp.PeerProcess(SIZE, N) as peer:
        peer.timeout = 0.5  # the waits from here on
        with pytest.raises(RuntimeError, match=r"did not say 'end' in time"):
            PEER_SENDS[library](peer, payload, N)
    _nothing_left(children)


def test_suite_runs_with_tiny_sizes(monkeypatch: pytest.MonkeyPatch) -> None:
    """One round of ``N`` messages per job through the real runner: raw sockets and
    syncapi, four jobs, in the table with a ratio each, and in the JSON (the figures
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
        assert set(side.extra) == EXTRAS
        assert side.rate.median > 0 and all(s.median > 0 for s in side.extra.values())
    assert row.ratio == pytest.approx(row.result.rate.median / result.baseline.rate.median)
    assert row.goal == Goal(min_ratio=0.9) and row.met == (row.ratio >= 0.9)

    table = format_table(result)
    assert "baseline: raw socket" in table
    rows = [line.strip() for line in table.splitlines()[-len(ROWS) :]]
    assert [next(case for case in ROWS if line.startswith(case)) for line in rows] == list(ROWS)
    for case, line in zip(ROWS, rows, strict=True):
        numbers = re.findall(r"\d[\d,]*(?:\.\d+)?", line.split(case, 1)[1])
        assert len(numbers) >= 6, line  # syncapi median, min, max; the baseline's; the ratio
        assert re.search(r"\s\d+\.\d{3}x(\s|$)", line), line
    assert re.search(r">= 0\.90x\s+(yes|NO)$", rows[0]), rows[0]

    data = json.loads(json.dumps(to_json(current_report([result])), allow_nan=False))
    (entry,) = data["results"]
    assert entry["entry"] == "tcp"
    (json_row,) = entry["rows"]
    assert json_row["ratio"] > 0
    assert json_row["goal"] == {"min_ratio": 0.9, "max_ratio": None}
    for side in (entry["baseline"], json_row):
        assert side["rate"]["median"] > 0
        for key in EXTRAS:
            assert side["extra"][key]["median"] > 0
            assert side["extra"][key]["count"] == 1
        (sample,) = side["samples"]
        assert sample["messages"] == N
