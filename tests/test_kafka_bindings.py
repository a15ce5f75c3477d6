"""Unit tests of syncapi.kafka.bindings (the Kafka binding 0.5.0 dataclasses); no broker."""

from __future__ import annotations

from typing import Any

import pytest

from syncapi.bindings import Bindings
from syncapi.errors import ConfigError
from syncapi.kafka.bindings import (
    ChannelBindings,
    MessageBindings,
    OperationBindings,
    ServerBindings,
    TopicConfiguration,
)

CHANNEL_DOC: dict[str, Any] = {
    "topic": "orders.v1",
    "partitions": 3,
    "replicas": 2,
    "topicConfiguration": {
        "cleanup.policy": ["delete", "compact"],
        "retention.ms": 604800000,
        "retention.bytes": -1,
        "delete.retention.ms": 86400000,
        "max.message.bytes": 1048588,
        "confluent.key.schema.validation": True,
        "confluent.key.subject.name.strategy": "TopicNameStrategy",
        "confluent.value.schema.validation": False,
        "confluent.value.subject.name.strategy": "RecordNameStrategy",
        "min.insync.replicas": 2,
        "compression.type": "lz4",
        "min.cleanable.dirty.ratio": 0.25,
        "unclean.leader.election.enable": False,
        "leader.replication.throttled.replicas": ["0:1", "1:2"],
        "x-team": "billing",
    },
    "bindingVersion": "0.5.0",
    "x-owner": "orders",
}


def error_of(excinfo: pytest.ExceptionInfo[ConfigError]) -> str:
    """The message of a caught ConfigError."""
    return str(excinfo.value)


# --- shared facts --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cls", [ServerBindings, ChannelBindings, OperationBindings, MessageBindings]
)
def test_protocol_and_versions(cls: type[Bindings]) -> None:
    assert cls.protocol == "kafka"
    assert cls.versions == ("0.5.0", "0.4.0", "0.3.0")
    assert cls().effective_version == "0.5.0"
    assert cls.from_dict({"bindingVersion": "0.3.0"}).effective_version == "0.3.0"


@pytest.mark.parametrize(
    "cls", [ServerBindings, ChannelBindings, OperationBindings, MessageBindings]
)
def test_unsupported_binding_version_is_refused(cls: type[Bindings]) -> None:
    with pytest.raises(ConfigError) as excinfo:
        cls.from_dict({"bindingVersion": "0.2.0"})
    assert error_of(excinfo) == (
        f"kafka {cls.__name__}: unsupported bindingVersion '0.2.0' (supported: 0.5.0, 0.4.0, 0.3.0)"
    )


@pytest.mark.parametrize(
    ("cls", "key", "hint"),
    [
        (ServerBindings, "schemaRegistryURL", "schemaRegistryUrl"),
        (ChannelBindings, "partition", "partitions"),
        (OperationBindings, "group_id", "groupId"),
        (MessageBindings, "schemaIdLocations", "schemaIdLocation"),
    ],
)
def test_unknown_keys_are_refused_by_name(cls: type[Bindings], key: str, hint: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        cls.from_dict({key: "x"})
    message = error_of(excinfo)
    assert message.startswith(f"kafka {cls.__name__}: unknown key {key!r} (allowed: ")
    assert message.endswith(f"did you mean {hint!r}?")


# --- ServerBindings ------------------------------------------------------------------------


def test_server_bindings_from_dict_and_back() -> None:
    doc = {
        "schemaRegistryUrl": "https://registry.example.com:8081",
        "schemaRegistryVendor": "confluent",
        "bindingVersion": "0.5.0",
        "x-region": "eu",
    }
    server = ServerBindings.from_dict(doc)
    assert server == ServerBindings(
        schema_registry_url="https://registry.example.com:8081",
        schema_registry_vendor="confluent",
        binding_version="0.5.0",
        extensions={"x-region": "eu"},
    )
    assert server.to_dict() == doc
    assert ServerBindings.from_dict(server.to_dict()) == server


def test_server_vendor_needs_a_url() -> None:
    with pytest.raises(ConfigError) as excinfo:
        ServerBindings(schema_registry_vendor="apicurio")
    assert error_of(excinfo) == (
        "kafka ServerBindings: 'schemaRegistryVendor' is only allowed with 'schemaRegistryUrl'"
    )
    with pytest.raises(ConfigError, match="only allowed with 'schemaRegistryUrl'"):
        ServerBindings.from_dict({"schemaRegistryVendor": "apicurio"})


def test_server_registry_url_must_be_absolute() -> None:
    with pytest.raises(ConfigError) as excinfo:
        ServerBindings(schema_registry_url="registry:8081/x")
    assert error_of(excinfo) == (
        "kafka ServerBindings: 'schemaRegistryUrl' must be an absolute URL, got 'registry:8081/x'"
    )


# --- ChannelBindings -----------------------------------------------------------------------


def test_channel_bindings_from_dict() -> None:
    channel = ChannelBindings.from_dict(CHANNEL_DOC)
    assert channel.topic == "orders.v1"
    assert channel.partitions == 3
    assert channel.replicas == 2
    assert channel.binding_version == "0.5.0"
    assert channel.extensions == {"x-owner": "orders"}
    config = channel.topic_configuration
    assert config == TopicConfiguration(
        cleanup_policy=("delete", "compact"),
        retention_ms=604800000,
        retention_bytes=-1,
        delete_retention_ms=86400000,
        max_message_bytes=1048588,
        confluent_key_schema_validation=True,
        confluent_key_subject_name_strategy="TopicNameStrategy",
        confluent_value_schema_validation=False,
        confluent_value_subject_name_strategy="RecordNameStrategy",
        extra={
            "min.insync.replicas": 2,
            "compression.type": "lz4",
            "min.cleanable.dirty.ratio": 0.25,
            "unclean.leader.election.enable": False,
            "leader.replication.throttled.replicas": ("0:1", "1:2"),
        },
        extensions={"x-team": "billing"},
    )


def test_channel_bindings_round_trip() -> None:
    channel = ChannelBindings.from_dict(CHANNEL_DOC)
    assert channel.to_dict() == CHANNEL_DOC
    assert ChannelBindings.from_dict(channel.to_dict()) == channel
    assert hash(channel) == hash(ChannelBindings.from_dict(CHANNEL_DOC))


def test_channel_bindings_to_dict_leaves_out_unset_fields() -> None:
    assert ChannelBindings().to_dict() == {}
    assert ChannelBindings(topic="t", partitions=1).to_dict() == {"topic": "t", "partitions": 1}
    assert TopicConfiguration().to_dict() == {}


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"partitions": 0}, "kafka ChannelBindings: 'partitions' must be >= 1, got 0"),
        ({"replicas": 0}, "kafka ChannelBindings: 'replicas' must be >= 1, got 0"),
        (
            {"partitions": "3"},
            "kafka ChannelBindings: 'partitions' must be int, got str '3'",
        ),
        (
            {"partitions": True},
            "kafka ChannelBindings: 'partitions' must be int, got bool True",
        ),
    ],
)
def test_channel_bindings_bad_numbers(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        ChannelBindings.from_dict(doc)
    assert error_of(excinfo) == message


def test_partitions_zero_refused_on_direct_construction() -> None:
    with pytest.raises(ConfigError) as excinfo:
        ChannelBindings(partitions=0)
    assert error_of(excinfo) == "kafka ChannelBindings: 'partitions' must be >= 1, got 0"


@pytest.mark.parametrize("topic", ["", "a b", "orders/{id}", ".", "..", "t" * 250])
def test_illegal_topic_names_are_refused(topic: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        ChannelBindings(topic=topic)
    assert error_of(excinfo).startswith(
        "kafka ChannelBindings: 'topic' must be a legal Kafka topic"
    )
    assert error_of(excinfo).endswith(f"got {topic!r}")


def test_legal_topic_names_are_accepted() -> None:
    assert ChannelBindings(topic="Orders_v1.eu-west").topic == "Orders_v1.eu-west"
    assert ChannelBindings(topic="t" * 249).topic == "t" * 249


def test_creates_topic() -> None:
    assert ChannelBindings().creates_topic is False
    assert ChannelBindings(topic="orders").creates_topic is False
    assert ChannelBindings(partitions=3).creates_topic is True
    assert ChannelBindings(replicas=1).creates_topic is True
    assert ChannelBindings(topic_configuration=TopicConfiguration()).creates_topic is True


def test_topic_configuration_as_a_dict_on_direct_construction() -> None:
    channel = ChannelBindings(
        topic_configuration={"retention.ms": 1000, "segment.ms": 60000},  # type: ignore[arg-type]
    )
    assert channel.topic_configuration == TopicConfiguration(
        retention_ms=1000, extra={"segment.ms": 60000}
    )
    with pytest.raises(ConfigError) as excinfo:
        ChannelBindings(topic_configuration={"retention.ms": -2})  # type: ignore[arg-type]
    assert error_of(excinfo) == "kafka TopicConfiguration: 'retention.ms' must be >= -1, got -2"
    with pytest.raises(ConfigError) as excinfo:
        ChannelBindings(topic_configuration="retention.ms=1")  # type: ignore[arg-type]
    assert error_of(excinfo) == (
        "kafka ChannelBindings: 'topic_configuration' must be TopicConfiguration object, "
        "got str 'retention.ms=1'"
    )


def test_topic_configuration_needs_binding_version_0_4_0() -> None:
    with pytest.raises(ConfigError) as excinfo:
        ChannelBindings.from_dict(
            {"topicConfiguration": {"retention.ms": 1}, "bindingVersion": "0.3.0"}
        )
    assert error_of(excinfo) == (
        "kafka ChannelBindings: 'topicConfiguration' needs bindingVersion 0.4.0 or later, not 0.3.0"
    )
    assert ChannelBindings.from_dict({"partitions": 2, "bindingVersion": "0.3.0"}).partitions == 2


def test_binding_version_0_4_0_takes_only_its_five_config_keys() -> None:
    doc = {
        "topicConfiguration": {
            "cleanup.policy": ["compact"],
            "retention.ms": 1,
            "retention.bytes": 2,
            "delete.retention.ms": 3,
            "max.message.bytes": 4,
        },
        "bindingVersion": "0.4.0",
    }
    assert ChannelBindings.from_dict(doc).to_dict() == doc
    for key, value in [("confluent.value.schema.validation", True), ("segment.ms", 5)]:
        later = {"topicConfiguration": {key: value}, "bindingVersion": "0.4.0"}
        with pytest.raises(ConfigError) as excinfo:
            ChannelBindings.from_dict(later)
        assert error_of(excinfo).startswith(
            f"kafka ChannelBindings: 'topicConfiguration.{key}' needs bindingVersion 0.5.0; "
        )


# --- TopicConfiguration --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"cleanup.policy": ["delete", "shrink"]},
            "'topicConfiguration.cleanup.policy[1]' must be one of 'delete', 'compact', "
            "got str 'shrink'",
        ),
        (
            {"cleanup.policy": "delete"},
            "'topicConfiguration.cleanup.policy' must be list of one of 'delete', 'compact', "
            "got str 'delete'",
        ),
        ({"retention.ms": -2}, "'topicConfiguration.retention.ms' must be >= -1, got -2"),
        ({"retention.bytes": -5}, "'topicConfiguration.retention.bytes' must be >= -1, got -5"),
        (
            {"delete.retention.ms": -1},
            "'topicConfiguration.delete.retention.ms' must be >= 0, got -1",
        ),
        (
            {"max.message.bytes": -1},
            "'topicConfiguration.max.message.bytes' must be >= 0, got -1",
        ),
        (
            {"retention.ms": "7d"},
            "'topicConfiguration.retention.ms' must be int, got str '7d'",
        ),
        (
            {"confluent.key.schema.validation": "true"},
            "'topicConfiguration.confluent.key.schema.validation' must be bool, got str 'true'",
        ),
        (
            {"confluent.value.subject.name.strategy": 3},
            "'topicConfiguration.confluent.value.subject.name.strategy' must be str, got int 3",
        ),
    ],
)
def test_topic_configuration_known_keys_are_checked(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        ChannelBindings.from_dict({"topicConfiguration": config})
    assert error_of(excinfo) == f"kafka ChannelBindings: {message}"


def test_empty_cleanup_policy_is_refused() -> None:
    with pytest.raises(ConfigError) as excinfo:
        TopicConfiguration.from_dict({"cleanup.policy": []})
    assert error_of(excinfo) == (
        "kafka TopicConfiguration: 'cleanup.policy' must list at least one of 'delete', 'compact'"
    )


def test_topic_configuration_direct_construction_is_checked() -> None:
    with pytest.raises(ConfigError) as excinfo:
        TopicConfiguration(retention_ms=-2)
    assert error_of(excinfo) == "kafka TopicConfiguration: 'retention_ms' must be >= -1, got -2"
    config = TopicConfiguration(cleanup_policy=["compact"])  # type: ignore[arg-type]
    assert config.cleanup_policy == ("compact",)


def test_topic_configuration_extra_keys_are_accepted() -> None:
    config = TopicConfiguration.from_dict(
        {
            "min.insync.replicas": 2,
            "segment.ms": 3600000,
            "preallocate": True,
            "message.timestamp.type": "LogAppendTime",
            "min.cleanable.dirty.ratio": 0.5,
            "follower.replication.throttled.replicas": ["0:1"],
        }
    )
    assert config.extra == {
        "min.insync.replicas": 2,
        "segment.ms": 3600000,
        "preallocate": True,
        "message.timestamp.type": "LogAppendTime",
        "min.cleanable.dirty.ratio": 0.5,
        "follower.replication.throttled.replicas": ("0:1",),
    }
    assert config.retention_ms is None
    assert config.extensions == {}


_NOT_A_VALUE = "must be a string, integer, float, boolean or list of strings"
_NOT_A_NAME = (
    "not a Kafka topic config name (lowercase words joined by '.', such as 'min.insync.replicas')"
)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"segment.ms": None}, f"'segment.ms' {_NOT_A_VALUE}, got None"),
        ({"segment.ms": {"v": 1}}, f"'segment.ms' {_NOT_A_VALUE}, got dict {{'v': 1}}"),
        (
            {"follower.replication.throttled.replicas": [1, 2]},
            f"'follower.replication.throttled.replicas' {_NOT_A_VALUE}, got list [1, 2]",
        ),
        (
            {"min.cleanable.dirty.ratio": float("inf")},
            "'min.cleanable.dirty.ratio' must be a finite number, got inf",
        ),
        ({"retentionMs": 1}, "unknown key 'retentionMs'; did you mean 'retention.ms'?"),
        ({"retention_ms": 1}, "unknown key 'retention_ms'; did you mean 'retention.ms'?"),
        (
            {"cleanupPolicy": ["delete"]},
            "unknown key 'cleanupPolicy'; did you mean 'cleanup.policy'?",
        ),
        ({"Segment.MS": 1}, f"unknown key 'Segment.MS': {_NOT_A_NAME}"),
        ({"segment ms": 1}, f"unknown key 'segment ms': {_NOT_A_NAME}"),
        ({"x-": 1}, f"unknown key 'x-': {_NOT_A_NAME}"),
        ({7: 1}, "key 7 must be a string (a Kafka topic config name)"),
    ],
)
def test_topic_configuration_bad_extra_keys(config: dict[Any, Any], message: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        ChannelBindings.from_dict({"topicConfiguration": config})
    assert error_of(excinfo) == f"kafka TopicConfiguration: {message}"


def test_topic_configuration_extra_cannot_shadow_fields_or_extensions() -> None:
    with pytest.raises(ConfigError) as excinfo:
        TopicConfiguration(extra={"retention.ms": 5})
    assert error_of(excinfo) == (
        "kafka TopicConfiguration: 'retention.ms' is the field 'retention_ms'; "
        "set it there, not in 'extra'"
    )
    with pytest.raises(ConfigError, match="'x-a' is an extension; put it in 'extensions'"):
        TopicConfiguration(extra={"x-a": 5})


def test_topic_configuration_ref_is_refused() -> None:
    with pytest.raises(ConfigError) as excinfo:
        ChannelBindings.from_dict({"topicConfiguration": {"$ref": "#/components/x"}})
    assert error_of(excinfo) == (
        "kafka ChannelBindings: unresolved $ref '#/components/x'; resolve references first"
    )


def test_to_configs() -> None:
    config = ChannelBindings.from_dict(CHANNEL_DOC).topic_configuration
    assert config is not None
    assert config.to_configs() == {
        "cleanup.policy": "delete,compact",
        "retention.ms": "604800000",
        "retention.bytes": "-1",
        "delete.retention.ms": "86400000",
        "max.message.bytes": "1048588",
        "confluent.key.schema.validation": "true",
        "confluent.key.subject.name.strategy": "TopicNameStrategy",
        "confluent.value.schema.validation": "false",
        "confluent.value.subject.name.strategy": "RecordNameStrategy",
        "min.insync.replicas": "2",
        "compression.type": "lz4",
        "min.cleanable.dirty.ratio": "0.25",
        "unclean.leader.election.enable": "false",
        "leader.replication.throttled.replicas": "0:1,1:2",
    }


def test_to_configs_has_only_the_set_keys() -> None:
    assert TopicConfiguration().to_configs() == {}
    config = TopicConfiguration(cleanup_policy=("compact",), extensions={"x-a": "b"})
    assert config.to_configs() == {"cleanup.policy": "compact"}


def test_topic_configuration_round_trip() -> None:
    doc = dict(CHANNEL_DOC["topicConfiguration"])
    config = TopicConfiguration.from_dict(doc)
    assert config.to_dict() == doc
    assert TopicConfiguration.from_dict(config.to_dict()) == config


def test_topic_configuration_merged_merges_extra_key_by_key() -> None:
    base = TopicConfiguration(retention_ms=1, extra={"segment.ms": 10, "preallocate": True})
    override = TopicConfiguration(retention_bytes=2, extra={"segment.ms": 20})
    assert base.merged(override) == TopicConfiguration(
        retention_ms=1, retention_bytes=2, extra={"segment.ms": 20, "preallocate": True}
    )


# --- OperationBindings ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schema", "value"),
    [
        ({"type": "string", "const": "billing"}, "billing"),
        ({"type": "string", "enum": ["myGroupId"]}, "myGroupId"),
        ({"type": "string", "default": "fallback"}, "fallback"),
        ({"type": "string", "enum": ["a", "b"], "default": "b"}, "b"),
        ("plain", "plain"),
    ],
)
def test_operation_group_and_client_id_values(schema: Any, value: str) -> None:
    from_doc = OperationBindings.from_dict({"groupId": schema, "clientId": schema})
    assert from_doc.group_id_value == value
    assert from_doc.client_id_value == value
    assert from_doc.group_id == schema
    direct = OperationBindings(group_id=schema)
    assert direct.group_id_value == value
    assert direct.client_id_value is None


def test_operation_bindings_unset_values_are_none() -> None:
    operation = OperationBindings()
    assert operation.group_id_value is None
    assert operation.client_id_value is None


def test_operation_bindings_round_trip() -> None:
    doc = {
        "groupId": {"type": "string", "enum": ["myGroupId"]},
        "clientId": {"type": "string", "enum": ["myClientId"]},
        "bindingVersion": "0.5.0",
        "x-note": "from the spec example",
    }
    operation = OperationBindings.from_dict(doc)
    assert operation.to_dict() == doc
    assert OperationBindings.from_dict(operation.to_dict()) == operation


def test_two_value_enum_without_default_is_refused() -> None:
    with pytest.raises(ConfigError) as excinfo:
        OperationBindings.from_dict({"groupId": {"type": "string", "enum": ["a", "b"]}})
    assert error_of(excinfo) == (
        "kafka OperationBindings: 'groupId': the schema allows several values ('a', 'b') and "
        "has no default; pin one with 'const', a one-value 'enum' or a 'default'"
    )


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        (
            {"type": "string"},
            "kafka OperationBindings: 'clientId': the schema pins no value; give 'const', "
            "a one-value 'enum' or a 'default'",
        ),
        (
            {"$ref": "#/components/schemas/client"},
            "kafka OperationBindings: 'clientId': unresolved $ref "
            "'#/components/schemas/client'; resolve references first",
        ),
        (
            {"type": "integer", "const": 7},
            "kafka OperationBindings: 'clientId' must pin a non-empty string, got int 7",
        ),
        (42, "kafka OperationBindings: 'clientId' must pin a non-empty string, got int 42"),
        ("", "kafka OperationBindings: 'clientId' must pin a non-empty string, got str ''"),
        (
            {"const": None},
            "kafka OperationBindings: 'clientId' must pin a non-empty string, got None",
        ),
    ],
)
def test_client_id_that_pins_no_string_is_refused_early(schema: Any, message: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        OperationBindings(client_id=schema)
    assert error_of(excinfo) == message


# --- MessageBindings -----------------------------------------------------------------------


def test_message_bindings_from_dict_and_back() -> None:
    doc = {
        "key": {"type": "string", "enum": ["myKey"]},
        "schemaIdLocation": "payload",
        "schemaIdPayloadEncoding": "confluent",
        "schemaLookupStrategy": "TopicIdStrategy",
        "bindingVersion": "0.5.0",
        "x-owner": "orders",
    }
    message = MessageBindings.from_dict(doc)
    assert message.key == {"type": "string", "enum": ["myKey"]}
    assert message.schema_id_location == "payload"
    assert message.schema_id_payload_encoding == "confluent"
    assert message.schema_lookup_strategy == "TopicIdStrategy"
    assert message.extensions == {"x-owner": "orders"}
    assert message.to_dict() == doc


def test_message_bindings_schema_id_location_choices() -> None:
    assert MessageBindings(schema_id_location="header").schema_id_location == "header"
    with pytest.raises(ConfigError) as excinfo:
        MessageBindings.from_dict({"schemaIdLocation": "body"})
    assert error_of(excinfo) == (
        "kafka MessageBindings: 'schemaIdLocation' must be one of 'header', 'payload', "
        "got str 'body'"
    )


# --- coerce and bindings maps --------------------------------------------------------------


def test_coerce_a_dict() -> None:
    channel = ChannelBindings.coerce({"topic": "orders", "partitions": 3})
    assert channel == ChannelBindings(topic="orders", partitions=3)
    same = ChannelBindings(replicas=1)
    assert ChannelBindings.coerce(same) is same
    assert ChannelBindings.coerce(None) is None
    assert OperationBindings.coerce({"groupId": "g"}) == OperationBindings(group_id="g")
    with pytest.raises(ConfigError, match="unknown key 'partition'"):
        ChannelBindings.coerce({"partition": 3})
    with pytest.raises(ConfigError) as excinfo:
        ChannelBindings.coerce(OperationBindings())
    assert error_of(excinfo).startswith(
        "kafka ChannelBindings: expected a ChannelBindings or a dict, got OperationBindings"
    )


def test_from_bindings_map() -> None:
    bindings = {"kafka": {"groupId": {"const": "g"}}, "amqp": {"ack": True}}
    operation = OperationBindings.from_bindings_map(bindings)
    assert operation is not None
    assert operation.group_id_value == "g"
    assert ChannelBindings.from_bindings_map({"amqp": {}}) is None
