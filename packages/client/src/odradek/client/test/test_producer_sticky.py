"""
Tests for L{odradek.client.producer.sticky}: the KIP-794 sticky partitioning of
L{BuiltInPartitioner} and the load statistics of L{collect_partition_load}.
"""

from __future__ import annotations

from collections import Counter

from twisted.trial.unittest import SynchronousTestCase

from odradek.client.producer.sticky import (
    BuiltInPartitioner,
    NodeLatencyStats,
    collect_partition_load,
)
from odradek.client.test._partitionertools import (
    NO_LEADER,
    THREE,
    make_cluster,
    sequential,
)


class BuiltInPartitionerTests(SynchronousTestCase):
    """
    Tests for L{BuiltInPartitioner}, the KIP-794 sticky partitioning.
    """

    def test_sticky_until_batch_size(self) -> None:
        """The partition holds until the sticky batch size was produced to it."""
        partitioner = BuiltInPartitioner("a", 3, random=sequential().__next__)
        first = partitioner.peek_current_partition(THREE)
        for _ in range(3):
            self.assertEqual(partitioner.peek_current_partition(THREE), first)
            partitioner.update_partition_info(1, THREE)
        self.assertNotEqual(partitioner.peek_current_partition(THREE), first)

    def test_one_partition(self) -> None:
        """Switching works with a single partition: it stays on it."""
        partitioner = BuiltInPartitioner("b", 1, random=sequential().__next__)
        for _ in range(10):
            self.assertEqual(partitioner.peek_current_partition(THREE), 0)
            partitioner.update_partition_info(1, THREE)

    def test_uniform_order(self) -> None:
        """Without load statistics, the random number indexes available partitions."""
        partitioner = BuiltInPartitioner("a", 1, random=sequential().__next__)
        chosen = []
        for _ in range(6):
            chosen.append(partitioner.peek_current_partition(THREE))
            partitioner.update_partition_info(1, THREE)
        self.assertEqual(chosen, [0, 1, 2, 0, 1, 2])

    def test_unavailable_partitions(self) -> None:
        """Partitions without a leader are never chosen while others have one."""
        cluster = make_cluster(("a", 0, 0), ("a", 1, NO_LEADER), ("a", 2, 2))
        partitioner = BuiltInPartitioner("a", 1, random=sequential().__next__)
        chosen = Counter[int]()
        for _ in range(100):
            chosen[partitioner.peek_current_partition(cluster)] += 1
            partitioner.update_partition_info(1, cluster)
        self.assertEqual(chosen, {0: 50, 2: 50})

    def test_leader_not_live(self) -> None:
        """A leader that is not a live broker makes its partition unavailable."""
        cluster = make_cluster(("a", 0, 42), ("a", 1, 1))
        partitioner = BuiltInPartitioner("a", 1, random=sequential().__next__)
        for _ in range(5):
            self.assertEqual(partitioner.peek_current_partition(cluster), 1)
            partitioner.update_partition_info(1, cluster)

    def test_no_available_partitions(self) -> None:
        """With no partition available, any partition of the topic is chosen."""
        cluster = make_cluster(("c", 0, NO_LEADER), ("c", 1, NO_LEADER))
        partitioner = BuiltInPartitioner("c", 1, random=sequential().__next__)
        chosen = []
        for _ in range(4):
            chosen.append(partitioner.peek_current_partition(cluster))
            partitioner.update_partition_info(1, cluster)
        self.assertEqual(chosen, [0, 1, 0, 1])

    def test_unknown_topic(self) -> None:
        """A topic without known partitions cannot be partitioned."""
        partitioner = BuiltInPartitioner("nope", 1)
        self.assertRaises(ValueError, partitioner.peek_current_partition, THREE)

    def test_switch_disabled(self) -> None:
        """With switching disabled, the switch waits for twice the batch size."""
        partitioner = BuiltInPartitioner("a", 10, random=sequential().__next__)
        first = partitioner.peek_current_partition(THREE)
        partitioner.update_partition_info(15, THREE, enable_switch=False)
        self.assertEqual(partitioner.peek_current_partition(THREE), first)
        partitioner.update_partition_info(5, THREE, enable_switch=False)
        self.assertNotEqual(partitioner.peek_current_partition(THREE), first)

    def test_enforce_switch(self) -> None:
        """enforce_switch moves to the next partition at once."""
        partitioner = BuiltInPartitioner("a", 1000, random=sequential().__next__)
        first = partitioner.peek_current_partition(THREE)
        partitioner.update_partition_info(0, THREE, enforce_switch=True)
        self.assertNotEqual(partitioner.peek_current_partition(THREE), first)

    def test_update_before_peek(self) -> None:
        """An update before any peek chooses a partition first and counts the bytes."""
        partitioner = BuiltInPartitioner("a", 10, random=sequential().__next__)
        partitioner.update_partition_info(4, THREE)
        self.assertEqual(partitioner.peek_current_partition(THREE), 0)

    def test_batch_size_zero(self) -> None:
        """A batch size of 0 (no batching) counts as 1 byte: every record switches."""
        partitioner = BuiltInPartitioner("a", 0, random=sequential().__next__)
        self.assertEqual(partitioner.sticky_batch_size, 1)
        partitioner.peek_current_partition(THREE)
        partitioner.update_partition_info(1, THREE)
        self.assertEqual(partitioner.peek_current_partition(THREE), 1)

    def test_adaptive_frequencies(self) -> None:
        """With load statistics, partitions are chosen in inverse to their queues."""
        queue_sizes = [5, 0, 3, 0, 1]
        cluster = make_cluster(*(("a", index, index % 3) for index in range(5)))
        partitioner = BuiltInPartitioner("a", 1, random=sequential().__next__)
        partitioner.update_partition_load_stats(queue_sizes, list(range(5)), 5)
        range_end = partitioner.load_stats_range_end
        self.assertEqual(range_end, sum(6 - size for size in queue_sizes))
        assert range_end is not None
        chosen = Counter[int]()
        for _ in range(range_end * 2):
            chosen[partitioner.peek_current_partition(cluster)] += 1
            partitioner.update_partition_info(1, cluster)
        self.assertEqual(
            [chosen[index] for index in range(5)],
            [2 * (6 - size) for size in queue_sizes],
        )

    def test_adaptive_partition_ids(self) -> None:
        """The weighted choice returns partition ids, not indexes."""
        partitioner = BuiltInPartitioner("a", 1, random=lambda: 0)
        partitioner.update_partition_load_stats([0, 9, 9], [2, 0, 1], 3)
        self.assertEqual(partitioner.peek_current_partition(THREE), 2)

    def test_adaptive_equal_queues(self) -> None:
        """Equal queues over all partitions keep the uniform choice."""
        partitioner = BuiltInPartitioner("a", 1)
        partitioner.update_partition_load_stats([2, 2, 2], [0, 1, 2], 3)
        self.assertIsNone(partitioner.load_stats_range_end)

    def test_adaptive_exclusion(self) -> None:
        """Equal queues still weight when some partitions were excluded."""
        partitioner = BuiltInPartitioner("a", 1, random=sequential().__next__)
        partitioner.update_partition_load_stats([2, 2, 0], [0, 2, 1], 2)
        self.assertEqual(partitioner.load_stats_range_end, 2)
        chosen = set()
        for _ in range(10):
            chosen.add(partitioner.peek_current_partition(THREE))
            partitioner.update_partition_info(1, THREE)
        self.assertEqual(chosen, {0, 2})

    def test_adaptive_too_small(self) -> None:
        """Fewer than two partitions, or none left, means no statistics."""
        partitioner = BuiltInPartitioner("a", 1)
        partitioner.update_partition_load_stats([3], [0], 1)
        self.assertIsNone(partitioner.load_stats_range_end)
        partitioner.update_partition_load_stats([3, 1], [0, 1], 0)
        self.assertIsNone(partitioner.load_stats_range_end)

    def test_adaptive_reset(self) -> None:
        """None as queue sizes returns to the uniform choice."""
        partitioner = BuiltInPartitioner("a", 1)
        partitioner.update_partition_load_stats([3, 1], [0, 1], 2)
        self.assertIsNotNone(partitioner.load_stats_range_end)
        partitioner.update_partition_load_stats(None, [], 0)
        self.assertIsNone(partitioner.load_stats_range_end)

    def test_caller_lists_untouched(self) -> None:
        """The queue sizes given are not modified."""
        sizes = [4, 1, 0]
        BuiltInPartitioner("a", 1).update_partition_load_stats(sizes, [0, 1, 2], 3)
        self.assertEqual(sizes, [4, 1, 0])


class CollectPartitionLoadTests(SynchronousTestCase):
    """
    Tests for L{collect_partition_load}.
    """

    def test_not_all_queues(self) -> None:
        """Until every partition has a queue, the choice stays uniform."""
        self.assertIsNone(collect_partition_load("a", THREE, {0: 1, 1: 2}))

    def test_sizes(self) -> None:
        """Queue sizes come out in partition order with their ids."""
        result = collect_partition_load("a", THREE, {2: 5, 0: 1, 1: 0})
        self.assertEqual(result, ([1, 0, 5], [0, 1, 2], 3))

    def test_leaderless_left_out(self) -> None:
        """Partitions without a leader are left out and shorten the length."""
        cluster = make_cluster(("a", 0, 0), ("a", 1, NO_LEADER), ("a", 2, 2))
        result = collect_partition_load("a", cluster, {0: 3, 1: 4, 2: 1})
        self.assertEqual(result, ([3, 1, 0], [0, 2, 0], 2))

    def test_availability_timeout(self) -> None:
        """A leader slow to drain beyond the timeout takes its busy partitions out."""
        stats = {
            0: NodeLatencyStats(ready_time_ms=5000, drain_time_ms=1000),
            1: NodeLatencyStats(ready_time_ms=5000, drain_time_ms=4500),
        }
        queues = {0: 2, 1: 2, 2: 1}
        result = collect_partition_load("a", THREE, queues, stats, 1000)
        self.assertEqual(result, ([2, 1, 0], [1, 2, 0], 2))

    def test_idle_partition_kept(self) -> None:
        """A partition with an empty queue stays, however slow its leader."""
        stats = {0: NodeLatencyStats(ready_time_ms=5000, drain_time_ms=0)}
        result = collect_partition_load("a", THREE, {0: 0, 1: 1, 2: 1}, stats, 1000)
        self.assertEqual(result, ([0, 1, 1], [0, 1, 2], 3))

    def test_timeout_off(self) -> None:
        """A timeout of 0 excludes nothing."""
        stats = {0: NodeLatencyStats(ready_time_ms=5000, drain_time_ms=0)}
        result = collect_partition_load("a", THREE, {0: 2, 1: 1, 2: 1}, stats, 0)
        self.assertEqual(result, ([2, 1, 1], [0, 1, 2], 3))
