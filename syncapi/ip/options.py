"""Options of ``ip://`` producers and consumers (URL query or keywords; seconds for every
duration, bytes for every size). ``protocol``, the IP protocol number, is required::

    syncapi.producer("ip://192.0.2.10?protocol=253&ttl=16")
    syncapi.consumer("ip://0.0.0.0?protocol=253&peer=192.0.2.7")
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..datagram import check_policy
from ..errors import ConfigError
from ..headers import HeaderPolicy

__all__ = ["ConsumerOptions", "ProducerOptions", "check_protocol"]

HOW_TO_GIVE_PROTOCOL = (
    "give the IP protocol number in the URL, 'ip://127.0.0.1?protocol=253', or as the "
    "keyword protocol=253: a number from 1 to 254 (253 and 254 are reserved for "
    "experiments and testing, RFC 3692)"
)


def check_protocol(protocol: object) -> int:
    """``protocol`` as a checked IP protocol number (1-254).

    Raises:
        ConfigError: missing or out of range, saying how to give it.
    """
    if protocol is None:
        raise ConfigError(f"raw IP needs the IP protocol number: {HOW_TO_GIVE_PROTOCOL}")
    if isinstance(protocol, bool) or not isinstance(protocol, int) or not 1 <= protocol <= 254:
        extra = (
            " (255 is IPPROTO_RAW: on Linux a socket of it can only send)"
            if protocol == 255
            else ""
        )
        raise ConfigError(f"option 'protocol' is {protocol!r}{extra}; {HOW_TO_GIVE_PROTOCOL}")
    return protocol


def _check(owner: Any) -> None:
    check_protocol(owner.protocol)
    if owner.timeout <= 0:
        raise ConfigError(f"option 'timeout' must be > 0, got {owner.timeout!r}")
    if owner.ttl is not None and not 1 <= owner.ttl <= 255:
        raise ConfigError(f"option 'ttl' must be from 1 to 255 or None, got {owner.ttl!r}")
    check_policy(owner.headers)


@dataclass(frozen=True)
class ProducerOptions:
    """Options of an ``ip://`` :class:`~syncapi.ip.Producer` (each publisher is one raw
    socket sending packets of ``protocol`` to the URL's host)."""

    protocol: int | None = None
    """The IP protocol number of the packets (required): the IPv4 header's ``protocol``
    field, IPv6's ``next header``. 253 and 254 are for experiments (RFC 3692); a number
    the kernel handles itself (1 ICMP, 6 TCP, 17 UDP...) works, but its own stack sees
    the same packets."""
    ttl: int | None = None
    """Time to live (IPv6: hop limit) of the packets sent (``None``: the system's
    default, usually 64)."""
    source: str | None = None
    """The local address to send from (the raw socket is bound to it); ``None``: the
    kernel picks one from the route."""
    timeout: float = 10.0
    """Seconds one ``sendto`` may wait for room in the socket's send buffer
    (``SO_SNDTIMEO``); then ``send`` raises ``TimeoutError``."""
    headers: HeaderPolicy = "embed"
    """Headers and content type (IP has neither): ``"embed"`` (default), ``"raise"`` or
    ``"warn"``, as for ``udp://``."""

    def __post_init__(self) -> None:
        _check(self)


@dataclass(frozen=True)
class ConsumerOptions:
    """Options of an ``ip://`` :class:`~syncapi.ip.Consumer` (one raw socket bound to the
    URL's host: the packets of ``protocol`` sent to that address)."""

    protocol: int | None = None
    """The IP protocol number to receive (required; see the producer's option)."""
    peer: str | None = None
    """Receive only packets from this address (the kernel filters: the socket is
    connected to it). ``None``: from anyone."""
    rcvbuf: int = 4 * 1024 * 1024
    """Receive buffer (``SO_RCVBUF``) asked for, as for ``udp://`` (``SO_RCVBUFFORCE``
    past ``net.core.rmem_max`` when allowed, else one WARNING)."""
    max_pending: int = 4096
    """Packets that may wait for the receive loop; beyond it the reader waits and the
    kernel's receive buffer fills, then drops."""
    headers: HeaderPolicy = "embed"
    """``"embed"``: payloads in the embed framing give back headers and content type;
    ``"raise"``/``"warn"``: payloads are taken as they are."""
    timeout: float = 10.0
    """Seconds one ``sendto`` of a reply may wait for room in the send buffer."""
    ttl: int | None = None
    """Time to live (IPv6: hop limit) of replies (``None``: the system's default)."""

    def __post_init__(self) -> None:
        _check(self)
        for name in ("rcvbuf", "max_pending"):
            value = getattr(self, name)
            if value <= 0:
                raise ConfigError(f"option {name!r} must be > 0, got {value!r}")
