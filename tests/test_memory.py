"""memory:// beyond the kit: the face, groups, back-pressure, redelivery, dead letters."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator

import pytest

import syncapi
from syncapi import memory
from syncapi.errors import ClosedError, ConfigError, MessageTooLarge, TimeoutError
from syncapi.testing import Collector, wait_until


@pytest.fixture
def url() -> Iterator[str]:
    name = f"mem-{uuid.uuid4().hex[:8]}"
    yield f"memory://{name}"
    memory.reset(name)


def test_10000_messages_from_20_threads_arrive_unchanged(url: str) -> None:
    """The issue's acceptance check, through the public face."""
    total, threads = 10_000, 20
    with syncapi.producer(url) as producer, syncapi.consumer(url) as consumer:
        assert isinstance(producer, memory.Producer) and isinstance(consumer, memory.Consumer)
        sub = consumer.subscriber("orders")
        collect = Collector(expected=total)
        worker = sub.start(collect, workers=4)
        pub = producer.publisher("orders")

        def publish(t: int) -> None:
            for i in range(total // threads):
                env = pub.envelope(
                    f'{{"t": {t}, "i": {i}}}'.encode(),
                    headers={"trace-id": f"{t}-{i}", "caf\u00e9": "\u2603 snow"},
                    content_type="application/json",
                )
                pub.send(env)

        senders = [threading.Thread(target=publish, args=(t,)) for t in range(threads)]
        for s in senders:
            s.start()
        for s in senders:
            s.join(30)
        assert collect.wait(30), f"only {len(collect)} of {total} arrived"
        worker.stop()
    assert len(collect.items) == total
    assert len(set(collect.payloads)) == total
    for item in collect.items:
        t, i = item.headers["trace-id"].split("-")  # type: ignore[union-attr]
        assert item.payload == f'{{"t": {t}, "i": {i}}}'.encode()
        assert item.headers == {"trace-id": f"{t}-{i}", "caf\u00e9": "\u2603 snow"}
        assert type(item.headers["trace-id"]) is str
        assert item.content_type == "application/json"
        assert item.channel == "orders"


def test_messages_sent_before_the_first_subscriber_wait_for_it(url: str) -> None:
    with syncapi.producer(url) as producer, syncapi.consumer(url) as consumer:
        producer.publisher("early").send(b"1", b"2")
        sub = consumer.subscriber("early")
        got = Collector()
        assert sub.receive(got, max_messages=2, timeout=2) == 2
        assert got.payloads == [b"1", b"2"]


def test_fan_out_to_every_subscriber_without_group(url: str) -> None:
    with syncapi.producer(url) as producer, syncapi.consumer(url) as consumer:
        subs = [consumer.subscriber("news") for _ in range(3)]
        producer.publisher("news").send(b"a", b"b")
        for sub in subs:
            got = Collector()
            assert sub.receive(got, max_messages=2, timeout=2) == 2
            assert got.payloads == [b"a", b"b"]


def test_a_sender_cannot_change_what_was_sent(url: str) -> None:
    with syncapi.producer(url) as producer, syncapi.consumer(url) as consumer:
        sub = consumer.subscriber("c")
        pub = producer.publisher("c")
        env = pub.envelope(b"one", headers={"h": "1"})
        pub.send(env)
        env.write(b"-changed")
        env.headers["h"] = "2"
        pub.send(env)
        got = Collector()
        sub.receive(got, max_messages=2, timeout=2)
        assert [(i.payload, i.headers) for i in got.items] == [
            (b"one", {"h": "1"}),
            (b"one-changed", {"h": "2"}),
        ]


def test_full_queue_blocks_then_times_out(url: str) -> None:
    with syncapi.producer(url, max_queue=3) as producer, syncapi.consumer(url) as consumer:
        sub = consumer.subscriber("bp")
        pub = producer.publisher("bp")
        pub.send(b"1", b"2", b"3")
        started = time.monotonic()
        with pytest.raises(TimeoutError, match=r"full \(3 messages\).*0 of 1 envelopes were sent"):
            pub.send(b"4", timeout=0.3)
        assert 0.25 < time.monotonic() - started < 2
        # a consumer making room unblocks a waiting sender
        done = threading.Event()
        threading.Thread(target=lambda: (pub.send(b"4", b"5"), done.set())).start()
        time.sleep(0.2)
        assert not done.is_set(), "send did not wait for room"
        got = Collector()
        assert sub.receive(got, max_messages=5, timeout=5) == 5
        assert done.wait(5)
        assert got.payloads == [b"1", b"2", b"3", b"4", b"5"]


def test_send_timeout_option_from_the_url(url: str) -> None:
    with syncapi.producer(f"{url}?max_queue=1&send_timeout=0.1") as producer:
        pub = producer.publisher("t")
        pub.send(b"1")
        with pytest.raises(TimeoutError):
            pub.send(b"2")


def test_groups_share_and_outlive_their_subscribers(url: str) -> None:
    with syncapi.producer(url) as producer:
        pub = producer.publisher("jobs")
        with syncapi.consumer(url, group="workers") as c1:
            c1.subscriber("jobs")  # creates the group's queue
        pub.send(*[str(i) for i in range(6)])
        assert memory.get_broker(url[len("memory://") :]).depth("jobs", "workers") == 6
        with syncapi.consumer(f"{url}?group=workers") as c2:
            got = Collector()
            assert c2.subscriber("jobs").receive(got, max_messages=6, timeout=2) == 6


def test_unacked_messages_go_back_on_close(url: str) -> None:
    with syncapi.producer(url) as producer, syncapi.consumer(url, group="g") as consumer:
        producer.publisher("u").send(b"x", b"y")
        sub = consumer.subscriber("u")
        fetched = sub.fetch(max_messages=2, timeout=1)
        assert [e.read() for e in fetched] == [b"x", b"y"]
        fetched[0].ack()
        sub.close()
        again = consumer.subscriber("u").fetch(max_messages=5, timeout=1)
        assert [(e.read(), e.redelivered, e.delivery_count) for e in again] == [(b"y", True, 2)]


def test_max_deliveries_then_dead_letter(url: str, caplog: pytest.LogCaptureFixture) -> None:
    with (
        syncapi.producer(url) as producer,
        syncapi.consumer(url, max_deliveries=3, dead_letter="dlq") as consumer,
    ):
        dlq = consumer.subscriber("dlq")
        sub = consumer.subscriber("poison")
        producer.publisher("poison").send(
            producer.publisher("poison").envelope(b"bad", headers={"k": "v"})
        )
        attempts = Collector(fail=lambda item: True)
        with caplog.at_level(logging.WARNING, logger="syncapi.memory"):
            sub.receive(attempts, timeout=1, on_error="requeue")
        assert len(attempts) == 3, "max_deliveries=3 must stop redelivery after 3 deliveries"
        dead = dlq.fetch(timeout=1)
        assert len(dead) == 1
        assert dead[0].read() == b"bad"
        assert dead[0].headers == {
            "k": "v",
            "x-death-reason": "delivered 3 times (max_deliveries)",
            "x-original-channel": "poison",
        }
        assert "moved to 'dlq'" in caplog.text


def test_reject_without_dead_letter_is_logged_not_silent(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with syncapi.producer(url) as producer, syncapi.consumer(url) as consumer:
        sub = consumer.subscriber("r")
        producer.publisher("r").send(b"bad")
        with caplog.at_level(logging.ERROR, logger="syncapi.memory"):
            [env] = sub.fetch(timeout=1)
            env.reject()
        assert "rejected: dropped" in caplog.text
        with pytest.raises(ClosedError, match="already settled"):
            env.ack()


def test_too_large_is_refused_whole(url: str) -> None:
    with syncapi.producer(url, max_message_size=10) as producer, syncapi.consumer(url) as consumer:
        sub = consumer.subscriber("big")
        pub = producer.publisher("big")
        with pytest.raises(MessageTooLarge, match="11 bytes is over max_message_size") as info:
            pub.send(b"ok", b"x" * 11)
        assert info.value.failures[0][1] == "too large"
        assert sub.fetch(timeout=0.2) == [], "a send that failed must send nothing"


@pytest.mark.parametrize(
    ("url", "options", "match"),
    [
        ("memory://a:1", {}, "no port"),
        ("memory://a,b", {}, "name one broker"),
        ("memory://x?max_queue=0", {}, "max_queue"),
        ("memory://x?max_queue=lots", {}, "max_queue"),
        ("memory://x", {"max_qeue": 5}, "did you mean 'max_queue'"),
        ("memory://x", {"max_deliveries": 0}, "max_deliveries"),
    ],
)
def test_bad_options(url: str, options: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        syncapi.consumer(url, **options)


def test_template_channel_needs_parameters(url: str) -> None:
    with syncapi.producer(url) as producer, syncapi.consumer(url) as consumer:
        with pytest.raises(ConfigError, match="parameter"):
            consumer.subscriber("orders/{id}")
        sub = consumer.subscriber("orders/{id}", parameters={"id": "7"})
        assert sub.channel == "orders/7"
        producer.publisher("orders/{id}", parameters={"id": 7}).send(b"seven")
        assert [e.read() for e in sub.fetch(timeout=1)] == [b"seven"]


def test_bindings_are_checked(url: str) -> None:
    with syncapi.producer(url) as producer:
        with pytest.raises(ConfigError, match="unknown key 'topic'"):
            producer.publisher("b", {"topic": "x"})
        pub = producer.publisher("b", {"bindingVersion": "0.1.0", "x-note": "kept"})
        assert isinstance(pub.bindings, memory.ChannelBindings)
        assert pub.bindings.extensions == {"x-note": "kept"}


def test_wait_until_helper_polls() -> None:
    box = [0]
    threading.Timer(0.05, lambda: box.__setitem__(0, 1)).start()
    assert wait_until(lambda: box[0] == 1, 2)
    assert not wait_until(lambda: False, 0.05)


def test_messages_handed_back_by_a_stopping_loop_keep_their_delivery_count() -> None:
    """A stop hands back fetched messages no callback ran for: that is not a failed
    delivery, so max_deliveries=1 still lets them be handled later."""
    import threading

    with (
        syncapi.producer("memory://handback") as producer,
        syncapi.consumer("memory://handback", group="g", max_deliveries=1) as consumer,
    ):
        sub = consumer.subscriber("jobs")
        producer.publisher("jobs").send(*(str(i).encode() for i in range(20)))
        first, go_on = threading.Event(), threading.Event()

        def stop_after_first(env: syncapi.EnvelopeReader) -> None:
            first.set()
            go_on.wait(5)

        loop = sub.start(stop_after_first, max_in_flight=20)
        assert first.wait(5)
        loop.stop(timeout=0)  # the other 19 of the batch are handed back
        go_on.set()
        assert loop.join(5) and loop.handled == 1
        counts: list[int] = []
        handled = sub.receive(
            lambda env: counts.append(env.delivery_count), max_messages=19, timeout=5
        )
        assert handled == 19 and set(counts) == {1}, counts
