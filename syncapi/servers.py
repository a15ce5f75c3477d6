"""Server URLs, typed protocol options and AsyncAPI server variables.

A syncapi server is named by a URL, which may list several hosts::

    kafka://user:secret@broker1:9092,broker2:9092/?client_id=billing

* :func:`parse_server_url` splits such a URL into a :class:`ServerURL`: the lowercased
  scheme, the hosts as :class:`HostPort` values, percent-decoded user info and path, and
  the query as a ``dict``.
* :func:`resolve_options` turns the query (strings) plus keyword overrides (Python values)
  into a protocol's options dataclass, converting and checking each value against the
  field's type hint.
* :func:`expand_server_variables` and :func:`server_url_from_asyncapi` build a URL from an
  AsyncAPI 3.0 or 2.6 server object and its :class:`ServerVariable` definitions.

Every bad input raises :class:`~syncapi.errors.ConfigError` with a message that names the
culprit. A password never appears in a ``repr``, in ``str()`` or in an error message, and
neither do query values whose name looks secret (``password``, ``token``, ``api_key``...).
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import re
import types
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints
from urllib.parse import quote, unquote

from syncapi.errors import ConfigError

__all__ = [
    "HostPort",
    "ServerURL",
    "ServerVariable",
    "expand_server_variables",
    "option_names",
    "parse_server_url",
    "resolve_options",
    "server_url_from_asyncapi",
]

T = TypeVar("T")

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*")
_SECRET_NAME = re.compile(r"password|passwd|passphrase|secret|token|api_?key|credential", re.I)
_SECRET_QUERY = re.compile(
    r"([?&][^=&#]*(?:password|passwd|passphrase|secret|token|api_?key|credential)[^=&#]*=)[^&#]*",
    re.I,
)
_BAD_HOST_CHARS = frozenset(' <>"{}|\\^`')
_QUERY_SAFE = "/:,@!$'()*+;~"
_EXPRESSION_NAME = re.compile(r"[A-Za-z0-9_.\-]+")
_TRUE_WORDS = frozenset({"true", "1", "yes", "on"})
_FALSE_WORDS = frozenset({"false", "0", "no", "off"})
_NONE_WORDS = frozenset({"", "none", "null"})


# --------------------------------------------------------------------------- server URLs


@dataclass(frozen=True)
class HostPort:
    """One ``host[:port]`` of a server URL.

    ``host`` is written without brackets, also for IPv6 addresses; ``str()`` adds them.
    """

    host: str
    port: int | None = None

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port is None else f"{host}:{self.port}"


@dataclass(frozen=True, repr=False)
class ServerURL:
    """A parsed server URL (see :func:`parse_server_url`).

    ``str()`` and ``repr()`` give the :meth:`redacted` form: the password, if any, is
    shown as ``***``.
    """

    scheme: str
    hosts: tuple[HostPort, ...] = ()
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    path: str = ""
    raw_path: str = ""
    query: dict[str, str] = field(default_factory=dict, hash=False)

    @property
    def host(self) -> str | None:
        """The first host name, or ``None`` when the URL names no host."""
        return self.hosts[0].host if self.hosts else None

    @property
    def port(self) -> int | None:
        """The port of the first host, or ``None`` when it has none."""
        return self.hosts[0].port if self.hosts else None

    @property
    def netloc(self) -> str:
        """The hosts joined by ``','`` (IPv6 bracketed), without the user info."""
        return ",".join(str(host) for host in self.hosts)

    def redacted(self) -> str:
        """The URL as a string, with the password and secret-looking query values as ``***``."""
        userinfo = ""
        if self.username is not None or self.password is not None:
            userinfo = quote(self.username or "", safe="")
            userinfo += "" if self.password is None else ":***"
            userinfo += "@"
        path = self.raw_path or quote(self.path, safe="/:@!$&'()*+,;=~")
        items = []
        for key, value in self.query.items():
            shown = "***" if _SECRET_NAME.search(key) else quote(value, safe=_QUERY_SAFE)
            name = quote(key, safe=_QUERY_SAFE)
            items.append(f"{name}={shown}" if value else name)
        query = "?" + "&".join(items) if items else ""
        return f"{self.scheme}://{userinfo}{self.netloc}{path}{query}"

    def with_default_port(self, port: int) -> ServerURL:
        """Return a copy in which every host written without a port gets ``port``."""
        _check_port_number(port, f"default port {port!r}")
        hosts = tuple(h if h.port is not None else HostPort(h.host, port) for h in self.hosts)
        return dataclasses.replace(self, hosts=hosts, query=dict(self.query))

    def __str__(self) -> str:
        return self.redacted()

    def __repr__(self) -> str:
        return f"ServerURL({self.redacted()!r})"


def parse_server_url(url: str) -> ServerURL:
    """Parse ``scheme://[user[:password]@]host[:port][,host[:port]...][/path][?query]``.

    * The scheme is lowercased. Hosts are separated by ``','``; IPv6 addresses are written
      in brackets (``[::1]:9093``). A URL may name no host at all (``memory://``).
    * User info and path are percent-decoded (``amqp://h/%2F`` has the path ``'//'``; the
      AMQP virtual host is the path without its leading ``'/'``). ``raw_path`` keeps the
      path as written.
    * The query becomes a ``dict`` of percent-decoded strings; ``'+'`` stays a ``'+'``.
      ``?flag`` gives ``{'flag': ''}``. A name given twice is an error.
    * Fragments (``#...``) are rejected.

    Surrounding whitespace is ignored. Every error is a :class:`ConfigError` that quotes
    the URL with its password redacted.
    """
    checked: object = url
    if not isinstance(checked, str):
        raise ConfigError(f"server URL must be a string, got {type(checked).__name__}")
    text = url.strip()
    if not text:
        raise ConfigError("server URL is empty; expected e.g. 'kafka://localhost:9092'")
    shown = _redact_text(text)
    scheme, sep, rest = text.partition("://")
    if not sep or not scheme:
        raise ConfigError(
            f"server URL {shown!r} has no scheme; expected "
            "'scheme://host[:port][/path][?options]', e.g. 'kafka://localhost:9092'"
        )
    if not _SCHEME.fullmatch(scheme):
        raise ConfigError(
            f"server URL {shown!r}: invalid scheme {_show(scheme, shown)}; a scheme starts "
            "with a letter and holds only letters, digits, '+', '-' and '.'"
        )
    if "#" in rest:
        raise ConfigError(
            f"server URL {shown!r}: a fragment ('#...') is not allowed; pass options as "
            "'?name=value' and percent-encode '#' in passwords as '%23'"
        )
    cut = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    authority, tail = rest[:cut], rest[cut:]
    raw_path, _, raw_query = tail.partition("?")
    userinfo, at, host_list = authority.rpartition("@")
    username = password = None
    if at:
        user, colon, secret = userinfo.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if colon else None
    return ServerURL(
        scheme=scheme.lower(),
        hosts=_parse_hosts(host_list, shown),
        username=username,
        password=password,
        path=unquote(raw_path),
        raw_path=raw_path,
        query=_parse_query(raw_query, shown),
    )


def _redact_text(text: str) -> str:
    """Hide the password and secret query values of a URL that may not parse.

    It errs on the side of hiding: everything between the first ``':'`` and the last
    ``'@'`` after the scheme is treated as a password, even if some of it is not.
    """
    head, sep, rest = text.partition("://")
    if not sep:
        head, rest = "", text
    at = rest.rfind("@")
    if at >= 0:
        user, colon, _ = rest[:at].partition(":")
        if colon:
            rest = f"{user}:***{rest[at:]}"
    return _SECRET_QUERY.sub(r"\1***", f"{head}{sep}{rest}")


def _show(value: str, shown: str) -> str:
    """Quote ``value`` for an error message unless it may hold part of a password."""
    return repr(value) if value in shown else "(not shown: it may contain a password)"


def _parse_hosts(text: str, shown: str) -> tuple[HostPort, ...]:
    """Parse the comma-separated host list of a URL (possibly empty)."""
    if not text:
        return ()
    return tuple(_parse_host(item, shown) for item in text.split(","))


def _parse_host(item: str, shown: str) -> HostPort:
    """Parse one ``host[:port]`` or ``[ipv6][:port]``."""
    where = f"server URL {shown!r}"
    if not item:
        raise ConfigError(f"{where}: empty host in the host list; write 'host1:port,host2:port'")
    if item.startswith("["):
        end = item.find("]")
        if end < 0:
            raise ConfigError(
                f"{where}: unbalanced '[' in host {_show(item, shown)}; "
                "write IPv6 addresses as '[::1]:port'"
            )
        host, after = unquote(item[1:end]), item[end + 1 :]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ConfigError(
                f"{where}: {_show(item[1:end], shown)} in brackets is not an IPv6 address"
            ) from None
        if after and not after.startswith(":"):
            raise ConfigError(
                f"{where}: unexpected {_show(after, shown)} after ']' in host; expected ':port'"
            )
        port_text = after[1:] if after else None
    else:
        if "[" in item or "]" in item:
            raise ConfigError(
                f"{where}: unbalanced bracket in host {_show(item, shown)}; "
                "write IPv6 addresses as '[::1]:port'"
            )
        if item.count(":") > 1:
            raise ConfigError(
                f"{where}: host {_show(item, shown)} has several ':'; "
                "write IPv6 addresses in brackets, as '[::1]:port'"
            )
        host, colon, after = item.partition(":")
        port_text = after if colon else None
        if not host:
            raise ConfigError(f"{where}: missing host name before ':' in {_show(item, shown)}")
        bad = [c for c in host if c in _BAD_HOST_CHARS or not c.isprintable()]
        if bad:
            raise ConfigError(
                f"{where}: invalid character {bad[0]!r} in host {_show(host, shown)}"
                + ("; expand server variables first" if bad[0] in "{}" else "")
            )
    port = None if port_text is None else _parse_port(port_text, shown)
    return HostPort(host, port)


def _parse_port(text: str, shown: str) -> int:
    """Parse a port number written in a URL."""
    if not (text.isascii() and text.isdigit()):
        raise ConfigError(
            f"server URL {shown!r}: port {_show(text, shown)} is not an integer; "
            "expected a number from 1 to 65535"
        )
    port = int(text)
    _check_port_number(port, f"server URL {shown!r}: port {port}")
    return port


def _check_port_number(port: object, what: str) -> None:
    """Raise :class:`ConfigError` unless ``port`` is an integer from 1 to 65535."""
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ConfigError(f"{what} is out of range; expected an integer from 1 to 65535")


def _parse_query(text: str, shown: str) -> dict[str, str]:
    """Parse a URL query into a dict, rejecting empty and repeated names."""
    query: dict[str, str] = {}
    for piece in text.split("&"):
        if not piece:
            continue
        raw_key, _, raw_value = piece.partition("=")
        key = unquote(raw_key)
        if not key:
            raise ConfigError(f"server URL {shown!r}: a query option has an empty name")
        if key in query:
            raise ConfigError(f"server URL {shown!r}: query option {key!r} is given more than once")
        query[key] = unquote(raw_value)
    return query


# --------------------------------------------------------------------------- typed options


class _Mismatch(Exception):
    """A value does not fit a type hint (internal; becomes a ConfigError)."""


def option_names(options_cls: type[Any]) -> list[str]:
    """The option names (``__init__`` fields) of an options dataclass, in declaration order."""
    if not (isinstance(options_cls, type) and dataclasses.is_dataclass(options_cls)):
        raise TypeError(f"{options_cls!r} is not a dataclass")
    return [f.name for f in dataclasses.fields(options_cls) if f.init]


def resolve_options(
    options_cls: type[T],
    query: Mapping[str, str],
    overrides: Mapping[str, Any] | None = None,
) -> T:
    """Build ``options_cls`` (a dataclass) from URL query strings and keyword overrides.

    Query values are converted by the field's type hint: ``str``, ``int``, ``float``,
    ``bool`` (``true/false``, ``1/0``, ``yes/no``, ``on/off``), ``X | None`` (``''``,
    ``'none'`` or ``'null'`` give ``None``), ``tuple[X, ...]`` (comma-separated) and
    ``Literal[...]``; a ``dict[K, V]`` option can only be a keyword argument. Overrides win over the query; they are checked against the same
    hints but not converted from strings (an ``int`` is accepted for a ``float``, a list
    for a tuple). Names may be written in snake_case or camelCase (``client_id`` or
    ``clientId``), but not both for one option in the same source. Fields left out keep
    their defaults.
    """
    names = option_names(options_cls)
    hints = _hints(options_cls)
    aliases = {alias: name for name in names for alias in (name, _camel(name))}
    values: dict[str, Any] = {}
    for key, text in _by_field(query, aliases, names, "from the URL query").items():
        checked: object = text
        if not isinstance(checked, str):
            raise ConfigError(
                f"option {key!r}: query values must be strings, got {type(checked).__name__}"
            )
        values[key] = _convert(key, hints[key], text)
    for key, value in _by_field(overrides or {}, aliases, names, "keyword argument").items():
        values[key] = _check(key, hints[key], value)
    missing = [
        f.name
        for f in dataclasses.fields(options_cls)  # type: ignore[arg-type]
        if f.init
        and f.name not in values
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ConfigError(f"missing required option(s): {', '.join(map(repr, missing))}")
    return options_cls(**values)


_HINTS: weakref.WeakKeyDictionary[type[Any], dict[str, Any]] = weakref.WeakKeyDictionary()


def _hints(options_cls: type[Any]) -> dict[str, Any]:
    """The resolved type hints of ``options_cls``, once per class (``get_type_hints``
    evaluates every annotation string, which took a third of building a consumer)."""
    hints = _HINTS.get(options_cls)
    if hints is None:
        hints = _HINTS[options_cls] = get_type_hints(options_cls)
    return hints


def _camel(name: str) -> str:
    """``client_id`` -> ``clientId``."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _snake(name: str) -> str:
    """``clientId`` -> ``client_id``."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def _by_field(
    source: Mapping[str, Any], aliases: Mapping[str, str], names: list[str], origin: str
) -> dict[str, Any]:
    """Map the keys of ``source`` to field names, rejecting unknown and doubled ones."""
    result: dict[str, Any] = {}
    spelled: dict[str, str] = {}
    for key, value in source.items():
        name = aliases.get(key)
        if name is None:
            raise ConfigError(_unknown_option(key, names, origin))
        if name in result:
            raise ConfigError(
                f"option {name!r} is given twice ({origin}): as {spelled[name]!r} and as {key!r}"
            )
        result[name], spelled[name] = value, key
    return result


def _unknown_option(key: object, names: list[str], origin: str) -> str:
    """The message for an unknown option name, with a "did you mean" when one is close."""
    known = ", ".join(names) if names else "(none)"
    message = f"unknown option {key!r} ({origin}); known options: {known}"
    close = difflib.get_close_matches(_snake(str(key)), names, n=1)
    return f"{message}; did you mean {close[0]!r}?" if close else message


def _convert(name: str, hint: Any, text: str) -> Any:
    """Convert a query string for option ``name`` or raise a ConfigError."""
    try:
        return _from_text(hint, text)
    except _Mismatch:
        raise ConfigError(
            f"option {name!r}: expected {_describe(hint, text=True)}, "
            f"got {text!r} (from the URL query)"
        ) from None
    except TypeError as exc:
        raise TypeError(f"option {name!r}: {exc}") from None


def _check(name: str, hint: Any, value: object) -> Any:
    """Type-check a keyword override for option ``name`` or raise a ConfigError."""
    try:
        return _from_value(hint, value)
    except _Mismatch:
        raise ConfigError(
            f"option {name!r}: expected {_describe(hint, text=False)}, "
            f"got {value!r} of type {type(value).__name__} (keyword argument)"
        ) from None
    except TypeError as exc:
        raise TypeError(f"option {name!r}: {exc}") from None


def _is_union(hint: Any) -> bool:
    return get_origin(hint) in (Union, types.UnionType)


def _tuple_item(hint: Any) -> Any:
    """The ``X`` of ``tuple[X, ...]``; other tuple forms are not supported."""
    args = get_args(hint)
    if len(args) != 2 or args[1] is not Ellipsis:
        raise TypeError(f"unsupported tuple type {hint!r}; use tuple[X, ...]")
    return args[0]


def _from_text(hint: Any, text: str) -> Any:
    """Convert ``text`` to the type ``hint``; raise _Mismatch when it does not fit."""
    if hint is Any or hint is str:
        return text
    if _is_union(hint):
        arms = get_args(hint)
        if type(None) in arms and text.strip().lower() in _NONE_WORDS:
            return None
        for arm in arms:
            if arm is not type(None):
                try:
                    return _from_text(arm, text)
                except _Mismatch:
                    pass
        raise _Mismatch
    if get_origin(hint) is Literal:
        for choice in get_args(hint):
            try:
                if _from_text(type(choice), text) == choice:
                    return choice
            except _Mismatch:
                pass
        raise _Mismatch
    if get_origin(hint) is tuple:
        item = _tuple_item(hint)
        return tuple(_from_text(item, part.strip()) for part in text.split(",") if text.strip())
    if get_origin(hint) in (dict, Mapping):
        raise _Mismatch  # a mapping is a keyword argument only
    if hint is bool:
        word = text.strip().lower()
        if word in _TRUE_WORDS or word in _FALSE_WORDS:
            return word in _TRUE_WORDS
        raise _Mismatch
    if hint is int or hint is float:
        try:
            return hint(text)
        except ValueError:
            raise _Mismatch from None
    raise TypeError(f"type {hint!r} cannot be set from a URL query")


def _from_value(hint: Any, value: object) -> Any:
    """Check a Python value against ``hint``; raise _Mismatch when it does not fit."""
    if hint is Any:
        return value
    if _is_union(hint):
        for arm in get_args(hint):
            try:
                return _from_value(arm, value)
            except _Mismatch:
                pass
        raise _Mismatch
    if get_origin(hint) is Literal:
        for choice in get_args(hint):
            if type(value) is type(choice) and value == choice:
                return choice
        raise _Mismatch
    if get_origin(hint) is tuple:
        item = _tuple_item(hint)
        if isinstance(value, (tuple, list)):
            return tuple(_from_value(item, element) for element in value)
        raise _Mismatch
    if hint is type(None):
        if value is None:
            return None
        raise _Mismatch
    if get_origin(hint) in (dict, Mapping):
        key_hint, value_hint = get_args(hint) or (Any, Any)
        if not isinstance(value, Mapping):
            raise _Mismatch
        return {_from_value(key_hint, k): _from_value(value_hint, v) for k, v in value.items()}
    if isinstance(value, bool) and hint in (int, float):
        raise _Mismatch
    if hint is float and isinstance(value, int):
        return float(value)
    if isinstance(hint, type):
        if isinstance(value, hint):
            return value
        raise _Mismatch
    raise TypeError(f"unsupported option type {hint!r}")


def _describe(hint: Any, *, text: bool) -> str:
    """Describe what a value of type ``hint`` must look like, for error messages."""
    if hint is type(None):
        return "none ('', 'none' or 'null')" if text else "None"
    if _is_union(hint):
        return " or ".join(_describe(arm, text=text) for arm in get_args(hint))
    if get_origin(hint) is Literal:
        return "one of " + ", ".join(repr(choice) for choice in get_args(hint))
    if get_origin(hint) is tuple:
        item = _describe(_tuple_item(hint), text=text)
        return (
            f"a comma-separated list (each item {item})"
            if text
            else f"a tuple or list (each item {item})"
        )
    if get_origin(hint) in (dict, Mapping):
        return "a dict (a keyword argument; it cannot be given in a URL)" if text else "a dict"
    simple = {
        str: "a string",
        int: "an integer",
        float: "a number",
        bool: "a boolean (true/false, yes/no, on/off, 1/0)" if text else "a bool",
    }
    if hint in simple:
        return simple[hint]
    return getattr(hint, "__name__", repr(hint))


# --------------------------------------------------------------------------- server variables


@dataclass(frozen=True)
class ServerVariable:
    """An AsyncAPI Server Variable: the allowed values and default of a ``{name}`` in a URL."""

    enum: tuple[str, ...] | None = None
    default: str | None = None
    description: str | None = None
    examples: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_choices("server variable", self.enum, self.default)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, name: str | None = None) -> ServerVariable:
        """Build from an AsyncAPI document's mapping (2.6 and 3.0 have the same fields).

        ``name``, if given, is used in error messages.
        """
        what = _label("server variable", name)
        _check_keys(d, ("enum", "default", "description", "examples"), what)
        enum = _opt_strings(d, "enum", what)
        default = _opt_str(d, "default", what)
        _check_choices(what, enum, default)
        return cls(
            enum=enum,
            default=default,
            description=_opt_str(d, "description", what),
            examples=_opt_strings(d, "examples", what) or (),
        )


def expand_server_variables(
    template: str,
    variables: Mapping[str, ServerVariable | Mapping[str, Any]],
    values: Mapping[str, str] | None = None,
) -> str:
    """Replace each ``{name}`` in ``template`` by its value, or else the variable's default.

    Every ``{name}`` must be declared in ``variables``; every key of ``values`` must be
    declared (it may be used by another part of the server, e.g. ``pathname``); every
    value must be in the variable's ``enum`` when it has one. Integers are accepted as
    values and written with ``str()``.
    """
    what = f"server template {template!r}"
    literals, used = _split_template(template, what)
    declared = _server_variables(variables)
    undeclared = [name for name in dict.fromkeys(used) if name not in declared]
    if undeclared:
        raise ConfigError(
            f"{what}: variable(s) {', '.join(map(repr, undeclared))} are not declared; "
            f"declared variables: {_names(declared)}"
        )
    given = dict(values or {})
    for key, value in given.items():
        if key not in declared:
            raise ConfigError(
                f"{what}: value given for unknown server variable {key!r}; "
                f"declared variables: {_names(declared)}"
            )
        given[key] = _value_text(f"{what}: server variable {key!r}", value, declared[key].enum)
    parts = [literals[0]]
    for name, literal in zip(used, literals[1:], strict=True):
        text = given.get(name, declared[name].default)
        if text is None:
            raise ConfigError(
                f"{what}: no value for server variable {name!r}, and it has no default"
            )
        parts += [text, literal]
    return "".join(parts)


def server_url_from_asyncapi(
    server: Mapping[str, Any], values: Mapping[str, str] | None = None
) -> str:
    """Build the URL of an AsyncAPI server object, substituting its variables.

    AsyncAPI 3.0 (``protocol`` + ``host`` + optional ``pathname``) gives
    ``{protocol}://{host}{pathname}``. AsyncAPI 2.6 (``url``, optional ``protocol``) gives
    the expanded ``url``, prefixed with ``{protocol}://`` when it has no scheme.
    """
    if not isinstance(server, Mapping):
        raise ConfigError(f"server object must be a mapping, got {type(server).__name__}")
    variables = server.get("variables")
    if variables is None:
        variables = {}
    if not isinstance(variables, Mapping):
        raise ConfigError(
            f"server object: 'variables' must be a mapping, got {type(variables).__name__}"
        )
    protocol = server.get("protocol")
    if protocol is not None and (not isinstance(protocol, str) or not protocol):
        raise ConfigError(f"server object: 'protocol' must be a non-empty string, got {protocol!r}")
    if "url" in server and "host" in server:
        raise ConfigError(
            "server object has both 'url' (AsyncAPI 2.6) and 'host' (AsyncAPI 3.0); use one"
        )
    if "url" in server:
        url = expand_server_variables(_required_str(server, "url"), variables, values)
        if "://" in url:
            return url
        if url.startswith("/"):
            raise ConfigError(f"server object: relative 'url' {url!r} cannot be resolved")
        if protocol is None:
            raise ConfigError(f"server object: 'url' {url!r} has no scheme and no 'protocol'")
        return f"{protocol}://{url}"
    if "host" in server:
        if protocol is None:
            raise ConfigError("server object: 'protocol' is required with 'host' (AsyncAPI 3.0)")
        host = expand_server_variables(_required_str(server, "host"), variables, values)
        if "://" in host:
            raise ConfigError(
                f"server object: 'host' {host!r} must not contain a scheme; use 'protocol'"
            )
        pathname = ""
        if server.get("pathname") is not None:
            pathname = _required_str(server, "pathname")
            pathname = expand_server_variables(pathname, variables, values)
            if pathname and not pathname.startswith("/"):
                pathname = "/" + pathname
        return f"{protocol}://{host}{pathname}"
    raise ConfigError("server object needs 'host' (AsyncAPI 3.0) or 'url' (AsyncAPI 2.6)")


def _server_variables(
    variables: Mapping[str, ServerVariable | Mapping[str, Any]],
) -> dict[str, ServerVariable]:
    """Normalize a variables map to ServerVariable values."""
    if not isinstance(variables, Mapping):
        raise ConfigError(f"server variables must be a mapping, got {type(variables).__name__}")
    result: dict[str, ServerVariable] = {}
    for name, item in variables.items():
        if isinstance(item, ServerVariable):
            result[name] = item
        elif isinstance(item, Mapping):
            result[name] = ServerVariable.from_dict(item, name=name)
        else:
            raise ConfigError(
                f"server variable {name!r} must be a mapping or a ServerVariable, "
                f"got {type(item).__name__}"
            )
    return result


def _required_str(d: Mapping[str, Any], key: str) -> str:
    value = d[key]
    if not isinstance(value, str):
        raise ConfigError(f"server object: {key!r} must be a string, got {value!r}")
    return value


# --------------------------------------------------------------------------- shared helpers
# (also used by syncapi.channels)


def _split_template(template: str, what: str) -> tuple[list[str], list[str]]:
    """Split ``'a/{x}/b'`` into literals ``['a/', '/b']`` and names ``['x']``.

    There is always one more literal than names. ``what`` starts every error message.
    """
    literals: list[str] = []
    names: list[str] = []
    start = 0
    while True:
        opening = template.find("{", start)
        closing = template.find("}", start)
        if closing >= 0 and (opening < 0 or closing < opening):
            raise ConfigError(f"{what}: unbalanced '}}' at position {closing}")
        if opening < 0:
            literals.append(template[start:])
            return literals, names
        if closing < 0:
            raise ConfigError(f"{what}: unclosed '{{' at position {opening}")
        name = template[opening + 1 : closing]
        if "{" in name:
            nested = opening + 1 + name.index("{")
            raise ConfigError(
                f"{what}: unexpected '{{' at position {nested} (expressions cannot be nested)"
            )
        if not name:
            raise ConfigError(f"{what}: empty expression '{{}}' at position {opening}")
        if not _EXPRESSION_NAME.fullmatch(name):
            raise ConfigError(
                f"{what}: invalid name {name!r} in the expression at position {opening}; "
                "names hold only letters, digits, '_', '-' and '.'"
            )
        literals.append(template[start:opening])
        names.append(name)
        start = closing + 1


def _label(kind: str, name: str | None) -> str:
    return kind if name is None else f"{kind} {name!r}"


def _names(names: Iterable[str]) -> str:
    listed = ", ".join(repr(name) for name in names)
    return listed or "(none)"


def _check_keys(d: object, allowed: tuple[str, ...], what: str) -> None:
    """Reject a non-mapping, a ``$ref`` and keys outside ``allowed`` (except ``x-...``)."""
    if not isinstance(d, Mapping):
        raise ConfigError(f"{what} must be a mapping, got {type(d).__name__}")
    if "$ref" in d:
        raise ConfigError(f"{what} is a $ref; resolve references before reading it")
    for key in d:
        if isinstance(key, str) and key.startswith("x-"):
            continue
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(
                f"{what}: unknown key {key!r}; allowed keys: {', '.join(allowed)} "
                f"and 'x-' extensions{hint}"
            )


def _opt_str(d: Mapping[str, Any], key: str, what: str) -> str | None:
    value = d.get(key)
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"{what}: {key!r} must be a string, got {value!r}")
    return value


def _opt_strings(d: Mapping[str, Any], key: str, what: str) -> tuple[str, ...] | None:
    value = d.get(key)
    if value is None:
        return None
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{what}: {key!r} must be a list of strings, got {value!r}")
    return tuple(value)


def _check_choices(what: str, enum: tuple[str, ...] | None, default: str | None) -> None:
    """Reject an empty ``enum`` and a ``default`` outside it."""
    if enum is not None and not enum:
        raise ConfigError(f"{what}: 'enum' must not be empty")
    if enum is not None and default is not None and default not in enum:
        raise ConfigError(
            f"{what}: default {default!r} is not one of the enum values {_names(enum)}"
        )


def _value_text(what: str, value: object, enum: tuple[str, ...] | None) -> str:
    """A str or int value as text, checked against ``enum``."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ConfigError(
            f"{what}: value must be a string or an integer, got {value!r} "
            f"of type {type(value).__name__}"
        )
    text = str(value)
    if enum is not None and text not in enum:
        raise ConfigError(f"{what}: value {text!r} is not allowed; allowed values: {_names(enum)}")
    return text
