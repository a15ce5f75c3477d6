"""One server-side WebSocket connection: wsproto framing on the socket werkzeug hands over.

The WSGI request thread that accepted the handshake becomes the connection's reader: it
reads the socket, feeds wsproto, answers pings, pings an idle client and drops it when
it stops answering, enforces ``max_message`` (close 1009) and ``idle_timeout`` (close
1001), and queues each message for a receive loop. Other threads send through
:meth:`Connection.send`: one lock keeps frames whole and in order on the socket.
"""

from __future__ import annotations

import builtins
import contextlib
import logging
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from wsproto.connection import Connection as WSConnection
from wsproto.connection import ConnectionState, ConnectionType
from wsproto.events import (
    BytesMessage,
    CloseConnection,
    Event,
    Ping,
    TextMessage,
)
from wsproto.utilities import LocalProtocolError

from .. import core
from ..errors import TimeoutError
from .options import ConsumerOptions
from .wire import (
    NORMAL_CLOSES,
    CloseCode,
    ConnectionClosedError,
    EnvelopeWriter,
    Inbox,
    InboxSubscriber,
    Opcode,
    check_close_code,
    check_close_reason,
    encode_within,
)

__all__ = ["Connection", "ConnectionPublisher"]

_log = logging.getLogger("syncapi.ws")
_READ_SIZE = 64 * 1024
_BATCH = 64  # most messages handed to the receive loop at once
_BATCH_BYTES = 256 * 1024  # a message this big is handed over at once


class ConnectionPublisher(core.Publisher[EnvelopeWriter]):
    """The sending side of a server :class:`Connection` (``connection.publisher``), for
    code that takes a :class:`syncapi.Publisher`. ``send`` is the connection's."""

    envelope_class = EnvelopeWriter

    def __init__(self, connection: Connection) -> None:
        super().__init__(connection.channel, bindings=connection.bindings)
        self._connection = connection

    def _send(self, envelopes: Sequence[core.EnvelopeWriter], timeout: float | None) -> None:
        self._connection._send(envelopes, timeout)

    def __repr__(self) -> str:
        return f"<syncapi.ws.ConnectionPublisher of {self._connection!r}>"


class Connection(InboxSubscriber):
    """One WebSocket connection a client opened to the consumer: a channel both ways.

    As a :class:`syncapi.Subscriber` it receives what this client sends (``receive``,
    ``start``, ``fetch``; ``workers=N`` runs this client's callbacks in parallel); and
    :meth:`send` (thread-safe) sends to it. ``close(code=..., reason=...)`` closes it.

    Handshake details: :attr:`path`, :attr:`params` (the route's ``{name}`` values),
    :attr:`query`, :attr:`request_headers`, :attr:`remote_addr`, :attr:`subprotocol`.
    How it ended: :attr:`close_code` and :attr:`close_reason`.
    """

    orders_by_connection = False
    envelope_class = EnvelopeWriter

    def __init__(
        self,
        sock: socket.socket,
        *,
        channel: str,
        bindings: Any,
        options: ConsumerOptions,
        path: str,
        params: dict[str, str],
        query: dict[str, str],
        request_headers: list[tuple[str, str]],
        remote_addr: str | None,
        subprotocol: str | None,
        server_port: str,
    ) -> None:
        super().__init__(channel, bindings=bindings)
        # non-blocking from the start: a taker may send (under a deadline, _sendall)
        # before the reader runs
        sock.setblocking(False)
        self._sock = sock
        self._options = options
        self.path = path
        """The request path of the handshake."""
        self.params = params
        """The values of the route's ``{name}`` parameters."""
        self.query = query
        """The handshake's query parameters (first value of each name)."""
        self.request_headers = request_headers
        """The handshake's HTTP headers, as ``(name, value)`` pairs."""
        self.remote_addr = remote_addr
        """The client's address."""
        self.subprotocol = subprotocol
        """The subprotocol chosen in the handshake, if any."""
        self.server_port = server_port
        self._ws = WSConnection(ConnectionType.SERVER)
        self._proto_lock = threading.Lock()  # wsproto's state
        self._write_lock = threading.Lock()  # whole frames, in order, on the socket
        self._inbox = Inbox(options.max_pending)
        self._embedded = options.headers == "embed"
        self._route_inbox: Inbox | None = None  # messages go there when a route takes them
        self._route_sub: core.Subscriber | None = None
        self._where = f"ws connection {path} from {remote_addr}"
        self._warned = [False]
        self._ended = threading.Event()
        self._closing = threading.Event()  # a close started: blocked deliveries give up
        self._linger = False  # closed for what the client sent: drain before shutting
        self._reader_thread: threading.Thread | None = None
        self._writer: int | None = None  # the thread writing frames now
        self._parts: list[Any] = []  # the message being assembled (reader only)
        self._size = 0
        self._received = 0  # messages read (reader only)
        self._close_code: int | None = None
        self._close_reason = ""
        self._closing_deadline: float | None = None
        self._publisher: ConnectionPublisher | None = None
        self._on_end: list[Callable[[Connection], None]] = []

    # -- public ------------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        """Whether the connection is open (no close started by either side)."""
        return not self._ended.is_set() and self._ws.state is ConnectionState.OPEN

    @property
    def close_code(self) -> int | None:
        """How the connection ended (``None`` while open): the close code, ``1006`` when
        it broke without a close frame."""
        return self._close_code

    @property
    def close_reason(self) -> str:
        """The close reason, or what broke the connection."""
        return self._close_reason

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
        """Send messages to this client (``str``: text, ``bytes``: binary, or envelopes);
        returns when the frames are written. Thread-safe.

        Raises:
            ConnectionClosedError: the connection is closed.
            MessageTooLarge: a message is over ``max_message``.
            TimeoutError: the client read nothing for the ``timeout`` option's seconds
                (the connection is then dropped).
        """
        if timeout is not None:
            core.check_timeout(timeout)
        self._send(core.as_envelopes(self, EnvelopeWriter, envelopes), timeout)

    def close(self, timeout: float | None = 10.0, *, code: int = 1000, reason: str = "") -> None:
        """Close the connection with ``code`` and ``reason``: stop its receive loops
        (running callbacks may finish within ``timeout``), send the close frame and wait
        up to the ``close_timeout`` option for the client's answer. Idempotent.

        Raises:
            ConfigError: a code an endpoint may not send (1005, 1006...) or a reason
                over 123 bytes.
        """
        check_close_code(code)
        check_close_reason(reason)
        self._start_close(code, reason)
        super().close(timeout)

    # -- sending ----------------------------------------------------------------------------
    def _send(self, envelopes: Sequence[core.EnvelopeWriter], timeout: float | None) -> None:
        opts = self._options
        events: list[Event] = []
        for env in envelopes:
            data, opcode = encode_within(
                env,
                opts.headers,
                opts.max_message,
                where=self._where,
                warned=self._warned,
                batch=envelopes,
            )
            events.append(
                TextMessage(data=data.decode("utf-8"))
                if opcode is Opcode.TEXT
                else BytesMessage(data=data)
            )
        try:
            self._write(events, timeout)
        except ConnectionClosedError as exc:
            exc.failures = [(env, "not sent") for env in envelopes]
            raise

    def _write(self, events: Sequence[Event], timeout: float | None = None) -> None:
        """Frame ``events`` and write them whole within ``timeout`` (default: the
        ``timeout`` option); raises ConnectionClosedError or TimeoutError."""
        limit = self._options.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        if not self._write_lock.acquire(timeout=limit):
            raise TimeoutError(f"{self._where}: other sends held the connection for {limit} s")
        self._writer = threading.get_ident()
        try:
            with self._proto_lock:
                try:  # wsproto refuses what the state forbids (data once a close began)
                    data = b"".join([self._ws.send(event) for event in events])
                except LocalProtocolError as exc:
                    raise self._closed_error() from exc
            try:
                self._sendall(data, deadline)
            except builtins.TimeoutError as exc:
                self._drop(f"the client read nothing for {limit} s")
                raise TimeoutError(
                    f"{self._where}: the client read nothing for {limit} s; "
                    "the connection was dropped (a frame may be half written)"
                ) from exc
            except OSError as exc:
                self._drop(f"send failed: {exc}")
                raise self._closed_error() from exc
        finally:
            self._writer = None
            self._write_lock.release()

    def _sendall(self, data: bytes, deadline: float) -> None:
        """Write ``data`` whole on the non-blocking socket by ``deadline``: one ``send``
        when the socket takes it (the usual case), a wait for room only when it does not."""
        sock = self._sock
        view = memoryview(data)
        while view:
            try:
                sent = sock.send(view)
            except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
                sent = 0
            if sent:
                view = view[sent:]
                continue
            left = deadline - time.monotonic()
            if left <= 0:
                raise builtins.TimeoutError("the socket took nothing in time")
            poller = select.poll()
            poller.register(sock, select.POLLOUT)
            poller.poll(max(1, int(left * 1000)))

    def _closed_error(self) -> ConnectionClosedError:
        code = self._close_code or int(CloseCode.ABNORMAL)
        reason = self._close_reason
        return ConnectionClosedError(
            f"{self._where} is closed ({code} {reason})".rstrip(), code, reason
        )

    def _send_control(self, event: Event, timeout: float | None = None) -> bool:
        """Send a ping, pong or close; a broken socket is the reader's to see. ``False``
        when it could not be sent."""
        try:
            self._write([event], timeout)
        except (ConnectionClosedError, TimeoutError):
            return False
        return True

    # -- closing -----------------------------------------------------------------------------
    def _start_close(self, code: int, reason: str) -> None:
        """Send the close frame (once, within ``close_timeout``); the reader waits for the
        client's answer. Safe in a signal handler: when this thread was interrupted in
        its own send, or another send holds the socket past ``close_timeout``, the
        connection is broken off instead (a close frame then would corrupt the stream)."""
        wait = self._options.close_timeout
        if self._writer == threading.get_ident():
            self._closing.set()
            self._drop("closed during a send")
            return
        if not self._proto_lock.acquire(timeout=wait):
            self._closing.set()
            self._drop("closed while the connection was busy")
            return
        try:
            if self._ws.state is not ConnectionState.OPEN or self._ended.is_set():
                return
            if self._close_code is None:
                self._close_code = code
                self._close_reason = reason
            self._closing_deadline = time.monotonic() + wait
        finally:
            self._proto_lock.release()
        self._closing.set()
        if not self._send_control(CloseConnection(code=code, reason=reason), wait):
            self._drop("the close frame could not be sent")

    def _drop(self, why: str) -> None:
        """Break the connection off now (the reader ends on it)."""
        if self._close_code is None:
            self._close_code = int(CloseCode.ABNORMAL)
            self._close_reason = why
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)

    def _close(self) -> None:
        self._start_close(int(CloseCode.NORMAL), "")
        self._closing.set()
        self._inbox.finish()
        self._wait_ended()

    def _wait_ended(self, deadline: float | None = None) -> None:
        """Wait for the reader to end (the client's close answer), at most until
        ``deadline`` (default: ``close_timeout`` from now); then break the connection off."""
        if threading.current_thread() is self._reader_thread:
            return  # the reader ends on its own after this
        left = (
            self._options.close_timeout
            if deadline is None
            else max(0.0, deadline - time.monotonic())
        )
        if not self._ended.wait(left):
            self._drop("the client did not answer the close")
            self._ended.wait(2.0)

    # -- the reader (the WSGI request thread) ----------------------------------------------
    def serve(self) -> None:
        """Read until the connection ends. Runs on the WSGI thread that took the handshake."""
        self._reader_thread = threading.current_thread()
        try:
            code, reason = self._read_loop()
        except Exception as exc:  # a bug must not leave the client hanging
            _log.exception("%s: the reader failed", self._where)
            code, reason = int(CloseCode.INTERNAL_ERROR), f"server error: {exc}"
            self._send_control(CloseConnection(code=code, reason="server error"))
        if self._close_code is None:
            self._close_code, self._close_reason = code, reason
        if self._linger:
            self._drain()
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._discard_unread()
        self._ended.set()
        normal = self._close_code in NORMAL_CLOSES
        error = None if normal else self._closed_error()
        self._inbox.finish(error)
        for callback in self._on_end:
            try:
                callback(self)
            except Exception:
                _log.exception("%s: clean-up after the end failed", self._where)

    def _read_loop(self) -> tuple[int, str]:
        """Read until the connection ends; return its close code and reason.

        The socket is non-blocking: while data flows each read is one ``recv``, and the
        messages of a burst are handed to the receive loop together; ``poll`` waits only
        when the socket is empty, with the timers (pings, idle, close) as its timeout.
        """
        opts = self._options
        sock = self._sock
        poller = select.poll()
        poller.register(sock, select.POLLIN | select.POLLPRI)
        last_heard = last_message = time.monotonic()
        ping_sent: float | None = None
        batch: list[tuple[bytes, Opcode, Connection]] = []  # read, not handed over yet
        most = min(_BATCH, opts.max_pending)
        while True:
            try:
                data = sock.recv(_READ_SIZE)
            except (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                if batch:
                    self._deliver(batch)
                    batch = []
                now = time.monotonic()
                wait = self._next_wake(now, last_heard, last_message, ping_sent)
                poller.poll(None if wait is None else max(0, int(wait * 1000) + 1))
                # the timers are checked after every wait, whether data came or not: a
                # client that trickles bytes must not hold off a close, an idle timeout
                # or a ping timeout
                now = time.monotonic()
                closing = self._closing_deadline
                if closing is not None and now >= closing:
                    return self._close_code or int(CloseCode.NORMAL), self._close_reason
                if ping_sent is not None and now - ping_sent >= opts.ping_timeout:
                    _log.warning(
                        "%s: no answer to a ping within %s s: the client is gone",
                        self._where,
                        opts.ping_timeout,
                    )
                    return int(CloseCode.ABNORMAL), (
                        f"no answer to a ping within {opts.ping_timeout} s"
                    )
                if (
                    opts.idle_timeout is not None
                    and self._closing_deadline is None
                    and now - last_message >= opts.idle_timeout
                ):
                    self._start_close(int(CloseCode.GOING_AWAY), "idle timeout")
                    continue
                if (
                    ping_sent is None
                    and opts.ping_interval is not None
                    and now - last_heard >= opts.ping_interval
                ):
                    ping_sent = now
                    self._send_control(Ping(payload=b"syncapi"))
                continue
            except OSError as exc:
                data = b""
                if self._close_code is None:
                    self._close_code, self._close_reason = int(CloseCode.ABNORMAL), f"{exc}"
            if not data:
                self._deliver(batch)
                if self._close_code is not None and self._ws.state is not ConnectionState.OPEN:
                    return self._close_code, self._close_reason
                return self._close_code or int(CloseCode.ABNORMAL), (
                    self._close_reason or "the client went away without a close frame"
                )
            now = last_heard = time.monotonic()
            ping_sent = None
            closing = self._closing_deadline
            if closing is not None and now >= closing:  # a client flooding past our close
                self._deliver(batch)
                return self._close_code or int(CloseCode.NORMAL), self._close_reason
            if (  # a client that never lets the socket run dry (pongs...) is idle too
                opts.idle_timeout is not None
                and closing is None
                and now - last_message >= opts.idle_timeout
            ):
                self._deliver(batch)
                batch = []
                self._start_close(int(CloseCode.GOING_AWAY), "idle timeout")
            before = self._received
            ended = self._take(data, batch)
            if self._received != before:
                last_message = now
            if ended is not None:
                return ended
            if len(batch) >= most or (batch and len(batch[-1][0]) >= _BATCH_BYTES):
                self._deliver(batch)
                batch = []

    def _take(
        self, data: bytes, batch: list[tuple[bytes, Opcode, Connection]]
    ) -> tuple[int, str] | None:
        """Parse ``data``: messages go to ``batch``, control frames are answered (after
        what came before them is handed over). A close code when the connection ends."""
        opts = self._options
        limit = opts.max_message
        with self._proto_lock:
            self._ws.receive_data(data)
            events = self._ws.events()
        while True:
            # data frames are taken in one lock hold; a control frame is handled outside
            # it, before the frames after it are parsed (a close after a ping changes what
            # may still be sent: the pong must go first)
            control: Event | None = None
            too_big = False
            with self._proto_lock:
                for event in events:
                    if isinstance(event, (TextMessage, BytesMessage)):
                        self._parts.append(event.data)
                        self._size += len(event.data)
                        if self._size > limit:
                            too_big = True
                            break
                        if not event.message_finished:
                            continue
                        if isinstance(event, TextMessage):
                            payload = "".join(self._parts).encode("utf-8")
                            if len(payload) > limit:
                                too_big = True
                                break
                            batch.append((payload, Opcode.TEXT, self))
                            self._received += 1
                        else:
                            parts = self._parts
                            payload = bytes(parts[0] if len(parts) == 1 else b"".join(parts))
                            batch.append((payload, Opcode.BINARY, self))
                            self._received += 1
                        self._parts = []
                        self._size = 0
                    else:
                        control = event
                        break
            if too_big:
                self._deliver(batch)
                return self._refuse(
                    int(CloseCode.MESSAGE_TOO_BIG),
                    f"message over max_message ({limit} bytes)",
                )
            if control is None:
                return None
            self._deliver(batch)  # what came before a control frame goes first
            batch.clear()
            if isinstance(control, Ping):
                self._send_control(control.response())
            elif isinstance(control, CloseConnection):
                with self._proto_lock:
                    remote = self._ws.state is ConnectionState.REMOTE_CLOSING
                    answered = self._ws.state is ConnectionState.CLOSED
                if remote:  # the client closes: answer, and it is over
                    if self._close_code is None:
                        self._close_code = int(control.code)
                        self._close_reason = control.reason or ""
                    self._send_control(control.response())
                    return self._close_code, self._close_reason
                if answered:  # the client answered our close
                    return self._close_code or int(control.code), self._close_reason
                # wsproto could not parse what the client sent (bad UTF-8: 1007...)
                code = (
                    int(control.code)
                    if 1000 <= control.code < 5000
                    else int(CloseCode.PROTOCOL_ERROR)
                )
                return self._refuse(code, control.reason or "protocol error")

    def _refuse(self, code: int, reason: str) -> tuple[int, str]:
        """Close at once because of what the client sent."""
        _log.warning("%s: closing with %d: %s", self._where, code, reason)
        if self._close_code is None:
            self._close_code, self._close_reason = code, reason
        self._closing.set()
        self._send_control(CloseConnection(code=code, reason=reason[:120]))
        self._linger = True
        return code, reason

    def _discard_unread(self) -> None:
        """Read away what came after the end (a client's stray frame): the WSGI server
        reads the socket again once the application returns, and would take it for an
        HTTP request."""
        with contextlib.suppress(OSError):
            self._sock.setblocking(False)
            while self._sock.recv(_READ_SIZE):
                pass
        with contextlib.suppress(OSError):
            self._sock.setblocking(True)  # the server's next read: end of file, no error

    def _drain(self) -> None:
        """Read and drop what the client still sends, until it closes or ``close_timeout``:
        closing a socket with unread data resets the connection, and the client would
        never read the close frame that says why."""
        deadline = time.monotonic() + self._options.close_timeout
        try:
            self._sock.shutdown(socket.SHUT_WR)
            while (left := deadline - time.monotonic()) > 0:
                self._sock.settimeout(left)
                if not self._sock.recv(_READ_SIZE):
                    return
        except OSError:
            return

    def _next_wake(
        self, now: float, last_heard: float, last_message: float, ping_sent: float | None
    ) -> float | None:
        opts = self._options
        times: list[float] = []
        if self._closing_deadline is not None:
            times.append(self._closing_deadline)
        if opts.ping_interval is not None:
            times.append(
                ping_sent + opts.ping_timeout
                if ping_sent is not None
                else last_heard + opts.ping_interval
            )
        if opts.idle_timeout is not None and self._closing_deadline is None:
            times.append(last_message + opts.idle_timeout)
        if not times:
            return None
        return max(0.0, min(times) - now)

    def _deliver(self, items: list[tuple[bytes, Opcode, Connection]]) -> None:
        """Hand the messages of one read to the receive loop, in one go."""
        inbox = self._route_inbox or self._inbox
        if items and not inbox.put_many(items, self._closing):
            _log.warning(
                "%s: %d message(s) arrived after their receiver closed; dropped",
                self._where,
                len(items),
            )

    def __repr__(self) -> str:
        state = "" if self.connected else f" closed {self._close_code}"
        return f"<syncapi.ws.Connection {self.path} from {self.remote_addr}{state}>"
