"""Options of ``tcp://`` producers and consumers (URL query or keywords; seconds for every
duration)::

    syncapi.producer("tcp://10.0.0.5:9000?framing=delimiter&reconnect=true")
    syncapi.consumer("tcp://0.0.0.0:9000", max_message=1_048_576, max_connections=100)

A delimiter in a URL is percent-encoded: ``?framing=delimiter&delimiter=%0D%0A`` is
``"\\r\\n"``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..errors import ConfigError
from ..headers import HeaderPolicy

__all__ = ["ConsumerOptions", "Framing", "ProducerOptions"]

Framing = Literal["length", "delimiter", "raw"]
"""How messages are cut out of the byte stream (see :mod:`syncapi.tcp.framing`)."""

_FRAMINGS = ("length", "delimiter", "raw")
_POLICIES = ("embed", "raise", "warn")
_DEFAULT_MAX = 16 * 1024 * 1024


_FOREVER = 1e9  # seconds, bytes, messages: what is not below it is infinity or a slip


def _positive(name: str, value: float, limit: float = _FOREVER) -> None:
    if not 0 < value < limit:  # also refuses nan and inf
        raise ConfigError(f"option {name!r} must be a finite number > 0, got {value!r}")


@dataclass(frozen=True)
class _Common:
    """The options both ends have: framing, limits, the header policy, timeouts."""

    framing: Framing = "length"
    """``"length"`` (the default): each message is preceded by its length, big-endian,
    in ``length_prefix`` bytes. ``"delimiter"``: each message ends with ``delimiter``,
    which a payload must not contain. ``"raw"``: no framing; each read of the stream is
    a message and a send writes the bytes as they are (for peers that speak their own
    protocol)."""
    length_prefix: int = 4
    """Bytes of the length prefix (``framing="length"``): 1, 2, 4 or 8."""
    delimiter: str = "\n"
    """The end of each message (``framing="delimiter"``), sent as UTF-8; not empty."""
    max_message: int = _DEFAULT_MAX
    """Largest message in bytes (as framed: with embedded headers), either way: a bigger
    ``send`` raises ``MessageTooLarge``; a peer announcing a bigger frame (or sending a
    longer line without the delimiter) is disconnected. With ``framing="raw"``, the most
    one read hands over as a message. 16 MiB by default, or the largest a 1- or 2-byte
    ``length_prefix`` can announce (255, 65,535)."""
    headers: HeaderPolicy | None = None
    """What to do with headers and content type, which TCP cannot carry. ``"embed"``:
    they travel in the embed framing of :func:`syncapi.headers.embed` inside the frame
    (only with ``framing="length"``, where any bytes may travel); ``"raise"`` refuses such
    envelopes; ``"warn"`` drops them with one warning per publisher. ``None`` (the
    default) is ``"embed"`` with length framing and ``"raise"`` with the others."""
    timeout: float = 30.0
    """Seconds a ``send`` called without ``timeout=`` may block on a peer that reads
    nothing; then the connection is dropped (a frame may be half written) and ``send``
    raises ``TimeoutError``."""
    close_timeout: float = 2.0
    """Seconds ``close()`` waits for the peer to close its side after ours (so that
    everything sent is read) before the socket is shut."""
    max_pending: int = 1024
    """Received messages that may wait for the receive loop, per subscriber; beyond it
    the connection is not read until the loop catches up (TCP flow control slows the
    sender down)."""
    max_pending_bytes: int = 64 * 1024 * 1024
    """The same bound in bytes: a subscriber's waiting messages stop the reading once
    they hold this much (one message bigger than it still goes in alone). Bounds the
    memory a client that sends faster than the callbacks run can take."""
    keepalive: float | None = None
    """Seconds of silence after which the kernel probes the peer (TCP keepalive; probes
    every third of it, and the peer is dead after 3 unanswered). ``None``: the kernel's
    default (no probes)."""
    nodelay: bool = True
    """Send small messages at once (``TCP_NODELAY``) rather than waiting to merge them."""

    def __post_init__(self) -> None:
        for name in ("timeout", "close_timeout", "max_pending"):
            _positive(name, getattr(self, name))
        for name in ("max_message", "max_pending_bytes"):
            _positive(name, getattr(self, name), 1 << 62)
        if self.framing not in _FRAMINGS:
            raise ConfigError(
                f"option 'framing' must be one of {', '.join(_FRAMINGS)}, got {self.framing!r}"
            )
        if self.length_prefix not in (1, 2, 4, 8):
            raise ConfigError(
                f"option 'length_prefix' must be 1, 2, 4 or 8 bytes, got {self.length_prefix!r}"
            )
        if not isinstance(self.delimiter, str) or not self.delimiter:
            raise ConfigError(f"option 'delimiter' must be a non-empty str, got {self.delimiter!r}")
        if self.keepalive is not None and not 1 <= self.keepalive < _FOREVER:
            raise ConfigError(
                f"option 'keepalive' must be >= 1 second or None, got {self.keepalive!r}"
            )
        policy = self.headers
        if policy is None:
            object.__setattr__(self, "headers", "embed" if self.framing == "length" else "raise")
        elif policy not in _POLICIES:
            raise ConfigError(
                f"option 'headers' must be one of {', '.join(_POLICIES)}, got {policy!r}"
            )
        elif policy == "embed" and self.framing != "length":
            raise ConfigError(
                f"headers='embed' needs framing='length': with framing={self.framing!r} the "
                "embedded header block could contain the delimiter or be split across reads; "
                "use headers='raise' or 'warn', or length framing"
            )
        limit = (1 << (8 * self.length_prefix)) - 1
        if self.framing == "length" and self.max_message > limit:
            if self.max_message == _DEFAULT_MAX:  # not given: the prefix's largest
                object.__setattr__(self, "max_message", limit)
                return
            raise ConfigError(
                f"option 'max_message' ({self.max_message}) does not fit a "
                f"{self.length_prefix}-byte length prefix (at most {limit})"
            )

    @property
    def header_policy(self) -> HeaderPolicy:
        """The header policy in force (``headers`` with its default resolved)."""
        assert self.headers is not None
        return self.headers

    @property
    def delimiter_bytes(self) -> bytes:
        """:attr:`delimiter` as it goes on the wire (UTF-8)."""
        return self.delimiter.encode("utf-8")


@dataclass(frozen=True)
class ProducerOptions(_Common):
    """Options of a ``tcp://`` :class:`~syncapi.tcp.Producer` (each publisher is one
    connection)."""

    connect_timeout: float = 10.0
    """Seconds a connection may take to open."""
    reconnect: bool = False
    """Dial again when the connection drops or the server closes it (not after the
    user's ``close()``). Sends wait for the new connection, and a send that failed half
    way is sent again on it (so the server may see it twice). Bytes the kernel took
    before the drop may still be lost: TCP acknowledges to the kernel, not to the
    application."""
    reconnect_delay: float = 0.5
    """Seconds before the first reconnect attempt; doubles after each failure."""
    reconnect_max_delay: float = 10.0
    """Longest wait between reconnect attempts."""
    reconnect_attempts: int | None = None
    """Give up after this many failed attempts in a row (``None``: never)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("connect_timeout", "reconnect_delay", "reconnect_max_delay"):
            _positive(name, getattr(self, name))
        if self.reconnect_max_delay < self.reconnect_delay:
            raise ConfigError(
                "options 'reconnect_delay' and 'reconnect_max_delay' must be > 0, "
                f"the first not above the second, got {self.reconnect_delay!r} and "
                f"{self.reconnect_max_delay!r}"
            )
        if self.reconnect_attempts is not None and self.reconnect_attempts < 1:
            raise ConfigError(
                f"option 'reconnect_attempts' must be >= 1 or None, got {self.reconnect_attempts!r}"
            )


@dataclass(frozen=True)
class ConsumerOptions(_Common):
    """Options of a ``tcp://`` :class:`~syncapi.tcp.Consumer` (a listening socket; each
    connection a client opens is a channel)."""

    max_connections: int = 1024
    """Open connections at most (each has a reader thread); a client beyond it is
    disconnected at once, with a warning in the log."""
    accept_backlog: int = 128
    """Connections kept for a later ``accept``/``subscriber``/``on_connect`` when nothing
    takes them yet; beyond it a new client is disconnected."""
    listen_backlog: int = 128
    """The kernel's queue of connections not yet accepted (``listen()``)."""
    reuse_address: bool = True
    """Set ``SO_REUSEADDR``, so a restarted server binds its port again at once."""

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("max_connections", "accept_backlog", "listen_backlog"):
            value = getattr(self, name)
            if value < 1:
                raise ConfigError(f"option {name!r} must be >= 1, got {value!r}")
