"""Message headers and their wire conversions.

:class:`Headers` is the one header type of syncapi: an ordered, case-sensitive mapping of
``str`` names to ``str`` or ``bytes`` values. The round-trip rule every protocol keeps is
that **a value reads back with the type it was set with**: a ``str`` header set by a sender
reads back as the same ``str``, and a ``bytes`` header as the same ``bytes``, on every
protocol that carries headers.

Wires differ, so this module also holds the conversions protocols share:

* :meth:`Headers.to_wire` / :meth:`Headers.from_wire` for wires whose header values are
  bytes only (Kafka record headers). ``str`` values travel UTF-8 encoded; the names of
  ``bytes`` values travel in the reserved header :data:`BINARY_HEADERS` so that they are
  not decoded on the way back.
* :func:`embed` / :func:`extract` for wires that have no headers at all (WebSocket, TCP,
  UDP, raw IP): the documented *embed framing* that puts headers and the content type in
  front of the payload. Which of ``embed``, ``raise`` or ``warn`` a headerless protocol
  applies is its :data:`HeaderPolicy` option; :func:`apply_header_policy` implements it
  once for all of them.
"""

from __future__ import annotations

import base64
import json
import logging
import struct
import warnings
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from typing import Literal, TypeAlias

from .errors import ConfigError, DecodeError

__all__ = [
    "BINARY_HEADERS",
    "EMBED_MAGIC",
    "HeaderPolicy",
    "HeaderValue",
    "Headers",
    "HeadersLike",
    "apply_header_policy",
    "embed",
    "extract",
    "extract_with_extras",
    "is_embedded",
]

HeaderValue: TypeAlias = "str | bytes"
"""The type of a header value: ``str`` (text) or ``bytes`` (binary)."""

HeadersLike: TypeAlias = "Mapping[str, str | bytes] | Iterable[tuple[str, str | bytes]]"
"""Anything :class:`Headers` can be built from: a mapping or ``(name, value)`` pairs."""

HeaderPolicy = Literal["embed", "raise", "warn"]
"""What a protocol without a header wire does with headers and a content type:

* ``"embed"``: put them in the embed framing (:func:`embed`) in front of the payload; the
  receiving syncapi end takes them out again, so nothing is lost.
* ``"raise"``: refuse to send an envelope that has headers or a content type
  (:class:`~syncapi.errors.ConfigError`).
* ``"warn"``: send the bare payload and warn once per publisher that headers were dropped.
"""

BINARY_HEADERS = "syncapi-binary-headers"
"""Reserved header name: a JSON array of the names of the headers whose value is
``bytes``, on wires whose header values are bytes only. Users cannot set it."""

EMBED_MAGIC = b"\x00SYH"
"""The four bytes that open an embedded frame (a NUL byte, then ``SYH``)."""

_EMBED_VERSION = 1
_EMBED_HEAD = struct.Struct("!4sBI")  # magic, version, length of the JSON meta block
_MAX_META = 16 * 1024 * 1024
_log = logging.getLogger("syncapi")


def _check_name(name: object) -> str:
    if not isinstance(name, str):
        raise ConfigError(f"header name must be a str, got {type(name).__name__}: {name!r}")
    if not name:
        raise ConfigError("header name must not be empty")
    if name == BINARY_HEADERS:
        raise ConfigError(f"header name {BINARY_HEADERS!r} is reserved by syncapi")
    return name


def _check_value(name: str, value: object) -> str | bytes:
    if isinstance(value, (str, bytes)):
        return value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    raise ConfigError(
        f"header {name!r}: value must be str or bytes, got {type(value).__name__}: {value!r} "
        "(convert numbers and other values to str yourself, so that they read back unchanged)"
    )


class Headers(MutableMapping[str, "str | bytes"]):
    """Message headers: an ordered mapping of ``str`` names to ``str`` or ``bytes`` values.

    Names are case-sensitive (protocols whose wire folds case, such as HTTP, document it).
    Values keep their type across every protocol that carries headers. Anything else
    (``int``, ``None``...) is refused with :class:`~syncapi.errors.ConfigError` so that no
    value silently changes type on the way.

    >>> h = Headers({"trace-id": "abc"}, retries="2")
    >>> h["trace-id"], len(h)
    ('abc', 2)
    """

    __slots__ = ("_data",)

    def __init__(self, data: HeadersLike | None = None, /, **kwargs: str | bytes) -> None:
        self._data: dict[str, str | bytes] = {}
        if type(data) is dict and not kwargs:
            # the common case, built without MutableMapping.update's generic machinery
            own = self._data
            for name, value in data.items():
                if type(name) is not str or not name or name == BINARY_HEADERS:
                    _check_name(name)
                own[name] = (
                    value
                    if type(value) is str or type(value) is bytes
                    else _check_value(name, value)
                )
            return
        if data is not None:
            given: object = data  # users pass anything; check before trusting the type
            if isinstance(given, (str, bytes, bytearray)) or not isinstance(given, Iterable):
                raise ConfigError(
                    f"headers must be a mapping or (name, value) pairs, got {type(data).__name__}: "
                    f"{data!r:.60}"
                )
            try:
                self.update(data)
            except (TypeError, ValueError) as exc:
                if isinstance(exc, ConfigError):
                    raise
                raise ConfigError(
                    f"headers must be a mapping or (name, value) pairs: {exc}"
                ) from exc
        if kwargs:
            self.update(kwargs)

    @classmethod
    def of(cls, data: Headers | HeadersLike | None) -> Headers:
        """Return ``data`` as :class:`Headers` (a copy; ``None`` gives empty headers)."""
        if isinstance(data, Headers):
            return data.copy()
        return cls(data)

    def __getitem__(self, name: str) -> str | bytes:
        return self._data[name]

    def __setitem__(self, name: str, value: str | bytes) -> None:
        name = _check_name(name)
        self._data[name] = _check_value(name, value)

    def __delitem__(self, name: str) -> None:
        del self._data[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, name: object) -> bool:
        return name in self._data

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Headers):
            return self._data == other._data
        if isinstance(other, Mapping):
            return self._data == dict(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"Headers({self._data!r})"

    def copy(self) -> Headers:
        """Return a shallow copy."""
        new = Headers.__new__(Headers)
        new._data = dict(self._data)
        return new

    def to_dict(self) -> dict[str, str | bytes]:
        """Return the headers as a plain ``dict`` (a copy)."""
        return dict(self._data)

    def get_str(self, name: str, default: str | None = None) -> str | None:
        """Return a header as ``str``: ``bytes`` values are decoded as UTF-8."""
        value = self._data.get(name)
        if value is None:
            return default
        return value.decode("utf-8", "replace") if isinstance(value, bytes) else value

    # -- wires whose values are bytes only (Kafka record headers) -------------------------
    def to_wire(self) -> list[tuple[str, bytes]]:
        """Return ``(name, bytes)`` pairs for a bytes-only header wire.

        ``str`` values are UTF-8 encoded; if any value is ``bytes``, a reserved
        :data:`BINARY_HEADERS` pair is appended listing their names (a JSON array), so that
        :meth:`from_wire` gives every value back with its own type.
        """
        pairs: list[tuple[str, bytes]] = []
        binary: list[str] = []
        for name, value in self._data.items():
            if isinstance(value, bytes):
                binary.append(name)
                pairs.append((name, value))
            else:
                pairs.append((name, value.encode("utf-8")))
        if binary:
            pairs.append((BINARY_HEADERS, json.dumps(binary).encode("utf-8")))
        return pairs

    @classmethod
    def from_wire(cls, pairs: Iterable[tuple[str, bytes | None]]) -> Headers:
        """Build headers from ``(name, bytes)`` pairs made by :meth:`to_wire`.

        Values are decoded as UTF-8 ``str`` unless :data:`BINARY_HEADERS` names them (or
        they are not valid UTF-8, in which case they stay ``bytes``). A ``None`` value
        (Kafka allows it) reads back as an empty value.
        """
        raw: dict[str, bytes] = {}
        binary: set[str] = set()
        for name, value in pairs:
            if name == BINARY_HEADERS:
                try:
                    names = json.loads(value or b"")
                except ValueError:
                    names = None
                if isinstance(names, list) and all(isinstance(n, str) for n in names):
                    binary.update(names)
                    continue
            raw[name] = value if value is not None else b""
        headers = cls()
        data = headers._data
        for name, value in raw.items():
            if name in binary:
                data[name] = value
            else:
                try:
                    data[name] = value.decode("utf-8")
                except UnicodeDecodeError:
                    data[name] = value
        return headers

    # -- JSON-safe form (embed framing, AMQP tables, logs) --------------------------------
    def to_jsonable(self) -> dict[str, str | dict[str, str]]:
        """Return a JSON-serialisable dict: ``bytes`` values become ``{"b64": "..."}``."""
        out: dict[str, str | dict[str, str]] = {}
        for name, value in self._data.items():
            if isinstance(value, bytes):
                out[name] = {"b64": base64.b64encode(value).decode("ascii")}
            else:
                out[name] = value
        return out

    @classmethod
    def from_jsonable(cls, data: object) -> Headers:
        """Inverse of :meth:`to_jsonable`; malformed input raises :class:`DecodeError`."""
        if not isinstance(data, dict):
            raise DecodeError(f"embedded headers must be a JSON object, got {type(data).__name__}")
        headers = cls()
        for name, value in data.items():
            if isinstance(value, str):
                headers._data[name] = value
            elif (
                isinstance(value, dict) and set(value) == {"b64"} and isinstance(value["b64"], str)
            ):
                try:
                    headers._data[name] = base64.b64decode(value["b64"], validate=True)
                except ValueError as exc:
                    raise DecodeError(f"embedded header {name!r}: invalid base64") from exc
            else:
                raise DecodeError(f"embedded header {name!r}: unsupported value {value!r}")
        return headers


# -- the embed framing ---------------------------------------------------------------------
def embed(
    headers: Mapping[str, str | bytes] | None,
    content_type: str | None,
    payload: bytes,
    *,
    extras: Mapping[str, str] | None = None,
) -> bytes:
    """Frame ``headers``, ``content_type`` and ``payload`` into one message body.

    Layout (all integers big-endian)::

        4 bytes  magic  b"\\x00SYH"
        1 byte   version (1)
        4 bytes  length N of the meta block
        N bytes  meta: UTF-8 JSON {"h": {name: str | {"b64": str}}, "ct": str,
                                   "x": {name: str}}          (each key optional)
        rest     the payload, unchanged

    ``extras`` (``"x"``) are protocol details the wire would otherwise lose, such as the
    WebSocket opcode of a text message (an embedded message travels as binary).

    Any syncapi end reads it back with :func:`extract` (or :func:`extract_with_extras`);
    other peers see a documented, easily parsed prefix.
    """
    meta: dict[str, object] = {}
    if headers:
        meta["h"] = Headers.of(headers).to_jsonable()
    if content_type is not None:
        meta["ct"] = content_type
    if extras:
        meta["x"] = dict(extras)
    block = json.dumps(meta, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return b"".join((_EMBED_HEAD.pack(EMBED_MAGIC, _EMBED_VERSION, len(block)), block, payload))


def is_embedded(data: bytes | bytearray | memoryview) -> bool:
    """Tell whether ``data`` starts with the embed framing's magic bytes."""
    return bytes(data[:4]) == EMBED_MAGIC


def extract(data: bytes) -> tuple[Headers, str | None, bytes]:
    """Undo :func:`embed`: return ``(headers, content_type, payload)``.

    Data that does not start with :data:`EMBED_MAGIC` is returned as the payload with no
    headers. A frame that starts with the magic but is damaged raises
    :class:`~syncapi.errors.DecodeError` naming what is wrong.
    """
    headers, content_type, payload, _ = extract_with_extras(data)
    return headers, content_type, payload


def extract_with_extras(data: bytes) -> tuple[Headers, str | None, bytes, dict[str, str]]:
    """:func:`extract`, plus the protocol ``extras`` the frame carries (``{}`` if none).

    Raises:
        DecodeError: the frame starts with the magic but is damaged.
    """
    if not is_embedded(data):
        return Headers(), None, data, {}
    if len(data) < _EMBED_HEAD.size:
        raise DecodeError(
            f"embedded frame truncated: {len(data)} bytes, header needs {_EMBED_HEAD.size}"
        )
    _, version, size = _EMBED_HEAD.unpack_from(data)
    if version != _EMBED_VERSION:
        raise DecodeError(
            f"embedded frame version {version} is not supported (expected {_EMBED_VERSION})"
        )
    if size > _MAX_META or _EMBED_HEAD.size + size > len(data):
        raise DecodeError(
            f"embedded frame meta block of {size} bytes does not fit the {len(data)}-byte message"
        )
    start = _EMBED_HEAD.size
    try:
        meta = json.loads(data[start : start + size].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise DecodeError("embedded frame meta block is not valid UTF-8 JSON") from exc
    if not isinstance(meta, dict) or not set(meta) <= {"h", "ct", "x"}:
        raise DecodeError(f"embedded frame meta block has unexpected content: {meta!r}")
    content_type = meta.get("ct")
    if content_type is not None and not isinstance(content_type, str):
        raise DecodeError(f"embedded content type must be a string, got {content_type!r}")
    extras = meta.get("x", {})
    if not isinstance(extras, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in extras.items()
    ):
        raise DecodeError(f"embedded extras must map names to strings, got {extras!r}")
    headers = Headers.from_jsonable(meta.get("h", {}))
    return headers, content_type, data[start + size :], extras


def apply_header_policy(
    policy: HeaderPolicy,
    headers: Mapping[str, str | bytes] | None,
    content_type: str | None,
    payload: bytes,
    *,
    where: str,
    warned: list[bool] | None = None,
) -> bytes:
    """Turn an envelope into the bytes a headerless wire sends, per ``policy``.

    Args:
        policy: ``"embed"``, ``"raise"`` or ``"warn"`` (see :data:`HeaderPolicy`).
        headers: the envelope's headers (may be empty).
        content_type: the envelope's content type (may be ``None``).
        payload: the envelope's payload.
        where: the publisher, for messages (e.g. ``"udp publisher 127.0.0.1:9000"``).
        warned: a one-element list the caller keeps per publisher, so ``"warn"`` warns once.

    Raises:
        ConfigError: with ``"raise"`` when there are headers or a content type, or for an
            unknown policy.
    """
    if policy == "embed":
        if not headers and content_type is None and not is_embedded(payload):
            return payload
        return embed(headers, content_type, payload)
    if policy not in ("raise", "warn"):
        raise ConfigError(f"unknown header policy {policy!r}; use 'embed', 'raise' or 'warn'")
    if not headers and content_type is None:
        return payload
    if policy == "raise":
        raise ConfigError(
            f"{where}: this protocol has no header wire and the header policy is 'raise'; "
            "remove the headers/content type or set headers='embed'"
        )
    if warned is None or not warned[0]:
        if warned is not None:
            warned[0] = True
        message = f"{where}: headers and content type are dropped (header policy 'warn')"
        _log.warning(message)
        warnings.warn(message, RuntimeWarning, stacklevel=3)
    return payload
