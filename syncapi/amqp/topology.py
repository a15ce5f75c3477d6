"""What an AMQP channel address means, and declaring it on the broker.

A syncapi channel on ``amqp://`` is one of three things, chosen by its
:class:`~syncapi.amqp.ChannelBindings`:

===============================  ======================================  ====================================
bindings                         a publisher                             a subscriber
===============================  ======================================  ====================================
none, or ``is: routingKey``      publishes to the default exchange with  consumes the queue named by the
without an exchange              the address as routing key, i.e. to    address (declared durable)
                                 the queue of that name
``is: routingKey`` with an       declares the exchange and publishes     declares the exchange and a queue,
``exchange``                     to it with the address as routing key   binds the queue with the address as
                                                                         binding key, and consumes it: the
                                                                         group's shared durable queue, or a
                                                                         private exclusive one without group
``is: queue``                    declares the queue (``queue.name`` or   declares the queue and consumes it
                                 the address) and publishes to it
===============================  ======================================  ====================================

Binding fields left unset take the safe values: exchanges and queues are durable,
not auto-deleted, queues not exclusive; an exchange's type is ``direct``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pika.exceptions as pex

from ..errors import ConfigError, ConnectError, MessageTooLarge, SyncapiError
from .link import check_vhost, describe

__all__ = [
    "ExchangeDecl",
    "QueueDecl",
    "Route",
    "TopologyMismatchError",
    "channel_error",
    "declare",
    "publisher_route",
    "subscriber_route",
]


class TopologyMismatchError(ConfigError):
    """An exchange or queue exists on the broker with other properties than the channel
    bindings (or options) declare: the broker's ``PRECONDITION_FAILED`` (406)."""


@dataclass(frozen=True)
class ExchangeDecl:
    """An exchange to declare."""

    name: str
    type: str = "direct"
    durable: bool = True
    auto_delete: bool = False


@dataclass(frozen=True)
class QueueDecl:
    """A queue to declare (``name=""``: the broker names it)."""

    name: str
    durable: bool = True
    exclusive: bool = False
    auto_delete: bool = False
    arguments: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Route:
    """Where a channel publishes and what it declares (and, for a subscriber, binds and
    consumes)."""

    exchange: str
    """The exchange messages are published to (``""``: the default exchange)."""
    routing_key: str
    """The routing key of published messages and the binding key of the queue."""
    exchange_decl: ExchangeDecl | None = None
    queue_decl: QueueDecl | None = None
    bind: bool = False
    """Bind the declared queue to :attr:`exchange` with :attr:`routing_key`."""
    passive: bool = False
    """Only check that the exchange and queue exist (``declare=False``)."""

    @property
    def queue(self) -> str:
        """The queue a subscriber consumes (``""``: server-named, known once declared)."""
        return self.queue_decl.name if self.queue_decl is not None else self.routing_key


def _check_name(name: str, what: str) -> str:
    if len(name.encode("utf-8")) > 255:
        raise ConfigError(f"{what} {name[:40]!r}... is longer than 255 bytes (AMQP's limit)")
    return name


def _flag(value: bool | None, default: bool) -> bool:
    return default if value is None else bool(value)


def _exchange_of(bindings: Any, vhost: str) -> ExchangeDecl | None:
    exchange = getattr(bindings, "exchange", None)
    if exchange is None:
        return None
    check_vhost(exchange.vhost, vhost, f"the exchange binding of {exchange.name!r}")
    if exchange.is_default:
        return None
    return ExchangeDecl(
        name=_check_name(exchange.name, "exchange name"),
        type=exchange.exchange_type,
        durable=_flag(exchange.durable, True),
        auto_delete=_flag(exchange.auto_delete, False),
    )


def _queue_of(
    bindings: Any, channel: str, vhost: str, arguments: Mapping[str, Any] | None
) -> QueueDecl:
    queue = getattr(bindings, "queue", None)
    if queue is None:
        return QueueDecl(_check_name(channel, "queue name"), arguments=arguments)
    check_vhost(queue.vhost, vhost, f"the queue binding of {queue.name or channel!r}")
    return QueueDecl(
        name=_check_name(queue.name or channel, "queue name"),
        durable=_flag(queue.durable, True),
        exclusive=_flag(queue.exclusive, False),
        auto_delete=_flag(queue.auto_delete, False),
        arguments=arguments,
    )


def _kind(bindings: Any) -> str:
    return "routingKey" if bindings is None else str(bindings.kind)


def publisher_route(
    channel: str, bindings: Any, vhost: str, *, passive: bool, arguments: Mapping[str, Any] | None
) -> Route:
    """The :class:`Route` of a publisher on ``channel`` (see the module table)."""
    _check_name(channel, "channel address (routing key)")
    if _kind(bindings) == "queue":
        queue = _queue_of(bindings, channel, vhost, arguments)
        return Route("", queue.name, queue_decl=queue, passive=passive)
    exchange = _exchange_of(bindings, vhost)
    if exchange is None:
        return Route("", channel, passive=passive)
    return Route(exchange.name, channel, exchange_decl=exchange, passive=passive)


def subscriber_route(
    channel: str,
    bindings: Any,
    vhost: str,
    *,
    group: str | None,
    queue_template: str,
    passive: bool,
    arguments: Mapping[str, Any] | None,
) -> Route:
    """The :class:`Route` of a subscriber on ``channel`` (see the module table)."""
    _check_name(channel, "channel address")
    if _kind(bindings) == "queue":
        queue = _queue_of(bindings, channel, vhost, arguments)
        return Route("", queue.name, queue_decl=queue, passive=passive)
    exchange = _exchange_of(bindings, vhost)
    if exchange is None:
        # the default exchange routes by queue name: the address is the queue
        return Route(
            "", channel, queue_decl=_queue_of(None, channel, vhost, arguments), passive=passive
        )
    if group is None:
        queue = QueueDecl("", durable=False, exclusive=True, auto_delete=True, arguments=arguments)
    else:
        name = queue_template.format(group=group, exchange=exchange.name, routing_key=channel)
        queue = QueueDecl(_check_name(name, "group queue name"), arguments=arguments)
    return Route(
        exchange.name,
        channel,
        exchange_decl=exchange,
        queue_decl=queue,
        bind=True,
        passive=passive,
    )


Step = Callable[[Callable[[Any], None]], None]


def declare(channel: Any, route: Route, done: Callable[[str], None]) -> None:
    """Declare ``route`` on a pika channel (on its I/O thread); ``done(queue_name)`` runs
    when everything is declared and bound. A refusal closes the channel: its close
    callback gets the reason (see :func:`channel_error`)."""
    state = {"queue": route.queue}
    steps: list[Step] = []
    ex = route.exchange_decl
    if ex is not None:
        steps.append(
            lambda nxt: channel.exchange_declare(
                exchange=ex.name,
                exchange_type=ex.type,
                passive=route.passive,
                durable=ex.durable,
                auto_delete=ex.auto_delete,
                callback=nxt,
            )
        )
    q = route.queue_decl
    if q is not None:

        def declared(frame: Any, nxt: Callable[[Any], None]) -> None:
            state["queue"] = frame.method.queue
            nxt(frame)

        passive_queue = route.passive and bool(q.name)
        steps.append(
            lambda nxt: channel.queue_declare(
                queue=q.name,
                passive=passive_queue,
                durable=q.durable,
                exclusive=q.exclusive,
                auto_delete=q.auto_delete,
                arguments=dict(q.arguments) if q.arguments else None,
                callback=lambda frame: declared(frame, nxt),
            )
        )
        if route.bind:
            steps.append(
                lambda nxt: channel.queue_bind(
                    queue=state["queue"],
                    exchange=route.exchange,
                    routing_key=route.routing_key,
                    callback=nxt,
                )
            )
    remaining = iter(steps)

    def advance(_frame: Any = None) -> None:
        step = next(remaining, None)
        if step is None:
            done(state["queue"])
        else:
            step(advance)

    advance()


def channel_error(reason: BaseException | None, what: str) -> SyncapiError:
    """A specific syncapi error for a channel the broker closed."""
    text = describe(reason)
    if isinstance(reason, pex.ChannelClosed):
        code = reason.reply_code
        if code == 406 and "larger than configured max size" in reason.reply_text:
            error: SyncapiError = MessageTooLarge(f"{what}: {text}")
        elif code == 406 and "inequivalent arg" in reason.reply_text:
            error = TopologyMismatchError(f"{what}: the broker refused it: {text}")
        elif code == 404:
            error = ConfigError(f"{what}: not found on the broker: {text}")
        elif code in (403, 405, 406):
            error = ConfigError(f"{what}: the broker refused it: {text}")
        elif code in (501, 502, 503, 504, 530, 540, 541):
            error = ConnectError(f"{what}: the broker closed the channel: {text}")
        else:
            error = ConfigError(f"{what}: the broker closed the channel: {text}")
        return error
    return ConnectError(f"{what}: the channel closed: {text}")
