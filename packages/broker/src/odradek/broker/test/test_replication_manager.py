"""
Tests for L{odradek.broker.replication.manager}: partitions kept in step with the
metadata, appends with their per-partition errors, and deletion of records.
Reads and delayed fetches are in L{test_replication_fetch
<odradek.broker.test.test_replication_fetch>}.
"""

from __future__ import annotations

import os

from twisted.trial.unittest import SynchronousTestCase

from odradek.broker.log import TopicPartition
from odradek.broker.replication import (
    AppendOrigin,
    PartitionProduceResult,
    ReplicaManager,
)
from odradek.broker.test._brokertools import NODE_ID, BrokerFixture
from odradek.broker.test._logtools import make_batch
from odradek.client.errors import (
    CorruptRecordError,
    InvalidRequiredAcksError,
    InvalidTopicError,
    KafkaStorageError,
    NotLeaderOrFollowerError,
    OffsetOutOfRangeError,
    OutOfOrderSequenceError,
    UnknownTopicOrPartitionError,
)

ORDERS = TopicPartition("orders", 0)


class ManagerTestCase(SynchronousTestCase):
    """
    A broker with a topic C{orders} of two partitions.
    """

    def setUp(self) -> None:
        self.broker = BrokerFixture(self)
        self.broker.create_topic("orders", 2)
        self.manager = self.broker.replica_manager

    def append(
        self,
        entries: dict[TopicPartition, bytes],
        acks: int = 1,
        origin: AppendOrigin = AppendOrigin.CLIENT,
    ) -> dict[TopicPartition, PartitionProduceResult]:
        """
        @return: the results of an append that completes at once.
        """
        appended = self.manager.append_records(
            timeout_ms=1000, required_acks=acks, entries=entries, origin=origin
        )
        return self.successResultOf(appended)


class MetadataTests(ManagerTestCase):
    """
    The replica manager follows the metadata store.
    """

    def test_topic_created(self) -> None:
        """
        A new topic's partitions get logs with the topic's configs.
        """
        self.broker.create_topic("events", 3, {"retention.ms": "1000"})
        for index in range(3):
            partition = self.broker.partition("events", index)
            self.assertTrue(partition.is_leader)
            self.assertEqual(partition.log.config.retention_ms, 1000)
            self.assertEqual(partition.leader_epoch, 0)

    def test_partitions_created(self) -> None:
        """
        Partitions added to a topic are taken up.
        """
        self.successResultOf(self.broker.metadata.create_partitions("orders", 4))
        self.assertEqual(len(list(self.manager.partitions())), 4)
        self.assertIsNotNone(self.manager.get_partition(TopicPartition("orders", 3)))

    def test_topic_deleted(self) -> None:
        """
        A deleted topic's partitions and logs go.
        """
        directory = self.broker.partition("orders").log.directory
        self.successResultOf(self.broker.metadata.delete_topic("orders"))
        self.assertIsNone(self.manager.get_partition(ORDERS))
        self.assertFalse(os.path.exists(directory))
        self.assertIsNone(self.broker.log_manager.get_log(ORDERS))
        result = self.append({ORDERS: make_batch()})[ORDERS]
        self.assertIsInstance(result.error, UnknownTopicOrPartitionError)

    def test_config_changed(self) -> None:
        """
        A topic's new configs reach its logs.
        """
        self.successResultOf(
            self.broker.metadata.alter_topic_config(
                "orders", {"segment.bytes": "2000000"}
            )
        )
        self.assertEqual(
            self.broker.partition("orders").log.config.segment_bytes, 2000000
        )

    def test_partition_state_changed(self) -> None:
        """
        A new leader epoch reaches the partition, which then refuses appends.
        """
        self.successResultOf(
            self.broker.metadata.alter_partition_state("orders", 0, leader=-1, isr=[1])
        )
        partition = self.broker.partition("orders")
        self.assertEqual((partition.leader_epoch, partition.is_leader), (1, False))
        result = self.append({ORDERS: make_batch()})[ORDERS]
        self.assertIsInstance(result.error, NotLeaderOrFollowerError)

    def test_start_takes_up_existing_topics(self) -> None:
        """
        After a restart the stored topics are taken up with their records.
        """
        self.append({ORDERS: make_batch(3)})
        self.broker.stop()
        reopened = BrokerFixture(self, directory=self.broker.directory)
        partition = reopened.partition("orders")
        self.assertEqual(partition.log_end_offset, 3)
        self.assertEqual(partition.high_watermark, 3)

    def test_stop_unsubscribes(self) -> None:
        """
        A stopped replica manager no longer follows the metadata.
        """
        self.manager.stopService()
        self.broker.create_topic("events")
        self.assertIsNone(self.manager.get_partition(TopicPartition("events", 0)))

    def test_offline_log(self) -> None:
        """
        A partition whose log cannot be created answers KAFKA_STORAGE_ERROR.
        """
        with open(os.path.join(self.broker.directory, "events-0"), "w"):
            pass
        self.broker.create_topic("events")
        events = TopicPartition("events", 0)
        self.assertIsNone(self.manager.get_partition(events))
        self.assertRaises(
            KafkaStorageError, self.manager.get_partition_or_raise, events
        )
        self.flushLoggedErrors()

    def test_not_a_replica(self) -> None:
        """
        A partition hosted elsewhere answers NOT_LEADER_OR_FOLLOWER.
        """
        manager = ReplicaManager(
            node_id=NODE_ID + 1,
            log_manager=self.broker.log_manager,
            metadata=self.broker.metadata,
            config=self.broker.config,
            reactor=self.broker.clock,
        )
        manager.startService()
        self.addCleanup(manager.stopService)
        self.assertRaises(
            NotLeaderOrFollowerError, manager.get_partition_or_raise, ORDERS
        )
        self.assertRaises(
            UnknownTopicOrPartitionError,
            manager.get_partition_or_raise,
            TopicPartition("orders", 2),
        )

    def test_topic_name(self) -> None:
        """
        Topic ids map to names, and unknown ids to C{None}.
        """
        topic = self.broker.metadata.topic("orders")
        assert topic is not None
        self.assertEqual(self.manager.topic_name(topic.topic_id), "orders")
        self.successResultOf(self.broker.metadata.delete_topic("orders"))
        self.assertIsNone(self.manager.topic_name(topic.topic_id))


class AppendTests(ManagerTestCase):
    """
    Appends report per partition.
    """

    def test_append(self) -> None:
        """
        An append reports its offsets, no append time and the log start offset.
        """
        results = self.append({ORDERS: make_batch(2)})
        self.assertEqual(results[ORDERS], PartitionProduceResult(None, 0, 1, -1, 0))
        results = self.append({ORDERS: make_batch(3)})
        self.assertEqual(results[ORDERS], PartitionProduceResult(None, 2, 4, -1, 0))

    def test_log_append_time(self) -> None:
        """
        A LogAppendTime topic reports the time stamped.
        """
        self.broker.create_topic(
            "stamped", 1, {"message.timestamp.type": "LogAppendTime"}
        )
        tp = TopicPartition("stamped", 0)
        result = self.append({tp: make_batch()})[tp]
        self.assertEqual(result.log_append_time, self.broker.now_ms())

    def test_acks_all_completes_at_once(self) -> None:
        """
        With one broker acks=-1 completes at once and leaves no timer.
        """
        results = self.append({ORDERS: make_batch(2)}, acks=-1)
        self.assertIsNone(results[ORDERS].error)
        self.assertEqual(self.manager.delayed_produce_purgatory.delayed, 0)
        self.assertEqual(self.broker.clock.getDelayedCalls(), [])

    def test_invalid_acks(self) -> None:
        """
        Acks other than 0, 1 and -1 fail every partition, and nothing is written.
        """
        results = self.append({ORDERS: make_batch()}, acks=2)
        self.assertIsInstance(results[ORDERS].error, InvalidRequiredAcksError)
        self.assertEqual(self.broker.partition("orders").log_end_offset, 0)

    def test_errors_per_partition(self) -> None:
        """
        One partition's error does not stop the others.
        """
        corrupt = bytearray(make_batch())
        corrupt[-1] ^= 0xFF
        other = TopicPartition("orders", 1)
        results = self.append({ORDERS: bytes(corrupt), other: make_batch()}, acks=-1)
        self.assertIsInstance(results[ORDERS].error, CorruptRecordError)
        self.assertEqual(results[ORDERS].log_start_offset, -1)
        self.assertIsNone(results[other].error)

    def test_producer_errors_report_log_start(self) -> None:
        """
        A sequence error reports the partition's log start offset.
        """
        self.append(
            {ORDERS: make_batch(producer_id=5, producer_epoch=0, base_sequence=0)}
        )
        results = self.append(
            {ORDERS: make_batch(producer_id=5, producer_epoch=0, base_sequence=5)}
        )
        self.assertIsInstance(results[ORDERS].error, OutOfOrderSequenceError)
        self.assertEqual(results[ORDERS].log_start_offset, 0)

    def test_duplicate(self) -> None:
        """
        A producer's retry gets the original offsets and writes nothing.
        """
        batch = make_batch(2, producer_id=5, producer_epoch=0, base_sequence=0)
        self.append({ORDERS: batch})
        self.append({ORDERS: make_batch(1)})
        result = self.append({ORDERS: batch})[ORDERS]
        self.assertEqual((result.error, result.base_offset), (None, 0))
        self.assertEqual(self.broker.partition("orders").log_end_offset, 3)

    def test_internal_topic(self) -> None:
        """
        Producers may not append to internal topics; coordinators may.
        """
        self.successResultOf(
            self.broker.metadata.create_topic(
                "__consumer_offsets", [[NODE_ID]], internal=True
            )
        )
        tp = TopicPartition("__consumer_offsets", 0)
        error = self.append({tp: make_batch()})[tp].error
        self.assertIsInstance(error, InvalidTopicError)
        self.assertIn("internal topic __consumer_offsets", str(error))
        result = self.append({tp: make_batch()}, origin=AppendOrigin.COORDINATOR)[tp]
        self.assertIsNone(result.error)


class DeleteRecordsTests(ManagerTestCase):
    """
    DeleteRecords moves log start offsets and reports low watermarks.
    """

    def test_delete(self) -> None:
        """
        Each partition reports its low watermark or its error.
        """
        self.append({ORDERS: make_batch(5)})
        other = TopicPartition("orders", 1)
        unknown = TopicPartition("missing", 0)
        deleted = self.successResultOf(
            self.manager.delete_records(
                timeout_ms=1000, offsets={ORDERS: 3, other: 1, unknown: 0}
            )
        )
        self.assertEqual(deleted[ORDERS].low_watermark, 3)
        self.assertIsInstance(deleted[other].error, OffsetOutOfRangeError)
        self.assertIsInstance(deleted[unknown].error, UnknownTopicOrPartitionError)

    def test_internal_topic(self) -> None:
        """
        Records of internal topics cannot be deleted.
        """
        tp = TopicPartition("__transaction_state", 0)
        deleted = self.successResultOf(
            self.manager.delete_records(timeout_ms=0, offsets={tp: 0})
        )
        self.assertIsInstance(deleted[tp].error, InvalidTopicError)
