"""The client side of ``tcp://``: a :class:`Producer` whose publishers are connections.

Each :meth:`Producer.publisher` dials the server (``tcp://host:port``) and is **one
connection**: ``send`` frames messages onto it, and :attr:`Publisher.subscriber`
receives what the server sends back on it. With ``reconnect=True`` a dropped
connection is dialled again, with backoff, and sends wait for it.
"""

from __future__ import annotations

import builtins
import errno
import logging
import os
import select
import socket
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from .. import core
from ..errors import ClosedError, ConfigError, ConnectError, MessageTooLarge, TimeoutError
from ..headers import apply_header_policy
from ..inbox import Inbox, InboxSubscriber, deadline_left
from ..servers import ServerURL, resolve_options
from ..sockets import format_address
from .bindings import check_bindings
from .framing import Encoder, encoder_for
from .options import ProducerOptions
from .stream import Stream, configure
from .wire import CAPABILITIES, ConnectionClosedError, EnvelopeWriter, make_readers

__all__ = ["ClientSubscriber", "Producer", "Publisher", "bare_frame", "encode_batch"]

_log = logging.getLogger("syncapi.tcp")


def encode_batch(
    envelopes: Sequence[core.EnvelopeWriter],
    options: Any,
    *,
    where: str,
    warned: list[bool],
) -> list[bytes]:
    """The messages that carry ``envelopes`` under the header policy, each checked
    against ``max_message`` before anything is sent.

    Raises:
        MessageTooLarge: a message is over ``max_message``; every envelope is listed as
            not sent.
        ConfigError: headers under policy ``"raise"``.
    """
    policy = options.header_policy
    limit = options.max_message
    out = []
    for env in envelopes:
        data = apply_header_policy(
            policy, env._headers, env._content_type, env.payload, where=where, warned=warned
        )
        if len(data) > limit:
            raise MessageTooLarge(
                f"{where}: a {len(data)}-byte message is over max_message ({limit} bytes)",
                [(e, "not sent") for e in envelopes],
            )
        out.append(data)
    return out


def connect(host: str, port: int, timeout: float, cancelled: Callable[[], bool]) -> socket.socket:
    """A TCP connection to ``host:port`` (each address the name resolves to, in turn),
    made without blocking, so that ``cancelled()`` (checked every 0.1 s) can stop it.

    Raises:
        builtins.TimeoutError: no connection within ``timeout`` seconds.
        ClosedError: ``cancelled()`` said so.
        OSError: refused, unreachable, or the name does not resolve.
    """
    deadline = time.monotonic() + timeout
    failure: OSError = OSError(f"{host!r} resolves to no address")
    for family, kind, proto, _, address in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        sock = socket.socket(family, kind, proto)
        try:
            sock.setblocking(False)
            err = sock.connect_ex(address)
            poller = select.poll()
            poller.register(sock, select.POLLOUT)
            while err == errno.EINPROGRESS:
                if cancelled():
                    raise ClosedError("closed while connecting")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise builtins.TimeoutError(f"no connection within {timeout} s")
                if poller.poll(min(left, 0.1) * 1000):
                    err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                raise OSError(err, os.strerror(err))
            sock.setblocking(True)
            return sock
        except OSError as exc:
            sock.close()
            if isinstance(exc, builtins.TimeoutError):
                raise
            failure = exc
        except BaseException:
            sock.close()
            raise
    raise failure


def bare_frame(encoder: Encoder, item: object) -> bytes | None:
    """The frame of one ``send`` argument when it is a bare payload (``bytes``, or an
    envelope without headers or content type) that the encoder sends as it is; else
    ``None`` (the caller takes the long way)."""
    if type(item) is bytes:
        return encoder.frame_bare(item)
    if type(item) is EnvelopeWriter and not item._headers and item._content_type is None:
        return encoder.frame_bare(item.payload)
    return None


class ClientSubscriber(InboxSubscriber):
    """What the server sends on one client connection (:attr:`Publisher.subscriber`).

    Messages reach the receive loop in the order they came. The loop ends quietly when
    the server closes the connection normally, with
    :class:`~syncapi.tcp.ConnectionClosedError` when it broke (a reset, a broken
    framing), and goes on across reconnects when the producer has ``reconnect=True``.
    """

    def __init__(self, publisher: Publisher) -> None:
        super().__init__(
            publisher.channel,
            bindings=publisher.bindings,
            operation_bindings=publisher.operation_bindings,
        )
        self._publisher = publisher
        opts = publisher._options
        self._inbox = Inbox(opts.max_pending, max_bytes=opts.max_pending_bytes)
        self._embedded = publisher._options.header_policy == "embed"

    @property
    def publisher(self) -> Publisher:
        """The connection this subscriber reads."""
        return self._publisher

    def _readers(self, items: list[Any]) -> list[core.EnvelopeReader]:
        return make_readers(
            items,
            channel=self._channel,
            subscriber=self,
            connection=self._publisher,
            embedded=self._embedded,
        )

    def _close(self) -> None:
        self._inbox.finish()
        dropped = self._inbox.drop()
        if dropped:
            _log.debug("%r: %d received messages dropped at close", self, dropped)


class Publisher(core.Publisher[EnvelopeWriter]):
    """One TCP connection to the server: ``send`` writes framed messages (thread-safe;
    one ``send`` call's messages go out together, in order), :attr:`subscriber` receives.

    ``send`` returns when the messages are written to the socket (the kernel has them;
    TCP has no application-level acknowledgement). It raises
    :class:`~syncapi.tcp.ConnectionClosedError` on a closed connection,
    :class:`~syncapi.errors.MessageTooLarge` over ``max_message`` and
    :class:`~syncapi.errors.TimeoutError` when the server reads nothing for the send
    timeout (the connection is then dropped).
    """

    envelope_class = EnvelopeWriter

    def __init__(
        self,
        producer: Producer,
        channel: str,
        bindings: Any,
        operation_bindings: Any,
    ) -> None:
        super().__init__(channel, bindings=bindings, operation_bindings=operation_bindings)
        self._producer = producer
        self._options = producer.options
        self._address = producer.address
        self._where = f"tcp publisher {format_address(*self._address)} ({channel!r})"
        self._warned = [False]
        self._encoder = encoder_for(self._options)
        # send()'s shortcut: -1 when there is none (framing other than length)
        self._bare_limit, self._magic, self._pack = self._encoder.shortcut()
        self._cond = threading.Condition()
        self._stream: Stream | None = None
        self._ended: ConnectionClosedError | None = None  # gone for good
        self._ending = False  # close() started
        self._backoff = self._options.reconnect_delay
        self._connected_at = 0.0
        self.reconnects = 0
        """How many times the connection was made again (``reconnect=True``)."""
        self._subscriber = ClientSubscriber(self)
        self._attach(self._dial())  # close() cannot come first: nobody has the publisher

    # -- public ------------------------------------------------------------------------------
    @property
    def subscriber(self) -> ClientSubscriber:
        """What the server sends on this connection."""
        return self._subscriber

    @property
    def connected(self) -> bool:
        """Whether the connection is open now."""
        stream = self._stream
        return stream is not None and stream.open

    @property
    def remote_addr(self) -> tuple[str, int]:
        """The server's address, ``(host, port)``, as connected."""
        stream = self._stream
        return stream.remote_addr if stream is not None else self._address

    @property
    def local_addr(self) -> tuple[str, int] | None:
        """This end's address, ``(host, port)`` (``None`` while not connected)."""
        stream = self._stream
        return stream.local_addr if stream is not None else None

    # -- sending ----------------------------------------------------------------------------
    def send(
        self, *envelopes: core.EnvelopeWriter | core.Payload, timeout: float | None = None
    ) -> None:
        """Send messages on the connection (see :meth:`syncapi.Publisher.send`); returns
        when they are written to the socket. Thread-safe."""
        if timeout is None and len(envelopes) == 1 and not self._closed:
            # the usual case, the short way: one bytes payload that length framing sends
            # as it is (inline: each call level costs as much as the rest of it)
            data = envelopes[0]
            stream = self._stream
            if (
                type(data) is bytes
                and self._bare_limit >= len(data)
                and data[:4] != self._magic
                and stream is not None
                and stream.is_open
            ):
                try:
                    stream.write(self._pack(len(data)) + data, None)
                    return
                except ConnectionClosedError:
                    pass  # the long way: reconnect, or raise naming the envelope
            framed = bare_frame(self._encoder, data)
            if framed is not None and stream is not None and stream.is_open:
                try:
                    stream.write(framed, None)
                    return
                except ConnectionClosedError:
                    pass
        super().send(*envelopes, timeout=timeout)

    def _send(self, envelopes: Sequence[core.EnvelopeWriter], timeout: float | None) -> None:
        messages = encode_batch(envelopes, self._options, where=self._where, warned=self._warned)
        data = self._encoder.frame(messages, where=self._where)
        deadline = time.monotonic() + (self._options.timeout if timeout is None else timeout)
        while True:
            stream = self._current(deadline, envelopes)
            try:
                stream.write(data, None if timeout is None else deadline_left(deadline))
                return
            except ConnectionClosedError as exc:
                if not self._options.reconnect or self._ending:
                    exc.failures = [(env, "not sent") for env in envelopes]
                    raise
                # not written whole, so not delivered: send it again on the new connection

    def _current(self, deadline: float, envelopes: Sequence[core.EnvelopeWriter]) -> Stream:
        """The open connection, waiting for a reconnect up to ``deadline``."""
        stream = self._stream
        if stream is not None and stream.open:
            return stream  # the usual case, without the lock
        with self._cond:
            while True:
                if self._ending:
                    raise ClosedError(f"{self!r} is closed")
                if self._ended is not None:
                    end = self._ended
                    raise ConnectionClosedError(
                        f"{self._where}: the connection is closed: {end.reason}",
                        end.reason,
                        normal=end.normal,
                        failures=[(env, "not sent") for env in envelopes],
                    )
                stream = self._stream
                if stream is not None and stream.open:
                    return stream
                left = deadline_left(deadline)
                if not left:
                    raise TimeoutError(f"{self._where}: not reconnected in time")
                self._cond.wait(left)

    # -- connecting -----------------------------------------------------------------------
    def _dial(self) -> Stream:
        """A new connection to the server, as a stream not yet reading.

        Raises:
            ConnectError: it could not be made within ``connect_timeout``.
            ClosedError: ``close()`` was called meanwhile.
        """
        opts = self._options
        host, port = self._address
        shown = f"tcp://{format_address(host, port)}"
        try:
            sock = connect(host, port, opts.connect_timeout, self._is_ending)
        except builtins.TimeoutError as exc:
            raise ConnectError(f"{shown}: no connection within {opts.connect_timeout} s") from exc
        except OSError as exc:
            raise ConnectError(f"cannot connect to {shown}: {exc}") from exc
        try:
            configure(sock, opts)
            return Stream(
                sock,
                opts,
                where=self._where,
                deliver=self._deliver,
                finished=self._stream_ended,
            )
        except OSError as exc:  # reset the moment it was made
            sock.close()
            raise ConnectError(f"{shown}: the new connection broke at once: {exc}") from exc

    def _attach(self, stream: Stream) -> bool:
        """Make ``stream`` the connection and start reading it; ``False`` (and closed)
        when ``close()`` came first."""
        with self._cond:
            if self._ending:
                attached = False
            else:
                attached = True
                self._stream = stream
                self._connected_at = time.monotonic()
                self._cond.notify_all()
        if not attached:
            stream.close_now()
            return False
        stream.start(f"syncapi-tcp-client-{format_address(*stream.local_addr)}")
        return True

    def _deliver(self, messages: list[bytes]) -> bool:
        stream = self._stream
        return self._subscriber._offer(messages, stream.closing if stream is not None else None)

    def _stream_ended(self, stream: Stream, end: ConnectionClosedError) -> None:
        """On the reader thread: the connection ended. Reconnect, or end for good."""
        stream.close_now()  # the server closed its side or it broke: this side is done too
        with self._cond:
            if stream is not self._stream:
                return
            self._cond.notify_all()
        if self._ending or not self._options.reconnect:
            self._end(end)
            return
        _log.warning("%s: the connection ended (%s); reconnecting", self._where, end.reason)
        self._redial()

    def _redial(self) -> None:
        """Dial until it works, the attempts run out or close() is called."""
        opts = self._options
        lived = time.monotonic() - self._connected_at
        # a connection that died young does not reset the backoff: no reconnect storm
        delay = opts.reconnect_delay if lived >= opts.reconnect_max_delay else self._backoff
        attempt = 0
        while True:
            with self._cond:
                if self._cond.wait_for(self._is_ending, delay):
                    return
            attempt += 1
            try:
                stream = self._dial()
            except ClosedError:
                return
            except ConnectError as exc:
                _log.warning("%s: reconnect attempt %d failed: %s", self._where, attempt, exc)
                if opts.reconnect_attempts is not None and attempt >= opts.reconnect_attempts:
                    self._end(
                        ConnectionClosedError(
                            f"{self._where}: gave up after {attempt} reconnect attempts ({exc})",
                            f"gave up reconnecting: {exc}",
                        )
                    )
                    return
                delay = min(delay * 2, opts.reconnect_max_delay)
                continue
            self._backoff = min(delay * 2, opts.reconnect_max_delay)
            with self._cond:
                self.reconnects += 1
            if self._attach(stream):
                _log.info("%s: reconnected (attempt %d)", self._where, attempt)
            return

    def _is_ending(self) -> bool:
        return self._ending

    def _end(self, end: ConnectionClosedError) -> None:
        """The connection is gone for good: fail waiting sends, end the receive loop."""
        with self._cond:
            if self._ended is None:
                self._ended = end
            self._cond.notify_all()
        self._subscriber._inbox.finish(None if end.normal else end)

    # -- closing --------------------------------------------------------------------------
    def _begin_close(self, wait: float) -> Stream | None:
        with self._cond:
            self._ending = True
            stream = self._stream
            self._cond.notify_all()
        if stream is not None:
            stream.begin_close(wait)
        return stream

    def _finish_close(
        self, stream: Stream | None, deadline: float, loops_deadline: float | None
    ) -> None:
        """Wait for the server's side (until ``deadline``), end the receive loop
        (running callbacks may finish until ``loops_deadline``; ``None``: no bound)."""
        if stream is not None:
            # a callback running on the reader thread (direct dispatch) keeps the end
            # of stream unread: it has until loops_deadline, like any callback
            stream.wait_closed(
                deadline if loops_deadline is None else min(deadline, loops_deadline)
            )
        self._end(
            stream.end
            if stream is not None and stream.end is not None
            else ConnectionClosedError(f"{self._where}: closed", "closed by this end", normal=True)
        )
        left = None if loops_deadline is None else max(0.0, loops_deadline - time.monotonic())
        self._subscriber.close(left)
        self._producer._forget(self)

    def _close(self) -> None:
        wait = self._options.close_timeout
        stream = self._begin_close(wait)
        self._finish_close(stream, time.monotonic() + wait, time.monotonic() + 10.0)

    def __repr__(self) -> str:
        state = " closed" if self._closed else ""
        return f"<syncapi.tcp.Publisher {format_address(*self._address)} {self._channel!r}{state}>"


class Producer(core.Producer[Publisher]):
    """Dials ``tcp://host:port``: each :meth:`publisher` is one connection (see
    :class:`Publisher`). Thread-safe; closing it closes every connection it made
    (together, within ``close_timeout``)."""

    scheme = "tcp"
    capabilities = CAPABILITIES

    def __init__(self, url: ServerURL | str = "tcp://127.0.0.1:9000", **options: Any) -> None:
        super().__init__(url)
        self._options = resolve_options(ProducerOptions, self._url.query, options)
        if len(self._url.hosts) != 1 or self._url.port is None:
            raise ConfigError(f"a tcp:// URL names one host and its port, got {self._url}")
        if self._url.path.strip("/"):
            raise ConfigError(
                f"a tcp:// URL has no path (got {self._url.path!r}): TCP has no addressing "
                "beyond host and port; name channels in publisher()"
            )
        host = self._url.host or "127.0.0.1"
        self.address: tuple[str, int] = (host, self._url.port)
        """The server's ``(host, port)``."""
        self._live: set[Publisher] = set()
        self._live_lock = threading.Lock()

    @property
    def options(self) -> ProducerOptions:
        """The options in force."""
        return self._options

    def _open_publisher(
        self, channel: str, bindings: Any, operation_bindings: Any, security: Any
    ) -> Publisher:
        channel_bindings, op = check_bindings(bindings, operation_bindings)
        if security is not None:
            raise ConfigError("tcp:// has no authentication (TLS is not built yet)")
        pub = Publisher(self, channel, channel_bindings, op)
        with self._live_lock:
            self._live.add(pub)
        return pub

    def _forget(self, pub: Publisher) -> None:
        with self._live_lock:
            self._live.discard(pub)

    def close(self, timeout: float | None = 10.0) -> None:
        """Close every connection (together: each closes its side, then all wait for the
        server's within ``close_timeout``). Idempotent and thread-safe."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        with self._children_lock:
            children, self._children = self._children, []
        closing = []
        deadline = time.monotonic() + self._options.close_timeout
        loops_deadline = None if timeout is None else time.monotonic() + timeout
        for child in children:
            if isinstance(child, Publisher):
                with child._close_lock:
                    if child._closed:
                        continue
                    child._closed = True
                closing.append((child, child._begin_close(deadline - time.monotonic())))
            else:
                child.close()
        for pub, stream in closing:
            try:
                pub._finish_close(stream, deadline, loops_deadline)
            except Exception:  # one connection must not keep the others open
                _log.exception("%r: closing failed", pub)
