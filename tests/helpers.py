"""Helpers the protocol tests share: what a process holds, to check nothing is left."""

from __future__ import annotations

import os
import threading


def socket_fds() -> int:
    """Open sockets of this process (``/proc/self/fd``)."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
                count += 1
        except OSError:
            pass
    return count


def threads_named(prefix: str) -> list[str]:
    """Names of this process's threads that start with ``prefix`` (``"syncapi-tcp"``...)."""
    return [t.name for t in threading.enumerate() if t.name.startswith(prefix)]
