"""WebSockets bindings, AsyncAPI WebSockets binding 0.1.0 (bindings key ``ws``).

Each class reads the ``ws`` entry of an AsyncAPI bindings object with ``from_dict``
(camelCase keys, ``x-`` extensions, unknown keys refused) and can be built directly with
Python names. On WebSockets the channel is the connection, so the one binding with fields
is the channel's, and its fields describe the opening handshake (an HTTP request). What
syncapi does with each field:

+-------------------+-------------+------------------------------------------------------+
| binding           | field       | what syncapi does with it                            |
+===================+=============+======================================================+
| ChannelBindings   | ``method``  | the HTTP method of the handshake. The client         |
|                   |             | (websocket-client) dials with ``GET``, the only      |
|                   |             | method it can use: RFC 6455 handshakes are ``GET``   |
|                   |             | requests, so a channel whose method is ``POST`` is   |
|                   |             | refused by the client with a ``ConfigError``. The    |
|                   |             | server answers ``405 Method Not Allowed`` to a       |
|                   |             | handshake made with another method than the          |
|                   |             | binding's (``GET`` when unset)                       |
+-------------------+-------------+------------------------------------------------------+
| ChannelBindings   | ``query``   | the query parameters of the handshake URL. The       |
|                   |             | client adds the default                              |
|                   |             | (:meth:`ChannelBindings.query_defaults`) of every    |
|                   |             | parameter the user did not give, and refuses to dial |
|                   |             | (``ConfigError``) when a required one                |
|                   |             | (:meth:`ChannelBindings.required_query`) is still    |
|                   |             | missing. The server answers ``400 Bad Request`` to a |
|                   |             | handshake that lacks a required parameter            |
+-------------------+-------------+------------------------------------------------------+
| ChannelBindings   | ``headers`` | the HTTP headers of the handshake, handled like      |
|                   |             | ``query``: the client adds the defaults              |
|                   |             | (:meth:`ChannelBindings.header_defaults`) of the     |
|                   |             | headers the user did not give and refuses to dial    |
|                   |             | when a required header                               |
|                   |             | (:meth:`ChannelBindings.required_headers`) is        |
|                   |             | missing; the server answers ``400 Bad Request`` to a |
|                   |             | handshake that lacks one. Header names are compared  |
|                   |             | ignoring letter case, as HTTP does                   |
+-------------------+-------------+------------------------------------------------------+
| ServerBindings,   | (none)      | placeholders: only ``bindingVersion`` and ``x-``     |
| OperationBindings,|             | extensions                                           |
| MessageBindings   |             |                                                      |
+-------------------+-------------+------------------------------------------------------+

``query`` and ``headers`` hold an AsyncAPI Schema Object, kept as a plain dict (written back
unchanged by ``to_dict``). When the schema gives ``type`` it must be ``"object"``; when it
gives ``properties`` that must map names to schemas (mappings or booleans); when it gives
``required`` that must be a list of distinct strings. A Reference Object (``{"$ref":
"..."}``) is accepted and kept as is, but the helpers refuse it: resolve references first.

Defaults go on the wire as text, the way a URL or a header carries them: a boolean as
``"true"`` or ``"false"``, an integer or a float through :class:`str` (``10``, ``2.5``), a
string unchanged. Any other default (``null``, a list, an object, an infinite or NaN
number) is refused by :meth:`ChannelBindings.query_defaults` and
:meth:`ChannelBindings.header_defaults` with a ``ConfigError`` rather than skipped: a
default silently left out would make the client dial without a value the document
promises. A header default holding a control character (CR, LF, NUL, ...) is refused too,
as it cannot go in an HTTP header. These checks run when the helpers are called, not when
the binding is built, so a document meant for other tools still reads.

Differences from the JSON Schema of the binding:

* ``method`` is accepted in any letter case (``"get"``) and stored in upper case, which is
  how ``to_dict`` writes it.
* ``query`` and ``headers`` need not give ``type`` or ``properties`` (the spec says they
  MUST be object schemas with a ``properties`` key; a schema without them is read as an
  object schema with no properties).
* The spec asks each property of ``query`` and ``headers`` to be of a primitive type
  (string, boolean, integer or number) or an enum of primitive values; syncapi does not
  check the property schemas, only their defaults (above).

Versions: 0.1.0, the only one, assumed when ``bindingVersion`` is missing.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..bindings import (
    Bindings,
    Placeholder,
    check_object_schema,
    describe_value,
    property_defaults,
    property_names,
    required_names,
)

__all__ = [
    "ChannelBindings",
    "MessageBindings",
    "OperationBindings",
    "ServerBindings",
]

_PROTOCOL = "ws"
_VERSIONS = ("0.1.0",)
# The handshake methods the binding allows.
_METHODS = ("GET", "POST")
# Characters an HTTP field value cannot hold (RFC 9110 section 5.5): controls but HTAB.
_HEADER_CONTROLS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


@dataclass(frozen=True, kw_only=True)
class ServerBindings(Placeholder):
    """WebSockets server bindings: the binding defines no fields.

    The document form may hold only ``bindingVersion`` and ``x-`` extensions.
    """

    protocol = _PROTOCOL
    versions = _VERSIONS


@dataclass(frozen=True, kw_only=True)
class OperationBindings(Placeholder):
    """WebSockets operation bindings: the binding defines no fields.

    The document form may hold only ``bindingVersion`` and ``x-`` extensions.
    """

    protocol = _PROTOCOL
    versions = _VERSIONS


@dataclass(frozen=True, kw_only=True)
class MessageBindings(Placeholder):
    """WebSockets message bindings: the binding defines no fields.

    The document form may hold only ``bindingVersion`` and ``x-`` extensions.
    """

    protocol = _PROTOCOL
    versions = _VERSIONS


def _wire_text(obj: Bindings, where: str, value: Any, *, header: bool) -> str:
    """A default as the text a URL or a header carries; raise for other values."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        if not math.isfinite(value):
            raise obj._error(f"'{where}' must be a finite number, got {describe_value(value)}")
        return str(float(value))
    if isinstance(value, str):
        if header and _HEADER_CONTROLS.search(value):
            raise obj._error(
                f"'{where}' cannot go in an HTTP header: it holds a control character, "
                f"got {describe_value(value)}"
            )
        return str.__str__(value)
    carrier = "an HTTP header" if header else "a URL"
    raise obj._error(
        f"'{where}' must be a string, a number or a boolean to go in {carrier}, "
        f"got {describe_value(value)}"
    )


def _wire_defaults(
    obj: Bindings, wire: str, schema: Mapping[str, Any] | None, *, header: bool
) -> dict[str, str]:
    """``{name: default as text}`` for the properties of ``schema`` that give a default."""
    return {
        name: _wire_text(obj, f"{wire}.properties.{name}.default", value, header=header)
        for name, value in property_defaults(obj, wire, schema).items()
    }


@dataclass(frozen=True, kw_only=True)
class ChannelBindings(Bindings):
    """WebSockets channel bindings: the handshake's method, query parameters and headers.

    Attributes:
        method: ``method``, the HTTP method of the handshake, ``GET`` or ``POST``. Any
            letter case is accepted and stored in upper case; ``None`` means ``GET``.
        query: ``query``, the Schema Object (an object schema whose ``properties`` are the
            parameters) describing the handshake's query parameters, or a Reference
            Object; kept as a plain dict. Left out of the hash, like :attr:`extensions`.
        headers: ``headers``, the Schema Object (an object schema whose ``properties`` are
            the header names) describing the handshake's HTTP headers, or a Reference
            Object; kept as a plain dict. Left out of the hash, like :attr:`extensions`.
    """

    protocol = _PROTOCOL
    versions = _VERSIONS

    method: str | None = None
    query: Mapping[str, Any] | None = field(default=None, hash=False)
    headers: Mapping[str, Any] | None = field(default=None, hash=False)

    def __post_init__(self) -> None:
        """Check the method and store it in upper case, then validate as usual."""
        method: object = self.method
        if isinstance(method, str):
            upper = method.upper()
            if not method.isascii() or upper not in _METHODS:
                raise self._error(
                    f"'method' must be one of {', '.join(_METHODS)} (in any letter case), "
                    f"got {describe_value(method)}"
                )
            object.__setattr__(self, "method", upper)
        super().__post_init__()

    def _validate(self) -> None:
        """``query`` and ``headers`` must be object schemas or references."""
        check_object_schema(self, "query", self.query)
        check_object_schema(self, "headers", self.headers)

    def query_names(self) -> tuple[str, ...]:
        """The names of the query parameters: the ``properties`` of :attr:`query`.

        Empty when :attr:`query` is unset or has no ``properties``.

        Raises:
            ConfigError: :attr:`query` is an unresolved ``$ref``.
        """
        return property_names(self, "query", self.query)

    def required_query(self) -> tuple[str, ...]:
        """The names of the required query parameters: the ``required`` list of :attr:`query`.

        Empty when :attr:`query` is unset or has no ``required`` list.

        Raises:
            ConfigError: :attr:`query` is an unresolved ``$ref``.
        """
        return required_names(self, "query", self.query)

    def query_defaults(self) -> dict[str, str]:
        """The default of each query parameter whose schema gives one, as URL text.

        ``{name: text}`` in document order: ``"true"``/``"false"`` for a boolean, ``str()``
        of an integer or a float, a string unchanged (URL encoding is left to whoever
        builds the URL). A fresh dict on each call.

        Raises:
            ConfigError: :attr:`query` or one of its property schemas is an unresolved
                ``$ref``, or a default is not a string, a finite number or a boolean.
        """
        return _wire_defaults(self, "query", self.query, header=False)

    def header_names(self) -> tuple[str, ...]:
        """The header names: the ``properties`` of :attr:`headers`, as written.

        Empty when :attr:`headers` is unset or has no ``properties``.

        Raises:
            ConfigError: :attr:`headers` is an unresolved ``$ref``.
        """
        return property_names(self, "headers", self.headers)

    def required_headers(self) -> tuple[str, ...]:
        """The names of the required headers: the ``required`` list of :attr:`headers`.

        Empty when :attr:`headers` is unset or has no ``required`` list.

        Raises:
            ConfigError: :attr:`headers` is an unresolved ``$ref``.
        """
        return required_names(self, "headers", self.headers)

    def header_defaults(self) -> dict[str, str]:
        """The default of each header whose schema gives one, as header text.

        ``{name: text}`` in document order, names as written, values converted like
        :meth:`query_defaults`. A fresh dict on each call.

        Raises:
            ConfigError: :attr:`headers` or one of its property schemas is an unresolved
                ``$ref``, or a default is not a string, a finite number or a boolean, or
                is a string holding a control character (CR, LF, NUL, ...).
        """
        return _wire_defaults(self, "headers", self.headers, header=True)
