"""The progress line of ``syncapi send`` (drawn on a terminal only)."""

from __future__ import annotations

import io

from syncapi.progress import Progress


def test_line_with_a_total_has_a_bar_percent_and_time_left() -> None:
    bar = Progress(io.StringIO(), 200, enabled=False)
    bar.update(50)
    line = bar.line(now=bar._started + 1.0, width=70)
    assert line.startswith("sent [") and " 25%" in line and "50/200" in line
    assert "50 msg/s" in line and "left 3.0 s" in line
    assert len(line) <= 70
    assert line.count("#") * 3 <= line.count("-") + 1  # a quarter of the bar is filled


def test_line_without_a_total_counts_and_times() -> None:
    bar = Progress(io.StringIO(), None, enabled=False)
    bar.update(1500)
    assert bar.line(now=bar._started + 75, width=80) == "sent 1,500  20 msg/s  1:15"


def test_narrow_terminal_drops_the_bar() -> None:
    bar = Progress(io.StringIO(), 10, enabled=False)
    bar.update(10)
    line = bar.line(now=bar._started + 2, width=30)
    assert "[" not in line and len(line) <= 30 and "100%" in line


def test_disabled_writes_nothing_and_enabled_ends_with_a_newline() -> None:
    quiet = io.StringIO()
    with Progress(quiet, 5, enabled=False) as bar:
        bar.update(5)
    assert quiet.getvalue() == ""
    shown = io.StringIO()
    with Progress(shown, 5, interval=0.0) as bar:
        bar.update(5)
    text = shown.getvalue()
    assert text.startswith("\r") and text.endswith("\n") and "5/5" in text
    bar.close()  # idempotent
    assert shown.getvalue() == text


def test_a_quick_run_draws_nothing() -> None:
    """A send that ends before the first redraw interval leaves no line behind."""
    out = io.StringIO()
    with Progress(out, 1, interval=60.0) as bar:
        bar.update(1)
    assert out.getvalue() == ""
