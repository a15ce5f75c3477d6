"""Tests for syncapi.channels: parameters, channel addresses and the router."""

from __future__ import annotations

import re
import threading
from typing import Any

import pytest

from syncapi.channels import ChannelAddress, ChannelRouter, Parameter
from syncapi.errors import ConfigError

# --------------------------------------------------------------------------- Parameter


def test_parameter_from_3_0_dict() -> None:
    parameter = Parameter.from_dict(
        {
            "enum": ["eu", "us"],
            "default": "eu",
            "description": "the region",
            "examples": ["us"],
            "location": "$message.payload#/region",
            "x-internal": True,
        }
    )
    assert parameter == Parameter(
        enum=("eu", "us"),
        default="eu",
        description="the region",
        examples=("us",),
        location="$message.payload#/region",
    )
    assert Parameter.from_dict({}) == Parameter()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"schema": {"type": "string", "enum": ["a", "b"], "default": "a"}, "description": "d"},
            Parameter(enum=("a", "b"), default="a", description="d"),
        ),
        (
            {"schema": {"type": "integer", "enum": [1, 2], "default": 2}},
            Parameter(enum=("1", "2"), default="2"),
        ),
        (
            {
                "schema": {"type": "string", "pattern": "^[a-z]+$"},
                "location": "$message.header#/id",
            },
            Parameter(location="$message.header#/id"),
        ),
        ({"location": "$message.payload"}, Parameter(location="$message.payload")),
    ],
)
def test_parameter_from_2_6_dict(data: dict[str, Any], expected: Parameter) -> None:
    assert Parameter.from_dict(data) == expected


@pytest.mark.parametrize(
    ("data", "culprit"),
    [
        ({"enum": []}, "'enum' must not be empty"),
        ({"enum": "a"}, "'enum' must be a list of strings"),
        ({"enum": ["a"], "default": "b"}, "default 'b' is not one of the enum values 'a'"),
        ({"default": 3}, "'default' must be a string"),
        ({"description": 3}, "'description' must be a string"),
        ({"examples": [1]}, "'examples' must be a list of strings"),
        ({"location": "$msg.payload#/x"}, "'location' '$msg.payload#/x'"),
        ({"enmu": ["a"]}, "unknown key 'enmu'"),
        ({"schema": {"enum": ["a"]}, "enum": ["a"]}, "'schema'"),
        ({"schema": "string"}, "schema must be a mapping"),
        ({"schema": {"enum": "a"}}, "'enum' must be a list"),
        ({"schema": {"enum": [True]}}, "True"),
        ({"schema": {"enum": ["a"], "default": "b"}}, "default 'b'"),
        ({"schema": {"$ref": "#/components/schemas/Id"}}, "$ref"),
        ({"$ref": "#/components/parameters/id"}, "$ref"),
    ],
)
def test_bad_parameter(data: dict[str, Any], culprit: str) -> None:
    with pytest.raises(ConfigError) as info:
        Parameter.from_dict(data, name="region")
    assert culprit in str(info.value)
    assert "parameter 'region'" in str(info.value)


def test_unknown_key_suggests_close_name() -> None:
    with pytest.raises(ConfigError, match="did you mean 'enum'"):
        Parameter.from_dict({"enmu": ["a"]})


# --------------------------------------------------------------------------- ChannelAddress


@pytest.mark.parametrize(
    ("template", "names"),
    [
        ("orders", ()),
        ("orders/{id}", ("id",)),
        ("{a}", ("a",)),
        ("a/{x}/{y}/{x}", ("x", "y")),
        ("stock.{symbol}.price", ("symbol",)),
        ("/users/{user-id}/{v1.2}/{snake_Case9}", ("user-id", "v1.2", "snake_Case9")),
    ],
)
def test_names(template: str, names: tuple[str, ...]) -> None:
    address = ChannelAddress(template)
    assert address.template == template
    assert address.names == names
    assert address.is_template is bool(names)
    assert str(address) == template
    assert set(address.parameters) == set(names)


@pytest.mark.parametrize(
    ("template", "culprits"),
    [
        ("orders/{id", ["'orders/{id'", "unclosed '{'", "position 7"]),
        ("orders/id}", ["'orders/id}'", "unbalanced '}'", "position 9"]),
        ("orders/{}", ["empty expression", "position 7"]),
        ("orders/{a{b}}", ["unexpected '{'", "position 9"]),
        ("orders/{a b}", ["invalid name 'a b'", "position 7"]),
        ("orders/{a/b}", ["invalid name 'a/b'"]),
        ("}{", ["unbalanced '}'", "position 0"]),
        ("", ["must not be empty"]),
    ],
)
def test_bad_templates(template: str, culprits: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        ChannelAddress(template)
    for culprit in culprits:
        assert culprit in str(info.value)


def test_template_must_be_a_string() -> None:
    with pytest.raises(ConfigError, match="must be a string, got int"):
        ChannelAddress(5)  # type: ignore[arg-type]


def test_parameters_must_cover_the_expressions_exactly() -> None:
    ChannelAddress("a/{x}", {"x": Parameter()})
    ChannelAddress("a", {})
    with pytest.raises(ConfigError) as info:
        ChannelAddress("a/{x}", {"x": {}, "y": {}})
    assert "'y'" in str(info.value)
    assert "'a/{x}'" in str(info.value)
    with pytest.raises(ConfigError) as info:
        ChannelAddress("a/{x}/{y}", {"x": {}})
    assert "'y'" in str(info.value)
    assert "no parameter declared" in str(info.value)
    with pytest.raises(ConfigError, match="parameter 'x' must be a Parameter or a mapping"):
        ChannelAddress("a/{x}", {"x": "string"})  # type: ignore[dict-item]


def test_parameter_errors_name_the_parameter() -> None:
    with pytest.raises(ConfigError, match=r"parameter 'x'.*'enum' must not be empty"):
        ChannelAddress("a/{x}", {"x": {"enum": []}})


def test_bad_segment() -> None:
    with pytest.raises(ConfigError, match=r"segment pattern '\('"):
        ChannelAddress("a/{x}", segment="(")
    with pytest.raises(ConfigError, match="segment"):
        ChannelAddress("a/{x}", segment="")


ORDERS = ChannelAddress(
    "orders/{region}/{id}",
    {"region": {"enum": ["eu", "us"], "default": "eu"}, "id": Parameter(description="id")},
)


@pytest.mark.parametrize(
    ("values", "kwargs", "expected"),
    [
        (None, {"region": "us", "id": "42"}, "orders/us/42"),
        (None, {"id": 42}, "orders/eu/42"),
        ({"region": "us"}, {"id": "7"}, "orders/us/7"),
        ({"id": "x-y.z", "region": None}, {}, "orders/eu/x-y.z"),
    ],
)
def test_expand(values: dict[str, object] | None, kwargs: dict[str, object], expected: str) -> None:
    assert ORDERS.expand(values, **kwargs) == expected


def test_expand_exact_missing_message() -> None:
    with pytest.raises(ConfigError) as info:
        ChannelAddress("orders/{id}").expand()
    assert str(info.value) == "channel 'orders/{id}': missing value for parameter 'id'"


def test_expand_names_that_are_not_identifiers() -> None:
    address = ChannelAddress("users/{user-id}/{v.1}")
    assert address.expand({"user-id": "u1", "v.1": "x"}) == "users/u1/x"


def test_expand_repeated_name() -> None:
    assert ChannelAddress("{x}/mid/{x}").expand(x="a") == "a/mid/a"


def test_expand_literal() -> None:
    assert ChannelAddress("orders").expand() == "orders"


@pytest.mark.parametrize(
    ("values", "culprits"),
    [
        ({"region": "us"}, ["missing value for parameter 'id'"]),
        ({"id": "1", "region": "asia"}, ["parameter 'region'", "'asia'", "'eu', 'us'"]),
        ({"id": "1", "extra": "x", "more": "y"}, ["'extra'", "'more'", "unknown parameter"]),
        ({"id": "a/b"}, ["parameter 'id'", "'a/b'", "[^/]+"]),
        ({"id": ""}, ["parameter 'id'", "empty"]),
        ({"id": 1.5}, ["parameter 'id'", "1.5", "float"]),
        ({"id": True}, ["parameter 'id'", "True", "bool"]),
        ({"id": b"1"}, ["parameter 'id'", "bytes"]),
    ],
)
def test_bad_expand(values: dict[str, object], culprits: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        ORDERS.expand(values)
    message = str(info.value)
    assert "channel 'orders/{region}/{id}'" in message
    for culprit in culprits:
        assert culprit in message


def test_expand_value_given_twice() -> None:
    with pytest.raises(ConfigError, match="parameter 'id' is given twice"):
        ORDERS.expand({"id": "1"}, id="2")


def test_expand_with_custom_segment() -> None:
    address = ChannelAddress("items/{id}", segment="[0-9]+")
    assert address.expand(id=12) == "items/12"
    with pytest.raises(ConfigError, match=r"'abc'.*'\[0-9\]\+'"):
        address.expand(id="abc")


@pytest.mark.parametrize(
    ("template", "address", "expected"),
    [
        ("orders/{id}", "orders/42", {"id": "42"}),
        ("orders/{id}", "orders/42/", None),
        ("orders/{id}", "orders/", None),
        ("orders/{id}", "orders/a/b", None),
        ("orders/{id}", "xorders/1", None),
        ("orders", "orders", {}),
        ("orders", "order", None),
        ("a.b/{x}", "a.b/1", {"x": "1"}),
        ("a.b/{x}", "aXb/1", None),  # literal '.' is escaped
        ("(a)+/{x}", "(a)+/1", {"x": "1"}),
        ("{x}/mid/{x}", "a/mid/a", {"x": "a"}),
        ("{x}/mid/{x}", "a/mid/b", None),
        ("{a}-{b}", "x-y", {"a": "x", "b": "y"}),
        ("/users/{user-id}", "/users/u1", {"user-id": "u1"}),
    ],
)
def test_match(template: str, address: str, expected: dict[str, str] | None) -> None:
    assert ChannelAddress(template).match(address) == expected


def test_match_checks_enum() -> None:
    assert ORDERS.match("orders/us/1") == {"region": "us", "id": "1"}
    assert ORDERS.match("orders/asia/1") is None


def test_match_with_custom_segment() -> None:
    stock = ChannelAddress("stock.{symbol}.price", segment="[^.]+")
    assert stock.match("stock.ACME.price") == {"symbol": "ACME"}
    assert stock.match("stock.A.B.price") is None
    assert ChannelAddress("files/{path}", segment=".+").match("files/a/b/c") == {"path": "a/b/c"}


@pytest.mark.parametrize(
    ("template", "values"),
    [
        ("orders/{region}/{id}", {"region": "eu", "id": "1"}),
        ("orders/{region}/{id}", {"region": "us", "id": "with space and %"}),
        ("{x}/mid/{x}/{y}", {"x": "a.b", "y": "c"}),
        ("/users/{user-id}/posts/{post}", {"user-id": "u-1", "post": "p.1"}),
        ("chat.{room}", {"room": "général"}),
    ],
)
def test_round_trip(template: str, values: dict[str, str]) -> None:
    parameters = ORDERS.parameters if template == ORDERS.template else None
    address = ChannelAddress(template, parameters)
    assert address.match(address.expand(values)) == values


def test_equality_hash_and_repr() -> None:
    a = ChannelAddress("orders/{id}")
    assert a == ChannelAddress("orders/{id}", {"id": {"enum": ["1"]}})
    assert a != ChannelAddress("orders/{id}", segment="[0-9]+")
    assert a != ChannelAddress("orders/{key}")
    assert a != "orders/{id}"
    assert hash(a) == hash(ChannelAddress("orders/{id}"))
    assert len({a, ChannelAddress("orders/{id}")}) == 1
    assert repr(a) == "ChannelAddress('orders/{id}')"
    assert (
        repr(ChannelAddress("i/{x}", segment="[0-9]+"))
        == "ChannelAddress('i/{x}', segment='[0-9]+')"
    )


def test_parse() -> None:
    a = ChannelAddress("orders/{id}")
    assert ChannelAddress.parse(a) is a
    assert ChannelAddress.parse("orders/{id}") == a


def test_parameters_are_read_only() -> None:
    with pytest.raises(TypeError):
        ORDERS.parameters["x"] = Parameter()  # type: ignore[index]


# --------------------------------------------------------------------------- ChannelRouter


def make_router() -> ChannelRouter[str]:
    router: ChannelRouter[str] = ChannelRouter()
    router.add("/{a}/{b}", "generic")
    router.add("/orders/{id}", "order")
    router.add("/orders/new", "new-order")
    router.add(ChannelAddress("/orders/{id}/items"), "items")
    router.add(ChannelAddress("/n/{x}", segment="[0-9]+"), "number")
    router.add(ChannelAddress("/n/{x}", segment="[a-z]+"), "word")
    return router


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("/orders/new", ("new-order", {})),
        ("/orders/5", ("order", {"id": "5"})),
        ("/orders/5/items", ("items", {"id": "5"})),
        ("/x/y", ("generic", {"a": "x", "b": "y"})),
        ("/n/12", ("number", {"x": "12"})),
        ("/n/ab", ("word", {"x": "ab"})),
        ("/n/A1", ("generic", {"a": "n", "b": "A1"})),
        ("/nowhere", None),
        ("/orders/5/items/9", None),
    ],
)
def test_router_resolve(address: str, expected: tuple[str, dict[str, str]] | None) -> None:
    assert make_router().resolve(address) == expected


def test_router_duplicates() -> None:
    router = make_router()
    with pytest.raises(ConfigError, match="'/orders/new' is already registered"):
        router.add("/orders/new", "again")
    with pytest.raises(ConfigError, match=re.escape("'/orders/{id}' is already registered")):
        router.add(ChannelAddress("/orders/{id}"), "again")
    with pytest.raises(
        ConfigError, match=re.escape("'/orders/{key}' is already registered as '/orders/{id}'")
    ):
        router.add("/orders/{key}", "again")
    assert len(router) == 6


def test_router_items_and_first_added_wins_a_tie() -> None:
    router: ChannelRouter[int] = ChannelRouter()
    first = router.add("{a}.x", 1)
    second = router.add("x.{b}", 2)
    assert router.items() == [(first, 1), (second, 2)]
    assert router.resolve("x.x") == (1, {"a": "x"})


def test_router_rejects_bad_templates() -> None:
    with pytest.raises(ConfigError, match="unclosed"):
        ChannelRouter[str]().add("/a/{b", "x")


def test_router_add_from_threads() -> None:
    router: ChannelRouter[int] = ChannelRouter()

    def add(start: int) -> None:
        for i in range(start, start + 50):
            router.add(f"/r{i}/{{x}}", i)

    threads = [threading.Thread(target=add, args=(n * 50,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(router) == 200
    assert router.resolve("/r123/v") == (123, {"x": "v"})


def test_router_remove_frees_the_address() -> None:
    from syncapi.channels import ChannelRouter

    router: ChannelRouter[str] = ChannelRouter()
    router.add("orders/{id}", "a")
    router.add("orders/new", "b")
    assert router.remove("orders/{id}") is True
    assert router.remove("orders/{id}") is False
    assert router.resolve("orders/7") is None
    assert router.resolve("orders/new") == ("b", {})
    router.add("orders/{id}", "c")  # free again
    assert router.resolve("orders/7") == ("c", {"id": "7"})
