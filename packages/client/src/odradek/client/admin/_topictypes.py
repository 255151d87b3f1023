"""
The admin client's values for the cluster, topics and partitions: what to create
(L{NewTopic}, L{NewPartitions}) and what the cluster describes
(L{ClusterDescription}, L{TopicListing}, L{TopicDescription}, L{CreatedTopic}).
Re-exported by L{odradek.client.admin.types}.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping, Sequence
from types import MappingProxyType

import attrs

from odradek.client.network.cluster import Node

__all__ = [
    "ClusterDescription",
    "CreatedTopic",
    "ElectionType",
    "NewPartitions",
    "NewTopic",
    "TopicDescription",
    "TopicListing",
    "TopicPartitionInfo",
]

_INT16_MAX = 2**15 - 1
_INT32_MAX = 2**31 - 1


class ElectionType(enum.IntEnum):
    """
    How C{elect_leaders} chooses a partition's leader.

    @cvar PREFERRED: the first replica of the assignment, if it is in sync.
    @cvar UNCLEAN: any live replica when no in-sync one is (data may be lost).
    """

    PREFERRED = 0
    UNCLEAN = 1


@attrs.frozen
class ClusterDescription:
    """
    What C{describe_cluster} tells of the cluster.

    @ivar cluster_id: the cluster's id, if the broker told it.
    @ivar controller: the controller (in KRaft mode, a broker the cluster names
        for requests meant for the controller), or C{None} if unknown.
    @ivar nodes: the live brokers.
    """

    cluster_id: str | None
    controller: Node | None
    nodes: tuple[Node, ...]


@attrs.frozen
class TopicListing:
    """
    One topic of C{list_topics}.

    @ivar name: its name.
    @ivar topic_id: its id, or C{None} when the broker does not tell it.
    @ivar is_internal: whether it is one of Kafka's internal topics
        (C{__consumer_offsets}, C{__transaction_state}).
    """

    name: str
    topic_id: uuid.UUID | None
    is_internal: bool


@attrs.frozen
class TopicPartitionInfo:
    """
    One partition of a L{TopicDescription}.

    @ivar partition: its index.
    @ivar leader: its leader, or C{None} when it has none.
    @ivar replicas: its replicas, the preferred leader first. A replica on a broker
        that is not live is a L{Node} with an empty host and port -1.
    @ivar isr: its in-sync replicas.
    """

    partition: int
    leader: Node | None
    replicas: tuple[Node, ...]
    isr: tuple[Node, ...]


@attrs.frozen
class TopicDescription:
    """
    What C{describe_topics} tells of a topic.

    @ivar name: its name.
    @ivar topic_id: its id, or C{None} when the broker does not tell it.
    @ivar is_internal: whether it is one of Kafka's internal topics.
    @ivar partitions: its partitions, by index.
    """

    name: str
    topic_id: uuid.UUID | None
    is_internal: bool
    partitions: tuple[TopicPartitionInfo, ...]


def _frozen_assignment(
    value: Mapping[int, Sequence[int]] | None,
) -> Mapping[int, tuple[int, ...]] | None:
    if value is None:
        return None
    return MappingProxyType(
        {int(partition): tuple(brokers) for partition, brokers in value.items()}
    )


def _frozen_configs(
    value: Mapping[str, str | None] | None,
) -> Mapping[str, str | None] | None:
    return None if value is None else MappingProxyType(dict(value))


@attrs.frozen
class NewTopic:
    """
    A topic for C{create_topics}: either a partition count and a replication
    factor (-1 for the broker's C{num.partitions} and
    C{default.replication.factor}), or an explicit assignment of replicas.

    @ivar name: the topic's name.
    @ivar num_partitions: how many partitions, or -1 for the broker's default.
    @ivar replication_factor: how many replicas of each, or -1 for the broker's
        default.
    @ivar replica_assignment: for each partition index, the broker ids of its
        replicas (the preferred leader first), or C{None}.
    @ivar configs: the topic's configuration (C{"cleanup.policy"} ...), or C{None}.
    """

    name: str
    num_partitions: int = -1
    replication_factor: int = -1
    replica_assignment: Mapping[int, tuple[int, ...]] | None = attrs.field(
        default=None, converter=_frozen_assignment
    )
    configs: Mapping[str, str | None] | None = attrs.field(
        default=None, converter=_frozen_configs
    )

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"a topic name must be a non-empty string: {self.name!r}")
        if self.num_partitions != -1 and not 1 <= self.num_partitions <= _INT32_MAX:
            raise ValueError(
                f"topic {self.name}: num_partitions must be -1 (the broker's "
                f"default) or at least 1, not {self.num_partitions}"
            )
        if (
            self.replication_factor != -1
            and not 1 <= self.replication_factor <= _INT16_MAX
        ):
            raise ValueError(
                f"topic {self.name}: replication_factor must be -1 (the broker's "
                f"default) or from 1 to {_INT16_MAX}, not {self.replication_factor}"
            )
        if self.replica_assignment is not None:
            if self.num_partitions != -1 or self.replication_factor != -1:
                raise ValueError(
                    f"topic {self.name}: give either num_partitions and "
                    "replication_factor or a replica_assignment, not both"
                )
            if not self.replica_assignment:
                raise ValueError(f"topic {self.name}: the replica_assignment is empty")
            for partition, brokers in self.replica_assignment.items():
                if partition < 0 or not brokers:
                    raise ValueError(
                        f"topic {self.name}: partition {partition} of the "
                        f"replica_assignment is invalid: {list(brokers)}"
                    )


def _created_configs(value: Mapping[str, str | None]) -> Mapping[str, str | None]:
    return MappingProxyType(dict(value))


@attrs.frozen
class CreatedTopic:
    """
    A topic C{create_topics} created (or, with C{validate_only}, would create).

    Brokers before CreateTopics version 5 do not describe the topic: then the
    partition count and replication factor are -1 and C{configs} is empty.

    @ivar name: its name.
    @ivar topic_id: its id, or C{None} when the broker does not tell it.
    @ivar num_partitions: how many partitions it has.
    @ivar replication_factor: how many replicas each partition has.
    @ivar configs: its configuration as the broker resolved it.
    """

    name: str
    topic_id: uuid.UUID | None
    num_partitions: int
    replication_factor: int
    configs: Mapping[str, str | None] = attrs.field(
        factory=dict, converter=_created_configs
    )


def _frozen_new_assignments(
    value: Sequence[Sequence[int]] | None,
) -> tuple[tuple[int, ...], ...] | None:
    if value is None:
        return None
    return tuple(tuple(brokers) for brokers in value)


@attrs.frozen
class NewPartitions:
    """
    How C{create_partitions} grows a topic.

    @ivar total_count: how many partitions the topic is to have in all.
    @ivar new_assignments: for each new partition, in order, the broker ids of its
        replicas; C{None} lets the controller place them.
    """

    total_count: int
    new_assignments: tuple[tuple[int, ...], ...] | None = attrs.field(
        default=None, converter=_frozen_new_assignments
    )

    def __attrs_post_init__(self) -> None:
        if not 1 <= self.total_count <= _INT32_MAX:
            raise ValueError(f"total_count must be at least 1, not {self.total_count}")
        if self.new_assignments is not None:
            for brokers in self.new_assignments:
                if not brokers:
                    raise ValueError(
                        "each new partition's assignment needs at least one broker"
                    )
