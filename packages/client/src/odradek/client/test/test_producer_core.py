"""
Tests for L{odradek.client.producer.core}: the per-record path, flush and close.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from typing import Any

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer
from zope.interface.verify import verifyObject

from odradek.client import FutureRecordMetadata, errors
from odradek.client.config import ConfigError, ProducerConfig
from odradek.client.network.cluster import ClusterMetadata
from odradek.client.producer.core import MissingMetadata, ProducerCore
from odradek.client.producer.murmur2 import murmur2, to_positive
from odradek.client.producer.partitioner import IPartitioner
from odradek.client.protocol import ApiKey
from odradek.client.records import RecordBatchBuilder
from odradek.client.serialization import SerializationError
from odradek.client.structs import ProducerRecord, RecordMetadata, TopicPartition
from odradek.client.test._producertools import (
    FakeCluster,
    FakeReactor,
    outcome,
    partitions,
)

CLOSED = "Cannot perform operation after producer has been closed"


@implementer(IPartitioner)
class FixedPartitioner:
    """
    A partitioner that sends every record to C{partition}, and remembers its
    configuration and whether it was closed.
    """

    partition_chosen: object = 2

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
    ) -> Any:
        return self.partition_chosen

    def configure(self, configs: Mapping[str, object]) -> None:
        self.configs = configs

    def close(self) -> None:
        self.closed = True


class _CoreTestCase(SynchronousTestCase):
    """
    A L{ProducerCore} talking to a L{FakeCluster} with topic orders (three
    partitions: node 1 leads 0 and 2, node 2 leads 1).
    """

    def setUp(self) -> None:
        self.reactor = FakeReactor()
        self.cluster = FakeCluster(
            self.reactor, {"orders": partitions("orders", [1, 2, 1])}
        )

    def core(self, random: Any = None, **settings: object) -> ProducerCore:
        """
        @return: a started core, its metadata for orders known, with C{settings}
            over C{linger.ms=0} and C{bootstrap.servers=boot:9000}.
        """
        config = ProducerConfig(
            {"bootstrap_servers": "boot:9000", "linger_ms": 0, **settings}
        )
        core = ProducerCore(config, self.reactor, random=random)
        core.pool.endpoint_factory = self.cluster.network.endpoint
        core.pool.random = lambda: 0.5
        core.accumulator.random = lambda: 0.5
        core.start()
        self.addCleanup(self._close, core)
        self.successResultOf(core.metadata.wait_for_topic("orders", 1000))
        return core

    def _close(self, core: ProducerCore) -> None:
        core.close(0)
        self.reactor.settle()

    def stored(self, tp: TopicPartition) -> list[tuple[bytes | None, bytes | None]]:
        """@return: the keys and values stored for C{tp}."""
        return [
            (record.key, record.value)
            for batch in self.cluster.log.get(tp, [])
            for record in batch
        ]


class AppendTests(_CoreTestCase):
    """
    L{ProducerCore.append} serializes, checks, partitions and appends a record.
    """

    def test_serializers(self) -> None:
        """
        Keys and values go through the configured serializers.
        """
        core = self.core(key_serializer="str", value_serializer="str")
        future = core.append(
            ProducerRecord("orders", "h\u00e9", key="k", partition=1), None
        )
        self.reactor.settle()
        self.assertEqual(
            self.stored(TopicPartition("orders", 1)), [(b"k", b"h\xc3\xa9")]
        )
        self.assertEqual(outcome(future), RecordMetadata("orders", 1, 0, 0, 1, 3))

    def test_larger_than_max_request_size(self) -> None:
        """
        A record larger than C{max.request.size} once serialized is refused with
        Kafka's message.
        """
        core = self.core(max_request_size=1000)
        value = b"x" * 1000
        size = RecordBatchBuilder.estimate_size_upper_bound(None, value, ())
        error = self.assertRaises(
            errors.RecordTooLargeError,
            core.append,
            ProducerRecord("orders", value),
            None,
        )
        self.assertEqual(
            error.message,
            f"The message is {size} bytes when serialized which is larger than 1000,"
            " which is the value of the max.request.size configuration.",
        )

    def test_larger_than_buffer_memory(self) -> None:
        """
        A record larger than C{buffer.memory} is refused with Kafka's message.
        """
        core = self.core(buffer_memory=500)
        value = b"x" * 600
        size = RecordBatchBuilder.estimate_size_upper_bound(None, value, ())
        error = self.assertRaises(
            errors.RecordTooLargeError,
            core.append,
            ProducerRecord("orders", value),
            None,
        )
        self.assertEqual(
            error.message,
            f"The message is {size} bytes when serialized which is larger than the"
            " total memory buffer you have configured with the buffer.memory"
            " configuration.",
        )

    def test_partition_out_of_range(self) -> None:
        """
        An explicit partition the topic does not have is refused with
        L{MissingMetadata}, an C{UnknownTopicOrPartitionError} naming it; nothing
        is appended.
        """
        core = self.core()
        for partition in (3, 10):
            error = self.assertRaises(
                MissingMetadata,
                core.append,
                ProducerRecord("orders", b"v", partition=partition),
                None,
            )
            self.assertIsInstance(error, errors.UnknownTopicOrPartitionError)
            self.assertEqual(
                error.message,
                f"partition {partition} of topic orders is not in the metadata: "
                "the topic has 3 partition(s)",
            )
        self.assertFalse(core.accumulator.has_undrained())

    def test_topic_not_in_metadata(self) -> None:
        """
        A record for a topic the metadata does not know yet is refused with
        L{MissingMetadata} before anything is serialized: the faces wait for the
        topic and append again.
        """
        core = self.core(value_serializer="str")
        error = self.assertRaises(
            MissingMetadata, core.append, ProducerRecord("fresh", object()), None
        )
        self.assertEqual(error.topic, "fresh")
        self.assertEqual(error.message, "topic fresh is not in the metadata")

    def test_bytes_pass_through(self) -> None:
        """
        With the bytes serializer, bytes go into the batch as they are and a
        bytearray or memoryview is copied; other values are refused, naming the
        topic.
        """
        core = self.core()
        core.append(ProducerRecord("orders", b"v", key=b"k", partition=0), None)
        core.append(
            ProducerRecord(
                "orders", bytearray(b"w"), key=memoryview(b"j"), partition=0
            ),
            None,
        )
        self.assertRaises(
            SerializationError,
            core.append,
            ProducerRecord("orders", "text", partition=0),
            None,
        )
        self.reactor.settle()
        self.assertEqual(
            self.stored(TopicPartition("orders", 0)), [(b"k", b"v"), (b"j", b"w")]
        )

    def test_keyed_records(self) -> None:
        """
        A keyed record goes to C{to_positive(murmur2(key)) % partitions}.
        """
        core = self.core()
        keys = [b"a", b"b", b"c", b"orders-17", b"\x00\xff", b""]
        chosen = [
            core.append(ProducerRecord("orders", b"v", key=key), None).topic_partition
            for key in keys
        ]
        self.assertEqual(
            [tp.partition for tp in chosen],
            [to_positive(murmur2(key)) % 3 for key in keys],
        )

    def test_ignore_keys(self) -> None:
        """
        With C{partitioner.ignore.keys}, keyed records are partitioned as keyless
        ones.
        """
        core = self.core(
            random=itertools.count().__next__, partitioner_ignore_keys=True
        )
        futures = [
            core.append(ProducerRecord("orders", b"v", key=b"c"), None)
            for _ in range(3)
        ]
        self.assertEqual({f.topic_partition.partition for f in futures}, {0})

    def test_sticky_keyless(self) -> None:
        """
        Keyless records stick to one partition until about C{batch.size} bytes
        went to it, then move to another.
        """
        core = self.core(random=itertools.count().__next__, batch_size=1024)
        value = b"v" * 10
        record_size = RecordBatchBuilder.record_size_in_bytes(0, 0, None, value)
        chosen = [
            core.append(ProducerRecord("orders", value), None).topic_partition.partition
            for _ in range(150)
        ]
        first_run = chosen.index(1)
        self.assertEqual(chosen[:first_run], [0] * first_run)
        self.assertGreaterEqual(first_run * record_size, 1024 - record_size)
        self.assertLessEqual(first_run * record_size, 2 * 1024)
        self.assertEqual(chosen[first_run:].index(2), first_run)

    def test_timestamp_defaults_to_now(self) -> None:
        """
        A record without a timestamp gets the reactor's time in milliseconds.
        """
        core = self.core()
        self.reactor.advance(12.345)
        now = core.append(ProducerRecord("orders", b"v", partition=0), None)
        given = core.append(
            ProducerRecord("orders", b"v", partition=0, timestamp=7), None
        )
        self.reactor.settle()
        self.assertEqual([outcome(f).timestamp for f in (now, given)], [12345, 7])  # type: ignore[union-attr]

    def test_callbacks(self) -> None:
        """
        Callbacks receive the record's metadata (offset, timestamp, serialized
        sizes); one that raises does not stop the others.
        """
        core = self.core()
        seen: list[object] = []

        def broken(metadata: object, error: object) -> None:
            raise RuntimeError("broken callback")

        core.append(
            ProducerRecord("orders", b"first", partition=0, timestamp=5), broken
        )
        core.append(
            ProducerRecord("orders", b"second", key=b"key", partition=0, timestamp=6),
            lambda metadata, error: seen.append((metadata, error)),
        )
        self.reactor.settle()
        self.assertEqual(seen, [(RecordMetadata("orders", 0, 1, 6, 3, 6), None)])
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)

    def test_send_after_close(self) -> None:
        """
        A closed core refuses records.
        """
        core = self.core()
        core.close(None)
        error = self.assertRaises(
            errors.IllegalStateError, core.append, ProducerRecord("orders", b"v"), None
        )
        self.assertEqual(error.message, CLOSED)


class PartitionerTests(_CoreTestCase):
    """
    A C{partitioner.class} chooses the partition of records sent without one.
    """

    def assert_partitioner_used(self, spec: object) -> FixedPartitioner:
        core = self.core(partitioner_class=spec)
        future = core.append(ProducerRecord("orders", b"v", key=b"k"), None)
        self.assertEqual(future.topic_partition, TopicPartition("orders", 2))
        partitioner: Any = core._partitioner
        self.assertIsInstance(partitioner, FixedPartitioner)
        self.assertTrue(verifyObject(IPartitioner, partitioner))
        self.assertEqual(partitioner.configs["batch.size"], 16384)
        core.close(0)
        self.assertTrue(partitioner.closed)
        return partitioner  # type: ignore[no-any-return]

    def test_class(self) -> None:
        """A partitioner class is instantiated, configured, used and closed."""
        self.assert_partitioner_used(FixedPartitioner)

    def test_instance(self) -> None:
        """A partitioner instance is used as it is."""
        given = FixedPartitioner()
        self.assertIs(self.assert_partitioner_used(given), given)

    def test_dotted_name(self) -> None:
        """A partitioner named by its import path is loaded."""
        self.assert_partitioner_used(f"{__name__}.FixedPartitioner")

    def test_bad_partition(self) -> None:
        """
        A partitioner choosing a partition the topic does not have, or not a
        number, is an error.
        """
        partitioner = FixedPartitioner()
        core = self.core(partitioner_class=partitioner)
        for bad in (3, -1, "1", None):
            partitioner.partition_chosen = bad
            self.assertRaises(
                errors.IllegalStateError,
                core.append,
                ProducerRecord("orders", b"v"),
                None,
            )

    def test_explicit_partition_wins(self) -> None:
        """A record's own partition is kept whatever the partitioner says."""
        core = self.core(partitioner_class=FixedPartitioner)
        future = core.append(ProducerRecord("orders", b"v", partition=0), None)
        self.assertEqual(future.topic_partition.partition, 0)


class ClientIdTests(_CoreTestCase):
    """
    Without a C{client.id}, producers are named C{producer-N} as in Java.
    """

    def test_numbered(self) -> None:
        """
        Producers without a C{client.id} get consecutive numbers, and the brokers
        see that id.
        """
        first, second = self.core(), self.core()
        match = re.fullmatch(r"producer-(\d+)", first.client_id)
        assert match is not None
        self.assertEqual(second.client_id, f"producer-{int(match.group(1)) + 1}")
        headers = [header for header, _ in self.cluster.brokers[0].requests]
        self.assertEqual(
            {header.client_id for header in headers},
            {first.client_id, second.client_id},
        )

    def test_configured(self) -> None:
        """
        A configured C{client.id} is used as it is.
        """
        core = self.core(client_id="billing")
        core.append(ProducerRecord("orders", b"v", partition=0), None)
        self.reactor.settle()
        [(_, header, _)] = self.cluster.produced
        self.assertEqual((core.client_id, header.client_id), ("billing", "billing"))
        self.assertEqual(header.api_key, ApiKey.PRODUCE)


class TransactionalIdTests(SynchronousTestCase):
    """
    Transactions are not implemented: a C{transactional.id} is refused rather than
    ignored.
    """

    def test_refused(self) -> None:
        """
        A producer with a C{transactional.id} fails to start with a ConfigError
        naming the key and the value.
        """
        config = ProducerConfig(
            {"bootstrap.servers": "boot:9000", "transactional.id": "tx-1"}
        )
        error = self.assertRaises(ConfigError, ProducerCore, config, Clock())
        self.assertEqual((error.name, error.value), ("transactional.id", "tx-1"))
        self.assertIn("not supported yet", str(error))


class LifecycleTests(_CoreTestCase):
    """
    L{ProducerCore.flush} and L{ProducerCore.close}.
    """

    def send(self, core: ProducerCore, partition: int = 0) -> FutureRecordMetadata:
        return core.append(ProducerRecord("orders", b"v", partition=partition), None)

    def test_flush(self) -> None:
        """
        C{flush} sends lingering batches at once and fires once they are
        delivered.
        """
        core = self.core(linger_ms=60_000)
        futures = [self.send(core, 0), self.send(core, 1)]
        self.reactor.settle()
        self.assertEqual(self.cluster.produced, [])
        d = core.flush()
        self.reactor.settle()
        self.successResultOf(d)
        self.assertEqual([outcome(f).offset for f in futures], [0, 0])  # type: ignore[union-attr]
        self.assertFalse(core.accumulator.flush_in_progress())

    def test_close_delivers_then_releases(self) -> None:
        """
        C{close} delivers the waiting records, then leaves no delayed call.
        """
        core = self.core(linger_ms=60_000)
        future = self.send(core)
        d = core.close(None)
        self.reactor.settle()
        self.successResultOf(d)
        self.assertEqual(outcome(future).offset, 0)  # type: ignore[union-attr]
        self.assertTrue(self.reactor.idle())

    def test_close_now(self) -> None:
        """
        C{close(0)} fails the waiting records with C{IllegalStateError}.
        """
        core = self.core(linger_ms=60_000)
        future = self.send(core)
        self.successResultOf(core.close(0))
        self.assertIsInstance(outcome(future), errors.IllegalStateError)
        self.reactor.settle()
        self.assertTrue(self.reactor.idle())
        self.assertEqual(self.cluster.produced, [])

    def test_close_timeout(self) -> None:
        """
        Records still unanswered after C{close}'s timeout fail, and the producer
        is released.
        """
        core = self.core()
        self.cluster.hold.add(1)
        future = self.send(core)
        d = core.close(2.0)
        self.reactor.advance(1.0)
        self.assertNoResult(d)
        self.reactor.advance(1.0)
        self.successResultOf(d)
        self.assertIsInstance(outcome(future), errors.IllegalStateError)
        self.assertTrue(self.reactor.idle())

    def test_close_twice(self) -> None:
        """
        A second C{close} waits for the first; C{close(0)} cuts it short.
        """
        core = self.core()
        self.cluster.hold.add(1)
        future = self.send(core)
        first = core.close(None)
        second = core.close(None)
        self.reactor.settle()
        self.assertNoResult(first)
        self.assertNoResult(second)
        self.successResultOf(core.close(0))
        self.successResultOf(first)
        self.successResultOf(second)
        self.assertIsInstance(outcome(future), errors.IllegalStateError)
