"""
Tests for L{odradek.broker.replication.partition}: leadership, the high watermark
with and without followers, the ISR checks of appends, leader epoch fencing, reads
bounded by the high watermark, ListOffsets lookups and DeleteRecords.
"""

from __future__ import annotations

import uuid
from typing import Any

import attrs
from twisted.trial.unittest import SynchronousTestCase

from odradek.broker.log import (
    EARLIEST_LOCAL_TIMESTAMP,
    EARLIEST_TIMESTAMP,
    LATEST_TIMESTAMP,
    MAX_TIMESTAMP,
    LogConfig,
    TimestampAndOffset,
)
from odradek.broker.metadata import PartitionState
from odradek.broker.replication import (
    LATEST_TIERED_TIMESTAMP,
    FetchIsolation,
    IsolationLevel,
    Partition,
)
from odradek.broker.test._logtools import (
    START_MS,
    TP,
    FakeClock,
    make_batch,
    open_log,
)
from odradek.client.errors import (
    FencedLeaderEpochError,
    NotEnoughReplicasAfterAppendError,
    NotEnoughReplicasError,
    NotLeaderOrFollowerError,
    OffsetNotAvailableError,
    OffsetOutOfRangeError,
    PolicyViolationError,
    UnknownLeaderEpochError,
)

TOPIC_ID = uuid.UUID(int=7)
ALONE = PartitionState(replicas=(1,), isr=(1,), leader=1, leader_epoch=3)
WITH_FOLLOWER = PartitionState(replicas=(1, 2), isr=(1, 2), leader=1, leader_epoch=3)


class PartitionTestCase(SynchronousTestCase):
    """
    Builds partitions over logs in the test's temporary directory.
    """

    def partition(
        self, state: PartitionState = ALONE, config: LogConfig | None = None
    ) -> Partition:
        """
        @return: a partition of L{TP} on broker 1.
        """
        self.clock = FakeClock()
        log = open_log(self.mktemp(), config, self.clock)
        self.addCleanup(log.close)
        return Partition.create(TP, TOPIC_ID, 1, log, state)

    def append(self, partition: Partition, count: int = 2, acks: int = 1) -> bool:
        """
        Append a batch of C{count} records.

        @return: whether the high watermark moved.
        """
        _, moved = partition.append_records_to_leader(
            make_batch(count), required_acks=acks
        )
        return moved


class LeadershipTests(PartitionTestCase):
    """
    The partition takes its leader, epoch and ISR from the metadata.
    """

    def test_leader(self) -> None:
        """
        A partition whose state names this broker leads it, in the state's epoch.
        """
        partition = self.partition()
        self.assertTrue(partition.is_leader)
        self.assertEqual(partition.leader_epoch, 3)
        self.assertEqual(partition.isr, frozenset({1}))

    def test_leader_high_watermark_at_log_end(self) -> None:
        """
        A new leader alone in its ISR moves the high watermark to the log end.
        """
        partition = self.partition()
        self.append(partition, 4)
        partition.log.high_watermark = 0
        partition.update_state(attrs.evolve(ALONE, leader_epoch=4))
        self.assertEqual(partition.high_watermark, 4)

    def test_follower_cannot_append(self) -> None:
        """
        A broker that does not lead refuses appends, naming the leader.
        """
        partition = self.partition(attrs.evolve(WITH_FOLLOWER, leader=2))
        error = self.assertRaises(
            NotLeaderOrFollowerError,
            partition.append_records_to_leader,
            make_batch(),
            required_acks=1,
        )
        self.assertIn("orders-0", str(error))
        self.assertIn("the leader is 2", str(error))

    def test_update_state_reports_leader_change(self) -> None:
        """
        L{Partition.update_state} says whether the leader epoch changed.
        """
        partition = self.partition()
        self.assertFalse(partition.update_state(attrs.evolve(ALONE, partition_epoch=1)))
        self.assertTrue(partition.update_state(attrs.evolve(ALONE, leader_epoch=4)))


class HighWatermarkTests(PartitionTestCase):
    """
    The high watermark is the smallest log end offset in the ISR.
    """

    def test_alone(self) -> None:
        """
        Alone in the ISR, the leader moves the high watermark with every append.
        """
        partition = self.partition()
        self.assertTrue(self.append(partition, 3))
        self.assertEqual(partition.high_watermark, 3)
        self.assertEqual(partition.last_stable_offset, 3)

    def test_waits_for_follower(self) -> None:
        """
        The high watermark waits for a follower in the ISR.
        """
        partition = self.partition(WITH_FOLLOWER)
        self.assertFalse(self.append(partition, 3))
        self.assertEqual(partition.high_watermark, 0)
        self.assertTrue(partition.update_follower_fetch_state(2, 2, 0))
        self.assertEqual(partition.high_watermark, 2)
        self.assertTrue(partition.update_follower_fetch_state(2, 3, 0))
        self.assertEqual(partition.high_watermark, 3)

    def test_follower_outside_isr(self) -> None:
        """
        A follower outside the ISR does not hold the high watermark back.
        """
        partition = self.partition(attrs.evolve(WITH_FOLLOWER, isr=(1,)))
        self.assertTrue(self.append(partition, 3))
        self.assertEqual(partition.high_watermark, 3)

    def test_stranger(self) -> None:
        """
        A broker that is not a replica cannot report a fetch state.
        """
        partition = self.partition(WITH_FOLLOWER)
        self.assertRaises(
            NotLeaderOrFollowerError, partition.update_follower_fetch_state, 3, 0, 0
        )

    def test_low_watermark(self) -> None:
        """
        The low watermark is the smallest log start offset of the replicas.
        """
        partition = self.partition(WITH_FOLLOWER)
        self.append(partition, 3)
        partition.update_follower_fetch_state(2, 3, 1)
        self.assertEqual(partition.low_watermark, 0)
        partition.delete_records_on_leader(2)
        self.assertEqual(partition.low_watermark, 1)


class AcknowledgementTests(PartitionTestCase):
    """
    C{acks=-1} appends need C{min.insync.replicas} in the ISR.
    """

    def test_not_enough_replicas(self) -> None:
        """
        acks=-1 with too small an ISR fails before writing anything.
        """
        partition = self.partition(config=LogConfig(min_insync_replicas=2))
        error = self.assertRaises(
            NotEnoughReplicasError,
            partition.append_records_to_leader,
            make_batch(),
            required_acks=-1,
        )
        self.assertIn("min.isr requirement of 2", str(error))
        self.assertEqual(partition.log_end_offset, 0)

    def test_acks_one_ignores_min_isr(self) -> None:
        """
        C{acks=1} appends do not depend on the size of the ISR.
        """
        partition = self.partition(config=LogConfig(min_insync_replicas=2))
        self.append(partition, 1, acks=1)
        self.assertEqual(partition.log_end_offset, 1)

    def test_enough_replicas_reach_offset(self) -> None:
        """
        An append is acknowledged once the high watermark passes its records.
        """
        partition = self.partition(WITH_FOLLOWER)
        self.append(partition, 3, acks=-1)
        self.assertEqual(partition.check_enough_replicas_reach_offset(3), (False, None))
        partition.update_follower_fetch_state(2, 3, 0)
        self.assertEqual(partition.check_enough_replicas_reach_offset(3), (True, None))

    def test_isr_shrank_after_append(self) -> None:
        """
        An ISR shrunk after the append answers NOT_ENOUGH_REPLICAS_AFTER_APPEND.
        """
        partition = self.partition(
            WITH_FOLLOWER, config=LogConfig(min_insync_replicas=2)
        )
        self.append(partition, 3, acks=-1)
        partition.update_state(attrs.evolve(WITH_FOLLOWER, isr=(1,)))
        done, error = partition.check_enough_replicas_reach_offset(3)
        self.assertTrue(done)
        self.assertIsInstance(error, NotEnoughReplicasAfterAppendError)

    def test_lost_leadership(self) -> None:
        """
        A waiting append learns that the broker lost the leadership.
        """
        partition = self.partition(WITH_FOLLOWER)
        self.append(partition, 3, acks=-1)
        partition.update_state(attrs.evolve(WITH_FOLLOWER, leader=2, leader_epoch=4))
        done, error = partition.check_enough_replicas_reach_offset(3)
        self.assertFalse(done)
        self.assertIsInstance(error, NotLeaderOrFollowerError)


class ReadTests(PartitionTestCase):
    """
    Reads check the leader epoch and stop at the offset the reader may see.
    """

    def test_fenced_epoch(self) -> None:
        """
        Older leader epochs are fenced, newer ones unknown, -1 unchecked.
        """
        partition = self.partition()
        read = partition.read_records
        kwargs: dict[str, Any] = {
            "fetch_offset": 0,
            "max_bytes": 100,
            "isolation": FetchIsolation.HIGH_WATERMARK,
            "min_one_message": True,
        }
        self.assertRaises(
            FencedLeaderEpochError, read, current_leader_epoch=2, **kwargs
        )
        self.assertRaises(
            UnknownLeaderEpochError, read, current_leader_epoch=4, **kwargs
        )
        read(current_leader_epoch=3, **kwargs)
        read(current_leader_epoch=-1, **kwargs)

    def test_bounded_by_high_watermark(self) -> None:
        """
        Consumers read up to the high watermark, followers up to the log end.
        """
        partition = self.partition(WITH_FOLLOWER)
        self.append(partition, 3)
        consumer = partition.read_records(
            fetch_offset=0,
            max_bytes=1000,
            isolation=FetchIsolation.HIGH_WATERMARK,
            min_one_message=True,
        )
        self.assertEqual(consumer.fetched.records.size, 0)
        self.assertEqual((consumer.high_watermark, consumer.log_end_offset), (0, 3))
        follower = partition.read_records(
            fetch_offset=0,
            max_bytes=1000,
            isolation=FetchIsolation.LOG_END,
            min_one_message=True,
        )
        self.assertGreater(follower.fetched.records.size, 0)

    def test_offset_snapshot(self) -> None:
        """
        The offset snapshot places the high watermark at its batch's position.
        """
        partition = self.partition(WITH_FOLLOWER)
        self.append(partition, 2)
        self.append(partition, 2)
        partition.update_follower_fetch_state(2, 2, 0)
        snapshot = partition.fetch_offset_snapshot()
        size = partition.log.active_segment.size
        self.assertEqual(snapshot.log_end_offset.relative_position, size)
        self.assertEqual(snapshot.high_watermark.message_offset, 2)
        self.assertEqual(snapshot.high_watermark.relative_position, size // 2)
        self.assertEqual(snapshot.end_for(FetchIsolation.LOG_END).message_offset, 4)


class OffsetForTimestampTests(PartitionTestCase):
    """
    ListOffsets lookups see what the reader may read.
    """

    def lookup(
        self,
        partition: Partition,
        timestamp: int,
        level: IsolationLevel | None = IsolationLevel.READ_UNCOMMITTED,
    ) -> TimestampAndOffset:
        return partition.fetch_offset_for_timestamp(timestamp, isolation_level=level)

    def test_special_timestamps(self) -> None:
        """
        Earliest, latest and latest tiered lookups.
        """
        partition = self.partition()
        self.append(partition, 3)
        partition.delete_records_on_leader(1)
        self.assertEqual(self.lookup(partition, EARLIEST_TIMESTAMP).offset, 1)
        self.assertEqual(self.lookup(partition, EARLIEST_LOCAL_TIMESTAMP).offset, 1)
        self.assertEqual(
            self.lookup(partition, LATEST_TIMESTAMP), TimestampAndOffset(-1, 3, 3)
        )
        self.assertEqual(
            self.lookup(partition, LATEST_TIERED_TIMESTAMP),
            TimestampAndOffset(-1, -1, -1),
        )

    def test_by_time(self) -> None:
        """
        A lookup by time finds the first record at or after it, else -1.
        """
        partition = self.partition()
        partition.append_records_to_leader(
            make_batch(3, timestamps=[START_MS, START_MS + 10, START_MS + 20]),
            required_acks=1,
        )
        found = self.lookup(partition, START_MS + 5)
        self.assertEqual((found.timestamp, found.offset), (START_MS + 10, 1))
        self.assertEqual(
            self.lookup(partition, START_MS + 21), TimestampAndOffset(-1, -1, -1)
        )
        self.assertEqual(self.lookup(partition, MAX_TIMESTAMP).offset, 2)

    def test_consumer_sees_high_watermark(self) -> None:
        """
        Consumers look up to the high watermark, replicas to the log end.
        """
        partition = self.partition(WITH_FOLLOWER)
        partition.update_follower_fetch_state(2, 0, 0)
        self.append(partition, 3)
        self.assertEqual(self.lookup(partition, LATEST_TIMESTAMP).offset, 0)
        self.assertEqual(self.lookup(partition, LATEST_TIMESTAMP, None).offset, 3)
        self.assertEqual(self.lookup(partition, START_MS).offset, -1)
        self.assertEqual(self.lookup(partition, START_MS, None).offset, 0)

    def test_high_watermark_lagging_new_epoch(self) -> None:
        """
        A lagging high watermark after a leader change: OFFSET_NOT_AVAILABLE.
        """
        partition = self.partition(attrs.evolve(WITH_FOLLOWER, isr=(1,)))
        self.append(partition, 3)
        partition.log.high_watermark = 1
        partition.update_state(attrs.evolve(WITH_FOLLOWER, leader_epoch=4))
        self.assertRaises(
            OffsetNotAvailableError, self.lookup, partition, LATEST_TIMESTAMP
        )
        self.assertEqual(self.lookup(partition, EARLIEST_TIMESTAMP).offset, 0)


class DeleteRecordsTests(PartitionTestCase):
    """
    DeleteRecords moves the log start offset, never past the high watermark.
    """

    def test_high_watermark(self) -> None:
        """
        Offset -1 means the high watermark.
        """
        partition = self.partition()
        self.append(partition, 3)
        self.assertEqual(partition.delete_records_on_leader(-1), 3)
        self.assertEqual(partition.log_start_offset, 3)

    def test_past_high_watermark(self) -> None:
        """
        An offset past the high watermark, or negative, is out of range.
        """
        partition = self.partition()
        self.append(partition, 3)
        error = self.assertRaises(
            OffsetOutOfRangeError, partition.delete_records_on_leader, 4
        )
        self.assertIn("high watermark 3", str(error))
        self.assertRaises(OffsetOutOfRangeError, partition.delete_records_on_leader, -2)

    def test_compacted(self) -> None:
        """
        A compacted topic refuses with C{POLICY_VIOLATION}.
        """
        partition = self.partition(config=LogConfig(cleanup_policy=("compact",)))
        error = self.assertRaises(
            PolicyViolationError, partition.delete_records_on_leader, 0
        )
        self.assertIn("cleanup.policy is compact", str(error))

    def test_not_leader(self) -> None:
        """
        Only the leader deletes records.
        """
        partition = self.partition(attrs.evolve(WITH_FOLLOWER, leader=2))
        self.assertRaises(
            NotLeaderOrFollowerError, partition.delete_records_on_leader, 0
        )
