"""Bindings of ``spool://``.

AsyncAPI defines no binding for a spool directory, so all four are placeholders: they
accept ``bindingVersion`` and ``x-`` extensions only. They exist so that this protocol has
the same names as every other syncapi protocol.
"""

from __future__ import annotations

from dataclasses import dataclass

from syncapi.bindings import Placeholder

__all__ = ["ChannelBindings", "MessageBindings", "OperationBindings", "ServerBindings"]


@dataclass(frozen=True, kw_only=True)
class ServerBindings(Placeholder):
    """Server bindings of ``spool://`` (none are defined)."""

    protocol = "spool"
    versions = ("0.1.0",)


@dataclass(frozen=True, kw_only=True)
class ChannelBindings(Placeholder):
    """Channel bindings of ``spool://`` (none are defined)."""

    protocol = "spool"
    versions = ("0.1.0",)


@dataclass(frozen=True, kw_only=True)
class OperationBindings(Placeholder):
    """Operation bindings of ``spool://`` (none are defined)."""

    protocol = "spool"
    versions = ("0.1.0",)


@dataclass(frozen=True, kw_only=True)
class MessageBindings(Placeholder):
    """Message bindings of ``spool://`` (none are defined)."""

    protocol = "spool"
    versions = ("0.1.0",)
