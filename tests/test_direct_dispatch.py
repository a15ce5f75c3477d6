"""Direct dispatch (callbacks run on a protocol's reader thread), the no-op ack fast path
and tcp half-close: each test is a fault a review found (now fixed), against real
sockets on loopback."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

from syncapi import tcp
from syncapi.testing import wait_until
from tests.helpers import frame, read_frame


def raw_client(address: tuple[str, int]) -> socket.socket:
    sock = socket.create_connection(address)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def test_messages_handed_back_twice_keep_their_order() -> None:
    """A pushed batch is not bounded by the loop's batch size (one read: 100 messages).
    A stop after its first callback hands 99 back (Inbox._returned). The next loop
    fetches 32 of them (max_in_flight) and stops after one: Inbox.give_back *appends*
    the 31 it did not run behind the 67 still waiting, so the third loop runs m33..m99
    before m2..m32 — one connection's messages out of order."""
    n = 100
    with tcp.Consumer("tcp://127.0.0.1") as consumer, raw_client(consumer.address) as raw:
        conn = consumer.accept(timeout=5)
        seen: list[int] = []
        workers: list[Any] = []
        first = threading.Event()
        ready = threading.Event()  # workers[-1] is the loop running the callback

        def stop_after_one(env: tcp.EnvelopeReader) -> None:
            assert ready.wait(5)
            seen.append(int(env.read()))
            first.set()
            workers[-1].stop(0)

        workers.append(conn.start(stop_after_one))
        ready.set()
        time.sleep(0.2)  # the direct loop is attached: the read is pushed
        raw.sendall(b"".join(frame(b"%d" % i) for i in range(n)))
        assert first.wait(5)
        assert workers[-1].join(5)
        assert seen == [0]
        first.clear()
        ready.clear()
        workers.append(conn.start(stop_after_one))
        ready.set()
        assert first.wait(5)
        assert workers[-1].join(5)
        assert seen == [0, 1]
        worker = conn.start(lambda env: seen.append(int(env.read())))
        try:
            assert wait_until(lambda: len(seen) >= n, 5), f"{len(seen)} of {n} ran"
        finally:
            worker.stop()
        assert seen == list(range(n)), (
            f"out of order from {next(i for i, v in enumerate(seen) if v != i)}: {seen[:40]}"
        )


def test_half_closed_client_gets_its_reply_with_ack_before() -> None:
    """ack="before" settles the message before its callback runs, and the consumer's
    subscriber counts a half-closed connection's messages as done when they are
    *settled* (Subscriber._ack -> Connection._settled_one -> _finish): the socket is
    closed before the callback answers, so the reply of the last request is lost
    (ConnectionClosedError in the callback, EOF at the client)."""
    errors: list[BaseException] = []

    def echo(env: tcp.EnvelopeReader) -> None:
        time.sleep(0.2)  # the client's FIN has been read by now
        try:
            env.reply(b"re:" + env.read())
        except BaseException as exc:
            errors.append(exc)
            raise

    with tcp.Consumer("tcp://127.0.0.1") as consumer:
        worker = consumer.subscriber("echo").start(echo, ack="before", workers=2)
        with raw_client(consumer.address) as raw:
            raw.sendall(frame(b"req"))
            raw.shutdown(socket.SHUT_WR)
            try:
                answer = read_frame(raw)
            except (EOFError, OSError):
                answer = None
        worker.stop()
    assert answer == b"re:req", f"the client got {answer!r}; callback errors: {errors}"


def test_close_from_inside_a_pushed_callback_returns_at_once() -> None:
    """Subscriber.close() from inside a callback "returns at once and the subscriber is
    released when that loop has ended". A pushed callback runs on a connection's reader
    thread, which is not in loop.threads: close() does not defer, it runs _close() there
    and then, waiting (close_timeout) for every other client to close its side while the
    callback is stuck — and the rest of the pushed batch is handed back to an inbox
    that was already dropped."""
    took: list[float] = []

    def closer(env: tcp.EnvelopeReader) -> None:
        start = time.monotonic()
        sub.close()
        took.append(time.monotonic() - start)

    with tcp.Consumer("tcp://127.0.0.1", close_timeout=3.0) as consumer:
        sub = consumer.subscriber("x")
        with raw_client(consumer.address) as idle, raw_client(consumer.address) as raw:
            assert wait_until(lambda: len(sub.connections) == 2, 5)
            worker = sub.start(closer)
            time.sleep(0.2)
            raw.sendall(frame(b"bye"))
            assert wait_until(lambda: bool(took), 10)
            worker.stop()
            del idle
    assert took[0] < 1.0, f"close() inside the callback blocked it {took[0]:.1f} s"
