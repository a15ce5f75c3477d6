"""``ws://``: WebSocket through websocket-client (client) and wsproto on a WSGI server
(server), brokerless (``pip install syncapi[ws]``).

* :class:`Producer` — ``ws://host:port/base`` (or ``wss://``): each
  :meth:`Producer.publisher` is **one connection** to ``base/<channel>``; ``send`` writes
  text (``str``) or binary (``bytes``) messages, and :attr:`Publisher.subscriber`
  receives what the server sends back on the same connection.
* :class:`Consumer` — a WSGI application: each connection a client opens on a route
  is a :class:`Connection` (a channel both ways). Take them with
  :meth:`Consumer.subscriber` (every connection's messages in one receive loop),
  :meth:`Consumer.on_connect` (a handler per connection) or :meth:`Consumer.accept`
  (wait for the next one). :meth:`Consumer.serve` runs it on a threaded werkzeug
  server; :func:`mount_in_flask` mounts it in a Flask app.

WebSocket messages carry no headers: by default they travel embedded (see
:mod:`syncapi.ws.wire`). ::

    from syncapi import ws

    consumer = ws.Consumer("ws://127.0.0.1/")
    echo = consumer.subscriber("echo")
    echo.start(lambda env: env.reply(env.text.upper()))
    server = consumer.serve()
    with ws.Producer(server.url) as producer:
        conn = producer.publisher("echo")
        conn.send("hello")
        conn.subscriber.receive(lambda env: print(env.text), max_messages=1)   # HELLO
    consumer.close()
"""

try:  # fail here, where the registry turns it into a ConfigError with the pip hint
    import websocket as _websocket  # noqa: F401
    import werkzeug as _werkzeug  # noqa: F401
    import wsproto as _wsproto  # noqa: F401
except ImportError as exc:  # pragma: no cover - the test extra installs them
    raise ImportError(
        f"syncapi.ws needs websocket-client, wsproto and werkzeug ({exc}): "
        "pip install 'syncapi[ws]'"
    ) from exc

from ..registry import Protocol
from ..wsgi import ServerHandle, mount_in_flask
from .bindings import ChannelBindings, MessageBindings, OperationBindings, ServerBindings
from .client import ClientSubscriber, Producer, Publisher
from .connection import Connection, ConnectionPublisher
from .options import ConsumerOptions, ProducerOptions
from .server import Consumer, Subscriber
from .wire import (
    CAPABILITIES,
    CloseCode,
    ConnectionClosedError,
    EnvelopeReader,
    EnvelopeWriter,
    HandshakeError,
    Opcode,
)

__all__ = [
    "CAPABILITIES",
    "PROTOCOL",
    "ChannelBindings",
    "ClientSubscriber",
    "CloseCode",
    "Connection",
    "ConnectionClosedError",
    "ConnectionPublisher",
    "Consumer",
    "ConsumerOptions",
    "EnvelopeReader",
    "EnvelopeWriter",
    "HandshakeError",
    "MessageBindings",
    "Opcode",
    "OperationBindings",
    "Producer",
    "ProducerOptions",
    "Publisher",
    "ServerBindings",
    "ServerHandle",
    "Subscriber",
    "mount_in_flask",
]

PROTOCOL = Protocol(
    name="ws",
    producer=Producer,
    consumer=Consumer,
    description="WebSocket: websocket-client connections, WSGI consumer framed by wsproto",
    schemes=("ws", "wss"),
)
"""The ``ws`` protocol as the registry knows it."""
