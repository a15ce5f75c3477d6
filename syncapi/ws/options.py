"""Options of ``ws://`` producers and consumers (URL query or keywords; seconds for every
duration)::

    syncapi.producer("ws://feed.example:8080/v1?ping_interval=10&reconnect=true")
    syncapi.consumer("ws://0.0.0.0:8765/", max_message=1_048_576, idle_timeout=300)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError
from ..headers import HeaderPolicy

__all__ = ["ConsumerOptions", "ProducerOptions"]

_POLICIES = ("embed", "raise", "warn")
_ORIGIN = re.compile(r"[a-z][a-z0-9+.-]*://[^/?#\s@*]+")  # no path, user or wildcard


def _check(owner: Any) -> None:
    for name in ("timeout", "ping_timeout", "max_message", "max_pending"):
        value = getattr(owner, name)
        if value <= 0:
            raise ConfigError(f"option {name!r} must be > 0, got {value!r}")
    if owner.ping_interval is not None and owner.ping_interval <= 0:
        raise ConfigError(
            f"option 'ping_interval' must be > 0 or None (no pings), got {owner.ping_interval!r}"
        )
    if owner.headers not in _POLICIES:
        raise ConfigError(
            f"option 'headers' must be one of {', '.join(_POLICIES)}, got {owner.headers!r}"
        )
    protocols = tuple(owner.subprotocols)
    for name in protocols:
        if not isinstance(name, str) or not name or any(c in name for c in ' ,;"\t\r\n'):
            raise ConfigError(f"option 'subprotocols': {name!r} is not a valid subprotocol name")
    object.__setattr__(owner, "subprotocols", protocols)


@dataclass(frozen=True)
class ProducerOptions:
    """Options of a ``ws://`` :class:`~syncapi.ws.Producer` (each publisher is one
    websocket-client connection)."""

    connect_timeout: float = 10.0
    """Seconds the TCP connection and the handshake may take."""
    timeout: float = 30.0
    """Seconds a ``send`` called without ``timeout=`` may block on a server that does not
    read; then the connection is broken off (a frame may be half written) and ``send``
    raises ``TimeoutError``."""
    ping_interval: float | None = 20.0
    """Send a ping after this many seconds without hearing from the server (``None``:
    never ping, and never detect a dead server)."""
    ping_timeout: float = 20.0
    """A server that has not answered a ping within this many seconds is dead: the
    connection is dropped (close code 1006) and the receive loop ends, or it
    reconnects."""
    max_message: int = 16 * 1024 * 1024
    """Largest message in bytes, either way: a bigger ``send`` raises
    ``MessageTooLarge``; a bigger message from the server closes the connection with
    1009."""
    max_pending: int = 1024
    """Received messages that may wait for the receive loop; beyond it the connection
    is not read until the loop catches up (the server's sends slow down)."""
    headers: HeaderPolicy = "embed"
    """What to do with headers and content type, which WebSocket cannot carry:
    ``"embed"`` (the default; see :mod:`syncapi.ws.wire`), ``"raise"`` or ``"warn"``.
    With ``"raise"`` and ``"warn"`` the connection is plain WebSocket both ways: what
    comes in is never read as embedded headers either."""
    close_timeout: float = 2.0
    """Seconds ``close()`` waits for the server's close answer (and for a send in
    progress to let the close frame through) before the socket is shut."""
    reconnect: bool = False
    """Dial again when the connection drops or the server closes with 1001 (going
    away), 1011-1014 (error, restart, try later, bad gateway) — not after another close
    code (1000, 1008, 4xxx: the server's decision), nor after the user's ``close()``.
    Sends wait for the new connection, and a send that failed half way is sent again on
    it. Messages are not acknowledged in WebSocket, so one the kernel took before the
    drop may still be lost. A connection that dies within ``reconnect_max_delay`` of
    being made keeps the backoff growing."""
    reconnect_delay: float = 0.5
    """Seconds before the first reconnect attempt; doubles after each failure."""
    reconnect_max_delay: float = 10.0
    """Longest wait between reconnect attempts."""
    reconnect_attempts: int | None = None
    """Give up after this many failed attempts in a row (``None``: never)."""
    verify: bool = True
    """Check the server's TLS certificate and host name (``wss://``)."""
    ca_certs: str | None = None
    """A PEM file of the certificate authorities to trust for ``wss://`` (default: the
    system's)."""
    subprotocols: tuple[str, ...] = ()
    """Subprotocols offered in the handshake (``Sec-WebSocket-Protocol``); the server
    chooses one (:attr:`~syncapi.ws.Publisher.subprotocol`). A URL query gives them
    comma-separated."""
    handshake_headers: dict[str, str] | None = field(default=None, repr=False)  # may hold tokens
    """HTTP headers sent with every handshake, e.g. ``{"Authorization": "Bearer ..."}``
    (keyword only)."""

    def __post_init__(self) -> None:
        _check(self)
        if self.close_timeout <= 0:
            raise ConfigError(f"option 'close_timeout' must be > 0, got {self.close_timeout!r}")
        if self.connect_timeout <= 0:
            raise ConfigError(f"option 'connect_timeout' must be > 0, got {self.connect_timeout!r}")
        if self.reconnect_delay <= 0 or self.reconnect_max_delay < self.reconnect_delay:
            raise ConfigError(
                "options 'reconnect_delay' and 'reconnect_max_delay' must be > 0, "
                f"the first not above the second, got {self.reconnect_delay!r} and "
                f"{self.reconnect_max_delay!r}"
            )
        if self.reconnect_attempts is not None and self.reconnect_attempts < 1:
            raise ConfigError(
                f"option 'reconnect_attempts' must be >= 1 or None, got {self.reconnect_attempts!r}"
            )
        for key, value in (self.handshake_headers or {}).items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise ConfigError(
                    f"option 'handshake_headers': names and values must be str, got {key!r}: {value!r}"
                )


@dataclass(frozen=True)
class ConsumerOptions:
    """Options of a ``ws://`` :class:`~syncapi.ws.Consumer` (a WSGI application that takes
    WebSocket connections)."""

    max_message: int = 16 * 1024 * 1024
    """Largest message in bytes, either way: a client sending a bigger one is closed
    with 1009 (read no further); a bigger ``send`` raises ``MessageTooLarge``."""
    timeout: float = 30.0
    """Seconds a ``send`` called without ``timeout=`` may block on a client that does
    not read; then the connection is dropped and ``send`` raises ``TimeoutError``."""
    ping_interval: float | None = 20.0
    """Ping a client after this many seconds without hearing from it (``None``: never)."""
    ping_timeout: float = 20.0
    """A client that has not answered a ping within this many seconds is dead: its
    connection is dropped (close code 1006 for the loop)."""
    idle_timeout: float | None = None
    """Close a connection (code 1001) after this many seconds without a message from
    the client; pings and pongs do not count (``None``: never)."""
    max_pending: int = 1024
    """Messages of one connection (or of one route) that may wait for the receive
    loop; beyond it the client is not read until the loop catches up."""
    accept_backlog: int = 16
    """Connections on a route that may wait for :meth:`~syncapi.ws.Consumer.accept`;
    beyond it (and when nothing takes connections on the route) the handshake is
    answered ``503``."""
    close_timeout: float = 2.0
    """Seconds a close waits for the peer's close frame before the socket is shut."""
    headers: HeaderPolicy = "embed"
    """The header policy of the server's connections (as for the producer: with
    ``"raise"`` or ``"warn"`` they are plain WebSocket both ways)."""
    allowed_origins: tuple[str, ...] = ()
    """Web origins (``https://app.example``) whose pages may connect: a handshake
    whose ``Origin`` header names another one is answered ``403``. Browsers always send
    ``Origin``; other clients may not, and are let in. Compared without regard to
    letter case or a trailing ``/``; ``"null"`` names pages without an origin (files,
    sandboxes). Empty (the default): any origin.
    Set it when browsers connect and the server trusts their cookies."""
    subprotocols: tuple[str, ...] = ()
    """Subprotocols the server speaks: the first the client offers from this list is
    chosen (none chosen when nothing matches)."""

    def __post_init__(self) -> None:
        _check(self)
        if self.idle_timeout is not None and self.idle_timeout <= 0:
            raise ConfigError(
                f"option 'idle_timeout' must be > 0 or None, got {self.idle_timeout!r}"
            )
        if self.accept_backlog < 0:
            raise ConfigError(f"option 'accept_backlog' must be >= 0, got {self.accept_backlog!r}")
        if self.close_timeout <= 0:
            raise ConfigError(f"option 'close_timeout' must be > 0, got {self.close_timeout!r}")
        origins = []
        for origin in self.allowed_origins:
            text = origin.strip().rstrip("/").lower() if isinstance(origin, str) else ""
            if text != "null" and not _ORIGIN.fullmatch(text):
                raise ConfigError(
                    "option 'allowed_origins': each is scheme://host[:port] as a browser "
                    f"sends it (e.g. 'https://app.example'), or 'null'; got {origin!r}"
                )
            origins.append(text)
        object.__setattr__(self, "allowed_origins", tuple(origins))
