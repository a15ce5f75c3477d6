"""``spool:///DIR``: a spool-directory protocol for syncapi, one file per message.

This package is the worked example of writing your own syncapi protocol. It subclasses the
core classes (``client.py``), declares placeholder bindings (``bindings.py``), exports a
:class:`syncapi.Protocol` as ``PROTOCOL``, and registers it in ``pyproject.toml``::

    [project.entry-points."syncapi.protocols"]
    spool = "syncapi_spool:PROTOCOL"

Once the package is installed, ``syncapi.producer("spool:///var/spool/app")`` finds it
through that entry point; it proves itself with :class:`syncapi.testing.ProtocolConformance`.

Layout on disk (``DIR`` is the URL's path; percent-encode unusual characters in it):

* ``DIR/CHANNEL/`` — one directory per channel; a channel name is a plain file name.
* ``DIR/CHANNEL/<ns>-<pid>.msg`` — a waiting message. ``send`` writes it to a hidden
  temporary file and renames it into place, so a reader never sees half a message. Names
  sort in send order (``<ns>`` is a wall-clock timestamp, strictly increasing per process).
* ``DIR/CHANNEL/.claimed-<id>/`` — messages a subscriber took and has not settled yet.
  Claiming is a rename, so two subscribers never get the same message. ``<id>`` is the
  ``group`` option, or a unique id per subscriber.
* ``DIR/CHANNEL/.rejected/`` — messages nacked without requeue, and malformed files.

A message file holds a 4-byte big-endian length ``N``, then ``N`` bytes of UTF-8 JSON
``{"h": <headers>, "ct": <content type or null>}`` (headers as
:meth:`syncapi.Headers.to_jsonable` writes them: ``bytes`` values as ``{"b64": ...}``), then
the payload. Any program may drop such a file into a channel directory.

Semantics: acking deletes the file; ``nack()`` renames it back under its old name (so it
comes first again); ``nack(requeue=False)`` moves it to ``.rejected/``; closing a
subscriber puts back what it claimed and did not settle. Messages wait on disk for a
subscriber, so a re-created subscriber continues where the last one stopped. Every
subscriber of a channel competes for its messages (no fan-out to groups). Files claimed by
a process that died stay in its ``.claimed-*`` directory; move them back to redeliver them.
"""

from syncapi.registry import Protocol

from .bindings import ChannelBindings, MessageBindings, OperationBindings, ServerBindings
from .client import (
    CAPABILITIES,
    MAX_PAYLOAD,
    Consumer,
    EnvelopeReader,
    EnvelopeWriter,
    Producer,
    Publisher,
    SpoolOptions,
    Subscriber,
    decode,
    encode,
)

__all__ = [
    "CAPABILITIES",
    "MAX_PAYLOAD",
    "PROTOCOL",
    "ChannelBindings",
    "Consumer",
    "EnvelopeReader",
    "EnvelopeWriter",
    "MessageBindings",
    "OperationBindings",
    "Producer",
    "Publisher",
    "ServerBindings",
    "SpoolOptions",
    "Subscriber",
    "decode",
    "encode",
]

PROTOCOL = Protocol(
    name="spool",
    producer=Producer,
    consumer=Consumer,
    description="spool directory, one file per message (example third-party protocol)",
)
"""The ``spool`` protocol, as the ``syncapi.protocols`` entry point names it."""
