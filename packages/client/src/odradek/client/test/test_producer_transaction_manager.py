"""
Tests for L{odradek.client.producer.transaction_manager}: the idempotent producer's
state on its own, and driven by the L{Sender} against fake brokers.
"""

from __future__ import annotations

from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from odradek.client import errors
from odradek.client.producer.batch import ProducerBatch
from odradek.client.producer.transaction_manager import (
    MAX_PRODUCER_EPOCH,
    MAX_SEQUENCE,
    TransactionManager,
)
from odradek.client.records import DefaultRecordBatch, RecordBatchBuilder
from odradek.client.structs import RecordMetadata, TopicPartition
from odradek.client.test._producertools import (
    PRODUCER_ID,
    SenderTestCase,
    batches_in,
    outcome,
)

O0, O1 = TopicPartition("orders", 0), TopicPartition("orders", 1)


def stamp(request: Any, tp: TopicPartition = O0) -> tuple[int, int, int]:
    """@return: the producer id, epoch and base sequence of C{tp}'s batch."""
    batch = batches_in(request)[tp]
    return batch.producer_id, batch.producer_epoch, batch.base_sequence


def drained(
    manager: TransactionManager, tp: TopicPartition = O0, records: int = 1
) -> ProducerBatch:
    """
    @return: a closed batch of C{records} records of C{tp}, stamped and counted as
        the accumulator's drain does.
    """
    batch = ProducerBatch(tp, RecordBatchBuilder(), 0)
    for _ in range(records):
        batch.try_append(1000, None, b"v", (), None, 0)
    producer_id, epoch = manager.producer_id_and_epoch()
    batch.set_producer_state(producer_id, epoch, manager.next_sequence(tp), False)
    manager.increment_sequence(tp, records)
    batch.close()
    return batch


def header(batch: ProducerBatch) -> tuple[int, int, int, bool]:
    """@return: the id, epoch, base sequence and CRC check of the batch's bytes."""
    read = DefaultRecordBatch.from_buffer(batch.records)
    return read.producer_id, read.producer_epoch, read.base_sequence, read.is_valid()


class TransactionManagerTests(SynchronousTestCase):
    """
    L{TransactionManager} keeps the producer id, epoch and sequences.
    """

    def setUp(self) -> None:
        self.manager = TransactionManager()
        self.manager.set_producer_id_and_epoch(7, 3)

    def test_no_id_yet(self) -> None:
        """
        Before InitProducerId answered there is no id to stamp on batches.
        """
        manager = TransactionManager()
        self.assertFalse(manager.has_producer_id())
        self.assertEqual(manager.producer_id_and_epoch(), (-1, -1))
        self.assertFalse(manager.is_transactional())

    def test_sequences(self) -> None:
        """
        Each partition's sequence starts at 0 and grows by the records drained.
        """
        self.assertEqual(self.manager.producer_id_and_epoch(), (7, 3))
        self.assertEqual(self.manager.next_sequence(O0), 0)
        self.manager.increment_sequence(O0, 5)
        self.manager.increment_sequence(O0, 2)
        self.assertEqual(self.manager.next_sequence(O0), 7)
        self.assertEqual(self.manager.next_sequence(O1), 0)
        self.assertEqual(self.manager.in_flight_count(), 2)

    def test_sequence_wraps(self) -> None:
        """
        Sequence numbers wrap to 0 after the largest int32.
        """
        self.manager.increment_sequence(O0, MAX_SEQUENCE)
        self.manager.increment_sequence(O0, 3)
        self.assertEqual(self.manager.next_sequence(O0), 2)

    def test_next_in_line(self) -> None:
        """
        The oldest batch not acknowledged is next in line; once it is
        acknowledged, the one after it is.
        """
        first, second = drained(self.manager, records=5), drained(self.manager)
        self.assertTrue(self.manager.is_next_in_line(O0, 0))
        self.assertFalse(self.manager.is_next_in_line(O0, 5))
        self.manager.acknowledged(first)
        self.assertTrue(self.manager.is_next_in_line(O0, 5))
        self.assertEqual(self.manager.in_flight_count(), 1)
        self.assertTrue(self.manager.holds_sequence(second))
        self.assertFalse(self.manager.holds_sequence(first))

    def test_failed_asks_for_bump(self) -> None:
        """
        A batch that failed for good releases its sequence and asks for a new
        epoch for its partition: nothing may be drained until then.
        """
        batch = drained(self.manager, records=5)
        self.manager.failed(batch)
        self.assertEqual(self.manager.in_flight_count(), 0)
        self.assertTrue(self.manager.epoch_bump_required)
        self.assertFalse(self.manager.has_producer_id())
        self.assertEqual(self.manager.producer_id_and_epoch(), (-1, -1))
        self.assertEqual(self.manager.take_partitions_to_rewrite(), [O0])
        self.assertEqual(self.manager.take_partitions_to_rewrite(), [])

    def test_failed_without_sequence(self) -> None:
        """
        A batch that holds no sequence of the manager's changes nothing when it
        fails or is acknowledged.
        """
        batch = ProducerBatch(O0, RecordBatchBuilder(), 0)
        batch.try_append(1000, None, b"v", (), None, 0)
        self.manager.failed(batch)
        self.manager.acknowledged(batch)
        self.assertFalse(self.manager.epoch_bump_required)
        self.assertEqual(self.manager.next_sequence(O0), 0)

    def test_bump_and_restart_sequences(self) -> None:
        """
        After a failed batch and a bump, the later batches of its partition are
        numbered from 0 under the new epoch, bytes and CRC included; new batches
        follow them.
        """
        lost = drained(self.manager, records=2)
        later = [drained(self.manager, records=3), drained(self.manager)]
        self.manager.failed(lost)
        self.assertTrue(self.manager.bump_epoch())
        self.assertEqual(self.manager.producer_id_and_epoch(), (7, 4))
        [tp] = self.manager.take_partitions_to_rewrite()
        self.manager.restart_sequences(tp, later)
        self.assertEqual(
            [header(batch) for batch in later], [(7, 4, 0, True), (7, 4, 3, True)]
        )
        self.assertEqual([b.base_sequence for b in later], [0, 3])
        self.assertTrue(all(self.manager.holds_sequence(b) for b in later))
        self.assertEqual(self.manager.next_sequence(O0), 4)
        self.assertTrue(self.manager.is_next_in_line(O0, 0))
        self.assertTrue(self.manager.has_producer_id())

    def test_other_partition_keeps_its_epoch(self) -> None:
        """
        A partition that did not ask for the bump keeps the old epoch while a
        batch of it is unacknowledged, and starts from 0 under the new one after.
        """
        other = drained(self.manager, O1, records=2)
        self.manager.failed(drained(self.manager))
        self.manager.bump_epoch()
        self.manager.take_partitions_to_rewrite()
        self.assertTrue(self.manager.is_stale(other))
        self.assertTrue(self.manager.holds_sequence(other))
        self.manager.acknowledged(other)
        self.assertEqual(self.manager.next_sequence(O1), 0)
        self.assertFalse(self.manager.is_stale(drained(self.manager, O1)))

    def test_stale_alone_fails_without_bump(self) -> None:
        """
        The last unacknowledged batch of an older epoch fails without asking for
        another bump: its partition starts afresh anyway.
        """
        other = drained(self.manager, O1)
        self.manager.failed(drained(self.manager))
        self.manager.bump_epoch()
        self.manager.take_partitions_to_rewrite()
        self.manager.failed(other)
        self.assertFalse(self.manager.epoch_bump_required)
        self.assertEqual(self.manager.next_sequence(O1), 0)

    def test_sequence_errors(self) -> None:
        """
        C{OUT_OF_ORDER_SEQUENCE_NUMBER} is retried: without a bump behind an
        earlier batch, with one for the oldest; C{UNKNOWN_PRODUCER_ID} is retried
        with a bump; other errors, and batches renumbered since, are left to the
        sender.
        """
        first, second = drained(self.manager), drained(self.manager)
        manager = self.manager
        out_of_order = errors.OutOfOrderSequenceError()
        self.assertTrue(manager.retry_after_sequence_error(second, out_of_order))
        self.assertFalse(manager.epoch_bump_required)
        self.assertFalse(
            manager.retry_after_sequence_error(first, errors.RecordTooLargeError())
        )
        self.assertTrue(manager.retry_after_sequence_error(first, out_of_order))
        self.assertEqual(manager.take_partitions_to_rewrite(), [O0])
        self.assertTrue(manager.bump_epoch())
        third = drained(manager, O1)
        unknown = errors.UnknownProducerIdError()
        self.assertTrue(manager.retry_after_sequence_error(third, unknown))
        self.assertEqual(manager.take_partitions_to_rewrite(), [O1])
        manager.restart_sequences(O0, [])
        self.assertFalse(manager.retry_after_sequence_error(first, unknown))

    def test_epoch_exhausted(self) -> None:
        """
        At the largest epoch a bump is refused: a new producer id is needed.
        """
        self.manager.set_producer_id_and_epoch(7, MAX_PRODUCER_EPOCH)
        self.assertFalse(self.manager.bump_epoch())
        self.assertFalse(TransactionManager().bump_epoch())

    def test_new_id(self) -> None:
        """
        A new producer id clears the bump; a partition with nothing
        unacknowledged starts from 0 under it.
        """
        self.manager.failed(drained(self.manager, records=5))
        self.manager.set_producer_id_and_epoch(8, 0)
        self.assertEqual(self.manager.producer_id_and_epoch(), (8, 0))
        self.assertEqual(self.manager.next_sequence(O0), 0)
        self.assertEqual(drained(self.manager).producer_id, 8)


class IdempotentSenderTests(SenderTestCase):
    """
    The sender of an idempotent producer gets a producer id first and repairs
    sequence errors with a new epoch.
    """

    idempotent = True

    def test_nothing_drained_before_producer_id(self) -> None:
        """
        No batch goes out before InitProducerId answered; then batches carry the
        id, epoch 0 and sequences from 0.
        """
        self.cluster.hold_init = True
        future = self.send(O0)
        self.advance(0.5, 5)
        self.assertEqual(self.cluster.produced, [])
        self.assertEqual(len(self.cluster.init_requests), 1)
        self.assertIsNone(self.cluster.init_requests[0].transactional_id)
        self.cluster.release_init()
        self.reactor.settle()
        self.assertEqual(outcome(future), RecordMetadata("orders", 0, 0, 1000, -1, 1))
        second = self.send(O0)
        self.reactor.settle()
        self.assertEqual(
            [stamp(request) for _, _, request in self.cluster.produced],
            [(PRODUCER_ID, 0, 0), (PRODUCER_ID, 0, 1)],
        )
        self.assertEqual(outcome(second).offset, 1)  # type: ignore[union-attr]

    def test_retriable_init_error(self) -> None:
        """
        A retriable InitProducerId error is retried after C{retry.backoff.ms}.
        """
        self.cluster.init_errors = [errors.CoordinatorLoadInProgressError.code]
        future = self.send(O0)
        self.reactor.settle()
        self.advance(0.099)
        self.assertEqual(len(self.cluster.init_requests), 1)
        self.advance(0.001)
        self.assertEqual(len(self.cluster.init_requests), 2)
        self.assertEqual(outcome(future).offset, 0)  # type: ignore[union-attr]

    def test_fatal_init_error(self) -> None:
        """
        A fatal InitProducerId error fails every record waiting.
        """
        self.cluster.init_errors = [errors.ClusterAuthorizationError.code]
        futures = [self.send(O0), self.send(O1)]
        idle = self.sender.when_idle()
        self.reactor.settle()
        for future in futures:
            self.assertIsInstance(outcome(future), errors.ClusterAuthorizationError)
        self.assertEqual(self.cluster.produced, [])
        self.successResultOf(idle)

    def test_init_connection_refused(self) -> None:
        """
        When no broker can be reached for InitProducerId, it is asked again after
        C{retry.backoff.ms}.
        """
        brokers = dict(self.cluster.network.brokers)
        self.cluster.network.brokers.clear()
        future = self.send(O0)
        self.reactor.settle()
        self.assertEqual(self.cluster.init_requests, [])
        self.cluster.network.brokers.update(brokers)
        self.advance(0.1)
        self.assertEqual(outcome(future).offset, 0)  # type: ignore[union-attr]

    def test_duplicate_sequence_is_success(self) -> None:
        """
        C{DUPLICATE_SEQUENCE_NUMBER} means the broker has the batch: success.
        """
        self.cluster.errors[O0] = [errors.DuplicateSequenceError.code]
        future = self.send(O0)
        self.reactor.settle()
        self.assertEqual(outcome(future), RecordMetadata("orders", 0, -1, 1000, -1, 1))
        next_one = self.send(O0)
        self.reactor.settle()
        self.assertEqual(stamp(self.cluster.produced[-1][2]), (PRODUCER_ID, 0, 1))
        self.assertIsInstance(outcome(next_one), RecordMetadata)

    def test_out_of_order_not_next_is_retried(self) -> None:
        """
        C{OUT_OF_ORDER_SEQUENCE_NUMBER} for a batch behind one being retried is
        retried too, with the same epoch; both are stored in order.
        """
        self.reactor.settle()
        self.cluster.hold.add(1)
        first = self.send(O0, b"first")
        self.reactor.settle()
        second = self.send(O0, b"second")
        self.reactor.settle()
        self.cluster.errors[O0] = [
            errors.NotLeaderOrFollowerError.code,
            errors.OutOfOrderSequenceError.code,
        ]
        self.cluster.release(1)
        self.advance(0.5, 5)
        self.assertEqual(self.values(O0), [b"first", b"second"])
        self.assertEqual([outcome(f).offset for f in (first, second)], [0, 1])  # type: ignore[union-attr]
        self.assertEqual(self.manager.producer_epoch, 0)  # type: ignore[union-attr]
        self.assertEqual(
            [stamp(r) for _, _, r in self.cluster.produced[2:]],
            [(PRODUCER_ID, 0, 0), (PRODUCER_ID, 0, 1)],
        )

    def assert_bumps(self, error: type[errors.KafkaError]) -> None:
        """
        Answer C{error} for the oldest batch: the epoch is bumped without a new
        producer id, and the batch is retried under it from sequence 0; the next
        batch follows it.
        """
        self.send(O0, b"ok")
        self.reactor.settle()
        self.cluster.errors[O0] = [error.code]
        retried = self.send(O0, b"retried")
        self.reactor.settle()
        self.assertIsNone(outcome(retried))
        self.assertEqual(self.manager.producer_epoch, 1)  # type: ignore[union-attr]
        self.advance(0.1)
        self.assertEqual(outcome(retried).offset, 1)  # type: ignore[union-attr]
        after = self.send(O0, b"after")
        self.reactor.settle()
        self.assertEqual(outcome(after).offset, 2)  # type: ignore[union-attr]
        self.assertEqual(
            [stamp(r) for _, _, r in self.cluster.produced],
            [
                (PRODUCER_ID, 0, 0),
                (PRODUCER_ID, 0, 1),
                (PRODUCER_ID, 1, 0),
                (PRODUCER_ID, 1, 1),
            ],
        )
        self.assertEqual(self.values(O0), [b"ok", b"retried", b"after"])
        self.assertEqual(len(self.cluster.init_requests), 1)

    def test_out_of_order_oldest_bumps_epoch(self) -> None:
        """
        C{OUT_OF_ORDER_SEQUENCE_NUMBER} for the oldest batch bumps the epoch and
        retries it.
        """
        self.assert_bumps(errors.OutOfOrderSequenceError)

    def test_unknown_producer_id_bumps_epoch(self) -> None:
        """C{UNKNOWN_PRODUCER_ID} bumps the epoch and retries the batch."""
        self.assert_bumps(errors.UnknownProducerIdError)

    def test_bump_waits_for_requests_in_flight(self) -> None:
        """
        The epoch is bumped only once every request in flight was answered, and
        nothing is sent meanwhile.
        """
        self.reactor.settle()
        self.cluster.hold.add(2)
        other = self.send(O1)
        self.reactor.settle()
        self.cluster.errors[O0] = [errors.OutOfOrderSequenceError.code]
        retried = self.send(O0, b"retried")
        self.reactor.settle()
        waiting = self.send(O0, b"waiting")
        self.advance(0.5, 5)
        self.assertEqual([outcome(retried), outcome(waiting)], [None, None])
        self.assertEqual(len(self.cluster.requests_to(1)), 1)
        self.assertEqual(self.manager.producer_epoch, 0)  # type: ignore[union-attr]
        self.cluster.release(2)
        self.reactor.settle()
        self.assertEqual(outcome(other).offset, 0)  # type: ignore[union-attr]
        self.assertEqual([outcome(f).offset for f in (retried, waiting)], [0, 1])  # type: ignore[union-attr]
        self.assertEqual(
            [stamp(r) for r in self.cluster.requests_to(1)[1:]],
            [(PRODUCER_ID, 1, 0), (PRODUCER_ID, 1, 1)],
        )

    def test_retried_batch_during_bump(self) -> None:
        """
        A batch put back for a retry before another partition's sequence error
        still goes out with the epoch it was stamped with (its partition did not
        ask for the bump); the next batch of its partition starts the new epoch.
        """
        self.reactor.settle()
        self.cluster.errors[O1] = [errors.NotLeaderOrFollowerError.code]
        retried = self.send(O1, b"retried")
        self.reactor.settle()
        self.cluster.errors[O0] = [errors.UnknownProducerIdError.code]
        repaired = self.send(O0)
        self.reactor.settle()
        self.advance(0.5, 5)
        self.assertEqual(outcome(repaired).offset, 0)  # type: ignore[union-attr]
        self.assertEqual(stamp(self.cluster.requests_to(1)[-1]), (PRODUCER_ID, 1, 0))
        self.assertEqual(outcome(retried).offset, 0)  # type: ignore[union-attr]
        self.assertEqual(
            stamp(self.cluster.requests_to(2)[-1], O1), (PRODUCER_ID, 0, 0)
        )
        self.assertEqual(self.manager.producer_epoch, 1)  # type: ignore[union-attr]
        after = self.send(O1, b"after")
        self.reactor.settle()
        self.assertEqual(outcome(after).offset, 1)  # type: ignore[union-attr]
        self.assertEqual(
            stamp(self.cluster.requests_to(2)[-1], O1), (PRODUCER_ID, 1, 0)
        )
