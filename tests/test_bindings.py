"""Tests of syncapi.bindings with sample Kafka, AMQP and HTTP bindings declared here."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import pytest

from syncapi.bindings import (
    Bindings,
    Placeholder,
    SpecObject,
    asyncapi,
    camel_case,
    schema_value,
    secret_fields,
)
from syncapi.errors import ConfigError

# --- sample protocol bindings (the real ones live in the protocol subpackages) --------


class kafka:
    """Sample Kafka bindings; stands in for the syncapi.kafka namespace."""

    @dataclass(frozen=True)
    class ChannelBindings(Bindings):
        protocol: ClassVar[str] = "kafka"
        versions: ClassVar[tuple[str, ...]] = ("0.5.0", "0.4.0", "0.3.0")
        topic: str | None = None
        partitions: int | None = field(default=None, metadata=asyncapi(minimum=1))
        replicas: int | None = field(default=None, metadata=asyncapi(minimum=1))
        topic_configuration: dict[str, Any] | None = None

    @dataclass(frozen=True)
    class OperationBindings(Bindings):
        protocol: ClassVar[str] = "kafka"
        versions: ClassVar[tuple[str, ...]] = ("0.5.0", "0.4.0", "0.3.0")
        group_id: Any = None
        client_id: Any = None


@dataclass(frozen=True)
class Exchange:
    """AMQP exchange declaration (a plain dataclass)."""

    name: str | None = field(default=None, metadata=asyncapi(max_length=255))
    type: str | None = field(
        default=None, metadata=asyncapi(choices=("topic", "direct", "fanout", "default", "headers"))
    )
    durable: bool | None = None
    auto_delete: bool | None = None
    vhost: str | None = None


@dataclass(frozen=True)
class Queue:
    """AMQP queue declaration (a plain dataclass)."""

    name: str | None = field(default=None, metadata=asyncapi(max_length=255))
    durable: bool | None = None
    exclusive: bool | None = None
    auto_delete: bool | None = None
    vhost: str | None = None


class amqp:
    """Sample AMQP bindings."""

    @dataclass(frozen=True)
    class ChannelBindings(Bindings):
        protocol: ClassVar[str] = "amqp"
        versions: ClassVar[tuple[str, ...]] = ("0.3.0",)
        is_: str | None = field(
            default=None, metadata=asyncapi(name="is", choices=("queue", "routingKey"))
        )
        exchange: Exchange | None = None
        queue: Queue | None = None

    @dataclass(frozen=True)
    class OperationBindings(Bindings):
        protocol: ClassVar[str] = "amqp"
        versions: ClassVar[tuple[str, ...]] = ("0.3.0",)
        expiration: int | None = field(default=None, metadata=asyncapi(minimum=0))
        cc: tuple[str, ...] | None = None
        bcc: list[str] | None = None
        delivery_mode: int | None = field(default=None, metadata=asyncapi(choices=(1, 2)))
        mandatory: bool | None = None

    @dataclass(frozen=True)
    class ServerBindings(Placeholder):
        protocol: ClassVar[str] = "amqp"


HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "CONNECT", "TRACE")


class http:
    """Sample HTTP bindings."""

    @dataclass(frozen=True)
    class OperationBindings(Bindings):
        protocol: ClassVar[str] = "http"
        versions: ClassVar[tuple[str, ...]] = ("0.3.0", "0.2.0")
        method: str | None = field(default=None, metadata=asyncapi(choices=HTTP_METHODS))
        query: dict[str, Any] | None = None

    @dataclass(frozen=True)
    class MessageBindings(Bindings):
        protocol: ClassVar[str] = "http"
        versions: ClassVar[tuple[str, ...]] = ("0.3.0",)
        headers: dict[str, Any] | None = None
        status_code: int | None = field(default=None, metadata=asyncapi(minimum=100, maximum=599))

    @dataclass(frozen=True)
    class ServerBindings(Placeholder):
        protocol: ClassVar[str] = "http"
        versions: ClassVar[tuple[str, ...]] = ("0.3.0",)


@dataclass(frozen=True)
class Mixed(Bindings):
    """Exercises the remaining type hints."""

    protocol: ClassVar[str] = "mixed"
    ratio: float | None = None
    flag: bool | None = None
    level: Literal["low", "high"] | None = None
    port: int | str | None = None
    counts: dict[str, int] | None = None
    anything: Any = None
    mode: str = "auto"
    type_: str | None = None  # trailing underscore dropped on the wire


@dataclass(frozen=True)
class Required(SpecObject):
    """A spec object with required fields and a secret."""

    name: str
    size: int
    token: str | None = field(default=None, repr=False, metadata=asyncapi(secret=True))


KAFKA_DOC: dict[str, Any] = {
    "topic": "orders.v1",
    "partitions": 3,
    "replicas": 2,
    "topicConfiguration": {
        "cleanup.policy": ["delete", "compact"],
        "retention.ms": 604800000,
        "confluent.key.schema.validation": True,
    },
    "bindingVersion": "0.5.0",
}

AMQP_DOC: dict[str, Any] = {
    "is": "routingKey",
    "exchange": {
        "name": "orders",
        "type": "topic",
        "durable": True,
        "autoDelete": False,
        "vhost": "/",
    },
    "bindingVersion": "0.3.0",
    "x-owner": "billing",
}


def message_of(excinfo: pytest.ExceptionInfo[ConfigError]) -> str:
    """The message of a caught ConfigError."""
    return str(excinfo.value)


# --- names --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "wire"),
    [
        ("topic", "topic"),
        ("topic_configuration", "topicConfiguration"),
        ("binding_version", "bindingVersion"),
        ("open_id_connect_url", "openIdConnectUrl"),
        ("in_", "in"),
        ("is_", "is"),
        ("schema_id_payload_encoding", "schemaIdPayloadEncoding"),
    ],
)
def test_camel_case(name: str, wire: str) -> None:
    assert camel_case(name) == wire


def test_trailing_underscore_and_name_override_reach_the_wire() -> None:
    channel = amqp.ChannelBindings.from_dict({"is": "queue", "queue": {"name": "q"}})
    assert channel.is_ == "queue"
    assert channel.to_dict() == {"is": "queue", "queue": {"name": "q"}}
    mixed = Mixed.from_dict({"type": "x"})
    assert mixed.type_ == "x"
    assert mixed.to_dict() == {"type": "x", "mode": "auto"}


# --- from_dict / to_dict ----------------------------------------------------------------


def test_kafka_channel_from_dict() -> None:
    channel = kafka.ChannelBindings.from_dict(KAFKA_DOC)
    assert channel.topic == "orders.v1"
    assert channel.partitions == 3
    assert channel.replicas == 2
    assert channel.topic_configuration == KAFKA_DOC["topicConfiguration"]
    assert channel.binding_version == "0.5.0"
    assert channel.extensions == {}


@pytest.mark.parametrize(
    ("cls", "doc"),
    [
        (kafka.ChannelBindings, KAFKA_DOC),
        (amqp.ChannelBindings, AMQP_DOC),
        (amqp.ChannelBindings, {"is": "queue", "queue": {"name": "jobs", "exclusive": True}}),
        (amqp.OperationBindings, {"cc": ["a", "b"], "deliveryMode": 2, "expiration": 0}),
        (http.OperationBindings, {"method": "POST", "query": {"type": "object"}}),
        (http.MessageBindings, {"statusCode": 201, "headers": {"type": "object"}}),
        (http.ServerBindings, {"bindingVersion": "0.3.0", "x-note": [1, 2]}),
        (Mixed, {"ratio": 0.5, "flag": False, "level": "low", "port": "http", "mode": "m"}),
    ],
)
def test_round_trip(cls: type[Bindings], doc: dict[str, Any]) -> None:
    parsed = cls.from_dict(doc)
    assert parsed.to_dict() == doc
    assert cls.from_dict(parsed.to_dict()) == parsed


@pytest.mark.parametrize("empty", [None, {}])
def test_empty_gives_defaults(empty: dict[str, Any] | None) -> None:
    assert kafka.ChannelBindings.from_dict(empty) == kafka.ChannelBindings()
    assert kafka.ChannelBindings.from_dict(empty).to_dict() == {}


def test_to_dict_omits_none_and_unset_binding_version() -> None:
    assert kafka.ChannelBindings(partitions=3).to_dict() == {"partitions": 3}
    assert kafka.ChannelBindings(binding_version="0.4.0").to_dict() == {"bindingVersion": "0.4.0"}


def test_to_dict_is_a_copy() -> None:
    channel = kafka.ChannelBindings.from_dict(KAFKA_DOC)
    out = channel.to_dict()
    out["topicConfiguration"]["cleanup.policy"].append("oops")
    assert channel.topic_configuration == KAFKA_DOC["topicConfiguration"]


def test_from_dict_does_not_keep_the_callers_dicts() -> None:
    doc = {"topicConfiguration": {"retention.ms": 1}}
    channel = kafka.ChannelBindings.from_dict(doc)
    doc["topicConfiguration"]["retention.ms"] = 2
    assert channel.topic_configuration == {"retention.ms": 1}


def test_nested_plain_dataclasses_are_built() -> None:
    channel = amqp.ChannelBindings.from_dict(AMQP_DOC)
    assert channel.exchange == Exchange(
        name="orders", type="topic", durable=True, auto_delete=False, vhost="/"
    )
    assert channel.queue is None
    assert channel.extensions == {"x-owner": "billing"}


def test_lists_become_tuples_when_the_hint_is_a_tuple() -> None:
    op = amqp.OperationBindings.from_dict({"cc": ["a", "b"], "bcc": ["c"]})
    assert op.cc == ("a", "b")
    assert op.bcc == ["c"]
    direct = amqp.OperationBindings(cc=["x"])  # type: ignore[arg-type]
    assert direct.cc == ("x",)
    assert hash(amqp.OperationBindings(cc=("a",))) == hash(amqp.OperationBindings(cc=["a"]))  # type: ignore[arg-type]


def test_bindings_without_dict_fields_are_hashable() -> None:
    one = kafka.ChannelBindings(partitions=3, extensions={"x-a": 1})
    two = kafka.ChannelBindings(partitions=3, extensions={"x-a": 1})
    assert {one, two} == {one}


def test_float_accepts_int_and_union_tries_members_in_order() -> None:
    assert Mixed.from_dict({"ratio": 2}).ratio == 2
    assert Mixed.from_dict({"port": 80}).port == 80
    assert Mixed.from_dict({"port": "http"}).port == "http"


def test_any_field_takes_anything() -> None:
    value = {"type": "string", "enum": ["g1"]}
    assert Mixed.from_dict({"anything": value}).anything == value
    assert kafka.OperationBindings(group_id="billing").group_id == "billing"


def test_ref_is_rejected() -> None:
    with pytest.raises(ConfigError) as excinfo:
        kafka.ChannelBindings.from_dict({"$ref": "#/components/channelBindings/orders"})
    assert "unresolved $ref '#/components/channelBindings/orders'" in message_of(excinfo)


@pytest.mark.parametrize("data", [[1, 2], "partitions=3", 3])
def test_from_dict_needs_a_mapping(data: Any) -> None:
    with pytest.raises(ConfigError) as excinfo:
        kafka.ChannelBindings.from_dict(data)
    assert message_of(excinfo).startswith("kafka ChannelBindings: expected a mapping, got ")


# --- unknown keys ---------------------------------------------------------------------


def test_unknown_key_message() -> None:
    with pytest.raises(ConfigError) as excinfo:
        kafka.ChannelBindings.from_dict({"partition": 3})
    assert message_of(excinfo) == (
        "kafka ChannelBindings: unknown key 'partition' (allowed: bindingVersion, partitions, "
        "replicas, topic, topicConfiguration); did you mean 'partitions'?"
    )


@pytest.mark.parametrize(
    ("key", "guess"),
    [
        ("topic_configuration", "topicConfiguration"),
        ("binding_version", "bindingVersion"),
        ("TOPIC", "topic"),
        ("topicconfiguration", "topicConfiguration"),
    ],
)
def test_unknown_key_suggests_the_wire_name(key: str, guess: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        kafka.ChannelBindings.from_dict({key: 1})
    assert f"unknown key {key!r}" in message_of(excinfo)
    assert message_of(excinfo).endswith(f"did you mean {guess!r}?")


def test_unknown_key_without_a_guess() -> None:
    with pytest.raises(ConfigError) as excinfo:
        kafka.ChannelBindings.from_dict({"zzz": 1})
    assert "unknown key 'zzz'" in message_of(excinfo)
    assert "did you mean" not in message_of(excinfo)


def test_unknown_nested_key_names_the_path() -> None:
    with pytest.raises(ConfigError) as excinfo:
        amqp.ChannelBindings.from_dict({"exchange": {"name": "x", "autodelete": True}})
    assert message_of(excinfo) == (
        "amqp ChannelBindings: unknown key 'exchange.autodelete' (allowed: autoDelete, "
        "durable, name, type, vhost); did you mean 'autoDelete'?"
    )


def test_extension_keys_are_not_allowed_in_plain_nested_dataclasses() -> None:
    with pytest.raises(ConfigError, match=r"unknown key 'exchange\.x-a'"):
        amqp.ChannelBindings.from_dict({"exchange": {"x-a": 1}})


@pytest.mark.parametrize("key", ["x-", "extensions", "X-upper"])
def test_not_quite_extension_keys_are_unknown(key: str) -> None:
    with pytest.raises(ConfigError, match=f"unknown key {re.escape(repr(key))}"):
        kafka.ChannelBindings.from_dict({key: 1})


# --- types ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "doc", "path", "expected", "got"),
    [
        (kafka.ChannelBindings, {"partitions": "3"}, "partitions", "int", "str '3'"),
        (kafka.ChannelBindings, {"partitions": True}, "partitions", "int", "bool True"),
        (kafka.ChannelBindings, {"partitions": 1.5}, "partitions", "int", "float 1.5"),
        (kafka.ChannelBindings, {"topic": 5}, "topic", "str", "int 5"),
        (
            kafka.ChannelBindings,
            {"topicConfiguration": []},
            "topicConfiguration",
            "mapping",
            "list []",
        ),
        (kafka.ChannelBindings, {"bindingVersion": 0.5}, "bindingVersion", "str", "float 0.5"),
        (
            amqp.ChannelBindings,
            {"exchange": {"autoDelete": "yes"}},
            "exchange.autoDelete",
            "bool",
            "str 'yes'",
        ),
        (
            amqp.ChannelBindings,
            {"exchange": "orders"},
            "exchange",
            "Exchange object",
            "str 'orders'",
        ),
        (amqp.ChannelBindings, {"queue": {"durable": 1}}, "queue.durable", "bool", "int 1"),
        (amqp.OperationBindings, {"cc": "a,b"}, "cc", "list of str", "str 'a,b'"),
        (amqp.OperationBindings, {"cc": ["a", 2]}, "cc[1]", "str", "int 2"),
        (amqp.OperationBindings, {"mandatory": "true"}, "mandatory", "bool", "str 'true'"),
        (Mixed, {"ratio": True}, "ratio", "float", "bool True"),
        (Mixed, {"ratio": "0.5"}, "ratio", "float", "str '0.5'"),
        (Mixed, {"flag": 0}, "flag", "bool", "int 0"),
        (Mixed, {"level": "mid"}, "level", "one of 'low', 'high'", "str 'mid'"),
        (Mixed, {"port": 1.5}, "port", "int or str or None", "float 1.5"),
        (Mixed, {"counts": {"a": "1"}}, "counts['a']", "int", "str '1'"),
        (Mixed, {"counts": {1: 1}}, "counts[1]", "str", "int 1"),
        (Mixed, {"mode": None}, "mode", "str", "None"),
    ],
)
def test_wrong_type(
    cls: type[Bindings], doc: dict[str, Any], path: str, expected: str, got: str
) -> None:
    with pytest.raises(ConfigError) as excinfo:
        cls.from_dict(doc)
    assert message_of(excinfo) == f"{cls._label()}: {path!r} must be {expected}, got {got}"


@pytest.mark.parametrize(
    ("make", "path"),
    [
        (lambda: kafka.ChannelBindings(partitions="3"), "partitions"),  # type: ignore[arg-type]
        (lambda: kafka.ChannelBindings(topic_configuration=[1]), "topic_configuration"),  # type: ignore[arg-type]
        (lambda: kafka.ChannelBindings(binding_version=5), "binding_version"),  # type: ignore[arg-type]
        (lambda: amqp.ChannelBindings(exchange={"name": "x"}), "exchange"),  # type: ignore[arg-type]
        (lambda: amqp.ChannelBindings(exchange=Exchange(auto_delete="no")), "exchange.auto_delete"),  # type: ignore[arg-type]
        (lambda: amqp.OperationBindings(cc=["a", None]), "cc[1]"),  # type: ignore[arg-type]
        (lambda: Mixed(level="mid"), "level"),  # type: ignore[arg-type]
    ],
)
def test_direct_construction_is_type_checked(make: Any, path: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        make()
    assert message_of(excinfo).split(": ", 1)[1].startswith(f"{path!r} must be ")


def test_direct_construction_checks_extensions() -> None:
    with pytest.raises(ConfigError, match="extension key 'owner' must start with 'x-'"):
        kafka.ChannelBindings(extensions={"owner": "me"})
    with pytest.raises(ConfigError, match="'extensions' must be a mapping"):
        kafka.ChannelBindings(extensions=["x-a"])  # type: ignore[arg-type]


def test_unsupported_hint_is_a_programming_error() -> None:
    @dataclass(frozen=True)
    class Odd(Bindings):
        pair: tuple[int, str] | None = None

    with pytest.raises(TypeError, match="unsupported type hint"):
        Odd(pair=(1, "a"))


# --- constraints ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "doc", "message"),
    [
        (kafka.ChannelBindings, {"partitions": 0}, "'partitions' must be >= 1, got 0"),
        (kafka.ChannelBindings, {"replicas": -1}, "'replicas' must be >= 1, got -1"),
        (http.MessageBindings, {"statusCode": 99}, "'statusCode' must be >= 100, got 99"),
        (http.MessageBindings, {"statusCode": 600}, "'statusCode' must be <= 599, got 600"),
        (amqp.OperationBindings, {"expiration": -5}, "'expiration' must be >= 0, got -5"),
        (
            http.OperationBindings,
            {"method": "FETCH"},
            f"'method' must be one of {', '.join(map(repr, HTTP_METHODS))}, got 'FETCH'",
        ),
        (
            amqp.ChannelBindings,
            {"is": "exchange"},
            "'is' must be one of 'queue', 'routingKey', got 'exchange'",
        ),
        (
            amqp.ChannelBindings,
            {"exchange": {"type": "bogus"}},
            "'exchange.type' must be one of 'topic', 'direct', 'fanout', 'default', 'headers', "
            "got 'bogus'",
        ),
        (
            amqp.ChannelBindings,
            {"queue": {"name": "q" * 256}},
            "'queue.name' must be at most 255 characters long, got 256",
        ),
        (amqp.OperationBindings, {"deliveryMode": 3}, "'deliveryMode' must be one of 1, 2, got 3"),
        (
            amqp.OperationBindings,
            {"deliveryMode": True},
            "'deliveryMode' must be int, got bool True",
        ),
    ],
)
def test_constraints(cls: type[Bindings], doc: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        cls.from_dict(doc)
    assert message_of(excinfo) == f"{cls._label()}: {message}"


def test_choices_apply_to_each_item() -> None:
    @dataclass(frozen=True)
    class Policies(Bindings):
        protocol: ClassVar[str] = "kafka"
        policy: tuple[str, ...] | None = field(
            default=None, metadata=asyncapi(choices=("delete", "compact"))
        )

    assert Policies.from_dict({"policy": ["delete"]}).policy == ("delete",)
    with pytest.raises(ConfigError, match=r"'policy\[1\]' must be one of 'delete', 'compact'"):
        Policies.from_dict({"policy": ["delete", "keep"]})


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: kafka.ChannelBindings(partitions=0), "'partitions' must be >= 1, got 0"),
        (lambda: http.OperationBindings(method="get"), "'method' must be one of 'GET'"),
        (lambda: amqp.ChannelBindings(exchange=Exchange(type="bogus")), "'exchange.type' must"),
        (lambda: amqp.ChannelBindings(is_="exchange"), "'is_' must be one of 'queue'"),
    ],
)
def test_direct_construction_checks_constraints(make: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        make()


def test_asyncapi_rejects_inverted_bounds() -> None:
    with pytest.raises(ConfigError, match="minimum 5 is greater than maximum 1"):
        asyncapi(minimum=5, maximum=1)


# --- versions -----------------------------------------------------------------------------


def test_unsupported_binding_version_lists_supported() -> None:
    with pytest.raises(ConfigError) as excinfo:
        kafka.ChannelBindings.from_dict({"bindingVersion": "0.9.0"})
    assert message_of(excinfo) == (
        "kafka ChannelBindings: unsupported bindingVersion '0.9.0' (supported: 0.5.0, 0.4.0, 0.3.0)"
    )
    with pytest.raises(ConfigError, match=r"unsupported bindingVersion '0\.1\.0'"):
        kafka.ChannelBindings(binding_version="0.1.0")


@pytest.mark.parametrize(("given", "effective"), [(None, "0.5.0"), ("0.4.0", "0.4.0")])
def test_effective_version(given: str | None, effective: str) -> None:
    assert kafka.ChannelBindings(binding_version=given).effective_version == effective


def test_any_version_when_none_declared() -> None:
    assert Mixed(binding_version="9.9.9").effective_version == "9.9.9"
    assert Mixed().effective_version is None


# --- placeholders -------------------------------------------------------------------------


@pytest.mark.parametrize("doc", [None, {}, {"bindingVersion": "0.3.0"}, {"x-any": {"a": 1}}])
def test_placeholder_accepts_only_version_and_extensions(doc: dict[str, Any] | None) -> None:
    parsed = http.ServerBindings.from_dict(doc)
    assert parsed.to_dict() == (doc or {})


def test_placeholder_rejects_other_keys() -> None:
    with pytest.raises(ConfigError) as excinfo:
        http.ServerBindings.from_dict({"method": "GET"})
    assert message_of(excinfo) == (
        "http ServerBindings: unknown key 'method'; this binding is a placeholder and takes "
        "no fields (only bindingVersion and x- extensions)"
    )


def test_placeholder_may_not_declare_fields() -> None:
    @dataclass(frozen=True)
    class Broken(Placeholder):
        protocol: ClassVar[str] = "http"
        method: str | None = None

    with pytest.raises(TypeError, match="declares fields"):
        Broken()


# --- bindings maps -------------------------------------------------------------------------


def test_from_bindings_map() -> None:
    bindings = {"kafka": {"partitions": 3}, "amqp": {"is": "queue"}, "x-other": 1}
    assert kafka.ChannelBindings.from_bindings_map(bindings) == kafka.ChannelBindings(partitions=3)
    assert http.OperationBindings.from_bindings_map(bindings) is None
    assert kafka.ChannelBindings.from_bindings_map(None) is None
    assert kafka.ChannelBindings.from_bindings_map({"kafka": None}) == kafka.ChannelBindings()
    assert http.ServerBindings.from_bindings_map({"http": {}}) == http.ServerBindings()


def test_from_bindings_map_errors() -> None:
    with pytest.raises(ConfigError, match="bindings object must be a mapping, got list"):
        kafka.ChannelBindings.from_bindings_map([1])  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"unresolved \$ref"):
        kafka.ChannelBindings.from_bindings_map({"$ref": "#/components/channelBindings/a"})
    with pytest.raises(ConfigError, match="kafka ChannelBindings: unknown key 'partition'"):
        kafka.ChannelBindings.from_bindings_map({"kafka": {"partition": 3}})
    with pytest.raises(TypeError, match="declares no protocol"):
        Bindings.from_bindings_map({})


# --- replace / merged ----------------------------------------------------------------------


def test_replace_returns_a_validated_copy() -> None:
    channel = kafka.ChannelBindings(topic="t")
    changed = channel.replace(partitions=4)
    assert changed == kafka.ChannelBindings(topic="t", partitions=4)
    assert channel.partitions is None
    with pytest.raises(ConfigError, match="'partitions' must be >= 1, got 0"):
        channel.replace(partitions=0)


def test_replace_rejects_unknown_fields() -> None:
    with pytest.raises(ConfigError) as excinfo:
        kafka.ChannelBindings().replace(partition=4)
    assert "kafka ChannelBindings: unknown field 'partition'" in message_of(excinfo)
    assert message_of(excinfo).endswith("did you mean 'partitions'?")


def test_merged() -> None:
    base = kafka.ChannelBindings(
        topic="t", partitions=3, binding_version="0.4.0", extensions={"x-a": 1, "x-b": 1}
    )
    override = kafka.ChannelBindings(partitions=6, extensions={"x-b": 2})
    merged = base.merged(override)
    assert merged == kafka.ChannelBindings(
        topic="t", partitions=6, binding_version="0.4.0", extensions={"x-a": 1, "x-b": 2}
    )
    assert base.merged(kafka.ChannelBindings()) == base


def test_merged_needs_the_same_class() -> None:
    with pytest.raises(ConfigError, match="cannot merge a OperationBindings"):
        kafka.ChannelBindings().merged(kafka.OperationBindings())  # type: ignore[arg-type]


# --- required and secret fields -------------------------------------------------------------


def test_missing_required_keys_are_named() -> None:
    with pytest.raises(ConfigError) as excinfo:
        Required.from_dict({})
    assert message_of(excinfo) == "Required: missing required keys 'name' (str), 'size' (int)"
    with pytest.raises(ConfigError, match=r"missing required key 'size' \(int\)$"):
        Required.from_dict({"name": "n"})


def test_secret_fields_stay_off_the_wire_and_out_of_messages() -> None:
    assert secret_fields(Required) == ("token",)
    obj = Required(name="n", size=1, token="hunter2")
    assert "hunter2" not in repr(obj)
    assert obj.to_dict() == {"name": "n", "size": 1}
    with pytest.raises(ConfigError) as excinfo:
        Required.from_dict({"name": "n", "size": 1, "token": "hunter2"})
    assert "runtime-only" in message_of(excinfo)
    with pytest.raises(ConfigError) as excinfo:
        Required(name="n", size=1, token=12345)  # type: ignore[arg-type]
    assert message_of(excinfo) == "Required: 'token' must be str, got int (value hidden)"
    assert "12345" not in message_of(excinfo)


def test_secret_fields_must_not_be_repr() -> None:
    @dataclass(frozen=True)
    class Leaky(SpecObject):
        token: str | None = field(default=None, metadata=asyncapi(secret=True))

    with pytest.raises(TypeError, match="repr=False"):
        Leaky()


# --- schema_value -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schema", "value"),
    [
        (None, None),
        ("myGroupId", "myGroupId"),
        (7, 7),
        (True, True),
        ({"type": "string", "const": "g"}, "g"),
        ({"type": "string", "enum": ["myGroupId"]}, "myGroupId"),
        ({"type": "string", "enum": ["a", "b"], "default": "b"}, "b"),
        ({"type": "integer", "default": 5}, 5),
        ({"const": None}, None),
        ({"const": "c", "enum": ["a", "b"]}, "c"),
    ],
)
def test_schema_value(schema: Any, value: Any) -> None:
    assert schema_value(schema, what="kafka OperationBindings.groupId") == value


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        (
            {"type": "string", "enum": ["a", "b"]},
            "groupId: the schema allows several values ('a', 'b') and has no default",
        ),
        ({"type": "string"}, "groupId: the schema pins no value"),
        ({}, "groupId: the schema pins no value"),
        ({"enum": []}, "groupId: 'enum' must be a non-empty list, got list []"),
        ({"enum": "a"}, "groupId: 'enum' must be a non-empty list, got str 'a'"),
        ({"enum": ["a", "b"], "default": "c"}, "groupId: default 'c' is not one of the enum"),
        ({"$ref": "#/components/schemas/g"}, "groupId: unresolved $ref '#/components/schemas/g'"),
    ],
)
def test_schema_value_errors(schema: Any, message: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        schema_value(schema, what="groupId")
    assert message_of(excinfo).startswith(message)
