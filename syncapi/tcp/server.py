"""The server side of ``tcp://``: a :class:`Consumer` listens, and each connection a
client opens is a channel (a :class:`~syncapi.tcp.Connection`).

TCP carries no channel name, so one consumer is one listening socket (the URL's host
and port), and its connections are taken one of three ways:

* :meth:`Consumer.subscriber` — one :class:`Subscriber` receives the messages of every
  connection (each envelope's ``connection`` answers its client; a client's messages
  keep their order even with ``workers=N``). For servers with many clients.
* :meth:`Consumer.on_connect` — a handler is called, on a thread of its own, with each
  new connection; the connection closes when the handler returns.
* :meth:`Consumer.accept` — wait for the next connection and get it (the seed's model:
  a connection is a channel, ``Subscriber`` and ``Publisher`` in one).

A new connection goes to a waiting ``accept`` first, else to the handler, else to the
subscriber; with none of them it waits (unread: TCP holds what the client sends) for
whichever comes first, up to ``accept_backlog`` connections. A client beyond
``max_connections`` or the backlog is disconnected at once, with a warning in the log.
A client that breaks the framing (announces a message over ``max_message``) is
disconnected; the others, and the listener, go on.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import logging
import socket
import struct
import threading
import time
from collections.abc import Callable
from typing import Any

from .. import core
from ..errors import ClosedError, ConfigError, ConnectError, TimeoutError
from ..inbox import Inbox, InboxSubscriber, deadline_left
from ..servers import ServerURL, resolve_options
from ..sockets import format_address
from .bindings import check_bindings
from .connection import Connection
from .framing import encoder_for
from .options import ConsumerOptions
from .stream import address_of, configure
from .wire import CAPABILITIES, make_readers

__all__ = ["Consumer", "Handler", "Subscriber"]

_log = logging.getLogger("syncapi.tcp")

Handler = Callable[[Connection], object]
"""A connection handler for :meth:`Consumer.on_connect`."""


def _size(item: tuple[bytes, Connection]) -> int:
    return len(item[0])


class Subscriber(InboxSubscriber):
    """The consumer's receiver: the messages of every connection that no ``accept`` or
    handler took, each with its :attr:`~syncapi.tcp.EnvelopeReader.connection`.

    With ``workers=N``, callbacks of different clients run in parallel and each client's
    messages run one at a time, in order. A client closing its connection does not end
    the loop. Closing the subscriber closes its connections.
    """

    def __init__(
        self, consumer: Consumer, channel: str, bindings: Any, operation_bindings: Any
    ) -> None:
        super().__init__(channel, bindings=bindings, operation_bindings=operation_bindings)
        self._consumer = consumer
        opts = consumer.options
        self._inbox = Inbox(opts.max_pending, max_bytes=opts.max_pending_bytes, sizeof=_size)
        self._embedded = consumer.options.header_policy == "embed"

    @property
    def connections(self) -> list[Connection]:
        """The open connections whose messages this subscriber receives."""
        return [c for c in self._consumer.connections if c._route is self]

    def _readers(self, items: list[Any]) -> list[core.EnvelopeReader]:
        return make_readers(
            items,
            channel=self._channel,
            subscriber=self,
            connection=None,
            embedded=self._embedded,
            ordered=True,
        )

    def _offer_from(self, conn: Connection, messages: list[bytes], stop: threading.Event) -> bool:
        """:meth:`_offer` for the messages of one read of ``conn`` (no pairs are made
        when they run on the reader's thread at once)."""
        loop = self._direct
        if loop is not None and loop.run_pushed(
            lambda: make_readers(
                messages,
                channel=self._channel,
                subscriber=self,
                connection=conn,
                embedded=self._embedded,
                ordered=True,
            )
        ):
            return True
        return self._inbox.put_many([(m, conn) for m in messages], stop)

    def _release(self, envelope: core.EnvelopeReader) -> None:
        item = envelope._item  # type: ignore[attr-defined]
        if type(item) is not tuple:  # pushed: the payload alone
            item = (item, envelope._connection)  # type: ignore[attr-defined]
        self._inbox.give_back(item)

    def _callback_done(self, envelope: core.EnvelopeReader) -> None:
        envelope._connection._handled_one()  # type: ignore[attr-defined]

    def _close(self) -> None:
        self._consumer._detach(self)
        self._inbox.finish()
        conns = self.connections
        deadline = time.monotonic() + self._consumer.options.close_timeout
        for conn in conns:
            conn._stream.begin_close(deadline - time.monotonic())
        for conn in conns:
            conn._stream.wait_closed(deadline)
            conn._consumer._forget(conn)
        dropped = self._inbox.drop()
        if dropped:
            _log.warning(
                "%r: %d received messages no loop took were dropped at close", self, dropped
            )


class Consumer(core.Consumer[Subscriber]):
    """Listens on ``tcp://host:port`` from the moment it is made (a URL without a port
    takes a free one: :attr:`address` and :attr:`bound_url` tell which). Each connection is a channel:
    take them with :meth:`subscriber`, :meth:`on_connect` or :meth:`accept` (see the
    module documentation).

    Thread-safe. Closing it stops listening and closes every connection gracefully
    (together, within ``close_timeout``).
    """

    scheme = "tcp"
    capabilities = CAPABILITIES

    def __init__(self, url: ServerURL | str = "tcp://127.0.0.1", **options: Any) -> None:
        super().__init__(url)
        self._options = resolve_options(ConsumerOptions, self._url.query, options)
        if len(self._url.hosts) > 1:
            raise ConfigError(f"a tcp:// consumer listens on one address, got {self._url}")
        if self._url.path.strip("/"):
            raise ConfigError(
                f"a tcp:// URL has no path (got {self._url.path!r}): one consumer is one "
                "listening port"
            )
        host = self._url.host or "0.0.0.0"
        port = self._url.port or 0
        self._encoder = encoder_for(self._options)
        self._listener = self._listen(host, port)
        self.address: tuple[str, int] = address_of(self._listener.getsockname())
        """The ``(host, port)`` listened on (the real port when the URL gave none)."""
        self._lock = threading.Condition()
        self._conns: set[Connection] = set()
        self._backlog: collections.deque[Connection] = collections.deque()
        self._waiters: collections.deque[list[Connection | None]] = collections.deque()
        self._subscriber: Subscriber | None = None
        self._handler: Handler | None = None
        self._handlers: set[threading.Thread] = set()
        self._acceptor = threading.Thread(
            target=self._accept_loop,
            name=f"syncapi-tcp-accept-{self.address[1]}",
            daemon=True,
        )
        self._acceptor.start()

    def _listen(self, host: str, port: int) -> socket.socket:
        opts = self._options
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
            family, _, _, _, sockaddr = infos[0]
            sock = socket.socket(family, socket.SOCK_STREAM)
        except OSError as exc:
            raise ConnectError(
                f"cannot listen on tcp://{format_address(host, port)}: {exc}"
            ) from exc
        try:
            if opts.reuse_address:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(sockaddr)
            sock.listen(opts.listen_backlog)
        except OSError as exc:
            sock.close()
            raise ConnectError(
                f"cannot listen on tcp://{format_address(host, port)}: {exc}"
            ) from exc
        return sock

    # -- public ------------------------------------------------------------------------------
    @property
    def options(self) -> ConsumerOptions:
        """The options in force."""
        return self._options

    @property
    def bound_url(self) -> str:
        """``tcp://host:port`` as listened on: give it to a :class:`~syncapi.tcp.Producer`
        (a wildcard host, ``0.0.0.0`` or ``::``, is given as the loopback address)."""
        host, port = self.address
        host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
        return f"tcp://{format_address(host, port)}"

    @property
    def connections(self) -> list[Connection]:
        """Every open connection (backlogged ones included)."""
        with self._lock:
            return list(self._conns)

    def on_connect(self, handler: Handler) -> None:
        """Call ``handler(connection)`` on a new thread for each new connection; the
        connection is closed when the handler returns (or raises: logged). The handler
        owns the connection: ``connection.receive(...)`` reads it, ``connection.send(...)``
        answers. Connections waiting in the backlog go to it at once.

        Raises:
            ConfigError: a handler is set already.
        """
        if not callable(handler):
            raise ConfigError(f"handler must be callable, got {handler!r}")
        self._check_open()
        with self._lock:
            if self._handler is not None:
                raise ConfigError(f"{self!r} has a connection handler already")
            self._handler = handler
            waiting = self._take_backlog()
        for conn in waiting:
            self._run_handler(handler, conn)

    def accept(self, timeout: float | None = None) -> Connection:
        """Wait for the next connection and return it (a connection that came while
        nobody waited is returned at once, from the backlog).

        Raises:
            TimeoutError: no connection within ``timeout`` seconds.
            ClosedError: the consumer closed meanwhile.
        """
        core.check_timeout(timeout)
        self._check_open()
        deadline = None if timeout is None else time.monotonic() + timeout
        slot: list[Connection | None] = [None]
        with self._lock:
            if self._backlog:
                conn = self._backlog.popleft()
                conn._start(None)
                return conn
            self._waiters.append(slot)
            try:
                while slot[0] is None:
                    if self._closed:
                        raise ClosedError(f"{self!r} is closed")
                    left = deadline_left(deadline)
                    if left == 0:
                        raise TimeoutError(f"no connection on {self.bound_url} within {timeout} s")
                    self._lock.wait(left)
            finally:
                if slot[0] is None:
                    self._waiters.remove(slot)
        return slot[0]

    # -- taking connections ------------------------------------------------------------------
    def _open_subscriber(
        self, channel: str, bindings: Any, operation_bindings: Any, security: Any
    ) -> Subscriber:
        channel_bindings, op = check_bindings(bindings, operation_bindings)
        if security is not None:
            raise ConfigError("tcp:// has no authentication (TLS is not built yet)")
        with self._lock:
            current = self._subscriber
            if current is not None and not current.closed:
                raise ConfigError(
                    f"{self!r} has a subscriber already ({current.channel!r}): TCP carries no "
                    "channel name, so one consumer (one listening port) has one subscriber; "
                    "listen on another port for another channel"
                )
            sub = Subscriber(self, channel, channel_bindings, op)
            self._subscriber = sub
            # under the lock: a close of the subscriber must find them routed to it
            for conn in [] if self._handler is not None else self._take_backlog():
                conn._start(sub)
        return sub

    def _take_backlog(self) -> list[Connection]:
        waiting = list(self._backlog)
        self._backlog.clear()
        return waiting

    def _detach(self, sub: Subscriber) -> None:
        with self._lock:
            if self._subscriber is sub:
                self._subscriber = None

    def _accept_loop(self) -> None:
        listener = self._listener
        while True:
            try:
                sock, _ = listener.accept()
            except OSError as exc:
                if self._closed:
                    return
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    _log.error("%r: cannot accept a connection: %s", self, exc)
                    time.sleep(0.1)  # out of descriptors: let some close
                    continue
                if exc.errno in (errno.EINVAL, errno.EBADF):  # the listener is gone
                    return
                _log.debug("%r: accept failed: %s", self, exc)  # a client gone before accept
                continue
            try:
                self._admit(sock)
            except Exception:  # never let one client end the listener
                _log.exception("%r: a new connection failed", self)
                with contextlib.suppress(OSError):
                    sock.close()

    def _admit(self, sock: socket.socket) -> None:
        opts = self._options
        with self._lock:
            crowded = len(self._conns) >= opts.max_connections
        if crowded or self._closed:
            if crowded:
                _log.warning(
                    "%r: %d connections open (max_connections): a new client is disconnected",
                    self,
                    opts.max_connections,
                )
            with contextlib.suppress(OSError):  # a reset: the client sees it refused
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
            return
        try:
            configure(sock, opts)
            conn = Connection(self, sock)
        except OSError as exc:  # reset before we looked at it
            _log.debug("%r: a new connection failed: %s", self, exc)
            sock.close()
            return
        handler = None
        with self._lock:
            if self.closed:
                refused = "the consumer is closed"
            else:
                refused = ""
                self._conns.add(conn)
                if self._waiters:
                    slot = self._waiters.popleft()
                    conn._start(None)
                    slot[0] = conn
                    self._lock.notify_all()
                    return
                if self._handler is not None:
                    handler = self._handler
                elif self._subscriber is not None and not self._subscriber.closed:
                    # under the lock: a close of the subscriber must find it routed to it
                    self._subscriber_start(conn)
                    return
                elif len(self._backlog) < opts.accept_backlog:
                    self._backlog.append(conn)
                    return
                else:
                    self._conns.discard(conn)
                    refused = f"{opts.accept_backlog} connections wait already (accept_backlog)"
        if refused:
            _log.warning("%r: a client from %s is disconnected: %s", self, conn.channel, refused)
            conn._stream.abort(refused, linger=False)  # a reset: the client sees it refused
            return
        assert handler is not None
        self._run_handler(handler, conn)

    def _subscriber_start(self, conn: Connection) -> None:
        sub = self._subscriber
        assert sub is not None
        conn._start(sub)

    def _run_handler(self, handler: Handler, conn: Connection) -> None:
        def run() -> None:
            try:
                handler(conn)
            except Exception:
                _log.exception("%r: the connection handler raised", conn)
            finally:
                try:
                    conn.close()
                finally:
                    with self._lock:
                        self._handlers.discard(threading.current_thread())

        thread = threading.Thread(
            target=run, name=f"syncapi-tcp-handler-{conn.channel}", daemon=True
        )
        with self._lock:
            self._handlers.add(thread)
        conn._start(None)
        thread.start()

    def _forget(self, conn: Connection) -> None:
        with self._lock:
            self._conns.discard(conn)
            with contextlib.suppress(ValueError):
                self._backlog.remove(conn)

    # -- closing --------------------------------------------------------------------------
    def _close(self) -> None:
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self._acceptor.join(5.0)
        self._listener.close()
        with self._lock:
            conns = list(self._conns)
            self._backlog.clear()
            self._lock.notify_all()  # accept() waiters see the close
            handlers = list(self._handlers)
        deadline = time.monotonic() + self._options.close_timeout
        for conn in conns:
            conn._stream.begin_close(deadline - time.monotonic())
        for conn in conns:
            conn._stream.wait_closed(deadline)
            conn._inbox.finish()
        me = threading.current_thread()  # close() from a handler: not waiting for itself
        handlers = [t for t in handlers if t is not me]
        for thread in handlers:  # their connections are closed: their loops end
            thread.join(max(0.0, deadline + 1.0 - time.monotonic()))
        late = [t.name for t in handlers if t.is_alive()]
        if late:
            _log.warning(
                "%r: %d connection handler(s) still run after the close (they do not read "
                "their connection): %s",
                self,
                len(late),
                ", ".join(late),
            )

    def __repr__(self) -> str:
        state = " closed" if self._closed else ""
        return f"<syncapi.tcp.Consumer {format_address(*self.address)}{state}>"
