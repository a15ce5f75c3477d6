"""Helpers the protocol tests share: what a process holds, to check nothing is left."""

from __future__ import annotations

import os
import re
import socket
import struct
import threading
import time
from pathlib import Path


def socket_fds() -> frozenset[str]:
    """This process's open sockets (``/proc/self/fd`` targets such as ``socket:[1234]``).

    Compare snapshots with :func:`new_sockets`, not by count: sockets that an earlier
    test left for the garbage collector may close while a test runs.
    """
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:"):
            found.add(target)
    return frozenset(found)


def new_sockets(before: frozenset[str]) -> frozenset[str]:
    """Sockets open now that were not open in the ``before`` snapshot (empty when none
    leaked)."""
    return socket_fds() - before


def threads_named(prefix: str) -> list[str]:
    """Names of this process's threads that start with ``prefix`` (``"syncapi-tcp"``...)."""
    return [t.name for t in threading.enumerate() if t.name.startswith(prefix)]


def threads_left(prefixes: tuple[str, ...], grace: float = 5.0) -> list[str]:
    """Threads named with one of ``prefixes`` still alive after up to ``grace`` seconds."""
    deadline = time.monotonic() + grace
    while True:
        left = [t.name for t in threading.enumerate() if t.name.startswith(prefixes)]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


def open_fds() -> int | None:
    """Open file descriptors of this process (``None`` where /proc does not tell)."""
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return None


def child_pids() -> list[int] | None:
    """Processes whose parent is this one (``None`` where /proc does not tell)."""
    me, found = str(os.getpid()), []
    try:
        entries = [e for e in os.listdir("/proc") if e.isdigit()]
    except OSError:
        return None
    for pid in entries:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue  # ended meanwhile
        if re.search(rf"^PPid:\s*{me}$", status, re.MULTILINE):
            found.append(int(pid))
    return found


# -- a raw TCP peer speaking tcp://'s default framing (a 4-byte big-endian length prefix) --
def frame(data: bytes) -> bytes:
    """``data`` framed as tcp:// frames by default: a 4-byte big-endian length prefix."""
    return struct.pack(">I", len(data)) + data


def read_exactly(sock: socket.socket, size: int, timeout: float = 10.0) -> bytes:
    """Read ``size`` bytes from ``sock`` (EOFError if the other end closes first)."""
    sock.settimeout(timeout)
    parts = []
    while size:
        chunk = sock.recv(size)
        if not chunk:
            raise EOFError("the server closed")
        parts.append(chunk)
        size -= len(chunk)
    return b"".join(parts)


def read_frame(sock: socket.socket, timeout: float = 10.0) -> bytes:
    """Read one length-prefixed frame from ``sock`` and return its payload."""
    (length,) = struct.unpack(">I", read_exactly(sock, 4, timeout))
    return read_exactly(sock, length, timeout)


def is_disconnected(sock: socket.socket, timeout: float = 5.0) -> bool:
    """Whether the other end closed ``sock`` (EOF or reset) within ``timeout``."""
    sock.settimeout(timeout)
    try:
        while True:
            if not sock.recv(65536):
                return True
    except ConnectionResetError:
        return True
    except OSError:
        return False
