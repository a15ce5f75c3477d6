"""What ``ip://`` messages look like on the wire: one message is the payload of one IP
packet of the chosen protocol number.

* Sending, the kernel writes the IP header (source from the route or the ``source``
  option, ``ttl``, the protocol number); the payload is the envelope's bytes, at most
  65,515 over IPv4 (65,535 less the 20-byte header) and 65,535 over IPv6, counted after
  the headers are embedded. A bigger one raises :class:`~syncapi.errors.MessageTooLarge`
  before anything is sent.
* Receiving over IPv4, the raw socket gets the whole packet, IP header included: the
  reader thread checks it (version 4, header length, total length) and cuts it off;
  :class:`EnvelopeReader` gives its fields (:attr:`~EnvelopeReader.source`,
  :attr:`~EnvelopeReader.destination`, :attr:`~EnvelopeReader.ttl`,
  :attr:`~EnvelopeReader.protocol`, :attr:`~EnvelopeReader.header`) and the payload
  without it. A packet whose header does not check out is counted
  (``Subscriber.malformed``), logged and skipped.
* Receiving over IPv6, the kernel gives the payload only; the destination and the hop
  limit come as ancillary data (``IPV6_RECVPKTINFO``, ``IPV6_RECVHOPLIMIT``).
* Headers and the content type travel in the shared embed framing, as on ``udp://``
  (option ``headers``); a damaged frame raises
  :class:`~syncapi.errors.DecodeError` in the callback, and the loop goes on.
"""

from __future__ import annotations

import socket
import sys
from typing import Any

from .. import core
from ..core import Capabilities
from ..datagram import Address, DatagramEnvelopeWriter, DatagramSubscriber, send_reply
from ..embedded import EmbeddedReader
from ..errors import ConfigError, DecodeError
from ..headers import EMBED_MAGIC
from .bindings import MessageBindings

__all__ = [
    "CAPABILITIES",
    "MAX_PAYLOAD",
    "MAX_PAYLOAD_IPV6",
    "EnvelopeReader",
    "EnvelopeWriter",
    "check_address",
    "ipv4_header_length",
    "max_payload",
]

MAX_PAYLOAD = 65_515
"""The largest payload of a raw IPv4 packet: 65,535 less the 20-byte header."""
MAX_PAYLOAD_IPV6 = 65_535
"""The largest payload of a raw IPv6 packet (the payload length field; no jumbograms)."""

CAPABILITIES = Capabilities(
    ordered=False,
    persistent=False,
    consumer_groups=False,
    headers=True,
    redelivery=False,
    brokerless=True,
    reliable=False,
    max_payload=MAX_PAYLOAD,
)
"""What ``ip://`` can do: packets may be lost or reordered, and nothing is kept for a
consumer that is not listening."""


def max_payload(family: int) -> int:
    """The largest payload a raw socket of ``family`` sends."""
    return MAX_PAYLOAD_IPV6 if family == socket.AF_INET6 else MAX_PAYLOAD


def ipv4_header_length(packet: bytes) -> int:
    """The length of the IPv4 header that starts ``packet`` (a whole packet as a raw
    socket receives it), after checking it.

    Raises:
        DecodeError: not a whole, well-formed IPv4 packet (naming what is wrong).
    """
    size = len(packet)
    if size < 20:
        raise DecodeError(f"{size} bytes: shorter than an IPv4 header (20 bytes)")
    version = packet[0] >> 4
    if version != 4:
        raise DecodeError(f"IP version {version}, not 4")
    ihl = (packet[0] & 0x0F) * 4
    if ihl < 20:
        raise DecodeError(f"header length {ihl} bytes, under the minimum of 20")
    if ihl > size:
        raise DecodeError(f"header length {ihl} bytes, but the packet has {size}")
    total = (packet[2] << 8) | packet[3]
    if total != size:
        raise DecodeError(f"the total length field says {total} bytes, {size} arrived")
    return ihl


def check_address(addr: object) -> Address:
    """``addr`` as ``sendto`` takes it for a raw socket: a host ``str`` becomes
    ``(host, 0)``; a tuple must be ``(host, 0)`` or ``(host, 0, flowinfo, scope_id)`` (as
    :attr:`EnvelopeReader.remote_addr` gives it): raw IP has no ports.

    Raises:
        ConfigError: anything else.
    """
    if isinstance(addr, str) and addr:
        return (addr, 0)
    if (
        isinstance(addr, tuple)
        and len(addr) in (2, 4)
        and isinstance(addr[0], str)
        and addr[0]
        and all(isinstance(n, int) and not isinstance(n, bool) for n in addr[1:])
        and addr[1] == 0
    ):
        return addr
    raise ConfigError(
        "a raw IP address is a host str, or (host, 0) / (host, 0, flowinfo, scope_id) as "
        f"remote_addr gives it (raw IP has no ports); got {addr!r}"
    )


class EnvelopeWriter(DatagramEnvelopeWriter):
    """An outgoing ``ip://`` packet payload: payload, headers and content type (embedded
    by default), and optionally its own destination (:meth:`set_remote_addr`)."""

    __slots__ = ()
    message_bindings = MessageBindings

    _address = staticmethod(check_address)

    def set_remote_addr(self, addr: Any) -> None:
        """Send this packet to ``addr`` — a host (``"192.0.2.7"``), or ``(host, 0)`` as
        :attr:`EnvelopeReader.remote_addr` gives it — instead of the producer's host;
        ``None``: that host again. It must be of the publisher's address family.

        Raises:
            ConfigError: not such an address.
        """
        super().set_remote_addr(addr)


class EnvelopeReader(EmbeddedReader):
    """A received ``ip://`` packet: the payload (IP header removed), embedded headers
    and content type, and the IP header's fields: :attr:`source`, :attr:`destination`,
    :attr:`ttl`, :attr:`protocol`; :attr:`remote_addr` and :meth:`reply` to answer."""

    __slots__ = ("_anc", "_item", "_packet", "_protocol", "_remote_addr")

    def __init__(
        self,
        payload: bytes,
        remote_addr: Address,
        channel: str,
        subscriber: DatagramSubscriber | None,
        embedded: bool,
        item: Any,
        packet: bytes | None,
        anc: list[tuple[int, int, bytes]] | None,
        protocol: int,
    ) -> None:
        # runs once per packet: every slot of core.EnvelopeReader and EmbeddedReader is
        # set here directly (tests/test_ip.py checks that none is left unset)
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
        self._packet = packet  # IPv4: the whole packet, header included
        self._anc = anc  # IPv6: the ancillary data of recvmsg
        self._protocol = protocol

    @property
    def remote_addr(self) -> Address:
        """The sender's address as the :mod:`socket` module gives it for a raw socket:
        ``(source, 0)`` over IPv4, ``(source, 0, flowinfo, scope_id)`` over IPv6."""
        return self._remote_addr

    @property
    def source(self) -> str:
        """The packet's source address."""
        packet = self._packet
        if packet is not None:
            return socket.inet_ntoa(packet[12:16])
        return str(self._remote_addr[0])

    @property
    def destination(self) -> str | None:
        """The packet's destination address (IPv6: from ``IPV6_PKTINFO``; ``None`` if
        the kernel gave none)."""
        packet = self._packet
        if packet is not None:
            return socket.inet_ntoa(packet[16:20])
        for level, kind, data in self._anc or ():
            if level == socket.IPPROTO_IPV6 and kind == socket.IPV6_PKTINFO and len(data) >= 16:
                return socket.inet_ntop(socket.AF_INET6, data[:16])
        return None

    @property
    def ttl(self) -> int | None:
        """The packet's time to live as it arrived (IPv6: the hop limit, from
        ``IPV6_HOPLIMIT``; ``None`` if the kernel gave none)."""
        packet = self._packet
        if packet is not None:
            return packet[8]
        for level, kind, data in self._anc or ():
            if level == socket.IPPROTO_IPV6 and kind == socket.IPV6_HOPLIMIT and len(data) >= 4:
                return int.from_bytes(data[:4], sys.byteorder)  # a C int
        return None

    @property
    def protocol(self) -> int:
        """The IP protocol number (IPv4: the header's field; IPv6: the socket's, the
        last ``next header`` of the packet)."""
        packet = self._packet
        return packet[9] if packet is not None else self._protocol

    @property
    def header(self) -> bytes | None:
        """The IPv4 header as it arrived (options included); ``None`` over IPv6, where
        the kernel does not give it."""
        packet = self._packet
        if packet is None:
            return None
        return packet[: (packet[0] & 0x0F) * 4]

    @property
    def version(self) -> int:
        """4 or 6."""
        return 4 if self._packet is not None else 6

    def reply(
        self, *envelopes: core.EnvelopeWriter | core.Payload, timeout: float | None = None
    ) -> None:
        """Send packets back to :attr:`remote_addr` from the consumer's raw socket (so
        from the address the consumer is bound to). The envelopes' own ``remote_addr`` is
        not used. On one host, a reply to an address the consumer itself is bound to
        comes back to it: give each end its own address (``127.0.0.2``,
        ``127.0.0.3``...).

        Raises:
            ClosedError: the consumer is closed.
            MessageTooLarge, SendError, TimeoutError: as for ``Publisher.send``.
        """
        send_reply(self._subscriber, EnvelopeWriter, envelopes, self._remote_addr, timeout)

    @property
    def identity(self) -> str:
        """The channel and the source address, for logs."""
        return f"channel {self._channel!r} from {self.source}"
