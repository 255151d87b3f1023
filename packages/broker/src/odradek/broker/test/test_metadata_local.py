"""
Tests for L{odradek.broker.metadata.local.LocalMetadataStore}.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any, cast

from twisted.internet.defer import Deferred
from twisted.logger import ILogObserver, Logger, LogLevel
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from odradek.broker.config import Endpoint, SecurityProtocol
from odradek.broker.metadata import (
    BrokerConfigChanged,
    BrokerRegistration,
    IMetadataStore,
    LocalMetadataStore,
    MetadataChange,
    MetadataStoreError,
    PartitionsCreated,
    PartitionState,
    PartitionStateChanged,
    TopicConfigChanged,
    TopicCreated,
    TopicDeleted,
    _files,
)
from odradek.client.errors import (
    InvalidConfigurationError,
    InvalidPartitionsError,
    InvalidReplicaAssignmentError,
    InvalidTopicError,
    KafkaStorageError,
    TopicExistsError,
    UnknownTopicOrPartitionError,
)

BROKER = BrokerRegistration(
    1, (Endpoint("PLAINTEXT", SecurityProtocol.PLAINTEXT, "localhost", 9092),)
)
CLUSTER = "Dx4tPEtaaXiHlqW0w9Lh8A"


def _ids() -> Iterator[uuid.UUID]:
    number = 100
    while True:
        number += 1
        yield uuid.UUID(int=number)


class _StoreTestCase(SynchronousTestCase):
    """
    A base for the store tests: opens a store in a temporary directory.
    """

    def setUp(self) -> None:
        self.directory = self.mktemp()
        os.makedirs(self.directory)
        self.ids = _ids()
        self.events: list[dict[str, Any]] = []
        self.store = self.open()

    def open(self) -> LocalMetadataStore:
        return LocalMetadataStore.open(
            self.directory,
            cluster_id=CLUSTER,
            broker=BROKER,
            new_topic_id=lambda: next(self.ids),
            log=Logger(observer=cast(ILogObserver, self.events.append)),
        )

    @property
    def path(self) -> str:
        return os.path.join(self.directory, LocalMetadataStore.FILE_NAME)

    def result(self, deferred: Deferred[Any]) -> Any:
        return self.successResultOf(deferred)

    def error(self, deferred: Deferred[Any], kind: type[Exception]) -> Exception:
        failure = self.failureResultOf(deferred, kind)
        assert isinstance(failure.value, Exception)
        return failure.value


class ReadTests(_StoreTestCase):
    """
    A new store describes a one-broker cluster with no topics.
    """

    def test_interface(self) -> None:
        """
        The store provides L{IMetadataStore}.
        """
        self.assertTrue(verifyObject(IMetadataStore, self.store))

    def test_new(self) -> None:
        """
        A new store has the cluster id, this broker as only broker and controller,
        no topics and no broker overrides; its file exists at once.
        """
        self.assertEqual(self.store.cluster_id, CLUSTER)
        self.assertEqual(self.store.controller_id, 1)
        self.assertEqual(dict(self.store.brokers()), {1: BROKER})
        self.assertEqual(dict(self.store.topics()), {})
        self.assertEqual(dict(self.store.broker_config(None)), {})
        self.assertEqual(dict(self.store.broker_config(1)), {})
        self.assertTrue(os.path.exists(self.path))

    def test_start_stop(self) -> None:
        """
        Starting and stopping fire at once.
        """
        self.assertIsNone(self.result(self.store.start()))
        self.assertIsNone(self.result(self.store.stop()))


class TopicTests(_StoreTestCase):
    """
    Topics are created, described, grown, configured and deleted.
    """

    def test_create(self) -> None:
        """
        A new topic gets a new id, and each partition its first replica as leader
        and all replicas in the ISR.
        """
        topic = self.result(
            self.store.create_topic("orders", [[1], [1]], {"retention.ms": "1000"})
        )
        self.assertEqual(topic.name, "orders")
        self.assertEqual(topic.topic_id, uuid.UUID(int=101))
        self.assertEqual(topic.partitions, (PartitionState((1,), (1,), 1),) * 2)
        self.assertEqual(dict(topic.configs), {"retention.ms": "1000"})
        self.assertEqual(topic.partition_count, 2)
        self.assertEqual(topic.replica_assignment, ((1,), (1,)))
        self.assertFalse(topic.internal)
        self.assertEqual(self.store.topic("orders"), topic)
        self.assertEqual(self.store.topic_by_id(topic.topic_id), topic)
        self.assertEqual(list(self.store.topics()), ["orders"])
        self.assertIsNone(self.store.topic("other"))
        self.assertIsNone(self.store.topic_by_id(uuid.uuid4()))

    def test_create_refused(self) -> None:
        """
        Bad names, existing or colliding names, bad assignments and bad configs are
        refused with Kafka's errors through the Deferred.
        """
        self.result(self.store.create_topic("a.b", [[1]]))
        for deferred, kind in [
            (self.store.create_topic("a.b", [[1]]), TopicExistsError),
            (self.store.create_topic("a_b", [[1]]), InvalidTopicError),
            (self.store.create_topic("bad name", [[1]]), InvalidTopicError),
            (self.store.create_topic("__consumer_offsets", [[1]]), InvalidTopicError),
            (self.store.create_topic("x", [[2]]), InvalidReplicaAssignmentError),
            (self.store.create_topic("x", []), InvalidPartitionsError),
            (
                self.store.create_topic("x", [[1]], {"retention.ms": "soon"}),
                InvalidConfigurationError,
            ),
            (
                self.store.create_topic("x", [[1]], {"retention.days": "1"}),
                InvalidConfigurationError,
            ),
        ]:
            self.error(deferred, kind)
        self.assertEqual(list(self.store.topics()), ["a.b"])

    def test_create_internal(self) -> None:
        """
        The broker may create an internal topic.
        """
        topic = self.result(
            self.store.create_topic("__consumer_offsets", [[1]] * 3, internal=True)
        )
        self.assertTrue(topic.internal)

    def test_unique_ids(self) -> None:
        """
        A topic id already in use is never given again.
        """
        self.result(self.store.create_topic("a", [[1]]))
        self.ids = iter([uuid.UUID(int=101), uuid.UUID(int=7)])
        self.assertEqual(
            self.result(self.store.create_topic("b", [[1]])).topic_id,
            uuid.UUID(int=7),
        )

    def test_delete(self) -> None:
        """
        Deleting a topic returns it; its name may then be used again, with a new id.
        """
        created = self.result(self.store.create_topic("t", [[1]]))
        self.assertEqual(self.result(self.store.delete_topic("t")), created)
        self.assertIsNone(self.store.topic("t"))
        again = self.result(self.store.create_topic("t", [[1]]))
        self.assertNotEqual(again.topic_id, created.topic_id)
        self.error(self.store.delete_topic("missing"), UnknownTopicOrPartitionError)

    def test_grow(self) -> None:
        """
        Partitions are added with the topic's replication factor.
        """
        self.result(self.store.create_topic("t", [[1]]))
        grown = self.result(self.store.create_partitions("t", 3))
        self.assertEqual(grown.replica_assignment, ((1,), (1,), (1,)))
        self.assertEqual(self.store.topic("t"), grown)
        explicit = self.result(self.store.create_partitions("t", 4, [[1]]))
        self.assertEqual(explicit.partition_count, 4)

    def test_never_shrink(self) -> None:
        """
        A count not above the current one raises L{InvalidPartitionsError}.
        """
        self.result(self.store.create_topic("t", [[1], [1]]))
        for count in (1, 2):
            error = self.error(
                self.store.create_partitions("t", count), InvalidPartitionsError
            )
            self.assertIn("partitions can be added, never removed", str(error))
        self.assertEqual(self.store.topic("t").partition_count, 2)  # type: ignore[union-attr]

    def test_grow_refused(self) -> None:
        """
        Unknown topics and wrong assignments are refused.
        """
        self.error(self.store.create_partitions("x", 2), UnknownTopicOrPartitionError)
        self.result(self.store.create_topic("t", [[1]]))
        self.error(
            self.store.create_partitions("t", 3, [[1]]), InvalidReplicaAssignmentError
        )
        self.error(
            self.store.create_partitions("t", 2, [[5]]), InvalidReplicaAssignmentError
        )

    def test_alter_topic_config(self) -> None:
        """
        A topic's overrides are replaced as a whole, and validated.
        """
        self.result(self.store.create_topic("t", [[1]], {"retention.ms": "1"}))
        altered = self.result(
            self.store.alter_topic_config("t", {"segment.bytes": "2097152"})
        )
        self.assertEqual(dict(altered.configs), {"segment.bytes": "2097152"})
        self.error(
            self.store.alter_topic_config("t", {"segment.bytes": "1"}),
            InvalidConfigurationError,
        )
        self.error(self.store.alter_topic_config("x", {}), UnknownTopicOrPartitionError)
        self.assertEqual(self.store.topic("t"), altered)

    def test_alter_broker_config(self) -> None:
        """
        Per-broker and cluster-wide overrides are replaced as a whole, validated
        against the broker keys, and removed by an empty set.
        """
        self.result(self.store.alter_broker_config(None, {"log.retention.ms": "5"}))
        self.result(self.store.alter_broker_config(1, {"message.max.bytes": "10"}))
        self.assertEqual(
            dict(self.store.broker_config(None)), {"log.retention.ms": "5"}
        )
        self.assertEqual(dict(self.store.broker_config(1)), {"message.max.bytes": "10"})
        self.error(
            self.store.alter_broker_config(1, {"num.partitions": "0"}),
            InvalidConfigurationError,
        )
        self.error(
            self.store.alter_broker_config(1, {"no.such.key": "0"}),
            InvalidConfigurationError,
        )
        self.result(self.store.alter_broker_config(None, {}))
        self.assertEqual(dict(self.store.broker_config(None)), {})

    def test_partition_state(self) -> None:
        """
        A new leader bumps the leader epoch; any change bumps the partition epoch.
        """
        self.result(self.store.create_topic("t", [[1]]))
        state = self.result(self.store.alter_partition_state("t", 0, leader=-1, isr=[]))
        self.assertEqual(state, PartitionState((1,), (), -1, 1, 1))
        state = self.result(
            self.store.alter_partition_state("t", 0, leader=-1, isr=[1])
        )
        self.assertEqual(state, PartitionState((1,), (1,), -1, 1, 2))
        same = self.result(self.store.alter_partition_state("t", 0, leader=-1, isr=[1]))
        self.assertEqual(same, state)
        self.assertEqual(self.store.topic("t").partitions[0], state)  # type: ignore[union-attr]
        self.error(
            self.store.alter_partition_state("t", 1, leader=1, isr=[1]),
            UnknownTopicOrPartitionError,
        )
        self.error(
            self.store.alter_partition_state("t", 0, leader=2, isr=[1]),
            InvalidReplicaAssignmentError,
        )


class DurabilityTests(_StoreTestCase):
    """
    The metadata survives restarts and crashes, and bad files stop the broker.
    """

    def test_reopen(self) -> None:
        """
        Everything a store holds is there when it is opened again.
        """
        self.result(self.store.create_topic("a", [[1], [1]], {"retention.ms": "9"}))
        self.result(self.store.create_topic("b.c", [[1]]))
        self.result(self.store.alter_partition_state("a", 1, leader=-1, isr=[]))
        self.result(self.store.alter_broker_config(None, {"log.retention.ms": "5"}))
        self.result(self.store.alter_broker_config(1, {"message.max.bytes": "10"}))
        reopened = self.open()
        self.assertEqual(dict(reopened.topics()), dict(self.store.topics()))
        self.assertEqual(reopened.broker_config(None), self.store.broker_config(None))
        self.assertEqual(reopened.broker_config(1), self.store.broker_config(1))
        self.error(reopened.create_topic("b_c", [[1]]), InvalidTopicError)

    def test_crash_during_write(self) -> None:
        """
        A write that fails before the rename leaves the old file, fails with
        L{KafkaStorageError}, and leaves the store as it was.
        """
        self.result(self.store.create_topic("kept", [[1]]))
        with open(self.path, "rb") as stream:
            before = stream.read()

        def crash(source: str, destination: str) -> None:
            raise OSError(28, "No space left on device")

        self.patch(_files, "_replace", crash)
        error = self.error(self.store.create_topic("lost", [[1]]), KafkaStorageError)
        self.assertIn("No space left on device", str(error))
        with open(self.path, "rb") as stream:
            self.assertEqual(stream.read(), before)
        self.assertEqual(list(self.store.topics()), ["kept"])
        self.assertFalse(os.path.exists(self.path + ".tmp"))

    def test_leftover_temporary_file(self) -> None:
        """
        A temporary file left by a crash is discarded when the store is opened.
        """
        self.result(self.store.create_topic("kept", [[1]]))
        with open(self.path + ".tmp", "wb") as stream:
            stream.write(b'{"half": ')
        self.assertEqual(list(self.open().topics()), ["kept"])
        self.assertFalse(os.path.exists(self.path + ".tmp"))

    def test_corrupt_file(self) -> None:
        """
        A file that is not a valid metadata document stops the store from opening,
        with an error naming the file and the problem.
        """
        for data, reason in [
            (b"{not json", "not valid JSON"),
            (b"\xff\xfe", "not valid JSON"),
            (b"[]", "format"),
            (b'{"format": "odradek-metadata", "version": 9}', "version 9"),
            (b'{"format": "odradek-metadata", "version": 1}', "KeyError"),
        ]:
            with open(self.path, "wb") as stream:
                stream.write(data)
            error = self.assertRaises(MetadataStoreError, self.open)
            self.assertIn(
                f"{self.path} is not a valid Odradek metadata file", str(error)
            )
            self.assertIn(reason, str(error))

    def test_truncated_file(self) -> None:
        """
        A file cut short is refused.
        """
        self.result(self.store.create_topic("t", [[1]]))
        with open(self.path, "rb") as stream:
            data = stream.read()
        with open(self.path, "wb") as stream:
            stream.write(data[: len(data) // 2])
        self.assertRaises(MetadataStoreError, self.open)

    def test_other_cluster(self) -> None:
        """
        A file of another cluster is refused, naming both cluster ids.
        """
        error = self.assertRaises(
            MetadataStoreError,
            LocalMetadataStore.open,
            self.directory,
            cluster_id="other",
            broker=BROKER,
        )
        self.assertIn(f"belongs to cluster {CLUSTER}", str(error))
        self.assertIn("cluster.id other", str(error))


class SubscriptionTests(_StoreTestCase):
    """
    Subscribers hear of every change after it is made.
    """

    def test_changes(self) -> None:
        """
        Each kind of change is announced once, showing the new state.
        """
        changes: list[MetadataChange] = []
        self.store.subscribe(changes.append)
        created = self.result(self.store.create_topic("t", [[1]]))
        grown = self.result(self.store.create_partitions("t", 2))
        configured = self.result(self.store.alter_topic_config("t", {}))
        self.result(self.store.alter_partition_state("t", 1, leader=-1, isr=[]))
        moved = self.store.topic("t")
        self.result(self.store.alter_broker_config(1, {"num.partitions": "2"}))
        deleted = self.result(self.store.delete_topic("t"))
        self.assertEqual(
            changes,
            [
                TopicCreated(created),
                PartitionsCreated(grown, 1),
                TopicConfigChanged(configured),
                PartitionStateChanged(moved, 1),  # type: ignore[arg-type]
                BrokerConfigChanged(1, {"num.partitions": "2"}),
                TopicDeleted(deleted),
            ],
        )

    def test_view_updated_first(self) -> None:
        """
        When a subscriber is called, the store already shows the change.
        """
        seen = []
        self.store.subscribe(lambda change: seen.append(self.store.topic("t")))
        created = self.result(self.store.create_topic("t", [[1]]))
        self.assertEqual(seen, [created])

    def test_refused_change_not_announced(self) -> None:
        """
        A refused change is not announced.
        """
        changes: list[MetadataChange] = []
        self.store.subscribe(changes.append)
        self.error(self.store.delete_topic("missing"), UnknownTopicOrPartitionError)
        self.assertEqual(changes, [])

    def test_unsubscribe(self) -> None:
        """
        After unsubscribing, a subscriber hears nothing; unsubscribing twice is
        harmless.
        """
        changes: list[MetadataChange] = []
        unsubscribe = self.store.subscribe(changes.append)
        unsubscribe()
        unsubscribe()
        self.result(self.store.create_topic("t", [[1]]))
        self.assertEqual(changes, [])

    def test_failing_subscriber(self) -> None:
        """
        A subscriber's exception is logged; the change and other subscribers are
        unaffected.
        """
        changes: list[MetadataChange] = []

        def broken(change: MetadataChange) -> None:
            raise RuntimeError("boom")

        self.store.subscribe(broken)
        self.store.subscribe(changes.append)
        self.result(self.store.create_topic("t", [[1]]))
        self.assertEqual(len(changes), 1)
        [event] = self.events
        self.assertEqual(event["log_level"], LogLevel.critical)
        self.assertEqual(event["subscriber"], broken)
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 0)
