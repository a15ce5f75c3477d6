"""``memory://``: the in-process broker — the embedded default and the users' test double.

``memory://NAME`` names a broker shared by every producer and consumer of the process
that use the same ``NAME``. It needs no server and no third-party library, keeps headers
and content types exactly, and behaves like a small broker: fan-out to every subscriber,
shared queues for consumer groups (``?group=G``), bounded queues with back-pressure,
acknowledgements, redelivery on nack and an optional dead-letter channel.

>>> import syncapi
>>> with syncapi.producer("memory://doc") as p, syncapi.consumer("memory://doc") as c:
...     sub = c.subscriber("greetings")
...     p.publisher("greetings").send(b"hello")
...     [env.read() for env in sub.fetch(timeout=1)]
[b'hello']
"""

from ..registry import Protocol
from .bindings import ChannelBindings, MessageBindings, OperationBindings, ServerBindings
from .broker import Broker, get_broker, reset
from .client import (
    CAPABILITIES,
    Consumer,
    EnvelopeReader,
    EnvelopeWriter,
    MemoryOptions,
    Producer,
    Publisher,
    Subscriber,
)

__all__ = [
    "CAPABILITIES",
    "PROTOCOL",
    "Broker",
    "ChannelBindings",
    "Consumer",
    "EnvelopeReader",
    "EnvelopeWriter",
    "MemoryOptions",
    "MessageBindings",
    "OperationBindings",
    "Producer",
    "Publisher",
    "ServerBindings",
    "Subscriber",
    "get_broker",
    "reset",
]

PROTOCOL = Protocol(
    name="memory",
    producer=Producer,
    consumer=Consumer,
    description="in-process broker: the embedded default and test double (no server needed)",
)
"""The ``memory`` protocol as the registry knows it."""
