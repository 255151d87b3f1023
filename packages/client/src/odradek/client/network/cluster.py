"""
A snapshot of what a client knows of a cluster: its brokers, and for each topic its
partitions with their leaders.

L{ClusterMetadata} is an immutable value, made from a Metadata response. Code on any
thread may read the current snapshot without a lock; the metadata manager replaces it
whole when a newer response arrives. Sans-IO.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Protocol

import attrs

from odradek.client.structs import TopicPartition

__all__ = ["ClusterMetadata", "Node", "PartitionInfo"]

NO_LEADER = -1


@attrs.frozen
class Node:
    """
    One broker.

    @ivar node_id: its C{node.id}; bootstrap servers, whose ids are unknown until
        the first Metadata response, get negative ids (-1, -2, ...).
    @ivar host: the host name it advertises.
    @ivar port: the port it advertises.
    @ivar rack: its C{broker.rack}, if any.
    """

    node_id: int
    host: str
    port: int
    rack: str | None = None

    def __str__(self) -> str:
        return f"{self.host}:{self.port} (id: {self.node_id} rack: {self.rack})"


@attrs.frozen
class PartitionInfo:
    """
    One partition as the cluster last described it.

    @ivar topic: the topic's name.
    @ivar partition: the partition's index.
    @ivar leader: the node id of its leader, or -1 when it has none.
    @ivar leader_epoch: the leader's epoch, or -1 when unknown.
    @ivar replicas: node ids of all its replicas.
    @ivar isr: node ids of its in-sync replicas.
    @ivar offline_replicas: node ids of replicas that are offline.
    @ivar error_code: the partition-level error the broker reported (0 for none),
        such as C{LEADER_NOT_AVAILABLE}.
    """

    topic: str
    partition: int
    leader: int
    leader_epoch: int = -1
    replicas: tuple[int, ...] = ()
    isr: tuple[int, ...] = ()
    offline_replicas: tuple[int, ...] = ()
    error_code: int = 0

    @property
    def topic_partition(self) -> TopicPartition:
        """This partition's topic and index."""
        return TopicPartition(self.topic, self.partition)


class _Broker(Protocol):
    @property
    def node_id(self) -> int: ...
    @property
    def host(self) -> str: ...
    @property
    def port(self) -> int: ...
    @property
    def rack(self) -> str | None: ...


def _empty_nodes() -> Mapping[int, Node]:
    return MappingProxyType({})


def _empty_partitions() -> Mapping[str, tuple[PartitionInfo, ...]]:
    return MappingProxyType({})


def _empty_errors() -> Mapping[str, int]:
    return MappingProxyType({})


@attrs.frozen
class ClusterMetadata:
    """
    An immutable snapshot of a cluster's metadata.

    @ivar cluster_id: the cluster's id, if the broker told it.
    @ivar controller_id: the node id of the controller, -1 if unknown.
    @ivar nodes: the live brokers by node id.
    @ivar partitions: for each topic known, its partitions sorted by index.
    @ivar topic_errors: for each topic the broker reported an error for (such as
        C{UNKNOWN_TOPIC_OR_PARTITION} or C{INVALID_TOPIC_EXCEPTION}), the error
        code.
    @ivar internal_topics: the names of internal topics (C{__consumer_offsets} ...).
    """

    cluster_id: str | None = None
    controller_id: int = -1
    nodes: Mapping[int, Node] = attrs.field(factory=_empty_nodes)
    partitions: Mapping[str, tuple[PartitionInfo, ...]] = attrs.field(
        factory=_empty_partitions
    )
    topic_errors: Mapping[str, int] = attrs.field(factory=_empty_errors)
    internal_topics: frozenset[str] = frozenset()

    @classmethod
    def bootstrap(cls, addresses: Iterable[tuple[str, int]]) -> ClusterMetadata:
        """
        The snapshot a client starts from: only the bootstrap servers, with ids -1,
        -2, ... and no topics.
        """
        nodes = {
            -index: Node(-index, host, port)
            for index, (host, port) in enumerate(addresses, start=1)
        }
        return cls(nodes=MappingProxyType(nodes))

    @classmethod
    def from_brokers(
        cls,
        brokers: Iterable[_Broker],
        partitions: Iterable[PartitionInfo],
        *,
        cluster_id: str | None = None,
        controller_id: int = -1,
        topic_errors: Mapping[str, int] | None = None,
        internal_topics: Iterable[str] = (),
    ) -> ClusterMetadata:
        """
        Make a snapshot from brokers (anything with C{node_id}, C{host}, C{port} and
        C{rack}, such as the brokers of a kio Metadata response) and partitions.
        """
        nodes = {
            broker.node_id: Node(
                int(broker.node_id), broker.host, int(broker.port), broker.rack
            )
            for broker in brokers
        }
        by_topic: dict[str, list[PartitionInfo]] = {}
        for info in partitions:
            by_topic.setdefault(info.topic, []).append(info)
        return cls(
            cluster_id=cluster_id,
            controller_id=controller_id,
            nodes=MappingProxyType(nodes),
            partitions=MappingProxyType(
                {
                    topic: tuple(sorted(infos, key=lambda info: info.partition))
                    for topic, infos in by_topic.items()
                }
            ),
            topic_errors=MappingProxyType(dict(topic_errors or {})),
            internal_topics=frozenset(internal_topics),
        )

    @property
    def topics(self) -> frozenset[str]:
        """The names of the topics this snapshot has partitions for."""
        return frozenset(self.partitions)

    def node(self, node_id: int) -> Node | None:
        """@return: the broker with this id, or C{None}."""
        return self.nodes.get(node_id)

    def partitions_for_topic(self, topic: str) -> tuple[PartitionInfo, ...]:
        """@return: all partitions of C{topic}, by index; empty if it is unknown."""
        return self.partitions.get(topic, ())

    def available_partitions_for_topic(self, topic: str) -> tuple[PartitionInfo, ...]:
        """@return: the partitions of C{topic} whose leader is a known live broker."""
        nodes = self.nodes
        return tuple(
            info
            for info in self.partitions.get(topic, ())
            if info.leader != NO_LEADER and info.leader in nodes
        )

    def partition_count(self, topic: str) -> int | None:
        """@return: how many partitions C{topic} has, or C{None} if it is unknown."""
        infos = self.partitions.get(topic)
        return None if infos is None else len(infos)

    def partition(self, tp: TopicPartition) -> PartitionInfo | None:
        """@return: what is known of partition C{tp}, or C{None}."""
        infos = self.partitions.get(tp.topic, ())
        if 0 <= tp.partition < len(infos) and infos[tp.partition].partition == (
            tp.partition
        ):
            return infos[tp.partition]
        for info in infos:
            if info.partition == tp.partition:
                return info
        return None

    def leader_for(self, tp: TopicPartition) -> Node | None:
        """@return: the live broker that leads C{tp}, or C{None}."""
        info = self.partition(tp)
        if info is None or info.leader == NO_LEADER:
            return None
        return self.nodes.get(info.leader)
