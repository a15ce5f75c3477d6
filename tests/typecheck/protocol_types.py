"""Checked by mypy in tests/test_lint.py, never run: what typed user code sees.

Each protocol's producer makes that protocol's publisher, whose envelopes are that
protocol's writers, and each consumer makes that protocol's subscriber, so typed code
reaches the protocol's extras (``set_key``, ``request``...) without a cast. A bare
``syncapi.Producer`` still makes base publishers, and a protocol's producer is one.
"""

from __future__ import annotations

from typing_extensions import assert_type

import syncapi
from syncapi import amqp, http, ip, kafka, memory, tcp, udp, ws


def memory_is_typed(producer: memory.Producer, consumer: memory.Consumer) -> None:
    pub = producer.publisher("ch")
    assert_type(pub, memory.Publisher)
    env = pub.envelope(b"x")
    assert_type(env, memory.EnvelopeWriter)
    assert_type(consumer.subscriber("ch"), memory.Subscriber)
    as_base: syncapi.Producer = producer
    assert_type(as_base.publisher("ch"), syncapi.Publisher)
    consumer_as_base: syncapi.Consumer = consumer
    assert_type(consumer_as_base.subscriber("ch"), syncapi.Subscriber)


def kafka_is_typed(producer: kafka.Producer, consumer: kafka.Consumer) -> None:
    pub = producer.publisher("ch")
    assert_type(pub, kafka.Publisher)
    env = pub.envelope(b"x")
    assert_type(env, kafka.EnvelopeWriter)
    env.set_key("k")
    assert_type(consumer.subscriber("ch"), kafka.Subscriber)
    as_base: syncapi.Producer = producer
    assert_type(as_base.publisher("ch"), syncapi.Publisher)
    consumer_as_base: syncapi.Consumer = consumer
    assert_type(consumer_as_base.subscriber("ch"), syncapi.Subscriber)


def amqp_is_typed(producer: amqp.Producer, consumer: amqp.Consumer) -> None:
    pub = producer.publisher("ch")
    assert_type(pub, amqp.Publisher)
    env = pub.envelope(b"x")
    assert_type(env, amqp.EnvelopeWriter)
    env.set_routing_key("r")
    assert_type(consumer.subscriber("ch"), amqp.Subscriber)
    as_base: syncapi.Producer = producer
    assert_type(as_base.publisher("ch"), syncapi.Publisher)
    consumer_as_base: syncapi.Consumer = consumer
    assert_type(consumer_as_base.subscriber("ch"), syncapi.Subscriber)


def http_is_typed(producer: http.Producer, consumer: http.Consumer) -> None:
    pub = producer.publisher("ch")
    assert_type(pub, http.Publisher)
    env = pub.envelope(b"x")
    assert_type(env, http.EnvelopeWriter)
    env.set_method("PUT")
    assert_type(pub.request(b"x"), http.Response)
    assert_type(consumer.subscriber("ch"), http.Subscriber)
    as_base: syncapi.Producer = producer
    assert_type(as_base.publisher("ch"), syncapi.Publisher)
    consumer_as_base: syncapi.Consumer = consumer
    assert_type(consumer_as_base.subscriber("ch"), syncapi.Subscriber)


def ws_is_typed(producer: ws.Producer, consumer: ws.Consumer) -> None:
    pub = producer.publisher("ch")
    assert_type(pub, ws.Publisher)
    env = pub.envelope(b"x")
    assert_type(env, ws.EnvelopeWriter)
    env.set_opcode("text")
    assert_type(consumer.subscriber("ch"), ws.Subscriber)
    as_base: syncapi.Producer = producer
    assert_type(as_base.publisher("ch"), syncapi.Publisher)
    consumer_as_base: syncapi.Consumer = consumer
    assert_type(consumer_as_base.subscriber("ch"), syncapi.Subscriber)


def tcp_is_typed(producer: tcp.Producer, consumer: tcp.Consumer) -> None:
    pub = producer.publisher("ch")
    assert_type(pub, tcp.Publisher)
    env = pub.envelope(b"x")
    assert_type(env, tcp.EnvelopeWriter)
    assert_type(consumer.subscriber("ch"), tcp.Subscriber)
    as_base: syncapi.Producer = producer
    assert_type(as_base.publisher("ch"), syncapi.Publisher)
    consumer_as_base: syncapi.Consumer = consumer
    assert_type(consumer_as_base.subscriber("ch"), syncapi.Subscriber)


def udp_is_typed(producer: udp.Producer, consumer: udp.Consumer) -> None:
    pub = producer.publisher("ch")
    assert_type(pub, udp.Publisher)
    env = pub.envelope(b"x")
    assert_type(env, udp.EnvelopeWriter)
    env.set_remote_addr(("127.0.0.1", 9))
    assert_type(consumer.subscriber("ch"), udp.Subscriber)
    as_base: syncapi.Producer = producer
    assert_type(as_base.publisher("ch"), syncapi.Publisher)
    consumer_as_base: syncapi.Consumer = consumer
    assert_type(consumer_as_base.subscriber("ch"), syncapi.Subscriber)


def ip_is_typed(producer: ip.Producer, consumer: ip.Consumer) -> None:
    pub = producer.publisher("ch")
    assert_type(pub, ip.Publisher)
    env = pub.envelope(b"x")
    assert_type(env, ip.EnvelopeWriter)
    env.set_remote_addr("127.0.0.1")
    assert_type(consumer.subscriber("ch"), ip.Subscriber)
    as_base: syncapi.Producer = producer
    assert_type(as_base.publisher("ch"), syncapi.Publisher)
    consumer_as_base: syncapi.Consumer = consumer
    assert_type(consumer_as_base.subscriber("ch"), syncapi.Subscriber)
