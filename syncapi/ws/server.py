"""The server side of ``ws://``: a WSGI application that takes WebSocket connections.

A path is registered (a *route*, ``"chat/{room}"``) by one of three calls, each a way
to handle the connections clients open on it:

* :meth:`Consumer.subscriber` — one :class:`Subscriber` receives the messages of every
  connection on the route (each envelope's ``connection`` answers its client; a
  client's messages keep their order even with ``workers=N``). For servers with many
  clients.
* :meth:`Consumer.on_connect` — a handler is called, on a thread of its own, with each
  new :class:`~syncapi.ws.Connection`; the connection closes when the handler returns.
* :meth:`Consumer.accept` — wait for the next connection and get it (the seed's model:
  a connection is a channel, ``Subscriber`` and ``Publisher`` in one).
  :meth:`Consumer.listen` registers the route beforehand, so that clients may connect
  before the first ``accept``.

A new connection goes to a waiting ``accept`` first, else to the handler, else to the
subscriber; with none of them (a route made by ``accept`` alone) it waits for the next
``accept`` (up to ``accept_backlog`` connections). The handshake is answered:

========================================  =============================================
what the client asked                     the answer
========================================  =============================================
a path with no route                      404
not a WebSocket upgrade                   426 with ``Upgrade: websocket``
a WebSocket version other than 13         426 with ``Sec-WebSocket-Version: 13``
a method other than the route's           405 with ``Allow`` (``GET``, or the
                                          channel bindings' ``method``)
a bad ``Sec-WebSocket-Key``, a required   400
query parameter or header missing
an ``Origin`` not in ``allowed_origins``  403
nothing takes connections on the route,   503 with ``Retry-After``
the backlog is full, consumer closed
the WSGI server gives no raw socket       501
all is well                               101, and the connection is open
========================================  =============================================
"""

from __future__ import annotations

import base64
import binascii
import collections
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from werkzeug.wrappers import Request
from werkzeug.wrappers import Response as WerkzeugResponse
from wsproto.utilities import generate_accept_token

from .. import core
from ..channels import ChannelAddress, ChannelRouter
from ..errors import ClosedError, ConfigError, TimeoutError
from ..servers import ServerURL, resolve_options
from ..wsgi import Serving, text_response
from .bindings import ChannelBindings, OperationBindings
from .client import check_bindings
from .connection import Connection
from .options import ConsumerOptions
from .wire import CAPABILITIES, CloseCode, Inbox, InboxSubscriber

__all__ = ["Consumer", "Subscriber"]

_log = logging.getLogger("syncapi.ws")
StartResponse = Callable[..., Any]
_T = TypeVar("_T")
Handler = Callable[[Connection], object]


class Subscriber(InboxSubscriber):
    """A route's receiver: the messages of every connection on the route that no
    ``accept`` or handler took, each with its :attr:`~syncapi.ws.EnvelopeReader.connection`.

    With ``workers=N``, callbacks of different clients run in parallel and each client's
    messages run one at a time, in order. Closing the subscriber closes its connections
    (code 1001). :meth:`on_join` and :meth:`on_leave` tell you when a client comes and
    goes (to greet it, send it a snapshot, or keep a presence list).
    """

    orders_by_connection = True

    def __init__(
        self, route: _Route, channel: str, operation_bindings: OperationBindings | None = None
    ) -> None:
        super().__init__(channel, bindings=route.bindings, operation_bindings=operation_bindings)
        self._route = route
        self._inbox = Inbox(route.consumer._options.max_pending)
        self._embedded = route.consumer._options.headers == "embed"
        self._joined: Handler | None = None
        self._left: Handler | None = None

    @property
    def connections(self) -> list[Connection]:
        """The open connections whose messages this subscriber receives."""
        return [c for c in self._route.connections() if c._route_sub is self]

    def on_join(self, callback: Handler | None) -> None:
        """Call ``callback(connection)`` for each client that connects to this route from
        now on (``None``: no more calls).

        It runs on the thread that serves that connection, after the handshake and
        before any message of the client is read, so a snapshot or greeting sent there
        with ``connection.send(...)`` comes before any answer to the client's own
        messages. Keep it short: that client's messages and pings wait for it (other
        clients do not). The connection is in :attr:`connections` already, so a
        broadcast from another thread may reach it before or while the callback runs.
        ``connection.close(code, reason)`` there turns the client away (its close
        handshake completes once the callback returns). A callback that raises is logged
        and closes that connection with 1011.

        Raises:
            ConfigError: ``callback`` is neither callable nor ``None``.
        """
        self._joined = _checked_hook("on_join", callback)

    def on_leave(self, callback: Handler | None) -> None:
        """Call ``callback(connection)`` once for each connection of this route that ends
        while it is set (``None``: no more calls), however it ended: its
        :attr:`~syncapi.ws.Connection.close_code` and ``close_reason`` are set, and it
        is no longer in :attr:`connections`.

        It runs on the thread that served the connection, after its last message was
        handed to the receive loop (callbacks of earlier messages may still be running).
        An exception is logged.

        Raises:
            ConfigError: ``callback`` is neither callable nor ``None``.
        """
        self._left = _checked_hook("on_leave", callback)

    def _join(self, conn: Connection) -> None:
        """The route placed ``conn`` here: run :meth:`on_join`'s callback (the request
        thread, before ``conn.serve()``), and arrange for :meth:`on_leave`'s."""
        conn._on_end.append(self._leave)
        joined = self._joined
        if joined is None:
            return
        # this thread is the connection's reader from here on: a close() in the callback
        # must know that nobody else will read the client's answer (see _wait_ended)
        conn._reader_thread = threading.current_thread()
        try:
            joined(conn)
        except Exception:
            _log.exception("%r: the on_join callback raised; closing %r", self, conn)
            conn._start_close(int(CloseCode.INTERNAL_ERROR), "server error")

    def _leave(self, conn: Connection) -> None:
        left = self._left
        if left is not None:
            left(conn)  # Connection.serve logs what it raises

    def _close(self) -> None:
        self._route.detach_subscriber(self)
        self._inbox.finish()
        conns = self.connections
        why = "server shutting down" if self._route.consumer.closed else "the receiver closed"
        for conn in conns:
            conn._start_close(int(CloseCode.GOING_AWAY), why)
        deadline = time.monotonic() + self._route.consumer._options.close_timeout
        for conn in conns:
            conn._wait_ended(deadline)
        dropped = self._inbox.drop()
        if dropped:
            _log.warning(
                "%r: %d received messages no loop took were dropped at close", self, dropped
            )


def _checked_hook(name: str, callback: Handler | None) -> Handler | None:
    if callback is not None and not callable(callback):
        raise ConfigError(f"{name}: expected a callable or None, got {callback!r}")
    return callback


class _Route:
    """A registered path: who takes its connections, and the connections it has."""

    def __init__(
        self, consumer: Consumer, address: ChannelAddress, bindings: ChannelBindings | None
    ) -> None:
        self.consumer = consumer
        self.address = address
        self.bindings = bindings
        self.method = (
            bindings.method if bindings is not None and bindings.method else None
        ) or "GET"
        self.required_query = (
            bindings.required_query() if bindings is not None and bindings.query else ()
        )
        self.required_headers = (
            bindings.required_headers() if bindings is not None and bindings.headers else ()
        )
        self.subscriber: Subscriber | None = None
        self.handler: Handler | None = None
        self.accepting = False  # accept() was called: keep connections for it
        self.waiters: collections.deque[list[Connection | None]] = collections.deque()
        """Slots of the accept() calls waiting, oldest first; place() fills one."""
        self.backlog: collections.deque[Connection] = collections.deque()
        self._conns: set[Connection] = set()
        self.lock = threading.Condition()

    def connections(self) -> list[Connection]:
        with self.lock:
            return list(self._conns)

    def detach_subscriber(self, sub: Subscriber) -> None:
        with self.lock:
            if self.subscriber is sub:
                self.subscriber = None
        self.consumer._drop_route_if_unused(self)

    def unused(self) -> bool:
        return self.subscriber is None and self.handler is None and not self.accepting

    def place(self, conn: Connection) -> str:
        """Give ``conn`` to its taker: ``"accept"``, ``"handler"``, ``"route"`` or
        ``"backlog"``; ``""`` when nothing takes it (503)."""
        with self.lock:
            if self.waiters:
                self.waiters.popleft()[0] = conn
                self._conns.add(conn)
                self.lock.notify_all()
                return "accept"
            if self.handler is not None:
                self._conns.add(conn)
                return "handler"
            if self.subscriber is not None and not self.subscriber.closed:
                conn._route_inbox = self.subscriber._inbox
                conn._route_sub = self.subscriber
                self._conns.add(conn)
                return "route"
            if self.accepting and len(self.backlog) < self.consumer._options.accept_backlog:
                self.backlog.append(conn)
                self._conns.add(conn)
                return "backlog"
            return ""

    def take(self, timeout: float | None) -> Connection:
        """The next connection (waiting up to ``timeout``)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        slot: list[Connection | None] = [None]
        with self.lock:
            while self.backlog:
                waiting = self.backlog.popleft()
                if waiting.connected:
                    return waiting
            self.waiters.append(slot)
            while slot[0] is None:
                if self.consumer.closed:
                    self._withdraw(slot)
                    raise ClosedError(f"{self.consumer!r} is closed")
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    self._withdraw(slot)
                    raise TimeoutError(
                        f"no WebSocket connection on {self.address} within {timeout} s"
                    )
                self.lock.wait(0.25 if left is None else min(left, 0.25))
            conn: Connection = slot[0]
            return conn

    def _withdraw(self, slot: list[Connection | None]) -> None:
        with contextlib.suppress(ValueError):
            self.waiters.remove(slot)

    def forget(self, conn: Connection) -> None:
        with self.lock:
            self._conns.discard(conn)
            with contextlib.suppress(ValueError):
                self.backlog.remove(conn)


class Consumer(Serving, core.Consumer[Subscriber]):
    """A WSGI application that takes WebSocket connections (see :mod:`syncapi.ws.server`).

    ``ws://host:port/`` names where :meth:`serve` listens by default (no port: any free
    one). Options: :class:`~syncapi.ws.ConsumerOptions`. Thread-safe. Closing it closes
    every connection (code 1001), stops its servers and ends handler threads.

    The server side needs the raw socket of the connection: werkzeug's server gives it
    (:meth:`serve`, ``flask run``, a Flask app served by werkzeug with the consumer
    mounted); servers that do not (gunicorn's sync workers, wsgiref) get ``501``.
    """

    scheme = "ws"
    capabilities = CAPABILITIES
    serving_scheme = "ws"
    serving_logger = "syncapi.ws"

    def __init__(self, url: ServerURL | str = "ws://127.0.0.1/", **options: Any) -> None:
        super().__init__(url)
        self._options: ConsumerOptions = resolve_options(ConsumerOptions, self._url.query, options)
        self._router: ChannelRouter[_Route] = ChannelRouter()
        self._routes_lock = threading.Lock()
        self._init_serving()
        self._conns: set[Connection] = set()
        self._handlers: set[threading.Thread] = set()
        self._conns_lock = threading.Lock()

    @property
    def options(self) -> ConsumerOptions:
        """The options in force."""
        return self._options

    @property
    def connections(self) -> list[Connection]:
        """Every open connection."""
        with self._conns_lock:
            return list(self._conns)

    # -- routes ---------------------------------------------------------------------------
    def _route(
        self,
        channel: str,
        bindings: Any,
        claim: Callable[[_Route], _T],
    ) -> _T:
        """Find or make the route of ``channel`` (bindings must then agree) and run
        ``claim`` on it under the locks, so that no concurrent detach drops the route
        between the two."""
        self._check_open()
        channel_bindings, _ = check_bindings(bindings, None)
        address = ChannelAddress.parse(channel.strip("/"))
        with self._routes_lock:
            found = None
            for known, route in self._router.items():
                if known == address:
                    if channel_bindings is not None and channel_bindings != route.bindings:
                        raise ConfigError(
                            f"ws route {channel!r} is already registered with other bindings"
                        )
                    found = route
            if found is None:
                found = _Route(self, address, channel_bindings)
                with found.lock:
                    result = claim(found)
                self._router.add(address, found)
                return result
            with found.lock:
                return claim(found)

    def _drop_route_if_unused(self, route: _Route) -> None:
        with self._routes_lock, route.lock:
            if route.unused():
                self._router.remove(route.address)

    def _open_subscriber(
        self, channel: str, bindings: Any, operation_bindings: Any, security: Any
    ) -> Subscriber:
        if security is not None:
            raise ConfigError("ws consumers do not check credentials; put that in your WSGI stack")
        channel_bindings, operation = check_bindings(bindings, operation_bindings)

        def claim(route: _Route) -> Subscriber:
            if route.subscriber is not None and not route.subscriber.closed:
                raise ConfigError(f"ws route {channel!r} already has a subscriber")
            route.subscriber = Subscriber(route, channel, operation)
            return route.subscriber

        return self._route(channel, channel_bindings, claim)

    def on_connect(
        self,
        channel_name: str,
        handler: Handler,
        bindings: ChannelBindings | Mapping[str, Any] | None = None,
        *,
        parameters: Mapping[str, object] | None = None,
    ) -> None:
        """Call ``handler(connection)`` on a new thread for each connection on
        ``channel_name``; the connection is closed (1000) when the handler returns, with
        1011 when it raises. The handler owns the connection: ``connection.receive(...)``
        reads it, ``connection.send(...)`` answers.

        Raises:
            ConfigError: the route has a handler already, or other bindings.
        """
        if not callable(handler):
            raise ConfigError(f"handler must be callable, got {handler!r}")

        def claim(route: _Route) -> None:
            if route.handler is not None:
                raise ConfigError(f"ws route {channel_name!r} already has a handler")
            route.handler = handler

        self._route(core._expand_channel(channel_name, parameters), bindings, claim)

    def listen(
        self,
        channel_name: str,
        bindings: ChannelBindings | Mapping[str, Any] | None = None,
        *,
        parameters: Mapping[str, object] | None = None,
    ) -> None:
        """Take connections on ``channel_name`` for :meth:`accept`, from now on: those
        that come before an ``accept`` call wait for it (up to ``accept_backlog``; more
        are answered 503). :meth:`accept` listens by itself; call this first when
        clients may connect before the first ``accept``."""
        self._route(core._expand_channel(channel_name, parameters), bindings, _listen)

    def accept(
        self,
        channel_name: str,
        bindings: ChannelBindings | Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
        parameters: Mapping[str, object] | None = None,
    ) -> Connection:
        """Wait for the next connection on ``channel_name`` and return it (the route is
        registered by the first call, and connections that come while nobody waits are
        kept for the next call, up to ``accept_backlog``).

        Raises:
            TimeoutError: no connection within ``timeout`` seconds.
            ClosedError: the consumer closed meanwhile.
        """
        core.check_timeout(timeout)
        route = self._route(core._expand_channel(channel_name, parameters), bindings, _listen)
        return route.take(timeout)

    # -- serving -----------------------------------------------------------------------------
    def _server_stopped(self, handle: Any) -> None:
        self._close_connections(str(handle.port))

    def _close_connections(self, server_port: str | None = None) -> None:
        """Close (1001) every connection, or those of one server; wait for them together."""
        conns = [c for c in self.connections if server_port is None or c.server_port == server_port]
        for conn in conns:
            conn._start_close(int(CloseCode.GOING_AWAY), "server shutting down")
            conn._closing.set()
            conn._inbox.finish()
        deadline = time.monotonic() + self._options.close_timeout
        for conn in conns:
            conn._wait_ended(deadline)

    def _close(self) -> None:
        self._stop_servers()
        self._close_connections()
        for route in [route for _, route in self._router.items()]:
            with route.lock:
                route.lock.notify_all()  # accept() waiters see the close
        with self._conns_lock:
            handlers = list(self._handlers)
        deadline = time.monotonic() + self._options.close_timeout
        for thread in handlers:  # their connections are closed: their loops end
            thread.join(max(0.0, deadline - time.monotonic()))
        late = [t.name for t in handlers if t.is_alive()]
        if late:
            _log.warning(
                "%r: %d connection handler(s) still run after the close (they do not read "
                "their connection): %s",
                self,
                len(late),
                ", ".join(late),
            )

    # -- WSGI --------------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """The WSGI entry point: a WebSocket handshake, answered as the module says."""
        request = Request(environ)
        refused = self._check_handshake(request)
        if isinstance(refused, WerkzeugResponse):
            return refused(environ, start_response)
        route, params, key = refused
        sock = environ.get("werkzeug.socket")
        if sock is None:
            return text_response(501, "this WSGI server gives no raw socket (werkzeug.socket)")(
                environ, start_response
            )
        offered = [
            p.strip()
            for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",")
            if p.strip()
        ]
        chosen = next((p for p in self._options.subprotocols if p in offered), None)
        conn = Connection(
            sock,
            channel=request.path.strip("/") or "/",
            bindings=route.bindings,
            options=self._options,
            path=request.path,
            params=params,
            query=dict(request.args.items()),
            request_headers=list(request.headers.items()),
            remote_addr=request.remote_addr,
            subprotocol=chosen,
            server_port=str(environ.get("SERVER_PORT", "")),
        )
        with self._conns_lock:
            if self._closed:
                return text_response(503, "the consumer is closed", [("Retry-After", "1")])(
                    environ, start_response
                )
            self._conns.add(conn)
        # the connection must be known to its taker before the 101 lets the client talk,
        # and the taker must not send before the 101 is out: hold the write lock till then
        with conn._write_lock:
            placed = route.place(conn)
            if not placed:
                with self._conns_lock:
                    self._conns.discard(conn)
                return text_response(
                    503,
                    f"nothing takes connections on {request.path} now",
                    [("Retry-After", "1")],
                )(environ, start_response)
            conn._on_end.append(self._ended)
            conn._on_end.append(route.forget)
            lines = [
                "HTTP/1.1 101 Switching Protocols",
                "Upgrade: websocket",
                "Connection: Upgrade",
                f"Sec-WebSocket-Accept: {generate_accept_token(key).decode('ascii')}",
            ]
            if chosen is not None:
                lines.append(f"Sec-WebSocket-Protocol: {chosen}")
            answer = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
            try:
                conn._sendall(answer, time.monotonic() + self._options.timeout)
            except OSError:
                conn._close_code = int(CloseCode.ABNORMAL)
                conn._close_reason = "the client left during the handshake"
                conn._ended.set()
                conn._inbox.finish(conn._closed_error())
                self._ended(conn)
                route.forget(conn)
                raise ConnectionError("the client left during the handshake") from None
        if placed == "handler":
            assert route.handler is not None
            self._run_handler(route.handler, conn)
        elif placed == "route":
            assert isinstance(conn._route_sub, Subscriber)
            conn._route_sub._join(conn)
        conn.serve()
        # end the hijacked request: werkzeug takes this as a dropped connection and
        # writes nothing more on the socket
        raise ConnectionError("WebSocket connection closed")

    def _ended(self, conn: Connection) -> None:
        with self._conns_lock:
            self._conns.discard(conn)

    def _run_handler(self, handler: Handler, conn: Connection) -> None:
        def run() -> None:
            code, reason = int(CloseCode.NORMAL), ""
            try:
                handler(conn)
            except Exception:
                _log.exception("%r: the connection handler raised", conn)
                code, reason = int(CloseCode.INTERNAL_ERROR), "server error"
            finally:
                try:
                    conn.close(code=code, reason=reason)
                finally:
                    with self._conns_lock:
                        self._handlers.discard(threading.current_thread())

        thread = threading.Thread(target=run, name=f"syncapi-ws-handler-{conn.path}", daemon=True)
        with self._conns_lock:
            self._handlers.add(thread)
        thread.start()

    def _check_handshake(
        self, request: Request
    ) -> WerkzeugResponse | tuple[_Route, dict[str, str], bytes]:
        if "\ufffd" in request.path:
            return text_response(400, "the path is not valid UTF-8 once decoded")
        if self._closed:
            return text_response(503, "the consumer is closed", [("Retry-After", "1")])
        found = self._router.resolve(request.path.strip("/"))
        if found is None:
            return text_response(404, f"no WebSocket route for {request.path}")
        route, params = found
        upgrade = request.headers.get("Upgrade", "").lower()
        connection = {t.strip().lower() for t in request.headers.get("Connection", "").split(",")}
        if upgrade != "websocket" or "upgrade" not in connection:
            return text_response(
                426,
                f"{request.path} takes WebSocket connections only",
                [("Upgrade", "websocket"), ("Connection", "Upgrade")],
            )
        origin = request.headers.get("Origin")
        allowed = self._options.allowed_origins
        if allowed and origin is not None and origin.strip().rstrip("/").lower() not in allowed:
            return text_response(403, f"origin {origin!r} may not connect here")
        if request.method != route.method:
            return text_response(
                405, f"{request.path} takes {route.method} handshakes", [("Allow", route.method)]
            )
        if request.headers.get("Sec-WebSocket-Version", "") != "13":
            return text_response(
                426, "only WebSocket version 13 is spoken here", [("Sec-WebSocket-Version", "13")]
            )
        key = request.headers.get("Sec-WebSocket-Key", "").strip()
        try:
            valid = len(base64.b64decode(key, validate=True)) == 16
        except (binascii.Error, ValueError):
            valid = False
        if not valid:
            return text_response(400, "Sec-WebSocket-Key is missing or not 16 bytes in base64")
        missing = [name for name in route.required_query if name not in request.args]
        if missing:
            return text_response(400, f"missing query parameter(s): {', '.join(missing)}")
        absent = [name for name in route.required_headers if name not in request.headers]
        if absent:
            return text_response(400, f"missing handshake header(s): {', '.join(absent)}")
        return route, params, key.encode("ascii")


def _listen(route: _Route) -> _Route:
    route.accepting = True
    return route
