"""Turning a :class:`~syncapi.bench.runner.Report` into text and JSON.

The text form is a table per entry (stdout of ``python -m syncapi.bench``); the JSON
form (``--json PATH``) holds the same figures plus every sample, for plots and for
comparing runs. Its layout is versioned by the ``"format"`` key.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import stats
from .model import Sample
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

JSON_FORMAT = "syncapi-bench/1"
"""The value of the JSON document's ``"format"`` key; bumped when its layout changes."""

TABLE_HEADER = (
    "metric",
    "syncapi median",
    "min-max",
    "baseline median",
    "min-max",
    "ratio",
    "goal",
    "met",
)
"""The columns of the text table (throughput figures are in messages per second)."""

_RIGHT = {1, 2, 3, 4, 5}


def _num(value: float) -> str:
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:,.2f}"
    return f"{value:.3g}"


def _range(summary: stats.Summary) -> str:
    return f"{_num(summary.min)}-{_num(summary.max)}"


def _grid(rows: Sequence[Sequence[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [
            cell.rjust(width) if i in _RIGHT else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append((indent + "  ".join(cells)).rstrip())
    return lines


def _row_cells(row: Row, baseline: VariantResult) -> list[list[str]]:
    result = row.result
    met = "-" if row.met is None else ("yes" if row.met else "NO")
    cells = [
        [
            result.metric or result.name,
            _num(result.rate.median),
            _range(result.rate),
            _num(baseline.rate.median),
            _range(baseline.rate),
            f"{row.ratio:.3f}x",
            "-" if row.goal is None else str(row.goal),
            met,
        ]
    ]
    for key, summary in result.extra.items():
        base = baseline.extra.get(key)
        if base is None:
            continue
        value = f"{stats.ratio(summary.median, base.median):.3f}x" if base.median > 0 else "-"
        cells.append(
            [
                f"  {key}",
                _num(summary.median),
                _range(summary),
                _num(base.median),
                _range(base),
                value,
                "-",
                "-",
            ]
        )
    return cells


def format_table(result: EntryResult) -> str:
    """One entry's result as a plain-text block: a title, the run's parameters, a legend
    and the table (see :data:`TABLE_HEADER`)."""
    params = result.params
    letters = [chr(ord("A") + i) for i in range(min(len(result.rows) + 1, 26))]
    names = f"{' '.join(letters)}, {' '.join(reversed(letters))}"
    lines = [
        f"{result.entry}: {result.description}",
        f"  {params.messages:,} messages of {params.size:,} bytes per run; "
        f"{result.rounds} timed rounds alternating {names}, ... (+{result.warmup_rounds} warm-up)",
        f"  baseline: {result.baseline.name}; throughput in msg/s; ratio = syncapi median / baseline median",
        "",
    ]
    grid = [list(TABLE_HEADER)]
    for row in result.rows:
        grid.extend(_row_cells(row, result.baseline))
    table = _grid(grid)
    rule = "  " + "-" * (max(len(line) for line in table) - 2)
    lines += [table[0], rule, *table[1:]]
    return "\n".join(lines)


def format_header(syncapi_version: str, machine: Machine) -> str:
    """The first line of the text report: syncapi's version and the machine."""
    return f"syncapi {syncapi_version} benchmarks on {machine}"


def format_skipped(name: str, reason: str) -> str:
    """The line for an entry that could not run here."""
    return f"{name}: skipped: {reason}"


def format_report(report: Report) -> str:
    """The whole report as text: the header (syncapi version, machine) and every entry."""
    parts = [format_header(report.syncapi_version, report.machine)]
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


def _entry_json(result: EntryResult) -> dict[str, Any]:
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
        "baseline": _variant_json(result.baseline),
        "rows": [
            {
                **_variant_json(row.result),
                "ratio": _finite(row.ratio),
                "goal": None
                if row.goal is None
                else {"min_ratio": row.goal.min_ratio, "max_ratio": row.goal.max_ratio},
                "met": row.met,
            }
            for row in result.rows
        ],
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
        "results": [_entry_json(r) for r in report.results],
        "skipped": dict(report.skipped),
    }


def write_json(report: Report, path: str | Path) -> None:
    """Write :func:`to_json` of ``report`` to ``path`` (UTF-8, indented)."""
    text = json.dumps(to_json(report), indent=2, allow_nan=False)
    Path(path).write_text(text + "\n", encoding="utf-8")
