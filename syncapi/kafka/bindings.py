"""Kafka bindings, AsyncAPI Kafka binding 0.5.0 (``bindingVersion`` 0.5.0, 0.4.0 and 0.3.0).

Each class reads the ``kafka`` entry of an AsyncAPI bindings object with ``from_dict``
(camelCase keys, ``x-`` extensions, unknown keys refused) and can be built directly with
Python names. What syncapi does with each field:

+----------------------+-------------------------------+--------------------------------------+
| binding              | field                         | what syncapi does with it            |
+======================+===============================+======================================+
| ChannelBindings      | ``topic``                     | the Kafka topic used instead of the  |
|                      |                               | channel address                      |
+----------------------+-------------------------------+--------------------------------------+
| ChannelBindings      | ``partitions``, ``replicas``, | the topic is created (or checked)    |
|                      | ``topicConfiguration``        | through the admin client with these  |
|                      |                               | settings (:meth:`TopicConfiguration  |
|                      |                               | .to_configs` gives the broker        |
|                      |                               | configs)                             |
+----------------------+-------------------------------+--------------------------------------+
| OperationBindings    | ``groupId``                   | the consumer group id                |
+----------------------+-------------------------------+--------------------------------------+
| OperationBindings    | ``clientId``                  | the subscriber's client id (a        |
|                      |                               | publisher shares its producer's)     |
+----------------------+-------------------------------+--------------------------------------+
| ServerBindings       | ``schemaRegistryUrl``,        | stored only (no schema registry      |
|                      | ``schemaRegistryVendor``      | support yet)                         |
+----------------------+-------------------------------+--------------------------------------+
| MessageBindings      | ``key``, ``schemaIdLocation``,| stored only (no schema registry      |
|                      | ``schemaIdPayloadEncoding``,  | support yet)                         |
|                      | ``schemaLookupStrategy``      |                                      |
+----------------------+-------------------------------+--------------------------------------+

Version rules: ``topicConfiguration`` needs ``bindingVersion`` 0.4.0 or later, and under
0.4.0 (where the object was closed) it may hold only ``cleanup.policy``, ``retention.ms``,
``retention.bytes``, ``delete.retention.ms`` and ``max.message.bytes``. A missing
``bindingVersion`` means the latest, 0.5.0.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from ..bindings import Bindings, SpecObject, asyncapi, camel_case, schema_value

__all__ = [
    "ChannelBindings",
    "MessageBindings",
    "OperationBindings",
    "ServerBindings",
    "TopicConfiguration",
]

_PROTOCOL = "kafka"
_VERSIONS = ("0.5.0", "0.4.0", "0.3.0")
_LONG_MAX = 2**63 - 1
_INT_MAX = 2**31 - 1
_SHORT_MAX = 2**15 - 1

# The wire name under which TopicConfiguration._prepare gathers the keys that are not
# fields; it never appears in a document (to_dict spreads those keys back out).
_EXTRA_WIRE = "(other topic configs)"
# A Kafka topic config name: lowercase words joined by '.', '-' or '_' ("segment.ms").
_CONFIG_NAME = re.compile(r"[a-z0-9]+(?:[._-][a-z0-9]+)*")
_LEGAL_TOPIC = re.compile(r"[A-Za-z0-9._-]{1,249}")
# The topicConfiguration keys of binding 0.4.0, whose object was closed.
_KEYS_0_4_0 = (
    "cleanup.policy",
    "retention.ms",
    "retention.bytes",
    "delete.retention.ms",
    "max.message.bytes",
)


@dataclass(frozen=True, kw_only=True)
class ServerBindings(Bindings):
    """Kafka server bindings: the schema registry used with this server.

    syncapi does not act on the schema registry yet: both fields are validated and
    stored (and written back by ``to_dict``) but nothing is registered or looked up.

    Attributes:
        schema_registry_url: ``schemaRegistryUrl``, the registry's absolute URL.
        schema_registry_vendor: ``schemaRegistryVendor``, e.g. ``"confluent"`` or
            ``"apicurio"``; only allowed together with :attr:`schema_registry_url`.
    """

    protocol = _PROTOCOL
    versions = _VERSIONS

    schema_registry_url: str | None = None
    schema_registry_vendor: str | None = None

    def _validate(self) -> None:
        """The URL must be absolute; a vendor needs a URL."""
        url = self.schema_registry_url
        if url is not None:
            parts = urlsplit(url)
            if not (parts.scheme and parts.netloc):
                raise self._error(f"'schemaRegistryUrl' must be an absolute URL, got {url!r}")
        if self.schema_registry_vendor is not None and url is None:
            raise self._error("'schemaRegistryVendor' is only allowed with 'schemaRegistryUrl'")


@dataclass(frozen=True, kw_only=True)
class TopicConfiguration(SpecObject):
    """The ``topicConfiguration`` object of the Kafka channel binding: topic-level configs.

    Its document keys are Kafka topic config names. The nine keys the binding defines are
    fields here (Python names with ``_`` for ``.``) and are type- and range-checked. The
    object is open: any other topic config name (``min.insync.replicas``, ``segment.ms``,
    ``compression.type`` ...) is accepted with a string, integer, float, boolean or
    list-of-strings value and kept in :attr:`extra`, keyed by its document name. ``x-``
    keys are extensions, not configs.

    Other names must look like Kafka config names (lowercase words joined by ``.``); a key
    that is another spelling of a defined one (``retentionMs``, ``retention_ms``) is
    refused with a hint.

    Attributes:
        cleanup_policy: ``cleanup.policy``, a non-empty list of ``"delete"``/``"compact"``
            (stored as a tuple).
        retention_ms: ``retention.ms``, ``-1`` for no time limit.
        retention_bytes: ``retention.bytes``, ``-1`` for no size limit.
        delete_retention_ms: ``delete.retention.ms``, how long tombstones are kept.
        max_message_bytes: ``max.message.bytes``, the largest record batch.
        confluent_key_schema_validation: ``confluent.key.schema.validation``.
        confluent_key_subject_name_strategy: ``confluent.key.subject.name.strategy``.
        confluent_value_schema_validation: ``confluent.value.schema.validation``.
        confluent_value_subject_name_strategy: ``confluent.value.subject.name.strategy``.
        extra: the other topic configs, document name -> value (lists stored as tuples).
    """

    cleanup_policy: tuple[Literal["delete", "compact"], ...] | None = field(
        default=None, metadata=asyncapi(name="cleanup.policy")
    )
    retention_ms: int | None = field(
        default=None, metadata=asyncapi(name="retention.ms", minimum=-1, maximum=_LONG_MAX)
    )
    retention_bytes: int | None = field(
        default=None, metadata=asyncapi(name="retention.bytes", minimum=-1, maximum=_LONG_MAX)
    )
    delete_retention_ms: int | None = field(
        default=None, metadata=asyncapi(name="delete.retention.ms", minimum=0, maximum=_LONG_MAX)
    )
    max_message_bytes: int | None = field(
        default=None, metadata=asyncapi(name="max.message.bytes", minimum=0, maximum=_INT_MAX)
    )
    confluent_key_schema_validation: bool | None = field(
        default=None, metadata=asyncapi(name="confluent.key.schema.validation")
    )
    confluent_key_subject_name_strategy: str | None = field(
        default=None, metadata=asyncapi(name="confluent.key.subject.name.strategy")
    )
    confluent_value_schema_validation: bool | None = field(
        default=None, metadata=asyncapi(name="confluent.value.schema.validation")
    )
    confluent_value_subject_name_strategy: str | None = field(
        default=None, metadata=asyncapi(name="confluent.value.subject.name.strategy")
    )
    extra: Mapping[str, Any] = field(
        default_factory=dict, hash=False, metadata=asyncapi(name=_EXTRA_WIRE)
    )

    @classmethod
    def _label(cls) -> str:
        """``"kafka TopicConfiguration"``."""
        return f"{_PROTOCOL} {cls.__name__}"

    @classmethod
    def _prepare(cls, data: Mapping[str, Any]) -> Mapping[str, Any]:
        """Gather the keys that are not fields (nor ``x-`` or ``$ref``) into :attr:`extra`."""
        known: dict[Any, Any] = {}
        extra: dict[str, Any] = {}
        for key, value in data.items():
            if key in _KEYS or key == "$ref" or _is_extension(key):
                known[key] = value
            else:
                extra[cls._check_extra_key(key)] = value
        if extra:
            known[_EXTRA_WIRE] = extra
        return known

    @classmethod
    def _check_extra_key(cls, key: object) -> str:
        """Return ``key`` if it can name another topic config; raise otherwise."""
        if not isinstance(key, str):
            raise cls._error(f"key {key!r} must be a string (a Kafka topic config name)")
        if key in _KEYS:
            raise cls._error(f"{key!r} is the field {_KEYS[key]!r}; set it there, not in 'extra'")
        if _is_extension(key):
            raise cls._error(f"{key!r} is an extension; put it in 'extensions', not in 'extra'")
        dotted = _dotted(key)
        if dotted in _KEYS:
            raise cls._error(f"unknown key {key!r}; did you mean {dotted!r}?")
        if not _CONFIG_NAME.fullmatch(key):
            raise cls._error(
                f"unknown key {key!r}: not a Kafka topic config name (lowercase words "
                "joined by '.', such as 'min.insync.replicas')"
            )
        return key

    def _validate(self) -> None:
        """Check the other configs' names and values; refuse an empty cleanup policy."""
        if self.cleanup_policy is not None and not self.cleanup_policy:
            raise self._error("'cleanup.policy' must list at least one of 'delete', 'compact'")
        extra: dict[str, Any] = {}
        for key, value in self.extra.items():
            extra[self._check_extra_key(key)] = self._check_extra_value(key, value)
        object.__setattr__(self, "extra", extra)

    @classmethod
    def _check_extra_value(cls, key: str, value: Any) -> Any:
        """Return the stored form of another config's value; raise if it has no string form."""
        if isinstance(value, (str, bool, int)):
            return value
        if isinstance(value, float):
            if not math.isfinite(value):
                raise cls._error(f"{key!r} must be a finite number, got {value!r}")
            return value
        if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            return tuple(value)
        shown = f"{type(value).__name__} {value!r}" if value is not None else "None"
        raise cls._error(
            f"{key!r} must be a string, integer, float, boolean or list of strings, got {shown}"
        )

    def to_dict(self) -> dict[str, Any]:
        """The document form: dotted config keys, then the other configs, then extensions."""
        out = super().to_dict()
        out.pop(_EXTRA_WIRE, None)
        extensions = {key: out.pop(key) for key in self.extensions}
        for key, value in self.extra.items():
            out[key] = list(value) if isinstance(value, tuple) else value
        out.update(extensions)
        return out

    def merged(self, other: TopicConfiguration) -> TopicConfiguration:
        """Return a copy where every config set in ``other`` wins, :attr:`extra` key by key."""
        result = super().merged(other)
        return dataclasses.replace(result, extra={**self.extra, **other.extra})

    def to_configs(self) -> dict[str, str]:
        """The broker config strings to create the topic with, only for the keys that are set.

        Lists are joined with ``","`` (``("delete", "compact")`` gives ``"delete,compact"``),
        booleans are ``"true"``/``"false"``, numbers are in decimal. Extensions are not
        configs and are left out.
        """
        configs: dict[str, str] = {}
        for key, attr in _KEYS.items():
            value = getattr(self, attr)
            if value is not None:
                configs[key] = _config_string(value)
        for key, value in self.extra.items():
            configs[key] = _config_string(value)
        return configs


# Document key -> field name of the configs TopicConfiguration declares.
_KEYS: dict[str, str] = {
    f.name.replace("_", "."): f.name
    for f in dataclasses.fields(TopicConfiguration)
    if f.name not in ("extensions", "extra")
}


@dataclass(frozen=True, kw_only=True)
class ChannelBindings(Bindings):
    """Kafka channel bindings: the topic behind the channel and how to create it.

    When :attr:`creates_topic` is true, syncapi creates the topic through the admin client
    with these partitions, replicas and configs, or checks an existing one.

    Attributes:
        topic: ``topic``, the real topic name when it differs from the channel address; a
            legal Kafka topic name (1-249 characters from ``a-z A-Z 0-9 . _ -``).
        partitions: ``partitions``, the partition count (at least 1).
        replicas: ``replicas``, the replication factor (at least 1).
        topic_configuration: ``topicConfiguration``, the topic-level configs. On direct
            construction a mapping in document form (``{"retention.ms": 1000}``) is also
            accepted at run time and turned into a :class:`TopicConfiguration` (type
            checkers only know the class, so prefer building one).
    """

    protocol = _PROTOCOL
    versions = _VERSIONS

    topic: str | None = None
    partitions: int | None = field(default=None, metadata=asyncapi(minimum=1, maximum=_INT_MAX))
    replicas: int | None = field(default=None, metadata=asyncapi(minimum=1, maximum=_SHORT_MAX))
    topic_configuration: TopicConfiguration | None = None

    def __post_init__(self) -> None:
        """Turn a mapping given as ``topic_configuration`` into a TopicConfiguration."""
        config: object = self.topic_configuration
        if isinstance(config, Mapping):
            object.__setattr__(self, "topic_configuration", TopicConfiguration.from_dict(config))
        super().__post_init__()

    def _validate(self) -> None:
        """The topic name must be legal; topicConfiguration must fit the binding version."""
        topic = self.topic
        if topic is not None and (not _LEGAL_TOPIC.fullmatch(topic) or topic in (".", "..")):
            raise self._error(
                "'topic' must be a legal Kafka topic name (1-249 characters from a-z, A-Z, "
                f"0-9, '.', '_', '-', and not '.' or '..'), got {topic!r}"
            )
        config = self.topic_configuration
        if config is None:
            return
        version = self.effective_version
        if version == "0.3.0":
            raise self._error("'topicConfiguration' needs bindingVersion 0.4.0 or later, not 0.3.0")
        if version == "0.4.0":
            for key in config.to_configs():
                if key not in _KEYS_0_4_0:
                    raise self._error(
                        f"'topicConfiguration.{key}' needs bindingVersion 0.5.0; under 0.4.0 "
                        f"topicConfiguration takes only {', '.join(_KEYS_0_4_0)}"
                    )

    @property
    def creates_topic(self) -> bool:
        """Whether partitions, replicas or topicConfiguration is set.

        syncapi then creates the topic through the admin client (or checks an existing one)
        instead of relying on the broker's automatic topic creation.
        """
        return (
            self.partitions is not None
            or self.replicas is not None
            or self.topic_configuration is not None
        )


@dataclass(frozen=True, kw_only=True)
class OperationBindings(Bindings):
    """Kafka operation bindings: the consumer group and client id.

    Both fields hold an AsyncAPI Schema Object describing the value, as documents write
    them (``{"type": "string", "enum": ["myGroupId"]}``), or a plain string. The schema must
    pin one string with ``const``, a one-value ``enum`` or a ``default``; anything else is
    refused at construction. Read the value with :attr:`group_id_value` and
    :attr:`client_id_value`.

    Attributes:
        group_id: ``groupId``, the consumer group id (schema or plain string).
        client_id: ``clientId``, the client id (schema or plain string). It applies to
            subscribers (each has its own client); publishers share their producer's
            client, whose id is the producer option ``client_id``.
    """

    protocol = _PROTOCOL
    versions = _VERSIONS

    group_id: Any = None
    client_id: Any = None

    def _validate(self) -> None:
        """Both schemas must pin a non-empty string (or be absent)."""
        self._pinned("group_id")
        self._pinned("client_id")

    def _pinned(self, attr: str) -> str | None:
        """The string that field ``attr`` pins, or ``None`` when the field is unset."""
        schema = getattr(self, attr)
        if schema is None:
            return None
        wire = camel_case(attr)
        value = schema_value(schema, what=f"{self._label()}: {wire!r}")
        if not isinstance(value, str) or not value:
            shown = f"{type(value).__name__} {value!r}" if value is not None else "None"
            raise self._error(f"{wire!r} must pin a non-empty string, got {shown}")
        return value

    @property
    def group_id_value(self) -> str | None:
        """The consumer group id that :attr:`group_id` pins, or ``None`` when unset."""
        return self._pinned("group_id")

    @property
    def client_id_value(self) -> str | None:
        """The client id that :attr:`client_id` pins, or ``None`` when unset."""
        return self._pinned("client_id")


@dataclass(frozen=True, kw_only=True)
class MessageBindings(Bindings):
    """Kafka message bindings: the record key's schema and schema-registry framing.

    syncapi stores these fields (validated, and written back by ``to_dict``) but does not
    act on them yet: schema-registry serialisation is future work. The record key of a
    message is set on the envelope (``env.set_key(...)``).

    Attributes:
        key: ``key``, the Schema Object (or Avro schema) of the record key.
        schema_id_location: ``schemaIdLocation``, where the registry schema id travels:
            ``"header"`` or ``"payload"``.
        schema_id_payload_encoding: ``schemaIdPayloadEncoding``, how the id is framed in
            the payload, e.g. ``"confluent"``, ``"apicurio-new"`` or a byte count ``"4"``.
        schema_lookup_strategy: ``schemaLookupStrategy``, e.g. ``"TopicIdStrategy"``.
    """

    protocol = _PROTOCOL
    versions = _VERSIONS

    key: Any = None
    schema_id_location: Literal["header", "payload"] | None = None
    schema_id_payload_encoding: str | None = None
    schema_lookup_strategy: str | None = None


def _is_extension(key: object) -> bool:
    """Whether ``key`` is an ``x-...`` specification extension key."""
    return isinstance(key, str) and key.startswith("x-") and len(key) > 2


def _dotted(key: str) -> str:
    """The dotted config spelling of ``key``: ``retentionMs`` and ``retention_ms`` give
    ``retention.ms``."""
    split = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", ".", key)
    return split.lower().replace("_", ".").replace("-", ".")


def _config_string(value: Any) -> str:
    """The broker config string of a config value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(value)
    return str(value)
