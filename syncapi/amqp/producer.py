"""The sending side of ``amqp://``: Producer, Publisher and EnvelopeWriter.

Threading: one :class:`~syncapi.amqp.link.Link` (a pika ``SelectConnection`` on its own
I/O thread) per :class:`Producer`, one AMQP channel in confirm mode per
:class:`Publisher`. ``send`` runs on the caller's thread only as far as preparing the
messages; it hands them to the I/O thread and waits for the broker's confirms, so any
number of threads can send through one publisher and their messages share the
round trips.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from functools import partial
from typing import Any

import pika
from pika import spec

from .. import core
from ..bindings import coerce_channel_bindings
from ..errors import (
    ClosedError,
    ConfigError,
    MessageTooLarge,
    SendError,
    SyncapiError,
    TimeoutError,
)
from ..headers import HeadersLike
from ..servers import ServerURL, resolve_options
from .bindings import ChannelBindings, MessageBindings, OperationBindings
from .channel import ChannelMember
from .link import Connected, Link
from .options import ProducerOptions
from .params import connection_parameters
from .topology import Route, declare, publisher_route
from .wire import CAPABILITIES

__all__ = ["EnvelopeWriter", "NackError", "Producer", "Publisher", "UnroutableError"]

_log = logging.getLogger("syncapi.amqp")


class UnroutableError(SendError):
    """The broker routed a mandatory message to no queue and returned it
    (``basic.return``, usually ``312 NO_ROUTE``): nobody would ever have received it."""


class NackError(SendError):
    """The broker refused messages with a ``basic.nack`` (an internal error, or a queue
    full with ``overflow=reject-publish``)."""


def _check_int(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{name} must be an integer from {low} to {high}, got {value!r}")
    return value


def _check_text(name: str, value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{name} must be a str or None, got {type(value).__name__}")
    if len(value.encode("utf-8")) > 255:
        raise ConfigError(f"{name} must be at most 255 bytes (an AMQP short string)")
    return value


class EnvelopeWriter(core.EnvelopeWriter):
    """An outgoing AMQP message: payload, headers, content type, and the AMQP extras.

    Extras (each ``None`` by default, meaning "the publisher's default"):
    :meth:`set_routing_key`, :meth:`set_message_id`, :meth:`set_correlation_id`,
    :meth:`set_reply_to`, :meth:`set_priority`, :meth:`set_expiration`,
    :meth:`set_persistent`, :meth:`set_timestamp`, :meth:`set_message_type` and
    :meth:`set_content_encoding`. ``MessageBindings`` given with ``bindings=`` set the
    message type and content encoding too (an explicit setter wins).
    """

    __slots__ = ("_props",)

    message_bindings = MessageBindings

    def __init__(
        self,
        payload: core.Payload = b"",
        *,
        headers: HeadersLike | None = None,
        content_type: str | None = None,
        bindings: Any = None,
        routing_key: str | None = None,
        message_id: str | None = None,
        correlation_id: str | None = None,
        reply_to: str | None = None,
    ) -> None:
        super().__init__(payload, headers=headers, content_type=content_type, bindings=bindings)
        self._props: dict[str, Any] | None = None
        if routing_key is not None:
            self.set_routing_key(routing_key)
        if message_id is not None:
            self.set_message_id(message_id)
        if correlation_id is not None:
            self.set_correlation_id(correlation_id)
        if reply_to is not None:
            self.set_reply_to(reply_to)

    def _set(self, name: str, value: Any) -> None:
        if self._props is None:
            if value is None:
                return
            self._props = {}
        if value is None:
            self._props.pop(name, None)
        else:
            self._props[name] = value

    def _get(self, name: str) -> Any:
        return None if self._props is None else self._props.get(name)

    def set_routing_key(self, routing_key: str | None) -> None:
        """Publish with this routing key instead of the channel address (``None``: the
        address). Only meaningful on an exchange channel; on a queue it would miss it."""
        self._set("routing_key", _check_text("routing key", routing_key))

    def set_message_id(self, message_id: str | None) -> None:
        """Set the ``message_id`` property."""
        self._set("message_id", _check_text("message id", message_id))

    def set_correlation_id(self, correlation_id: str | None) -> None:
        """Set the ``correlation_id`` property (request/reply)."""
        self._set("correlation_id", _check_text("correlation id", correlation_id))

    def set_reply_to(self, reply_to: str | None) -> None:
        """Set the ``reply_to`` property: where the receiver should answer."""
        self._set("reply_to", _check_text("reply_to", reply_to))

    def set_priority(self, priority: int | None) -> None:
        """Set the priority, 0 to 255 (it matters on queues with ``x-max-priority``)."""
        self._set(
            "priority", None if priority is None else _check_int("priority", priority, 0, 255)
        )

    def set_expiration(self, seconds: float | None) -> None:
        """Drop the message if it waited in a queue longer than ``seconds`` (a per-message
        TTL, sent in milliseconds)."""
        if seconds is None:
            self._set("expiration", None)
            return
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
            raise ConfigError(f"expiration must be a number of seconds >= 0, got {seconds!r}")
        self._set("expiration", str(round(seconds * 1000)))

    def set_persistent(self, persistent: bool | None) -> None:
        """Persistent (``delivery_mode`` 2: a durable queue keeps it over a broker restart)
        or transient (1). ``None``: the publisher's default."""
        if persistent is not None and not isinstance(persistent, bool):
            raise ConfigError(f"persistent must be a bool or None, got {persistent!r}")
        self._set("delivery_mode", None if persistent is None else (2 if persistent else 1))

    def set_timestamp(self, timestamp: float | None) -> None:
        """Set the ``timestamp`` property, seconds since the epoch (AMQP keeps whole
        seconds)."""
        if timestamp is None:
            self._set("timestamp", None)
            return
        if isinstance(timestamp, bool) or not isinstance(timestamp, (int, float)) or timestamp < 0:
            raise ConfigError(f"timestamp must be seconds since the epoch, got {timestamp!r}")
        self._set("timestamp", int(timestamp))

    def set_message_type(self, message_type: str | None) -> None:
        """Set the ``type`` property (AsyncAPI's ``messageType``)."""
        self._set("type", _check_text("message type", message_type))

    def set_content_encoding(self, encoding: str | None) -> None:
        """Set the ``content_encoding`` property, e.g. ``"gzip"``."""
        self._set("content_encoding", _check_text("content encoding", encoding))

    @property
    def routing_key(self) -> str | None:
        """The routing key set with :meth:`set_routing_key`, or ``None``."""
        return self._get("routing_key")  # type: ignore[no-any-return]

    @property
    def message_id(self) -> str | None:
        """The ``message_id`` set, or ``None``."""
        return self._get("message_id")  # type: ignore[no-any-return]

    @property
    def correlation_id(self) -> str | None:
        """The ``correlation_id`` set, or ``None``."""
        return self._get("correlation_id")  # type: ignore[no-any-return]

    @property
    def reply_to(self) -> str | None:
        """The ``reply_to`` set, or ``None``."""
        return self._get("reply_to")  # type: ignore[no-any-return]


class _Batch:
    """The messages of one ``send`` call and their outcomes (written on the I/O thread)."""

    __slots__ = ("cancelled", "done", "envelopes", "errors", "items", "left")

    def __init__(self, envelopes: Sequence[EnvelopeWriter], items: list[tuple[Any, ...]]) -> None:
        self.envelopes = envelopes
        self.items = items  # (exchange, routing_key, body, properties, mandatory)
        self.left = len(items)
        self.errors: dict[int, BaseException | str] | None = None
        # held until every message is settled: a bare lock is the cheapest wake-up there
        # is, and this wait is on every send's path
        self.done = threading.Lock()
        self.done.acquire()
        self.cancelled = False

    def settle(self, index: int, error: BaseException | str | None) -> None:
        if error is not None:
            if self.errors is None:
                self.errors = {}
            self.errors[index] = error
        self.left -= 1
        if self.left == 0:
            self.done.release()


def _without_bcc(headers: dict[str, Any] | None) -> dict[str, Any] | None:
    """Headers as the broker returns them: it strips ``BCC`` (and an empty table reads
    back as none)."""
    if headers and "BCC" in headers:
        headers = {name: value for name, value in headers.items() if name != "BCC"}
    return headers or None


class _Returned(str):
    """The reason of a message the broker returned (an unroutable mandatory message)."""


class _PublishChannel(ChannelMember):
    """A publisher's channel: confirm mode, returns, and the messages in flight."""

    def __init__(self, link: Link, route: Route, options: ProducerOptions, what: str) -> None:
        super().__init__(link, what)
        self._route = route
        self._confirm = options.confirm
        self._republish = options.republish
        self._waiting: deque[tuple[_Batch, int]] = deque()
        self._pending: dict[int, tuple[_Batch, int]] = {}  # delivery tag -> message
        self._low = 1  # lowest delivery tag that may still be pending
        self._seq = 0  # last delivery tag used on this channel
        self._returned: dict[int, str] = {}

    # -- I/O thread ------------------------------------------------------------------------
    def _io_setup(self, channel: Any, done: Any) -> None:
        self._seq, self._low = 0, 1
        channel.add_on_return_callback(self._io_returned)
        after = partial(declare, channel, self._route, lambda _queue: done())
        if self._confirm:
            channel.confirm_delivery(
                ack_nack_callback=self._io_confirmed, callback=lambda _f: after()
            )
        else:
            after()

    def _io_ready(self) -> None:
        self._io_flush()

    def publish(self, batch: _Batch) -> None:
        """Queue ``batch``'s messages and publish what the channel can take (I/O thread)."""
        if batch.cancelled:
            return
        if self._closing or self._failed is not None:
            error = self._failed or ClosedError(f"{self._what} is closed")
            for index in range(len(batch.items)):
                batch.settle(index, error)
            return
        self._waiting.extend((batch, index) for index in range(len(batch.items)))
        if self._ready:
            self._io_flush()

    def _io_flush(self) -> None:
        channel = self._channel
        waiting = self._waiting
        pending = self._pending
        confirm = self._confirm
        while waiting and self._ready:
            batch, index = waiting.popleft()
            if batch.cancelled:
                continue
            exchange, routing_key, body, properties, mandatory = batch.items[index]
            try:
                channel.basic_publish(exchange, routing_key, body, properties, mandatory)
            except Exception as exc:  # a value pika cannot encode, e.g. a header type
                batch.settle(index, exc)
                continue
            if confirm:
                self._seq += 1
                pending[self._seq] = (batch, index)
            else:
                batch.settle(index, None)

    def _io_confirmed(self, frame: Any) -> None:
        method = frame.method
        tag = method.delivery_tag
        nacked = isinstance(method, spec.Basic.Nack)
        pending = self._pending
        tags = range(self._low, tag + 1) if method.multiple else (tag,)
        for seq in tags:
            entry = pending.pop(seq, None)
            if entry is None:
                continue
            batch, index = entry
            returned = self._returned.pop(seq, None) if self._returned else None
            if nacked:
                batch.settle(index, NackError("the broker refused it (basic.nack)"))
            elif returned is not None:
                batch.settle(index, _Returned(returned))
            else:
                batch.settle(index, None)
        while self._low <= self._seq and self._low not in pending:
            self._low += 1

    def _io_returned(self, channel: Any, method: Any, properties: Any, body: bytes) -> None:
        reason = f"{method.reply_code} {method.reply_text}"
        for seq in range(self._low, self._seq + 1):
            entry = self._pending.get(seq)
            if entry is None or seq in self._returned:
                continue
            exchange, routing_key, sent, props, _mandatory = entry[0].items[entry[1]]
            if (
                exchange == method.exchange
                and routing_key == method.routing_key
                and sent == body
                and _without_bcc(props.headers) == _without_bcc(properties.headers)
            ):
                self._returned[seq] = reason
                return
        _log.warning("%s: the broker returned a message no send waits for (%s)", self._what, reason)

    def _io_lost(self, error: SyncapiError, by_broker: bool) -> None:
        entries = [self._pending[seq] for seq in sorted(self._pending)]
        self._pending.clear()
        self._returned.clear()
        self._seq, self._low = 0, 1
        if self._republish and not by_broker:
            # published, never confirmed: publish again on the next channel, first
            self._waiting.extendleft(reversed(entries))
            return
        for batch, index in entries:
            batch.settle(index, error)

    def _io_failed(self, error: SyncapiError) -> None:
        entries = [self._pending[seq] for seq in sorted(self._pending)]
        entries.extend(self._waiting)
        self._pending.clear()
        self._waiting.clear()
        self._returned.clear()
        for batch, index in entries:
            if not batch.cancelled:
                batch.settle(index, error)


class Publisher(core.Publisher[EnvelopeWriter]):
    """A channel for sending to an exchange or queue (see :mod:`syncapi.amqp.topology`
    for what the bindings make of the address).

    ``send`` is thread-safe and returns once the broker confirmed every message
    (publisher confirms), or raises:

    * :class:`UnroutableError` — a mandatory message reached no queue (``mandatory`` is on
      by default, so a message to nowhere is an error, not a silent loss);
    * :class:`NackError` — the broker refused it;
    * :class:`~syncapi.errors.MessageTooLarge` — over ``max_message_size``;
    * :class:`~syncapi.errors.TimeoutError` — not confirmed within the timeout (the
      broker may still get it: messages already published are not recalled).

    **A send in flight when the connection drops** waits for the reconnect and is
    published again (``republish=True``, the default; the broker may then hold it
    twice), within the send's timeout. With ``republish=False`` it fails with a
    :class:`~syncapi.errors.SendError` instead.
    """

    envelope_class = EnvelopeWriter

    def __init__(
        self,
        producer: Producer,
        channel: str,
        bindings: ChannelBindings | None,
        operation_bindings: OperationBindings | None,
    ) -> None:
        super().__init__(channel, bindings=bindings, operation_bindings=operation_bindings)
        options = producer._options
        self._options = options
        self._link = producer._link
        self._route = publisher_route(
            channel,
            bindings,
            producer._vhost,
            passive=not options.declare,
            arguments=options.queue_arguments,
        )
        self._exchange = self._route.exchange
        self._routing_key = self._route.routing_key
        op = operation_bindings
        self._mandatory = options.mandatory if op is None or op.mandatory is None else op.mandatory
        defaults: dict[str, Any] = {
            "delivery_mode": 2 if options.persistent else 1,
        }
        if options.app_id is not None:
            defaults["app_id"] = options.app_id
        self._stamp = False
        self._routing_headers: dict[str, Any] = {}
        if op is not None:
            if op.delivery_mode is not None:
                defaults["delivery_mode"] = op.delivery_mode
            if op.expiration is not None:
                defaults["expiration"] = str(op.expiration)
            if op.user_id is not None:
                defaults["user_id"] = op.user_id
            if op.priority is not None:
                defaults["priority"] = op.priority
            if op.cc:
                self._routing_headers["CC"] = list(op.cc)
            if op.bcc:
                self._routing_headers["BCC"] = list(op.bcc)
            self._stamp = bool(op.timestamp)
        self._defaults = defaults
        self._plain = pika.BasicProperties(
            headers=dict(self._routing_headers) or None, **defaults
        )  # shared by envelopes without headers or extras: pika only reads it
        self._max_size = options.max_message_size
        what = f"amqp publisher {channel!r}" + (
            f" on exchange {self._exchange!r}" if self._exchange else ""
        )
        self._member = _PublishChannel(self._link, self._route, options, what)
        self._member.open(options.connect_timeout)

    def envelope(
        self,
        payload: core.Payload = b"",
        *,
        headers: HeadersLike | None = None,
        content_type: str | None = None,
        bindings: Any = None,
        routing_key: str | None = None,
        message_id: str | None = None,
        correlation_id: str | None = None,
        reply_to: str | None = None,
    ) -> EnvelopeWriter:
        """Make an AMQP envelope; the extras as on :class:`EnvelopeWriter`."""
        return EnvelopeWriter(
            payload,
            headers=headers,
            content_type=content_type,
            bindings=bindings,
            routing_key=routing_key,
            message_id=message_id,
            correlation_id=correlation_id,
            reply_to=reply_to,
        )

    @property
    def exchange(self) -> str:
        """The exchange this publisher sends to (``""``: the default exchange)."""
        return self._exchange

    @property
    def routing_key(self) -> str:
        """The routing key messages are published with (unless an envelope sets one)."""
        return self._routing_key

    def _properties(self, env: EnvelopeWriter) -> Any:
        extras = env._props
        message = env.bindings
        if (
            extras is None
            and message is None
            and env._headers is None
            and env._content_type is None
            and not self._stamp
        ):
            return self._plain
        fields = dict(self._defaults)
        if message is not None:
            if message.content_encoding is not None:
                fields["content_encoding"] = message.content_encoding
            if message.message_type is not None:
                fields["type"] = message.message_type
        if self._stamp:
            fields["timestamp"] = int(time.time())
        if extras:
            fields.update(extras)
            fields.pop("routing_key", None)
        if env._content_type is not None:
            fields["content_type"] = env._content_type
        headers: dict[str, Any] = dict(self._routing_headers)
        if env._headers:
            headers.update(env._headers._data)
        if headers:
            fields["headers"] = headers
        return pika.BasicProperties(**fields)

    def _send(self, envelopes: Sequence[core.EnvelopeWriter], timeout: float | None) -> None:
        items: list[tuple[Any, ...]] = []
        exchange, mandatory, limit = self._exchange, self._mandatory, self._max_size
        for env in envelopes:
            assert isinstance(env, EnvelopeWriter)
            body = env.payload
            if limit is not None and len(body) > limit:
                raise MessageTooLarge(
                    f"{self!r}: a {len(body)}-byte message is over max_message_size "
                    f"({limit} bytes; set it to your broker's max_message_size: 16 MiB by "
                    "default in RabbitMQ 4, 128 MiB in 3.x)",
                    [(env, "too large")],
                )
            key = env._props.get("routing_key") if env._props else None
            items.append(
                (exchange, key or self._routing_key, body, self._properties(env), mandatory)
            )
        if self._link.on_io_thread():
            raise RuntimeError("Publisher.send called on the AMQP I/O thread would wait for itself")
        batch = _Batch(envelopes, items)  # type: ignore[arg-type]
        self._link.call_soon(partial(self._member.publish, batch))
        wait = self._options.send_timeout if timeout is None else timeout
        if not batch.done.acquire(timeout=-1 if wait is None else wait):
            batch.cancelled = True
            done = len(items) - batch.left
            if self._member.last_error is not None:
                why = f"; the broker closed the channel ({self._member.last_error}), re-opening"
            elif not self._link.is_open:
                why = "; the connection is down, reconnecting"
            else:
                why = ""
            raise TimeoutError(
                f"{self!r}: {batch.left} of {len(items)} messages not confirmed within "
                f"{wait} s ({done} were){why}; those already published may still reach "
                "the queue"
            )
        if batch.errors:
            self._raise(batch)

    def _raise(self, batch: _Batch) -> None:
        assert batch.errors is not None
        failures = [(batch.envelopes[i], reason) for i, reason in sorted(batch.errors.items())]
        reasons = [reason for _, reason in failures]
        first = reasons[0]
        summary = (
            f"{len(failures)} of {len(batch.items)} messages failed" if len(batch.items) > 1 else ""
        )
        if all(isinstance(r, _Returned) for r in reasons):
            key = batch.items[min(batch.errors)][1]  # the routing key the first one had
            where = (
                f"exchange {self._exchange!r} routed routing key {key!r} to no queue"
                if self._exchange
                else f"no queue named {key!r} exists (the default exchange routes by "
                "queue name; declare it, e.g. with amqp.ChannelBindings(is_='queue'))"
            )
            raise UnroutableError(
                f"{self!r}: unroutable ({first}): {where}" + (f"; {summary}" if summary else ""),
                [(env, str(reason)) for env, reason in failures],
            )
        if all(isinstance(r, NackError) for r in reasons):
            raise NackError(f"{self!r}: {first}" + (f"; {summary}" if summary else ""), failures)
        if isinstance(first, MessageTooLarge):
            raise MessageTooLarge(f"{self!r}: {first}", failures) from first
        if isinstance(first, ClosedError):
            raise ClosedError(f"{self!r} was closed while sending") from first
        cause = first if isinstance(first, BaseException) else None
        raise SendError(
            f"{self!r}: {first}" + (f"; {summary}" if summary else ""), failures
        ) from cause

    def _close(self) -> None:
        self._member.shutdown(5.0)


class Producer(Connected, core.Producer[Publisher]):
    """A connection to an AMQP 0-9-1 broker for sending; the factory of :class:`Publisher`.

    ``amqp://user:password@host:5672/vhost?option=value`` (see
    :class:`~syncapi.amqp.ProducerOptions`). The constructor connects and raises
    :class:`~syncapi.errors.ConnectError` at once for wrong credentials, an unknown
    virtual host or an unreachable broker; later drops are repaired by reconnecting.

    Thread-safe: share one producer and its publishers between all threads. The
    connection lives on an I/O thread of its own, so no pika object is ever used from two
    threads, and heartbeats are answered whatever the other threads do.
    """

    scheme = "amqp"
    capabilities = CAPABILITIES

    def __init__(self, url: ServerURL | str, **options: Any) -> None:
        super().__init__(url)
        self._options: ProducerOptions = resolve_options(ProducerOptions, self._url.query, options)
        self._connect(
            connection_parameters(self._url, self._options, "producer"), self._options, "producer"
        )

    @property
    def options(self) -> ProducerOptions:
        """The options in force."""
        return self._options

    def _open_publisher(
        self, channel: str, bindings: Any, operation_bindings: Any, security: Any
    ) -> Publisher:
        channel_bindings, op = _check_channel_args(bindings, operation_bindings, security)
        return Publisher(self, channel, channel_bindings, op)


def _check_channel_args(
    bindings: Any, operation_bindings: Any, security: Any
) -> tuple[ChannelBindings | None, OperationBindings | None]:
    """The bindings as the amqp classes (a document dict is parsed with ``from_dict``).

    Raises:
        ConfigError: bindings of another protocol, a bad dict, or per-channel security
            (connection-wide in AMQP: the URL's credentials).
    """
    coerced = coerce_channel_bindings(
        ChannelBindings, OperationBindings, bindings, operation_bindings
    )
    if security is not None:
        raise ConfigError(
            "amqp:// authenticates per connection: put the user name and password in the "
            "server URL (amqp://user:password@host/vhost), not per channel"
        )
    return coerced
