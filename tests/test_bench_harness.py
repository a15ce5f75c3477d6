"""The benchmark harness (``syncapi.bench``): statistics, alternation, reports, command line.

Correctness only: nothing here measures or asserts speed. The runner tests use fake
entries whose variants return made-up samples and record the order they were called in.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from syncapi.bench import registry, stats
from syncapi.bench.cli import main
from syncapi.bench.model import Entry, Goal, Metric, Params, Sample, Variant
from syncapi.bench.report import TABLE_HEADER, format_report, format_table, to_json
from syncapi.bench.runner import MIN_ROUNDS, Benchmark, Step, current_report, schedule

ROOT = Path(__file__).resolve().parents[1]


# -- statistics -----------------------------------------------------------------------------
class TestStats:
    def test_median_of_odd_count_is_the_middle_value(self) -> None:
        assert stats.median([5.0, 1.0, 3.0]) == 3.0

    def test_median_of_even_count_is_the_mean_of_the_middle_two(self) -> None:
        assert stats.median([4.0, 1.0, 3.0, 2.0]) == 2.5

    def test_median_of_one_value(self) -> None:
        assert stats.median([7]) == 7.0

    def test_median_ignores_input_order_and_leaves_input_alone(self) -> None:
        values = [9.0, 2.0, 5.0, 1.0, 7.0]
        assert stats.median(values) == 5.0
        assert values == [9.0, 2.0, 5.0, 1.0, 7.0]

    @pytest.mark.parametrize("func", [stats.median, stats.spread, stats.summarize])
    def test_no_values_is_an_error(self, func: object) -> None:
        with pytest.raises(ValueError, match="no values"):
            func([])  # type: ignore[operator]

    def test_nan_is_an_error(self) -> None:
        with pytest.raises(ValueError, match="NaN"):
            stats.median([1.0, math.nan])

    def test_spread_is_min_and_max(self) -> None:
        assert stats.spread([3.0, -1.0, 8.0, 2.0]) == (-1.0, 8.0)

    def test_spread_accepts_a_generator(self) -> None:
        assert stats.spread(x * 2.0 for x in range(4)) == (0.0, 6.0)

    def test_percentile_ends_and_middle(self) -> None:
        values = [10.0, 20.0, 30.0, 40.0, 50.0]
        assert stats.percentile(values, 0) == 10.0
        assert stats.percentile(values, 100) == 50.0
        assert stats.percentile(values, 50) == stats.median(values)

    def test_percentile_interpolates_between_ranks(self) -> None:
        assert stats.percentile([0.0, 10.0], 25) == pytest.approx(2.5)
        assert stats.percentile(list(map(float, range(101))), 99) == pytest.approx(99.0)

    def test_percentile_50_of_even_count_is_the_median(self) -> None:
        values = [4.0, 1.0, 3.0, 2.0]
        assert stats.percentile(values, 50) == stats.median(values)

    @pytest.mark.parametrize("q", [-1.0, 100.5])
    def test_percentile_out_of_range(self, q: float) -> None:
        with pytest.raises(ValueError, match=r"0\.\.100"):
            stats.percentile([1.0], q)

    def test_ratio(self) -> None:
        assert stats.ratio(80.0, 100.0) == pytest.approx(0.8)
        assert stats.ratio(0.0, 3.0) == 0.0

    @pytest.mark.parametrize("baseline", [0.0, -1.0, math.nan])
    def test_ratio_needs_a_positive_baseline(self, baseline: float) -> None:
        with pytest.raises(ValueError, match="baseline"):
            stats.ratio(1.0, baseline)

    def test_summarize(self) -> None:
        summary = stats.summarize([3, 1, 2, 5, 4])
        assert summary == stats.Summary(median=3.0, min=1.0, max=5.0, count=5)


# -- model ----------------------------------------------------------------------------------
class TestModel:
    def test_sample_rate_is_messages_per_second(self) -> None:
        assert Sample(messages=500, seconds=0.25).rate == 2000.0

    @pytest.mark.parametrize(
        ("messages", "seconds"), [(0, 1.0), (1, 0.0), (1, -1.0), (1, math.inf)]
    )
    def test_sample_rejects_nonsense(self, messages: int, seconds: float) -> None:
        with pytest.raises(ValueError):
            Sample(messages=messages, seconds=seconds)

    def test_sample_extra_is_a_read_only_copy(self) -> None:
        extra = {"rss_mb": 12.0}
        sample = Sample(messages=1, seconds=1.0, extra=extra)
        extra["rss_mb"] = 99.0
        assert sample.extra["rss_mb"] == 12.0
        with pytest.raises(TypeError):
            sample.extra["rss_mb"] = 1.0  # type: ignore[index]

    def test_goal_min_ratio_is_inclusive(self) -> None:
        goal = Goal(min_ratio=0.8)
        assert goal.met(0.8)
        assert goal.met(1.5)
        assert not goal.met(0.79)
        assert str(goal) == ">= 0.80x"

    def test_goal_max_ratio(self) -> None:
        goal = Goal(max_ratio=1.2)
        assert goal.met(1.2)
        assert not goal.met(1.21)
        assert str(goal) == "<= 1.20x"

    def test_goal_needs_a_bound(self) -> None:
        with pytest.raises(ValueError):
            Goal()

    def test_params_payload_has_the_size(self) -> None:
        for size in (0, 1, 255, 256, 1024, 1000):
            assert len(Params(messages=1, size=size).payload()) == size

    def test_params_reject_nonsense(self) -> None:
        with pytest.raises(ValueError):
            Params(messages=0, size=1)
        with pytest.raises(ValueError):
            Params(messages=1, size=-1)

    def test_entry_needs_unique_names_and_a_variant(self) -> None:
        a = Variant("a", _fixed_sample(1.0))
        with pytest.raises(ValueError, match="unique"):
            Entry("e", "d", baseline=a, variants=(Variant("a", _fixed_sample(1.0)),))
        with pytest.raises(ValueError, match="at least one variant"):
            Entry("e", "d", baseline=a, variants=())


# -- runner with fake entries -----------------------------------------------------------------
def _fixed_sample(seconds: float, messages: int = 100) -> VariantFuncFake:
    return VariantFuncFake("fixed", [], lambda call: Sample(messages=messages, seconds=seconds))


class VariantFuncFake:
    """A fake variant body: records each call in a shared log and returns made-up samples."""

    def __init__(self, name: str, log: list[str], make: object) -> None:
        self.name = name
        self.log = log
        self.make = make
        self.calls = 0
        self.seen_params: list[Params] = []

    def __call__(self, params: Params) -> Sample:
        self.calls += 1
        self.log.append(self.name)
        self.seen_params.append(params)
        return self.make(self.calls)  # type: ignore[operator, no-any-return]


def _fake_entry(log: list[str], *, third: bool = False) -> Entry:
    """A fake entry: the baseline moves 100 msg/s, "fake-syncapi" 50 msg/s (ratio 0.5),
    "fake-batch" 200 msg/s; every warm-up call (the first) is 100 times slower."""

    def timed(rate: float) -> object:
        def make(call: int) -> Sample:
            slow = 100.0 if call == 1 else 1.0
            return Sample(messages=100, seconds=slow * 100 / rate, extra={"threads": float(call)})

        return make

    variants = [
        Variant("fake-syncapi", VariantFuncFake("B", log, timed(50.0)), "fake", Goal(min_ratio=0.8))
    ]
    if third:
        variants.append(
            Variant("fake-batch", VariantFuncFake("C", log, timed(200.0)), "fake batch")
        )
    return Entry(
        name="fake",
        description="a fake entry for the harness's own tests",
        baseline=Variant("fake-baseline", VariantFuncFake("A", log, timed(100.0)), "baseline"),
        variants=tuple(variants),
        default_messages=100,
    )


class TestSchedule:
    def test_alternates_with_one_warm_up_round_first(self) -> None:
        steps = schedule(["A", "B"], rounds=5)
        assert [s.variant for s in steps] == ["A", "B"] * 2 + ["B", "A", "A", "B"] * 2
        assert [s.timed for s in steps] == [False, False] + [True] * 10
        assert [s.round for s in steps[::2]] == [0, 1, 2, 3, 4, 5]

    def test_three_variants_and_no_warm_up(self) -> None:
        steps = schedule(["A", "B", "C"], rounds=2, warmup_rounds=0)
        assert steps == [
            Step(1, "A", True), Step(1, "B", True), Step(1, "C", True),
            Step(2, "C", True), Step(2, "B", True), Step(2, "A", True),
        ]  # fmt: skip

    def test_each_variant_runs_first_as_often_as_last(self) -> None:
        """A steady drift must not favour one side: even rounds run in reverse."""
        steps = [s for s in schedule(["A", "B"], rounds=6) if s.timed]
        firsts = [steps[i].variant for i in range(0, len(steps), 2)]
        assert firsts.count("A") == firsts.count("B") == 3

    def test_rejects_nonsense(self) -> None:
        with pytest.raises(ValueError):
            schedule([], rounds=5)
        with pytest.raises(ValueError):
            schedule(["A"], rounds=-1)


class TestBenchmarkRunner:
    def test_calls_variants_alternately_a_b_a_b(self) -> None:
        log: list[str] = []
        result = Benchmark(
            _fake_entry(log), Params(messages=100, size=8), rounds=5, before_run=None
        ).run()
        # warm-up round + 5 timed rounds, even rounds reversed
        assert log == ["A", "B"] * 2 + ["B", "A", "A", "B"] * 2
        assert result.order[:4] == ("fake-baseline", "fake-syncapi") * 2
        assert result.order[4:6] == ("fake-syncapi", "fake-baseline")

    def test_three_variants_alternate_a_b_c(self) -> None:
        log: list[str] = []
        Benchmark(
            _fake_entry(log, third=True), Params(messages=100, size=8), rounds=6, before_run=None
        ).run()
        assert log == ["A", "B", "C"] * 2 + ["C", "B", "A", "A", "B", "C"] * 2 + ["C", "B", "A"]

    def test_warm_up_samples_are_dropped_and_medians_compared(self) -> None:
        log: list[str] = []
        result = Benchmark(
            _fake_entry(log, third=True), Params(messages=100, size=8), rounds=5, before_run=None
        ).run()
        base = result.baseline
        assert base.name == "fake-baseline"
        assert len(base.samples) == 5
        assert base.rate.median == pytest.approx(100.0)
        assert base.rate.min == pytest.approx(100.0)  # the slow warm-up sample is not in it
        main_row, batch_row = result.rows
        assert main_row.result.name == "fake-syncapi"
        assert main_row.ratio == pytest.approx(0.5)
        assert main_row.goal == Goal(min_ratio=0.8)
        assert main_row.met is False
        assert batch_row.ratio == pytest.approx(2.0)
        assert batch_row.goal is None
        assert batch_row.met is None

    def test_extra_figures_are_summarised(self) -> None:
        result = Benchmark(
            _fake_entry([]), Params(messages=100, size=8), rounds=5, before_run=None
        ).run()
        # calls 2..6 are the timed ones, and the fake reports the call number as "threads"
        assert result.baseline.extra["threads"] == stats.Summary(
            median=4.0, min=2.0, max=6.0, count=5
        )

    def test_params_reach_every_run(self) -> None:
        entry = _fake_entry([])
        params = Params(messages=100, size=8)
        Benchmark(entry, params, rounds=5, before_run=None).run()
        body = entry.baseline.run
        assert isinstance(body, VariantFuncFake)
        assert body.seen_params == [params] * 6

    def test_before_run_is_called_before_every_run(self) -> None:
        log: list[str] = []
        Benchmark(
            _fake_entry(log),
            Params(messages=100, size=8),
            rounds=5,
            before_run=lambda: log.append("gc"),
        ).run()
        assert log == ["gc", "A", "gc", "B"] * 2 + ["gc", "B", "gc", "A", "gc", "A", "gc", "B"] * 2

    def test_progress_gets_a_line_per_run(self) -> None:
        lines: list[str] = []
        Benchmark(
            _fake_entry([]),
            Params(messages=100, size=8),
            rounds=5,
            before_run=None,
            progress=lines.append,
        ).run()
        assert len(lines) == 12
        assert lines[0].startswith("fake: warm-up: fake-baseline:")
        assert lines[-1].startswith("fake: round 5/5: fake-syncapi:")

    def test_needs_at_least_min_rounds(self) -> None:
        with pytest.raises(ValueError, match=str(MIN_ROUNDS)):
            Benchmark(_fake_entry([]), Params(messages=1, size=1), rounds=MIN_ROUNDS - 1)

    def test_a_failing_variant_fails_the_run(self) -> None:
        def broken(params: Params) -> Sample:
            raise RuntimeError("fake failure")

        entry = Entry("fake", "d", baseline=Variant("a", broken), variants=(Variant("b", broken),))
        with pytest.raises(RuntimeError, match="fake failure"):
            Benchmark(entry, Params(messages=1, size=1), rounds=5, before_run=None).run()


# -- reports ----------------------------------------------------------------------------------
class TestReport:
    def test_table_has_the_header_and_a_row_per_variant(self) -> None:
        result = Benchmark(
            _fake_entry([], third=True), Params(messages=100, size=8), rounds=5, before_run=None
        ).run()
        text = format_table(result)
        lines = text.splitlines()
        header = next(line for line in lines if line.strip().startswith("metric"))
        for column in TABLE_HEADER:
            assert column in header
        row = next(line for line in lines if line.strip().startswith("fake "))
        assert "0.500x" in row and ">= 0.80x" in row and row.endswith("NO")
        batch = next(line for line in lines if line.strip().startswith("fake batch"))
        assert "2.000x" in batch
        assert any(line.strip().startswith("threads") for line in lines)

    def test_report_names_syncapi_version_and_machine(self) -> None:
        import syncapi

        result = Benchmark(
            _fake_entry([]), Params(messages=100, size=8), rounds=5, before_run=None
        ).run()
        report = current_report([result], {"gone": "fake reason"})
        text = format_report(report)
        first = text.splitlines()[0]
        assert syncapi.__version__ in first
        assert f"{os.cpu_count()} CPUs" in first
        assert "gone: skipped: fake reason" in text

    def test_json_holds_the_same_figures(self) -> None:
        result = Benchmark(
            _fake_entry([]), Params(messages=100, size=8), rounds=5, before_run=None
        ).run()
        data = json.loads(json.dumps(to_json(current_report([result])), allow_nan=False))
        assert data["format"] == "syncapi-bench/2"
        assert data["machine"]["cpu_count"] == os.cpu_count()
        (entry,) = data["results"]
        assert entry["baseline"]["rate"]["median"] == pytest.approx(100.0)
        assert len(entry["baseline"]["samples"]) == 5
        (row,) = entry["rows"]
        assert row["ratio"] == pytest.approx(0.5)
        assert row["goal"] == {"min_ratio": 0.8, "max_ratio": None}
        assert row["met"] is False


# -- registry and command line ------------------------------------------------------------------
@pytest.fixture
def fake_registered() -> Iterator[Entry]:
    entry = _fake_entry([])
    registry.register(entry)
    try:
        yield entry
    finally:
        registry.unregister(entry.name)


class TestRegistryAndCli:
    def test_memory_is_built_in(self) -> None:
        assert "memory" in registry.entry_names()
        entry = registry.get_entry("memory")
        assert entry.baseline.name == "queue.Queue"
        assert any(v.goal == Goal(min_ratio=0.8) for v in entry.variants)

    def test_unknown_entry(self) -> None:
        with pytest.raises(KeyError):
            registry.get_entry("no-such-entry")

    def test_register_refuses_a_taken_name(self, fake_registered: Entry) -> None:
        with pytest.raises(ValueError, match="exists"):
            registry.register(fake_registered)
        assert registry.entry_names()[-1] == "fake"

    def test_list(self, capsys: pytest.CaptureFixture[str], fake_registered: Entry) -> None:
        assert main(["--list"]) == 0
        out = capsys.readouterr().out
        assert "memory" in out
        assert "a fake entry for the harness's own tests" in out

    def test_runs_an_entry_and_writes_json(
        self, capsys: pytest.CaptureFixture[str], fake_registered: Entry, tmp_path: Path
    ) -> None:
        path = tmp_path / "bench.json"
        assert main(["fake", "--rounds", "5", "--json", str(path), "--quiet"]) == 0
        out = capsys.readouterr().out
        assert "0.500x" in out
        data = json.loads(path.read_text(encoding="utf-8"))
        assert [r["entry"] for r in data["results"]] == ["fake"]
        assert data["results"][0]["params"] == {"messages": 100, "size": 1024, "options": {}}

    def test_skips_an_entry_that_cannot_run(self, capsys: pytest.CaptureFixture[str]) -> None:
        base = _fake_entry([])
        entry = Entry(
            "fake-unavailable",
            "d",
            base.baseline,
            base.variants,
            check=lambda: "fake broker not running",
        )
        registry.register(entry)
        try:
            assert main(["fake-unavailable", "--quiet"]) == 0
        finally:
            registry.unregister(entry.name)
        assert "fake-unavailable: skipped: fake broker not running" in capsys.readouterr().out

    @pytest.mark.parametrize(
        "argv", [["--rounds", "4"], ["--messages", "0"], ["--size", "-1"], ["no-such-entry"]]
    )
    def test_usage_errors_exit_2(self, argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2
        assert "usage:" in capsys.readouterr().err


def test_memory_benchmark_runs_from_the_command_line() -> None:
    """Smoke test of the documented command (shape only; the figures are not checked)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [sys.executable, "-m", "syncapi.bench", "memory", "--rounds", "5", "--messages", "2000"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("syncapi ")
    header = next(line for line in lines if line.strip().startswith("metric"))
    assert header.split() == [
        "metric", "unit", "syncapi", "median", "min-max", "baseline", "median", "min-max", "ratio",
        "goal", "met",
    ]  # fmt: skip
    row = next(line for line in lines if line.strip().startswith("memory:// send(env)"))
    found = re.search(r"\s(\d+\.\d{3})x\s+>= 0\.80x\s+(yes|NO)$", row)
    assert found is not None, row
    assert float(found.group(1)) > 0
    assert any(line.strip().startswith("memory:// send(*100 envs)") for line in lines)
    assert proc.stderr.count("memory: round") == 15  # 5 rounds x 3 variants


# -- alternatives, units and goals on extra figures --------------------------------------
def _contender(rate: float, latency_ms: float, *, with_latency: bool = True) -> Any:
    def run(params: Params) -> Sample:
        extra = {"latency p99": latency_ms} if with_latency else {}
        return Sample(messages=100, seconds=100 / rate, extra={**extra, "consume": rate * 2})

    return run


def _entry_with_alternatives() -> Entry:
    return Entry(
        name="alt",
        description="an entry with alternatives",
        baseline=Variant("raw", _contender(100.0, 2.0), "produce"),
        variants=(
            Variant(
                "syncapi",
                _contender(90.0, 3.0),
                "produce",
                Goal(min_ratio=0.8),
                goals={"latency p99": Goal(max_ratio=1.2)},
            ),
        ),
        alternatives=(
            Variant("Other", _contender(45.0, 6.0, with_latency=False)),
            Variant("Missing", _contender(1.0, 1.0), check=lambda: "missing is not installed"),
        ),
        metrics={"latency p99": Metric(unit="ms", higher_is_better=False)},
        default_messages=100,
    )


def test_alternatives_run_in_the_alternation_and_show_as_columns() -> None:
    result = Benchmark(
        _entry_with_alternatives(), Params(messages=100, size=8), rounds=5, before_run=None
    ).run()
    assert result.order[:3] == ("raw", "syncapi", "Other")  # warm-up, then A B C | C B A
    assert result.order[3:9] == ("raw", "syncapi", "Other", "Other", "syncapi", "raw")
    assert [alt.name for alt in result.alternatives] == ["Other"]
    assert result.unavailable == {"Missing": "missing is not installed"}
    row = result.rows[0]
    assert row.ratio == pytest.approx(0.9) and row.met is True
    assert row.extra_ratios["latency p99"] == pytest.approx(1.5)
    assert row.extra_met == {"latency p99": False}  # 1.5x the baseline's p99 > 1.2x
    text = format_table(result)
    assert (
        "A raw, B syncapi, C Other" in text and "not run: Missing: missing is not installed" in text
    )
    assert "(ms: lower is better)" in text
    header = next(line for line in text.splitlines() if line.strip().startswith("metric"))
    assert header.split()[-4:] == ["met", "Other", "vs", "Other"]
    produce = next(line for line in text.splitlines() if line.strip().startswith("produce"))
    assert produce.split()[-2:] == ["45.00", "2.000x"]  # Other's median, syncapi / Other
    latency = next(line for line in text.splitlines() if "latency p99" in line)
    assert " ms " in latency and "1.500x" in latency and latency.split()[-3:] == ["NO", "-", "-"]
    data = to_json(current_report([result]))["results"][0]
    assert data["alternatives"][0]["name"] == "Other" and data["unavailable"] == {
        "Missing": "missing is not installed"
    }
    assert data["metrics"]["latency p99"] == {"unit": "ms", "higher_is_better": False}
    assert data["rows"][0]["extra_met"] == {"latency p99": False}


def test_a_baseline_that_cannot_run_fails_the_entry() -> None:
    entry = _entry_with_alternatives()
    broken = Entry(
        name="broken",
        description="x",
        baseline=Variant("raw", _contender(1.0, 1.0), check=lambda: "no client library"),
        variants=entry.variants,
    )
    with pytest.raises(RuntimeError, match="raw cannot run: no client library"):
        Benchmark(broken, Params(messages=1, size=1), rounds=5, before_run=None).run()


# -- the chart ---------------------------------------------------------------------------
def test_chart_lines_are_oriented_so_that_right_is_better() -> None:
    from syncapi.bench.chart import chart_lines

    result = Benchmark(
        _entry_with_alternatives(), Params(messages=100, size=8), rounds=5, before_run=None
    ).run()
    lines = {line.label: line for line in chart_lines(current_report([result]))}
    produce = lines["alt: produce"]
    assert produce.syncapi == pytest.approx(0.9) and produce.goal == pytest.approx(0.8)
    assert produce.alternatives == {"Other": pytest.approx(0.45)}
    latency = lines["alt: latency p99"]  # 3 ms against 2 ms: two thirds as good
    assert latency.syncapi == pytest.approx(2 / 3) and latency.met is False
    assert latency.goal == pytest.approx(1 / 1.2) and latency.alternatives == {}
    consume = lines["alt: consume"]
    assert consume.syncapi == pytest.approx(0.9) and consume.alternatives["Other"] == pytest.approx(
        0.45
    )


def test_chart_is_a_png_and_the_command_draws_it(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from syncapi.bench.chart import write_chart

    result = Benchmark(
        _entry_with_alternatives(), Params(messages=100, size=8), rounds=5, before_run=None
    ).run()
    path = tmp_path / "chart.png"
    assert write_chart(current_report([result]), path) == 3
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    drawn = tmp_path / "memory.png"
    data = tmp_path / "memory.json"
    code = main(
        [
            "memory",
            "--rounds",
            "5",
            "--messages",
            "500",
            "-q",
            "--chart",
            str(drawn),
            "--json",
            str(data),
        ]
    )
    assert code == 0 and drawn.read_bytes()[:4] == b"\x89PNG"
    report = json.loads(data.read_text())
    assert report["versions"] and report["results"][0]["entry"] == "memory"


def test_brokers_already_given_are_not_started(monkeypatch: pytest.MonkeyPatch) -> None:
    """--brokers starts only what is not given: with both URLs set it starts nothing."""
    from contextlib import ExitStack

    from syncapi.bench import amqp, kafka
    from syncapi.bench.cli import _start_brokers

    monkeypatch.setenv(kafka.URL_ENV, "kafka://127.0.0.1:1")
    monkeypatch.setenv(amqp.URL_ENV, "amqp://127.0.0.1:1")
    with ExitStack() as stack:
        _start_brokers(stack, ["kafka", "amqp"])
        assert os.environ[kafka.URL_ENV] == "kafka://127.0.0.1:1"
    assert os.environ[amqp.URL_ENV] == "amqp://127.0.0.1:1"
