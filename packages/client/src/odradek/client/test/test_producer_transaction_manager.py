"""
Tests for L{odradek.client.producer.transaction_manager}: the idempotent producer's
state on its own, and driven by the L{Sender} against fake brokers.
"""

from __future__ import annotations

from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from odradek.client import errors
from odradek.client.producer.transaction_manager import (
    MAX_PRODUCER_EPOCH,
    MAX_SEQUENCE,
    TransactionManager,
)
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
        self.manager.increment_sequence(O0, 5)
        self.manager.increment_sequence(O0, 5)
        self.assertTrue(self.manager.is_next_in_line(O0, 0))
        self.assertFalse(self.manager.is_next_in_line(O0, 5))
        self.manager.acknowledged(O0, 0, 5)
        self.assertTrue(self.manager.is_next_in_line(O0, 5))
        self.assertEqual(self.manager.in_flight_count(), 1)

    def test_failed_releases_sequence(self) -> None:
        """
        A batch that failed for good no longer holds its sequence.
        """
        self.manager.increment_sequence(O0, 5)
        self.manager.failed(O0, 0)
        self.assertEqual(self.manager.in_flight_count(), 0)
        self.assertEqual(self.manager.next_sequence(O0), 5)

    def test_epoch_bump_required(self) -> None:
        """
        While a bump is required, no batch may be drained.
        """
        self.manager.require_epoch_bump()
        self.assertFalse(self.manager.has_producer_id())
        self.assertEqual(self.manager.producer_id_and_epoch(), (-1, -1))

    def test_bump_epoch(self) -> None:
        """
        A bump keeps the id, takes the next epoch and restarts every sequence.
        """
        self.manager.increment_sequence(O0, 5)
        self.manager.require_epoch_bump()
        self.assertTrue(self.manager.bump_epoch())
        self.assertEqual(self.manager.producer_id_and_epoch(), (7, 4))
        self.assertEqual(self.manager.next_sequence(O0), 0)
        self.assertEqual(self.manager.in_flight_count(), 0)
        self.assertTrue(self.manager.has_producer_id())

    def test_epoch_exhausted(self) -> None:
        """
        At the largest epoch a bump is refused: a new producer id is needed.
        """
        self.manager.set_producer_id_and_epoch(7, MAX_PRODUCER_EPOCH)
        self.assertFalse(self.manager.bump_epoch())
        self.assertFalse(TransactionManager().bump_epoch())

    def test_new_id_restarts_sequences(self) -> None:
        """
        A new producer id clears the bump and every partition's state.
        """
        self.manager.increment_sequence(O0, 5)
        self.manager.require_epoch_bump()
        self.manager.set_producer_id_and_epoch(8, 0)
        self.assertEqual(self.manager.producer_id_and_epoch(), (8, 0))
        self.assertEqual(self.manager.next_sequence(O0), 0)


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
        Answer C{error} for the oldest batch: it fails with it, and the next batch
        goes out with the next epoch and sequence 0, without a new producer id.
        """
        self.send(O0, b"ok")
        self.reactor.settle()
        self.cluster.errors[O0] = [error.code]
        failed = self.send(O0, b"lost")
        self.reactor.settle()
        self.assertIsInstance(outcome(failed), error)
        after = self.send(O0, b"after")
        self.reactor.settle()
        self.assertEqual(outcome(after).offset, 1)  # type: ignore[union-attr]
        self.assertEqual(
            [stamp(r) for _, _, r in self.cluster.produced],
            [(PRODUCER_ID, 0, 0), (PRODUCER_ID, 0, 1), (PRODUCER_ID, 1, 0)],
        )
        self.assertEqual(len(self.cluster.init_requests), 1)

    def test_out_of_order_oldest_bumps_epoch(self) -> None:
        """C{OUT_OF_ORDER_SEQUENCE_NUMBER} for the oldest batch bumps the epoch."""
        self.assert_bumps(errors.OutOfOrderSequenceError)

    def test_unknown_producer_id_bumps_epoch(self) -> None:
        """C{UNKNOWN_PRODUCER_ID} bumps the epoch."""
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
        failed = self.send(O0)
        self.reactor.settle()
        self.assertIsInstance(outcome(failed), errors.OutOfOrderSequenceError)
        waiting = self.send(O0, b"waiting")
        self.advance(0.5, 5)
        self.assertEqual(len(self.cluster.requests_to(1)), 1)
        self.assertEqual(self.manager.producer_epoch, 0)  # type: ignore[union-attr]
        self.cluster.release(2)
        self.reactor.settle()
        self.assertEqual(outcome(other).offset, 0)  # type: ignore[union-attr]
        self.assertEqual(outcome(waiting).offset, 0)  # type: ignore[union-attr]
        self.assertEqual(stamp(self.cluster.requests_to(1)[-1]), (PRODUCER_ID, 1, 0))

    def test_retried_batch_during_bump(self) -> None:
        """
        A batch put back for a retry before another partition's sequence error
        still goes out (with the epoch it was stamped with), instead of keeping
        the bump waiting for ever.
        """
        self.reactor.settle()
        self.cluster.errors[O1] = [errors.NotLeaderOrFollowerError.code]
        retried = self.send(O1, b"retried")
        self.reactor.settle()
        self.cluster.errors[O0] = [errors.UnknownProducerIdError.code]
        failed = self.send(O0)
        self.reactor.settle()
        self.assertIsInstance(outcome(failed), errors.UnknownProducerIdError)
        self.advance(0.5, 5)
        self.assertEqual(outcome(retried).offset, 0)  # type: ignore[union-attr]
        self.assertEqual(self.manager.producer_epoch, 1)  # type: ignore[union-attr]
        after = self.send(O1, b"after")
        self.reactor.settle()
        self.assertEqual(outcome(after).offset, 1)  # type: ignore[union-attr]
        self.assertEqual(
            stamp(self.cluster.requests_to(2)[-1], O1), (PRODUCER_ID, 1, 0)
        )
