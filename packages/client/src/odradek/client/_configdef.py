"""
The machinery behind L{odradek.client.config}, after Kafka's C{ConfigDef} and
C{AbstractConfig}: typed keys with defaults and validators, the parsing of values
given typed or as strings, and the base class of every client configuration.

A configuration class declares its keys as class attributes made with L{define}; each
is a descriptor, so C{config.linger_ms} reads the parsed value of C{linger.ms} and a
type checker knows its type. The attribute's name must be the key's dotted name with
underscores.
"""

from __future__ import annotations

import difflib
import functools
import importlib
from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType
from typing import Any, Final, Generic, Protocol, TypeVar, overload

import attrs

__all__ = [
    "BOOLEAN",
    "CLASS",
    "DOUBLE",
    "INT",
    "LIST",
    "LONG",
    "NO_DEFAULT",
    "PASSWORD",
    "STRING",
    "AbstractConfig",
    "ConfigError",
    "ConfigKey",
    "ConfigType",
    "NonEmptyList",
    "NonEmptyString",
    "OneOf",
    "Password",
    "Range",
    "Validator",
    "define",
    "load_object",
]

T = TypeVar("T")


class ConfigError(ValueError):
    """
    A configuration is wrong: an unknown key, a value of the wrong type or out of
    range, a required key missing, or keys that contradict each other.

    @ivar name: the key at fault (its dotted name), or C{None} when several are.
    @ivar value: the value at fault, as given, or C{None}.
    """

    def __init__(
        self, message: str, name: str | None = None, value: object = None
    ) -> None:
        super().__init__(message)
        self.name = name
        self.value = value


def _invalid(name: str, value: object, reason: str) -> ConfigError:
    return ConfigError(
        f"Invalid value {value!r} for configuration {name}: {reason}", name, value
    )


class _NoDefault:
    def __repr__(self) -> str:
        return "NO_DEFAULT"


NO_DEFAULT: Final = _NoDefault()
"""The default of a required key: a configuration without it is an error."""


@attrs.frozen(repr=False)
class Password:
    """
    A secret configuration value; its C{repr} and C{str} hide it.

    @ivar value: the secret.
    """

    value: str

    def __repr__(self) -> str:
        return "Password('[hidden]')"

    __str__ = __repr__


@attrs.frozen
class ConfigType(Generic[T]):
    """
    The type of a key: its name in Kafka's documentation and how to parse a value.

    @ivar name: C{"int"}, C{"long"}, C{"double"}, C{"boolean"}, C{"string"},
        C{"list"}, C{"class"} or C{"password"}.
    @ivar parse: called with the key's name and the value given, returns the typed
        value or raises L{ConfigError}.
    """

    name: str
    parse: Callable[[str, object], T]


def _type_name(value: object) -> str:
    return type(value).__qualname__


def _integer(bits: int) -> Callable[[str, object], int]:
    low, high = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    kind = f"a {bits}-bit integer"

    def parse(name: str, value: object) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str):
            try:
                number = int(value.strip())
            except ValueError:
                raise _invalid(name, value, f"expected {kind}") from None
        else:
            raise _invalid(name, value, f"expected {kind}, got {_type_name(value)}")
        if not low <= number <= high:
            raise _invalid(name, value, f"expected {kind}, out of range")
        return number

    return parse


def _parse_double(name: str, value: object) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            pass
    raise _invalid(name, value, "expected a number")


def _parse_boolean(name: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = value.strip().lower()
        if word in ("true", "false"):
            return word == "true"
    raise _invalid(name, value, "expected true or false")


def _parse_string(name: str, value: object) -> str:
    if isinstance(value, str):
        return value.strip()
    raise _invalid(name, value, f"expected a string, got {_type_name(value)}")


def _parse_list(name: str, value: object) -> list[str]:
    if isinstance(value, str):
        text = value.strip()
        return [item.strip() for item in text.split(",")] if text else []
    if isinstance(value, (list, tuple)):
        items: list[str] = []
        for item in value:
            if not isinstance(item, str):
                raise _invalid(name, value, "expected a list of strings")
            items.append(item.strip())
        return items
    raise _invalid(name, value, "expected a comma-separated string or a list")


def _parse_class(name: str, value: object) -> object:
    if isinstance(value, str):
        try:
            return load_object(value.strip())
        except ValueError as e:
            raise _invalid(name, value, str(e)) from None
    return value


def _parse_password(name: str, value: object) -> Password:
    if isinstance(value, Password):
        return value
    if isinstance(value, str):
        return Password(value.strip())
    raise _invalid(name, value, "expected a string")


INT: Final = ConfigType("int", _integer(32))
"""A signed 32-bit integer, given as an C{int} or a string."""
LONG: Final = ConfigType("long", _integer(64))
"""A signed 64-bit integer, given as an C{int} or a string."""
DOUBLE: Final = ConfigType("double", _parse_double)
"""A float, given as a number or a string."""
BOOLEAN: Final = ConfigType("boolean", _parse_boolean)
"""A C{bool}, given as one or as C{"true"} or C{"false"} in any case."""
STRING: Final = ConfigType("string", _parse_string)
"""A string, stripped of surrounding white space."""
LIST: Final = ConfigType("list", _parse_list)
"""A list of strings, given as a list or as one comma-separated string."""
CLASS: Final = ConfigType("class", _parse_class)
"""An object; a string names it by import path (see L{load_object})."""
PASSWORD: Final = ConfigType("password", _parse_password)
"""A secret string, kept as a L{Password}."""


def load_object(path: str) -> object:
    """
    Import the object an import path names.

    @param path: C{"package.module:name"} or C{"package.module.name"}; after the
        colon, dots walk attributes (C{"mod:Outer.Inner"}).
    @return: the object.
    @raise ValueError: if the path is malformed or names nothing importable.
    """
    if ":" in path:
        module_name, _, attribute_path = path.partition(":")
    else:
        module_name, _, attribute_path = path.rpartition(".")
    if not module_name or not attribute_path:
        raise ValueError(f"{path!r} is not an import path like 'package.module.Name'")
    try:
        obj: object = importlib.import_module(module_name)
    except ImportError as e:
        raise ValueError(f"cannot import module {module_name!r}: {e}") from None
    for attribute in attribute_path.split("."):
        try:
            obj = getattr(obj, attribute)
        except AttributeError:
            raise ValueError(f"{path!r} names nothing importable") from None
    return obj


class Validator(Protocol):
    """
    Checks a parsed value; its C{str} says what is allowed, for messages and docs.
    """

    def __call__(self, name: str, value: Any) -> None:
        """
        @param name: the key's dotted name.
        @param value: the parsed value (never C{None}).
        @raise ConfigError: if the value is not allowed.
        """


@attrs.frozen
class Range:
    """
    A number between two bounds, inclusive, or one of a few special values.

    @ivar min: the least allowed, or C{None} for no bound.
    @ivar max: the greatest allowed, or C{None} for no bound.
    @ivar also: values allowed outside the bounds (such as -1 for a default).
    """

    min: float | None = None
    max: float | None = None
    also: tuple[float, ...] = ()

    def __call__(self, name: str, value: Any) -> None:
        if value in self.also:
            return
        if (self.min is not None and value < self.min) or (
            self.max is not None and value > self.max
        ):
            raise _invalid(name, value, f"value must be {self}")

    def __str__(self) -> str:
        if self.max is None:
            text = f"at least {self.min}"
        elif self.min is None:
            text = f"at most {self.max}"
        else:
            text = f"between {self.min} and {self.max}"
        if self.also:
            text += " or " + " or ".join(str(value) for value in self.also)
        return text


@attrs.frozen
class OneOf:
    """
    One value of a fixed set.

    @ivar options: the allowed values.
    @ivar case_insensitive: compare strings without regard to case.
    """

    options: tuple[object, ...]
    case_insensitive: bool = False

    def __call__(self, name: str, value: Any) -> None:
        if self.case_insensitive and isinstance(value, str):
            if value.upper() in (str(option).upper() for option in self.options):
                return
        elif value in self.options:
            return
        raise _invalid(name, value, f"value must be {self}")

    def __str__(self) -> str:
        return "one of " + ", ".join(str(option) for option in self.options)


@attrs.frozen
class NonEmptyList:
    """
    A list with at least one item, none of them empty.

    @ivar unique: whether items must differ from each other, too.
    """

    unique: bool = False

    def __call__(self, name: str, value: Any) -> None:
        if (
            not value
            or not all(value)
            or (self.unique and len(set(value)) != len(value))
        ):
            raise _invalid(name, value, f"value must be {self}")

    def __str__(self) -> str:
        if self.unique:
            return "a non-empty list of distinct, non-empty strings"
        return "a non-empty list of non-empty strings"


@attrs.frozen
class NonEmptyString:
    """A string that is not empty."""

    def __call__(self, name: str, value: Any) -> None:
        if not value:
            raise _invalid(name, value, f"value must be {self}")

    def __str__(self) -> str:
        return "a non-empty string"


@attrs.frozen
class ConfigKey(Generic[T]):
    """
    One key of a configuration, and the descriptor that reads its value.

    @ivar name: Kafka's dotted name (C{"linger.ms"}).
    @ivar config_type: how values are parsed.
    @ivar default: the value when none is given, typed or as a string, parsed as
        given values are; L{NO_DEFAULT} makes the key required, and a default of
        C{None} lets users give C{None}.
    @ivar validator: checks parsed values, or C{None}.
    @ivar doc: one line for the reference.
    """

    name: str
    config_type: ConfigType[T]
    default: object
    validator: Validator | None
    doc: str

    @property
    def attribute(self) -> str:
        """The key's name as a Python identifier: dots become underscores."""
        return self.name.replace(".", "_")

    @property
    def required(self) -> bool:
        """Whether the key has no default."""
        return self.default is NO_DEFAULT

    def parse(self, value: object) -> T:
        """
        Parse and validate a value given for this key.

        @param value: the value as given, typed or as a string.
        @return: the parsed value.
        @raise ConfigError: if it has the wrong type or is not allowed.
        """
        if value is None:
            if self.default is None:
                return value  # type: ignore[return-value]
            raise _invalid(self.name, value, "a value is required")
        parsed: T = self.config_type.parse(self.name, value)
        if self.validator is not None:
            self.validator(self.name, parsed)
        return parsed

    def __set_name__(self, owner: type, name: str) -> None:
        if name != self.attribute:
            raise TypeError(f"the key {self.name!r} must be the attribute {name!r}")

    @overload
    def __get__(self, instance: None, owner: type) -> ConfigKey[T]: ...
    @overload
    def __get__(self, instance: AbstractConfig, owner: type) -> T: ...
    def __get__(self, instance: AbstractConfig | None, owner: type) -> ConfigKey[T] | T:
        if instance is None:
            return self
        value: T = instance[self.name]
        return value


@overload
def define(
    name: str,
    type: ConfigType[T],
    default: None,
    doc: str,
    validator: Validator | None = None,
) -> ConfigKey[T | None]: ...
@overload
def define(
    name: str,
    type: ConfigType[T],
    default: T | str | _NoDefault,
    doc: str,
    validator: Validator | None = None,
) -> ConfigKey[T]: ...
def define(
    name: str,
    type: ConfigType[T],
    default: object,
    doc: str,
    validator: Validator | None = None,
) -> ConfigKey[Any]:
    """
    Define one key of a configuration class; assign it to the attribute named as
    the key with underscores.

    @param name: Kafka's dotted name.
    @param type: the key's type.
    @param default: the default, typed or as a string (it is parsed as a given
        value would be); L{NO_DEFAULT} for a required key; or C{None}, which also
        lets users give C{None}.
    @param doc: one line for the reference.
    @param validator: a check on parsed values.
    @return: the key, a descriptor.
    """
    return ConfigKey(name, type, default, validator, doc)


@functools.cache
def _keys_of(cls: type) -> Mapping[str, ConfigKey[Any]]:
    keys: dict[str, ConfigKey[Any]] = {}
    for klass in reversed(cls.__mro__):
        for value in vars(klass).values():
            if isinstance(value, ConfigKey):
                keys[value.name] = value
    return MappingProxyType(keys)


@attrs.frozen(init=False)
class AbstractConfig(Mapping[str, Any]):
    """
    A parsed, validated configuration; immutable.

    It is also a read-only mapping of every key's parsed value by dotted name, the
    form plugins such as partitioners receive in their C{configure}.

    Build one from a mapping with Kafka's dotted names, keyword arguments with
    underscores, or both: C{ProducerConfig({"bootstrap.servers": "h:9092"},
    linger_ms=5)}. Values may be typed or strings. Read values as attributes
    (C{config.linger_ms}) or by dotted name (C{config["linger.ms"]}).

    Subclasses declare keys with L{define} and may check keys against each other
    in L{_post_process}.
    """

    _values: Mapping[str, Any]
    _originals: Mapping[str, object] = attrs.field(repr=False, eq=False)

    def __init__(
        self, configs: Mapping[str, object] | None = None, /, **kwargs: object
    ) -> None:
        definition = self.definition()
        by_attribute = {key.attribute: key for key in definition.values()}
        originals: dict[str, object] = {}
        for given, value in [*(configs or {}).items(), *kwargs.items()]:
            key = definition.get(given) or by_attribute.get(given)
            if key is None:
                raise self._unknown(given, definition)
            if key.name in originals:
                raise ConfigError(f"Configuration {key.name} given twice", key.name)
            originals[key.name] = value
        values: dict[str, Any] = {}
        for name, key in definition.items():
            if name in originals:
                values[name] = key.parse(originals[name])
            elif key.required:
                raise ConfigError(
                    f"Missing required configuration {name}, which has no default",
                    name,
                )
            else:
                values[name] = key.parse(key.default)
        values = self._post_process(values, originals)
        self.__attrs_init__(MappingProxyType(values), MappingProxyType(originals))

    @staticmethod
    def _unknown(given: str, definition: Mapping[str, ConfigKey[Any]]) -> ConfigError:
        candidates = [*definition, *(key.attribute for key in definition.values())]
        message = f"Unknown configuration {given!r}"
        close = difflib.get_close_matches(given, candidates, n=1)
        if close:
            suggestion = close[0]
            if suggestion not in definition:
                suggestion = suggestion.replace("_", ".")
            message += f"; did you mean {suggestion!r}?"
        return ConfigError(message, given)

    def _post_process(
        self, values: dict[str, Any], originals: Mapping[str, object]
    ) -> dict[str, Any]:
        """
        Check keys against each other and derive values, after each key was parsed.

        @param values: the parsed values by dotted name; may be changed in place.
        @param originals: what the user gave, by dotted name.
        @return: the final values.
        @raise ConfigError: if keys contradict each other.
        """
        return values

    @classmethod
    def definition(cls) -> Mapping[str, ConfigKey[Any]]:
        """@return: the keys of this configuration class, by dotted name."""
        return _keys_of(cls)

    @property
    def originals(self) -> Mapping[str, object]:
        """What the user gave, by dotted name, unparsed."""
        return self._originals

    def is_set(self, name: str) -> bool:
        """
        @param name: a key's dotted name or its name with underscores.
        @return: whether the user gave a value for this key.
        """
        if name in self._originals:
            return True
        for key in self.definition().values():
            if key.attribute == name:
                return key.name in self._originals
        return False

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)
