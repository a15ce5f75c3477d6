"""Which offsets a Kafka subscriber may commit: at-least-once bookkeeping.

Kafka commits a position per partition, not single messages, so a message may only be
counted as done when every message before it in its partition is done too. The tracker
keeps, per partition, the delivered messages not yet settled (in offset order); the
committable position is the first of them, or the offset after the last one delivered
when all are settled.

Acks and nacks come from any worker thread; the subscriber's fetching thread reads the
committable positions and applies rewinds. One lock guards it all; every operation is
O(1) per message except a rewind, which withdraws the later messages of its partition.

A *rewind* (a nack with requeue, or a message handed back unstarted) moves the partition
back to that message: it and the messages delivered after it in that partition leave the
pending ones, those after it are *withdrawn* (settled without a callback, so the receive
loop skips them), and all come again. The messages *before* it are not touched: with
several workers their callbacks may still run, and their acks count as usual.

A message may settle (or rewind) only while it is pending itself: the pending entry of its
offset must be that very message. So a late ack of a message that a rewind or a
revocation took back changes nothing — not even once its offset was delivered again (a
new message object) — while a rewind never invalidates anything before its offset.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable, Iterable
from typing import Any, Protocol

__all__ = ["OffsetTracker", "Tracked"]


class Tracked(Protocol):
    """What the tracker needs of a delivered message (compared by identity: each delivery
    is a new object)."""

    _tp: Hashable
    _offset: int

    def _withdraw(self) -> None:
        """Settle the message without a callback: it will be delivered again."""


class _Partition:
    __slots__ = ("committed", "next", "pending", "rewind")

    def __init__(self) -> None:
        # delivered, unsettled, not taken back; insertion = offset order. The one right to
        # settle: a message may settle only while it is the entry of its offset here
        self.pending: dict[int, Tracked] = {}
        self.next: int | None = None  # offset after the last delivered
        self.committed: int | None = None  # last position committed (or being committed)
        self.rewind: int | None = None  # seek wanted before the next fetch


class OffsetTracker:
    """Delivered, settled and committable offsets of one subscriber (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._parts: dict[Hashable, _Partition] = {}
        self._failures: dict[tuple[Hashable, int], int] = {}  # nacked deliveries so far
        self._rewinds = 0  # partitions with a rewind to apply (a cheap "anything to do?")

    # -- the fetching thread ---------------------------------------------------------
    def delivered(self, tp: Hashable, messages: list[Any]) -> bool:
        """Register ``messages`` of partition ``tp`` (in offset order, after every pending
        one). Messages of a partition with a rewind pending are refused (``False``): they
        were fetched before the seek, so the caller drops them and they come again after
        it."""
        with self._lock:
            part = self._parts.get(tp)
            if part is None:
                part = self._parts[tp] = _Partition()
            if part.rewind is not None:
                return False
            pending = part.pending
            for msg in messages:
                pending[msg._offset] = msg
            part.next = messages[-1]._offset + 1
            return True

    def delivery_count(self, tp: Hashable, offset: int) -> int:
        """How many times the message was delivered, counting this time."""
        if not self._failures:
            return 1
        with self._lock:
            return self._failures.get((tp, offset), 0) + 1

    def take_rewinds(self) -> list[tuple[Hashable, int]]:
        """The ``(partition, offset)`` seeks to apply now; they count as applied."""
        if not self._rewinds:
            return []
        with self._lock:
            out = []
            for tp, part in self._parts.items():
                if part.rewind is not None:
                    out.append((tp, part.rewind))
                    part.rewind = None
            self._rewinds = 0
            return out

    def to_commit(self) -> dict[Hashable, int]:
        """Committable positions that moved since the last commit; marked as committed."""
        with self._lock:
            out = {}
            for tp, part in self._parts.items():
                position = self._position(part)
                if position is not None and position != part.committed:
                    out[tp] = part.committed = position
            return out

    def commit_failed(self, offsets: dict[Hashable, int]) -> None:
        """Forget that ``offsets`` were committed, so that the next commit sends them again."""
        with self._lock:
            for tp, offset in offsets.items():
                part = self._parts.get(tp)
                if part is not None and part.committed == offset:
                    part.committed = None

    @staticmethod
    def _position(part: _Partition) -> int | None:
        for offset in part.pending:
            return offset
        return part.next

    # -- any thread -------------------------------------------------------------------
    def settle(self, msg: Tracked) -> bool:
        """The message is done (acked, or rejected and dead-lettered); ``False`` if it was
        stale: taken back since it was delivered (by a rewind to it or to an earlier
        offset of its partition, or by a revocation), or settled already. A rewind to a
        later offset leaves it pending, so it settles as usual."""
        tp, offset = msg._tp, msg._offset
        with self._lock:
            part = self._parts.get(tp)
            if part is None or part.pending.get(offset) is not msg:
                return False
            del part.pending[offset]
            if self._failures:
                self._failures.pop((tp, msg._offset), None)
            return True

    def rewind(self, msg: Tracked, *, failed: bool = True) -> int:
        """Deliver ``msg`` again: rewind its partition to it. Returns how many deliveries
        failed so far (this one included when ``failed``), or 0 when the message was
        stale (see :meth:`settle`) — or when ``failed=False`` and none failed yet.
        ``failed=False`` hands back a message no callback ran for.

        Only ``msg`` and the messages after it are taken back (those after it are
        withdrawn); the pending messages before it keep their right to settle, and the
        committable position moves past them once they are settled."""
        tp, offset = msg._tp, msg._offset
        with self._lock:
            part = self._parts.get(tp)
            if part is None or part.pending.get(offset) is not msg:
                return 0
            later = [m for o, m in part.pending.items() if o > offset]
            for m in later:
                del part.pending[m._offset]
            del part.pending[offset]
            part.next = offset
            if part.rewind is None or offset < part.rewind:
                if part.rewind is None:
                    self._rewinds += 1
                part.rewind = offset
            failures = self._failures.get((tp, offset), 0) + int(failed)
            if failures:
                self._failures[(tp, offset)] = failures
        for m in later:
            m._withdraw()
        return failures

    def pending(self, tps: Iterable[Hashable]) -> int:
        """How many delivered messages of partitions ``tps`` are not settled yet."""
        with self._lock:
            return sum(len(p.pending) for tp in tps if (p := self._parts.get(tp)) is not None)

    def revoke(
        self, tps: Iterable[Hashable], floors: dict[Hashable, int] | None = None
    ) -> dict[Hashable, int]:
        """Take partitions ``tps`` away; return their committable positions not yet
        committed.

        Their unsettled messages are withdrawn. Each partition is also rewound to its
        position (or to ``floors[tp]``, the first offset polled but not handed out, when
        lower): kafka-python keeps a partition's read position when the next assignment
        gives it back to the same member, and the withdrawn messages must come again
        then. If the partition goes elsewhere, the seek is skipped.
        """
        floors = floors or {}
        withdrawn: list[Tracked] = []
        out: dict[Hashable, int] = {}
        tps = list(tps)
        with self._lock:
            for tp in set(tps) | set(floors):
                part = self._parts.pop(tp, None)
                position = None
                committed = None
                if part is not None:
                    position = self._position(part)
                    committed = part.committed
                    withdrawn.extend(part.pending.values())
                    if part.rewind is not None:
                        self._rewinds -= 1
                        position = part.rewind if position is None else min(position, part.rewind)
                floor = floors.get(tp)
                if floor is not None:
                    position = floor if position is None else min(position, floor)
                if position is not None and position != committed:
                    # also for a partition polled but never handed out: the next owner
                    # must not start at auto_offset_reset="latest" past those messages
                    out[tp] = position
                if position is not None:
                    # a fresh partition: the messages delivered before are none of its
                    # pending ones, so their late acks are stale
                    fresh = self._parts[tp] = _Partition()
                    fresh.rewind = position
                    self._rewinds += 1
            if self._failures:
                for key in [k for k in self._failures if k[0] in tps]:
                    del self._failures[key]
        for msg in withdrawn:
            msg._withdraw()
        return out
