"""``amqp://`` on the real RabbitMQ: URLs, bindings applied, confirms, errors, threads.

Every test here talks to the broker the test command starts (or
``SYNCAPI_TEST_AMQP_URL``); raw pika is used only to look at the broker from outside.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pika
import pytest

import syncapi
from syncapi import amqp
from syncapi.errors import ClosedError, ConfigError, ConnectError, MessageTooLarge, SendError
from syncapi.servers import parse_server_url
from syncapi.testing import Collector, wait_until
from tests.services.base import free_port

TIMEOUT = 20.0


def _name(tag: str) -> str:
    return f"t-{tag}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def raw(amqp_url: str) -> Iterator[Any]:
    """A raw pika channel, to look at the broker from outside syncapi."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        yield connection.channel()
    finally:
        connection.close()


@pytest.fixture
def producer(amqp_url: str) -> Iterator[amqp.Producer]:
    with amqp.Producer(amqp_url) as p:
        yield p


@pytest.fixture
def consumer(amqp_url: str) -> Iterator[amqp.Consumer]:
    with amqp.Consumer(amqp_url) as c:
        yield c


class Keep(Collector):
    """A :class:`Collector` that also keeps the envelopes (for their AMQP extras)."""

    def __init__(self, expected: int) -> None:
        self.envelopes: list[Any] = []
        super().__init__(expected, on_message=self.envelopes.append)


def _queue(name: str, **fields: Any) -> amqp.ChannelBindings:
    fields.setdefault("durable", False)
    return amqp.ChannelBindings(is_="queue", queue=amqp.Queue(name=name, **fields))


def _io_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("syncapi-amqp-io")]


# -- URLs and options (no broker needed) ------------------------------------------------
@pytest.mark.parametrize(
    ("url", "vhost"),
    [
        ("amqp://h", "/"),
        ("amqp://h/", "/"),
        ("amqp://h/billing", "billing"),
        ("amqp://h/%2F", "/"),
        ("amqp://h/%2Fprod%20eu", "/prod eu"),
    ],
)
def test_virtual_host_from_the_path(url: str, vhost: str) -> None:
    assert amqp.params.virtual_host(parse_server_url(url)) == vhost  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("amqp://h/a/b", "one path segment"),
        ("amqp://h/100%", "percent-escape"),
        ("amqp://h/%zzx", "percent-escape"),
        ("amqp://h/%ff", "UTF-8"),
        ("amqps://h/", "TLS"),
        ("amqp://:secret@h/", "password without a user name"),
        ("amqp://h/?prefetch=-1", "prefetch"),
        ("amqp://h/?heartbeat=abc", "heartbeat"),
        ("amqp://h/?no_such_option=1", "no_such_option"),
    ],
)
def test_bad_urls_are_specific_config_errors(url: str, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        amqp.Consumer(url)


def test_unknown_exchange_type_is_refused() -> None:
    with pytest.raises(ConfigError, match="fanout"):
        amqp.Exchange(name="x", type="round-robin")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="type"):
        amqp.ChannelBindings.from_dict({"exchange": {"name": "x", "type": "round-robin"}})


def test_bad_envelope_extras() -> None:
    env = amqp.EnvelopeWriter()
    with pytest.raises(ConfigError, match="priority"):
        env.set_priority(256)
    with pytest.raises(ConfigError, match="expiration"):
        env.set_expiration(-1)
    with pytest.raises(ConfigError, match="255 bytes"):
        env.set_message_id("x" * 300)
    with pytest.raises(ConfigError, match="MessageBindings"):
        env.set_bindings(object())


# -- connecting -------------------------------------------------------------------------
def test_wrong_credentials(amqp_url: str) -> None:
    url = amqp_url.replace("guest:guest@", "guest:wrong@")
    started = time.monotonic()
    with pytest.raises(ConnectError, match=r"ACCESS_REFUSED|user name or password"):
        amqp.Producer(url)
    assert time.monotonic() - started < 10
    assert not _io_threads(), "a failed constructor left its I/O thread running"


def test_unknown_virtual_host(amqp_url: str) -> None:
    url = amqp_url.rstrip("/") + "/no-such-vhost"
    with pytest.raises(ConnectError, match="virtual host"):
        amqp.Consumer(url)
    assert not _io_threads()


def test_nobody_listening() -> None:
    with pytest.raises(ConnectError, match=r"cannot connect: .*refused"):
        amqp.Producer(f"amqp://127.0.0.1:{free_port()}/", connect_timeout=3)
    assert not _io_threads()


def test_the_first_connection_tries_every_host(amqp_url: str) -> None:
    port = amqp_url.rsplit(":", 1)[1].split("/")[0]
    url = f"amqp://guest:guest@127.0.0.1:{free_port()},127.0.0.1:{port}/"
    with amqp.Producer(url) as producer:
        assert producer.connected
        assert port in producer._link.where


def test_amqps_is_refused_until_tls_is_supported() -> None:
    with pytest.raises(ConfigError, match="TLS is not supported yet"):
        syncapi.producer("amqps://broker.example/")


def test_close_ends_the_io_threads(amqp_url: str) -> None:
    producer = amqp.Producer(amqp_url)
    consumer = amqp.Consumer(amqp_url)
    assert len(_io_threads()) == 2
    producer.close()
    consumer.close()
    assert not _io_threads()
    with pytest.raises(ClosedError):
        producer.publisher("x")


def test_security_per_channel_is_refused(producer: amqp.Producer) -> None:
    from syncapi.security import UserPassword

    with pytest.raises(ConfigError, match="per connection"):
        producer.publisher("q", security=UserPassword(username="u", password="p"))


def test_bindings_of_another_protocol_are_refused(producer: amqp.Producer) -> None:
    from syncapi import kafka

    with pytest.raises(ConfigError, match=r"amqp\.ChannelBindings"):
        producer.publisher("q", kafka.ChannelBindings(partitions=1))


# -- bindings applied -------------------------------------------------------------------
def test_exchange_and_queue_declared_from_bindings_are_read_back(
    amqp_service: Any, producer: amqp.Producer, consumer: amqp.Consumer
) -> None:
    ex, q = _name("ex"), _name("q")
    exchange = amqp.ChannelBindings(
        exchange=amqp.Exchange(name=ex, type="fanout", durable=False, auto_delete=True)
    )
    queue = amqp.ChannelBindings(
        is_="queue", queue=amqp.Queue(name=q, durable=True, exclusive=False, auto_delete=False)
    )
    pub = producer.publisher("any", exchange)
    sub = consumer.subscriber(q, queue)
    exchanges = {
        line.split("\t")[0]: line.split("\t")[1:]
        for line in amqp_service.ctl("list_exchanges", "name", "type", "durable", "auto_delete")
        .strip()
        .splitlines()
    }
    assert exchanges[ex] == ["fanout", "false", "true"]
    queues = {
        line.split("\t")[0]: line.split("\t")[1:]
        for line in amqp_service.ctl("list_queues", "name", "durable", "exclusive", "auto_delete")
        .strip()
        .splitlines()
    }
    assert queues[q] == ["true", "false", "false"]
    sub.close()
    pub.close()
    amqp_service.ctl("delete_queue", q)


def test_exchange_redeclared_with_other_properties(producer: amqp.Producer, raw: Any) -> None:
    ex = _name("ex")
    raw.exchange_declare(ex, exchange_type="topic", durable=False, auto_delete=True)
    bindings = amqp.ChannelBindings(exchange=amqp.Exchange(name=ex, type="direct", durable=False))
    with pytest.raises(amqp.TopologyMismatchError, match="inequivalent arg 'type'"):
        producer.publisher("rk", bindings)
    # the producer keeps working after the refusal
    ok = producer.publisher(
        "rk",
        amqp.ChannelBindings(
            exchange=amqp.Exchange(name=ex, type="topic", auto_delete=True, durable=False)
        ),
    )
    with pytest.raises(amqp.UnroutableError):
        ok.send(b"nobody bound")
    raw.exchange_delete(ex)


def test_declare_false_only_checks(amqp_url: str) -> None:
    with amqp.Producer(amqp_url, declare=False) as producer:
        missing = amqp.ChannelBindings(exchange=amqp.Exchange(name=_name("absent"), type="topic"))
        with pytest.raises(ConfigError, match=r"not found|NOT_FOUND"):
            producer.publisher("rk", missing)
        # amq.topic always exists
        there = amqp.ChannelBindings(exchange=amqp.Exchange(name="amq.topic", type="topic"))
        producer.publisher("rk", there).close()


def test_vhost_of_a_binding_must_be_the_connections(producer: amqp.Producer) -> None:
    bindings = amqp.ChannelBindings(exchange=amqp.Exchange(name="x", type="topic", vhost="other"))
    with pytest.raises(ConfigError, match="virtual host 'other'"):
        producer.publisher("rk", bindings)


def test_topic_exchange_routes_by_key_and_groups_share(amqp_url: str) -> None:
    ex = _name("shop")
    bindings = amqp.ChannelBindings(
        exchange=amqp.Exchange(name=ex, type="topic", durable=False, auto_delete=True)
    )
    with (
        amqp.Consumer(amqp_url, group="billing", queue_arguments={"x-expires": 30_000}) as billing,
        amqp.Consumer(amqp_url) as audit,
        amqp.Producer(amqp_url) as producer,
    ):
        created = billing.subscriber("orders.created", bindings)
        assert created.queue == f"billing.{ex}.orders.created"
        everything = audit.subscriber("orders.#", bindings)
        assert everything.queue.startswith("amq.gen-"), "a private server-named queue"
        pub = producer.publisher("orders.created", bindings)
        pub.send(b"c1")
        pub.send(pub.envelope(b"s1", routing_key="orders.shipped"))
        got_created, got_all = Keep(expected=1), Keep(expected=2)
        created.start(got_created)
        everything.start(got_all)
        assert got_all.wait(TIMEOUT) and got_created.wait(TIMEOUT)
        time.sleep(0.2)
        assert got_created.payloads == [b"c1"]
        assert sorted(got_all.payloads) == [b"c1", b"s1"]
        assert sorted(env.routing_key for env in got_all.envelopes) == [
            "orders.created",
            "orders.shipped",
        ]


def test_operation_and_message_bindings_become_properties(
    producer: amqp.Producer, consumer: amqp.Consumer
) -> None:
    q, cc, bcc = _name("q"), _name("cc"), _name("bcc")
    subs = {name: consumer.subscriber(name, _queue(name)) for name in (q, cc, bcc)}
    op = amqp.OperationBindings(
        expiration=60_000,
        user_id="guest",
        cc=[cc],
        bcc=[bcc],
        priority=7,
        delivery_mode=1,
        mandatory=True,
        timestamp=True,
    )
    pub = producer.publisher(q, _queue(q), operation_bindings=op)
    before = int(time.time())
    env = pub.envelope(
        b"props",
        headers={"trace": "t1"},
        bindings=amqp.MessageBindings(content_encoding="gzip", message_type="order.created"),
    )
    pub.send(env)
    got: dict[str, Any] = {}
    for name, sub in subs.items():
        collect = Keep(expected=1)
        sub.receive(collect, max_messages=1, timeout=TIMEOUT)
        got[name] = collect.envelopes[0]
    main = got[q]
    assert main.expiration == 60.0
    assert main.user_id == "guest"
    assert main.priority == 7
    assert main.persistent is False
    assert main.timestamp is not None and before <= main.timestamp <= time.time() + 1
    assert main.content_encoding == "gzip"
    assert main.message_type == "order.created"
    assert main.headers["trace"] == "t1"
    assert main.headers["CC"] == f'["{cc}"]', "CC is kept and readable as text"
    assert "BCC" not in main.headers, "the broker strips BCC"
    assert got[cc].payload == got[bcc].payload == b"props"


def test_mandatory_false_in_bindings_lets_a_message_vanish(producer: amqp.Producer) -> None:
    op = amqp.OperationBindings(mandatory=False)
    producer.publisher(_name("nobody"), operation_bindings=op).send(b"dropped on purpose")


# -- envelopes ----------------------------------------------------------------------------
def test_headers_content_type_and_extras_round_trip(
    producer: amqp.Producer, consumer: amqp.Consumer
) -> None:
    q = _name("q")
    sub = consumer.subscriber(q, _queue(q))
    pub = producer.publisher(q, _queue(q))
    env = pub.envelope(
        b"\x00\xffpayload",
        headers={"text": "é ü", "binary": b"\x00\x01", "empty": ""},
        content_type="application/octet-stream",
        message_id="m-1",
        correlation_id="c-1",
        reply_to="replies",
    )
    env.set_priority(3)
    env.set_expiration(30)
    env.set_persistent(True)
    env.set_timestamp(1_700_000_000.9)
    pub.send(env)
    collect = Keep(expected=1)
    sub.receive(collect, max_messages=1, timeout=TIMEOUT)
    got = collect.envelopes[0]
    assert got.payload == b"\x00\xffpayload"
    assert dict(got.headers) == {"text": "é ü", "binary": b"\x00\x01", "empty": ""}
    assert got.content_type == "application/octet-stream"
    assert (got.message_id, got.correlation_id, got.reply_to) == ("m-1", "c-1", "replies")
    assert (got.priority, got.expiration, got.persistent) == (3, 30.0, True)
    assert got.timestamp == 1_700_000_000
    assert (got.exchange, got.routing_key, got.redelivered) == ("", q, False)
    assert got.delivery_tag >= 1
    assert q in got.identity


def test_headers_of_other_amqp_types_read_back_as_text(consumer: amqp.Consumer, raw: Any) -> None:
    q = _name("q")
    sub = consumer.subscriber(q, _queue(q))
    table = {"count": 3, "ok": True, "nested": {"a": [1, "b"]}, "none": None}
    raw.basic_publish("", q, b"x", pika.BasicProperties(headers=table))
    collect = Keep(expected=1)
    sub.receive(collect, max_messages=1, timeout=TIMEOUT)
    got = collect.envelopes[0]
    assert dict(got.headers) == {
        "count": "3",
        "ok": "true",
        "nested": '{"a":[1,"b"]}',
        "none": "null",
    }
    assert got.header_table == table


# -- confirms and send errors -------------------------------------------------------------
def test_unroutable_mandatory_message_is_an_error(producer: amqp.Producer, raw: Any) -> None:
    q = _name("q")
    pub = producer.publisher(q)  # the default exchange; no queue of that name yet
    with pytest.raises(amqp.UnroutableError, match="NO_ROUTE") as info:
        pub.send(b"a", b"b")
    assert [env.read() for env, _ in info.value.failures] == [b"a", b"b"]
    raw.queue_declare(q, auto_delete=True)
    routed = pub.envelope(b"ok")
    pub.send(routed)  # the same publisher works once the queue exists
    assert raw.queue_declare(q, passive=True).method.message_count == 1


def test_unroutable_message_among_routable_ones(producer: amqp.Producer, raw: Any) -> None:
    ex = _name("direct")
    bindings = amqp.ChannelBindings(
        exchange=amqp.Exchange(name=ex, type="direct", durable=False, auto_delete=True)
    )
    q = _name("q")
    raw.queue_declare(q, auto_delete=True)
    pub = producer.publisher("good", bindings)
    raw.queue_bind(q, ex, routing_key="good")
    envs = [pub.envelope(b"1"), pub.envelope(b"2", routing_key="bad"), pub.envelope(b"3")]
    with pytest.raises(amqp.UnroutableError) as info:
        pub.send(*envs)
    assert [env for env, _ in info.value.failures] == [envs[1]]
    assert "routing key 'bad'" in str(info.value)
    assert raw.queue_declare(q, passive=True).method.message_count == 2


def test_message_too_large_is_refused_before_sending(amqp_url: str) -> None:
    with amqp.Producer(amqp_url, max_message_size=1000) as producer:
        pub = producer.publisher(
            _name("q"), operation_bindings=amqp.OperationBindings(mandatory=False)
        )
        with pytest.raises(MessageTooLarge, match="max_message_size"):
            pub.send(b"x" * 1001)
        pub.send(b"x" * 1000)


def test_send_to_a_queue_that_overflows_is_nacked(producer: amqp.Producer, raw: Any) -> None:
    q = _name("full")
    raw.queue_declare(
        q, auto_delete=True, arguments={"x-max-length": 1, "x-overflow": "reject-publish"}
    )
    pub = producer.publisher(q)
    pub.send(b"fits")
    with pytest.raises(amqp.NackError, match=r"basic\.nack"):
        pub.send(b"does not fit")


def test_ten_thousand_messages_from_twenty_threads(amqp_url: str) -> None:
    """10,000 messages sent from 20 threads through one Publisher: all confirmed and
    received, each exactly once."""
    q = _name("threads")
    with amqp.Producer(amqp_url) as producer, amqp.Consumer(amqp_url, prefetch=500) as consumer:
        sub = consumer.subscriber(q, _queue(q))
        pub = producer.publisher(q, _queue(q))
        collect = Keep(expected=10_000)
        worker = sub.start(collect, workers=2)
        errors: list[BaseException] = []

        def sender(t: int) -> None:
            try:
                for i in range(500):
                    pub.send(pub.envelope(f"{t}-{i}".encode()))
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=sender, args=(t,)) for t in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert not errors, errors[:3]
        assert collect.wait(60), f"received {len(collect)} of 10000"
        time.sleep(0.5)
        payloads = collect.payloads
        assert len(payloads) == 10_000 == len(set(payloads))
        assert set(payloads) == {f"{t}-{i}".encode() for t in range(20) for i in range(500)}
        assert worker.stop(10)
        assert wait_until(lambda: worker.acked == 10_000, 5)


# -- receiving ----------------------------------------------------------------------------
def test_raising_callback_is_requeued_once_then_dead_lettered(amqp_url: str, raw: Any) -> None:
    q, dead = _name("work"), _name("dead")
    dlx = _name("dlx")
    raw.exchange_declare(dlx, exchange_type="fanout", auto_delete=True)
    raw.queue_declare(dead, auto_delete=False)
    raw.queue_bind(dead, dlx)
    with (
        amqp.Consumer(amqp_url, queue_arguments={"x-dead-letter-exchange": dlx}) as consumer,
        amqp.Producer(amqp_url, queue_arguments={"x-dead-letter-exchange": dlx}) as producer,
    ):
        sub = consumer.subscriber(q, _queue(q))
        pub = producer.publisher(q, _queue(q))
        seen: list[tuple[bytes, bool]] = []

        def callback(env: amqp.EnvelopeReader) -> None:
            seen.append((env.read(), env.redelivered))
            if env.payload == b"poison":
                raise ValueError("cannot handle it")

        worker = sub.start(callback)
        pub.send(b"poison", b"fine")
        assert wait_until(lambda: len(seen) >= 3, TIMEOUT), seen
        time.sleep(0.5)
        assert sorted(seen) == [(b"fine", False), (b"poison", False), (b"poison", True)]
        assert worker.failed == 2 and worker.acked == 1
        assert wait_until(
            lambda: raw.queue_declare(dead, passive=True).method.message_count == 1, TIMEOUT
        )
        _method, props, body = raw.basic_get(dead, auto_ack=True)
        assert body == b"poison"
        assert props.headers["x-death"][0]["reason"] == "rejected"
        worker.stop()
    raw.queue_delete(dead)
    raw.queue_delete(q)


def test_no_redelivery_limit_keeps_requeueing(amqp_url: str, producer: amqp.Producer) -> None:
    q = _name("again")
    with amqp.Consumer(amqp_url, max_redeliveries=None) as consumer:
        sub = consumer.subscriber(q, _queue(q))
        pub = producer.publisher(q, _queue(q))
        attempts: list[int] = []

        def callback(env: amqp.EnvelopeReader) -> None:
            attempts.append(1)
            if len(attempts) < 5:
                raise RuntimeError("not yet")

        worker = sub.start(callback)
        pub.send(b"stubborn")
        assert wait_until(lambda: len(attempts) == 5, TIMEOUT), attempts
        assert wait_until(lambda: worker.acked == 1, 5)
        worker.stop()


def test_manual_nack_with_requeue_is_never_overridden(
    producer: amqp.Producer, consumer: amqp.Consumer
) -> None:
    """max_redeliveries limits failed callbacks only: a callback's own nack(requeue=True)
    requeues however often it comes."""
    q = _name("renack")
    sub = consumer.subscriber(q, _queue(q))
    producer.publisher(q, _queue(q)).send(b"again")
    for _ in range(4):
        (env,) = sub.fetch(1, timeout=TIMEOUT)
        env.nack(requeue=True)
    (env,) = sub.fetch(1, timeout=TIMEOUT)
    assert env.redelivered
    env.ack()


def test_a_handed_back_message_still_gets_its_retry(
    producer: amqp.Producer, consumer: amqp.Consumer
) -> None:
    """A message handed back unstarted (the loop stopped) arrives flagged redelivered;
    its first failure must still requeue it (failures are counted, not the flag)."""
    q = _name("handback")
    sub = consumer.subscriber(q, _queue(q))
    producer.publisher(q, _queue(q)).send(b"handed back")
    (env,) = sub.fetch(1, timeout=TIMEOUT)
    env.nack(requeue=True)  # as a stopping loop hands back what it did not start
    seen: list[tuple[bytes, bool]] = []

    def callback(env: amqp.EnvelopeReader) -> None:
        seen.append((env.payload, env.redelivered))
        if len(seen) == 1:
            raise RuntimeError("the first attempt fails")

    worker = sub.start(callback)
    assert wait_until(lambda: len(seen) == 2, TIMEOUT), seen
    assert seen == [(b"handed back", True), (b"handed back", True)]
    assert wait_until(lambda: worker.acked == 1, 5)
    worker.stop()


def test_manual_ack_nack_and_reject(
    producer: amqp.Producer, consumer: amqp.Consumer, raw: Any
) -> None:
    q = _name("manual")
    sub = consumer.subscriber(q, _queue(q))
    pub = producer.publisher(q, _queue(q))
    pub.send(b"ack", b"requeue", b"reject")
    seen: list[bytes] = []

    def callback(env: amqp.EnvelopeReader) -> None:
        seen.append(env.read())
        if env.payload == b"ack":
            env.ack()
        elif env.payload == b"requeue" and not env.redelivered:
            threading.Thread(target=env.nack, args=(True,)).start()  # from another thread
        elif env.payload == b"requeue":
            env.ack()
        else:
            env.reject()
        with pytest.raises(ClosedError):
            env.ack()

    worker = sub.start(callback, ack="manual")
    assert wait_until(lambda: len(seen) == 4, TIMEOUT), seen
    worker.stop()
    assert sorted(seen) == [b"ack", b"reject", b"requeue", b"requeue"]
    assert raw.queue_declare(q, passive=True).method.message_count == 0


def test_ack_false_binding_consumes_with_automatic_ack(
    producer: amqp.Producer, consumer: amqp.Consumer, raw: Any
) -> None:
    q = _name("autoack")
    sub = consumer.subscriber(q, _queue(q), operation_bindings=amqp.OperationBindings(ack=False))
    pub = producer.publisher(q, _queue(q))
    pub.send(b"one", b"two")
    got = Keep(expected=2)
    assert sub.receive(got, max_messages=2, timeout=TIMEOUT) == 2
    sub.close()
    assert raw.queue_declare(q, passive=True).method.message_count == 0


def test_prefetch_bounds_what_a_subscriber_holds(
    amqp_url: str, producer: amqp.Producer, raw: Any
) -> None:
    q = _name("prefetch")
    pub = producer.publisher(q, _queue(q))
    pub.send(*[b"m"] * 50)
    with amqp.Consumer(amqp_url, prefetch=5) as consumer:
        sub = consumer.subscriber(q, _queue(q))
        release = threading.Event()
        worker = sub.start(lambda env: release.wait(TIMEOUT))
        time.sleep(1.0)
        # one message in the callback, the rest of the window in memory: 45 stay queued
        assert raw.queue_declare(q, passive=True).method.message_count == 45
        release.set()
        assert wait_until(lambda: worker.acked == 50, TIMEOUT)
        worker.stop()


def test_queue_deleted_under_a_subscriber_is_declared_again(
    amqp_url: str, producer: amqp.Producer, consumer: amqp.Consumer, raw: Any, caplog: Any
) -> None:
    q = _name("deleted")
    sub = consumer.subscriber(q, _queue(q))
    collect = Keep(expected=1)
    worker = sub.start(collect)
    caplog.set_level(logging.WARNING, logger="syncapi.amqp")
    for _ in range(3):  # each cancel re-subscribes once: consumers never multiply
        raw.queue_delete(q)
        assert wait_until(lambda: "cancelled the consumer" in caplog.text, TIMEOUT)
        caplog.clear()
        assert wait_until(lambda: _consumers(amqp_url, q) == 1, TIMEOUT)
        time.sleep(0.3)
        assert _consumers(amqp_url, q) == 1
    pub = producer.publisher(q)
    assert wait_until(lambda: _try_send(pub, b"after"), TIMEOUT)
    assert collect.wait(TIMEOUT) and collect.payloads == [b"after"]
    worker.stop()


def _consumers(url: str, queue: str) -> int:
    """The queue's consumer count (-1 while it does not exist), on a connection of its
    own: a passive declare of a missing queue closes the channel."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        return int(connection.channel().queue_declare(queue, passive=True).method.consumer_count)
    except pika.exceptions.ChannelClosedByBroker:
        return -1
    finally:
        connection.close()


def _try_send(pub: syncapi.Publisher, payload: bytes) -> bool:
    try:
        pub.send(payload)
    except amqp.UnroutableError:
        time.sleep(0.1)
        return False
    return True


def test_close_from_another_thread_unblocks_receive(consumer: amqp.Consumer) -> None:
    q = _name("block")
    sub = consumer.subscriber(q, _queue(q))
    threading.Timer(0.3, sub.close).start()
    started = time.monotonic()
    assert sub.receive(lambda env: None, timeout=30) == 0
    assert time.monotonic() - started < 5


def test_pika_objects_refuse_foreign_threads(producer: amqp.Producer) -> None:
    link = producer._link
    with pytest.raises(RuntimeError, match="I/O thread"):
        link.connection  # noqa: B018 - the guard is the point
    with pytest.raises(RuntimeError, match="I/O thread"):
        link.call_later(1, lambda: None)
    assert link.call(lambda done: done(link.connection is not None, None), 5) is True


def test_send_error_names_failed_envelopes_on_a_channel_error(
    producer: amqp.Producer, consumer: amqp.Consumer
) -> None:
    """A user_id that is not the connection's user: RabbitMQ closes the channel
    (PRECONDITION_FAILED); the send fails with the reason, and the publisher goes on."""
    q = _name("uid")
    consumer.subscriber(q, _queue(q))
    pub = producer.publisher(
        q, _queue(q), operation_bindings=amqp.OperationBindings(user_id="mallory")
    )
    with pytest.raises(SendError, match="user_id") as info:
        pub.send(b"spoofed")
    assert len(info.value.failures) == 1
    honest = producer.publisher(q, _queue(q))
    honest.send(b"fine")


def test_bcc_does_not_hide_an_unroutable_message(producer: amqp.Producer) -> None:
    """The broker strips BCC from a returned message; it is still matched to its send."""
    ex = _name("bcc")
    bindings = amqp.ChannelBindings(
        exchange=amqp.Exchange(name=ex, type="direct", durable=False, auto_delete=True)
    )
    pub = producer.publisher(
        "k", bindings, operation_bindings=amqp.OperationBindings(bcc=["nowhere"])
    )
    with pytest.raises(amqp.UnroutableError):
        pub.send(pub.envelope(b"a", headers={"h": "v"}))


def test_a_success_clears_the_failure_count(
    producer: amqp.Producer, consumer: amqp.Consumer
) -> None:
    """The same content failing again later gets its retry again: counts are of failures
    in a row, cleared when the message succeeds."""
    q = _name("ping")
    sub = consumer.subscriber(q, _queue(q))
    pub = producer.publisher(q, _queue(q))
    attempts: list[int] = []

    def callback(env: amqp.EnvelopeReader) -> None:
        attempts.append(1)
        if len(attempts) in (1, 3):
            raise RuntimeError("fails on attempts 1 and 3")

    pub.send(b"ping")
    assert sub.receive(callback, max_messages=2, timeout=TIMEOUT) == 2
    pub.send(b"ping")
    assert sub.receive(callback, max_messages=2, timeout=TIMEOUT) == 2
    assert len(attempts) == 4


def test_failures_are_counted_across_the_subscribers_of_a_consumer(amqp_url: str) -> None:
    q = _name("shared")
    attempts: list[str] = []
    with amqp.Consumer(amqp_url, prefetch=1) as consumer, amqp.Producer(amqp_url) as producer:
        subs = [consumer.subscriber(q, _queue(q)) for _ in range(2)]

        def failing(name: str) -> Any:
            def callback(env: amqp.EnvelopeReader) -> None:
                attempts.append(name)
                raise RuntimeError("always fails")

            return callback

        workers = [sub.start(failing(f"s{i}")) for i, sub in enumerate(subs)]
        producer.publisher(q, _queue(q)).send(b"poison")
        assert wait_until(lambda: len(attempts) >= 2, TIMEOUT)
        time.sleep(1.0)
        assert len(attempts) == 2, attempts  # one retry in all (max_redeliveries=1)
        for worker in workers:
            worker.stop()


def test_a_hanging_first_host_does_not_starve_the_next(amqp_url: str) -> None:
    import socket

    port = amqp_url.rsplit(":", 1)[1].split("/")[0]
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)  # accepts TCP, never speaks AMQP
        hang = silent.getsockname()[1]
        url = f"amqp://guest:guest@127.0.0.1:{hang},127.0.0.1:{port}/"
        with amqp.Producer(url, connect_timeout=2) as producer:
            assert producer.connected
