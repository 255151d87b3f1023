"""
The config APIs: DescribeConfigs (API key 32, versions 1 to 4), AlterConfigs (33,
versions 0 to 2) and IncrementalAlterConfigs (44, versions 0 and 1), for topics
(resource type 2) and brokers (resource type 4).

A broker resource is named C{""} for the cluster-wide dynamic defaults or with this
broker's id; another id is refused with C{INVALID_REQUEST}, as Kafka does. The
broker-logger resource (type 8) describes as an empty list, since Odradek has no
per-logger levels to report, and cannot be altered. Every other resource type is
answered with C{INVALID_REQUEST}.

DescribeConfigs version 0, which has no config sources, is not served (Kafka 4
removed it). See L{odradek.broker.apis._configs_describe} for what the entries
hold and L{odradek.broker.apis._configs_alter} for how changes are checked and
stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import attrs
from twisted.logger import Logger

from odradek.broker.apis._configs_alter import (
    BROKER,
    BROKER_LOGGER,
    TOPIC,
    ConfigAlterations,
    resource_broker_id,
)
from odradek.broker.apis._configs_describe import (
    ConfigEntry,
    broker_entries,
    topic_entries,
)
from odradek.broker.apis._configs_dynamic import DynamicBrokerConfig
from odradek.broker.apis._schema import NO_THROTTLE, build, element, response_class
from odradek.broker.apis.context import RequestContext
from odradek.broker.apis.errors import kio_error_code
from odradek.broker.apis.registry import HandlerRegistry
from odradek.broker.config import KafkaConfig
from odradek.broker.metadata import IMetadataStore, validate_topic_name
from odradek.client.errors import (
    InvalidRequestError,
    KafkaError,
    UnknownTopicOrPartitionError,
)
from odradek.client.protocol import ApiKey, VersionRange

__all__ = ["DescribeConfigsHandler", "register"]

DESCRIBE_CONFIGS_VERSIONS: Final = VersionRange(1, 4)
ALTER_CONFIGS_VERSIONS: Final = VersionRange(0, 2)
INCREMENTAL_ALTER_CONFIGS_VERSIONS: Final = VersionRange(0, 1)


@attrs.frozen
class DescribeConfigsHandler:
    """
    Answer DescribeConfigs requests.

    @ivar dynamic: the broker's configuration in effect.
    @ivar log: where refused resources are reported (at debug level).
    """

    dynamic: DynamicBrokerConfig
    log: Logger = attrs.field(factory=Logger)

    @property
    def metadata(self) -> IMetadataStore:
        """The metadata store."""
        return self.dynamic.metadata

    def handle(self, context: RequestContext, request: Any) -> Any:
        """
        @param context: the request's context.
        @param request: the kio DescribeConfigs request.
        @return: the response: one result per resource, in the request's order.
        """
        response = response_class(context)
        result_class = element(response, "results")
        synonyms = bool(request.include_synonyms)
        documentation = bool(getattr(request, "include_documentation", False))
        results = []
        for resource in request.resources:
            try:
                entries = self._entries(resource.resource_type, resource.resource_name)
            except KafkaError as error:
                self.log.debug(
                    "DescribeConfigs of resource {resource_type} {resource_name!r} "
                    "refused: {error}",
                    resource_type=resource.resource_type,
                    resource_name=resource.resource_name,
                    error=str(error),
                )
                results.append(
                    build(
                        result_class,
                        error_code=kio_error_code(error.code),
                        error_message=error.message,
                        resource_type=resource.resource_type,
                        resource_name=resource.resource_name,
                        configs=(),
                    )
                )
                continue
            wanted = resource.configuration_keys
            if wanted:
                entries = [entry for entry in entries if entry.name in wanted]
            results.append(
                build(
                    result_class,
                    error_code=kio_error_code(0),
                    error_message=None,
                    resource_type=resource.resource_type,
                    resource_name=resource.resource_name,
                    configs=self._configs(
                        result_class, entries, synonyms, documentation
                    ),
                )
            )
        return build(response, throttle_time=NO_THROTTLE, results=tuple(results))

    def _entries(self, resource_type: int, name: str) -> Sequence[ConfigEntry]:
        if resource_type == TOPIC:
            validate_topic_name(name, (), internal=True)
            topic = self.metadata.topic(name)
            if topic is None:
                raise UnknownTopicOrPartitionError(
                    f"The topic '{name}' does not exist."
                )
            return topic_entries(self.dynamic, topic.configs)
        if resource_type == BROKER:
            broker_id = resource_broker_id(name, self.dynamic.node_id, default=True)
            return broker_entries(self.dynamic, per_broker=broker_id is not None)
        if resource_type == BROKER_LOGGER:
            if not name:
                raise InvalidRequestError("Broker id must not be empty")
            resource_broker_id(name, self.dynamic.node_id, default=False)
            return ()
        raise InvalidRequestError(f"Unsupported resource type: {resource_type}")

    @staticmethod
    def _configs(
        result_class: type[Any],
        entries: Sequence[ConfigEntry],
        synonyms: bool,
        documentation: bool,
    ) -> tuple[Any, ...]:
        entry_class = element(result_class, "configs")
        synonym_class = element(entry_class, "synonyms")
        return tuple(
            build(
                entry_class,
                name=entry.name,
                value=entry.value,
                read_only=entry.read_only,
                config_source=int(entry.source),
                is_sensitive=entry.sensitive,
                synonyms=tuple(
                    build(
                        synonym_class,
                        name=synonym.name,
                        value=synonym.value,
                        source=int(synonym.source),
                    )
                    for synonym in entry.synonyms
                )
                if synonyms
                else (),
                config_type=entry.config_type,
                documentation=entry.documentation if documentation else None,
            )
            for entry in entries
        )


def register(
    registry: HandlerRegistry,
    *,
    config: KafkaConfig,
    metadata: IMetadataStore,
    node_id: int,
) -> None:
    """
    Register DescribeConfigs, AlterConfigs and IncrementalAlterConfigs.

    @param registry: the registry to add them to.
    @param config: the broker's static configuration.
    @param metadata: the metadata store, which holds topic and dynamic broker
        configs.
    @param node_id: this broker's id.
    """
    dynamic = DynamicBrokerConfig(config, metadata, node_id)
    describe = DescribeConfigsHandler(dynamic)
    alterations = ConfigAlterations(dynamic)
    registry.register(
        ApiKey.DESCRIBE_CONFIGS, describe.handle, DESCRIBE_CONFIGS_VERSIONS
    )
    registry.register(
        ApiKey.ALTER_CONFIGS, alterations.alter_configs, ALTER_CONFIGS_VERSIONS
    )
    registry.register(
        ApiKey.INCREMENTAL_ALTER_CONFIGS,
        alterations.incremental_alter_configs,
        INCREMENTAL_ALTER_CONFIGS_VERSIONS,
    )
