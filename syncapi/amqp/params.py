"""From an ``amqp://`` server URL and options to pika's connection parameters."""

from __future__ import annotations

import re
from urllib.parse import unquote

import pika

from ..errors import ConfigError
from ..servers import ServerURL
from .options import CommonOptions

__all__ = ["DEFAULT_PORT", "connection_parameters", "virtual_host"]

DEFAULT_PORT = 5672
"""The AMQP port used when the URL names none."""

_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def virtual_host(url: ServerURL) -> str:
    """The virtual host named by ``url``'s path (see :mod:`syncapi.amqp.options`).

    Raises:
        ConfigError: the path has more than one segment (a ``/`` inside a vhost name must
            be written ``%2F``) or a broken percent-escape.
    """
    raw = url.raw_path
    if raw in ("", "/"):
        return "/"
    name = raw[1:]
    shown = str(url)
    if "/" in name:
        raise ConfigError(
            f"server URL {shown!r}: the virtual host must be one path segment, got "
            f"{name!r}; write a '/' inside a vhost name as '%2F' (e.g. 'amqp://host/%2Fprod')"
        )
    if _BAD_ESCAPE.search(name):
        raise ConfigError(
            f"server URL {shown!r}: the virtual host {name!r} holds a '%' that is not a "
            "percent-escape ('%' followed by two hex digits); write '%' itself as '%25'"
        )
    try:
        vhost = unquote(name, errors="strict")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"server URL {shown!r}: the virtual host {name!r} is not valid UTF-8 once decoded"
        ) from exc
    if len(vhost.encode("utf-8")) > 255:
        raise ConfigError(f"server URL {shown!r}: the virtual host is longer than 255 bytes")
    return vhost


def connection_parameters(
    url: ServerURL, options: CommonOptions, role: str
) -> list[pika.ConnectionParameters]:
    """One ``ConnectionParameters`` per host of ``url`` (a cluster URL names several;
    reconnects go round them). ``role`` names the connection for the broker."""
    if url.scheme != "amqp":
        raise ConfigError(
            f"server URL {url!s}: syncapi.amqp handles 'amqp://' URLs, got {url.scheme!r}"
            + (" (TLS is not supported yet)" if url.scheme == "amqps" else "")
        )
    if not url.hosts:
        raise ConfigError(f"server URL {url!s} names no host; expected 'amqp://host[:port]/vhost'")
    vhost = virtual_host(url)
    if url.password is not None and url.username is None:
        raise ConfigError(f"server URL {url!s}: a password without a user name")
    credentials = pika.PlainCredentials(
        url.username if url.username is not None else "guest",
        url.password if url.password is not None else "guest",
        erase_on_connect=False,  # reconnects log in again
    )
    name = options.client_name or f"syncapi {role}"
    extra: dict[str, object] = {}
    if options.frame_max is not None:
        extra["frame_max"] = options.frame_max
    if options.channel_max is not None:
        extra["channel_max"] = options.channel_max
    params = []
    for host in url.hosts:
        params.append(
            pika.ConnectionParameters(
                host=host.host,
                port=host.port or DEFAULT_PORT,
                virtual_host=vhost,
                credentials=credentials,
                heartbeat=options.heartbeat,
                blocked_connection_timeout=options.blocked_connection_timeout,
                socket_timeout=options.connect_timeout,
                stack_timeout=options.connect_timeout,
                connection_attempts=1,
                client_properties={"connection_name": name, "product": "syncapi"},
                **extra,
            )
        )
    return params
