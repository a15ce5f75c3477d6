"""Runs an entry's variants alternately and turns their samples into results.

Order: one untimed warm-up round, then ``rounds`` timed rounds that call every variant
once, the baseline first in odd rounds and last in even ones — ``A B | B A | A B …`` for
two variants, ``A B C | C B A | A B C …`` for three. Alternating (rather than all rounds
of A, then all rounds of B) spreads slow drifts of the machine (turbo, thermal
throttling, a noisy neighbour) over every variant alike; reversing every other round
keeps a steady drift (a broker slowing down as it fills) from always favouring whichever
runs first in a round.

Before each run the runner collects garbage, so no run pays for the previous one's.
"""

from __future__ import annotations

import gc
import os
import platform
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from . import stats
from .model import Entry, Goal, Metric, Params, Sample, Variant

__all__ = [
    "MIN_ROUNDS",
    "Benchmark",
    "EntryResult",
    "Machine",
    "Report",
    "Row",
    "Step",
    "VariantResult",
    "current_report",
    "library_versions",
    "schedule",
]

MIN_ROUNDS = 5
"""The fewest timed rounds the harness accepts: fewer can't give a meaningful median."""


@dataclass(frozen=True)
class Step:
    """One run in a benchmark's schedule.

    Attributes:
        round: the round number: timed rounds count from 1, warm-up rounds are 0 and
            below.
        variant: the variant's name.
        timed: ``False`` for a warm-up run, whose sample is thrown away.
    """

    round: int
    variant: str
    timed: bool


def schedule(variants: Sequence[str], rounds: int, warmup_rounds: int = 1) -> list[Step]:
    """The order in which the runner calls ``variants``: warm-up rounds, then timed ones,
    each round calling every variant once — in the given order in warm-up and odd
    rounds, in reverse order in even rounds.

    Warm-up rounds are numbered from ``1 - warmup_rounds`` to 0, timed ones from 1.

    Raises:
        ValueError: no variants, or negative round counts.
    """
    if not variants:
        raise ValueError("a schedule needs at least one variant")
    if rounds < 0 or warmup_rounds < 0:
        raise ValueError(
            f"round counts must be >= 0, got rounds={rounds}, warmup_rounds={warmup_rounds}"
        )
    steps = []
    for number in range(1 - warmup_rounds, rounds + 1):
        ordered = reversed(variants) if number >= 1 and number % 2 == 0 else variants
        for name in ordered:
            steps.append(Step(round=number, variant=name, timed=number >= 1))
    return steps


@dataclass(frozen=True)
class VariantResult:
    """The timed samples of one variant and their summaries.

    Attributes:
        name: the variant's name.
        metric: what it measures.
        samples: one sample per timed round, in round order.
        rate: the summary of the samples' throughput (messages per second).
        extra: the summary of each extra figure that every sample reported.
    """

    name: str
    metric: str
    samples: tuple[Sample, ...]
    rate: stats.Summary
    extra: Mapping[str, stats.Summary] = field(default_factory=dict)

    @classmethod
    def of(cls, variant: Variant, samples: Sequence[Sample]) -> VariantResult:
        """Summarise ``samples`` of ``variant``."""
        common = set.intersection(*(set(s.extra) for s in samples)) if samples else set()
        extra = {key: stats.summarize(s.extra[key] for s in samples) for key in sorted(common)}
        return cls(
            name=variant.name,
            metric=variant.metric,
            samples=tuple(samples),
            rate=stats.summarize(s.rate for s in samples),
            extra=extra,
        )


@dataclass(frozen=True)
class Row:
    """One syncapi variant compared with the baseline (and the alternatives): a group of
    lines of the table, its throughput first, then each ``extra`` figure.

    Attributes:
        result: the variant's results.
        ratio: median throughput of the variant / median throughput of the baseline.
        goal: the variant's goal on throughput, or ``None``.
        met: whether the goal is met (``None`` without a goal).
        extra_ratios: for each ``extra`` figure the baseline has too: the variant's
            median / the baseline's median.
        extra_goals: the variant's goals on ``extra`` figures, by key.
        extra_met: whether each of those goals is met, by key.
    """

    result: VariantResult
    ratio: float
    goal: Goal | None
    met: bool | None
    extra_ratios: Mapping[str, float] = field(default_factory=dict)
    extra_goals: Mapping[str, Goal] = field(default_factory=dict)
    extra_met: Mapping[str, bool] = field(default_factory=dict)


@dataclass(frozen=True)
class EntryResult:
    """Everything one entry's benchmark found.

    Attributes:
        entry: the entry's name.
        description: its one-line description.
        params: what each run was asked to do.
        rounds: timed rounds.
        warmup_rounds: untimed rounds before them.
        baseline: the baseline's results.
        rows: every syncapi variant compared with the baseline, in the entry's order.
        order: the variants' names in the order they ran (warm-up included).
        alternatives: the results of the other libraries that ran (FastStream...).
        unavailable: alternatives that could not run here, with the reason.
        metrics: how to show each ``extra`` figure (unit, direction), by key.
        rate_unit: the unit of the throughput figures (``"msg/s"``).
    """

    entry: str
    description: str
    params: Params
    rounds: int
    warmup_rounds: int
    baseline: VariantResult
    rows: tuple[Row, ...]
    order: tuple[str, ...]
    alternatives: tuple[VariantResult, ...] = ()
    unavailable: Mapping[str, str] = field(default_factory=dict)
    metrics: Mapping[str, Metric] = field(default_factory=dict)
    rate_unit: str = "msg/s"

    def metric(self, key: str) -> Metric:
        """How to show the ``extra`` figure ``key`` (a throughput unless declared)."""
        return self.metrics.get(key, Metric(unit=self.rate_unit))


@dataclass(frozen=True)
class Machine:
    """Where a benchmark ran.

    Attributes:
        python: the Python version (``"3.11.7"``).
        implementation: ``"CPython"``, ``"PyPy"``...
        cpu_count: logical CPUs of the machine.
        cpus_usable: CPUs this process may run on (affinity), where the OS tells.
        platform: ``platform.platform()``.
    """

    python: str
    implementation: str
    cpu_count: int | None
    cpus_usable: int | None
    platform: str

    @classmethod
    def current(cls) -> Machine:
        """Describe the machine this process runs on."""
        usable: int | None = None
        if hasattr(os, "sched_getaffinity"):
            usable = len(os.sched_getaffinity(0))
        return cls(
            python=platform.python_version(),
            implementation=platform.python_implementation(),
            cpu_count=os.cpu_count(),
            cpus_usable=usable,
            platform=platform.platform(),
        )

    def __str__(self) -> str:
        cpus = f"{self.cpu_count} CPUs"
        if self.cpus_usable is not None and self.cpus_usable != self.cpu_count:
            cpus += f" ({self.cpus_usable} usable)"
        return f"{self.implementation} {self.python}, {cpus}, {self.platform}"


@dataclass(frozen=True)
class Report:
    """A whole run of the harness: the machine, syncapi's version and each entry's result.

    Attributes:
        syncapi_version: ``syncapi.__version__``.
        machine: where it ran.
        results: one per entry that ran, in run order.
        skipped: entries that could not run here, with the reason.
        versions: the installed version of each library the entries compare (the raw
            clients and the alternatives), by distribution name.
    """

    syncapi_version: str
    machine: Machine
    results: tuple[EntryResult, ...]
    skipped: Mapping[str, str] = field(default_factory=dict)
    versions: Mapping[str, str] = field(default_factory=dict)


Progress = Callable[[str], None]
"""Gets one line of progress text per run (the command line prints them to stderr)."""


class Benchmark:
    """Runs one entry: its variants alternately, round after round (see :func:`schedule`).

    Args:
        entry: what to run.
        params: what each run does (messages, payload size...).
        rounds: timed rounds, at least :data:`MIN_ROUNDS`.
        warmup_rounds: untimed rounds before them.
        progress: called with a line of text after every run.
        before_run: called before every run, outside the timing (default: a full garbage
            collection).
    """

    def __init__(
        self,
        entry: Entry,
        params: Params,
        *,
        rounds: int = 7,
        warmup_rounds: int = 1,
        progress: Progress | None = None,
        before_run: Callable[[], object] | None = gc.collect,
    ) -> None:
        if rounds < MIN_ROUNDS:
            raise ValueError(f"a benchmark needs at least {MIN_ROUNDS} rounds, got {rounds}")
        if warmup_rounds < 0:
            raise ValueError(f"warmup_rounds must be >= 0, got {warmup_rounds}")
        self.entry = entry
        self.params = params
        self.rounds = rounds
        self.warmup_rounds = warmup_rounds
        self.progress = progress
        self.before_run = before_run

    def runnable(self) -> tuple[list[Variant], dict[str, str]]:
        """The variants that will run, and the alternatives left out with the reason.

        Raises:
            RuntimeError: the baseline or a syncapi variant cannot run here.
        """
        unavailable: dict[str, str] = {}
        for variant in (self.entry.baseline, *self.entry.variants):
            reason = variant.check() if variant.check is not None else None
            if reason is not None:
                raise RuntimeError(f"{self.entry.name}: {variant.name} cannot run: {reason}")
        alternatives = []
        for variant in self.entry.alternatives:
            reason = variant.check() if variant.check is not None else None
            if reason is None:
                alternatives.append(variant)
            else:
                unavailable[variant.name] = reason
        return [self.entry.baseline, *self.entry.variants, *alternatives], unavailable

    def schedule(self) -> list[Step]:
        """The runs this benchmark will make, in order."""
        variants, _ = self.runnable()
        return schedule([v.name for v in variants], self.rounds, self.warmup_rounds)

    def run(self) -> EntryResult:
        """Make every run of the schedule and compare the variants with the baseline.

        Raises:
            Exception: whatever a variant raised; a failed run fails the benchmark.
        """
        variants, unavailable = self.runnable()
        by_name = {v.name: v for v in variants}
        samples: dict[str, list[Sample]] = {name: [] for name in by_name}
        order = []
        steps = schedule(list(by_name), self.rounds, self.warmup_rounds)
        for step in steps:
            variant = by_name[step.variant]
            if self.before_run is not None:
                self.before_run()
            sample = variant.run(self.params)
            if not isinstance(sample, Sample):
                raise TypeError(
                    f"variant {variant.name!r} returned a {type(sample).__name__}, not a Sample"
                )
            order.append(step.variant)
            if step.timed:
                samples[step.variant].append(sample)
            if self.progress is not None:
                when = f"round {step.round}/{self.rounds}" if step.timed else "warm-up"
                self.progress(
                    f"{self.entry.name}: {when}: {variant.name}: "
                    f"{sample.rate:,.0f} {self.entry.rate_unit} "
                    f"({sample.messages:,} in {sample.seconds:.3f} s)"
                )
        baseline = VariantResult.of(self.entry.baseline, samples[self.entry.baseline.name])
        rows = [
            self._row(variant, samples[variant.name], baseline) for variant in self.entry.variants
        ]
        return EntryResult(
            entry=self.entry.name,
            description=self.entry.description,
            params=self.params,
            rounds=self.rounds,
            warmup_rounds=self.warmup_rounds,
            baseline=baseline,
            rows=tuple(rows),
            order=tuple(order),
            alternatives=tuple(
                VariantResult.of(v, samples[v.name])
                for v in self.entry.alternatives
                if v.name in samples
            ),
            unavailable=unavailable,
            # resolved per key present: an entry may compute its metrics (idle's levels)
            metrics={
                key: self.entry.metric(key)
                for key in sorted({k for runs in samples.values() for s in runs for k in s.extra})
            },
            rate_unit=self.entry.rate_unit,
        )

    @staticmethod
    def _row(variant: Variant, samples: Sequence[Sample], baseline: VariantResult) -> Row:
        result = VariantResult.of(variant, samples)
        value = stats.ratio(result.rate.median, baseline.rate.median)
        ratios = {
            key: stats.ratio(summary.median, baseline.extra[key].median)
            for key, summary in result.extra.items()
            if key in baseline.extra and baseline.extra[key].median > 0
        }
        goals = {key: goal for key, goal in variant.goals.items() if key in ratios}
        return Row(
            result=result,
            ratio=value,
            goal=variant.goal,
            met=None if variant.goal is None else variant.goal.met(value),
            extra_ratios=ratios,
            extra_goals=goals,
            extra_met={key: goal.met(ratios[key]) for key, goal in goals.items()},
        )


def current_report(
    results: Sequence[EntryResult], skipped: Mapping[str, str] | None = None
) -> Report:
    """A :class:`Report` of ``results`` for this machine and this syncapi."""
    from .. import __version__

    return Report(
        syncapi_version=__version__,
        machine=Machine.current(),
        results=tuple(results),
        skipped=dict(skipped or {}),
        versions=library_versions(),
    )


LIBRARIES = (
    "kafka-python",
    "pika",
    "kombu",
    "faststream",
    "aiokafka",
    "aio-pika",
    "requests",
    "werkzeug",
    "flask",
    "websocket-client",
    "wsproto",
)
"""The libraries whose versions a report records (those installed)."""


def library_versions() -> dict[str, str]:
    """The installed version of each of :data:`LIBRARIES`, by name (absent ones left out)."""
    from importlib import metadata

    found = {}
    for name in LIBRARIES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found
