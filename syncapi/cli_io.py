"""``syncapi send`` and ``syncapi listen``: messages from and to a terminal.

``send`` makes one envelope per message (the DATA argument, each line of standard input
with ``-``, or a whole ``--file``), with ``--header``, ``--content-type`` and the
protocol extras a protocol's envelope has (``--key`` for Kafka, ``--routing-key`` for
AMQP, ``--opcode`` for WebSocket, ``--remote-addr`` for UDP). ``listen`` prints what
arrives: the payload as it is, one message per line, or ``--json``: one object per line
with the channel, payload, headers, content type and the protocol's extras.
"""

from __future__ import annotations

import base64
import contextlib
import json
import sys
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, BinaryIO

from .errors import ConfigError
from .headers import Headers
from .progress import Progress

__all__ = [
    "BATCH",
    "EXTRAS",
    "UsageError",
    "check_extras",
    "envelope_json",
    "listen",
    "payload_batches",
    "send",
]

EXTRAS = (
    "key",
    "partition",
    "offset",
    "timestamp",
    "routing_key",
    "exchange",
    "delivery_tag",
    "redelivered",
    "opcode",
    "remote_addr",
    "method",
    "path",
    "source",
    "destination",
    "ttl",
)
"""Envelope properties ``listen --json`` reports when the protocol's envelope has them."""

# option -> (setter on the envelope, what takes it)
SETTERS = {
    "key": ("set_key", "kafka://"),
    "routing_key": ("set_routing_key", "amqp://"),
    "opcode": ("set_opcode", "ws://"),
    "remote_addr": ("set_remote_addr", "udp:// and ip://"),
}
# option -> the built-in protocols whose envelopes take it
OWNERS = {
    "key": ("kafka",),
    "routing_key": ("amqp",),
    "opcode": ("ws",),
    "remote_addr": ("udp", "ip"),
}


class UsageError(ConfigError):
    """The command line asks for something that cannot be (exit code 2)."""


def parse_headers(pairs: Sequence[str]) -> Headers:
    """``name=value`` pairs as headers.

    Raises:
        UsageError: a pair without ``=`` or with an empty name.
    """
    headers = Headers()
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--header takes name=value, got {pair!r}")
        headers[name.strip()] = value
    return headers


BATCH = 1000
"""Envelopes per ``send`` call at most: a batch goes out in one call (one round trip for
the protocols that wait for the server), and stays small enough to keep memory bounded."""

_CHUNK = 1 << 16


def payload_batches(
    data: str | None, file: str | None, stdin: BinaryIO, *, count: int = 1, limit: int = BATCH
) -> Iterator[list[bytes]]:
    """The payloads to send, in batches of at most ``limit``: DATA, each line of ``stdin``
    (DATA ``-``), or the file's bytes as one message, each repeated ``count`` times.

    Lines of standard input are read as they come: a batch holds the lines that had
    arrived by then, so a line typed at a terminal (or written by ``tail -f``) is sent at
    once, and a file piped in goes out in large batches.

    Raises:
        UsageError: none or several of DATA and ``file`` given, or the file cannot be read.
    """
    given = [x for x in (data, file) if x is not None]
    if len(given) != 1:
        raise UsageError("give the message as DATA, as '-' (one per line of stdin) or --file")
    if data == "-":
        yield from _line_batches(stdin, count, limit)
        return
    if file is not None:
        try:
            with open(file, "rb") as handle:
                payload = handle.read()
        except OSError as exc:
            raise UsageError(f"--file {file}: {exc.strerror or exc}") from exc
    else:
        assert data is not None
        payload = data.encode("utf-8")
    left = count
    while left > 0:
        size = min(left, limit)
        yield [payload] * size
        left -= size


def _line_batches(stdin: BinaryIO, count: int, limit: int) -> Iterator[list[bytes]]:
    read = getattr(stdin, "read1", stdin.read)  # read1: what has arrived, one read at most
    rest = b""
    while True:
        chunk = read(_CHUNK)
        if not chunk:
            break
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        batch = [line.rstrip(b"\r") for line in lines for _ in range(count)]
        for at in range(0, len(batch), limit):
            yield batch[at : at + limit]
    if rest:
        yield [rest.rstrip(b"\r")] * count


def _remote_addr(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise UsageError(f"--remote-addr takes host:port, got {text!r}")
    return host.strip("[]"), int(port)


def check_extras(url: str, extras: dict[str, str]) -> None:
    """Refuse, before anything connects, an extra that the URL's protocol does not take
    (``--key`` on ``tcp://``). Protocols syncapi does not ship are checked once their
    first envelope is made.

    Raises:
        UsageError: the extra belongs to another protocol, or its value is malformed.
        ProtocolNotFound: unknown scheme.
        ConfigError: the protocol cannot be loaded (a missing extra).
    """
    from .registry import get_protocol
    from .servers import parse_server_url

    scheme = parse_server_url(url).scheme
    protocol = get_protocol(scheme)
    for name, value in extras.items():
        owners = SETTERS[name][1]
        if protocol.source == "built-in" and protocol.name not in OWNERS[name]:
            raise UsageError(f"--{name.replace('_', '-')} is for {owners}, not {scheme}://")
        if name == "remote_addr":
            _remote_addr(value)


def send(
    url: str,
    channel: str,
    batches: Iterable[Sequence[bytes]],
    *,
    headers: Headers,
    content_type: str | None,
    extras: dict[str, str],
    progress: Progress | None = None,
) -> int:
    """Send every payload of ``batches`` on ``channel`` of ``url``, one ``send`` call per
    batch; return how many were sent. Extras are set with the envelope's own setters.

    Raises:
        UsageError: an extra the protocol's envelope does not have.
        SyncapiError: the protocol's errors (unreachable server, refused message...).
    """
    import syncapi

    check_extras(url, extras)
    setters = [
        (SETTERS[name][0], _remote_addr(value) if name == "remote_addr" else value, name)
        for name, value in extras.items()
    ]
    scheme = url.split(":", 1)[0]
    sent = 0
    with syncapi.producer(url) as producer, producer.publisher(channel) as pub:
        for batch in batches:
            envelopes = []
            for payload in batch:
                env = pub.envelope(payload, headers=headers or None, content_type=content_type)
                for setter, value, name in setters:
                    if not hasattr(env, setter):
                        raise UsageError(
                            f"--{name.replace('_', '-')} is for {SETTERS[name][1]}, not {scheme}://"
                        )
                    getattr(env, setter)(value)
                envelopes.append(env)
            pub.send(*envelopes)
            sent += len(envelopes)
            if progress is not None:
                progress.update(len(envelopes))
    return sent


def _text(value: bytes) -> dict[str, str] | str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(value).decode("ascii")}


def envelope_json(env: Any) -> str:
    """One received envelope as a JSON line: channel, payload (text, or
    ``{"base64": ...}``), headers, content type and the protocol's extras."""
    extras: dict[str, Any] = {}
    for name in EXTRAS:
        try:
            value = getattr(env, name)
        except Exception:  # an extra that does not apply to this message
            continue
        if callable(value) or value is None:
            continue
        if isinstance(value, bytes):
            value = _text(value)
        elif isinstance(value, tuple):
            value = list(value)
        elif not isinstance(value, (str, int, float, bool)):
            value = str(value)
        extras[name] = value
    return json.dumps(
        {
            "channel": env.channel,
            "payload": _text(env.read()),
            "headers": env.headers.to_jsonable(),
            "content_type": env.content_type,
            "extras": extras,
        },
        ensure_ascii=False,
    )


def listen(
    url: str,
    channel: str,
    *,
    as_json: bool,
    count: int | None,
    timeout: float | None,
    group: str | None,
    out: BinaryIO,
    stop: threading.Event,
) -> int:
    """Print the messages of ``channel`` until ``count`` arrived, ``timeout`` passed or
    ``stop`` is set; return how many were printed. HTTP and WebSocket consumers serve
    themselves on the URL's host and port.

    Raises:
        UsageError: ``--group`` on a protocol without consumer groups.
        SyncapiError: the protocol's errors.
    """
    import syncapi

    options: dict[str, Any] = {}
    scheme = url.split(":", 1)[0].lower()
    if group is not None:
        names = {"kafka": "group_id", "amqp": "group", "amqps": "group"}
        if scheme not in names:
            raise UsageError(f"--group is for kafka:// and amqp://, not {scheme}://")
        options[names[scheme]] = group
    printed = [0]
    lock = threading.Lock()

    def show(env: Any) -> None:
        line = envelope_json(env).encode("utf-8") if as_json else env.read()
        with lock:
            if count is not None and printed[0] >= count:
                return
            out.write(line + b"\n")
            out.flush()
            printed[0] += 1
            if count is not None and printed[0] >= count:
                stop.set()

    with syncapi.consumer(url, **options) as consumer:
        sub = consumer.subscriber(channel)
        where = getattr(consumer, "bound_url", None)
        if scheme in ("http", "https", "ws", "wss"):
            where = consumer.serve().url  # type: ignore[attr-defined]
        if where is not None:
            print(f"listening on {where}", file=sys.stderr, flush=True)
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C: a clean stop
            sub.receive(show, stop=stop, timeout=timeout)
    return printed[0]
