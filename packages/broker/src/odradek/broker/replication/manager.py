"""
L{ReplicaManager}: every partition replica of this broker, and the one way request
handlers reach the logs.

It creates a L{Partition} for each partition the metadata assigns to this broker, and
keeps them in step with the metadata: topics and partitions created, topics deleted,
topic configs and partition states changed. Appends go through it so that C{acks}
and the high watermark always hold; reads go through it so that consumers never see
past the high watermark. Requests that must wait (a fetch for C{min_bytes}, an
C{acks=-1} produce for its replicas) wait in its purgatories, and every append wakes
the fetches watching the partitions it wrote to.

Errors are reported per partition, as Kafka reports them:

  - C{UNKNOWN_TOPIC_OR_PARTITION} for a partition the metadata does not know;
  - C{NOT_LEADER_OR_FOLLOWER} for one this broker holds no replica of, or does not
    lead;
  - C{KAFKA_STORAGE_ERROR} for one whose log could not be opened;
  - the log's own errors for appends and reads (see L{Log
    <odradek.broker.log.Log>}).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from twisted.application.service import Service
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from odradek.broker.config import KafkaConfig
from odradek.broker.log import (
    LogConfig,
    LogManager,
    TimestampAndOffset,
    TopicPartition,
)
from odradek.broker.metadata import (
    INTERNAL_TOPICS,
    IMetadataStore,
    MetadataChange,
    PartitionsCreated,
    PartitionStateChanged,
    TopicConfigChanged,
    TopicCreated,
    TopicDeleted,
)
from odradek.broker.replication.delayed_fetch import (
    DelayedFetch,
    FetchPartitionStatus,
)
from odradek.broker.replication.delayed_produce import (
    DelayedProduce,
    ProducePartitionStatus,
)
from odradek.broker.replication.hosted import HostedPartitions
from odradek.broker.replication.partition import Partition
from odradek.broker.replication.purgatory import DelayedOperationPurgatory
from odradek.broker.replication.results import (
    DEBUGGING_REPLICA_ID,
    AppendOrigin,
    DeleteRecordsResult,
    FetchIsolation,
    FetchParams,
    IsolationLevel,
    LogReadResult,
    PartitionFetchInfo,
    PartitionProduceResult,
)
from odradek.client.errors import (
    CorruptRecordError,
    InvalidRequiredAcksError,
    InvalidTopicError,
    KafkaError,
    KafkaStorageError,
    NotLeaderOrFollowerError,
    RecordBatchTooLargeError,
    RecordTooLargeError,
    UnknownServerError,
    UnknownTopicOrPartitionError,
)

__all__ = ["ReplicaManager"]

# Errors after which Kafka reports no log start offset for the partition.
_NO_LOG_START_OFFSET = (
    UnknownTopicOrPartitionError,
    NotLeaderOrFollowerError,
    RecordTooLargeError,
    RecordBatchTooLargeError,
    CorruptRecordError,
    KafkaStorageError,
)


class ReplicaManager(Service):
    """
    The partition replicas of this broker; see the module's description.

    @ivar node_id: this broker's id.
    @ivar config: the broker's configuration.
    @ivar delayed_fetch_purgatory: fetches waiting for data.
    @ivar delayed_produce_purgatory: C{acks=-1} produces waiting for their replicas.
    """

    _log = Logger()

    def __init__(
        self,
        *,
        node_id: int,
        log_manager: LogManager,
        metadata: IMetadataStore,
        config: KafkaConfig,
        reactor: IReactorTime,
    ) -> None:
        """
        @param node_id: see L{node_id}.
        @param log_manager: the broker's logs, already loaded.
        @param metadata: the cluster's metadata.
        @param config: see L{config}.
        @param reactor: for the delayed operations' timeouts.
        """
        self.node_id = node_id
        self.config = config
        self._metadata = metadata
        self._hosted = HostedPartitions(node_id, log_manager, metadata)
        self._unsubscribe: Any = None
        self.delayed_fetch_purgatory = DelayedOperationPurgatory("Fetch", reactor)
        self.delayed_produce_purgatory = DelayedOperationPurgatory("Produce", reactor)

    @property
    def metadata(self) -> IMetadataStore:
        """The cluster's metadata."""
        return self._metadata

    # Service.

    def startService(self) -> None:
        """
        Follow the metadata, and take up every partition assigned to this broker.
        """
        super().startService()  # type: ignore[no-untyped-call]
        self._unsubscribe = self._metadata.subscribe(self._on_metadata_change)
        for topic in list(self._metadata.topics().values()):
            self._hosted.create(topic, 0)

    def stopService(self) -> Deferred[None] | None:
        """
        Stop following the metadata and answer every waiting request now: fetches
        with what they can read, produces with the acknowledgements they have.
        """
        unsubscribe, self._unsubscribe = self._unsubscribe, None
        if unsubscribe is not None:
            unsubscribe()
        self.delayed_fetch_purgatory.complete_all()
        self.delayed_produce_purgatory.complete_all()
        return super().stopService()  # type: ignore[no-untyped-call,no-any-return]

    # Partitions.

    def get_partition(self, tp: TopicPartition) -> Partition | None:
        """
        @return: this broker's replica of C{tp}, if it has one.
        """
        return self._hosted.get(tp)

    def partitions(self) -> Iterable[Partition]:
        """
        @return: every partition replica of this broker.
        """
        return list(self._hosted)

    def get_partition_or_raise(self, tp: TopicPartition) -> Partition:
        """
        @return: this broker's replica of C{tp}.
        @raise KafkaStorageError: if its log could not be opened.
        @raise NotLeaderOrFollowerError: if the partition exists but this broker
            holds no replica of it.
        @raise UnknownTopicOrPartitionError: if the partition does not exist.
        """
        return self._hosted.get_or_raise(tp)

    def topic_name(self, topic_id: uuid.UUID) -> str | None:
        """
        @param topic_id: a topic id from a request.
        @return: the name of the topic with that id, or C{None} if there is none.
        """
        return self._hosted.topic_name(topic_id)

    def log_config(self, tp: TopicPartition) -> LogConfig | None:
        """
        @return: the config of this broker's log of C{tp}, if it has one.
        """
        partition = self._hosted.get(tp)
        return None if partition is None else partition.log.config

    def _on_metadata_change(self, change: MetadataChange) -> None:
        hosted = self._hosted
        if isinstance(change, TopicCreated):
            hosted.create(change.topic, 0)
        elif isinstance(change, PartitionsCreated):
            hosted.create(change.topic, change.previous_count)
        elif isinstance(change, TopicDeleted):
            for tp in hosted.delete(change.topic):
                self._complete_delayed(tp)
        elif isinstance(change, TopicConfigChanged):
            hosted.update_config(change.topic)
        elif isinstance(change, PartitionStateChanged) and hosted.update_state(
            change.topic, change.partition
        ):
            self._complete_delayed(TopicPartition(change.topic.name, change.partition))

    def _complete_delayed(self, tp: TopicPartition) -> None:
        self.delayed_produce_purgatory.check_and_complete(tp)
        self.delayed_fetch_purgatory.check_and_complete(tp)

    # Appending.

    def append_records(
        self,
        *,
        timeout_ms: int,
        required_acks: int,
        entries: Mapping[TopicPartition, bytes | bytearray | memoryview],
        origin: AppendOrigin = AppendOrigin.CLIENT,
        internal_topics_allowed: bool = False,
    ) -> Deferred[dict[TopicPartition, PartitionProduceResult]]:
        """
        Append record batches to the partitions this broker leads.

        @param timeout_ms: how long an C{acks=-1} append may wait for the in-sync
            replicas.
        @param required_acks: C{0}, C{1} or C{-1}; any other value fails every
            partition with C{INVALID_REQUIRED_ACKS}.
        @param entries: the record batches of each partition.
        @param origin: who appends; producers may not append to the internal topics.
        @param internal_topics_allowed: let a client append to the internal topics
            (Kafka allows it to its admin client).
        @return: fires with each partition's result: at once for C{acks} 0 and 1,
            once the high watermark passes every appended partition's records (or
            the timeout passes) for C{acks=-1}.
        """
        if required_acks not in (-1, 0, 1):
            error = InvalidRequiredAcksError(
                f"acks must be -1, 0 or 1, not {required_acks}"
            )
            return succeed({tp: PartitionProduceResult(error) for tp in entries})
        results: dict[TopicPartition, PartitionProduceResult] = {}
        for tp, records in entries.items():
            result, hw_moved = self._append_to_local_log(
                tp, records, required_acks, origin, internal_topics_allowed
            )
            results[tp] = result
            if result.error is None:
                if hw_moved:
                    self.delayed_produce_purgatory.check_and_complete(tp)
                self.delayed_fetch_purgatory.check_and_complete(tp)
        if required_acks != -1 or all(r.error is not None for r in results.values()):
            return succeed(results)
        statuses = {
            tp: ProducePartitionStatus(
                result.last_offset + 1, result, acks_pending=result.error is None
            )
            for tp, result in results.items()
        }
        operation = DelayedProduce(timeout_ms, statuses, self)
        self.delayed_produce_purgatory.try_complete_else_watch(
            operation, [tp for tp, status in statuses.items() if status.acks_pending]
        )
        return operation.deferred

    def _append_to_local_log(
        self,
        tp: TopicPartition,
        records: bytes | bytearray | memoryview,
        required_acks: int,
        origin: AppendOrigin,
        internal_topics_allowed: bool,
    ) -> tuple[PartitionProduceResult, bool]:
        if (
            origin is AppendOrigin.CLIENT
            and tp.topic in INTERNAL_TOPICS
            and not internal_topics_allowed
        ):
            error = InvalidTopicError(f"Cannot append to internal topic {tp.topic}")
            return PartitionProduceResult(error), False
        try:
            partition = self.get_partition_or_raise(tp)
            info, hw_moved = partition.append_records_to_leader(
                records, required_acks=required_acks
            )
        except KafkaError as e:
            known = self._hosted.get(tp)
            if known is None or isinstance(e, _NO_LOG_START_OFFSET):
                return PartitionProduceResult(e), False
            result = PartitionProduceResult(e, log_start_offset=known.log_start_offset)
            return result, False
        except Exception:
            self._log.failure(
                "Error appending to partition {partition}", partition=str(tp)
            )
            return PartitionProduceResult(UnknownServerError()), False
        result = PartitionProduceResult(
            None,
            info.first_offset,
            info.last_offset,
            info.log_append_time,
            info.log_start_offset,
        )
        return result, hw_moved

    # Reading.

    def fetch_messages(
        self,
        *,
        replica_id: int,
        max_wait_ms: int,
        min_bytes: int,
        max_bytes: int,
        isolation_level: IsolationLevel,
        partitions: Sequence[PartitionFetchInfo],
    ) -> Deferred[list[LogReadResult]]:
        """
        Read from the partitions, waiting up to C{max_wait_ms} for C{min_bytes}.

        @param replica_id: the requester: a follower's broker id, -1 for a consumer,
            -2 for a debugging consumer (which may read from a follower).
        @param max_wait_ms: how long to wait for C{min_bytes}.
        @param min_bytes: how many bytes to wait for.
        @param max_bytes: the most record bytes over all partitions; the first batch
            of the first partition with data is returned whole even if larger.
        @param isolation_level: a consumer's isolation level.
        @param partitions: what to read of each partition, in request order.
        @return: fires with each partition's result, in request order: at once when
            C{max_wait_ms} is not positive, nothing is asked, C{min_bytes} are
            readable or a partition failed; else when one of those becomes true or
            C{max_wait_ms} passes.
        """
        params = FetchParams(
            replica_id,
            max_wait_ms,
            min_bytes,
            max_bytes,
            FetchIsolation.of(replica_id, isolation_level),
            fetch_only_leader=replica_id != DEBUGGING_REPLICA_ID,
        )
        results = self.read_from_local_log(params, partitions, update_fetch_state=True)
        readable = sum(result.records.size for result in results)
        failed = any(result.error is not None for result in results)
        if max_wait_ms <= 0 or not partitions or readable >= min_bytes or failed:
            return succeed(results)
        operation = DelayedFetch(
            params,
            [
                FetchPartitionStatus(result.fetch_offset_metadata, info)
                for result, info in zip(results, partitions, strict=True)
            ],
            self,
        )
        self.delayed_fetch_purgatory.try_complete_else_watch(
            operation, [info.topic_partition for info in partitions]
        )
        return operation.deferred

    def read_from_local_log(
        self,
        params: FetchParams,
        partitions: Sequence[PartitionFetchInfo],
        *,
        update_fetch_state: bool = False,
    ) -> list[LogReadResult]:
        """
        Read each partition once, within C{params.max_bytes} in all: until a
        partition returns data, the first batch is returned whole even if it is
        larger than the bytes left (KIP-74).

        @param params: the fetch's settings.
        @param partitions: what to read of each partition.
        @param update_fetch_state: for a follower's fetch, record its position in
            each partition read (on the first read of a fetch, not when a delayed
            fetch reads again).
        @return: each partition's result, in order.
        """
        limit = params.max_bytes
        min_one_message = True
        results = []
        for info in partitions:
            max_bytes = min(info.max_bytes, limit)
            result = self._read(
                params, info, max_bytes, min_one_message, update_fetch_state
            )
            size = result.records.size
            if size > 0:
                min_one_message = False
            limit = max(0, limit - size)
            results.append(result)
        return results

    def _read(
        self,
        params: FetchParams,
        info: PartitionFetchInfo,
        max_bytes: int,
        min_one_message: bool,
        update_fetch_state: bool,
    ) -> LogReadResult:
        tp = info.topic_partition
        try:
            partition = self.get_partition_or_raise(tp)
            read = partition.read_records(
                fetch_offset=info.fetch_offset,
                max_bytes=max_bytes,
                isolation=params.isolation,
                min_one_message=min_one_message,
                current_leader_epoch=info.current_leader_epoch,
                fetch_only_from_leader=params.fetch_only_leader,
            )
            if (
                update_fetch_state
                and params.is_from_follower
                and partition.update_follower_fetch_state(
                    params.replica_id, info.fetch_offset, info.log_start_offset
                )
            ):
                self._complete_delayed(tp)
        except KafkaError as e:
            return LogReadResult(tp, e)
        except Exception:
            self._log.failure("Error reading partition {partition}", partition=str(tp))
            return LogReadResult(tp, UnknownServerError())
        committed = params.isolation is FetchIsolation.TXN_COMMITTED
        return LogReadResult(
            tp,
            None,
            read.fetched.records,
            read.high_watermark,
            read.last_stable_offset,
            read.log_start_offset,
            read.log_end_offset,
            read.fetched.fetch_offset_metadata,
            () if committed else None,
        )

    def fetch_offset_for_timestamp(
        self,
        tp: TopicPartition,
        timestamp: int,
        *,
        isolation_level: IsolationLevel | None,
        current_leader_epoch: int = -1,
        fetch_only_from_leader: bool = True,
    ) -> TimestampAndOffset:
        """
        Answer a ListOffsets query for one partition; see
        L{Partition.fetch_offset_for_timestamp}.

        @raise KafkaError: the partition's error.
        """
        partition = self.get_partition_or_raise(tp)
        return partition.fetch_offset_for_timestamp(
            timestamp,
            isolation_level=isolation_level,
            current_leader_epoch=current_leader_epoch,
            fetch_only_from_leader=fetch_only_from_leader,
        )

    # Deleting.

    def delete_records(
        self, *, timeout_ms: int, offsets: Mapping[TopicPartition, int]
    ) -> Deferred[dict[TopicPartition, DeleteRecordsResult]]:
        """
        Move the log start offsets of partitions this broker leads (DeleteRecords).

        @param timeout_ms: how long to wait for the followers to delete too; with one
            replica per partition nothing waits.
        @param offsets: each partition's new log start offset, -1 for its high
            watermark.
        @return: fires with each partition's low watermark or error.
        """
        results: dict[TopicPartition, DeleteRecordsResult] = {}
        for tp, offset in offsets.items():
            if tp.topic in INTERNAL_TOPICS:
                error = InvalidTopicError(
                    f"Cannot delete records of internal topic {tp.topic}"
                )
                results[tp] = DeleteRecordsResult(error)
                continue
            try:
                partition = self.get_partition_or_raise(tp)
                low_watermark = partition.delete_records_on_leader(offset)
            except KafkaError as e:
                results[tp] = DeleteRecordsResult(e)
            else:
                results[tp] = DeleteRecordsResult(None, low_watermark)
        return succeed(results)
