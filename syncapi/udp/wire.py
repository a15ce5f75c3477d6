"""What ``udp://`` messages look like on the wire: one message is one datagram.

* The envelope's payload is the datagram's bytes, never cut and never split: a datagram
  arrives whole or not at all. The largest is 65,507 bytes over IPv4 and 65,527 over
  IPv6 (65,535 less the IP and UDP headers), counted **after** the headers are embedded;
  a bigger one raises :class:`~syncapi.errors.MessageTooLarge` before anything is sent.
* Headers and the content type follow the header policy (option ``headers``, default
  ``"embed"``): an envelope that has any travels in the shared embed framing of
  :func:`syncapi.headers.embed` (magic ``b"\\x00SYH"``, version, a JSON block, then the
  payload), and a syncapi receiver gives them back unchanged. An envelope without them
  travels bare, so any UDP peer reads it as sent; a payload that happens to start with
  the magic is framed too, so that it cannot be misread. ``"raise"`` refuses envelopes
  with headers, ``"warn"`` drops them with one warning per publisher.
* A damaged frame (the magic, then garbage) is not dropped by the reader thread: the
  callback gets it, and reading its payload, headers or content type raises
  :class:`~syncapi.errors.DecodeError`, which the ``on_error`` policy handles (default
  ``"reject"``: logged and dropped). The loop goes on with the next datagram.
* Extras: the sender's address, :attr:`EnvelopeReader.remote_addr`, as the
  :mod:`socket` module gives it; :meth:`EnvelopeWriter.set_remote_addr` sends one
  envelope elsewhere than the publisher's peer.
"""

from __future__ import annotations

import socket
from typing import Any

from .. import core
from ..core import Capabilities
from ..datagram import Address, DatagramEnvelopeWriter, DatagramSubscriber, send_reply
from ..embedded import EmbeddedReader
from ..errors import ConfigError
from ..headers import EMBED_MAGIC
from ..sockets import format_address
from .bindings import MessageBindings

__all__ = [
    "CAPABILITIES",
    "MAX_DATAGRAM",
    "MAX_DATAGRAM_IPV6",
    "EnvelopeReader",
    "EnvelopeWriter",
    "check_address",
    "max_datagram",
]

MAX_DATAGRAM = 65_507
"""The largest UDP payload over IPv4: 65,535 less the 20-byte IP and 8-byte UDP headers."""
MAX_DATAGRAM_IPV6 = 65_527
"""The largest UDP payload over IPv6 (the 40-byte IPv6 header does not count against the
65,535-byte payload length; the 8-byte UDP header does)."""

CAPABILITIES = Capabilities(
    ordered=False,
    persistent=False,
    consumer_groups=False,
    headers=True,
    redelivery=False,
    brokerless=True,
    reliable=False,
    max_payload=MAX_DATAGRAM,
)
"""What ``udp://`` can do: datagrams may be lost or reordered, and nothing is kept for a
consumer that is not listening."""


def max_datagram(family: int) -> int:
    """The largest datagram a socket of ``family`` sends."""
    return MAX_DATAGRAM_IPV6 if family == socket.AF_INET6 else MAX_DATAGRAM


def check_address(addr: object) -> Address:
    """``addr`` as ``sendto`` takes it: ``(host, port)`` or the IPv6 form ``(host, port,
    flowinfo, scope_id)``, with a ``str`` host and a port from 1 to 65535.

    Raises:
        ConfigError: anything else.
    """
    if (
        isinstance(addr, tuple)
        and len(addr) in (2, 4)
        and isinstance(addr[0], str)
        and addr[0]
        and all(isinstance(n, int) and not isinstance(n, bool) for n in addr[1:])
        and 1 <= addr[1] <= 65535
    ):
        return addr
    raise ConfigError(
        "a UDP address is (host, port) or (host, port, flowinfo, scope_id), with a str "
        f"host and a port from 1 to 65535; got {addr!r}"
    )


class EnvelopeWriter(DatagramEnvelopeWriter):
    """An outgoing ``udp://`` datagram: payload, headers and content type (embedded by
    default), and optionally its own destination (:meth:`set_remote_addr`)."""

    __slots__ = ()
    message_bindings = MessageBindings

    _address = staticmethod(check_address)

    def set_remote_addr(self, addr: Any) -> None:
        """Send this envelope to ``addr``, ``(host, port)`` (IPv6 also ``(host, port,
        flowinfo, scope_id)``, as :attr:`EnvelopeReader.remote_addr` gives it), instead
        of the publisher's peer; ``None``: the peer again. The host must be of the
        publisher's address family.

        Raises:
            ConfigError: not such an address.
        """
        super().set_remote_addr(addr)


class EnvelopeReader(EmbeddedReader):
    """A received ``udp://`` datagram: payload, embedded headers and content type, the
    sender's address (:attr:`remote_addr`), and :meth:`reply` to answer it."""

    __slots__ = ("_item", "_remote_addr")

    def __init__(
        self,
        payload: bytes,
        remote_addr: Address,
        channel: str,
        subscriber: DatagramSubscriber | None,
        embedded: bool = True,
        item: Any = None,
    ) -> None:
        # runs once per datagram, so every slot of core.EnvelopeReader and EmbeddedReader
        # is set here directly rather than through two super().__init__() calls with
        # keywords (tests/test_udp.py checks that no slot is left unset)
        self._payload = payload
        self._pos = 0
        self._headers = None
        self._content_type = None
        self._channel = channel
        self._subscriber = subscriber
        self._settled = False
        self._decoded = not embedded or payload[:4] != EMBED_MAGIC
        self._remote_addr = remote_addr
        self._item = item  # what the inbox held: handed back if no callback runs

    @property
    def remote_addr(self) -> Address:
        """The sender's address, as the :mod:`socket` module gives it: ``(host, port)``
        over IPv4, ``(host, port, flowinfo, scope_id)`` over IPv6."""
        return self._remote_addr

    def reply(
        self, *envelopes: core.EnvelopeWriter | core.Payload, timeout: float | None = None
    ) -> None:
        """Send datagrams back to :attr:`remote_addr`, from the socket this one came to
        (the consumer's bound socket, or a publisher's own). The envelopes' own
        ``remote_addr`` is not used.

        Raises:
            ClosedError: that socket is closed.
            MessageTooLarge, SendError, TimeoutError: as for ``Publisher.send``.
        """
        send_reply(self._subscriber, EnvelopeWriter, envelopes, self._remote_addr, timeout)

    @property
    def identity(self) -> str:
        """The channel and the sender, for logs."""
        addr = self._remote_addr
        return f"channel {self._channel!r} from {format_address(str(addr[0]), addr[1])}"
