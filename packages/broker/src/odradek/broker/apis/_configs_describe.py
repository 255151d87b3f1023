"""
The config entries DescribeConfigs reports (and CreateTopics, for a new topic): each
key's value in effect, where it comes from, and the synonyms it was chosen from.

Topic entries list every topic-level key. Their synonyms are the topic's override
(C{DYNAMIC_TOPIC_CONFIG}) and then every broker synonym at every level, most
specific first: C{retention.ms} may come from a dynamic C{log.retention.ms}, a static
C{log.retention.hours} or the default C{log.retention.hours=168}. (Kafka starts the
list at the topic key's first broker synonym and drops the entries before it, so a
topic describes C{retention.ms} as C{DEFAULT_CONFIG} even when C{server.properties}
sets C{log.retention.hours}; Odradek lists where the value really comes from.)

Broker entries list every broker key and every other key given in
C{server.properties}. As in Kafka, the synonyms of a broker key start at the key
itself, keys Odradek does not know are reported as sensitive (their values hidden),
and only the keys that can change at run time are not read-only. The cluster-wide
resource (name C{""}) lists only its dynamic overrides.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import attrs

from odradek.broker.apis._configs_dynamic import (
    ConfigSource,
    DynamicBrokerConfig,
    broker_synonyms,
)
from odradek.broker.config import BROKER_CONFIGS
from odradek.broker.log.config import TOPIC_CONFIGS, ConfigType

__all__ = ["ConfigEntry", "Synonym", "broker_entries", "topic_entries"]

_NODE_ID_KEYS: Final = frozenset({"node.id", "broker.id"})

# Kafka's DescribeConfigs config types; 0 is UNKNOWN.
_CONFIG_TYPE_IDS: Final = {
    ConfigType.BOOLEAN: 1,
    ConfigType.STRING: 2,
    ConfigType.INT: 3,
    ConfigType.LONG: 5,
    ConfigType.DOUBLE: 6,
    ConfigType.LIST: 7,
}

_BROKER_DEFAULTS: Final = {
    name: rendered
    for name, key in BROKER_CONFIGS.items()
    if (rendered := key.render(key.default)) is not None
}


@attrs.frozen
class Synonym:
    """
    One place a config's value may come from.

    @ivar name: the key at that place.
    @ivar value: its value there, or C{None} if sensitive.
    @ivar source: the place.
    """

    name: str
    value: str | None
    source: ConfigSource


@attrs.frozen
class ConfigEntry:
    """
    One config of a resource, as DescribeConfigs reports it.

    @ivar name: the key.
    @ivar value: its value in effect, or C{None} when unset or sensitive.
    @ivar source: where the value comes from.
    @ivar read_only: whether it cannot be altered.
    @ivar sensitive: whether the value is hidden.
    @ivar synonyms: the places the value was chosen from, highest precedence first.
    @ivar config_type: Kafka's id of the value's type.
    @ivar documentation: what the key does.
    """

    name: str
    value: str | None
    source: ConfigSource
    read_only: bool
    sensitive: bool
    synonyms: tuple[Synonym, ...]
    config_type: int
    documentation: str | None


def _synonyms(
    dynamic: DynamicBrokerConfig, names: tuple[str, ...], sensitive: bool
) -> list[Synonym]:
    layers = (
        (dynamic.dynamic_overrides(), ConfigSource.DYNAMIC_BROKER_CONFIG),
        (dynamic.dynamic_defaults(), ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG),
        (dynamic.static.originals, ConfigSource.STATIC_BROKER_CONFIG),
        (_BROKER_DEFAULTS, ConfigSource.DEFAULT_CONFIG),
    )
    return [
        Synonym(name, None if sensitive else layer[name], source)
        for layer, source in layers
        for name in names
        if name in layer
    ]


def topic_entries(
    dynamic: DynamicBrokerConfig, overrides: Mapping[str, str]
) -> list[ConfigEntry]:
    """
    @param dynamic: the broker's configuration in effect.
    @param overrides: the topic's config overrides.
    @return: every topic-level config of the topic, by name.
    @raise odradek.client.errors.InvalidConfigurationError: if the overrides are
        not valid (they were when they were stored).
    """
    config = dynamic.topic_config(overrides)
    entries = []
    for name, key in TOPIC_CONFIGS.items():
        value = key.render(getattr(config, key.attribute))
        synonyms = _synonyms(dynamic, tuple(s.name for s in key.synonyms), False)
        if name in overrides:
            synonyms.insert(0, Synonym(name, value, ConfigSource.DYNAMIC_TOPIC_CONFIG))
        entries.append(
            ConfigEntry(
                name=name,
                value=value,
                source=synonyms[0].source if synonyms else ConfigSource.DEFAULT_CONFIG,
                read_only=False,
                sensitive=False,
                synonyms=tuple(synonyms),
                config_type=_CONFIG_TYPE_IDS[key.type],
                documentation=key.doc,
            )
        )
    return entries


def _broker_entry(
    dynamic: DynamicBrokerConfig, name: str, value: str | None, per_broker: bool
) -> ConfigEntry:
    key = BROKER_CONFIGS.get(name)
    sensitive = key is None
    synonyms = _synonyms(dynamic, broker_synonyms(name), sensitive)
    while synonyms and synonyms[0].name != name:
        del synonyms[0]
    if not per_broker:
        synonyms = [
            s
            for s in synonyms
            if s.source is ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG
        ]
    return ConfigEntry(
        name=name,
        value=None if sensitive else value,
        source=synonyms[0].source if synonyms else ConfigSource.DEFAULT_CONFIG,
        read_only=key is None or not key.dynamic,
        sensitive=sensitive,
        synonyms=tuple(synonyms),
        config_type=0 if key is None else _CONFIG_TYPE_IDS[key.type],
        documentation=None if key is None else key.doc,
    )


def broker_entries(
    dynamic: DynamicBrokerConfig, *, per_broker: bool
) -> list[ConfigEntry]:
    """
    @param dynamic: the broker's configuration in effect.
    @param per_broker: C{True} for this broker's resource (every key), C{False} for
        the cluster-wide one (its dynamic overrides only).
    @return: the entries, by name.
    """
    if not per_broker:
        return [
            _broker_entry(dynamic, name, value, False)
            for name, value in sorted(dynamic.dynamic_defaults().items())
        ]
    current = dynamic.current()
    entries = []
    for name in sorted(set(BROKER_CONFIGS) | set(dynamic.static.originals)):
        key = BROKER_CONFIGS.get(name)
        value: str | None
        if key is None:
            value = None
        elif name in _NODE_ID_KEYS:
            value = str(dynamic.node_id)
        else:
            value = key.render(current.values[name])
        entries.append(_broker_entry(dynamic, name, value, True))
    return entries
