"""
Dynamic broker configuration: the static C{server.properties} with the overrides
set at run time (AlterConfigs, IncrementalAlterConfigs) on top, as Kafka layers them.

Kafka's precedence, highest first:

  1. C{DYNAMIC_BROKER_CONFIG}: overrides of this broker (resource name C{"<id>"});
  2. C{DYNAMIC_DEFAULT_BROKER_CONFIG}: cluster-wide overrides (resource name C{""});
  3. C{STATIC_BROKER_CONFIG}: C{server.properties} and C{--override};
  4. C{DEFAULT_CONFIG}: the key's default.

A key set at a higher level hides its synonyms at lower ones, so a dynamic
C{log.retention.hours} wins over a static C{log.retention.ms}, as in Kafka. Only keys
marked dynamic in L{BROKER_CONFIGS} may be overridden: the C{log.*} defaults of topic
settings (and their other broker synonyms), C{max.connections} and
C{max.connections.per.ip}.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import cast

import attrs
from twisted.logger import ILogObserver, Logger

from odradek.broker.config import BROKER_CONFIGS, ConfigError, KafkaConfig
from odradek.broker.log.config import TOPIC_CONFIGS, LogConfig
from odradek.broker.metadata import IMetadataStore

__all__ = [
    "ConfigSource",
    "DynamicBrokerConfig",
    "broker_synonyms",
    "layered_properties",
]

_log = Logger()
_SILENT = Logger(observer=cast(ILogObserver, lambda event: None))


class ConfigSource(enum.IntEnum):
    """
    Where a config value comes from, with Kafka's ids (DescribeConfigs, CreateTopics).
    """

    UNKNOWN = 0
    DYNAMIC_TOPIC_CONFIG = 1
    DYNAMIC_BROKER_CONFIG = 2
    DYNAMIC_DEFAULT_BROKER_CONFIG = 3
    STATIC_BROKER_CONFIG = 4
    DEFAULT_CONFIG = 5
    DYNAMIC_BROKER_LOGGER_CONFIG = 6


def broker_synonyms(name: str) -> tuple[str, ...]:
    """
    @param name: a broker key.
    @return: the keys that set the same thing, in Kafka's precedence (C{name}
        included): C{log.retention.ms}, C{log.retention.minutes},
        C{log.retention.hours} for any of the three; C{(name,)} for a key without
        synonyms or an unknown key.
    """
    key = BROKER_CONFIGS.get(name)
    if key is None or key.topic_config is None:
        return (name,)
    return tuple(synonym.name for synonym in TOPIC_CONFIGS[key.topic_config].synonyms)


def layered_properties(
    static: Mapping[str, str], *layers: Mapping[str, str]
) -> dict[str, str]:
    """
    Put dynamic overrides on top of the static properties.

    @param static: the static properties.
    @param layers: overrides, lowest precedence first; each key removes its synonyms
        from the layers below.
    @return: the properties in effect.
    """
    merged = dict(static)
    for layer in layers:
        for name, value in layer.items():
            for synonym in broker_synonyms(name):
                merged.pop(synonym, None)
            merged[name] = value
    return merged


@attrs.define
class DynamicBrokerConfig:
    """
    A broker's configuration in effect: its static configuration with the dynamic
    overrides the metadata store holds.

    @ivar static: the configuration the broker started with.
    @ivar metadata: the store holding the dynamic overrides.
    @ivar node_id: this broker's id.
    """

    static: KafkaConfig
    metadata: IMetadataStore
    node_id: int
    _cached: tuple[object, object, KafkaConfig] | None = attrs.field(
        default=None, init=False, repr=False
    )

    def dynamic_defaults(self) -> Mapping[str, str]:
        """
        @return: the cluster-wide dynamic overrides.
        """
        return self.metadata.broker_config(None)

    def dynamic_overrides(self) -> Mapping[str, str]:
        """
        @return: this broker's dynamic overrides.
        """
        return self.metadata.broker_config(self.node_id)

    def current(self) -> KafkaConfig:
        """
        @return: the configuration in effect. Overrides that are no longer valid
            together with the static configuration are ignored, with a warning.
        """
        defaults, overrides = self.dynamic_defaults(), self.dynamic_overrides()
        cached = self._cached
        if cached is not None and cached[0] is defaults and cached[1] is overrides:
            return cached[2]
        config = self.static
        if defaults or overrides:
            properties = layered_properties(self.static.originals, defaults, overrides)
            try:
                config = KafkaConfig.from_properties(properties, log=_SILENT)
            except ConfigError as error:
                _log.warn(
                    "Ignoring the dynamic broker configs, which are not valid with "
                    "the static configuration: {error}",
                    error=error.message,
                )
        self._cached = (defaults, overrides, config)
        return config

    def log_config(self) -> LogConfig:
        """
        @return: the defaults of every topic's settings in effect.
        """
        return self.current().log_config

    def topic_config(self, overrides: Mapping[str, str]) -> LogConfig:
        """
        @param overrides: a topic's config overrides.
        @return: the topic's settings.
        @raise odradek.client.errors.InvalidConfigurationError: for an unknown key
            or a bad value.
        """
        return LogConfig.from_properties(overrides, self.log_config())

    def validate(self, broker_id: int | None, overrides: Mapping[str, str]) -> None:
        """
        Check a new set of dynamic overrides before it is stored.

        @param broker_id: this broker's id, or C{None} for the cluster-wide defaults.
        @param overrides: the complete new set of that level.
        @raise ConfigError: naming the keys that are unknown or cannot change at run
            time, or naming the key and the value that is bad.
        """
        unknown = sorted(name for name in overrides if name not in BROKER_CONFIGS)
        if unknown:
            raise ConfigError(f"Unknown broker config name: {', '.join(unknown)}")
        static = sorted(name for name in overrides if not BROKER_CONFIGS[name].dynamic)
        if static:
            raise ConfigError(
                f"Cannot update these configs dynamically: {', '.join(static)}",
                key=static[0],
            )
        for name, value in overrides.items():
            BROKER_CONFIGS[name].parse(value)
        if broker_id is None:
            layers = (overrides, self.dynamic_overrides())
        else:
            layers = (self.dynamic_defaults(), overrides)
        KafkaConfig.from_properties(
            layered_properties(self.static.originals, *layers), log=_SILENT
        )
