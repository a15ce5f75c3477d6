"""AsyncAPI security schemes as typed, frozen dataclasses.

An AsyncAPI document *describes* how a server authenticates (``type: scramSha256``,
``type: http, scheme: bearer`` ...); the user supplies the secrets at run time. So each
scheme class mirrors the document object (``from_dict``/``to_dict``, camelCase keys,
``x-`` extensions, unknown keys rejected) and the credential-carrying ones also have
optional runtime credential fields (``username``, ``password``, ``token``, ``certfile``
...). Credentials are never read from or written to a document, and never appear in a
``repr``, ``str`` or error message. :meth:`SecurityScheme.with_credentials` returns a copy
with them set::

    scheme = security_scheme_from_dict({"type": "scramSha256"})
    scheme = scheme.with_credentials(username="billing", password=os.environ["PW"])
    scheme.sasl_mechanism  # "SCRAM-SHA-256"

Parsing and validation reuse the machinery of :mod:`syncapi.bindings`.
"""

from __future__ import annotations

import base64
import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar, Literal, TypeVar
from urllib.parse import urlsplit

from syncapi.bindings import SpecObject, asyncapi, camel_case, secret_fields
from syncapi.errors import ConfigError

__all__ = [
    "SECURITY_SCHEME_TYPES",
    "X509",
    "ApiKey",
    "AsymmetricEncryption",
    "Gssapi",
    "HttpApiKey",
    "HttpAuth",
    "OAuth2",
    "OAuthFlow",
    "OAuthFlows",
    "OpenIdConnect",
    "Plain",
    "ScramSha256",
    "ScramSha512",
    "SecurityScheme",
    "SymmetricEncryption",
    "UserPassword",
    "UsernamePasswordScheme",
    "security_scheme_from_dict",
]

_T = TypeVar("_T", bound="SecurityScheme")


def _credential() -> Any:
    """A runtime credential field: optional, hidden from repr, never in a document."""
    return field(default=None, repr=False, metadata=asyncapi(secret=True))


def _is_absolute_url(url: str) -> bool:
    """Whether ``url`` has a scheme and a host."""
    parts = urlsplit(url)
    return bool(parts.scheme and parts.netloc)


@dataclass(frozen=True, kw_only=True)
class SecurityScheme(SpecObject):
    """Base of every security scheme.

    The class variable ``type`` holds the AsyncAPI ``type`` string. The document form
    carries it as its ``type`` key.

    Attributes:
        description: free text from the document.
    """

    type: ClassVar[str] = ""
    _sasl_mechanism: ClassVar[str | None] = None

    description: str | None = None

    @classmethod
    def _label(cls) -> str:
        """E.g. ``"HttpApiKey security scheme"``."""
        return f"{cls.__name__} security scheme"

    @classmethod
    def _prepare(cls, data: Mapping[str, Any]) -> Mapping[str, Any]:
        """Check and drop the ``type`` key, which is fixed by the class."""
        if not cls.type:
            raise cls._error("abstract; parse documents with security_scheme_from_dict()")
        if "type" not in data:
            return data
        if data["type"] != cls.type:
            raise cls._error(f"'type' must be {cls.type!r}, got {data['type']!r}")
        return {key: value for key, value in data.items() if key != "type"}

    def to_dict(self) -> dict[str, Any]:
        """The document form, ``type`` first; credentials are never included."""
        return {"type": self.type, **super().to_dict()}

    @property
    def sasl_mechanism(self) -> str | None:
        """The SASL mechanism this scheme names (``"PLAIN"``, ``"SCRAM-SHA-256"`` ...).

        ``None`` when the scheme names none (``userPassword`` leaves it to the protocol).
        """
        return self._sasl_mechanism

    @classmethod
    def credential_names(cls) -> tuple[str, ...]:
        """The runtime credentials this scheme accepts, e.g. ``("username", "password")``."""
        return secret_fields(cls)

    def with_credentials(self: _T, **credentials: Any) -> _T:
        """Return a copy with runtime credentials set.

        Raises:
            ConfigError: a name is not one of :meth:`credential_names`, or a value is bad.
        """
        allowed = self.credential_names()
        for name in credentials:
            if name not in allowed:
                listing = ", ".join(allowed) if allowed else "none, this scheme takes none"
                raise self._error(f"unknown credential {name!r} (allowed: {listing})")
        return self.replace(**credentials)


@dataclass(frozen=True, kw_only=True)
class UsernamePasswordScheme(SecurityScheme):
    """Base of the schemes whose credentials are a username and a password."""

    username: str | None = _credential()
    password: str | None = _credential()


@dataclass(frozen=True, kw_only=True)
class UserPassword(UsernamePasswordScheme):
    """``userPassword``: a user name and password; the protocol picks the mechanism."""

    type: ClassVar[str] = "userPassword"


@dataclass(frozen=True, kw_only=True)
class Plain(UsernamePasswordScheme):
    """``plain``: SASL PLAIN."""

    type: ClassVar[str] = "plain"
    _sasl_mechanism: ClassVar[str | None] = "PLAIN"


@dataclass(frozen=True, kw_only=True)
class ScramSha256(UsernamePasswordScheme):
    """``scramSha256``: SASL SCRAM-SHA-256."""

    type: ClassVar[str] = "scramSha256"
    _sasl_mechanism: ClassVar[str | None] = "SCRAM-SHA-256"


@dataclass(frozen=True, kw_only=True)
class ScramSha512(UsernamePasswordScheme):
    """``scramSha512``: SASL SCRAM-SHA-512."""

    type: ClassVar[str] = "scramSha512"
    _sasl_mechanism: ClassVar[str | None] = "SCRAM-SHA-512"


@dataclass(frozen=True, kw_only=True)
class Gssapi(SecurityScheme):
    """``gssapi``: SASL GSSAPI (Kerberos); credentials come from the Kerberos setup."""

    type: ClassVar[str] = "gssapi"
    _sasl_mechanism: ClassVar[str | None] = "GSSAPI"


@dataclass(frozen=True, kw_only=True)
class ApiKey(SecurityScheme):
    """``apiKey``: a key sent in the user or the password slot of the connection.

    Attributes:
        in_: ``"user"`` or ``"password"`` (``in`` in the document).
        value: the key (runtime credential).
    """

    type: ClassVar[str] = "apiKey"

    in_: Literal["user", "password"]
    value: str | None = _credential()


@dataclass(frozen=True, kw_only=True)
class X509(SecurityScheme):
    """``X509``: TLS with a client certificate.

    Attributes:
        certfile: path of the client certificate (PEM), runtime.
        keyfile: path of its private key, runtime.
        cafile: path of the CA bundle that verifies the server, runtime.
        key_password: password of the private key, runtime.
    """

    type: ClassVar[str] = "X509"

    certfile: str | None = _credential()
    keyfile: str | None = _credential()
    cafile: str | None = _credential()
    key_password: str | None = _credential()


@dataclass(frozen=True, kw_only=True)
class SymmetricEncryption(SecurityScheme):
    """``symmetricEncryption``: end-to-end payload encryption with a shared key."""

    type: ClassVar[str] = "symmetricEncryption"


@dataclass(frozen=True, kw_only=True)
class AsymmetricEncryption(SecurityScheme):
    """``asymmetricEncryption``: end-to-end payload encryption with a key pair."""

    type: ClassVar[str] = "asymmetricEncryption"


@dataclass(frozen=True, kw_only=True)
class HttpApiKey(SecurityScheme):
    """``httpApiKey``: a key sent as a query parameter, header or cookie.

    Attributes:
        name: the parameter, header or cookie name.
        in_: ``"query"``, ``"header"`` or ``"cookie"`` (``in`` in the document).
        value: the key (runtime credential).
    """

    type: ClassVar[str] = "httpApiKey"

    name: str
    in_: Literal["query", "header", "cookie"]
    value: str | None = _credential()

    def _validate(self) -> None:
        """The name must not be empty."""
        if not self.name.strip():
            raise self._error("'name' must not be empty")


@dataclass(frozen=True, kw_only=True)
class HttpAuth(SecurityScheme):
    """``http``: HTTP authentication with an RFC 7235 scheme such as basic or bearer.

    Attributes:
        scheme: the auth scheme, e.g. ``"basic"`` or ``"bearer"`` (case-insensitive).
        bearer_format: how the bearer token is formatted (e.g. ``"JWT"``); bearer only.
        username: basic-auth user (runtime credential).
        password: basic-auth password (runtime credential).
        token: the bearer token (runtime credential).
    """

    type: ClassVar[str] = "http"

    scheme: str
    bearer_format: str | None = None
    username: str | None = _credential()
    password: str | None = _credential()
    token: str | None = _credential()

    @classmethod
    def basic(cls, username: str, password: str) -> HttpAuth:
        """HTTP basic auth with its credentials."""
        return cls(scheme="basic", username=username, password=password)

    @classmethod
    def bearer(cls, token: str, *, bearer_format: str | None = None) -> HttpAuth:
        """HTTP bearer auth with its token."""
        return cls(scheme="bearer", bearer_format=bearer_format, token=token)

    @property
    def is_bearer(self) -> bool:
        """Whether the scheme is ``bearer`` (in any case)."""
        return self.scheme.lower() == "bearer"

    def _validate(self) -> None:
        """Check the scheme and that fields and credentials fit it."""
        if not self.scheme or any(c.isspace() for c in self.scheme):
            raise self._error(f"'scheme' must be one word such as 'basic', got {self.scheme!r}")
        if self.bearer_format is not None and not self.is_bearer:
            raise self._error(
                f"'bearerFormat' is only allowed with the bearer scheme, not {self.scheme!r}"
            )
        if self.token is not None and not self.is_bearer:
            raise self._error(f"a 'token' credential needs the bearer scheme, not {self.scheme!r}")
        if self.is_bearer and (self.username is not None or self.password is not None):
            raise self._error("'username'/'password' credentials do not apply to bearer")

    def authorization_header(self) -> str | None:
        """The ``Authorization`` header value for basic or bearer, or ``None`` if unknown."""
        if self.is_bearer:
            return None if self.token is None else f"Bearer {self.token}"
        if self.scheme.lower() == "basic" and self.username is not None:
            pair = f"{self.username}:{self.password or ''}".encode()
            return f"Basic {base64.b64encode(pair).decode('ascii')}"
        return None


@dataclass(frozen=True, kw_only=True)
class OAuthFlow(SpecObject):
    """One OAuth2 flow.

    The AsyncAPI 2.6 name of ``availableScopes``, ``scopes``, is accepted when reading.

    Attributes:
        authorization_url: the authorization endpoint (absolute URL).
        token_url: the token endpoint (absolute URL).
        refresh_url: the refresh endpoint (absolute URL).
        available_scopes: scope name -> description.
    """

    authorization_url: str | None = None
    token_url: str | None = None
    refresh_url: str | None = None
    available_scopes: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def _prepare(cls, data: Mapping[str, Any]) -> Mapping[str, Any]:
        """Read the 2.6 ``scopes`` as ``availableScopes``."""
        if "scopes" not in data:
            return data
        if "availableScopes" in data:
            raise cls._error("give 'availableScopes' or its 2.6 name 'scopes', not both")
        renamed = {key: value for key, value in data.items() if key != "scopes"}
        renamed["availableScopes"] = data["scopes"]
        return renamed

    def _validate(self) -> None:
        """The URLs must be absolute."""
        for attr in ("authorization_url", "token_url", "refresh_url"):
            url = getattr(self, attr)
            if url is not None and not _is_absolute_url(url):
                raise self._error(f"{camel_case(attr)!r} must be an absolute URL, got {url!r}")


@dataclass(frozen=True, kw_only=True)
class OAuthFlows(SpecObject):
    """The OAuth2 flows a server supports; at least one must be set (checked by OAuth2)."""

    implicit: OAuthFlow | None = None
    password: OAuthFlow | None = None
    client_credentials: OAuthFlow | None = None
    authorization_code: OAuthFlow | None = None


# flow -> (URL fields it requires, URL fields it must not have)
_FLOW_URLS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "implicit": (("authorization_url",), ("token_url",)),
    "password": (("token_url",), ("authorization_url",)),
    "client_credentials": (("token_url",), ("authorization_url",)),
    "authorization_code": (("authorization_url", "token_url"), ()),
}


@dataclass(frozen=True, kw_only=True)
class OAuth2(SecurityScheme):
    """``oauth2``: OAuth 2 bearer tokens.

    Attributes:
        flows: the supported flows.
        scopes: the scopes needed (AsyncAPI 3.0).
        token: an access token obtained elsewhere (runtime credential).
        client_id: the client id for the client-credentials flow (runtime credential).
        client_secret: the client secret (runtime credential).
    """

    type: ClassVar[str] = "oauth2"

    flows: OAuthFlows
    scopes: tuple[str, ...] | None = None
    token: str | None = _credential()
    client_id: str | None = _credential()
    client_secret: str | None = _credential()

    def _validate(self) -> None:
        """At least one flow, each with the URLs its kind requires and no forbidden ones."""
        present = {n: f for n in _FLOW_URLS if (f := getattr(self.flows, n)) is not None}
        if not present:
            names = ", ".join(camel_case(n) for n in _FLOW_URLS)
            raise self._error(f"'flows' must define at least one of {names}")
        for name, flow in present.items():
            required, forbidden = _FLOW_URLS[name]
            where = f"flows.{camel_case(name)}"
            for attr in required:
                if getattr(flow, attr) is None:
                    raise self._error(f"{where!r} requires {camel_case(attr)!r}")
            for attr in forbidden:
                if getattr(flow, attr) is not None:
                    raise self._error(f"{where!r} must not have {camel_case(attr)!r}")


@dataclass(frozen=True, kw_only=True)
class OpenIdConnect(SecurityScheme):
    """``openIdConnect``: OpenID Connect discovery.

    Attributes:
        open_id_connect_url: the discovery URL (absolute).
        scopes: the scopes needed (AsyncAPI 3.0).
        token: an ID/access token obtained elsewhere (runtime credential).
    """

    type: ClassVar[str] = "openIdConnect"

    open_id_connect_url: str
    scopes: tuple[str, ...] | None = None
    token: str | None = _credential()

    def _validate(self) -> None:
        """The discovery URL must be absolute."""
        if not _is_absolute_url(self.open_id_connect_url):
            url = self.open_id_connect_url
            raise self._error(f"'openIdConnectUrl' must be an absolute URL, got {url!r}")


SECURITY_SCHEME_TYPES: Mapping[str, type[SecurityScheme]] = MappingProxyType(
    {
        cls.type: cls
        for cls in (
            UserPassword,
            ApiKey,
            X509,
            SymmetricEncryption,
            AsymmetricEncryption,
            HttpApiKey,
            HttpAuth,
            OAuth2,
            OpenIdConnect,
            Plain,
            ScramSha256,
            ScramSha512,
            Gssapi,
        )
    }
)
"""AsyncAPI ``type`` string -> scheme class."""


def security_scheme_from_dict(data: Mapping[str, Any]) -> SecurityScheme:
    """Parse an AsyncAPI Security Scheme object into the class its ``type`` names.

    Raises:
        ConfigError: not a mapping, an unresolved ``$ref``, a missing or unknown ``type``,
            or anything the scheme class rejects.
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"security scheme: expected a mapping, got {type(data).__name__}")
    if "$ref" in data:
        raise ConfigError(f"security scheme: unresolved $ref {data['$ref']!r}; resolve it first")
    known = ", ".join(SECURITY_SCHEME_TYPES)
    kind = data.get("type")
    if kind is None:
        raise ConfigError(f"security scheme: missing required key 'type' (known types: {known})")
    cls = SECURITY_SCHEME_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        lowered = {name.lower(): name for name in SECURITY_SCHEME_TYPES}
        close = difflib.get_close_matches(str(kind).lower(), list(lowered), n=1)
        hint = f"; did you mean {lowered[close[0]]!r}?" if close else ""
        raise ConfigError(f"security scheme: unknown type {kind!r} (known types: {known}){hint}")
    return cls.from_dict(data)
