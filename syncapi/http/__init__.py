"""``http://``: HTTP through requests (client) and WSGI (server), brokerless
(``pip install syncapi[http]``).

* :class:`Producer` — ``http://host:port/base`` (or ``https://``): one
  ``requests.Session``; a :class:`Publisher` is a route under the base URL and ``send``
  makes one request per envelope, raising :class:`HTTPStatusError` on a non-2xx answer;
  :meth:`Publisher.request` returns the :class:`Response` (request/reply).
* :class:`Consumer` — a WSGI application: each :meth:`Consumer.subscriber` is a route
  (``"orders/{id}"``), and requests on it are handed to its receive loop; the callback
  may answer with :meth:`EnvelopeReader.respond`. :meth:`Consumer.serve` runs it on a
  threaded werkzeug server; it mounts in Flask and Django too.

::

    import syncapi
    from syncapi import http

    consumer = http.Consumer("http://127.0.0.1/")
    orders = consumer.subscriber("orders/{id}")
    worker = orders.start(lambda env: env.respond(201, b"created " + env.params["id"].encode()))
    server = consumer.serve()
    with syncapi.producer(server.url) as producer:
        print(producer.publisher("orders/7").request(b"{}").text)   # created 7
    consumer.close()
"""

try:  # fail here, where the registry turns it into a ConfigError with the pip hint
    import requests as _requests  # noqa: F401
    import werkzeug as _werkzeug  # noqa: F401
except ImportError as exc:  # pragma: no cover - the test extra installs both
    raise ImportError(
        f"syncapi.http needs requests and werkzeug ({exc}): pip install 'syncapi[http]'"
    ) from exc

from ..registry import Protocol
from .bindings import ChannelBindings, MessageBindings, OperationBindings, ServerBindings
from .consumer import Consumer, EnvelopeReader, Subscriber
from .mount import django_view, mount_in_flask
from .options import ConsumerOptions, ProducerOptions
from .producer import EnvelopeWriter, HTTPStatusError, Producer, Publisher, Response
from .server import ServerHandle
from .wire import CAPABILITIES, HEADERS_HEADER

__all__ = [
    "CAPABILITIES",
    "HEADERS_HEADER",
    "PROTOCOL",
    "ChannelBindings",
    "Consumer",
    "ConsumerOptions",
    "EnvelopeReader",
    "EnvelopeWriter",
    "HTTPStatusError",
    "MessageBindings",
    "OperationBindings",
    "Producer",
    "ProducerOptions",
    "Publisher",
    "Response",
    "ServerBindings",
    "ServerHandle",
    "Subscriber",
    "django_view",
    "mount_in_flask",
]

PROTOCOL = Protocol(
    name="http",
    producer=Producer,
    consumer=Consumer,
    description="HTTP: requests client, WSGI-application consumer",
    schemes=("http", "https"),
)
"""The ``http`` protocol as the registry knows it."""
