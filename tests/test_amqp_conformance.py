"""``amqp://`` passes the conformance kit against the real RabbitMQ, in both channel kinds."""

from __future__ import annotations

import dataclasses

import pytest

from syncapi import amqp
from syncapi.core import Consumer, Producer, Publisher, Subscriber
from syncapi.testing import ProtocolConformance


class TestAmqpExchangeConformance(ProtocolConformance):
    """Channels on a topic exchange: each group shares one durable queue per binding, a
    subscriber without a group gets a private queue — every kit scenario applies."""

    capabilities = amqp.CAPABILITIES
    timeout = 30.0
    max_payload_tested = 4 * 1024 * 1024
    exchange = amqp.ChannelBindings(
        exchange=amqp.Exchange(name="syncapi.kit", type="topic", durable=False, auto_delete=False)
    )

    @pytest.fixture(autouse=True)
    def _broker(self, amqp_url: str) -> None:
        self.url = amqp_url

    def make_consumer(self, group: str | None = None) -> amqp.Consumer:
        return amqp.Consumer(self.url, group=group, queue_arguments={"x-expires": 60_000})

    def make_producer(self, consumer: object) -> amqp.Producer:
        return amqp.Producer(self.url)

    def open_subscriber(self, consumer: Consumer, channel: str) -> Subscriber:
        return consumer.subscriber(channel, self.exchange)

    def open_publisher(self, producer: Producer, channel: str) -> Publisher:
        return producer.publisher(channel, self.exchange)


class TestAmqpQueueConformance(ProtocolConformance):
    """Channels without bindings: the address is a queue on the default exchange, so all
    subscribers of a channel share it whatever their group (no consumer groups)."""

    capabilities = dataclasses.replace(amqp.CAPABILITIES, consumer_groups=False)
    timeout = 30.0
    max_payload_tested = 4 * 1024 * 1024

    @pytest.fixture(autouse=True)
    def _broker(self, amqp_url: str) -> None:
        self.url = amqp_url

    def make_consumer(self, group: str | None = None) -> amqp.Consumer:
        # queues left behind by the kit expire a minute after their last consumer
        return amqp.Consumer(self.url, group=group, queue_arguments={"x-expires": 60_000})

    def make_producer(self, consumer: object) -> amqp.Producer:
        return amqp.Producer(self.url)
