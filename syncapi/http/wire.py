"""How syncapi envelopes map onto HTTP requests (both directions).

HTTP header names fold case and their values are Latin-1 text, while syncapi headers
are case-sensitive and hold any ``str`` or ``bytes``. So a syncapi sender sends each
header twice:

* as a plain HTTP header when it can travel as one (an ASCII ``str`` without control
  characters), so that any HTTP server sees it;
* and all of them, exactly, in the reserved header :data:`HEADERS_HEADER` (the JSON
  form of :meth:`syncapi.Headers.to_jsonable`), from which a syncapi receiver takes them
  back unchanged.

A request without :data:`HEADERS_HEADER` (from curl, a browser, another library) gets
as envelope headers its HTTP headers minus the standard ones (:data:`STANDARD_HEADERS`),
with lowercase names. The content type is the ``Content-Type`` header.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

from .. import core
from ..errors import DecodeError
from ..headers import Headers

__all__ = [
    "CAPABILITIES",
    "HEADERS_HEADER",
    "STANDARD_HEADERS",
    "headers_from_request",
    "headers_to_request",
]

HEADERS_HEADER = "Syncapi-Headers"
"""The reserved HTTP header carrying a message's exact syncapi headers (JSON)."""

STANDARD_HEADERS = frozenset(
    {
        "accept",
        "accept-encoding",
        "accept-language",
        "authorization",
        "cache-control",
        "connection",
        "content-length",
        "content-type",
        "cookie",
        "expect",
        "host",
        "keep-alive",
        "origin",
        "referer",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "user-agent",
        HEADERS_HEADER.lower(),
    }
)
"""HTTP headers that are never taken as message headers of a non-syncapi request."""

CAPABILITIES = core.Capabilities(
    ordered=True,
    persistent=False,
    consumer_groups=False,
    headers=True,
    redelivery=False,
    brokerless=True,
    reliable=True,
    max_payload=None,
)
"""What ``http://`` can do. Brokerless: the consumer must be serving before a request is
sent. Ordered: one thread's ``send`` calls are requests one after the other, each
answered before the next. The largest body is the consumer's ``max_body`` option."""

_PLAIN = re.compile(r"[\x20-\x7e]*")
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def headers_to_request(headers: Headers | None) -> dict[str, str]:
    """The HTTP headers that carry ``headers`` (see the module documentation)."""
    if not headers:
        return {}
    out: dict[str, str] = {}
    for name, value in headers.items():
        if (
            isinstance(value, str)
            and _TOKEN.fullmatch(name)
            and _PLAIN.fullmatch(value)
            and name.lower() not in STANDARD_HEADERS
        ):
            out[name] = value
    out[HEADERS_HEADER] = json.dumps(headers.to_jsonable(), separators=(",", ":"))
    return out


def headers_from_request(pairs: Iterable[tuple[str, str]]) -> Headers:
    """A request's message headers (see the module documentation).

    Raises:
        DecodeError: :data:`HEADERS_HEADER` is present but is not valid.
    """
    items = list(pairs)
    headers = Headers()
    for name, value in items:
        if name.lower() == HEADERS_HEADER.lower():
            try:
                headers = Headers.from_jsonable(json.loads(value))
            except (ValueError, TypeError) as exc:
                raise DecodeError(f"header {HEADERS_HEADER!r} is not valid: {exc}") from exc
            break
    # plain headers the syncapi ones do not name (sent by a foreign client, a proxy or
    # ProducerOptions.headers) are kept too, lowercased; the syncapi copies win
    taken = {name.lower() for name in headers}
    for name, value in items:
        lowered = name.lower()
        if lowered not in STANDARD_HEADERS and lowered not in taken:
            headers[lowered] = value
    return headers
