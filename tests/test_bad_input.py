"""The issue's bad-input checks, end to end: each a specific SyncapiError a user can act on."""

from __future__ import annotations

import pytest

import syncapi
from syncapi.errors import ConfigError, ProtocolNotFound
from syncapi.servers import expand_server_variables, server_url_from_asyncapi


def test_malformed_url_names_the_problem() -> None:
    with pytest.raises(ConfigError, match=r"port .*'90x2'"):
        syncapi.producer("memory://broker:90x2")
    with pytest.raises(ConfigError, match="has no scheme"):
        syncapi.producer("localhost:9092")


def test_password_never_in_errors() -> None:
    with pytest.raises(ConfigError) as info:
        syncapi.producer("memory://user:s3cret@a:1,b")
    assert "s3cret" not in str(info.value)


def test_unknown_scheme() -> None:
    with pytest.raises(ProtocolNotFound, match=r"'kafkaa'.*known schemes: .*memory"):
        syncapi.consumer("kafkaa://localhost:9092")


def test_wrong_server_variable() -> None:
    server = {
        "host": "{env}.example.com:{port}",
        "protocol": "memory",
        "variables": {
            "env": {"enum": ["dev", "prod"], "default": "dev"},
            "port": {"default": "9092"},
        },
    }
    assert server_url_from_asyncapi(server) == "memory://dev.example.com:9092"
    with pytest.raises(ConfigError, match=r"'env'.*'staging'.*dev.*prod"):
        server_url_from_asyncapi(server, {"env": "staging"})
    with pytest.raises(ConfigError, match="'region'"):
        expand_server_variables("{region}.example.com", {})


def test_missing_channel_parameter() -> None:
    with syncapi.producer("memory://bad-input") as producer:
        with pytest.raises(ConfigError, match=r"missing value for parameter 'id'"):
            producer.publisher("orders/{id}/{line}", parameters={"line": "1"})
        with pytest.raises(ConfigError, match=r"'extra'"):
            producer.publisher("orders/{id}", parameters={"id": "1", "extra": "x"})


def test_unknown_binding_key() -> None:
    with syncapi.producer("memory://bad-input") as producer:
        with pytest.raises(ConfigError, match=r"memory ChannelBindings: unknown key 'partitions'"):
            producer.publisher("orders", {"partitions": 3})
        with pytest.raises(ConfigError, match=r"unsupported bindingVersion '9.9.9'"):
            producer.publisher("orders", {"bindingVersion": "9.9.9"})


def test_unknown_option_suggests_the_right_one() -> None:
    with pytest.raises(ConfigError, match=r"unknown.*'grop'.*did you mean 'group'"):
        syncapi.consumer("memory://bad-input?grop=a")
