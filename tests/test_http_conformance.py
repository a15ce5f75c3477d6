"""``http://`` passes the conformance kit: a real requests client against the consumer
served on a real threaded werkzeug server (both in this process, over loopback TCP)."""

from __future__ import annotations

import threading
import time

from syncapi import http
from syncapi.testing import Collector, ProtocolConformance, wait_until


class TestHttpConformance(ProtocolConformance):
    """Every kit scenario the HTTP flags allow (brokerless, ordered, not persistent)."""

    capabilities = http.CAPABILITIES
    timeout = 30.0

    def make_consumer(self, group: str | None = None) -> http.Consumer:
        consumer = http.Consumer("http://127.0.0.1/")
        consumer.serve()
        return consumer

    def make_producer(self, consumer: object) -> http.Producer:
        assert isinstance(consumer, http.Consumer)
        return http.Producer(consumer.servers[0].url)

    def test_parallel_workers(self) -> None:
        """workers=4 runs callbacks in parallel and loses nothing.

        One ``send`` call makes its requests one after the other, each answered when its
        callback returned (that is what keeps one sender's requests in order). So the
        parallelism here comes from four sending threads, as it would in a web app.
        """
        consumer = self.consumer()
        producer = self.producer(consumer)
        channel = self.channel_name("parallel")
        sub = self.subscribe(consumer, channel)
        collect = Collector(expected=40, delay=0.05)
        worker = self.start(sub, collect, workers=4)
        pub = self.open_publisher(producer, channel)
        sent = [f"p{i}".encode() for i in range(40)]
        started = time.monotonic()
        threads = [threading.Thread(target=pub.send, args=tuple(sent[t::4])) for t in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(self.timeout)
        self._expect_all(collect, sent, "parallel workers")
        assert len({item.thread for item in collect.items}) > 1, "callbacks ran on one thread"
        assert time.monotonic() - started < 40 * 0.05, "callbacks did not run in parallel"
        assert wait_until(lambda: worker.acked == 40, 2), f"acked {worker.acked} of 40"
