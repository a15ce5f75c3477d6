"""The harness's entries, by name.

Built-in entries live in modules of this package, one per protocol, each defining a
module-level ``ENTRY``. They are imported only when needed, so an entry whose protocol
needs a third-party library (Kafka, AMQP...) costs nothing until it is asked for — and
such a module imports its library inside its variants or its ``check``, never at the
top. A protocol issue adds its entry by writing ``syncapi/bench/<name>.py`` and one
line to :data:`BUILTIN_ENTRIES`.

Other code (a user's own protocol, a test) can add entries with :func:`register`.
"""

from __future__ import annotations

import importlib
import threading

from .model import Entry

__all__ = ["BUILTIN_ENTRIES", "entries", "entry_names", "get_entry", "register", "unregister"]

BUILTIN_ENTRIES: dict[str, str] = {
    "memory": "syncapi.bench.memory",
    "kafka": "syncapi.bench.kafka",
    "amqp": "syncapi.bench.amqp",
    "http": "syncapi.bench.http",
    "ws": "syncapi.bench.ws",
    "tcp": "syncapi.bench.tcp",
    "udp": "syncapi.bench.udp",
    "idle": "syncapi.bench.idle",
    "latency": "syncapi.bench.latency",
}
"""Built-in entry names and the modules that define them (as ``ENTRY``), in run order."""

_registered: dict[str, Entry] = {}
_lock = threading.Lock()


def register(entry: Entry, *, replace: bool = False) -> None:
    """Add ``entry`` to the harness under ``entry.name``.

    Raises:
        ValueError: an entry of that name exists and ``replace`` is false.
    """
    with _lock:
        if not replace and (entry.name in _registered or entry.name in BUILTIN_ENTRIES):
            raise ValueError(f"a benchmark entry named {entry.name!r} exists already")
        _registered[entry.name] = entry


def unregister(name: str) -> None:
    """Remove an entry added with :func:`register` (no error when there is none)."""
    with _lock:
        _registered.pop(name, None)


def entry_names() -> list[str]:
    """Every entry's name: the built-in ones in their order, then the registered ones."""
    with _lock:
        extra = [name for name in _registered if name not in BUILTIN_ENTRIES]
    return [*BUILTIN_ENTRIES, *extra]


def get_entry(name: str) -> Entry:
    """The entry called ``name`` (importing its module if it is a built-in one).

    Raises:
        KeyError: there is no such entry.
    """
    with _lock:
        found = _registered.get(name)
    if found is not None:
        return found
    module_name = BUILTIN_ENTRIES.get(name)
    if module_name is None:
        raise KeyError(name)
    entry = importlib.import_module(module_name).ENTRY
    if not isinstance(entry, Entry):
        raise TypeError(
            f"{module_name}.ENTRY is a {type(entry).__name__}, not a syncapi.bench.Entry"
        )
    return entry


def entries() -> list[Entry]:
    """Every entry, in the order of :func:`entry_names`."""
    return [get_entry(name) for name in entry_names()]
