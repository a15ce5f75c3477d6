"""Unit tests of syncapi.ws.bindings (the WebSockets binding 0.1.0 dataclasses); no network."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import pytest

import syncapi.ws.bindings as ws_bindings
from syncapi.bindings import (
    Bindings,
    check_object_schema,
    describe_value,
    property_defaults,
    property_names,
    required_names,
    resolved_object_schema,
)
from syncapi.errors import ConfigError
from syncapi.ws.bindings import (
    ChannelBindings,
    MessageBindings,
    OperationBindings,
    ServerBindings,
)

# The channel example of the binding's README (0.1.0), with a header schema added.
QUERY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "ref": {
            "type": "string",
            "description": "Referral.",
        },
    },
}
HEADERS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["Authorization"],
    "properties": {
        "Authorization": {"type": "string"},
        "X-Client": {"type": "string", "default": "syncapi"},
    },
}
CHANNEL_DOC: dict[str, Any] = {
    "method": "GET",
    "query": QUERY_SCHEMA,
    "headers": HEADERS_SCHEMA,
    "bindingVersion": "0.1.0",
}

PLACEHOLDERS = [ServerBindings, OperationBindings, MessageBindings]
ALL = [ServerBindings, ChannelBindings, OperationBindings, MessageBindings]
# The two fields that hold an object schema: (field name, names helper, required helper,
# defaults helper).
SCHEMA_FIELDS = [
    ("query", "query_names", "required_query", "query_defaults"),
    ("headers", "header_names", "required_headers", "header_defaults"),
]
HELPERS = [helper for fields in SCHEMA_FIELDS for helper in fields[1:]]


def error_of(excinfo: pytest.ExceptionInfo[ConfigError]) -> str:
    """The message of a caught ConfigError."""
    return str(excinfo.value)


def with_schema(name: str, schema: Any) -> ChannelBindings:
    """Build ChannelBindings directly with ``schema`` as its field ``name``."""
    fields: dict[str, Any] = {name: schema}
    return ChannelBindings(**fields)


def call(bindings: ChannelBindings, helper: str) -> Any:
    """Call the helper method named ``helper``."""
    return getattr(bindings, helper)()


# --- shared facts --------------------------------------------------------------------------


def test_public_names() -> None:
    assert sorted(ws_bindings.__all__) == [
        "ChannelBindings",
        "MessageBindings",
        "OperationBindings",
        "ServerBindings",
    ]
    for name in ws_bindings.__all__:
        assert getattr(ws_bindings, name).__doc__
    assert ws_bindings.__doc__ is not None
    for field_name in ("method", "query", "headers", "bindingVersion"):
        assert f"``{field_name}``" in ws_bindings.__doc__
    for helper in HELPERS:
        assert getattr(ChannelBindings, helper).__doc__


@pytest.mark.parametrize("cls", ALL)
def test_protocol_and_versions(cls: type[Bindings]) -> None:
    assert cls.protocol == "ws"
    assert cls.versions == ("0.1.0",)
    assert cls().binding_version is None
    assert cls().effective_version == "0.1.0"
    assert cls.from_dict({}).effective_version == "0.1.0"
    assert cls.from_dict(None) == cls()
    assert cls.from_dict({"bindingVersion": "0.1.0"}).binding_version == "0.1.0"
    assert cls(binding_version="0.1.0").to_dict() == {"bindingVersion": "0.1.0"}
    assert cls().to_dict() == {}


@pytest.mark.parametrize("cls", ALL)
@pytest.mark.parametrize("version", ["0.2.0", "0.0.1", "1.0.0", "latest", "0.1", ""])
def test_unsupported_binding_version_is_refused(cls: type[Bindings], version: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        cls.from_dict({"bindingVersion": version})
    assert error_of(excinfo) == (
        f"ws {cls.__name__}: unsupported bindingVersion {version!r} (supported: 0.1.0)"
    )
    with pytest.raises(ConfigError, match="unsupported bindingVersion"):
        cls(binding_version=version)


@pytest.mark.parametrize("cls", ALL)
def test_binding_version_must_be_a_string(cls: type[Bindings]) -> None:
    with pytest.raises(ConfigError) as excinfo:
        cls.from_dict({"bindingVersion": 0.1})
    assert error_of(excinfo) == f"ws {cls.__name__}: 'bindingVersion' must be str, got float 0.1"


@pytest.mark.parametrize(
    ("key", "hint"),
    [
        ("Method", "method"),
        ("metod", "method"),
        ("querry", "query"),
        ("header", "headers"),
        ("Headers", "headers"),
        ("binding_version", "bindingVersion"),
    ],
)
def test_unknown_keys_are_refused_by_name(key: str, hint: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        ChannelBindings.from_dict({key: "x"})
    message = error_of(excinfo)
    assert message.startswith(f"ws ChannelBindings: unknown key {key!r} (allowed: ")
    assert message.endswith(f"did you mean {hint!r}?")


@pytest.mark.parametrize("key", ["path", "subprotocol", "statusCode"])
def test_unknown_key_lists_the_allowed_keys(key: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        ChannelBindings.from_dict({key: "chat"})
    assert error_of(excinfo) == (
        f"ws ChannelBindings: unknown key {key!r} (allowed: bindingVersion, headers, method, query)"
    )


def test_unknown_field_on_direct_construction() -> None:
    with pytest.raises(TypeError):
        ChannelBindings(subprotocol="chat")  # type: ignore[call-arg]


@pytest.mark.parametrize("cls", ALL)
def test_extensions_are_kept_and_written_back(cls: type[Bindings]) -> None:
    doc = {"bindingVersion": "0.1.0", "x-owner": "chat", "x-meta": {"a": [1, 2]}}
    bindings = cls.from_dict(doc)
    assert bindings.extensions == {"x-owner": "chat", "x-meta": {"a": [1, 2]}}
    assert bindings.to_dict() == doc
    assert cls.from_dict(bindings.to_dict()) == bindings


def test_channel_extensions_with_fields() -> None:
    doc = {**CHANNEL_DOC, "x-rate-limit": 10}
    channel = ChannelBindings.from_dict(doc)
    assert channel.extensions == {"x-rate-limit": 10}
    assert channel.method == "GET"
    assert channel.to_dict() == doc
    assert channel == ChannelBindings(
        method="GET",
        query=QUERY_SCHEMA,
        headers=HEADERS_SCHEMA,
        binding_version="0.1.0",
        extensions={"x-rate-limit": 10},
    )


@pytest.mark.parametrize("cls", ALL)
def test_bad_extension_key_on_direct_construction(cls: type[Bindings]) -> None:
    with pytest.raises(ConfigError) as excinfo:
        cls(extensions={"owner": "chat"})
    assert error_of(excinfo) == f"ws {cls.__name__}: extension key 'owner' must start with 'x-'"


@pytest.mark.parametrize("cls", ALL)
def test_ref_is_refused(cls: type[Bindings]) -> None:
    with pytest.raises(ConfigError) as excinfo:
        cls.from_dict({"$ref": "#/components/x"})
    assert error_of(excinfo) == (
        f"ws {cls.__name__}: unresolved $ref '#/components/x'; resolve references first"
    )


@pytest.mark.parametrize("cls", ALL)
def test_binding_must_be_a_mapping(cls: type[Bindings]) -> None:
    with pytest.raises(ConfigError) as excinfo:
        cls.from_dict(["GET"])  # type: ignore[arg-type]
    assert error_of(excinfo) == f"ws {cls.__name__}: expected a mapping, got list ['GET']"


# --- placeholders --------------------------------------------------------------------------


@pytest.mark.parametrize("cls", PLACEHOLDERS)
@pytest.mark.parametrize("key", ["method", "query", "headers", "url"])
def test_placeholders_take_no_fields(cls: type[Bindings], key: str) -> None:
    assert cls.from_dict(None) == cls()
    assert cls().to_dict() == {}
    with pytest.raises(ConfigError) as excinfo:
        cls.from_dict({key: "x"})
    assert error_of(excinfo) == (
        f"ws {cls.__name__}: unknown key {key!r}; this binding is a placeholder and takes no "
        "fields (only bindingVersion and x- extensions)"
    )


@pytest.mark.parametrize("cls", PLACEHOLDERS)
def test_placeholders_refuse_fields_on_direct_construction(cls: type[Bindings]) -> None:
    with pytest.raises(TypeError):
        cls(method="GET")  # type: ignore[call-arg]


# --- ChannelBindings -----------------------------------------------------------------------


def test_channel_bindings_example() -> None:
    channel = ChannelBindings.from_dict(CHANNEL_DOC)
    assert channel == ChannelBindings(
        method="GET", query=QUERY_SCHEMA, headers=HEADERS_SCHEMA, binding_version="0.1.0"
    )
    assert channel.method == "GET"
    assert channel.query == QUERY_SCHEMA
    assert channel.headers == HEADERS_SCHEMA
    assert type(channel.query) is dict
    assert type(channel.headers) is dict
    assert channel.extensions == {}
    assert channel.query_names() == ("ref",)
    assert channel.required_query() == ()
    assert channel.query_defaults() == {}
    assert channel.header_names() == ("Authorization", "X-Client")
    assert channel.required_headers() == ("Authorization",)
    assert channel.header_defaults() == {"X-Client": "syncapi"}


def test_channel_bindings_round_trip() -> None:
    channel = ChannelBindings.from_dict(CHANNEL_DOC)
    assert channel.to_dict() == CHANNEL_DOC
    assert ChannelBindings.from_dict(channel.to_dict()) == channel
    assert hash(channel) == hash(ChannelBindings.from_dict(copy.deepcopy(CHANNEL_DOC)))


def test_channel_bindings_defaults() -> None:
    channel = ChannelBindings()
    assert channel.method is None
    assert channel.query is None
    assert channel.headers is None
    assert channel.binding_version is None
    assert channel.extensions == {}
    assert channel.to_dict() == {}
    for helper in HELPERS:
        assert not call(channel, helper)
    assert channel.query_names() == ()
    assert channel.query_defaults() == {}
    assert ChannelBindings.from_dict({"method": None, "query": None, "headers": None}) == (channel)


def test_the_document_is_not_changed_or_shared() -> None:
    doc = copy.deepcopy(CHANNEL_DOC)
    channel = ChannelBindings.from_dict(doc)
    assert doc == CHANNEL_DOC
    out = channel.to_dict()
    out["headers"]["properties"]["other"] = {"default": "x"}
    out["query"]["properties"]["other"] = {}
    out["method"] = "POST"
    assert channel.header_names() == ("Authorization", "X-Client")
    assert channel.header_defaults() == {"X-Client": "syncapi"}
    assert channel.query_names() == ("ref",)
    assert channel.method == "GET"


# --- method --------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_both_methods_are_accepted(method: str) -> None:
    assert ChannelBindings.from_dict({"method": method}).method == method
    assert ChannelBindings(method=method).to_dict() == {"method": method}


@pytest.mark.parametrize(
    ("given", "stored"),
    [("get", "GET"), ("Get", "GET"), ("post", "POST"), ("pOsT", "POST")],
)
def test_method_in_any_case_is_stored_upper_case(given: str, stored: str) -> None:
    from_doc = ChannelBindings.from_dict({"method": given})
    assert from_doc.method == stored
    assert from_doc.to_dict() == {"method": stored}
    direct = ChannelBindings(method=given)
    assert direct.method == stored
    assert direct == from_doc
    assert hash(direct) == hash(from_doc)
    assert ChannelBindings().replace(method=given).method == stored
    assert ChannelBindings.coerce({"method": given}) == direct


@pytest.mark.parametrize(
    "method",
    ["PUT", "delete", "HEAD", "CONNECT", "fetch", "", " GET", "GET ", "GETS", "poſt", "ＧＥＴ"],
)
def test_other_methods_are_refused_with_the_allowed_ones(method: str) -> None:
    message = (
        f"ws ChannelBindings: 'method' must be one of GET, POST (in any letter case), "
        f"got str {method!r}"
    )
    with pytest.raises(ConfigError) as excinfo:
        ChannelBindings.from_dict({"method": method})
    assert error_of(excinfo) == message
    with pytest.raises(ConfigError) as excinfo:
        ChannelBindings(method=method)
    assert error_of(excinfo) == message


@pytest.mark.parametrize(
    ("method", "got"),
    [(1, "int 1"), (True, "bool True"), (["GET"], "list ['GET']"), (b"GET", "bytes b'GET'")],
)
def test_method_must_be_a_string(method: Any, got: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        ChannelBindings.from_dict({"method": method})
    assert error_of(excinfo) == f"ws ChannelBindings: 'method' must be str, got {got}"
    with pytest.raises(ConfigError) as excinfo:
        ChannelBindings(method=method)
    assert error_of(excinfo) == f"ws ChannelBindings: 'method' must be str, got {got}"


# --- query and headers: object schemas -----------------------------------------------------


@pytest.mark.parametrize(("name", "names", "required", "defaults"), SCHEMA_FIELDS)
def test_schema_without_type_or_properties_is_accepted(
    name: str, names: str, required: str, defaults: str
) -> None:
    schemas: list[dict[str, Any]] = [
        {},
        {"type": "object"},
        {"properties": {}},
        {"description": "free"},
    ]
    for schema in schemas:
        channel = ChannelBindings.from_dict({name: schema})
        assert getattr(channel, name) == schema
        assert call(channel, names) == ()
        assert call(channel, required) == ()
        assert call(channel, defaults) == {}
        assert channel.to_dict() == {name: schema}


@pytest.mark.parametrize(("name", "names", "required", "defaults"), SCHEMA_FIELDS)
def test_schema_is_kept_as_a_plain_dict(
    name: str, names: str, required: str, defaults: str
) -> None:
    schema = MappingProxyType({"type": "object", "properties": {"a": {}, "b": True}})
    channel = with_schema(name, schema)
    stored = getattr(channel, name)
    assert type(stored) is dict
    assert stored == {"type": "object", "properties": {"a": {}, "b": True}}
    assert call(channel, names) == ("a", "b")


@pytest.mark.parametrize(("name", "names", "required", "defaults"), SCHEMA_FIELDS)
@pytest.mark.parametrize(
    ("value", "got"),
    [("object", "str 'object'"), (["type"], "list ['type']"), (True, "bool True"), (1, "int 1")],
)
def test_schema_must_be_a_mapping(
    name: str, names: str, required: str, defaults: str, value: Any, got: str
) -> None:
    message = f"ws ChannelBindings: {name!r} must be mapping, got {got}"
    with pytest.raises(ConfigError) as excinfo:
        ChannelBindings.from_dict({name: value})
    assert error_of(excinfo) == message
    with pytest.raises(ConfigError) as excinfo:
        with_schema(name, value)
    assert error_of(excinfo) == message


@pytest.mark.parametrize(("name", "names", "required", "defaults"), SCHEMA_FIELDS)
@pytest.mark.parametrize(
    ("schema_type", "got"),
    [
        ("string", "str 'string'"),
        ("array", "str 'array'"),
        ("Object", "str 'Object'"),
        (["object"], "list ['object']"),
        (None, "None"),
    ],
)
def test_schema_type_must_be_object(
    name: str, names: str, required: str, defaults: str, schema_type: Any, got: str
) -> None:
    with pytest.raises(ConfigError) as excinfo:
        ChannelBindings.from_dict({name: {"type": schema_type, "properties": {}}})
    assert error_of(excinfo) == (
        f"ws ChannelBindings: {name!r} must be an object schema: 'type' must be 'object', got {got}"
    )


@pytest.mark.parametrize(("name", "names", "required", "defaults"), SCHEMA_FIELDS)
@pytest.mark.parametrize(
    ("properties", "got"),
    [(["a", "b"], "list ['a', 'b']"), ("a", "str 'a'"), (None, "None"), (3, "int 3")],
)
def test_schema_properties_must_be_a_mapping(
    name: str, names: str, required: str, defaults: str, properties: Any, got: str
) -> None:
    with pytest.raises(ConfigError) as excinfo:
        ChannelBindings.from_dict({name: {"type": "object", "properties": properties}})
    assert error_of(excinfo) == (
        f"ws ChannelBindings: '{name}.properties' must be a mapping of names to schemas, got {got}"
    )


@pytest.mark.parametrize(("name", "names", "required", "defaults"), SCHEMA_FIELDS)
@pytest.mark.parametrize(
    ("value", "got"), [("string", "str 'string'"), (1, "int 1"), (None, "None"), ([], "list []")]
)
def test_each_property_must_be_a_schema(
    name: str, names: str, required: str, defaults: str, value: Any, got: str
) -> None:
    with pytest.raises(ConfigError) as excinfo:
        ChannelBindings.from_dict({name: {"properties": {"ok": {}, "bad": value}}})
    assert error_of(excinfo) == (
        f"ws ChannelBindings: '{name}.properties.bad' must be a schema (a mapping or a "
        f"boolean), got {got}"
    )


@pytest.mark.parametrize(("name", "names", "required", "defaults"), SCHEMA_FIELDS)
def test_property_names_must_be_strings(
    name: str, names: str, required: str, defaults: str
) -> None:
    with pytest.raises(ConfigError) as excinfo:
        with_schema(name, {"properties": {1: {}}})
    assert error_of(excinfo) == (
        f"ws ChannelBindings: '{name}.properties' names must be str, got int 1"
    )


@pytest.mark.parametrize(("name", "names", "required", "defaults"), SCHEMA_FIELDS)
@pytest.mark.parametrize(
    ("required_list", "message"),
    [
        ("id", "'{name}.required' must be a list of str, got str 'id'"),
        ({"id": True}, "'{name}.required' must be a list of str, got dict {{'id': True}}"),
        (None, "'{name}.required' must be a list of str, got None"),
        (["a", 2], "'{name}.required[1]' must be str, got int 2"),
        (["a", "b", "a"], "'{name}.required' lists 'a' more than once"),
    ],
)
def test_schema_required_must_be_a_list_of_distinct_strings(
    name: str, names: str, required: str, defaults: str, required_list: Any, message: str
) -> None:
    with pytest.raises(ConfigError) as excinfo:
        ChannelBindings.from_dict({name: {"properties": {"a": {}}, "required": required_list}})
    assert error_of(excinfo) == "ws ChannelBindings: " + message.format(name=name)


def test_both_schemas_are_checked() -> None:
    # A good query does not hide a bad headers schema, and the reverse.
    with pytest.raises(ConfigError, match=re.escape("'headers' must be an object schema")):
        ChannelBindings(query=QUERY_SCHEMA, headers={"type": "array"})
    with pytest.raises(ConfigError, match=re.escape("'query' must be an object schema")):
        ChannelBindings(query={"type": "array"}, headers=HEADERS_SCHEMA)


@pytest.mark.parametrize(("name", "names", "required", "defaults"), SCHEMA_FIELDS)
def test_ref_schema_is_accepted_and_kept_but_not_read(
    name: str, names: str, required: str, defaults: str
) -> None:
    ref = {"$ref": "#/components/schemas/Handshake"}
    channel = ChannelBindings.from_dict({name: ref})
    assert getattr(channel, name) == ref
    assert channel.to_dict() == {name: ref}
    assert ChannelBindings.from_dict(channel.to_dict()) == channel
    for helper in (names, required, defaults):
        with pytest.raises(ConfigError) as excinfo:
            call(channel, helper)
        assert error_of(excinfo) == (
            f"ws ChannelBindings: {name!r} is an unresolved $ref "
            "'#/components/schemas/Handshake'; resolve references first"
        )


def test_a_ref_in_one_schema_leaves_the_other_readable() -> None:
    channel = ChannelBindings(query={"$ref": "#/q"}, headers=HEADERS_SCHEMA)
    assert channel.header_names() == ("Authorization", "X-Client")
    assert channel.header_defaults() == {"X-Client": "syncapi"}
    with pytest.raises(ConfigError, match="unresolved"):
        channel.query_names()


@pytest.mark.parametrize(("name", "names", "required", "defaults"), SCHEMA_FIELDS)
def test_ref_siblings_are_not_checked(name: str, names: str, required: str, defaults: str) -> None:
    schema = {"$ref": "#/components/schemas/P", "type": "string"}
    assert getattr(ChannelBindings.from_dict({name: schema}), name) == schema


@pytest.mark.parametrize(("name", "names", "required", "defaults"), SCHEMA_FIELDS)
@pytest.mark.parametrize(("ref", "got"), [(1, "int 1"), ("", "str ''"), (None, "None")])
def test_ref_must_be_a_non_empty_string(
    name: str, names: str, required: str, defaults: str, ref: Any, got: str
) -> None:
    with pytest.raises(ConfigError) as excinfo:
        ChannelBindings.from_dict({name: {"$ref": ref}})
    assert error_of(excinfo) == (
        f"ws ChannelBindings: '{name}.$ref' must be a non-empty string, got {got}"
    )


# --- names and required names --------------------------------------------------------------


def test_query_names_keep_the_document_order() -> None:
    channel = ChannelBindings(
        query={
            "type": "object",
            "properties": {"token": {"type": "string"}, "room": {}, "Last-Id": {}},
            "required": ["room", "token"],
        }
    )
    assert channel.query_names() == ("token", "room", "Last-Id")
    assert channel.required_query() == ("room", "token")
    assert isinstance(channel.query_names(), tuple)
    assert isinstance(channel.required_query(), tuple)


def test_header_names_as_written() -> None:
    channel = ChannelBindings(
        headers={
            "properties": {"X-Request-Id": {"type": "string"}, "accept": {}, "ETag": {}},
            "required": ["accept"],
        }
    )
    assert channel.header_names() == ("X-Request-Id", "accept", "ETag")
    assert channel.required_headers() == ("accept",)


@pytest.mark.parametrize(("name", "names", "required", "defaults"), SCHEMA_FIELDS)
def test_required_without_properties_and_from_a_tuple(
    name: str, names: str, required: str, defaults: str
) -> None:
    channel = with_schema(name, {"required": ("id",)})
    assert call(channel, names) == ()
    assert call(channel, required) == ("id",)
    assert channel.to_dict() == {name: {"required": ["id"]}}
    assert call(with_schema(name, {"properties": {"id": {}}}), required) == ()
    assert call(with_schema(name, {"required": []}), required) == ()


def test_query_and_headers_are_independent() -> None:
    channel = ChannelBindings(
        query={"properties": {"q": {"default": 1}}, "required": ["q"]},
        headers={"properties": {"H": {"default": "h"}}, "required": ["H"]},
    )
    assert channel.query_names() == ("q",)
    assert channel.required_query() == ("q",)
    assert channel.query_defaults() == {"q": "1"}
    assert channel.header_names() == ("H",)
    assert channel.required_headers() == ("H",)
    assert channel.header_defaults() == {"H": "h"}


# --- defaults ------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "names", "required", "defaults"), SCHEMA_FIELDS)
@pytest.mark.parametrize(
    ("default", "text"),
    [
        (True, "true"),
        (False, "false"),
        (0, "0"),
        (10, "10"),
        (-3, "-3"),
        (2**70, "1180591620717411303424"),
        (2.5, "2.5"),
        (2.0, "2.0"),
        (-0.125, "-0.125"),
        ("", ""),
        ("en-GB", "en-GB"),
        ("a b&c=d/é", "a b&c=d/é"),
        ("TRUE", "TRUE"),
    ],
)
def test_defaults_as_wire_text(
    name: str, names: str, required: str, defaults: str, default: Any, text: str
) -> None:
    channel = ChannelBindings.from_dict({name: {"properties": {"p": {"default": default}}}})
    result = call(channel, defaults)
    assert result == {"p": text}
    assert type(result["p"]) is str


@pytest.mark.parametrize(("name", "names", "required", "defaults"), SCHEMA_FIELDS)
def test_defaults_only_for_properties_that_give_one(
    name: str, names: str, required: str, defaults: str
) -> None:
    channel = with_schema(
        name,
        {
            "properties": {
                "z": {"type": "integer", "default": 5},
                "none": {"type": "string"},
                "any": True,
                "never": False,
                "a": {"enum": ["x", "y"], "default": "y"},
                "flag": {"type": "boolean", "default": False},
            },
            "required": ["none", "z"],
        },
    )
    result = call(channel, defaults)
    assert result == {"z": "5", "a": "y", "flag": "false"}
    assert list(result) == ["z", "a", "flag"]
    # A fresh dict each call: changing one result does not change the next.
    result["z"] = "6"
    assert call(channel, defaults)["z"] == "5"


def test_integer_and_string_subclasses_give_plain_text() -> None:
    class Level(int):
        def __str__(self) -> str:
            return "Level"

    class Name(str):
        def __str__(self) -> str:
            return "Name"

    channel = ChannelBindings(
        query={"properties": {"level": {"default": Level(3)}, "name": {"default": Name("n")}}}
    )
    result = channel.query_defaults()
    assert result == {"level": "3", "name": "n"}
    assert type(result["name"]) is str


@pytest.mark.parametrize(("name", "names", "required", "defaults"), SCHEMA_FIELDS)
@pytest.mark.parametrize(
    ("default", "got"),
    [
        (None, "None"),
        ([1, 2], "list [1, 2]"),
        ({"a": 1}, "dict {'a': 1}"),
        (b"raw", "bytes b'raw'"),
    ],
)
def test_defaults_that_cannot_be_sent_are_refused(
    name: str, names: str, required: str, defaults: str, default: Any, got: str
) -> None:
    channel = ChannelBindings.from_dict(
        {name: {"properties": {"ok": {"default": "x"}, "bad": {"default": default}}}}
    )
    assert call(channel, names) == ("ok", "bad")  # the schema itself is accepted
    carrier = "a URL" if name == "query" else "an HTTP header"
    with pytest.raises(ConfigError) as excinfo:
        call(channel, defaults)
    assert error_of(excinfo) == (
        f"ws ChannelBindings: '{name}.properties.bad.default' must be a string, a number or a "
        f"boolean to go in {carrier}, got {got}"
    )


@pytest.mark.parametrize(("name", "names", "required", "defaults"), SCHEMA_FIELDS)
@pytest.mark.parametrize(
    ("default", "got"), [(float("inf"), "float inf"), (float("-inf"), "float -inf")]
)
def test_infinite_defaults_are_refused(
    name: str, names: str, required: str, defaults: str, default: float, got: str
) -> None:
    channel = with_schema(name, {"properties": {"n": {"default": default}}})
    with pytest.raises(ConfigError) as excinfo:
        call(channel, defaults)
    assert error_of(excinfo) == (
        f"ws ChannelBindings: '{name}.properties.n.default' must be a finite number, got {got}"
    )


@pytest.mark.parametrize(("name", "names", "required", "defaults"), SCHEMA_FIELDS)
def test_nan_default_is_refused(name: str, names: str, required: str, defaults: str) -> None:
    channel = with_schema(name, {"properties": {"n": {"default": float("nan")}}})
    with pytest.raises(ConfigError, match=re.escape("must be a finite number, got float nan")):
        call(channel, defaults)


@pytest.mark.parametrize(
    "value", ["a\r\nX-Injected: 1", "a\nb", "a\rb", "nul\x00", "bell\x07", "del\x7f", "\x1f"]
)
def test_header_defaults_with_control_characters_are_refused(value: str) -> None:
    channel = ChannelBindings(headers={"properties": {"X-Note": {"default": value}}})
    with pytest.raises(ConfigError) as excinfo:
        channel.header_defaults()
    assert error_of(excinfo) == (
        "ws ChannelBindings: 'headers.properties.X-Note.default' cannot go in an HTTP header: "
        f"it holds a control character, got str {value!r}"
    )
    # The same text is a fine query parameter: the URL encoding carries it.
    assert ChannelBindings(query={"properties": {"note": {"default": value}}}).query_defaults() == (
        {"note": value}
    )


@pytest.mark.parametrize("value", ["tab\there", "spaces  inside", "ünïcode", "a,b;q=0.5"])
def test_header_defaults_with_tabs_spaces_and_non_ascii_are_kept(value: str) -> None:
    channel = ChannelBindings(headers={"properties": {"X-Note": {"default": value}}})
    assert channel.header_defaults() == {"X-Note": value}


@pytest.mark.parametrize(("name", "names", "required", "defaults"), SCHEMA_FIELDS)
def test_a_ref_property_schema_is_refused_by_the_defaults_helper(
    name: str, names: str, required: str, defaults: str
) -> None:
    channel = ChannelBindings.from_dict(
        {name: {"properties": {"p": {"$ref": "#/components/schemas/P"}}, "required": ["p"]}}
    )
    assert call(channel, names) == ("p",)
    assert call(channel, required) == ("p",)
    with pytest.raises(ConfigError) as excinfo:
        call(channel, defaults)
    assert error_of(excinfo) == (
        f"ws ChannelBindings: '{name}.properties.p' is an unresolved $ref "
        "'#/components/schemas/P'; resolve references first"
    )


# --- hashing, copies, coerce and bindings maps ---------------------------------------------


def test_schemas_are_left_out_of_the_hash_but_not_of_equality() -> None:
    a = ChannelBindings(method="GET", query={"properties": {"a": {}}}, headers={})
    b = ChannelBindings(method="GET", query={"properties": {"b": {}}}, headers={"required": []})
    assert a != b
    assert hash(a) == hash(b)
    same_as_a = ChannelBindings(method="get", query={"properties": {"a": {}}}, headers={})
    assert len({a, b, same_as_a}) == 2


def test_replace_and_merged() -> None:
    channel = ChannelBindings.from_dict(CHANNEL_DOC)
    assert channel.replace(method="post").method == "POST"
    with pytest.raises(ConfigError, match="'method' must be one of GET, POST"):
        channel.replace(method="put")
    with pytest.raises(ConfigError, match="must be an object schema"):
        channel.replace(headers={"type": "string"})
    with pytest.raises(ConfigError, match="unknown field 'header'"):
        channel.replace(header={})
    merged = channel.merged(ChannelBindings(method="post", query={"properties": {"x": {}}}))
    assert merged.method == "POST"
    assert merged.query_names() == ("x",)
    assert merged.headers == HEADERS_SCHEMA
    assert merged.binding_version == "0.1.0"


def test_coerce() -> None:
    assert ChannelBindings.coerce({"method": "post"}) == ChannelBindings(method="POST")
    assert ChannelBindings.coerce(None) is None
    same = ChannelBindings(headers=HEADERS_SCHEMA)
    assert ChannelBindings.coerce(same) is same
    assert ChannelBindings.coerce({"headers": HEADERS_SCHEMA}) == same
    with pytest.raises(ConfigError) as excinfo:
        ChannelBindings.coerce(MessageBindings())
    assert error_of(excinfo).startswith(
        "ws ChannelBindings: expected a ChannelBindings or a dict, got MessageBindings"
    )
    with pytest.raises(ConfigError, match="'method' must be one of"):
        ChannelBindings.coerce({"method": "fetch"})


def test_from_bindings_map_picks_the_ws_key() -> None:
    bindings: Mapping[str, Any] = {
        "ws": {"method": "get", "query": QUERY_SCHEMA},
        "http": {"method": "PUT"},
        "websockets": {"method": "POST"},
        "wss": {"method": "POST"},
        "kafka": {"groupId": {"const": "g"}},
    }
    channel = ChannelBindings.from_bindings_map(bindings)
    assert channel == ChannelBindings(method="GET", query=QUERY_SCHEMA)
    assert ChannelBindings.from_bindings_map({"http": {}, "websockets": {}}) is None
    assert ChannelBindings.from_bindings_map(None) is None
    assert ChannelBindings.from_bindings_map({"ws": None}) == ChannelBindings()
    assert ServerBindings.from_bindings_map({"ws": {}}) == ServerBindings()
    assert OperationBindings.from_bindings_map({"ws": {"bindingVersion": "0.1.0"}}) == (
        OperationBindings(binding_version="0.1.0")
    )
    assert MessageBindings.from_bindings_map({"ws": {"x-a": 1}}) == MessageBindings(
        extensions={"x-a": 1}
    )
    full = ChannelBindings.from_bindings_map({"ws": CHANNEL_DOC})
    assert full is not None
    assert full.required_headers() == ("Authorization",)
    with pytest.raises(ConfigError, match="unresolved \\$ref"):
        ChannelBindings.from_bindings_map({"$ref": "#/components/channelBindings/c"})
    with pytest.raises(ConfigError, match="'method' must be one of GET, POST"):
        ChannelBindings.from_bindings_map({"ws": {"method": "PUT"}})
    with pytest.raises(ConfigError, match="unknown key 'method'; this binding is a placeholder"):
        MessageBindings.from_bindings_map({"ws": {"method": "GET"}})


# --- the shared object-schema helpers of syncapi.bindings ----------------------------------


def test_shared_helpers_read_an_object_schema() -> None:
    owner = ChannelBindings()
    schema = {
        "properties": {"a": {"default": [1, 2]}, "b": True, "c": {"default": None}, "d": {}},
        "required": ["d", "e"],
    }
    check_object_schema(owner, "query", schema)
    assert resolved_object_schema(owner, "query", schema) is schema
    assert resolved_object_schema(owner, "query", None) == {}
    assert property_names(owner, "query", schema) == ("a", "b", "c", "d")
    assert required_names(owner, "query", schema) == ("d", "e")
    # Raw defaults, as written: conversion to text is the protocol's business.
    assert property_defaults(owner, "query", schema) == {"a": [1, 2], "c": None}
    for reader in (property_names, required_names, property_defaults):
        assert not reader(owner, "query", None)
        assert not reader(owner, "query", {})


def test_shared_helpers_name_the_owner_and_the_field() -> None:
    owner = MessageBindings()
    with pytest.raises(ConfigError) as excinfo:
        check_object_schema(owner, "payload", {"type": "array"})
    assert error_of(excinfo) == (
        "ws MessageBindings: 'payload' must be an object schema: 'type' must be 'object', "
        "got str 'array'"
    )
    with pytest.raises(ConfigError) as excinfo:
        property_defaults(owner, "payload", {"$ref": "#/p"})
    assert error_of(excinfo) == (
        "ws MessageBindings: 'payload' is an unresolved $ref '#/p'; resolve references first"
    )
    check_object_schema(owner, "payload", None)


@pytest.mark.parametrize(
    ("value", "shown"),
    [(None, "None"), (1, "int 1"), ("a", "str 'a'"), (True, "bool True"), ([], "list []")],
)
def test_describe_value(value: Any, shown: str) -> None:
    assert describe_value(value) == shown


def test_describe_value_shortens_long_values() -> None:
    shown = describe_value("x" * 500)
    assert shown.startswith("str 'xxx")
    assert len(shown) < 60
