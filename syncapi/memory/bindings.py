"""Bindings of ``memory://``.

AsyncAPI defines no binding for an in-process broker, so all four are placeholders: they
accept ``bindingVersion`` and ``x-`` extensions only, and exist so that ``memory://`` has
the same names as every other protocol subpackage (code written against it moves to a
real protocol by changing the import).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..bindings import Placeholder

__all__ = ["ChannelBindings", "MessageBindings", "OperationBindings", "ServerBindings"]


@dataclass(frozen=True, kw_only=True)
class ServerBindings(Placeholder):
    """Server bindings of ``memory://`` (none are defined)."""

    protocol = "memory"
    versions = ("0.1.0",)


@dataclass(frozen=True, kw_only=True)
class ChannelBindings(Placeholder):
    """Channel bindings of ``memory://`` (none are defined)."""

    protocol = "memory"
    versions = ("0.1.0",)


@dataclass(frozen=True, kw_only=True)
class OperationBindings(Placeholder):
    """Operation bindings of ``memory://`` (none are defined)."""

    protocol = "memory"
    versions = ("0.1.0",)


@dataclass(frozen=True, kw_only=True)
class MessageBindings(Placeholder):
    """Message bindings of ``memory://`` (none are defined)."""

    protocol = "memory"
    versions = ("0.1.0",)
