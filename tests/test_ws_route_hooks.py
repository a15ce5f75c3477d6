"""``ws.Subscriber.on_join`` / ``on_leave``: a route subscriber hears clients come and go,
with real websocket-client connections to a real threaded werkzeug server on loopback."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import websocket

from syncapi import ws
from syncapi.errors import ConfigError
from syncapi.testing import wait_until


@pytest.fixture
def consumer() -> Iterator[ws.Consumer]:
    consumer = ws.Consumer("ws://127.0.0.1/", headers="raise")
    consumer.serve()
    yield consumer
    consumer.close()


def dial(consumer: ws.Consumer, path: str) -> websocket.WebSocket:
    url = str(consumer.servers[0].url).rstrip("/")
    return websocket.create_connection(f"{url}/{path}", timeout=5)


def test_join_sends_before_any_answer_and_leave_sees_the_close(consumer: ws.Consumer) -> None:
    feed = consumer.subscriber("feed")
    joined: list[ws.Connection] = []
    left: list[tuple[ws.Connection, int | None, str, bool]] = []

    def greet(conn: ws.Connection) -> None:
        joined.append(conn)
        time.sleep(0.2)  # the client's message, sent at once, must still come after this
        conn.send("snapshot")

    feed.on_join(greet)
    feed.on_leave(lambda c: left.append((c, c.close_code, c.close_reason, c in feed.connections)))
    feed.start(lambda env: env.reply(f"echo {env.text}"))
    client = dial(consumer, "feed")
    client.send("hello")
    assert client.recv() == "snapshot"
    assert client.recv() == "echo hello"
    assert len(joined) == 1 and joined[0].path.endswith("feed")
    client.close(status=1000, reason=b"bye")
    assert wait_until(lambda: len(left) == 1, 5)
    conn, code, reason, still_listed = left[0]
    assert conn is joined[0]
    assert (code, reason, still_listed) == (1000, "bye", False)


def test_leave_also_for_a_client_that_vanishes(consumer: ws.Consumer) -> None:
    feed = consumer.subscriber("feed")
    left: list[int | None] = []
    feed.on_leave(lambda c: left.append(c.close_code))
    feed.start(lambda env: None)
    client = dial(consumer, "feed")
    assert wait_until(lambda: len(feed.connections) == 1, 5)
    # no close frame: the socket is simply gone
    client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    client.sock.close()
    assert wait_until(lambda: left == [1006], 5), left


def test_a_raising_join_closes_that_client_with_1011_and_others_go_on(
    consumer: ws.Consumer, caplog: pytest.LogCaptureFixture
) -> None:
    feed = consumer.subscriber("feed")
    calls = 0
    lock = threading.Lock()

    def flaky(conn: ws.Connection) -> None:
        nonlocal calls
        with lock:
            calls += 1
            first = calls == 1
        if first:
            raise RuntimeError("no snapshot for you")
        conn.send("welcome")

    feed.on_join(flaky)
    left: list[int | None] = []
    feed.on_leave(lambda c: left.append(c.close_code))
    feed.start(lambda env: env.reply("ok"))
    doomed = dial(consumer, "feed")
    opcode, data = doomed.recv_data(control_frame=True)
    assert opcode == websocket.ABNF.OPCODE_CLOSE
    assert int.from_bytes(data[:2], "big") == 1011
    doomed.close()
    assert "the on_join callback raised" in caplog.text
    assert wait_until(lambda: left == [1011], 5), left
    fine = dial(consumer, "feed")
    assert fine.recv() == "welcome"
    fine.send("x")
    assert fine.recv() == "ok"
    fine.close()


def test_callbacks_can_be_replaced_and_removed(consumer: ws.Consumer) -> None:
    feed = consumer.subscriber("feed")
    feed.start(lambda env: env.reply("ok"))
    feed.on_join(lambda c: c.send("first"))
    feed.on_join(lambda c: c.send("second"))  # replaces the first
    a = dial(consumer, "feed")
    assert a.recv() == "second"
    feed.on_join(None)
    b = dial(consumer, "feed")
    b.send("ping")
    assert b.recv() == "ok"  # nothing was sent on joining
    a.close()
    b.close()


def test_broadcast_and_presence_with_join_and_leave(consumer: ws.Consumer) -> None:
    """The pattern the hooks are for: a presence list kept by join/leave, announced to
    everyone on the route."""
    room = consumer.subscriber("room")
    lock = threading.Lock()
    present: set[str] = set()

    def announce() -> None:
        who = ",".join(sorted(present))
        for conn in room.connections:
            with contextlib.suppress(ws.ConnectionClosedError):  # it left meanwhile
                conn.send(f"present {who}", timeout=5)

    def join(conn: ws.Connection) -> None:
        with lock:
            present.add(conn.query["name"])
            announce()

    def leave(conn: ws.Connection) -> None:
        with lock:
            present.discard(conn.query["name"])
            announce()

    room.on_join(join)
    room.on_leave(leave)
    room.start(lambda env: None)
    ada = dial(consumer, "room?name=ada")
    assert ada.recv() == "present ada"
    bob = dial(consumer, "room?name=bob")
    assert bob.recv() == "present ada,bob"
    assert ada.recv() == "present ada,bob"
    bob.close()
    assert ada.recv() == "present ada"
    ada.close()
    assert wait_until(lambda: not present, 5)


def test_hooks_must_be_callable(consumer: ws.Consumer) -> None:
    feed = consumer.subscriber("feed")
    with pytest.raises(ConfigError, match="on_join: expected a callable or None"):
        feed.on_join("greet")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="on_leave: expected a callable or None"):
        feed.on_leave(42)  # type: ignore[arg-type]


def test_a_join_that_turns_the_client_away_closes_at_once(consumer: ws.Consumer) -> None:
    """``connection.close()`` in ``on_join`` (authentication, too many clients) returns at
    once and the close handshake completes: the callback's thread is the connection's
    reader, and reads the client's answer after the callback."""
    feed = consumer.subscriber("feed")
    took: list[float] = []
    left: list[tuple[int | None, str]] = []

    def refuse(conn: ws.Connection) -> None:
        started = time.monotonic()
        conn.close(code=4000, reason="go away")
        took.append(time.monotonic() - started)

    feed.on_join(refuse)
    feed.on_leave(lambda c: left.append((c.close_code, c.close_reason)))
    client = dial(consumer, "feed")
    opcode, data = client.recv_data(control_frame=True)  # websocket-client answers the close
    assert opcode == websocket.ABNF.OPCODE_CLOSE
    assert (int.from_bytes(data[:2], "big"), data[2:]) == (4000, b"go away")
    assert wait_until(lambda: left == [(4000, "go away")], 5), left
    assert took and took[0] < 0.5, f"close() in on_join blocked {took[0]:.2f} s"
    client.close()
