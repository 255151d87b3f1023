"""
The admin client's values for configurations: the resource a configuration
belongs to (L{ConfigResource}), what C{describe_configs} tells of it (L{Config},
L{ConfigEntry}) and how C{incremental_alter_configs} changes it
(L{AlterConfigOp}). Re-exported by L{odradek.client.admin.types}.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from types import MappingProxyType

import attrs

__all__ = [
    "AlterConfigOp",
    "AlterConfigOpType",
    "Config",
    "ConfigEntry",
    "ConfigResource",
    "ConfigResourceType",
    "ConfigSource",
    "ConfigSynonym",
    "ConfigType",
]


class ConfigResourceType(enum.IntEnum):
    """The kinds of resource that have a configuration, by Kafka's wire ids."""

    UNKNOWN = 0
    TOPIC = 2
    BROKER = 4
    BROKER_LOGGER = 8
    CLIENT_METRICS = 16
    GROUP = 32


class ConfigSource(enum.IntEnum):
    """
    Where a configuration value comes from, by the ids of DescribeConfigs
    responses.
    """

    UNKNOWN = 0
    DYNAMIC_TOPIC_CONFIG = 1
    DYNAMIC_BROKER_CONFIG = 2
    DYNAMIC_DEFAULT_BROKER_CONFIG = 3
    STATIC_BROKER_CONFIG = 4
    DEFAULT_CONFIG = 5
    DYNAMIC_BROKER_LOGGER_CONFIG = 6
    DYNAMIC_CLIENT_METRICS_CONFIG = 7
    DYNAMIC_GROUP_CONFIG = 8

    @classmethod
    def from_wire(cls, value: int) -> ConfigSource:
        """@return: the source with this id; L{UNKNOWN} for an id not known."""
        try:
            return cls(value)
        except ValueError:
            return cls.UNKNOWN


class ConfigType(enum.IntEnum):
    """The type of a configuration's value, by the ids of DescribeConfigs."""

    UNKNOWN = 0
    BOOLEAN = 1
    STRING = 2
    INT = 3
    SHORT = 4
    LONG = 5
    DOUBLE = 6
    LIST = 7
    CLASS = 8
    PASSWORD = 9

    @classmethod
    def from_wire(cls, value: int) -> ConfigType:
        """@return: the type with this id; L{UNKNOWN} for an id not known."""
        try:
            return cls(value)
        except ValueError:
            return cls.UNKNOWN


class AlterConfigOpType(enum.IntEnum):
    """
    What an L{AlterConfigOp} does.

    @cvar SET: set the value.
    @cvar DELETE: remove the value, so the default applies again.
    @cvar APPEND: add the value to a list configuration.
    @cvar SUBTRACT: remove the value from a list configuration.
    """

    SET = 0
    DELETE = 1
    APPEND = 2
    SUBTRACT = 3


@attrs.frozen
class ConfigResource:
    """
    A resource with a configuration.

    A broker is named by its id (C{"1"}); the empty name is the default of every
    broker. Broker loggers are named by their broker's id too.

    @ivar type: the kind of resource.
    @ivar name: its name.
    """

    type: ConfigResourceType = attrs.field(converter=ConfigResourceType)
    name: str

    def __attrs_post_init__(self) -> None:
        if self.type == ConfigResourceType.UNKNOWN:
            raise ValueError(f"the type of config resource {self.name!r} is UNKNOWN")
        if not isinstance(self.name, str):
            raise ValueError(f"a config resource name must be a string: {self.name!r}")
        if self._named_by_broker and not self.name.isdigit():
            raise ValueError(
                f"a {self.type.name} config resource is named by a broker id, "
                f"not {self.name!r}"
            )

    @property
    def _named_by_broker(self) -> bool:
        """Whether the name is a broker id: a broker's or its loggers'."""
        return self.type == ConfigResourceType.BROKER_LOGGER or (
            self.type == ConfigResourceType.BROKER and bool(self.name)
        )

    @property
    def broker_id(self) -> int | None:
        """
        The broker that alone can answer for this resource (a broker other than
        the default, or a broker's loggers), or C{None} when any broker can.
        """
        return int(self.name) if self._named_by_broker else None


@attrs.frozen
class ConfigSynonym:
    """
    One of the values that could apply to a configuration, in the order of
    precedence.

    @ivar name: the key it is set under (a broker key may stand for a topic key).
    @ivar value: its value (C{None} if sensitive).
    @ivar source: where it is set.
    """

    name: str
    value: str | None
    source: ConfigSource


@attrs.frozen
class ConfigEntry:
    """
    One configuration key of a resource as C{describe_configs} tells it.

    @ivar name: the key.
    @ivar value: its value; C{None} when sensitive or unset.
    @ivar source: where the value comes from.
    @ivar is_read_only: whether it cannot be changed.
    @ivar is_sensitive: whether the value is hidden (a password ...).
    @ivar is_default: whether the value is the default (C{source} is
        L{ConfigSource.DEFAULT_CONFIG}).
    @ivar synonyms: the values that could apply, with C{include_synonyms}.
    @ivar type: the value's type, or C{None} when the broker does not tell
        (DescribeConfigs before version 3).
    @ivar documentation: the key's documentation, with C{include_documentation}
        (version 3 and up), else C{None}.
    """

    name: str
    value: str | None
    source: ConfigSource = ConfigSource.UNKNOWN
    is_read_only: bool = False
    is_sensitive: bool = False
    is_default: bool = False
    synonyms: tuple[ConfigSynonym, ...] = ()
    type: ConfigType | None = None
    documentation: str | None = None


def _entries(value: Mapping[str, ConfigEntry]) -> Mapping[str, ConfigEntry]:
    return MappingProxyType(dict(value))


@attrs.frozen
class Config:
    """
    The configuration of a resource: its entries by key.

    @ivar entries: each key's L{ConfigEntry}.
    """

    entries: Mapping[str, ConfigEntry] = attrs.field(converter=_entries)

    def get(self, name: str) -> ConfigEntry | None:
        """@return: the entry of key C{name}, or C{None}."""
        return self.entries.get(name)

    def __iter__(self) -> Iterator[ConfigEntry]:
        """Iterate over the entries."""
        return iter(self.entries.values())


@attrs.frozen
class AlterConfigOp:
    """
    One change of C{incremental_alter_configs}.

    @ivar name: the configuration key.
    @ivar value: the value to set, append or subtract; ignored by
        L{AlterConfigOpType.DELETE}.
    @ivar op_type: what to do.
    """

    name: str
    value: str | None
    op_type: AlterConfigOpType = attrs.field(
        default=AlterConfigOpType.SET, converter=AlterConfigOpType
    )

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"a configuration key must be non-empty: {self.name!r}")
