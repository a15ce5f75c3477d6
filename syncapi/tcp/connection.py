"""The server side of one ``tcp://`` connection: a channel both ways."""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .. import core
from ..errors import ConfigError
from ..inbox import Inbox, InboxSubscriber
from ..sockets import format_address
from .client import bare_frame, encode_batch
from .stream import Stream, address_of
from .wire import ConnectionClosedError, EnvelopeWriter, make_readers

if TYPE_CHECKING:
    import socket

    from .server import Consumer, Subscriber

__all__ = ["Connection", "ConnectionPublisher"]

_log = logging.getLogger("syncapi.tcp")


class ConnectionPublisher(core.Publisher[EnvelopeWriter]):
    """The sending side of a server :class:`Connection` (``connection.publisher``), for
    code that takes a :class:`syncapi.Publisher`. ``send`` is the connection's."""

    envelope_class = EnvelopeWriter

    def __init__(self, connection: Connection) -> None:
        super().__init__(connection.channel)
        self._connection = connection

    def _send(self, envelopes: Sequence[core.EnvelopeWriter], timeout: float | None) -> None:
        self._connection._send(envelopes, timeout)

    def __repr__(self) -> str:
        return f"<syncapi.tcp.ConnectionPublisher of {self._connection!r}>"


class Connection(InboxSubscriber):
    """One TCP connection a client opened to the consumer: a channel both ways.

    As a :class:`syncapi.Subscriber` it receives what this client sends (``receive``,
    ``start``, ``fetch``); the loop ends quietly when the client closes its side, and
    with :class:`~syncapi.tcp.ConnectionClosedError` when the connection broke.
    :meth:`send` (thread-safe) sends to the client, and :meth:`close` closes the
    connection gracefully (the client reads everything sent first).

    Its channel name is the client's address (``"127.0.0.1:53122"``).
    """

    envelope_class = EnvelopeWriter

    def __init__(self, consumer: Consumer, sock: socket.socket) -> None:
        remote = address_of(sock.getpeername())
        super().__init__(format_address(*remote))
        opts = consumer.options
        self._consumer = consumer
        self._options = opts
        self._inbox = Inbox(opts.max_pending, max_bytes=opts.max_pending_bytes)
        self._embedded = opts.header_policy == "embed"
        self._where = f"tcp connection from {format_address(*remote)}"
        self._warned = [False]
        self._encoder = consumer._encoder
        self._bare_limit, self._magic, self._pack = self._encoder.shortcut()
        self._route: Subscriber | None = None  # the consumer's subscriber takes its messages
        # for the consumer's subscriber: messages handed to it and whose callbacks are
        # over (a half-closed connection closes once the last one is)
        self._delivered = 0
        self._settle_count = itertools.count(1)  # next() is atomic: done on any thread
        self._settled = 0
        self._eof = False  # the client closed its side
        self._publisher: ConnectionPublisher | None = None
        self._stream = Stream(
            sock, opts, where=self._where, deliver=self._deliver, finished=self._stream_ended
        )

    # -- public ------------------------------------------------------------------------------
    @property
    def remote_addr(self) -> tuple[str, int]:
        """The client's address, ``(host, port)``."""
        return self._stream.remote_addr

    @property
    def local_addr(self) -> tuple[str, int]:
        """This end's address, ``(host, port)``."""
        return self._stream.local_addr

    @property
    def connected(self) -> bool:
        """Whether the connection is open (neither side closed it)."""
        return self._stream.open

    @property
    def end(self) -> ConnectionClosedError | None:
        """How the connection ended (``None`` while open): its ``reason`` and whether
        that was ``normal``."""
        return self._stream.end

    @property
    def publisher(self) -> ConnectionPublisher:
        """This connection as a :class:`syncapi.Publisher`."""
        if self._publisher is None:
            self._publisher = ConnectionPublisher(self)
        return self._publisher

    def envelope(
        self,
        payload: core.Payload = b"",
        *,
        headers: Any = None,
        content_type: str | None = None,
        bindings: Any = None,
    ) -> EnvelopeWriter:
        """Make an envelope to :meth:`send` (as :meth:`syncapi.Publisher.envelope`)."""
        return EnvelopeWriter(
            payload, headers=headers, content_type=content_type, bindings=bindings
        )

    def send(
        self, *envelopes: core.EnvelopeWriter | core.Payload, timeout: float | None = None
    ) -> None:
        """Send messages to this client (envelopes, ``bytes`` or ``str``); returns when
        they are written to the socket. Thread-safe.

        Raises:
            ConnectionClosedError: the connection is closed.
            MessageTooLarge: a message is over ``max_message``.
            TimeoutError: the client read nothing for the ``timeout`` option's seconds
                (the connection is then dropped).
        """
        if timeout is None and len(envelopes) == 1:
            data = envelopes[0]
            if type(data) is bytes and self._bare_limit >= len(data) and data[:4] != self._magic:
                try:  # the usual case, the short way (inline, as Publisher.send)
                    self._stream.write(self._pack(len(data)) + data, None)
                    return
                except ConnectionClosedError as exc:
                    exc.failures = [(data, "not sent")]
                    raise
            framed = bare_frame(self._encoder, data)
            if framed is not None:
                try:
                    self._stream.write(framed, None)  # the usual case, the short way
                    return
                except ConnectionClosedError as exc:
                    exc.failures = [(envelopes[0], "not sent")]
                    raise
        if timeout is not None:
            core.check_timeout(timeout)
        self._send(core.as_envelopes(self, EnvelopeWriter, envelopes), timeout)

    def close(self, timeout: float | None = 10.0) -> None:
        """Close the connection: this side at once (a send in progress finishes first,
        within the ``close_timeout`` option; the client reads what was sent, then the
        end), the socket when the client closes its side too (within ``close_timeout``);
        running callbacks may finish within ``timeout``. Idempotent."""
        self._stream.begin_close(self._options.close_timeout)
        super().close(timeout)

    # -- internals ----------------------------------------------------------------------
    def _send(self, envelopes: Sequence[core.EnvelopeWriter], timeout: float | None) -> None:
        messages = encode_batch(envelopes, self._options, where=self._where, warned=self._warned)
        try:
            self._stream.write(self._encoder.frame(messages, where=self._where), timeout)
        except ConnectionClosedError as exc:
            exc.failures = [(env, "not sent") for env in envelopes]
            raise

    def _start(self, route: Subscriber | None) -> None:
        """Start reading, into ``route``'s inbox or this connection's own."""
        self._route = route
        self._stream.start(f"syncapi-tcp-conn-{self._channel}")

    def _fetch(self, max_messages: int, timeout: float | None) -> Sequence[core.EnvelopeReader]:
        if self._route is not None:
            raise ConfigError(
                f"{self!r} belongs to the consumer's subscriber, which receives its messages; "
                "take connections with accept() or on_connect() to read them one by one"
            )
        return super()._fetch(max_messages, timeout)

    def _deliver(self, messages: list[bytes]) -> bool:
        route = self._route
        if route is None:
            return self._offer(messages, self._stream.closing)
        self._delivered += len(messages)
        return route._offer_from(self, messages, self._stream.closing)

    def _handled_one(self) -> None:
        """The callback of one of this connection's messages is over (the consumer's
        subscriber ran it): after the client's end of stream, the last one closes the
        connection, so that every callback could still answer a half-closed client."""
        self._settled = next(self._settle_count)
        if self._eof and self._settled >= self._delivered:
            self._finish()

    def _readers(self, items: list[Any]) -> list[core.EnvelopeReader]:
        return make_readers(
            items, channel=self._channel, subscriber=self, connection=self, embedded=self._embedded
        )

    def _stream_ended(self, stream: Stream, end: ConnectionClosedError) -> None:
        """On the reader thread: the client closed its side, or the connection broke."""
        self._inbox.finish(None if end.normal else end)
        if not end.normal or stream.closing.is_set():
            self._finish()
            return
        # the client closed its side only: answers may still go (a half-close, as
        # `nc -N` makes); the taker closes the connection, or, for the consumer's
        # subscriber, the end of the callback of this connection's last message does
        self._eof = True
        if self._route is not None and self._settled >= self._delivered:
            self._finish()

    def _finish(self) -> None:
        """Close the socket now (nothing more is read or answered) and forget it."""
        self._stream.close_now()
        self._consumer._forget(self)

    def _close(self) -> None:
        self._stream.begin_close(self._options.close_timeout)
        self._stream.wait_closed(time.monotonic() + self._options.close_timeout)
        self._inbox.finish()
        self._consumer._forget(self)
        dropped = self._inbox.drop()
        if dropped:
            _log.warning("%r: %d received messages no loop took were dropped", self, dropped)

    def __repr__(self) -> str:
        state = "" if self._stream.open else " closed"
        return f"<syncapi.tcp.Connection from {self._channel}{state}>"
