"""
L{build_registry}: every request handler of the broker, registered in one registry.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred

from odradek.broker.apis import (
    acls,
    cluster,
    configs,
    delete_records,
    elect_leaders,
    fetch,
    find_coordinator,
    group_offsets,
    groups,
    init_producer_id,
    list_offsets,
    log_dirs,
    produce,
    topics,
)
from odradek.broker.apis import metadata as metadata_api
from odradek.broker.apis.api_versions import register_api_versions
from odradek.broker.apis.registry import HandlerRegistry
from odradek.broker.config import KafkaConfig
from odradek.broker.log import LogManager
from odradek.broker.metadata import IMetadataStore
from odradek.broker.replication import ReplicaManager

if TYPE_CHECKING:
    from odradek.broker.coordinator.group.coordinator import GroupCoordinator

__all__ = ["build_registry"]


def build_registry(
    *,
    config: KafkaConfig,
    metadata: IMetadataStore,
    log_manager: LogManager,
    replica_manager: ReplicaManager,
    reactor: Any,
    node_id: int,
    group_coordinator: GroupCoordinator,
    ensure_offsets_topic: Callable[[], Deferred[bool]],
) -> HandlerRegistry:
    """
    Register the handler of every API the broker serves.

    @param config: the broker's configuration.
    @param metadata: the cluster's metadata store.
    @param log_manager: the broker's logs (DescribeLogDirs reads their sizes).
    @param replica_manager: the broker's partitions, through which the data APIs
        (Produce, Fetch, ListOffsets, DeleteRecords) reach the logs.
    @param reactor: the reactor, for the time and delayed calls (the handlers
        read it from each request's context; it is taken here for the handlers
        that will keep timers of their own).
    @param node_id: this broker's id.
    @param group_coordinator: the group coordinator, which the group and offset
        APIs call.
    @param ensure_offsets_topic: creates C{__consumer_offsets} if it is missing and
        fires with whether it exists (FindCoordinator calls it).
    @return: the registry, ApiVersions included.
    """
    registry = HandlerRegistry()
    register_api_versions(registry)
    for data_api in (produce, fetch, list_offsets, delete_records):
        data_api.register(registry, replica_manager, config=config)
    init_producer_id.register(
        registry, replica_manager, config=config, metadata=metadata
    )
    metadata_api.register(registry, config=config, metadata=metadata)
    topics.register(registry, config=config, metadata=metadata, node_id=node_id)
    configs.register(registry, config=config, metadata=metadata, node_id=node_id)
    cluster.register(registry, metadata=metadata)
    acls.register(registry)
    elect_leaders.register(registry, metadata=metadata)
    log_dirs.register(registry, log_manager=log_manager)
    find_coordinator.register(
        registry,
        config=config,
        metadata=metadata,
        ensure_offsets_topic=ensure_offsets_topic,
    )
    groups.register(registry, coordinator=group_coordinator)
    group_offsets.register(registry, coordinator=group_coordinator, metadata=metadata)
    return registry
