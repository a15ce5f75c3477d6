"""URL scheme → protocol implementation.

``syncapi.producer(url)`` and ``syncapi.consumer(url)`` pick the protocol from the URL's
scheme. Protocols come from three places, looked up in this order:

1. :func:`register_protocol` calls (a user's own protocol, or a test double);
2. the protocols built into syncapi (loaded on first use, so ``import syncapi`` needs none
   of their client libraries);
3. the entry-point group :data:`ENTRY_POINT_GROUP` (``"syncapi.protocols"``): a
   third-party package adds a scheme just by being installed. The entry point names the
   scheme and points at a :class:`Protocol` object (or a callable returning one)::

       [options.entry_points]
       syncapi.protocols =
           nats = syncapi_nats:PROTOCOL
"""

from __future__ import annotations

import importlib
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from typing import TYPE_CHECKING, Any

from .errors import ConfigError, MissingDependency, ProtocolNotFound

if TYPE_CHECKING:
    from .core import Consumer, Producer

__all__ = [
    "ENTRY_POINT_GROUP",
    "Protocol",
    "available_protocols",
    "consumer",
    "get_protocol",
    "producer",
    "register_protocol",
    "unregister_protocol",
]

ENTRY_POINT_GROUP = "syncapi.protocols"
"""The entry-point group third-party protocol packages register their schemes in."""

_SCHEME = re.compile(r"^[a-z][a-z0-9+.\-]*$")

# scheme -> (target "module:attribute", the extra that installs its client library)
_BUILTIN: dict[str, tuple[str, str | None]] = {
    "memory": ("syncapi.memory:PROTOCOL", None),
    "kafka": ("syncapi.kafka:PROTOCOL", "kafka"),
    "amqp": ("syncapi.amqp:PROTOCOL", "amqp"),
    "amqps": ("syncapi.amqp:PROTOCOL", "amqp"),
    "http": ("syncapi.http:PROTOCOL", "http"),
    "https": ("syncapi.http:PROTOCOL", "http"),
    "ws": ("syncapi.ws:PROTOCOL", "ws"),
    "wss": ("syncapi.ws:PROTOCOL", "ws"),
    "tcp": ("syncapi.tcp:PROTOCOL", None),
    "udp": ("syncapi.udp:PROTOCOL", None),
    "ip": ("syncapi.ip:PROTOCOL", None),
}


@dataclass(frozen=True)
class Protocol:
    """A protocol implementation: its producer and consumer classes and their schemes.

    Attributes:
        name: the protocol's name (``"kafka"``).
        producer: the :class:`~syncapi.core.Producer` subclass (or a factory taking
            ``(url, **options)``).
        consumer: the :class:`~syncapi.core.Consumer` subclass (or such a factory).
        schemes: the URL schemes it serves (``("kafka", "kafka-secure")``); default
            ``(name,)``.
        description: one line for ``syncapi protocols``.
        source: where it was registered from (filled in by the registry).
    """

    name: str
    producer: Callable[..., Producer]
    consumer: Callable[..., Consumer]
    schemes: tuple[str, ...] = ()
    description: str = ""
    source: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not self.schemes:
            object.__setattr__(self, "schemes", (self.name,))
        for scheme in self.schemes:
            if not isinstance(scheme, str) or not _SCHEME.match(scheme):
                raise ConfigError(
                    f"protocol {self.name!r}: invalid URL scheme {scheme!r} "
                    "(lowercase letter first, then letters, digits, '+', '-', '.')"
                )
        if not callable(self.producer) or not callable(self.consumer):
            raise ConfigError(
                f"protocol {self.name!r}: producer and consumer must be classes or callables"
            )


_lock = threading.RLock()
_registered: dict[str, Protocol] = {}
_loaded: dict[str, Protocol] = {}
_entry_points: dict[str, metadata.EntryPoint] | None = None


def register_protocol(protocol: Protocol, *, replace: bool = False) -> Protocol:
    """Register ``protocol`` for each of its schemes.

    Raises:
        ConfigError: a scheme is already registered and ``replace`` is false.
    """
    if not isinstance(protocol, Protocol):
        raise ConfigError(
            f"register_protocol() takes a syncapi.Protocol, got {type(protocol).__name__}"
        )
    with _lock:
        if not replace:
            taken = [s for s in protocol.schemes if s in _registered]
            if taken:
                raise ConfigError(
                    f"scheme(s) {', '.join(map(repr, taken))} already registered by "
                    f"{_registered[taken[0]].name!r}; pass replace=True to override"
                )
        if not protocol.source:
            protocol = _with_source(protocol, "register_protocol()")
        for scheme in protocol.schemes:
            _registered[scheme] = protocol
    return protocol


def unregister_protocol(scheme: str) -> None:
    """Remove a scheme added with :func:`register_protocol` (built-ins stay)."""
    with _lock:
        _registered.pop(scheme, None)


def _with_source(protocol: Protocol, source: str) -> Protocol:
    clone = Protocol(
        protocol.name,
        protocol.producer,
        protocol.consumer,
        protocol.schemes,
        protocol.description,
        source,
    )
    return clone


def _discover_entry_points() -> dict[str, metadata.EntryPoint]:
    global _entry_points
    with _lock:
        if _entry_points is None:
            found: dict[str, metadata.EntryPoint] = {}
            for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
                found.setdefault(ep.name, ep)
            _entry_points = found
        return _entry_points


def refresh_entry_points() -> None:
    """Forget the cached entry points (after installing a protocol package at run time)."""
    global _entry_points
    with _lock:
        _entry_points = None
        for scheme in [s for s, p in _loaded.items() if p.source.startswith("entry point")]:
            del _loaded[scheme]


def _load_target(target: Any, scheme: str, source: str, extra: str | None = None) -> Protocol:
    """Import what ``target`` names and return it as a :class:`Protocol`.

    Any failure — a missing library, a broken package, a factory that raises, an object
    that is not a Protocol — becomes a :class:`ConfigError` naming the scheme and source.
    """
    try:
        if isinstance(target, metadata.EntryPoint):
            obj = target.load()
        else:
            module_name, _, attr = str(target).partition(":")
            obj = getattr(importlib.import_module(module_name), attr)
        if not isinstance(obj, Protocol) and callable(obj):
            obj = obj()
    except ImportError as exc:
        said = "pip install" in str(exc)  # the protocol's own message names the extra
        hint = f"; install it with: pip install 'syncapi[{extra}]'" if extra and not said else ""
        raise MissingDependency(
            f"protocol for scheme {scheme!r} could not be loaded ({exc}){hint}",
            scheme=scheme,
            source=source,
            extra=extra,
            missing=_missing_module(exc),
        ) from exc
    except Exception as exc:
        raise ConfigError(
            f"{source} for scheme {scheme!r} failed to load: {type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(obj, Protocol):
        raise ConfigError(f"{source} for scheme {scheme!r} is not a syncapi.Protocol: {obj!r}")
    return _with_source(obj, source)


def _missing_module(exc: BaseException | None) -> str | None:
    """The top-level module an import error (or the one it was raised from) names."""
    while exc is not None:
        if isinstance(exc, ImportError) and exc.name:
            return exc.name.partition(".")[0]
        exc = exc.__cause__
    return None


def get_protocol(scheme: str) -> Protocol:
    """Return the protocol serving ``scheme``.

    Raises:
        ProtocolNotFound: no protocol serves it (the message lists the known schemes).
        MissingDependency: the protocol exists but its client library is not installed
            (a :class:`ConfigError`).
        ConfigError: the protocol's package is broken.
    """
    scheme = scheme.lower()
    with _lock:
        if scheme in _registered:
            return _registered[scheme]
        if scheme in _loaded:
            return _loaded[scheme]
        builtin = _BUILTIN.get(scheme)
        entry = None if builtin is not None else _discover_entry_points().get(scheme)
        if builtin is None and entry is None:
            raise ProtocolNotFound(scheme, known_schemes())
    # Import outside the lock: a protocol package may call register_protocol() or
    # get_protocol() while it imports, possibly on another thread.
    if builtin is not None:
        protocol = _load_target(builtin[0], scheme, "built-in", builtin[1])
    else:
        assert entry is not None
        dist = getattr(getattr(entry, "dist", None), "name", None) or entry.value
        protocol = _load_target(entry, scheme, f"entry point ({dist})")
    with _lock:
        return _loaded.setdefault(scheme, protocol)


def known_schemes() -> list[str]:
    """Every scheme syncapi knows of, loaded or not, sorted."""
    with _lock:
        return sorted(set(_registered) | set(_BUILTIN) | set(_discover_entry_points()))


def available_protocols() -> dict[str, Protocol | ConfigError]:
    """Load every known scheme: scheme → its :class:`Protocol`, or the error that keeps it
    from loading (a missing extra, for instance)."""
    out: dict[str, Protocol | ConfigError] = {}
    for scheme in known_schemes():
        try:
            out[scheme] = get_protocol(scheme)
        except ConfigError as exc:
            out[scheme] = exc
    return out


def _scheme_of(url: object) -> str:
    from .servers import ServerURL, parse_server_url

    if isinstance(url, ServerURL):
        return url.scheme
    return parse_server_url(url).scheme  # type: ignore[arg-type]  # parse_server_url checks


def producer(url: str, **options: Any) -> Producer:
    """Connect a :class:`~syncapi.core.Producer` for ``url``; the scheme picks the protocol.

    Keyword options override options given in the URL's query.

    Raises:
        ProtocolNotFound: unknown scheme.
        ConfigError: bad URL or options.
        ConnectError: the server could not be reached.
    """
    return get_protocol(_scheme_of(url)).producer(url, **options)


def consumer(url: str, **options: Any) -> Consumer:
    """Connect a :class:`~syncapi.core.Consumer` for ``url``; see :func:`producer`."""
    return get_protocol(_scheme_of(url)).consumer(url, **options)
