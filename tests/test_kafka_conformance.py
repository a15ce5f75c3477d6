"""``kafka://`` passes the conformance kit against the real Apache Kafka broker."""

from __future__ import annotations

import time

import pytest

from syncapi import kafka
from syncapi.testing import Collector, ProtocolConformance, wait_until


class TestKafkaConformance(ProtocolConformance):
    """Every kit scenario on the session's broker; each scenario uses fresh topics."""

    capabilities = kafka.CAPABILITIES
    # a group of two joining at once on a loaded 2-core machine has been seen to take
    # longer than the kit's default 30 s once in ~20 runs (kafka-python 3.0's join)
    timeout = 60.0
    # the broker's default message.max.bytes is 1,048,588 bytes per record batch; the kit
    # sends the largest payload it tests plus a few smaller ones (oversize: test_kafka.py)
    max_payload_tested = 1_000_000

    @pytest.fixture(autouse=True)
    def _broker(self, kafka_url: str) -> None:
        self.url = kafka_url

    def make_consumer(self, group: str | None = None) -> kafka.Consumer:
        # fresh topics: reading from the earliest offset makes every scenario independent
        # of when the group's rebalance ends
        return kafka.Consumer(
            self.url, group_id=group, auto_offset_reset="earliest", commit_interval=0.2
        )

    def make_producer(self, consumer: object) -> kafka.Producer:
        return kafka.Producer(self.url)

    def test_parallel_workers(self) -> None:
        """workers=4 runs callbacks of different partitions in parallel and loses nothing.

        Kafka keeps order per partition (``ordering="partition"``, the default), so the
        kit's scenario runs on a 4-partition topic with keyed messages here;
        :class:`TestKafkaKeyOrdering` runs the kit's own version.
        """
        consumer = self.consumer()
        producer = self.producer(consumer)
        channel = self.channel_name("parallel")
        bindings = kafka.ChannelBindings(partitions=4)
        sub = self._keep(consumer.subscriber(channel, bindings))
        collect = Collector(expected=40, delay=0.05)
        worker = self.start(sub, collect, workers=4)
        pub = producer.publisher(channel, bindings)
        sent = [f"p{i}".encode() for i in range(40)]
        started = time.monotonic()
        pub.send(*(pub.envelope(p, partition=i % 4) for i, p in enumerate(sent)))
        self._expect_all(collect, sent, "parallel workers")
        assert len({item.thread for item in collect.items}) > 1, "callbacks ran on one thread"
        assert time.monotonic() - started < 40 * 0.05, "callbacks did not run in parallel"
        assert wait_until(lambda: worker.acked == 40, 2), f"acked {worker.acked} of 40"
        by_partition: dict[int, list[bytes]] = {}
        for item in collect.items:
            by_partition.setdefault(sent.index(item.payload) % 4, []).append(item.payload)
        for partition, payloads in by_partition.items():
            assert payloads == [p for i, p in enumerate(sent) if i % 4 == partition], (
                f"partition {partition} out of order"
            )


class TestKafkaKeyOrdering(TestKafkaConformance):
    """The kit again with ``ordering="key"``: key-less records of one partition run in
    parallel, and the kit's own parallel scenario applies unchanged."""

    def make_consumer(self, group: str | None = None) -> kafka.Consumer:
        return kafka.Consumer(
            self.url,
            group_id=group,
            auto_offset_reset="earliest",
            commit_interval=0.2,
            ordering="key",
        )

    test_parallel_workers = ProtocolConformance.test_parallel_workers
