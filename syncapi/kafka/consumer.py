"""The receiving side of ``kafka://``: Consumer, Subscriber and EnvelopeReader.

Each :class:`Subscriber` is one member of its consumer group: one ``KafkaConsumer``
subscribed to one topic, owned by the thread that fetches (a ``KafkaConsumer`` is not
thread-safe, so every call to it is made under the subscriber's poll lock). Acks and
nacks from worker threads only touch the :class:`~syncapi.kafka.offsets.OffsetTracker`;
the fetching thread commits and seeks.

Delivery is at-least-once: a message's offset is committed only once it and every
message before it in its partition were acked — every ``commit_interval`` seconds, when
partitions are revoked, and on close. A nack with requeue rewinds the partition to the
message (messages after it in that partition come again, after it); after
``max_deliveries`` failed deliveries, or on a reject, the message goes to the
``dead_letter`` topic (or is logged at ERROR and skipped).

A *keeper* thread per subscriber polls with every partition paused whenever nobody has
polled for a while (a long callback on the fetching thread, or a paused receive loop),
so a slow callback never gets the member evicted by ``max_poll_interval_ms``.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import deque
from collections.abc import Hashable, Sequence
from typing import Any

from .. import core
from ..errors import ClosedError, ConfigError, ReceiveError, SyncapiError
from ..errors import TimeoutError as SyncapiTimeout
from ..headers import Headers
from ..servers import ServerURL, resolve_options
from .bindings import ChannelBindings, OperationBindings
from .clients import bootstrap_servers, build, describe_error, refuse_security, translate
from .offsets import OffsetTracker
from .options import ConsumerOptions
from .topics import TopicAdmin
from .wire import CAPABILITIES, read_headers

__all__ = ["Consumer", "EnvelopeReader", "Subscriber"]

_log = logging.getLogger("syncapi.kafka")
_SLICE = 0.1  # seconds one kafka-python poll blocks at most, so interrupts land fast


class EnvelopeReader(core.EnvelopeReader):
    """A received Kafka record.

    Extras: :attr:`topic`, :attr:`partition`, :attr:`offset`, :attr:`key`,
    :attr:`timestamp` (seconds) and :attr:`timestamp_ms`, :attr:`delivery_count`,
    :attr:`redelivered`. Its :attr:`ordering_key` is the partition, so ``workers > 1``
    never runs two callbacks of one partition at once.
    """

    __slots__ = ("_decoded", "_offset", "_record", "_tp", "_withdrawn")

    def __init__(self, record: Any, tp: Hashable, subscriber: Subscriber) -> None:
        # the base initialiser, unrolled: this runs once per received message
        value = record.value
        self._payload = value if value is not None else b""
        self._pos = 0
        self._headers = None
        self._content_type = None
        self._decoded = not record.headers
        self._channel = subscriber._channel
        self._subscriber = subscriber
        self._settled = False
        self._record = record
        self._tp = tp
        self._offset: int = record.offset
        self._withdrawn = False

    def _decode(self) -> None:
        self._headers, self._content_type = read_headers(self._record.headers)
        self._decoded = True

    @property
    def headers(self) -> Headers:
        """The record's headers (the ``content-type`` header is :attr:`content_type`)."""
        if not self._decoded:
            self._decode()
        if self._headers is None:
            self._headers = Headers()
        return self._headers

    @property
    def content_type(self) -> str | None:
        """The content type the sender set (record header ``content-type``), or ``None``."""
        if not self._decoded:
            self._decode()
        return self._content_type

    @property
    def topic(self) -> str:
        """The topic the record was read from."""
        return str(self._record.topic)

    @property
    def partition(self) -> int:
        """The partition the record was read from."""
        return int(self._record.partition)

    @property
    def offset(self) -> int:
        """The record's offset in its partition."""
        return self._offset

    @property
    def key(self) -> bytes | None:
        """The record key, or ``None``."""
        key = self._record.key
        return None if key is None else bytes(key)

    @property
    def timestamp_ms(self) -> int:
        """The record's timestamp in milliseconds since the epoch (Kafka's own unit)."""
        return int(self._record.timestamp)

    @property
    def timestamp(self) -> float:
        """The record's timestamp in seconds since the epoch."""
        return self._record.timestamp / 1000  # type: ignore[no-any-return]

    @property
    def delivery_count(self) -> int:
        """How many times this record was delivered to this subscriber, this time included
        (more than 1 after nacks; a restart or rebalance starts counting again)."""
        sub = self._subscriber
        assert isinstance(sub, Subscriber)
        return sub._tracker.delivery_count(self._tp, self._offset)

    @property
    def redelivered(self) -> bool:
        """Whether this record was nacked before and comes again."""
        return self.delivery_count > 1

    @property
    def withdrawn(self) -> bool:
        """Whether the subscriber took the message back before it was settled (its
        partition was rewound to an earlier message, or revoked): it will be delivered
        again, and settling it does nothing."""
        return self._withdrawn

    @property
    def ordering_key(self) -> Hashable | None:
        """What ``workers > 1`` keeps in order (option ``ordering``): the partition by
        default; with ``"key"``, the partition and key (``None`` for a record without a
        key); with ``"none"``, ``None``."""
        sub = self._subscriber
        assert isinstance(sub, Subscriber)
        mode = sub._ordering
        if mode == "partition":
            return self._tp
        key = self._record.key
        return None if mode == "none" or key is None else (self._tp, key)

    @property
    def identity(self) -> str:
        """``kafka topic 'T' partition P offset O`` for logs."""
        return f"kafka topic {self._record.topic!r} partition {self._record.partition} offset {self._offset}"

    def _withdraw(self) -> None:
        self._withdrawn = True
        self._settled = True

    def ack(self) -> None:
        """Acknowledge: the record was handled; its offset may be committed."""
        if self._withdrawn:
            return
        if self._settled:
            self._settle()  # raises the "already settled" ClosedError
        self._settled = True
        sub = self._subscriber
        assert isinstance(sub, Subscriber)
        sub._tracker.settle(self)

    def nack(self, requeue: bool = True) -> None:
        """Deliver again (rewinding the partition to this record) or, with
        ``requeue=False``, dead-letter or skip it."""
        if self._withdrawn:
            return
        super().nack(requeue)

    def _fail(self, requeue: bool) -> None:
        if self._withdrawn:
            return  # it comes again after the record that was nacked before it
        super()._fail(requeue)


class Consumer(core.Consumer["Subscriber"]):
    """Receives from a Kafka cluster: ``kafka://host:9092?group_id=billing``.

    Options: :class:`~syncapi.kafka.ConsumerOptions` from the URL query or keywords.
    Making it reaches the cluster once (a short-lived admin client), so an unreachable
    cluster fails here with :class:`~syncapi.errors.ConnectError`.
    Each :meth:`subscriber` is one group member with its own ``KafkaConsumer``.
    Thread-safe.
    """

    scheme = "kafka"
    capabilities = CAPABILITIES

    def __init__(self, url: ServerURL | str, **options: Any) -> None:
        core.Consumer.__init__(self, url)
        self.options: ConsumerOptions = resolve_options(ConsumerOptions, self.url.query, options)
        self._bootstrap = bootstrap_servers(self.url)
        self._admin = TopicAdmin.for_options(self.options, self._bootstrap)
        _check_client_keys(self.options.client_config)
        self._admin.probe()  # reach the cluster now: an unreachable one fails fast
        self._dead_letter_lock = threading.Lock()
        self._dead_letter: Any = None  # a syncapi.kafka Publisher, made on first use

    def _open_subscriber(
        self, channel: str, bindings: Any, operation_bindings: Any, security: Any
    ) -> Subscriber:
        refuse_security(security)
        channel_bindings = ChannelBindings.coerce(bindings)
        op = OperationBindings.coerce(operation_bindings)
        topic = self._admin.declare(channel, channel_bindings)
        group_id = (op.group_id_value if op else None) or self.options.group_id
        client_id = (op.client_id_value if op else None) or self.options.client_id
        return Subscriber(
            self,
            channel,
            topic,
            group_id=group_id,
            client_id=client_id,
            bindings=channel_bindings,
            operation_bindings=op,
        )

    def _dead_letter_publisher(self) -> Any:
        target = self.options.dead_letter
        assert target is not None
        with self._dead_letter_lock:
            self._check_open()
            if self._dead_letter is None:
                from .producer import Producer

                producer = Producer(
                    dataclasses.replace(self.url, query={}),  # consumer options stay here
                    client_id=f"{self.options.client_id or 'syncapi'}-dead-letter",
                    connect_timeout=self.options.connect_timeout,
                    request_timeout_ms=self.options.request_timeout_ms,
                    client_config=_connection_settings(self.options.client_config),
                )
                self._dead_letter = producer.publisher(target)
            return self._dead_letter

    def _close(self) -> None:
        try:
            dead_letter = self._dead_letter
            if dead_letter is not None:
                dead_letter._producer.close()
        finally:
            self._admin.close()


def _check_client_keys(config: dict[str, Any] | None) -> None:
    """Refuse ``client_config`` keys ``KafkaConsumer`` does not know, before any
    subscriber is made (kafka-python would only say so then)."""
    if not config:
        return
    from kafka import KafkaConsumer

    unknown = sorted(set(config) - set(KafkaConsumer.DEFAULT_CONFIG))
    if unknown:
        raise ConfigError(
            f"option 'client_config': {', '.join(map(repr, unknown))} is not a "
            "KafkaConsumer setting of kafka-python"
        )


def _connection_settings(config: dict[str, Any] | None) -> dict[str, Any] | None:
    """The part of a consumer's ``client_config`` that a producer also understands."""
    if not config:
        return None
    from kafka import KafkaProducer

    allowed = set(KafkaProducer.DEFAULT_CONFIG)
    return {k: v for k, v in config.items() if k in allowed} or None


class Subscriber(core.Subscriber):
    """Receives from one topic as one member of the consumer group.

    The loop threads own it; ``close()`` from any thread stops a blocked fetch within
    about 0.1 s, commits what was acknowledged, and leaves the group.
    """

    default_on_error = "requeue"
    poll_interval = 0.5

    def __init__(
        self,
        consumer: Consumer,
        channel: str,
        topic: str,
        *,
        group_id: str | None,
        client_id: str | None,
        bindings: ChannelBindings | None,
        operation_bindings: OperationBindings | None,
    ) -> None:
        from kafka import KafkaConsumer

        super().__init__(channel, bindings=bindings, operation_bindings=operation_bindings)
        self._consumer = consumer
        self._options = options = consumer.options
        self._topic = topic
        self._group_id = group_id
        self._ordering = options.ordering
        self._tracker = OffsetTracker()
        self._poll_lock = threading.Lock()  # guards every call into the KafkaConsumer
        # polled, not handed out yet (and not in the tracker): a poll takes up to
        # max_poll_records, a fetch hands out what the loop asks for
        self._buffer: deque[EnvelopeReader] = deque()
        self._wakeups = 0  # bumped by _interrupt; a fetch that sees it change returns
        self._closing = False
        self._troubled = False  # the last poll failed with a retriable error
        self._next_commit = 0.0
        self._last_poll = time.monotonic()
        # often enough that a rebalance started while no loop polls completes promptly
        self._keep_every = max(0.05, min(options.max_poll_interval_ms / 4000, 0.2))
        settings = options.client_settings(consumer._bootstrap, client_id, group_id)
        self._kc: Any = build(KafkaConsumer, "Kafka consumer", settings)
        try:
            self._kc.subscribe([topic], listener=_make_listener(self))
        except Exception as exc:
            self._kc.close(autocommit=False)
            raise translate(exc, f"subscribing to Kafka topic {topic!r}") from exc
        self._await_topic_metadata(topic, options.connect_timeout)
        self._keeper_stop = threading.Event()
        self._keeper = threading.Thread(
            target=self._keep, name=f"syncapi-kafka-keeper[{topic}]", daemon=True
        )
        self._keeper.start()

    def _await_topic_metadata(self, topic: str, timeout: float) -> None:
        """Wait (up to ``timeout``) until the client knows the topic's partitions.

        The group join happens at the first poll; a member that joins before its
        metadata has the topic gets an empty assignment, and kafka-python 3.0's rejoin
        once the metadata arrives was seen to stall for minutes on a loaded machine.
        kafka-python's IO thread fetches the subscribed topic's metadata (creating the
        topic where the broker auto-creates topics); this only waits for it.
        """
        cluster = getattr(self._kc, "_cluster", None)
        if cluster is None:  # pragma: no cover - another kafka-python layout
            return
        deadline = time.monotonic() + timeout
        while not cluster.partitions_for_topic(topic):
            if time.monotonic() >= deadline:
                _log.warning("%r: no metadata for Kafka topic %r yet; joining anyway", self, topic)
                return
            cluster.request_update()
            time.sleep(0.02)

    # -- public extras --------------------------------------------------------------------
    @property
    def topic(self) -> str:
        """The Kafka topic (``ChannelBindings.topic``, else the channel address)."""
        return self._topic

    @property
    def group_id(self) -> str | None:
        """The consumer group (``None``: no group; every partition, nothing committed)."""
        return self._group_id

    def assignment(self) -> set[tuple[str, int]]:
        """The ``(topic, partition)`` pairs this subscriber reads now."""
        with self._poll_lock:
            self._check_open()
            return {(tp.topic, tp.partition) for tp in self._kc.assignment()}

    def wait_assigned(self, timeout: float | None = 30.0) -> set[tuple[str, int]]:
        """Block until this subscriber has partitions and knows where to read them from.

        After it returns, every message sent is received (with ``auto_offset_reset=
        "latest"``, messages sent before it may not be). Records fetched meanwhile are
        kept for the next fetch. Not to be called while a receive loop runs.

        Raises:
            TimeoutError: no partition was assigned within ``timeout`` (e.g. the group
                has more members than the topic has partitions).
        """
        core.check_timeout(timeout)
        if self._loops:
            raise ConfigError(
                f"{self!r}: wait_assigned() cannot run beside a receive loop (the loop owns "
                "the polling); use assignment() to look"
            )
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._poll_lock:
            self._check_open()
            while True:
                assigned = self._kc.assignment()
                if assigned:
                    try:
                        for tp in assigned:
                            left = (
                                None if deadline is None else max(0.0, deadline - time.monotonic())
                            )
                            self._kc.position(
                                tp, timeout_ms=None if left is None else int(left * 1000) + 1
                            )
                    except Exception as exc:
                        raise translate(exc, f"reading positions of {self!r}") from exc
                    return {(tp.topic, tp.partition) for tp in assigned}
                if deadline is not None and time.monotonic() >= deadline:
                    raise SyncapiTimeout(
                        f"{self!r}: no partition assigned within {timeout} s "
                        f"(group {self._group_id!r})"
                    )
                self._unpause()
                self._poll(_SLICE)

    def commit(self, timeout: float | None = 10.0) -> None:
        """Commit the acknowledged offsets now (they are also committed every
        ``commit_interval``, on rebalance and on close). A no-op without a group."""
        core.check_timeout(timeout)
        with self._poll_lock:
            self._check_open()
            self._commit_sync(timeout)

    # -- hooks ----------------------------------------------------------------------------
    def _fetch(self, max_messages: int, timeout: float | None) -> Sequence[EnvelopeReader]:
        wakeups = self._wakeups
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._poll_lock:
            if self._closed and not self._loops:
                raise ClosedError(f"{self!r} is closed")
            self._unpause()
            self._maintain()
            out = self._take(max_messages)
            while not out:
                if self._wakeups != wakeups or self._closing:
                    return []
                left = _SLICE if deadline is None else min(_SLICE, deadline - time.monotonic())
                if left <= 0:
                    return []
                self._poll(left)
                out = self._take(max_messages)
                if not out:
                    self._unpause()
                    self._maintain()
            return out

    def _ack(self, envelope: core.EnvelopeReader) -> None:  # pragma: no cover - ack() inlined
        assert isinstance(envelope, EnvelopeReader)
        self._tracker.settle(envelope)

    def _nack(self, envelope: core.EnvelopeReader, requeue: bool) -> None:
        assert isinstance(envelope, EnvelopeReader)
        if requeue:
            limit = self._options.max_deliveries
            count = self._tracker.delivery_count(envelope._tp, envelope._offset)
            if limit is None or count < limit:
                self._tracker.rewind(envelope)
                return
            reason = f"delivered {count} times (max_deliveries)"
        else:
            reason = "rejected"
        self._dead_letter(envelope, reason)

    def _release(self, envelope: core.EnvelopeReader) -> None:
        assert isinstance(envelope, EnvelopeReader)
        self._tracker.rewind(envelope, failed=False)

    def _dead_letter(self, env: EnvelopeReader, reason: str) -> None:
        """Move ``env`` to the dead-letter topic (or log and skip it), then let its offset
        be committed. If the dead-letter send fails, the message is rewound instead, so
        it is never lost."""
        target = self._options.dead_letter
        if target is not None:
            headers = env.headers.copy()
            headers["x-death-reason"] = reason
            headers["x-original-topic"] = env.topic
            headers["x-original-partition"] = str(env.partition)
            headers["x-original-offset"] = str(env.offset)
            try:
                publisher = self._consumer._dead_letter_publisher()
                letter = publisher.envelope(
                    env.payload, headers=headers, content_type=env.content_type, key=env.key
                )
                publisher.send(letter)
            except Exception as exc:  # whatever failed, the message must not be lost
                _log.error(
                    "%s %s: dead-letter topic %r failed (%s); it will be delivered again",
                    env.identity,
                    reason,
                    target,
                    exc,
                )
                self._tracker.rewind(env)
                return
            _log.warning("%s %s: moved to %r", env.identity, reason, target)
        else:
            _log.error(
                "%s %s: skipped (set the dead_letter option to keep such messages)",
                env.identity,
                reason,
            )
        self._tracker.settle(env)

    def _interrupt(self) -> None:
        self._wakeups += 1

    def _keepalive(self) -> None:
        self._keep_membership(blocking=True)

    def _close(self) -> None:
        self._closing = True
        self._keeper_stop.set()
        if self._keeper is not threading.current_thread():
            self._keeper.join(5.0)
        with self._poll_lock:
            try:
                self._commit_sync(self._options.connect_timeout)
            except SyncapiError as exc:
                _log.warning("%r: final commit failed: %s", self, exc)
            try:
                self._kc.close(
                    autocommit=False, timeout_ms=int(self._options.connect_timeout * 1000)
                )
            except Exception:
                _log.warning("%r: closing the Kafka consumer failed", self, exc_info=True)
            self._buffer.clear()

    # -- internals (under the poll lock) ----------------------------------------------------
    def _poll(self, seconds: float) -> None:
        """One kafka-python poll (up to ``max_poll_records``) into the buffer."""
        try:
            batches = self._kc.poll(timeout_ms=max(0, int(seconds * 1000)))
        except Exception as exc:
            if not _retriable(exc):
                raise ReceiveError(
                    f"{self!r}: polling Kafka failed: {describe_error(exc)}"
                ) from exc
            # kafka-python reconnects by itself; say so once per outage, not per poll
            if not self._troubled:
                self._troubled = True
                _log.warning("%r: %s; retrying", self, describe_error(exc))
            time.sleep(min(seconds, _SLICE))
            return
        finally:
            self._last_poll = time.monotonic()
        if self._troubled:
            self._troubled = False
            _log.warning("%r: polling works again", self)
        if batches:
            buffer = self._buffer
            for tp, records in batches.items():
                buffer.extend([EnvelopeReader(record, tp, self) for record in records])

    def _take(self, n: int) -> list[EnvelopeReader]:
        """Hand out up to ``n`` buffered messages, registering them with the tracker
        partition by partition (a partition with a rewind pending is dropped: the seek
        reads it again)."""
        buffer = self._buffer
        tracker = self._tracker
        out: list[EnvelopeReader] = []
        while buffer and len(out) < n:
            tp = buffer[0]._tp
            group = [buffer.popleft()]
            while buffer and len(out) + len(group) < n and buffer[0]._tp == tp:
                group.append(buffer.popleft())
            if tracker.delivered(tp, group):
                out += group
        return out

    def _maintain(self) -> None:
        """Apply pending rewinds (seeks) and commit when it is time."""
        for tp, offset in self._tracker.take_rewinds():
            try:
                self._kc.seek(tp, offset)
            except Exception as exc:  # revoked meanwhile: the next owner reads it
                _log.debug("%r: seek of %s to %d skipped: %s", self, tp, offset, exc)
            if self._buffer:
                self._buffer = deque(e for e in self._buffer if e._tp != tp)
        if self._group_id is None:
            return
        now = time.monotonic()
        if now < self._next_commit:
            return
        self._next_commit = now + self._options.commit_interval
        offsets = self._tracker.to_commit()
        if offsets:
            self._commit_async(offsets)

    def _commit_async(self, offsets: dict[Hashable, int]) -> None:
        from kafka.structs import OffsetAndMetadata

        def done(_offsets: Any, result: Any) -> None:
            if isinstance(result, BaseException):
                self._tracker.commit_failed(offsets)
                _log.warning("%r: commit of %s failed: %s", self, offsets, describe_error(result))

        try:
            self._kc.commit_async(
                {tp: OffsetAndMetadata(o, "", -1) for tp, o in offsets.items()}, callback=done
            )
        except Exception as exc:
            self._tracker.commit_failed(offsets)
            _log.warning("%r: commit failed: %s", self, describe_error(exc))

    def _commit_sync(self, timeout: float | None) -> None:
        if self._group_id is None:
            return
        from kafka.structs import OffsetAndMetadata

        offsets = self._tracker.to_commit()
        if not offsets:
            return
        try:
            self._kc.commit(
                {tp: OffsetAndMetadata(o, "", -1) for tp, o in offsets.items()},
                timeout_ms=None if timeout is None else int(timeout * 1000),
            )
        except Exception as exc:
            self._tracker.commit_failed(offsets)
            raise translate(exc, f"committing offsets of {self!r}") from exc

    # -- the keeper ------------------------------------------------------------------------
    def _keep(self) -> None:
        stop = self._keeper_stop
        while not stop.wait(self._keep_every):
            try:
                self._keep_membership(blocking=False)
            except Exception:
                _log.warning("%r: keeping the group membership failed", self, exc_info=True)

    def _keep_membership(self, *, blocking: bool) -> None:
        """Poll with every partition paused if nobody polled for a while."""
        if self._closing or time.monotonic() - self._last_poll < self._keep_every:
            return
        if not self._poll_lock.acquire(blocking=blocking):
            return  # the fetching thread is polling: nothing to do
        try:
            if self._closed and not self._loops:
                return  # closed while we waited for the lock
            kc = self._kc
            assigned = kc.assignment()
            if assigned:
                kc.pause(*assigned)
            try:
                self._poll(_SLICE)  # long enough for a join or a rebalance step
                self._maintain()
            finally:
                self._unpause()
        finally:
            self._poll_lock.release()

    def _unpause(self) -> None:
        """Resume every paused partition (under the poll lock).

        Only the keeper pauses, and only around its own poll. A rebalance inside that
        poll can take a paused partition away and a later one give it back with its
        paused flag kept (kafka-python 3.0 keeps a re-assigned partition's state): the
        member would then hold a partition it never reads. So every fetch resumes
        whatever it finds paused.
        """
        paused = self._kc.paused()
        if paused:
            self._kc.resume(*paused)

    # -- rebalances (called on kafka-python's IO thread) --------------------------------------
    async def _revoked(self, revoked: set[Any], lost: bool = False) -> None:
        # runs inside a poll, whose caller holds the poll lock and waits: the buffer is
        # ours to filter. Polled, not handed out: whoever owns the partition next reads
        # them (this member too, after a seek back: see OffsetTracker.revoke)
        floors: dict[Any, int] = {}
        if self._buffer:
            kept: deque[EnvelopeReader] = deque()
            for env in self._buffer:
                if env._tp in revoked:
                    floors.setdefault(env._tp, env._offset)
                else:
                    kept.append(env)
            self._buffer = kept
        if not self._closing and not lost:
            deadline = time.monotonic() + self._options.drain_timeout
            sleep = getattr(getattr(self._kc, "_net", None), "sleep", None)
            while (
                sleep is not None
                and self._tracker.pending(revoked)
                and time.monotonic() < deadline
                and not self._closing
            ):
                await sleep(0.02)
        offsets = self._tracker.revoke(revoked, floors)
        if lost or not offsets or self._group_id is None:
            return
        from kafka.structs import OffsetAndMetadata

        try:
            await self._kc.commit_async(
                {tp: OffsetAndMetadata(o, "", -1) for tp, o in offsets.items()}
            )
        except Exception as exc:
            _log.warning(
                "%r: commit on revocation of %s failed (their messages may come again): %s",
                self,
                sorted(revoked),
                describe_error(exc),
            )
        else:
            _log.debug("%r: committed %s on revocation", self, offsets)


def _retriable(exc: BaseException) -> bool:
    """Whether kafka-python says trying again may work (a broker restart, a leader move)."""
    import kafka.errors as errors

    return isinstance(exc, errors.KafkaError) and bool(getattr(exc, "retriable", False))


def _make_listener(sub: Subscriber) -> Any:
    """A kafka-python async rebalance listener that calls back into ``sub``."""
    from kafka.consumer.subscription_state import AsyncConsumerRebalanceListener

    class Listener(AsyncConsumerRebalanceListener):  # type: ignore[misc]
        async def on_partitions_revoked(self, revoked: set[Any]) -> None:
            await sub._revoked(revoked)

        async def on_partitions_assigned(self, assigned: set[Any]) -> None:
            _log.debug("%r: assigned %s", sub, sorted(assigned))

        async def on_partitions_lost(self, lost: set[Any]) -> None:
            await sub._revoked(lost, lost=True)

    return Listener()
