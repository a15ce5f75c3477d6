"""Topic names, and topics made from channel bindings through the admin client.

A channel whose :class:`~syncapi.kafka.ChannelBindings` give ``partitions``, ``replicas``
or ``topicConfiguration`` is *declared*: when a publisher or subscriber opens it, the
topic is created with that layout if it does not exist (option ``create_topics``), and
an existing topic is compared with it — partition count, replication factor and every
config the bindings name. A difference is handled as the ``topic_mismatch`` option says:
``"raise"`` (:class:`TopicMismatchError`), ``"warn"`` or ``"ignore"``. A topic is
checked once per producer or consumer.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from .clients import build, describe_error, translate
from .options import CommonOptions, TopicMismatch, admin_settings

if TYPE_CHECKING:
    from .bindings import ChannelBindings

__all__ = ["TopicAdmin", "TopicMismatchError", "check_topic_name"]

_log = logging.getLogger("syncapi.kafka")
_LEGAL = re.compile(r"^[A-Za-z0-9._-]+$")
MAX_TOPIC_LENGTH = 249
"""The longest topic name Kafka accepts."""


class TopicMismatchError(ConfigError):
    """A topic exists with another layout than its channel bindings declare."""


def check_topic_name(name: object) -> str:
    """Return ``name`` if Kafka accepts it as a topic name; else raise ConfigError.

    Kafka's rule: 1 to 249 characters from ``[A-Za-z0-9._-]``, and not ``.`` or ``..``.
    """
    if not isinstance(name, str) or not name:
        raise ConfigError(f"Kafka topic name must be a non-empty str, got {name!r}")
    if name in (".", ".."):
        raise ConfigError(f"invalid Kafka topic name {name!r}: '.' and '..' are not allowed")
    if len(name) > MAX_TOPIC_LENGTH:
        raise ConfigError(
            f"invalid Kafka topic name {name[:40]!r}...: {len(name)} characters, "
            f"{MAX_TOPIC_LENGTH} at most"
        )
    if not _LEGAL.match(name):
        bad = sorted({c for c in name if not _LEGAL.match(c)})
        raise ConfigError(
            f"invalid Kafka topic name {name!r}: {''.join(bad)!r} not allowed "
            "(only ASCII letters, digits, '.', '_' and '-')"
        )
    return name


class TopicAdmin:
    """Creates and checks declared topics through a ``KafkaAdminClient``.

    The admin client lives only while it works (an idle one would keep an IO thread and
    a connection for the life of every producer and consumer). Thread-safe.
    """

    def __init__(
        self,
        settings: dict[str, Any],
        *,
        create: bool,
        mismatch: TopicMismatch,
    ) -> None:
        self._settings = settings
        self._create = create
        self._mismatch = mismatch
        self._lock = threading.Lock()
        self._checked: set[str] = set()
        self._closed = False

    @classmethod
    def for_options(cls, options: CommonOptions, bootstrap: list[str]) -> TopicAdmin:
        """The admin of a producer or consumer with these options and brokers."""
        return cls(
            admin_settings(options, bootstrap),
            create=options.create_topics,
            mismatch=options.topic_mismatch,
        )

    def declare(self, channel: str, bindings: ChannelBindings | None) -> str:
        """The topic of ``channel`` (``bindings.topic`` or the address), checked, and
        created or compared as ``bindings`` declare."""
        topic = check_topic_name(bindings.topic if bindings and bindings.topic else channel)
        self.ensure(topic, bindings)
        return topic

    def probe(self) -> None:
        """Reach the cluster once (ConnectError within ``connect_timeout`` if it can't)."""
        with self._lock:
            self._open().close()

    def _open(self) -> Any:
        if self._closed:
            from ..errors import ClosedError

            raise ClosedError("the Kafka admin client is closed")
        from kafka import KafkaAdminClient

        return build(KafkaAdminClient, "Kafka admin client", self._settings)

    def ensure(self, topic: str, bindings: ChannelBindings | None) -> None:
        """Create or check ``topic`` as ``bindings`` declare (once per topic)."""
        if bindings is None or not bindings.creates_topic:
            return
        with self._lock:
            if topic in self._checked:
                return
            admin = self._open()
            try:
                self._declare(admin, topic, bindings)
            finally:
                admin.close()
            self._checked.add(topic)

    def _declare(self, admin: Any, topic: str, bindings: ChannelBindings) -> None:
        configs = (
            bindings.topic_configuration.to_configs()
            if bindings.topic_configuration is not None
            else {}
        )
        created = self._create and self._try_create(admin, topic, bindings, configs)
        if not created:
            self._compare(admin, topic, bindings, configs)

    def _try_create(
        self, admin: Any, topic: str, bindings: ChannelBindings, configs: dict[str, str]
    ) -> bool:
        import kafka.errors as errors

        spec: dict[str, Any] = {"configs": configs}
        if bindings.partitions is not None:
            spec["num_partitions"] = bindings.partitions
        if bindings.replicas is not None:
            spec["replication_factor"] = bindings.replicas
        try:
            admin.create_topics({topic: spec}, wait_for_metadata=True)
        except errors.TopicAlreadyExistsError:
            return False
        except errors.BrokerResponseError as exc:
            if exc.retriable:
                raise translate(exc, f"creating Kafka topic {topic!r}") from exc
            # too many replicas, a bad config value, a policy: the bindings are wrong
            raise ConfigError(
                f"the broker refused to create Kafka topic {topic!r} "
                f"({_layout(bindings, configs)}): {describe_error(exc)}"
            ) from exc
        except Exception as exc:
            raise translate(exc, f"creating Kafka topic {topic!r}") from exc
        _log.info("created Kafka topic %r (%s)", topic, _layout(bindings, configs))
        return True

    def _compare(
        self, admin: Any, topic: str, bindings: ChannelBindings, configs: dict[str, str]
    ) -> None:
        try:
            described = admin.describe_topics([topic])
        except Exception as exc:
            raise translate(exc, f"describing Kafka topic {topic!r}") from exc
        info = described[0] if described else {}
        if info.get("error_code", 0) != 0 or not info.get("partitions"):
            if not self._create:
                self._differs(
                    topic,
                    [f"it does not exist and create_topics is off ({_layout(bindings, configs)})"],
                )
            return
        partitions = info["partitions"]
        diffs: list[str] = []
        if bindings.partitions is not None and len(partitions) != bindings.partitions:
            diffs.append(f"{len(partitions)} partitions, bindings say {bindings.partitions}")
        if bindings.replicas is not None:
            replicas = len(partitions[0].get("replica_nodes", []))
            if replicas != bindings.replicas:
                diffs.append(f"{replicas} replicas, bindings say {bindings.replicas}")
        if configs:
            actual = self._configs(admin, topic)
            for key, wanted in configs.items():
                have = actual.get(key)
                if have is None or _normal(have) != _normal(wanted):
                    diffs.append(f"{key}={have!r}, bindings say {wanted!r}")
        if diffs:
            self._differs(topic, diffs)

    def _configs(self, admin: Any, topic: str) -> dict[str, str]:
        from kafka.admin import ConfigResource

        try:
            result = admin.describe_configs([ConfigResource("TOPIC", topic)], config_filter="all")
        except Exception as exc:
            raise translate(exc, f"reading the configs of Kafka topic {topic!r}") from exc
        entries = result.get("topic", {}).get(topic, {})
        return {key: str(entry.get("value")) for key, entry in entries.items()}

    def _differs(self, topic: str, diffs: list[str]) -> None:
        message = f"Kafka topic {topic!r} differs from its channel bindings: " + "; ".join(diffs)
        if self._mismatch == "raise":
            raise TopicMismatchError(
                message + " (option topic_mismatch='warn' or 'ignore' accepts it)"
            )
        if self._mismatch == "warn":
            _log.warning("%s", message)

    def close(self) -> None:
        """Refuse further work (idempotent); no client outlives its call."""
        with self._lock:
            self._closed = True


def _normal(value: str) -> str:
    return ",".join(part.strip() for part in value.split(",")).lower()


def _layout(bindings: ChannelBindings, configs: dict[str, str]) -> str:
    parts = []
    if bindings.partitions is not None:
        parts.append(f"partitions={bindings.partitions}")
    if bindings.replicas is not None:
        parts.append(f"replicas={bindings.replicas}")
    parts.extend(f"{k}={v}" for k, v in configs.items())
    return ", ".join(parts) or "broker defaults"
