"""
The producer's L{RecordAccumulator} (Kafka's C{RecordAccumulator}): per partition,
a queue of L{ProducerBatch}es that application threads append to and the Sender
drains.

L{RecordAccumulator.append} runs on any thread; the Sender's methods (C{ready},
C{drain}, C{reenqueue}, C{expired_batches}) run on the I/O thread. One
C{threading.Lock} guards the queues: an append to a partition's open batch takes it
once and nothing else. Memory for a new batch is reserved from the L{BufferPool}
outside the lock, since that may block. Sans-IO: times are passed in as C{now_ms}.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence

import attrs

from odradek.client.errors import IllegalStateError
from odradek.client.network.cluster import ClusterMetadata
from odradek.client.producer.accumulation import (
    AccumulatorConfig,
    CompressionRatioEstimator,
    DrainOrder,
    FlushHandle,
    ReadyCheckResult,
    RecordAppendResult,
    SequenceSource,
    ready_check,
)
from odradek.client.producer.batch import ProducerBatch
from odradek.client.producer.buffer import BufferPool
from odradek.client.producer.future import Callback
from odradek.client.records.builder import RecordBatchBuilder
from odradek.client.records.codecs import CompressionType
from odradek.client.records.layout import NO_PRODUCER_ID, RECORD_BATCH_OVERHEAD, Header
from odradek.client.structs import TopicPartition

__all__ = ["RecordAccumulator"]

_NEVER = 2**63 - 1
_CLOSED = "the producer is closed: no record is taken"


@attrs.define(kw_only=True, eq=False)
class RecordAccumulator:
    """
    Per-partition queues of batches between the application and the Sender.

    @ivar batch_size: C{batch.size}, the size a batch is full at.
    @ivar compression_type: the codec of new batches.
    @ivar compression_level: the codec's level, or C{None} for its default.
    @ivar linger_ms: C{linger.ms}, how long a batch that is not full waits.
    @ivar retry_backoff_ms: C{retry.backoff.ms}, the first retry's backoff.
    @ivar retry_backoff_max_ms: C{retry.backoff.max.ms}; each retry doubles the
        backoff up to it.
    @ivar delivery_timeout_ms: C{delivery.timeout.ms}, a batch's time to live.
    @ivar request_timeout_ms: C{request.timeout.ms}, kept for the Sender.
    @ivar buffer_pool: the C{buffer.memory} batches reserve from.
    @ivar transaction_manager: the idempotent producer's sequence numbers, or C{None}.
    @ivar retry_backoff_jitter: the random spread of a backoff, a fraction (Kafka:
        0.2).
    @ivar random: floats in [0, 1) for the jitter.
    @ivar clock: a monotonic clock in seconds, for flush deadlines.
    """

    batch_size: int
    compression_type: CompressionType = CompressionType.NONE
    compression_level: int | None = None
    linger_ms: int = 5
    retry_backoff_ms: int = 100
    retry_backoff_max_ms: int = 1000
    delivery_timeout_ms: int = 120_000
    request_timeout_ms: int = 30_000
    buffer_pool: BufferPool
    transaction_manager: SequenceSource | None = None
    retry_backoff_jitter: float = 0.0
    random: Callable[[], float] = random.random
    clock: Callable[[], float] = time.monotonic
    _lock: threading.Lock = attrs.field(init=False, factory=threading.Lock)
    # topic -> partition -> batches, oldest first (str and int keys hash cheaply).
    _topics: dict[str, dict[int, deque[ProducerBatch]]] = attrs.field(
        init=False, factory=dict
    )
    # Batches not yet deallocated, in creation order (an ordered set).
    _incomplete: dict[ProducerBatch, None] = attrs.field(init=False, factory=dict)
    _muted: set[TopicPartition] = attrs.field(init=False, factory=set)
    _drain_order: DrainOrder = attrs.field(init=False, factory=DrainOrder)
    _compression: CompressionRatioEstimator = attrs.field(
        init=False, factory=CompressionRatioEstimator
    )
    _flushes_in_progress: int = attrs.field(init=False, default=0)
    _next_expiry_time_ms: int = attrs.field(init=False, default=_NEVER)
    _closed: bool = attrs.field(init=False, default=False)

    @classmethod
    def from_config(
        cls,
        config: AccumulatorConfig,
        buffer_pool: BufferPool,
        transaction_manager: SequenceSource | None = None,
    ) -> RecordAccumulator:
        """
        Make an accumulator from a producer configuration, with Kafka's backoff
        jitter of 0.2.

        @param config: the configuration; C{retry_backoff_max_ms} and
            C{compression_<codec>_level} are read if it has them.
        @param buffer_pool: the C{buffer.memory}.
        @param transaction_manager: the idempotent producer's sequence source.
        """
        codec = CompressionType[str(config.compression_type).upper()]
        level = getattr(config, f"compression_{codec.kafka_name}_level", None)
        return cls(
            batch_size=config.batch_size,
            compression_type=codec,
            compression_level=level,
            linger_ms=config.linger_ms,
            retry_backoff_ms=config.retry_backoff_ms,
            retry_backoff_max_ms=getattr(config, "retry_backoff_max_ms", 1000),
            delivery_timeout_ms=config.delivery_timeout_ms,
            request_timeout_ms=config.request_timeout_ms,
            buffer_pool=buffer_pool,
            transaction_manager=transaction_manager,
            retry_backoff_jitter=0.2,
        )

    def append(
        self,
        tp: TopicPartition,
        timestamp: int,
        key: bytes | None,
        value: bytes | None,
        headers: Sequence[Header],
        callback: Callback | None,
        max_time_to_block_ms: int,
        now_ms: int,
        *,
        abort_on_new_batch: bool = False,
    ) -> RecordAppendResult:
        """
        Append a record (serialized) to its partition's open batch, or a new batch.

        @param tp: the partition.
        @param timestamp: the record's timestamp in milliseconds.
        @param key: the key or C{None}.
        @param value: the value or C{None}.
        @param headers: the headers.
        @param callback: called when the record completes, or C{None}.
        @param max_time_to_block_ms: C{max.block.ms}, the longest wait for memory.
        @param now_ms: the current time in milliseconds.
        @param abort_on_new_batch: if a new batch is needed, append nothing and say
            so, for the sticky partitioner to pick another partition first.
        @raise IllegalStateError: if the accumulator is closed.
        @raise BufferExhaustedError: if no memory was free in time.
        """
        with self._lock:
            if self._closed:
                raise IllegalStateError(_CLOSED)
            partitions = self._topics.get(tp.topic)
            if partitions is not None:
                dq = partitions.get(tp.partition)
                if dq:
                    last = dq[-1]
                    future = last.try_append(
                        timestamp, key, value, headers, callback, now_ms
                    )
                    if future is not None:
                        return RecordAppendResult(
                            future, len(dq) > 1 or last.is_full(), False, False
                        )
        if abort_on_new_batch:
            return RecordAppendResult(None, False, False, True)
        bound = RecordBatchBuilder.estimate_size_upper_bound(key, value, headers)
        size = max(self.batch_size, bound)
        self.buffer_pool.allocate(size, max_time_to_block_ms)
        record = (timestamp, key, value, headers, callback, now_ms)
        try:
            with self._lock:
                if self._closed:
                    raise IllegalStateError(_CLOSED)
                dq = self._queue(tp)
                # Another thread may have started a batch while this one waited.
                batch = dq[-1] if dq else None
                future = None if batch is None else batch.try_append(*record)
                created = future is None
                if created:
                    batch = ProducerBatch(tp, self._new_builder(tp.topic), now_ms)
                    future = batch.try_append(*record)
                    batch.reserved_bytes, size = size, 0
                    dq.append(batch)
                    self._incomplete[batch] = None
                    expiry = now_ms + self.delivery_timeout_ms
                    self._next_expiry_time_ms = min(self._next_expiry_time_ms, expiry)
                assert batch is not None and future is not None
                full = len(dq) > 1 or batch.is_full()
                return RecordAppendResult(future, full, created, False)
        finally:
            if size:
                self.buffer_pool.deallocate(size)

    def _queue(self, tp: TopicPartition) -> deque[ProducerBatch]:
        """@return: C{tp}'s queue, made if missing; the lock is held."""
        return self._topics.setdefault(tp.topic, {}).setdefault(tp.partition, deque())

    def _queues(self) -> Iterator[deque[ProducerBatch]]:
        """@return: every partition's queue; the lock is held."""
        for partitions in self._topics.values():
            yield from partitions.values()

    def _new_builder(self, topic: str) -> RecordBatchBuilder:
        return RecordBatchBuilder(
            compression_type=self.compression_type,
            compression_level=self.compression_level,
            write_limit=self.batch_size,
            compression_ratio_estimate=self._compression.estimation(topic),
        )

    def ready(self, cluster: ClusterMetadata, now_ms: int) -> ReadyCheckResult:
        """
        Find the leaders with a batch to send (see L{ready_check}): every batch is
        sendable at once when threads wait for memory, while flushing, or once
        closed.

        @param cluster: the current metadata.
        @param now_ms: the current time in milliseconds.
        """
        forced = (
            self._closed or self._flushes_in_progress > 0 or self.buffer_pool.queued > 0
        )
        with self._lock:
            result = ready_check(
                self._queues(),
                cluster,
                self._muted,
                self.linger_ms,
                self.delivery_timeout_ms,
                forced,
                now_ms,
            )
        return result

    def drain(
        self, cluster: ClusterMetadata, nodes: Iterable[int], max_size: int, now_ms: int
    ) -> dict[int, list[ProducerBatch]]:
        """
        Take batches to send to each node: at most one per partition it leads,
        starting from another partition each time, up to C{max_size} bytes but
        always one. Idempotent batches get their producer state; all are closed.

        @param cluster: the current metadata.
        @param nodes: the ids of the nodes to drain for.
        @param max_size: C{max.request.size}.
        @param now_ms: the current time in milliseconds.
        @return: for each node, its batches (possibly none).
        """
        order = self._drain_order
        return {
            node_id: self._drain_node(
                node_id, order.partitions(cluster, node_id), max_size, now_ms
            )
            for node_id in nodes
        }

    def _drain_node(
        self, node_id: int, parts: list[TopicPartition], max_size: int, now_ms: int
    ) -> list[ProducerBatch]:
        count = len(parts)
        manager = self.transaction_manager
        producer_id = producer_epoch = NO_PRODUCER_ID
        if manager is not None:
            producer_id, producer_epoch = manager.producer_id_and_epoch()
        if not count or (manager is not None and producer_id == NO_PRODUCER_ID):
            return []
        start = self._drain_order.start(node_id, count)
        drained: list[ProducerBatch] = []
        size = 0
        for step in range(count):
            index = (start + step) % count
            tp = parts[index]
            if tp in self._muted:
                continue
            with self._lock:
                dq = self._topics.get(tp.topic, {}).get(tp.partition)
                if not dq or (
                    dq[0].retry
                    and now_ms - dq[0].last_attempt_ms < dq[0].retry_backoff_ms
                ):
                    continue
                batch = dq[0]
                if drained and size + batch.estimated_size_in_bytes > max_size:
                    # Start here next time, so that every partition gets its turn.
                    self._drain_order.resume_at(node_id, index)
                    break
                dq.popleft()
                if manager is not None and not batch.has_sequence:
                    sequence = manager.next_sequence(tp)
                    transactional = manager.is_transactional()
                    batch.set_producer_state(
                        producer_id, producer_epoch, sequence, transactional
                    )
                    manager.increment_sequence(tp, batch.record_count)
            if not batch.is_closed:
                batch.close()
                self._observe_compression(batch)
            size += len(batch.records)
            batch.drained(now_ms)
            drained.append(batch)
        return drained

    def _observe_compression(self, batch: ProducerBatch) -> None:
        """Move the topic's compression ratio estimate towards C{batch}'s ratio."""
        if self.compression_type != CompressionType.NONE:
            self._compression.observe(
                batch.topic_partition.topic,
                len(batch.records) - RECORD_BATCH_OVERHEAD,
                batch.uncompressed_size_in_bytes - RECORD_BATCH_OVERHEAD,
            )

    def mute(self, tp: TopicPartition) -> None:
        """Hold C{tp}'s batches back (while one is in flight, to keep order)."""
        self._muted.add(tp)

    def unmute(self, tp: TopicPartition) -> None:
        """Let C{tp}'s batches go again."""
        self._muted.discard(tp)

    def reenqueue(self, batch: ProducerBatch, now_ms: int) -> None:
        """
        Put a batch back at the front of its queue for a retry (behind batches put
        back with lower sequence numbers); each retry doubles its backoff.

        @param batch: the batch.
        @param now_ms: the current time in milliseconds.
        """
        batch.reenqueued(now_ms)
        backoff = self.retry_backoff_ms * 2.0 ** min(batch.attempts - 1, 62)
        if self.retry_backoff_jitter:
            jitter = self.retry_backoff_jitter
            backoff *= 1 - jitter + 2 * jitter * self.random()
        batch.retry_backoff_ms = int(min(backoff, self.retry_backoff_max_ms))
        with self._lock:
            dq = self._queue(batch.topic_partition)
            index = 0
            if batch.has_sequence:
                while (
                    index < len(dq)
                    and dq[index].has_sequence
                    and dq[index].base_sequence < batch.base_sequence
                ):
                    index += 1
            dq.insert(index, batch)

    def retried_batches(self, tp: TopicPartition) -> list[ProducerBatch]:
        """@return: C{tp}'s queued batches holding sequences (retries), oldest first."""
        with self._lock:
            dq = self._topics.get(tp.topic, {}).get(tp.partition, ())
            return [batch for batch in dq if batch.has_sequence]

    def expired_batches(self, now_ms: int) -> list[ProducerBatch]:
        """
        Take out of their queues the batches created C{delivery.timeout.ms} ago or
        more; the caller fails them (C{RequestTimedOutError}) and deallocates them.

        @param now_ms: the current time in milliseconds.
        """
        expired: list[ProducerBatch] = []
        next_expiry = _NEVER
        with self._lock:
            for dq in self._queues():
                while dq:
                    batch = dq[0]
                    if not batch.has_reached_delivery_timeout(
                        self.delivery_timeout_ms, now_ms
                    ):
                        expiry = batch.created_ms + self.delivery_timeout_ms
                        next_expiry = min(next_expiry, expiry)
                        break
                    expired.append(dq.popleft())
            self._next_expiry_time_ms = next_expiry
        return expired

    @property
    def next_expiry_time_ms(self) -> int:
        """When the oldest queued batch expires, as of the last L{expired_batches}."""
        return self._next_expiry_time_ms

    def deallocate(self, batch: ProducerBatch) -> None:
        """Forget a completed C{batch} and give its memory back."""
        with self._lock:
            self._incomplete.pop(batch, None)
            size, batch.reserved_bytes = batch.reserved_bytes, 0
        if size:
            self.buffer_pool.deallocate(size)

    def has_incomplete(self) -> bool:
        """@return: whether any batch is not yet deallocated (queued or in flight)."""
        return bool(self._incomplete)

    def has_undrained(self) -> bool:
        """@return: whether any batch waits in a queue."""
        with self._lock:
            return any(self._queues())

    def partition_queue_sizes(self, topic: str) -> dict[int, int]:
        """@return: how many batches wait in each queue of C{topic}'s partitions."""
        with self._lock:
            return {p: len(dq) for p, dq in self._topics.get(topic, {}).items()}

    def begin_flush(self) -> FlushHandle:
        """
        Make every batch sendable at once, until the flush ends.

        @return: the batches incomplete now, for L{await_flush_completion}.
        """
        with self._lock:
            self._flushes_in_progress += 1
            return FlushHandle(tuple(b.produce_future for b in self._incomplete))

    def end_flush(self) -> None:
        """End a flush begun with L{begin_flush}."""
        with self._lock:
            self._flushes_in_progress = max(0, self._flushes_in_progress - 1)

    def flush_in_progress(self) -> bool:
        """@return: whether a flush has begun and not ended."""
        return self._flushes_in_progress > 0

    def await_flush_completion(
        self, timeout_seconds: float | None, handle: FlushHandle | None = None
    ) -> bool:
        """
        Block the calling thread until the flush's batches complete, then end the
        flush (L{end_flush}). Never call it on the thread that completes batches.

        @param timeout_seconds: the longest wait, or C{None} to wait for ever.
        @param handle: what L{begin_flush} returned; by default the batches
            incomplete now.
        @return: whether they all completed in time.
        """
        if handle is None:
            with self._lock:
                handle = FlushHandle(tuple(b.produce_future for b in self._incomplete))
        try:
            return handle.wait(timeout_seconds, self.clock)
        finally:
            self.end_flush()

    def abort_incomplete_batches(self, error: BaseException) -> None:
        """
        Fail every batch not yet deallocated, queued or in flight, and deallocate
        it; answers that come for them later are ignored.

        @param error: the error every record fails with.
        """
        with self._lock:
            batches = list(self._incomplete)
            for dq in self._queues():
                dq.clear()
        self._abort(batches, error)

    def abort_undrained_batches(self, error: BaseException) -> None:
        """
        Fail the queued batches that were never sent; batches put back for a retry
        stay.

        @param error: the error every record fails with.
        """
        with self._lock:
            batches: list[ProducerBatch] = []
            for dq in self._queues():
                batches.extend(batch for batch in dq if not batch.is_closed)
                kept = [batch for batch in dq if batch.is_closed]
                dq.clear()
                dq.extend(kept)
        self._abort(batches, error)

    def _abort(self, batches: list[ProducerBatch], error: BaseException) -> None:
        for batch in batches:
            batch.abort(error)
            self.deallocate(batch)

    def close(self) -> None:
        """Refuse new records, send the queued ones at once, wake memory waiters."""
        with self._lock:
            self._closed = True
        self.buffer_pool.close()

    @property
    def closed(self) -> bool:
        """Whether L{close} was called."""
        return self._closed
