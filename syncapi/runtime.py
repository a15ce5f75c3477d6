"""Receive loops in threads: the one place syncapi starts, owns and stops threads.

A protocol supplies "fetch the next messages / ack / nack / interrupt" (the hooks of
:class:`~syncapi.core.Subscriber`); this module turns them into

* :meth:`Subscriber.receive() <syncapi.core.Subscriber.receive>` — the loop on the
  calling thread, and
* :meth:`Subscriber.start() <syncapi.core.Subscriber.start>` — the loop in background
  threads, returned as a :class:`Worker`.

Semantics, the same for every protocol:

* **Acknowledgement** (``ack=``): ``"auto"`` acks when the callback returns
  (at-least-once); ``"manual"`` leaves it to the callback (``env.ack()``/``env.nack()``,
  from any thread); ``"before"`` acks before the callback runs (at-most-once).
* **Errors** (``on_error=``): a callback that raises never ends the loop. The message goes
  to the policy: ``"requeue"`` (nack, deliver again), ``"reject"`` (nack without requeue:
  dropped or dead-lettered by the protocol), ``"ack"`` (skip it), ``"stop"`` (requeue it
  and end the loop, re-raising the error from ``receive``), or a callable
  ``(env, exc) -> Outcome | str | None`` (``None``: the subscriber's default). The
  built-in policies log the error with the message's identity and traceback on the
  ``syncapi.runtime`` logger.
* **Order**: with ``workers=1`` callbacks run one at a time in arrival order. With more
  workers, messages that share an :attr:`~syncapi.core.EnvelopeReader.ordering_key` (a
  Kafka partition) still run one at a time, in order; others run in parallel.
* **Bounded work**: at most ``max_in_flight`` fetched messages wait or run at once;
  fetching pauses beyond that (the subscriber's ``_keepalive`` hook runs meanwhile).
* **Withdrawn messages**: a protocol may settle a fetched message before its callback
  runs (Kafka withdraws the messages after a rewound one in its partition: they come
  again, after it); the loop skips such a message without calling back.
* **Stopping**: :meth:`Worker.stop` or ``Subscriber.close()`` from any thread (or a
  signal handler) wake a blocked fetch at once through the ``_interrupt`` hook (an idle
  loop blocks up to ``idle_wait``, 5 s, and wakes for nothing else); a ``stop=`` event
  is checked at least every ``poll_interval`` (0.5 s). Callbacks already
  running finish (their acks go through); fetched messages no callback has started are
  nacked for redelivery, so nothing is lost.
"""

from __future__ import annotations

import atexit
import enum
import logging
import queue
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Literal, TypeAlias

from . import core as _core
from .core import check_timeout
from .errors import ClosedError, ConfigError

if TYPE_CHECKING:
    from types import TracebackType

    from .core import Callback, EnvelopeReader, Subscriber

__all__ = ["AckMode", "ErrorHandler", "ErrorPolicy", "Outcome", "Worker", "run_inline"]

_log = logging.getLogger("syncapi.runtime")

AckMode = Literal["auto", "manual", "before"]
"""When a received message is acknowledged: see the module documentation."""


class Outcome(str, enum.Enum):
    """What happens to a message whose callback raised."""

    ACK = "ack"
    """Acknowledge it anyway (skip the message)."""
    REQUEUE = "requeue"
    """Nack it for redelivery."""
    REJECT = "reject"
    """Nack it without requeue: the protocol drops or dead-letters it."""
    STOP = "stop"
    """Requeue it and end the loop; ``receive`` re-raises the callback's exception."""


ErrorHandler: TypeAlias = "Callable[[EnvelopeReader, BaseException], Outcome | str | None]"
"""A callable ``on_error`` policy: gets the message and the exception, returns an outcome."""
ErrorPolicy: TypeAlias = "str | Outcome | ErrorHandler"
"""An ``on_error`` policy: an :class:`Outcome` (or its name) or an :data:`ErrorHandler`."""

_ACK_MODES = ("auto", "manual", "before")


_MAX_BATCH = 64
_DEFAULT_IN_FLIGHT = 32


def _outcome(value: object, *, what: str) -> Outcome:
    if isinstance(value, Outcome):
        return value
    if isinstance(value, str):
        try:
            return Outcome(value)
        except ValueError:
            pass
    choices = ", ".join(repr(o.value) for o in Outcome)
    raise ConfigError(f"{what}: expected one of {choices} or a callable, got {value!r}")


def _make_error_handler(
    policy: ErrorPolicy | None, sub: Subscriber
) -> Callable[[EnvelopeReader, BaseException], Outcome]:
    default = _outcome(sub.default_on_error, what=f"{type(sub).__name__}.default_on_error")
    if policy is None:
        policy = default
    if callable(policy) and not isinstance(policy, str):
        user = policy

        def handle_with_user(env: EnvelopeReader, exc: BaseException) -> Outcome:
            try:
                result = user(env, exc)
            except Exception:
                _log.exception(
                    "on_error handler failed for %s; using %r", env.identity, default.value
                )
                return default
            if result is None:
                return default
            try:
                return _outcome(result, what="on_error handler result")
            except ConfigError as exc:
                _log.error("%s for %s; using %r", exc, env.identity, default.value)
                return default

        return handle_with_user
    fixed = _outcome(policy, what="on_error")

    def handle(env: EnvelopeReader, exc: BaseException) -> Outcome:
        _log.error(
            "callback failed for message on %s; %s it",
            env.identity,
            {
                "ack": "acking",
                "requeue": "requeueing",
                "reject": "rejecting",
                "stop": "stopping the loop and requeueing",
            }[fixed.value],
            exc_info=exc,
        )
        return fixed

    return handle


class _Loop:
    """One receive loop: a dispatcher (the fetching thread) and, optionally, workers."""

    def __init__(
        self,
        sub: Subscriber,
        callback: Callback,
        *,
        workers: int,
        on_error: ErrorPolicy | None,
        ack: AckMode,
        max_in_flight: int | None,
        user_stop: threading.Event | None = None,
        deadline: float | None = None,
        max_messages: int | None = None,
        direct: bool = False,
    ) -> None:
        if not callable(callback):
            raise ConfigError(f"callback must be callable, got {type(callback).__name__}")
        if ack not in _ACK_MODES:
            raise ConfigError(f"ack must be one of {', '.join(map(repr, _ACK_MODES))}, got {ack!r}")
        if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
            raise ConfigError(f"workers must be an integer >= 1, got {workers!r}")
        if max_in_flight is None:
            max_in_flight = max(2 * workers, _DEFAULT_IN_FLIGHT)
        if (
            not isinstance(max_in_flight, int)
            or isinstance(max_in_flight, bool)
            or max_in_flight < workers
        ):
            raise ConfigError(
                f"max_in_flight must be an integer >= workers ({workers}), got {max_in_flight!r}"
            )
        if max_messages is not None and (
            not isinstance(max_messages, int) or isinstance(max_messages, bool) or max_messages < 1
        ):
            raise ConfigError(f"max_messages must be an integer >= 1, got {max_messages!r}")
        if user_stop is not None and not callable(getattr(user_stop, "is_set", None)):
            raise ConfigError(f"stop must be a threading.Event, got {type(user_stop).__name__}")
        self.sub = sub
        self.callback = callback
        self.workers = workers
        self.ack = ack
        self.on_error = _make_error_handler(on_error, sub)
        self.max_in_flight = max_in_flight
        self.user_stop = user_stop
        self.deadline = deadline
        self.max_messages = max_messages
        # A plain flag, not an Event: Event.set() takes a lock, and request_stop() must
        # be safe in a signal handler that interrupted this very loop's thread.
        self.stopping = False
        self.done = threading.Event()
        self.error: BaseException | None = None
        self.threads: list[threading.Thread] = []
        self._count_lock: threading.Lock | None = threading.Lock() if workers > 1 else None
        # Every thread fetches for itself (each an inline loop) when the protocol's fetch
        # is thread-safe and it has no ordering keys: one hand-off fewer per message.
        self.concurrent = workers > 1 and sub.concurrent_fetch
        self.batch = max(1, max_in_flight // workers) if self.concurrent else max_in_flight
        self.received = 0
        self.acked = 0
        self.nacked = 0
        self.failed = 0
        self.handled = 0
        # multi-worker state
        self._ready: queue.SimpleQueue[EnvelopeReader | None] = queue.SimpleQueue()
        self._flight = threading.Condition(threading.Lock())  # guards _in_flight
        self._in_flight = 0  # messages fetched and not yet finished (multi-worker loops)
        self._room_wanted = False  # the dispatcher waits in _take_slots
        self._key_lock = threading.Lock()
        self._active_keys: dict[Hashable, deque[EnvelopeReader]] = {}
        # direct dispatch (see run_pushed): a one-worker background loop whose protocol
        # reads on threads of its own lets those threads run the callbacks
        self.direct = direct and workers == 1 and sub.direct_dispatch
        # a protocol without acknowledgements (sockets): acking is setting the flag
        self.bare_ack = type(sub)._ack is _core.Subscriber._ack
        self.callback_done = (
            None
            if type(sub)._callback_done is _core.Subscriber._callback_done
            else sub._callback_done
        )
        self.run_lock = threading.Lock()  # one batch runs at a time: fetched or pushed
        self.pushing: int | None = None  # the thread running a pushed batch now

    # -- control -----------------------------------------------------------------------
    def request_stop(self) -> None:
        """Ask the loop to end (non-blocking, signal-safe) and wake a blocked fetch."""
        self.stopping = True
        try:
            self.sub._interrupt()
        except Exception:  # a broken interrupt must not break stop; the poll interval still works
            _log.exception("interrupting %r failed", self.sub)

    def runs_here(self) -> bool:
        """Whether the calling thread runs this loop's callbacks now (one of its threads,
        or a protocol reader running a pushed batch)."""
        return threading.current_thread() in self.threads or self.pushing == threading.get_ident()

    def wait(self, timeout: float | None) -> bool:
        """Wait until every thread of the loop has ended; ``False`` on timeout."""
        if self.runs_here():
            return self.done.is_set()  # close() from inside a callback: don't wait for ourselves
        if timeout is not None and timeout <= 0:
            # no lock taken: Event.wait() would, and a signal handler calling stop(0) may
            # have interrupted this very thread inside an Event.wait() on the same event
            return self.done.is_set()
        if not self.stopping:
            return self.done.wait(timeout)
        # An interrupt that came just before the fetch started blocking is lost (protocols
        # need not remember it), and an idle fetch blocks up to idle_wait: interrupt again
        # every poll_interval while we wait, so a stop never waits out idle_wait.
        deadline = None if timeout is None else time.monotonic() + timeout
        step = self.sub.poll_interval
        while True:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return self.done.is_set()
            if self.done.wait(step if left is None else min(step, left)):
                return True
            self.request_stop()

    def _should_stop(self) -> bool:
        if self.stopping:
            return True
        if self.user_stop is not None and self.user_stop.is_set():
            return True
        if self.deadline is not None and time.monotonic() >= self.deadline:
            return True
        return self.max_messages is not None and self.received >= self.max_messages

    # -- one message -------------------------------------------------------------------
    def _add(self, handled: int = 0, acked: int = 0, nacked: int = 0, failed: int = 0) -> None:
        if self._count_lock is None:  # one thread runs every callback: no lock needed
            self.handled += handled
            self.acked += acked
            self.nacked += nacked
            self.failed += failed
            return
        with self._count_lock:
            self.handled += handled
            self.acked += acked
            self.nacked += nacked
            self.failed += failed

    def _settle(self, env: EnvelopeReader, outcome: Outcome) -> None:
        if env._settled:
            return
        try:
            if outcome is Outcome.ACK:
                env.ack()
                self._add(acked=1)
            else:
                env._fail(requeue=outcome is not Outcome.REJECT)
                self._add(nacked=1)
        except ClosedError:
            if not env._settled:
                raise
        except Exception:
            _log.exception("could not %s message on %s", outcome.value, env.identity)

    def _handle(self, env: EnvelopeReader) -> None:
        if env._settled:
            return  # withdrawn by the protocol before its callback ran: it comes again
        try:
            self._handle_one(env)
        finally:
            if self.callback_done is not None:
                self.callback_done(env)

    def _handle_one(self, env: EnvelopeReader) -> None:
        ack = self.ack
        if ack == "before":
            self._settle(env, Outcome.ACK)
        try:
            self.callback(env)
        except Exception as exc:
            self._failed(env, exc)
            return
        if ack != "auto" or env._settled:
            self._add(handled=1)
            return
        try:
            env.ack()
        except Exception:
            _log.exception("could not ack message on %s", env.identity)
            self._add(handled=1)
        else:
            self._add(handled=1, acked=1)

    def _failed(self, env: EnvelopeReader, exc: Exception) -> None:
        self._add(failed=1)
        if env._settled:
            _log.error(
                "callback failed for message on %s (already settled)", env.identity, exc_info=exc
            )
            return
        outcome = self.on_error(env, exc)
        if outcome is Outcome.STOP:
            self._settle(env, Outcome.REQUEUE)
            if self.error is None:
                self.error = exc
            self.request_stop()
        else:
            self._settle(env, outcome)

    def _requeue(self, envs: list[EnvelopeReader] | deque[EnvelopeReader]) -> None:
        """Hand back messages no callback ran for (a stop, an escaping error): the
        subscriber's ``_release`` puts them back without counting a failed delivery."""
        release = self.sub._release
        for env in envs:
            if env._settled:
                continue
            env._settled = True
            try:
                release(env)
            except Exception:
                _log.exception("could not hand back message on %s", env.identity)
            else:
                self._add(nacked=1)

    # -- the dispatcher ----------------------------------------------------------------
    def _fetch(self, n: int) -> list[EnvelopeReader]:
        # only a stop= event needs polling for: stop() and close() wake the fetch at once
        wait = self.sub.poll_interval if self.user_stop is not None else self.sub.idle_wait
        if self.deadline is not None:
            wait = max(0.0, min(wait, self.deadline - time.monotonic()))
        return self.sub._fetch_wrapped(n, wait)

    def run_dispatcher(self) -> None:
        """Fetch and dispatch until told to stop; runs on the loop's first thread."""
        try:
            if self.direct:
                self._dispatch_direct()
            elif self.workers == 1 or self.concurrent:
                self._dispatch_inline()
            else:
                self._dispatch_to_workers()
        except ClosedError:
            pass
        except BaseException as exc:
            if self.error is None:
                self.error = exc
            if not isinstance(exc, Exception):
                raise
            _log.error("receive loop on %r ended by an error", self.sub, exc_info=exc)
        finally:
            self.stopping = True
            if self.workers > 1 and not self.concurrent:
                for _ in range(self.workers):
                    self._ready.put(None)

    def _dispatch_inline(self) -> None:
        while not self._should_stop():
            n = self.batch
            if self.max_messages is not None:
                n = min(n, self.max_messages - self.received)
            self._run_batch(self._fetch(n))

    def _dispatch_direct(self) -> None:
        """The dispatcher of a direct loop: runs what waited in the subscriber (messages
        that came while a callback ran) while the protocol's threads push the rest."""
        sub = self.sub
        sub._attach_direct(self)
        try:
            while not self._should_stop():
                batch = self._fetch(self.batch)
                if not batch:
                    continue
                with self.run_lock:
                    try:
                        if self._should_stop():  # a pushed batch stopped the loop meanwhile
                            self._requeue(batch)
                        else:
                            self._run_batch(batch)
                    finally:
                        sub._direct_done(len(batch))
        finally:
            sub._detach_direct(self)
            with self.run_lock:  # a pushed batch still running finishes first
                pass

    def run_pushed(self, make: Callable[[], list[EnvelopeReader]]) -> bool:
        """Run a batch of messages on the calling thread — a protocol's reader —
        when the loop is idle: no callback runs now and nothing older waits
        (``sub._direct_waiting()``). ``make`` builds the envelopes. ``False``: not run (the
        caller queues the messages for the dispatcher instead).

        This saves the hand-off to the loop's thread, which costs more than the callback
        itself for small messages; the reader does not read on while its callbacks run,
        which is the backpressure a queue would give.
        """
        if self.stopping or not self.run_lock.acquire(False):
            return False
        try:
            sub = self.sub
            if self._should_stop() or sub._direct_waiting():
                return False
            self.pushing = threading.get_ident()
            try:
                # what a stop leaves of it is handed back (sub._release), and waits then
                self._run_batch(make())
            except BaseException as exc:  # SystemExit in a callback: it ends the loop,
                if self.error is None:  # as on the loop's own thread, not the reader
                    self.error = exc
                _log.error("receive loop on %r ended by an error", sub, exc_info=exc)
                self.request_stop()
            finally:
                self.pushing = None
            return True
        finally:
            self.run_lock.release()

    def _run_batch(self, batch: list[EnvelopeReader]) -> None:
        """Run the callbacks of one fetched batch, on the loop's one thread.

        The hot loop of every single-threaded receive: the common case (ack="auto") is
        _handle() unrolled, and its counters are kept in locals and added once per
        batch (no other thread writes them). Whatever ends the batch early — a stop,
        the deadline, a KeyboardInterrupt or another escaping error — hands back the
        messages not taken on, and the current one unless it was settled.
        """
        user_stop, callback = self.user_stop, self.callback
        deadline, monotonic = self.deadline, time.monotonic
        auto = self.ack == "auto"
        bare_ack, base_ack = self.bare_ack, _core.EnvelopeReader.ack
        done_hook = self.callback_done
        taken = handled = acked = withdrawn = 0
        try:
            for env in batch:
                if taken and (
                    self.stopping
                    or (user_stop is not None and user_stop.is_set())
                    or (deadline is not None and monotonic() >= deadline)
                ):
                    break
                if env._settled:  # withdrawn: it comes again and counts then
                    taken += 1
                    withdrawn += 1
                    continue
                if not auto:
                    self._handle(env)
                    taken += 1
                    continue
                try:
                    callback(env)
                except Exception as exc:
                    self._failed(env, exc)
                    taken += 1
                    if done_hook is not None:
                        done_hook(env)
                    continue
                taken += 1
                handled += 1
                if not env._settled:
                    if bare_ack and type(env).ack is base_ack:  # what ack() does then
                        env._settled = True
                        acked += 1
                    else:
                        try:
                            env.ack()
                        except Exception:
                            _log.exception("could not ack message on %s", env.identity)
                        else:
                            acked += 1
                if done_hook is not None:
                    done_hook(env)
        finally:
            if self._count_lock is None:
                self.received += taken - withdrawn
                self.handled += handled
                self.acked += acked
            else:
                with self._count_lock:
                    self.received += taken - withdrawn
                    self.handled += handled
                    self.acked += acked
            if taken < len(batch):
                self._requeue(batch[taken:])

    def _take_slots(self) -> int:
        """Block until an in-flight slot is free; take as many as are free (a batch at most).

        While it waits, the subscriber's ``_keepalive`` runs every ``poll_interval``.
        """
        flight = self._flight
        while True:
            with flight:
                for attempt in (0, 1):
                    free = self.max_in_flight - self._in_flight
                    if free > 0:
                        take = min(free, _MAX_BATCH)
                        self._in_flight += take
                        return take
                    if attempt == 0:
                        self._room_wanted = True
                        flight.wait(self.sub.poll_interval)
                        self._room_wanted = False
            if self._should_stop():
                return 0
            try:
                self.sub._keepalive()
            except Exception:
                _log.exception("keepalive of %r failed", self.sub)

    def _release_slots(self, n: int) -> None:
        flight = self._flight
        with flight:
            self._in_flight -= n
            if self._room_wanted:
                flight.notify()

    def _dispatch_to_workers(self) -> None:
        while not self._should_stop():
            slots = self._take_slots()
            if not slots:
                break
            if self._should_stop():
                self._release_slots(slots)
                break
            try:
                batch = self._fetch(slots)
            except BaseException:
                self._release_slots(slots)
                raise
            if len(batch) < slots:
                self._release_slots(slots - len(batch))
            for env in batch:
                self.received += 1
                key = env.ordering_key
                if key is not None:
                    with self._key_lock:
                        pending = self._active_keys.get(key)
                        if pending is not None:
                            pending.append(env)
                            continue
                        self._active_keys[key] = deque()
                self._ready.put(env)

    # -- workers -----------------------------------------------------------------------
    def run_worker(self) -> None:
        """Run callbacks from the ready queue until the end-of-loop marker arrives."""
        ready = self._ready
        while True:
            env = ready.get()
            if env is None:
                return
            self._work(env)

    def _work(self, first: EnvelopeReader) -> None:
        env: EnvelopeReader | None = first
        while env is not None:
            try:
                if self.stopping:
                    self._requeue([env])
                else:
                    self._handle(env)
            except BaseException as exc:  # pragma: no cover - _handle catches Exception
                if self.error is None:
                    self.error = exc
                self.request_stop()
            finally:
                self._release_slots(1)
            key = env.ordering_key
            if key is None:
                return
            with self._key_lock:
                pending = self._active_keys[key]
                if pending:
                    env = pending.popleft()
                else:
                    del self._active_keys[key]
                    env = None


def run_inline(
    sub: Subscriber,
    callback: Callback,
    *,
    stop: threading.Event | None,
    timeout: float | None,
    on_error: ErrorPolicy | None,
    ack: AckMode,
    max_messages: int | None,
) -> int:
    """Run one receive loop on the calling thread (``Subscriber.receive``)."""
    check_timeout(timeout)
    deadline = None if timeout is None else time.monotonic() + timeout
    loop = _Loop(
        sub,
        callback,
        workers=1,
        on_error=on_error,
        ack=ack,
        max_in_flight=None,
        user_stop=stop,
        deadline=deadline,
        max_messages=max_messages,
    )
    loop.threads.append(threading.current_thread())
    sub._register_loop(loop)
    try:
        loop.run_dispatcher()
    finally:
        loop.done.set()
        sub._unregister_loop(loop)
    if loop.error is not None:
        raise loop.error
    return loop.handled + loop.failed


_live_workers: weakref.WeakSet[Worker] = weakref.WeakSet()


class Worker:
    """A receive loop running in background threads (made by ``Subscriber.start``).

    One dispatcher thread fetches; with ``workers > 1``, that many worker threads run the
    callbacks — or, when the subscriber sets ``concurrent_fetch``, ``workers`` threads
    each fetch and run callbacks for themselves. All are daemon threads named after the
    channel, and all end on
    :meth:`stop`, on ``Subscriber.close()``, and (gracefully, within 5 s) at interpreter
    exit.

    Counters (read them any time): :attr:`received`, :attr:`acked`, :attr:`nacked`,
    :attr:`failed`, :attr:`handled`.
    """

    def __init__(
        self,
        sub: Subscriber,
        callback: Callback,
        *,
        workers: int = 1,
        on_error: ErrorPolicy | None = None,
        ack: AckMode = "auto",
        max_in_flight: int | None = None,
        name: str | None = None,
    ) -> None:
        self._loop = _Loop(
            sub,
            callback,
            workers=workers,
            on_error=on_error,
            ack=ack,
            max_in_flight=max_in_flight,
            direct=True,
        )
        self.name = name or f"syncapi[{sub.channel}]"
        sub._register_loop(self._loop)
        loop = self._loop
        if loop.concurrent:
            threads = [
                threading.Thread(
                    target=self._run_dispatcher, name=f"{self.name}-worker-{i}", daemon=True
                )
                for i in range(workers)
            ]
        else:
            threads = [
                threading.Thread(
                    target=self._run_dispatcher, name=f"{self.name}-fetch", daemon=True
                )
            ]
        if workers > 1 and not loop.concurrent:
            threads += [
                threading.Thread(
                    target=self._run_worker, name=f"{self.name}-worker-{i}", daemon=True
                )
                for i in range(workers)
            ]
        loop.threads.extend(threads)
        self._running = len(threads)
        self._running_lock = threading.Lock()
        _live_workers.add(self)
        for thread in threads:
            thread.start()

    def _thread_ended(self) -> None:
        with self._running_lock:
            self._running -= 1
            last = self._running == 0
        if last:
            self._loop.sub._unregister_loop(self._loop)
            self._loop.done.set()

    def _run_dispatcher(self) -> None:
        try:
            self._loop.run_dispatcher()
        finally:
            self._thread_ended()

    def _run_worker(self) -> None:
        try:
            self._loop.run_worker()
        finally:
            self._thread_ended()

    # -- public API --------------------------------------------------------------------
    def stop(self, timeout: float | None = 10.0) -> bool:
        """Stop the loop gracefully and wait up to ``timeout`` seconds for its threads.

        In-flight callbacks finish and are acked; fetched messages not yet started are
        nacked for redelivery. Returns ``True`` when every thread has ended. Safe from any
        thread, from a signal handler and from inside a callback (which does not wait
        for itself).
        """
        self._loop.request_stop()
        return self._loop.wait(timeout)

    def join(self, timeout: float | None = None) -> bool:
        """Wait up to ``timeout`` seconds for the loop to end; ``True`` if it has."""
        return self._loop.wait(timeout)

    @property
    def alive(self) -> bool:
        """Whether any thread of the loop is still running."""
        return not self._loop.done.is_set()

    @property
    def error(self) -> BaseException | None:
        """The error that ended the loop (a fetch failure, or a callback error under
        ``on_error="stop"``), or ``None``."""
        return self._loop.error

    @property
    def received(self) -> int:
        """Messages fetched so far."""
        return self._loop.received

    @property
    def handled(self) -> int:
        """Callbacks that returned without raising."""
        return self._loop.handled

    @property
    def acked(self) -> int:
        """Messages the loop acknowledged."""
        return self._loop.acked

    @property
    def nacked(self) -> int:
        """Messages the loop nacked (requeued or rejected)."""
        return self._loop.nacked

    @property
    def failed(self) -> int:
        """Callbacks that raised."""
        return self._loop.failed

    def __enter__(self) -> Worker:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "alive" if self.alive else "stopped"
        return (
            f"<Worker {self.name} {state} received={self.received} acked={self.acked} "
            f"failed={self.failed}>"
        )


@atexit.register
def _stop_live_workers() -> None:
    workers = list(_live_workers)
    for worker in workers:
        worker._loop.request_stop()
    deadline = time.monotonic() + 5.0
    for worker in workers:
        worker.join(max(0.0, deadline - time.monotonic()))
