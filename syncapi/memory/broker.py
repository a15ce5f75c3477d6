"""The in-process broker behind ``memory://NAME``.

One :class:`Broker` per name per process, shared by every producer and consumer that uses
that name. Its model, in AMQP words:

* a **channel** fans out to **queues**; every subscriber without a group gets a queue of
  its own (deleted when it closes), and subscribers sharing a group name share one queue
  (kept when they close, so a re-created subscriber continues where the last one
  stopped);
* a channel that has no queue yet keeps what is sent to it, and hands it to the first
  queue made on it — so "send, then subscribe" works, as users of a test double expect;
* queues are **bounded** (``max_queue`` messages): a send waits while a queue it must
  reach is full, up to its timeout;
* a delivered message stays *unacked* until its subscriber acks it; a nack requeues it
  (ahead of newer messages, in its original order) until it was delivered
  ``max_deliveries`` times; a rejected or exhausted message goes to the dead-letter
  channel if one is configured, else it is dropped with an ERROR log — never silently.

One re-entrant lock guards a broker. It is re-entrant so that a stop or close called from
a signal handler on a thread that was inside the broker cannot deadlock.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, NamedTuple

from ..errors import ClosedError, TimeoutError
from ..headers import Headers

if TYPE_CHECKING:
    from .client import Subscriber

__all__ = ["Broker", "Message", "get_broker", "reset"]

_log = logging.getLogger("syncapi.memory")


class Message(NamedTuple):
    """One message as the broker keeps it (immutable once sent).

    A named tuple, because one is made per message sent: the hot paths build it with
    ``_new_message(Message, (...))``, which skips the Python-level ``__new__``.
    """

    seq: int
    channel: str
    payload: bytes
    headers: Headers | None
    content_type: str | None
    timestamp: float


_new_message = tuple.__new__


class _Queue:
    __slots__ = (
        "_waiters",
        "channel",
        "consumers",
        "durable",
        "items",
        "name",
        "not_empty",
        "redeliver",
        "waiting",
    )

    def __init__(self, channel: _Channel, name: str, durable: bool, lock: threading.RLock) -> None:
        self.channel = channel
        self.name = name
        self.durable = durable
        self.items: deque[Message] = deque()
        # (seq, delivery count so far, message): requeued messages, served first, in order
        self.redeliver: list[tuple[int, int, Message]] = []
        self.not_empty = threading.Condition(lock)
        self.consumers = 0
        self.waiting = 0  # fetching threads inside not_empty.wait()
        # CPython's Condition keeps its not-yet-notified waiters in a deque; reading it
        # spares a send the cost of notify() while a woken fetcher waits for the GIL
        # (tens of thousands of useless calls per second otherwise).
        self._waiters = getattr(self.not_empty, "_waiters", None)

    def unnotified(self) -> bool:
        """Whether a fetcher waits that no send has notified yet (call under the lock)."""
        return True if self._waiters is None else bool(self._waiters)

    def __len__(self) -> int:
        return len(self.items) + len(self.redeliver)


class _Channel:
    """A channel: its queues, and what waits for its first queue.

    ``queues`` is copy-on-write: attach and detach replace the dict, never change it,
    so a send iterating the old one stays valid even when a signal handler on the same
    thread opens or closes a subscriber in the middle of it.
    """

    __slots__ = ("backlog", "name", "queues")

    def __init__(self, name: str) -> None:
        self.name = name
        self.queues: dict[str, _Queue] = {}
        self.backlog: deque[Message] = deque()  # kept while the channel has no queue


class Broker:
    """A thread-safe in-process message broker (see the module documentation)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.lock = threading.RLock()
        self._not_full = threading.Condition(self.lock)
        self._full_waiters = 0
        self._channels: dict[str, _Channel] = {}
        self._seq = itertools.count(1)
        self._anon = itertools.count(1)

    def __repr__(self) -> str:
        return f"<memory Broker {self.name!r}>"

    def _channel(self, name: str) -> _Channel:
        ch = self._channels.get(name)
        if ch is None:
            ch = self._channels[name] = _Channel(name)
        return ch

    # -- sending -------------------------------------------------------------------------
    @staticmethod
    def _room(ch: _Channel, max_queue: int) -> tuple[int, str]:
        """Free places in the fullest queue ``ch`` reaches, and how to name that queue."""
        if not ch.queues:
            return max_queue - len(ch.backlog), "its backlog"
        room, name = max_queue, ""
        for q in ch.queues.values():
            free = max_queue - len(q.items) - len(q.redeliver)
            if free < room:
                room, name = free, q.name
        return room, f"queue {name!r}"

    def publish_one(
        self,
        channel: str,
        payload: bytes,
        headers: Headers | None,
        content_type: str | None,
        max_queue: int,
        timeout: float | None,
    ) -> None:
        """:meth:`publish` for one message: the common case, kept short."""
        with self.lock:
            ch = self._channels.get(channel)
            if ch is not None and ch.queues:
                queues = ch.queues.values()
                for q in queues:
                    if len(q.items) + len(q.redeliver) >= max_queue:
                        break
                else:
                    msg = _new_message(
                        Message,
                        (next(self._seq), channel, payload, headers, content_type, time.time()),
                    )
                    for q in queues:
                        q.items.append(msg)
                        if q.waiting and q.unnotified():
                            q.not_empty.notify()
                    return
        self.publish(
            channel, [(payload, headers, content_type)], max_queue=max_queue, timeout=timeout
        )

    def publish(
        self,
        channel: str,
        items: list[tuple[bytes, Headers | None, str | None]],
        *,
        max_queue: int,
        timeout: float | None,
    ) -> None:
        """Append messages to every queue of ``channel``, waiting while one is full.

        A batch of up to ``max_queue`` messages goes in whole or not at all; a larger one
        goes in ``max_queue``-sized parts.

        Raises:
            TimeoutError: a queue stayed full for ``timeout`` seconds (the message says
                how many of the batch were accepted).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        total, done = len(items), 0
        with self.lock:
            ch = self._channels.get(channel) or self._channel(channel)
            while done < total:
                want = min(total - done, max_queue)
                room, where = self._room(ch, max_queue)
                if room < want:
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        raise TimeoutError(
                            f"memory://{self.name}/{channel}: {where} is full ({max_queue} messages) "
                            f"and stayed full for {timeout} s; {done} of {total} envelopes were sent"
                        )
                    self._full_waiters += 1
                    try:
                        self._not_full.wait(remaining)
                    finally:
                        self._full_waiters -= 1
                    continue
                seq, now = self._seq, time.time()
                msgs = [
                    _new_message(Message, (next(seq), channel, payload, headers, content_type, now))
                    for payload, headers, content_type in items[done : done + want]
                ]
                if ch.queues:
                    for q in ch.queues.values():
                        q.items.extend(msgs)
                        if q.waiting and q.unnotified():
                            q.not_empty.notify(len(msgs))
                else:
                    ch.backlog.extend(msgs)
                done += want

    # -- subscribing ---------------------------------------------------------------------
    def attach(self, channel: str, group: str | None) -> _Queue:
        """Give a new subscriber its queue: the group's shared one, or a new one."""
        with self.lock:
            ch = self._channel(channel)
            if group is not None and group in ch.queues:
                q = ch.queues[group]
            else:
                name = group if group is not None else f"~anonymous-{next(self._anon)}"
                q = _Queue(ch, name, durable=group is not None, lock=self.lock)
                if not ch.queues and ch.backlog:
                    q.items, ch.backlog = ch.backlog, deque()
                    if self._full_waiters:
                        self._not_full.notify_all()
                ch.queues = {**ch.queues, name: q}  # copy-on-write, see _Channel
            q.consumers += 1
            return q

    def detach(self, q: _Queue, unacked: list[tuple[int, int, Message]]) -> None:
        """A subscriber leaves: requeue what it held unacked; drop an anonymous queue."""
        with self.lock:
            for entry in unacked:
                heapq.heappush(q.redeliver, entry)
            if unacked:
                q.not_empty.notify_all()
            q.consumers -= 1
            if q.consumers == 0 and not q.durable:
                ch = q.channel
                ch.queues = {n: other for n, other in ch.queues.items() if other is not q}
                if len(q):
                    _log.debug(
                        "memory://%s/%s: %d messages of closed subscriber queue %s discarded",
                        self.name,
                        ch.name,
                        len(q),
                        q.name,
                    )
                if self._full_waiters:
                    self._not_full.notify_all()

    def fetch(
        self, q: _Queue, sub: Subscriber, max_messages: int, timeout: float | None
    ) -> list[tuple[int, Message]]:
        """Take up to ``max_messages`` from ``q`` as ``(delivery count, message)`` pairs,
        waiting up to ``timeout`` for the first; ``[]`` on timeout or interrupt."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self.lock:
            wakeups = sub._wakeups
            while not (q.items or q.redeliver):
                if sub._closed:
                    raise ClosedError(f"{sub!r} is closed")
                if sub._wakeups != wakeups:
                    return []
                remaining = None
                if deadline is not None:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return []
                q.waiting += 1
                try:
                    q.not_empty.wait(remaining)
                finally:
                    q.waiting -= 1
            out: list[tuple[int, Message]] = []
            redeliver = q.redeliver
            while redeliver and len(out) < max_messages:
                _, count, msg = heapq.heappop(redeliver)
                out.append((count + 1, msg))
            items = q.items
            for _ in range(min(max_messages - len(out), len(items))):
                out.append((1, items.popleft()))
            if self._full_waiters:
                self._not_full.notify_all()
            return out

    def requeue(self, q: _Queue, count: int, msg: Message) -> None:
        """Put a nacked message back, ahead of newer ones."""
        with self.lock:
            heapq.heappush(q.redeliver, (msg.seq, count, msg))
            q.not_empty.notify()

    def wake(self, q: _Queue) -> None:
        """Wake the threads waiting on ``q``.

        The lock is only ever held for microseconds, so this waits for it 50 ms at most;
        should that pass (a signal handler interrupting a thread of this broker), the
        fetcher still wakes at its next poll.
        """
        if self.lock.acquire(timeout=0.05):
            try:
                q.not_empty.notify_all()
            finally:
                self.lock.release()

    def depth(self, channel: str, group: str | None = None) -> int:
        """Messages waiting on ``channel``: in ``group``'s queue, else in all its queues
        (or its backlog when it has none)."""
        with self.lock:
            ch = self._channels.get(channel)
            if ch is None:
                return 0
            if group is not None:
                q = ch.queues.get(group)
                return len(q) if q is not None else 0
            return sum(len(q) for q in ch.queues.values()) if ch.queues else len(ch.backlog)


_brokers: dict[str, Broker] = {}
_brokers_lock = threading.Lock()


def get_broker(name: str) -> Broker:
    """Return the process-wide broker called ``name``, making it on first use."""
    with _brokers_lock:
        broker = _brokers.get(name)
        if broker is None:
            broker = _brokers[name] = Broker(name)
        return broker


def reset(name: str | None = None) -> None:
    """Forget the broker ``name`` (every broker when ``None``) and all it holds.

    For test suites that want a clean slate; producers and consumers already connected
    keep the broker they had.
    """
    with _brokers_lock:
        if name is None:
            _brokers.clear()
        else:
            _brokers.pop(name, None)
