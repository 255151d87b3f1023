"""
The seam between the group coordinator and where its state is kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from twisted.internet.defer import Deferred
from zope.interface import Interface

from odradek.broker.coordinator.group.values import (
    CommittedOffset,
    GroupSnapshot,
    LoadedPartition,
)
from odradek.client.structs import TopicPartition

__all__ = ["IGroupStore"]


class IGroupStore(Interface):
    """
    Keeps groups and their committed offsets durably: Kafka's
    C{GroupMetadataManager} writing to C{__consumer_offsets}, or an in-memory
    store in tests.

    Every write goes to the partition of C{__consumer_offsets} that
    L{partition_for<odradek.broker.coordinator.group.placement.partition_for>}
    gives for the group, and fires once it is durable (all in-sync replicas), or
    fails with the error the client should see, mapped as Kafka's
    C{GroupMetadataManager} maps append errors: C{COORDINATOR_NOT_AVAILABLE} (the
    partition is missing, not enough replicas), C{NOT_COORDINATOR} (this broker no
    longer leads it), a time-out as C{REBALANCE_IN_PROGRESS} for group metadata and
    C{REQUEST_TIMED_OUT} for offsets, and records too large as
    C{UNKNOWN_SERVER_ERROR} for group metadata and C{INVALID_COMMIT_OFFSET_SIZE}
    for offsets.
    """

    def store_group(snapshot: GroupSnapshot) -> Deferred[None]:
        """
        Write a group's metadata record.

        @param snapshot: the group.
        @return: fires when written.
        """

    def store_offsets(
        group_id: str, offsets: Mapping[TopicPartition, CommittedOffset]
    ) -> Deferred[None]:
        """
        Write one offset record per partition, all in one batch (all or none).

        @param group_id: the group.
        @param offsets: the offsets to commit.
        @return: fires when written.
        """

    def remove_offsets(
        group_id: str, partitions: Iterable[TopicPartition]
    ) -> Deferred[None]:
        """
        Write tombstones for committed offsets (expired, deleted, or of a deleted
        group).

        @param group_id: the group.
        @param partitions: the partitions whose offsets go.
        @return: fires when written.
        """

    def remove_group(group_id: str) -> Deferred[None]:
        """
        Write a tombstone for a group's metadata (the group was deleted, or is
        empty and has no offsets left).

        @param group_id: the group.
        @return: fires when written.
        """

    def load(partition: int) -> Deferred[LoadedPartition]:
        """
        Read one partition of C{__consumer_offsets} from its start.

        @param partition: the partition.
        @return: fires with what it holds.
        """
