"""AMQP 0-9-1 bindings, AsyncAPI AMQP binding 0.3.0 (``bindingVersion`` 0.3.0 and 0.2.0).

Each class reads the ``amqp`` entry of an AsyncAPI bindings object with ``from_dict``
(camelCase keys, ``x-`` extensions, unknown keys refused) and can be built directly with
Python names. What syncapi does with each field:

+-------------------+-----------------------------+-------------------------------------------+
| binding           | field                       | what syncapi does with it                 |
+===================+=============================+===========================================+
| ServerBindings    | (none)                      | only ``bindingVersion`` and ``x-`` keys   |
+-------------------+-----------------------------+-------------------------------------------+
| ChannelBindings   | ``is``                      | ``routingKey`` (the default): the channel |
|                   |                             | address is a routing key, publishers      |
|                   |                             | publish it to the exchange; ``queue``:    |
|                   |                             | the channel is a queue that subscribers   |
|                   |                             | consume from (see :attr:`ChannelBindings  |
|                   |                             | .kind`)                                   |
+-------------------+-----------------------------+-------------------------------------------+
| ChannelBindings   | ``exchange.name``,          | the exchange to publish to, declared with |
|                   | ``exchange.type``,          | :attr:`Exchange.exchange_type`,           |
|                   | ``exchange.durable``,       | ``durable`` and ``auto_delete``; no       |
|                   | ``exchange.autoDelete``     | exchange, no name or type ``default`` is  |
|                   |                             | the AMQP default exchange, never declared |
|                   |                             | (:attr:`Exchange.is_default`)             |
+-------------------+-----------------------------+-------------------------------------------+
| ChannelBindings   | ``queue.name``,             | the queue declared with ``durable``,      |
|                   | ``queue.durable``,          | ``exclusive`` and ``auto_delete``         |
|                   | ``queue.exclusive``,        |                                           |
|                   | ``queue.autoDelete``        |                                           |
+-------------------+-----------------------------+-------------------------------------------+
| ChannelBindings   | ``exchange.vhost``,         | checked: it must be the connection's      |
|                   | ``queue.vhost``             | virtual host (the server URL's path); a   |
|                   |                             | channel cannot change virtual host        |
+-------------------+-----------------------------+-------------------------------------------+
| OperationBindings | ``expiration``,             | the message properties ``expiration``     |
|                   | ``userId``, ``priority``,   | (milliseconds), ``user_id``,              |
|                   | ``deliveryMode``            | ``priority`` and ``delivery_mode``        |
|                   |                             | (1 transient, 2 persistent) of each       |
|                   |                             | published message                         |
+-------------------+-----------------------------+-------------------------------------------+
| OperationBindings | ``cc``, ``bcc``             | the ``CC`` and ``BCC`` headers: extra     |
|                   |                             | routing keys (RabbitMQ sender-selected    |
|                   |                             | distribution; ``BCC`` is removed before   |
|                   |                             | delivery)                                 |
+-------------------+-----------------------------+-------------------------------------------+
| OperationBindings | ``mandatory``               | publish with the ``mandatory`` flag: an   |
|                   |                             | unroutable message is returned, not       |
|                   |                             | dropped                                   |
+-------------------+-----------------------------+-------------------------------------------+
| OperationBindings | ``timestamp``               | set the ``timestamp`` property to the     |
|                   |                             | publish time                              |
+-------------------+-----------------------------+-------------------------------------------+
| OperationBindings | ``ack``                     | for a subscriber: ``false`` consumes with |
|                   |                             | automatic acknowledgement, ``true`` (or   |
|                   |                             | unset) acks each message after handling   |
+-------------------+-----------------------------+-------------------------------------------+
| MessageBindings   | ``contentEncoding``,        | the message properties                    |
|                   | ``messageType``             | ``content_encoding`` and ``type``         |
+-------------------+-----------------------------+-------------------------------------------+

Differences from the JSON Schema of the binding:

* A channel binding with neither ``exchange`` nor ``queue`` (``{}`` or
  ``{"is": "routingKey"}``) is accepted and means the default exchange; the JSON Schema's
  ``oneOf`` refuses it. Likewise ``{"is": "queue"}`` without a ``queue`` object means a
  queue named by the channel address, with the broker's defaults.
* Exchange and queue names are limited to 255 *bytes* of UTF-8 (the AMQP ``shortstr``
  limit), which is stricter than the schema's 255 characters for non-ASCII names.
* A named exchange type other than ``direct`` or ``default`` needs a ``name``: an unnamed
  exchange is the default exchange, which is a direct exchange.

Versions: 0.3.0 (the latest, assumed when ``bindingVersion`` is missing) and 0.2.0, which
has the same fields except the operation's ``replyTo``. ``replyTo`` is refused under both:
AsyncAPI 3 and binding 0.3.0 replaced it with the operation's ``reply`` object.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ..bindings import Bindings, Placeholder, SpecObject, asyncapi

__all__ = [
    "ChannelBindings",
    "Exchange",
    "MessageBindings",
    "OperationBindings",
    "Queue",
    "ServerBindings",
]

_PROTOCOL = "amqp"
_VERSIONS = ("0.3.0", "0.2.0")
# AMQP 0-9-1 sends exchange and queue names as a shortstr: at most 255 bytes.
_NAME_MAX_BYTES = 255
# Exchange types that the unnamed (default) exchange can have.
_DEFAULT_TYPES = (None, "direct", "default")


@dataclass(frozen=True, kw_only=True)
class ServerBindings(Placeholder):
    """AMQP server bindings: the binding defines no fields.

    The document form may hold only ``bindingVersion`` and ``x-`` extensions.
    """

    protocol = _PROTOCOL
    versions = _VERSIONS


def _check_name(obj: SpecObject, name: str | None) -> None:
    """Refuse a ``name`` longer than an AMQP ``shortstr`` (255 bytes of UTF-8)."""
    if name is None:
        return
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise obj._error(f"'name' must be valid UTF-8 text, got {name!r}") from exc
    if size > _NAME_MAX_BYTES:
        raise obj._error(
            f"'name' must be at most {_NAME_MAX_BYTES} bytes long in UTF-8, got {size} bytes"
        )


@dataclass(frozen=True, kw_only=True)
class Exchange(SpecObject):
    """The ``exchange`` object of the AMQP channel binding: the exchange to publish to.

    An exchange without a name, or of type ``"default"`` whatever its name, is the AMQP
    default exchange (:attr:`is_default`): it always exists and is never declared. Any
    other exchange is declared with :attr:`exchange_type`, :attr:`durable` and
    :attr:`auto_delete`.

    Attributes:
        name: ``name``, the exchange name, at most 255 bytes of UTF-8.
        type: ``type``, one of ``"topic"``, ``"direct"``, ``"fanout"``, ``"default"`` and
            ``"headers"``; ``None`` means ``"direct"``. A type other than ``"direct"`` and
            ``"default"`` needs a :attr:`name`.
        durable: ``durable``, whether the exchange survives a broker restart.
        auto_delete: ``autoDelete``, whether the exchange is deleted when its last queue
            is unbound.
        vhost: ``vhost``, the virtual host of the exchange. The binding's default is
            ``"/"``; syncapi checks a given value against the connection's virtual host
            (the server URL's path) and leaves ``None`` unchecked.
    """

    name: str | None = None
    type: Literal["topic", "direct", "fanout", "default", "headers"] | None = None
    durable: bool | None = None
    auto_delete: bool | None = None
    vhost: str | None = None

    @classmethod
    def _label(cls) -> str:
        """``"amqp Exchange"``."""
        return f"{_PROTOCOL} {cls.__name__}"

    def _validate(self) -> None:
        """The name must fit a shortstr; a topic, fanout or headers exchange needs one."""
        _check_name(self, self.name)
        if not self.name and self.type not in _DEFAULT_TYPES:
            raise self._error(
                f"an exchange of type {self.type!r} needs a 'name'; an unnamed exchange is "
                "the AMQP default exchange, which is a direct exchange"
            )

    @property
    def is_default(self) -> bool:
        """Whether this is the AMQP default exchange (type ``"default"``, or no name).

        The default exchange always exists and is never declared; publishing to it routes
        a message to the queue named by its routing key.
        """
        return self.type == "default" or not self.name

    @property
    def exchange_type(self) -> str:
        """The exchange type to declare: :attr:`type`, with ``"direct"`` for ``None``.

        ``"default"`` also gives ``"direct"``: the default exchange is a direct exchange
        (and is never declared, see :attr:`is_default`).
        """
        if self.type is None or self.type == "default":
            return "direct"
        return self.type


@dataclass(frozen=True, kw_only=True)
class Queue(SpecObject):
    """The ``queue`` object of the AMQP channel binding: the queue to declare.

    Attributes:
        name: ``name``, the queue name, at most 255 bytes of UTF-8; ``None`` means the
            channel address.
        durable: ``durable``, whether the queue survives a broker restart.
        exclusive: ``exclusive``, whether only the declaring connection may use the queue
            (it is deleted when that connection closes).
        auto_delete: ``autoDelete``, whether the queue is deleted when its last consumer
            unsubscribes.
        vhost: ``vhost``, the virtual host of the queue; as for :attr:`Exchange.vhost`.
    """

    name: str | None = None
    durable: bool | None = None
    exclusive: bool | None = None
    auto_delete: bool | None = None
    vhost: str | None = None

    @classmethod
    def _label(cls) -> str:
        """``"amqp Queue"``."""
        return f"{_PROTOCOL} {cls.__name__}"

    def _validate(self) -> None:
        """The name must fit an AMQP shortstr."""
        _check_name(self, self.name)


@dataclass(frozen=True, kw_only=True)
class ChannelBindings(Bindings):
    """AMQP channel bindings: whether the channel is a routing key or a queue.

    The binding has two shapes, as in the JSON Schema's ``oneOf``: an :attr:`exchange`
    with ``is`` ``"routingKey"`` (or missing), or a :attr:`queue` with ``is`` ``"queue"``
    (or missing). Giving both, ``is_="queue"`` with an exchange, or ``is_="routingKey"``
    with a queue is refused. Unlike the JSON Schema, neither object is required:
    ``ChannelBindings()`` and ``ChannelBindings(is_="routingKey")`` mean the default
    exchange, and ``ChannelBindings(is_="queue")`` a queue named by the channel address.

    The document key ``is`` is a Python keyword, so the field is :attr:`is_`;
    ``from_dict`` and ``to_dict`` use ``is``.

    Attributes:
        is_: ``is``, ``"routingKey"`` (the channel address is a routing key) or
            ``"queue"`` (the channel is a queue); ``None`` lets :attr:`kind` decide.
        exchange: ``exchange``, the exchange to publish to. On direct construction a
            mapping in document form (``{"name": "x", "autoDelete": True}``) is also
            accepted at run time and turned into an :class:`Exchange`.
        queue: ``queue``, the queue; a mapping in document form is also accepted, as for
            :attr:`exchange`.
    """

    protocol = _PROTOCOL
    versions = _VERSIONS

    is_: Literal["routingKey", "queue"] | None = None
    exchange: Exchange | None = None
    queue: Queue | None = None

    def __post_init__(self) -> None:
        """Turn mappings given as ``exchange`` or ``queue`` into Exchange and Queue."""
        exchange: object = self.exchange
        if isinstance(exchange, Mapping):
            object.__setattr__(self, "exchange", Exchange.from_dict(exchange))
        queue: object = self.queue
        if isinstance(queue, Mapping):
            object.__setattr__(self, "queue", Queue.from_dict(queue))
        super().__post_init__()

    def _validate(self) -> None:
        """At most one of exchange and queue, and the one that matches ``is``."""
        if self.exchange is not None and self.queue is not None:
            raise self._error(
                "give either 'exchange' (is: routingKey) or 'queue' (is: queue), not both"
            )
        if self.is_ == "queue" and self.exchange is not None:
            raise self._error(
                "'exchange' is only allowed when 'is' is 'routingKey', not 'queue'; "
                "describe the queue with 'queue'"
            )
        if self.is_ == "routingKey" and self.queue is not None:
            raise self._error(
                "'queue' is only allowed when 'is' is 'queue', not 'routingKey'; "
                "describe the exchange with 'exchange'"
            )

    @property
    def kind(self) -> Literal["routingKey", "queue"]:
        """What the channel is: :attr:`is_`, else ``"queue"`` when a queue is given, else
        ``"routingKey"`` (the binding's default)."""
        if self.is_ is not None:
            return self.is_
        return "queue" if self.queue is not None else "routingKey"


@dataclass(frozen=True, kw_only=True)
class OperationBindings(Bindings):
    """AMQP operation bindings: message properties, publish flags and acknowledgement.

    Attributes:
        expiration: ``expiration``, the message time-to-live in milliseconds (>= 0).
        user_id: ``userId``, the ``user_id`` property (RabbitMQ checks that it is the
            connection's user).
        cc: ``cc``, extra routing keys the message is also routed to (the ``CC`` header).
            A list is accepted and stored as a tuple.
        bcc: ``bcc``, like :attr:`cc` but removed before delivery (the ``BCC`` header).
        priority: ``priority``, the message priority, 0 to 255.
        delivery_mode: ``deliveryMode``, 1 (transient) or 2 (persistent).
        mandatory: ``mandatory``, whether an unroutable message is returned to the
            publisher rather than dropped.
        timestamp: ``timestamp``, whether the ``timestamp`` property is set at publish.
        ack: ``ack``, whether the consumer acknowledges each message (``False`` means
            automatic acknowledgement).
    """

    protocol = _PROTOCOL
    versions = _VERSIONS

    expiration: int | None = field(default=None, metadata=asyncapi(minimum=0))
    user_id: str | None = None
    cc: tuple[str, ...] | None = None
    bcc: tuple[str, ...] | None = None
    priority: int | None = field(default=None, metadata=asyncapi(minimum=0, maximum=255))
    delivery_mode: int | None = field(default=None, metadata=asyncapi(choices=(1, 2)))
    mandatory: bool | None = None
    timestamp: bool | None = None
    ack: bool | None = None

    @classmethod
    def _prepare(cls, data: Mapping[str, Any]) -> Mapping[str, Any]:
        """Refuse the 0.2.0 ``replyTo`` key with an explanation."""
        if "replyTo" in data:
            raise cls._error(
                "'replyTo' (binding 0.2.0) is not supported: binding 0.3.0 dropped it in "
                "favour of the operation's 'reply' object; declare the reply there"
            )
        return data


@dataclass(frozen=True, kw_only=True)
class MessageBindings(Bindings):
    """AMQP message bindings: the content encoding and type properties.

    Attributes:
        content_encoding: ``contentEncoding``, the MIME content encoding (e.g. ``"gzip"``),
            sent as the ``content_encoding`` property.
        message_type: ``messageType``, the application-specific message type, sent as the
            ``type`` property.
    """

    protocol = _PROTOCOL
    versions = _VERSIONS

    content_encoding: str | None = None
    message_type: str | None = None
