"""Producer, Consumer, Publisher, Subscriber and envelopes of ``memory://``."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .. import core
from ..errors import ConfigError, MessageTooLarge, TimeoutError
from ..headers import Headers
from ..servers import ServerURL, resolve_options
from .bindings import ChannelBindings, MessageBindings, OperationBindings
from .broker import Broker, Message, _Queue, get_broker

__all__ = [
    "Consumer",
    "EnvelopeReader",
    "EnvelopeWriter",
    "MemoryOptions",
    "Producer",
    "Publisher",
    "Subscriber",
]

_log = logging.getLogger("syncapi.memory")
_DEAD_LETTER_TIMEOUT = 5.0  # a full dead-letter channel must not hang a receive loop

CAPABILITIES = core.Capabilities(
    ordered=True,
    persistent=True,
    consumer_groups=True,
    headers=True,
    redelivery=True,
    brokerless=False,
    reliable=True,
    max_payload=64 * 1024 * 1024,
)
"""What ``memory://`` can do: everything a broker does, in-process. ``max_payload`` is
the default of the ``max_message_size`` option (64 MiB)."""


@dataclass(frozen=True)
class MemoryOptions:
    """Options of ``memory://NAME?option=value`` (keyword arguments win over the URL).

    Attributes:
        max_queue: messages a queue holds at most; a send waits while a queue it must
            reach is full.
        send_timeout: seconds a send waits for room at most (``None``: as long as it
            takes); ``send(timeout=...)`` overrides it per call. The default, 60 s, is
            kafka-python's ``max_block_ms``: a channel nobody drains fails loudly instead
            of hanging its sender.
        max_message_size: the largest payload accepted, in bytes.
        max_deliveries: deliveries of one message at most; a message nacked that often is
            dead-lettered (or dropped with an ERROR log). ``None``: no limit.
        dead_letter: a channel of the same broker that receives rejected and exhausted
            messages (with headers ``x-death-reason`` and ``x-original-channel``). A
            dead-letter send waits ``send_timeout`` (5 s at most) for room, then the
            message is dropped with an ERROR log, so a full dead-letter channel never
            hangs a receive loop.
        group: the consumer group of the subscribers a consumer makes: they share one
            queue, which outlives them. ``None``: each subscriber has its own queue.
    """

    max_queue: int = 10_000
    send_timeout: float | None = 60.0
    max_message_size: int = 64 * 1024 * 1024
    max_deliveries: int | None = 10
    dead_letter: str | None = None
    group: str | None = None

    def __post_init__(self) -> None:
        for name in ("max_queue", "max_message_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"option {name!r} must be >= 1, got {getattr(self, name)}")
        if self.max_deliveries is not None and self.max_deliveries < 1:
            raise ConfigError(
                f"option 'max_deliveries' must be >= 1 or None, got {self.max_deliveries}"
            )
        if self.send_timeout is not None and self.send_timeout < 0:
            raise ConfigError(
                f"option 'send_timeout' must be >= 0 or None, got {self.send_timeout}"
            )


def _broker_name(url: ServerURL) -> str:
    if len(url.hosts) > 1 or url.port is not None:
        raise ConfigError(
            f"memory URL {url}: name one broker, e.g. 'memory://demo' (no port, no host list)"
        )
    name = url.host or url.path.strip("/")
    return name or "default"


def _check_concrete(channel: str) -> None:
    if "{" in channel or "}" in channel:
        raise ConfigError(
            f"memory:// channels are concrete addresses; {channel!r} has a parameter expression: "
            "pass its values with parameters={...}"
        )


class _MemoryEndpoint:
    """Shared set-up of Producer and Consumer: options and the broker."""

    def _setup(self, url: ServerURL, options: dict[str, Any]) -> None:
        self.options: MemoryOptions = resolve_options(MemoryOptions, url.query, options)
        self.broker: Broker = get_broker(_broker_name(url))


class EnvelopeWriter(core.EnvelopeWriter):
    """An outgoing ``memory://`` message: payload, headers and content type (no extras)."""

    __slots__ = ()

    message_bindings = MessageBindings


class EnvelopeReader(core.EnvelopeReader):
    """A received ``memory://`` message.

    Extras: :attr:`seq` (the broker's message number), :attr:`delivery_count`,
    :attr:`redelivered` and :attr:`timestamp`.
    """

    __slots__ = ("_count", "_message")

    def __init__(self, message: Message, count: int, subscriber: Subscriber) -> None:
        # the base initialiser, unrolled: this runs once per received message
        self._payload = message.payload
        self._pos = 0
        self._headers = None
        self._content_type = message.content_type
        self._channel = message.channel
        self._subscriber = subscriber
        self._settled = False
        self._message = message
        self._count = count

    @property
    def headers(self) -> Headers:
        """The message's headers (a copy of its own: changing them changes nothing else)."""
        if self._headers is None:
            src = self._message.headers
            self._headers = src.copy() if src else Headers()
        return self._headers

    @property
    def seq(self) -> int:
        """The broker's number for this message (increasing in send order)."""
        return self._message.seq

    @property
    def delivery_count(self) -> int:
        """How many times the message was delivered, this time included."""
        return self._count

    @property
    def redelivered(self) -> bool:
        """Whether the message was delivered before (and nacked or left unacked)."""
        return self._count > 1

    @property
    def timestamp(self) -> float:
        """When the message was sent (seconds since the epoch)."""
        return self._message.timestamp

    def ack(self) -> None:
        """Acknowledge: the message was handled and must not come again.

        The base class's ack() with its hook call inlined: it runs once per message.
        """
        if self._settled:
            self._settle()  # raises the "already settled" ClosedError
        self._settled = True
        self._subscriber._unacked.pop(self._message.seq, None)  # type: ignore[union-attr]

    @property
    def identity(self) -> str:
        """``memory://BROKER/CHANNEL #SEQ`` for logs."""
        sub = self._subscriber
        broker = sub.broker.name if isinstance(sub, Subscriber) else "?"
        return f"memory://{broker}/{self._channel} #{self._message.seq}"


class Producer(_MemoryEndpoint, core.Producer["Publisher"]):
    """Sends to an in-process broker: ``memory://NAME`` (see :class:`MemoryOptions`).

    Thread-safe; producers and consumers with the same ``NAME`` share the broker.
    """

    scheme = "memory"
    capabilities = CAPABILITIES

    def __init__(self, url: ServerURL | str = "memory://default", **options: Any) -> None:
        core.Producer.__init__(self, url)
        self._setup(self.url, options)

    def _open_publisher(
        self, channel: str, bindings: Any, operation_bindings: Any, security: Any
    ) -> Publisher:
        _check_concrete(channel)
        return Publisher(
            self,
            channel,
            bindings=ChannelBindings.coerce(bindings),
            operation_bindings=OperationBindings.coerce(operation_bindings),
        )


class Publisher(core.Publisher[EnvelopeWriter]):
    """Sends to one channel of a ``memory://`` broker. ``send`` is thread-safe and
    returns when every envelope is in every queue of the channel."""

    envelope_class = EnvelopeWriter

    def __init__(
        self, producer: Producer, channel: str, *, bindings: Any, operation_bindings: Any
    ) -> None:
        super().__init__(channel, bindings=bindings, operation_bindings=operation_bindings)
        self._broker = producer.broker
        self._options = producer.options

    def _send(self, envelopes: Sequence[core.EnvelopeWriter], timeout: float | None) -> None:
        options = self._options
        if timeout is None:
            timeout = options.send_timeout
        if len(envelopes) == 1:
            env = envelopes[0]
            payload = env._buf if type(env._buf) is bytes else bytes(env._buf)
            if len(payload) <= options.max_message_size:
                headers = env._headers
                self._broker.publish_one(
                    self._channel,
                    payload,
                    headers.copy() if headers else None,
                    env._content_type,
                    options.max_queue,
                    timeout,
                )
                return
        limit = options.max_message_size
        items: list[tuple[bytes, Headers | None, str | None]] = []
        for env in envelopes:
            payload = env.payload
            if len(payload) > limit:
                raise MessageTooLarge(
                    f"memory://{self._broker.name}/{self._channel}: payload of {len(payload)} bytes is over "
                    f"max_message_size ({limit} bytes); nothing of this send was sent",
                    [(env, "too large")],
                )
            headers = env._headers
            items.append((payload, headers.copy() if headers else None, env._content_type))
        self._broker.publish(self._channel, items, max_queue=options.max_queue, timeout=timeout)


class Consumer(_MemoryEndpoint, core.Consumer["Subscriber"]):
    """Receives from an in-process broker: ``memory://NAME?group=G`` (see
    :class:`MemoryOptions`). Thread-safe."""

    scheme = "memory"
    capabilities = CAPABILITIES

    def __init__(self, url: ServerURL | str = "memory://default", **options: Any) -> None:
        core.Consumer.__init__(self, url)
        self._setup(self.url, options)

    def _open_subscriber(
        self, channel: str, bindings: Any, operation_bindings: Any, security: Any
    ) -> Subscriber:
        _check_concrete(channel)
        return Subscriber(
            self,
            channel,
            bindings=ChannelBindings.coerce(bindings),
            operation_bindings=OperationBindings.coerce(operation_bindings),
        )


class Subscriber(core.Subscriber):
    """Receives from one channel of a ``memory://`` broker, alone or in the consumer's group.

    Messages fetched and not acknowledged when the subscriber closes go back to its queue.
    """

    default_on_error = "requeue"
    concurrent_fetch = True  # the broker's lock serialises fetches; no ordering keys

    def __init__(
        self, consumer: Consumer, channel: str, *, bindings: Any, operation_bindings: Any
    ) -> None:
        super().__init__(channel, bindings=bindings, operation_bindings=operation_bindings)
        self.broker = consumer.broker
        self._options = consumer.options
        self._wakeups = 0  # bumped by _interrupt; a fetch that sees it change returns
        self._unacked: dict[int, EnvelopeReader] = {}  # seq -> delivered, not yet settled
        self._queue: _Queue = self.broker.attach(channel, consumer.options.group)

    @property
    def group(self) -> str | None:
        """The consumer group this subscriber shares its queue with, or ``None``."""
        return self._options.group

    def _fetch(self, max_messages: int, timeout: float | None) -> list[EnvelopeReader]:
        got = self.broker.fetch(self._queue, self, max_messages, timeout)
        unacked = self._unacked
        out = []
        for count, msg in got:
            env = unacked[msg.seq] = EnvelopeReader(msg, count, self)
            out.append(env)
        return out

    def _ack(self, envelope: core.EnvelopeReader) -> None:
        self._unacked.pop(envelope._message.seq, None)  # type: ignore[attr-defined]

    def _nack(self, envelope: core.EnvelopeReader, requeue: bool) -> None:
        assert isinstance(envelope, EnvelopeReader)  # nacks are rare: check the type
        msg = envelope._message
        if self._unacked.pop(msg.seq, None) is None:
            return
        limit = self._options.max_deliveries
        if requeue and (limit is None or envelope._count < limit):
            self.broker.requeue(self._queue, envelope._count, msg)
            return
        reason = (
            "rejected" if not requeue else f"delivered {envelope._count} times (max_deliveries)"
        )
        self._dead_letter(msg, reason)

    def _release(self, envelope: core.EnvelopeReader) -> None:
        assert isinstance(envelope, EnvelopeReader)
        msg = envelope._message
        if self._unacked.pop(msg.seq, None) is not None:
            # no callback ran: the next delivery keeps this one's count
            self.broker.requeue(self._queue, envelope._count - 1, msg)

    def _dead_letter(self, msg: Message, reason: str) -> None:
        target = self._options.dead_letter
        if target is None:
            _log.error(
                "memory://%s/%s #%d %s: dropped (set the dead_letter option to keep such messages)",
                self.broker.name,
                msg.channel,
                msg.seq,
                reason,
            )
            return
        headers = msg.headers.copy() if msg.headers else Headers()
        headers["x-death-reason"] = reason
        headers["x-original-channel"] = msg.channel
        try:
            self.broker.publish(
                target,
                [(msg.payload, headers, msg.content_type)],
                max_queue=self._options.max_queue,
                timeout=_DEAD_LETTER_TIMEOUT
                if self._options.send_timeout is None
                else min(self._options.send_timeout, _DEAD_LETTER_TIMEOUT),
            )
        except TimeoutError:
            _log.error(
                "memory://%s/%s #%d %s: dead-letter channel %r is full; message dropped",
                self.broker.name,
                msg.channel,
                msg.seq,
                reason,
                target,
            )
            return
        _log.warning(
            "memory://%s/%s #%d %s: moved to %r",
            self.broker.name,
            msg.channel,
            msg.seq,
            reason,
            target,
        )

    def _interrupt(self) -> None:
        self._wakeups += 1
        self.broker.wake(self._queue)

    def _close(self) -> None:
        held = [
            (env._message.seq, env._count, env._message) for env in list(self._unacked.values())
        ]
        self._unacked.clear()
        self.broker.detach(self._queue, held)
