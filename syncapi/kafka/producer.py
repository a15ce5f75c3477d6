"""The sending side of ``kafka://``: Producer, Publisher and EnvelopeWriter."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from .. import core
from ..errors import ConfigError, MessageTooLarge, SendError, TimeoutError
from ..headers import HeadersLike
from ..servers import ServerURL, resolve_options
from .bindings import ChannelBindings, MessageBindings, OperationBindings
from .clients import bootstrap_servers, build, describe_error, refuse_security, translate
from .options import ProducerOptions
from .topics import TopicAdmin
from .wire import CAPABILITIES, CONTENT_TYPE_HEADER, to_key

__all__ = ["EnvelopeWriter", "Producer", "Publisher"]

_log = logging.getLogger("syncapi.kafka")


class EnvelopeWriter(core.EnvelopeWriter):
    """An outgoing Kafka record: payload, headers, content type, and the Kafka extras
    :meth:`set_key`, :meth:`set_partition` and :meth:`set_timestamp`.

    The content type travels as the record header ``content-type``; ``str`` and
    ``bytes`` header values read back with their own type (see
    :meth:`syncapi.Headers.to_wire`).
    """

    __slots__ = ("_key", "_partition", "_timestamp_ms")

    message_bindings = MessageBindings

    def __init__(
        self,
        payload: core.Payload = b"",
        *,
        headers: HeadersLike | None = None,
        content_type: str | None = None,
        bindings: Any = None,
        key: bytes | str | None = None,
        partition: int | None = None,
        timestamp: float | None = None,
    ) -> None:
        super().__init__(payload, headers=headers, content_type=content_type, bindings=bindings)
        self._key: bytes | None = None
        self._partition: int | None = None
        self._timestamp_ms: int | None = None
        if key is not None:
            self.set_key(key)
        if partition is not None:
            self.set_partition(partition)
        if timestamp is not None:
            self.set_timestamp(timestamp)

    def set_key(self, key: bytes | bytearray | memoryview | str | None) -> None:
        """Set the record key (``str`` is UTF-8 encoded; ``None`` unsets). Records with
        the same key go to the same partition, so their order is kept."""
        self._key = to_key(key)

    def set_partition(self, partition: int | None) -> None:
        """Send to this partition instead of the one the key (or the partitioner) picks."""
        if partition is not None and (
            not isinstance(partition, int) or isinstance(partition, bool) or partition < 0
        ):
            raise ConfigError(f"partition must be an integer >= 0 or None, got {partition!r}")
        self._partition = partition

    def set_timestamp(self, timestamp: float | None) -> None:
        """Set the record's timestamp in seconds since the epoch (``None``: the send time)."""
        if timestamp is None:
            self._timestamp_ms = None
            return
        if isinstance(timestamp, bool) or not isinstance(timestamp, (int, float)) or timestamp < 0:
            raise ConfigError(f"timestamp must be seconds since the epoch, got {timestamp!r}")
        self._timestamp_ms = int(timestamp * 1000)

    @property
    def key(self) -> bytes | None:
        """The record key, or ``None``."""
        return self._key

    @property
    def partition(self) -> int | None:
        """The partition asked for with :meth:`set_partition`, or ``None``."""
        return self._partition

    @property
    def timestamp(self) -> float | None:
        """The timestamp set with :meth:`set_timestamp` (seconds), or ``None``."""
        return None if self._timestamp_ms is None else self._timestamp_ms / 1000


class _Client:
    """The producer's one ``KafkaProducer``, replaced when kafka-python makes it unusable.

    kafka-python 3.0's idempotent producer turns any non-retriable batch error (a record
    the broker finds too large, for one) into a *fatal* state in which every later send
    fails. The failed sends raise to their callers; the next send gets a fresh client.
    """

    def __init__(self, settings: dict[str, Any], what: str) -> None:
        from kafka import KafkaProducer

        self._cls = KafkaProducer
        self._settings = settings
        self._what = what
        self._lock = threading.Lock()
        self.current: Any = build(KafkaProducer, "Kafka producer", settings)

    def recover(self, broken: Any) -> None:
        """Replace ``broken`` with a new client if it is in kafka-python's fatal state."""
        manager = getattr(broken, "_transaction_manager", None)
        if manager is None or not manager.has_fatal_error():
            return
        with self._lock:
            if self.current is not broken:
                return  # another thread recovered already
            _log.warning(
                "%s is in kafka-python's fatal state after %s; starting a new one",
                self._what,
                describe_error(manager.last_error) if manager.last_error else "an error",
            )
            self.current = build(self._cls, "Kafka producer", self._settings)
        try:
            broken.close(timeout=0)
        except Exception:
            _log.debug("closing the broken producer failed", exc_info=True)

    def close(self, timeout: float | None) -> None:
        with self._lock:
            client = self.current
        client.close(timeout=timeout)


class Producer(core.Producer["Publisher"]):
    """Sends to a Kafka cluster: ``kafka://host1:9092,host2:9092?client_id=...``.

    One thread-safe ``KafkaProducer`` (made and connected here) is shared by every
    publisher. Options: :class:`~syncapi.kafka.ProducerOptions` from the URL query or
    keywords.

    Raises:
        ConnectError: no broker answered within ``connect_timeout``.
        ConfigError: a bad URL or option.
    """

    scheme = "kafka"
    capabilities = CAPABILITIES

    def __init__(self, url: ServerURL | str, **options: Any) -> None:
        core.Producer.__init__(self, url)
        self.options: ProducerOptions = resolve_options(ProducerOptions, self.url.query, options)
        self._bootstrap = bootstrap_servers(self.url)
        self._client = _Client(
            self.options.client_settings(self._bootstrap, None), f"Kafka producer for {self.url}"
        )
        self._close_timeout: float | None = self.options.connect_timeout
        self._admin = TopicAdmin.for_options(self.options, self._bootstrap)

    def _open_publisher(
        self, channel: str, bindings: Any, operation_bindings: Any, security: Any
    ) -> Publisher:
        refuse_security(security)
        channel_bindings = ChannelBindings.coerce(bindings)
        topic = self._admin.declare(channel, channel_bindings)
        return Publisher(
            self,
            channel,
            topic,
            bindings=channel_bindings,
            operation_bindings=OperationBindings.coerce(operation_bindings),
        )

    def flush(self, timeout: float | None = None) -> None:
        """Wait until every record handed to kafka-python is delivered or failed."""
        self._check_open()
        try:
            self._client.current.flush(timeout=timeout)
        except Exception as exc:
            raise translate(exc, f"flushing {self!r}") from exc

    def close(self, timeout: float | None = 10.0) -> None:
        """Close every publisher, then wait up to ``timeout`` seconds (``None``: as long
        as it takes) for records in flight to be delivered, and release the client."""
        core.check_timeout(timeout)
        self._close_timeout = timeout
        super().close(timeout)

    def _close(self) -> None:
        try:
            self._client.close(timeout=self._close_timeout)
        finally:
            self._admin.close()


class Publisher(core.Publisher[EnvelopeWriter]):
    """Sends to one topic. ``send`` is thread-safe and returns when the broker
    acknowledged every record (``acks``), or raises :class:`~syncapi.errors.SendError`
    naming the envelopes that failed (the others were delivered)."""

    envelope_class = EnvelopeWriter

    def __init__(
        self,
        producer: Producer,
        channel: str,
        topic: str,
        *,
        bindings: ChannelBindings | None,
        operation_bindings: OperationBindings | None,
    ) -> None:
        super().__init__(channel, bindings=bindings, operation_bindings=operation_bindings)
        self._producer = producer
        self._client = producer._client
        self._topic = topic
        self._send_timeout = producer.options.send_timeout

    @property
    def topic(self) -> str:
        """The Kafka topic (``ChannelBindings.topic``, else the channel address)."""
        return self._topic

    def envelope(
        self,
        payload: core.Payload = b"",
        *,
        headers: HeadersLike | None = None,
        content_type: str | None = None,
        bindings: Any = None,
        key: bytes | str | None = None,
        partition: int | None = None,
        timestamp: float | None = None,
    ) -> EnvelopeWriter:
        """Make a Kafka envelope; ``key``, ``partition`` and ``timestamp`` as on
        :class:`EnvelopeWriter`."""
        return EnvelopeWriter(
            payload,
            headers=headers,
            content_type=content_type,
            bindings=bindings,
            key=key,
            partition=partition,
            timestamp=timestamp,
        )

    def _send(self, envelopes: Sequence[core.EnvelopeWriter], timeout: float | None) -> None:
        client = self._client.current
        send = client.send
        topic = self._topic
        pending: list[tuple[EnvelopeWriter, Any]] = []
        failures: list[tuple[Any, BaseException | str]] = []
        for env in envelopes:
            assert isinstance(env, EnvelopeWriter)
            headers = env._headers
            wire = headers.to_wire() if headers else []
            if env._content_type is not None:
                wire.append((CONTENT_TYPE_HEADER, env._content_type.encode("utf-8")))
            buf = env._buf
            try:
                future = send(
                    topic,
                    value=buf if type(buf) is bytes else bytes(buf),
                    key=env._key,
                    headers=wire,
                    partition=env._partition,
                    timestamp_ms=env._timestamp_ms,
                )
            except Exception as exc:
                failures.append((env, exc))
            else:
                pending.append((env, future))
        if timeout is None:
            timeout = self._send_timeout
        deadline = None if timeout is None else time.monotonic() + timeout
        timed_out: list[EnvelopeWriter] = []
        for env, future in pending:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                future.get(timeout=left)
            except Exception as exc:
                if not future.is_done:
                    timed_out.append(env)
                else:
                    failures.append((env, exc))
        if failures:
            self._client.recover(client)
            raise self._failed(envelopes, failures, timed_out)
        if timed_out:
            raise TimeoutError(
                f"Kafka topic {topic!r}: {len(timed_out)} of {len(envelopes)} records not "
                f"acknowledged within {timeout} s (they may still be delivered)"
            )

    def _failed(
        self,
        envelopes: Sequence[core.EnvelopeWriter],
        failures: list[tuple[Any, BaseException | str]],
        timed_out: list[EnvelopeWriter],
    ) -> SendError:
        position = {id(env): i for i, env in enumerate(envelopes)}
        reasons = []
        for env, exc in failures[:5]:
            assert isinstance(exc, BaseException)
            reasons.append(f"#{position[id(env)] + 1} ({len(env)} bytes): {describe_error(exc)}")
        more = f"; and {len(failures) - 5} more" if len(failures) > 5 else ""
        lost = f"; {len(timed_out)} not acknowledged in time" if timed_out else ""
        message = (
            f"Kafka topic {self._topic!r}: {len(failures)} of {len(envelopes)} records "
            f"failed: {'; '.join(reasons)}{more}{lost}"
        )
        too_large = all(_is_size_error(exc) for _, exc in failures)
        if too_large:
            message += (
                f" (producer max_request_size is {self._producer.options.max_request_size} "
                "bytes; the broker's limit is message.max.bytes, the topic's max.message.bytes)"
            )
        error: SendError = (
            MessageTooLarge(message, failures) if too_large else SendError(message, failures)
        )
        first = failures[0][1]
        error.__cause__ = first if isinstance(first, BaseException) else None
        return error


def _is_size_error(exc: BaseException | str) -> bool:
    import kafka.errors as errors

    return isinstance(exc, errors.MessageSizeTooLargeError | errors.RecordListTooLargeError)
