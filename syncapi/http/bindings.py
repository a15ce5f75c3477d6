"""HTTP bindings, AsyncAPI HTTP binding 0.3.0 (``bindingVersion`` 0.3.0 and 0.2.0).

Each class reads the ``http`` entry of an AsyncAPI bindings object with ``from_dict``
(camelCase keys, ``x-`` extensions, unknown keys refused) and can be built directly with
Python names. What syncapi does with each field:

+-------------------+----------------+---------------------------------------------------+
| binding           | field          | what syncapi does with it                         |
+===================+================+===================================================+
| OperationBindings | ``method``     | the HTTP method of a publisher's requests         |
|                   |                | (``POST`` when unset), and the one method a       |
|                   |                | subscriber's route accepts (any other method gets |
|                   |                | ``405 Method Not Allowed``)                       |
+-------------------+----------------+---------------------------------------------------+
| OperationBindings | ``query``      | the query parameters a publisher may send and a   |
|                   |                | subscriber reads; their names                     |
|                   |                | (:meth:`OperationBindings.query_names`) and the   |
|                   |                | required ones (:meth:`OperationBindings           |
|                   |                | .required_query`) are documented                  |
+-------------------+----------------+---------------------------------------------------+
| MessageBindings   | ``headers``    | the schema of the HTTP (protocol) headers: stored |
|                   |                | and documented (:meth:`MessageBindings            |
|                   |                | .header_names`); application headers are the core |
|                   |                | message's ``headers``                             |
+-------------------+----------------+---------------------------------------------------+
| MessageBindings   | ``statusCode`` | the status of a subscriber's reply when the       |
|                   |                | callback does not give one                        |
+-------------------+----------------+---------------------------------------------------+
| ServerBindings,   | (none)         | placeholders: only ``bindingVersion`` and ``x-``  |
| ChannelBindings   |                | extensions                                        |
+-------------------+----------------+---------------------------------------------------+

``query`` and ``headers`` hold an AsyncAPI Schema Object, kept as a plain dict (written back
unchanged by ``to_dict``). When the schema gives ``type`` it must be ``"object"``; when it
gives ``properties`` that must map names to schemas (mappings or booleans); when it gives
``required`` that must be a list of distinct strings. A Reference Object (``{"$ref":
"..."}``) is accepted and kept as is, but the name helpers refuse it: resolve references
first.

Differences from the JSON Schema of the binding:

* ``method`` is accepted in any letter case (``"get"``) and stored in upper case, which is
  how ``to_dict`` writes it.
* ``statusCode`` must be an integer from 100 to 599 (the schema says "number").
* ``query`` and ``headers`` need not give ``type`` (the spec says they MUST be object
  schemas; a schema without ``type`` is read as one).

Versions: 0.3.0 (the latest, assumed when ``bindingVersion`` is missing) and 0.2.0, which
has the same fields except the message's ``statusCode`` (new in 0.3.0, refused under
0.2.0). Binding 0.1.0 is refused; so is its operation field ``type`` (``request`` or
``response``), which 0.2.0 removed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..bindings import (
    Bindings,
    Placeholder,
    asyncapi,
    check_object_schema,
    describe_value,
    property_names,
    required_names,
)

__all__ = [
    "ChannelBindings",
    "MessageBindings",
    "OperationBindings",
    "ServerBindings",
]

_PROTOCOL = "http"
_VERSIONS = ("0.3.0", "0.2.0")
# The methods the binding allows (RFC 9110 section 9 and RFC 5789 for PATCH).
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "CONNECT", "TRACE")
_STATUS_MIN = 100
_STATUS_MAX = 599


@dataclass(frozen=True, kw_only=True)
class ServerBindings(Placeholder):
    """HTTP server bindings: the binding defines no fields.

    The document form may hold only ``bindingVersion`` and ``x-`` extensions.
    """

    protocol = _PROTOCOL
    versions = _VERSIONS


@dataclass(frozen=True, kw_only=True)
class ChannelBindings(Placeholder):
    """HTTP channel bindings: the binding defines no fields.

    The document form may hold only ``bindingVersion`` and ``x-`` extensions.
    """

    protocol = _PROTOCOL
    versions = _VERSIONS


@dataclass(frozen=True, kw_only=True)
class OperationBindings(Bindings):
    """HTTP operation bindings: the request method and the query parameters.

    Attributes:
        method: ``method``, one of ``GET``, ``POST``, ``PUT``, ``PATCH``, ``DELETE``,
            ``HEAD``, ``OPTIONS``, ``CONNECT`` and ``TRACE``. Any letter case is accepted
            and stored in upper case; ``None`` leaves the choice to syncapi (a publisher
            sends ``POST``).
        query: ``query``, the Schema Object (an object schema whose ``properties`` are the
            parameters) describing the query parameters, or a Reference Object; kept as a
            plain dict. Left out of the hash, like :attr:`extensions`.
    """

    protocol = _PROTOCOL
    versions = _VERSIONS

    method: str | None = None
    query: Mapping[str, Any] | None = field(default=None, hash=False)

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

    @classmethod
    def _prepare(cls, data: Mapping[str, Any]) -> Mapping[str, Any]:
        """Refuse the 0.1.0 ``type`` key with an explanation."""
        if "type" in data:
            raise cls._error(
                "'type' (binding 0.1.0: request or response) is not supported: binding "
                "0.2.0 removed it; the operation's action and its 'reply' say which "
                "messages are requests and which are responses"
            )
        return data

    def _validate(self) -> None:
        """``query`` must be an object schema or a reference."""
        check_object_schema(self, "query", self.query)

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


@dataclass(frozen=True, kw_only=True)
class MessageBindings(Bindings):
    """HTTP message bindings: the HTTP headers' schema and the response status.

    Attributes:
        headers: ``headers``, the Schema Object (an object schema whose ``properties`` are
            the header names) describing the HTTP-specific headers, or a Reference Object;
            kept as a plain dict. The core message's headers are the application headers.
            Left out of the hash, like :attr:`extensions`.
        status_code: ``statusCode``, the HTTP status of a response, an integer from 100 to
            599. It is meaningful for messages of an operation's reply: a subscriber's
            reply uses it when the callback gives no status. Needs ``bindingVersion``
            0.3.0 (or none).
    """

    protocol = _PROTOCOL
    versions = _VERSIONS

    headers: Mapping[str, Any] | None = field(default=None, hash=False)
    status_code: int | None = field(
        default=None, metadata=asyncapi(minimum=_STATUS_MIN, maximum=_STATUS_MAX)
    )

    def _validate(self) -> None:
        """``headers`` must be an object schema; ``statusCode`` needs binding 0.3.0."""
        check_object_schema(self, "headers", self.headers)
        if self.status_code is not None and self.effective_version == "0.2.0":
            raise self._error("'statusCode' needs bindingVersion 0.3.0, not 0.2.0")

    def header_names(self) -> tuple[str, ...]:
        """The header names: the ``properties`` of :attr:`headers`, as written.

        Empty when :attr:`headers` is unset or has no ``properties``.

        Raises:
            ConfigError: :attr:`headers` is an unresolved ``$ref``.
        """
        return property_names(self, "headers", self.headers)
