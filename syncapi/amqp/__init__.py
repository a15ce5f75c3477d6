"""``amqp://``: AMQP 0-9-1 (RabbitMQ) through pika (``pip install syncapi[amqp]``).

``amqp://user:password@host:5672/vhost?option=value`` names the broker (port 5672 and
``guest``/``guest`` by default; the virtual host is the path, ``%2F``-encoded where it
holds a ``/``). What a channel address means depends on its bindings (see
:mod:`syncapi.amqp.topology`): without bindings it is a queue reached through the
default exchange; with an exchange it is a routing key::

    import syncapi
    from syncapi import amqp

    orders = amqp.ChannelBindings(exchange=amqp.Exchange(name="shop", type="topic"))
    with syncapi.consumer("amqp://localhost/", group="billing") as consumer:
        sub = consumer.subscriber("orders.created", orders)  # queue billing.shop.orders.created
        with syncapi.producer("amqp://localhost/") as producer:
            pub = producer.publisher("orders.created", orders)
            pub.send(pub.envelope(b'{"id": 1}', content_type="application/json"))
        sub.receive(print, max_messages=1)

* Threading: each :class:`Producer`/:class:`Consumer` owns one connection on a private
  I/O thread; every other thread hands it work, so no pika object is ever used from two
  threads and heartbeats are answered while callbacks run for minutes.
* :class:`Publisher` — publisher confirms: ``send`` returns once the broker confirmed
  every message; unroutable messages (``mandatory``, on by default) raise
  :class:`UnroutableError`.
* :class:`Subscriber` — acks after the callback returns (at-least-once), ``prefetch``
  bounds what is in memory; reconnects and re-subscribes by itself.
* Options: :class:`ProducerOptions`, :class:`ConsumerOptions`. Bindings: AMQP binding
  0.3.0, applied (exchanges and queues are declared, operation bindings become message
  properties).
"""

try:  # fail here, where the registry turns it into a ConfigError with the pip hint
    import pika as _pika  # noqa: F401
except ImportError as exc:  # pragma: no cover - the test extra installs pika
    raise ImportError(f"syncapi.amqp needs pika ({exc}): pip install 'syncapi[amqp]'") from exc

from ..registry import Protocol
from .bindings import (
    ChannelBindings,
    Exchange,
    MessageBindings,
    OperationBindings,
    Queue,
    ServerBindings,
)
from .consumer import Consumer, EnvelopeReader, Subscriber
from .options import ConsumerOptions, ProducerOptions
from .producer import EnvelopeWriter, NackError, Producer, Publisher, UnroutableError
from .topology import TopologyMismatchError
from .wire import CAPABILITIES

__all__ = [
    "CAPABILITIES",
    "PROTOCOL",
    "ChannelBindings",
    "Consumer",
    "ConsumerOptions",
    "EnvelopeReader",
    "EnvelopeWriter",
    "Exchange",
    "MessageBindings",
    "NackError",
    "OperationBindings",
    "Producer",
    "ProducerOptions",
    "Publisher",
    "Queue",
    "ServerBindings",
    "Subscriber",
    "TopologyMismatchError",
    "UnroutableError",
]

PROTOCOL = Protocol(
    name="amqp",
    producer=Producer,
    consumer=Consumer,
    description="AMQP 0-9-1 (RabbitMQ) through pika",
    schemes=("amqp", "amqps"),  # amqps: refused with a clear error until TLS comes
)
"""The ``amqp`` protocol as the registry knows it."""
