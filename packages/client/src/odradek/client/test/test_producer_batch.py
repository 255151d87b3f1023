"""
Tests for L{odradek.client.producer.batch}.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from odradek.client.errors import (
    IllegalStateError,
    InvalidRecordError,
    NotLeaderOrFollowerError,
    RequestTimedOutError,
)
from odradek.client.producer.batch import FinalState, ProducerBatch
from odradek.client.producer.future import FutureRecordMetadata, ProduceRequestResult
from odradek.client.records import (
    RECORD_BATCH_OVERHEAD,
    CompressionType,
    DefaultRecordBatch,
    RecordBatchBuilder,
)
from odradek.client.structs import RecordMetadata, TopicPartition

TP = TopicPartition("orders", 3)


def make_batch(
    batch_size: int | None = 1024,
    created_ms: int = 1000,
    compression_type: CompressionType = CompressionType.NONE,
) -> ProducerBatch:
    """
    Make an empty batch for L{TP}.
    """
    builder = RecordBatchBuilder(
        compression_type=compression_type, write_limit=batch_size
    )
    return ProducerBatch(TP, builder, created_ms)


class Recorder:
    """
    A callback that records its calls.
    """

    def __init__(self) -> None:
        self.calls: list[tuple[RecordMetadata | None, BaseException | None]] = []

    def __call__(
        self, metadata: RecordMetadata | None, error: BaseException | None
    ) -> None:
        self.calls.append((metadata, error))


class ProduceRequestResultTests(SynchronousTestCase):
    """
    Tests for L{ProduceRequestResult}.
    """

    def test_complete_once(self) -> None:
        """Only the first completion counts; later ones return False."""
        result = ProduceRequestResult(TP)
        self.assertFalse(result.done())
        self.assertTrue(result.complete(10, 99))
        self.assertFalse(result.complete(20, -1, NotLeaderOrFollowerError()))
        self.assertEqual((result.base_offset, result.log_append_time), (10, 99))
        self.assertIsNone(result.error)
        self.assertTrue(result.done())

    def test_wait(self) -> None:
        """wait() times out before completion and returns True after it."""
        result = ProduceRequestResult(TP)
        self.assertFalse(result.wait(0))
        result.complete(0, -1)
        self.assertTrue(result.wait(0))
        self.assertTrue(result.wait(None))

    def test_error_for(self) -> None:
        """Records listed in record_errors get their own error, others the batch's."""
        result = ProduceRequestResult(TP)
        error = InvalidRecordError("batch")
        own = InvalidRecordError("record 1")
        result.complete(-1, -1, error, {1: own})
        self.assertIs(result.error_for(0), error)
        self.assertIs(result.error_for(1), own)

    def test_error_for_success(self) -> None:
        """No record has an error when the batch succeeded."""
        result = ProduceRequestResult(TP)
        result.complete(5, -1)
        self.assertIsNone(result.error_for(0))


class FutureRecordMetadataTests(SynchronousTestCase):
    """
    Tests for L{FutureRecordMetadata}.
    """

    def future(self, relative_offset: int = 2) -> FutureRecordMetadata:
        """A future for a record with a 3-byte key and a null value."""
        self.result = ProduceRequestResult(TP)
        return FutureRecordMetadata(self.result, relative_offset, 7000, 3, -1)

    def test_get(self) -> None:
        """get() gives the base offset plus the relative offset and the sizes."""
        future = self.future()
        self.result.complete(100, -1)
        self.assertEqual(future.get(0), RecordMetadata("orders", 3, 102, 7000, 3, -1))

    def test_log_append_time(self) -> None:
        """The broker's log append time replaces the create time."""
        future = self.future()
        self.result.complete(100, 123456)
        self.assertEqual(future.get(0).timestamp, 123456)

    def test_unknown_offset(self) -> None:
        """A base offset of -1 (acks=0) gives offset -1."""
        future = self.future()
        self.result.complete(-1, -1)
        self.assertEqual(future.get(0).offset, -1)

    def test_get_raises_error(self) -> None:
        """get() raises the batch's error."""
        future = self.future()
        error = NotLeaderOrFollowerError("moved")
        self.result.complete(-1, -1, error)
        raised = self.assertRaises(NotLeaderOrFollowerError, future.get, 0)
        self.assertIs(raised, error)

    def test_get_timeout(self) -> None:
        """get() raises RequestTimedOutError naming the partition when not done."""
        future = self.future()
        raised = self.assertRaises(RequestTimedOutError, future.get, 0)
        self.assertIn("orders-3", str(raised))
        self.assertFalse(future.done())

    def test_exception(self) -> None:
        """exception() returns the error, or None on success."""
        future = self.future()
        self.assertRaises(RequestTimedOutError, future.exception, 0)
        error = NotLeaderOrFollowerError()
        self.result.complete(-1, -1, error)
        self.assertIs(future.exception(0), error)
        succeeded = self.future()
        self.result.complete(1, -1)
        self.assertIsNone(succeeded.exception())

    def test_add_done_callback_later(self) -> None:
        """A callback added before completion runs when the batch completes."""
        future = self.future()
        recorder = Recorder()
        future.add_done_callback(recorder)
        self.assertEqual(recorder.calls, [])
        self.result.complete(10, -1)
        self.assertEqual(
            recorder.calls, [(RecordMetadata("orders", 3, 12, 7000, 3, -1), None)]
        )

    def test_add_done_callback_done(self) -> None:
        """A callback added after completion runs at once."""
        future = self.future()
        error = NotLeaderOrFollowerError()
        self.result.complete(-1, -1, error)
        recorder = Recorder()
        future.add_done_callback(recorder)
        self.assertEqual(recorder.calls, [(None, error)])

    def test_topic_partition(self) -> None:
        """The future knows its record's partition."""
        self.assertEqual(self.future().topic_partition, TP)


class ProducerBatchAppendTests(SynchronousTestCase):
    """
    Tests for L{ProducerBatch.try_append} and the batch's size.
    """

    def test_relative_offsets(self) -> None:
        """Records get relative offsets 0, 1, 2 ... in append order."""
        batch = make_batch()
        futures = [
            batch.try_append(1000 + i, None, b"v", (), None, 5) for i in range(3)
        ]
        self.assertEqual(
            [f._relative_offset for f in futures if f is not None], [0, 1, 2]
        )
        self.assertEqual(batch.record_count, 3)
        self.assertEqual(batch.last_append_ms, 5)

    def test_full(self) -> None:
        """Records are refused once batch.size is reached; the batch is then full."""
        batch = make_batch(batch_size=300)
        count = 0
        while batch.try_append(1000, b"key", b"x" * 40, (), None, 0) is not None:
            count += 1
        self.assertGreater(count, 1)
        self.assertLessEqual(batch.estimated_size_in_bytes, 300)
        builder = batch._builder
        self.assertFalse(builder.has_room_for(1000, b"key", b"x" * 40))
        self.assertEqual(batch.is_full(), builder.is_full())

    def test_fills_exactly_with_headers(self) -> None:
        """With headers or without, the batch takes what the builder has room for."""
        for headers in ((), (("h", b"1"),)):
            batch = make_batch(batch_size=500)
            while batch.try_append(1000, None, b"y" * 30, headers, None, 0):
                pass
            self.assertFalse(
                batch._builder.has_room_for(1000, None, b"y" * 30, headers)
            )
            self.assertLessEqual(batch.estimated_size_in_bytes, 500)

    def test_first_record_always_fits(self) -> None:
        """The first record is taken even when larger than batch.size."""
        batch = make_batch(batch_size=100)
        self.assertIsNotNone(batch.try_append(1, None, b"z" * 500, (), None, 0))
        self.assertIsNone(batch.try_append(1, None, b"z", (), None, 0))
        self.assertTrue(batch.is_full())

    def test_not_full(self) -> None:
        """A batch under batch.size is not full."""
        batch = make_batch()
        batch.try_append(1, None, b"v", (), None, 0)
        self.assertFalse(batch.is_full())

    def test_compressed(self) -> None:
        """A compressed batch uses the builder's estimate and builds valid bytes."""
        batch = make_batch(batch_size=400, compression_type=CompressionType.GZIP)
        while batch.try_append(1, None, b"a" * 50, (), None, 0):
            pass
        batch.close()
        read = DefaultRecordBatch.from_buffer(batch.records)
        self.assertEqual(read.records_count, batch.record_count)
        self.assertEqual(read.compression_type, CompressionType.GZIP)

    def test_close(self) -> None:
        """close() builds the wire bytes; the batch then refuses records."""
        batch = make_batch()
        self.assertFalse(batch.is_closed)
        self.assertRaises(IllegalStateError, lambda: batch.records)
        batch.try_append(1000, b"k", b"v", (("h", None),), None, 0)
        batch.try_append(1001, None, None, (), None, 0)
        batch.close()
        batch.close()
        self.assertTrue(batch.is_closed)
        self.assertTrue(batch.is_full())
        self.assertIsNone(batch.try_append(1002, None, b"v", (), None, 0))
        records = list(DefaultRecordBatch.from_buffer(batch.records))
        self.assertEqual(
            [(r.offset, r.timestamp, r.key, r.value, r.headers) for r in records],
            [(0, 1000, b"k", b"v", (("h", None),)), (1, 1001, None, None, ())],
        )
        self.assertEqual(batch.estimated_size_in_bytes, len(batch.records))
        self.assertGreater(batch.uncompressed_size_in_bytes, RECORD_BATCH_OVERHEAD)

    def test_set_producer_state(self) -> None:
        """The producer id, epoch, sequence and transactional flag reach the header."""
        batch = make_batch()
        batch.try_append(1, None, b"v", (), None, 0)
        self.assertFalse(batch.has_sequence)
        batch.set_producer_state(42, 3, 17, True)
        self.assertEqual(
            (batch.producer_id, batch.producer_epoch, batch.base_sequence),
            (42, 3, 17),
        )
        self.assertTrue(batch.has_sequence)
        self.assertTrue(batch.is_transactional)
        batch.close()
        read = DefaultRecordBatch.from_buffer(batch.records)
        self.assertEqual(
            (read.producer_id, read.producer_epoch, read.base_sequence), (42, 3, 17)
        )
        self.assertTrue(read.is_transactional)

    def test_set_producer_state_closed(self) -> None:
        """A closed batch keeps its bytes: its producer state cannot change."""
        batch = make_batch()
        batch.try_append(1, None, b"v", (), None, 0)
        batch.close()
        self.assertRaises(IllegalStateError, batch.set_producer_state, 1, 0, 0, False)

    def test_reset_producer_state_closed(self) -> None:
        """
        A closed batch is renumbered in place: its bytes carry the new id, epoch
        and sequence with a valid CRC, and the same records.
        """
        batch = make_batch(compression_type=CompressionType.GZIP)
        batch.try_append(1, b"k", b"v", (), None, 0)
        batch.try_append(2, None, b"w", (), None, 0)
        batch.set_producer_state(42, 3, 17, True)
        batch.close()
        before = list(DefaultRecordBatch.from_buffer(batch.records))
        batch.reset_producer_state(42, 4, 0)
        self.assertEqual(
            (batch.producer_id, batch.producer_epoch, batch.base_sequence),
            (42, 4, 0),
        )
        read = DefaultRecordBatch.from_buffer(batch.records)
        read.validate()
        self.assertEqual(
            (
                read.producer_id,
                read.producer_epoch,
                read.base_sequence,
                read.last_sequence,
            ),
            (42, 4, 0, 1),
        )
        self.assertTrue(read.is_transactional)
        self.assertEqual(list(read), before)

    def test_reset_producer_state_open(self) -> None:
        """An open batch with a sequence takes the new state when it is built."""
        batch = make_batch()
        batch.try_append(1, None, b"v", (), None, 0)
        batch.set_producer_state(42, 3, 17, False)
        batch.reset_producer_state(43, 0, 5)
        batch.close()
        read = DefaultRecordBatch.from_buffer(batch.records)
        self.assertEqual(
            (read.producer_id, read.producer_epoch, read.base_sequence), (43, 0, 5)
        )

    def test_reset_producer_state_refused(self) -> None:
        """
        A batch without a sequence, or a completed one, cannot be renumbered.
        """
        batch = make_batch()
        batch.try_append(1, None, b"v", (), None, 0)
        batch.close()
        self.assertRaises(IllegalStateError, batch.reset_producer_state, 1, 0, 0)
        stamped = make_batch()
        stamped.try_append(1, None, b"v", (), None, 0)
        stamped.set_producer_state(42, 3, 17, False)
        stamped.close()
        stamped.done(0, -1)
        self.assertRaises(IllegalStateError, stamped.reset_producer_state, 1, 0, 0)
        self.assertEqual(
            DefaultRecordBatch.from_buffer(stamped.records).producer_id, 42
        )


class ProducerBatchCompletionTests(SynchronousTestCase):
    """
    Tests for L{ProducerBatch.done} and L{ProducerBatch.abort}.
    """

    def fill(self, batch: ProducerBatch, recorder: Recorder, count: int = 3) -> None:
        """Append C{count} records with keys of growing size."""
        for i in range(count):
            batch.try_append(5000 + i, b"k" * i or None, b"value", (), recorder, 0)

    def test_done_callbacks_in_order(self) -> None:
        """Callbacks run in append order with each record's metadata."""
        batch = make_batch()
        recorder = Recorder()
        self.fill(batch, recorder)
        self.assertTrue(batch.done(40, -1))
        self.assertEqual(
            recorder.calls,
            [
                (RecordMetadata("orders", 3, 40, 5000, -1, 5), None),
                (RecordMetadata("orders", 3, 41, 5001, 1, 5), None),
                (RecordMetadata("orders", 3, 42, 5002, 2, 5), None),
            ],
        )
        self.assertEqual(batch.final_state, FinalState.SUCCEEDED)
        self.assertTrue(batch.produce_future.done())

    def test_done_error(self) -> None:
        """A failed batch calls every callback with (None, error)."""
        batch = make_batch()
        recorder = Recorder()
        self.fill(batch, recorder)
        error = NotLeaderOrFollowerError()
        batch.done(-1, -1, error)
        self.assertEqual(recorder.calls, [(None, error)] * 3)
        self.assertEqual(batch.final_state, FinalState.FAILED)

    def test_record_errors(self) -> None:
        """Errors per record reach their records' callbacks."""
        batch = make_batch()
        recorder = Recorder()
        self.fill(batch, recorder)
        error = InvalidRecordError("one of the batch's records is invalid")
        own = InvalidRecordError("record 2 has no key")
        batch.done(-1, -1, error, {2: own})
        self.assertEqual(recorder.calls, [(None, error), (None, error), (None, own)])

    def test_done_twice(self) -> None:
        """A batch completes once: a late answer changes nothing."""
        batch = make_batch()
        recorder = Recorder()
        self.fill(batch, recorder, 1)
        error = RequestTimedOutError("expired")
        self.assertTrue(batch.done(-1, -1, error))
        self.assertFalse(batch.done(7, -1))
        self.assertEqual(recorder.calls, [(None, error)])
        self.assertEqual(batch.final_state, FinalState.FAILED)

    def test_abort(self) -> None:
        """abort() fails the records and leaves the batch ABORTED."""
        batch = make_batch()
        recorder = Recorder()
        self.fill(batch, recorder, 2)
        error = IllegalStateError("closing")
        self.assertTrue(batch.abort(error))
        self.assertFalse(batch.abort(error))
        self.assertEqual(recorder.calls, [(None, error)] * 2)
        self.assertEqual(batch.final_state, FinalState.ABORTED)

    def test_failing_callback(self) -> None:
        """A callback that raises is logged and the next callbacks still run."""
        batch = make_batch()
        recorder = Recorder()

        def broken(
            metadata: RecordMetadata | None, error: BaseException | None
        ) -> None:
            raise ZeroDivisionError()

        batch.try_append(1, None, b"a", (), broken, 0)
        batch.try_append(1, None, b"b", (), recorder, 0)
        batch.done(0, -1)
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)
        self.assertEqual(len(recorder.calls), 1)

    def test_futures(self) -> None:
        """The futures try_append returns see the batch's outcome."""
        batch = make_batch()
        first = batch.try_append(1, None, b"a", (), None, 0)
        second = batch.try_append(2, None, b"b", (), None, 0)
        assert first is not None and second is not None
        batch.done(8, -1)
        self.assertEqual((first.get(0).offset, second.get(0).offset), (8, 9))


class ProducerBatchStateTests(SynchronousTestCase):
    """
    Tests for the retry and timing state of L{ProducerBatch}.
    """

    def test_initial(self) -> None:
        """A new batch has no attempts, no retry and no final state."""
        batch = make_batch(created_ms=500)
        self.assertEqual(
            (batch.attempts, batch.last_attempt_ms, batch.drained_ms), (0, 500, 0)
        )
        self.assertFalse(batch.in_retry())
        self.assertIsNone(batch.final_state)
        self.assertEqual(batch.tp, TP)

    def test_reenqueued(self) -> None:
        """reenqueued() counts an attempt and restarts the backoff clock."""
        batch = make_batch(created_ms=500)
        batch.reenqueued(900)
        batch.reenqueued(1200)
        self.assertEqual((batch.attempts, batch.last_attempt_ms), (2, 1200))
        self.assertTrue(batch.in_retry())
        self.assertEqual(batch.waited_time_ms(1250), 50)
        self.assertEqual(batch.waited_time_ms(1000), 0)

    def test_drained(self) -> None:
        """drained() keeps the latest drain time."""
        batch = make_batch()
        batch.drained(3000)
        batch.drained(2000)
        self.assertEqual(batch.drained_ms, 3000)

    def test_delivery_timeout(self) -> None:
        """The delivery timeout counts from the batch's creation."""
        batch = make_batch(created_ms=1000)
        self.assertFalse(batch.has_reached_delivery_timeout(500, 1499))
        self.assertTrue(batch.has_reached_delivery_timeout(500, 1500))

    def test_repr(self) -> None:
        """The repr names the partition and the record count."""
        batch = make_batch()
        batch.try_append(1, None, b"a", (), None, 0)
        self.assertIn("orders-3 records=1", repr(batch))
