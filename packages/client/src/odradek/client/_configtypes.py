"""
The types and validators of configuration keys, after Kafka's C{ConfigDef.Type}
and C{ConfigDef.Validator}: how a value given typed or as a string is parsed
(L{ConfigType}: L{INT}, L{LONG}, L{DOUBLE}, L{BOOLEAN}, L{STRING}, L{LIST},
L{CLASS}, L{PASSWORD}) and checked (L{Range}, L{OneOf}, L{NonEmptyList},
L{NonEmptyString}), and the L{ConfigError} a wrong value raises. The keys
themselves and the configuration classes are in L{odradek.client._configdef}.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, Final, Generic, Protocol, TypeVar

import attrs

__all__ = [
    "BOOLEAN",
    "CLASS",
    "DOUBLE",
    "INT",
    "LIST",
    "LONG",
    "PASSWORD",
    "STRING",
    "ConfigError",
    "ConfigType",
    "NonEmptyList",
    "NonEmptyString",
    "OneOf",
    "Password",
    "Range",
    "Validator",
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


# Shared with _configdef.py, which raises the same message for a missing value.
def _invalid(name: str, value: object, reason: str) -> ConfigError:
    return ConfigError(
        f"Invalid value {value!r} for configuration {name}: {reason}", name, value
    )


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
