"""Tests for syncapi.servers: server URLs, typed options and AsyncAPI server variables."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import pytest

from syncapi.errors import ConfigError
from syncapi.servers import (
    HostPort,
    ServerURL,
    ServerVariable,
    expand_server_variables,
    option_names,
    parse_server_url,
    resolve_options,
    server_url_from_asyncapi,
)

SECRET = "s3cr#t/p@ss"


@dataclass(frozen=True)
class MemoryOptions:
    """Options of a made-up protocol, covering every supported type."""

    max_queue: int = 10_000
    send_timeout: float | None = None
    group: str | None = None
    durable: bool = False
    mode: Literal["fanout", "queue"] = "fanout"
    hosts_list: tuple[str, ...] = ()
    ports: tuple[int, ...] = ()
    client_id: str = "syncapi"


@dataclass(frozen=True)
class RequiredOptions:
    """Options with a field that has no default."""

    topic: str
    retries: int = 3


# --------------------------------------------------------------------------- HostPort


@pytest.mark.parametrize(
    ("host", "port", "text"),
    [
        ("localhost", 9092, "localhost:9092"),
        ("localhost", None, "localhost"),
        ("::1", 9093, "[::1]:9093"),
        ("fe80::1", None, "[fe80::1]"),
        ("10.0.0.1", 1, "10.0.0.1:1"),
    ],
)
def test_hostport_str(host: str, port: int | None, text: str) -> None:
    assert str(HostPort(host, port)) == text


# --------------------------------------------------------------------------- parse_server_url


def test_parse_full_url() -> None:
    url = parse_server_url("Kafka://user:pw@h1:9092,h2:9093,[::1]:9094/some/path?opt=1&b=x")
    assert url.scheme == "kafka"
    assert url.hosts == (HostPort("h1", 9092), HostPort("h2", 9093), HostPort("::1", 9094))
    assert url.username == "user"
    assert url.password == "pw"
    assert url.path == "/some/path"
    assert url.raw_path == "/some/path"
    assert url.query == {"opt": "1", "b": "x"}
    assert url.host == "h1"
    assert url.port == 9092
    assert url.netloc == "h1:9092,h2:9093,[::1]:9094"


@pytest.mark.parametrize(
    ("text", "hosts"),
    [
        ("memory://demo", (HostPort("demo", None),)),
        ("memory://", ()),
        ("kafka://localhost", (HostPort("localhost", None),)),
        ("kafka://127.0.0.1:9092", (HostPort("127.0.0.1", 9092),)),
        ("kafka://a:1,b:2,c:3", (HostPort("a", 1), HostPort("b", 2), HostPort("c", 3))),
        ("kafka://a,b:2", (HostPort("a", None), HostPort("b", 2))),
        ("tcp://[::1]", (HostPort("::1", None),)),
        ("tcp://[::1]:65535", (HostPort("::1", 65535),)),
        ("tcp://[fe80::1%25eth0]:80", (HostPort("fe80::1%eth0", 80),)),
        (
            "udp://[2001:db8::1]:53,10.0.0.1:53",
            (HostPort("2001:db8::1", 53), HostPort("10.0.0.1", 53)),
        ),
        ("  kafka://padded:1  ", (HostPort("padded", 1),)),
    ],
)
def test_parse_hosts(text: str, hosts: tuple[HostPort, ...]) -> None:
    assert parse_server_url(text).hosts == hosts


def test_no_host_properties() -> None:
    url = parse_server_url("memory://")
    assert url.host is None
    assert url.port is None
    assert url.netloc == ""
    assert str(url) == "memory://"


@pytest.mark.parametrize(
    ("text", "username", "password"),
    [
        ("amqp://guest:guest@h", "guest", "guest"),
        ("amqp://guest@h", "guest", None),
        ("redis://:only-password@h", None, "only-password"),
        ("amqp://us%40er:p%3Ass%2Fw%23rd@h", "us@er", "p:ss/w#rd"),
        ("amqp://user:@h", "user", ""),
        ("amqp://user:p@ss@h", "user", "p@ss"),
    ],
)
def test_userinfo_is_percent_decoded(text: str, username: str | None, password: str | None) -> None:
    url = parse_server_url(text)
    assert (url.username, url.password) == (username, password)
    assert url.host == "h"


@pytest.mark.parametrize(
    ("text", "path", "raw_path"),
    [
        ("amqp://h:5672/%2F", "//", "/%2F"),  # vhost "/" is path[1:]
        ("amqp://h/%2Fprod", "//prod", "/%2Fprod"),
        ("amqp://h/production", "/production", "/production"),
        ("http://h/a%20b/c", "/a b/c", "/a%20b/c"),
        ("http://h", "", ""),
        ("http://h/", "/", "/"),
        ("http://h?x=1", "", ""),
        ("http://h/users/@me", "/users/@me", "/users/@me"),
    ],
)
def test_path(text: str, path: str, raw_path: str) -> None:
    url = parse_server_url(text)
    assert (url.path, url.raw_path) == (path, raw_path)


@pytest.mark.parametrize(
    ("text", "query"),
    [
        ("k://h?a=1&b=two", {"a": "1", "b": "two"}),
        ("k://h?flag", {"flag": ""}),
        ("k://h?flag=&x=1", {"flag": "", "x": "1"}),
        ("k://h?a=1&&b=2&", {"a": "1", "b": "2"}),
        ("k://h?", {}),
        ("k://h/p?name=a%20b%26c", {"name": "a b&c"}),
        ("k://h?plus=a+b", {"plus": "a+b"}),
        ("k://h?list=a,b,c", {"list": "a,b,c"}),
        ("k://h?eq=a=b", {"eq": "a=b"}),
    ],
)
def test_query(text: str, query: dict[str, str]) -> None:
    assert parse_server_url(text).query == query


def test_repr_and_str_hide_password() -> None:
    url = parse_server_url("amqp://user:hunter2@h:5672/vhost?heartbeat=5")
    assert "hunter2" not in repr(url)
    assert "hunter2" not in str(url)
    assert "hunter2" not in url.redacted()
    assert url.redacted() == "amqp://user:***@h:5672/vhost?heartbeat=5"
    assert str(url) == url.redacted()
    assert repr(url) == "ServerURL('amqp://user:***@h:5672/vhost?heartbeat=5')"


def test_redacted_hides_secret_query_values() -> None:
    url = parse_server_url("kafka://h:1?sasl_password=pw1&api_key=k2&accessToken=t3&acks=all")
    text = url.redacted()
    for secret in ("pw1", "k2", "t3"):
        assert secret not in text
    assert "acks=all" in text
    assert url.query["sasl_password"] == "pw1"


def test_redacted_round_trips() -> None:
    text = "kafka://us%40er@h1:1,[::1]:2/a%2Fb?x=1&flag"
    url = parse_server_url(text)
    assert url.redacted() == text
    assert parse_server_url(url.redacted()) == url


def test_with_default_port() -> None:
    url = parse_server_url("kafka://u:p@a,b:9093,[::1]/x?q=1")
    filled = url.with_default_port(9092)
    assert filled.hosts == (HostPort("a", 9092), HostPort("b", 9093), HostPort("::1", 9092))
    assert (filled.scheme, filled.password, filled.path, filled.query) == (
        "kafka",
        "p",
        "/x",
        {"q": "1"},
    )
    assert url.hosts[0].port is None  # the original is unchanged


@pytest.mark.parametrize("port", [0, 65536, -1, True])
def test_with_default_port_rejects_bad_port(port: int) -> None:
    with pytest.raises(ConfigError, match="default port"):
        parse_server_url("kafka://a").with_default_port(port)


def test_server_url_is_hashable_and_comparable() -> None:
    one = parse_server_url("kafka://a:1?x=1")
    assert one == parse_server_url("kafka://a:1?x=1")
    assert one != parse_server_url("kafka://a:1?x=2")
    assert hash(one) == hash(parse_server_url("kafka://a:1?x=2"))


@pytest.mark.parametrize(
    ("text", "culprit"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("localhost:9092", "no scheme"),
        ("kafka:/localhost", "no scheme"),
        ("://localhost", "no scheme"),
        ("1kafka://h", "'1kafka'"),
        ("ka fka://h", "'ka fka'"),
        ("kafka://h:abc", "port 'abc' is not an integer"),
        ("kafka://h:", "port '' is not an integer"),
        ("kafka://h:1.5", "port '1.5' is not an integer"),
        ("kafka://h:0", "port 0 is out of range"),
        ("kafka://h:65536", "port 65536 is out of range"),
        ("kafka://a:1,,b:2", "empty host"),
        ("kafka://a:1,", "empty host"),
        ("kafka://,a:1", "empty host"),
        ("kafka://[::1:9092", "unbalanced '['"),
        ("kafka://::1]:9092", "unbalanced bracket"),
        ("kafka://::1", "in brackets"),
        ("kafka://[nope]:1", "'nope' in brackets is not an IPv6 address"),
        ("kafka://[::1]x", "unexpected 'x' after ']'"),
        ("kafka://:9092", "missing host name"),
        ("kafka://{host}:9092", "expand server variables"),
        ("kafka://a b:9092", "invalid character ' '"),
        ("kafka://h/path#frag", "fragment"),
        ("kafka://h?a=1&b=2&a=3", "query option 'a' is given more than once"),
        ("kafka://h?=1", "empty name"),
    ],
)
def test_bad_urls(text: str, culprit: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_server_url(text)
    assert culprit in str(info.value)
    if text.strip():
        assert "server URL" in str(info.value)


@pytest.mark.parametrize("value", [None, 42, b"kafka://h"])
def test_url_must_be_a_string(value: Any) -> None:
    with pytest.raises(ConfigError, match=f"must be a string, got {type(value).__name__}"):
        parse_server_url(value)


@pytest.mark.parametrize(
    "text",
    [
        f"kafka://user:{SECRET}@h:9092#frag",  # '#' and '/' unencoded in the password
        f"kafka://user:{SECRET}@h:abc",
        f"kafka://user:{SECRET}@h:0",
        f"kafka://user:{SECRET}@a,,b",
        f"kafka://user:{SECRET}@h?x=1&x=2",
        f"kafka://user:{SECRET}@[::1",
        "kafka://user:p/ss@h:1",  # the parser sees host 'user' and port 'p'
        "kafka://user:hunter2@h?sasl_password=hunter2&sasl_password=again",
        "user:hunter2@h:9092",
    ],
)
def test_errors_never_show_the_password(text: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_server_url(text)
    message = str(info.value)
    for secret in (SECRET, "hunter2", "p/ss", "again", "s3cr"):
        assert secret not in message
    assert "***" in message


def test_error_for_bad_port_hides_text_that_may_be_password() -> None:
    with pytest.raises(ConfigError) as info:
        parse_server_url("kafka://user:pw/x@h:1")
    assert "'pw'" not in str(info.value)
    assert "not an integer" in str(info.value)


# --------------------------------------------------------------------------- resolve_options


def test_option_names() -> None:
    assert option_names(MemoryOptions) == [
        "max_queue",
        "send_timeout",
        "group",
        "durable",
        "mode",
        "hosts_list",
        "ports",
        "client_id",
    ]


def test_option_names_needs_a_dataclass() -> None:
    with pytest.raises(TypeError):
        option_names(int)


def test_defaults_when_nothing_given() -> None:
    assert resolve_options(MemoryOptions, {}) == MemoryOptions()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"max_queue": "5"}, {"max_queue": 5}),
        ({"maxQueue": " 7 "}, {"max_queue": 7}),
        ({"send_timeout": "2.5"}, {"send_timeout": 2.5}),
        ({"sendTimeout": "3"}, {"send_timeout": 3.0}),
        ({"send_timeout": ""}, {"send_timeout": None}),
        ({"send_timeout": "None"}, {"send_timeout": None}),
        ({"send_timeout": "null"}, {"send_timeout": None}),
        ({"group": "billing"}, {"group": "billing"}),
        ({"group": ""}, {"group": None}),
        ({"client_id": ""}, {"client_id": ""}),
        ({"clientId": "abc"}, {"client_id": "abc"}),
        ({"durable": "true"}, {"durable": True}),
        ({"durable": "YES"}, {"durable": True}),
        ({"durable": "On"}, {"durable": True}),
        ({"durable": "1"}, {"durable": True}),
        ({"durable": "false"}, {"durable": False}),
        ({"durable": "no"}, {"durable": False}),
        ({"durable": "OFF"}, {"durable": False}),
        ({"durable": "0"}, {"durable": False}),
        ({"mode": "queue"}, {"mode": "queue"}),
        ({"hosts_list": "a, b,c"}, {"hosts_list": ("a", "b", "c")}),
        ({"hostsList": ""}, {"hosts_list": ()}),
        ({"ports": "1,2, 3"}, {"ports": (1, 2, 3)}),
    ],
)
def test_query_conversion(query: dict[str, str], expected: dict[str, Any]) -> None:
    options = resolve_options(MemoryOptions, query)
    for name, value in expected.items():
        got = getattr(options, name)
        assert got == value
        assert type(got) is type(value)


def test_from_parsed_url() -> None:
    url = parse_server_url("memory://demo?maxQueue=3&mode=queue&durable=on&ports=1,2")
    options = resolve_options(MemoryOptions, url.query)
    assert options == MemoryOptions(max_queue=3, mode="queue", durable=True, ports=(1, 2))


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"max_queue": 3}, {"max_queue": 3}),
        ({"send_timeout": 2}, {"send_timeout": 2.0}),
        ({"send_timeout": 2.5}, {"send_timeout": 2.5}),
        ({"send_timeout": None}, {"send_timeout": None}),
        ({"durable": True}, {"durable": True}),
        ({"mode": "queue"}, {"mode": "queue"}),
        ({"hosts_list": ["a", "b"]}, {"hosts_list": ("a", "b")}),
        ({"ports": (1, 2)}, {"ports": (1, 2)}),
        ({"clientId": "camel"}, {"client_id": "camel"}),
    ],
)
def test_overrides(overrides: dict[str, Any], expected: dict[str, Any]) -> None:
    options = resolve_options(MemoryOptions, {}, overrides)
    for name, value in expected.items():
        got = getattr(options, name)
        assert got == value
        assert type(got) is type(value)


def test_overrides_win_over_query() -> None:
    options = resolve_options(
        MemoryOptions,
        {"max_queue": "5", "clientId": "from-url"},
        {"max_queue": 9, "client_id": "kw"},
    )
    assert (options.max_queue, options.client_id) == (9, "kw")


@pytest.mark.parametrize(
    ("query", "culprits"),
    [
        ({"max_queue": "abc"}, ["option 'max_queue'", "an integer", "'abc'", "URL query"]),
        ({"max_queue": "1.5"}, ["option 'max_queue'", "'1.5'"]),
        ({"send_timeout": "soon"}, ["option 'send_timeout'", "a number", "'soon'"]),
        ({"durable": "maybe"}, ["option 'durable'", "true/false", "'maybe'"]),
        ({"durable": ""}, ["option 'durable'", "''"]),
        ({"mode": "broadcast"}, ["option 'mode'", "'fanout', 'queue'", "'broadcast'"]),
        ({"ports": "1,x"}, ["option 'ports'", "comma-separated", "'1,x'"]),
        ({"ports": "1,,2"}, ["option 'ports'", "'1,,2'"]),
    ],
)
def test_bad_query_values(query: dict[str, str], culprits: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        resolve_options(MemoryOptions, query)
    for culprit in culprits:
        assert culprit in str(info.value)


def test_exact_message_for_bad_integer() -> None:
    with pytest.raises(ConfigError) as info:
        resolve_options(MemoryOptions, {"max_queue": "abc"})
    assert (
        str(info.value) == "option 'max_queue': expected an integer, got 'abc' (from the URL query)"
    )


@pytest.mark.parametrize(
    ("overrides", "culprits"),
    [
        ({"max_queue": "5"}, ["option 'max_queue'", "an integer", "'5'", "str"]),
        ({"max_queue": True}, ["option 'max_queue'", "True", "bool"]),
        ({"max_queue": 1.0}, ["option 'max_queue'", "float"]),
        ({"send_timeout": "2"}, ["option 'send_timeout'", "'2'"]),
        ({"send_timeout": False}, ["option 'send_timeout'", "False"]),
        ({"durable": 1}, ["option 'durable'", "a bool", "int"]),
        ({"group": 5}, ["option 'group'", "a string"]),
        ({"mode": "other"}, ["option 'mode'", "'fanout', 'queue'", "'other'"]),
        ({"hosts_list": "a,b"}, ["option 'hosts_list'", "tuple or list", "'a,b'"]),
        ({"ports": [1, "2"]}, ["option 'ports'", "[1, '2']"]),
        ({"client_id": None}, ["option 'client_id'", "None"]),
    ],
)
def test_bad_override_values(overrides: dict[str, Any], culprits: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        resolve_options(MemoryOptions, {}, overrides)
    for culprit in culprits:
        assert culprit in str(info.value)
    assert "keyword argument" in str(info.value)


@pytest.mark.parametrize(
    ("query", "overrides", "culprits"),
    [
        (
            {"max_queu": "1"},
            None,
            ["'max_queu'", "URL query", "did you mean 'max_queue'", "max_queue, send_timeout"],
        ),
        ({"maxQueu": "1"}, None, ["'maxQueu'", "did you mean 'max_queue'"]),
        ({"zzz": "1"}, None, ["'zzz'", "known options: max_queue"]),
        ({}, {"grup": "x"}, ["'grup'", "keyword argument", "did you mean 'group'"]),
    ],
)
def test_unknown_options(
    query: dict[str, str], overrides: dict[str, Any] | None, culprits: list[str]
) -> None:
    with pytest.raises(ConfigError) as info:
        resolve_options(MemoryOptions, query, overrides)
    for culprit in culprits:
        assert culprit in str(info.value)


def test_no_suggestion_when_nothing_is_close() -> None:
    with pytest.raises(ConfigError) as info:
        resolve_options(MemoryOptions, {"zzz": "1"})
    assert "did you mean" not in str(info.value)


@pytest.mark.parametrize(
    ("query", "overrides"),
    [
        ({"client_id": "a", "clientId": "b"}, None),
        ({}, {"client_id": "a", "clientId": "b"}),
    ],
)
def test_both_spellings_is_an_error(
    query: dict[str, str], overrides: dict[str, Any] | None
) -> None:
    with pytest.raises(ConfigError) as info:
        resolve_options(MemoryOptions, query, overrides)
    assert "'client_id'" in str(info.value)
    assert "'clientId'" in str(info.value)


def test_required_option() -> None:
    assert resolve_options(RequiredOptions, {"topic": "t"}) == RequiredOptions("t")
    with pytest.raises(ConfigError, match="'topic'"):
        resolve_options(RequiredOptions, {"retries": "1"})


# --------------------------------------------------------------------------- server variables

PORT = {"enum": ["1883", "8883"], "default": "1883", "description": "port"}


def test_server_variable_from_dict() -> None:
    variable = ServerVariable.from_dict({**PORT, "examples": ["1883"], "x-note": "ok"})
    assert variable == ServerVariable(
        enum=("1883", "8883"), default="1883", description="port", examples=("1883",)
    )
    assert ServerVariable.from_dict({}) == ServerVariable()


@pytest.mark.parametrize(
    ("data", "culprit"),
    [
        ({"enum": []}, "'enum' must not be empty"),
        ({"enum": "1883"}, "'enum' must be a list of strings"),
        ({"enum": [1883]}, "'enum' must be a list of strings"),
        ({"enum": ["a"], "default": "b"}, "default 'b' is not one of the enum values 'a'"),
        ({"default": 1883}, "'default' must be a string"),
        ({"examples": "x"}, "'examples' must be a list of strings"),
        ({"defualt": "x"}, "unknown key 'defualt'"),
        ({"$ref": "#/components/serverVariables/port"}, "$ref"),
    ],
)
def test_bad_server_variable(data: dict[str, Any], culprit: str) -> None:
    with pytest.raises(ConfigError) as info:
        ServerVariable.from_dict(data, name="port")
    assert culprit in str(info.value)
    assert "server variable 'port'" in str(info.value)


def test_server_variable_checks_default_when_built_directly() -> None:
    with pytest.raises(ConfigError, match="default 'x'"):
        ServerVariable(enum=("a",), default="x")


VARIABLES: dict[str, Any] = {
    "port": PORT,
    "env": ServerVariable(default="prod"),
    "user": {},
}


@pytest.mark.parametrize(
    ("template", "values", "expected"),
    [
        ("broker.{env}.example.com:{port}", None, "broker.prod.example.com:1883"),
        ("broker.{env}.example.com:{port}", {"port": "8883"}, "broker.prod.example.com:8883"),
        ("{env}-{env}", {"env": "dev"}, "dev-dev"),
        ("plain.example.com", None, "plain.example.com"),
        ("plain.example.com", {"port": "8883"}, "plain.example.com"),
        ("/{user}", {"user": "alice"}, "/alice"),
        ("h:{port}", {"port": 8883}, "h:8883"),  # an int is accepted
    ],
)
def test_expand_server_variables(
    template: str, values: dict[str, str] | None, expected: str
) -> None:
    assert expand_server_variables(template, VARIABLES, values) == expected


@pytest.mark.parametrize(
    ("template", "values", "culprits"),
    [
        ("h:{port}", {"port": "1"}, ["'port'", "'1'", "'1883', '8883'"]),
        ("h", {"port": "1"}, ["'port'", "'1'", "'1883', '8883'"]),
        ("h:{nope}", None, ["'nope'", "not declared", "'port'"]),
        ("h", {"nope": "x"}, ["'nope'", "unknown server variable"]),
        ("h/{user}", None, ["'user'", "no default"]),
        ("h:{port", None, ["unclosed '{'", "position 2", "'h:{port'"]),
        ("h:port}", None, ["unbalanced '}'", "position 6"]),
        ("h:{}", None, ["empty expression", "position 2"]),
        ("h:{a b}", None, ["invalid name 'a b'"]),
        ("h:{po{rt}}", None, ["unexpected '{'", "position 5"]),
        ("h:{port}", {"port": True}, ["'port'", "True"]),
    ],
)
def test_bad_expansion(template: str, values: dict[str, Any] | None, culprits: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        expand_server_variables(template, VARIABLES, values)
    for culprit in culprits:
        assert culprit in str(info.value)


def test_bad_variables_map() -> None:
    with pytest.raises(ConfigError, match="server variable 'port' must be a mapping"):
        expand_server_variables("h:{port}", {"port": "1883"})  # type: ignore[dict-item]


# --------------------------------------------------------------------------- AsyncAPI servers


@pytest.mark.parametrize(
    ("server", "values", "expected"),
    [
        (  # 3.0, from the official migration guide
            {
                "host": "rabbitmq.in.mycompany.com:5672",
                "pathname": "/production",
                "protocol": "amqp",
            },
            None,
            "amqp://rabbitmq.in.mycompany.com:5672/production",
        ),
        (
            {
                "protocol": "amqp",
                "host": "rabbit:{port}",
                "pathname": "/{vhost}",
                "variables": {
                    "port": {"default": "5672"},
                    "vhost": {"enum": ["production", "staging"], "default": "production"},
                },
            },
            {"vhost": "staging"},
            "amqp://rabbit:5672/staging",
        ),
        ({"protocol": "kafka", "host": "k:9092"}, None, "kafka://k:9092"),
        ({"protocol": "http", "host": "h", "pathname": "api"}, None, "http://h/api"),
        (  # 2.6 without a scheme in the url
            {
                "url": "test.mosquitto.org:{port}",
                "protocol": "mqtt",
                "variables": {"port": {"enum": ["1883", "8883"], "default": "1883"}},
            },
            {"port": "8883"},
            "mqtt://test.mosquitto.org:8883",
        ),
        ({"url": "wss://api.gemini.com", "protocol": "wss"}, None, "wss://api.gemini.com"),
        ({"url": "mqtt://test.mosquitto.org"}, None, "mqtt://test.mosquitto.org"),
    ],
)
def test_server_url_from_asyncapi(
    server: dict[str, Any], values: dict[str, str] | None, expected: str
) -> None:
    assert server_url_from_asyncapi(server, values) == expected
    parse_server_url(expected)  # the result is a valid server URL


@pytest.mark.parametrize(
    ("server", "culprit"),
    [
        ({"protocol": "kafka"}, "'host'"),
        ({"host": "h"}, "'protocol' is required"),
        ({"host": "h", "url": "k://h", "protocol": "k"}, "both 'url'"),
        ({"url": "h:1"}, "no scheme and no 'protocol'"),
        ({"url": "/relative", "protocol": "http"}, "relative 'url' '/relative'"),
        ({"host": "kafka://h", "protocol": "kafka"}, "must not contain a scheme"),
        ({"host": 5, "protocol": "kafka"}, "'host' must be a string"),
        ({"host": "h", "protocol": ""}, "'protocol' must be a non-empty string"),
        ({"host": "h", "protocol": "k", "variables": []}, "'variables' must be a mapping"),
        ({"host": "h:{port}", "protocol": "k"}, "'port'"),
        (
            {"host": "h:{port}", "protocol": "k", "variables": {"port": {"enum": ["1"]}}},
            "no value for server variable 'port'",
        ),
    ],
)
def test_bad_asyncapi_servers(server: dict[str, Any], culprit: str) -> None:
    with pytest.raises(ConfigError) as info:
        server_url_from_asyncapi(server)
    assert culprit in str(info.value)


def test_asyncapi_value_for_undeclared_variable() -> None:
    server = {"protocol": "k", "host": "h", "variables": {"port": {"default": "1"}}}
    assert server_url_from_asyncapi(server, {"port": "2"}) == "k://h"
    with pytest.raises(ConfigError, match="'prot'"):
        server_url_from_asyncapi(server, {"prot": "2"})


def test_server_url_type() -> None:
    url = ServerURL("memory", (HostPort("demo"),), path="/x y")
    assert url.redacted() == "memory://demo/x%20y"
