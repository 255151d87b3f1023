"""
AlterConfigs and IncrementalAlterConfigs: check the new configs of each resource and
store them in the metadata store, which tells its subscribers (the replica manager
applies a topic's new settings to its logs, the broker service applies new dynamic
defaults).

AlterConfigs replaces every override of a resource with the ones given.
IncrementalAlterConfigs starts from the current overrides and applies each
operation: C{SET} (0), C{DELETE} (1), and for list settings C{APPEND} (2) and
C{SUBTRACT} (3), which start from the value in effect when the resource has no
override of the key.

The answers are Kafka's: C{INVALID_CONFIG} for an unknown key or a bad value, with
the message naming the key and the value (C{Invalid value abc for configuration
retention.ms: Not a number of type LONG}); C{INVALID_CONFIG} also for a broker key
that cannot change at run time (C{Cannot update these configs dynamically:
num.partitions}), as Kafka's ZooKeeper-based brokers answer (Kafka 4 answers
C{INVALID_REQUEST} for broker resources); C{UNKNOWN_TOPIC_OR_PARTITION} for a topic
that does not exist; C{INVALID_REQUEST} for a resource given twice, a key given
twice in one resource, a null value, another broker's id, or a resource type other
than topic and broker. With C{validate_only} nothing is stored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

import attrs
from twisted.internet.defer import Deferred
from twisted.logger import Logger

from odradek.broker.apis._configs_dynamic import DynamicBrokerConfig
from odradek.broker.apis._schema import NO_THROTTLE, build, element, response_class
from odradek.broker.apis.context import RequestContext
from odradek.broker.apis.errors import as_kafka_error, kio_error_code
from odradek.broker.config import BROKER_CONFIGS
from odradek.broker.log.config import TOPIC_CONFIGS, ConfigType
from odradek.client.errors import (
    InvalidConfigurationError,
    InvalidRequestError,
    KafkaError,
    UnknownTopicOrPartitionError,
)

__all__ = [
    "BROKER",
    "BROKER_LOGGER",
    "TOPIC",
    "ConfigAlterations",
    "resource_broker_id",
]

TOPIC: Final = 2
BROKER: Final = 4
BROKER_LOGGER: Final = 8
_TYPE_NAMES: Final = {TOPIC: "TOPIC", BROKER: "BROKER", BROKER_LOGGER: "BROKER_LOGGER"}

SET, DELETE, APPEND, SUBTRACT = 0, 1, 2, 3
_OPERATION_NAMES: Final = {APPEND: "APPEND", SUBTRACT: "SUBTRACT"}
_INTEGER: Final = re.compile(r"[+-]?[0-9]+")


def resource_broker_id(name: str, node_id: int, *, default: bool) -> int | None:
    """
    Read the broker id a config resource names.

    @param name: the resource's name.
    @param node_id: this broker's id.
    @param default: whether C{""}, the cluster-wide resource, is allowed.
    @return: C{node_id}, or C{None} for C{""}.
    @raise InvalidRequestError: if the name is not an integer or names another
        broker, worded as Kafka words it.
    """
    if not name and default:
        return None
    if not _INTEGER.fullmatch(name):
        raise InvalidRequestError(f"Broker id must be an integer, but it is: {name}")
    if int(name) != node_id:
        expected = f"{node_id} or empty string" if default else str(node_id)
        raise InvalidRequestError(
            f"Unexpected broker id, expected {expected}, but received {name}"
        )
    return node_id


def _check_entries(names: list[str], nulls: list[str]) -> None:
    if len(set(names)) != len(names):
        raise InvalidRequestError("Error due to duplicate config keys")
    if nulls:
        raise InvalidRequestError(f"Null value not supported for : {', '.join(nulls)}")


@attrs.frozen
class ConfigAlterations:
    """
    Answer AlterConfigs and IncrementalAlterConfigs requests.

    @ivar dynamic: the broker's configuration in effect and the metadata store.
    @ivar log: where changes and refusals are reported.
    """

    dynamic: DynamicBrokerConfig
    log: Logger = attrs.field(factory=Logger)

    def alter_configs(self, context: RequestContext, request: Any) -> Deferred[Any]:
        """
        @param context: the request's context.
        @param request: the kio AlterConfigs request.
        @return: fires with the response once every change is stored.
        """
        return Deferred.fromCoroutine(self._alter(context, request, incremental=False))

    def incremental_alter_configs(
        self, context: RequestContext, request: Any
    ) -> Deferred[Any]:
        """
        @param context: the request's context.
        @param request: the kio IncrementalAlterConfigs request.
        @return: fires with the response once every change is stored.
        """
        return Deferred.fromCoroutine(self._alter(context, request, incremental=True))

    async def _alter(
        self, context: RequestContext, request: Any, *, incremental: bool
    ) -> Any:
        response = response_class(context)
        result_class = element(response, "responses")
        seen: dict[tuple[int, str], int] = {}
        for resource in request.resources:
            key = (resource.resource_type, resource.resource_name)
            seen[key] = seen.get(key, 0) + 1
        results = []
        for resource in request.resources:
            try:
                if seen[(resource.resource_type, resource.resource_name)] > 1:
                    raise InvalidRequestError("Each resource must appear at most once.")
                await self._alter_resource(resource, incremental, request.validate_only)
                error: KafkaError | None = None
            except Exception as failure:
                error = as_kafka_error(failure)
                if not isinstance(failure, KafkaError):
                    self.log.failure("Altering configs failed")
                self.log.info(
                    "Altering the configs of {resource_type} {resource_name!r} "
                    "failed: {error}",
                    resource_type=_TYPE_NAMES.get(resource.resource_type),
                    resource_name=resource.resource_name,
                    error=str(error),
                )
            results.append(
                build(
                    result_class,
                    error_code=kio_error_code(0 if error is None else error.code),
                    error_message=None if error is None else error.message,
                    resource_type=resource.resource_type,
                    resource_name=resource.resource_name,
                )
            )
        return build(response, throttle_time=NO_THROTTLE, responses=tuple(results))

    async def _alter_resource(
        self, resource: Any, incremental: bool, validate_only: bool
    ) -> None:
        entries = resource.configs
        names = [entry.name for entry in entries]
        nulls = [
            entry.name
            for entry in entries
            if entry.value is None
            and not (incremental and entry.config_operation == DELETE)
        ]
        _check_entries(names, nulls)
        kind, name = resource.resource_type, resource.resource_name
        if kind == TOPIC:
            await self._alter_topic(name, entries, incremental, validate_only)
        elif kind == BROKER:
            await self._alter_broker(name, entries, incremental, validate_only)
        elif kind == BROKER_LOGGER and incremental:
            raise InvalidRequestError(
                "Log levels cannot be changed at run time: Odradek logs through "
                "Twisted's logger, which has no per-logger levels"
            )
        else:
            what = _TYPE_NAMES.get(kind, str(kind))
            raise InvalidRequestError(
                f"AlterConfigs is only supported for topics and brokers, but "
                f"resource type is {what}"
            )

    async def _alter_topic(
        self, name: str, entries: Any, incremental: bool, validate_only: bool
    ) -> None:
        if not name:
            raise InvalidRequestError("Default topic resources are not allowed.")
        metadata = self.dynamic.metadata
        topic = metadata.topic(name)
        if topic is None:
            raise UnknownTopicOrPartitionError(f"The topic '{name}' does not exist.")
        if incremental:
            current = self.dynamic.topic_config(topic.configs)
            configs = _apply(
                topic.configs,
                entries,
                lambda key: _topic_value(key, current),
            )
        else:
            configs = {entry.name: entry.value for entry in entries}
        self.dynamic.topic_config(configs)
        if validate_only:
            return
        await metadata.alter_topic_config(name, configs)
        self.log.info(
            "Updated the config overrides of topic {topic}: {configs}",
            topic=name,
            configs=dict(configs),
        )

    async def _alter_broker(
        self, name: str, entries: Any, incremental: bool, validate_only: bool
    ) -> None:
        broker_id = resource_broker_id(name, self.dynamic.node_id, default=True)
        if incremental:
            current = self.dynamic.current()
            configs = _apply(
                self.dynamic.metadata.broker_config(broker_id),
                entries,
                lambda key: _broker_value(key, current.values),
            )
        else:
            configs = {entry.name: entry.value for entry in entries}
        self.dynamic.validate(broker_id, configs)
        if validate_only:
            return
        await self.dynamic.metadata.alter_broker_config(broker_id, configs)
        self.log.info(
            "Updated the dynamic configs of {scope}: {configs}",
            scope="every broker" if broker_id is None else f"broker {broker_id}",
            configs=dict(configs),
        )


def _topic_value(name: str, current: Any) -> tuple[ConfigType, str]:
    key = TOPIC_CONFIGS.get(name)
    if key is None:
        raise InvalidConfigurationError(f"Unknown topic config name: {name}")
    return key.type, key.render(getattr(current, key.attribute))


def _broker_value(name: str, values: Mapping[str, Any]) -> tuple[ConfigType, str]:
    key = BROKER_CONFIGS.get(name)
    if key is None:
        raise InvalidConfigurationError(f"Unknown broker config name: {name}")
    return key.type, key.render(values[name]) or ""


def _apply(
    overrides: Mapping[str, str],
    entries: Any,
    value_in_effect: Any,
) -> dict[str, str]:
    """
    Apply IncrementalAlterConfigs operations to a resource's overrides.

    @param overrides: the current overrides.
    @param entries: the operations, in order.
    @param value_in_effect: C{value_in_effect(key)} gives a key's type and the value
        in effect as text; raises for an unknown key.
    @return: the new overrides.
    """
    configs = dict(overrides)
    for entry in entries:
        operation, name = entry.config_operation, entry.name
        if operation == SET:
            configs[name] = entry.value
        elif operation == DELETE:
            configs.pop(name, None)
        elif operation in (APPEND, SUBTRACT):
            kind, in_effect = value_in_effect(name)
            if kind is not ConfigType.LIST:
                raise InvalidConfigurationError(
                    f"Can't {_OPERATION_NAMES[operation]} to key {name} because its "
                    f"type is not LIST."
                )
            base = configs.get(name, in_effect)
            parts = [part for part in base.split(",") if part]
            for value in entry.value.split(","):
                if operation == APPEND and value not in parts:
                    parts.append(value)
                elif operation == SUBTRACT and value in parts:
                    parts.remove(value)
            configs[name] = ",".join(parts)
        else:
            raise InvalidRequestError(f"Unknown operations type {operation}")
    return configs
