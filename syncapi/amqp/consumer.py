"""The receiving side of ``amqp://``: Consumer, Subscriber and EnvelopeReader.

Threading: one :class:`~syncapi.amqp.link.Link` (a pika ``SelectConnection`` on its own
I/O thread) per :class:`Consumer`, one AMQP channel per :class:`Subscriber`. The I/O
thread puts deliveries in the subscriber's in-memory inbox (at most ``prefetch`` of
them, the broker's ``basic.qos``); callbacks run on the receive loop's worker threads,
and their acks go back to the I/O thread, batched. Heartbeats never wait for a callback.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import queue
import threading
import uuid
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from typing import Any

from .. import core
from ..errors import ClosedError, ConfigError, ReceiveError, SyncapiError
from ..headers import Headers
from ..servers import ServerURL, resolve_options
from .bindings import ChannelBindings, OperationBindings
from .channel import ChannelMember
from .link import Connected, Link
from .options import ConsumerOptions
from .params import connection_parameters
from .producer import _check_channel_args
from .topology import Route, declare, subscriber_route
from .wire import CAPABILITIES, read_headers

__all__ = ["Consumer", "EnvelopeReader", "Subscriber"]

_log = logging.getLogger("syncapi.amqp")
_WAKE = object()  # put in an inbox to end a blocked fetch
_ACK, _NACK = 0, 1


class EnvelopeReader(core.EnvelopeReader):
    """A received AMQP message: payload, headers, content type and the AMQP extras.

    Extras: :attr:`exchange`, :attr:`routing_key`, :attr:`delivery_tag`,
    :attr:`redelivered`, :attr:`message_id`, :attr:`correlation_id`, :attr:`reply_to`,
    :attr:`priority`, :attr:`timestamp`, :attr:`expiration`, :attr:`message_type`,
    :attr:`content_encoding`, :attr:`user_id`, :attr:`app_id`, :attr:`persistent` and
    the raw :attr:`header_table`.

    ``ack()``, ``nack(requeue)`` and ``reject()`` may be called from any thread; they
    are sent by the connection's I/O thread. A message received before a reconnect
    cannot be settled on the new connection: its ack is dropped and the broker delivers
    it again (at-least-once).
    """

    __slots__ = ("_generation", "_method", "_props")

    def __init__(
        self,
        payload: bytes,
        method: Any,
        properties: Any,
        *,
        channel: str,
        subscriber: Subscriber | None,
        generation: int,
    ) -> None:
        super().__init__(
            payload,
            content_type=properties.content_type,
            channel=channel,
            subscriber=subscriber,
        )
        self._method = method
        self._props = properties
        self._generation = generation

    @property
    def headers(self) -> Headers:
        """The message's headers (values of types other than ``str``/``bytes`` read back
        as text, see :func:`syncapi.amqp.wire.header_text`)."""
        if self._headers is None:
            self._headers = read_headers(self._props.headers)
        return self._headers

    @property
    def header_table(self) -> dict[str, Any]:
        """The AMQP headers table as pika decoded it (``{}`` when there is none)."""
        return dict(self._props.headers or {})

    @property
    def exchange(self) -> str:
        """The exchange the message was published to (``""``: the default exchange)."""
        return str(self._method.exchange)

    @property
    def routing_key(self) -> str:
        """The routing key it was published with."""
        return str(self._method.routing_key)

    @property
    def delivery_tag(self) -> int:
        """The delivery tag on its channel."""
        return int(self._method.delivery_tag)

    @property
    def redelivered(self) -> bool:
        """Whether the broker delivered it before (to this or another consumer)."""
        return bool(self._method.redelivered)

    @property
    def message_id(self) -> str | None:
        """The ``message_id`` property."""
        return self._props.message_id  # type: ignore[no-any-return]

    @property
    def correlation_id(self) -> str | None:
        """The ``correlation_id`` property."""
        return self._props.correlation_id  # type: ignore[no-any-return]

    @property
    def reply_to(self) -> str | None:
        """The ``reply_to`` property."""
        return self._props.reply_to  # type: ignore[no-any-return]

    @property
    def priority(self) -> int | None:
        """The ``priority`` property."""
        return self._props.priority  # type: ignore[no-any-return]

    @property
    def timestamp(self) -> float | None:
        """The ``timestamp`` property in seconds since the epoch."""
        value = self._props.timestamp
        return None if value is None else float(value)

    @property
    def expiration(self) -> float | None:
        """The per-message TTL in seconds (sent as milliseconds), or ``None``."""
        value = self._props.expiration
        try:
            return None if value is None else int(value) / 1000
        except ValueError:
            return None

    @property
    def message_type(self) -> str | None:
        """The ``type`` property (AsyncAPI's ``messageType``)."""
        return self._props.type  # type: ignore[no-any-return]

    @property
    def content_encoding(self) -> str | None:
        """The ``content_encoding`` property."""
        return self._props.content_encoding  # type: ignore[no-any-return]

    @property
    def user_id(self) -> str | None:
        """The ``user_id`` property (RabbitMQ checks it is the publisher's user)."""
        return self._props.user_id  # type: ignore[no-any-return]

    @property
    def app_id(self) -> str | None:
        """The ``app_id`` property."""
        return self._props.app_id  # type: ignore[no-any-return]

    @property
    def persistent(self) -> bool:
        """Whether it was published persistent (``delivery_mode`` 2)."""
        return self._props.delivery_mode == 2  # type: ignore[no-any-return]

    @property
    def ordering_key(self) -> Hashable | None:
        """``None``: one AMQP queue has no sub-streams to keep in order across workers."""
        return None

    @property
    def identity(self) -> str:
        """Channel, exchange, routing key and delivery tag, for logs."""
        method = self._method
        return (
            f"channel {self._channel!r} (exchange {method.exchange!r}, routing key "
            f"{method.routing_key!r}, delivery {method.delivery_tag})"
        )


class FailureCounts:
    """How often messages failed in this consumer (bounded; thread-safe).

    A message is known by its ``message_id``, or by a digest of its exchange, routing
    key and payload when it has none.
    """

    limit = 10_000

    def __init__(self) -> None:
        self._counts: OrderedDict[bytes | str, int] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _key(env: EnvelopeReader) -> bytes | str:
        if env.message_id:
            return env.message_id
        digest = hashlib.blake2b(digest_size=16)
        for part in (env.exchange.encode(), env.routing_key.encode(), env.payload):
            digest.update(len(part).to_bytes(8, "big"))
            digest.update(part)
        return digest.digest()

    def record(self, env: EnvelopeReader) -> int:
        """Count one more failure of ``env``; return its failures so far."""
        key = self._key(env)
        with self._lock:
            count = self._counts.pop(key, 0) + 1
            self._counts[key] = count
            if len(self._counts) > self.limit:
                self._counts.popitem(last=False)
        return count

    def __len__(self) -> int:
        return len(self._counts)

    def forget(self, env: EnvelopeReader) -> None:
        """Drop ``env``'s count (it was rejected, or it succeeded)."""
        with self._lock:
            self._counts.pop(self._key(env), None)


class _ConsumeChannel(ChannelMember):
    """A subscriber's channel: qos, declarations, the consumer, and settling."""

    def __init__(
        self, link: Link, route: Route, options: ConsumerOptions, what: str, sub: Subscriber
    ) -> None:
        super().__init__(link, what)
        self._route = route
        self._prefetch = options.prefetch
        self._tag_prefix = options.consumer_tag_prefix
        self._sub = sub
        self.queue = route.queue  # the real name once declared (server-named queues)
        self._consumer_tag = ""

    # -- I/O thread ------------------------------------------------------------------------
    def _io_channel_hooks(self, channel: Any) -> None:
        channel.add_on_cancel_callback(lambda frame: self._io_cancelled(channel, frame))

    def _io_setup(self, channel: Any, done: Any) -> None:
        def consume(queue_name: str) -> None:
            self.queue = queue_name
            self._consumer_tag = f"{self._tag_prefix}-{uuid.uuid4().hex[:12]}"
            channel.basic_consume(
                queue=queue_name,
                on_message_callback=self._io_deliver,
                auto_ack=self._sub._no_ack,
                consumer_tag=self._consumer_tag,
                callback=lambda _frame: done(),
            )

        channel.basic_qos(
            prefetch_count=self._prefetch,
            callback=lambda _frame: declare(channel, self._route, consume),
        )

    def _io_deliver(self, channel: Any, method: Any, properties: Any, body: bytes) -> None:
        sub = self._sub
        sub._inbox.put(
            EnvelopeReader(
                body,
                method,
                properties,
                channel=sub._channel,
                subscriber=sub,
                generation=self._generation,
            )
        )

    def _io_cancelled(self, channel: Any, frame: Any) -> None:
        if channel is not self._channel or self._closing:
            return
        if frame.method.consumer_tag != self._consumer_tag:
            return  # an older consumer of this channel; the current one still runs
        _log.warning(
            "%s: the broker cancelled the consumer (queue %r deleted?); declaring it again",
            self._what,
            self.queue,
        )
        self._ready = False
        self._io_setup(channel, lambda: self._io_setup_done(channel))

    def _io_settle(self) -> None:
        """Send the acks and nacks the worker threads queued (one wake-up for many)."""
        ops = self._sub._take_ops()
        channel = self._channel
        generation = self._generation
        stale = 0
        for gen, tag, kind, requeue in ops:
            if channel is None or gen != generation or not channel.is_open:
                stale += 1
            elif kind == _ACK:
                channel.basic_ack(tag)
            else:
                channel.basic_nack(tag, requeue=requeue)
        if stale:
            _log.debug(
                "%s: %d acks/nacks dropped: their messages came on a channel that is gone "
                "(the broker delivers them again)",
                self._what,
                stale,
            )

    def _io_lost(self, error: SyncapiError, by_broker: bool) -> None:
        self._sub._wake()  # a fetch drops what the old channel delivered

    def _io_failed(self, error: SyncapiError) -> None:
        self._sub._fail(error)


class Subscriber(core.Subscriber):
    """A channel for receiving from a queue (see :mod:`syncapi.amqp.topology` for what
    the bindings make of the address).

    At-least-once by default: the message is acked when the callback returns.
    ``ack="manual"`` leaves ``env.ack()``/``env.nack(requeue)``/``env.reject()`` to the
    callback. ``OperationBindings(ack=False)`` consumes with automatic acknowledgement
    (at-most-once: the broker forgets a message once sent; the in-memory inbox is then
    unbounded). A callback that raises: ``on_error="requeue"`` (the default) requeues it
    once and rejects it if it fails again (see :attr:`ConsumerOptions.max_redeliveries`).

    After a reconnect the subscriber re-declares its queue and consumes again by
    itself; messages received before it are dropped from the inbox (the broker
    delivers them again, flagged :attr:`EnvelopeReader.redelivered`).

    Thread-safety: as for every subscriber; settling works from any thread.
    """

    concurrent_fetch = True  # the inbox is a thread-safe queue, no ordering keys

    def __init__(
        self,
        consumer: Consumer,
        channel: str,
        bindings: ChannelBindings | None,
        operation_bindings: OperationBindings | None,
    ) -> None:
        super().__init__(channel, bindings=bindings, operation_bindings=operation_bindings)
        options = consumer._options
        self._options = options
        self._link = consumer._link
        self._no_ack = operation_bindings is not None and operation_bindings.ack is False
        self._inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._ops: list[tuple[int, int, int, bool]] = []
        self._ops_lock = threading.Lock()
        self._waiters = 0  # fetchers blocked on the inbox
        self._waiters_lock = threading.Lock()
        self._failure: SyncapiError | None = None
        self._failures = consumer._failures
        route = subscriber_route(
            channel,
            bindings,
            consumer._vhost,
            group=options.group,
            queue_template=options.queue_template,
            passive=not options.declare,
            arguments=options.queue_arguments,
        )
        self._route = route
        what = f"amqp subscriber {channel!r}" + (
            f" on exchange {route.exchange!r}" if route.exchange else ""
        )
        self._member = _ConsumeChannel(self._link, route, options, what, self)
        self._member.open(options.connect_timeout)

    @property
    def queue(self) -> str:
        """The queue this subscriber consumes (the broker's name for a server-named one;
        it changes after a reconnect)."""
        return self._member.queue

    @property
    def exchange(self) -> str:
        """The exchange the queue is bound to (``""`` when it is not bound)."""
        return self._route.exchange if self._route.bind else ""

    # -- fetching ------------------------------------------------------------------------
    def _fetch(self, max_messages: int, timeout: float | None) -> Sequence[core.EnvelopeReader]:
        if self._failure is not None:
            raise self._failure
        if self._closed:
            raise ClosedError(f"{self!r} is closed")
        inbox = self._inbox
        member = self._member
        out: list[core.EnvelopeReader] = []
        with self._waiters_lock:
            self._waiters += 1
        try:
            item = inbox.get(timeout=timeout) if timeout != 0 else inbox.get_nowait()
        except queue.Empty:
            return out
        finally:
            with self._waiters_lock:
                self._waiters -= 1
        while True:
            if item is _WAKE:
                failure = self._current_failure()
                if failure is not None and not out:
                    raise failure
                break
            # read afresh each time: a channel opened during the wait delivers newer ones
            # (automatic acks: nothing to settle, and the broker will not send it again)
            if item._generation >= member._generation or self._no_ack:
                out.append(item)
                if len(out) >= max_messages:
                    break
            try:
                item = inbox.get_nowait()
            except queue.Empty:
                break
        return out

    def _current_failure(self) -> SyncapiError | None:
        return self._failure  # set by the I/O thread

    def _interrupt(self) -> None:
        # one wake-up per blocked fetcher (start(workers=N) runs N of them); no lock:
        # this may run in a signal handler, and one wake-up more or less is harmless
        for _ in range(max(1, self._waiters)):
            self._inbox.put(_WAKE)

    def _wake(self) -> None:
        self._inbox.put(_WAKE)

    def _fail(self, error: SyncapiError) -> None:
        if not isinstance(error, ClosedError) and self._failure is None:
            failure = ReceiveError(f"{self!r}: the connection is gone for good: {error}")
            failure.__cause__ = error
            self._failure = failure
        self._inbox.put(_WAKE)

    # -- settling ------------------------------------------------------------------------
    def _push(self, env: core.EnvelopeReader, kind: int, requeue: bool) -> None:
        if self._no_ack:
            return  # automatic acknowledgement: the broker settled it on delivery
        assert isinstance(env, EnvelopeReader)
        with self._ops_lock:
            first = not self._ops
            self._ops.append((env._generation, env._method.delivery_tag, kind, requeue))
        if first:
            # a closed connection raises: the broker requeues unacked messages itself
            with contextlib.suppress(SyncapiError):
                self._link.call_soon(self._member._io_settle)

    def _take_ops(self) -> list[tuple[int, int, int, bool]]:
        with self._ops_lock:
            ops, self._ops = self._ops, []
        return ops

    def _ack(self, envelope: core.EnvelopeReader) -> None:
        if self._failures:  # a message that failed before succeeded: forget its failures
            assert isinstance(envelope, EnvelopeReader)
            self._failures.forget(envelope)
        self._push(envelope, _ACK, False)

    def _nack(self, envelope: core.EnvelopeReader, requeue: bool) -> None:
        self._push(envelope, _NACK, requeue)

    def _nack_failed(self, envelope: core.EnvelopeReader, requeue: bool) -> None:
        limit = self._options.max_redeliveries
        if requeue and limit is not None and not self._no_ack:
            assert isinstance(envelope, EnvelopeReader)
            failures = self._failures.record(envelope)
            if failures > limit:
                _log.warning(
                    "%s failed %d times: rejected, not requeued (it goes to the queue's "
                    "dead-letter exchange if it has one, otherwise the broker drops it; "
                    "max_redeliveries=%d)",
                    envelope.identity,
                    failures,
                    limit,
                )
                self._failures.forget(envelope)
                requeue = False
        self._push(envelope, _NACK, requeue)

    def _release(self, envelope: core.EnvelopeReader) -> None:
        self._push(envelope, _NACK, True)  # never started: no failed delivery to count

    def _close(self) -> None:
        self._member.shutdown(5.0)
        self._inbox.put(_WAKE)


class Consumer(Connected, core.Consumer[Subscriber]):
    """A connection to an AMQP 0-9-1 broker for receiving; the factory of
    :class:`Subscriber`.

    ``amqp://user:password@host:5672/vhost?option=value`` (see
    :class:`~syncapi.amqp.ConsumerOptions`). The constructor connects and raises
    :class:`~syncapi.errors.ConnectError` at once for wrong credentials, an unknown
    virtual host or an unreachable broker; later drops are repaired by reconnecting,
    and every subscriber consumes again by itself.

    Thread-safe. The connection lives on an I/O thread of its own: callbacks run on
    worker threads, so a long callback never delays a heartbeat.
    """

    scheme = "amqp"
    capabilities = CAPABILITIES

    def __init__(self, url: ServerURL | str, **options: Any) -> None:
        super().__init__(url)
        self._options: ConsumerOptions = resolve_options(ConsumerOptions, self._url.query, options)
        self._failures = FailureCounts()  # shared by the subscribers: one queue, one count
        self._connect(
            connection_parameters(self._url, self._options, "consumer"), self._options, "consumer"
        )

    @property
    def options(self) -> ConsumerOptions:
        """The options in force."""
        return self._options

    def _open_subscriber(
        self, channel: str, bindings: Any, operation_bindings: Any, security: Any
    ) -> Subscriber:
        channel_bindings, op = _check_channel_args(bindings, operation_bindings, security)
        if not channel:
            raise ConfigError("an amqp subscriber needs a channel address (a queue or binding key)")
        return Subscriber(self, channel, channel_bindings, op)
