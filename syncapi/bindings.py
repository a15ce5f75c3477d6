"""Shared machinery for the per-protocol bindings dataclasses.

Every protocol subpackage declares ``ServerBindings``, ``ChannelBindings``,
``OperationBindings`` and ``MessageBindings`` as frozen dataclasses deriving from
:class:`Bindings`::

    @dataclass(frozen=True)
    class ChannelBindings(Bindings):
        protocol: ClassVar[str] = "kafka"
        versions: ClassVar[tuple[str, ...]] = ("0.5.0", "0.4.0", "0.3.0")  # first = latest
        topic: str | None = None
        partitions: int | None = field(default=None, metadata=asyncapi(minimum=1))
        topic_configuration: dict[str, Any] | None = None

That is all a protocol writes. The base class then gives it:

* ``from_dict`` to read an AsyncAPI binding object (camelCase keys, ``x-`` extensions),
  rejecting unknown keys, wrong types and broken constraints with a
  :class:`~syncapi.errors.ConfigError` that names the class, the key path and the value;
* the same checks on direct construction (``ChannelBindings(partitions=0)`` fails);
* ``to_dict``, ``from_bindings_map``, ``replace`` and ``merged``.

Wire names are the camelCase form of the field names (``topic_configuration`` is
``topicConfiguration``); a trailing underscore is dropped (``in_`` is ``in``), and
:func:`asyncapi` overrides the name per field. Field types are checked from the type hints:
``str``, ``int`` (never ``bool``), ``float`` (``int`` accepted), ``bool``, ``X | None`` and
other unions, ``list[X]``, ``tuple[X, ...]`` (a list is accepted and stored as a tuple),
``dict[K, V]``/``Mapping[K, V]``, ``Literal[...]``, ``Any`` and nested dataclasses (built
recursively from a mapping when read from a document).

The machinery lives in :class:`SpecObject`, which :mod:`syncapi.security` reuses for the
security schemes.

Several bindings hold an *object schema*: an AsyncAPI Schema Object whose ``properties``
name things such as HTTP query parameters or headers (HTTP ``query`` and ``headers``,
WebSockets ``query`` and ``headers``). The protocols keep it as a plain dict and share
:func:`check_object_schema` (the construction-time check), :func:`resolved_object_schema`
and the readers :func:`property_names`, :func:`required_names` and
:func:`property_defaults`; :func:`describe_value` shows a value in their error messages.
"""

from __future__ import annotations

import dataclasses
import difflib
import reprlib
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, TypeVar, Union

from syncapi.errors import ConfigError

__all__ = [
    "Bindings",
    "Placeholder",
    "SpecObject",
    "asyncapi",
    "camel_case",
    "check_object_schema",
    "coerce_channel_bindings",
    "describe_value",
    "property_defaults",
    "property_names",
    "required_names",
    "resolved_object_schema",
    "schema_value",
    "secret_fields",
]

_S = TypeVar("_S", bound="SpecObject")
_B = TypeVar("_B", bound="Bindings")
_O = TypeVar("_O", bound="Bindings")

_METADATA_KEY = "syncapi.asyncapi"
_UNIONS: tuple[Any, ...] = (Union, types.UnionType)
_SEQUENCES: tuple[Any, ...] = (list, tuple, Sequence)
_MAPPINGS: tuple[Any, ...] = (dict, Mapping)


@dataclass(frozen=True)
class _Rules:
    """What :func:`asyncapi` records about one field."""

    name: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[Any, ...] | None = None
    max_length: int | None = None
    secret: bool = False


def asyncapi(
    *,
    name: str | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
    choices: Sequence[Any] | None = None,
    max_length: int | None = None,
    secret: bool = False,
) -> Mapping[str, Any]:
    """Describe how a field appears in an AsyncAPI document; use as ``field(metadata=...)``.

    Args:
        name: the wire (document) name, when it is not the camelCase of the field name.
        minimum: smallest allowed number (inclusive).
        maximum: largest allowed number (inclusive).
        choices: the allowed values; for a list or tuple value, the allowed items.
        max_length: longest allowed string.
        secret: a runtime-only value such as a password: never read from or written to a
            document and never shown in an error message. The field must be ``repr=False``.
    """
    if minimum is not None and maximum is not None and minimum > maximum:
        raise ConfigError(f"asyncapi(): minimum {minimum!r} is greater than maximum {maximum!r}")
    allowed = None if choices is None else tuple(choices)
    return {_METADATA_KEY: _Rules(name, minimum, maximum, allowed, max_length, secret)}


def camel_case(name: str) -> str:
    """Return the AsyncAPI wire name of a Python field name.

    ``topic_configuration`` becomes ``topicConfiguration``; a trailing underscore, used to
    dodge Python keywords, is dropped (``in_`` becomes ``in``).
    """
    head, *rest = name.rstrip("_").split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def secret_fields(cls: type[Any]) -> tuple[str, ...]:
    """Names of the fields of dataclass ``cls`` declared with ``asyncapi(secret=True)``."""
    return tuple(spec.attr for spec in _specs(cls) if spec.rules.secret)


def schema_value(schema: Any, *, what: str) -> Any:
    """Return the single value that an AsyncAPI "Schema Object" field pins.

    Fields such as Kafka ``groupId`` or the HTTP query properties hold a schema describing
    the runtime value; documents pin one value with ``const``, a one-item ``enum`` or a
    ``default``. A plain value (not a mapping) is returned unchanged and ``None`` gives
    ``None``.

    Args:
        schema: the schema (a mapping) or a plain value.
        what: names the field in error messages, e.g. ``"kafka OperationBindings.groupId"``.

    Raises:
        ConfigError: the schema is an unresolved ``$ref``, has several ``enum`` values and no
            ``default``, or pins no value at all.
    """
    if schema is None or not isinstance(schema, Mapping):
        return schema
    if "$ref" in schema:
        raise ConfigError(f"{what}: unresolved $ref {schema['$ref']!r}; resolve references first")
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        enum = schema["enum"]
        if not isinstance(enum, (list, tuple)) or not enum:
            raise ConfigError(f"{what}: 'enum' must be a non-empty list, got {_got(enum)}")
        if len(enum) == 1:
            return enum[0]
        if "default" not in schema:
            raise ConfigError(
                f"{what}: the schema allows several values ({_listing(enum)}) and has no "
                "default; pin one with 'const', a one-value 'enum' or a 'default'"
            )
        if not _member(schema["default"], enum):
            raise ConfigError(
                f"{what}: default {schema['default']!r} is not one of the enum values "
                f"({_listing(enum)})"
            )
    if "default" in schema:
        return schema["default"]
    raise ConfigError(
        f"{what}: the schema pins no value; give 'const', a one-value 'enum' or a 'default'"
    )


def describe_value(value: Any) -> str:
    """How error messages show a value: ``"<type> <short repr>"``, e.g. ``"int 1"``.

    ``None`` is shown as ``"None"``; long values are shortened with :mod:`reprlib`.
    """
    return _got(value)


def check_object_schema(obj: SpecObject, wire: str, schema: Mapping[str, Any] | None) -> None:
    """Refuse a field value that is neither an object schema nor a Reference Object.

    Meant for a binding's ``_validate``, on fields such as HTTP ``query``: the field is
    typed ``Mapping[str, Any] | None``, so the machinery has already checked that it is a
    mapping with string keys. ``None`` passes. A Reference Object (``{"$ref": "..."}``)
    passes when its ``$ref`` is a non-empty string; its sibling keys are not checked (JSON
    Schema draft 7 ignores them). Otherwise, when the schema gives ``type`` it must be
    ``"object"``; when it gives ``properties`` that must map names (str) to schemas
    (mappings or booleans); when it gives ``required`` that must be a list of distinct
    strings. A schema giving none of these keys is accepted.

    Args:
        obj: the binding being validated; its ``_error`` makes the exception, so messages
            start with its label (``"http OperationBindings: ..."``).
        wire: the field's document name, used in messages (``'query.properties'``).
        schema: the field's value.

    Raises:
        ConfigError: the schema breaks one of the rules above.
    """
    if schema is None:
        return
    if "$ref" in schema:
        ref = schema["$ref"]
        if not isinstance(ref, str) or not ref:
            raise obj._error(f"'{wire}.$ref' must be a non-empty string, got {_got(ref)}")
        return
    if "type" in schema and schema["type"] != "object":
        raise obj._error(
            f"'{wire}' must be an object schema: 'type' must be 'object', "
            f"got {_got(schema['type'])}"
        )
    if "properties" in schema:
        properties = schema["properties"]
        if not isinstance(properties, Mapping):
            raise obj._error(
                f"'{wire}.properties' must be a mapping of names to schemas, got {_got(properties)}"
            )
        for name, value in properties.items():
            if not isinstance(name, str):
                raise obj._error(f"'{wire}.properties' names must be str, got {_got(name)}")
            if not isinstance(value, (Mapping, bool)):
                raise obj._error(
                    f"'{wire}.properties.{name}' must be a schema (a mapping or a boolean), "
                    f"got {_got(value)}"
                )
    if "required" in schema:
        required = schema["required"]
        if not isinstance(required, (list, tuple)):
            raise obj._error(f"'{wire}.required' must be a list of str, got {_got(required)}")
        seen: set[str] = set()
        for i, name in enumerate(required):
            if not isinstance(name, str):
                raise obj._error(f"'{wire}.required[{i}]' must be str, got {_got(name)}")
            if name in seen:
                raise obj._error(f"'{wire}.required' lists {name!r} more than once")
            seen.add(name)


def resolved_object_schema(
    obj: SpecObject, wire: str, schema: Mapping[str, Any] | None
) -> Mapping[str, Any]:
    """Return an object schema ready to be read: ``{}`` for ``None``, else ``schema``.

    The schema is expected to have passed :func:`check_object_schema`.

    Args:
        obj: the binding that holds the schema (names it in messages).
        wire: the field's document name, used in messages.
        schema: the field's value.

    Raises:
        ConfigError: the schema is an unresolved Reference Object (``$ref``).
    """
    if schema is None:
        return {}
    if "$ref" in schema:
        raise obj._error(
            f"'{wire}' is an unresolved $ref {schema['$ref']!r}; resolve references first"
        )
    return schema


def property_names(obj: SpecObject, wire: str, schema: Mapping[str, Any] | None) -> tuple[str, ...]:
    """The names of an object schema's ``properties``, in document order, as written.

    Empty when ``schema`` is ``None`` or gives no ``properties``.

    Raises:
        ConfigError: the schema is an unresolved ``$ref``.
    """
    return tuple(resolved_object_schema(obj, wire, schema).get("properties", ()))


def required_names(obj: SpecObject, wire: str, schema: Mapping[str, Any] | None) -> tuple[str, ...]:
    """The names in an object schema's ``required`` list, in document order.

    Empty when ``schema`` is ``None`` or gives no ``required`` list. A required name need
    not be one of the ``properties``.

    Raises:
        ConfigError: the schema is an unresolved ``$ref``.
    """
    return tuple(resolved_object_schema(obj, wire, schema).get("required", ()))


def property_defaults(
    obj: SpecObject, wire: str, schema: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The ``default`` of each property whose schema gives one: ``{name: default}``.

    Properties are taken in document order; a boolean property schema, or one without
    ``default``, gives no entry. The values are returned as written (not copied or
    converted). Empty when ``schema`` is ``None`` or gives no ``properties``.

    Raises:
        ConfigError: the schema, or the schema of one of its properties, is an unresolved
            ``$ref`` (a referenced property schema may hold a default that cannot be seen).
    """
    properties = resolved_object_schema(obj, wire, schema).get("properties", {})
    defaults: dict[str, Any] = {}
    for name, value in properties.items():
        if not isinstance(value, Mapping):
            continue
        if "$ref" in value:
            raise obj._error(
                f"'{wire}.properties.{name}' is an unresolved $ref {value['$ref']!r}; "
                "resolve references first"
            )
        if "default" in value:
            defaults[name] = value["default"]
    return defaults


@dataclass(frozen=True, kw_only=True)
class SpecObject:
    """Base of the frozen dataclasses that mirror an AsyncAPI object.

    Construction validates every field against its type hint and :func:`asyncapi`
    constraints, then calls :meth:`_validate` for cross-field checks. A subclass that
    defines ``__post_init__`` must call ``super().__post_init__()``. Instances are
    immutable, comparable, and hashable unless a dict-typed field is set.

    Attributes:
        extensions: the ``x-...`` specification extensions, in document form.
    """

    extensions: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        """Check and normalise every field; raise :class:`ConfigError` on bad input."""
        label = self._label()
        for spec in _specs(type(self)):
            old = getattr(self, spec.attr)
            new = _check_field(old, spec, spec.attr, _Context(label, wire=False))
            if new is not old:
                object.__setattr__(self, spec.attr, new)
        extensions = self.extensions
        if not isinstance(extensions, Mapping):
            raise ConfigError(f"{label}: 'extensions' must be a mapping, got {_got(extensions)}")
        for key in extensions:
            if not _is_extension(key):
                raise ConfigError(f"{label}: extension key {key!r} must start with 'x-'")
        object.__setattr__(self, "extensions", dict(extensions))
        self._validate()

    @classmethod
    def _label(cls) -> str:
        """How error messages name this class."""
        return cls.__name__

    @classmethod
    def _prepare(cls, data: Mapping[str, Any]) -> Mapping[str, Any]:
        """Adjust a document mapping before it is parsed (drop fixed keys, rename old ones)."""
        return data

    @classmethod
    def _error(cls, message: str) -> ConfigError:
        """A :class:`ConfigError` whose message starts with this class's label."""
        return ConfigError(f"{cls._label()}: {message}")

    def _validate(self) -> None:
        """Cross-field checks for subclasses to override; raise ``self._error(...)``."""

    @classmethod
    def from_dict(cls: type[_S], data: Mapping[str, Any] | None) -> _S:
        """Build an instance from its AsyncAPI document form (camelCase keys).

        ``None`` or ``{}`` gives the defaults. ``x-`` keys go to :attr:`extensions`.

        Raises:
            ConfigError: unknown key, missing required key, wrong type or broken constraint.
        """
        result: _S = _parse(cls, data, "", cls._label())
        return result

    def to_dict(self) -> dict[str, Any]:
        """Return the AsyncAPI document form: camelCase keys, no ``None`` fields, extensions."""
        return _unparse(self)

    def replace(self: _S, **changes: Any) -> _S:
        """Return a validated copy with some fields changed (by their Python names)."""
        names = [f.name for f in dataclasses.fields(self) if f.init]
        for name in changes:
            if name not in names:
                guess = difflib.get_close_matches(name, names, n=1)
                hint = f"; did you mean {guess[0]!r}?" if guess else ""
                raise self._error(f"unknown field {name!r} (allowed: {', '.join(names)}){hint}")
        return dataclasses.replace(self, **changes)

    def merged(self: _S, other: _S) -> _S:
        """Return a copy where every field set (not ``None``) in ``other`` wins.

        Extensions are merged key by key, ``other`` winning. Nested objects are replaced
        whole, not merged.
        """
        if type(other) is not type(self):
            raise self._error(f"cannot merge a {type(other).__name__} into it")
        changes = {
            spec.attr: getattr(other, spec.attr)
            for spec in _specs(type(self))
            if getattr(other, spec.attr) is not None
        }
        changes["extensions"] = {**self.extensions, **other.extensions}
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True, kw_only=True)
class Bindings(SpecObject):
    """Base of every protocol's Server/Channel/Operation/MessageBindings dataclass.

    Subclasses set the class variables ``protocol`` (the key in an AsyncAPI bindings map,
    e.g. ``"kafka"``) and ``versions`` (the supported ``bindingVersion`` values, latest
    first; empty means any).

    Attributes:
        binding_version: the ``bindingVersion``; ``None`` means the latest.
    """

    protocol: ClassVar[str] = ""
    versions: ClassVar[tuple[str, ...]] = ()

    binding_version: str | None = None

    def __post_init__(self) -> None:
        """Validate the fields, then the binding version."""
        super().__post_init__()
        version = self.binding_version
        if version is not None and self.versions and version not in self.versions:
            raise self._error(
                f"unsupported bindingVersion {version!r} (supported: {', '.join(self.versions)})"
            )

    @classmethod
    def _label(cls) -> str:
        """``"<protocol> <ClassName>"``, e.g. ``"kafka ChannelBindings"``."""
        return f"{cls.protocol} {cls.__name__}" if cls.protocol else cls.__name__

    @property
    def effective_version(self) -> str | None:
        """The binding version in force: :attr:`binding_version`, else the latest supported."""
        if self.binding_version is not None:
            return self.binding_version
        return self.versions[0] if self.versions else None

    @classmethod
    def coerce(cls: type[_B], value: object) -> _B | None:
        """Accept bindings as users pass them: an instance, a document dict, or ``None``.

        A dict is parsed with :meth:`from_dict` (camelCase keys, unknown keys refused).

        Raises:
            ConfigError: a value of another type (e.g. another protocol's bindings).
        """
        if value is None or isinstance(value, cls):
            return value
        if isinstance(value, Mapping):
            return cls.from_dict(value)
        raise cls._error(f"expected a {cls.__name__} or a dict, got {_got(value)}")

    @classmethod
    def from_bindings_map(cls: type[_B], bindings: Mapping[str, Any] | None) -> _B | None:
        """Parse this protocol's entry of an AsyncAPI bindings object.

        Args:
            bindings: protocol name -> binding object, as found under ``bindings:``.

        Returns:
            The parsed binding, or ``None`` when ``bindings`` is ``None`` or has no entry
            for :attr:`protocol`. An entry whose value is empty gives the defaults.
        """
        if not cls.protocol:
            raise TypeError(f"{cls.__name__} declares no protocol")
        if bindings is None:
            return None
        if not isinstance(bindings, Mapping):
            raise cls._error(f"the bindings object must be a mapping, got {_got(bindings)}")
        if "$ref" in bindings:
            raise cls._error(f"unresolved $ref {bindings['$ref']!r}; resolve references first")
        if cls.protocol not in bindings:
            return None
        return cls.from_dict(bindings[cls.protocol])


@dataclass(frozen=True, kw_only=True)
class Placeholder(Bindings):
    """Base of a binding the spec reserves without fields (e.g. the HTTP server binding).

    A subclass declares no fields of its own; its document form may hold only
    ``bindingVersion`` and ``x-`` extensions, and any other key is rejected.
    """

    def __post_init__(self) -> None:
        """Refuse subclasses that declare fields, then validate as usual."""
        declared = [s.attr for s in _specs(type(self)) if s.attr != "binding_version"]
        if declared:
            raise TypeError(f"placeholder {type(self).__name__} declares fields: {declared}")
        super().__post_init__()


# --- the machinery -------------------------------------------------------------------


@dataclass(frozen=True)
class _Spec:
    """One dataclass field as the machinery sees it."""

    attr: str
    wire: str
    hint: Any
    required: bool
    rules: _Rules


@dataclass(frozen=True)
class _Context:
    """Where a check runs: the error label, document or Python names, secret or not."""

    label: str
    wire: bool
    secret: bool = False


_SPECS: dict[type[Any], tuple[_Spec, ...]] = {}


def _specs(cls: type[Any]) -> tuple[_Spec, ...]:
    """The checked fields of dataclass ``cls`` (``extensions`` excluded), cached."""
    cached = _SPECS.get(cls)
    if cached is not None:
        return cached
    hints = typing.get_type_hints(cls)
    specs = []
    for f in dataclasses.fields(cls):
        if not f.init or f.name == "extensions":
            continue
        rules = f.metadata.get(_METADATA_KEY, _Rules())
        if rules.secret and f.repr:
            raise TypeError(f"{cls.__name__}.{f.name}: a secret field must be repr=False")
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        wire = rules.name or camel_case(f.name)
        specs.append(_Spec(f.name, wire, hints[f.name], required, rules))
    _SPECS[cls] = tuple(specs)
    return _SPECS[cls]


def _takes_extensions(cls: type[Any]) -> bool:
    """Whether dataclass ``cls`` has an ``extensions`` field for ``x-`` keys."""
    return any(f.name == "extensions" for f in dataclasses.fields(cls))


def _is_extension(key: Any) -> bool:
    """Whether ``key`` is an ``x-...`` specification extension key."""
    return isinstance(key, str) and key.startswith("x-") and len(key) > 2


def _join(path: str, name: str) -> str:
    """Append ``name`` to a dotted key path."""
    return f"{path}.{name}" if path else name


def _shown(value: Any, secret: bool = False) -> str:
    """A short repr of ``value`` for messages, or a mask for a secret."""
    return "(value hidden)" if secret else reprlib.repr(value)


def coerce_channel_bindings(
    channel_cls: type[_B],
    operation_cls: type[_O],
    bindings: object,
    operation_bindings: object,
) -> tuple[_B | None, _O | None]:
    """A channel's ``bindings`` and ``operation_bindings`` as the protocol's classes, from
    what ``publisher()`` and ``subscriber()`` take: an instance, a document dict (parsed
    with ``from_dict``) or ``None``.

    Raises:
        ConfigError: a value of another type (another protocol's bindings, say: the
            message names the class expected and the one given), or a dict the class
            refuses.
    """
    protocol = channel_cls.protocol
    for value, cls, what in (
        (bindings, channel_cls, "channels"),
        (operation_bindings, operation_cls, "operations"),
    ):
        if value is not None and not isinstance(value, (cls, Mapping)):
            raise ConfigError(
                f"{protocol} {what} take syncapi.{protocol}.{cls.__name__} or a dict, got "
                f"{type(value).__module__}.{type(value).__name__}"
            )
    return channel_cls.coerce(bindings), operation_cls.coerce(operation_bindings)


def _got(value: Any, secret: bool = False) -> str:
    """``"<type> <short repr>"`` for messages."""
    if value is None:
        return "None"
    return f"{type(value).__name__} {_shown(value, secret)}"


def _listing(values: Sequence[Any]) -> str:
    """``'a', 'b', 'c'``."""
    return ", ".join(repr(v) for v in values)


def _member(value: Any, allowed: Sequence[Any]) -> bool:
    """``value in allowed`` without ``True == 1`` or ``1 == 1.0`` surprises."""
    return any(value == a and type(value) is type(a) for a in allowed)


def _describe(hint: Any) -> str:
    """A type hint in words, for messages."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any or hint is object:
        return "any value"
    if hint is type(None):
        return "None"
    if origin in _UNIONS:
        return " or ".join(_describe(a) for a in args)
    if origin is Literal:
        return f"one of {_listing(args)}"
    if origin in _SEQUENCES:
        return f"list of {_describe(args[0])}" if args else "list"
    if origin in _MAPPINGS:
        if not args or args[1] is Any:
            return "mapping"
        return f"mapping of {_describe(args[0])} to {_describe(args[1])}"
    if dataclasses.is_dataclass(hint):
        return f"{getattr(hint, '__name__', hint)} object"
    return str(getattr(hint, "__name__", hint))


def _parse(cls: type[Any], data: Any, path: str, label: str) -> Any:
    """Build dataclass ``cls`` from its document mapping ``data``."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        where = f"{path!r} " if path else ""
        raise ConfigError(f"{label}: {where}expected a mapping, got {_got(data)}")
    prepare = getattr(cls, "_prepare", None)
    if prepare is not None:
        data = prepare(data)
    if "$ref" in data:
        raise ConfigError(f"{label}: unresolved $ref {data['$ref']!r}; resolve references first")
    specs = _specs(cls)
    by_wire = {s.wire: s for s in specs if not s.rules.secret}
    takes_extensions = _takes_extensions(cls)
    kwargs: dict[str, Any] = {}
    extensions: dict[str, Any] = {}
    for key, value in data.items():
        if takes_extensions and _is_extension(key):
            extensions[key] = value
            continue
        spec = by_wire.get(key)
        if spec is None:
            raise _unknown_key(cls, key, path, label, specs)
        kwargs[spec.attr] = _check_field(value, spec, _join(path, spec.wire), _Context(label, True))
    missing = [s for s in by_wire.values() if s.required and s.attr not in kwargs]
    if missing:
        listed = ", ".join(f"{_join(path, s.wire)!r} ({_describe(s.hint)})" for s in missing)
        plural = "s" if len(missing) > 1 else ""
        raise ConfigError(f"{label}: missing required key{plural} {listed}")
    if extensions:
        kwargs["extensions"] = extensions
    return cls(**kwargs)


def _unknown_key(
    cls: type[Any], key: Any, path: str, label: str, specs: tuple[_Spec, ...]
) -> ConfigError:
    """The error for a document key that is neither a field nor an extension."""
    where = _join(path, str(key))
    if issubclass(cls, Placeholder):
        return ConfigError(
            f"{label}: unknown key {where!r}; this binding is a placeholder and takes no "
            "fields (only bindingVersion and x- extensions)"
        )
    public = sorted(s.wire for s in specs if not s.rules.secret)
    message = f"{label}: unknown key {where!r} (allowed: {', '.join(public)})"
    if any(key in (s.attr, s.wire) for s in specs if s.rules.secret):
        return ConfigError(f"{message}; {key!r} is a runtime-only value, not a document key")
    guess = _guess(key, specs) if isinstance(key, str) else None
    return ConfigError(f"{message}; did you mean {guess!r}?" if guess else message)


def _guess(key: str, specs: tuple[_Spec, ...]) -> str | None:
    """The document key that ``key`` was probably meant to be."""
    public = [s for s in specs if not s.rules.secret]
    for spec in public:
        if key == spec.attr or key.lower() == spec.wire.lower():
            return spec.wire
    close = difflib.get_close_matches(key, [s.wire for s in public], n=1)
    return close[0] if close else None


def _check_field(value: Any, spec: _Spec, path: str, context: _Context) -> Any:
    """Type-check, normalise and constraint-check one field value."""
    context = dataclasses.replace(context, secret=spec.rules.secret)
    value = _coerce(value, spec.hint, path, context)
    if value is not None:
        _check_rules(value, spec.rules, path, context)
    return value


def _type_error(value: Any, expected: str, path: str, context: _Context) -> ConfigError:
    """The error for a value of the wrong type."""
    got = _got(value, context.secret)
    return ConfigError(f"{context.label}: {path!r} must be {expected}, got {got}")


def _coerce(value: Any, hint: Any, path: str, context: _Context) -> Any:
    """Check ``value`` against ``hint``; return it normalised (tuples, dicts, dataclasses)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any or hint is object:
        return value
    if origin in _UNIONS:
        return _coerce_union(value, args, path, context)
    if origin is Literal:
        if _member(value, args):
            return value
    elif origin in _SEQUENCES:
        if origin is tuple and args and (len(args) != 2 or args[1] is not Ellipsis):
            raise TypeError(f"{context.label}: unsupported type hint {hint!r} for {path!r}")
        if isinstance(value, (list, tuple)):
            item = args[0] if args else Any
            items = [_coerce(v, item, f"{path}[{i}]", context) for i, v in enumerate(value)]
            return items if origin is list else tuple(items)
    elif origin in _MAPPINGS:
        if isinstance(value, Mapping):
            key_hint, value_hint = args or (Any, Any)
            return {
                _coerce(k, key_hint, f"{path}[{k!r}]", context): _coerce(
                    v, value_hint, f"{path}[{k!r}]", context
                )
                for k, v in value.items()
            }
    elif isinstance(hint, type) and dataclasses.is_dataclass(hint):
        if isinstance(value, hint):
            return _check_instance(value, path, context)
        if context.wire and isinstance(value, Mapping):
            return _parse(hint, value, path, context.label)
    elif isinstance(hint, type) and origin is None:
        if _is_instance(value, hint):
            return value
    else:
        raise TypeError(f"{context.label}: unsupported type hint {hint!r} for {path!r}")
    raise _type_error(value, _describe(hint), path, context)


def _coerce_union(value: Any, options: tuple[Any, ...], path: str, context: _Context) -> Any:
    """Check ``value`` against the members of a union, in order."""
    if value is None and type(None) in options:
        return None
    candidates = [o for o in options if o is not type(None)]
    if len(candidates) == 1:
        return _coerce(value, candidates[0], path, context)
    for candidate in candidates:
        try:
            return _coerce(value, candidate, path, context)
        except ConfigError:
            continue
    raise _type_error(value, " or ".join(_describe(o) for o in options), path, context)


def _is_instance(value: Any, cls: type[Any]) -> bool:
    """``isinstance`` where a bool is only a bool and an int also passes for a float."""
    if isinstance(value, bool):
        return cls is bool
    if cls is float:
        return isinstance(value, (int, float))
    return isinstance(value, cls)


def _check_instance(obj: Any, path: str, context: _Context) -> Any:
    """Validate a nested dataclass instance; return it, or a normalised copy."""
    if isinstance(obj, SpecObject):
        return obj  # validated when it was built
    changes = {}
    for spec in _specs(type(obj)):
        old = getattr(obj, spec.attr)
        name = spec.wire if context.wire else spec.attr
        new = _check_field(old, spec, _join(path, name), context)
        if new is not old:
            changes[spec.attr] = new
    return dataclasses.replace(obj, **changes) if changes else obj


def _check_rules(value: Any, rules: _Rules, path: str, context: _Context) -> None:
    """Check the :func:`asyncapi` constraints on a non-``None`` value."""
    label, secret = context.label, context.secret
    if rules.choices is not None:
        listed = isinstance(value, (list, tuple))
        for i, item in enumerate(value if listed else [value]):
            if not _member(item, rules.choices):
                where = f"{path}[{i}]" if listed else path
                raise ConfigError(
                    f"{label}: {where!r} must be one of {_listing(rules.choices)}, "
                    f"got {_shown(item, secret)}"
                )
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if rules.minimum is not None and value < rules.minimum:
            shown = _shown(value, secret)
            raise ConfigError(f"{label}: {path!r} must be >= {rules.minimum}, got {shown}")
        if rules.maximum is not None and value > rules.maximum:
            shown = _shown(value, secret)
            raise ConfigError(f"{label}: {path!r} must be <= {rules.maximum}, got {shown}")
    if rules.max_length is not None and isinstance(value, str) and len(value) > rules.max_length:
        raise ConfigError(
            f"{label}: {path!r} must be at most {rules.max_length} characters long, "
            f"got {len(value)}"
        )


def _unparse(obj: Any) -> dict[str, Any]:
    """The document form of dataclass instance ``obj``."""
    out: dict[str, Any] = {}
    for spec in _specs(type(obj)):
        value = getattr(obj, spec.attr)
        if value is not None and not spec.rules.secret:
            out[spec.wire] = _wire_value(value)
    out.update(_wire_value(getattr(obj, "extensions", {})))
    return out


def _wire_value(value: Any) -> Any:
    """The document form of a field value (lists for tuples, mappings for dataclasses)."""
    if isinstance(value, SpecObject):
        return value.to_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _unparse(value)
    if isinstance(value, Mapping):
        return {k: _wire_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_wire_value(v) for v in value]
    return value
