"""The one exception hierarchy of syncapi.

Every error raised through the public API is a :class:`SyncapiError`. When a third-party
library (kafka-python, pika, requests, ...) raised the original error, it is kept as
``__cause__`` so that nothing about the failure is lost, but no bare library exception
escapes.

The classes also derive from the closest built-in exception where one exists
(``ConfigError`` is a ``ValueError``, ``TimeoutError`` is the built-in ``TimeoutError``,
``ConnectError`` is a ``ConnectionError``), so code written against the standard library
keeps working.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

__all__ = [
    "ClosedError",
    "ConfigError",
    "ConnectError",
    "DecodeError",
    "MessageTooLarge",
    "MissingDependency",
    "ProtocolNotFound",
    "ReceiveError",
    "SendError",
    "SyncapiError",
    "TimeoutError",
]


class SyncapiError(Exception):
    """Base class of every error syncapi raises."""


class ConfigError(SyncapiError, ValueError):
    """Invalid configuration or input: a bad URL, option, binding, header or parameter.

    The message names the culprit (the option, key or value) so that a user can fix it.
    """


class ProtocolNotFound(ConfigError, LookupError):
    """No protocol implementation is registered for a URL scheme.

    Attributes:
        scheme: the scheme that was asked for.
        known: the schemes that are registered, sorted.
    """

    def __init__(self, scheme: str, known: Sequence[str]) -> None:
        self.scheme = scheme
        self.known = sorted(known)
        listed = ", ".join(self.known) if self.known else "(none)"
        super().__init__(
            f"no syncapi protocol is registered for scheme {scheme!r}; known schemes: {listed}"
        )


class MissingDependency(ConfigError):
    """A known protocol cannot load because a library it needs is not installed.

    Attributes:
        scheme: the URL scheme that was asked for.
        source: where the protocol comes from (``"built-in"``, an entry point).
        extra: the syncapi extra that installs what is missing (``"amqp"``), or ``None``.
        missing: the top-level module that failed to import (``"pika"``), or ``None``
            when the import error does not say.
    """

    def __init__(
        self,
        message: str,
        *,
        scheme: str,
        source: str,
        extra: str | None = None,
        missing: str | None = None,
    ) -> None:
        super().__init__(message)
        self.scheme = scheme
        self.source = source
        self.extra = extra
        self.missing = missing


class ConnectError(SyncapiError, ConnectionError):
    """A connection to a server could not be made, or was lost and could not be restored."""


class SendError(SyncapiError):
    """A message was not accepted by the server.

    Attributes:
        failures: ``(envelope, reason)`` pairs for every envelope of the ``send`` call that
            failed; envelopes not listed were accepted.
    """

    def __init__(
        self, message: str, failures: Sequence[tuple[Any, BaseException | str]] = ()
    ) -> None:
        super().__init__(message)
        self.failures: list[tuple[Any, BaseException | str]] = list(failures)


class MessageTooLarge(SendError, ConfigError):
    """A message is larger than the protocol, the server or a configured limit allows."""


class ReceiveError(SyncapiError):
    """Receiving failed for a reason other than a timeout or a close."""


class DecodeError(ReceiveError):
    """A received message could not be decoded (bad framing, bad embedded headers...)."""


class TimeoutError(SyncapiError, builtins.TimeoutError):  # noqa: A001 - deliberate, documented
    """A blocking call did not complete within its ``timeout``."""


class ClosedError(SyncapiError):
    """The object (producer, consumer, publisher, subscriber, worker) is closed."""
