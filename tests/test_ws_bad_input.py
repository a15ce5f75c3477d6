"""``ws://`` server against bad clients: raw sockets speaking broken handshakes and broken
frames (written by hand here, since no WebSocket library sends them). Each gets the
right HTTP status or close code, and the server keeps serving the next client."""

from __future__ import annotations

import base64
import os
import socket
import struct
from collections.abc import Iterator

import pytest
import requests

from syncapi import ws
from syncapi.testing import Collector, wait_until

KEY = base64.b64encode(b"0123456789abcdef").decode()


@pytest.fixture
def consumer() -> Iterator[ws.Consumer]:
    consumer = ws.Consumer(max_message=64 * 1024)
    consumer.serve()
    yield consumer
    consumer.close()


@pytest.fixture
def port(consumer: ws.Consumer) -> int:
    return int(consumer.servers[0].port)


def handshake(
    port: int,
    path: str = "/echo",
    *,
    method: str = "GET",
    version: str = "13",
    key: str = KEY,
    extra: str = "",
) -> tuple[socket.socket, int, bytes]:
    """Open a raw connection and send a handshake; return (socket, status, head)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    request = (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        f"Sec-WebSocket-Version: {version}\r\n{extra}\r\n"
    )
    sock.sendall(request.encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            break
        head += chunk
    status = int(head.split(b" ", 2)[1]) if head else 0
    return sock, status, head


def client_frame(opcode: int, payload: bytes, *, fin: bool = True, mask: bool = True) -> bytes:
    """A client frame written by hand (so that it can be broken on purpose)."""
    head = bytes([(0x80 if fin else 0) | opcode])
    length = len(payload)
    bit = 0x80 if mask else 0
    if length < 126:
        head += bytes([bit | length])
    elif length < 65536:
        head += bytes([bit | 126]) + struct.pack("!H", length)
    else:
        head += bytes([bit | 127]) + struct.pack("!Q", length)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def close_code(sock: socket.socket) -> int:
    """Read server frames until a close frame; return its code (0 if the socket ended)."""
    buffer = b""
    while True:
        while len(buffer) >= 2:
            opcode, length = buffer[0] & 0x0F, buffer[1] & 0x7F
            start = 2
            if length == 126:
                length, start = struct.unpack("!H", buffer[2:4])[0], 4
            elif length == 127:
                length, start = struct.unpack("!Q", buffer[2:10])[0], 10
            if len(buffer) < start + length:
                break
            payload, buffer = buffer[start : start + length], buffer[start + length :]
            if opcode == 0x8:
                return int(struct.unpack("!H", payload[:2])[0]) if payload else 1005
        chunk = sock.recv(65536)
        if not chunk:
            return 0
        buffer += chunk


def still_serves(consumer: ws.Consumer, port: int) -> None:
    """A well-behaved client still gets its echo."""
    with ws.Producer(f"ws://127.0.0.1:{port}") as producer:
        pub = producer.publisher("echo")
        got = Collector(expected=1)
        pub.subscriber.start(got)
        pub.send(b"still here")
        assert got.wait(5), "the server stopped serving"
        assert got.payloads == [b"still here"]


@pytest.fixture(autouse=True)
def echo_route(consumer: ws.Consumer) -> None:
    consumer.subscriber("echo").start(lambda env: env.reply(env.payload))
    need = ws.ChannelBindings.from_dict(
        {
            "headers": {
                "type": "object",
                "properties": {"X-Token": {"type": "string"}},
                "required": ["X-Token"],
            }
        }
    )
    consumer.subscriber("guarded", need)
    consumer.subscriber("posted", ws.ChannelBindings(method="POST"))


@pytest.mark.parametrize(
    ("kwargs", "status", "says"),
    [
        ({"path": "/nowhere"}, 404, b"no WebSocket route"),
        ({"method": "POST"}, 405, b"GET"),
        ({"version": "8"}, 426, b"version 13"),
        ({"key": "too-short"}, 400, b"Sec-WebSocket-Key"),
        ({"key": ""}, 400, b"Sec-WebSocket-Key"),
        ({"path": "/guarded"}, 400, b"X-Token"),
    ],
)
def test_bad_handshakes_get_the_right_status(
    consumer: ws.Consumer, port: int, kwargs: dict[str, str], status: int, says: bytes
) -> None:
    sock, got, head = handshake(port, **kwargs)
    body = head + sock.recv(4096)
    sock.close()
    assert got == status, head
    assert says in body
    if status == 405:
        assert b"Allow: GET" in head
    if status == 426 and "version" in kwargs:
        assert b"Sec-WebSocket-Version: 13" in head
    still_serves(consumer, port)


def test_the_bindings_method_is_the_one_taken(consumer: ws.Consumer, port: int) -> None:
    sock, status, head = handshake(port, "/posted", method="POST")
    assert status == 101, head
    sock.close()
    sock, status, head = handshake(port, "/posted", method="GET")
    assert status == 405 and b"Allow: POST" in head
    sock.close()
    sock, status, _ = handshake(port, "/guarded", extra="X-Token: t\r\n")
    assert status == 101
    sock.close()


def test_plain_http_on_a_websocket_route_gets_426(consumer: ws.Consumer, port: int) -> None:
    answer = requests.get(f"http://127.0.0.1:{port}/echo", timeout=5)
    assert answer.status_code == 426
    assert answer.headers["Upgrade"] == "websocket"
    still_serves(consumer, port)


def test_garbage_instead_of_http(consumer: ws.Consumer, port: int) -> None:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(b"\x16\x03\x01\x02\x00garbage that is no request\r\n\r\n")
    answer = sock.recv(4096)
    sock.close()
    # http.server answers a request line it cannot parse as HTTP/0.9: the body only
    assert b"400" in answer
    still_serves(consumer, port)


@pytest.mark.parametrize(
    ("frames", "code"),
    [
        # a text frame that is not UTF-8
        ([client_frame(0x1, b"caf\xc3")], 1007),
        # clients must mask their frames
        ([client_frame(0x2, b"unmasked", mask=False)], 1002),
        # a reserved opcode
        ([client_frame(0x3, b"what")], 1002),
        # a frame announcing 2**62 bytes: refused long before it could be buffered
        ([b"\x82\xff" + struct.pack("!Q", 1 << 62) + os.urandom(4) + os.urandom(70000)], 1009),
        # a message over max_message (64 KiB) in pieces
        ([client_frame(0x2, b"a" * 40000, fin=False), client_frame(0x0, b"b" * 40000)], 1009),
        # a continuation with nothing to continue
        ([client_frame(0x0, b"orphan")], 1002),
    ],
    ids=["bad-utf8", "unmasked", "reserved-opcode", "giant-length", "too-big", "orphan"],
)
def test_broken_frames_get_the_right_close_code(
    consumer: ws.Consumer, port: int, frames: list[bytes], code: int
) -> None:
    sock, status, _ = handshake(port)
    assert status == 101
    try:
        for frame in frames:
            sock.sendall(frame)
    except OSError:
        pass  # the server may close before it read everything: the code still comes
    assert close_code(sock) == code
    sock.close()
    still_serves(consumer, port)


def test_a_client_vanishing_mid_frame(consumer: ws.Consumer, port: int) -> None:
    conns_before = len(consumer.connections)
    sock, status, _ = handshake(port)
    assert status == 101
    assert wait_until(lambda: len(consumer.connections) == conns_before + 1, 5)
    conn = consumer.connections[-1]
    sock.sendall(client_frame(0x2, b"x" * 1000)[:300])  # half a frame, then gone
    sock.close()
    assert wait_until(lambda: conn.close_code == 1006, 5), conn.close_code
    assert wait_until(lambda: len(consumer.connections) == conns_before, 5)
    still_serves(consumer, port)


def test_a_client_closing_properly_by_hand(consumer: ws.Consumer, port: int) -> None:
    sock, status, _ = handshake(port)
    assert status == 101
    sock.sendall(client_frame(0x2, b"ping me back"))
    sock.sendall(client_frame(0x9, b"are you there"))  # a ping: answered with a pong
    sock.sendall(client_frame(0x8, struct.pack("!H", 1000) + b"bye"))
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    sock.close()
    assert b"ping me back" in data  # the echo
    assert b"\x8a\x0dare you there" in data  # the pong, unmasked, same payload
    assert b"\x88\x05\x03\xe8bye" in data  # the close answered with the client's code
