"""Bindings of ``udp://``.

AsyncAPI defines no UDP binding: there is no ``udp`` key in the Bindings Objects of
spec 2.6, 3.0 or 3.1, and no ``udp`` directory in asyncapi/bindings. The four classes are
therefore placeholders: they accept ``bindingVersion`` and ``x-`` extensions only (any
other key is refused), and exist so that ``syncapi.udp`` has the same names as every
protocol subpackage. Everything UDP needs is an option of the producer or consumer
(:mod:`syncapi.udp.options`), or an envelope extra (``set_remote_addr``).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..bindings import Placeholder

__all__ = ["ChannelBindings", "MessageBindings", "OperationBindings", "ServerBindings"]

_PROTOCOL = "udp"
_VERSIONS = ("0.1.0",)


@dataclass(frozen=True, kw_only=True)
class ServerBindings(Placeholder):
    """Server bindings of ``udp://`` (AsyncAPI defines none: ``x-`` extensions only)."""

    protocol = _PROTOCOL
    versions = _VERSIONS


@dataclass(frozen=True, kw_only=True)
class ChannelBindings(Placeholder):
    """Channel bindings of ``udp://`` (AsyncAPI defines none: ``x-`` extensions only)."""

    protocol = _PROTOCOL
    versions = _VERSIONS


@dataclass(frozen=True, kw_only=True)
class OperationBindings(Placeholder):
    """Operation bindings of ``udp://`` (AsyncAPI defines none: ``x-`` extensions only)."""

    protocol = _PROTOCOL
    versions = _VERSIONS


@dataclass(frozen=True, kw_only=True)
class MessageBindings(Placeholder):
    """Message bindings of ``udp://`` (AsyncAPI defines none: ``x-`` extensions only)."""

    protocol = _PROTOCOL
    versions = _VERSIONS
