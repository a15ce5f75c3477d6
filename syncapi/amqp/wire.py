"""How syncapi envelopes map onto AMQP messages (both directions).

* Headers travel in the AMQP headers table: a ``str`` value as a long string, a
  ``bytes`` value as a byte array, so each reads back with its own type. A value of any
  other AMQP type (an ``int`` or the ``x-death`` list set by the broker or another
  client) reads back as text (:func:`header_text`); the table itself is on
  :attr:`~syncapi.amqp.EnvelopeReader.header_table`.
* The content type is the ``content_type`` property.
"""

from __future__ import annotations

import datetime
import decimal
import json
from collections.abc import Mapping
from typing import Any

from .. import core
from ..headers import Headers

__all__ = ["CAPABILITIES", "header_text", "read_headers"]

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
"""What ``amqp://`` can do. Order is kept per queue with one subscriber (and
``workers=1``); consumer groups are the subscribers sharing a queue (see
:attr:`~syncapi.amqp.ConsumerOptions.group`). The largest message is the broker's
``max_message_size`` (16 MiB by default in RabbitMQ 4, 128 MiB in 3.x)."""


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, (datetime.datetime, datetime.date, decimal.Decimal)):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def header_text(value: Any) -> str:
    """A non-``str``/``bytes`` AMQP table value as text: numbers, booleans and ``None``
    as JSON (``42``, ``true``, ``null``), tables and arrays as JSON, timestamps and
    decimals as ``str()``."""
    if isinstance(value, (datetime.datetime, datetime.date, decimal.Decimal)):
        return str(value)
    return json.dumps(_jsonable(value), separators=(",", ":"), ensure_ascii=False)


def read_headers(table: Mapping[str, Any] | None) -> Headers:
    """syncapi headers from an AMQP headers table (see the module documentation)."""
    headers = Headers()
    if not table:
        return headers
    data = headers._data  # taken as they come: the broker already checked the names
    for name, value in table.items():
        if isinstance(value, (str, bytes)):
            data[name] = value
        else:
            data[name] = header_text(value)
    return headers
