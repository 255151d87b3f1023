"""
The producer's core, shared by its two faces: it turns a L{ProducerRecord} into
bytes, picks the partition and appends the record to the accumulator, and it owns
the pieces that send batches (metadata, connections, the L{Sender}).

L{ProducerCore.append} is the per-record path. It runs on whatever thread calls
C{send}: the reactor thread for the Twisted face, the application's own thread for
the blocking face. It takes no lock of its own (the accumulator takes one), creates
no Deferred and makes no thread hop; it wakes the sender only when a batch fills or
a new one starts.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.logger import Logger

from odradek.client import errors
from odradek.client.config import ConfigError, ProducerConfig
from odradek.client.network.cluster import ClusterMetadata
from odradek.client.network.metadata import MetadataManager
from odradek.client.network.pool import ConnectionPool, parse_bootstrap_servers
from odradek.client.producer.accumulator import RecordAccumulator
from odradek.client.producer.buffer import BufferPool
from odradek.client.producer.future import FutureRecordMetadata
from odradek.client.producer.murmur2 import partition_for_key
from odradek.client.producer.partitioner import resolve_partitioner
from odradek.client.producer.sender import Sender, SenderSettings
from odradek.client.producer.sticky import BuiltInPartitioner
from odradek.client.producer.transaction_manager import TransactionManager
from odradek.client.records import RecordBatchBuilder
from odradek.client.records.codecs import CompressionType
from odradek.client.serialization import BytesSerializer, resolve_serializer
from odradek.client.structs import ProducerRecord, RecordMetadata, TopicPartition

__all__ = ["CLOSED_MESSAGE", "Callback", "MissingMetadata", "ProducerCore"]

_log = Logger()

#: What a send callback receives: the record's metadata, or the error.
Callback = Callable[[RecordMetadata | None, BaseException | None], object]

#: Numbers the producers of this process that have no C{client.id}, as Java does.
_client_numbers = itertools.count(1)

#: About what a small record takes in a batch besides its key and value: its
#: length, attributes, timestamp and offset deltas, key and value lengths and
#: header count (the sticky partitioner counts bytes with it).
_RECORD_SLACK = 7
#: More than the varints of a key and value length can take beyond one byte each.
_VARINT_SLACK = 32

#: What a closed producer says when asked to send.
CLOSED_MESSAGE = "Cannot perform operation after producer has been closed"

_COMPRESSION = {
    "none": CompressionType.NONE,
    "gzip": CompressionType.GZIP,
    "snappy": CompressionType.SNAPPY,
    "lz4": CompressionType.LZ4,
    "zstd": CompressionType.ZSTD,
}


class MissingMetadata(errors.UnknownTopicOrPartitionError):
    """
    The metadata known now lacks a record's topic, or the partition it names: the
    faces wait for the topic's metadata and append once more, and this error
    reaches the application only if the partition is still missing then.
    """

    def __init__(
        self, topic: str, partition: int | None, infos: Sequence[object] | None
    ) -> None:
        if infos:
            super().__init__(
                f"partition {partition} of topic {topic} is not in the metadata: "
                f"the topic has {len(infos)} partition(s)"
            )
        else:
            super().__init__(f"topic {topic} is not in the metadata")
        self.topic = topic


class ProducerCore:
    """
    Everything a producer is, but the face it shows.

    @ivar config: the producer's configuration.
    @ivar client_id: the C{client.id} sent with every request: the configured one,
        or C{"producer-N"} (N counting the producers of this process from 1).
    @ivar reactor: the reactor the I/O runs on.
    @ivar pool: the connections to the brokers.
    @ivar metadata: the cluster's metadata.
    @ivar transaction_manager: the idempotent producer's state, or C{None}.
    @ivar accumulator: the batches waiting to be sent.
    @ivar sender: the I/O loop.
    @ivar closed: whether L{close} was called: records are refused.
    """

    def __init__(
        self,
        config: ProducerConfig,
        reactor: Any,
        *,
        random: Callable[[], int] | None = None,
    ) -> None:
        """
        @param config: the producer's configuration.
        @param reactor: the reactor (time, TCP, callFromThread) the I/O runs on.
        @param random: non-negative random integers below 2**31 for choosing
            sticky partitions; by default Python's C{random}.
        """
        if config.transactional_id is not None:
            raise ConfigError(
                "transactional.id is not supported yet: this producer is idempotent "
                f"but not transactional (got {config.transactional_id!r})",
                "transactional.id",
                config.transactional_id,
            )
        self.config = config
        self._random = random
        self.reactor = reactor
        self.closed = False
        self._released = False
        self._release_waiters: list[Deferred[None]] = []
        self._key_serializer = resolve_serializer(config.key_serializer)
        self._value_serializer = resolve_serializer(config.value_serializer)
        self._serialize_key = self._key_serializer.serialize
        self._serialize_value = self._value_serializer.serialize
        # The bytes serializer passes bytes through: the per-record path skips it.
        self._bytes_keys = type(self._key_serializer) is BytesSerializer
        self._bytes_values = type(self._value_serializer) is BytesSerializer
        self._seconds = reactor.seconds
        self._partitioner = resolve_partitioner(config.partitioner_class, config)
        self._on_new_batch: Callable[[str, ClusterMetadata, int], None] | None = (
            getattr(self._partitioner, "_on_new_batch", None)
        )
        self._ignore_keys = bool(config.partitioner_ignore_keys)
        self._built_in: dict[str, BuiltInPartitioner] = {}
        self._max_request_size = config.max_request_size
        self._buffer_memory = config.buffer_memory
        # Keys and values up to this many bytes (together, without headers) cannot
        # exceed max.request.size or buffer.memory: no exact size is needed.
        self._size_limit = (
            min(config.max_request_size, config.buffer_memory)
            - RecordBatchBuilder.estimate_size_upper_bound(None, None, ())
            - _VARINT_SLACK
        )
        self._partitions_cache: dict[str, dict[int, TopicPartition]] = {}
        self._max_block_ms = config.max_block_ms
        compression = _COMPRESSION[config.compression_type]
        self._compression = compression
        addresses = parse_bootstrap_servers(config.bootstrap_servers)
        self.client_id = config.client_id or f"producer-{next(_client_numbers)}"
        self.pool = ConnectionPool.from_config(reactor, config)
        self.pool.client_id = self.client_id
        self.metadata = MetadataManager.from_config(
            reactor, self.pool, addresses, config
        )
        self.transaction_manager = (
            TransactionManager() if config.enable_idempotence else None
        )
        self.accumulator = RecordAccumulator.from_config(
            config, BufferPool(config.buffer_memory), self.transaction_manager
        )
        self._accumulate = self.accumulator.append
        self.sender = Sender(
            reactor=reactor,
            accumulator=self.accumulator,
            metadata=self.metadata,
            pool=self.pool,
            settings=SenderSettings(
                acks=config.acks,
                request_timeout_ms=config.request_timeout_ms,
                max_request_size=config.max_request_size,
                retries=config.retries,
                max_in_flight=config.max_in_flight_requests_per_connection,
                delivery_timeout_ms=config.delivery_timeout_ms,
                transaction_timeout_ms=config.transaction_timeout_ms,
            ),
            transaction_manager=self.transaction_manager,
        )
        self.metadata.listeners.append(lambda _cluster: self.sender.wakeup())

    # The per-record path.

    def append(
        self,
        record: ProducerRecord,
        callback: Callback | None,
        *,
        max_block_ms: int | None = None,
    ) -> FutureRecordMetadata:
        """
        Serialize, partition and append one record.

        @param record: the record.
        @param callback: called once the record is delivered or failed, or C{None}.
        @param max_block_ms: how long to wait for room in C{buffer.memory}; by
            default C{max.block.ms}. Code on the reactor thread passes 0: while
            it waits, nothing could free the memory.

        @raise errors.IllegalStateError: if the producer is closed.
        @raise MissingMetadata: if the metadata known now lacks the record's topic
            or the partition it names; the faces then wait for the topic's
            metadata and append once more.
        @raise errors.RecordTooLargeError: if the serialized record is larger than
            C{max.request.size} or C{buffer.memory}.
        @raise errors.BufferExhaustedError: if there was no room in
            C{buffer.memory} within C{max.block.ms}.
        """
        if self.closed:
            raise errors.IllegalStateError(CLOSED_MESSAGE)
        topic = record.topic
        cluster = self.metadata.current
        infos = cluster.partitions.get(topic)
        partition = record.partition
        if not infos or (partition is not None and not 0 <= partition < len(infos)):
            raise MissingMetadata(topic, partition, infos)
        key = record.key
        if key is None or (type(key) is bytes and self._bytes_keys):
            key_bytes = key
        else:
            key_bytes = self._serialize_key(topic, key)
        value = record.value
        if value is None or (type(value) is bytes and self._bytes_values):
            value_bytes = value
        else:
            value_bytes = self._serialize_value(topic, value)
        headers = record.headers
        # Exact sizes only near a limit or with headers; otherwise the record's
        # size in its batch is its key and value plus a few bytes of varints.
        size = (0 if key_bytes is None else len(key_bytes)) + (
            0 if value_bytes is None else len(value_bytes)
        )
        if headers or size > self._size_limit:
            size = RecordBatchBuilder.estimate_size_upper_bound(
                key_bytes, value_bytes, headers
            )
            self._check_size(size)
            appended = RecordBatchBuilder.record_size_in_bytes(
                0, 0, key_bytes, value_bytes, headers
            )
        else:
            appended = size + _RECORD_SLACK
        now = int(self._seconds() * 1000)
        timestamp = record.timestamp
        if timestamp is None:
            timestamp = now
        sticky: BuiltInPartitioner | None = None
        if partition is None:
            if self._partitioner is None and (key_bytes is None or self._ignore_keys):
                sticky = self._built_in.get(topic) or self._sticky(topic)
                partition = sticky.peek_current_partition(cluster)
            else:
                partition = self._choose(record, key_bytes, value_bytes, cluster)
        if max_block_ms is None:
            max_block_ms = self._max_block_ms
        known = self._partitions_cache.get(topic)
        tp = None if known is None else known.get(partition)
        if tp is None:
            tp = self._topic_partition(topic, partition)
        on_new_batch = self._on_new_batch if sticky is None else None
        result = self._accumulate(
            tp,
            timestamp,
            key_bytes,
            value_bytes,
            headers,
            callback,
            max_block_ms,
            now,
            abort_on_new_batch=on_new_batch is not None,
        )
        if result.abort_for_new_batch:
            # A custom partitioner that wants to know of new batches (the
            # round-robin one) may choose again (Java's deprecated onNewBatch).
            assert on_new_batch is not None
            on_new_batch(topic, cluster, partition)
            partition = self._choose(record, key_bytes, value_bytes, cluster)
            result = self._accumulate(
                self._topic_partition(topic, partition),
                timestamp,
                key_bytes,
                value_bytes,
                headers,
                callback,
                max_block_ms,
                now,
            )
        if sticky is not None:
            # KIP-794: switch after batch.size bytes, counting what the record
            # takes in its batch, but not while the open batch still has room (then
            # only after twice batch.size).
            sticky.update_partition_info(
                appended, cluster, enable_switch=result.batch_is_full
            )
        if result.batch_is_full:
            self.sender.wakeup()
        elif result.new_batch_created:
            self.sender.wakeup_if_idle()
        future = result.future
        assert future is not None
        return future

    def _check_size(self, size: int) -> None:
        """
        @raise errors.RecordTooLargeError: if a record of C{size} bytes (bounded as
            Kafka does) exceeds C{max.request.size} or C{buffer.memory}.
        """
        if size > self._max_request_size:
            raise errors.RecordTooLargeError(
                f"The message is {size} bytes when serialized which is larger than "
                f"{self._max_request_size}, which is the value of the "
                "max.request.size configuration."
            )
        if size > self._buffer_memory:
            raise errors.RecordTooLargeError(
                f"The message is {size} bytes when serialized which is larger than "
                "the total memory buffer you have configured with the "
                "buffer.memory configuration."
            )

    def _topic_partition(self, topic: str, partition: int) -> TopicPartition:
        """@return: the one L{TopicPartition} object for a partition (cached)."""
        known = self._partitions_cache.get(topic)
        if known is None:
            known = self._partitions_cache[topic] = {}
        tp = known.get(partition)
        if tp is None:
            tp = known[partition] = TopicPartition(topic, partition)
        return tp

    def _choose(
        self,
        record: ProducerRecord,
        key_bytes: bytes | None,
        value_bytes: bytes | None,
        cluster: ClusterMetadata,
    ) -> int:
        """
        @return: the partition for a record the built-in sticky partitioner does
            not place: the configured partitioner's choice, or the key's hash.
        """
        partitioner = self._partitioner
        topic = record.topic
        if partitioner is not None:
            chosen = partitioner.partition(
                topic, record.key, key_bytes, record.value, value_bytes, cluster
            )
            count = cluster.partition_count(topic) or 0
            if not isinstance(chosen, int) or not 0 <= chosen < count:
                raise errors.IllegalStateError(
                    f"the partitioner {partitioner!r} chose partition {chosen!r} of "
                    f"topic {topic}, which has {count} partition(s)"
                )
            return chosen
        assert key_bytes is not None
        return partition_for_key(key_bytes, cluster.partition_count(topic) or 1)

    def _sticky(self, topic: str) -> BuiltInPartitioner:
        sticky = self._built_in.get(topic)
        if sticky is None:
            sticky = BuiltInPartitioner(topic, self.config.batch_size)
            if self._random is not None:
                sticky.random = self._random
            self._built_in[topic] = sticky
        return sticky

    # Lifecycle, on the reactor thread.

    def start(self) -> None:
        """Start the periodic metadata refresh."""
        self.metadata.start()

    def flush(self) -> Deferred[None]:
        """
        Send every waiting batch at once, linger or not.

        @return: a Deferred that fires once every record sent so far was delivered
            or failed.
        """
        self.accumulator.begin_flush()
        self.sender.wakeup()

        def flushed(result: None) -> None:
            self.accumulator.end_flush()
            return result

        return self.sender.when_idle().addBoth(flushed)

    def close(self, timeout: float | None) -> Deferred[None]:
        """
        Refuse new records, deliver the waiting ones for at most C{timeout} seconds
        (C{None}: as long as it takes), fail the rest and release everything.
        Closing again waits for the first close, or with a C{timeout} of 0 cuts
        it short.

        @param timeout: seconds to deliver for; 0 or less fails the waiting records
            at once with L{IllegalStateError<errors.IllegalStateError>}.
        @return: a Deferred that fires once closed.
        """
        if not self.closed:
            self.closed = True
            self.accumulator.close()
            if timeout is None or timeout > 0:
                flushing = self.flush()
                if timeout is not None:
                    flushing.addTimeout(
                        timeout, self.reactor, onTimeoutCancel=self._timed_out
                    )
                flushing.addBoth(lambda _: self._abandon())
        if timeout is not None and timeout <= 0:
            self._abandon()
        if self._released:
            return succeed(None)
        released: Deferred[None] = Deferred()
        self._release_waiters.append(released)
        return released

    def _timed_out(self, result: object, timeout: float) -> None:
        _log.warn(
            "Records still waiting after {timeout} s of close() fail now",
            timeout=timeout,
        )

    def _abandon(self) -> None:
        if self._released:
            return
        self._released = True
        self.sender.force_close(
            errors.IllegalStateError(
                "Producer is closed forcefully: the record was not delivered"
            )
        )
        self.sender.stop()
        self.metadata.stop()
        self.pool.close()
        self.close_config_objects()
        waiters, self._release_waiters = self._release_waiters, []
        for waiter in waiters:
            waiter.callback(None)

    def close_config_objects(self) -> None:
        """Close the user's partitioner, if any."""
        if self._partitioner is not None:
            self._partitioner.close()

    def configs(self) -> Mapping[str, object]:
        """@return: the configuration as given, by Kafka's names."""
        return self.config.originals
