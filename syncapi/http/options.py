"""Options of ``http://`` producers and consumers (URL query or keywords; seconds for
every duration)::

    syncapi.producer("http://api.example:8080/v1?timeout=5&retries=2")
    syncapi.consumer("http://0.0.0.0:8080/", max_body=1_048_576, deadline=10)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError
from .bindings import _METHODS

__all__ = ["ConsumerOptions", "ProducerOptions"]


def _positive(owner: object, *names: str) -> None:
    for name in names:
        value = getattr(owner, name)
        if value is not None and value <= 0:
            raise ConfigError(f"option {name!r} must be > 0, got {value!r}")


@dataclass(frozen=True)
class ProducerOptions:
    """Options of an ``http://`` :class:`~syncapi.http.Producer` (a ``requests.Session``)."""

    timeout: float = 30.0
    """Seconds ``send`` waits for each answer when called without ``timeout=`` (the
    request's read timeout)."""
    connect_timeout: float = 10.0
    """Seconds a new TCP (and TLS) connection may take."""
    retries: int = 0
    """How often a request whose connection could not be made (refused, unreachable,
    connect timeout) is tried again, with a short backoff, whatever its method: it was
    never sent. A request that was sent is never sent again (a reset or a slow answer
    may mean the server has it already)."""
    pool_size: int = 16
    """Connections kept open per host: the most requests in flight at once to one host
    without opening new connections (threads sharing a publisher)."""
    method: str = "POST"
    """The method of a publisher's requests when ``OperationBindings.method`` gives none."""
    verify: bool = True
    """Check the server's TLS certificate (``https://``)."""
    headers: dict[str, str] | None = field(default=None, repr=False)  # may hold tokens
    """HTTP headers sent with every request, e.g. ``{"Authorization": "Bearer ..."}``
    (keyword only)."""

    def __post_init__(self) -> None:
        _positive(self, "timeout", "connect_timeout", "pool_size")
        if self.retries < 0:
            raise ConfigError(f"option 'retries' must be >= 0, got {self.retries!r}")
        method = self.method.upper()
        if method not in _METHODS:
            raise ConfigError(
                f"option 'method' must be one of {', '.join(_METHODS)}, got {self.method!r}"
            )
        object.__setattr__(self, "method", method)
        for key, value in (self.headers or {}).items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise ConfigError(
                    f"option 'headers': names and values must be str, got {key!r}: {value!r}"
                )


@dataclass(frozen=True)
class ConsumerOptions:
    """Options of an ``http://`` :class:`~syncapi.http.Consumer` (a WSGI application)."""

    max_body: int = 16 * 1024 * 1024
    """Largest request body in bytes; a bigger one is answered ``413`` (read no further)."""
    deadline: float = 30.0
    """Seconds a request waits for its callback to finish (or to call ``respond``); then
    it is answered ``503`` and the callback's late answer is dropped."""
    default_status: int = 204
    """The status of a request whose callback returned without calling ``respond``
    (``MessageBindings.statusCode`` of the subscriber overrides it)."""
    backlog: int = 64
    """Requests that may wait for a free receive-loop worker per subscriber; beyond it
    they are answered ``503`` with ``Retry-After``."""
    check_content_type: bool = False
    """Answer ``415`` to a request whose ``Content-Type`` is not the subscriber's declared
    one (``content_type=`` of :meth:`~syncapi.http.Consumer.subscriber`)."""

    def __post_init__(self) -> None:
        _positive(self, "max_body", "deadline", "backlog")
        if not 200 <= self.default_status <= 299:
            raise ConfigError(
                f"option 'default_status' must be a 2xx status, got {self.default_status!r}"
            )


def check_method(method: Any, what: str = "method") -> str:
    """An HTTP method, uppercased, or a ConfigError naming the allowed ones."""
    if not isinstance(method, str) or method.upper() not in _METHODS:
        raise ConfigError(f"{what} must be one of {', '.join(_METHODS)}, got {method!r}")
    return method.upper()
