"""Received messages waiting for a receive loop: the :class:`Inbox` a protocol's reader
thread fills and the :class:`InboxSubscriber` whose ``_fetch`` empties it.

For protocols whose messages arrive on threads of their own (a socket reader per
connection: WebSocket, TCP, UDP, raw IP) rather than from a client library's poll.
"""

from __future__ import annotations

import collections
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from . import core
from .errors import ClosedError

__all__ = ["Inbox", "InboxSubscriber", "deadline_left"]


class InboxSubscriber(core.Subscriber):
    """A subscriber whose messages wait in an :class:`Inbox` (``self._inbox``, set by the
    subclass): ``_fetch`` takes items from it and :meth:`_readers` turns them into
    envelopes; a message a stopped loop never ran is handed back (:meth:`_release`).

    A reader should keep the inbox item it was made from as ``_item`` (``None`` when it
    must not be handed back)."""

    default_on_error = "reject"  # no redelivery on a socket: log and drop
    _inbox: Inbox

    def _readers(self, items: list[Any]) -> list[core.EnvelopeReader]:
        """Hook: the envelopes of ``items`` (what the reader thread put in the inbox)."""
        raise NotImplementedError

    def _fetch(self, max_messages: int, timeout: float | None) -> Sequence[core.EnvelopeReader]:
        if self._closed:
            raise ClosedError(f"{self!r} is closed")
        return self._readers(self._inbox.get(max_messages, timeout))

    def _interrupt(self) -> None:
        self._inbox.wake()

    # -- direct dispatch ------------------------------------------------------------------
    direct_dispatch = True
    _direct: Any = None  # the runtime loop pushed batches go to, or None

    def _attach_direct(self, loop: Any) -> None:
        self._inbox.resync()
        self._direct = loop

    def _detach_direct(self, loop: Any) -> None:
        if self._direct is loop:
            self._direct = None

    def _direct_waiting(self) -> bool:
        return self._inbox.waiting

    def _direct_done(self, size: int) -> None:
        self._inbox.done(size)

    def _offer(self, items: list[Any], stop: threading.Event | None = None) -> bool:
        """Hand the messages of one read over: run them on this (reader) thread when a
        direct loop is idle, else queue them (waiting while the inbox is full). ``False``
        once the inbox is finished."""
        loop = self._direct
        if loop is not None and loop.run_pushed(lambda: self._readers(items)):
            return True
        return self._inbox.put_many(items, stop)

    def _release(self, envelope: core.EnvelopeReader) -> None:
        item = getattr(envelope, "_item", None)
        if item is not None:
            self._inbox.give_back(item)  # the loop stopped before its callback: next time


_WAKE = object()


class Inbox:
    """Messages received on a reader thread, waiting for a receive loop's ``_fetch``.

    Bounded: :meth:`put` blocks the reader when ``limit`` messages wait (or, with
    ``max_bytes``, when that many bytes wait, as ``sizeof`` measures an item), so a slow
    receiver slows the sender down (TCP flow control) instead of filling memory.
    Messages a loop fetched but did not run come back first (:meth:`give_back`).
    :meth:`wake` may be called from a signal handler (it takes no lock).
    """

    def __init__(
        self,
        limit: int,
        *,
        max_bytes: int | None = None,
        sizeof: Callable[[Any], int] = len,
    ) -> None:
        self._items: queue.SimpleQueue[Any] = queue.SimpleQueue()  # put() never blocks
        self._returned: collections.deque[Any] = collections.deque()
        self._limit = limit
        self._max_bytes = max_bytes
        self._sizeof = sizeof
        self._bytes = 0  # with max_bytes: the size of what is counted in _count
        # messages queued, handed back or running, not yet done (direct dispatch: a
        # pushed batch may run only when none wait, so that it passes none of them)
        self._unfinished = 0
        self._back_at = 0  # where the next give_back goes in _returned (after a get: 0)
        # re-entrant: a signal handler that closes the subscriber (finish, drop) may have
        # interrupted this very thread inside get() or put_many()
        self._space = threading.Condition(threading.RLock())
        self._count = 0  # messages queued or handed back, not yet taken
        self._closed = False
        self._error: BaseException | None = None
        self._waiters = 0
        self._waiters_lock = threading.Lock()
        self._blocked = 0  # puts waiting for room now

    def put(self, item: Any, stop: threading.Event | None = None) -> bool:
        """Queue ``item``, waiting while the inbox is full. ``False`` (not queued) once
        the inbox is finished. When ``stop`` is set while it waits, the item is queued
        over the limit (the connection is ending, and what it read is kept), up to twice
        the limit; beyond that it is not queued (``False``)."""
        return self.put_many((item,), stop)

    def put_many(self, items: Sequence[Any], stop: threading.Event | None = None) -> bool:
        """:meth:`put` for the messages of one read: as many as there is room for go in
        at once (one wake-up), and the wait for room is taken for the rest."""
        done = 0
        with self._space:
            while done < len(items):
                if self._full() and not self._closed:
                    self._blocked += 1
                    try:
                        while self._full() and not self._closed:
                            if stop is not None and stop.is_set():
                                break
                            self._space.wait(0.25)
                    finally:
                        self._blocked -= 1
                if self._closed:
                    return False
                room = self._limit - self._count
                if room <= 0 or self._full():  # stop was set: the rest goes over the limit,
                    if self._full(2):  # up to twice the limit (a flood must not fill memory)
                        return False
                    room = len(items) - done
                if self._max_bytes is not None:
                    room = self._byte_room(items, done, room)
                put = self._items.put
                for item in items[done : done + room]:  # under the lock: never after the
                    put(item)  # end marker of finish()
                taken = min(room, len(items) - done)
                self._count += taken
                self._unfinished += taken
                done += taken
        return True

    def _full(self, times: int = 1) -> bool:
        return self._count >= times * self._limit or (
            self._max_bytes is not None and self._bytes >= times * self._max_bytes
        )

    def _byte_room(self, items: Sequence[Any], start: int, room: int) -> int:
        """How many of ``items[start:start + room]`` fit under ``max_bytes`` (at least
        one: a message bigger than the limit goes in alone); counts their bytes."""
        assert self._max_bytes is not None
        sizeof = self._sizeof
        over = self._full()  # stop was set: everything goes in
        taken = 0
        for item in items[start : start + room]:
            if taken and not over and self._bytes >= self._max_bytes:
                break
            self._bytes += sizeof(item)
            taken += 1
        return taken

    def give_back(self, item: Any) -> None:
        """Return a fetched message no callback ran for: the next :meth:`get` has it first
        (the messages a loop hands back after one fetch keep their order, ahead of any
        handed back before)."""
        with self._space:
            self._returned.insert(self._back_at, item)
            self._back_at += 1
            self._count += 1
            self._unfinished += 1
            if self._max_bytes is not None:
                self._bytes += self._sizeof(item)
        self._items.put(_WAKE)  # a blocked get() looks again

    def get(self, max_items: int, timeout: float | None) -> list[Any]:
        """Up to ``max_items`` items, waiting up to ``timeout`` for the first; ``[]`` on
        timeout or after :meth:`wake`.

        Raises:
            BaseException: the error given to :meth:`finish`, once the inbox is empty.
            ClosedError: the inbox was finished without an error and is empty.
        """
        if self._returned:
            with self._space:
                out: list[Any] = []
                while self._returned and len(out) < max_items:
                    out.append(self._returned.popleft())
                if out:
                    self._back_at = 0
                    self._count -= len(out)
                    if self._max_bytes is not None:
                        self._bytes -= sum(map(self._sizeof, out))
                    if self._blocked:
                        self._space.notify_all()
                    return out
        with self._waiters_lock:
            self._waiters += 1
        try:
            try:
                first = (
                    self._items.get(timeout=timeout) if timeout != 0 else self._items.get_nowait()
                )
            except queue.Empty:
                return []
        finally:
            with self._waiters_lock:
                self._waiters -= 1
        if first is _WAKE:
            if self._closed and self._items.empty() and not self._returned:
                self._raise_end()
            return []
        out = [first]
        items = self._items
        while len(out) < max_items and not items.empty():
            try:
                item = items.get_nowait()
            except queue.Empty:  # a drop() at close took it
                break
            if item is _WAKE:
                items.put(_WAKE)  # maybe the end marker: keep it for the next get
                break
            out.append(item)
        with self._space:
            self._back_at = 0
            self._count -= len(out)
            if self._max_bytes is not None:
                self._bytes -= sum(map(self._sizeof, out))
            if self._blocked:
                self._space.notify_all()
        return out

    def _raise_end(self) -> None:
        self._items.put(_WAKE)  # every later get ends too
        if self._error is not None:
            raise self._error
        raise ClosedError("the connection is closed")

    def wake(self) -> None:
        """Make every blocked :meth:`get` return ``[]`` soon. Takes no lock, so a signal
        handler may call it."""
        for _ in range(max(1, self._waiters)):
            self._items.put(_WAKE)

    def finish(self, error: BaseException | None = None) -> None:
        """No more items will come: :meth:`get` drains what is queued, then raises
        ``error`` (or :class:`~syncapi.errors.ClosedError`). Blocked puts return."""
        with self._space:
            if self._closed:
                return
            self._closed = True
            self._error = error
            self._items.put(_WAKE)
            self._space.notify_all()

    def drop(self) -> int:
        """Discard what is queued; return how many messages that was."""
        with self._space:
            dropped = len(self._returned)
            self._returned.clear()
            self._back_at = 0
            while True:
                try:
                    item = self._items.get_nowait()
                except queue.Empty:
                    break
                if item is not _WAKE:
                    dropped += 1
            if self._closed:
                self._items.put(_WAKE)
            self._count = 0
            self._bytes = 0
            self._unfinished = 0
            self._space.notify_all()
        return dropped

    def done(self, count: int) -> None:
        """``count`` fetched messages ran (or were handed back: :meth:`give_back`
        counted them again)."""
        with self._space:
            self._unfinished = max(0, self._unfinished - count)

    def resync(self) -> None:
        """Count what waits now as all that is unfinished (a direct loop starts: nothing
        runs, and loops before it may not have reported what they ran)."""
        with self._space:
            self._unfinished = self._count

    @property
    def waiting(self) -> bool:
        """Whether messages wait (queued, handed back, or fetched and not yet done)."""
        return self._unfinished > 0

    @property
    def blocked(self) -> bool:
        """Whether a :meth:`put` waits for room now (a reader is not reading)."""
        return self._blocked > 0


def deadline_left(deadline: float | None) -> float | None:
    """Seconds left until ``deadline`` (a ``time.monotonic()`` value), ``None`` for none."""
    return None if deadline is None else max(0.0, deadline - time.monotonic())
