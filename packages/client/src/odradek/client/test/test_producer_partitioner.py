"""
Tests for L{odradek.client.producer.partitioner} and
L{odradek.client.producer.murmur2}.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Mapping
from typing import cast

from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer
from zope.interface.verify import verifyObject

import odradek.client.producer
from odradek.client.config import ConfigError, ProducerConfig
from odradek.client.network.cluster import ClusterMetadata, Node, PartitionInfo
from odradek.client.producer.murmur2 import murmur2, partition_for_key, to_positive
from odradek.client.producer.partitioner import (
    DefaultPartitioner,
    IPartitioner,
    RoundRobinPartitioner,
    UniformStickyPartitioner,
    load_partitioner_class,
    resolve_partitioner,
)
from odradek.client.producer.sticky import (
    BuiltInPartitioner,
    NodeLatencyStats,
    collect_partition_load,
)
from odradek.client.records import RecordBatchBuilder

NODES = (
    Node(0, "localhost", 99),
    Node(1, "localhost", 100),
    Node(2, "localhost", 101),
    Node(11, "localhost", 102),
)
NO_LEADER = -1


def make_cluster(*partitions: tuple[str, int, int]) -> ClusterMetadata:
    """
    A cluster of L{NODES} with the given C{(topic, partition, leader)} partitions;
    a leader of -1 means none.
    """
    return ClusterMetadata.from_brokers(
        NODES,
        [PartitionInfo(topic, index, leader) for topic, index, leader in partitions],
    )


def sequential() -> itertools.count[int]:
    """A random source that counts 0, 1, 2 ... (Java's SequentialPartitioner)."""
    return itertools.count()


THREE = make_cluster(("a", 0, 0), ("a", 1, 1), ("a", 2, 2), ("b", 0, 0))


@implementer(IPartitioner)
class RecordingPartitioner:
    """A partitioner that sends everything to partition 0 and records calls."""

    def __init__(self) -> None:
        self.configs: Mapping[str, object] | None = None
        self.closed = False

    def partition(
        self,
        topic: str,
        key: object,
        key_bytes: bytes | None,
        value: object,
        value_bytes: bytes | None,
        cluster: ClusterMetadata,
    ) -> int:
        return 0

    def configure(self, configs: Mapping[str, object]) -> None:
        self.configs = configs

    def close(self) -> None:
        self.closed = True


class Murmur2Tests(SynchronousTestCase):
    """
    Tests for L{murmur2}, L{to_positive} and L{partition_for_key}.
    """

    def test_java_vectors(self) -> None:
        """The hash equals Java's Utils.murmur2 on the vectors of Kafka's UtilsTest."""
        cases = {
            b"21": -973932308,
            b"foobar": -790332482,
            b"a-little-bit-long-string": -985981536,
            b"a-little-bit-longer-string": -1486304829,
            b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
            b"abc": 479470107,
        }
        self.assertEqual({key: murmur2(key) for key in cases}, cases)

    def test_buffers(self) -> None:
        """A bytearray or memoryview hashes as the same bytes do."""
        key = b"a-little-bit-longer-string"
        self.assertEqual(murmur2(bytearray(key)), murmur2(key))
        self.assertEqual(murmur2(memoryview(key)), murmur2(key))

    def test_signed_32_bits(self) -> None:
        """The hash is a signed 32-bit integer for keys of every length."""
        for length in range(40):
            value = murmur2(bytes(range(length)))
            self.assertTrue(-(2**31) <= value < 2**31, length)

    def test_to_positive(self) -> None:
        """to_positive clears the sign bit, as Java's Utils.toPositive."""
        self.assertEqual(to_positive(5), 5)
        self.assertEqual(to_positive(-1), 0x7FFFFFFF)
        self.assertEqual(to_positive(-(2**31)), 0)
        self.assertEqual(to_positive(-790332482), 1357151166)

    def test_partition_for_key(self) -> None:
        """A key's partition is to_positive(murmur2(key)) modulo the count."""
        self.assertEqual(partition_for_key(b"foobar", 10), 1357151166 % 10)
        self.assertEqual(partition_for_key(b"abc", 7), 479470107 % 7)
        self.assertEqual(partition_for_key(b"21", 1), 0)


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


class DefaultPartitionerTests(SynchronousTestCase):
    """
    Tests for L{DefaultPartitioner}.
    """

    def test_interface(self) -> None:
        """DefaultPartitioner provides IPartitioner."""
        self.assertTrue(verifyObject(IPartitioner, DefaultPartitioner()))

    def test_key_stable(self) -> None:
        """The same key yields the same partition, murmur2 over the count."""
        partitioner = DefaultPartitioner()
        partitioner.configure({})
        chosen = {
            partitioner.partition("a", None, b"key", None, None, THREE)
            for _ in range(5)
        }
        self.assertEqual(chosen, {partition_for_key(b"key", 3)})

    def test_key_over_all_partitions(self) -> None:
        """Keys map over all partitions, even one without a leader."""
        cluster = make_cluster(("a", 0, 0), ("a", 1, NO_LEADER), ("a", 2, 2))
        partitioner = DefaultPartitioner()
        partitioner.configure({})
        self.assertEqual(partition_for_key(b"key0", 3), 1)
        self.assertEqual(
            partitioner.partition("a", "k", b"key0", None, None, cluster), 1
        )

    def test_keyless_sticky(self) -> None:
        """Keyless records stick to a partition for about batch.size bytes."""
        partitioner = DefaultPartitioner(random=sequential().__next__)
        partitioner.configure({"batch.size": 100})
        value = b"x" * 30
        size = RecordBatchBuilder.record_size_in_bytes(0, 0, None, value)
        per_partition = -(-100 // size)
        chosen = [
            partitioner.partition("a", None, None, None, value, THREE)
            for _ in range(per_partition * 2)
        ]
        self.assertEqual(chosen, [0] * per_partition + [1] * per_partition)

    def test_ignore_keys(self) -> None:
        """With partitioner.ignore.keys, keyed records are sticky too."""
        partitioner = DefaultPartitioner(random=lambda: 2)
        partitioner.configure({"partitioner.ignore.keys": "true"})
        self.assertNotEqual(partition_for_key(b"key0", 3), 2)
        self.assertEqual(partitioner.partition("a", "k", b"key0", None, b"v", THREE), 2)

    def test_topics_apart(self) -> None:
        """Each topic has its own sticky partition."""
        partitioner = DefaultPartitioner(random=lambda: 1)
        partitioner.configure({})
        self.assertEqual(partitioner.partition("a", None, None, None, b"", THREE), 1)
        self.assertEqual(partitioner.partition("b", None, None, None, b"", THREE), 0)

    def test_close(self) -> None:
        """close forgets the sticky partitions."""
        counter = sequential()
        partitioner = DefaultPartitioner(random=counter.__next__)
        partitioner.configure({})
        first = partitioner.partition("a", None, None, None, b"", THREE)
        partitioner.close()
        self.assertNotEqual(
            partitioner.partition("a", None, None, None, b"", THREE), first
        )


class UniformStickyPartitionerTests(SynchronousTestCase):
    """
    Tests for L{UniformStickyPartitioner}.
    """

    def test_interface(self) -> None:
        """UniformStickyPartitioner provides IPartitioner."""
        self.assertTrue(verifyObject(IPartitioner, UniformStickyPartitioner()))

    def test_keys_ignored(self) -> None:
        """Keyed records stick like keyless ones, until batch.size bytes."""
        partitioner = UniformStickyPartitioner(random=sequential().__next__)
        partitioner.configure({"batch.size": "1"})
        chosen = [
            partitioner.partition("a", "k", b"key0", None, b"v", THREE)
            for _ in range(4)
        ]
        self.assertEqual(chosen, [0, 1, 2, 0])


class RoundRobinPartitionerTests(SynchronousTestCase):
    """
    Tests for L{RoundRobinPartitioner}, after Kafka's RoundRobinPartitionerTest.
    """

    def test_interface(self) -> None:
        """RoundRobinPartitioner provides IPartitioner."""
        self.assertTrue(verifyObject(IPartitioner, RoundRobinPartitioner()))

    def test_unavailable_partitions(self) -> None:
        """Only available partitions are chosen, evenly."""
        cluster = make_cluster(("t", 1, NO_LEADER), ("t", 2, 1), ("t", 0, 0))
        partitioner = RoundRobinPartitioner()
        chosen = Counter(
            partitioner.partition("t", None, None, None, None, cluster)
            for _ in range(100)
        )
        self.assertEqual(chosen, {0: 50, 2: 50})

    def test_keys_and_topics(self) -> None:
        """Keys are ignored and each topic has its own turn."""
        partitioner = RoundRobinPartitioner()
        chosen = Counter[int]()
        for i in range(30):
            chosen[partitioner.partition("a", None, b"key", None, None, THREE)] += 1
            if i % 5 == 0:
                partitioner.partition("b", None, b"key", None, None, THREE)
        self.assertEqual(chosen, {0: 10, 1: 10, 2: 10})

    def test_order(self) -> None:
        """Partitions come in turn, from the first."""
        partitioner = RoundRobinPartitioner()
        chosen = [
            partitioner.partition("a", None, None, None, None, THREE) for _ in range(4)
        ]
        self.assertEqual(chosen, [0, 1, 2, 0])

    def test_none_available(self) -> None:
        """With no partition available, all partitions take turns."""
        cluster = make_cluster(("c", 0, NO_LEADER), ("c", 1, NO_LEADER))
        partitioner = RoundRobinPartitioner()
        chosen = [
            partitioner.partition("c", None, None, None, None, cluster)
            for _ in range(3)
        ]
        self.assertEqual(chosen, [0, 1, 0])

    def test_new_batch_not_skipped(self) -> None:
        """A record partitioned again for a new batch gets the same partition."""
        partitioner = RoundRobinPartitioner()
        first = partitioner.partition("a", None, None, None, None, THREE)
        partitioner._on_new_batch("a", THREE, first)
        again = partitioner.partition("a", None, None, None, None, THREE)
        after = partitioner.partition("a", None, None, None, None, THREE)
        self.assertEqual((first, again, after), (0, 0, 1))

    def test_close(self) -> None:
        """close starts the turns over."""
        partitioner = RoundRobinPartitioner()
        partitioner.partition("a", None, None, None, None, THREE)
        partitioner.close()
        self.assertEqual(partitioner.partition("a", None, None, None, None, THREE), 0)


class ResolvePartitionerTests(SynchronousTestCase):
    """
    Tests for L{resolve_partitioner} and L{load_partitioner_class}.
    """

    def test_none(self) -> None:
        """No partitioner.class means the built-in partitioning."""
        self.assertIsNone(resolve_partitioner(None))
        self.assertIsNone(load_partitioner_class(None))

    def test_class(self) -> None:
        """A class is instantiated and configured with the settings."""
        partitioner = resolve_partitioner(RecordingPartitioner, {"batch.size": 1})
        self.assertIsInstance(partitioner, RecordingPartitioner)
        recording = cast(RecordingPartitioner, partitioner)
        self.assertEqual(recording.configs, {"batch.size": 1})

    def test_instance(self) -> None:
        """An instance is used as it is, and configured."""
        instance = RecordingPartitioner()
        self.assertIs(resolve_partitioner(instance), instance)
        self.assertEqual(instance.configs, {})

    def test_import_path(self) -> None:
        """An import path is imported."""
        for spec in (
            f"{__name__}:RecordingPartitioner",
            f"{__name__}.RecordingPartitioner",
        ):
            self.assertIsInstance(resolve_partitioner(spec), RecordingPartitioner)

    def test_java_names(self) -> None:
        """Java's partitioner class names map to the partitioners here."""
        java = "org.apache.kafka.clients.producer."
        for name, cls in [
            ("internals.DefaultPartitioner", DefaultPartitioner),
            ("UniformStickyPartitioner", UniformStickyPartitioner),
            ("RoundRobinPartitioner", RoundRobinPartitioner),
        ]:
            self.assertIs(load_partitioner_class(java + name), cls)
            self.assertIsInstance(resolve_partitioner(java + name), cls)

    def test_load_does_not_instantiate(self) -> None:
        """load_partitioner_class returns the class itself."""
        self.assertIs(
            load_partitioner_class(RecordingPartitioner), RecordingPartitioner
        )

    def test_bad(self) -> None:
        """Anything but an IPartitioner is a ConfigError naming it."""
        for spec in ("no_such_module_xyz:P", "os.path:join", object, object(), 3):
            error = self.assertRaises(ConfigError, resolve_partitioner, spec)
            self.assertIn(repr(spec), str(error))

    def test_producer_config(self) -> None:
        """A producer configuration configures the partitioner it names."""
        instance = DefaultPartitioner(random=sequential().__next__)
        config = ProducerConfig(
            bootstrap_servers="h:1",
            partitioner_class=instance,
            partitioner_ignore_keys=True,
            batch_size=1,
        )
        self.assertIs(resolve_partitioner(config.partitioner_class, config), instance)
        partitioner = instance
        chosen = [
            partitioner.partition("a", "k", b"key0", None, b"v", THREE)
            for _ in range(3)
        ]
        self.assertEqual(chosen, [0, 1, 2])


class PublicNamesTests(SynchronousTestCase):
    """
    The public names of L{odradek.client.producer}.
    """

    def test_all(self) -> None:
        """The package exports the partitioning names."""
        self.assertEqual(
            sorted(odradek.client.producer.__all__),
            [
                "BuiltInPartitioner",
                "DefaultPartitioner",
                "IPartitioner",
                "NodeLatencyStats",
                "RoundRobinPartitioner",
                "UniformStickyPartitioner",
                "collect_partition_load",
                "load_partitioner_class",
                "murmur2",
                "partition_for_key",
                "resolve_partitioner",
                "to_positive",
            ],
        )
        for name in odradek.client.producer.__all__:
            self.assertTrue(hasattr(odradek.client.producer, name), name)
