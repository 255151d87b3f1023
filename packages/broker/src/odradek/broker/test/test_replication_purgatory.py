"""
Tests for L{odradek.broker.replication.purgatory} and
L{odradek.broker.replication.delayed_produce}: operations completed at once, when a
watched partition changes, on timeout, or dropped when cancelled, never leaving a
timer behind; and C{acks=-1} produces waiting for a follower.
"""

from __future__ import annotations

import uuid

from twisted.internet.defer import CancelledError
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from odradek.broker.log import TopicPartition
from odradek.broker.metadata import PartitionState
from odradek.broker.replication import (
    DelayedOperation,
    DelayedOperationPurgatory,
    DelayedProduce,
    Partition,
    PartitionProduceResult,
    ProducePartitionStatus,
)
from odradek.broker.test._logtools import TP, FakeClock, make_batch, open_log
from odradek.client.errors import (
    CorruptRecordError,
    RequestTimedOutError,
    UnknownTopicOrPartitionError,
)

OTHER = TopicPartition("orders", 1)


class Waiting(DelayedOperation):
    """
    An operation that completes once told it may.
    """

    def __init__(self, delay_ms: int = 100, ready: bool = False) -> None:
        super().__init__(delay_ms)
        self.ready = ready
        self.completions = 0
        self.expirations = 0

    def try_complete(self) -> bool:
        return self.ready and self.force_complete()

    def on_complete(self) -> None:
        self.completions += 1

    def on_expiration(self) -> None:
        self.expirations += 1


class PurgatoryTests(SynchronousTestCase):
    """
    Operations wait in the purgatory until completed, expired or cancelled.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.purgatory = DelayedOperationPurgatory("Test", self.clock)

    def test_complete_at_once(self) -> None:
        """
        An operation that can complete at once is neither watched nor timed.
        """
        operation = Waiting(ready=True)
        self.assertTrue(self.purgatory.try_complete_else_watch(operation, [TP]))
        self.assertEqual(operation.completions, 1)
        self.assertEqual(self.purgatory.watched(TP), 0)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_check_and_complete(self) -> None:
        """
        A watched operation completes once when its partition is checked.
        """
        operation = Waiting()
        self.assertFalse(self.purgatory.try_complete_else_watch(operation, [TP, OTHER]))
        self.assertEqual(self.purgatory.delayed, 1)
        self.assertEqual(self.purgatory.check_and_complete(TP), 0)
        operation.ready = True
        self.assertEqual(self.purgatory.check_and_complete(OTHER), 1)
        self.assertEqual(self.purgatory.check_and_complete(TP), 0)
        self.assertEqual(operation.completions, 1)
        self.assertEqual(self.purgatory.watched(TP), 0)
        self.assertEqual(self.purgatory.delayed, 0)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_unwatched_partition(self) -> None:
        """
        Checking a partition nothing watches completes nothing.
        """
        operation = Waiting()
        self.purgatory.try_complete_else_watch(operation, [TP])
        operation.ready = True
        self.assertEqual(self.purgatory.check_and_complete(OTHER), 0)
        self.assertEqual(operation.completions, 0)

    def test_expire(self) -> None:
        """
        An operation still waiting at its deadline completes and expires.
        """
        operation = Waiting(delay_ms=250)
        self.purgatory.try_complete_else_watch(operation, [TP])
        self.clock.advance(0.249)
        self.assertEqual(operation.completions, 0)
        self.clock.advance(0.001)
        self.assertEqual((operation.completions, operation.expirations), (1, 1))
        self.assertEqual(self.purgatory.watched(TP), 0)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_cancel(self) -> None:
        """
        A cancelled operation is dropped without completing.
        """
        operation = Waiting()
        self.purgatory.try_complete_else_watch(operation, [TP])
        operation.cancel()
        operation.ready = True
        self.assertEqual(self.purgatory.check_and_complete(TP), 0)
        self.assertEqual(operation.completions, 0)
        self.assertTrue(operation.is_completed)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_complete_all(self) -> None:
        """
        At shutdown every waiting operation completes at once.
        """
        operations = [Waiting(), Waiting()]
        for operation in operations:
            self.purgatory.try_complete_else_watch(operation, [TP])
        self.assertEqual(self.purgatory.complete_all(), 2)
        self.assertEqual([op.completions for op in operations], [1, 1])
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_force_complete_once(self) -> None:
        """
        An operation completes only once, however it is completed.
        """
        operation = Waiting()
        self.purgatory.try_complete_else_watch(operation, [TP])
        self.assertTrue(operation.force_complete())
        self.assertFalse(operation.force_complete())
        self.assertEqual(operation.completions, 1)


class Partitions:
    """
    A stand-in for the replica manager, with one partition.
    """

    def __init__(self, partition: Partition | None) -> None:
        self.partition = partition

    def get_partition_or_raise(self, tp: TopicPartition) -> Partition:
        if self.partition is None:
            raise UnknownTopicOrPartitionError(f"no partition {tp}")
        return self.partition


class DelayedProduceTests(SynchronousTestCase):
    """
    An C{acks=-1} produce waits until the high watermark passes its records.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        log = open_log(self.mktemp(), clock=FakeClock())
        self.addCleanup(log.close)
        state = PartitionState(replicas=(1, 2), isr=(1, 2), leader=1)
        self.partition = Partition.create(TP, uuid.uuid4(), 1, log, state)
        self.purgatory = DelayedOperationPurgatory("Produce", self.clock)

    def produce(
        self, partitions: Partitions, failed: PartitionProduceResult | None = None
    ) -> DelayedProduce:
        info, _ = self.partition.append_records_to_leader(
            make_batch(3), required_acks=-1
        )
        statuses = {
            TP: ProducePartitionStatus(
                info.last_offset + 1,
                PartitionProduceResult(None, info.first_offset, info.last_offset),
                acks_pending=True,
            )
        }
        if failed is not None:
            statuses[OTHER] = ProducePartitionStatus(0, failed, acks_pending=False)
        operation = DelayedProduce(1000, statuses, partitions)  # type: ignore[arg-type]
        self.purgatory.try_complete_else_watch(operation, [TP])
        return operation

    def test_waits_for_follower(self) -> None:
        """
        The produce completes once the follower has the records.
        """
        failed = PartitionProduceResult(CorruptRecordError("bad"))
        operation = self.produce(Partitions(self.partition), failed)
        self.assertNoResult(operation.deferred)
        self.partition.update_follower_fetch_state(2, 2, 0)
        self.purgatory.check_and_complete(TP)
        self.assertNoResult(operation.deferred)
        self.partition.update_follower_fetch_state(2, 3, 0)
        self.purgatory.check_and_complete(TP)
        results = self.successResultOf(operation.deferred)
        self.assertEqual(results[TP], PartitionProduceResult(None, 0, 2))
        self.assertIs(results[OTHER], failed)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_timeout(self) -> None:
        """
        A partition still waiting at the timeout answers C{REQUEST_TIMED_OUT}.
        """
        operation = self.produce(Partitions(self.partition))
        self.clock.advance(1)
        result = self.successResultOf(operation.deferred)[TP]
        self.assertIsInstance(result.error, RequestTimedOutError)
        self.assertIn("orders-0", str(result.error))
        self.assertEqual(result.base_offset, 0)

    def test_partition_gone(self) -> None:
        """
        A partition that disappears answers with the replica manager's error.
        """
        partitions = Partitions(self.partition)
        operation = self.produce(partitions)
        partitions.partition = None
        self.purgatory.check_and_complete(TP)
        result = self.successResultOf(operation.deferred)[TP]
        self.assertIsInstance(result.error, UnknownTopicOrPartitionError)

    def test_cancel(self) -> None:
        """
        Cancelling the Deferred drops the operation and its timer.
        """
        operation = self.produce(Partitions(self.partition))
        operation.deferred.cancel()
        self.failureResultOf(operation.deferred, CancelledError)
        self.assertEqual(self.purgatory.delayed, 0)
        self.assertEqual(self.clock.getDelayedCalls(), [])
