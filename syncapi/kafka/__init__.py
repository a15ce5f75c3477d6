"""``kafka://``: Apache Kafka through kafka-python (``pip install syncapi[kafka]``).

``kafka://host1:9092,host2:9092?option=value`` names the bootstrap brokers (port 9092 by
default). A channel is a topic (``ChannelBindings.topic`` when it differs from the
address)::

    import syncapi
    from syncapi import kafka

    with syncapi.producer("kafka://127.0.0.1:9092") as producer:
        pub = producer.publisher("orders", bindings=kafka.ChannelBindings(partitions=3))
        pub.send(pub.envelope(b'{"id": 1}', key="order-1", content_type="application/json"))

    with syncapi.consumer("kafka://127.0.0.1:9092", group_id="billing") as consumer:
        consumer.subscriber("orders").receive(print, max_messages=1)

* :class:`Producer` — one thread-safe ``KafkaProducer``; ``send`` returns once the
  broker acknowledged every record (``acks="all"`` by default) or raises
  :class:`~syncapi.errors.SendError` naming the failed envelopes.
* :class:`Consumer` — each :class:`Subscriber` is one member of the consumer group;
  offsets are committed only after the callback returned (at-least-once), per-partition
  order is kept with ``workers > 1``, and long callbacks do not get the member evicted.
* Options: :class:`ProducerOptions`, :class:`ConsumerOptions`. Bindings: Kafka binding
  0.5.0 (:class:`ChannelBindings` creates topics; :class:`OperationBindings` sets the
  group and client ids).
"""

try:  # fail here, where the registry turns it into a ConfigError with the pip hint
    import kafka as _kafka_python  # noqa: F401
except ImportError as exc:  # pragma: no cover - the test extra installs kafka-python
    raise ImportError(
        f"syncapi.kafka needs kafka-python ({exc}): pip install 'syncapi[kafka]'"
    ) from exc

from ..registry import Protocol
from .bindings import (
    ChannelBindings,
    MessageBindings,
    OperationBindings,
    ServerBindings,
    TopicConfiguration,
)
from .consumer import Consumer, EnvelopeReader, Subscriber
from .options import ConsumerOptions, ProducerOptions
from .producer import EnvelopeWriter, Producer, Publisher
from .topics import TopicMismatchError, check_topic_name
from .wire import CAPABILITIES, CONTENT_TYPE_HEADER

__all__ = [
    "CAPABILITIES",
    "CONTENT_TYPE_HEADER",
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
    "TopicConfiguration",
    "TopicMismatchError",
    "check_topic_name",
]

PROTOCOL = Protocol(
    name="kafka",
    producer=Producer,
    consumer=Consumer,
    description="Apache Kafka through kafka-python",
)
"""The ``kafka`` protocol as the registry knows it."""
