"""``tcp://`` against a peer that vanishes from the network, for real: the peer runs in
a network namespace joined by a veth pair, and the namespace's link is set down
mid-connection (packets then go nowhere, as with a pulled cable or a crashed host;
a SIGSTOPped process would not do, its kernel still answers TCP).

The ``keepalive`` option must notice within about ``keepalive`` + 2 probes, both ways.
Needs root (``ip netns``), as the test command runs.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator

import pytest

from syncapi import tcp
from syncapi.testing import wait_until


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


class Netns:
    """A network namespace at 10.78.N.2, reached from here at 10.78.N.1 over a veth."""

    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:6]
        self.name = f"syncapi-{tag}"
        self.outer = f"sy{tag}a"
        self.inner = f"sy{tag}b"
        octet = int(tag[:2], 16)
        self.here = f"10.78.{octet}.1"
        self.there = f"10.78.{octet}.2"
        ip("netns", "add", self.name)
        ip("link", "add", self.outer, "type", "veth", "peer", "name", self.inner)
        ip("link", "set", self.inner, "netns", self.name)
        ip("addr", "add", f"{self.here}/24", "dev", self.outer)
        ip("link", "set", self.outer, "up")
        ip("netns", "exec", self.name, "ip", "addr", "add", f"{self.there}/24", "dev", self.inner)
        ip("netns", "exec", self.name, "ip", "link", "set", self.inner, "up")

    def run(self, code: str) -> subprocess.Popen[str]:
        """Run Python ``code`` inside the namespace."""
        return subprocess.Popen(
            ["ip", "netns", "exec", self.name, sys.executable, "-c", textwrap.dedent(code)],
            stdout=subprocess.PIPE,
            text=True,
        )

    def cut(self) -> None:
        """Set the namespace's link down: whatever is sent to it is lost from now on."""
        ip("netns", "exec", self.name, "ip", "link", "set", self.inner, "down")

    def remove(self) -> None:
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, timeout=10)
        subprocess.run(["ip", "link", "del", self.outer], capture_output=True, timeout=10)


@pytest.fixture
def netns() -> Iterator[Netns]:
    ns = Netns()
    try:
        yield ns
    finally:
        ns.remove()


def test_client_keepalive_notices_a_vanished_server(netns: Netns) -> None:
    server = netns.run(
        f"""
        import socket, time
        s = socket.create_server(("{netns.there}", 9100))
        print("ready", flush=True)
        c, _ = s.accept()
        time.sleep(60)
        """
    )
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        with tcp.Producer(f"tcp://{netns.there}:9100", keepalive=2) as producer:
            pub = producer.publisher("x")
            pub.send(b"hello")
            time.sleep(3)  # a live peer answers the probes: still connected
            assert pub.connected
            netns.cut()
            cut_at = time.monotonic()
            with pytest.raises(tcp.ConnectionClosedError, match="stopped answering"):
                pub.subscriber.receive(lambda env: None, timeout=30)
            noticed = time.monotonic() - cut_at
            assert noticed < 2 + 3 * 1 + 3, f"noticed after {noticed:.1f} s"
            assert not pub.connected
    finally:
        server.kill()
        server.wait()


def test_server_keepalive_notices_a_vanished_client(netns: Netns) -> None:
    with tcp.Consumer(f"tcp://{netns.here}", keepalive=2) as consumer:
        client = netns.run(
            f"""
            import socket, time
            c = socket.create_connection(("{netns.here}", {consumer.address[1]}))
            c.sendall(b"\\x00\\x00\\x00\\x02hi")
            print("sent", flush=True)
            time.sleep(60)
            """
        )
        try:
            assert client.stdout is not None and client.stdout.readline().strip() == "sent"
            conn = consumer.accept(timeout=10)
            got = conn.fetch(1, timeout=10)
            assert [env.read() for env in got] == [b"hi"]
            time.sleep(3)
            assert conn.connected
            netns.cut()
            cut_at = time.monotonic()
            assert wait_until(lambda: not conn.connected, 30)
            noticed = time.monotonic() - cut_at
            assert noticed < 2 + 3 * 1 + 3, f"noticed after {noticed:.1f} s"
            assert conn.end is not None and "stopped answering" in conn.end.reason
            assert conn not in consumer.connections
        finally:
            client.kill()
            client.wait()
