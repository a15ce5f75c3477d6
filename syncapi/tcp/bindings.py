"""Bindings of ``tcp://``.

AsyncAPI defines no binding for TCP (no ``tcp`` entry in any version of the spec or of
the bindings repository; a 3.0 document may not even name one), so all four are
placeholders: they accept ``bindingVersion`` and ``x-`` extensions only, and exist so
that ``tcp://`` has the same names as every other protocol subpackage. Framing, limits
and timeouts are the producer's and consumer's options (:mod:`syncapi.tcp.options`).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..bindings import Placeholder

__all__ = ["ChannelBindings", "MessageBindings", "OperationBindings", "ServerBindings"]


@dataclass(frozen=True, kw_only=True)
class ServerBindings(Placeholder):
    """Server bindings of ``tcp://`` (none are defined)."""

    protocol = "tcp"
    versions = ("0.1.0",)


@dataclass(frozen=True, kw_only=True)
class ChannelBindings(Placeholder):
    """Channel bindings of ``tcp://`` (none are defined)."""

    protocol = "tcp"
    versions = ("0.1.0",)


@dataclass(frozen=True, kw_only=True)
class OperationBindings(Placeholder):
    """Operation bindings of ``tcp://`` (none are defined)."""

    protocol = "tcp"
    versions = ("0.1.0",)


@dataclass(frozen=True, kw_only=True)
class MessageBindings(Placeholder):
    """Message bindings of ``tcp://`` (none are defined)."""

    protocol = "tcp"
    versions = ("0.1.0",)


def check_bindings(
    bindings: object, operation_bindings: object
) -> tuple[ChannelBindings | None, OperationBindings | None]:
    """``bindings`` and ``operation_bindings`` as the tcp classes (dicts are parsed).

    Raises:
        ConfigError: another protocol's bindings, or keys other than ``x-`` extensions.
    """
    return ChannelBindings.coerce(bindings), OperationBindings.coerce(operation_bindings)
