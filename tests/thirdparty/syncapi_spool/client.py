"""Producer, Consumer, Publisher, Subscriber and envelopes of ``spool://``.

The package documentation describes the layout on disk and the file format. Each class
fills in the hooks of its :mod:`syncapi.core` base class; argument checks, the closed
state, receive loops and their threads all come from syncapi.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import struct
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from syncapi import core
from syncapi.errors import (
    ClosedError,
    ConfigError,
    ConnectError,
    DecodeError,
    MessageTooLarge,
    ReceiveError,
    SendError,
)
from syncapi.headers import Headers
from syncapi.servers import ServerURL, resolve_options

from .bindings import ChannelBindings, OperationBindings

_log = logging.getLogger("syncapi.spool")

MAX_PAYLOAD = 8 * 1024 * 1024
"""The largest payload ``send`` accepts, in bytes."""

CAPABILITIES = core.Capabilities(
    ordered=True,
    persistent=True,
    consumer_groups=False,
    headers=True,
    redelivery=True,
    brokerless=False,
    reliable=True,
    max_payload=MAX_PAYLOAD,
)

_LENGTH = struct.Struct(">I")


# -- the file format -------------------------------------------------------------------------
def encode(payload: bytes, headers: Headers | None, content_type: str | None) -> bytes:
    """Return the contents of a message file (see the package documentation)."""
    meta = {"h": headers.to_jsonable() if headers else {}, "ct": content_type}
    head = json.dumps(meta, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return _LENGTH.pack(len(head)) + head + payload


def decode(data: bytes) -> tuple[Headers, str | None, bytes]:
    """Split a message file into headers, content type and payload.

    Raises:
        DecodeError: the data is not in the spool format.
    """
    if len(data) < _LENGTH.size:
        raise DecodeError(f"message file of {len(data)} bytes is shorter than its length prefix")
    (size,) = _LENGTH.unpack_from(data)
    end = _LENGTH.size + size
    if end > len(data):
        raise DecodeError(f"meta block of {size} bytes overruns the {len(data)}-byte file")
    try:
        meta = json.loads(data[_LENGTH.size : end].decode("utf-8"))
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise DecodeError(f"meta block is not UTF-8 JSON: {exc}") from exc
    if not isinstance(meta, dict) or not isinstance(meta.get("ct"), (str, type(None))):
        raise DecodeError(f"meta block must be an object with a str or null 'ct', got {meta!r}")
    return Headers.from_jsonable(meta.get("h", {})), meta.get("ct"), data[end:]


_name_lock = threading.Lock()
_last_stamp = 0


def _next_name() -> str:
    """A message file name that sorts after every name this process made before."""
    global _last_stamp
    with _name_lock:
        _last_stamp = max(time.time_ns(), _last_stamp + 1)
        return f"{_last_stamp:020d}-{os.getpid():010d}.msg"


def _is_plain_name(name: str) -> bool:
    """Whether ``name`` can be a directory name of its own (and is not a hidden one)."""
    return bool(name) and name[0] != "." and os.path.basename(name) == name and "\0" not in name


def _mkdir(path: Path, *, parents: bool = False) -> Path:
    try:
        path.mkdir(parents=parents, exist_ok=True)
    except OSError as exc:
        raise ConnectError(f"spool directory {path} cannot be created: {exc}") from exc
    return path


# -- server: options, producer and consumer --------------------------------------------------
@dataclass(frozen=True)
class SpoolOptions:
    """Options of ``spool:///DIR?option=value`` (keyword arguments win over the URL).

    Attributes:
        poll_interval: seconds between two scans of a channel directory while a
            subscriber waits for messages.
        fsync: flush each message file and its directory to disk before ``send`` returns
            (slower; survives a power cut).
        group: the consumer's subscribers share the claim directory ``.claimed-GROUP``
            (default: one per subscriber). Subscribers compete for messages either way.
    """

    poll_interval: float = 0.1
    fsync: bool = False
    group: str | None = None

    def __post_init__(self) -> None:
        if self.poll_interval <= 0:
            raise ConfigError(f"option 'poll_interval' must be > 0, got {self.poll_interval}")
        if self.group is not None and not _is_plain_name(self.group):
            raise ConfigError(f"option 'group' must be a plain file name, got {self.group!r}")


class _SpoolEndpoint:
    """What Producer and Consumer share: the options and the spool directory."""

    options: SpoolOptions
    root: Path

    def _setup(self, url: ServerURL, options: dict[str, Any]) -> None:
        if url.hosts or not os.path.isabs(url.path):
            raise ConfigError(
                f"spool URL {url}: give the spool directory as an absolute path and no host, "
                "e.g. 'spool:///var/spool/app' (three slashes)"
            )
        self.options = resolve_options(SpoolOptions, url.query, options)
        self.root = _mkdir(Path(url.path), parents=True)

    def _channel_dir(self, channel: str) -> Path:
        if not _is_plain_name(channel):
            raise ConfigError(
                f"spool channel {channel!r} must be a plain file name (no '/', not starting with '.')"
            )
        return _mkdir(self.root / channel)


class Producer(_SpoolEndpoint, core.Producer):
    """Writes to a spool directory: ``spool:///DIR`` (see :class:`SpoolOptions`). Thread-safe."""

    scheme = "spool"
    capabilities = CAPABILITIES

    def __init__(self, url: ServerURL | str, **options: Any) -> None:
        super().__init__(url)
        self._setup(self.url, options)

    def _open_publisher(
        self, channel: str, bindings: Any, operation_bindings: Any, security: Any
    ) -> Publisher:
        return Publisher(
            self._channel_dir(channel),
            channel,
            fsync=self.options.fsync,
            bindings=ChannelBindings.coerce(bindings),
            operation_bindings=OperationBindings.coerce(operation_bindings),
        )


class Consumer(_SpoolEndpoint, core.Consumer):
    """Reads from a spool directory: ``spool:///DIR?group=G`` (see :class:`SpoolOptions`).
    Thread-safe."""

    scheme = "spool"
    capabilities = CAPABILITIES

    def __init__(self, url: ServerURL | str, **options: Any) -> None:
        super().__init__(url)
        self._setup(self.url, options)

    def _open_subscriber(
        self, channel: str, bindings: Any, operation_bindings: Any, security: Any
    ) -> Subscriber:
        return Subscriber(
            self._channel_dir(channel),
            channel,
            self.options,
            bindings=ChannelBindings.coerce(bindings),
            operation_bindings=OperationBindings.coerce(operation_bindings),
        )


# -- messages ----------------------------------------------------------------------------------
class EnvelopeWriter(core.EnvelopeWriter):
    """An outgoing ``spool://`` message: payload, headers and content type (no extras)."""

    __slots__ = ()


class EnvelopeReader(core.EnvelopeReader):
    """A received ``spool://`` message. Extra: :attr:`path`, the claimed message file."""

    __slots__ = ("_path",)

    def __init__(self, path: Path, data: bytes, subscriber: Subscriber) -> None:
        headers, content_type, payload = decode(data)
        super().__init__(
            payload,
            headers=headers,
            content_type=content_type,
            channel=subscriber.channel,
            subscriber=subscriber,
        )
        self._path = path

    @property
    def path(self) -> Path:
        """The message file while the message is claimed (acking deletes it, nacking moves it)."""
        return self._path

    @property
    def identity(self) -> str:
        """``spool:///DIR/CHANNEL/NAME`` for logs."""
        return f"spool://{self._path.parent.parent / self._path.name}"


# -- channel: publisher and subscriber -------------------------------------------------------
class Publisher(core.Publisher):
    """Writes messages into one channel directory.

    ``send`` is thread-safe and returns when every message file is in place (and on disk,
    with ``fsync``); its ``timeout`` is not used, as a local write waits for nobody.
    """

    envelope_class = EnvelopeWriter

    def __init__(
        self, directory: Path, channel: str, *, fsync: bool, bindings: Any, operation_bindings: Any
    ) -> None:
        super().__init__(channel, bindings=bindings, operation_bindings=operation_bindings)
        self._dir = directory
        self._fsync = fsync

    def _send(self, envelopes: Sequence[core.EnvelopeWriter], timeout: float | None) -> None:
        for env in envelopes:
            if len(env) > MAX_PAYLOAD:
                raise MessageTooLarge(
                    f"spool {self._dir}: payload of {len(env)} bytes is over {MAX_PAYLOAD} bytes; "
                    "nothing of this send was sent",
                    [(env, "too large")],
                )
        for done, env in enumerate(envelopes):
            data = encode(env.payload, env.headers if env.has_headers else None, env.content_type)
            try:
                self._write(data)
            except OSError as exc:
                raise SendError(
                    f"spool {self._dir}: writing a message failed ({exc}); "
                    f"{done} of {len(envelopes)} envelopes were sent",
                    [(failed, exc) for failed in envelopes[done:]],
                ) from exc

    def _write(self, data: bytes) -> None:
        """Write one message file: to a hidden name first, then renamed into place."""
        name = _next_name()
        temporary = self._dir / f".tmp-{name}"
        try:
            with open(temporary, "wb") as file:
                file.write(data)
                if self._fsync:
                    file.flush()
                    os.fsync(file.fileno())
            os.rename(temporary, self._dir / name)
        except OSError:
            temporary.unlink(missing_ok=True)
            raise
        if self._fsync:  # make the rename itself durable
            fd = os.open(self._dir, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


class Subscriber(core.Subscriber):
    """Claims messages from one channel directory, competing with its other subscribers.

    Messages claimed and not settled when the subscriber closes go back to the channel.
    """

    default_on_error = "requeue"

    def __init__(
        self,
        directory: Path,
        channel: str,
        options: SpoolOptions,
        *,
        bindings: Any,
        operation_bindings: Any,
    ) -> None:
        super().__init__(channel, bindings=bindings, operation_bindings=operation_bindings)
        self._dir = directory
        self._options = options
        self._claim_dir = _mkdir(directory / f".claimed-{options.group or uuid.uuid4().hex}")
        self._claimed: set[str] = set()  # names of our files in the claim directory
        self._lock = threading.Lock()  # guards _claimed and the renames that change it
        self._wake = threading.Event()

    def _fetch(self, max_messages: int, timeout: float | None) -> list[EnvelopeReader]:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if self._closed:
                raise ClosedError(f"{self!r} is closed")
            try:
                found = self._claim(max_messages)
            except OSError as exc:
                raise ReceiveError(f"spool {self._dir}: claiming messages failed: {exc}") from exc
            if found:
                return found
            if self._wake.is_set():
                self._wake.clear()
                return []
            wait = self._options.poll_interval
            if deadline is not None:
                wait = min(wait, deadline - time.monotonic())
                if wait <= 0:
                    return []
            self._wake.wait(wait)

    def _claim(self, max_messages: int) -> list[EnvelopeReader]:
        found: list[EnvelopeReader] = []
        with self._lock:
            if self._closed:
                return found
            names = sorted(
                n for n in os.listdir(self._dir) if n.endswith(".msg") and not n.startswith(".")
            )
            for name in names:
                if len(found) == max_messages:
                    break
                path = self._claim_dir / name
                try:
                    os.rename(self._dir / name, path)
                except FileNotFoundError:
                    continue  # another subscriber claimed it first
                self._claimed.add(name)
                try:
                    found.append(EnvelopeReader(path, path.read_bytes(), self))
                except DecodeError as exc:  # a bad file must not stop the subscription
                    _log.error(
                        "spool %s: malformed file %s moved to .rejected: %s", self._dir, name, exc
                    )
                    self._claimed.remove(name)
                    self._move(path, self._dir / ".rejected")
        return found

    def _release(self, envelope: core.EnvelopeReader) -> Path | None:
        """Forget a claimed message; its path, or ``None`` when it is no longer ours."""
        assert isinstance(envelope, EnvelopeReader)
        with self._lock:
            if envelope.path.name not in self._claimed:
                return None  # settled after close() had put it back
            self._claimed.remove(envelope.path.name)
        return envelope.path

    def _move(self, path: Path, directory: Path) -> None:
        try:
            directory.mkdir(exist_ok=True)
            os.rename(path, directory / path.name)
        except OSError as exc:
            raise ReceiveError(f"spool: moving {path} to {directory} failed: {exc}") from exc

    def _ack(self, envelope: core.EnvelopeReader) -> None:
        path = self._release(envelope)
        if path is not None:
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:
                raise ReceiveError(f"spool: deleting acked {path} failed: {exc}") from exc

    def _nack(self, envelope: core.EnvelopeReader, requeue: bool) -> None:
        path = self._release(envelope)
        if path is None:
            return
        if requeue:
            self._move(path, self._dir)
        else:
            _log.warning("%s: rejected, moved to .rejected", envelope.identity)
            self._move(path, self._dir / ".rejected")

    def _interrupt(self) -> None:
        self._wake.set()

    def _close(self) -> None:
        with self._lock:
            held, self._claimed = self._claimed, set()
            for name in sorted(held):
                try:
                    self._move(self._claim_dir / name, self._dir)
                except ReceiveError as exc:
                    _log.error("%s; the message stays claimed", exc)
        if self._options.group is None:  # ours alone; a group's directory is shared, so it stays
            with contextlib.suppress(OSError):
                self._claim_dir.rmdir()
