"""Tests of syncapi.security: AsyncAPI security schemes as types."""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest

from syncapi.errors import ConfigError
from syncapi.security import (
    SECURITY_SCHEME_TYPES,
    X509,
    ApiKey,
    AsymmetricEncryption,
    Gssapi,
    HttpApiKey,
    HttpAuth,
    OAuth2,
    OAuthFlow,
    OAuthFlows,
    OpenIdConnect,
    Plain,
    ScramSha256,
    ScramSha512,
    SecurityScheme,
    SymmetricEncryption,
    UserPassword,
    security_scheme_from_dict,
)

SECRET = "s3cr3t-Zq9"  # must never show up in a repr, str or error message

OAUTH2_DOC: dict[str, Any] = {
    "type": "oauth2",
    "description": "OAuth2 with every flow",
    "flows": {
        "implicit": {
            "authorizationUrl": "https://auth.example.com/authorize",
            "availableScopes": {"orders:read": "read orders"},
        },
        "password": {
            "tokenUrl": "https://auth.example.com/token",
            "availableScopes": {},
        },
        "clientCredentials": {
            "tokenUrl": "https://auth.example.com/token",
            "refreshUrl": "https://auth.example.com/refresh",
            "availableScopes": {"orders:write": "write orders"},
        },
        "authorizationCode": {
            "authorizationUrl": "https://auth.example.com/authorize",
            "tokenUrl": "https://auth.example.com/token",
            "availableScopes": {"orders:read": "read orders"},
        },
    },
    "scopes": ["orders:read"],
}

DOCS: list[tuple[dict[str, Any], type[SecurityScheme]]] = [
    ({"type": "userPassword"}, UserPassword),
    ({"type": "apiKey", "in": "user", "description": "key as user"}, ApiKey),
    ({"type": "apiKey", "in": "password"}, ApiKey),
    ({"type": "X509"}, X509),
    ({"type": "symmetricEncryption"}, SymmetricEncryption),
    ({"type": "asymmetricEncryption", "x-algorithm": "RSA-OAEP"}, AsymmetricEncryption),
    ({"type": "httpApiKey", "name": "api_key", "in": "query"}, HttpApiKey),
    ({"type": "httpApiKey", "name": "X-API-Key", "in": "header"}, HttpApiKey),
    ({"type": "httpApiKey", "name": "session", "in": "cookie"}, HttpApiKey),
    ({"type": "http", "scheme": "basic"}, HttpAuth),
    ({"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}, HttpAuth),
    ({"type": "http", "scheme": "Bearer", "bearerFormat": "JWT"}, HttpAuth),
    ({"type": "http", "scheme": "digest"}, HttpAuth),
    (OAUTH2_DOC, OAuth2),
    (
        {
            "type": "openIdConnect",
            "openIdConnectUrl": "https://auth.example.com/.well-known/openid-configuration",
            "scopes": ["openid"],
        },
        OpenIdConnect,
    ),
    ({"type": "plain", "x-sasl.mechanism": "PLAIN"}, Plain),
    ({"type": "scramSha256"}, ScramSha256),
    ({"type": "scramSha512"}, ScramSha512),
    ({"type": "gssapi"}, Gssapi),
]


def message_of(excinfo: pytest.ExceptionInfo[ConfigError]) -> str:
    """The message of a caught ConfigError."""
    return str(excinfo.value)


# --- parsing and round trips ------------------------------------------------------------


@pytest.mark.parametrize(("doc", "cls"), DOCS)
def test_from_dict_dispatches_and_round_trips(
    doc: dict[str, Any], cls: type[SecurityScheme]
) -> None:
    scheme = security_scheme_from_dict(doc)
    assert type(scheme) is cls
    assert scheme.to_dict() == doc
    assert security_scheme_from_dict(scheme.to_dict()) == scheme
    assert cls.from_dict(doc) == scheme


def test_every_type_is_registered() -> None:
    assert set(SECURITY_SCHEME_TYPES) == {
        "userPassword",
        "apiKey",
        "X509",
        "symmetricEncryption",
        "asymmetricEncryption",
        "httpApiKey",
        "http",
        "oauth2",
        "openIdConnect",
        "plain",
        "scramSha256",
        "scramSha512",
        "gssapi",
    }
    for name, cls in SECURITY_SCHEME_TYPES.items():
        assert cls.type == name


def test_fields_are_typed() -> None:
    key = security_scheme_from_dict({"type": "httpApiKey", "name": "k", "in": "header"})
    assert key == HttpApiKey(name="k", in_="header")
    oauth = security_scheme_from_dict(OAUTH2_DOC)
    assert isinstance(oauth, OAuth2)
    assert oauth.scopes == ("orders:read",)
    assert oauth.description == "OAuth2 with every flow"
    assert oauth.flows.implicit == OAuthFlow(
        authorization_url="https://auth.example.com/authorize",
        available_scopes={"orders:read": "read orders"},
    )
    assert oauth.flows.client_credentials is not None
    assert oauth.flows.client_credentials.refresh_url == "https://auth.example.com/refresh"


def test_extensions_are_kept() -> None:
    scheme = security_scheme_from_dict({"type": "plain", "x-security.protocol": "SASL_SSL"})
    assert scheme.extensions == {"x-security.protocol": "SASL_SSL"}


def test_direct_construction() -> None:
    assert ApiKey(in_="user").to_dict() == {"type": "apiKey", "in": "user"}
    flows = OAuthFlows(client_credentials=OAuthFlow(token_url="https://a.example/token"))
    assert OAuth2(flows=flows).to_dict() == {
        "type": "oauth2",
        "flows": {
            "clientCredentials": {"tokenUrl": "https://a.example/token", "availableScopes": {}}
        },
    }


def test_oauth_flow_accepts_the_2_6_scopes_name() -> None:
    doc = {
        "type": "oauth2",
        "flows": {
            "implicit": {"authorizationUrl": "https://a.example/auth", "scopes": {"r": "read"}}
        },
    }
    scheme = security_scheme_from_dict(doc)
    assert isinstance(scheme, OAuth2)
    assert scheme.flows.implicit is not None
    assert scheme.flows.implicit.available_scopes == {"r": "read"}
    assert scheme.to_dict()["flows"]["implicit"]["availableScopes"] == {"r": "read"}


def test_oauth_flow_rejects_both_scope_names() -> None:
    message = "'availableScopes' or its 2.6 name 'scopes', not both"
    with pytest.raises(ConfigError, match=re.escape(message)):
        OAuthFlow.from_dict({"scopes": {}, "availableScopes": {}})


# --- errors -------------------------------------------------------------------------------


def test_unknown_type_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError) as excinfo:
        security_scheme_from_dict({"type": "kerberos"})
    message = message_of(excinfo)
    assert message.startswith("security scheme: unknown type 'kerberos' (known types: ")
    for name in SECURITY_SCHEME_TYPES:
        assert name in message


@pytest.mark.parametrize(("given", "guess"), [("x509", "X509"), ("scramSha265", "scramSha256")])
def test_unknown_type_suggests(given: str, guess: str) -> None:
    with pytest.raises(ConfigError, match=f"did you mean '{guess}'"):
        security_scheme_from_dict({"type": given})


def test_missing_type() -> None:
    with pytest.raises(ConfigError, match="missing required key 'type' \\(known types: "):
        security_scheme_from_dict({"scheme": "basic"})


@pytest.mark.parametrize("data", [[], "plain", None])
def test_not_a_mapping(data: Any) -> None:
    with pytest.raises(ConfigError, match="security scheme: expected a mapping"):
        security_scheme_from_dict(data)


def test_ref_is_rejected() -> None:
    with pytest.raises(ConfigError, match=r"unresolved \$ref '#/components/securitySchemes/a'"):
        security_scheme_from_dict({"$ref": "#/components/securitySchemes/a"})


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (
            {"type": "apiKey"},
            "ApiKey security scheme: missing required key 'in' (one of 'user', 'password')",
        ),
        (
            {"type": "httpApiKey", "in": "query"},
            "HttpApiKey security scheme: missing required key 'name' (str)",
        ),
        (
            {"type": "httpApiKey", "name": "k"},
            "HttpApiKey security scheme: missing required key 'in' "
            "(one of 'query', 'header', 'cookie')",
        ),
        (
            {"type": "httpApiKey"},
            "HttpApiKey security scheme: missing required keys 'name' (str), "
            "'in' (one of 'query', 'header', 'cookie')",
        ),
        ({"type": "http"}, "HttpAuth security scheme: missing required key 'scheme' (str)"),
        (
            {"type": "oauth2"},
            "OAuth2 security scheme: missing required key 'flows' (OAuthFlows object)",
        ),
        (
            {"type": "openIdConnect"},
            "OpenIdConnect security scheme: missing required key 'openIdConnectUrl' (str)",
        ),
    ],
)
def test_missing_required_fields_are_named(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        security_scheme_from_dict(doc)
    assert message_of(excinfo) == message


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (
            {"type": "apiKey", "in": "header"},
            "ApiKey security scheme: 'in' must be one of 'user', 'password', got str 'header'",
        ),
        (
            {"type": "httpApiKey", "name": "k", "in": "body"},
            "HttpApiKey security scheme: 'in' must be one of 'query', 'header', 'cookie', "
            "got str 'body'",
        ),
        (
            {"type": "http", "scheme": "basic", "bearerFormat": "JWT"},
            "HttpAuth security scheme: 'bearerFormat' is only allowed with the bearer scheme, "
            "not 'basic'",
        ),
        (
            {"type": "http", "scheme": "two words"},
            "HttpAuth security scheme: 'scheme' must be one word such as 'basic', got 'two words'",
        ),
        (
            {"type": "http", "scheme": 5},
            "HttpAuth security scheme: 'scheme' must be str, got int 5",
        ),
        (
            {"type": "httpApiKey", "name": " ", "in": "query"},
            "HttpApiKey security scheme: 'name' must not be empty",
        ),
        (
            {"type": "openIdConnect", "openIdConnectUrl": "/.well-known/openid-configuration"},
            "OpenIdConnect security scheme: 'openIdConnectUrl' must be an absolute URL, "
            "got '/.well-known/openid-configuration'",
        ),
        (
            {"type": "openIdConnect", "openIdConnectUrl": "https://a.example", "scopes": "openid"},
            "OpenIdConnect security scheme: 'scopes' must be list of str, got str 'openid'",
        ),
        (
            {"type": "oauth2", "flows": {}},
            "OAuth2 security scheme: 'flows' must define at least one of implicit, password, "
            "clientCredentials, authorizationCode",
        ),
        (
            {"type": "oauth2", "flows": {"implicit": {}}},
            "OAuth2 security scheme: 'flows.implicit' requires 'authorizationUrl'",
        ),
        (
            {
                "type": "oauth2",
                "flows": {
                    "implicit": {
                        "authorizationUrl": "https://a.example/a",
                        "tokenUrl": "https://a.example/t",
                    }
                },
            },
            "OAuth2 security scheme: 'flows.implicit' must not have 'tokenUrl'",
        ),
        (
            {
                "type": "oauth2",
                "flows": {"password": {"tokenUrl": "https://a.example/t"}, "pasword": {}},
            },
            "OAuth2 security scheme: unknown key 'flows.pasword' (allowed: authorizationCode, "
            "clientCredentials, implicit, password); did you mean 'password'?",
        ),
        (
            {"type": "oauth2", "flows": {"clientCredentials": {"tokenUrl": "/token"}}},
            "OAuthFlow: 'tokenUrl' must be an absolute URL, got '/token'",
        ),
        (
            {
                "type": "oauth2",
                "flows": {"authorizationCode": {"authorizationUrl": "https://a.example/a"}},
            },
            "OAuth2 security scheme: 'flows.authorizationCode' requires 'tokenUrl'",
        ),
        (
            {"type": "oauth2", "flows": {"password": {"tokenUrl": 1}}},
            "OAuth2 security scheme: 'flows.password.tokenUrl' must be str, got int 1",
        ),
        (
            {
                "type": "oauth2",
                "flows": {"password": {"tokenUrl": "https://a.example/t", "availableScopes": []}},
            },
            "OAuth2 security scheme: 'flows.password.availableScopes' must be mapping of str "
            "to str, got list []",
        ),
    ],
)
def test_invalid_documents(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        security_scheme_from_dict(doc)
    assert message_of(excinfo) == message


def test_unknown_key() -> None:
    with pytest.raises(ConfigError) as excinfo:
        security_scheme_from_dict({"type": "http", "scheme": "bearer", "bearer_format": "JWT"})
    assert message_of(excinfo) == (
        "HttpAuth security scheme: unknown key 'bearer_format' (allowed: bearerFormat, "
        "description, scheme); did you mean 'bearerFormat'?"
    )


@pytest.mark.parametrize(
    ("doc", "key"),
    [
        ({"type": "userPassword", "password": SECRET}, "password"),
        ({"type": "http", "scheme": "bearer", "token": SECRET}, "token"),
        ({"type": "X509", "key_password": SECRET}, "key_password"),
    ],
)
def test_credentials_are_not_document_keys(doc: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        security_scheme_from_dict(doc)
    assert f"unknown key {key!r}" in message_of(excinfo)
    assert "runtime-only" in message_of(excinfo)
    assert SECRET not in message_of(excinfo)


def test_class_from_dict_checks_type() -> None:
    with pytest.raises(ConfigError) as excinfo:
        Plain.from_dict({"type": "scramSha256"})
    assert message_of(excinfo) == "Plain security scheme: 'type' must be 'plain', got 'scramSha256'"
    assert Plain.from_dict({}) == Plain()


def test_base_class_is_abstract_for_parsing() -> None:
    with pytest.raises(ConfigError, match="security_scheme_from_dict"):
        SecurityScheme.from_dict({"type": "plain"})


# --- credentials ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scheme", "credentials"),
    [
        (UserPassword(), {"username": "u", "password": SECRET}),
        (Plain(), {"username": "u", "password": SECRET}),
        (ScramSha256(), {"username": "u", "password": SECRET}),
        (ScramSha512(), {"username": "u", "password": SECRET}),
        (ApiKey(in_="password"), {"value": SECRET}),
        (HttpApiKey(name="X-Key", in_="header"), {"value": SECRET}),
        (HttpAuth(scheme="basic"), {"username": "u", "password": SECRET}),
        (HttpAuth(scheme="bearer"), {"token": SECRET}),
        (
            X509(),
            {"certfile": SECRET, "keyfile": SECRET, "cafile": SECRET, "key_password": SECRET},
        ),
        (security_scheme_from_dict(OAUTH2_DOC), {"token": SECRET, "client_secret": SECRET}),
        (OpenIdConnect(open_id_connect_url="https://a.example/oidc"), {"token": SECRET}),
    ],
)
def test_credentials_are_set_and_hidden(
    scheme: SecurityScheme, credentials: dict[str, str]
) -> None:
    with_secrets = scheme.with_credentials(**credentials)
    for name, value in credentials.items():
        assert getattr(with_secrets, name) == value
        assert getattr(scheme, name) is None
    assert SECRET not in repr(with_secrets)
    assert SECRET not in str(with_secrets)
    assert SECRET not in str(with_secrets.to_dict())
    assert with_secrets.to_dict() == scheme.to_dict()
    assert set(credentials) <= set(type(scheme).credential_names())


@pytest.mark.parametrize(
    ("cls", "names"),
    [
        (UserPassword, ("username", "password")),
        (ApiKey, ("value",)),
        (X509, ("certfile", "keyfile", "cafile", "key_password")),
        (HttpAuth, ("username", "password", "token")),
        (OAuth2, ("token", "client_id", "client_secret")),
        (Gssapi, ()),
        (SymmetricEncryption, ()),
    ],
)
def test_credential_names(cls: type[SecurityScheme], names: tuple[str, ...]) -> None:
    assert cls.credential_names() == names


def test_unknown_credential() -> None:
    with pytest.raises(ConfigError) as excinfo:
        ScramSha256().with_credentials(user="u", password=SECRET)
    assert message_of(excinfo) == (
        "ScramSha256 security scheme: unknown credential 'user' (allowed: username, password)"
    )
    with pytest.raises(ConfigError, match="unknown credential 'scheme'"):
        HttpAuth(scheme="basic").with_credentials(scheme="bearer")
    with pytest.raises(ConfigError, match="unknown credential 'password' \\(allowed: none"):
        Gssapi().with_credentials(password=SECRET)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: ScramSha256().with_credentials(password=12345),
            "ScramSha256 security scheme: 'password' must be str, got int (value hidden)",
        ),
        (
            lambda: HttpAuth(scheme="basic").with_credentials(token=SECRET),
            "HttpAuth security scheme: a 'token' credential needs the bearer scheme, not 'basic'",
        ),
        (
            lambda: HttpAuth.bearer(SECRET).with_credentials(password=SECRET),
            "HttpAuth security scheme: 'username'/'password' credentials do not apply to bearer",
        ),
        (
            lambda: X509(key_password=["x", SECRET]),  # type: ignore[arg-type]
            "X509 security scheme: 'key_password' must be str, got list (value hidden)",
        ),
    ],
)
def test_credential_errors_never_show_the_secret(make: Any, message: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        make()
    assert message_of(excinfo) == message
    assert SECRET not in message_of(excinfo)
    assert "12345" not in message_of(excinfo)


def test_http_convenience_constructors() -> None:
    basic = HttpAuth.basic("alice", SECRET)
    assert (basic.scheme, basic.username, basic.password) == ("basic", "alice", SECRET)
    expected = base64.b64encode(f"alice:{SECRET}".encode()).decode()
    assert basic.authorization_header() == f"Basic {expected}"
    bearer = HttpAuth.bearer(SECRET, bearer_format="JWT")
    assert (bearer.scheme, bearer.bearer_format, bearer.token) == ("bearer", "JWT", SECRET)
    assert bearer.authorization_header() == f"Bearer {SECRET}"
    assert bearer.to_dict() == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    for scheme in (basic, bearer):
        assert SECRET not in repr(scheme)


@pytest.mark.parametrize(
    "scheme",
    [HttpAuth(scheme="basic"), HttpAuth(scheme="bearer"), HttpAuth(scheme="digest", username="u")],
)
def test_authorization_header_unknown(scheme: HttpAuth) -> None:
    assert scheme.authorization_header() is None


def test_bearer_is_case_insensitive() -> None:
    scheme = HttpAuth(scheme="Bearer", bearer_format="JWT").with_credentials(token=SECRET)
    assert scheme.is_bearer
    assert scheme.authorization_header() == f"Bearer {SECRET}"


@pytest.mark.parametrize(
    ("scheme", "mechanism"),
    [
        (Plain(), "PLAIN"),
        (ScramSha256(), "SCRAM-SHA-256"),
        (ScramSha512(), "SCRAM-SHA-512"),
        (Gssapi(), "GSSAPI"),
        (UserPassword(), None),
        (X509(), None),
        (HttpAuth(scheme="basic"), None),
    ],
)
def test_sasl_mechanism(scheme: SecurityScheme, mechanism: str | None) -> None:
    assert scheme.sasl_mechanism == mechanism


def test_schemes_are_frozen_and_comparable() -> None:
    scheme = Plain(description="broker login")
    with pytest.raises(AttributeError):
        scheme.description = "other"  # type: ignore[misc]
    assert scheme == Plain.from_dict({"description": "broker login"})
    assert scheme != Plain()
    assert scheme.with_credentials(username="u") != scheme


def test_replace_keeps_validation() -> None:
    with pytest.raises(ConfigError, match=re.escape("'bearerFormat' is only allowed")):
        HttpAuth.bearer(SECRET, bearer_format="JWT").replace(scheme="basic", token=None)
