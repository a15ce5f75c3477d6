"""``ip://``: messages as the payload of raw IP packets of one protocol number, IPv4 and
IPv6, brokerless, with no third-party library (needs root or ``CAP_NET_RAW``).

* URL: ``ip://host?protocol=N`` — the IP protocol number is required (1-254; 253 and
  254 are reserved for experiments and testing, RFC 3692), in the query or as the
  keyword ``protocol=N``. Raw IP has no ports.
* :class:`Producer` — ``host`` is the destination; each :meth:`Producer.publisher` is
  one raw socket (with a drop-all socket filter: it never piles up copies of packets).
* :class:`Consumer` — a raw socket bound to ``host`` at once; its one
  :meth:`Consumer.subscriber` receives the packets of protocol ``N`` sent to that
  address (option ``peer``: from that sender only), with the IP header's fields on each
  envelope (``source``, ``destination``, ``ttl``, ``protocol``, ``remote_addr``);
  ``env.reply(...)`` answers from the same socket.

A payload arrives whole or not at all (up to 65,515 bytes over IPv4, 65,535 over IPv6);
headers and content type travel embedded (see :mod:`syncapi.ip.wire`). ::

    from syncapi import ip

    with ip.Consumer("ip://127.0.0.2?protocol=253") as consumer:
        with ip.Producer(consumer.bound_url) as producer:
            producer.publisher("probe").send(b"hello")
        for env in consumer.subscriber("probe").fetch(timeout=5):
            print(env.payload, env.source, env.destination, env.protocol)
            # b'hello' 127.0.0.1 127.0.0.2 253
"""

from ..registry import Protocol
from .bindings import ChannelBindings, MessageBindings, OperationBindings, ServerBindings
from .client import Producer, Publisher
from .options import ConsumerOptions, ProducerOptions
from .server import Consumer, Subscriber
from .wire import CAPABILITIES, MAX_PAYLOAD, MAX_PAYLOAD_IPV6, EnvelopeReader, EnvelopeWriter

__all__ = [
    "CAPABILITIES",
    "MAX_PAYLOAD",
    "MAX_PAYLOAD_IPV6",
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
    name="ip",
    producer=Producer,
    consumer=Consumer,
    description="raw IP packets of one protocol number (ip://host?protocol=N; root/CAP_NET_RAW)",
    schemes=("ip",),
)
"""The ``ip`` protocol as the registry knows it."""
