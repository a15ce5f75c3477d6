"""``ws://`` dead-peer detection, for real: the peer runs in a child process that this test
freezes with SIGSTOP. The kernel still holds its TCP connection open, but nothing
answers pings any more, which is exactly what a hung or unplugged peer looks like."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator

import pytest

from syncapi import ws
from syncapi.testing import Collector, wait_until

PING_INTERVAL = 0.3
PING_TIMEOUT = 0.6

SERVER = textwrap.dedent(
    """
    import sys
    from syncapi import ws
    consumer = ws.Consumer(ping_interval=None)
    consumer.subscriber("feed").start(lambda env: env.reply(env.payload))
    print(consumer.serve().port, flush=True)
    sys.stdin.read()
    """
)

CLIENT = textwrap.dedent(
    """
    import sys
    from syncapi import ws
    producer = ws.Producer(sys.argv[1], ping_interval=None)
    pub = producer.publisher("feed")
    pub.send(b"hello")
    print("connected", flush=True)
    sys.stdin.read()
    """
)


def spawn(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def finish(child: subprocess.Popen[str]) -> None:
    os.kill(child.pid, signal.SIGCONT)
    child.kill()
    child.wait(10)
    for stream in (child.stdin, child.stdout):
        if stream is not None:
            stream.close()


@pytest.fixture
def server_child() -> Iterator[tuple[subprocess.Popen[str], int]]:
    child = spawn(SERVER)
    assert child.stdout is not None
    port = int(child.stdout.readline())
    yield child, port
    finish(child)


def test_client_detects_a_frozen_server(server_child: tuple[subprocess.Popen[str], int]) -> None:
    child, port = server_child
    with ws.Producer(
        f"ws://127.0.0.1:{port}", ping_interval=PING_INTERVAL, ping_timeout=PING_TIMEOUT
    ) as producer:
        pub = producer.publisher("feed")
        got = Collector(expected=1)
        worker = pub.subscriber.start(got)
        pub.send(b"echo me")
        assert got.wait(10)
        time.sleep(4 * PING_INTERVAL)  # a live server answers the pings: nothing happens
        assert worker.alive and pub.connected
        os.kill(child.pid, signal.SIGSTOP)
        frozen = time.monotonic()
        assert wait_until(lambda: not worker.alive, 10), "the frozen server was not noticed"
        took = time.monotonic() - frozen
        assert took < PING_INTERVAL + PING_TIMEOUT + 1.0, f"noticed after {took:.2f} s"
        assert isinstance(worker.error, ws.ConnectionClosedError)
        assert worker.error.code == 1006
        assert "ping" in worker.error.reason
        assert pub.close_code == 1006
        with pytest.raises(ws.ConnectionClosedError):
            pub.send(b"to a dead server")


def test_server_detects_a_frozen_client() -> None:
    consumer = ws.Consumer(ping_interval=PING_INTERVAL, ping_timeout=PING_TIMEOUT)
    server = consumer.serve()
    consumer.listen("feed")
    child = spawn(CLIENT, server.url)
    try:
        conn = consumer.accept("feed", timeout=20)
        got: list[bytes] = []
        conn.receive(lambda env: got.append(env.payload), max_messages=1, timeout=10)
        assert got == [b"hello"]
        time.sleep(4 * PING_INTERVAL)  # a live client answers the pings
        assert conn.connected
        os.kill(child.pid, signal.SIGSTOP)
        frozen = time.monotonic()
        assert wait_until(lambda: conn.close_code is not None, 10)
        took = time.monotonic() - frozen
        assert took < PING_INTERVAL + PING_TIMEOUT + 1.0, f"noticed after {took:.2f} s"
        assert conn.close_code == 1006 and "ping" in conn.close_reason
        assert wait_until(lambda: consumer.connections == [], 5)
    finally:
        finish(child)
        consumer.close()
