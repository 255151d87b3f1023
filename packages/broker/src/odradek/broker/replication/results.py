"""
The values that go in and out of L{ReplicaManager
<odradek.broker.replication.manager.ReplicaManager>}: what a fetch asks for and gets,
what an append and a DeleteRecords come to, and the replica ids and isolation levels
that decide how far a reader may read.
"""

from __future__ import annotations

import enum
from typing import Final

import attrs

from odradek.broker.log import FileRecords, LogOffsetMetadata, TopicPartition
from odradek.broker.log.records import EMPTY_RECORDS
from odradek.client.errors import KafkaError

__all__ = [
    "CONSUMER_REPLICA_ID",
    "DEBUGGING_REPLICA_ID",
    "UNKNOWN_OFFSET_METADATA",
    "AbortedTransaction",
    "AppendOrigin",
    "DeleteRecordsResult",
    "FetchIsolation",
    "FetchParams",
    "IsolationLevel",
    "LogReadResult",
    "PartitionFetchInfo",
    "PartitionProduceResult",
]

CONSUMER_REPLICA_ID: Final = -1
"""The replica id of an ordinary consumer's Fetch and ListOffsets requests."""

DEBUGGING_REPLICA_ID: Final = -2
"""The replica id of a debugging consumer, which may read from a follower up to the
log end."""

UNKNOWN_OFFSET_METADATA: Final = LogOffsetMetadata(-1)
"""The fetch offset of a partition whose read failed."""


class IsolationLevel(enum.IntEnum):
    """
    The C{isolation_level} of Fetch and ListOffsets requests.
    """

    READ_UNCOMMITTED = 0
    READ_COMMITTED = 1


class FetchIsolation(enum.Enum):
    """
    How far a read may go: the log end (followers), the high watermark (consumers
    reading uncommitted records) or the last stable offset (consumers reading
    committed records).
    """

    LOG_END = "log end"
    HIGH_WATERMARK = "high watermark"
    TXN_COMMITTED = "last stable offset"

    @classmethod
    def of(cls, replica_id: int, isolation_level: IsolationLevel) -> FetchIsolation:
        """
        @param replica_id: the requester's replica id: a broker id for a follower,
            negative for a consumer.
        @param isolation_level: the consumer's isolation level.
        @return: how far that requester may read.
        """
        if replica_id >= 0:
            return cls.LOG_END
        if isolation_level is IsolationLevel.READ_COMMITTED:
            return cls.TXN_COMMITTED
        return cls.HIGH_WATERMARK


class AppendOrigin(enum.Enum):
    """
    Who appends: a producer, a coordinator of the broker (group offsets, transaction
    markers), or replication from a leader.
    """

    CLIENT = "client"
    COORDINATOR = "coordinator"
    REPLICATION = "replication"


@attrs.frozen
class FetchParams:
    """
    The request-wide settings of a fetch.

    @ivar replica_id: the requester: a broker id for a follower, else negative.
    @ivar max_wait_ms: how long to wait for C{min_bytes}.
    @ivar min_bytes: how many bytes to wait for.
    @ivar max_bytes: the most record bytes to return over all partitions (the
        first batch of the first partition with data is returned whole even if
        larger).
    @ivar isolation: how far the requester may read.
    @ivar fetch_only_leader: whether only the leader may answer.
    """

    replica_id: int
    max_wait_ms: int
    min_bytes: int
    max_bytes: int
    isolation: FetchIsolation
    fetch_only_leader: bool = True

    @property
    def is_from_follower(self) -> bool:
        """Whether a follower replica is fetching."""
        return self.replica_id >= 0


@attrs.frozen
class PartitionFetchInfo:
    """
    What a fetch asks of one partition.

    @ivar topic_partition: the partition.
    @ivar fetch_offset: the first offset wanted.
    @ivar log_start_offset: the requester's log start offset (followers), or -1.
    @ivar max_bytes: the most record bytes to return for this partition.
    @ivar current_leader_epoch: the leader epoch the requester knows, or -1 to skip
        the check.
    """

    topic_partition: TopicPartition
    fetch_offset: int
    log_start_offset: int
    max_bytes: int
    current_leader_epoch: int = -1


@attrs.frozen
class AbortedTransaction:
    """
    An aborted transaction within a read_committed fetch.

    @ivar producer_id: the transaction's producer id.
    @ivar first_offset: the first offset of the transaction.
    """

    producer_id: int
    first_offset: int


@attrs.frozen
class LogReadResult:
    """
    What a fetch got from one partition (Kafka's C{LogReadResult}). The offsets
    are the partition's when the read began; they are -1 when the read failed.

    @ivar topic_partition: the partition.
    @ivar error: why the read failed, or C{None}.
    @ivar records: the region of the log to send; empty on error or when there is
        nothing to read.
    @ivar high_watermark: the high watermark.
    @ivar last_stable_offset: the last stable offset.
    @ivar log_start_offset: the log start offset.
    @ivar log_end_offset: the log end offset.
    @ivar fetch_offset_metadata: where the fetch offset lies in the log, for
        L{DelayedFetch <odradek.broker.replication.delayed_fetch.DelayedFetch>}.
    @ivar aborted_transactions: the aborted transactions within the records for a
        read_committed fetch (always empty until transactions exist), else C{None}.
    """

    topic_partition: TopicPartition
    error: KafkaError | None = None
    records: FileRecords = EMPTY_RECORDS
    high_watermark: int = -1
    last_stable_offset: int = -1
    log_start_offset: int = -1
    log_end_offset: int = -1
    fetch_offset_metadata: LogOffsetMetadata = UNKNOWN_OFFSET_METADATA
    aborted_transactions: tuple[AbortedTransaction, ...] | None = None


@attrs.frozen
class PartitionProduceResult:
    """
    What an append came to for one partition, as the Produce response reports it.

    @ivar error: why the append failed, or C{None}.
    @ivar base_offset: the offset of the first record appended, or -1.
    @ivar last_offset: the offset of the last record appended, or -1.
    @ivar log_append_time: the time stamped on the records for a LogAppendTime
        topic, else -1.
    @ivar log_start_offset: the log start offset after the append, or -1.
    """

    error: KafkaError | None = None
    base_offset: int = -1
    last_offset: int = -1
    log_append_time: int = -1
    log_start_offset: int = -1


@attrs.frozen
class DeleteRecordsResult:
    """
    What a DeleteRecords request came to for one partition.

    @ivar error: why the deletion failed, or C{None}.
    @ivar low_watermark: the partition's new low watermark (the smallest log start
        offset of its replicas), or -1.
    """

    error: KafkaError | None = None
    low_watermark: int = -1
