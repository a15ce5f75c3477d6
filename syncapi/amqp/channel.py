"""One AMQP channel kept open on a :class:`~syncapi.amqp.link.Link` across reconnects.

:class:`ChannelMember` opens its pika channel whenever the link's connection opens, runs
the subclass's set-up (confirm mode, declarations, ``basic.consume``...), and re-opens it
after the broker closed it for an error. Every method whose name starts with ``_io_``
runs on the link's I/O thread only; the rest is the thread-safe face used by publishers
and subscribers.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import pika.exceptions as pex
from pika.adapters.select_connection import SelectConnection

from ..errors import ClosedError, SyncapiError, TimeoutError
from .link import Done, Link, Member, describe
from .topology import channel_error

__all__ = ["ChannelMember"]

_log = logging.getLogger("syncapi.amqp")
_MAX_REOPEN_DELAY = 10.0  # seconds between attempts to re-open a channel the broker closed


class ChannelMember(Member):
    """A channel on a link (see the module documentation).

    Subclasses implement :meth:`_io_setup` and may override :meth:`_io_ready`,
    :meth:`_io_lost` and :meth:`_io_failed`.
    """

    def __init__(self, link: Link, what: str) -> None:
        self._link = link
        self._what = what
        self._channel: Any = None  # the pika channel; I/O thread only
        self._ready = False  # set up and usable; written on the I/O thread
        # +1 whenever a channel opens or goes: delivery tags are per channel, so what came
        # on an older generation can no longer be settled
        self._generation = 0
        self.last_error: SyncapiError | None = None  # why the channel last went, if it did
        self._closing = False
        self._retry: Any = None
        self._retries = 0
        self._first = threading.Event()
        self._first_error: SyncapiError | None = None
        self._on_closed: Callable[[], None] | None = None
        self._failed: SyncapiError | None = None  # set once the link gave up

    # -- thread-safe face ----------------------------------------------------------------
    def open(self, timeout: float) -> None:
        """Attach to the link and wait until the channel is set up the first time.

        Raises:
            SyncapiError: the broker refused the set-up (a specific error, e.g.
                :class:`~syncapi.amqp.TopologyMismatchError`), or it took longer than
                ``timeout``.
        """
        self._link.add(self)
        if not self._first.wait(timeout):
            self.shutdown(1.0)
            raise TimeoutError(f"{self._what}: not set up within {timeout} s")
        if self._first_error is not None:
            self.shutdown(1.0)
            raise self._first_error

    def shutdown(self, timeout: float) -> None:
        """Close the channel (unacknowledged deliveries go back to the queue) and detach.
        Safe to call more than once; never raises."""

        def operation(done: Done) -> None:
            self._closing = True
            if self._retry is not None:
                self._link.cancel_timer(self._retry)
                self._retry = None
            self._io_failed(ClosedError(f"{self._what} is closed"))
            channel, self._channel, self._ready = self._channel, None, False
            if channel is not None and (channel.is_open or channel.is_opening):
                self._on_closed = lambda: done(None, None)
                try:
                    channel.close()
                    return
                except pex.ChannelWrongStateError:
                    pass
            done(None, None)

        try:
            self._link.call(operation, timeout)
        except SyncapiError:
            pass  # the link is closed (the channel with it) or busy past the timeout
        except RuntimeError:
            _log.debug("%s: shutdown from the I/O thread", self._what)
        self._link.remove(self)

    # -- link callbacks (I/O thread) -----------------------------------------------------
    def on_link_open(self, connection: SelectConnection) -> None:
        """Open the channel on the new connection."""
        if not self._closing:
            connection.channel(on_open_callback=self._io_channel_open)

    def on_link_lost(self, error: BaseException | None) -> None:
        """Forget the channel; :meth:`on_link_open` opens a new one."""
        self._channel, self._ready = None, False
        self._generation += 1
        self._io_fire_closed()
        if self._retry is not None:
            self._link.cancel_timer(self._retry)
            self._retry = None
        if not self._closing:
            self._io_lost(channel_error(error, self._what), by_broker=False)

    def on_link_failed(self, error: SyncapiError) -> None:
        """The link gave up: fail everyone waiting."""
        self._failed = error
        self._channel, self._ready = None, False
        self._io_fire_closed()
        if not self._first.is_set():
            self._first_error = error
            self._first.set()
        self._io_failed(error)

    def _io_channel_open(self, channel: Any) -> None:
        self._link.check_owner()
        if self._closing:
            channel.close()
            return
        self._channel = channel
        self._generation += 1
        channel.add_on_close_callback(self._io_channel_closed)
        self._io_channel_hooks(channel)
        self._io_setup(channel, lambda: self._io_setup_done(channel))

    def _io_setup_done(self, channel: Any) -> None:
        if channel is not self._channel or self._closing:
            return
        self._ready = True
        self._retries = 0
        self.last_error = None
        self._first.set()
        self._io_ready()

    def _io_channel_closed(self, channel: Any, reason: BaseException) -> None:
        if self._on_closed is not None and self._channel is None and self._closing:
            self._io_fire_closed()
            return
        if channel is not self._channel:
            return
        self._channel, self._ready = None, False
        self._generation += 1  # its deliveries are stale from now on, not once a new one opens
        if self._closing or not isinstance(reason, pex.ChannelClosedByBroker):
            return  # our own close, or the connection went: on_link_lost follows
        error = channel_error(reason, self._what)
        if not self._first.is_set():
            self._first_error = error  # the first set-up failed: open() raises it
            self._closing = True
            self._first.set()
            return
        _log.warning("%s: the broker closed the channel (%s)", self._what, describe(reason))
        self.last_error = error
        self._io_lost(error, by_broker=True)
        self._retries += 1
        delay = min(_MAX_REOPEN_DELAY, 0.1 * 2 ** min(self._retries - 1, 10))
        self._retry = self._link.call_later(delay, self._io_reopen)

    def _io_reopen(self) -> None:
        self._retry = None
        connection = self._link.connection
        if connection is not None and not self._closing:
            self.on_link_open(connection)

    def _io_fire_closed(self) -> None:
        if self._on_closed is not None:
            callback, self._on_closed = self._on_closed, None
            callback()

    # -- subclass hooks (I/O thread) -----------------------------------------------------
    def _io_channel_hooks(self, channel: Any) -> None:
        """Register the callbacks a new channel needs, once per channel (returns,
        cancels...), before :meth:`_io_setup` runs."""

    def _io_setup(self, channel: Any, done: Callable[[], None]) -> None:
        """Set the new channel up (confirm mode, declarations, consume); call ``done()``
        when finished. A broker refusal closes the channel instead."""
        raise NotImplementedError

    def _io_ready(self) -> None:
        """The channel is set up and usable."""

    def _io_lost(self, error: SyncapiError, by_broker: bool) -> None:
        """The channel is gone: the broker closed it for an error (``by_broker``) or the
        connection dropped. A new one follows unless the member is closing."""

    def _io_failed(self, error: SyncapiError) -> None:
        """No channel will come any more (the member or the link closed)."""
