"""
L{IMetadataStore}: what the broker needs from the cluster's metadata.

The contract, the same for every implementation:

  - B{Reads are synchronous.} A store keeps a current view of the metadata in
    memory (the embedded store loads its file at start-up; a ZooKeeper store keeps
    its view current with watches, as Kafka's brokers keep a metadata cache), and
    the read methods answer from it at once. Request handlers read on every
    request, so reads never wait.
  - B{Changes return Deferreds.} Each change method returns a C{Deferred} that
    fires once the change is durable (fsynced to disk, or acknowledged by
    ZooKeeper) with the changed value, or fails with the Kafka error for the case
    (C{TopicExistsError}, C{InvalidPartitionsError} ...). Change methods never
    raise; every error arrives through the Deferred. When it fires, the view
    already shows the change and subscribers have been told.
  - B{Subscribers are called once per change}, after the change is durable and in
    the view, in the order the changes were made. An exception from a subscriber is
    logged and does not affect the change or other subscribers.

Validation of names and values belongs to the store too (a change a store accepts
can always be loaded again), using the same functions request handlers call first
for C{validate_only}: L{validate_topic_name
<odradek.broker.metadata.topics.validate_topic_name>},
L{LogConfig.from_properties <odradek.broker.log.config.LogConfig.from_properties>}
and L{BROKER_CONFIGS <odradek.broker.config.BROKER_CONFIGS>}.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence

import attrs
from twisted.internet.defer import Deferred
from zope.interface import Attribute, Interface

from odradek.broker.metadata.model import (
    BrokerRegistration,
    MetadataChange,
    PartitionState,
    TopicMetadata,
)

__all__ = ["IMetadataStore", "ProducerIdBlock"]


@attrs.frozen
class ProducerIdBlock:
    """
    A range of producer ids reserved for one broker, which hands them out to
    idempotent producers without asking the store again.

    @ivar broker_id: the broker the block is reserved for.
    @ivar first_producer_id: the first id of the block.
    @ivar size: how many ids the block holds.
    """

    broker_id: int
    first_producer_id: int
    size: int

    @property
    def last_producer_id(self) -> int:
        """The last id of the block."""
        return self.first_producer_id + self.size - 1


class IMetadataStore(Interface):
    """
    The cluster's metadata: its id, its brokers and controller, its topics with their
    partitions and configs, and dynamic broker configs.
    """

    cluster_id = Attribute("The cluster's id (C{str}), as in C{meta.properties}.")
    controller_id = Attribute(
        "The broker id (C{int}) of the current controller, or -1 if none is known."
    )

    def start() -> Deferred[None]:
        """
        Make the view current and announce this broker to the cluster.

        @return: fires when reads answer from a current view.
        """

    def stop() -> Deferred[None]:
        """
        Withdraw this broker from the cluster and release the store.

        @return: fires when done.
        """

    def brokers() -> Mapping[int, BrokerRegistration]:
        """
        @return: the live brokers by id.
        """

    def topics() -> Mapping[str, TopicMetadata]:
        """
        @return: every topic by name.
        """

    def topic(name: str) -> TopicMetadata | None:
        """
        @param name: a topic's name.
        @return: the topic, or C{None} if there is none of that name.
        """

    def topic_by_id(topic_id: uuid.UUID) -> TopicMetadata | None:
        """
        @param topic_id: a topic's id.
        @return: the topic, or C{None} if there is none with that id.
        """

    def broker_config(broker_id: int | None) -> Mapping[str, str]:
        """
        @param broker_id: a broker's id, or C{None} for the cluster-wide defaults.
        @return: the dynamic config overrides of that broker (or of every broker),
            key to value as text; empty if there are none.
        """

    def create_topic(
        name: str,
        assignment: Sequence[Sequence[int]],
        configs: Mapping[str, str] | None = None,
        *,
        internal: bool = False,
    ) -> Deferred[TopicMetadata]:
        """
        Create a topic with a new topic id. Each partition starts with its first
        replica as leader, every replica in the ISR, and both epochs at 0.

        @param name: the topic's name.
        @param assignment: the replicas of each partition, in partition order (see
            L{assign_replicas <odradek.broker.metadata.topics.assign_replicas>}).
        @param configs: topic config overrides, key to value as text; none by
            default.
        @param internal: whether the broker itself creates one of the internal
            topics (C{__consumer_offsets}, C{__transaction_state}), whose names are
            otherwise refused.
        @return: fires with the new topic; fails with C{TopicExistsError},
            C{InvalidTopicError}, C{InvalidPartitionsError},
            C{InvalidReplicationFactorError}, C{InvalidReplicaAssignmentError} or
            C{InvalidConfigurationError}.
        """

    def delete_topic(name: str) -> Deferred[TopicMetadata]:
        """
        @param name: the topic's name.
        @return: fires with the deleted topic; fails with
            C{UnknownTopicOrPartitionError}.
        """

    def create_partitions(
        name: str, count: int, assignment: Sequence[Sequence[int]] | None = None
    ) -> Deferred[TopicMetadata]:
        """
        Grow a topic to C{count} partitions. Partitions are never removed.

        @param name: the topic's name.
        @param count: the new total number of partitions.
        @param assignment: the replicas of each new partition; by default they are
            spread over the live brokers with the topic's replication factor.
        @return: fires with the grown topic; fails with
            C{UnknownTopicOrPartitionError}, C{InvalidPartitionsError} (for a count
            that is not larger than the current one),
            C{InvalidReplicationFactorError} or C{InvalidReplicaAssignmentError}.
        """

    def alter_topic_config(
        name: str, configs: Mapping[str, str]
    ) -> Deferred[TopicMetadata]:
        """
        Replace a topic's config overrides. (IncrementalAlterConfigs works out the
        whole new set from the current one and its operations.)

        @param name: the topic's name.
        @param configs: the new overrides, key to value as text.
        @return: fires with the changed topic; fails with
            C{UnknownTopicOrPartitionError} or C{InvalidConfigurationError}.
        """

    def alter_broker_config(
        broker_id: int | None, configs: Mapping[str, str]
    ) -> Deferred[Mapping[str, str]]:
        """
        Replace the dynamic config overrides of one broker, or the cluster-wide
        defaults.

        @param broker_id: a broker's id, or C{None} for the cluster-wide defaults.
        @param configs: the new overrides, key to value as text.
        @return: fires with the new overrides; fails with
            C{InvalidConfigurationError}.
        """

    def alter_partition_state(
        name: str, partition: int, *, leader: int, isr: Sequence[int]
    ) -> Deferred[PartitionState]:
        """
        Change a partition's leader and ISR. A new leader bumps the leader epoch;
        any change bumps the partition epoch.

        @param name: the topic's name.
        @param partition: the partition's index.
        @param leader: the new leader, or -1 for none.
        @param isr: the new in-sync replicas.
        @return: fires with the new state; fails with
            C{UnknownTopicOrPartitionError}, or C{InvalidReplicaAssignmentError}
            if the leader or an ISR member is not a replica.
        """

    def allocate_producer_id_block(
        broker_id: int, size: int
    ) -> Deferred[ProducerIdBlock]:
        """
        Reserve the next C{size} producer ids for a broker. Blocks never overlap,
        across restarts as well: each starts after the last one reserved, the first
        at 0.

        @param broker_id: the broker asking.
        @param size: how many ids to reserve (Kafka reserves 1000 at a time).
        @return: fires with the block once it is durable; fails with
            C{KafkaStorageError} if it cannot be made durable, or with
            C{KafkaError} (C{UNKNOWN_SERVER_ERROR}) once every id of the int64 range
            is taken.
        """

    def subscribe(callback: Callable[[MetadataChange], object]) -> Callable[[], None]:
        """
        Be told of every change from now on.

        @param callback: called with each change.
        @return: a function that ends the subscription.
        """
