"""
The machinery behind L{odradek.client.config}, after Kafka's C{ConfigDef} and
C{AbstractConfig}: typed keys with defaults and validators, and the base class of
every client configuration. The types of keys, their validators and the parsing of
values given typed or as strings are in L{odradek.client._configtypes}.

A configuration class declares its keys as class attributes made with L{define}; each
is a descriptor, so C{config.linger_ms} reads the parsed value of C{linger.ms} and a
type checker knows its type. The attribute's name must be the key's dotted name with
underscores.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any, Final, Generic, Self, TypeVar, overload

import attrs

from odradek.client._configtypes import ConfigError, ConfigType, Validator, _invalid

__all__ = [
    "NO_DEFAULT",
    "AbstractConfig",
    "ConfigKey",
    "define",
]

T = TypeVar("T")


class _NoDefault:
    def __repr__(self) -> str:
        return "NO_DEFAULT"


NO_DEFAULT: Final = _NoDefault()
"""The default of a required key: a configuration without it is an error."""


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

    @classmethod
    def of(
        cls, config: Mapping[str, object] | Self | None, settings: Mapping[str, object]
    ) -> Self:
        """
        The configuration of a client face: C{config}, with C{settings}.

        @param config: settings by Kafka's names, or a configuration of this
            class, or C{None}.
        @param settings: more settings as keyword arguments, which may override a
            given configuration's keys.
        @return: the configuration.
        @raise ConfigError: for an unknown key or a bad value.
        """
        if isinstance(config, cls):
            if not settings:
                return config
            by_attribute = {
                key.attribute: key.name for key in cls.definition().values()
            }
            # Unknown keys are passed on unchanged, so that the error names them.
            overrides = {
                by_attribute.get(key, key): value for key, value in settings.items()
            }
            return cls({**config.originals, **overrides})
        return cls(config or {}, **settings)

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
