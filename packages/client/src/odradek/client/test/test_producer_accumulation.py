"""
Tests for L{odradek.client.producer.accumulation}: the parts of the accumulator's
state and rules that stand on their own.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from odradek.client.producer.accumulation import (
    CompressionRatioEstimator,
    DrainOrder,
    FlushHandle,
    ready_check,
)
from odradek.client.producer.future import ProduceRequestResult
from odradek.client.test._accumulatortools import (
    T0,
    T1,
    T2,
    T3,
    accumulator,
    append,
    cluster,
)


class CompressionRatioEstimatorTests(SynchronousTestCase):
    """
    Tests for L{CompressionRatioEstimator}.
    """

    def test_starts_at_one(self) -> None:
        """A topic never observed is estimated not to compress."""
        self.assertEqual(CompressionRatioEstimator().estimation("t"), 1.0)

    def test_better_ratio_slowly(self) -> None:
        """A better ratio moves the estimate down by 0.005 at a time, per topic."""
        estimator = CompressionRatioEstimator()
        estimator.observe("t", 100, 1000)
        self.assertEqual(estimator.estimation("t"), 1.0 - 0.005)
        self.assertEqual(estimator.estimation("other"), 1.0)

    def test_worse_ratio_quickly(self) -> None:
        """A worse ratio moves the estimate up at once, by at least 0.05."""
        estimator = CompressionRatioEstimator()
        for _ in range(20):
            estimator.observe("t", 100, 1000)
        low = estimator.estimation("t")
        estimator.observe("t", 1000, 1000)
        self.assertEqual(estimator.estimation("t"), 1.0)
        estimator.observe("t", 1010, 1000)
        self.assertEqual(estimator.estimation("t"), 1.05)
        self.assertLess(low, 0.95)

    def test_nothing_to_observe(self) -> None:
        """A batch without records (uncompressed size 0) changes nothing."""
        estimator = CompressionRatioEstimator()
        estimator.observe("t", 10, 0)
        self.assertEqual(estimator.estimation("t"), 1.0)


class DrainOrderTests(SynchronousTestCase):
    """
    Tests for L{DrainOrder}.
    """

    def test_partitions_by_leader(self) -> None:
        """Each node gets the partitions it leads; leaderless ones go to none."""
        order = DrainOrder()
        metadata = cluster({0: 0, 1: 1, 2: 0, 3: -1})
        self.assertEqual(order.partitions(metadata, 0), [T0, T2])
        self.assertEqual(order.partitions(metadata, 1), [T1])
        self.assertEqual(order.partitions(metadata, 7), [])

    def test_new_snapshot(self) -> None:
        """A new metadata snapshot replaces the partitions of every node."""
        order = DrainOrder()
        order.partitions(cluster(), 0)
        self.assertEqual(order.partitions(cluster({3: 0}), 0), [T3])

    def test_rotation(self) -> None:
        """Each drain of a node starts one partition further, wrapping around."""
        order = DrainOrder()
        self.assertEqual([order.start(0, 3) for _ in range(4)], [0, 1, 2, 0])
        self.assertEqual(order.start(1, 2), 0)

    def test_resume_at(self) -> None:
        """A drain cut short makes the next one start where it stopped."""
        order = DrainOrder()
        order.start(0, 3)
        order.resume_at(0, 2)
        self.assertEqual(order.start(0, 3), 2)


class FlushHandleTests(SynchronousTestCase):
    """
    Tests for L{FlushHandle}.
    """

    def test_wait(self) -> None:
        """Waiting succeeds once every result is complete, and fails in time if not."""
        first, second = ProduceRequestResult(T0), ProduceRequestResult(T1)
        handle = FlushHandle((first, second))
        first.complete(0, -1)
        self.assertFalse(handle.done())
        self.assertFalse(handle.wait(0, lambda: 0.0))
        second.complete(5, -1)
        self.assertTrue(handle.done())
        self.assertTrue(handle.wait(None, lambda: 0.0))

    def test_empty(self) -> None:
        """A flush with no batch to wait for is done at once."""
        handle = FlushHandle(())
        self.assertTrue(handle.done())
        self.assertTrue(handle.wait(0, lambda: 0.0))


class ReadyCheckTests(SynchronousTestCase):
    """
    Tests for L{ready_check} on its own.
    """

    def test_forced(self) -> None:
        """A forced check finds a lingering batch's leader ready at once."""
        acc = accumulator(linger_ms=10_000)
        append(acc, T1)
        queues = [list(dq) for dq in acc._queues()]
        lingering = ready_check(queues, cluster(), (), 10_000, 5000, False, 0)
        self.assertEqual(lingering.ready_nodes, frozenset())
        self.assertEqual(lingering.next_ready_check_delay_ms, 5000)
        forced = ready_check(queues, cluster(), (), 10_000, 5000, True, 0)
        self.assertEqual(forced.ready_nodes, {1})

    def test_muted(self) -> None:
        """A muted partition's leader is not ready, even when forced."""
        acc = accumulator()
        append(acc, T0)
        queues = [list(dq) for dq in acc._queues()]
        result = ready_check(queues, cluster(), {T0}, 10, 5000, True, 100)
        self.assertEqual(result.ready_nodes, frozenset())
