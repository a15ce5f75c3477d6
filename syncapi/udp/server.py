"""The receiving side of ``udp://``: a :class:`Consumer` is one socket, bound when the
consumer is made, and its one :class:`Subscriber` reads it.

Threads: one reader per subscriber (``syncapi-udp-read-<channel>``) blocks in
``recvfrom``, then takes what else is queued without blocking and hands the batch to the
receive loop at once. ``close()`` shuts the socket down, which wakes the reader at once,
joins it and closes the socket.
"""

from __future__ import annotations

import logging
import socket
from typing import Any

from .. import core
from ..datagram import (
    DatagramConsumer,
    DatagramSubscriber,
    host_family,
    interface_spec,
    is_multicast,
    join_group,
    resolve,
    set_receive_buffer,
)
from ..errors import ConfigError, ConnectError
from ..servers import ServerURL, resolve_options
from ..sockets import format_address
from .bindings import ChannelBindings, OperationBindings
from .options import ConsumerOptions
from .wire import CAPABILITIES, EnvelopeReader, max_datagram

__all__ = ["Consumer", "Subscriber"]

_log = logging.getLogger("syncapi.udp")
_BUFSIZE = 65_536  # more than any UDP datagram: none is ever cut
_DONTWAIT = socket.MSG_DONTWAIT


class Subscriber(DatagramSubscriber):
    """The datagrams that come to one UDP socket: a :class:`Consumer`'s bound socket, or
    a :class:`~syncapi.udp.Publisher`'s own (the replies to what it sent).

    Each message is an :class:`~syncapi.udp.EnvelopeReader` with the sender's
    ``remote_addr``; ``env.reply(...)`` answers from this socket. Callbacks may run on
    several threads (``start(workers=N)``). A callback that raises is logged and the
    datagram dropped (``on_error="reject"``): UDP has no redelivery.

    Thread-safety: ``close()`` from any thread (or a signal handler, ``timeout=0``)
    stops the loops and the reader within a bounded time.
    """

    def _read_batch(self) -> list[Any] | None:
        recvfrom = self._sock.recvfrom
        item = recvfrom(_BUFSIZE)
        if item[1] is None:  # shut down (an empty datagram has an address)
            return None
        batch = [item]
        if not self._more.poll(0):  # the usual case when the reader keeps up
            return batch
        append = batch.append
        try:
            for _ in range(self._batch - 1):
                item = recvfrom(_BUFSIZE, _DONTWAIT)
                if item[1] is None:
                    break
                append(item)
        except BlockingIOError:
            pass
        except OSError as exc:  # reported once by the kernel: keep what was read
            _log.warning(
                "%s: receive failed after %d datagram(s): %s", self._where, len(batch), exc
            )
        return batch

    def _readers(self, items: list[Any]) -> list[core.EnvelopeReader]:
        channel = self._channel
        embedded = self._embedded
        return [EnvelopeReader(item[0], item[1], channel, self, embedded, item) for item in items]


class Consumer(DatagramConsumer[Subscriber, ConsumerOptions]):
    """A bound ``udp://host[:port]`` socket: datagrams sent to it are the messages of its
    one :meth:`subscriber`.

    * The socket is bound when the consumer is made, so a producer may send at once; a
      URL without a port binds an ephemeral one. :attr:`address` and :attr:`bound_url`
      say where it is.
    * A multicast group address as the host (``udp://239.1.2.3:5000``) binds the group's
      port and joins the group (option ``interface``).
    * One consumer is one socket and has **one** subscriber; the channel name is only a
      label (UDP has no channels). Make a consumer per port to receive on several.

    Options: :class:`~syncapi.udp.ConsumerOptions`. Thread-safe.
    """

    scheme = "udp"
    capabilities = CAPABILITIES
    _log = _log
    _binding_types = (ChannelBindings, OperationBindings)
    _subscriber_class = Subscriber
    _socket_kind = "bound socket"
    _other = "another port"

    def __init__(self, url: ServerURL | str, **options: Any) -> None:
        super().__init__(url)
        opts = self._options = resolve_options(ConsumerOptions, self._url.query, options)
        host, port = _host_port(self._url, "consumer")
        self._where = f"udp consumer {format_address(host, port)}"
        family, addr = resolve(
            host, port, socket.SOCK_DGRAM, what=self._where, family=host_family(host) or 0
        )
        group = is_multicast(str(addr[0]))
        if opts.interface is not None and not group:
            raise ConfigError(
                f"{self._where}: option 'interface' is for multicast consumers (a group "
                "address as the URL's host); a unicast consumer receives on the interface "
                "of its address"
            )
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            if opts.reuse_address or group:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._rcvbuf = set_receive_buffer(sock, opts.rcvbuf, where=self._where, log=_log)
            if group and family == socket.AF_INET6 and len(addr) == 4 and not addr[3]:
                # a link-local group (ff02::...) is bound with its interface as the scope
                index = interface_spec(opts.interface, family, what=self._where)[1]
                addr = (addr[0], addr[1], addr[2], index)
            try:
                sock.bind(addr)
            except OSError as exc:
                raise ConnectError(
                    f"{self._where}: cannot bind {format_address(str(addr[0]), addr[1])}: {exc}"
                ) from exc
            if group:
                join_group(sock, family, str(addr[0]), opts.interface, what=self._where)
            name = sock.getsockname()
            self._address: tuple[str, int] = (name[0], name[1])
            self._where = f"udp consumer {format_address(name[0], name[1])}"
            self._use_socket(sock, opts, max_datagram(family))
        except BaseException:
            sock.close()
            raise
        self._group = group

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
    def address(self) -> tuple[str, int]:
        """The bound ``(host, port)`` (the port the system chose, for a URL without one)."""
        return self._address

    @property
    def bound_url(self) -> str:
        """``udp://host:port`` of the bound socket, for a :class:`~syncapi.udp.Producer`
        (IPv6 in brackets). A wildcard host (``0.0.0.0``, ``::``) reaches this host."""
        return f"udp://{format_address(*self._address)}"

    @property
    def multicast(self) -> bool:
        """Whether the consumer is a member of a multicast group (its URL's host)."""
        return self._group


def _host_port(url: ServerURL, side: str) -> tuple[str, int]:
    """The one host of a ``udp://`` URL and its port (0: none given, for a consumer)."""
    if len(url.hosts) != 1 or not url.host:
        raise ConfigError(
            f"a udp {side} URL names exactly one host, e.g. 'udp://127.0.0.1:9000', got {url}"
        )
    if url.username is not None or url.password is not None:
        raise ConfigError(f"udp URL {url}: UDP has no credentials; remove the user info")
    if url.path not in ("", "/"):
        raise ConfigError(
            f"udp URL {url}: UDP has no paths; the channel name is a label given to "
            "publisher()/subscriber()"
        )
    if url.port is None and side == "producer":
        raise ConfigError(f"udp producer URL {url} needs the peer's port: 'udp://host:port'")
    return url.host, url.port or 0
