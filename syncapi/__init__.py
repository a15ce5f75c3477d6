"""syncapi: synchronous, thread-based messaging with an AsyncAPI model.

Send and receive over Kafka, AMQP, HTTP, WebSocket, TCP, UDP, raw IP and the in-process
``memory://`` broker through one small model:

* :func:`producer` / :func:`consumer` — a server connection, picked by the URL's scheme;
* ``producer.publisher(channel)`` / ``consumer.subscriber(channel)`` — a channel in it;
* envelopes — payload + :class:`Headers` + content type + protocol extras.

>>> import syncapi
>>> with syncapi.producer("memory://quick") as producer, syncapi.consumer("memory://quick") as consumer:
...     sub = consumer.subscriber("orders")
...     pub = producer.publisher("orders")
...     pub.send(pub.envelope(b'{"id": 1}', headers={"trace-id": "abc"}, content_type="application/json"))
...     got = []
...     sub.receive(lambda env: got.append((env.read(), env.headers["trace-id"])), max_messages=1)
...     got
1
[(b'{"id": 1}', 'abc')]

No asyncio anywhere: calls block the calling thread, and receive loops run in threads that
syncapi owns and can stop (:mod:`syncapi.runtime`). ``import syncapi`` needs no
third-party library; each protocol's client library comes with its extra
(``pip install 'syncapi[kafka]'``).
"""

from . import errors
from .core import (
    Capabilities,
    Consumer,
    EnvelopeReader,
    EnvelopeWriter,
    Producer,
    Publisher,
    Subscriber,
)
from .errors import (
    ClosedError,
    ConfigError,
    ConnectError,
    DecodeError,
    MessageTooLarge,
    MissingDependency,
    ProtocolNotFound,
    ReceiveError,
    SendError,
    SyncapiError,
    TimeoutError,
)
from .headers import Headers
from .registry import (
    Protocol,
    available_protocols,
    consumer,
    get_protocol,
    producer,
    register_protocol,
    unregister_protocol,
)
from .runtime import Outcome, Worker

__version__ = "0.1.0"

__all__ = [
    "Capabilities",
    "ClosedError",
    "ConfigError",
    "ConnectError",
    "Consumer",
    "DecodeError",
    "EnvelopeReader",
    "EnvelopeWriter",
    "Headers",
    "MessageTooLarge",
    "MissingDependency",
    "Outcome",
    "Producer",
    "Protocol",
    "ProtocolNotFound",
    "Publisher",
    "ReceiveError",
    "SendError",
    "Subscriber",
    "SyncapiError",
    "TimeoutError",
    "Worker",
    "__version__",
    "available_protocols",
    "consumer",
    "errors",
    "get_protocol",
    "producer",
    "register_protocol",
    "unregister_protocol",
]
