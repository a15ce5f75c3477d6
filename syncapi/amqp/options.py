"""Options of ``amqp://`` producers and consumers.

Options come from the server URL's query string or from keyword arguments (keywords win),
in snake_case or camelCase::

    syncapi.producer("amqp://app:secret@rabbit:5672/billing?heartbeat=30")
    syncapi.consumer("amqp://app:secret@rabbit/billing", group="invoices", prefetch=50)

Naming rule: an option that pika's ``ConnectionParameters`` also has keeps pika's name
(``heartbeat``, ``frame_max``, ``channel_max``, ``blocked_connection_timeout``…); every
duration is in seconds, like every ``timeout=`` of syncapi.

The user name and password come from the URL (``amqp://user:password@host/vhost``,
percent-encoded) and default to RabbitMQ's ``guest``/``guest``. The virtual host is the
URL's path without its leading ``/``: ``amqp://host/billing`` is ``billing``,
``amqp://host/%2Fbilling`` is ``/billing``, and ``amqp://host`` or ``amqp://host/`` is the
default ``/``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError

__all__ = ["CommonOptions", "ConsumerOptions", "ProducerOptions"]


def _check_range(owner: object, name: str, low: float, high: float | None = None) -> None:
    value = getattr(owner, name)
    if value is None:
        return
    if value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"between {low} and {high}"
        raise ConfigError(f"option {name!r} must be {bound}, got {value!r}")


def _check_arguments(name: str, arguments: Mapping[str, Any] | None) -> None:
    if arguments is None:
        return
    for key in arguments:
        if not isinstance(key, str):
            raise ConfigError(f"option {name!r}: keys must be str, got {key!r}")


@dataclass(frozen=True)
class CommonOptions:
    """Options of both producers and consumers (one connection each)."""

    heartbeat: int | None = 60
    """Seconds between heartbeats (``0`` turns them off; ``None`` takes the broker's
    proposal). syncapi's I/O thread answers them even while callbacks run for long."""
    connect_timeout: float = 10.0
    """Seconds the first connection (TCP, AMQP handshake and login) may take; the
    constructor raises :class:`~syncapi.errors.ConnectError` after it."""
    blocked_connection_timeout: float | None = None
    """Seconds the broker may keep the connection blocked (a memory or disk alarm)
    before syncapi drops it and reconnects (``None``: wait as long as it takes)."""
    reconnect_delay: float = 0.5
    """Seconds before the first reconnect attempt after the connection was lost; the
    delay doubles after each failed attempt, up to :attr:`reconnect_max_delay`."""
    reconnect_max_delay: float = 10.0
    """The longest wait between two reconnect attempts."""
    reconnect_attempts: int | None = None
    """Failed reconnect attempts in a row after which the connection is given up for
    good (``None``: retry until closed). Then every send raises and every receive loop
    raises :class:`~syncapi.errors.ReceiveError`."""
    frame_max: int | None = None
    """Largest AMQP frame in bytes (``None``: pika's default, 131072)."""
    channel_max: int | None = None
    """Most channels on the connection (``None``: the broker's limit)."""
    client_name: str | None = None
    """The ``connection_name`` the broker shows for this connection (default:
    ``syncapi producer``/``syncapi consumer``)."""
    declare: bool = True
    """Declare the exchanges and queues that channel bindings describe. ``False``:
    only check that they exist (passive declarations), for users without the
    ``configure`` permission."""
    queue_arguments: dict[str, Any] | None = None
    """Extra arguments of every queue syncapi declares, e.g.
    ``{"x-queue-type": "quorum"}`` or ``{"x-dead-letter-exchange": "dlx"}`` (keyword
    only). They must match those of a queue that already exists."""

    def __post_init__(self) -> None:
        _check_range(self, "heartbeat", 0)
        for name in ("connect_timeout", "reconnect_delay", "reconnect_max_delay"):
            _check_range(self, name, 0.001)
        _check_range(self, "blocked_connection_timeout", 0.001)
        _check_range(self, "reconnect_attempts", 1)
        _check_range(self, "frame_max", 4096, 2**31 - 1)
        _check_range(self, "channel_max", 1, 65535)
        if self.reconnect_max_delay < self.reconnect_delay:
            raise ConfigError(
                f"option 'reconnect_max_delay' ({self.reconnect_max_delay}) must be >= "
                f"'reconnect_delay' ({self.reconnect_delay})"
            )
        _check_arguments("queue_arguments", self.queue_arguments)


@dataclass(frozen=True)
class ProducerOptions(CommonOptions):
    """Options of an ``amqp://`` :class:`~syncapi.amqp.Producer`."""

    confirm: bool = True
    """Publisher confirms: ``send`` returns once the broker confirmed every message and
    raises :class:`~syncapi.errors.SendError` on a nack. ``False``: ``send`` returns as
    soon as the messages are handed to the connection (fire and forget)."""
    send_timeout: float = 30.0
    """Seconds ``send`` waits for confirms when called without ``timeout=`` (including
    the time spent reconnecting)."""
    mandatory: bool = True
    """Publish with the ``mandatory`` flag, so a message no queue receives comes back as
    a :class:`~syncapi.amqp.UnroutableError` instead of vanishing.
    ``OperationBindings.mandatory`` overrides it per channel."""
    persistent: bool = True
    """Publish messages as persistent (``delivery_mode`` 2), so that a durable queue
    keeps them over a broker restart. ``OperationBindings.deliveryMode`` and
    :meth:`~syncapi.amqp.EnvelopeWriter.set_persistent` override it."""
    republish: bool = True
    """When the connection drops, messages whose confirm had not come yet are published
    again on the new connection (the broker may then hold them twice: at-least-once).
    ``False``: their ``send`` raises :class:`~syncapi.errors.SendError` instead, and the
    broker may or may not have them (at-most-once)."""
    app_id: str | None = None
    """The ``app_id`` property of every message (``None``: not set)."""
    max_message_size: int | None = 16 * 1024 * 1024
    """Largest payload in bytes ``send`` accepts; a bigger one raises
    :class:`~syncapi.errors.MessageTooLarge` before anything is sent. The default is
    RabbitMQ 4's ``max_message_size`` (16 MiB; RabbitMQ 3.x allowed 128 MiB); set it to
    your broker's. ``None``: no check here — the broker then closes the channel, and
    every unconfirmed message of that publisher fails with the reason."""

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_range(self, "send_timeout", 0)
        _check_range(self, "max_message_size", 1)


@dataclass(frozen=True)
class ConsumerOptions(CommonOptions):
    """Options of an ``amqp://`` :class:`~syncapi.amqp.Consumer`."""

    prefetch: int = 100
    """Most unacknowledged messages the broker sends each subscriber ahead
    (``basic.qos``); also the most a subscriber holds in memory."""
    group: str | None = None
    """The consumer group, for channels on an exchange: the subscribers of one group
    share one durable queue per binding (named by :attr:`queue_template`), so they
    share its messages and the queue keeps them while nobody listens. ``None``: each
    subscriber gets its own exclusive, server-named queue that lives as long as it does.
    Channels that name a queue (the default exchange, ``is: queue``) ignore it."""
    queue_template: str = "{group}.{exchange}.{routing_key}"
    """The name of a group's queue; ``{group}``, ``{exchange}`` and ``{routing_key}``
    (the channel address) are filled in."""
    max_redeliveries: int | None = 1
    """How many times ``on_error="requeue"`` (the default) requeues a message whose
    callback raised; at the next failure it is rejected instead: it goes to the queue's
    dead-letter exchange if the queue has one (see :attr:`queue_arguments`), otherwise
    the broker drops it — with a warning either way. So a poison message cannot loop
    forever. ``None``: requeue every time. Failures are counted by this consumer
    (in memory, for the last 10,000 failing messages; a message is known by its
    ``message_id``, or by its exchange, routing key and payload when it has none). A
    nack your own callback sends (``ack="manual"``) is never overridden."""
    consumer_tag_prefix: str = "syncapi"
    """The start of every consumer tag the broker shows."""

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_range(self, "prefetch", 0, 65535)
        _check_range(self, "max_redeliveries", 0)
        if self.group is not None and not self.group:
            raise ConfigError("option 'group' must be a non-empty string or None")
        try:
            self.queue_template.format(group="g", exchange="e", routing_key="r")
        except (KeyError, IndexError, ValueError) as exc:
            raise ConfigError(
                f"option 'queue_template' {self.queue_template!r} is not a valid template: "
                "it may use {group}, {exchange} and {routing_key}"
            ) from exc
