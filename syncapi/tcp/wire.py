"""What ``tcp://`` messages are on the wire, the envelopes, and the protocol's errors.

A TCP connection is a byte stream: messages are cut out of it by the framing both ends
agree on (:mod:`syncapi.tcp.framing`; length-prefixed by default). TCP has no headers:
under the default header policy with length framing, an envelope with headers or a
content type travels in the embed framing of :func:`syncapi.headers.embed` inside its
frame, and a syncapi receiver gives back headers, content type and payload unchanged;
an envelope without them travels bare, so any peer reads it as it was sent (a payload
that happens to start with the embed magic is framed too, so it cannot be misread).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

from .. import core
from ..embedded import EmbeddedReader
from ..errors import ReceiveError, SendError
from ..headers import EMBED_MAGIC
from .bindings import MessageBindings

__all__ = [
    "CAPABILITIES",
    "ConnectionClosedError",
    "EnvelopeReader",
    "EnvelopeWriter",
    "make_readers",
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
"""What ``tcp://`` can do. Brokerless: the consumer must be listening before a client
dials. Ordered: one connection delivers in order. Headers travel embedded (with length
framing). The largest message is each end's ``max_message`` option (16 MiB by
default)."""


class ConnectionClosedError(SendError, ReceiveError):
    """The TCP connection is closed: a ``send`` on it, or a receive loop that was
    reading it, fails with this.

    A receive loop ends *quietly* (no error) when the peer closed its side normally
    (end of stream); a reset, a broken framing or a failed write ends it with this.

    Attributes:
        reason: why the connection ended (``"closed by the peer"``, ``"reset by the
            peer"``, the framing error...).
        normal: the peer closed normally (end of stream) or this end closed it.
    """

    def __init__(
        self,
        message: str,
        reason: str = "",
        *,
        normal: bool = False,
        failures: Sequence[tuple[Any, BaseException | str]] = (),
    ) -> None:
        SendError.__init__(self, message, failures)
        self.reason = reason
        self.normal = normal


class EnvelopeWriter(core.EnvelopeWriter):
    """An outgoing TCP message: payload, headers and content type (TCP itself has no
    extras: the connection is the channel)."""

    __slots__ = ()

    message_bindings = MessageBindings


class EnvelopeReader(EmbeddedReader):
    """A received TCP message: payload, headers, content type and the extras
    :attr:`connection` (the channel it came on: ``send`` on it answers, as
    :meth:`reply` does) and :attr:`remote_addr` (the peer's address).

    Embedded headers are decoded when first read; a damaged embedded frame raises
    :class:`~syncapi.errors.DecodeError` there, in the callback, so the ``on_error``
    policy deals with it.
    """

    __slots__ = ("_connection", "_item", "_ordered")

    def __init__(
        self,
        payload: bytes,
        *,
        channel: str,
        subscriber: core.Subscriber,
        connection: Any,
        embedded: bool = True,
        item: Any = None,
        ordered: bool = False,
    ) -> None:
        super().__init__(payload, channel=channel, subscriber=subscriber, embedded=embedded)
        self._connection = connection
        self._item = item  # what the inbox held: handed back if no callback runs
        self._ordered = ordered

    @property
    def connection(self) -> Any:
        """The connection the message came on: a client :class:`~syncapi.tcp.Publisher`
        or a server :class:`~syncapi.tcp.Connection`; ``send`` on it answers."""
        return self._connection

    @property
    def remote_addr(self) -> tuple[str, int]:
        """The peer's address, ``(host, port)``."""
        address: tuple[str, int] = self._connection.remote_addr
        return address

    def reply(
        self, *envelopes: core.EnvelopeWriter | core.Payload, timeout: float | None = None
    ) -> None:
        """Send on the connection the message came on (``self.connection.send``)."""
        self._connection.send(*envelopes, timeout=timeout)

    @property
    def ordering_key(self) -> Hashable | None:
        """The connection, when the subscriber keeps each connection's order (a
        server's subscriber takes many connections); else ``None``."""
        return id(self._connection) if self._ordered else None

    @property
    def identity(self) -> str:
        """The connection, for logs."""
        return f"{self._connection!r}"


_new = object.__new__


def make_readers(
    items: list[Any],
    *,
    channel: str,
    subscriber: core.Subscriber,
    connection: Any,
    embedded: bool,
    ordered: bool = False,
) -> list[core.EnvelopeReader]:
    """The envelopes of one read's messages, as ``EnvelopeReader(...)`` would make them,
    without its three ``__init__`` calls per message (the receive path's largest cost).

    ``items`` are payloads from ``connection``, or, when ``connection`` is ``None``,
    ``(payload, connection)`` pairs. ``tests/test_tcp.py`` checks that every slot comes
    out as the constructor sets it.
    """
    out: list[core.EnvelopeReader] = []
    append = out.append
    for item in items:
        if connection is None:
            payload, conn = item
        else:
            payload, conn = item, connection
        env = _new(EnvelopeReader)
        env._payload = payload
        env._pos = 0
        env._headers = None
        env._content_type = None
        env._channel = channel
        env._subscriber = subscriber
        env._settled = False
        env._decoded = not embedded or payload[:4] != EMBED_MAGIC
        env._connection = conn
        env._item = item
        env._ordered = ordered
        append(env)
    return out
