"""
L{Partition}: this broker's replica of one partition, as leader or follower.

The partition keeps what replication adds to the log: who leads it and in which
leader epoch, the in-sync replicas (ISR), and the high watermark, the offset up to
which every ISR member holds the records. The leader moves the high watermark to the
smallest log end offset in the ISR; with no other replica in the ISR (one broker,
replication factor 1) it follows the log end offset after every append. Followers'
log end offsets come in through L{Partition.update_follower_fetch_state}, which the
follower fetch path will call.

Readers see the records up to the high watermark (read_uncommitted) or the last
stable offset (read_committed). Transactions do not exist yet, so the last stable
offset is the high watermark.
"""

from __future__ import annotations

import uuid

import attrs

from odradek.broker.log import (
    EARLIEST_LOCAL_TIMESTAMP,
    EARLIEST_TIMESTAMP,
    LATEST_TIMESTAMP,
    MAX_TIMESTAMP,
    FetchDataInfo,
    Log,
    LogAppendInfo,
    LogOffsetMetadata,
    TimestampAndOffset,
    TopicPartition,
)
from odradek.broker.metadata import PartitionState
from odradek.broker.replication.results import FetchIsolation, IsolationLevel
from odradek.client.errors import (
    FencedLeaderEpochError,
    KafkaError,
    NotEnoughReplicasAfterAppendError,
    NotEnoughReplicasError,
    NotLeaderOrFollowerError,
    OffsetNotAvailableError,
    OffsetOutOfRangeError,
    PolicyViolationError,
    UnknownLeaderEpochError,
)

__all__ = [
    "LATEST_TIERED_TIMESTAMP",
    "LogOffsetSnapshot",
    "LogReadInfo",
    "Partition",
]

LATEST_TIERED_TIMESTAMP = -5
"""ListOffsets' "highest offset in remote storage" (KIP-1005); without tiered storage
Kafka answers offset -1."""

_NOT_FOUND = TimestampAndOffset(-1, -1, -1)


@attrs.frozen
class LogReadInfo:
    """
    A read of the partition and its offsets when the read began.

    @ivar fetched: the region read.
    @ivar high_watermark: the high watermark.
    @ivar last_stable_offset: the last stable offset.
    @ivar log_start_offset: the log start offset.
    @ivar log_end_offset: the log end offset.
    """

    fetched: FetchDataInfo
    high_watermark: int
    last_stable_offset: int
    log_start_offset: int
    log_end_offset: int


@attrs.frozen
class LogOffsetSnapshot:
    """
    The partition's offsets with where they lie in the log, for a delayed fetch to
    measure how many bytes it could read.

    @ivar log_start_offset: the log start offset.
    @ivar log_end_offset: the log end offset.
    @ivar high_watermark: the high watermark.
    @ivar last_stable_offset: the last stable offset.
    """

    log_start_offset: int
    log_end_offset: LogOffsetMetadata
    high_watermark: LogOffsetMetadata
    last_stable_offset: LogOffsetMetadata

    def end_for(self, isolation: FetchIsolation) -> LogOffsetMetadata:
        """
        @return: the offset a reader with C{isolation} may read up to.
        """
        if isolation is FetchIsolation.LOG_END:
            return self.log_end_offset
        if isolation is FetchIsolation.HIGH_WATERMARK:
            return self.high_watermark
        return self.last_stable_offset


@attrs.define(eq=False)
class Partition:
    """
    This broker's replica of one partition. Build it with L{Partition.create}.

    @ivar topic_partition: the partition.
    @ivar topic_id: its topic's id.
    @ivar local_broker_id: this broker's id.
    @ivar log: the partition's log on this broker.
    @ivar leader_id: the leader's broker id, -1 when there is none.
    @ivar leader_epoch: the leader epoch, from the partition's metadata.
    @ivar partition_epoch: the partition epoch, from the partition's metadata.
    @ivar replicas: the brokers holding a replica.
    @ivar isr: the in-sync replicas.
    """

    topic_partition: TopicPartition
    topic_id: uuid.UUID
    local_broker_id: int
    log: Log
    leader_id: int = -1
    leader_epoch: int = -1
    partition_epoch: int = -1
    replicas: tuple[int, ...] = ()
    isr: frozenset[int] = frozenset()
    _follower_end_offsets: dict[int, int] = attrs.field(factory=dict, repr=False)
    _follower_start_offsets: dict[int, int] = attrs.field(factory=dict, repr=False)
    _leader_epoch_start_offset: int = attrs.field(default=-1, repr=False)

    @classmethod
    def create(
        cls,
        topic_partition: TopicPartition,
        topic_id: uuid.UUID,
        local_broker_id: int,
        log: Log,
        state: PartitionState,
    ) -> Partition:
        """
        @param topic_partition: the partition.
        @param topic_id: its topic's id.
        @param local_broker_id: this broker's id.
        @param log: the partition's log.
        @param state: its replicas, leader and ISR from the metadata.
        @return: the partition, leading it if the metadata names this broker.
        """
        partition = cls(topic_partition, topic_id, local_broker_id, log)
        partition.update_state(state)
        return partition

    def update_state(self, state: PartitionState) -> bool:
        """
        Take the partition's new state from the metadata: leader, leader epoch,
        replicas and ISR. A leader resets what it knows of its followers when its
        epoch changes, and moves the high watermark if it can.

        @return: whether the leader or the leader epoch changed.
        """
        changed = state.leader != self.leader_id or state.leader_epoch != (
            self.leader_epoch
        )
        if changed:
            self._follower_end_offsets.clear()
            self._follower_start_offsets.clear()
            self._leader_epoch_start_offset = self.log.log_end_offset
        self.leader_id = state.leader
        self.leader_epoch = state.leader_epoch
        self.partition_epoch = state.partition_epoch
        self.replicas = state.replicas
        self.isr = frozenset(state.isr)
        if self.is_leader:
            self.maybe_increment_leader_hw()
        return changed

    # Offsets.

    @property
    def is_leader(self) -> bool:
        """Whether this broker leads the partition."""
        return self.leader_id == self.local_broker_id

    @property
    def high_watermark(self) -> int:
        """The offset up to which every in-sync replica holds the records."""
        return self.log.high_watermark

    @property
    def last_stable_offset(self) -> int:
        """The offset up to which read_committed consumers may read: the high
        watermark, as no transaction can be open."""
        return self.log.high_watermark

    @property
    def log_start_offset(self) -> int:
        """The first offset readable."""
        return self.log.log_start_offset

    @property
    def log_end_offset(self) -> int:
        """The offset the next record gets."""
        return self.log.log_end_offset

    @property
    def low_watermark(self) -> int:
        """The smallest log start offset among the replicas this broker knows of."""
        return min([self.log.log_start_offset, *self._follower_start_offsets.values()])

    def maybe_increment_leader_hw(self) -> bool:
        """
        Move the high watermark to the smallest log end offset in the ISR, if that is
        further than it is.

        @return: whether the high watermark moved.
        """
        log = self.log
        new = log.log_end_offset
        for replica in self.isr:
            if replica != self.local_broker_id:
                new = min(new, self._follower_end_offsets.get(replica, -1))
        if new > log.high_watermark:
            log.update_high_watermark(new)
            return True
        return False

    def update_follower_fetch_state(
        self, replica_id: int, log_end_offset: int, log_start_offset: int
    ) -> bool:
        """
        Record a follower's position, as its fetch reports it.

        @param replica_id: the follower's broker id.
        @param log_end_offset: its log end offset (its fetch offset).
        @param log_start_offset: its log start offset.
        @return: whether the high watermark moved.
        @raise NotLeaderOrFollowerError: if this broker does not lead the partition
            or C{replica_id} is not one of its followers.
        """
        if not self.is_leader:
            raise self._not_leader()
        if replica_id == self.local_broker_id or replica_id not in self.replicas:
            raise NotLeaderOrFollowerError(
                f"broker {replica_id} is not a follower of partition"
                f" {self.topic_partition}, whose replicas are {list(self.replicas)}"
            )
        self._follower_end_offsets[replica_id] = log_end_offset
        self._follower_start_offsets[replica_id] = log_start_offset
        return self.maybe_increment_leader_hw()

    def _not_leader(self) -> NotLeaderOrFollowerError:
        return NotLeaderOrFollowerError(
            f"broker {self.local_broker_id} is not the leader of partition"
            f" {self.topic_partition} (the leader is {self.leader_id}, leader epoch"
            f" {self.leader_epoch})"
        )

    def _local_log(self, current_leader_epoch: int, require_leader: bool) -> Log:
        """
        @param current_leader_epoch: the epoch the requester knows, or -1.
        @param require_leader: whether only the leader may answer.
        @return: the log, if the requester's epoch matches and this broker may answer.
        @raise FencedLeaderEpochError: for an epoch older than the partition's.
        @raise UnknownLeaderEpochError: for an epoch newer than the partition's.
        @raise NotLeaderOrFollowerError: if C{require_leader} and this broker does
            not lead the partition.
        """
        if current_leader_epoch >= 0 and current_leader_epoch != self.leader_epoch:
            error = (
                FencedLeaderEpochError
                if current_leader_epoch < self.leader_epoch
                else UnknownLeaderEpochError
            )
            raise error(
                f"the request's leader epoch {current_leader_epoch} for partition"
                f" {self.topic_partition} does not match the current leader epoch"
                f" {self.leader_epoch}"
            )
        if require_leader and not self.is_leader:
            raise self._not_leader()
        return self.log

    def _offset_metadata(self, offset: int) -> LogOffsetMetadata:
        """
        @return: C{offset} with the segment and position of its batch, found from
            the batch headers (and at once for the log end offset); the offset alone
            if it is not in the log.
        """
        log = self.log
        if offset == log.log_end_offset:
            active = log.active_segment
            return LogOffsetMetadata(offset, active.base_offset, active.size)
        segment = log.segments.floor(offset)
        found = None if segment is None else segment.translate_offset(offset)
        if segment is None or found is None:
            return LogOffsetMetadata(offset)
        return LogOffsetMetadata(offset, segment.base_offset, found.position)

    # Appending.

    def append_records_to_leader(
        self, records: bytes | bytearray | memoryview, *, required_acks: int
    ) -> tuple[LogAppendInfo, bool]:
        """
        Append a producer's records, then move the high watermark if the ISR allows.

        @param records: the record batches of a produce request for this partition.
        @param required_acks: the request's C{acks}.
        @return: what was appended, and whether the high watermark moved.
        @raise NotLeaderOrFollowerError: if this broker does not lead the partition.
        @raise NotEnoughReplicasError: for C{acks=-1} when the ISR is smaller than
            the topic's C{min.insync.replicas}.
        @raise KafkaError: the log's validation and producer state errors (see
            L{Log.append_as_leader}).
        """
        if not self.is_leader:
            raise self._not_leader()
        min_isr = self.log.config.min_insync_replicas
        if required_acks == -1 and len(self.isr) < min_isr:
            raise NotEnoughReplicasError(
                f"The size of the current ISR {sorted(self.isr)} is insufficient to"
                f" satisfy the min.isr requirement of {min_isr} for partition"
                f" {self.topic_partition}"
            )
        info = self.log.append_as_leader(records, self.leader_epoch)
        return info, self.maybe_increment_leader_hw()

    def check_enough_replicas_reach_offset(
        self, required_offset: int
    ) -> tuple[bool, KafkaError | None]:
        """
        For an C{acks=-1} append: whether every in-sync replica holds the records
        before C{required_offset}.

        @return: whether the append is done waiting, and the error to answer it with
            (C{NOT_ENOUGH_REPLICAS_AFTER_APPEND} if the ISR shrank below
            C{min.insync.replicas} meanwhile, C{NOT_LEADER_OR_FOLLOWER} if this
            broker lost the leadership), or C{None}.
        """
        if not self.is_leader:
            return False, self._not_leader()
        if self.log.high_watermark < required_offset:
            return False, None
        min_isr = self.log.config.min_insync_replicas
        if len(self.isr) < min_isr:
            return True, NotEnoughReplicasAfterAppendError(
                f"the records of partition {self.topic_partition} before offset"
                f" {required_offset} were written, but the ISR {sorted(self.isr)}"
                f" shrank below min.insync.replicas {min_isr}"
            )
        return True, None

    # Reading.

    def read_records(
        self,
        *,
        fetch_offset: int,
        max_bytes: int,
        isolation: FetchIsolation,
        min_one_message: bool,
        current_leader_epoch: int = -1,
        fetch_only_from_leader: bool = True,
    ) -> LogReadInfo:
        """
        Read from C{fetch_offset}, up to the offset C{isolation} allows.

        @return: the region read and the offsets before the read.
        @raise FencedLeaderEpochError: see L{_local_log}.
        @raise UnknownLeaderEpochError: see L{_local_log}.
        @raise NotLeaderOrFollowerError: see L{_local_log}.
        @raise OffsetOutOfRangeError: if C{fetch_offset} is outside the log.
        """
        log = self._local_log(current_leader_epoch, fetch_only_from_leader)
        high_watermark = log.high_watermark
        log_start_offset = log.log_start_offset
        log_end_offset = log.log_end_offset
        log_end = isolation is FetchIsolation.LOG_END
        max_offset = None if log_end else high_watermark
        fetched = log.read(fetch_offset, max_bytes, max_offset, min_one_message)
        return LogReadInfo(
            fetched, high_watermark, high_watermark, log_start_offset, log_end_offset
        )

    def fetch_offset_snapshot(
        self, current_leader_epoch: int = -1, fetch_only_from_leader: bool = True
    ) -> LogOffsetSnapshot:
        """
        @return: the partition's offsets with their positions in the log.
        @raise KafkaError: as L{read_records} does for the epoch and leadership.
        """
        log = self._local_log(current_leader_epoch, fetch_only_from_leader)
        high_watermark = self._offset_metadata(log.high_watermark)
        return LogOffsetSnapshot(
            log.log_start_offset,
            self._offset_metadata(log.log_end_offset),
            high_watermark,
            high_watermark,
        )

    def fetch_offset_for_timestamp(
        self,
        timestamp: int,
        *,
        isolation_level: IsolationLevel | None,
        current_leader_epoch: int = -1,
        fetch_only_from_leader: bool = True,
    ) -> TimestampAndOffset:
        """
        Answer a ListOffsets query. A client (C{isolation_level} given) sees offsets
        up to the high watermark (or the last stable offset); a replica up to the
        log end. A lookup by time that finds nothing visible answers timestamp and
        offset -1, as Kafka does.

        @param timestamp: milliseconds since the epoch, or C{LATEST_TIMESTAMP} (-1),
            C{EARLIEST_TIMESTAMP} (-2), C{MAX_TIMESTAMP} (-3),
            C{EARLIEST_LOCAL_TIMESTAMP} (-4) or L{LATEST_TIERED_TIMESTAMP} (-5).
        @param isolation_level: the client's isolation level, or C{None} for a
            replica.
        @return: the offset found, with its timestamp and leader epoch (-1 where
            unknown).
        @raise OffsetNotAvailableError: for a client asking for the latest offset
            (or by time) while the high watermark lags the start of the current
            leader epoch, after a leader change.
        @raise KafkaError: as L{read_records} does for the epoch and leadership.
        """
        log = self._local_log(current_leader_epoch, fetch_only_from_leader)
        if isolation_level is None:
            last_fetchable = log.log_end_offset
        else:
            last_fetchable = log.high_watermark
        lagging = (
            isolation_level is not None
            and self._leader_epoch_start_offset > log.high_watermark
        )
        if timestamp in (EARLIEST_TIMESTAMP, EARLIEST_LOCAL_TIMESTAMP):
            found = log.offset_for_timestamp(timestamp)
            assert found is not None
            return found
        if timestamp == LATEST_TIERED_TIMESTAMP:
            return _NOT_FOUND
        found = None
        if timestamp != LATEST_TIMESTAMP:
            if timestamp != MAX_TIMESTAMP and timestamp < 0:
                raise ValueError(f"unknown special timestamp {timestamp}")
            found = log.offset_for_timestamp(timestamp)
            if found is not None and found.offset < last_fetchable:
                return found
        if lagging:
            raise OffsetNotAvailableError(
                f"Failed to fetch offsets for partition {self.topic_partition} with"
                f" leader epoch {self.leader_epoch}: its high watermark"
                f" {log.high_watermark} lags the start offset of the epoch"
                f" ({self._leader_epoch_start_offset})"
            )
        if timestamp == LATEST_TIMESTAMP:
            return TimestampAndOffset(-1, last_fetchable, self.leader_epoch)
        return _NOT_FOUND

    # Deleting.

    def delete_records_on_leader(self, offset: int) -> int:
        """
        Move the log start offset to C{offset} (DeleteRecords).

        @param offset: the new first offset, or -1 for the high watermark.
        @return: the low watermark after the move.
        @raise NotLeaderOrFollowerError: if this broker does not lead the partition.
        @raise PolicyViolationError: if the topic's C{cleanup.policy} lacks
            C{delete}.
        @raise OffsetOutOfRangeError: for a negative offset other than -1, or one
            past the high watermark.
        """
        if not self.is_leader:
            raise self._not_leader()
        log = self.log
        if not log.config.delete_enabled:
            raise PolicyViolationError(
                f"Records of partition {self.topic_partition} cannot be deleted: its"
                f" cleanup.policy is {','.join(log.config.cleanup_policy)}"
            )
        converted = log.high_watermark if offset == -1 else offset
        if converted < 0:
            raise OffsetOutOfRangeError(
                f"The offset {converted} for partition {self.topic_partition} is not"
                " valid"
            )
        log.maybe_increment_log_start_offset(converted)
        return self.low_watermark
