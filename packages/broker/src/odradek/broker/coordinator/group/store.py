"""
L{OffsetsTopicStore}: the group coordinator's state kept as records in the internal
topic C{__consumer_offsets}, as Kafka's C{GroupMetadataManager} keeps it.

Each write is one record batch (magic 2, CreateTime, no producer id, no
compression) of records in Kafka's own key and value formats
(L{odradek.broker.coordinator.group.records}), appended with C{acks=-1} through the
L{ReplicaManager} to the partition that
L{partition_for<odradek.broker.coordinator.group.placement.partition_for>} gives
for the group. Loading reads a partition from its log start offset to its log end
offset (as Kafka does: a new leader's records past the high watermark are its
own) and keeps the latest value of every key; a null value (tombstone) deletes the
key.

Nothing is cached here: the coordinator holds the state, the log holds the history.
The store only counts the writes in flight per partition, so that a rewrite of a
partition (L{OffsetsTopicStore.rewrite}, see
L{odradek.broker.coordinator.group.service}) never races a write the coordinator
has not seen acknowledged yet.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from twisted.internet.defer import (
    Deferred,
    FirstError,
    fail,
    gatherResults,
    succeed,
)
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from odradek.broker.config import KafkaConfig
from odradek.broker.coordinator.group._offsetslog import pack_appends, read_partition
from odradek.broker.coordinator.group.interfaces import IGroupStore
from odradek.broker.coordinator.group.placement import partition_for
from odradek.broker.coordinator.group.records import (
    group_key,
    group_value,
    offset_key,
    offset_value,
)
from odradek.broker.coordinator.group.values import (
    CommittedOffset,
    GroupSnapshot,
    LoadedPartition,
)
from odradek.broker.log import TopicPartition as LogTopicPartition
from odradek.broker.metadata.topics import CONSUMER_OFFSETS_TOPIC
from odradek.broker.replication.manager import ReplicaManager
from odradek.broker.replication.partition import Partition
from odradek.broker.replication.results import AppendOrigin, PartitionProduceResult
from odradek.client.errors import (
    CoordinatorNotAvailableError,
    InvalidCommitOffsetSizeError,
    InvalidFetchSizeError,
    KafkaError,
    KafkaStorageError,
    NotCoordinatorError,
    NotEnoughReplicasAfterAppendError,
    NotEnoughReplicasError,
    NotLeaderOrFollowerError,
    RebalanceInProgressError,
    RecordBatchTooLargeError,
    RecordTooLargeError,
    RequestTimedOutError,
    UnknownServerError,
    UnknownTopicOrPartitionError,
)
from odradek.client.records import (
    RecordBatchBuilder,
)
from odradek.client.structs import TopicPartition

__all__ = ["OffsetsTopicStore", "map_append_error"]

_UNAVAILABLE = (
    UnknownTopicOrPartitionError,
    NotEnoughReplicasError,
    NotEnoughReplicasAfterAppendError,
)
_NOT_COORDINATOR = (NotLeaderOrFollowerError, KafkaStorageError)
_TOO_LARGE = (RecordTooLargeError, RecordBatchTooLargeError, InvalidFetchSizeError)


def map_append_error(error: KafkaError, *, offsets: bool) -> KafkaError:
    """
    Turn the error of an append to C{__consumer_offsets} into the error the
    client should see, as Kafka's C{GroupMetadataManager} does.

    @param error: the append's error.
    @param offsets: whether offsets were written (OffsetCommit) rather than group
        metadata (SyncGroup, a group becoming empty, tombstones).
    @return: C{COORDINATOR_NOT_AVAILABLE} for a missing partition or too few
        replicas; C{NOT_COORDINATOR} when this broker no longer leads the partition
        or its log is offline; C{INVALID_COMMIT_OFFSET_SIZE} (offsets) or
        C{UNKNOWN_SERVER_ERROR} (group metadata) for records too large; for group
        metadata, C{REBALANCE_IN_PROGRESS} when the replicas did not acknowledge
        in time; any other error as it is.
    """
    message = f"appending to {CONSUMER_OFFSETS_TOPIC} failed: {error.name}"
    if isinstance(error, _UNAVAILABLE):
        return CoordinatorNotAvailableError(message)
    if isinstance(error, _NOT_COORDINATOR):
        return NotCoordinatorError(message)
    if isinstance(error, _TOO_LARGE):
        if offsets:
            return InvalidCommitOffsetSizeError(message)
        return UnknownServerError(message)
    if isinstance(error, RequestTimedOutError) and not offsets:
        return RebalanceInProgressError(message)
    return error


@implementer(IGroupStore)
class OffsetsTopicStore:
    """
    Keeps groups and committed offsets in C{__consumer_offsets}; see the module's
    description.

    @ivar partition_count: C{offsets.topic.num.partitions}.
    @ivar commit_timeout_ms: C{offsets.commit.timeout.ms}, how long a write waits
        for the in-sync replicas.
    @ivar load_buffer_size: C{offsets.load.buffer.size}, how many bytes loading
        reads at a time.
    """

    _log = Logger()

    def __init__(
        self,
        *,
        replica_manager: ReplicaManager,
        config: KafkaConfig,
        clock: IReactorTime,
    ) -> None:
        """
        @param replica_manager: the broker's partitions.
        @param config: the broker's configuration (C{offsets.*} keys).
        @param clock: the time stamped on the records.
        """
        self._replica_manager = replica_manager
        self._clock = clock
        self.partition_count = config.offsets_topic_num_partitions
        self.commit_timeout_ms = _int(config, "offsets.commit.timeout.ms")
        self.load_buffer_size = _int(config, "offsets.load.buffer.size")
        self._in_flight: dict[int, int] = {}
        self._written: Callable[[int], object] | None = None

    # Where things go.

    def partition_of(self, group_id: str) -> int:
        """
        @param group_id: a group.
        @return: the partition of C{__consumer_offsets} that holds it.
        """
        return partition_for(group_id, self.partition_count)

    def writes_in_flight(self, partition: int) -> int:
        """
        @param partition: a partition of C{__consumer_offsets}.
        @return: how many writes to it are not yet acknowledged.
        """
        return self._in_flight.get(partition, 0)

    def set_write_listener(self, listener: Callable[[int], object] | None) -> None:
        """
        Be told of every write once it is acknowledged (and its caller has seen
        it), to watch a partition's size.

        @param listener: called with the partition written to, or C{None} to stop.
        """
        self._written = listener

    def _now_ms(self) -> int:
        return round(self._clock.seconds() * 1000)

    # IGroupStore.

    def store_group(self, snapshot: GroupSnapshot) -> Deferred[None]:
        """
        Write a group's metadata record; see L{IGroupStore.store_group}.
        """
        group_id = snapshot.group_id
        return self._write(
            self.partition_of(group_id),
            [(group_key(group_id), group_value(snapshot))],
            offsets=False,
        )

    def store_offsets(
        self, group_id: str, offsets: Mapping[TopicPartition, CommittedOffset]
    ) -> Deferred[None]:
        """
        Write one offset record per partition in one batch; see
        L{IGroupStore.store_offsets}.
        """
        records: list[tuple[bytes, bytes | None]] = [
            (offset_key(group_id, tp), offset_value(value))
            for tp, value in offsets.items()
        ]
        return self._write(self.partition_of(group_id), records, offsets=True)

    def remove_offsets(
        self, group_id: str, partitions: Iterable[TopicPartition]
    ) -> Deferred[None]:
        """
        Write tombstones for committed offsets; see L{IGroupStore.remove_offsets}.
        """
        records: list[tuple[bytes, bytes | None]] = [
            (offset_key(group_id, tp), None) for tp in partitions
        ]
        return self._write(self.partition_of(group_id), records, offsets=False)

    def remove_group(self, group_id: str) -> Deferred[None]:
        """
        Write a tombstone for a group's metadata; see L{IGroupStore.remove_group}.
        """
        records: list[tuple[bytes, bytes | None]] = [(group_key(group_id), None)]
        return self._write(self.partition_of(group_id), records, offsets=False)

    def load(self, partition: int) -> Deferred[LoadedPartition]:
        """
        Read one partition from its log start offset; see L{IGroupStore.load}.
        Control batches, records of unknown key versions and records that do not
        decode are skipped (and logged).

        @return: fires with what the partition holds; fails with
            C{NOT_COORDINATOR} if this broker holds no online replica of it,
            C{COORDINATOR_NOT_AVAILABLE} if it does not exist.
        """
        try:
            replica = self._replica(partition)
        except KafkaError as e:
            return fail(e)
        loaded = read_partition(replica.log, partition, self.load_buffer_size)
        return succeed(loaded)

    # Rewriting.

    def size(self, partition: int) -> int:
        """
        @param partition: a partition of C{__consumer_offsets}.
        @return: the bytes of its segments that hold offsets from its log start
            offset on (segments wholly below it wait for retention to delete
            them); 0 if this broker has no replica of it.
        """
        replica = self._replica_manager.get_partition(self.topic_partition(partition))
        if replica is None:
            return 0
        log = replica.log
        return sum(
            segment.size
            for segment in log.segments.values(log.log_start_offset, log.log_end_offset)
        )

    def segment_bytes(self, partition: int) -> int | None:
        """
        @param partition: a partition of C{__consumer_offsets}.
        @return: its log's C{segment.bytes}, or C{None} if this broker has no
            replica of it.
        """
        replica = self._replica_manager.get_partition(self.topic_partition(partition))
        return None if replica is None else replica.log.config.segment_bytes

    def rewrite(self, loaded: LoadedPartition) -> Deferred[int | None]:
        """
        Append the whole live state of a partition at its log end, then move its
        log start offset to the first record of that rewrite: reading from the log
        start gives the same state as before, and the segments below it go at the
        next retention check. This bounds the partition's size until log
        compaction exists.

        Nothing happens while writes to the partition are in flight (their records
        may be below the rewrite and not yet in C{loaded}).

        @param loaded: the partition's live state (every group with metadata, every
            committed offset), taken just now.
        @return: fires with how many bytes were appended, or C{None} if the rewrite
            was put off; fails with the append's error.
        """
        partition = loaded.partition
        if self.writes_in_flight(partition):
            return succeed(None)
        records: list[tuple[bytes, bytes | None]] = [
            (group_key(group_id), group_value(snapshot))
            for group_id, snapshot in loaded.groups.items()
        ]
        for group_id, offsets in loaded.offsets.items():
            records.extend(
                (offset_key(group_id, tp), offset_value(value))
                for tp, value in offsets.items()
            )
        try:
            replica = self._replica(partition)
        except KafkaError as e:
            return fail(e)
        if not records:
            return succeed(self._advance_log_start(replica, replica.high_watermark, 0))
        config = replica.log.config
        # An append may not be larger than a segment.
        chunks = pack_appends(
            records,
            self._now_ms(),
            min(config.max_message_bytes, config.segment_bytes),
            config.segment_bytes,
        )
        written = gatherResults(
            [self._append(partition, chunk) for chunk in chunks], consumeErrors=True
        )

        def appended(results: list[PartitionProduceResult]) -> int | None:
            for result in results:
                if result.error is not None:
                    raise map_append_error(result.error, offsets=False)
            size = sum(len(chunk) for chunk in chunks)
            return self._advance_log_start(replica, results[0].base_offset, size)

        def unwrap(failure: Failure) -> Failure:
            if isinstance(failure.value, FirstError):
                return failure.value.subFailure
            return failure

        return written.addCallback(appended).addErrback(unwrap)

    def _advance_log_start(self, replica: Partition, offset: int, size: int) -> int:
        log = replica.log
        before = log.log_start_offset
        log.maybe_increment_log_start_offset(offset)
        self._log.info(
            "Rewrote {partition}: {size} bytes of live groups and offsets from offset"
            " {offset}; log start offset moved from {before}",
            partition=str(replica.topic_partition),
            size=size,
            offset=offset,
            before=before,
        )
        return size

    # Internals.

    def topic_partition(self, partition: int) -> LogTopicPartition:
        """
        @param partition: a partition's index.
        @return: that partition of C{__consumer_offsets}.
        """
        return LogTopicPartition(CONSUMER_OFFSETS_TOPIC, partition)

    def _replica(self, partition: int) -> Partition:
        try:
            replica = self._replica_manager.get_partition_or_raise(
                self.topic_partition(partition)
            )
        except KafkaError as e:
            raise map_append_error(e, offsets=False) from None
        if not replica.is_leader:
            raise NotCoordinatorError(
                f"this broker does not lead {replica.topic_partition}"
            )
        return replica

    def _write(
        self,
        partition: int,
        records: list[tuple[bytes, bytes | None]],
        *,
        offsets: bool,
    ) -> Deferred[None]:
        if not records:
            return succeed(None)
        builder = RecordBatchBuilder()
        now = self._now_ms()
        for record_key, record_value in records:
            builder.append(now, record_key, record_value)
        written = self._append(partition, builder.build())

        def appended(result: PartitionProduceResult) -> None:
            if result.error is not None:
                raise map_append_error(result.error, offsets=offsets)

        return written.addCallback(appended)

    def _append(self, partition: int, data: bytes) -> Deferred[PartitionProduceResult]:
        """
        Append to a partition, counting the write as in flight until its caller
        has seen the result.
        """
        tp = self.topic_partition(partition)
        self._in_flight[partition] = self.writes_in_flight(partition) + 1
        try:
            appended = self._replica_manager.append_records(
                timeout_ms=self.commit_timeout_ms,
                required_acks=-1,
                entries={tp: data},
                origin=AppendOrigin.COORDINATOR,
            )
        except Exception:
            self._done(partition)
            raise
        result: Deferred[PartitionProduceResult] = Deferred()

        def answer(results: dict[LogTopicPartition, PartitionProduceResult]) -> None:
            try:
                result.callback(results[tp])
            finally:
                self._done(partition)

        def failed(failure: Failure) -> None:
            try:
                result.errback(failure)
            finally:
                self._done(partition)

        appended.addCallbacks(answer, failed)
        return result

    def _done(self, partition: int) -> None:
        left = self.writes_in_flight(partition) - 1
        if left > 0:
            self._in_flight[partition] = left
        else:
            self._in_flight.pop(partition, None)
        listener = self._written
        if listener is not None:
            try:
                listener(partition)
            except Exception:
                self._log.failure("The write listener failed")


def _int(config: KafkaConfig, name: str) -> int:
    value = config.get(name)
    assert isinstance(value, int)
    return value
