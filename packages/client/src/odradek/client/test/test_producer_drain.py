"""
Tests for the Sender's side of L{odradek.client.producer.accumulator}: draining
batches, expiring them, completing, flushing and aborting them.
"""

from __future__ import annotations

import threading

from twisted.trial.unittest import SynchronousTestCase

from odradek.client.errors import (
    IllegalStateError,
    NotLeaderOrFollowerError,
    RequestTimedOutError,
)
from odradek.client.producer.accumulation import FlushHandle, SequenceSource
from odradek.client.producer.batch import FinalState
from odradek.client.producer.buffer import BufferPool
from odradek.client.records import CompressionType, DefaultRecordBatch
from odradek.client.structs import RecordMetadata
from odradek.client.test._accumulatortools import (
    JOIN_SECONDS,
    T0,
    T1,
    T2,
    FakeSequenceSource,
    accumulator,
    append,
    cluster,
    fill,
)


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
