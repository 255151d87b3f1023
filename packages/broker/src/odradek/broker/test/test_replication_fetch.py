"""
Tests for the read path of L{odradek.broker.replication.manager.ReplicaManager} and
for L{odradek.broker.replication.delayed_fetch.DelayedFetch}: size limits across
partitions, errors, and fetches that wait for data, woken by appends, leader
changes, deletions, timeouts and shutdown.
"""

from __future__ import annotations

from twisted.internet.defer import CancelledError, Deferred
from twisted.trial.unittest import SynchronousTestCase

from odradek.broker.log import TopicPartition
from odradek.broker.replication import (
    IsolationLevel,
    LogReadResult,
    PartitionFetchInfo,
)
from odradek.broker.test._brokertools import BrokerFixture
from odradek.broker.test._logtools import make_batch
from odradek.client.errors import (
    NotLeaderOrFollowerError,
    OffsetOutOfRangeError,
    UnknownLeaderEpochError,
    UnknownTopicOrPartitionError,
)
from odradek.client.records import RecordBatchReader

P0 = TopicPartition("orders", 0)
P1 = TopicPartition("orders", 1)


class FetchTestCase(SynchronousTestCase):
    """
    A broker with a topic C{orders} of two partitions.
    """

    def setUp(self) -> None:
        self.broker = BrokerFixture(self)
        self.broker.create_topic("orders", 2)
        self.manager = self.broker.replica_manager

    def append(self, tp: TopicPartition, batch: bytes) -> None:
        appended = self.manager.append_records(
            timeout_ms=1000, required_acks=1, entries={tp: batch}
        )
        self.assertIsNone(self.successResultOf(appended)[tp].error)

    def fetch(
        self,
        *offsets: tuple[TopicPartition, int],
        max_wait_ms: int = 0,
        min_bytes: int = 1,
        max_bytes: int = 1 << 20,
        partition_max_bytes: int = 1 << 20,
        isolation_level: IsolationLevel = IsolationLevel.READ_UNCOMMITTED,
        replica_id: int = -1,
        current_leader_epoch: int = -1,
    ) -> Deferred[list[LogReadResult]]:
        return self.manager.fetch_messages(
            replica_id=replica_id,
            max_wait_ms=max_wait_ms,
            min_bytes=min_bytes,
            max_bytes=max_bytes,
            isolation_level=isolation_level,
            partitions=[
                PartitionFetchInfo(
                    tp, offset, -1, partition_max_bytes, current_leader_epoch
                )
                for tp, offset in offsets
            ],
        )

    def offsets_in(self, result: LogReadResult) -> list[int]:
        """
        @return: the offsets of the records read.
        """
        data = result.records.read_bytes()
        return [record.offset for batch in RecordBatchReader(data) for record in batch]


class ReadTests(FetchTestCase):
    """
    Reads answer at once when they have data or cannot wait.
    """

    def test_read(self) -> None:
        """
        A read returns the log region of the records and the partition's offsets.
        """
        self.append(P0, make_batch(3))
        [result] = self.successResultOf(self.fetch((P0, 1)))
        self.assertIsNone(result.error)
        self.assertEqual(self.offsets_in(result), [0, 1, 2])
        self.assertEqual(
            (
                result.high_watermark,
                result.last_stable_offset,
                result.log_start_offset,
                result.log_end_offset,
            ),
            (3, 3, 0, 3),
        )
        self.assertIsNone(result.aborted_transactions)

    def test_read_committed(self) -> None:
        """
        A read_committed read reports an empty list of aborted transactions.
        """
        self.append(P0, make_batch(1))
        [result] = self.successResultOf(
            self.fetch((P0, 0), isolation_level=IsolationLevel.READ_COMMITTED)
        )
        self.assertEqual(result.aborted_transactions, ())

    def test_first_batch_whole(self) -> None:
        """
        The first batch is whole even over max_bytes; later partitions get none.
        """
        self.append(P0, make_batch(1, value_size=500))
        self.append(P1, make_batch(1))
        first, second = self.successResultOf(
            self.fetch((P0, 0), (P1, 0), max_bytes=100)
        )
        self.assertGreater(first.records.size, 500)
        self.assertEqual(self.offsets_in(first), [0])
        self.assertEqual(second.records.size, 0)
        self.assertIsNone(second.error)

    def test_whole_batch_after_empty_partition(self) -> None:
        """
        Until a partition returns data, the next first batch is still whole.
        """
        self.append(P1, make_batch(1, value_size=500))
        first, second = self.successResultOf(
            self.fetch((P0, 0), (P1, 0), max_bytes=100, partition_max_bytes=50)
        )
        self.assertEqual(first.records.size, 0)
        self.assertEqual(self.offsets_in(second), [0])

    def test_limits_shared(self) -> None:
        """
        max_bytes is shared in order and partition_max_bytes cuts a region.
        """
        batch = make_batch(2)
        for _ in range(3):
            self.append(P0, batch)
            self.append(P1, batch)
        first, second = self.successResultOf(
            self.fetch(
                (P0, 0),
                (P1, 0),
                max_bytes=len(batch) * 3,
                partition_max_bytes=len(batch) * 2 + 10,
            )
        )
        self.assertEqual(first.records.size, len(batch) * 2 + 10)
        self.assertEqual(second.records.size, len(batch) - 10)

    def test_out_of_range(self) -> None:
        """
        An offset outside the log answers OFFSET_OUT_OF_RANGE at once.
        """
        self.append(P0, make_batch(2))
        [result] = self.successResultOf(self.fetch((P0, 3), max_wait_ms=500))
        self.assertIsInstance(result.error, OffsetOutOfRangeError)
        self.assertEqual((result.high_watermark, result.log_start_offset), (-1, -1))
        self.assertEqual(self.broker.clock.getDelayedCalls(), [])

    def test_unknown_partition(self) -> None:
        """
        An unknown partition answers UNKNOWN_TOPIC_OR_PARTITION; others are read.
        """
        self.append(P0, make_batch(1))
        missing, found = self.successResultOf(
            self.fetch((TopicPartition("missing", 0), 0), (P0, 0))
        )
        self.assertIsInstance(missing.error, UnknownTopicOrPartitionError)
        self.assertEqual(self.offsets_in(found), [0])

    def test_leader_epoch(self) -> None:
        """
        A fetch naming a newer leader epoch answers UNKNOWN_LEADER_EPOCH.
        """
        [result] = self.successResultOf(self.fetch((P0, 0), current_leader_epoch=1))
        self.assertIsInstance(result.error, UnknownLeaderEpochError)

    def test_follower_not_a_replica(self) -> None:
        """
        A fetch from a broker that is no replica answers NOT_LEADER_OR_FOLLOWER.
        """
        [result] = self.successResultOf(self.fetch((P0, 0), replica_id=2))
        self.assertIsInstance(result.error, NotLeaderOrFollowerError)


class DelayedFetchTests(FetchTestCase):
    """
    A fetch without enough data waits for it, up to C{max_wait_ms}.
    """

    def test_woken_by_append(self) -> None:
        """
        An append completes a waiting fetch and stops its timer.
        """
        fetched = self.fetch((P0, 0), (P1, 0), max_wait_ms=500)
        self.assertNoResult(fetched)
        self.assertEqual(self.manager.delayed_fetch_purgatory.delayed, 1)
        self.append(P1, make_batch(2))
        first, second = self.successResultOf(fetched)
        self.assertEqual(first.records.size, 0)
        self.assertEqual(self.offsets_in(second), [0, 1])
        self.assertEqual(self.broker.clock.getDelayedCalls(), [])

    def test_times_out(self) -> None:
        """
        A fetch with nothing to read answers empty after C{max_wait_ms}.
        """
        fetched = self.fetch((P0, 0), max_wait_ms=500)
        self.broker.clock.advance(0.499)
        self.assertNoResult(fetched)
        self.broker.clock.advance(0.001)
        [result] = self.successResultOf(fetched)
        self.assertEqual((result.error, result.records.size), (None, 0))
        self.assertEqual(self.broker.clock.getDelayedCalls(), [])

    def test_min_bytes(self) -> None:
        """
        The fetch waits until C{min_bytes} are readable across its partitions.
        """
        batch = make_batch(1)
        fetched = self.fetch(
            (P0, 0), (P1, 0), max_wait_ms=500, min_bytes=len(batch) * 2
        )
        self.append(P0, batch)
        self.assertNoResult(fetched)
        self.append(P1, batch)
        first, second = self.successResultOf(fetched)
        self.assertEqual((self.offsets_in(first), self.offsets_in(second)), ([0], [0]))

    def test_partition_max_bytes_counts(self) -> None:
        """
        A partition counts towards min_bytes up to its partition_max_bytes.
        """
        batch = make_batch(1)
        fetched = self.fetch(
            (P0, 0),
            max_wait_ms=500,
            min_bytes=len(batch) * 2,
            partition_max_bytes=len(batch),
        )
        self.append(P0, batch)
        self.append(P0, batch)
        self.assertNoResult(fetched)
        self.broker.clock.advance(0.5)
        [result] = self.successResultOf(fetched)
        self.assertEqual(result.records.size, len(batch))

    def test_segment_rolled(self) -> None:
        """
        A fetch offset on an older segment than the high watermark completes.
        """
        self.append(P0, make_batch(1))
        fetched = self.fetch((P0, 1), max_wait_ms=500, min_bytes=1 << 20)
        self.broker.partition("orders").log.roll()
        self.append(P0, make_batch(1))
        [result] = self.successResultOf(fetched)
        self.assertEqual(self.offsets_in(result), [1])

    def test_leader_change(self) -> None:
        """
        A leader change completes the fetch, which reports the partition's error.
        """
        fetched = self.fetch((P0, 0), max_wait_ms=500)
        self.successResultOf(
            self.broker.metadata.alter_partition_state("orders", 0, leader=-1, isr=[1])
        )
        [result] = self.successResultOf(fetched)
        self.assertIsInstance(result.error, NotLeaderOrFollowerError)

    def test_topic_deleted(self) -> None:
        """
        Deleting the topic completes the fetch with C{UNKNOWN_TOPIC_OR_PARTITION}.
        """
        fetched = self.fetch((P0, 0), max_wait_ms=500)
        self.successResultOf(self.broker.metadata.delete_topic("orders"))
        [result] = self.successResultOf(fetched)
        self.assertIsInstance(result.error, UnknownTopicOrPartitionError)
        self.assertEqual(self.broker.clock.getDelayedCalls(), [])

    def test_stop(self) -> None:
        """
        Stopping the replica manager answers waiting fetches with what they have.
        """
        fetched = self.fetch((P0, 0), max_wait_ms=500)
        self.manager.stopService()
        [result] = self.successResultOf(fetched)
        self.assertEqual((result.error, result.records.size), (None, 0))
        self.assertEqual(self.broker.clock.getDelayedCalls(), [])

    def test_cancel(self) -> None:
        """
        A fetch whose requester went away (its Deferred cancelled) stops waiting.
        """
        fetched = self.fetch((P0, 0), max_wait_ms=500)
        fetched.cancel()
        self.failureResultOf(fetched, CancelledError)
        self.assertEqual(self.manager.delayed_fetch_purgatory.delayed, 0)
        self.assertEqual(self.broker.clock.getDelayedCalls(), [])
        self.append(P0, make_batch(1))
