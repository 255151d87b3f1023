"""
The sans-IO half of C{odradek-configs}: the entity types it knows, parsing
C{--add-config} and C{--delete-config} as Kafka's C{ConfigCommand} does, and the
lines of C{--describe}.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import attrs

from odradek.admin.cli._common import ToolError
from odradek.client.admin import (
    AlterConfigOp,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ConfigResourceType,
    ConfigSource,
)

__all__ = [
    "ENTITY_TYPES",
    "Entity",
    "alter_ops",
    "describe_header",
    "describe_line",
    "parse_add_config",
    "parse_delete_config",
    "shown_entries",
]

ENTITY_TYPES: dict[str, ConfigResourceType] = {
    "topics": ConfigResourceType.TOPIC,
    "brokers": ConfigResourceType.BROKER,
    "broker-loggers": ConfigResourceType.BROKER_LOGGER,
    "groups": ConfigResourceType.GROUP,
}
"""The C{--entity-type} values this tool handles, and their resource types."""

_UNSUPPORTED = ("users", "clients", "ips", "client-metrics")
_CONFIG_KEY = re.compile(r"[a-zA-Z0-9._-]*")


@attrs.frozen
class Entity:
    """
    What C{odradek-configs} describes or alters.

    @ivar entity_type: Kafka's name of its type (C{"topics"}, C{"brokers"} ...).
    @ivar name: its name; the empty name is the default of every broker; C{None}
        means every entity of the type (C{--describe} only).
    """

    entity_type: str
    name: str | None

    def __attrs_post_init__(self) -> None:
        if self.entity_type in _UNSUPPORTED:
            raise ToolError(
                f"entity type {self.entity_type} (quotas, SCRAM credentials, client"
                " metrics) is not supported; use topics, brokers, broker-loggers"
                " or groups"
            )
        if self.entity_type not in ENTITY_TYPES:
            raise ToolError(
                f"Invalid entity type {self.entity_type}, the entity type must be"
                f" one of {', '.join(ENTITY_TYPES)}"
            )
        if (
            self.entity_type in ("brokers", "broker-loggers")
            and self.name
            and not self.name.isdigit()
        ):
            raise ToolError(
                f"The entity name for {self.entity_type} must be a valid integer"
                f" broker id, but it is: {self.name}"
            )

    @property
    def singular(self) -> str:
        """The type's name for one entity (C{"topic"}, C{"broker"} ...)."""
        return self.entity_type[:-1]

    def resource(self, name: str) -> ConfigResource:
        """
        @param name: the name of one entity of this type.
        @return: its config resource.
        """
        return ConfigResource(ENTITY_TYPES[self.entity_type], name)

    def dynamic_source(self, name: str) -> ConfigSource | None:
        """
        @param name: the name of one entity of this type.
        @return: the source of the values set on it (what C{--describe} shows
            without C{--all}), or C{None} if every value shows.
        """
        if self.entity_type == "topics":
            return ConfigSource.DYNAMIC_TOPIC_CONFIG
        if self.entity_type == "groups":
            return ConfigSource.DYNAMIC_GROUP_CONFIG
        if self.entity_type == "brokers":
            return (
                ConfigSource.DYNAMIC_BROKER_CONFIG
                if name
                else ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG
            )
        return None


def _split_outside_brackets(text: str, separator: str) -> list[str]:
    """Split C{text} on C{separator} where it is not between C{[} and C{]}."""
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for char in text:
        if char == "[":
            depth += 1
        elif char == "]":
            depth = max(0, depth - 1)
        if char == separator and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def parse_add_config(text: str) -> dict[str, str]:
    """
    Parse C{--add-config}: C{key=value} pairs separated by commas, where square
    brackets group a value holding commas (C{"k1=v1,k2=[a,b],k3="}); the
    brackets are dropped from the value, as Kafka does.

    @param text: the flag's value.
    @return: the values by key.
    @raise ToolError: for a pair without C{=} or a key with a character other
        than letters, digits, C{.}, C{_} and C{-}.
    """
    configs: dict[str, str] = {}
    for pair in _split_outside_brackets(text, ","):
        pieces = _split_outside_brackets(pair, "=")
        if len(pieces) != 2 or not pieces[0].strip():
            raise ToolError(
                f"Invalid entity config {pair!r}: all configs to be added must be in"
                " the format \"key=val\" (use [ ] around a value holding ',' or '=')"
            )
        key = pieces[0].strip()
        if not _CONFIG_KEY.fullmatch(key):
            raise ToolError(f"Invalid character found for config key: {key}")
        configs[key] = pieces[1].replace("[", "").replace("]", "").strip()
    return configs


def parse_delete_config(items: Iterable[str]) -> list[str]:
    """
    Parse C{--delete-config} items, each keys separated by commas.

    @param items: the items.
    @return: the keys, each once, in order.
    """
    keys = (key.strip() for item in items for key in item.split(","))
    return list(dict.fromkeys(key for key in keys if key))


def alter_ops(added: dict[str, str], deleted: Iterable[str]) -> list[AlterConfigOp]:
    """
    @param added: the values to set, by key.
    @param deleted: the keys to remove.
    @return: the incremental changes: each set, then each delete.
    """
    return [AlterConfigOp(key, value) for key, value in added.items()] + [
        AlterConfigOp(key, None, AlterConfigOpType.DELETE) for key in deleted
    ]


def shown_entries(
    entries: Iterable[ConfigEntry], source: ConfigSource | None
) -> list[ConfigEntry]:
    """
    @param entries: a resource's entries.
    @param source: show only the entries from this source; C{None} shows all.
    @return: the entries to show, sorted by key.
    """
    return sorted(
        (e for e in entries if source is None or e.source == source),
        key=lambda e: e.name,
    )


def describe_header(entity: Entity, name: str, describe_all: bool) -> str:
    """
    @param entity: what is described.
    @param name: the name of the one entity this header is for.
    @param describe_all: whether every value shows (C{--all}).
    @return: the line before an entity's values.
    """
    if entity.entity_type == "brokers" and not name:
        return "Default configs for brokers in the cluster are:"
    which = "All" if describe_all else "Dynamic"
    return f"{which} configs for {entity.singular} {name} are:"


def _shown(value: str | None) -> str:
    return "null" if value is None else value


def describe_line(entry: ConfigEntry) -> str:
    """
    @param entry: one configuration key.
    @return: its line: value, sensitivity and synonyms, as Kafka prints it.
    """
    synonyms = ", ".join(
        f"{s.source.name}:{s.name}={_shown(s.value)}" for s in entry.synonyms
    )
    sensitive = "true" if entry.is_sensitive else "false"
    return (
        f"  {entry.name}={_shown(entry.value)} sensitive={sensitive}"
        f" synonyms={{{synonyms}}}"
    )
