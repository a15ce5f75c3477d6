"""The sending side of ``ip://``: a :class:`Producer` names the destination host and the
IP protocol number, and each :class:`Publisher` is one raw socket sending to it.

A raw socket receives every packet of its protocol that comes to the host — on one host,
the publisher's own packets included. A publisher never reads, so its socket gets a
socket filter that drops everything (``SO_ATTACH_FILTER`` with the one-instruction
classic BPF program ``ret #0``): nothing piles up in its receive buffer. Where the filter
cannot be attached, the receive buffer is made as small as the kernel allows instead.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import socket
import struct
from typing import Any

from ..datagram import (
    Address,
    DatagramProducer,
    DatagramPublisher,
    host_family,
    resolve,
    set_unicast_ttl,
)
from ..errors import ConfigError, ConnectError
from ..servers import ServerURL, resolve_options
from .bindings import ChannelBindings, OperationBindings
from .options import ProducerOptions
from .server import host_of, raw_socket
from .wire import CAPABILITIES, EnvelopeWriter, max_payload

__all__ = ["Producer", "Publisher", "drop_everything"]

_log = logging.getLogger("syncapi.ip")
SO_ATTACH_FILTER: int = getattr(socket, "SO_ATTACH_FILTER", 26)
_BPF_RET_K = 0x06  # BPF_RET | BPF_K: return the constant k (the bytes to keep; 0 = drop)


def drop_everything(sock: socket.socket) -> bool:
    """Make ``sock`` receive nothing: attach a classic BPF socket filter that keeps no
    packet (Linux). ``False`` when the filter could not be attached; the receive buffer
    is then shrunk to the kernel's minimum instead, so at most a few packets wait."""
    program = (ctypes.c_ubyte * 8).from_buffer_copy(struct.pack("HBBI", _BPF_RET_K, 0, 0, 0))
    fprog = struct.pack("HL", 1, ctypes.addressof(program))  # struct sock_fprog
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
        return True
    except OSError as exc:
        _log.debug("cannot attach a drop-all socket filter (%s): shrinking SO_RCVBUF", exc)
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)
        return False


class Publisher(DatagramPublisher[EnvelopeWriter]):
    """One raw socket sending packets of the producer's protocol to its host (or to an
    envelope's own ``remote_addr``).

    :meth:`send` is thread-safe and returns when the kernel took every packet. A
    payload over the limit (after its headers are embedded) raises
    :class:`~syncapi.errors.MessageTooLarge` and nothing of that ``send`` is sent; a
    refused ``sendto`` raises :class:`~syncapi.errors.SendError` naming the envelopes not
    sent. The socket receives nothing (see the module documentation).
    """

    envelope_class = EnvelopeWriter
    _noun = "packet payload"

    def __init__(
        self, producer: Producer, channel: str, bindings: Any, operation_bindings: Any
    ) -> None:
        super().__init__(producer, channel, bindings, operation_bindings)
        opts = producer.options
        family = producer.family
        self._protocol = producer.protocol
        self._where = f"ip publisher {channel!r} to {self._peer[0]} protocol {self._protocol}"
        sock = raw_socket(family, self._protocol, self._where)
        try:
            self._filtered = drop_everything(sock)
            set_unicast_ttl(sock, family, opts.ttl)
            if opts.source is not None:
                _, source = resolve(
                    opts.source,
                    0,
                    socket.SOCK_DGRAM,  # resolves like SOCK_RAW; getaddrinfo knows no raw service
                    what=f"{self._where}: option 'source'",
                    family=family,
                )
                try:
                    sock.bind(source)
                except OSError as exc:
                    raise ConnectError(
                        f"{self._where}: cannot send from {opts.source!r}: {exc}"
                    ) from exc
            self._use_socket(sock, opts, max_payload(family))
        except BaseException:
            sock.close()
            raise

    @property
    def peer(self) -> Address:
        """Where packets go (unless an envelope names its own ``remote_addr``)."""
        return self._peer

    @property
    def protocol(self) -> int:
        """The IP protocol number of the packets sent."""
        return self._protocol

    @property
    def filtered(self) -> bool:
        """Whether the drop-all socket filter is attached (else the receive buffer was
        shrunk instead)."""
        return self._filtered

    def fileno(self) -> int:
        """The raw socket's file descriptor (``-1`` once closed), e.g. to check with
        ``FIONREAD`` that nothing waits in its receive buffer."""
        return self._gate.sock.fileno()


class Producer(DatagramProducer[Publisher]):
    """``ip://host?protocol=N``: the destination of every :meth:`publisher`'s packets
    and their IP protocol number.

    Needs root or ``CAP_NET_RAW`` (a :class:`~syncapi.errors.ConfigError` says so when
    the first publisher opens its raw socket). The host may be a name (resolved once,
    here) or an IPv4 or IPv6 address (``ip://[::1]?protocol=253``). Options:
    :class:`~syncapi.ip.ProducerOptions`. Thread-safe; closing it closes every publisher
    it made.
    """

    scheme = "ip"
    capabilities = CAPABILITIES
    _binding_types = (ChannelBindings, OperationBindings)
    _publisher_class = Publisher

    def __init__(self, url: ServerURL | str, **options: Any) -> None:
        super().__init__(url)
        self._options = resolve_options(ProducerOptions, self._url.query, options)
        assert self._options.protocol is not None  # checked by the options
        self._protocol = self._options.protocol
        host = host_of(self._url, "producer")
        self._family, self._peer = resolve(
            host,
            0,
            socket.SOCK_DGRAM,  # resolves like SOCK_RAW; getaddrinfo knows no raw service
            what=f"ip producer {self._url}",
            family=host_family(host) or 0,
        )
        if self._options.source is not None and host_family(self._options.source) not in (
            None,
            self._family,
        ):
            raise ConfigError(
                f"ip producer {self._url}: option 'source' {self._options.source!r} is not "
                "of the destination's address family"
            )

    @property
    def options(self) -> ProducerOptions:
        """The options in force."""
        return self._options

    @property
    def peer(self) -> Address:
        """The resolved destination, ``(host, 0)``."""
        return self._peer

    @property
    def family(self) -> int:
        """``socket.AF_INET`` or ``socket.AF_INET6``."""
        return self._family

    @property
    def protocol(self) -> int:
        """The IP protocol number."""
        return self._protocol
