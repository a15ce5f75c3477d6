"""The receiving side of ``ip://``: a :class:`Consumer` is one raw socket of the chosen
protocol, bound to the URL's host, and its one :class:`Subscriber` reads it.

Every raw socket of a protocol number sees every packet of that protocol that comes to
the host (to its bound address, from its connected peer), so:

* the consumer is bound to its host: it gets the packets sent to that address
  (``0.0.0.0``/``::``: to any address of the host);
* option ``peer`` keeps one sender's packets only: a consumer bound to an address
  connects its socket to the peer, so the kernel drops the others; a consumer bound to
  the wildcard address filters in its reader thread instead (``connect()`` would also
  narrow the socket to the one local address the route to the peer picks).

Threads: one reader per subscriber (``syncapi-ip-read-<channel>``) blocks in ``recv``,
then takes what else is queued without blocking and hands the batch over at once.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import time
from typing import Any

from .. import core
from ..datagram import (
    DatagramConsumer,
    DatagramSubscriber,
    host_family,
    resolve,
    set_receive_buffer,
    set_unicast_ttl,
)
from ..errors import ConfigError, ConnectError, DecodeError
from ..servers import ServerURL, resolve_options
from .bindings import ChannelBindings, OperationBindings
from .options import ConsumerOptions
from .wire import CAPABILITIES, EnvelopeReader, ipv4_header_length, max_payload

__all__ = ["Consumer", "Subscriber", "host_of", "raw_socket"]

_log = logging.getLogger("syncapi.ip")
_BUFSIZE = 65_536  # more than any IP packet without jumbograms: none is ever cut
_DONTWAIT = socket.MSG_DONTWAIT
_ANC_SIZE = socket.CMSG_SPACE(20) + socket.CMSG_SPACE(4)  # in6_pktinfo + hop limit
_WARN_EVERY = 10.0  # seconds between WARNINGs about malformed packets


def raw_socket(family: int, protocol: int, where: str) -> socket.socket:
    """A raw socket of ``protocol``.

    Raises:
        ConfigError: the process may not open raw sockets (not root, no
            ``CAP_NET_RAW``), or the kernel refuses the protocol.
    """
    try:
        return socket.socket(family, socket.SOCK_RAW, protocol)
    except PermissionError as exc:
        raise ConfigError(
            f"{where}: raw IP sockets need root or the CAP_NET_RAW capability, which this "
            f"process does not have ({exc}); run it as root, or grant the capability, e.g. "
            "'setcap cap_net_raw+ep /path/to/python3' or AmbientCapabilities=CAP_NET_RAW "
            "in a systemd unit"
        ) from exc
    except OSError as exc:
        raise ConfigError(
            f"{where}: cannot open a raw socket for IP protocol {protocol}: {exc}"
        ) from exc


def host_of(url: ServerURL, side: str) -> str:
    """The one host of an ``ip://`` URL (raw IP has no ports, no paths, no users)."""
    if len(url.hosts) != 1 or not url.host:
        raise ConfigError(
            f"an ip {side} URL names exactly one host, e.g. 'ip://127.0.0.1?protocol=253', "
            f"got {url}"
        )
    if url.port is not None:
        raise ConfigError(
            f"ip URL {url}: raw IP has no ports; write 'ip://host?protocol=N' (the IP "
            "protocol number picks the traffic)"
        )
    if url.username is not None or url.password is not None:
        raise ConfigError(f"ip URL {url}: raw IP has no credentials; remove the user info")
    if url.path not in ("", "/"):
        raise ConfigError(
            f"ip URL {url}: raw IP has no paths; the channel name is a label given to "
            "publisher()/subscriber()"
        )
    return url.host


class Subscriber(DatagramSubscriber):
    """The packets of one :class:`Consumer`'s raw socket.

    Each message is an :class:`~syncapi.ip.EnvelopeReader` with the IP header's fields;
    ``env.reply(...)`` answers from the consumer's socket. IPv4 packets whose header
    does not check out are counted in :attr:`malformed`, logged (one WARNING per 10 s
    at most) and skipped. Callbacks may run on several threads (``start(workers=N)``);
    a callback that raises is logged and the packet dropped (``on_error="reject"``).

    Thread-safety: ``close()`` from any thread (or a signal handler, ``timeout=0``)
    stops the loops and the reader within a bounded time.
    """

    def __init__(
        self, *args: Any, family: int, protocol: int, only_from: str | None, **kwargs: Any
    ) -> None:
        self._family = family
        self._protocol = protocol
        self._only_from = only_from
        self.malformed = 0
        """IPv4 packets skipped because their header did not check out."""
        self._warned_at = 0.0
        super().__init__(*args, **kwargs)

    def _read_batch(self) -> list[Any] | None:
        batch = self._read_batch6() if self._family == socket.AF_INET6 else self._read_batch4()
        only = self._only_from
        if only is None or batch is None:
            return batch
        where = 3 if self._family == socket.AF_INET6 else 1  # the address in an item
        return [item for item in batch if item[where][0] == only]

    def _read_batch4(self) -> list[Any] | None:
        recvfrom = self._sock.recvfrom
        packet, addr = recvfrom(_BUFSIZE)
        if addr is None:  # shut down
            return None
        batch: list[Any] = []
        most = self._batch
        first = True
        while True:
            # the usual packet: a 20-byte header (0x45), total length = what arrived
            size = len(packet)
            if size >= 20 and packet[0] == 0x45 and size == (packet[2] << 8) | packet[3]:
                batch.append((packet, addr, 20))
            else:
                self._odd(packet, addr, batch)
            if len(batch) >= most:
                return batch
            if first:  # the usual case when the reader keeps up: nothing more waits
                first = False
                if not self._more.poll(0):
                    return batch
            try:
                packet, addr = recvfrom(_BUFSIZE, _DONTWAIT)
            except BlockingIOError:
                return batch
            except OSError as exc:  # an ICMP error, reported once: keep what was read
                _log.warning(
                    "%s: receive failed after %d packet(s): %s", self._where, len(batch), exc
                )
                return batch
            if addr is None:
                return batch

    def _odd(self, packet: bytes, addr: Any, batch: list[Any]) -> None:
        """A packet with IP options, or a malformed one (counted, logged, skipped)."""
        try:
            batch.append((packet, addr, ipv4_header_length(packet)))
        except DecodeError as exc:
            self.malformed += 1
            now = time.monotonic()
            level = logging.DEBUG
            if now - self._warned_at >= _WARN_EVERY:
                self._warned_at = now
                level = logging.WARNING
            _log.log(
                level,
                "%s: malformed IPv4 packet from %s skipped (%s); %d so far",
                self._where,
                addr[0] if addr else "?",
                exc,
                self.malformed,
            )

    def _read_batch6(self) -> list[Any] | None:
        recvmsg = self._sock.recvmsg
        item = recvmsg(_BUFSIZE, _ANC_SIZE)
        if item[3] is None:  # shut down
            return None
        batch = [item]
        if not self._more.poll(0):  # the usual case when the reader keeps up
            return batch
        append = batch.append
        try:
            for _ in range(self._batch - 1):
                item = recvmsg(_BUFSIZE, _ANC_SIZE, _DONTWAIT)
                if item[3] is None:
                    break
                append(item)
        except BlockingIOError:
            pass
        except OSError as exc:  # an ICMP error, reported once: keep what was read
            _log.warning("%s: receive failed after %d packet(s): %s", self._where, len(batch), exc)
        return batch

    def _readers(self, items: list[Any]) -> list[core.EnvelopeReader]:
        channel, embedded, protocol = self._channel, self._embedded, self._protocol
        if self._family == socket.AF_INET6:  # (payload, ancdata, flags, address)
            return [
                EnvelopeReader(i[0], i[3], channel, self, embedded, i, None, i[1], protocol)
                for i in items
            ]
        # (packet, address, header length)
        return [
            EnvelopeReader(i[0][i[2] :], i[1], channel, self, embedded, i, i[0], None, protocol)
            for i in items
        ]


class Consumer(DatagramConsumer[Subscriber, ConsumerOptions]):
    """A raw socket for ``ip://host?protocol=N``, bound to ``host``: the packets of
    protocol ``N`` sent to that address are the messages of its one :meth:`subscriber`.

    * Needs root or ``CAP_NET_RAW`` (else :class:`~syncapi.errors.ConfigError`).
    * The socket is bound when the consumer is made; :attr:`address` and
      :attr:`bound_url` say where it is. Option ``peer`` keeps one sender's packets only.
    * One consumer is one socket and has **one** subscriber; the channel name is only a
      label. Every raw socket of a protocol sees every packet of it that comes to its
      address: two consumers bound to the same address both get each packet.

    Options: :class:`~syncapi.ip.ConsumerOptions`. Thread-safe.
    """

    scheme = "ip"
    capabilities = CAPABILITIES
    _log = _log
    _noun = "packet payload"
    _binding_types = (ChannelBindings, OperationBindings)
    _subscriber_class = Subscriber
    _socket_kind = "raw socket"
    _other = "another address or protocol"

    def __init__(self, url: ServerURL | str, **options: Any) -> None:
        super().__init__(url)
        opts = self._options = resolve_options(ConsumerOptions, self._url.query, options)
        assert opts.protocol is not None  # checked by the options
        self._protocol = protocol = opts.protocol
        host = host_of(self._url, "consumer")
        self._where = f"ip consumer {host} protocol {protocol}"
        family, addr = resolve(
            host, 0, socket.SOCK_DGRAM, what=self._where, family=host_family(host) or 0
        )
        peer = None
        wildcard = ipaddress.ip_address(str(addr[0]).split("%", 1)[0]).is_unspecified
        if opts.peer is not None:
            peer_family, peer = resolve(
                opts.peer, 0, socket.SOCK_DGRAM, what=f"{self._where}: option 'peer'", family=family
            )
            if peer_family != family:  # pragma: no cover - getaddrinfo honours family
                raise ConfigError(f"{self._where}: option 'peer' is not of the host's family")
        sock = raw_socket(family, protocol, self._where)
        try:
            self._rcvbuf = set_receive_buffer(sock, opts.rcvbuf, where=self._where, log=_log)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVHOPLIMIT, 1)
            set_unicast_ttl(sock, family, opts.ttl)
            try:
                sock.bind(addr)
                if peer is not None and not wildcard:
                    sock.connect(peer)  # the kernel keeps this sender's packets only
            except OSError as exc:
                raise ConnectError(f"{self._where}: cannot bind {addr[0]}: {exc}") from exc
            self._host = str(sock.getsockname()[0])
            self._where = f"ip consumer {self._host} protocol {protocol}"
            self._use_socket(sock, opts, max_payload(family))
        except BaseException:
            sock.close()
            raise
        self._family = family
        self._peer = None if peer is None else str(peer[0]).split("%", 1)[0]
        # a wildcard consumer with a peer filters in its reader (see the module docstring)
        self._only_from = self._peer if wildcard else None

    @property
    def options(self) -> ConsumerOptions:
        """The options in force."""
        return self._options

    @property
    def receive_buffer(self) -> int:
        """The socket's receive buffer as the kernel reports it (``SO_RCVBUF``; Linux
        reports twice the size granted, counting its bookkeeping)."""
        return self._rcvbuf

    @property
    def protocol(self) -> int:
        """The IP protocol number received."""
        return self._protocol

    @property
    def address(self) -> str:
        """The bound address (the destination of the packets received)."""
        return self._host

    @property
    def peer(self) -> str | None:
        """The only sender whose packets are received (option ``peer``), or ``None``."""
        return self._peer

    @property
    def bound_url(self) -> str:
        """``ip://host?protocol=N`` of the bound socket, for a
        :class:`~syncapi.ip.Producer` (IPv6 in brackets)."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"ip://{host}?protocol={self._protocol}"

    @property
    def malformed(self) -> int:
        """IPv4 packets skipped so far because their header did not check out."""
        sub = self._subscriber
        return 0 if sub is None else sub.malformed

    def _subscriber_extras(self) -> dict[str, Any]:
        return {"family": self._family, "protocol": self._protocol, "only_from": self._only_from}
