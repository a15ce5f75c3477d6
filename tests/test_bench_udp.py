"""The ``udp`` benchmark entry (``syncapi/bench/udp.py``).

Shape and honesty only, never speed: the entry is built-in; both sides' receivers get
syncapi's default receive buffer; each job's receiver really counts the datagrams it is
sent and compares each with the payload (a datagram of the wrong size or with other
bytes, more datagrams than were sent, none at all, or a marker that does not come fails
the run), while loss is reported and does not; the sender process does what it is told;
a drain burst fits the buffer; a run closes every socket, thread and process it opened;
and a tiny round through the real runner gives a table and JSON with syncapi's rates
against the raw loop, a ratio per job. The real benchmark is
``python -m syncapi.bench udp`` (see ``docs/benchmarks.md``).
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from syncapi import udp
from syncapi.bench import registry, runner
from syncapi.bench import udp as bench_udp
from syncapi.bench.model import Goal, Params
from syncapi.bench.report import format_table, to_json
from syncapi.bench.runner import Benchmark, current_report
from tests.helpers import child_pids, open_fds, threads_left

N = 40
"""Datagrams per job (none is lost at this count: the buffer holds thousands)."""
SIZE = 1024
EXTRAS = {
    bench_udp.EXTRA_STREAM,
    bench_udp.EXTRA_DRAIN,
    *bench_udp.EXTRA_DELIVERED.values(),
}
"""Every extra figure of a sample."""

MEASURES: dict[str, Callable[[Params], bench_udp.Measured]] = {
    "raw socket": bench_udp.measure_baseline,
    "syncapi": bench_udp.measure_syncapi,
}
VARIANTS = {
    "raw socket": bench_udp.run_baseline,
    "syncapi": bench_udp.run_syncapi,
}
RECEIVERS: dict[str, Callable[[], bench_udp.Receiver]] = {
    "raw socket": lambda: bench_udp.RawReceiver("test"),
    "syncapi": bench_udp.SyncapiReceiver,
}
SENDS = {"raw socket": "raw_send", "syncapi": "syncapi_send"}
"""The name of each side's job-1 send loop (replaced to lose or damage datagrams)."""
THREADS = ("bench-udp-", "syncapi-udp-", "syncapi[bench")
"""Name prefixes of the threads a run starts (the raw loops, syncapi's)."""


def _params(size: int = SIZE) -> Params:
    return Params(messages=N, size=size)


def _patch_send(
    monkeypatch: pytest.MonkeyPatch,
    library: str,
    body: Callable[[Callable[[bytes], None], Callable[[int], float], bytes, int], float],
) -> None:
    """Replace ``library``'s job-1 send loop by ``body(send_one, real_loop, payload, n)``."""
    name = SENDS[library]
    real = getattr(bench_udp, name)

    if library == "raw socket":

        def raw(sock: socket.socket, addr: tuple[str, int], payload: bytes, n: int) -> float:
            return body(
                lambda data: sock.sendto(data, addr),
                lambda k: float(real(sock, addr, payload, k)),
                payload,
                n,
            )

        monkeypatch.setattr(bench_udp, name, raw)
    else:

        def syncapi(publisher: Any, payload: bytes, n: int) -> float:
            return body(publisher.send, lambda k: float(real(publisher, payload, k)), payload, n)

        monkeypatch.setattr(bench_udp, name, syncapi)


# -- no socket needed -------------------------------------------------------------------------
def test_udp_is_a_built_in_entry() -> None:
    assert "udp" in registry.entry_names()
    entry = registry.get_entry("udp")
    assert entry is bench_udp.ENTRY
    assert entry.baseline.name == "raw socket"
    (variant,) = entry.variants
    assert variant.goal == Goal(min_ratio=0.9)
    assert entry.url_env is None  # everything starts in-process (and one child process)
    assert entry.check is None  # the standard library only
    assert entry.default_messages == bench_udp.DEFAULT_MESSAGES == 20_000


def test_both_sides_ask_for_syncapis_default_receive_buffer() -> None:
    assert bench_udp.RCVBUF == udp.ConsumerOptions().rcvbuf == 4 * 1024 * 1024
    assert bench_udp.BUFSIZE > udp.MAX_DATAGRAM_IPV6


def test_markers_are_never_a_payload() -> None:
    for size in range(0, 300):
        payload = Params(messages=1, size=size).payload()
        assert not payload.startswith(bench_udp.MARK)


def test_the_counter_compares_each_datagram_and_takes_markers_once() -> None:
    counter = bench_udp.Counter(b"abcd", 10)
    counter.add(b"abcd")
    counter.add(b"abc")  # too short
    counter.add(b"abcde")  # too long
    counter.add(b"abce")  # the right size, other bytes
    assert counter.last_at > 0.0
    stamp = counter.last_at
    counter.add(b"abcd")
    assert counter.last_at >= stamp
    assert (counter.received, counter.wrong) == (2, 3)
    assert not counter.wait_mark(b"end", 0.0)
    counter.add(bench_udp.MARK + b"end")
    counter.add(bench_udp.MARK + b"end")  # a repeat: ignored
    assert counter.wait_mark(b"end", 0.0)
    assert counter.marks == {b"end"}
    assert (counter.received, counter.wrong) == (2, 3)  # markers are not counted
    assert counter.seconds(counter.last_at - 2.0) == pytest.approx(2.0)
    assert bench_udp.Counter(b"x", 1).seconds(0.0) != bench_udp.Counter(b"x", 1).seconds(0.0)


def test_a_pause_marker_blocks_the_receiver_until_released() -> None:
    counter = bench_udp.Counter(b"x", 10)
    counter.add(bench_udp.MARK + b"pause-0")  # no hold(): goes through
    counter.hold()
    thread = threading.Thread(target=counter.add, args=(bench_udp.MARK + b"pause-1",))
    thread.start()
    assert counter.wait_mark(b"pause-1", 5.0)
    thread.join(0.1)
    assert thread.is_alive()  # blocked inside add(), as a receiving thread would be
    counter.release()
    thread.join(5.0)
    assert not thread.is_alive()
    counter.release()  # nothing held: no-op


def test_a_marker_that_never_comes_fails_the_job(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench_udp, "_deadline", lambda n: 0.05)
    counter = bench_udp.Counter(b"x", 5)
    sent: list[bytes] = []
    with pytest.raises(RuntimeError, match=r"job: the marker 'end' did not come in time \(0 of 5"):
        bench_udp.repeat_marker(sent.append, counter, b"end", "job")
    assert len(sent) > 1 and set(sent) == {bench_udp.MARK + b"end"}  # sent again and again


def _job(**changes: Any) -> bench_udp.Job:
    fields: dict[str, Any] = {"name": "j", "sent": 10, "received": 10, "wrong": 0, "seconds": 0.5}
    fields.update(changes)
    return bench_udp.Job(**fields)


def test_loss_is_reported_not_a_problem() -> None:
    assert _job().problem() is None
    lossy = _job(received=9)
    assert lossy.problem() is None
    assert lossy.delivered == pytest.approx(90.0)
    assert lossy.rate == pytest.approx(18.0)


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"wrong": 1}, "1 datagrams not the payload"),
        ({"wrong": 2, "received": 8}, "2 datagrams not the payload"),
        ({"received": 11}, "11 datagrams counted, more than the 10 sent"),
        ({"received": 0, "seconds": float("nan")}, "none of the 10 datagrams arrived"),
    ],
)
def test_corruption_duplicates_and_silence_are_problems(
    changes: dict[str, Any], problem: str
) -> None:
    assert _job(**changes).problem() == problem


def _measured(**jobs: bench_udp.Job) -> bench_udp.Measured:
    fields = {
        "in_process": _job(name=bench_udp.IN_PROCESS, received=9, seconds=0.25),
        "stream": _job(name=bench_udp.STREAM, seconds=0.1),
        "drain": _job(name=bench_udp.DRAIN, received=5, seconds=0.01),
    }
    fields.update(jobs)
    return bench_udp.Measured(library="x", size=64, rcvbuf=8, **fields)


def test_right_counts_pass_and_make_the_sample() -> None:
    run = _measured()
    run.verify()
    sample = run.sample()
    assert (sample.messages, sample.seconds) == (9, 0.25)  # the datagrams received
    assert dict(sample.extra) == {
        bench_udp.EXTRA_STREAM: pytest.approx(100.0),
        bench_udp.EXTRA_DRAIN: pytest.approx(500.0),
        bench_udp.EXTRA_DELIVERED[bench_udp.IN_PROCESS]: pytest.approx(90.0),
        bench_udp.EXTRA_DELIVERED[bench_udp.STREAM]: pytest.approx(100.0),
        bench_udp.EXTRA_DELIVERED[bench_udp.DRAIN]: pytest.approx(50.0),
    }


@pytest.mark.parametrize(
    ("job", "name"),
    [
        ("in_process", bench_udp.IN_PROCESS),
        ("stream", bench_udp.STREAM),
        ("drain", bench_udp.DRAIN),
    ],
)
def test_a_problem_in_any_job_fails_the_run(job: str, name: str) -> None:
    run = _measured(**{job: _job(name=name, wrong=1)})
    with pytest.raises(RuntimeError, match=rf"x: {name}: 1 datagrams not the payload \("):
        run.verify()


def test_a_burst_is_well_under_the_buffer() -> None:
    assert bench_udp.burst_size(8 * 1024 * 1024, 1024) == 2048
    assert bench_udp.burst_size(1000, 65_507) == 1


# -- on real sockets ----------------------------------------------------------------------------
@pytest.mark.parametrize("size", [0, 1024, 65_507])
def test_a_burst_fits_the_receive_buffer(size: int) -> None:
    """What :func:`burst_size` sends to a socket nobody reads all waits there."""
    receiver = bench_udp.RawReceiver("test")
    try:
        count = bench_udp.burst_size(receiver.rcvbuf, size)
        payload = Params(messages=1, size=size).payload()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for _ in range(count):
                sock.sendto(payload, receiver.address)
        receiver.sock.setblocking(False)
        got = 0
        while True:
            try:
                data = receiver.sock.recv(bench_udp.BUFSIZE)
            except BlockingIOError:
                break
            assert data == payload
            got += 1
        assert got == count
    finally:
        receiver.close()


def test_both_receivers_get_the_same_receive_buffer() -> None:
    raw, syncapi = bench_udp.RawReceiver("test"), bench_udp.SyncapiReceiver()
    try:
        assert raw.rcvbuf == syncapi.rcvbuf >= bench_udp.RCVBUF
        assert raw.sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) == raw.rcvbuf
        assert raw.address[0] == syncapi.address[0] == bench_udp.HOST
    finally:
        raw.close()
        syncapi.close()


def test_the_sender_process_sends_and_marks_as_told() -> None:
    payload = Params(messages=1, size=100).payload()
    counter = bench_udp.Counter(payload, 50)
    receiver = bench_udp.RawReceiver("test")
    try:
        receiver.start(counter)
        with bench_udp.SenderProcess(100, 50) as sender:
            sender.mark(receiver.address[1], counter, b"start", "test")
            sender.send(receiver.address[1], 50)
            sender.wait_sent()
            sender.mark(receiver.address[1], counter, b"end", "test")
            process = sender.process
        assert process.returncode == 0  # ended by the end of its input
    finally:
        receiver.close()
    assert (counter.received, counter.wrong) == (50, 0)
    assert counter.marks == {b"start", b"end"}


@pytest.mark.parametrize("library", list(MEASURES))
def test_each_side_counts_every_datagram_of_every_job(library: str) -> None:
    """Counted by each job's receiver, not assumed: ``N`` datagrams equal to the payload
    per job, none other; the run leaves no thread behind."""
    run = MEASURES[library](_params())
    assert run.library == library
    assert run.rcvbuf >= bench_udp.RCVBUF
    assert [job.name for job in run.jobs] == list(bench_udp.JOBS)
    for job in run.jobs:
        assert (job.sent, job.received, job.wrong) == (N, N, 0), job
        assert job.seconds > 0 and job.delivered == 100.0
    run.verify()
    assert threads_left(THREADS) == []


@pytest.mark.parametrize("size", [0, 65_507])
@pytest.mark.parametrize("library", list(MEASURES))
def test_other_sizes_are_counted_whole(library: str, size: int) -> None:
    """An empty datagram and the largest one: each arrives as one datagram equal to the
    payload, in every job."""
    run = MEASURES[library](_params(size))
    for job in run.jobs:
        assert (job.received, job.wrong) == (N, 0), job


@pytest.mark.parametrize("library", list(VARIANTS))
def test_rounds_leak_no_thread_socket_or_process(library: str) -> None:
    """Three runs in a row: every thread, socket and sender process ends after each."""
    VARIANTS[library](_params())  # the first run imports and caches what it needs
    assert threads_left(THREADS) == []
    before, children = open_fds(), child_pids()
    for _ in range(3):
        VARIANTS[library](_params())
    assert threads_left(THREADS) == []
    assert child_pids() == children
    if before is not None:
        deadline = time.monotonic() + 5.0
        while (after := open_fds()) != before and time.monotonic() < deadline:
            time.sleep(0.05)
        assert after == before


@pytest.mark.parametrize("library", list(VARIANTS))
def test_lost_datagrams_are_reported_and_do_not_fail_the_run(
    library: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The count is the receiver's, not the sender's: job 1 sending 4 datagrams fewer
    than it claims shows 90 % delivered, and the run still passes."""
    _patch_send(monkeypatch, library, lambda one, loop, payload, n: loop(n - 4))
    sample = VARIANTS[library](_params())
    assert sample.messages == N - 4
    assert sample.extra[bench_udp.EXTRA_DELIVERED[bench_udp.IN_PROCESS]] == pytest.approx(90.0)
    assert sample.extra[bench_udp.EXTRA_DELIVERED[bench_udp.STREAM]] == 100.0
    assert threads_left(THREADS) == []


@pytest.mark.parametrize("library", list(VARIANTS))
def test_a_damaged_datagram_fails_the_run(library: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """One datagram a byte short, one a byte long and one of the right size with a byte
    changed: the run fails, with the three counted as not the payload."""

    def damaged(one: Callable[[bytes], None], loop: Any, payload: bytes, n: int) -> float:
        one(payload[:-1])
        one(payload + b"!")
        one(payload[:-1] + bytes([payload[-1] ^ 1]))
        return float(loop(n - 3))

    _patch_send(monkeypatch, library, damaged)
    with pytest.raises(RuntimeError, match=r"in-process: 3 datagrams not the payload \("):
        VARIANTS[library](_params())
    assert threads_left(THREADS) == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (lambda one, loop, payload, n: [loop(n), loop(1)][0], rf"{N + 1} datagrams counted"),
        (lambda one, loop, payload, n: time.perf_counter(), rf"none of the {N} datagrams"),
    ],
    ids=["duplicate", "nothing"],
)
@pytest.mark.parametrize("library", list(VARIANTS))
def test_a_datagram_too_many_or_none_at_all_fails_the_run(
    library: str, body: Any, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _patch_send(monkeypatch, library, body)
    with pytest.raises(RuntimeError, match=message):
        VARIANTS[library](_params())
    assert threads_left(THREADS) == []


@pytest.mark.parametrize("job", [bench_udp.job_stream, bench_udp.job_drain])
@pytest.mark.parametrize("library", list(RECEIVERS))
def test_the_other_process_jobs_compare_each_datagram(library: str, job: Any) -> None:
    """A sender process whose payload is one byte longer: every datagram is counted as
    not the payload, by either receiver, in either job."""
    payload = _params().payload()
    with bench_udp.SenderProcess(SIZE + 1, N) as sender:
        result = job(RECEIVERS[library](), sender, payload, N)
    assert (result.received, result.wrong) == (0, N)
    assert result.problem() == f"{N} datagrams not the payload"
    assert threads_left(THREADS) == []


def test_suite_runs_with_tiny_sizes(monkeypatch: pytest.MonkeyPatch) -> None:
    """One round of ``N`` datagrams per job through the real runner: raw loop and
    syncapi, in the table with a ratio per job, and in the JSON (the figures themselves
    are not checked)."""
    monkeypatch.setattr(runner, "MIN_ROUNDS", 1)  # the harness wants 5 rounds; 1 does here
    lines: list[str] = []
    result = Benchmark(
        bench_udp.ENTRY, _params(), rounds=1, warmup_rounds=0, progress=lines.append
    ).run()

    assert result.order == ("raw socket", "syncapi udp://")
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
    for case in (bench_udp.ENTRY.variants[0].metric, *EXTRAS):
        line = next(line for line in table.splitlines() if line.strip().startswith(case))
        numbers = re.findall(r"\d[\d,]*(?:\.\d+)?", line.split(case, 1)[1])
        assert len(numbers) >= 6, line  # syncapi median, min, max; the baseline's; the ratio
        assert re.search(r"\s\d+\.\d{3}x(\s|$)", line), line
    main_row = next(
        line
        for line in table.splitlines()
        if line.strip().startswith(bench_udp.ENTRY.variants[0].metric)
    )
    assert re.search(r">= 0\.90x\s+(yes|NO)$", main_row), main_row

    data = json.loads(json.dumps(to_json(current_report([result])), allow_nan=False))
    (entry,) = data["results"]
    assert entry["entry"] == "udp"
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
