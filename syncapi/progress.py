"""A one-line progress display for long runs of the ``syncapi`` command.

It redraws one line of a terminal (standard error, normally) at most ten times a second:
a bar, the percentage and the time left when the total is known, and otherwise the
count, the rate and the time so far. It writes nothing when disabled, which is what the
command does when the stream is not a terminal, so that piped or logged output stays
clean.
"""

from __future__ import annotations

import shutil
import time
from typing import TextIO

__all__ = ["Progress"]


class Progress:
    """Count done items and redraw a progress line on ``stream``.

    Args:
        stream: where to draw (a terminal).
        total: how many items there will be, or ``None`` when unknown (lines of stdin).
        enabled: draw at all; when false every method does nothing.
        label: the verb before the count (``"sent"``).
        interval: seconds between redraws at most.

    Not thread-safe: update it from one thread. Use it as a context manager, or call
    :meth:`close` to draw the final line and end it with a newline.
    """

    def __init__(
        self,
        stream: TextIO,
        total: int | None = None,
        *,
        enabled: bool = True,
        label: str = "sent",
        interval: float = 0.1,
    ) -> None:
        self.stream = stream
        self.total = total
        self.enabled = enabled
        self.label = label
        self.interval = interval
        self.done = 0
        self._started = time.monotonic()
        self._drawn_at = self._started  # the first line after one interval
        self._drawn = False
        self._closed = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def update(self, count: int = 1) -> None:
        """Add ``count`` done items; redraw when ``interval`` has passed since the last."""
        self.done += count
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._drawn_at >= self.interval:
            self._drawn_at = now
            self._draw(now)

    def close(self) -> None:
        """Draw the final line and end it with a newline (only if anything was drawn, or
        the run lasted long enough to be worth a line). Idempotent."""
        if self._closed:
            return
        self._closed = True
        if not self.enabled:
            return
        now = time.monotonic()
        if self._drawn or now - self._started >= self.interval:
            self._draw(now)
            self.stream.write("\n")
            self.stream.flush()

    def line(self, now: float | None = None, width: int | None = None) -> str:
        """The progress line as it would be drawn now, at most ``width`` characters."""
        now = time.monotonic() if now is None else now
        width = shutil.get_terminal_size((80, 24)).columns - 1 if width is None else width
        elapsed = max(now - self._started, 1e-9)
        rate = self.done / elapsed
        if self.total is None or self.total <= 0:
            text = f"{self.label} {self.done:,}  {rate:,.0f} msg/s  {_duration(elapsed)}"
            return text[:width]
        fraction = min(self.done / self.total, 1.0)
        left = (self.total - self.done) / rate if rate > 0 and fraction < 1 else None
        tail = (
            f" {fraction:4.0%}  {self.done:,}/{self.total:,}  {rate:,.0f} msg/s"
            f"  {'left ' + _duration(left) if left is not None else ''}".rstrip()
        )
        room = width - len(self.label) - len(tail) - 3
        if room < 10:
            return f"{self.label}{tail}"[:width]
        filled = int(room * fraction)
        return f"{self.label} [{'#' * filled}{'-' * (room - filled)}]{tail}"

    def _draw(self, now: float) -> None:
        self._drawn = True
        self.stream.write("\r" + self.line(now) + "\x1b[K")  # \x1b[K: clear the rest
        self.stream.flush()


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}:{secs:02d}"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"
