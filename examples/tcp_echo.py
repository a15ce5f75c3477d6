"""TCP: a length-framed echo server and its clients.

Run it with ``python examples/tcp_echo.py [tcp://HOST[:PORT]]`` (default
``tcp://127.0.0.1``: a free port on this machine). Nothing needs installing.

* The consumer listens as soon as it is made. Its one subscriber receives the messages
  of every connection, and ``env.reply()`` sends the echo back on the connection the
  message came on. With ``workers=4``, clients are served in parallel while each client's
  messages stay in order.
* Each ``producer.publisher()`` is one TCP connection. A message is framed with a 4-byte
  big-endian length (the default framing), so it arrives whole, whatever its size: here
  from 0 bytes to 1 MiB.
* A plain ``socket`` client speaks the same framing without syncapi.
"""

from __future__ import annotations

import os
import socket
import struct
import sys

from syncapi import tcp

CLIENTS = 3
MESSAGES = 100
SIZES = (0, 1, 100, 64 * 1024, 1024 * 1024)  # cycled through; every 5th message is large


def recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("the server closed the connection")
        data += chunk
    return data


def receive_echoes(client: tcp.Publisher) -> list[bytes]:
    """What the server sent back on this client's connection, in order."""
    replies: list[bytes] = []
    client.subscriber.receive(
        lambda env: replies.append(env.payload), max_messages=MESSAGES, timeout=30
    )
    return replies


def main() -> None:
    url = sys.argv[1] if len(sys.argv) > 1 else "tcp://127.0.0.1"

    with tcp.Consumer(url) as consumer:
        echo = consumer.subscriber("echo")
        worker = echo.start(lambda env: env.reply(env.payload), workers=4)
        print(f"listening on {consumer.bound_url}")

        with tcp.Producer(consumer.bound_url) as producer:
            # each tcp publisher is a connection of its own, with .subscriber for answers
            clients = [producer.publisher("echo") for _ in range(CLIENTS)]
            sent: list[list[bytes]] = []
            for client in clients:
                messages = [os.urandom(SIZES[n % len(SIZES)]) for n in range(MESSAGES)]
                client.send(*messages)  # returns once written to the socket
                sent.append(messages)

            echoed = 0
            for client, messages in zip(clients, sent, strict=True):
                replies = receive_echoes(client)
                if replies != messages:
                    raise SystemExit(f"{client}: {len(replies)} echoes, not what was sent")
                echoed += len(replies)
            print(
                f"echoed {echoed}/{CLIENTS * MESSAGES} messages over {CLIENTS} connections, in order"
            )

        with socket.create_connection(consumer.address, timeout=10) as plain:  # no syncapi
            plain.sendall(struct.pack(">I", 5) + b"hello")
            (length,) = struct.unpack(">I", recv_exactly(plain, 4))
            print(f"a plain socket client got {recv_exactly(plain, length)!r}")

        worker.stop()


if __name__ == "__main__":
    main()
