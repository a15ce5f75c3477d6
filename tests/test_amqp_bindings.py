"""Unit tests of syncapi.amqp.bindings (the AMQP 0-9-1 binding 0.3.0 dataclasses); no broker."""

from __future__ import annotations

from typing import Any

import pytest

from syncapi.amqp.bindings import (
    ChannelBindings,
    Exchange,
    MessageBindings,
    OperationBindings,
    Queue,
    ServerBindings,
)
from syncapi.bindings import Bindings
from syncapi.errors import ConfigError

# The two shapes of the channel binding, as in the binding's README and JSON Schema examples.
EXCHANGE_DOC: dict[str, Any] = {
    "is": "routingKey",
    "exchange": {
        "name": "myExchange",
        "type": "topic",
        "durable": True,
        "autoDelete": False,
        "vhost": "/",
    },
    "bindingVersion": "0.3.0",
}
QUEUE_DOC: dict[str, Any] = {
    "is": "queue",
    "queue": {
        "name": "my-queue-name",
        "durable": True,
        "exclusive": True,
        "autoDelete": False,
        "vhost": "/",
    },
    "bindingVersion": "0.3.0",
}
OPERATION_DOC: dict[str, Any] = {
    "expiration": 100000,
    "userId": "guest",
    "cc": ["user.logs"],
    "priority": 10,
    "deliveryMode": 2,
    "mandatory": False,
    "bcc": ["external.audit"],
    "timestamp": True,
    "ack": False,
    "bindingVersion": "0.3.0",
}
MESSAGE_DOC: dict[str, Any] = {
    "contentEncoding": "gzip",
    "messageType": "user.signup",
    "bindingVersion": "0.3.0",
}

ALL = [ServerBindings, ChannelBindings, OperationBindings, MessageBindings]


def error_of(excinfo: pytest.ExceptionInfo[ConfigError]) -> str:
    """The message of a caught ConfigError."""
    return str(excinfo.value)


# --- shared facts --------------------------------------------------------------------------


@pytest.mark.parametrize("cls", ALL)
def test_protocol_and_versions(cls: type[Bindings]) -> None:
    assert cls.protocol == "amqp"
    assert cls.versions == ("0.3.0", "0.2.0")
    assert cls().binding_version is None
    assert cls().effective_version == "0.3.0"
    assert cls.from_dict({}).effective_version == "0.3.0"
    assert cls.from_dict({"bindingVersion": "0.3.0"}).binding_version == "0.3.0"
    assert cls.from_dict({"bindingVersion": "0.2.0"}).effective_version == "0.2.0"


@pytest.mark.parametrize("cls", ALL)
@pytest.mark.parametrize("version", ["0.1.0", "0.4.0", "latest", "3.0.0"])
def test_unsupported_binding_version_is_refused(cls: type[Bindings], version: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        cls.from_dict({"bindingVersion": version})
    assert error_of(excinfo) == (
        f"amqp {cls.__name__}: unsupported bindingVersion {version!r} (supported: 0.3.0, 0.2.0)"
    )


@pytest.mark.parametrize("cls", ALL)
def test_binding_version_must_be_a_string(cls: type[Bindings]) -> None:
    with pytest.raises(ConfigError) as excinfo:
        cls.from_dict({"bindingVersion": 0.3})
    assert error_of(excinfo) == (
        f"amqp {cls.__name__}: 'bindingVersion' must be str, got float 0.3"
    )


@pytest.mark.parametrize(
    ("cls", "key", "hint"),
    [
        (ChannelBindings, "Is", "is"),
        (ChannelBindings, "exchanges", "exchange"),
        (OperationBindings, "user_id", "userId"),
        (OperationBindings, "delivery_mode", "deliveryMode"),
        (OperationBindings, "priorty", "priority"),
        (MessageBindings, "contentencoding", "contentEncoding"),
        (MessageBindings, "message_type", "messageType"),
    ],
)
def test_unknown_keys_are_refused_by_name(cls: type[Bindings], key: str, hint: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        cls.from_dict({key: "x"})
    message = error_of(excinfo)
    assert message.startswith(f"amqp {cls.__name__}: unknown key {key!r} (allowed: ")
    assert message.endswith(f"did you mean {hint!r}?")


def test_unknown_key_lists_the_allowed_keys() -> None:
    with pytest.raises(ConfigError) as excinfo:
        MessageBindings.from_dict({"contentType": "application/json"})
    assert error_of(excinfo) == (
        "amqp MessageBindings: unknown key 'contentType' (allowed: bindingVersion, "
        "contentEncoding, messageType)"
    )


@pytest.mark.parametrize("cls", ALL)
def test_extensions_are_kept_and_written_back(cls: type[Bindings]) -> None:
    doc = {"bindingVersion": "0.3.0", "x-owner": "billing", "x-meta": {"a": [1, 2]}}
    bindings = cls.from_dict(doc)
    assert bindings.extensions == {"x-owner": "billing", "x-meta": {"a": [1, 2]}}
    assert bindings.to_dict() == doc
    assert cls.from_dict(bindings.to_dict()) == bindings


@pytest.mark.parametrize("cls", ALL)
def test_ref_is_refused(cls: type[Bindings]) -> None:
    with pytest.raises(ConfigError) as excinfo:
        cls.from_dict({"$ref": "#/components/x"})
    assert error_of(excinfo) == (
        f"amqp {cls.__name__}: unresolved $ref '#/components/x'; resolve references first"
    )


# --- ServerBindings ------------------------------------------------------------------------


def test_server_bindings_take_no_fields() -> None:
    assert ServerBindings.from_dict(None) == ServerBindings()
    assert ServerBindings().to_dict() == {}
    with pytest.raises(ConfigError) as excinfo:
        ServerBindings.from_dict({"vhost": "/"})
    assert error_of(excinfo) == (
        "amqp ServerBindings: unknown key 'vhost'; this binding is a placeholder and takes no "
        "fields (only bindingVersion and x- extensions)"
    )


# --- ChannelBindings: the two shapes -------------------------------------------------------


def test_channel_bindings_exchange_shape_from_dict() -> None:
    channel = ChannelBindings.from_dict(EXCHANGE_DOC)
    assert channel == ChannelBindings(
        is_="routingKey",
        exchange=Exchange(
            name="myExchange", type="topic", durable=True, auto_delete=False, vhost="/"
        ),
        binding_version="0.3.0",
    )
    assert channel.is_ == "routingKey"
    assert channel.queue is None
    exchange = channel.exchange
    assert exchange is not None
    assert exchange.name == "myExchange"
    assert exchange.type == "topic"
    assert exchange.durable is True
    assert exchange.auto_delete is False
    assert exchange.vhost == "/"
    assert exchange.is_default is False
    assert exchange.exchange_type == "topic"
    assert channel.kind == "routingKey"


def test_channel_bindings_queue_shape_from_dict() -> None:
    channel = ChannelBindings.from_dict(QUEUE_DOC)
    assert channel == ChannelBindings(
        is_="queue",
        queue=Queue(
            name="my-queue-name", durable=True, exclusive=True, auto_delete=False, vhost="/"
        ),
        binding_version="0.3.0",
    )
    assert channel.exchange is None
    queue = channel.queue
    assert queue is not None
    assert queue.name == "my-queue-name"
    assert queue.durable is True
    assert queue.exclusive is True
    assert queue.auto_delete is False
    assert queue.vhost == "/"
    assert channel.kind == "queue"


@pytest.mark.parametrize("exchange_type", ["topic", "direct", "fanout", "default", "headers"])
def test_every_spec_example_exchange_type(exchange_type: str) -> None:
    doc = {
        "bindingVersion": "0.3.0",
        "exchange": {
            "type": exchange_type,
            "autoDelete": False,
            "durable": True,
            "name": "myExchange",
            "vhost": "/",
        },
        "is": "routingKey",
    }
    channel = ChannelBindings.from_dict(doc)
    assert channel.exchange is not None
    assert channel.exchange.type == exchange_type
    assert channel.to_dict() == doc


@pytest.mark.parametrize("doc", [EXCHANGE_DOC, QUEUE_DOC])
def test_channel_bindings_round_trip(doc: dict[str, Any]) -> None:
    channel = ChannelBindings.from_dict(doc)
    assert channel.to_dict() == doc
    assert ChannelBindings.from_dict(channel.to_dict()) == channel
    assert hash(channel) == hash(ChannelBindings.from_dict(doc))


def test_channel_bindings_same_with_binding_version_0_2_0() -> None:
    doc = {**EXCHANGE_DOC, "bindingVersion": "0.2.0"}
    channel = ChannelBindings.from_dict(doc)
    assert channel.binding_version == "0.2.0"
    assert channel.to_dict() == doc


def test_is_key_maps_to_is_underscore() -> None:
    assert ChannelBindings.from_dict({"is": "queue"}).is_ == "queue"
    assert ChannelBindings(is_="routingKey").to_dict() == {"is": "routingKey"}
    assert "is_" not in ChannelBindings(is_="queue").to_dict()
    assert ChannelBindings(is_="queue").replace(is_="routingKey").is_ == "routingKey"
    with pytest.raises(ConfigError) as excinfo:
        ChannelBindings.from_dict({"is_": "queue"})
    assert error_of(excinfo) == (
        "amqp ChannelBindings: unknown key 'is_' (allowed: bindingVersion, exchange, is, "
        "queue); did you mean 'is'?"
    )


def test_is_must_be_routing_key_or_queue() -> None:
    with pytest.raises(ConfigError) as excinfo:
        ChannelBindings.from_dict({"is": "exchange"})
    assert error_of(excinfo) == (
        "amqp ChannelBindings: 'is' must be one of 'routingKey', 'queue', got str 'exchange'"
    )
    with pytest.raises(ConfigError) as excinfo:
        ChannelBindings(is_="routingkey")  # type: ignore[arg-type]
    assert error_of(excinfo) == (
        "amqp ChannelBindings: 'is_' must be one of 'routingKey', 'queue', got str 'routingkey'"
    )


# --- ChannelBindings: defaults and the default exchange ------------------------------------


def test_channel_bindings_defaults() -> None:
    channel = ChannelBindings()
    assert channel.is_ is None
    assert channel.exchange is None
    assert channel.queue is None
    assert channel.binding_version is None
    assert channel.extensions == {}
    assert channel.to_dict() == {}
    assert ChannelBindings.from_dict({}) == channel
    assert ChannelBindings.from_dict(None) == channel
    assert channel.kind == "routingKey"


def test_bare_routing_key_means_the_default_exchange() -> None:
    # The JSON Schema's oneOf refuses this; syncapi takes it as the default exchange.
    channel = ChannelBindings.from_dict({"is": "routingKey"})
    assert channel.exchange is None
    assert channel.kind == "routingKey"
    assert channel.to_dict() == {"is": "routingKey"}


def test_is_queue_without_a_queue_object_is_allowed() -> None:
    channel = ChannelBindings.from_dict({"is": "queue"})
    assert channel.queue is None
    assert channel.kind == "queue"


@pytest.mark.parametrize(
    ("channel", "kind"),
    [
        (ChannelBindings(), "routingKey"),
        (ChannelBindings(is_="routingKey"), "routingKey"),
        (ChannelBindings(is_="queue"), "queue"),
        (ChannelBindings(queue=Queue(name="q")), "queue"),
        (ChannelBindings(exchange=Exchange(name="e")), "routingKey"),
        (ChannelBindings(is_="queue", queue=Queue()), "queue"),
        (ChannelBindings(is_="routingKey", exchange=Exchange()), "routingKey"),
    ],
)
def test_kind(channel: ChannelBindings, kind: str) -> None:
    assert channel.kind == kind


# --- ChannelBindings: the oneOf rules ------------------------------------------------------


def test_exchange_and_queue_together_are_refused() -> None:
    both = "amqp ChannelBindings: give either 'exchange' (is: routingKey) or 'queue' (is: queue), not both"
    with pytest.raises(ConfigError) as excinfo:
        ChannelBindings.from_dict({"exchange": {"name": "e"}, "queue": {"name": "q"}})
    assert error_of(excinfo) == both
    with pytest.raises(ConfigError) as excinfo:
        ChannelBindings(exchange=Exchange(name="e"), queue=Queue(name="q"))
    assert error_of(excinfo) == both
    with pytest.raises(ConfigError) as excinfo:
        ChannelBindings.from_dict({"is": "queue", "exchange": {}, "queue": {}})
    assert error_of(excinfo) == both


def test_is_queue_with_an_exchange_is_refused() -> None:
    message = (
        "amqp ChannelBindings: 'exchange' is only allowed when 'is' is 'routingKey', not "
        "'queue'; describe the queue with 'queue'"
    )
    with pytest.raises(ConfigError) as excinfo:
        ChannelBindings.from_dict({"is": "queue", "exchange": {"name": "e", "type": "fanout"}})
    assert error_of(excinfo) == message
    with pytest.raises(ConfigError) as excinfo:
        ChannelBindings(is_="queue", exchange=Exchange())
    assert error_of(excinfo) == message


def test_is_routing_key_with_a_queue_is_refused() -> None:
    message = (
        "amqp ChannelBindings: 'queue' is only allowed when 'is' is 'queue', not "
        "'routingKey'; describe the exchange with 'exchange'"
    )
    with pytest.raises(ConfigError) as excinfo:
        ChannelBindings.from_dict({"is": "routingKey", "queue": {"name": "q"}})
    assert error_of(excinfo) == message
    with pytest.raises(ConfigError) as excinfo:
        ChannelBindings(is_="routingKey", queue=Queue(name="q"))
    assert error_of(excinfo) == message


def test_merged_cannot_combine_the_two_shapes() -> None:
    base = ChannelBindings(exchange=Exchange(name="e"))
    with pytest.raises(ConfigError, match="not both"):
        base.merged(ChannelBindings(queue=Queue(name="q")))
    merged = base.merged(ChannelBindings(is_="routingKey", extensions={"x-a": 1}))
    assert merged == ChannelBindings(
        is_="routingKey", exchange=Exchange(name="e"), extensions={"x-a": 1}
    )


# --- ChannelBindings: nested objects -------------------------------------------------------


def test_dicts_for_exchange_and_queue_on_direct_construction() -> None:
    channel = ChannelBindings(
        exchange={"name": "events", "type": "fanout", "autoDelete": True},  # type: ignore[arg-type]
    )
    assert channel.exchange == Exchange(name="events", type="fanout", auto_delete=True)
    assert isinstance(channel.exchange, Exchange)
    channel = ChannelBindings(queue={"name": "jobs", "exclusive": False})  # type: ignore[arg-type]
    assert channel.queue == Queue(name="jobs", exclusive=False)
    assert isinstance(channel.queue, Queue)
    assert channel.kind == "queue"


def test_bad_dicts_for_exchange_and_queue_on_direct_construction() -> None:
    with pytest.raises(ConfigError) as excinfo:
        ChannelBindings(exchange={"auto_delete": True})  # type: ignore[arg-type]
    assert error_of(excinfo) == (
        "amqp Exchange: unknown key 'auto_delete' (allowed: autoDelete, durable, name, type, "
        "vhost); did you mean 'autoDelete'?"
    )
    with pytest.raises(ConfigError) as excinfo:
        ChannelBindings(queue={"durable": "yes"})  # type: ignore[arg-type]
    assert error_of(excinfo) == "amqp Queue: 'durable' must be bool, got str 'yes'"


def test_exchange_and_queue_of_the_wrong_type_are_refused() -> None:
    with pytest.raises(ConfigError) as excinfo:
        ChannelBindings(exchange="amq.topic")  # type: ignore[arg-type]
    assert error_of(excinfo) == (
        "amqp ChannelBindings: 'exchange' must be Exchange object, got str 'amq.topic'"
    )
    with pytest.raises(ConfigError) as excinfo:
        ChannelBindings(queue=Exchange(name="e"))  # type: ignore[arg-type]
    assert error_of(excinfo).startswith(
        "amqp ChannelBindings: 'queue' must be Queue object, got Exchange "
    )
    with pytest.raises(ConfigError) as excinfo:
        ChannelBindings.from_dict({"queue": "jobs"})
    assert error_of(excinfo) == (
        "amqp ChannelBindings: 'queue' must be Queue object, got str 'jobs'"
    )


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (
            {"exchange": {"type": "x-delayed-message"}},
            "amqp ChannelBindings: 'exchange.type' must be one of 'topic', 'direct', 'fanout', "
            "'default', 'headers', got str 'x-delayed-message'",
        ),
        (
            {"exchange": {"type": "Topic"}},
            "amqp ChannelBindings: 'exchange.type' must be one of 'topic', 'direct', 'fanout', "
            "'default', 'headers', got str 'Topic'",
        ),
        (
            {"exchange": {"durable": 1}},
            "amqp ChannelBindings: 'exchange.durable' must be bool, got int 1",
        ),
        (
            {"exchange": {"autoDelete": "false"}},
            "amqp ChannelBindings: 'exchange.autoDelete' must be bool, got str 'false'",
        ),
        (
            {"exchange": {"name": 5}},
            "amqp ChannelBindings: 'exchange.name' must be str, got int 5",
        ),
        (
            {"exchange": {"vhost": ["/"]}},
            "amqp ChannelBindings: 'exchange.vhost' must be str, got list ['/']",
        ),
        (
            {"queue": {"exclusive": 0}},
            "amqp ChannelBindings: 'queue.exclusive' must be bool, got int 0",
        ),
        (
            {"queue": {"type": "classic"}},
            "amqp ChannelBindings: unknown key 'queue.type' (allowed: autoDelete, durable, "
            "exclusive, name, vhost)",
        ),
        (
            {"exchange": {"autodelete": True}},
            "amqp ChannelBindings: unknown key 'exchange.autodelete' (allowed: autoDelete, "
            "durable, name, type, vhost); did you mean 'autoDelete'?",
        ),
        (
            {"exchange": ["e"]},
            "amqp ChannelBindings: 'exchange' must be Exchange object, got list ['e']",
        ),
    ],
)
def test_bad_nested_values_are_refused(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        ChannelBindings.from_dict(doc)
    assert error_of(excinfo) == message


def test_nested_extensions_are_kept() -> None:
    doc = {
        "exchange": {"name": "e", "x-arguments": {"alternate-exchange": "ae"}},
        "x-team": "billing",
    }
    channel = ChannelBindings.from_dict(doc)
    assert channel.exchange is not None
    assert channel.exchange.extensions == {"x-arguments": {"alternate-exchange": "ae"}}
    assert channel.extensions == {"x-team": "billing"}
    assert channel.to_dict() == doc
    queue = Queue.from_dict({"name": "q", "x-queue-type": "quorum"})
    assert queue.extensions == {"x-queue-type": "quorum"}
    assert queue.to_dict() == {"name": "q", "x-queue-type": "quorum"}


def test_bad_extension_keys_are_refused() -> None:
    with pytest.raises(ConfigError) as excinfo:
        ChannelBindings(extensions={"team": "billing"})
    assert error_of(excinfo) == ("amqp ChannelBindings: extension key 'team' must start with 'x-'")
    with pytest.raises(ConfigError) as excinfo:
        Exchange(extensions={"arguments": {}})
    assert error_of(excinfo) == "amqp Exchange: extension key 'arguments' must start with 'x-'"


# --- Exchange ------------------------------------------------------------------------------


def test_exchange_defaults() -> None:
    exchange = Exchange()
    assert exchange.name is None
    assert exchange.type is None
    assert exchange.durable is None
    assert exchange.auto_delete is None
    assert exchange.vhost is None
    assert exchange.to_dict() == {}
    assert Exchange.from_dict({}) == exchange


@pytest.mark.parametrize(
    ("exchange", "is_default", "exchange_type"),
    [
        (Exchange(), True, "direct"),
        (Exchange(name=""), True, "direct"),
        (Exchange(type="direct"), True, "direct"),
        (Exchange(name="", type="direct"), True, "direct"),
        (Exchange(type="default"), True, "direct"),
        (Exchange(name="myExchange", type="default"), True, "direct"),
        (Exchange(name="myExchange"), False, "direct"),
        (Exchange(name="myExchange", type="direct"), False, "direct"),
        (Exchange(name="myExchange", type="topic"), False, "topic"),
        (Exchange(name="myExchange", type="fanout"), False, "fanout"),
        (Exchange(name="myExchange", type="headers"), False, "headers"),
        (Exchange(name="amq.topic", type="topic", durable=True), False, "topic"),
    ],
)
def test_exchange_is_default_and_exchange_type(
    exchange: Exchange, is_default: bool, exchange_type: str
) -> None:
    assert exchange.is_default is is_default
    assert exchange.exchange_type == exchange_type


@pytest.mark.parametrize("exchange_type", ["topic", "fanout", "headers"])
@pytest.mark.parametrize("name", [None, ""])
def test_unnamed_exchange_must_be_direct(exchange_type: str, name: str | None) -> None:
    with pytest.raises(ConfigError) as excinfo:
        Exchange(name=name, type=exchange_type)  # type: ignore[arg-type]
    assert error_of(excinfo) == (
        f"amqp Exchange: an exchange of type {exchange_type!r} needs a 'name'; an unnamed "
        "exchange is the AMQP default exchange, which is a direct exchange"
    )
    with pytest.raises(ConfigError, match="needs a 'name'"):
        ChannelBindings.from_dict({"exchange": {"type": exchange_type}})


def test_unknown_exchange_type_lists_the_allowed_ones() -> None:
    with pytest.raises(ConfigError) as excinfo:
        Exchange(name="e", type="x-consistent-hash")  # type: ignore[arg-type]
    assert error_of(excinfo) == (
        "amqp Exchange: 'type' must be one of 'topic', 'direct', 'fanout', 'default', "
        "'headers', got str 'x-consistent-hash'"
    )
    with pytest.raises(ConfigError) as excinfo:
        Exchange.from_dict({"name": "e", "type": "match"})
    assert error_of(excinfo) == (
        "amqp Exchange: 'type' must be one of 'topic', 'direct', 'fanout', 'default', "
        "'headers', got str 'match'"
    )


def test_exchange_bool_fields_must_be_real_bools() -> None:
    with pytest.raises(ConfigError) as excinfo:
        Exchange(name="e", durable=1)  # type: ignore[arg-type]
    assert error_of(excinfo) == "amqp Exchange: 'durable' must be bool, got int 1"
    with pytest.raises(ConfigError) as excinfo:
        Exchange(name="e", auto_delete=0)  # type: ignore[arg-type]
    assert error_of(excinfo) == "amqp Exchange: 'auto_delete' must be bool, got int 0"


def test_exchange_round_trip() -> None:
    doc = {"name": "orders", "type": "headers", "durable": False, "autoDelete": True, "vhost": "b"}
    exchange = Exchange.from_dict(doc)
    assert exchange == Exchange(
        name="orders", type="headers", durable=False, auto_delete=True, vhost="b"
    )
    assert exchange.to_dict() == doc
    assert Exchange.from_dict(exchange.to_dict()) == exchange


# --- names: at most 255 bytes of UTF-8 -----------------------------------------------------


@pytest.mark.parametrize("cls", [Exchange, Queue])
def test_names_up_to_255_bytes_are_accepted(cls: type[Exchange] | type[Queue]) -> None:
    assert cls(name="n" * 255).name == "n" * 255
    assert cls(name="é" * 127 + "a").name == "é" * 127 + "a"  # 255 bytes
    assert cls.from_dict({"name": ""}).name == ""


@pytest.mark.parametrize("cls", [Exchange, Queue])
@pytest.mark.parametrize(
    ("name", "size"),
    [("n" * 256, 256), ("é" * 128, 256), ("€" * 100, 300), ("😀" * 64, 256)],
)
def test_names_over_255_bytes_are_refused(
    cls: type[Exchange] | type[Queue], name: str, size: int
) -> None:
    message = (
        f"amqp {cls.__name__}: 'name' must be at most 255 bytes long in UTF-8, got {size} bytes"
    )
    with pytest.raises(ConfigError) as excinfo:
        cls(name=name)
    assert error_of(excinfo) == message
    with pytest.raises(ConfigError) as excinfo:
        cls.from_dict({"name": name})
    assert error_of(excinfo) == message
    key = "exchange" if cls is Exchange else "queue"
    with pytest.raises(ConfigError) as excinfo:
        ChannelBindings.from_dict({key: {"name": name}})
    assert error_of(excinfo) == message


@pytest.mark.parametrize("cls", [Exchange, Queue])
def test_names_that_are_not_utf8_are_refused(cls: type[Exchange] | type[Queue]) -> None:
    with pytest.raises(ConfigError) as excinfo:
        cls(name="bad\ud800")
    assert error_of(excinfo) == (
        f"amqp {cls.__name__}: 'name' must be valid UTF-8 text, got 'bad\\ud800'"
    )


# --- Queue ---------------------------------------------------------------------------------


def test_queue_defaults_and_round_trip() -> None:
    queue = Queue()
    assert (queue.name, queue.durable, queue.exclusive, queue.auto_delete, queue.vhost) == (
        None,
        None,
        None,
        None,
        None,
    )
    assert queue.to_dict() == {}
    doc = {"name": "jobs", "durable": True, "exclusive": False, "autoDelete": True, "vhost": "v"}
    queue = Queue.from_dict(doc)
    assert queue == Queue(name="jobs", durable=True, exclusive=False, auto_delete=True, vhost="v")
    assert queue.to_dict() == doc
    assert Queue.from_dict(queue.to_dict()) == queue


def test_queue_bool_fields_must_be_real_bools() -> None:
    with pytest.raises(ConfigError) as excinfo:
        Queue(exclusive=1)  # type: ignore[arg-type]
    assert error_of(excinfo) == "amqp Queue: 'exclusive' must be bool, got int 1"
    with pytest.raises(ConfigError) as excinfo:
        Queue.from_dict({"autoDelete": 1})
    assert error_of(excinfo) == "amqp Queue: 'autoDelete' must be bool, got int 1"


def test_queue_unknown_key() -> None:
    with pytest.raises(ConfigError) as excinfo:
        Queue.from_dict({"name": "q", "exlusive": True})
    assert error_of(excinfo) == (
        "amqp Queue: unknown key 'exlusive' (allowed: autoDelete, durable, exclusive, name, "
        "vhost); did you mean 'exclusive'?"
    )


# --- OperationBindings ---------------------------------------------------------------------


def test_operation_bindings_from_dict() -> None:
    operation = OperationBindings.from_dict(OPERATION_DOC)
    assert operation == OperationBindings(
        expiration=100000,
        user_id="guest",
        cc=("user.logs",),
        priority=10,
        delivery_mode=2,
        mandatory=False,
        bcc=("external.audit",),
        timestamp=True,
        ack=False,
        binding_version="0.3.0",
    )
    assert operation.cc == ("user.logs",)
    assert isinstance(operation.bcc, tuple)


def test_operation_bindings_round_trip() -> None:
    operation = OperationBindings.from_dict(OPERATION_DOC)
    assert operation.to_dict() == OPERATION_DOC
    assert OperationBindings.from_dict(operation.to_dict()) == operation
    assert hash(operation) == hash(OperationBindings.from_dict(OPERATION_DOC))


def test_operation_bindings_defaults() -> None:
    operation = OperationBindings()
    for attr in (
        "expiration",
        "user_id",
        "cc",
        "bcc",
        "priority",
        "delivery_mode",
        "mandatory",
        "timestamp",
        "ack",
    ):
        assert getattr(operation, attr) is None, attr
    assert operation.to_dict() == {}


def test_cc_and_bcc_lists_become_tuples() -> None:
    operation = OperationBindings(cc=["a", "b"], bcc=["c"])  # type: ignore[arg-type]
    assert operation.cc == ("a", "b")
    assert operation.bcc == ("c",)
    assert operation.to_dict() == {"cc": ["a", "b"], "bcc": ["c"]}
    assert OperationBindings(cc=()).cc == ()


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"expiration": -1}, "'expiration' must be >= 0, got -1"),
        ({"expiration": 1.5}, "'expiration' must be int, got float 1.5"),
        ({"expiration": "60000"}, "'expiration' must be int, got str '60000'"),
        ({"expiration": True}, "'expiration' must be int, got bool True"),
        ({"priority": -1}, "'priority' must be >= 0, got -1"),
        ({"priority": 256}, "'priority' must be <= 255, got 256"),
        ({"priority": "high"}, "'priority' must be int, got str 'high'"),
        ({"deliveryMode": 3}, "'deliveryMode' must be one of 1, 2, got 3"),
        ({"deliveryMode": 0}, "'deliveryMode' must be one of 1, 2, got 0"),
        ({"deliveryMode": "persistent"}, "'deliveryMode' must be int, got str 'persistent'"),
        ({"deliveryMode": True}, "'deliveryMode' must be int, got bool True"),
        ({"mandatory": 1}, "'mandatory' must be bool, got int 1"),
        ({"timestamp": 0}, "'timestamp' must be bool, got int 0"),
        ({"ack": "true"}, "'ack' must be bool, got str 'true'"),
        ({"userId": 7}, "'userId' must be str, got int 7"),
        ({"cc": "user.logs"}, "'cc' must be list of str, got str 'user.logs'"),
        ({"cc": ["a", 2]}, "'cc[1]' must be str, got int 2"),
        ({"bcc": [None]}, "'bcc[0]' must be str, got None"),
    ],
)
def test_operation_bindings_bad_values(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        OperationBindings.from_dict(doc)
    assert error_of(excinfo) == f"amqp OperationBindings: {message}"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"priority": 300}, "'priority' must be <= 255, got 300"),
        ({"delivery_mode": 3}, "'delivery_mode' must be one of 1, 2, got 3"),
        ({"expiration": -5}, "'expiration' must be >= 0, got -5"),
        ({"ack": 1}, "'ack' must be bool, got int 1"),
        ({"mandatory": 0}, "'mandatory' must be bool, got int 0"),
        ({"bcc": ("a", b"b")}, "'bcc[1]' must be str, got bytes b'b'"),
    ],
)
def test_operation_bindings_direct_construction_is_checked(
    kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as excinfo:
        OperationBindings(**kwargs)
    assert error_of(excinfo) == f"amqp OperationBindings: {message}"


@pytest.mark.parametrize("priority", [0, 9, 255])
def test_priority_bounds_are_inclusive(priority: int) -> None:
    assert OperationBindings(priority=priority).priority == priority


@pytest.mark.parametrize("mode", [1, 2])
def test_delivery_modes(mode: int) -> None:
    assert OperationBindings.from_dict({"deliveryMode": mode}).delivery_mode == mode


def test_expiration_zero_is_allowed() -> None:
    assert OperationBindings(expiration=0).expiration == 0


@pytest.mark.parametrize("version", ["0.2.0", "0.3.0"])
def test_reply_to_is_refused_with_an_explanation(version: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        OperationBindings.from_dict({"replyTo": "user.signedup", "bindingVersion": version})
    assert error_of(excinfo) == (
        "amqp OperationBindings: 'replyTo' (binding 0.2.0) is not supported: binding 0.3.0 "
        "dropped it in favour of the operation's 'reply' object; declare the reply there"
    )


def test_operation_0_2_0_example_without_reply_to() -> None:
    doc = {**OPERATION_DOC, "bindingVersion": "0.2.0"}
    operation = OperationBindings.from_dict(doc)
    assert operation.binding_version == "0.2.0"
    assert operation.to_dict() == doc


# --- MessageBindings -----------------------------------------------------------------------


def test_message_bindings_from_dict_and_back() -> None:
    message = MessageBindings.from_dict(MESSAGE_DOC)
    assert message == MessageBindings(
        content_encoding="gzip", message_type="user.signup", binding_version="0.3.0"
    )
    assert message.to_dict() == MESSAGE_DOC
    assert MessageBindings.from_dict(message.to_dict()) == message
    assert MessageBindings().to_dict() == {}
    assert MessageBindings().content_encoding is None
    assert MessageBindings().message_type is None


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"contentEncoding": 1}, "'contentEncoding' must be str, got int 1"),
        ({"messageType": ["a"]}, "'messageType' must be str, got list ['a']"),
    ],
)
def test_message_bindings_bad_values(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        MessageBindings.from_dict(doc)
    assert error_of(excinfo) == f"amqp MessageBindings: {message}"


# --- coerce and bindings maps --------------------------------------------------------------


def test_coerce_a_dict() -> None:
    channel = ChannelBindings.coerce({"is": "queue", "queue": {"name": "jobs"}})
    assert channel == ChannelBindings(is_="queue", queue=Queue(name="jobs"))
    same = ChannelBindings()
    assert ChannelBindings.coerce(same) is same
    assert ChannelBindings.coerce(None) is None
    assert OperationBindings.coerce({"ack": True}) == OperationBindings(ack=True)
    with pytest.raises(ConfigError) as excinfo:
        ChannelBindings.coerce(OperationBindings())
    assert error_of(excinfo).startswith(
        "amqp ChannelBindings: expected a ChannelBindings or a dict, got OperationBindings"
    )


def test_from_bindings_map() -> None:
    bindings = {
        "amqp": {"ack": True, "deliveryMode": 2},
        "kafka": {"groupId": {"const": "g"}},
    }
    operation = OperationBindings.from_bindings_map(bindings)
    assert operation == OperationBindings(ack=True, delivery_mode=2)
    assert ChannelBindings.from_bindings_map({"kafka": {}}) is None
    assert ChannelBindings.from_bindings_map(None) is None
    assert ChannelBindings.from_bindings_map({"amqp": None}) == ChannelBindings()
    channel = ChannelBindings.from_bindings_map({"amqp": EXCHANGE_DOC})
    assert channel is not None
    assert channel.exchange is not None
    assert channel.exchange.name == "myExchange"


def test_null_in_a_document_means_unset() -> None:
    channel = ChannelBindings.from_dict({"is": None, "queue": {"autoDelete": None}})
    assert channel == ChannelBindings(queue=Queue())
    assert channel.to_dict() == {"queue": {}}
