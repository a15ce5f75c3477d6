"""What ``ws://`` messages look like on the wire, and the errors of the protocol.

A WebSocket message is text (UTF-8) or binary, and has no headers. syncapi maps it so:

* the envelope's payload is the message's bytes (a text message's UTF-8 encoding);
* the opcode is the envelope's :meth:`EnvelopeWriter.set_opcode`, or ``TEXT`` for a
  ``str`` payload and ``BINARY`` for ``bytes``;
* headers and the content type follow the publisher's header policy (option
  ``headers``, default ``"embed"``): an envelope that has any travels as a **binary**
  message in the embed framing of :func:`syncapi.headers.embed`, with the extra
  ``{"opcode": "text"}`` when it was a text message, and a syncapi receiver gives back
  headers, content type, opcode and payload unchanged. An envelope without headers or
  content type travels bare, so any WebSocket peer reads it as it was sent. (A binary
  payload that happens to start with the embed magic is framed too, so that it cannot
  be misread.) ``"raise"`` refuses such envelopes, ``"warn"`` drops the headers with
  one warning per publisher.

Receivers look for the embed framing in binary messages only, and only under the
``"embed"`` policy: with ``"raise"`` or ``"warn"`` a connection is plain WebSocket both
ways, so a binary message from a foreign peer that happens to start with the magic
bytes is taken as it is.
"""

from __future__ import annotations

import collections
import enum
import queue
import threading
import time
from collections.abc import Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from werkzeug.datastructures import Headers as WerkzeugHeaders

from .. import core
from ..errors import (
    ConfigError,
    ConnectError,
    DecodeError,
    MessageTooLarge,
    ReceiveError,
    SendError,
)
from ..headers import (
    HeaderPolicy,
    Headers,
    HeadersLike,
    apply_header_policy,
    embed,
    extract_with_extras,
    is_embedded,
)

if TYPE_CHECKING:
    from ..core import Payload

__all__ = [
    "CAPABILITIES",
    "CloseCode",
    "ConnectionClosedError",
    "EnvelopeReader",
    "EnvelopeWriter",
    "HandshakeError",
    "Inbox",
    "InboxSubscriber",
    "Opcode",
]

CAPABILITIES = core.Capabilities(
    ordered=True,
    persistent=False,
    consumer_groups=False,
    headers=True,
    redelivery=False,
    brokerless=True,
    reliable=True,
    max_payload=None,
)
"""What ``ws://`` can do. Brokerless: a connection is the channel, so the server must be
serving before a client dials. Ordered: one connection delivers in order. Headers travel
embedded (see the module documentation). The largest message is each end's
``max_message`` option (16 MiB by default)."""


class Opcode(enum.IntEnum):
    """The kind of a WebSocket data message (RFC 6455 opcodes)."""

    TEXT = 1
    """A UTF-8 text message."""
    BINARY = 2
    """A binary message."""

    @classmethod
    def of(cls, value: object) -> Opcode:
        """``value`` as an :class:`Opcode`: an Opcode, ``1``/``2`` or ``"text"``/``"binary"``.

        Raises:
            ConfigError: anything else.
        """
        if isinstance(value, Opcode):
            return value
        if isinstance(value, str) and value.lower() in ("text", "binary"):
            return cls.TEXT if value.lower() == "text" else cls.BINARY
        if isinstance(value, int) and not isinstance(value, bool) and value in (1, 2):
            return cls(value)
        raise ConfigError(f"a WebSocket data opcode is 'text' (1) or 'binary' (2), got {value!r}")


class CloseCode(enum.IntEnum):
    """The close codes syncapi sends or reads (RFC 6455 section 7.4.1)."""

    NORMAL = 1000
    """A normal close."""
    GOING_AWAY = 1001
    """The server is shutting down, or the connection was idle too long."""
    PROTOCOL_ERROR = 1002
    """The peer broke the WebSocket protocol."""
    UNSUPPORTED_DATA = 1003
    """A kind of message the endpoint does not take."""
    NO_STATUS = 1005
    """The close frame had no code (never sent)."""
    ABNORMAL = 1006
    """The connection ended without a close frame (never sent)."""
    INVALID_DATA = 1007
    """A text message was not valid UTF-8."""
    POLICY_VIOLATION = 1008
    """The message broke the endpoint's policy."""
    MESSAGE_TOO_BIG = 1009
    """A message was larger than ``max_message``."""
    INTERNAL_ERROR = 1011
    """The endpoint failed (a connection handler raised)."""


NORMAL_CLOSES = frozenset({CloseCode.NORMAL, CloseCode.GOING_AWAY, CloseCode.NO_STATUS})
"""Close codes that end a receive loop quietly: a normal close, going away, and a close
frame without a code (what a browser's ``close()`` sends)."""


def check_close_code(code: object) -> int:
    """``code`` if an endpoint may send it (1000-1003, 1007-1014, 3000-4999).

    Raises:
        ConfigError: a code that never goes on the wire (1005, 1006, 1015) or is
            reserved or out of range.
    """
    if (
        isinstance(code, int)
        and not isinstance(code, bool)
        and (1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999)
    ):
        return code
    raise ConfigError(
        f"close code must be 1000-1003, 1007-1014 or 3000-4999 (RFC 6455 7.4), got {code!r}"
    )


def check_close_reason(reason: object) -> str:
    """``reason`` if it fits a close frame (at most 123 bytes of UTF-8).

    Raises:
        ConfigError: not a str, or too long.
    """
    if not isinstance(reason, str) or len(reason.encode("utf-8")) > 123:
        raise ConfigError(f"close reason must be a str of at most 123 UTF-8 bytes, got {reason!r}")
    return reason


class HandshakeError(ConnectError):
    """The server refused the WebSocket handshake (it answered with an HTTP status).

    Attributes:
        status: the HTTP status (404 unknown path, 405 wrong method, 400 a missing query
            parameter or header...).
        headers: the response's headers (names in any letter case).
        body: the response's body (what the server said was wrong).
    """

    def __init__(self, message: str, status: int, headers: Mapping[str, str], body: bytes) -> None:
        super().__init__(message)
        self.status = status
        self.headers = WerkzeugHeaders(list(headers.items()))
        self.body = body


class ConnectionClosedError(SendError, ReceiveError):
    """The WebSocket connection is closed: a ``send`` on it, or a receive loop that was
    reading it, fails with this.

    A receive loop ends *quietly* (no error) when the peer closed normally (code 1000,
    1001, or a close frame without a code); any other close ends it with this error.

    Attributes:
        code: the close code (:class:`CloseCode`; ``1006`` when the connection broke
            without a close frame).
        reason: the peer's close reason (may be empty).
    """

    def __init__(
        self,
        message: str,
        code: int,
        reason: str = "",
        failures: Sequence[tuple[Any, BaseException | str]] = (),
    ) -> None:
        SendError.__init__(self, message, failures)
        self.code = code
        self.reason = reason

    @property
    def normal(self) -> bool:
        """Whether the close was normal (code 1000, 1001, or none given: 1005)."""
        return self.code in NORMAL_CLOSES


class EnvelopeWriter(core.EnvelopeWriter):
    """An outgoing WebSocket message: payload, headers, content type and the opcode
    (:meth:`set_opcode`; by default ``TEXT`` for a ``str`` payload, ``BINARY`` else)."""

    __slots__ = ("_explicit", "_opcode")

    def __init__(
        self,
        payload: Payload = b"",
        *,
        headers: HeadersLike | None = None,
        content_type: str | None = None,
        bindings: Any = None,
    ) -> None:
        if headers is None and content_type is None and bindings is None:
            super().__init__(payload)  # keyword passing costs, and this is hot
        else:
            super().__init__(payload, headers=headers, content_type=content_type, bindings=bindings)
        self._opcode: Opcode | None = Opcode.TEXT if type(payload) is str else None
        self._explicit = False  # set_opcode() was called

    def set_opcode(self, opcode: Opcode | int | str | None) -> None:
        """Send as ``"text"`` or ``"binary"`` (an :class:`Opcode`, 1 or 2); ``None``
        goes back to the default (``TEXT`` for a ``str`` payload, else ``BINARY``).

        A text message's payload must be valid UTF-8 (checked by ``send``).
        """
        self._opcode = None if opcode is None else Opcode.of(opcode)
        self._explicit = opcode is not None

    @property
    def opcode(self) -> Opcode:
        """The opcode the message will be sent with."""
        return self._opcode if self._opcode is not None else Opcode.BINARY

    def reset_payload(self) -> None:
        """Empty the payload; the opcode goes back to the default unless it was set."""
        super().reset_payload()
        if not self._explicit:
            self._opcode = None

    def write(self, data: Payload) -> int:
        """Append to the payload; writing a ``str`` to an empty envelope makes it text."""
        if isinstance(data, str) and self._opcode is None and not len(self):
            self._opcode = Opcode.TEXT
        return super().write(data)


def encode(
    env: EnvelopeWriter,
    policy: HeaderPolicy,
    *,
    where: str,
    warned: list[bool],
) -> tuple[bytes, Opcode]:
    """The bytes and opcode that carry ``env`` (see the module documentation).

    Raises:
        ConfigError: a text message that is not UTF-8; headers under policy ``"raise"``.
    """
    payload = env.payload
    opcode = env.opcode
    if opcode is Opcode.TEXT:
        try:
            payload.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"{where}: a text message must be valid UTF-8 ({exc}); send bytes as binary"
            ) from exc
    headers = env._headers
    content_type = env._content_type
    if not headers and content_type is None:
        if opcode is Opcode.BINARY and policy == "embed" and is_embedded(payload):
            return embed(None, None, payload), opcode  # cannot be misread as embedded
        return payload, opcode
    if policy == "embed":
        extras = {"opcode": "text"} if opcode is Opcode.TEXT else None
        return embed(headers, content_type, payload, extras=extras), Opcode.BINARY
    return apply_header_policy(
        policy, headers, content_type, payload, where=where, warned=warned
    ), opcode


def encode_within(
    env: core.EnvelopeWriter,
    policy: HeaderPolicy,
    limit: int,
    *,
    where: str,
    warned: list[bool],
    batch: Sequence[core.EnvelopeWriter],
) -> tuple[bytes, Opcode]:
    """:func:`encode`, then the size check every sender makes before anything of
    ``batch`` (the ``send`` call's envelopes) goes out.

    Raises:
        MessageTooLarge: the message is over ``limit`` (``max_message``); every envelope
            of ``batch`` is listed as not sent.
        ConfigError: as :func:`encode`.
    """
    assert isinstance(env, EnvelopeWriter)
    data, opcode = encode(env, policy, where=where, warned=warned)
    if len(data) > limit:
        raise MessageTooLarge(
            f"{where}: a {len(data)}-byte message is over max_message ({limit} bytes)",
            [(e, "not sent") for e in batch],
        )
    return data, opcode


class EnvelopeReader(core.EnvelopeReader):
    """A received WebSocket message: payload, headers, content type, and the extras
    :attr:`opcode`, :attr:`text` and :attr:`connection` (the channel it came on, to
    answer through: :meth:`reply`).

    Embedded headers are decoded when first read; a damaged embedded frame raises
    :class:`~syncapi.errors.DecodeError` there, in the callback, so the ``on_error``
    policy deals with it.
    """

    __slots__ = ("_connection", "_decoded", "_item", "_opcode")

    def __init__(
        self,
        payload: bytes,
        opcode: Opcode,
        *,
        channel: str,
        subscriber: core.Subscriber,
        connection: Any,
        embedded: bool = True,
        item: Any = None,
    ) -> None:
        super().__init__(payload, channel=channel, subscriber=subscriber)
        self._opcode = opcode
        self._connection = connection
        self._item = item  # what the inbox held: handed back if no callback runs
        # a binary message may carry embedded headers (when the header policy embeds):
        # decoded on first use
        self._decoded = not embedded or opcode is Opcode.TEXT or not is_embedded(payload)

    def _decode(self) -> None:
        self._decoded = True
        try:
            headers, content_type, payload, extras = extract_with_extras(self._payload)
        except DecodeError as exc:
            self._decoded = False  # raise again on the next access
            raise DecodeError(f"message on {self.identity}: {exc}") from exc
        self._headers = headers
        self._content_type = content_type
        self._payload = payload
        if extras.get("opcode") == "text":
            self._opcode = Opcode.TEXT

    def read(self, size: int = -1) -> bytes:
        """Read the payload (embedded headers removed)."""
        if not self._decoded:
            self._decode()
        return super().read(size)

    @property
    def payload(self) -> bytes:
        """The whole payload (embedded headers removed)."""
        if not self._decoded:
            self._decode()
        return self._payload

    @property
    def headers(self) -> Headers:
        """The headers the sender embedded (empty for a bare message)."""
        if not self._decoded:
            self._decode()
        if self._headers is None:
            self._headers = Headers()
        return self._headers

    @property
    def content_type(self) -> str | None:
        """The content type the sender embedded, or ``None``."""
        if not self._decoded:
            self._decode()
        return self._content_type

    @property
    def opcode(self) -> Opcode:
        """``Opcode.TEXT`` or ``Opcode.BINARY``, as the sender sent it."""
        if not self._decoded:
            self._decode()
        return self._opcode

    @property
    def text(self) -> str:
        """The payload as text (UTF-8).

        Raises:
            DecodeError: the payload is not UTF-8 (a binary message).
        """
        try:
            return self.payload.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DecodeError(f"message on {self.identity} is not UTF-8 text: {exc}") from exc

    @property
    def connection(self) -> Any:
        """The connection the message came on: a client :class:`~syncapi.ws.Publisher`
        or a server :class:`~syncapi.ws.Connection`; ``send`` on it answers."""
        return self._connection

    def reply(
        self, *envelopes: core.EnvelopeWriter | Payload, timeout: float | None = None
    ) -> None:
        """Send on the connection the message came on (``self.connection.send``)."""
        self._connection.send(*envelopes, timeout=timeout)

    @property
    def ordering_key(self) -> Hashable | None:
        """The connection, when the subscriber keeps each connection's order (a server
        route); else ``None``."""
        sub = self._subscriber
        return id(self._connection) if getattr(sub, "orders_by_connection", False) else None

    @property
    def identity(self) -> str:
        """The connection and channel, for logs."""
        return f"{self._connection!r}"


# -- the inbox: received messages waiting for a receive loop -------------------------------
class InboxSubscriber(core.Subscriber):
    """A subscriber whose messages wait in an :class:`Inbox` as ``(payload, opcode,
    connection)``: a client connection's, a server connection's, a route's."""

    default_on_error = "reject"  # no redelivery in WebSocket: log and drop
    _inbox: Inbox
    _embedded: bool = True  # the header policy is "embed": look for embedded headers

    def _fetch(self, max_messages: int, timeout: float | None) -> Sequence[core.EnvelopeReader]:
        if self._closed:
            from ..errors import ClosedError

            raise ClosedError(f"{self!r} is closed")
        items = self._inbox.get(max_messages, timeout)
        channel = self._channel
        embedded = self._embedded
        return [
            EnvelopeReader(
                item[0],
                item[1],
                channel=channel,
                subscriber=self,
                connection=item[2],
                embedded=embedded,
                item=item,
            )
            for item in items
        ]

    def _interrupt(self) -> None:
        self._inbox.wake()

    def _release(self, envelope: core.EnvelopeReader) -> None:
        item = getattr(envelope, "_item", None)
        if item is not None:
            self._inbox.give_back(item)  # the loop stopped before its callback: next time


_WAKE = object()


class Inbox:
    """Messages received on a reader thread, waiting for a receive loop's ``_fetch``.

    Bounded: :meth:`put` blocks the reader when ``limit`` messages wait, so a slow
    receiver slows the sender down (TCP flow control) instead of filling memory.
    Messages a loop fetched but did not run come back first (:meth:`give_back`).
    :meth:`wake` may be called from a signal handler (it takes no lock).
    """

    def __init__(self, limit: int) -> None:
        self._items: queue.SimpleQueue[Any] = queue.SimpleQueue()  # put() never blocks
        self._returned: collections.deque[Any] = collections.deque()
        self._limit = limit
        self._space = threading.Condition(threading.Lock())
        self._count = 0  # messages queued or handed back, not yet taken
        self._closed = False
        self._error: BaseException | None = None
        self._waiters = 0
        self._waiters_lock = threading.Lock()
        self._blocked = 0  # puts waiting for room now

    def put(self, item: Any, stop: threading.Event | None = None) -> bool:
        """Queue ``item``, waiting while the inbox is full. ``False`` (not queued) once
        the inbox is finished. When ``stop`` is set while it waits, the item is queued
        over the limit: the connection is ending, and what it read is kept."""
        return self.put_many((item,), stop)

    def put_many(self, items: Sequence[Any], stop: threading.Event | None = None) -> bool:
        """:meth:`put` for the messages of one read: as many as there is room for go in
        at once (one wake-up), and the wait for room is taken for the rest."""
        done = 0
        with self._space:
            while done < len(items):
                if self._count >= self._limit and not self._closed:
                    self._blocked += 1
                    try:
                        while self._count >= self._limit and not self._closed:
                            if stop is not None and stop.is_set():
                                break
                            self._space.wait(0.25)
                    finally:
                        self._blocked -= 1
                if self._closed:
                    return False
                room = self._limit - self._count
                if room <= 0:  # stop was set: the rest goes in over the limit
                    room = len(items) - done
                put = self._items.put
                for item in items[done : done + room]:  # under the lock: never after the
                    put(item)  # end marker of finish()
                taken = min(room, len(items) - done)
                self._count += taken
                done += taken
        return True

    def give_back(self, item: Any) -> None:
        """Return a fetched message no callback ran for: the next :meth:`get` has it first."""
        with self._space:
            self._returned.append(item)
            self._count += 1
        self._items.put(_WAKE)  # a blocked get() looks again

    def get(self, max_items: int, timeout: float | None) -> list[Any]:
        """Up to ``max_items`` items, waiting up to ``timeout`` for the first; ``[]`` on
        timeout or after :meth:`wake`.

        Raises:
            BaseException: the error given to :meth:`finish`, once the inbox is empty.
            ClosedError: the inbox was finished without an error and is empty.
        """
        if self._returned:
            with self._space:
                out: list[Any] = []
                while self._returned and len(out) < max_items:
                    out.append(self._returned.popleft())
                if out:
                    self._count -= len(out)
                    if self._blocked:
                        self._space.notify_all()
                    return out
        with self._waiters_lock:
            self._waiters += 1
        try:
            try:
                first = (
                    self._items.get(timeout=timeout) if timeout != 0 else self._items.get_nowait()
                )
            except queue.Empty:
                return []
        finally:
            with self._waiters_lock:
                self._waiters -= 1
        if first is _WAKE:
            if self._closed and self._items.empty() and not self._returned:
                self._raise_end()
            return []
        out = [first]
        items = self._items
        while len(out) < max_items and not items.empty():
            try:
                item = items.get_nowait()
            except queue.Empty:  # a drop() at close took it
                break
            if item is _WAKE:
                items.put(_WAKE)  # maybe the end marker: keep it for the next get
                break
            out.append(item)
        with self._space:
            self._count -= len(out)
            if self._blocked:
                self._space.notify_all()
        return out

    def _raise_end(self) -> None:
        self._items.put(_WAKE)  # every later get ends too
        from ..errors import ClosedError

        if self._error is not None:
            raise self._error
        raise ClosedError("the connection is closed")

    def wake(self) -> None:
        """Make every blocked :meth:`get` return ``[]`` soon. Takes no lock, so a signal
        handler may call it."""
        for _ in range(max(1, self._waiters)):
            self._items.put(_WAKE)

    def finish(self, error: BaseException | None = None) -> None:
        """No more items will come: :meth:`get` drains what is queued, then raises
        ``error`` (or :class:`~syncapi.errors.ClosedError`). Blocked puts return."""
        with self._space:
            if self._closed:
                return
            self._closed = True
            self._error = error
            self._items.put(_WAKE)
            self._space.notify_all()

    def drop(self) -> int:
        """Discard what is queued; return how many messages that was."""
        with self._space:
            dropped = len(self._returned)
            self._returned.clear()
            while True:
                try:
                    item = self._items.get_nowait()
                except queue.Empty:
                    break
                if item is not _WAKE:
                    dropped += 1
            if self._closed:
                self._items.put(_WAKE)
            self._count = 0
            self._space.notify_all()
        return dropped

    @property
    def blocked(self) -> bool:
        """Whether a :meth:`put` waits for room now (a reader is not reading)."""
        return self._blocked > 0


def deadline_left(deadline: float | None) -> float | None:
    """Seconds left until ``deadline`` (a ``time.monotonic()`` value), ``None`` for none."""
    return None if deadline is None else max(0.0, deadline - time.monotonic())
