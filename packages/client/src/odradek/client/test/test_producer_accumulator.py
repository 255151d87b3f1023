"""
Tests for L{odradek.client.producer.accumulator}.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import attrs
from twisted.trial.unittest import SynchronousTestCase

from odradek.client.errors import (
    IllegalStateError,
    NotLeaderOrFollowerError,
    RequestTimedOutError,
)
from odradek.client.network.cluster import ClusterMetadata, Node, PartitionInfo
from odradek.client.producer.accumulator import (
    FlushHandle,
    RecordAccumulator,
    SequenceSource,
)
from odradek.client.producer.batch import FinalState, ProducerBatch
from odradek.client.producer.buffer import BufferPool
from odradek.client.records import CompressionType, DefaultRecordBatch
from odradek.client.structs import RecordMetadata, TopicPartition

T0, T1, T2, T3 = (TopicPartition("t", p) for p in range(4))
NODES = [Node(0, "a", 9092), Node(1, "b", 9092)]
JOIN_SECONDS = 30.0


def cluster(
    leaders: Mapping[int, int] | None = None, topic: str = "t"
) -> ClusterMetadata:
    """
    Metadata for C{topic}, partitions led as given (by default 0 and 2 by node 0,
    1 and 3 by node 1).
    """
    if leaders is None:
        leaders = {0: 0, 1: 1, 2: 0, 3: 1}
    return ClusterMetadata.from_brokers(
        NODES, [PartitionInfo(topic, p, leader) for p, leader in leaders.items()]
    )


def accumulator(**kwargs: Any) -> RecordAccumulator:
    """
    An accumulator with small, test-friendly settings.
    """
    settings: dict[str, Any] = {
        "batch_size": 1024,
        "linger_ms": 10,
        "retry_backoff_ms": 100,
        "retry_backoff_max_ms": 1000,
        "delivery_timeout_ms": 5000,
        "request_timeout_ms": 1000,
        "buffer_pool": BufferPool(64 * 1024),
    }
    settings.update(kwargs)
    return RecordAccumulator(**settings)


def append(
    acc: RecordAccumulator,
    tp: TopicPartition = T0,
    value: bytes = b"v" * 100,
    now_ms: int = 0,
    callback: Any = None,
) -> Any:
    """
    Append one record with timestamp 1000 and no key.
    """
    return acc.append(tp, 1000, None, value, (), callback, 0, now_ms)


def fill(acc: RecordAccumulator, tp: TopicPartition, batches: int) -> None:
    """
    Append records until C{batches} batches exist for C{tp}.
    """
    made = 0
    while True:
        if append(acc, tp).new_batch_created:
            made += 1
            if made > batches:
                # Went one too far: take the new batch's record out again.
                acc._topics[tp.topic][tp.partition].pop()
                return


@attrs.define
class FakeSequenceSource:
    """
    A transaction manager that hands out sequence numbers.
    """

    producer_id: int = 42
    producer_epoch: int = 7
    transactional: bool = False
    sequences: dict[TopicPartition, int] = attrs.field(factory=dict)

    def producer_id_and_epoch(self) -> tuple[int, int]:
        return self.producer_id, self.producer_epoch

    def next_sequence(self, tp: TopicPartition) -> int:
        return self.sequences.get(tp, 0)

    def increment_sequence(self, tp: TopicPartition, record_count: int) -> None:
        self.sequences[tp] = self.sequences.get(tp, 0) + record_count

    def is_transactional(self) -> bool:
        return self.transactional


class QueuedPool(BufferPool):
    """
    A pool that says a thread is waiting for memory.
    """

    @property
    def queued(self) -> int:
        return 1


class AppendTests(SynchronousTestCase):
    """
    Tests for L{RecordAccumulator.append}.
    """

    def test_first_append_creates_batch(self) -> None:
        """The first record of a partition starts a batch and reserves memory."""
        pool = BufferPool(10_000)
        acc = accumulator(buffer_pool=pool)
        result = append(acc)
        self.assertTrue(result.new_batch_created)
        self.assertFalse(result.batch_is_full)
        self.assertFalse(result.abort_for_new_batch)
        self.assertIsNotNone(result.future)
        self.assertEqual(pool.available_memory, 10_000 - 1024)
        self.assertTrue(acc.has_undrained())
        self.assertTrue(acc.has_incomplete())

    def test_rolls_to_new_batch(self) -> None:
        """A full batch makes the next record start a new one, reported full."""
        acc = accumulator()
        results = [append(acc) for _ in range(12)]
        created = [i for i, r in enumerate(results) if r.new_batch_created]
        self.assertEqual(created[0], 0)
        self.assertEqual(len(created), 2)
        self.assertFalse(results[created[1] - 1].batch_is_full)
        self.assertTrue(results[created[1]].batch_is_full)
        self.assertEqual(acc.partition_queue_sizes("t"), {0: 2})

    def test_large_record(self) -> None:
        """A record larger than batch.size gets its own batch and reservation."""
        pool = BufferPool(10_000)
        acc = accumulator(buffer_pool=pool)
        result = append(acc, value=b"x" * 3000)
        self.assertTrue(result.batch_is_full)
        self.assertLess(pool.available_memory, 10_000 - 3000)

    def test_abort_on_new_batch(self) -> None:
        """With abort_on_new_batch, a record needing a new batch is not appended."""
        pool = BufferPool(10_000)
        acc = accumulator(buffer_pool=pool)
        result = acc.append(T0, 1, None, b"v", (), None, 0, 0, abort_on_new_batch=True)
        self.assertTrue(result.abort_for_new_batch)
        self.assertIsNone(result.future)
        self.assertFalse(acc.has_undrained())
        self.assertEqual(pool.available_memory, 10_000)
        append(acc)
        result = acc.append(T0, 1, None, b"v", (), None, 0, 0, abort_on_new_batch=True)
        self.assertFalse(result.abort_for_new_batch)
        self.assertIsNotNone(result.future)

    def test_closed(self) -> None:
        """Appending after close() raises IllegalStateError."""
        acc = accumulator()
        append(acc)
        acc.close()
        self.assertTrue(acc.closed)
        self.assertRaises(IllegalStateError, append, acc)
        self.assertRaises(IllegalStateError, append, acc, T1)

    def test_memory_released_on_race(self) -> None:
        """Memory reserved for a batch another thread already made goes back."""
        pool = BufferPool(10_000)
        acc = accumulator(buffer_pool=pool)
        allocate = pool.allocate

        def racing(size: int, max_time_to_block_ms: int) -> None:
            allocate(size, max_time_to_block_ms)
            # Another thread creates the batch while this one waits for memory.
            pool.allocate = allocate  # type: ignore[method-assign]
            append(acc)

        pool.allocate = racing  # type: ignore[method-assign]
        result = append(acc)
        self.assertFalse(result.new_batch_created)
        self.assertEqual(acc.partition_queue_sizes("t"), {0: 1})
        self.assertEqual(pool.available_memory, 10_000 - 1024)

    def test_concurrent_appends(self) -> None:
        """Four threads appending 10,000 records each lose none and keep order."""
        acc = accumulator(batch_size=16384, buffer_pool=BufferPool(1 << 24))
        futures: dict[int, list[Any]] = {}

        def run(thread: int) -> None:
            mine = futures[thread] = []
            for i in range(10_000):
                value = f"{thread}:{i}".encode()
                mine.append(acc.append(T0, i, None, value, (), None, 0, 0).future)

        threads = [threading.Thread(target=run, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(JOIN_SECONDS)
            self.assertFalse(thread.is_alive())
        offset = 0
        seen: dict[int, list[int]] = {n: [] for n in range(4)}
        while acc.has_undrained():
            for batch in acc.drain(cluster(), [0], 1 << 30, 0)[0]:
                for record in DefaultRecordBatch.from_buffer(batch.records):
                    assert record.value is not None
                    writer, i = map(int, record.value.split(b":"))
                    seen[writer].append(i)
                batch.done(offset, -1)
                offset += batch.record_count
                acc.deallocate(batch)
        self.assertEqual(offset, 40_000)
        for writer in range(4):
            self.assertEqual(seen[writer], list(range(10_000)))
            offsets = [f.get(0).offset for f in futures[writer]]
            self.assertEqual(offsets, sorted(offsets))
        self.assertEqual(acc.buffer_pool.available_memory, 1 << 24)


class ReadyTests(SynchronousTestCase):
    """
    Tests for L{RecordAccumulator.ready}.
    """

    def test_lingering(self) -> None:
        """A batch that is not full waits linger.ms, then its leader is ready."""
        acc = accumulator()
        append(acc, now_ms=100)
        result = acc.ready(cluster(), 104)
        self.assertEqual(result.ready_nodes, frozenset())
        self.assertEqual(result.next_ready_check_delay_ms, 6)
        self.assertEqual(acc.ready(cluster(), 110).ready_nodes, {0})

    def test_full(self) -> None:
        """A full batch is ready before linger.ms."""
        acc = accumulator(linger_ms=10_000)
        fill(acc, T1, 2)
        self.assertEqual(acc.ready(cluster(), 0).ready_nodes, {1})

    def test_flush(self) -> None:
        """A flush in progress makes every batch ready, until it ends."""
        acc = accumulator(linger_ms=10_000)
        append(acc, T0)
        append(acc, T1)
        acc.begin_flush()
        self.assertTrue(acc.flush_in_progress())
        self.assertEqual(acc.ready(cluster(), 0).ready_nodes, {0, 1})
        acc.end_flush()
        self.assertFalse(acc.flush_in_progress())
        self.assertEqual(acc.ready(cluster(), 0).ready_nodes, frozenset())

    def test_memory_pressure(self) -> None:
        """Threads waiting for memory make every batch ready."""
        acc = accumulator(linger_ms=10_000, buffer_pool=QueuedPool(64 * 1024))
        append(acc, T2)
        self.assertEqual(acc.ready(cluster(), 0).ready_nodes, {0})

    def test_closed(self) -> None:
        """A closed accumulator sends what it has at once."""
        acc = accumulator(linger_ms=10_000)
        append(acc, T3)
        acc.close()
        self.assertEqual(acc.ready(cluster(), 0).ready_nodes, {1})

    def test_unknown_leader(self) -> None:
        """Partitions without a known leader name their topic."""
        acc = accumulator()
        append(acc, T0)
        append(acc, TopicPartition("other", 0))
        result = acc.ready(cluster({0: -1, 1: 1}), 100)
        self.assertEqual(result.ready_nodes, frozenset())
        self.assertEqual(result.unknown_leader_topics, {"t", "other"})

    def test_muted(self) -> None:
        """A muted partition is not ready until unmuted."""
        acc = accumulator()
        append(acc, T0)
        acc.mute(T0)
        self.assertEqual(acc.ready(cluster(), 100).ready_nodes, frozenset())
        acc.unmute(T0)
        self.assertEqual(acc.ready(cluster(), 100).ready_nodes, {0})

    def test_delay_bounded_by_expiry(self) -> None:
        """The next check comes no later than the first batch's delivery timeout."""
        acc = accumulator(linger_ms=100_000, delivery_timeout_ms=5000)
        append(acc, now_ms=1000)
        self.assertEqual(acc.ready(cluster(), 2000).next_ready_check_delay_ms, 4000)
        empty = accumulator(delivery_timeout_ms=5000)
        self.assertEqual(empty.ready(cluster(), 0).next_ready_check_delay_ms, 5000)


class RetryTests(SynchronousTestCase):
    """
    Tests for L{RecordAccumulator.reenqueue} and the retry backoff.
    """

    def drained(self, acc: RecordAccumulator, now_ms: int = 0) -> ProducerBatch:
        """Append one record to T0 and drain its batch."""
        append(acc, T0, now_ms=now_ms)
        (batch,) = acc.drain(cluster(), [0], 1 << 20, now_ms + 10)[0]
        return batch

    def test_backoff(self) -> None:
        """A reenqueued batch is sendable only after retry.backoff.ms."""
        acc = accumulator()
        batch = self.drained(acc)
        acc.reenqueue(batch, 1000)
        self.assertEqual(batch.attempts, 1)
        result = acc.ready(cluster(), 1050)
        self.assertEqual(result.ready_nodes, frozenset())
        self.assertEqual(result.next_ready_check_delay_ms, 50)
        self.assertEqual(acc.drain(cluster(), [0], 1 << 20, 1050), {0: []})
        self.assertEqual(acc.ready(cluster(), 1100).ready_nodes, {0})
        self.assertEqual(acc.drain(cluster(), [0], 1 << 20, 1100), {0: [batch]})

    def test_exponential(self) -> None:
        """Each retry doubles the backoff, up to retry.backoff.max.ms."""
        acc = accumulator(retry_backoff_ms=100, retry_backoff_max_ms=500)
        batch = self.drained(acc)
        backoffs = []
        for _ in range(5):
            acc.reenqueue(batch, 0)
            backoffs.append(batch.retry_backoff_ms)
            acc._topics["t"][0].clear()
        self.assertEqual(backoffs, [100, 200, 400, 500, 500])

    def test_jitter(self) -> None:
        """Jitter spreads the backoff by up to the given fraction either way."""
        for draw, expected in ((0.0, 80), (0.5, 100), (0.999999, 119)):
            acc = accumulator(retry_backoff_jitter=0.2, random=lambda d=draw: d)
            batch = self.drained(acc)
            acc.reenqueue(batch, 0)
            self.assertEqual(batch.retry_backoff_ms, expected)

    def test_front_of_queue(self) -> None:
        """A batch put back goes before the batches that wait."""
        acc = accumulator()
        batch = self.drained(acc)
        append(acc, T0)
        acc.reenqueue(batch, 0)
        self.assertIs(acc._topics["t"][0][0], batch)

    def test_sequence_order(self) -> None:
        """Batches put back keep the order of their sequence numbers."""
        source = FakeSequenceSource()
        acc = accumulator(transaction_manager=source)
        batches = []
        for _ in range(3):
            append(acc, T0)
            batches.extend(acc.drain(cluster(), [0], 1 << 20, 100)[0])
        self.assertEqual([b.base_sequence for b in batches], [0, 1, 2])
        append(acc, T0)
        for batch in (batches[2], batches[0], batches[1]):
            acc.reenqueue(batch, 200)
        queue = list(acc._topics["t"][0])
        self.assertEqual(queue[:3], batches)
        self.assertFalse(queue[3].has_sequence)

    def test_retry_keeps_bytes(self) -> None:
        """A retried batch keeps its sequence and bytes when drained again."""
        source = FakeSequenceSource()
        acc = accumulator(transaction_manager=source)
        batch = self.drained(acc)
        records = batch.records
        acc.reenqueue(batch, 0)
        (again,) = acc.drain(cluster(), [0], 1 << 20, 1000)[0]
        self.assertIs(again, batch)
        self.assertIs(again.records, records)
        self.assertEqual(source.sequences, {T0: 1})


class DrainTests(SynchronousTestCase):
    """
    Tests for L{RecordAccumulator.drain}.
    """

    def test_one_batch_per_partition(self) -> None:
        """Each node gets at most one batch per partition it leads, closed."""
        acc = accumulator()
        fill(acc, T0, 2)
        append(acc, T1)
        append(acc, T2)
        drained = acc.drain(cluster(), [0, 1], 1 << 20, 50)
        self.assertEqual(
            {node: [b.tp for b in batches] for node, batches in drained.items()},
            {0: [T0, T2], 1: [T1]},
        )
        for batch in drained[0] + drained[1]:
            self.assertTrue(batch.is_closed)
            self.assertEqual(batch.drained_ms, 50)
        self.assertEqual(acc.partition_queue_sizes("t"), {0: 1, 1: 0, 2: 0})

    def test_max_size(self) -> None:
        """Draining stops before max.request.size, but always takes one batch."""
        acc = accumulator()
        append(acc, T0, b"x" * 600)
        append(acc, T2, b"x" * 600)
        first = acc.drain(cluster(), [0], 100, 0)[0]
        self.assertEqual(len(first), 1)
        second = acc.drain(cluster(), [0], 100, 0)[0]
        self.assertEqual(len(second), 1)
        self.assertNotEqual(first[0].tp, second[0].tp)

    def test_rotation(self) -> None:
        """Successive drains start from different partitions."""
        acc = accumulator()
        for _ in range(3):
            append(acc, T0)
            append(acc, T2)
        orders = []
        for _ in range(2):
            batches = acc.drain(cluster(), [0], 1 << 20, 0)[0]
            orders.append([b.tp for b in batches])
            for batch in batches:
                append(acc, batch.tp)
        self.assertEqual(orders, [[T0, T2], [T2, T0]])

    def test_fairness_under_max_size(self) -> None:
        """With room for one batch per request, partitions take turns."""
        acc = accumulator()
        for _ in range(3):
            for tp in (T0, T2):
                append(acc, tp, b"x" * 900)
        taken = []
        for _ in range(4):
            (batch,) = acc.drain(cluster(), [0], 1000, 0)[0]
            taken.append(batch.tp)
        self.assertEqual(taken, [T0, T2, T0, T2])

    def test_muted(self) -> None:
        """A muted partition is not drained."""
        acc = accumulator()
        append(acc, T0)
        append(acc, T2)
        acc.mute(T0)
        self.assertEqual([b.tp for b in acc.drain(cluster(), [0], 1 << 20, 0)[0]], [T2])

    def test_unknown_node(self) -> None:
        """A node that leads nothing gets an empty list."""
        acc = accumulator()
        append(acc, T0)
        self.assertEqual(acc.drain(cluster(), [7], 1 << 20, 0), {7: []})

    def test_sequences(self) -> None:
        """Idempotent batches get the producer id, epoch and next sequence."""
        source = FakeSequenceSource(transactional=True)
        acc = accumulator(transaction_manager=source)
        fill(acc, T0, 2)
        first_count = acc._topics["t"][0][0].record_count
        (first,) = acc.drain(cluster(), [0], 1 << 20, 0)[0]
        (second,) = acc.drain(cluster(), [0], 1 << 20, 0)[0]
        self.assertEqual(
            [
                (b.producer_id, b.producer_epoch, b.base_sequence)
                for b in (first, second)
            ],
            [(42, 7, 0), (42, 7, first_count)],
        )
        header = DefaultRecordBatch.from_buffer(second.records)
        self.assertEqual(header.base_sequence, first_count)
        self.assertTrue(header.is_transactional)
        self.assertEqual(source.sequences[T0], first_count + second.record_count)

    def test_no_producer_id(self) -> None:
        """Without a producer id yet, idempotent batches stay queued."""
        source = FakeSequenceSource(producer_id=-1, producer_epoch=-1)
        acc = accumulator(transaction_manager=source)
        append(acc, T0)
        self.assertEqual(acc.drain(cluster(), [0], 1 << 20, 0), {0: []})
        self.assertTrue(acc.has_undrained())

    def test_without_idempotence(self) -> None:
        """Without a transaction manager, batches carry no producer id or sequence."""
        acc = accumulator()
        append(acc, T0)
        (batch,) = acc.drain(cluster(), [0], 1 << 20, 0)[0]
        header = DefaultRecordBatch.from_buffer(batch.records)
        self.assertEqual((header.producer_id, header.base_sequence), (-1, -1))

    def test_compression_estimate(self) -> None:
        """Well compressed batches lower the topic's compression ratio estimate."""
        acc = accumulator(compression_type=CompressionType.GZIP)
        fill(acc, T0, 1)
        self.assertEqual(acc._topics["t"][0][0]._builder.compression_ratio_estimate, 1)
        acc.drain(cluster(), [0], 1 << 20, 0)
        fill(acc, T0, 1)
        estimate = acc._topics["t"][0][0]._builder.compression_ratio_estimate
        self.assertEqual(estimate, 1 - 0.005)

    def test_source_protocol(self) -> None:
        """The fake sequence source has the shape the accumulator asks for."""
        source: SequenceSource = FakeSequenceSource()
        self.assertEqual(source.producer_id_and_epoch(), (42, 7))


class ExpiryTests(SynchronousTestCase):
    """
    Tests for L{RecordAccumulator.expired_batches}.
    """

    def test_expired(self) -> None:
        """Batches older than delivery.timeout.ms leave their queues."""
        acc = accumulator(delivery_timeout_ms=1000)
        errors: list[BaseException | None] = []
        append(acc, T0, now_ms=0, callback=lambda m, e: errors.append(e))
        append(acc, T1, now_ms=500)
        self.assertEqual(acc.next_expiry_time_ms, 1000)
        self.assertEqual(acc.expired_batches(999), [])
        expired = acc.expired_batches(1000)
        self.assertEqual([b.tp for b in expired], [T0])
        self.assertEqual(acc.partition_queue_sizes("t"), {0: 0, 1: 1})
        self.assertEqual(acc.next_expiry_time_ms, 1500)
        self.assertTrue(acc.has_incomplete())
        expired[0].done(-1, -1, RequestTimedOutError("expired"))
        acc.deallocate(expired[0])
        self.assertIsInstance(errors[0], RequestTimedOutError)

    def test_nothing_queued(self) -> None:
        """With nothing queued, the next expiry is far away."""
        acc = accumulator()
        self.assertEqual(acc.expired_batches(0), [])
        self.assertGreater(acc.next_expiry_time_ms, 2**62)


class CompletionTests(SynchronousTestCase):
    """
    Tests for completing batches, flushing and aborting.
    """

    def test_callbacks_and_memory(self) -> None:
        """Completed batches call back in order and give all memory back."""
        pool = BufferPool(64 * 1024)
        acc = accumulator(buffer_pool=pool)
        calls: list[tuple[RecordMetadata | None, BaseException | None]] = []
        for i in range(3):
            acc.append(
                T0, 500 + i, b"k", b"value", (), lambda m, e: calls.append((m, e)), 0, 0
            )
        (batch,) = acc.drain(cluster(), [0], 1 << 20, 0)[0]
        batch.done(70, -1)
        acc.deallocate(batch)
        self.assertEqual(
            calls,
            [(RecordMetadata("t", 0, 70 + i, 500 + i, 1, 5), None) for i in range(3)],
        )
        self.assertEqual(pool.available_memory, 64 * 1024)
        self.assertFalse(acc.has_incomplete())

    def test_error_reaches_every_record(self) -> None:
        """A failed batch fails each of its records."""
        acc = accumulator()
        futures = [append(acc).future for _ in range(3)]
        (batch,) = acc.drain(cluster(), [0], 1 << 20, 0)[0]
        error = NotLeaderOrFollowerError()
        batch.done(-1, -1, error)
        for future in futures:
            self.assertIs(future.exception(0), error)

    def test_flush_waits(self) -> None:
        """await_flush_completion waits for the batches incomplete at begin_flush."""
        acc = accumulator()
        append(acc, T0)
        append(acc, T1)
        handle = acc.begin_flush()
        self.assertIsInstance(handle, FlushHandle)
        later = append(acc, T2)
        self.assertFalse(handle.done())
        self.assertFalse(acc.await_flush_completion(0, handle))
        self.assertFalse(acc.flush_in_progress())
        for batches in acc.drain(cluster(), [0, 1], 1 << 20, 0).values():
            for batch in batches:
                if batch.tp != T2:
                    batch.done(0, -1)
        self.assertTrue(handle.done())
        acc.begin_flush()
        self.assertTrue(acc.await_flush_completion(0.001, handle))
        self.assertFalse(later.future.done())
        # Without a handle, it waits for every batch incomplete now.
        self.assertFalse(acc.await_flush_completion(0))

    def test_flush_from_other_thread(self) -> None:
        """A thread awaiting a flush wakes when another thread completes the batch."""
        acc = accumulator()
        append(acc, T0)
        handle = acc.begin_flush()
        outcome: list[bool] = []
        waiter = threading.Thread(
            target=lambda: outcome.append(
                acc.await_flush_completion(JOIN_SECONDS, handle)
            )
        )
        waiter.start()
        (batch,) = acc.drain(cluster(), [0], 1 << 20, 0)[0]
        batch.done(0, -1)
        waiter.join(JOIN_SECONDS)
        self.assertEqual(outcome, [True])

    def test_abort_incomplete(self) -> None:
        """abort_incomplete_batches fails queued and in-flight batches alike."""
        pool = BufferPool(64 * 1024)
        acc = accumulator(buffer_pool=pool)
        in_flight = append(acc, T0).future
        (sent,) = acc.drain(cluster(), [0], 1 << 20, 0)[0]
        queued = append(acc, T1).future
        error = IllegalStateError("closed")
        acc.abort_incomplete_batches(error)
        self.assertIs(in_flight.exception(0), error)
        self.assertIs(queued.exception(0), error)
        self.assertEqual(sent.final_state, FinalState.ABORTED)
        self.assertFalse(sent.done(5, -1))
        self.assertFalse(acc.has_incomplete())
        self.assertFalse(acc.has_undrained())
        self.assertEqual(pool.available_memory, 64 * 1024)

    def test_abort_undrained(self) -> None:
        """abort_undrained_batches fails only batches never sent."""
        acc = accumulator()
        append(acc, T0)
        (sent,) = acc.drain(cluster(), [0], 1 << 20, 0)[0]
        acc.reenqueue(sent, 0)
        never = append(acc, T0).future
        acc.abort_undrained_batches(IllegalStateError("abort"))
        self.assertIsInstance(never.exception(0), IllegalStateError)
        self.assertIsNone(sent.final_state)
        self.assertEqual(acc.partition_queue_sizes("t"), {0: 1})

    def test_close_wakes_pool(self) -> None:
        """close() closes the buffer pool too."""
        acc = accumulator()
        acc.close()
        self.assertRaises(IllegalStateError, acc.buffer_pool.allocate, 1, 0)


class FromConfigTests(SynchronousTestCase):
    """
    Tests for L{RecordAccumulator.from_config}.
    """

    def test_from_config(self) -> None:
        """Kafka's settings, by their attribute names, configure the accumulator."""

        @attrs.frozen
        class Config:
            batch_size: int = 2048
            compression_type: str = "zstd"
            compression_zstd_level: int = 9
            linger_ms: int = 7
            retry_backoff_ms: int = 50
            retry_backoff_max_ms: int = 800
            delivery_timeout_ms: int = 9000
            request_timeout_ms: int = 3000

        pool = BufferPool(1 << 20)
        acc = RecordAccumulator.from_config(Config(), pool)
        self.assertEqual(
            (
                acc.batch_size,
                acc.compression_type,
                acc.compression_level,
                acc.linger_ms,
                acc.retry_backoff_ms,
                acc.retry_backoff_max_ms,
                acc.delivery_timeout_ms,
                acc.request_timeout_ms,
                acc.retry_backoff_jitter,
            ),
            (2048, CompressionType.ZSTD, 9, 7, 50, 800, 9000, 3000, 0.2),
        )
        self.assertIs(acc.buffer_pool, pool)
        self.assertIsNone(acc.transaction_manager)
