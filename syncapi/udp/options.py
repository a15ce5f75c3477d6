"""Options of ``udp://`` producers and consumers (URL query or keywords; seconds for every
duration, bytes for every size)::

    syncapi.producer("udp://239.1.2.3:5000?interface=127.0.0.1&multicast_ttl=1")
    syncapi.consumer("udp://0.0.0.0:5000", rcvbuf=8 * 1024 * 1024, max_pending=8192)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..datagram import check_policy
from ..errors import ConfigError
from ..headers import HeaderPolicy

__all__ = ["ConsumerOptions", "ProducerOptions"]

DEFAULT_RCVBUF = 4 * 1024 * 1024
"""The receive buffer asked for by default: 4 MiB (the kernel's default, about 208 KiB,
drops most of a burst on loopback)."""


def _check(owner: Any) -> None:
    for name in ("timeout", "rcvbuf", "max_pending"):
        value = getattr(owner, name)
        if value <= 0:
            raise ConfigError(f"option {name!r} must be > 0, got {value!r}")
    check_policy(owner.headers)


@dataclass(frozen=True)
class ProducerOptions:
    """Options of a ``udp://`` :class:`~syncapi.udp.Producer` (each publisher is one
    socket that sends to the URL's host and port)."""

    timeout: float = 10.0
    """Seconds one ``sendto`` may wait for room in the socket's send buffer
    (``SO_SNDTIMEO``); then ``send`` raises ``TimeoutError``. ``send(timeout=...)``
    bounds a whole call, checked between datagrams."""
    headers: HeaderPolicy = "embed"
    """What to do with headers and content type, which UDP cannot carry: ``"embed"``
    (the default: the shared embed framing, see :mod:`syncapi.udp.wire`), ``"raise"``
    or ``"warn"``. With ``"raise"`` and ``"warn"`` the replies the publisher's
    :attr:`~syncapi.udp.Publisher.subscriber` reads are taken as they are too."""
    rcvbuf: int = 4 * 1024 * 1024
    """Receive buffer (``SO_RCVBUF``) of the publisher's socket, asked for when its
    :attr:`~syncapi.udp.Publisher.subscriber` (replies) is first used. See the consumer's
    option of the same name."""
    max_pending: int = 4096
    """Replies that may wait for the publisher's subscriber loop (see the consumer's
    option of the same name)."""
    multicast_ttl: int = 1
    """Time to live (IPv6: hop limit) of datagrams sent to a multicast group: ``1`` stays
    on the local network, ``0`` on this host."""
    multicast_loop: bool = True
    """Whether members of a multicast group on this host (other sockets, other
    processes) get the datagrams this producer sends to the group."""
    interface: str | None = None
    """The interface multicast datagrams leave by: a name (``"eth0"``, ``"lo"``), an
    index, or for IPv4 one of the interface's addresses (``"127.0.0.1"``). ``None``: the
    kernel's choice (the route to the group)."""
    broadcast: bool = False
    """Allow sending to broadcast addresses (``SO_BROADCAST``), e.g.
    ``udp://255.255.255.255:5000``."""

    def __post_init__(self) -> None:
        _check(self)
        if not 0 <= self.multicast_ttl <= 255:
            raise ConfigError(
                f"option 'multicast_ttl' must be from 0 to 255, got {self.multicast_ttl!r}"
            )


@dataclass(frozen=True)
class ConsumerOptions:
    """Options of a ``udp://`` :class:`~syncapi.udp.Consumer` (one bound socket)."""

    rcvbuf: int = 4 * 1024 * 1024
    """Receive buffer (``SO_RCVBUF``) asked for, in bytes: datagrams that arrive while
    the reader thread is busy wait there, and what does not fit is dropped by the kernel.
    The kernel caps it at ``net.core.rmem_max``; past the cap syncapi uses
    ``SO_RCVBUFFORCE`` when it may (root, ``CAP_NET_ADMIN``), and else logs one WARNING
    naming the sysctl."""
    max_pending: int = 4096
    """Datagrams that may wait for the receive loop in the process. When that many
    wait, the reader thread stops reading until the loop catches up; datagrams then
    queue in the kernel's receive buffer (``rcvbuf``), and once that is full the kernel
    drops them: UDP has no flow control."""
    headers: HeaderPolicy = "embed"
    """``"embed"`` (the default): a datagram that starts with the embed framing gives
    back its headers and content type. ``"raise"`` or ``"warn"``: datagrams are taken as
    they are, and a reply with headers is refused (``"raise"``) or sent without them
    (``"warn"``, one warning)."""
    timeout: float = 10.0
    """Seconds one ``sendto`` of a reply (``env.reply(...)``) may wait for room in the
    send buffer."""
    interface: str | None = None
    """For a multicast consumer (the URL's host is a group address): the interface to
    join the group on, by name (``"eth0"``, ``"lo"``), index, or for IPv4 one of its
    addresses (``"127.0.0.1"``). ``None``: the kernel's choice."""
    reuse_address: bool = False
    """Set ``SO_REUSEADDR`` before binding, so that several sockets may bind the same
    address and port. A multicast consumer always sets it (several members of one group
    on one host is the usual case)."""

    def __post_init__(self) -> None:
        _check(self)
