"""``udp://``: messages as UDP datagrams, brokerless, with no third-party library.

* :class:`Producer` — ``udp://host:port`` names the peer; each
  :meth:`Producer.publisher` is one socket, and ``send`` returns when the kernel took
  the datagram. :attr:`Publisher.subscriber` receives the replies sent back to it.
* :class:`Consumer` — ``udp://host[:port]`` binds a socket at once (no port: an
  ephemeral one, see :attr:`Consumer.address` and :attr:`Consumer.bound_url`); its one
  :meth:`Consumer.subscriber` receives every datagram, with the sender's address
  (``env.remote_addr``); ``env.reply(...)`` answers from the same socket. A multicast
  group as the host joins the group.

A datagram arrives whole or not at all (up to 65,507 bytes over IPv4, 65,527 over
IPv6), maybe out of order; headers and content type travel embedded (see
:mod:`syncapi.udp.wire`). ::

    from syncapi import udp

    with udp.Consumer("udp://127.0.0.1") as consumer:
        echo = consumer.subscriber("echo")
        echo.start(lambda env: env.reply(env.payload.upper()))
        with udp.Producer(consumer.bound_url) as producer:
            pub = producer.publisher("echo")
            pub.send(b"hello")
            pub.subscriber.receive(lambda env: print(env.payload), max_messages=1)  # b'HELLO'
"""

from ..registry import Protocol
from .bindings import ChannelBindings, MessageBindings, OperationBindings, ServerBindings
from .client import Producer, Publisher
from .options import ConsumerOptions, ProducerOptions
from .server import Consumer, Subscriber
from .wire import CAPABILITIES, MAX_DATAGRAM, MAX_DATAGRAM_IPV6, EnvelopeReader, EnvelopeWriter

__all__ = [
    "CAPABILITIES",
    "MAX_DATAGRAM",
    "MAX_DATAGRAM_IPV6",
    "PROTOCOL",
    "ChannelBindings",
    "Consumer",
    "ConsumerOptions",
    "EnvelopeReader",
    "EnvelopeWriter",
    "MessageBindings",
    "OperationBindings",
    "Producer",
    "ProducerOptions",
    "Publisher",
    "ServerBindings",
    "Subscriber",
]

PROTOCOL = Protocol(
    name="udp",
    producer=Producer,
    consumer=Consumer,
    description="UDP datagrams: a publisher sends to host:port, a consumer binds and receives",
    schemes=("udp",),
)
"""The ``udp`` protocol as the registry knows it."""
