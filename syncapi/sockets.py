"""Socket helpers the socket-based protocols share (WebSocket, TCP, UDP, raw IP):
bounded writes on blocking sockets, and host/port formatting.

A reader thread blocks in ``recv`` on the same socket other threads write to, so a
write's deadline cannot come from Python's socket timeout (it is per socket, and would
wake the reader too): writes use the kernel's ``SO_SNDTIMEO`` instead, which bounds
sends only.
"""

from __future__ import annotations

import builtins
import select
import socket
import ssl
import struct
import time

__all__ = ["format_address", "send_whole", "set_send_timeout", "writable"]


def send_whole(sock: socket.socket, data: bytes, deadline: float | None) -> bool:
    """Write ``data`` whole by ``deadline``: one ``send`` when the socket takes it all
    (the usual case); after a partial write, each next ``send`` gets only the time left
    (``sendall`` would give each the full send timeout again). ``True`` when it changed
    the socket's send timeout (the caller restores it). ``deadline=None``: no deadline
    for the whole; the socket's send timeout bounds each stall (a peer that keeps
    reading, however slowly, is not cut off).

    Raises:
        builtins.TimeoutError: the deadline passed (part of ``data`` may be out).
        OSError: the connection broke.
    """
    sent = sock.send(data)
    if sent == len(data):
        return False
    view = memoryview(data)
    if deadline is None:  # the socket's send timeout bounds each stall, not the whole
        while sent < len(view):
            sent += sock.send(view[sent:])
        return False
    while sent < len(view):
        left = deadline - time.monotonic()
        if left <= 0:
            raise builtins.TimeoutError("the peer took nothing more in time")
        set_send_timeout(sock, left)
        sent += sock.send(view[sent:])
    return True


def set_send_timeout(sock: socket.socket, seconds: float) -> None:
    """Bound each ``send`` on ``sock`` to ``seconds`` (``SO_SNDTIMEO``): a send that
    cannot go on for that long fails with ``EAGAIN``. A TLS socket retries a write the
    kernel refused, so it gets Python's socket timeout instead (reads then wake up
    every ``seconds`` too, and just go on)."""
    seconds = max(seconds, 0.001)
    if isinstance(sock, ssl.SSLSocket):
        sock.settimeout(seconds)
        return
    whole = int(seconds)
    sock.setsockopt(
        socket.SOL_SOCKET,
        socket.SO_SNDTIMEO,
        struct.pack("ll", whole, int((seconds - whole) * 1_000_000)),
    )


def writable(sock: socket.socket) -> bool:
    """Whether ``sock`` takes data now without blocking."""
    poller = select.poll()
    poller.register(sock, select.POLLOUT)
    return bool(poller.poll(0))


def format_address(host: str, port: int | None = None) -> str:
    """``host:port`` for logs and URLs, with an IPv6 host in brackets (``[::1]:80``)."""
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return shown if port is None else f"{shown}:{port}"
