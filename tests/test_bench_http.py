"""The ``http`` benchmark entry (``syncapi/bench/http.py``).

Shape and honesty only, never speed: the entry is built-in; each side's server really
sees the requests it is asked to handle (counted by its handler, and a short count fails
the run); and a tiny round through the real runner gives a table and JSON with
syncapi's rates against requests + Flask, a ratio for each job. Both sides run in this
process, so nothing needs a broker. The real benchmark is ``python -m syncapi.bench
http`` (see ``docs/benchmarks.md``).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable

import pytest

from syncapi.bench import http as bench_http
from syncapi.bench import registry, runner
from syncapi.bench.model import Goal, Params
from syncapi.bench.report import format_table, to_json
from syncapi.bench.runner import Benchmark, current_report

N = 24
"""Requests per job: a few per sending thread of the threaded job (which splits them)."""
SIZE = 1024
ROWS = (bench_http.ENTRY.variants[0].metric, bench_http.EXTRA_THREADS)
"""The table's rows: one request at a time (the main row), then the threaded job."""

MEASURES: dict[str, Callable[[Params], bench_http.Measured]] = {
    "requests + Flask": bench_http.measure_baseline,
    "syncapi": bench_http.measure_syncapi,
}
JOBS = {"requests + Flask": "raw_post", "syncapi": "syncapi_send"}
"""The name of each side's job function, which both of its jobs call."""


def _params() -> Params:
    return Params(messages=N, size=SIZE)


# -- no server needed ------------------------------------------------------------------------
def test_http_is_a_built_in_entry() -> None:
    assert "http" in registry.entry_names()
    entry = registry.get_entry("http")
    assert entry is bench_http.ENTRY
    assert entry.baseline.name == "requests + Flask"
    (variant,) = entry.variants
    assert variant.goal == Goal(min_ratio=0.9)
    assert entry.url_env is None  # both sides start in-process
    assert entry.check is not None and entry.check() is None  # Flask is in the test extra


@pytest.mark.parametrize(
    ("n", "threads", "expected"),
    [(24, 8, [3] * 8), (10, 8, [2, 2, 1, 1, 1, 1, 1, 1]), (3, 8, [1, 1, 1, 0, 0, 0, 0, 0])],
)
def test_shares_split_the_requests_exactly(n: int, threads: int, expected: list[int]) -> None:
    assert bench_http.shares(n, threads) == expected
    assert sum(expected) == n


def test_a_failing_sender_thread_fails_the_job() -> None:
    calls: list[int] = []
    lock = threading.Lock()

    def job(count: int) -> None:
        with lock:
            calls.append(count)
        if count == 3:
            raise ValueError("boom")

    with pytest.raises(RuntimeError, match="a sending thread failed: ValueError") as caught:
        bench_http.in_threads(job, 12, threads=4)
    assert isinstance(caught.value.__cause__, ValueError)
    assert calls.count(1) == 4  # every thread warmed up first


def _measured(**changes: int) -> bench_http.Measured:
    fields = {"handled": 10, "handled_bytes": 640, "threaded_handled": 10, "threaded_bytes": 640}
    fields.update(changes)
    return bench_http.Measured(
        library="x", messages=10, size=64, seconds=1.0, threaded_seconds=0.5, **fields
    )


def test_right_counts_pass_and_make_the_sample() -> None:
    run = _measured()
    run.verify()
    sample = run.sample()
    assert (sample.messages, sample.seconds) == (10, 1.0)
    assert dict(sample.extra) == {bench_http.EXTRA_THREADS: 20.0}


@pytest.mark.parametrize(
    "wrong",
    [
        {"handled": 9},
        {"handled": 11},
        {"handled_bytes": 639},
        {"threaded_handled": 9},
        {"threaded_bytes": 641},
    ],
)
def test_wrong_counts_fail_the_run(wrong: dict[str, int]) -> None:
    with pytest.raises(RuntimeError, match="expected 10 requests of 640 bytes in each job"):
        _measured(**wrong).verify()


# -- on in-process servers ----------------------------------------------------------------------
def _threads_left(names: tuple[str, ...]) -> list[str]:
    """Threads of a finished run still alive after a short grace (server threads end
    once their connection has closed)."""
    deadline = time.monotonic() + 5.0
    while True:
        left = [t.name for t in threading.enumerate() if t.name.startswith(names)]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


@pytest.mark.parametrize("library", list(MEASURES))
def test_each_side_handles_exactly_the_requests_asked_for(library: str) -> None:
    """Counted by the server's handler, not assumed: ``N`` requests of ``SIZE`` bytes in
    each job, warm-ups left out; the run leaves no thread behind."""
    run = MEASURES[library](_params())
    assert run.library == library
    counts = (run.handled, run.handled_bytes, run.threaded_handled, run.threaded_bytes)
    assert counts == (N, N * SIZE, N, N * SIZE)
    assert run.seconds > 0 and run.threaded_seconds > 0
    run.verify()
    assert _threads_left(("bench-sender", "syncapi-bench-flask", "syncapi-http-serve")) == []


@pytest.mark.parametrize("library", list(MEASURES))
def test_a_lost_request_fails_the_run(library: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The count is the server's, not the client's: a job that skips one request gives a
    run that does not verify, and the variant raises (failing the benchmark)."""
    name = JOBS[library]
    real = getattr(bench_http, name)

    def one_short(client: object, *args: object) -> float:
        *rest, n = args
        assert isinstance(n, int)
        return float(real(client, *rest, n - 1 if n == N else n))

    monkeypatch.setattr(bench_http, name, one_short)
    variant = {"requests + Flask": bench_http.run_baseline, "syncapi": bench_http.run_syncapi}
    with pytest.raises(RuntimeError, match=rf"the server saw {N - 1} requests of {(N - 1) * SIZE}"):
        variant[library](_params())


def test_the_baseline_checks_every_answer() -> None:
    """A request that the Flask route does not answer 204 stops the baseline's job."""
    import requests

    server = bench_http.FlaskServer(bench_http.Counter())
    try:
        with requests.Session() as session, pytest.raises(RuntimeError, match="answered 404"):
            bench_http.raw_post(session, server.url + "-nowhere", b"x", 1)
    finally:
        server.stop()


def test_suite_runs_with_tiny_sizes(monkeypatch: pytest.MonkeyPatch) -> None:
    """One round of ``N`` requests through the real runner: requests + Flask and
    syncapi, both jobs, in the table with a ratio each, and in the JSON (the figures
    themselves are not checked)."""
    monkeypatch.setattr(runner, "MIN_ROUNDS", 1)  # the harness wants 5 rounds; 1 does here
    lines: list[str] = []
    result = Benchmark(
        bench_http.ENTRY, _params(), rounds=1, warmup_rounds=0, progress=lines.append
    ).run()

    assert result.order == ("requests + Flask", "syncapi http://")
    assert len(lines) == 2
    (row,) = result.rows
    for side in (result.baseline, row.result):
        (sample,) = side.samples
        assert sample.messages == N
        assert set(side.extra) == {bench_http.EXTRA_THREADS}
        assert side.rate.median > 0 and side.extra[bench_http.EXTRA_THREADS].median > 0
    assert row.ratio == pytest.approx(row.result.rate.median / result.baseline.rate.median)
    assert row.goal == Goal(min_ratio=0.9) and row.met == (row.ratio >= 0.9)

    table = format_table(result)
    assert "baseline: requests + Flask" in table
    for case in ROWS:
        line = next(line for line in table.splitlines() if line.strip().startswith(case))
        numbers = re.findall(r"\d[\d,]*(?:\.\d+)?", line.split(case, 1)[1])
        assert len(numbers) >= 6, line  # syncapi median, min, max; the baseline's; the ratio
        assert re.search(r"\s\d+\.\d{3}x(\s|$)", line), line
    main_row = next(line for line in table.splitlines() if line.strip().startswith(ROWS[0]))
    assert re.search(r">= 0\.90x\s+(yes|NO)$", main_row), main_row

    data = json.loads(json.dumps(to_json(current_report([result])), allow_nan=False))
    (entry,) = data["results"]
    assert entry["entry"] == "http"
    (json_row,) = entry["rows"]
    assert json_row["ratio"] > 0
    assert json_row["goal"] == {"min_ratio": 0.9, "max_ratio": None}
    for side in (entry["baseline"], json_row):
        assert side["rate"]["median"] > 0
        assert side["extra"][bench_http.EXTRA_THREADS]["median"] > 0
        assert side["extra"][bench_http.EXTRA_THREADS]["count"] == 1
        (sample,) = side["samples"]
        assert sample["messages"] == N
