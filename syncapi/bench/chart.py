"""A PNG chart of a benchmark report (``python -m syncapi.bench --chart PATH``).

One horizontal line per figure of the report (each syncapi variant's throughput and each
``extra`` figure it shares with its baseline), grouped by entry. Every figure is shown
*relative to the baseline* (the raw client library, socket loop or ``queue.Queue``) so
that figures of different units fit one axis: a bar for syncapi, a marker for each
alternative library (FastStream, Kombu...). The scale is oriented so that right of 1 is
always better: throughput is ``value / baseline``, latency, memory and threads are
``baseline / value``. The x axis is logarithmic, the goal of a figure is a tick on its
line, and the footer names the machine and the library versions.

matplotlib is needed only here (the ``bench`` extra); it is imported when a chart is
drawn, with the ``Agg`` backend (no display).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from .model import Goal
from .runner import EntryResult, Report

__all__ = ["ChartLine", "chart_lines", "write_chart"]

_MARKERS = ("o", "s", "D", "^", "v")


@dataclass(frozen=True)
class ChartLine:
    """One figure of the chart.

    Attributes:
        label: ``"entry: metric"``.
        syncapi: syncapi relative to the baseline (right of 1: better).
        alternatives: each alternative library relative to the same baseline, by name.
        goal: the goal in the same orientation, or ``None``.
        met: whether syncapi meets its goal (``None`` without one).
    """

    label: str
    syncapi: float
    alternatives: dict[str, float]
    goal: float | None
    met: bool | None


def _relative(value: float, baseline: float, higher_is_better: bool) -> float:
    if not (value > 0 and baseline > 0 and math.isfinite(value) and math.isfinite(baseline)):
        return math.nan
    return value / baseline if higher_is_better else baseline / value


def _goal(goal: Goal | None, higher_is_better: bool) -> float | None:
    if goal is None:
        return None
    bound = goal.min_ratio if higher_is_better else goal.max_ratio
    if bound is None or bound <= 0:
        return None
    return bound if higher_is_better else 1.0 / bound


def _entry_lines(result: EntryResult) -> list[ChartLine]:
    lines = []
    base = result.baseline
    for row in result.rows:
        mine = row.result
        prefix = f"{result.entry}: "
        lines.append(
            ChartLine(
                label=prefix + (mine.metric or mine.name),
                syncapi=_relative(mine.rate.median, base.rate.median, True),
                alternatives={
                    alt.name: _relative(alt.rate.median, base.rate.median, True)
                    for alt in result.alternatives
                },
                goal=_goal(row.goal, True),
                met=row.met,
            )
        )
        for key, summary in mine.extra.items():
            if key not in base.extra:
                continue
            higher = result.metric(key).higher_is_better
            theirs = base.extra[key].median
            lines.append(
                ChartLine(
                    label=f"{prefix}{key}",
                    syncapi=_relative(summary.median, theirs, higher),
                    alternatives={
                        alt.name: _relative(alt.extra[key].median, theirs, higher)
                        for alt in result.alternatives
                        if key in alt.extra
                    },
                    goal=_goal(row.extra_goals.get(key), higher),
                    met=row.extra_met.get(key),
                )
            )
    return lines


_LEVEL = re.compile(r"^(?P<what>.*) @(?P<level>\d+)$")


def _top_levels(lines: list[ChartLine]) -> list[ChartLine]:
    """Of the figures measured at several levels (``"tcp: rss MiB @100"``), keep the
    highest level only: the chart stays readable, and the table has them all."""
    top: dict[str, int] = {}
    for line in lines:
        found = _LEVEL.match(line.label)
        if found:
            what, level = found["what"], int(found["level"])
            top[what] = max(top.get(what, level), level)
    kept = []
    for line in lines:
        found = _LEVEL.match(line.label)
        if found is None or int(found["level"]) == top[found["what"]]:
            kept.append(line)
    return kept


def chart_lines(report: Report) -> list[ChartLine]:
    """The figures of ``report`` as the chart shows them, in report order: each figure at
    its highest level only, and without the figures that cannot differ (syncapi exactly
    equal to the baseline with no alternative: a delivered %, a paced rate)."""
    lines = [line for result in report.results for line in _entry_lines(result)]
    lines = [line for line in lines if line.syncapi != 1.0 or line.alternatives]
    return _top_levels(lines)


def _footer(report: Report) -> str:
    versions = ", ".join(f"{name} {version}" for name, version in report.versions.items())
    return f"syncapi {report.syncapi_version} on {report.machine}\n{versions}"


def write_chart(report: Report, path: str | Path, *, title: str | None = None) -> int:
    """Draw the chart of ``report`` into the PNG file ``path``; return how many figures
    (lines) it shows.

    Raises:
        ImportError: matplotlib is not installed (``pip install 'syncapi[bench]'``).
        ValueError: the report has no figure to draw.
    """
    lines = [line for line in chart_lines(report) if math.isfinite(line.syncapi)]
    if not lines:
        raise ValueError("the report has no figure to chart")
    try:
        import matplotlib
    except ImportError as exc:
        raise ImportError(
            f"the chart needs matplotlib ({exc}): pip install 'syncapi[bench]'"
        ) from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = sorted({name for line in lines for name in line.alternatives})
    height = 2.6 + 0.24 * len(lines)
    figure, axes = plt.subplots(figsize=(11, height))
    try:
        ys = list(range(len(lines)))[::-1]
        colours = [_colour(line) for line in lines]
        # bars grow from 1 (the baseline) towards the figure: left of 1 worse, right better
        starts = [min(1.0, line.syncapi) for line in lines]
        widths = [abs(line.syncapi - 1.0) for line in lines]
        axes.barh(ys, widths, left=starts, color=colours, height=0.6, label="syncapi")
        for index, name in enumerate(names):
            finite = [
                (line.alternatives[name], y)
                for line, y in zip(lines, ys, strict=True)
                if math.isfinite(line.alternatives.get(name, math.nan))
            ]
            if finite:
                axes.scatter(
                    [x for x, _ in finite],
                    [y for _, y in finite],
                    marker=_MARKERS[index % len(_MARKERS)],
                    color="black",
                    zorder=3,
                    label=f"{name} (relative to the same baseline)",
                )
        for line, y in zip(lines, ys, strict=True):
            if line.goal is not None:
                axes.plot([line.goal, line.goal], [y - 0.4, y + 0.4], color="red", linewidth=1.5)
        axes.axvline(1.0, color="grey", linewidth=1, linestyle="--")
        axes.set_xscale("log")
        values = [line.syncapi for line in lines]
        values += [v for line in lines for v in line.alternatives.values() if math.isfinite(v)]
        values += [line.goal for line in lines if line.goal is not None]
        low = min(0.25, min(values) / 1.3)
        high = max(4.0, max(values) * 1.3)
        axes.set_xlim(low, high)
        ticks = [t for t in (0.05, 0.1, 0.25, 0.5, 1, 2, 4, 10, 25, 50) if low <= t <= high]
        axes.set_xticks(ticks)
        axes.set_xticklabels([f"{t:g}x" for t in ticks])
        axes.minorticks_off()
        axes.set_yticks(ys)
        axes.set_yticklabels([line.label for line in lines], fontsize=7)
        axes.set_ylim(-0.7, len(lines) - 0.3)
        axes.set_xlabel(
            "relative to the baseline (the raw client, socket loop or queue.Queue) = 1; "
            "right is better"
        )
        figure.suptitle(
            title or "syncapi against the raw clients (bar) and the alternatives (markers)",
            fontsize=10,
        )
        axes.grid(axis="x", alpha=0.3)
        axes.plot([], [], color="red", linewidth=1.5, label="goal")
        axes.legend(loc="lower center", bbox_to_anchor=(0.5, 1.01), ncol=4, fontsize=8)
        figure.text(0.01, 0.005, _footer(report), fontsize=7, va="bottom")
        top = 1 - 0.5 / height  # room for the title and the legend above the axes
        figure.tight_layout(rect=(0, 0.6 / height, 1, top))
        figure.savefig(str(path), dpi=110)
    finally:
        plt.close(figure)
    return len(lines)


def _colour(line: ChartLine) -> str:
    if line.met is None:
        return "#7a9cc6"
    return "#5aa469" if line.met else "#d9822b"
