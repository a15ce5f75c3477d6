"""Turning a :class:`~syncapi.bench.runner.Report` into text and JSON.

The text form is a table per entry (stdout of ``python -m syncapi.bench``); the JSON
form (``--json PATH``) holds the same figures plus every sample, for plots and for
comparing runs. Its layout is versioned by the ``"format"`` key.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from . import stats
from .model import Goal, Sample
from .runner import EntryResult, Machine, Report, Row, VariantResult

__all__ = [
    "JSON_FORMAT",
    "TABLE_HEADER",
    "format_header",
    "format_report",
    "format_skipped",
    "format_table",
    "to_json",
    "write_json",
]

JSON_FORMAT = "syncapi-bench/2"
"""The value of the JSON document's ``"format"`` key; bumped when its layout changes."""

TABLE_HEADER = (
    "metric",
    "unit",
    "syncapi median",
    "min-max",
    "baseline median",
    "min-max",
    "ratio",
    "goal",
    "met",
)
"""The fixed columns of the text table; each alternative library that ran adds two more:
its median and syncapi's ratio to it."""

_RIGHT = {2, 3, 4, 5, 6}


def _num(value: float) -> str:
    if not math.isfinite(value):
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:,.2f}"
    return f"{value:.3g}"


def _range(summary: stats.Summary) -> str:
    return f"{_num(summary.min)}-{_num(summary.max)}"


def _ratio(value: float | None) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.3f}x"


def _grid(rows: Sequence[Sequence[str]], right: set[int], indent: str = "  ") -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [
            cell.rjust(width) if i in right else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append((indent + "  ".join(cells)).rstrip())
    return lines


def _met(met: bool | None) -> str:
    return "-" if met is None else ("yes" if met else "NO")


def _versus(mine: stats.Summary | None, theirs: stats.Summary | None) -> list[str]:
    """An alternative's cells: its median and syncapi's ratio to it."""
    if theirs is None:
        return ["-", "-"]
    if mine is None or theirs.median <= 0:
        return [_num(theirs.median), "-"]
    return [_num(theirs.median), _ratio(stats.ratio(mine.median, theirs.median))]


def _row_cells(row: Row, result: EntryResult) -> list[list[str]]:
    mine = row.result
    base = result.baseline
    first = [
        mine.metric or mine.name,
        result.rate_unit,
        _num(mine.rate.median),
        _range(mine.rate),
        _num(base.rate.median),
        _range(base.rate),
        _ratio(row.ratio),
        "-" if row.goal is None else str(row.goal),
        _met(row.met),
    ]
    for alt in result.alternatives:
        first += _versus(mine.rate, alt.rate)
    cells = [first]
    for key, summary in mine.extra.items():
        theirs = base.extra.get(key)
        goal = row.extra_goals.get(key)
        line = [
            f"  {key}",
            result.metric(key).unit,
            _num(summary.median),
            _range(summary),
            "-" if theirs is None else _num(theirs.median),
            "-" if theirs is None else _range(theirs),
            _ratio(row.extra_ratios.get(key)),
            "-" if goal is None else str(goal),
            _met(row.extra_met.get(key)),
        ]
        for alt in result.alternatives:
            line += _versus(summary, alt.extra.get(key))
        cells.append(line)
    return cells


def format_table(result: EntryResult) -> str:
    """One entry's result as a plain-text block: a title, the run's parameters, a legend
    and the table (see :data:`TABLE_HEADER`)."""
    params = result.params
    names = [result.baseline.name, *(row.result.name for row in result.rows)]
    names += [alt.name for alt in result.alternatives]
    letters = [chr(ord("A") + i) for i in range(min(len(names), 26))]
    order = f"{' '.join(letters)}, {' '.join(reversed(letters))}"
    legend = ", ".join(f"{letter} {name}" for letter, name in zip(letters, names, strict=False))
    lower = sorted({m.unit for m in result.metrics.values() if not m.higher_is_better})
    lines = [
        f"{result.entry}: {result.description}",
        f"  {params.messages:,} messages of {params.size:,} bytes per run; "
        f"{result.rounds} timed rounds alternating {order}, ... (+{result.warmup_rounds} warm-up)",
        f"  {legend}",
        f"  baseline: {result.baseline.name}; ratio = syncapi median / baseline median"
        + (f" ({', '.join(lower)}: lower is better)" if lower else ""),
    ]
    for name, reason in result.unavailable.items():
        lines.append(f"  not run: {name}: {reason}")
    lines.append("")
    header = list(TABLE_HEADER)
    right = set(_RIGHT)
    for alt in result.alternatives:
        right |= {len(header), len(header) + 1}
        header += [alt.name, f"vs {alt.name}"]
    grid = [header]
    for row in result.rows:
        grid.extend(_row_cells(row, result))
    table = _grid(grid, right)
    rule = "  " + "-" * (max(len(line) for line in table) - 2)
    lines += [table[0], rule, *table[1:]]
    return "\n".join(lines)


def format_header(
    syncapi_version: str, machine: Machine, versions: Mapping[str, str] | None = None
) -> str:
    """The first line of the text report: syncapi's version and the machine; then, when
    given, a line with the compared libraries' versions."""
    line = f"syncapi {syncapi_version} benchmarks on {machine}"
    if versions:
        line += "\n" + "compared with " + ", ".join(f"{k} {v}" for k, v in versions.items())
    return line


def format_skipped(name: str, reason: str) -> str:
    """The line for an entry that could not run here."""
    return f"{name}: skipped: {reason}"


def format_report(report: Report) -> str:
    """The whole report as text: the header (syncapi version, machine) and every entry."""
    parts = [format_header(report.syncapi_version, report.machine, report.versions)]
    for result in report.results:
        parts.append(format_table(result))
    for name, reason in report.skipped.items():
        parts.append(format_skipped(name, reason))
    return "\n\n".join(parts) + "\n"


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _summary_json(summary: stats.Summary) -> dict[str, Any]:
    return {
        "median": summary.median,
        "min": summary.min,
        "max": summary.max,
        "count": summary.count,
    }


def _sample_json(sample: Sample) -> dict[str, Any]:
    return {
        "messages": sample.messages,
        "seconds": sample.seconds,
        "rate": sample.rate,
        "extra": dict(sample.extra),
    }


def _variant_json(result: VariantResult) -> dict[str, Any]:
    return {
        "name": result.name,
        "metric": result.metric,
        "rate": _summary_json(result.rate),
        "extra": {key: _summary_json(s) for key, s in result.extra.items()},
        "samples": [_sample_json(s) for s in result.samples],
    }


def _goal_json(goal: Goal | None) -> dict[str, Any] | None:
    return None if goal is None else {"min_ratio": goal.min_ratio, "max_ratio": goal.max_ratio}


def _entry_json(result: EntryResult) -> dict[str, Any]:
    keys = sorted({key for row in result.rows for key in row.result.extra})
    return {
        "entry": result.entry,
        "description": result.description,
        "params": {
            "messages": result.params.messages,
            "size": result.params.size,
            "options": dict(result.params.options),
        },
        "rounds": result.rounds,
        "warmup_rounds": result.warmup_rounds,
        "order": list(result.order),
        "rate_unit": result.rate_unit,
        "metrics": {
            key: {
                "unit": result.metric(key).unit,
                "higher_is_better": result.metric(key).higher_is_better,
            }
            for key in keys
        },
        "baseline": _variant_json(result.baseline),
        "rows": [
            {
                **_variant_json(row.result),
                "ratio": _finite(row.ratio),
                "goal": _goal_json(row.goal),
                "met": row.met,
                "extra_ratios": {k: _finite(v) for k, v in row.extra_ratios.items()},
                "extra_goals": {k: _goal_json(g) for k, g in row.extra_goals.items()},
                "extra_met": dict(row.extra_met),
            }
            for row in result.rows
        ],
        "alternatives": [_variant_json(alt) for alt in result.alternatives],
        "unavailable": dict(result.unavailable),
    }


def to_json(report: Report) -> dict[str, Any]:
    """The report as a JSON-ready ``dict`` (the same figures as the table, plus every
    sample)."""
    machine = report.machine
    return {
        "format": JSON_FORMAT,
        "syncapi_version": report.syncapi_version,
        "machine": {
            "python": machine.python,
            "implementation": machine.implementation,
            "cpu_count": machine.cpu_count,
            "cpus_usable": machine.cpus_usable,
            "platform": machine.platform,
        },
        "versions": dict(report.versions),
        "results": [_entry_json(r) for r in report.results],
        "skipped": dict(report.skipped),
    }


def write_json(report: Report, path: str | Path) -> None:
    """Write :func:`to_json` of ``report`` to ``path`` (UTF-8, indented)."""
    text = json.dumps(to_json(report), indent=2, allow_nan=False)
    Path(path).write_text(text + "\n", encoding="utf-8")
