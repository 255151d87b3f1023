"""
Tests for L{odradek.client.producer.partitioner} and
L{odradek.client.producer.murmur2}; the sticky partitioning they build on is
tested in L{odradek.client.test.test_producer_sticky}.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import cast

from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer
from zope.interface.verify import verifyObject

import odradek.client.producer
from odradek.client.config import ConfigError, ProducerConfig
from odradek.client.network.cluster import ClusterMetadata
from odradek.client.producer.murmur2 import murmur2, partition_for_key, to_positive
from odradek.client.producer.partitioner import (
    DefaultPartitioner,
    IPartitioner,
    RoundRobinPartitioner,
    UniformStickyPartitioner,
    load_partitioner_class,
    resolve_partitioner,
)
from odradek.client.records import RecordBatchBuilder
from odradek.client.test._partitionertools import (
    NO_LEADER,
    THREE,
    make_cluster,
    sequential,
)


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
