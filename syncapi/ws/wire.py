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

import enum
from collections.abc import Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from werkzeug.datastructures import Headers as WerkzeugHeaders

from .. import core, inbox
from ..embedded import EmbeddedReader
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
    HeadersLike,
    apply_header_policy,
    embed,
    is_embedded,
)
from ..inbox import Inbox
from .bindings import MessageBindings

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

    message_bindings = MessageBindings

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
            super().__init__(
                payload,
                headers=headers,
                content_type=content_type,
                bindings=bindings,
            )
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


class EnvelopeReader(EmbeddedReader):
    """A received WebSocket message: payload, headers, content type, and the extras
    :attr:`opcode`, :attr:`text` and :attr:`connection` (the channel it came on, to
    answer through: :meth:`reply`).

    Embedded headers are decoded when first read; a damaged embedded frame raises
    :class:`~syncapi.errors.DecodeError` there, in the callback, so the ``on_error``
    policy deals with it.
    """

    __slots__ = ("_connection", "_item", "_opcode")

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
        # only a binary message may carry embedded headers (when the policy embeds)
        super().__init__(
            payload,
            channel=channel,
            subscriber=subscriber,
            embedded=embedded and opcode is not Opcode.TEXT,
        )
        self._opcode = opcode
        self._connection = connection
        self._item = item  # what the inbox held: handed back if no callback runs

    def _got_extras(self, extras: dict[str, str]) -> None:
        if extras.get("opcode") == "text":
            self._opcode = Opcode.TEXT

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


# -- the inbox subscriber of a WebSocket channel -------------------------------------------
class InboxSubscriber(inbox.InboxSubscriber):
    """A subscriber whose messages wait in an :class:`~syncapi.inbox.Inbox` as
    ``(payload, opcode, connection)``: a client connection's, a server connection's, a
    route's."""

    _embedded: bool = True  # the header policy is "embed": look for embedded headers
    # callbacks never run on a ws reader thread: it answers pings, and a long callback
    # there would look like a dead peer to the other side
    direct_dispatch = False

    def _readers(self, items: list[Any]) -> list[core.EnvelopeReader]:
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
