"""Statistics of benchmark samples: pure functions, no clocks, no threads.

The harness reports, per variant, the median of its rounds, their spread (min–max) and
the ratio of its median to the baseline's median. :func:`percentile` is here for the
latency figures (p50/p99) that entries may report.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["Summary", "median", "percentile", "ratio", "spread", "summarize"]


def _values(values: Iterable[float], what: str) -> list[float]:
    out = [float(v) for v in values]
    if not out:
        raise ValueError(f"{what} of no values")
    for v in out:
        if math.isnan(v):
            raise ValueError(f"{what} of a NaN value")
    return out


def median(values: Iterable[float]) -> float:
    """The middle value of ``values`` (the mean of the two middle ones for an even count).

    Raises:
        ValueError: ``values`` is empty or holds a NaN.
    """
    ordered = sorted(_values(values, "median"))
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2.0


def spread(values: Iterable[float]) -> tuple[float, float]:
    """The smallest and the largest of ``values``, as ``(min, max)``.

    Raises:
        ValueError: ``values`` is empty or holds a NaN.
    """
    vals = _values(values, "spread")
    return min(vals), max(vals)


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0 ≤ q ≤ 100) of ``values``, linearly interpolated
    between the two nearest ranks (``percentile(v, 50) == median(v)``).

    Raises:
        ValueError: ``values`` is empty or holds a NaN, or ``q`` is out of range.
    """
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile must be within 0..100, got {q}")
    ordered = sorted(_values(values, "percentile"))
    position = (len(ordered) - 1) * q / 100.0
    low = math.floor(position)
    high = math.ceil(position)
    if low == high:
        return ordered[low]
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def ratio(value: float, baseline: float) -> float:
    """``value / baseline``: how a variant compares with its baseline (1.0 = as fast).

    Raises:
        ValueError: ``baseline`` is not a positive number.
    """
    if not baseline > 0.0:  # also rejects NaN
        raise ValueError(f"the baseline must be positive to compare with it, got {baseline}")
    return value / baseline


@dataclass(frozen=True)
class Summary:
    """Median and spread of one figure over the timed rounds.

    Attributes:
        median: the median value.
        min: the smallest value.
        max: the largest value.
        count: how many values were summarised.
    """

    median: float
    min: float
    max: float
    count: int


def summarize(values: Iterable[float]) -> Summary:
    """Summarise ``values`` as a :class:`Summary` (median, min, max, count).

    Raises:
        ValueError: ``values`` is empty or holds a NaN.
    """
    vals = _values(values, "summary")
    low, high = spread(vals)
    return Summary(median=median(vals), min=low, max=high, count=len(vals))
