"""Small helpers for tests of anything that receives: collect messages, wait for them."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..core import EnvelopeReader

__all__ = ["Collector", "Received", "wait_until"]


@dataclass(frozen=True)
class Received:
    """A snapshot of one received message, safe to keep after the callback returned."""

    payload: bytes
    headers: dict[str, str | bytes] = field(default_factory=dict)
    content_type: str | None = None
    channel: str = ""
    redelivered: bool = False
    thread: str = ""


class Collector:
    """A receive callback that records every message and lets a test wait for them.

    >>> collect = Collector(expected=3)
    >>> worker = subscriber.start(collect)            # doctest: +SKIP
    >>> assert collect.wait(timeout=10)               # doctest: +SKIP

    Args:
        expected: :meth:`wait` returns once this many messages arrived.
        fail: an optional predicate; the callback raises ``RuntimeError`` for a message
            it accepts (to test error policies) — that message is still recorded.
        delay: seconds to sleep in each callback (to test slow consumers).
        on_message: an optional extra callable run for each message.
    """

    def __init__(
        self,
        expected: int | None = None,
        *,
        fail: Callable[[Received], bool] | None = None,
        delay: float = 0.0,
        on_message: Callable[[EnvelopeReader], object] | None = None,
    ) -> None:
        self.expected = expected
        self.fail = fail
        self.delay = delay
        self.on_message = on_message
        self.items: list[Received] = []
        self._lock = threading.Lock()
        self._enough = threading.Event()

    def __call__(self, env: EnvelopeReader) -> None:
        item = Received(
            payload=env.read(),
            headers=dict(env.headers),
            content_type=env.content_type,
            channel=env.channel,
            redelivered=bool(getattr(env, "redelivered", False)),
            thread=threading.current_thread().name,
        )
        with self._lock:
            self.items.append(item)
            if self.expected is not None and len(self.items) >= self.expected:
                self._enough.set()
        if self.on_message is not None:
            self.on_message(env)
        if self.delay:
            time.sleep(self.delay)
        if self.fail is not None and self.fail(item):
            raise RuntimeError(f"Collector: failing on purpose for {item.payload[:40]!r}")

    def wait(self, timeout: float) -> bool:
        """Wait until ``expected`` messages arrived; ``False`` on timeout."""
        return self._enough.wait(timeout)

    @property
    def payloads(self) -> list[bytes]:
        """The payloads received so far, in arrival order."""
        with self._lock:
            return [item.payload for item in self.items]

    def __len__(self) -> int:
        with self._lock:
            return len(self.items)


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.01) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` seconds passed; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
