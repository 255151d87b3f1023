"""
Tests for L{odradek.client.producer.accumulator}: appending, readiness, retries
and making an accumulator from a configuration. Draining, expiry, completion,
flushing and aborting are in C{test_producer_drain}.
"""

from __future__ import annotations

import threading
from typing import Any

import attrs
from twisted.trial.unittest import SynchronousTestCase

from odradek.client.errors import (
    IllegalStateError,
)
from odradek.client.producer.accumulator import RecordAccumulator
from odradek.client.producer.batch import ProducerBatch
from odradek.client.producer.buffer import BufferPool
from odradek.client.records import CompressionType, DefaultRecordBatch
from odradek.client.structs import TopicPartition
from odradek.client.test._accumulatortools import (
    JOIN_SECONDS,
    T0,
    T1,
    T2,
    T3,
    FakeSequenceSource,
    QueuedPool,
    accumulator,
    append,
    cluster,
    fill,
)


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
