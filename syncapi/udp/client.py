"""The sending side of ``udp://``: a :class:`Producer` names a peer, ``udp://host:port``,
and each :class:`Publisher` is one socket that sends datagrams to it.

``send`` returns when the kernel took each datagram (``sendto`` returned): UDP has no
acknowledgement, so a datagram may still be lost on the way. The publisher's
:attr:`Publisher.subscriber` (made on first use) receives what is sent back to the
publisher's socket, e.g. a consumer's ``env.reply(...)``.
"""

from __future__ import annotations

import logging
import socket
import threading
from typing import Any

from .. import core
from ..datagram import (
    Address,
    DatagramProducer,
    DatagramPublisher,
    host_family,
    resolve,
    set_multicast_sending,
    set_receive_buffer,
    wildcard,
)
from ..errors import ConnectError
from ..servers import ServerURL, resolve_options
from ..sockets import format_address
from .bindings import ChannelBindings, OperationBindings
from .options import ProducerOptions
from .server import Subscriber, _host_port
from .wire import CAPABILITIES, EnvelopeWriter, max_datagram

__all__ = ["Producer", "Publisher"]

_log = logging.getLogger("syncapi.udp")


class Publisher(DatagramPublisher[EnvelopeWriter]):
    """One UDP socket that sends datagrams to the producer's peer (or to an envelope's
    own ``remote_addr``).

    :meth:`send` is thread-safe and returns when the kernel took every datagram. An
    envelope over the datagram limit (after its headers are embedded) raises
    :class:`~syncapi.errors.MessageTooLarge` and nothing of that ``send`` is sent; a
    refused ``sendto`` raises :class:`~syncapi.errors.SendError` naming the envelopes not
    sent. :attr:`subscriber` receives the replies sent to this socket.
    """

    envelope_class = EnvelopeWriter
    _log = _log

    def __init__(
        self, producer: Producer, channel: str, bindings: Any, operation_bindings: Any
    ) -> None:
        super().__init__(producer, channel, bindings, operation_bindings)
        opts = self._options = producer.options
        family = producer.family
        self._where = (
            f"udp publisher {channel!r} to {format_address(str(self._peer[0]), self._peer[1])}"
        )
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            set_multicast_sending(
                sock,
                family,
                interface=opts.interface,
                ttl=opts.multicast_ttl,
                loop=opts.multicast_loop,
                what=self._where,
            )
            if opts.broadcast:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
            try:  # bound now: the address replies come to is known before the first send
                sock.bind((wildcard(family), 0))
            except OSError as exc:
                raise ConnectError(f"{self._where}: cannot bind a local port: {exc}") from exc
            self._use_socket(sock, opts, max_datagram(family))
        except BaseException:
            sock.close()
            raise
        name = sock.getsockname()
        self._address: tuple[str, int] = (name[0], name[1])
        self._subscriber: Subscriber | None = None
        self._sub_lock = threading.Lock()

    @property
    def peer(self) -> Address:
        """Where datagrams go (unless an envelope names its own ``remote_addr``)."""
        return self._peer

    @property
    def address(self) -> tuple[str, int]:
        """The local ``(host, port)`` this publisher sends from (a wildcard host): the
        port replies come to."""
        return self._address

    @property
    def subscriber(self) -> Subscriber:
        """The datagrams sent back to this publisher's socket (replies), made on first
        use: its reader thread starts then, and the socket's receive buffer is set to
        the ``rcvbuf`` option. Before that, replies wait in the kernel's default buffer.

        Raises:
            ClosedError: the publisher is closed.
        """
        with self._sub_lock:
            if self._subscriber is None:
                self._check_open()
                opts = self._options
                set_receive_buffer(self._gate.sock, opts.rcvbuf, where=self._where, log=_log)
                self._subscriber = self._new_reader(
                    Subscriber, self._channel, self._bindings, self._operation_bindings, opts
                )
            return self._subscriber

    def send(
        self, *envelopes: core.EnvelopeWriter | core.Payload, timeout: float | None = None
    ) -> None:
        """Send datagrams (see :meth:`syncapi.Publisher.send`); returns when the kernel
        took every one. Thread-safe."""
        if (
            timeout is None
            and len(envelopes) == 1
            and type(envelopes[0]) is bytes
            and not self._closed
            and self._sender.send_bare(envelopes[0], self._peer, self.envelope_class)
        ):
            return  # the usual case, the short way: no envelope
        super().send(*envelopes, timeout=timeout)

    def _close(self) -> None:
        with self._sub_lock:
            sub = self._subscriber
        self._close_socket(sub, 2.0)


class Producer(DatagramProducer[Publisher]):
    """``udp://host:port``: the peer every :meth:`publisher` sends to.

    The host may be a name (resolved once, here), an IPv4 or IPv6 address
    (``udp://[::1]:9000``), a multicast group or a broadcast address (option
    ``broadcast``). Options: :class:`~syncapi.udp.ProducerOptions`. Thread-safe; closing
    it closes every publisher it made.
    """

    scheme = "udp"
    capabilities = CAPABILITIES
    _binding_types = (ChannelBindings, OperationBindings)
    _publisher_class = Publisher

    def __init__(self, url: ServerURL | str, **options: Any) -> None:
        super().__init__(url)
        self._options = resolve_options(ProducerOptions, self._url.query, options)
        host, port = _host_port(self._url, "producer")
        self._family, self._peer = resolve(
            host,
            port,
            socket.SOCK_DGRAM,
            what=f"udp producer {self._url}",
            family=host_family(host) or 0,
        )

    @property
    def options(self) -> ProducerOptions:
        """The options in force."""
        return self._options

    @property
    def peer(self) -> Address:
        """The resolved peer address."""
        return self._peer

    @property
    def family(self) -> int:
        """The peer's address family (``socket.AF_INET`` or ``socket.AF_INET6``)."""
        return self._family
