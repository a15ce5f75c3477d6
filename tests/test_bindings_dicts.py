"""Every protocol takes its channel, operation and message bindings as its own bindings
objects or as AsyncAPI document dicts (camelCase keys), parsed with ``coerce()``.

For each protocol: a dict given to ``publisher()``, ``subscriber()``, an envelope's
``bindings=`` or ``set_bindings()`` is stored as the parsed object, equal to the one built
by hand; an object is stored as it is; an unknown key and a value of another type raise
``ConfigError`` naming the problem. Then, per protocol, an end-to-end check where the
bindings given as dicts have their effect (AMQP against the real RabbitMQ, Kafka against
the real broker, the brokerless protocols on 127.0.0.1).
"""

from __future__ import annotations

import contextlib
import random
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pika
import pytest

from syncapi import amqp, http, ip, kafka, memory, tcp, udp, ws
from syncapi.errors import ConfigError
from syncapi.testing import Collector, wait_until

TIMEOUT = 20.0


def _name(tag: str) -> str:
    return f"dicts-{tag}-{uuid.uuid4().hex[:8]}"


def _loopback() -> str:
    """A loopback address of its own (every raw socket of a protocol sees every packet
    sent to its address)."""
    return f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}"


# -- the protocols ------------------------------------------------------------------------
class Ends:
    """Opens publishers and subscribers of one protocol on fresh channels; what it opens
    is closed by the test's exit stack."""

    def __init__(self, stack: contextlib.ExitStack, request: pytest.FixtureRequest) -> None:
        self.stack = stack
        self.request = request

    def publisher(self, **bindings: Any) -> Any:
        raise NotImplementedError

    def subscriber(self, **bindings: Any) -> Any:
        raise NotImplementedError


class MemoryEnds(Ends):
    def __init__(self, stack: contextlib.ExitStack, request: pytest.FixtureRequest) -> None:
        super().__init__(stack, request)
        url = f"memory://{_name('broker')}"
        self.producer = stack.enter_context(memory.Producer(url))
        self.consumer = stack.enter_context(memory.Consumer(url))

    def publisher(self, **bindings: Any) -> Any:
        return self.producer.publisher(_name("pub"), **bindings)

    def subscriber(self, **bindings: Any) -> Any:
        return self.consumer.subscriber(_name("sub"), **bindings)


class KafkaEnds(Ends):
    def __init__(self, stack: contextlib.ExitStack, request: pytest.FixtureRequest) -> None:
        super().__init__(stack, request)
        url = request.getfixturevalue("kafka_url")
        self.producer = stack.enter_context(kafka.Producer(url))
        self.consumer = stack.enter_context(kafka.Consumer(url))

    def publisher(self, **bindings: Any) -> Any:
        return self.producer.publisher(_name("pub"), **bindings)

    def subscriber(self, **bindings: Any) -> Any:
        return self.consumer.subscriber(_name("sub"), **bindings)


class AmqpEnds(Ends):
    """Channels are queues named by the address (the channel bindings say ``is: queue``);
    every queue declared is deleted at the end."""

    def __init__(self, stack: contextlib.ExitStack, request: pytest.FixtureRequest) -> None:
        super().__init__(stack, request)
        url = request.getfixturevalue("amqp_url")
        self.names: list[str] = []
        stack.callback(self._delete_queues, url)
        self.producer = stack.enter_context(amqp.Producer(url))
        self.consumer = stack.enter_context(amqp.Consumer(url))

    def _delete_queues(self, url: str) -> None:
        connection = pika.BlockingConnection(pika.URLParameters(url))
        try:
            channel = connection.channel()
            for name in self.names:
                channel.queue_delete(name)
        finally:
            connection.close()

    def _channel(self, tag: str) -> str:
        self.names.append(_name(tag))
        return self.names[-1]

    def publisher(self, **bindings: Any) -> Any:
        return self.producer.publisher(self._channel("pub"), **bindings)

    def subscriber(self, **bindings: Any) -> Any:
        return self.consumer.subscriber(self._channel("sub"), **bindings)


class HttpEnds(Ends):
    def __init__(self, stack: contextlib.ExitStack, request: pytest.FixtureRequest) -> None:
        super().__init__(stack, request)
        self.consumer = stack.enter_context(http.Consumer("http://127.0.0.1/"))
        self.consumer.serve()
        self.producer = stack.enter_context(http.Producer(self.consumer.servers[0].url))

    def publisher(self, **bindings: Any) -> Any:
        return self.producer.publisher(_name("pub"), **bindings)

    def subscriber(self, **bindings: Any) -> Any:
        return self.consumer.subscriber(_name("sub"), **bindings)


class WsEnds(Ends):
    """A publisher is a connection: its route is registered first (without bindings)."""

    def __init__(self, stack: contextlib.ExitStack, request: pytest.FixtureRequest) -> None:
        super().__init__(stack, request)
        self.consumer = stack.enter_context(ws.Consumer("ws://127.0.0.1/"))
        self.consumer.serve()
        self.producer = stack.enter_context(ws.Producer(self.consumer.servers[0].url))

    def publisher(self, **bindings: Any) -> Any:
        channel = _name("pub")
        self.consumer.subscriber(channel)
        return self.producer.publisher(channel, **bindings)

    def subscriber(self, **bindings: Any) -> Any:
        return self.consumer.subscriber(_name("sub"), **bindings)


class TcpEnds(Ends):
    """One consumer (one listening port) has one subscriber: a fresh one each time."""

    def __init__(self, stack: contextlib.ExitStack, request: pytest.FixtureRequest) -> None:
        super().__init__(stack, request)
        self.server = stack.enter_context(tcp.Consumer("tcp://127.0.0.1"))
        self.producer = stack.enter_context(tcp.Producer(self.server.bound_url))

    def publisher(self, **bindings: Any) -> Any:
        return self.producer.publisher(_name("pub"), **bindings)

    def subscriber(self, **bindings: Any) -> Any:
        consumer = self.stack.enter_context(tcp.Consumer("tcp://127.0.0.1"))
        return consumer.subscriber(_name("sub"), **bindings)


class UdpEnds(Ends):
    def __init__(self, stack: contextlib.ExitStack, request: pytest.FixtureRequest) -> None:
        super().__init__(stack, request)
        self.server = stack.enter_context(udp.Consumer("udp://127.0.0.1"))
        self.producer = stack.enter_context(udp.Producer(self.server.bound_url))

    def publisher(self, **bindings: Any) -> Any:
        return self.producer.publisher(_name("pub"), **bindings)

    def subscriber(self, **bindings: Any) -> Any:
        consumer = self.stack.enter_context(udp.Consumer("udp://127.0.0.1"))
        return consumer.subscriber(_name("sub"), **bindings)


class IpEnds(Ends):
    """Raw IP on protocol 253 (reserved for experiments), each end on its own loopback
    address; needs root or CAP_NET_RAW, as tests/test_ip.py does."""

    def __init__(self, stack: contextlib.ExitStack, request: pytest.FixtureRequest) -> None:
        super().__init__(stack, request)
        self.server = stack.enter_context(ip.Consumer(f"ip://{_loopback()}?protocol=253"))
        self.producer = stack.enter_context(ip.Producer(self.server.bound_url))

    def publisher(self, **bindings: Any) -> Any:
        return self.producer.publisher(_name("pub"), **bindings)

    def subscriber(self, **bindings: Any) -> Any:
        consumer = self.stack.enter_context(ip.Consumer(f"ip://{_loopback()}?protocol=253"))
        return consumer.subscriber(_name("sub"), **bindings)


@dataclass(frozen=True)
class Case:
    """One protocol: a document dict of each binding and the object built by hand."""

    module: ModuleType
    ends: Callable[[contextlib.ExitStack, pytest.FixtureRequest], Ends]
    channel: tuple[dict[str, Any], Any]
    operation: tuple[dict[str, Any], Any]
    message: tuple[dict[str, Any], Any]

    @property
    def name(self) -> str:
        return self.module.__name__.rsplit(".", 1)[-1]

    @property
    def other(self) -> ModuleType:
        """Another protocol, whose bindings objects this one refuses."""
        return tcp if self.module is memory else memory


def _placeholders(module: ModuleType, ends: Callable[..., Ends]) -> Case:
    """A protocol whose four bindings are placeholders: ``bindingVersion`` and ``x-`` only."""
    return Case(
        module,
        ends,
        channel=(
            {"bindingVersion": "0.1.0", "x-owner": "ops"},
            module.ChannelBindings(binding_version="0.1.0", extensions={"x-owner": "ops"}),
        ),
        operation=({"x-op": 1}, module.OperationBindings(extensions={"x-op": 1})),
        message=(
            {"bindingVersion": "0.1.0", "x-kind": "m"},
            module.MessageBindings(binding_version="0.1.0", extensions={"x-kind": "m"}),
        ),
    )


QUERY = {"type": "object", "properties": {"lang": {"type": "string", "default": "en"}}}

CASES = {
    "memory": _placeholders(memory, MemoryEnds),
    "kafka": Case(
        kafka,
        KafkaEnds,
        channel=(
            {"partitions": 1, "topicConfiguration": {"retention.ms": 3_600_000}},
            kafka.ChannelBindings(
                partitions=1, topic_configuration=kafka.TopicConfiguration(retention_ms=3_600_000)
            ),
        ),
        operation=(
            {"clientId": {"type": "string", "enum": ["dicts-client"]}, "x-op": 1},
            kafka.OperationBindings(
                client_id={"type": "string", "enum": ["dicts-client"]}, extensions={"x-op": 1}
            ),
        ),
        message=(
            {"key": {"type": "string"}, "bindingVersion": "0.5.0"},
            kafka.MessageBindings(key={"type": "string"}, binding_version="0.5.0"),
        ),
    ),
    "amqp": Case(
        amqp,
        AmqpEnds,
        channel=(
            {"is": "queue", "queue": {"durable": False, "autoDelete": False}},
            amqp.ChannelBindings(is_="queue", queue=amqp.Queue(durable=False, auto_delete=False)),
        ),
        operation=(
            {"priority": 5, "deliveryMode": 1, "ack": True},
            amqp.OperationBindings(priority=5, delivery_mode=1, ack=True),
        ),
        message=(
            {"messageType": "greeting", "contentEncoding": "identity"},
            amqp.MessageBindings(message_type="greeting", content_encoding="identity"),
        ),
    ),
    "http": Case(
        http,
        HttpEnds,
        channel=({"x-route": "r"}, http.ChannelBindings(extensions={"x-route": "r"})),
        operation=({"method": "put"}, http.OperationBindings(method="PUT")),
        message=({"statusCode": 202}, http.MessageBindings(status_code=202)),
    ),
    "ws": Case(
        ws,
        WsEnds,
        channel=({"method": "get", "query": QUERY}, ws.ChannelBindings(method="GET", query=QUERY)),
        operation=({"x-op": 1}, ws.OperationBindings(extensions={"x-op": 1})),
        message=({"x-kind": "m"}, ws.MessageBindings(extensions={"x-kind": "m"})),
    ),
    "tcp": _placeholders(tcp, TcpEnds),
    "udp": _placeholders(udp, UdpEnds),
    "ip": _placeholders(ip, IpEnds),
}

_MARKS = {"kafka": pytest.mark.kafka, "amqp": pytest.mark.amqp}
ALL = [pytest.param(case, id=name, marks=_MARKS.get(name, ())) for name, case in CASES.items()]


@pytest.fixture
def ends(request: pytest.FixtureRequest) -> Iterator[Ends]:
    """The publisher/subscriber opener of the test's protocol (``case`` parameter)."""
    case: Case = request.getfixturevalue("case")
    with contextlib.ExitStack() as stack:
        yield case.ends(stack, request)


def _refused(excinfo: pytest.ExceptionInfo[ConfigError], *parts: str) -> None:
    """The error's message names each of ``parts`` (regular expressions)."""
    message = str(excinfo.value)
    for part in parts:
        assert re.search(part, message), f"{part!r} not in {message!r}"


# -- publisher() and subscriber() -----------------------------------------------------------
@pytest.mark.parametrize("case", ALL)
@pytest.mark.parametrize("side", ["publisher", "subscriber"])
def test_dicts_are_stored_as_the_parsed_objects(case: Case, side: str, ends: Ends) -> None:
    (channel_doc, channel), (operation_doc, operation) = case.channel, case.operation
    opened = getattr(ends, side)(bindings=channel_doc, operation_bindings=operation_doc)
    assert type(opened.bindings) is case.module.ChannelBindings
    assert opened.bindings == channel
    assert type(opened.operation_bindings) is case.module.OperationBindings
    assert opened.operation_bindings == operation


@pytest.mark.parametrize("case", ALL)
@pytest.mark.parametrize("side", ["publisher", "subscriber"])
def test_objects_and_none_are_kept_as_they_are(case: Case, side: str, ends: Ends) -> None:
    channel, operation = case.channel[1], case.operation[1]
    opened = getattr(ends, side)(bindings=channel, operation_bindings=operation)
    assert opened.bindings is channel
    assert opened.operation_bindings is operation
    bare = getattr(ends, side)()
    assert bare.bindings is None and bare.operation_bindings is None


@pytest.mark.parametrize("case", ALL)
@pytest.mark.parametrize("side", ["publisher", "subscriber"])
@pytest.mark.parametrize("which", ["bindings", "operation_bindings"])
def test_an_unknown_key_is_refused(case: Case, side: str, which: str, ends: Ends) -> None:
    cls = "ChannelBindings" if which == "bindings" else "OperationBindings"
    with pytest.raises(ConfigError) as excinfo:
        getattr(ends, side)(**{which: {"x-fine": 1, "nope": 2}})
    _refused(excinfo, rf"^{case.name} {cls}: unknown key 'nope'( \(allowed: |; this binding )")


@pytest.mark.parametrize("case", ALL)
@pytest.mark.parametrize("side", ["publisher", "subscriber"])
@pytest.mark.parametrize("which", ["bindings", "operation_bindings"])
def test_another_type_is_refused(case: Case, side: str, which: str, ends: Ends) -> None:
    cls = "ChannelBindings" if which == "bindings" else "OperationBindings"
    foreign = getattr(case.other, cls)()
    with pytest.raises(ConfigError) as excinfo:
        getattr(ends, side)(**{which: foreign})
    _refused(excinfo, rf"{case.name}\W+{cls}", rf"got .*{cls}")
    with pytest.raises(ConfigError) as excinfo:
        getattr(ends, side)(**{which: 42})
    _refused(excinfo, rf"{case.name}\W+{cls}", r"got .*int")


@pytest.mark.parametrize("case", ALL)
def test_a_bad_value_in_a_dict_is_refused(case: Case, ends: Ends) -> None:
    with pytest.raises(ConfigError) as excinfo:
        ends.publisher(bindings={"bindingVersion": "9.9.9"})
    _refused(excinfo, rf"^{case.name} ChannelBindings: unsupported bindingVersion '9\.9\.9'")


# -- envelopes ------------------------------------------------------------------------------
@pytest.mark.parametrize("case", [pytest.param(c, id=n) for n, c in CASES.items()])
def test_envelope_bindings_dicts_are_parsed(case: Case) -> None:
    doc, message = case.message
    writer = case.module.EnvelopeWriter
    made = writer(b"x", bindings=doc)
    assert type(made.bindings) is case.module.MessageBindings and made.bindings == message
    made.set_bindings(None)
    assert made.bindings is None
    made.set_bindings(doc)
    assert type(made.bindings) is case.module.MessageBindings and made.bindings == message
    made.set_bindings(message)
    assert made.bindings is message
    assert writer(b"x", bindings=message).bindings is message
    assert writer(b"x").bindings is None
    assert writer(b"x", headers={"h": "v"}, content_type="text/plain").bindings is None


@pytest.mark.parametrize("case", [pytest.param(c, id=n) for n, c in CASES.items()])
def test_envelope_bindings_unknown_keys_and_other_types_are_refused(case: Case) -> None:
    writer = case.module.EnvelopeWriter
    env = writer(b"x")
    for bad in (
        lambda: writer(b"x", bindings={"nope": 1}),
        lambda: env.set_bindings({"nope": 1}),
    ):
        with pytest.raises(ConfigError) as excinfo:
            bad()
        _refused(excinfo, rf"^{case.name} MessageBindings: unknown key 'nope'")
    foreign = case.other.MessageBindings()
    for bad in (
        lambda: writer(b"x", bindings=foreign),
        lambda: env.set_bindings(foreign),
        lambda: writer(b"x", bindings=42),
        lambda: env.set_bindings(42),
    ):
        with pytest.raises(ConfigError) as excinfo:
            bad()
        _refused(excinfo, rf"(?i){case.name}\W+MessageBindings", r"got .*(MessageBindings|int)")
    assert env.bindings is None  # nothing was stored by the refused calls


@pytest.mark.parametrize("case", ALL)
def test_publisher_envelope_takes_a_dict(case: Case, ends: Ends) -> None:
    doc, message = case.message
    pub = ends.publisher()
    env = pub.envelope(b"x", bindings=doc)
    assert type(env) is case.module.EnvelopeWriter
    assert type(env.bindings) is case.module.MessageBindings and env.bindings == message
    with pytest.raises(ConfigError, match="unknown key 'nope'"):
        pub.envelope(b"x", bindings={"nope": 1})


# -- end to end: the bindings have their effect --------------------------------------------
def test_amqp_a_queue_declared_from_a_dict_is_the_queue_of_the_object(amqp_url: str) -> None:
    queue = _name("q")
    doc = {"is": "queue", "queue": {"name": queue, "durable": False}}
    same = amqp.ChannelBindings(is_="queue", queue=amqp.Queue(name=queue, durable=False))
    durable = amqp.ChannelBindings(is_="queue", queue=amqp.Queue(name=queue, durable=True))
    with amqp.Producer(amqp_url) as producer, amqp.Consumer(amqp_url) as consumer:
        try:
            sub = consumer.subscriber("anything", doc, operation_bindings={"ack": True})
            assert sub.queue == queue and sub.bindings == same
            # the broker has the queue, non-durable: declaring it as the object does is
            # accepted, declaring it durable is refused as inequivalent
            connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
            try:
                connection.channel().queue_declare(queue, passive=True)
            finally:
                connection.close()
            producer.publisher("other", same).close()
            with pytest.raises(amqp.TopologyMismatchError, match="durable"):
                producer.publisher("other", durable)
            pub = producer.publisher(
                "other", doc, operation_bindings={"priority": 7, "deliveryMode": 1}
            )
            assert pub.exchange == "" and pub.routing_key == queue
            got: list[Any] = []
            collect = Collector(expected=1, on_message=got.append)
            worker = sub.start(collect)
            pub.send(pub.envelope(b"hello", bindings={"messageType": "greeting"}))
            assert collect.wait(TIMEOUT)
            worker.stop()
            [env] = got
            assert env.payload == b"hello" and env.routing_key == queue
            assert env.message_type == "greeting"  # the message bindings
            assert env.priority == 7 and env.persistent is False  # the operation bindings
        finally:
            connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
            try:
                connection.channel().queue_delete(queue)
            finally:
                connection.close()


def test_amqp_an_exchange_declared_from_a_dict(amqp_url: str) -> None:
    exchange = _name("ex")
    doc = {"exchange": {"name": exchange, "type": "fanout", "durable": False, "autoDelete": True}}
    with amqp.Producer(amqp_url) as producer, amqp.Consumer(amqp_url) as consumer:
        sub = consumer.subscriber("rk", doc)  # a private exclusive queue bound to it
        pub = producer.publisher("rk", doc)
        assert pub.exchange == exchange and sub.exchange == exchange
        collect = Collector(expected=1)
        worker = sub.start(collect)
        pub.send(b"fanned out")
        assert collect.wait(TIMEOUT)
        assert collect.payloads == [b"fanned out"]
        worker.stop()
        with pytest.raises(amqp.TopologyMismatchError, match="inequivalent arg 'type'"):
            producer.publisher(
                "rk",
                {
                    "exchange": {
                        "name": exchange,
                        "type": "topic",
                        "durable": False,
                        "autoDelete": True,
                    }
                },
            )


def test_kafka_a_topic_is_made_from_a_dict(kafka_url: str) -> None:
    from kafka import KafkaAdminClient
    from kafka.admin import ConfigResource

    topic, group = _name("topic"), _name("group")
    doc = {
        "topic": topic,
        "partitions": 3,
        "topicConfiguration": {"retention.ms": 3_600_000, "cleanup.policy": ["delete"]},
    }
    with (
        kafka.Producer(kafka_url) as producer,
        kafka.Consumer(kafka_url, auto_offset_reset="earliest") as consumer,
    ):
        pub = producer.publisher("alias", doc)
        assert pub.topic == topic
        sub = consumer.subscriber(
            "alias", doc, operation_bindings={"groupId": {"type": "string", "enum": [group]}}
        )
        assert sub.topic == topic and sub.group_id == group
        client = KafkaAdminClient(bootstrap_servers=kafka_url.removeprefix("kafka://"))
        try:
            (info,) = client.describe_topics([topic])
            configs = client.describe_configs([ConfigResource("TOPIC", topic)])
        finally:
            client.close()
        assert len(info["partitions"]) == 3
        values = {k: v["value"] for k, v in configs["topic"][topic].items()}
        assert values["retention.ms"] == "3600000" and values["cleanup.policy"] == "delete"
        collect = Collector(expected=1)
        worker = sub.start(collect)
        pub.send(pub.envelope(b"keyed", key="k", bindings={"key": {"type": "string"}}))
        assert collect.wait(TIMEOUT)
        assert collect.payloads == [b"keyed"]
        worker.stop()
        with (
            kafka.Producer(kafka_url) as other,  # a producer checks a topic once
            pytest.raises(kafka.TopicMismatchError, match="3 partitions, bindings say 5"),
        ):
            other.publisher("alias", {"topic": topic, "partitions": 5})


def test_http_method_and_status_from_dicts() -> None:
    with http.Consumer("http://127.0.0.1/") as consumer:
        consumer.serve()
        with http.Producer(consumer.servers[0].url) as producer:
            sub = consumer.subscriber(
                "things", operation_bindings={"method": "put"}, reply_bindings={"statusCode": 202}
            )
            assert sub.methods == frozenset({"PUT"})
            seen: list[str] = []
            worker = sub.start(lambda env: seen.append(env.method))
            pub = producer.publisher("things", operation_bindings={"method": "put"})
            assert pub.method == "PUT"
            assert pub.request(b"x").status == 202  # PUT, answered with the reply bindings
            with pytest.raises(http.HTTPStatusError) as info:
                producer.publisher("things").send(b"x")  # POST
            assert info.value.status == 405
            assert seen == ["PUT"]
            worker.stop()
            sub.set_reply_bindings({"statusCode": 201})
            worker = sub.start(lambda env: None)
            assert pub.request(b"x").status == 201
            worker.stop()
            with pytest.raises(ConfigError, match="unknown key 'status'"):
                consumer.subscriber("other", reply_bindings={"status": 200})
            consumer.subscriber("other").close()  # the refused call opened nothing
            with pytest.raises(ConfigError, match=r"http MessageBindings: expected"):
                consumer.subscriber("other", reply_bindings=amqp.MessageBindings())


def test_http_required_query_from_a_dict() -> None:
    op = {"query": {"type": "object", "properties": {"id": {}}, "required": ["id"]}}
    with http.Consumer("http://127.0.0.1/") as consumer:
        consumer.serve()
        with http.Producer(consumer.servers[0].url) as producer:
            sub = consumer.subscriber("pages", operation_bindings=op)
            assert sub.required_query == ("id",)
            worker = sub.start(lambda env: None)
            pub = producer.publisher("pages", operation_bindings=op)
            with pytest.raises(ConfigError, match="query parameter"):
                pub.send(b"x")
            pub.send(pub.envelope(b"x", query={"id": "7"}))
            with pytest.raises(http.HTTPStatusError) as info:
                producer.publisher("pages").send(b"x")  # a client without the bindings
            assert info.value.status == 400
            worker.stop()


def test_ws_query_and_headers_from_dicts() -> None:
    doc = {
        "query": {
            "type": "object",
            "properties": {"lang": {"type": "string", "default": "en"}, "token": {}},
            "required": ["token"],
        },
        "headers": {
            "type": "object",
            "properties": {"X-Api-Key": {"type": "string", "default": "k1"}},
            "required": ["X-Api-Key"],
        },
    }
    with ws.Consumer("ws://127.0.0.1/") as consumer:
        consumer.serve()
        url = consumer.servers[0].url
        sub = consumer.subscriber("feed", doc)
        assert sub.bindings == ws.ChannelBindings.from_dict(doc)
        with ws.Producer(url) as producer:
            with pytest.raises(ConfigError, match="token"):
                producer.publisher("feed", doc)  # required, no default: must be given
            pub = producer.publisher("feed", doc, query={"token": "t"})
            assert "lang=en" in pub.url and "token=t" in pub.url
            assert wait_until(lambda: len(consumer.connections) == 1, 5)
            conn = consumer.connections[0]
            assert conn.query == {"lang": "en", "token": "t"}
            assert ("X-Api-Key", "k1") in conn.request_headers
            collect = Collector(expected=1)
            worker = sub.start(collect)
            pub.send(pub.envelope(b"hi", bindings={"x-kind": "m"}))
            assert collect.wait(TIMEOUT)
            worker.stop()
            # the server applies the dict too: a client without the bindings is refused
            with pytest.raises(ws.HandshakeError) as info:
                producer.publisher("feed", query={"token": "t"})
            assert info.value.status == 400 and b"X-Api-Key" in info.value.body
            with pytest.raises(ConfigError, match="GET"):
                producer.publisher("feed", {"method": "POST"})


def test_ws_listen_accept_and_on_connect_take_dicts() -> None:
    doc = {"headers": {"type": "object", "properties": {"X-Who": {}}, "required": ["X-Who"]}}
    with ws.Consumer("ws://127.0.0.1/") as consumer:
        consumer.serve()
        consumer.listen("door", doc)
        consumer.listen("door", ws.ChannelBindings.from_dict(doc))  # the same bindings
        with pytest.raises(ConfigError, match="other bindings"):
            consumer.listen("door", {"method": "POST"})
        with pytest.raises(ConfigError, match="unknown key 'nope'"):
            consumer.on_connect("hall", lambda conn: None, {"nope": 1})
        with pytest.raises(ConfigError, match=r"ws\.ChannelBindings or a dict"):
            consumer.accept("hall", http.ChannelBindings(), timeout=0)
        with ws.Producer(consumer.servers[0].url) as producer:
            with pytest.raises(ws.HandshakeError) as info:
                producer.publisher("door")
            assert info.value.status == 400
            producer.publisher("door", handshake_headers={"X-Who": "me"})
            conn = consumer.accept("door", doc, timeout=TIMEOUT)
            assert conn.bindings == ws.ChannelBindings.from_dict(doc)


@pytest.mark.parametrize(
    "case", [pytest.param(CASES[name], id=name) for name in ("memory", "tcp", "udp", "ip")]
)
def test_round_trip_with_dicts_everywhere(case: Case, request: pytest.FixtureRequest) -> None:
    """The placeholder protocols: channels opened with dicts carry messages whose
    envelopes were given dicts too (stored only: nothing of them is sent)."""
    module = case.module
    channel_doc, operation_doc, message_doc = case.channel[0], case.operation[0], case.message[0]
    with contextlib.ExitStack() as stack:
        if module is memory:
            url = f"memory://{_name('broker')}"
        elif module is ip:
            url = f"ip://{_loopback()}?protocol=253"
        else:
            url = f"{case.name}://127.0.0.1"
        consumer = stack.enter_context(module.Consumer(url))
        sub = consumer.subscriber("ch", channel_doc, operation_bindings=operation_doc)
        producer = stack.enter_context(
            module.Producer(url if module is memory else consumer.bound_url)
        )
        pub = producer.publisher("ch", channel_doc, operation_bindings=operation_doc)
        assert pub.bindings == sub.bindings == case.channel[1]
        assert pub.operation_bindings == sub.operation_bindings == case.operation[1]
        collect = Collector(expected=1)
        worker = sub.start(collect)
        env = pub.envelope(b"round trip", headers={"h": "v"}, bindings=message_doc)
        assert env.bindings == case.message[1]
        if module in (udp, ip):  # datagrams may be lost: send until one arrives
            assert wait_until(lambda: bool(pub.send(env)) or collect.wait(0.2), TIMEOUT)
        else:
            pub.send(env)
            assert collect.wait(TIMEOUT)
        assert collect.payloads[0] == b"round trip"
        assert collect.items[0].headers == {"h": "v"}
        worker.stop()


def test_tcp_operation_bindings_from_a_dict_are_an_object() -> None:
    """The case that was wrong: a dict was checked, then stored as the raw dict."""
    with tcp.Consumer("tcp://127.0.0.1") as consumer:
        sub = consumer.subscriber("ch", operation_bindings={"x-b": 2})
        assert sub.operation_bindings == tcp.OperationBindings(extensions={"x-b": 2})
        with tcp.Producer(consumer.bound_url) as producer:
            pub = producer.publisher("ch", operation_bindings={"x-b": 2})
            assert type(pub.operation_bindings) is tcp.OperationBindings
            assert pub.subscriber.operation_bindings == pub.operation_bindings
