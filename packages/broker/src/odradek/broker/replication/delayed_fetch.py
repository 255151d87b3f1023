"""
L{DelayedFetch}: a fetch waiting for C{min_bytes} to become readable.

The fetch completes, as in Kafka, when for some partition:

  - the partition is gone, this broker no longer leads it, or the requester's leader
    epoch no longer matches (the read then reports the error);
  - the fetch offset is past the offset the requester may read up to (the log was
    truncated);
  - the fetch offset lies in an older segment than that offset (a segment rolled
    since: at least a segment's worth is readable, so no need to count);

or when the bytes readable across its partitions, each counted up to its
C{partition_max_bytes}, reach C{min_bytes}; or when C{max_wait_ms} has passed. The
bytes are measured from the positions of the offsets in the log, never by reading
records. On completion the partitions are read again and the Deferred fires with the
results.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs
from twisted.internet.defer import Deferred

from odradek.broker.log import LogOffsetMetadata
from odradek.broker.replication.purgatory import DelayedOperation
from odradek.broker.replication.results import (
    FetchParams,
    LogReadResult,
    PartitionFetchInfo,
)
from odradek.client.errors import KafkaError

if TYPE_CHECKING:
    from odradek.broker.replication.manager import ReplicaManager

__all__ = ["DelayedFetch", "FetchPartitionStatus"]


@attrs.frozen
class FetchPartitionStatus:
    """
    One partition of a delayed fetch.

    @ivar start_offset_metadata: the fetch offset and where it lies in the log, as
        the first read found it.
    @ivar fetch_info: what the fetch asks of the partition.
    """

    start_offset_metadata: LogOffsetMetadata
    fetch_info: PartitionFetchInfo


class DelayedFetch(DelayedOperation):
    """
    A fetch waiting for data; see the module's description.

    @ivar params: the fetch's request-wide settings.
    @ivar statuses: its partitions, in request order.
    @ivar deferred: fires with the results of the final read, in request order.
    """

    def __init__(
        self,
        params: FetchParams,
        statuses: Sequence[FetchPartitionStatus],
        replica_manager: ReplicaManager,
    ) -> None:
        """
        @param params: see L{params}.
        @param statuses: see L{statuses}.
        @param replica_manager: where the partitions are found and read.
        """
        super().__init__(params.max_wait_ms)
        self.params = params
        self.statuses = tuple(statuses)
        self._replica_manager = replica_manager
        self.deferred: Deferred[list[LogReadResult]] = Deferred(lambda _: self.cancel())

    def __repr__(self) -> str:
        partitions = ", ".join(str(s.fetch_info.topic_partition) for s in self.statuses)
        return f"<DelayedFetch {partitions}>"

    def try_complete(self) -> bool:
        accumulated = 0
        params = self.params
        for status in self.statuses:
            fetch_offset = status.start_offset_metadata
            if fetch_offset.message_offset < 0:
                continue
            info = status.fetch_info
            try:
                partition = self._replica_manager.get_partition_or_raise(
                    info.topic_partition
                )
                snapshot = partition.fetch_offset_snapshot(
                    info.current_leader_epoch, params.fetch_only_leader
                )
            except KafkaError:
                return self.force_complete()
            end = snapshot.end_for(params.isolation)
            if fetch_offset.message_offset > end.message_offset:
                return self.force_complete()
            if fetch_offset.message_offset == end.message_offset:
                continue
            if fetch_offset.segment_base_offset < 0 or end.segment_base_offset < 0:
                # A position is unknown: something is readable, so answer.
                return self.force_complete()
            if fetch_offset.segment_base_offset < end.segment_base_offset:
                return self.force_complete()
            if fetch_offset.segment_base_offset == end.segment_base_offset:
                available = end.relative_position - fetch_offset.relative_position
                accumulated += min(available, info.max_bytes)
        if accumulated >= params.min_bytes:
            return self.force_complete()
        return False

    def on_complete(self) -> None:
        results = self._replica_manager.read_from_local_log(
            self.params, [status.fetch_info for status in self.statuses]
        )
        self.deferred.callback(results)
