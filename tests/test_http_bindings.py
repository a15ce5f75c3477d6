"""Unit tests of syncapi.http.bindings (the HTTP binding 0.3.0 dataclasses); no network."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import pytest

import syncapi.http.bindings as http_bindings
from syncapi.bindings import Bindings
from syncapi.errors import ConfigError
from syncapi.http.bindings import (
    ChannelBindings,
    MessageBindings,
    OperationBindings,
    ServerBindings,
)

# The examples of the binding's README (0.3.0).
QUERY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["companyId"],
    "properties": {
        "companyId": {"type": "number", "minimum": 1, "description": "The Id of the company."}
    },
    "additionalProperties": False,
}
OPERATION_DOC: dict[str, Any] = {
    "method": "GET",
    "query": QUERY_SCHEMA,
    "bindingVersion": "0.3.0",
}
HEADERS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"Content-Type": {"type": "string", "enum": ["application/json"]}},
}
MESSAGE_DOC: dict[str, Any] = {
    "headers": HEADERS_SCHEMA,
    "statusCode": 200,
    "bindingVersion": "0.3.0",
}
# The operation example of binding 0.1.0, with its required 'type'.
OPERATION_DOC_0_1_0: dict[str, Any] = {
    "type": "request",
    "method": "GET",
    "query": QUERY_SCHEMA,
    "bindingVersion": "0.1.0",
}

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "CONNECT", "TRACE")
ALL = [ServerBindings, ChannelBindings, OperationBindings, MessageBindings]
# The two fields that hold an object schema: (class, field name, names helper).
SCHEMA_FIELDS = [
    (OperationBindings, "query", "query_names"),
    (MessageBindings, "headers", "header_names"),
]


def error_of(excinfo: pytest.ExceptionInfo[ConfigError]) -> str:
    """The message of a caught ConfigError."""
    return str(excinfo.value)


def with_schema(cls: type[Bindings], name: str, schema: Any) -> Bindings:
    """Build ``cls`` directly with ``schema`` as its field ``name``."""
    return cls(**{name: schema})


# --- shared facts --------------------------------------------------------------------------


def test_public_names() -> None:
    assert sorted(http_bindings.__all__) == [
        "ChannelBindings",
        "MessageBindings",
        "OperationBindings",
        "ServerBindings",
    ]
    for name in http_bindings.__all__:
        assert getattr(http_bindings, name).__doc__
    assert http_bindings.__doc__ is not None
    for field_name in ("method", "query", "headers", "statusCode"):
        assert f"``{field_name}``" in http_bindings.__doc__


@pytest.mark.parametrize("cls", ALL)
def test_protocol_and_versions(cls: type[Bindings]) -> None:
    assert cls.protocol == "http"
    assert cls.versions == ("0.3.0", "0.2.0")
    assert cls().binding_version is None
    assert cls().effective_version == "0.3.0"
    assert cls.from_dict({}).effective_version == "0.3.0"
    assert cls.from_dict(None) == cls()
    assert cls.from_dict({"bindingVersion": "0.3.0"}).binding_version == "0.3.0"
    assert cls.from_dict({"bindingVersion": "0.2.0"}).effective_version == "0.2.0"
    assert cls().to_dict() == {}


@pytest.mark.parametrize("cls", ALL)
@pytest.mark.parametrize("version", ["0.1.0", "0.4.0", "latest", "3.0.0", ""])
def test_unsupported_binding_version_is_refused(cls: type[Bindings], version: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        cls.from_dict({"bindingVersion": version})
    assert error_of(excinfo) == (
        f"http {cls.__name__}: unsupported bindingVersion {version!r} (supported: 0.3.0, 0.2.0)"
    )
    with pytest.raises(ConfigError, match="unsupported bindingVersion"):
        cls(binding_version=version)


@pytest.mark.parametrize("cls", ALL)
def test_binding_version_must_be_a_string(cls: type[Bindings]) -> None:
    with pytest.raises(ConfigError) as excinfo:
        cls.from_dict({"bindingVersion": 0.3})
    assert error_of(excinfo) == f"http {cls.__name__}: 'bindingVersion' must be str, got float 0.3"


@pytest.mark.parametrize(
    ("cls", "key", "hint"),
    [
        (OperationBindings, "Method", "method"),
        (OperationBindings, "metod", "method"),
        (OperationBindings, "querry", "query"),
        (OperationBindings, "binding_version", "bindingVersion"),
        (MessageBindings, "status_code", "statusCode"),
        (MessageBindings, "statuscode", "statusCode"),
        (MessageBindings, "header", "headers"),
    ],
)
def test_unknown_keys_are_refused_by_name(cls: type[Bindings], key: str, hint: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        cls.from_dict({key: "x"})
    message = error_of(excinfo)
    assert message.startswith(f"http {cls.__name__}: unknown key {key!r} (allowed: ")
    assert message.endswith(f"did you mean {hint!r}?")


@pytest.mark.parametrize(
    ("cls", "key", "allowed"),
    [
        (OperationBindings, "path", "bindingVersion, method, query"),
        (MessageBindings, "contentType", "bindingVersion, headers, statusCode"),
    ],
)
def test_unknown_key_lists_the_allowed_keys(cls: type[Bindings], key: str, allowed: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        cls.from_dict({key: "application/json"})
    assert error_of(excinfo) == (f"http {cls.__name__}: unknown key {key!r} (allowed: {allowed})")


@pytest.mark.parametrize("cls", ALL)
def test_extensions_are_kept_and_written_back(cls: type[Bindings]) -> None:
    doc = {"bindingVersion": "0.3.0", "x-owner": "billing", "x-meta": {"a": [1, 2]}}
    bindings = cls.from_dict(doc)
    assert bindings.extensions == {"x-owner": "billing", "x-meta": {"a": [1, 2]}}
    assert bindings.to_dict() == doc
    assert cls.from_dict(bindings.to_dict()) == bindings


@pytest.mark.parametrize("cls", ALL)
def test_bad_extension_key_on_direct_construction(cls: type[Bindings]) -> None:
    with pytest.raises(ConfigError) as excinfo:
        cls(extensions={"owner": "billing"})
    assert error_of(excinfo) == (f"http {cls.__name__}: extension key 'owner' must start with 'x-'")


@pytest.mark.parametrize("cls", ALL)
def test_ref_is_refused(cls: type[Bindings]) -> None:
    with pytest.raises(ConfigError) as excinfo:
        cls.from_dict({"$ref": "#/components/x"})
    assert error_of(excinfo) == (
        f"http {cls.__name__}: unresolved $ref '#/components/x'; resolve references first"
    )


@pytest.mark.parametrize("cls", ALL)
def test_binding_must_be_a_mapping(cls: type[Bindings]) -> None:
    with pytest.raises(ConfigError) as excinfo:
        cls.from_dict(["GET"])  # type: ignore[arg-type]
    assert error_of(excinfo) == f"http {cls.__name__}: expected a mapping, got list ['GET']"


# --- placeholders --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "key"),
    [(ServerBindings, "url"), (ChannelBindings, "method"), (ChannelBindings, "address")],
)
def test_placeholders_take_no_fields(cls: type[Bindings], key: str) -> None:
    assert cls.from_dict(None) == cls()
    assert cls().to_dict() == {}
    with pytest.raises(ConfigError) as excinfo:
        cls.from_dict({key: "x"})
    assert error_of(excinfo) == (
        f"http {cls.__name__}: unknown key {key!r}; this binding is a placeholder and takes no "
        "fields (only bindingVersion and x- extensions)"
    )


# --- OperationBindings ---------------------------------------------------------------------


def test_operation_bindings_spec_example() -> None:
    operation = OperationBindings.from_dict(OPERATION_DOC)
    assert operation == OperationBindings(method="GET", query=QUERY_SCHEMA, binding_version="0.3.0")
    assert operation.method == "GET"
    assert operation.query == QUERY_SCHEMA
    assert type(operation.query) is dict
    assert operation.binding_version == "0.3.0"
    assert operation.extensions == {}
    assert operation.query_names() == ("companyId",)
    assert operation.required_query() == ("companyId",)


def test_operation_bindings_round_trip() -> None:
    operation = OperationBindings.from_dict(OPERATION_DOC)
    assert operation.to_dict() == OPERATION_DOC
    assert OperationBindings.from_dict(operation.to_dict()) == operation
    assert hash(operation) == hash(OperationBindings.from_dict(copy.deepcopy(OPERATION_DOC)))


def test_operation_bindings_0_2_0_example() -> None:
    doc = {**OPERATION_DOC, "bindingVersion": "0.2.0"}
    operation = OperationBindings.from_dict(doc)
    assert operation.binding_version == "0.2.0"
    assert operation.effective_version == "0.2.0"
    assert operation.to_dict() == doc


def test_operation_bindings_defaults() -> None:
    operation = OperationBindings()
    assert operation.method is None
    assert operation.query is None
    assert operation.binding_version is None
    assert operation.extensions == {}
    assert operation.to_dict() == {}
    assert operation.query_names() == ()
    assert operation.required_query() == ()
    assert OperationBindings.from_dict({"method": None, "query": None}) == operation


def test_the_document_is_not_changed_or_shared() -> None:
    doc = copy.deepcopy(OPERATION_DOC)
    operation = OperationBindings.from_dict(doc)
    assert doc == OPERATION_DOC
    out = operation.to_dict()
    out["query"]["properties"]["other"] = {}
    out["method"] = "PUT"
    assert operation.query_names() == ("companyId",)
    assert operation.method == "GET"


# --- method --------------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_every_method_is_accepted(method: str) -> None:
    assert OperationBindings.from_dict({"method": method}).method == method
    assert OperationBindings(method=method).to_dict() == {"method": method}


@pytest.mark.parametrize(
    ("given", "stored"),
    [("get", "GET"), ("post", "POST"), ("Put", "PUT"), ("pAtCh", "PATCH"), ("trace", "TRACE")],
)
def test_method_in_any_case_is_stored_upper_case(given: str, stored: str) -> None:
    from_doc = OperationBindings.from_dict({"method": given})
    assert from_doc.method == stored
    assert from_doc.to_dict() == {"method": stored}
    direct = OperationBindings(method=given)
    assert direct.method == stored
    assert direct == from_doc
    assert OperationBindings().replace(method=given).method == stored
    assert OperationBindings.coerce({"method": given}) == direct


@pytest.mark.parametrize(
    "method", ["fetch", "", " GET", "GET ", "G-E-T", "GETS", "LINK", "poſt", "ＧＥＴ"]
)
def test_other_methods_are_refused_with_the_allowed_ones(method: str) -> None:
    message = (
        "http OperationBindings: 'method' must be one of GET, POST, PUT, PATCH, DELETE, HEAD, "
        f"OPTIONS, CONNECT, TRACE (in any letter case), got str {method!r}"
    )
    with pytest.raises(ConfigError) as excinfo:
        OperationBindings.from_dict({"method": method})
    assert error_of(excinfo) == message
    with pytest.raises(ConfigError) as excinfo:
        OperationBindings(method=method)
    assert error_of(excinfo) == message


@pytest.mark.parametrize(
    ("method", "got"),
    [(1, "int 1"), (True, "bool True"), (["GET"], "list ['GET']"), (b"GET", "bytes b'GET'")],
)
def test_method_must_be_a_string(method: Any, got: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        OperationBindings.from_dict({"method": method})
    assert error_of(excinfo) == f"http OperationBindings: 'method' must be str, got {got}"
    with pytest.raises(ConfigError) as excinfo:
        OperationBindings(method=method)
    assert error_of(excinfo) == f"http OperationBindings: 'method' must be str, got {got}"


# --- binding 0.1.0's operation type --------------------------------------------------------


@pytest.mark.parametrize("version", [None, "0.1.0", "0.2.0", "0.3.0"])
@pytest.mark.parametrize("kind", ["request", "response"])
def test_operation_type_of_0_1_0_is_refused(version: str | None, kind: str) -> None:
    doc: dict[str, Any] = {"type": kind, "method": "GET"}
    if version is not None:
        doc["bindingVersion"] = version
    with pytest.raises(ConfigError) as excinfo:
        OperationBindings.from_dict(doc)
    assert error_of(excinfo) == (
        "http OperationBindings: 'type' (binding 0.1.0: request or response) is not "
        "supported: binding 0.2.0 removed it; the operation's action and its 'reply' say "
        "which messages are requests and which are responses"
    )


def test_the_0_1_0_example_is_refused_and_works_without_type() -> None:
    with pytest.raises(ConfigError, match=re.escape("'type' (binding 0.1.0")):
        OperationBindings.from_dict(OPERATION_DOC_0_1_0)
    doc = {k: v for k, v in OPERATION_DOC_0_1_0.items() if k != "type"}
    with pytest.raises(ConfigError, match=re.escape("unsupported bindingVersion '0.1.0'")):
        OperationBindings.from_dict(doc)
    doc["bindingVersion"] = "0.3.0"
    assert OperationBindings.from_dict(doc) == OperationBindings.from_dict(OPERATION_DOC)


def test_operation_type_cannot_be_given_directly() -> None:
    with pytest.raises(TypeError):
        OperationBindings(type="request")  # type: ignore[call-arg]


# --- query and headers: object schemas -----------------------------------------------------


@pytest.mark.parametrize(("cls", "name", "helper"), SCHEMA_FIELDS)
def test_schema_without_type_or_properties_is_accepted(
    cls: type[Bindings], name: str, helper: str
) -> None:
    schemas: list[dict[str, Any]] = [
        {},
        {"type": "object"},
        {"properties": {}},
        {"description": "free"},
    ]
    for schema in schemas:
        bindings = cls.from_dict({name: schema})
        assert getattr(bindings, name) == schema
        assert getattr(bindings, helper)() == ()
        assert bindings.to_dict() == {name: schema}


@pytest.mark.parametrize(("cls", "name", "helper"), SCHEMA_FIELDS)
def test_schema_is_kept_as_a_plain_dict(cls: type[Bindings], name: str, helper: str) -> None:
    schema = MappingProxyType({"type": "object", "properties": {"a": {}, "b": True}})
    bindings = with_schema(cls, name, schema)
    stored = getattr(bindings, name)
    assert type(stored) is dict
    assert stored == {"type": "object", "properties": {"a": {}, "b": True}}
    assert getattr(bindings, helper)() == ("a", "b")


@pytest.mark.parametrize(("cls", "name", "helper"), SCHEMA_FIELDS)
@pytest.mark.parametrize(
    ("value", "got"),
    [("object", "str 'object'"), (["type"], "list ['type']"), (True, "bool True"), (1, "int 1")],
)
def test_schema_must_be_a_mapping(
    cls: type[Bindings], name: str, helper: str, value: Any, got: str
) -> None:
    message = f"http {cls.__name__}: {name!r} must be mapping, got {got}"
    with pytest.raises(ConfigError) as excinfo:
        cls.from_dict({name: value})
    assert error_of(excinfo) == message
    with pytest.raises(ConfigError) as excinfo:
        with_schema(cls, name, value)
    assert error_of(excinfo) == message


@pytest.mark.parametrize(("cls", "name", "helper"), SCHEMA_FIELDS)
@pytest.mark.parametrize(
    ("schema_type", "got"),
    [
        ("string", "str 'string'"),
        ("array", "str 'array'"),
        ("Object", "str 'Object'"),
        (["object"], "list ['object']"),
        (["object", "null"], "list ['object', 'null']"),
        (None, "None"),
    ],
)
def test_schema_type_must_be_object(
    cls: type[Bindings], name: str, helper: str, schema_type: Any, got: str
) -> None:
    with pytest.raises(ConfigError) as excinfo:
        cls.from_dict({name: {"type": schema_type, "properties": {}}})
    assert error_of(excinfo) == (
        f"http {cls.__name__}: {name!r} must be an object schema: 'type' must be 'object', "
        f"got {got}"
    )


@pytest.mark.parametrize(("cls", "name", "helper"), SCHEMA_FIELDS)
@pytest.mark.parametrize(
    ("properties", "got"),
    [(["a", "b"], "list ['a', 'b']"), ("a", "str 'a'"), (None, "None"), (3, "int 3")],
)
def test_schema_properties_must_be_a_mapping(
    cls: type[Bindings], name: str, helper: str, properties: Any, got: str
) -> None:
    with pytest.raises(ConfigError) as excinfo:
        cls.from_dict({name: {"type": "object", "properties": properties}})
    assert error_of(excinfo) == (
        f"http {cls.__name__}: '{name}.properties' must be a mapping of names to schemas, got {got}"
    )


@pytest.mark.parametrize(("cls", "name", "helper"), SCHEMA_FIELDS)
@pytest.mark.parametrize(
    ("value", "got"), [("string", "str 'string'"), (1, "int 1"), (None, "None"), ([], "list []")]
)
def test_each_property_must_be_a_schema(
    cls: type[Bindings], name: str, helper: str, value: Any, got: str
) -> None:
    with pytest.raises(ConfigError) as excinfo:
        cls.from_dict({name: {"properties": {"ok": {}, "bad": value}}})
    assert error_of(excinfo) == (
        f"http {cls.__name__}: '{name}.properties.bad' must be a schema (a mapping or a "
        f"boolean), got {got}"
    )


@pytest.mark.parametrize(("cls", "name", "helper"), SCHEMA_FIELDS)
def test_boolean_property_schemas_are_accepted(cls: type[Bindings], name: str, helper: str) -> None:
    bindings = cls.from_dict({name: {"properties": {"any": True, "none": False}}})
    assert getattr(bindings, helper)() == ("any", "none")


@pytest.mark.parametrize(("cls", "name", "helper"), SCHEMA_FIELDS)
def test_property_names_must_be_strings(cls: type[Bindings], name: str, helper: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        with_schema(cls, name, {"properties": {1: {}}})
    assert error_of(excinfo) == (
        f"http {cls.__name__}: '{name}.properties' names must be str, got int 1"
    )


@pytest.mark.parametrize(("cls", "name", "helper"), SCHEMA_FIELDS)
def test_schema_keys_must_be_strings(cls: type[Bindings], name: str, helper: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        with_schema(cls, name, {1: "object"})
    assert error_of(excinfo) == f"http {cls.__name__}: '{name}[1]' must be str, got int 1"


@pytest.mark.parametrize(("cls", "name", "helper"), SCHEMA_FIELDS)
@pytest.mark.parametrize(
    ("required", "message"),
    [
        ("companyId", "'{name}.required' must be a list of str, got str 'companyId'"),
        (
            {"companyId": True},
            "'{name}.required' must be a list of str, got dict {{'companyId': True}}",
        ),
        (None, "'{name}.required' must be a list of str, got None"),
        (["a", 2], "'{name}.required[1]' must be str, got int 2"),
        ([None], "'{name}.required[0]' must be str, got None"),
        (["a", "b", "a"], "'{name}.required' lists 'a' more than once"),
    ],
)
def test_schema_required_must_be_a_list_of_distinct_strings(
    cls: type[Bindings], name: str, helper: str, required: Any, message: str
) -> None:
    with pytest.raises(ConfigError) as excinfo:
        cls.from_dict({name: {"type": "object", "properties": {"a": {}}, "required": required}})
    assert error_of(excinfo) == f"http {cls.__name__}: " + message.format(name=name)


@pytest.mark.parametrize(("cls", "name", "helper"), SCHEMA_FIELDS)
def test_ref_schema_is_accepted_and_kept_but_not_read(
    cls: type[Bindings], name: str, helper: str
) -> None:
    ref = {"$ref": "#/components/schemas/Params"}
    bindings = cls.from_dict({name: ref})
    assert getattr(bindings, name) == ref
    assert bindings.to_dict() == {name: ref}
    assert cls.from_dict(bindings.to_dict()) == bindings
    with pytest.raises(ConfigError) as excinfo:
        getattr(bindings, helper)()
    assert error_of(excinfo) == (
        f"http {cls.__name__}: {name!r} is an unresolved $ref "
        "'#/components/schemas/Params'; resolve references first"
    )


@pytest.mark.parametrize(("cls", "name", "helper"), SCHEMA_FIELDS)
def test_ref_siblings_are_not_checked(cls: type[Bindings], name: str, helper: str) -> None:
    # JSON Schema draft 7 ignores the siblings of $ref; they are kept, not checked.
    schema = {"$ref": "#/components/schemas/P", "type": "string"}
    assert getattr(cls.from_dict({name: schema}), name) == schema


@pytest.mark.parametrize(("cls", "name", "helper"), SCHEMA_FIELDS)
@pytest.mark.parametrize(("ref", "got"), [(1, "int 1"), ("", "str ''"), (None, "None")])
def test_ref_must_be_a_non_empty_string(
    cls: type[Bindings], name: str, helper: str, ref: Any, got: str
) -> None:
    with pytest.raises(ConfigError) as excinfo:
        cls.from_dict({name: {"$ref": ref}})
    assert error_of(excinfo) == (
        f"http {cls.__name__}: '{name}.$ref' must be a non-empty string, got {got}"
    )


# --- query helpers -------------------------------------------------------------------------


def test_query_names_keep_the_document_order() -> None:
    operation = OperationBindings(
        query={
            "type": "object",
            "properties": {"limit": {"type": "integer"}, "after": {}, "Sort-By": {}},
            "required": ["after", "limit"],
        }
    )
    assert operation.query_names() == ("limit", "after", "Sort-By")
    assert operation.required_query() == ("after", "limit")
    assert isinstance(operation.query_names(), tuple)
    assert isinstance(operation.required_query(), tuple)


def test_required_query_without_properties_and_from_a_tuple() -> None:
    operation = OperationBindings(query={"required": ("id",)})
    assert operation.query_names() == ()
    assert operation.required_query() == ("id",)
    assert operation.to_dict() == {"query": {"required": ["id"]}}
    assert OperationBindings(query={"properties": {"id": {}}}).required_query() == ()
    assert OperationBindings(query={"required": []}).required_query() == ()


# --- MessageBindings -----------------------------------------------------------------------


def test_message_bindings_spec_example() -> None:
    message = MessageBindings.from_dict(MESSAGE_DOC)
    assert message == MessageBindings(
        headers=HEADERS_SCHEMA, status_code=200, binding_version="0.3.0"
    )
    assert message.status_code == 200
    assert message.headers == HEADERS_SCHEMA
    assert type(message.headers) is dict
    assert message.header_names() == ("Content-Type",)


def test_message_bindings_round_trip() -> None:
    message = MessageBindings.from_dict(MESSAGE_DOC)
    assert message.to_dict() == MESSAGE_DOC
    assert MessageBindings.from_dict(message.to_dict()) == message
    assert hash(message) == hash(MessageBindings.from_dict(copy.deepcopy(MESSAGE_DOC)))


def test_message_bindings_defaults() -> None:
    message = MessageBindings()
    assert message.headers is None
    assert message.status_code is None
    assert message.to_dict() == {}
    assert message.header_names() == ()


def test_header_names_as_written() -> None:
    message = MessageBindings(
        headers={"properties": {"X-Request-Id": {"type": "string"}, "accept": {}, "ETag": {}}}
    )
    assert message.header_names() == ("X-Request-Id", "accept", "ETag")


@pytest.mark.parametrize("status", [100, 101, 200, 201, 204, 301, 404, 418, 500, 599])
def test_status_codes_in_range(status: int) -> None:
    assert MessageBindings.from_dict({"statusCode": status}).status_code == status
    assert MessageBindings(status_code=status).to_dict() == {"statusCode": status}


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (99, "'statusCode' must be >= 100, got 99"),
        (0, "'statusCode' must be >= 100, got 0"),
        (-200, "'statusCode' must be >= 100, got -200"),
        (600, "'statusCode' must be <= 599, got 600"),
        (1000, "'statusCode' must be <= 599, got 1000"),
        (True, "'statusCode' must be int, got bool True"),
        (False, "'statusCode' must be int, got bool False"),
        (200.0, "'statusCode' must be int, got float 200.0"),
        ("200", "'statusCode' must be int, got str '200'"),
        ([200], "'statusCode' must be int, got list [200]"),
    ],
)
def test_bad_status_codes_from_a_document(status: Any, message: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        MessageBindings.from_dict({"statusCode": status})
    assert error_of(excinfo) == f"http MessageBindings: {message}"


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (99, "'status_code' must be >= 100, got 99"),
        (600, "'status_code' must be <= 599, got 600"),
        (True, "'status_code' must be int, got bool True"),
        (204.0, "'status_code' must be int, got float 204.0"),
    ],
)
def test_bad_status_codes_on_direct_construction(status: Any, message: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        MessageBindings(status_code=status)
    assert error_of(excinfo) == f"http MessageBindings: {message}"


def test_status_code_needs_binding_0_3_0() -> None:
    with pytest.raises(ConfigError) as excinfo:
        MessageBindings.from_dict({**MESSAGE_DOC, "bindingVersion": "0.2.0"})
    assert error_of(excinfo) == (
        "http MessageBindings: 'statusCode' needs bindingVersion 0.3.0, not 0.2.0"
    )
    with pytest.raises(ConfigError, match=re.escape("needs bindingVersion 0.3.0")):
        MessageBindings(status_code=200, binding_version="0.2.0")
    with pytest.raises(ConfigError, match=re.escape("needs bindingVersion 0.3.0")):
        MessageBindings(status_code=200).replace(binding_version="0.2.0")
    assert MessageBindings(status_code=200).effective_version == "0.3.0"


def test_message_bindings_0_2_0_with_headers() -> None:
    doc = {"headers": HEADERS_SCHEMA, "bindingVersion": "0.2.0"}
    message = MessageBindings.from_dict(doc)
    assert message.binding_version == "0.2.0"
    assert message.header_names() == ("Content-Type",)
    assert message.to_dict() == doc


# --- hashing, copies, coerce and bindings maps ---------------------------------------------


def test_schemas_are_left_out_of_the_hash_but_not_of_equality() -> None:
    a = OperationBindings(method="GET", query={"properties": {"a": {}}})
    b = OperationBindings(method="GET", query={"properties": {"b": {}}})
    assert a != b
    assert hash(a) == hash(b)
    assert len({a, b, OperationBindings(method="GET", query={"properties": {"a": {}}})}) == 2
    m = MessageBindings(headers={"properties": {"a": {}}}, status_code=200)
    assert hash(m) == hash(MessageBindings(headers={}, status_code=200))
    assert m != MessageBindings(headers={}, status_code=200)


def test_replace_and_merged() -> None:
    operation = OperationBindings.from_dict(OPERATION_DOC)
    assert operation.replace(method="delete").method == "DELETE"
    with pytest.raises(ConfigError, match="'method' must be one of"):
        operation.replace(method="remove")
    with pytest.raises(ConfigError, match="must be an object schema"):
        operation.replace(query={"type": "string"})
    merged = operation.merged(OperationBindings(method="post"))
    assert merged.method == "POST"
    assert merged.query == QUERY_SCHEMA
    message = MessageBindings.from_dict(MESSAGE_DOC).merged(MessageBindings(status_code=201))
    assert message.status_code == 201
    assert message.headers == HEADERS_SCHEMA


def test_coerce() -> None:
    assert OperationBindings.coerce({"method": "put"}) == OperationBindings(method="PUT")
    assert OperationBindings.coerce(None) is None
    same = MessageBindings(status_code=202)
    assert MessageBindings.coerce(same) is same
    assert MessageBindings.coerce({"statusCode": 202}) == same
    with pytest.raises(ConfigError) as excinfo:
        OperationBindings.coerce(MessageBindings())
    assert error_of(excinfo).startswith(
        "http OperationBindings: expected a OperationBindings or a dict, got MessageBindings"
    )
    with pytest.raises(ConfigError, match="'method' must be one of"):
        OperationBindings.coerce({"method": "fetch"})


def test_from_bindings_map() -> None:
    bindings: Mapping[str, Any] = {
        "http": {"method": "get", "query": QUERY_SCHEMA},
        "amqp": {"ack": True},
        "kafka": {"groupId": {"const": "g"}},
    }
    operation = OperationBindings.from_bindings_map(bindings)
    assert operation == OperationBindings(method="GET", query=QUERY_SCHEMA)
    assert OperationBindings.from_bindings_map({"kafka": {}}) is None
    assert OperationBindings.from_bindings_map(None) is None
    assert MessageBindings.from_bindings_map({"http": None}) == MessageBindings()
    assert ServerBindings.from_bindings_map({"http": {}}) == ServerBindings()
    assert ChannelBindings.from_bindings_map({"http": {"bindingVersion": "0.2.0"}}) == (
        ChannelBindings(binding_version="0.2.0")
    )
    message = MessageBindings.from_bindings_map({"http": MESSAGE_DOC})
    assert message is not None
    assert message.status_code == 200
    with pytest.raises(ConfigError, match="unresolved \\$ref"):
        MessageBindings.from_bindings_map({"$ref": "#/components/messageBindings/m"})
