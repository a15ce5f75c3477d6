"""What a benchmark entry is made of: parameters, samples, goals, variants and entries.

An :class:`Entry` benchmarks one protocol (or one feature) against a *baseline*: the
plainest way to do the same job without syncapi. Each of its :class:`Variant`\\ s is a
callable that does the job once with the given :class:`Params` and returns one
:class:`Sample` (how many messages, in how many seconds, plus optional extra figures).
The runner (:mod:`syncapi.bench.runner`) calls the variants alternately, round after
round, and compares each non-baseline variant with the baseline.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = ["Entry", "Goal", "Metric", "Params", "Sample", "Variant", "VariantFunc"]


@dataclass(frozen=True)
class Params:
    """What one run of a variant is asked to do.

    Attributes:
        messages: how many messages to move.
        size: the payload size of each message, in bytes.
        options: entry-specific settings (e.g. a broker URL), by name.
    """

    messages: int
    size: int
    options: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.messages < 1:
            raise ValueError(f"messages must be >= 1, got {self.messages}")
        if self.size < 0:
            raise ValueError(f"size must be >= 0, got {self.size}")

    def payload(self) -> bytes:
        """A payload of :attr:`size` bytes (not all zeros, so nothing can shortcut it)."""
        pattern = bytes(range(256))
        whole, rest = divmod(self.size, len(pattern))
        return pattern * whole + pattern[:rest]


@dataclass(frozen=True)
class Sample:
    """The measurement of one run of one variant.

    Attributes:
        messages: how many messages the run moved.
        seconds: how long it took (wall clock, ``time.perf_counter``).
        extra: further figures of the run by name (e.g. ``"latency_p99_ms"``,
            ``"rss_mb"``, ``"threads"``); the runner summarises each over the rounds.
    """

    messages: int
    seconds: float
    extra: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.messages < 1:
            raise ValueError(f"a sample needs at least one message, got {self.messages}")
        if not (self.seconds > 0.0 and math.isfinite(self.seconds)):
            raise ValueError(f"a sample needs a positive, finite duration, got {self.seconds}")
        object.__setattr__(self, "extra", MappingProxyType(dict(self.extra)))

    @property
    def rate(self) -> float:
        """Throughput of the run, in messages per second."""
        return self.messages / self.seconds


@dataclass(frozen=True)
class Goal:
    """What ratio to the baseline a variant must reach (both bounds inclusive).

    Attributes:
        min_ratio: the variant's median must be at least this times the baseline's
            (throughput: higher is better).
        max_ratio: the variant's median must be at most this times the baseline's
            (latency, memory: lower is better).
    """

    min_ratio: float | None = None
    max_ratio: float | None = None

    def __post_init__(self) -> None:
        if self.min_ratio is None and self.max_ratio is None:
            raise ValueError("a goal needs min_ratio, max_ratio or both")

    def met(self, value: float) -> bool:
        """Whether the ratio ``value`` meets the goal."""
        if self.min_ratio is not None and value < self.min_ratio:
            return False
        return not (self.max_ratio is not None and value > self.max_ratio)

    def __str__(self) -> str:
        parts = []
        if self.min_ratio is not None:
            parts.append(f">= {self.min_ratio:.2f}x")
        if self.max_ratio is not None:
            parts.append(f"<= {self.max_ratio:.2f}x")
        return ", ".join(parts)


@dataclass(frozen=True)
class Metric:
    """How to show and compare one figure of a sample's ``extra``.

    Attributes:
        unit: what the figure counts (``"msg/s"``, ``"ms"``, ``"MiB"``, ``"threads"``).
        higher_is_better: ``True`` for throughput; ``False`` for latency, memory and
            threads (a goal on such a figure is a ``max_ratio``).
    """

    unit: str = "msg/s"
    higher_is_better: bool = True


VariantFunc = Callable[[Params], Sample]
"""A variant's body: do the job once with the given parameters and measure it."""


@dataclass(frozen=True)
class Variant:
    """One way of doing an entry's job, measured on its own.

    Attributes:
        name: a short name shown in the table (``"queue.Queue"``, ``"syncapi memory://"``).
        run: the callable that does the job once and returns its :class:`Sample`.
        metric: what the row of this variant measures (``"1 producer -> 1 consumer"``).
        goal: the ratio to the baseline this variant must reach, or ``None`` (shown only).
        goals: goals on ``extra`` figures, by key (e.g. a latency's ``max_ratio``).
        check: tells whether this variant can run here (``None``) or why not (its
            library is not installed); an alternative that can't run is left out of the
            entry with that reason, a baseline or syncapi variant that can't fails it.
    """

    name: str
    run: VariantFunc
    metric: str = ""
    goal: Goal | None = None
    goals: Mapping[str, Goal] = field(default_factory=dict)
    check: Callable[[], str | None] | None = None


@dataclass(frozen=True)
class Entry:
    """A benchmark of the harness: a baseline and the syncapi variants compared with it.

    Attributes:
        name: the name given on the command line (``"memory"``).
        description: one line shown by ``--list``.
        baseline: the variant every other one is compared with: the raw client library
            (or socket loop, or ``queue.Queue``) doing the same job.
        variants: the syncapi variants, one table row each, in the order they run.
        alternatives: other libraries a user might pick instead of syncapi (FastStream,
            Kombu), doing the same jobs; they run in the same alternation, after the
            syncapi variants, and the table shows each one's median next to the
            baseline's, with syncapi's ratio to it. Their samples use the baseline's
            ``extra`` keys for the jobs they do (a key they leave out shows as absent).
        metrics: how to show each ``extra`` key (unit, and whether higher is better);
            a key not listed is a throughput in :attr:`rate_unit`.
        rate_unit: the unit of each sample's throughput, ``messages / seconds``
            (``"msg/s"``; an entry whose "messages" are subscribers says so).
        default_messages: messages per run when ``--messages`` is not given.
        check: tells whether the entry can run here: returns ``None`` when it can, else
            the reason it can't (a missing broker or library); the entry is then skipped
            with that reason.
        url_env: the environment variable the entry reads its server URL from, for an
            entry that needs a running server; ``--url`` on the command line sets it.
    """

    name: str
    description: str
    baseline: Variant
    variants: tuple[Variant, ...]
    alternatives: tuple[Variant, ...] = ()
    metrics: Mapping[str, Metric] = field(default_factory=dict)
    default_messages: int = 50_000
    check: Callable[[], str | None] | None = None
    url_env: str | None = None
    rate_unit: str = "msg/s"

    def __post_init__(self) -> None:
        if not self.variants:
            raise ValueError(f"entry {self.name!r} needs at least one variant besides its baseline")
        names = [v.name for v in self.all_variants]
        if len(set(names)) != len(names):
            raise ValueError(f"entry {self.name!r}: variant names must be unique, got {names}")
        if self.default_messages < 1:
            raise ValueError(f"entry {self.name!r}: default_messages must be >= 1")

    @property
    def all_variants(self) -> tuple[Variant, ...]:
        """The baseline first, then the syncapi variants, then the alternatives: the
        order of every round."""
        return (self.baseline, *self.variants, *self.alternatives)

    def metric(self, key: str) -> Metric:
        """How to show the ``extra`` figure ``key`` (a throughput unless declared)."""
        return self.metrics.get(key, Metric(unit=self.rate_unit))
