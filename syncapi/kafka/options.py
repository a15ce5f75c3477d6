"""Options of ``kafka://`` producers and consumers.

Options come from the server URL's query string or from keyword arguments (keywords win),
in snake_case or camelCase::

    syncapi.producer("kafka://b1:9092,b2:9092?client_id=billing&linger_ms=5")
    syncapi.consumer("kafka://b1:9092", group_id="billing", auto_offset_reset="earliest")

Naming rule: an option that kafka-python also has keeps kafka-python's name and unit
(``linger_ms``, ``batch_size``, ``max_poll_interval_ms``…), so its documentation applies
as it is; an option that syncapi adds is in seconds (``connect_timeout``,
``send_timeout``, ``commit_interval``…), like every ``timeout=`` of syncapi.

``client_config`` is the escape hatch: a dict of further kafka-python settings
(``{"ssl_cafile": "..."}``) passed to every client the producer or consumer makes. It
cannot override a setting syncapi manages (``enable_auto_commit``, ``group_id``…);
trying to is a :class:`~syncapi.errors.ConfigError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ..errors import ConfigError

__all__ = ["CommonOptions", "ConsumerOptions", "ProducerOptions", "TopicMismatch", "admin_settings"]

TopicMismatch = Literal["raise", "warn", "ignore"]
"""What happens when a topic that channel bindings describe exists with another layout:
``"raise"`` a :class:`~syncapi.kafka.TopicMismatchError`, ``"warn"`` (log a warning and
go on) or ``"ignore"``."""

_COMPRESSION = ("gzip", "snappy", "lz4", "zstd")
_ACKS: dict[object, int | str] = {
    "all": "all",
    "-1": "all",
    -1: "all",
    "1": 1,
    1: 1,
    "0": 0,
    0: 0,
}


def _positive(owner: object, *names: str, allow_zero: bool = False) -> None:
    for name in names:
        value = getattr(owner, name)
        if value is None:
            continue
        if value < 0 or (value == 0 and not allow_zero):
            bound = ">= 0" if allow_zero else "> 0"
            raise ConfigError(f"option {name!r} must be {bound}, got {value!r}")


def _check_client_config(
    config: Mapping[str, Any] | None, managed: frozenset[str], options: object
) -> None:
    if config is None:
        return
    for key in config:
        if not isinstance(key, str):
            raise ConfigError(f"option 'client_config': keys must be str, got {key!r}")
        if key in managed:
            hint = (
                f"use the option {key!r} instead"
                if hasattr(options, key)
                else "syncapi sets it itself"
            )
            raise ConfigError(f"option 'client_config': {key!r} is managed by syncapi; {hint}")


@dataclass(frozen=True)
class CommonOptions:
    """Options of both producers and consumers."""

    client_id: str | None = None
    """The client id the broker logs and quotas see (default ``"syncapi"``);
    ``OperationBindings.clientId`` overrides it per channel."""
    connect_timeout: float = 10.0
    """Seconds to reach the bootstrap brokers when a client is made; an unreachable
    cluster fails with :class:`~syncapi.errors.ConnectError` after this long."""
    request_timeout_ms: int = 30_000
    """kafka-python's ``request_timeout_ms``: how long one request to a broker may take."""
    create_topics: bool = True
    """Create a topic whose channel bindings give ``partitions``, ``replicas`` or
    ``topicConfiguration`` when it does not exist (through the admin client)."""
    topic_mismatch: TopicMismatch = "raise"
    """What to do when such a topic exists with other partitions, replicas or configs."""
    client_config: dict[str, Any] | None = field(default=None, hash=False)
    """Further kafka-python settings for every client made (TLS, SASL, tuning)."""

    def _check_common(self, managed: frozenset[str]) -> None:
        _positive(self, "connect_timeout", "request_timeout_ms")
        if self.client_id is not None and not self.client_id:
            raise ConfigError("option 'client_id' must not be empty")
        _check_client_config(self.client_config, managed, self)


@dataclass(frozen=True)
class ProducerOptions(CommonOptions):
    """Options of :class:`syncapi.kafka.Producer` (see the module documentation).

    ``send()`` returns when the broker acknowledged every record as ``acks`` asks, or
    raises; ``acks=0`` gives no acknowledgement, so ``send()`` then only waits until the
    records are written to the socket.
    """

    acks: int | str = "all"
    """``"all"`` (every in-sync replica has the record), ``1`` (the leader has it) or
    ``0`` (no acknowledgement). Anything but ``"all"`` turns idempotence off."""
    enable_idempotence: bool = True
    """kafka-python's idempotent producer: retries never duplicate or reorder records.
    Needs ``acks="all"``."""
    linger_ms: int = 0
    """How long kafka-python waits to fill a batch before sending it."""
    batch_size: int = 262_144
    """Largest batch per partition in bytes. 256 KiB, not kafka-python's 16 KiB: a
    ``send(*envelopes)`` of 100 records of 1 KiB then goes out as one batch instead of
    seven, about 3.5 times the throughput (``python -m syncapi.bench kafka``). It is a
    cap, not an allocation: a batch's buffer grows with what it holds."""
    compression_type: str | None = None
    """``"gzip"``, ``"snappy"``, ``"lz4"``, ``"zstd"`` or ``None`` (the last three need
    their Python codec package installed)."""
    max_request_size: int = 1_048_576
    """Largest serialized record (payload, key and headers) the producer sends; a
    larger one fails at once with :class:`~syncapi.errors.MessageTooLarge`. The broker
    has its own limit (``message.max.bytes``, topic ``max.message.bytes``)."""
    max_block_ms: int = 60_000
    """How long ``send()`` may block for topic metadata or for room in the buffer."""
    delivery_timeout_ms: int = 120_000
    """How long kafka-python keeps retrying a record before it fails it."""
    send_timeout: float | None = None
    """Seconds ``send()`` waits for the acknowledgements at most (``None``: until
    kafka-python delivers or fails them, ``delivery_timeout_ms`` at most);
    ``send(timeout=...)`` overrides it per call."""

    _MANAGED = frozenset(
        {
            "bootstrap_servers",
            "client_id",
            "acks",
            "enable_idempotence",
            "linger_ms",
            "batch_size",
            "compression_type",
            "max_request_size",
            "max_block_ms",
            "delivery_timeout_ms",
            "request_timeout_ms",
            "bootstrap_timeout_ms",
            "key_serializer",
            "value_serializer",
            "transactional_id",
        }
    )

    def __post_init__(self) -> None:
        self._check_common(self._MANAGED)
        if self.acks not in _ACKS or isinstance(self.acks, bool):
            raise ConfigError(f"option 'acks' must be 'all', 1 or 0, got {self.acks!r}")
        object.__setattr__(self, "acks", _ACKS[self.acks])
        if self.enable_idempotence and self.acks != "all":
            object.__setattr__(self, "enable_idempotence", False)
        if self.compression_type is not None and self.compression_type not in _COMPRESSION:
            raise ConfigError(
                f"option 'compression_type' must be one of {', '.join(_COMPRESSION)} or None, "
                f"got {self.compression_type!r}"
            )
        _positive(self, "batch_size", "max_request_size", "max_block_ms", "delivery_timeout_ms")
        _positive(self, "linger_ms", "send_timeout", allow_zero=True)

    def client_settings(self, bootstrap: list[str], client_id: str | None) -> dict[str, Any]:
        """The ``KafkaProducer`` settings these options stand for."""
        settings: dict[str, Any] = dict(self.client_config or {})
        settings.update(
            bootstrap_servers=bootstrap,
            client_id=client_id or self.client_id or "syncapi",
            acks=self.acks,
            enable_idempotence=self.enable_idempotence,
            linger_ms=self.linger_ms,
            batch_size=self.batch_size,
            compression_type=self.compression_type,
            max_request_size=self.max_request_size,
            max_block_ms=self.max_block_ms,
            delivery_timeout_ms=self.delivery_timeout_ms,
            request_timeout_ms=self.request_timeout_ms,
            bootstrap_timeout_ms=int(self.connect_timeout * 1000),
        )
        return settings


@dataclass(frozen=True)
class ConsumerOptions(CommonOptions):
    """Options of :class:`syncapi.kafka.Consumer` (see the module documentation).

    Each subscriber is one member of the consumer group (one ``KafkaConsumer``).
    Offsets are committed only for messages whose callback returned (or that were
    acked), every ``commit_interval`` seconds, when partitions are revoked and when the
    subscriber closes: at-least-once.
    """

    group_id: str | None = None
    """The consumer group. ``None``: no group; each subscriber reads every partition
    itself from ``auto_offset_reset`` and nothing is committed.
    ``OperationBindings.groupId`` overrides it per channel."""
    auto_offset_reset: Literal["latest", "earliest"] = "latest"
    """Where a group without a committed offset (or a subscriber without a group)
    starts: at new messages, or at the oldest kept."""
    session_timeout_ms: int = 45_000
    """How long the group waits for a silent member before it rebalances."""
    heartbeat_interval_ms: int = 3_000
    """How often the member tells the group coordinator it is alive."""
    max_poll_interval_ms: int = 300_000
    """The longest gap between polls before the member is evicted. syncapi keeps
    polling (with the partitions paused) while long callbacks run, so a slow callback
    does not hit it."""
    max_poll_records: int = 500
    """Most records one poll returns."""
    fetch_max_wait_ms: int = 500
    """How long the broker holds a fetch that has no data yet."""
    max_partition_fetch_bytes: int = 1_048_576
    """Most bytes fetched per partition per request."""
    isolation_level: Literal["read_uncommitted", "read_committed"] = "read_uncommitted"
    """Whether records of open or aborted transactions are returned."""
    ordering: Literal["partition", "key", "none"] = "partition"
    """What ``start(workers=N)`` keeps in order: ``"partition"`` (one callback per
    partition at a time, so parallelism comes from partitions), ``"key"`` (records with
    the same key one at a time, in order; records without a key in parallel) or
    ``"none"``. Offsets are committed in order whatever the mode: a record's offset is
    committed only when every record before it in its partition is done."""
    commit_interval: float = 1.0
    """Seconds between commits of the acknowledged offsets (``0``: after every fetch)."""
    max_deliveries: int | None = 10
    """Deliveries of one message at most when its callback keeps failing with
    ``on_error="requeue"``; then it is dead-lettered (or logged and skipped).
    ``None``: no limit (the partition waits for the message for ever)."""
    dead_letter: str | None = None
    """A topic that receives rejected and exhausted messages, with the headers
    ``x-death-reason``, ``x-original-topic``, ``x-original-partition`` and
    ``x-original-offset``. ``None``: such messages are logged at ERROR and skipped."""
    drain_timeout: float = 10.0
    """Seconds a rebalance waits for running callbacks of revoked partitions to finish,
    so that their offsets are committed before another member takes over."""

    _MANAGED = frozenset(
        {
            "bootstrap_servers",
            "client_id",
            "group_id",
            "enable_auto_commit",
            "auto_offset_reset",
            "session_timeout_ms",
            "heartbeat_interval_ms",
            "max_poll_interval_ms",
            "max_poll_records",
            "fetch_max_wait_ms",
            "max_partition_fetch_bytes",
            "isolation_level",
            "request_timeout_ms",
            "bootstrap_timeout_ms",
            "key_deserializer",
            "value_deserializer",
            "consumer_timeout_ms",
        }
    )

    def __post_init__(self) -> None:
        self._check_common(self._MANAGED)
        if self.group_id is not None and not self.group_id:
            raise ConfigError("option 'group_id' must not be empty (use None for no group)")
        _positive(
            self,
            "session_timeout_ms",
            "heartbeat_interval_ms",
            "max_poll_interval_ms",
            "max_poll_records",
            "max_partition_fetch_bytes",
            "max_deliveries",
        )
        _positive(self, "fetch_max_wait_ms", "commit_interval", "drain_timeout", allow_zero=True)
        if self.heartbeat_interval_ms >= self.session_timeout_ms:
            raise ConfigError(
                f"option 'heartbeat_interval_ms' ({self.heartbeat_interval_ms}) must be lower "
                f"than 'session_timeout_ms' ({self.session_timeout_ms})"
            )
        if self.fetch_max_wait_ms >= self.request_timeout_ms:
            raise ConfigError(
                f"option 'fetch_max_wait_ms' ({self.fetch_max_wait_ms}) must be lower than "
                f"'request_timeout_ms' ({self.request_timeout_ms})"
            )

    def client_settings(
        self, bootstrap: list[str], client_id: str | None, group_id: str | None
    ) -> dict[str, Any]:
        """The ``KafkaConsumer`` settings these options stand for."""
        settings: dict[str, Any] = dict(self.client_config or {})
        settings.update(
            bootstrap_servers=bootstrap,
            client_id=client_id or self.client_id or "syncapi",
            group_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset=self.auto_offset_reset,
            session_timeout_ms=self.session_timeout_ms,
            heartbeat_interval_ms=self.heartbeat_interval_ms,
            max_poll_interval_ms=self.max_poll_interval_ms,
            max_poll_records=self.max_poll_records,
            fetch_max_wait_ms=self.fetch_max_wait_ms,
            max_partition_fetch_bytes=self.max_partition_fetch_bytes,
            isolation_level=self.isolation_level,
            request_timeout_ms=self.request_timeout_ms,
            bootstrap_timeout_ms=int(self.connect_timeout * 1000),
        )
        return settings


def admin_settings(options: CommonOptions, bootstrap: list[str]) -> dict[str, Any]:
    """``KafkaAdminClient`` settings from the connection part of ``options``."""
    from kafka import KafkaAdminClient

    allowed = set(KafkaAdminClient.DEFAULT_CONFIG)
    settings = {k: v for k, v in (options.client_config or {}).items() if k in allowed}
    settings.update(
        bootstrap_servers=bootstrap,
        client_id=f"{options.client_id or 'syncapi'}-admin",
        request_timeout_ms=options.request_timeout_ms,
        bootstrap_timeout_ms=int(options.connect_timeout * 1000),
    )
    return settings
