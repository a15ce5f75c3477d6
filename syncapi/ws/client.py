"""The client side of ``ws://``: each :class:`Publisher` is one websocket-client connection.

``producer.publisher("feed/{sym}", parameters={"sym": "BTC"})`` dials
``ws://host:port/base/feed/BTC`` at once (a refused handshake raises
:class:`~syncapi.ws.HandshakeError` with the HTTP status). The publisher sends on the
connection, and its :attr:`Publisher.subscriber` receives what the server sends back on
the same connection.

Threads: one reader per connection (``syncapi-ws-read-...``) reads every frame, answers
pings, and queues messages for the subscriber; one keepalive thread per producer pings
idle connections and drops those whose server stopped answering. ``close()`` ends both.
"""

from __future__ import annotations

import builtins
import contextlib
import logging
import os
import re
import socket
import ssl
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlencode

import websocket

from .. import core
from ..bindings import coerce_channel_bindings
from ..errors import ClosedError, ConfigError, ConnectError, TimeoutError
from ..inbox import deadline_left
from ..servers import ServerURL, resolve_options
from ..sockets import send_whole, set_send_timeout, writable
from .bindings import ChannelBindings, OperationBindings
from .options import ProducerOptions
from .wire import (
    CAPABILITIES,
    NORMAL_CLOSES,
    CloseCode,
    ConnectionClosedError,
    EnvelopeWriter,
    HandshakeError,
    Inbox,
    InboxSubscriber,
    Opcode,
    check_close_code,
    check_close_reason,
    encode_within,
)

__all__ = ["ClientSubscriber", "Producer", "Publisher"]

_log = logging.getLogger("syncapi.ws")
_ABNF = websocket.ABNF
_BATCH = 64  # most messages read before they are handed to the receive loop
_BATCH_BYTES = 256 * 1024  # ... and most bytes
_READ_SIZE = 16 * 1024  # larger reads cost more in websocket-client's copies of the rest
_DATA = frozenset({_ABNF.OPCODE_TEXT, _ABNF.OPCODE_BINARY, _ABNF.OPCODE_CONT})
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_VALUE = re.compile(r"[\t\x20-\x7e]*")
_RESERVED_HEADERS = frozenset(
    {
        "host",
        "upgrade",
        "connection",
        "content-length",
        "transfer-encoding",
        "sec-websocket-key",
        "sec-websocket-version",
        "sec-websocket-extensions",
        "sec-websocket-protocol",
        "sec-websocket-accept",
    }
)
# closes after which the server may well take the client back: redial (reconnect=True);
# any other close (1000, 1008, 4xxx...) is the server's decision and ends the connection
RECONNECT_CODES = frozenset({1001, 1006, 1011, 1012, 1013, 1014})


def check_bindings(
    bindings: object, operation_bindings: object
) -> tuple[ChannelBindings | None, OperationBindings | None]:
    """The channel and operation bindings as the ws classes (a document dict is parsed
    with ``from_dict``).

    Raises:
        ConfigError: bindings of another protocol, or a bad dict.
    """
    return coerce_channel_bindings(ChannelBindings, OperationBindings, bindings, operation_bindings)


def parse_close(data: bytes) -> tuple[int, str]:
    """The code and reason of a close frame's payload (1005 when it has no code)."""
    if len(data) < 2:
        return int(CloseCode.NO_STATUS), ""
    code = int.from_bytes(data[:2], "big")
    return code, data[2:].decode("utf-8", "replace")


class ClientSubscriber(InboxSubscriber):
    """What the server sends on one client connection (:attr:`Publisher.subscriber`).

    Messages are handed to the receive loop in the order they came. The loop ends
    quietly when the server closes normally (1000, 1001, or no code: 1005), with
    :class:`~syncapi.ws.ConnectionClosedError` on any other close, and goes on across
    reconnects when the producer has ``reconnect=True``. ``workers=N`` runs callbacks of
    this one connection in parallel (their order is then not kept).
    """

    def __init__(self, publisher: Publisher) -> None:
        super().__init__(
            publisher.channel,
            bindings=publisher.bindings,
            operation_bindings=publisher.operation_bindings,
        )
        self._publisher = publisher
        self._inbox = Inbox(publisher._options.max_pending)
        self._embedded = publisher._options.headers == "embed"

    @property
    def publisher(self) -> Publisher:
        """The connection this subscriber reads."""
        return self._publisher

    def _close(self) -> None:
        self._inbox.finish()
        dropped = self._inbox.drop()
        if dropped:
            _log.debug("%r: %d received messages dropped at close", self, dropped)


class Publisher(core.Publisher[EnvelopeWriter]):
    """One WebSocket connection to ``ws://host:port/base/<channel>``.

    :meth:`send` is thread-safe and returns when the frame is written to the socket
    (WebSocket has no acknowledgements). :attr:`subscriber` receives what the server
    sends on this connection. After the server closed the connection, :attr:`close_code`
    and :attr:`close_reason` say how, and ``send`` raises
    :class:`~syncapi.ws.ConnectionClosedError` (unless the producer reconnects).
    """

    envelope_class = EnvelopeWriter

    def __init__(
        self,
        producer: Producer,
        channel: str,
        bindings: ChannelBindings | None,
        operation_bindings: OperationBindings | None,
        query: Mapping[str, object] | None,
        handshake_headers: Mapping[str, str] | None,
    ) -> None:
        super().__init__(channel, bindings=bindings, operation_bindings=operation_bindings)
        if "{" in channel or "}" in channel:
            raise ConfigError(
                f"ws channel {channel!r} has unexpanded parameters: pass parameters= to "
                "producer.publisher()"
            )
        self._producer = producer
        opts = self._options = producer._options
        if bindings is not None and bindings.method not in (None, "GET"):
            raise ConfigError(
                f"ws channel {channel!r}: the bindings ask for a {bindings.method} handshake, "
                "but websocket-client (and RFC 6455) open connections with GET"
            )
        self._url = producer._base + "/" + quote(channel.lstrip("/"), safe="/:@!$&'()*+,;=-._~")
        params = dict(bindings.query_defaults()) if bindings is not None and bindings.query else {}
        for name, value in (query or {}).items():
            if not isinstance(name, str):
                raise ConfigError(f"query parameter names must be str, got {name!r}")
            params[name] = value if isinstance(value, str) else _query_text(name, value)
        required = bindings.required_query() if bindings is not None and bindings.query else ()
        missing = [name for name in required if name not in params]
        if missing:
            raise ConfigError(
                f"ws channel {channel!r}: required query parameter(s) missing: "
                f"{', '.join(missing)} (pass query=)"
            )
        if params:
            self._url += "?" + urlencode(params)
        headers = dict(opts.handshake_headers or {})
        if bindings is not None and bindings.headers:
            for name, value in bindings.header_defaults().items():
                headers.setdefault(name, value)
        for name, value in (handshake_headers or {}).items():
            if not isinstance(name, str) or not isinstance(value, str):
                raise ConfigError(f"handshake headers must be str: str, got {name!r}: {value!r}")
            headers[name] = value
        for name, value in headers.items():
            if not _TOKEN.fullmatch(name):
                raise ConfigError(f"handshake header name {name!r} is not an HTTP token")
            if name.lower() in _RESERVED_HEADERS:
                raise ConfigError(
                    f"handshake header {name!r} is the WebSocket handshake's own; it cannot be set"
                )
            if not _VALUE.fullmatch(value):
                raise ConfigError(
                    f"handshake header {name!r}: the value must be printable ASCII (a server "
                    f"reads header bytes as Latin-1, so other text arrives changed), got {value!r}"
                )
        if bindings is not None and bindings.headers:
            given = {name.lower() for name in headers}
            absent = [n for n in bindings.required_headers() if n.lower() not in given]
            if absent:
                raise ConfigError(
                    f"ws channel {channel!r}: required handshake header(s) missing: "
                    f"{', '.join(absent)} (pass handshake_headers=)"
                )
        self._headers = [f"{name}: {value}" for name, value in headers.items()]
        self._where = f"ws publisher {self._url}"
        self._warned = [False]
        self._cond = threading.Condition()
        self._ws: websocket.WebSocket | None = None
        self._generation = 0
        self._ending = False  # close() called
        self._ended: ConnectionClosedError | None = None  # gone for good
        self._close_code: int | None = None
        self._close_reason = ""
        self._dead_reason = ""  # why the connection was broken off (the reader then ends it)
        self._broken = threading.Event()  # set with _dead_reason: a blocked reader gives up
        self._unread = 0  # messages dropped because the subscriber was closed
        self._writer: int | None = None  # the thread writing a frame now
        self._connected_at = time.monotonic()
        self._last_heard = time.monotonic()
        self._ping_sent: float | None = None
        self.reconnects = 0
        """How many times the connection was made again (``reconnect=True``)."""
        self._backoff = opts.reconnect_delay
        self._subscriber = ClientSubscriber(self)
        self._ws = self._dial()
        self._reader = threading.Thread(
            target=self._read_loop, name=f"syncapi-ws-read-{channel}", daemon=True
        )
        self._reader.start()

    # -- public ---------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The URL this publisher dialled (with the handshake query)."""
        return self._url

    @property
    def subscriber(self) -> ClientSubscriber:
        """The receiving side of this connection: what the server sends on it."""
        return self._subscriber

    @property
    def connected(self) -> bool:
        """Whether the connection is open now."""
        with self._cond:
            return (
                self._ws is not None
                and self._ended is None
                and not self._ending
                and not self._dead_reason  # broken off, the reader has not noticed yet
            )

    @property
    def close_code(self) -> int | None:
        """How the last connection ended (``None`` while it is open): the server's close
        code, ``1006`` when it broke without one."""
        return self._close_code

    @property
    def close_reason(self) -> str:
        """The server's close reason, or what broke the connection."""
        return self._close_reason

    @property
    def subprotocol(self) -> str | None:
        """The subprotocol the server chose, if any."""
        ws = self._ws
        return None if ws is None else ws.getsubprotocol()

    def close(self, *, code: int = 1000, reason: str = "") -> None:
        """Close the connection with ``code`` and ``reason`` (waiting briefly for the
        server's answer), end the reader thread and close :attr:`subscriber`.
        Idempotent, thread-safe.

        Raises:
            ConfigError: a code an endpoint may not send (1005, 1006...) or a reason
                over 123 bytes.
        """
        check_close_code(code)
        check_close_reason(reason)
        if self._claim_close():
            self._close(code, reason)

    # -- sending ----------------------------------------------------------------------------
    def _send(self, envelopes: Sequence[core.EnvelopeWriter], timeout: float | None) -> None:
        opts = self._options
        if len(envelopes) == 1:  # the usual case, kept short
            env = envelopes[0]
            data, opcode = encode_within(
                env,
                opts.headers,
                opts.max_message,
                where=self._where,
                warned=self._warned,
                batch=envelopes,
            )
            deadline = time.monotonic() + (opts.timeout if timeout is None else timeout)
            try:
                self._write(data, opcode, deadline, timeout is not None)
            except ConnectionClosedError as exc:
                exc.failures = [(env, "not sent")]
                raise
            return
        frames: list[tuple[bytes, int]] = []
        for env in envelopes:
            data, opcode = encode_within(
                env,
                opts.headers,
                opts.max_message,
                where=self._where,
                warned=self._warned,
                batch=envelopes,
            )
            frames.append((data, int(opcode)))
        custom = timeout is not None
        deadline = time.monotonic() + (opts.timeout if timeout is None else timeout)
        for i, (data, kind) in enumerate(frames):
            try:
                self._write(data, kind, deadline, custom)
            except ConnectionClosedError as exc:
                exc.failures = [(env, "not sent") for env in envelopes[i:]]
                raise

    def _write(self, data: bytes, opcode: int, deadline: float, custom: bool) -> None:
        """Write one frame whole (``custom``: the caller's ``timeout=`` bounds the wait for
        the lock and each stall of the write; else the ``timeout`` option, the socket's
        own send timeout, bounds each stall: a server that keeps reading, however
        slowly, is not cut off).

        The frame is made by websocket-client (``ABNF``: masking) and written here with
        one ``sendall`` on the blocking socket: the kernel's send timeout bounds it, so
        the usual send is one system call, without a poll first.
        """
        opts = self._options
        while True:
            ws, generation = self._current(deadline)
            left = deadline - time.monotonic()
            if left <= 0 or not ws.lock.acquire(timeout=left):
                raise TimeoutError(f"{self._where}: the connection was busy with other sends")
            self._writer = threading.get_ident()
            sock = ws.sock
            changed = False  # the socket's send timeout, to restore
            try:
                if sock is None:
                    raise websocket.WebSocketConnectionClosedException("socket is closed")
                raw = _ABNF.create_frame(data, opcode).format()
                if custom:
                    set_send_timeout(sock, deadline - time.monotonic())
                    changed = True
                    write_by = deadline
                else:
                    write_by = time.monotonic() + opts.timeout
                changed |= send_whole(sock, raw, write_by)
                return
            except (BlockingIOError, ssl.SSLWantWriteError, builtins.TimeoutError) as exc:
                waited = f"{(left if custom else opts.timeout):.3g}"
                self._break(ws, f"a send blocked longer than {waited} s")
                raise TimeoutError(
                    f"{self._where}: the server read nothing for {waited} s; "
                    "the connection was dropped (a frame may be half written)"
                ) from exc
            except (websocket.WebSocketException, OSError) as exc:
                self._break(ws, f"send failed: {exc}")
                if not opts.reconnect:
                    self._wait_ended(generation, deadline)
                    raise self._closed_error("send failed") from exc
                # not written whole, so not delivered: send it again on the new connection
            finally:
                self._writer = None
                if changed and sock is not None:
                    with contextlib.suppress(OSError):
                        set_send_timeout(sock, opts.timeout)
                ws.lock.release()

    def _current(self, deadline: float) -> tuple[websocket.WebSocket, int]:
        """The open connection, waiting for a reconnect up to ``deadline``."""
        ws = self._ws
        if ws is not None and not self._ending and not self._broken.is_set():
            return ws, self._generation  # the usual case, without the lock
        with self._cond:
            while True:
                if self._ending:
                    raise ClosedError(f"{self!r} is closed")
                if self._ended is not None:
                    raise self._closed_error("the connection is closed")
                if self._ws is not None and not self._broken.is_set():
                    return self._ws, self._generation
                left = deadline_left(deadline)
                if not left:
                    raise TimeoutError(f"{self._where}: not reconnected in time")
                self._cond.wait(left)

    def _wait_ended(self, generation: int, deadline: float) -> None:
        """Wait (briefly) for the reader to record how the connection ended."""
        with self._cond:
            while self._generation == generation and self._ws is not None and self._ended is None:
                left = deadline_left(deadline)
                if not left:
                    return
                self._cond.wait(min(left, 1.0))

    def _closed_error(self, what: str) -> ConnectionClosedError:
        if self._ended is not None:
            return ConnectionClosedError(
                f"{self._where}: {what}: {self._ended}", self._ended.code, self._ended.reason
            )
        code = self._close_code or int(CloseCode.ABNORMAL)
        return ConnectionClosedError(
            f"{self._where}: {what}: the connection closed ({code} {self._close_reason})",
            code,
            self._close_reason,
        )

    def _break(self, ws: websocket.WebSocket, why: str) -> None:
        """Drop ``ws`` now (its reader sees the socket end and does the rest)."""
        with self._cond:
            if ws is not self._ws:
                return  # an old connection, already replaced
            if not self._dead_reason:
                self._dead_reason = why
            self._broken.set()
        sock = ws.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    # -- connecting -----------------------------------------------------------------------
    def _dial(self) -> websocket.WebSocket:
        opts = self._options
        ws = websocket.WebSocket(
            enable_multithread=True, skip_utf8_validation=True, sslopt=self._producer._sslopt
        )
        ws.lock = threading.RLock()  # type: ignore[assignment]  # the keepalive try-locks, then pings
        try:
            ws.connect(  # type: ignore[no-untyped-call]
                self._url,
                timeout=opts.connect_timeout,
                header=self._headers,
                subprotocols=list(opts.subprotocols) or None,
                suppress_origin=True,
            )
        except websocket.WebSocketBadStatusException as exc:
            body = exc.resp_body or b""
            body = body if isinstance(body, bytes) else str(body).encode()
            text = body.decode("utf-8", "replace").strip()
            raise HandshakeError(
                f"{self._url}: the server refused the WebSocket handshake with "
                f"{exc.status_code}" + (f": {text[:300]}" if text else ""),
                exc.status_code,
                dict(exc.resp_headers or {}),
                body,
            ) from exc
        except websocket.WebSocketTimeoutException as exc:
            raise ConnectError(
                f"{self._url}: no WebSocket handshake within {opts.connect_timeout} s"
            ) from exc
        except (websocket.WebSocketException, OSError, ValueError) as exc:
            raise ConnectError(f"cannot open a WebSocket to {self._url}: {exc}") from exc
        # blocking, no Python timeout: reads wait for data (close() and the keepalive
        # shut the socket to end them), and sends are bounded by the kernel's send
        # timeout, so neither pays a poll() before each system call
        if ws.sock is not None:
            ws.sock.settimeout(None)
            set_send_timeout(ws.sock, opts.timeout)
        # every chunk read counts as hearing from the server, not only whole frames: a
        # server streaming a big message cannot answer a ping until it is done
        # and each read asks for up to _READ_SIZE bytes, not for the few bytes a frame
        # header needs: websocket-client keeps what is over for the next frames (its
        # frame_buffer.recv_strict), so a burst of small messages costs one system call,
        # not three per message
        read = ws.frame_buffer.recv

        def heard(size: int) -> bytes:
            data: bytes = read(max(size, _READ_SIZE))
            self._last_heard = time.monotonic()
            return data

        ws.frame_buffer.recv = heard
        self._last_heard = self._connected_at = time.monotonic()
        self._ping_sent = None
        return ws

    def _redial(self) -> bool:
        """Dial until it works, the attempts run out or close() is called."""
        opts = self._options
        lived = time.monotonic() - self._connected_at
        # a connection that died young does not reset the backoff: no reconnect storm
        delay = opts.reconnect_delay if lived >= opts.reconnect_max_delay else self._backoff
        attempt = 0
        while True:
            with self._cond:
                self._cond.wait_for(self._is_ending, delay)
                if self._is_ending():
                    return False
            attempt += 1
            try:
                ws = self._dial()
            except ConnectError as exc:
                _log.warning("%s: reconnect attempt %d failed: %s", self._where, attempt, exc)
                if opts.reconnect_attempts is not None and attempt >= opts.reconnect_attempts:
                    self._end(
                        ConnectionClosedError(
                            f"gave up after {attempt} reconnect attempts ({exc})",
                            int(CloseCode.ABNORMAL),
                            str(exc),
                        )
                    )
                    return False
                delay = min(delay * 2, opts.reconnect_max_delay)
                continue
            self._backoff = min(delay * 2, opts.reconnect_max_delay)
            with self._cond:
                if self._is_ending():
                    ws.shutdown()  # type: ignore[no-untyped-call]
                    return False
                self._ws = ws
                self._generation += 1
                self._close_code = None
                self._close_reason = ""
                self._dead_reason = ""
                self._broken.clear()
                self.reconnects += 1
                self._cond.notify_all()
            _log.info("%s: reconnected (attempt %d)", self._where, attempt)
            return True

    def _is_ending(self) -> bool:
        return self._ending

    def _end(self, error: ConnectionClosedError) -> None:
        """The connection is gone for good: fail waiting sends, end the receive loop."""
        with self._cond:
            self._ended = error
            self._ws = None
            self._cond.notify_all()
        self._subscriber._inbox.finish(None if error.normal else error)

    # -- the reader thread ---------------------------------------------------------------
    def _read_loop(self) -> None:
        while True:
            ws = self._ws
            if ws is None:
                return
            code, reason = self._read(ws)
            ws.shutdown()  # type: ignore[no-untyped-call]  # after the server's close, websocket-client leaves the socket open
            with self._cond:
                self._ws = None
                self._close_code = code
                self._close_reason = reason
                ending = self._ending
                self._cond.notify_all()
            if ending:
                return
            if code not in NORMAL_CLOSES:
                _log.warning("%s: connection closed: %d %s", self._where, code, reason)
            if code not in RECONNECT_CODES or not self._options.reconnect or not self._redial():
                if self._ended is None:
                    how = (
                        "closed by the server" if code != CloseCode.ABNORMAL else "connection lost"
                    )
                    self._end(
                        ConnectionClosedError(f"{how}: {code} {reason}".strip(), code, reason)
                    )
                return

    def _read(self, ws: websocket.WebSocket) -> tuple[int, str]:
        """Read frames until the connection ends; return its close code and reason.

        Frames are taken one by one (``recv_frame``) rather than through
        websocket-client's ``recv_data_frame``, which answers *every* close frame, the
        answer to our own close included (a stray frame the server would read as a new
        HTTP request), and assembles fragments without a size limit.
        """
        inbox = self._subscriber._inbox
        batch: list[tuple[bytes, Opcode, Publisher]] = []  # handed over together
        try:
            return self._read_frames(ws, batch)
        finally:
            if batch and not inbox.put_many(batch, self._broken) and not self._ending:
                self._dropped(len(batch))

    def _dropped(self, count: int) -> None:
        self._unread += count
        if self._unread == count:
            _log.warning(
                "%s: messages arrive, but the subscriber is closed: dropped (logged once)",
                self._where,
            )

    def _read_frames(
        self, ws: websocket.WebSocket, batch: list[tuple[bytes, Opcode, Publisher]]
    ) -> tuple[int, str]:
        opts = self._options
        inbox = self._subscriber._inbox
        limit = opts.max_message
        parts: list[bytes] = []
        kind = 0  # the opcode of the message being assembled, 0 between messages
        size = 0
        frames = ws.frame_buffer
        most = min(_BATCH, opts.max_pending)  # messages held before they are handed over
        held = 0  # their bytes
        while True:
            if batch and (
                len(batch) >= most or held >= _BATCH_BYTES or not _frame_waits(frames.recv_buffer)
            ):
                # the next frame needs the socket (and may be slow to come whole): hand
                # over what was read first
                if not inbox.put_many(batch, self._broken) and not self._ending:
                    self._dropped(len(batch))
                batch.clear()
                held = 0
                if self._broken.is_set():
                    return int(CloseCode.ABNORMAL), self._dead_reason
            try:
                frame = ws.recv_frame()  # type: ignore[no-untyped-call]
            except websocket.WebSocketTimeoutException:
                continue  # the socket's timeout is for sends; reading just goes on
            except websocket.WebSocketProtocolException as exc:
                return self._fail(ws, CloseCode.PROTOCOL_ERROR, f"protocol error: {exc}")
            except (websocket.WebSocketException, OSError, AttributeError, ValueError) as exc:
                if self._ending:
                    return int(CloseCode.NORMAL), ""
                return int(CloseCode.ABNORMAL), self._dead_reason or f"connection lost: {exc}"
            self._last_heard = time.monotonic()
            opcode = frame.opcode
            if opcode in _DATA:
                if (opcode == _ABNF.OPCODE_CONT) != bool(kind):
                    return self._fail(
                        ws, CloseCode.PROTOCOL_ERROR, "protocol error: unexpected continuation"
                    )
                if opcode != _ABNF.OPCODE_CONT:
                    kind = opcode
                parts.append(frame.data)
                size += len(frame.data)
                if size > limit:
                    return self._fail(
                        ws,
                        CloseCode.MESSAGE_TOO_BIG,
                        f"a message of more than {limit} bytes (max_message)",
                    )
                if not frame.fin:
                    continue
                data = parts[0] if len(parts) == 1 else b"".join(parts)
                parts, size = [], 0
                if kind == _ABNF.OPCODE_TEXT:
                    try:
                        data.decode("utf-8")
                    except UnicodeDecodeError:
                        return self._fail(ws, CloseCode.INVALID_DATA, "a text message is not UTF-8")
                    item = (data, Opcode.TEXT, self)
                else:
                    item = (data, Opcode.BINARY, self)
                kind = 0
                batch.append(item)
                held += len(data)
            elif opcode == _ABNF.OPCODE_CLOSE:
                code, reason = parse_close(frame.data)
                if not self._ending:  # the server closes: answer with its code
                    self._control(ws, _ABNF.OPCODE_CLOSE, frame.data[:2])
                return code, reason
            elif opcode == _ABNF.OPCODE_PING:
                self._control(ws, _ABNF.OPCODE_PONG, frame.data)
            elif opcode == _ABNF.OPCODE_PONG:
                self._ping_sent = None

    def _fail(self, ws: websocket.WebSocket, code: CloseCode, reason: str) -> tuple[int, str]:
        _log.warning("%s: closing with %d: %s", self._where, int(code), reason)
        self._control(ws, _ABNF.OPCODE_CLOSE, close_frame_payload(int(code), reason))
        return int(code), reason

    def _control(
        self, ws: websocket.WebSocket, opcode: int, payload: bytes, timeout: float | None = None
    ) -> bool:
        """Write a control frame (pong, close) whole, within ``timeout`` (default: the
        ``timeout`` option); ``False`` when it could not be written. Under the send lock,
        which the caller may hold already."""
        limit = self._options.timeout if timeout is None else timeout
        if not ws.lock.acquire(timeout=limit):
            return False
        sock = ws.sock
        try:
            if sock is None:
                return False
            if timeout is not None:
                set_send_timeout(sock, timeout)
            sock.sendall(_ABNF.create_frame(payload, opcode).format())
            return True
        except OSError as exc:  # a timeout (EAGAIN) or a broken connection
            # part of the frame may be out: the stream cannot go on
            self._break(ws, f"a control frame could not be written: {exc}")
            return False
        finally:
            if timeout is not None and sock is not None:
                with contextlib.suppress(OSError):
                    set_send_timeout(sock, self._options.timeout)
            ws.lock.release()

    # -- keepalive (called on the producer's keepalive thread) ---------------------------
    def _tick(self, now: float) -> None:
        opts = self._options
        ws = self._ws
        if ws is None or opts.ping_interval is None or self._broken.is_set():
            return
        if self._subscriber._inbox.blocked:
            # this side is not reading (nobody takes the messages): a pong could not be
            # heard, so silence proves nothing about the server
            self._ping_sent = None
            return
        sent = self._ping_sent
        if sent is not None:
            if self._last_heard >= sent:
                self._ping_sent = None
            elif now - sent > opts.ping_timeout:
                _log.warning(
                    "%s: no answer to a ping within %s s: the server is gone",
                    self._where,
                    opts.ping_timeout,
                )
                self._break(ws, f"no answer to a ping within {opts.ping_timeout} s")
            return
        if now - self._last_heard >= opts.ping_interval and ws.lock.acquire(blocking=False):
            try:
                # a full send buffer would block this thread, the keepalive of every
                # connection: ping only when the socket takes the few bytes at once
                sock = ws.sock
                if sock is not None and writable(sock):
                    self._ping_sent = now
                    sock.sendall(_ABNF.create_frame(b"syncapi", _ABNF.OPCODE_PING).format())
            except (websocket.WebSocketException, OSError):
                pass  # the reader sees the broken connection
            finally:
                ws.lock.release()

    # -- closing ----------------------------------------------------------------------------
    def _claim_close(self) -> bool:
        """Mark closed; ``False`` if it already was."""
        with self._close_lock:
            if self._closed:
                return False
            self._closed = True
            return True

    def _close(self, code: int = 1000, reason: str = "") -> None:
        ws = self._begin_close(code, reason)
        self._finish_close(ws, code, reason, time.monotonic() + self._options.close_timeout)

    def _begin_close(self, code: int, reason: str) -> websocket.WebSocket | None:
        """Send the close frame (within ``close_timeout``) and stop the receive loops."""
        opts = self._options
        with self._cond:
            self._ending = True
            ws = self._ws
            self._cond.notify_all()
        self._producer._forget(self)
        if ws is not None:
            if self._writer == threading.get_ident():
                # a signal handler interrupted this thread's own send: a close frame now
                # would land inside the half-written frame, so break off instead
                self._break(ws, "closed during a send")
            elif not self._control(
                ws, _ABNF.OPCODE_CLOSE, close_frame_payload(code, reason), opts.close_timeout
            ):  # another send is stuck on a server that does not read, or the socket is
                self._break(ws, "the close frame could not be sent")
        self._subscriber.close(timeout=opts.close_timeout)
        return ws

    def _finish_close(
        self, ws: websocket.WebSocket | None, code: int, reason: str, deadline: float
    ) -> None:
        """Wait for the server's close answer until ``deadline``, then end the reader."""
        self._reader.join(max(0.0, deadline - time.monotonic()))
        if self._reader.is_alive() and ws is not None:
            self._break(ws, "no close answer")
            self._reader.join(1.0)
        if ws is not None:
            ws.shutdown()  # type: ignore[no-untyped-call]
        with self._cond:
            if self._close_code is None:
                self._close_code = code
                self._close_reason = reason

    def __repr__(self) -> str:
        state = " closed" if self._closed else ""
        return f"<syncapi.ws.Publisher {self._url}{state}>"


def close_frame_payload(code: int, reason: str) -> bytes:
    """The payload of a close frame: the code, then the reason (cut to fit 125 bytes)."""
    return code.to_bytes(2, "big") + reason.encode("utf-8")[:123]


def _frame_waits(buffered: list[bytes]) -> bool:
    """Whether websocket-client's read buffer holds a whole frame (so reading it needs
    no system call, and no wait)."""
    if not buffered:
        return False
    data = buffered[0] if len(buffered) == 1 else b"".join(buffered)
    if len(data) < 2:
        return False
    length = data[1] & 0x7F
    start = 2
    if length == 126:
        if len(data) < 4:
            return False
        length, start = int.from_bytes(data[2:4], "big"), 4
    elif length == 127:
        if len(data) < 10:
            return False
        length, start = int.from_bytes(data[2:10], "big"), 10
    if data[1] & 0x80:
        start += 4
    return len(data) >= start + length


def _query_text(name: str, value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    raise ConfigError(f"query parameter {name!r}: expected str, int, float or bool, got {value!r}")


class Producer(core.Producer[Publisher]):
    """A ``ws://host:port/base`` client: each :meth:`publisher` is one connection.

    Options: :class:`~syncapi.ws.ProducerOptions`. Thread-safe; closing it closes every
    connection it opened.
    """

    scheme = "ws"
    capabilities = CAPABILITIES

    def __init__(self, url: ServerURL | str = "ws://127.0.0.1/", **options: Any) -> None:
        super().__init__(url)
        self._options: ProducerOptions = resolve_options(ProducerOptions, self._url.query, options)
        if len(self._url.hosts) != 1:
            raise ConfigError(f"a WebSocket server URL names exactly one host, got {self._url}")
        if self._url.username is not None:
            raise ConfigError(
                f"server URL {self._url}: put credentials in handshake_headers= "
                "(e.g. Authorization), not in the URL"
            )
        host = self._url.hosts[0]
        self._base = f"{self._url.scheme}://{host}{self._url.raw_path.rstrip('/')}"
        opts = self._options
        self._sslopt: dict[str, Any] = {}
        if not opts.verify:
            self._sslopt = {"cert_reqs": ssl.CERT_NONE, "check_hostname": False}
        elif opts.ca_certs is not None:
            if not os.path.isfile(opts.ca_certs):
                raise ConfigError(f"option 'ca_certs': no file {opts.ca_certs!r}")
            self._sslopt = {"ca_certs": opts.ca_certs}
        self._live: set[Publisher] = set()
        self._live_lock = threading.Lock()
        self._stop = threading.Event()
        self._pinger: threading.Thread | None = None

    @property
    def options(self) -> ProducerOptions:
        """The options in force."""
        return self._options

    def publisher(
        self,
        channel_name: str,
        bindings: Any = None,
        *,
        operation_bindings: Any = None,
        security: Any = None,
        parameters: Mapping[str, object] | None = None,
        query: Mapping[str, object] | None = None,
        handshake_headers: Mapping[str, str] | None = None,
    ) -> Publisher:
        """Open a connection to ``channel_name`` (see :meth:`syncapi.Producer.publisher`).

        Args:
            query: handshake query parameters (added to ``ChannelBindings.query``'s
                defaults).
            handshake_headers: HTTP headers of this connection's handshake (added to the
                ``handshake_headers`` option and ``ChannelBindings.headers``' defaults).

        Raises:
            HandshakeError: the server answered the handshake with an HTTP error.
            ConnectError: the server could not be reached.
            ConfigError: bad bindings, a required query parameter or header missing.
        """
        opened = self._open_channel(
            lambda ch, b, o, sec: self._make(ch, b, o, sec, query, handshake_headers),
            channel_name,
            bindings,
            operation_bindings,
            security,
            parameters,
        )
        assert isinstance(opened, Publisher)
        return opened

    def _open_publisher(
        self, channel: str, bindings: Any, operation_bindings: Any, security: Any
    ) -> Publisher:
        return self._make(channel, bindings, operation_bindings, security, None, None)

    def _make(
        self,
        channel: str,
        bindings: Any,
        operation_bindings: Any,
        security: Any,
        query: Mapping[str, object] | None,
        handshake_headers: Mapping[str, str] | None,
    ) -> Publisher:
        channel_bindings, op = check_bindings(bindings, operation_bindings)
        if security is not None:
            raise ConfigError(
                "ws publishers take credentials as handshake_headers= (e.g. Authorization) "
                "or query=, not security="
            )
        pub = Publisher(self, channel, channel_bindings, op, query, handshake_headers)
        with self._live_lock:
            self._live.add(pub)
            if self._pinger is None and self._options.ping_interval is not None:
                self._pinger = threading.Thread(
                    target=self._ping_loop, name="syncapi-ws-keepalive", daemon=True
                )
                self._pinger.start()
        return pub

    def _forget(self, pub: Publisher) -> None:
        with self._live_lock:
            self._live.discard(pub)

    def _ping_loop(self) -> None:
        opts = self._options
        assert opts.ping_interval is not None
        tick = max(0.02, min(1.0, opts.ping_interval / 4, opts.ping_timeout / 4))
        while not self._stop.wait(tick):
            with self._live_lock:
                live = list(self._live)
            now = time.monotonic()
            for pub in live:
                try:
                    pub._tick(now)
                except Exception:  # never let one connection end the keepalive of all
                    _log.exception("%r: keepalive failed", pub)

    def close(self, timeout: float | None = 10.0) -> None:
        """Close every connection (together: each sends its close frame, then all wait
        for the server's answers within ``close_timeout``), then stop the keepalive.
        Idempotent and thread-safe."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        try:
            with self._children_lock:
                children, self._children = self._children, []
            closing = []
            for child in children:
                if isinstance(child, Publisher) and child._claim_close():
                    closing.append((child, child._begin_close(1000, "")))
                else:
                    child.close()
            deadline = time.monotonic() + self._options.close_timeout
            for pub, ws in closing:
                pub._finish_close(ws, 1000, "", deadline)
        finally:
            self._close()

    def _close(self) -> None:
        self._stop.set()
        pinger = self._pinger
        if pinger is not None:
            pinger.join(2.0)
