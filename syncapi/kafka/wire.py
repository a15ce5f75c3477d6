"""How syncapi envelopes map onto Kafka records (both directions)."""

from __future__ import annotations

from collections.abc import Iterable

from .. import core
from ..errors import ConfigError
from ..headers import Headers

__all__ = ["CAPABILITIES", "CONTENT_TYPE_HEADER", "read_headers", "to_key"]

CONTENT_TYPE_HEADER = "content-type"
"""The record header that carries the envelope's content type (as CloudEvents' Kafka
binding does). On receive it becomes :attr:`EnvelopeReader.content_type` and is not
among the headers."""

CAPABILITIES = core.Capabilities(
    ordered=True,
    persistent=True,
    consumer_groups=True,
    headers=True,
    redelivery=True,
    brokerless=False,
    reliable=True,
    max_payload=None,
)
"""What ``kafka://`` can do. Order is kept per partition (one-partition topics keep it
whole); redelivery rewinds the partition to the nacked message. The largest message
depends on the broker (``message.max.bytes``, about 1 MiB by default), the topic
(``max.message.bytes``) and the producer's ``max_request_size``."""


def to_key(key: object) -> bytes | None:
    """A record key as bytes (``str`` is UTF-8 encoded); ``None`` stays ``None``."""
    if key is None or type(key) is bytes:
        return key
    if isinstance(key, (bytearray, memoryview)):
        return bytes(key)
    if isinstance(key, str):
        return key.encode("utf-8")
    raise ConfigError(f"a Kafka key must be bytes, str or None, got {type(key).__name__}")


def read_headers(pairs: Iterable[tuple[str, bytes | None]]) -> tuple[Headers | None, str | None]:
    """Split record headers into syncapi headers and the content type."""
    content_type: str | None = None
    rest: list[tuple[str, bytes | None]] = []
    for name, value in pairs:
        if name == CONTENT_TYPE_HEADER and content_type is None:
            content_type = (value or b"").decode("utf-8", "replace")
        else:
            rest.append((name, value))
    return (Headers.from_wire(rest) if rest else None), content_type
