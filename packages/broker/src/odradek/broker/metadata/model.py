"""
The values a metadata store holds and reports: brokers, topics, partition state, and
the changes it announces to its subscribers.

All are immutable; a store hands out new values when something changes.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Mapping
from typing import TypeAlias

import attrs

from odradek.broker.config import Endpoint
from odradek.broker.metadata.topics import INTERNAL_TOPICS

__all__ = [
    "BrokerConfigChanged",
    "BrokerRegistration",
    "MetadataChange",
    "PartitionState",
    "PartitionStateChanged",
    "PartitionsCreated",
    "TopicConfigChanged",
    "TopicCreated",
    "TopicDeleted",
    "TopicMetadata",
    "kafka_uuid_from_string",
    "kafka_uuid_string",
    "random_kafka_uuid",
]

# Kafka reserves these two ids: the zero id means "none", and the next one names
# the cluster metadata topic.
_RESERVED = (uuid.UUID(int=0), uuid.UUID(int=1))


def kafka_uuid_string(value: uuid.UUID) -> str:
    """
    @param value: an id.
    @return: the id as Kafka writes it: URL-safe base64 of its 16 bytes, without
        padding (22 characters), as in C{meta.properties} and Kafka's tools.
    """
    return base64.urlsafe_b64encode(value.bytes).decode("ascii").rstrip("=")


def kafka_uuid_from_string(text: str) -> uuid.UUID:
    """
    @param text: an id as L{kafka_uuid_string} writes it.
    @return: the id.
    @raise ValueError: if C{text} is not 22 characters of URL-safe base64 of 16
        bytes.
    """
    if len(text) != 22:
        raise ValueError(f"{text!r} is not a 22-character Kafka id")
    try:
        raw = base64.urlsafe_b64decode(text + "==")
    except ValueError:
        raise ValueError(f"{text!r} is not a base64 Kafka id") from None
    if kafka_uuid_string(uuid.UUID(bytes=raw)) != text:
        raise ValueError(f"{text!r} is not a canonical Kafka id")
    return uuid.UUID(bytes=raw)


def random_kafka_uuid() -> uuid.UUID:
    """
    @return: a new random id, as Kafka makes them: never one of its reserved ids,
        and never one whose string form starts with C{-} (which command-line tools
        would take for an option).
    """
    while True:
        value = uuid.uuid4()
        if value not in _RESERVED and not kafka_uuid_string(value).startswith("-"):
            return value


@attrs.frozen
class BrokerRegistration:
    """
    A live broker, as it announces itself to the cluster.

    @ivar broker_id: its node id.
    @ivar endpoints: the addresses it advertises to clients, one per listener.
    @ivar rack: its C{broker.rack}, or C{None}.
    """

    broker_id: int
    endpoints: tuple[Endpoint, ...]
    rack: str | None = None


@attrs.frozen
class PartitionState:
    """
    The replicas of one partition and who leads them.

    @ivar replicas: the brokers holding a replica, the preferred leader first.
    @ivar isr: the in-sync replicas.
    @ivar leader: the leader's broker id, or -1 when there is none.
    @ivar leader_epoch: bumped each time the leader changes.
    @ivar partition_epoch: bumped on every change to this state.
    """

    replicas: tuple[int, ...]
    isr: tuple[int, ...]
    leader: int
    leader_epoch: int = 0
    partition_epoch: int = 0


@attrs.frozen
class TopicMetadata:
    """
    One topic.

    @ivar name: the topic's name.
    @ivar topic_id: its id, which a topic of the same name created later does not
        share.
    @ivar partitions: the state of each partition; partition I{n} is at index I{n}.
    @ivar configs: the topic's config overrides, key to value as text (the broker's
        defaults apply to the other keys).
    """

    name: str
    topic_id: uuid.UUID
    partitions: tuple[PartitionState, ...]
    configs: Mapping[str, str] = attrs.field(factory=dict)

    @property
    def partition_count(self) -> int:
        """The number of partitions."""
        return len(self.partitions)

    @property
    def internal(self) -> bool:
        """Whether this is one of the broker's internal topics."""
        return self.name in INTERNAL_TOPICS

    @property
    def replica_assignment(self) -> tuple[tuple[int, ...], ...]:
        """The replicas of each partition, by partition."""
        return tuple(partition.replicas for partition in self.partitions)


@attrs.frozen
class TopicCreated:
    """
    A topic was created.

    @ivar topic: the new topic.
    """

    topic: TopicMetadata


@attrs.frozen
class TopicDeleted:
    """
    A topic was deleted.

    @ivar topic: the topic as it was.
    """

    topic: TopicMetadata


@attrs.frozen
class PartitionsCreated:
    """
    Partitions were added to a topic.

    @ivar topic: the topic with its new partitions.
    @ivar previous_count: how many partitions it had before.
    """

    topic: TopicMetadata
    previous_count: int


@attrs.frozen
class TopicConfigChanged:
    """
    A topic's config overrides were replaced.

    @ivar topic: the topic with its new overrides.
    """

    topic: TopicMetadata


@attrs.frozen
class BrokerConfigChanged:
    """
    Dynamic broker config overrides were replaced.

    @ivar broker_id: the broker they apply to, or C{None} for the cluster-wide
        default of every broker.
    @ivar configs: the new overrides, key to value as text.
    """

    broker_id: int | None
    configs: Mapping[str, str]


@attrs.frozen
class PartitionStateChanged:
    """
    A partition's leader or ISR changed.

    @ivar topic: the topic with the partition's new state.
    @ivar partition: the partition's index.
    """

    topic: TopicMetadata
    partition: int


MetadataChange: TypeAlias = (
    TopicCreated
    | TopicDeleted
    | PartitionsCreated
    | TopicConfigChanged
    | BrokerConfigChanged
    | PartitionStateChanged
)
"""Every kind of change a metadata store announces."""
