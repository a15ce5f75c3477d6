"""``tcp://``: framed messages over plain TCP sockets, brokerless (no extra needed: the
standard ``socket`` module).

* :class:`Producer` — ``tcp://host:port``: each :meth:`Producer.publisher` is **one
  connection**; ``send`` writes framed messages, and :attr:`Publisher.subscriber`
  receives what the server sends back on the same connection. ``reconnect=True``
  dials again when it drops.
* :class:`Consumer` — listens on ``tcp://host:port`` (no port: a free one,
  :attr:`Consumer.bound_url`); each connection a client opens is a
  :class:`Connection` (a channel both ways). Take them with :meth:`Consumer.subscriber`
  (every connection's messages in one receive loop), :meth:`Consumer.on_connect` (a
  handler per connection) or :meth:`Consumer.accept` (wait for the next one).

Messages are cut out of the stream by explicit framing (:mod:`syncapi.tcp.framing`):
length-prefixed by default, or a delimiter, or the raw stream. Headers and content type
travel embedded with length framing (see :mod:`syncapi.tcp.wire`). ::

    from syncapi import tcp

    with tcp.Consumer("tcp://127.0.0.1") as consumer:
        echo = consumer.subscriber("echo")
        echo.start(lambda env: env.reply(env.read().upper()))
        with tcp.Producer(consumer.bound_url) as producer:
            conn = producer.publisher("echo")
            conn.send(b"hello")
            conn.subscriber.receive(lambda env: print(env.read()), max_messages=1)  # b'HELLO'
"""

from ..registry import Protocol
from .bindings import ChannelBindings, MessageBindings, OperationBindings, ServerBindings
from .client import ClientSubscriber, Producer, Publisher
from .connection import Connection, ConnectionPublisher
from .framing import FrameError
from .options import ConsumerOptions, Framing, ProducerOptions
from .server import Consumer, Handler, Subscriber
from .wire import CAPABILITIES, ConnectionClosedError, EnvelopeReader, EnvelopeWriter

__all__ = [
    "CAPABILITIES",
    "PROTOCOL",
    "ChannelBindings",
    "ClientSubscriber",
    "Connection",
    "ConnectionClosedError",
    "ConnectionPublisher",
    "Consumer",
    "ConsumerOptions",
    "EnvelopeReader",
    "EnvelopeWriter",
    "FrameError",
    "Framing",
    "Handler",
    "MessageBindings",
    "OperationBindings",
    "Producer",
    "ProducerOptions",
    "Publisher",
    "ServerBindings",
    "Subscriber",
]

PROTOCOL = Protocol(
    name="tcp",
    producer=Producer,
    consumer=Consumer,
    description="TCP: framed messages (length-prefixed, delimiter or raw) on plain sockets",
    schemes=("tcp",),
)
"""The ``tcp`` protocol as the registry knows it."""
