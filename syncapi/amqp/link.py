"""One AMQP connection owned by one I/O thread, reconnecting by itself.

pika's connections are not thread-safe, and a connection only answers heartbeats while a
thread is inside pika. :class:`Link` solves both by construction: a pika
``SelectConnection`` lives on a private I/O thread that never leaves pika's I/O loop, and
every other thread reaches it only through :meth:`Link.call_soon` (pika's
``add_callback_threadsafe``) or :meth:`Link.call`. Nothing outside this thread ever holds
a pika connection or channel: the objects that do (:class:`Member` subclasses) touch
them only in methods the loop calls, and :meth:`Link.check_owner` guards them.

When the connection drops, the link reconnects with a doubling delay
(``reconnect_delay`` … ``reconnect_max_delay``, round the URL's hosts) and tells every
member, which re-opens its channel (re-declaring its queues and consumers).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import pika
import pika.exceptions as pex
from pika.adapters.select_connection import IOLoop, SelectConnection

from ..core import check_timeout
from ..errors import ClosedError, ConfigError, ConnectError, SyncapiError, TimeoutError
from .options import CommonOptions

__all__ = ["Connected", "Link", "Member", "describe", "translate_connect_error"]

_log = logging.getLogger("syncapi.amqp")
T = TypeVar("T")

Done = Callable[[Any, BaseException | None], None]
"""How an operation run by :meth:`Link.call` reports: ``done(result, error)``."""


def describe(exc: BaseException | None) -> str:
    """A short human text for a pika exception (reply code and text when there are)."""
    if exc is None:
        return "unknown reason"
    if isinstance(exc, (pex.ChannelClosed, pex.ConnectionClosed)):
        return f"{exc.reply_code} {exc.reply_text}"
    inner = getattr(exc, "exceptions", None)  # pika's connection workflow collects them
    if inner:
        return describe(inner[-1])
    wrapped = getattr(exc, "exception", None)  # pika's per-phase wrapper
    if isinstance(wrapped, BaseException):
        return describe(wrapped)
    text = str(exc) or "; ".join(  # pika's wrapping exceptions often print empty
        describe(arg) if isinstance(arg, BaseException) else str(arg) for arg in exc.args
    )
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def translate_connect_error(exc: BaseException, where: str) -> SyncapiError:
    """Turn a failed first connection into a specific syncapi error."""
    if isinstance(exc, (pex.ProbableAuthenticationError, pex.AuthenticationError)):
        return ConnectError(
            f"{where}: the broker refused the user name or password (ACCESS_REFUSED); "
            f"check the credentials in the URL ({describe(exc)})"
        )
    if isinstance(exc, pex.ProbableAccessDeniedError) or (
        isinstance(exc, pex.ConnectionClosedByBroker) and exc.reply_code == 530
    ):
        return ConnectError(
            f"{where}: the broker refused access to the virtual host (it does not exist or "
            f"the user has no permission on it): {describe(exc)}"
        )
    if isinstance(exc, pex.IncompatibleProtocolError):
        return ConnectError(f"{where}: the peer does not speak AMQP 0-9-1 ({describe(exc)})")
    return ConnectError(f"{where}: cannot connect: {describe(exc)}")


class Connected:
    """What an AMQP producer and consumer share: their connection and what it tells."""

    _link: Link
    _vhost: str

    def _connect(
        self, params: list[pika.ConnectionParameters], options: CommonOptions, role: str
    ) -> None:
        self._vhost = params[0].virtual_host
        self._link = Link(params, options, role)

    @property
    def virtual_host(self) -> str:
        """The virtual host the connection is to."""
        return self._vhost

    def _close(self) -> None:
        self._link.close()

    @property
    def connected(self) -> bool:
        """Whether the connection is open right now (``False`` while it reconnects)."""
        return self._link.is_open

    @property
    def reconnects(self) -> int:
        """How many times the connection was re-established after it dropped."""
        return self._link.reconnects


class Member:
    """Something that owns pika objects on a :class:`Link` (a channel, usually).

    The link calls these methods on its I/O thread only.
    """

    def on_link_open(self, connection: SelectConnection) -> None:
        """The connection is (re)open: open channels on it."""

    def on_link_lost(self, error: BaseException | None) -> None:
        """The connection dropped; the link reconnects. Forget its channels."""

    def on_link_failed(self, error: SyncapiError) -> None:
        """The link gave up (closed, or out of reconnect attempts): fail what waits."""


class _Call:
    """A result handed from the I/O thread to a waiting caller."""

    __slots__ = ("error", "event", "result")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None

    def done(self, result: Any, error: BaseException | None) -> None:
        if not self.event.is_set():
            self.result, self.error = result, error
            self.event.set()


class Link:
    """An AMQP connection on its own I/O thread (see the module documentation).

    Thread-safe: :meth:`call_soon`, :meth:`call`, :meth:`add`, :meth:`remove` and
    :meth:`close` may be called from any thread.

    Raises (from the constructor):
        ConnectError: the first connection failed (bad credentials, unknown virtual host,
            nobody listening) or took longer than ``connect_timeout``.
    """

    def __init__(
        self,
        params: list[pika.ConnectionParameters],
        options: CommonOptions,
        name: str,
    ) -> None:
        self._params = params
        self._options = options
        self._name = name
        self._where = f"amqp {name} {params[0].host}:{params[0].port}"
        self._ioloop = IOLoop()
        self._connection: SelectConnection | None = None  # I/O thread only
        self._members: list[Member] = []  # I/O thread only
        self._attempt = 0  # failed (re)connect attempts in a row
        self._host_index = 0
        self._timer: Any = None
        self._opened_once = False
        self._reconnects = 0
        self._open = False
        self._failure: SyncapiError | None = None  # set once the link gave up
        self._first_error: BaseException | None = None
        self._first_done = threading.Event()
        self._closing = False
        # guards _calls, _closing, _stopped; re-entrant so that close() from a signal
        # handler that interrupted this thread inside call_soon() cannot deadlock
        self._lock = threading.RLock()
        self._stopped = False
        self._calls: list[Callable[[], None]] = []  # queued by call_soon, run on the loop
        self._wake_pending = False  # a _run_calls is scheduled and has not taken the list
        self._thread = threading.Thread(
            target=self._run, name=f"syncapi-amqp-io-{name}", daemon=True
        )
        self._thread.start()
        budget = options.connect_timeout * len(params) + 1.0  # each host gets its own
        if not self._first_done.wait(budget):
            self.close()
            raise ConnectError(
                f"{self._where}: no connection within {options.connect_timeout} s "
                f"(connect_timeout) per host, {len(params)} host(s)"
            )
        first_error = self._first_failure()
        if first_error is not None:
            error = translate_connect_error(first_error, self._where)
            self.close()
            raise error from first_error

    def _first_failure(self) -> BaseException | None:
        """Why the first connection failed (set on the I/O thread), or ``None``."""
        return self._first_error

    # -- any thread ----------------------------------------------------------------------
    @property
    def is_open(self) -> bool:
        """Whether the connection is open right now (it may drop at any moment)."""
        return self._open

    @property
    def reconnects(self) -> int:
        """How many times the connection was re-established after a drop."""
        return self._reconnects

    @property
    def failure(self) -> SyncapiError | None:
        """Why the link gave up for good, or ``None`` while it lives."""
        return self._failure

    @property
    def where(self) -> str:
        """A short text naming the connection in messages."""
        return self._where

    def on_io_thread(self) -> bool:
        """Whether the calling thread is the link's I/O thread."""
        return threading.current_thread() is self._thread

    def check_owner(self) -> None:
        """Raise ``RuntimeError`` unless called on the I/O thread: the guard of every
        method that touches a pika object."""
        if threading.current_thread() is not self._thread:
            raise RuntimeError(
                f"pika objects of {self._where} may only be used on its I/O thread "
                f"(called from {threading.current_thread().name})"
            )

    @property
    def connection(self) -> SelectConnection | None:
        """The open pika connection (I/O thread only), or ``None`` while reconnecting."""
        self.check_owner()
        return self._connection if self._open else None

    def call_later(self, delay: float, fn: Callable[[], None]) -> Any:
        """Run ``fn`` on the I/O thread after ``delay`` seconds (I/O thread only); return
        a handle for :meth:`cancel_timer`."""
        self.check_owner()
        return self._ioloop.call_later(delay, fn)

    def cancel_timer(self, handle: Any) -> None:
        """Cancel a :meth:`call_later` timer (I/O thread only)."""
        self.check_owner()
        self._ioloop.remove_timeout(handle)

    def call_soon(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the I/O thread soon (never inline). Thread-safe.

        Raises:
            ClosedError: the link is closed.
        """
        with self._lock:
            if self._stopped:
                raise self._failure or ClosedError(f"{self._where} is closed")
            self._calls.append(fn)
            if self._wake_pending:
                return  # a wake-up is on its way: one per burst, not one per call
            self._wake_pending = True
        self._ioloop.add_callback_threadsafe(self._run_calls)

    def _run_calls(self) -> None:
        """Run what :meth:`call_soon` queued, in order (I/O thread)."""
        with self._lock:
            calls, self._calls = self._calls, []
            self._wake_pending = False
        for fn in calls:
            try:
                fn()
            except Exception:  # pragma: no cover - a bug in a member; keep the loop alive
                _log.exception("%s: a call on the I/O thread failed", self._where)

    def call(self, operation: Callable[[Done], None], timeout: float | None) -> Any:
        """Run ``operation(done)`` on the I/O thread and wait until it calls
        ``done(result, error)``; return the result or raise the error.

        Raises:
            TimeoutError: no answer within ``timeout`` seconds.
            RuntimeError: called on the I/O thread itself (it would wait for itself).
        """
        check_timeout(timeout)
        if self.on_io_thread():
            raise RuntimeError(f"{self._where}: a blocking call from its own I/O thread")
        call = _Call()

        def run() -> None:
            try:
                operation(call.done)
            except Exception as exc:
                call.done(None, exc)

        self.call_soon(run)
        if not call.event.wait(timeout):
            raise TimeoutError(f"{self._where}: no answer from the I/O thread within {timeout} s")
        if call.error is not None:
            raise call.error
        return call.result

    def add(self, member: Member) -> None:
        """Attach ``member``; it hears :meth:`Member.on_link_open` now if the connection
        is open, and after every reconnect."""

        def run() -> None:
            self._members.append(member)
            if self._failure is not None:
                member.on_link_failed(self._failure)
            elif self._connection is not None and self._open:
                member.on_link_open(self._connection)

        self.call_soon(run)

    def remove(self, member: Member) -> None:
        """Detach ``member`` (it hears nothing more). Thread-safe; no-op once closed."""

        def run() -> None:
            if member in self._members:
                self._members.remove(member)

        with contextlib.suppress(SyncapiError):
            self.call_soon(run)

    def close(self, timeout: float = 5.0) -> None:
        """Close the connection and end the I/O thread (waits up to ``timeout``)."""
        with self._lock:
            if self._closing:
                stopped = self._stopped
            else:
                self._closing = True
                stopped = self._stopped
                if not stopped:
                    self._ioloop.add_callback_threadsafe(self._shutdown)
        if not self.on_io_thread():
            self._thread.join(timeout)
            if self._thread.is_alive():
                _log.warning("%s: the I/O thread did not end within %s s", self._where, timeout)

    # -- the I/O thread ------------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._connect()
            self._ioloop.start()
        except Exception:  # a bug in pika or here; keep the process up
            if self._closing:
                # pika 1.4 asserts when a connection still opening is closed (its workflow
                # reports the abort it expected); the socket is closed by then
                _log.debug(
                    "%s: the I/O loop ended with an error while closing", self._where, exc_info=True
                )
            else:
                _log.exception("%s: the I/O loop failed", self._where)
        finally:
            failure = self._failure or ClosedError(f"{self._where} is closed")
            self._failure = failure
            with self._lock:
                self._stopped = True  # call_soon raises from now on
            for member in list(self._members):
                self._notify_failed(member, failure)
            self._members.clear()
            # calls queued before the stop still run (no pika object is alive now), so
            # that a send handed over at the last moment fails at once instead of waiting
            self._run_calls()
            self._first_done.set()
            try:
                self._ioloop.close()
            except Exception:  # pragma: no cover - best effort
                _log.debug("%s: closing the I/O loop failed", self._where, exc_info=True)

    def _connect(self) -> None:
        self._timer = None
        if self._closing:
            self._ioloop.stop()
            return
        params = self._params[self._host_index % len(self._params)]
        self._where = f"amqp {self._name} {params.host}:{params.port}"
        self._connection = SelectConnection(
            params,
            on_open_callback=self._on_open,
            on_open_error_callback=self._on_open_error,
            on_close_callback=self._on_closed,
            custom_ioloop=self._ioloop,
        )

    def _on_open(self, connection: pika.BaseConnection) -> None:
        if self._opened_once:
            self._reconnects += 1
            _log.warning("%s: reconnected", self._where)
        self._opened_once = True
        self._open = True
        self._attempt = 0
        self._first_done.set()
        if self._closing:
            self._shutdown()
            return
        for member in list(self._members):
            try:
                member.on_link_open(self._connection)
            except Exception:  # pragma: no cover - a bug in a member
                _log.exception("%s: a channel failed to reopen", self._where)

    def _on_open_error(self, connection: pika.BaseConnection, error: BaseException) -> None:
        self._connection = None
        if not self._opened_once:
            if self._host_index + 1 < len(self._params):
                _log.warning(
                    "%s: cannot connect (%s); trying the next host", self._where, describe(error)
                )
                self._host_index += 1
                self._connect()
                return
            # the first connection fails fast: the constructor raises a specific error
            self._first_error = error
            self._first_done.set()
            self._ioloop.stop()
            return
        self._schedule_reconnect(error)

    def _on_closed(self, connection: pika.BaseConnection, error: BaseException) -> None:
        was_open, self._open = self._open, False
        self._connection = None
        if self._closing:
            self._ioloop.stop()
            return
        if was_open:
            _log.warning("%s: connection lost (%s); reconnecting", self._where, describe(error))
            for member in list(self._members):
                try:
                    member.on_link_lost(error)
                except Exception:  # pragma: no cover - a bug in a member
                    _log.exception(
                        "%s: a channel failed to handle the lost connection", self._where
                    )
        self._schedule_reconnect(error)

    def _schedule_reconnect(self, error: BaseException | None) -> None:
        if self._closing:
            self._ioloop.stop()
            return
        self._attempt += 1
        limit = self._options.reconnect_attempts
        if limit is not None and self._attempt > limit:
            self._failure = ConnectError(
                f"{self._where}: gave up after {limit} reconnect attempts: {describe(error)}"
            )
            _log.error("%s", self._failure)
            for member in list(self._members):
                self._notify_failed(member, self._failure)
            self._members.clear()
            self._ioloop.stop()
            return
        self._host_index += 1
        delay = min(
            self._options.reconnect_max_delay,
            self._options.reconnect_delay * 2 ** min(self._attempt - 1, 30),
        )
        if self._attempt > 1:
            _log.info(
                "%s: reconnect attempt %d failed (%s); next in %.1f s",
                self._where,
                self._attempt - 1,
                describe(error),
                delay,
            )
        self._timer = self._ioloop.call_later(delay, self._connect)

    def _shutdown(self) -> None:
        if self._timer is not None:
            self._ioloop.remove_timeout(self._timer)
            self._timer = None
        connection = self._connection
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except pex.ConnectionWrongStateError:
                self._ioloop.stop()
                return
            # a broker that never answers the close must not keep the thread alive
            self._ioloop.call_later(2.0, self._ioloop.stop)
        elif connection is not None and not (connection.is_closing or connection.is_closed):
            # still opening: pika aborts the workflow and closes the socket; the open
            # error that follows stops the loop (we are closing)
            try:
                connection.close()
            except Exception:  # pika refuses in some opening states: drop it ourselves
                _log.debug("%s: closing a half-open connection failed", self._where, exc_info=True)
                self._ioloop.stop()
                return
            self._ioloop.call_later(2.0, self._ioloop.stop)
        elif connection is None or connection.is_closed:
            self._ioloop.stop()

    def _notify_failed(self, member: Member, failure: SyncapiError) -> None:
        try:
            member.on_link_failed(failure)
        except Exception:  # pragma: no cover - a bug in a member
            _log.exception("%s: a channel failed to handle the closed link", self._where)

    def __repr__(self) -> str:
        state = "open" if self._open else ("failed" if self._failure else "connecting")
        return f"<syncapi.amqp.Link {self._where} {state}>"


def deadline_left(deadline: float | None) -> float | None:
    """Seconds left until ``deadline`` (a ``time.monotonic()`` value), at least 0."""
    return None if deadline is None else max(0.0, deadline - time.monotonic())


def check_vhost(expected: str | None, actual: str, what: str) -> None:
    """Refuse a binding whose ``vhost`` is not the connection's virtual host."""
    if expected is not None and expected != actual:
        raise ConfigError(
            f"{what} names the virtual host {expected!r} but the connection is to "
            f"{actual!r}; a channel cannot change virtual host (use another server URL)"
        )
