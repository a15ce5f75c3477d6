"""Channel addresses with ``{parameter}`` expressions: expand, match and route.

An AsyncAPI channel address is a string such as ``'orders/{region}/{id}'``: literal text
and ``{name}`` expressions, nothing more (no RFC 6570 operators).

* :class:`Parameter` describes one expression (allowed values, default...), read from an
  AsyncAPI 3.0 or 2.6 document with :meth:`Parameter.from_dict`.
* :class:`ChannelAddress` checks a template against its parameters, builds concrete
  addresses (:meth:`~ChannelAddress.expand`) and recognizes them
  (:meth:`~ChannelAddress.match`), so that ``match(expand(values)) == values``.
* :class:`ChannelRouter` maps addresses to values (handlers, subscribers...) and finds the
  one for a concrete address, as HTTP and WebSocket consumers do for request paths.

Every bad input raises :class:`~syncapi.errors.ConfigError` naming the channel and the
culprit.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Generic, TypeVar

from syncapi.errors import ConfigError
from syncapi.servers import (
    _check_choices,
    _check_keys,
    _label,
    _names,
    _opt_str,
    _opt_strings,
    _split_template,
    _value_text,
)

__all__ = ["ChannelAddress", "ChannelRouter", "Parameter"]

T = TypeVar("T")

_LOCATION = re.compile(r"\$message\.(header|payload)(#.*)?")
_DEFAULT_SEGMENT = "[^/]+"


@dataclass(frozen=True)
class Parameter:
    """An AsyncAPI channel Parameter: the allowed values and default of a ``{name}``.

    ``location`` is a runtime expression (``$message.payload#/user/id``) telling where the
    value can be found in a message; syncapi keeps it but does not evaluate it here.
    """

    enum: tuple[str, ...] | None = None
    default: str | None = None
    description: str | None = None
    examples: tuple[str, ...] = ()
    location: str | None = None

    def __post_init__(self) -> None:
        _check_choices("channel parameter", self.enum, self.default)
        _check_location("channel parameter", self.location)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, name: str | None = None) -> Parameter:
        """Build from an AsyncAPI mapping.

        The 3.0 form has ``enum``, ``default``, ``description``, ``examples`` and
        ``location``. The 2.6 form ``{schema, description, location}`` is accepted too:
        ``enum`` and ``default`` are read from the schema (integers become strings) and its
        other keywords are ignored. ``name``, if given, is used in error messages.
        """
        what = _label("channel parameter", name)
        fields = ("enum", "default", "description", "examples", "location", "schema")
        _check_keys(d, fields, what)
        if "schema" in d:
            mixed = [key for key in ("enum", "default", "examples") if key in d]
            if mixed:
                raise ConfigError(
                    f"{what}: 'schema' (AsyncAPI 2.6) cannot be combined with "
                    f"{_names(mixed)} (AsyncAPI 3.0)"
                )
            enum, default = _from_schema(d["schema"], f"{what} schema")
            examples: tuple[str, ...] | None = ()
        else:
            enum, default = _opt_strings(d, "enum", what), _opt_str(d, "default", what)
            examples = _opt_strings(d, "examples", what)
        location = _opt_str(d, "location", what)
        _check_choices(what, enum, default)
        _check_location(what, location)
        return cls(
            enum=enum,
            default=default,
            description=_opt_str(d, "description", what),
            examples=examples or (),
            location=location,
        )


def _from_schema(schema: object, what: str) -> tuple[tuple[str, ...] | None, str | None]:
    """Read ``enum`` and ``default`` from a 2.6 parameter schema."""
    if not isinstance(schema, Mapping):
        raise ConfigError(f"{what} must be a mapping, got {type(schema).__name__}")
    if "$ref" in schema:
        raise ConfigError(f"{what} is a $ref; resolve references before reading it")
    enum = schema.get("enum")
    if enum is not None:
        if not isinstance(enum, (list, tuple)):
            raise ConfigError(f"{what}: 'enum' must be a list, got {enum!r}")
        enum = tuple(_scalar_text(item, f"{what}: 'enum' item") for item in enum)
    default = schema.get("default")
    if default is not None:
        default = _scalar_text(default, f"{what}: 'default'")
    return enum, default


def _scalar_text(value: object, what: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ConfigError(f"{what} must be a string or an integer, got {value!r}")
    return str(value)


def _check_location(what: str, location: str | None) -> None:
    if location is not None and not _LOCATION.fullmatch(location):
        raise ConfigError(
            f"{what}: 'location' {location!r} is not a runtime expression; expected "
            "'$message.header#/...' or '$message.payload#/...'"
        )


class ChannelAddress:
    """A channel address template such as ``'orders/{region}/{id}'``.

    Args:
        template: the address; ``{name}`` marks a parameter (names hold letters, digits,
            ``_``, ``-`` and ``.``). A name may appear several times; it then stands for
            the same value each time.
        parameters: the declared parameters (:class:`Parameter` or AsyncAPI mappings). When
            given, they must cover exactly the template's expressions; when ``None`` every
            expression is an unconstrained parameter.
        segment: the regular expression a parameter value must fully match. The default
            ``[^/]+`` keeps a value inside one path segment.

    Instances are immutable; equality and hashing use ``template`` and ``segment``.
    """

    __slots__ = (
        "_groups",
        "_literals",
        "_names",
        "_order",
        "_parameters",
        "_pattern",
        "_segment",
        "_template",
    )

    def __init__(
        self,
        template: str,
        parameters: Mapping[str, Parameter | Mapping[str, Any]] | None = None,
        *,
        segment: str = _DEFAULT_SEGMENT,
    ) -> None:
        checked: object = template
        if not isinstance(checked, str):
            raise ConfigError(f"channel address must be a string, got {type(checked).__name__}")
        if not template:
            raise ConfigError("channel address must not be empty")
        what = f"channel {template!r}"
        literals, order = _split_template(template, what)
        self._template = template
        self._literals = tuple(literals)
        self._order = tuple(order)
        self._names = tuple(dict.fromkeys(order))
        self._parameters: Mapping[str, Parameter] = MappingProxyType(
            _declare(what, self.names, parameters)
        )
        self._segment = segment
        self._pattern, self._groups = _compile(what, self._literals, self._order, segment)

    @property
    def template(self) -> str:
        """The address as written, with its ``{name}`` expressions."""
        return self._template

    @property
    def names(self) -> tuple[str, ...]:
        """The parameter names in order of first appearance, each once."""
        return self._names

    @property
    def parameters(self) -> Mapping[str, Parameter]:
        """The parameters by name (read-only)."""
        return self._parameters

    @property
    def segment(self) -> str:
        """The regular expression every parameter value must fully match."""
        return self._segment

    @property
    def is_template(self) -> bool:
        """Whether the address has ``{name}`` expressions."""
        return bool(self._order)

    @classmethod
    def parse(cls, x: str | ChannelAddress) -> ChannelAddress:
        """Return ``x`` if it is already a ChannelAddress, else ``ChannelAddress(x)``."""
        return x if isinstance(x, ChannelAddress) else cls(x)

    def expand(self, values: Mapping[str, object] | None = None, /, **kwargs: object) -> str:
        """Build the concrete address, e.g. ``expand(id=42)`` -> ``'orders/42'``.

        Values may be given as a mapping (for names that are not identifiers, such as
        ``'user-id'``) and/or as keywords. They must be strings or integers; a missing (or
        ``None``) value takes the parameter's default. Each value must be non-empty, in the
        parameter's ``enum`` and fully match ``segment``.
        """
        what = f"channel {self._template!r}"
        given: dict[str, object] = {}
        if values is not None:
            if not isinstance(values, Mapping):
                raise ConfigError(f"{what}: values must be a mapping, got {type(values).__name__}")
            given.update(values)
        for key, value in kwargs.items():
            if key in given:
                raise ConfigError(f"{what}: parameter {key!r} is given twice")
            given[key] = value
        extra = [key for key in given if key not in self._parameters]
        if extra:
            raise ConfigError(
                f"{what}: unknown parameter(s) {_names(map(str, extra))}; "
                f"the address has {_names(self.names)}"
            )
        texts = {name: self._text(what, name, given.get(name)) for name in self.names}
        parts = [self._literals[0]]
        for name, literal in zip(self._order, self._literals[1:], strict=True):
            parts += [texts[name], literal]
        return "".join(parts)

    def match(self, address: str) -> dict[str, str] | None:
        """The parameter values if ``address`` matches this template in full, else ``None``.

        A value outside its parameter's ``enum`` (or empty) is no match.
        """
        found = self._pattern.fullmatch(address)
        if found is None:
            return None
        result = {name: found.group(group) for name, group in self._groups.items()}
        for name, value in result.items():
            enum = self._parameters[name].enum
            if not value or (enum is not None and value not in enum):
                return None
        return result

    def _text(self, what: str, name: str, value: object) -> str:
        """Check and convert the value of parameter ``name`` for :meth:`expand`."""
        parameter = self._parameters[name]
        if value is None:
            if parameter.default is None:
                raise ConfigError(f"{what}: missing value for parameter {name!r}")
            value = parameter.default
        text = _value_text(f"{what}: parameter {name!r}", value, parameter.enum)
        if not text:
            raise ConfigError(f"{what}: parameter {name!r}: value must not be empty")
        if not re.fullmatch(self._segment, text):
            raise ConfigError(
                f"{what}: parameter {name!r}: value {text!r} does not match the segment "
                f"pattern {self._segment!r}, so the address would not match back"
            )
        return text

    def _literal_length(self) -> int:
        return sum(len(literal) for literal in self._literals)

    def _shape(self) -> tuple[str, str]:
        """A key equal for templates that match the same addresses (names aside)."""
        if not self._order:
            return self._template, ""
        numbers = {name: str(i) for i, name in enumerate(self.names)}
        body = self._literals[0] + "".join(
            "{" + numbers[name] + "}" + literal
            for name, literal in zip(self._order, self._literals[1:], strict=True)
        )
        return body, self._segment

    def __str__(self) -> str:
        return self._template

    def __repr__(self) -> str:
        extra = "" if self._segment == _DEFAULT_SEGMENT else f", segment={self._segment!r}"
        return f"ChannelAddress({self._template!r}{extra})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ChannelAddress):
            return NotImplemented
        return (self._template, self._segment) == (other._template, other._segment)

    def __hash__(self) -> int:
        return hash((self._template, self._segment))


def _declare(
    what: str,
    names: tuple[str, ...],
    parameters: Mapping[str, Parameter | Mapping[str, Any]] | None,
) -> dict[str, Parameter]:
    """Check that ``parameters`` covers exactly ``names`` and normalize them."""
    if parameters is None:
        return {name: Parameter() for name in names}
    if not isinstance(parameters, Mapping):
        raise ConfigError(f"{what}: parameters must be a mapping, got {type(parameters).__name__}")
    result: dict[str, Parameter] = {}
    for name, item in parameters.items():
        if name not in names:
            raise ConfigError(
                f"{what}: parameter {name!r} is declared but the address has no "
                f"'{{{name}}}' expression; its expressions: {_names(names)}"
            )
        if isinstance(item, Parameter):
            result[name] = item
        elif isinstance(item, Mapping):
            result[name] = Parameter.from_dict(item, name=name)
        else:
            raise ConfigError(
                f"{what}: parameter {name!r} must be a Parameter or a mapping, "
                f"got {type(item).__name__}"
            )
    missing = [name for name in names if name not in result]
    if missing:
        raise ConfigError(f"{what}: no parameter declared for expression(s) {_names(missing)}")
    return result


def _compile(
    what: str, literals: tuple[str, ...], order: tuple[str, ...], segment: str
) -> tuple[re.Pattern[str], dict[str, str]]:
    """Compile the matching regex; return it with the group name of each parameter."""
    checked: object = segment
    if not isinstance(checked, str) or not segment:
        raise ConfigError(f"{what}: segment must be a non-empty regular expression")
    groups: dict[str, str] = {}
    pattern = [re.escape(literals[0])]
    for name, literal in zip(order, literals[1:], strict=True):
        if name in groups:
            pattern.append(f"(?P={groups[name]})")
        else:
            groups[name] = f"p{len(groups)}"
            pattern.append(f"(?P<{groups[name]}>{segment})")
        pattern.append(re.escape(literal))
    try:
        re.compile(segment)
        return re.compile("".join(pattern)), groups
    except re.error as exc:
        raise ConfigError(f"{what}: invalid segment pattern {segment!r}: {exc}") from None


class ChannelRouter(Generic[T]):
    """Maps channel addresses (literal or templates) to values and resolves concrete ones.

    A literal address wins over templates; among templates, the one with the most literal
    characters wins, then the one added first. ``add`` may be called from several threads;
    ``resolve`` takes no lock and sees every completed ``add``.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: tuple[tuple[ChannelAddress, T], ...] = ()
        self._literals: dict[str, T] = {}
        self._templates: tuple[tuple[ChannelAddress, T], ...] = ()

    def add(self, template_or_address: str | ChannelAddress, value: T) -> ChannelAddress:
        """Register ``value`` for an address; a template already registered is an error.

        Templates that differ only in their parameter names (``'a/{x}'`` and ``'a/{y}'``)
        count as the same. Returns the :class:`ChannelAddress`.
        """
        address = ChannelAddress.parse(template_or_address)
        with self._lock:
            shape = address._shape()
            for existing, _ in self._entries:
                if existing._shape() == shape:
                    same = "" if existing == address else f" as {existing.template!r}"
                    raise ConfigError(f"channel {address.template!r} is already registered{same}")
            self._entries += ((address, value),)
            if address.is_template:
                templates = [*self._templates, (address, value)]
                templates.sort(key=lambda entry: -entry[0]._literal_length())
                self._templates = tuple(templates)
            else:
                self._literals = {**self._literals, address.template: value}
        return address

    def remove(self, template_or_address: str | ChannelAddress) -> bool:
        """Unregister an address (as given to :meth:`add`); ``False`` if it was not."""
        address = ChannelAddress.parse(template_or_address)
        with self._lock:
            kept = tuple(entry for entry in self._entries if entry[0] != address)
            if len(kept) == len(self._entries):
                return False
            self._entries = kept
            self._literals = {a.template: v for a, v in kept if not a.is_template}
            templates = [(a, v) for a, v in kept if a.is_template]
            templates.sort(key=lambda entry: -entry[0]._literal_length())
            self._templates = tuple(templates)
        return True

    def resolve(self, address: str) -> tuple[T, dict[str, str]] | None:
        """The value registered for ``address`` and the parameter values, or ``None``."""
        literals = self._literals
        if address in literals:
            return literals[address], {}
        for candidate, value in self._templates:
            found = candidate.match(address)
            if found is not None:
                return value, found
        return None

    def items(self) -> list[tuple[ChannelAddress, T]]:
        """The registered ``(address, value)`` pairs, in the order they were added."""
        return list(self._entries)

    def __len__(self) -> int:
        return len(self._entries)
