"""
Tests for L{odradek.broker.coordinator.group.store}: append errors as the
coordinator must answer them, the writes in flight, and the rewrite of a
partition's live state that bounds its size until log compaction exists. Writes
and loads are in L{test_coordinator_group_store
<odradek.broker.test.test_coordinator_group_store>}.
"""

from __future__ import annotations

from typing import Any

import attrs
from twisted.internet.defer import Deferred

from odradek.broker.coordinator.group.store import OffsetsTopicStore, map_append_error
from odradek.broker.coordinator.group.values import CommittedOffset, LoadedPartition
from odradek.broker.metadata.topics import CONSUMER_OFFSETS_TOPIC
from odradek.broker.test._brokertools import NODE_ID
from odradek.broker.test.test_coordinator_group_store import (
    ORDERS_0,
    ORDERS_1,
    PARTITIONS,
    StoreTestCase,
    committed,
    snapshot,
)
from odradek.client.errors import (
    CoordinatorNotAvailableError,
    InvalidCommitOffsetSizeError,
    KafkaStorageError,
    NotCoordinatorError,
    NotEnoughReplicasError,
    NotLeaderOrFollowerError,
    RebalanceInProgressError,
    RecordBatchTooLargeError,
    RecordTooLargeError,
    RequestTimedOutError,
    UnknownServerError,
    UnknownTopicOrPartitionError,
)
from odradek.client.structs import TopicPartition


class ErrorTests(StoreTestCase):
    """
    Append errors come back as the coordinator must answer them.
    """

    topic_configs = {"max.message.bytes": "200"}

    def test_too_large_offsets(self) -> None:
        """
        Offsets too large for the partition fail with C{INVALID_COMMIT_OFFSET_SIZE}.
        """
        stored = self.store.store_offsets(
            "billing", {ORDERS_0: committed(1, "x" * 300)}
        )
        self.assertFailsWith(stored, InvalidCommitOffsetSizeError)

    def test_too_large_group(self) -> None:
        """
        Group metadata too large fails with C{UNKNOWN_SERVER_ERROR}.
        """
        self.assertFailsWith(self.store.store_group(snapshot()), UnknownServerError)

    def test_not_leader(self) -> None:
        """
        A partition this broker no longer leads fails with C{NOT_COORDINATOR}.
        """
        partition = self.store.partition_of("billing")
        self.successResultOf(
            self.broker.metadata.alter_partition_state(
                CONSUMER_OFFSETS_TOPIC, partition, leader=-1, isr=[NODE_ID]
            )
        )
        self.assertFailsWith(self.store.remove_group("billing"), NotCoordinatorError)
        self.assertFailsWith(self.store.load(partition), NotCoordinatorError)

    def test_missing_topic(self) -> None:
        """
        Without C{__consumer_offsets}, writes and loads fail with
        C{COORDINATOR_NOT_AVAILABLE}.
        """
        self.successResultOf(self.broker.metadata.delete_topic(CONSUMER_OFFSETS_TOPIC))
        stored = self.store.store_offsets("billing", {ORDERS_0: committed(1)})
        self.assertFailsWith(stored, CoordinatorNotAvailableError)
        self.assertFailsWith(self.store.load(0), CoordinatorNotAvailableError)

    def test_mapping(self) -> None:
        """
        Append errors map as in Kafka's C{GroupMetadataManager}, which differs for
        offsets and group metadata only for records too large and timeouts.
        """
        cases = [
            (
                UnknownTopicOrPartitionError,
                CoordinatorNotAvailableError,
                CoordinatorNotAvailableError,
            ),
            (
                NotEnoughReplicasError,
                CoordinatorNotAvailableError,
                CoordinatorNotAvailableError,
            ),
            (NotLeaderOrFollowerError, NotCoordinatorError, NotCoordinatorError),
            (KafkaStorageError, NotCoordinatorError, NotCoordinatorError),
            (RecordTooLargeError, InvalidCommitOffsetSizeError, UnknownServerError),
            (
                RecordBatchTooLargeError,
                InvalidCommitOffsetSizeError,
                UnknownServerError,
            ),
            (RequestTimedOutError, RequestTimedOutError, RebalanceInProgressError),
            (UnknownServerError, UnknownServerError, UnknownServerError),
        ]
        for error, for_offsets, for_group in cases:
            mapped = (
                type(map_append_error(error("boom"), offsets=True)),
                type(map_append_error(error("boom"), offsets=False)),
            )
            self.assertEqual(mapped, (for_offsets, for_group), error.__name__)


class HoldingReplicaManager:
    """
    A replica manager whose appends happen at once but are acknowledged only when
    the test says so.

    @ivar held: the acknowledgements not yet given.
    """

    def __init__(self, real: Any) -> None:
        self._real = real
        self.held: list[tuple[Deferred[Any], Any]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def append_records(self, **kwargs: Any) -> Deferred[Any]:
        results = self._real.append_records(**kwargs)
        held: Deferred[Any] = Deferred()
        self.held.append((held, results))
        return held

    def release(self) -> None:
        """
        Acknowledge every append held.
        """
        held, self.held = self.held, []
        for deferred, results in held:
            results.chainDeferred(deferred)


class InFlightTests(StoreTestCase):
    """
    The store counts writes in flight and tells a listener of each one done.
    """

    def setUp(self) -> None:
        super().setUp()
        self.holding = HoldingReplicaManager(self.broker.replica_manager)
        self.store = OffsetsTopicStore(
            replica_manager=self.holding,  # type: ignore[arg-type]
            config=self.broker.config,
            clock=self.broker.clock,
        )

    def test_counted(self) -> None:
        """
        A write is in flight until acknowledged.
        """
        partition = self.store.partition_of("billing")
        stored = self.store.store_offsets("billing", {ORDERS_0: committed(1)})
        self.store.store_group(snapshot())
        self.assertNoResult(stored)
        self.assertEqual(self.store.writes_in_flight(partition), 2)
        self.holding.release()
        self.successResultOf(stored)
        self.assertEqual(self.store.writes_in_flight(partition), 0)

    def test_listener_after_caller(self) -> None:
        """
        The write listener hears of a write after the writer's own callbacks ran,
        and no longer once removed.
        """
        events: list[object] = []
        self.store.set_write_listener(lambda p: events.append(("written", p)))
        stored = self.store.store_offsets("billing", {ORDERS_0: committed(1)})
        stored.addCallback(lambda _: events.append("caller"))
        self.holding.release()
        partition = self.store.partition_of("billing")
        self.assertEqual(events, ["caller", ("written", partition)])
        self.store.set_write_listener(None)
        self.store.store_group(snapshot())
        self.holding.release()
        self.assertEqual(len(events), 2)

    def test_failed_write_not_counted(self) -> None:
        """
        A failed write is no longer in flight.
        """
        self.successResultOf(self.broker.metadata.delete_topic(CONSUMER_OFFSETS_TOPIC))
        stored = self.store.store_group(snapshot())
        self.holding.release()
        self.assertFailsWith(stored, CoordinatorNotAvailableError)
        self.assertEqual(
            self.store.writes_in_flight(self.store.partition_of("billing")), 0
        )

    def test_rewrite_put_off(self) -> None:
        """
        No rewrite happens while a write is in flight.
        """
        self.store.store_offsets("billing", {ORDERS_0: committed(1)})
        partition = self.store.partition_of("billing")
        end = self.log().log_end_offset
        rewritten = self.store.rewrite(LoadedPartition(partition))
        self.assertIsNone(self.successResultOf(rewritten))
        self.assertEqual(
            (self.log().log_start_offset, self.log().log_end_offset), (0, end)
        )
        self.holding.release()


class RewriteTests(StoreTestCase):
    """
    A rewrite appends the live state and moves the log start offset past the
    history, so that loading gives the same state.
    """

    def setUp(self) -> None:
        super().setUp()
        for partition in range(PARTITIONS):
            log = self.broker.partition(CONSUMER_OFFSETS_TOPIC, partition).log
            log.update_config(attrs.evolve(log.config, segment_bytes=1024))

    def commit_many(self, count: int) -> dict[TopicPartition, CommittedOffset]:
        """
        Commit offsets of two partitions over and over.

        @return: the last offsets committed.
        """
        latest = {}
        for n in range(count):
            latest = {ORDERS_0: committed(n), ORDERS_1: committed(n + 1000)}
            self.successResultOf(self.store.store_offsets("billing", latest))
        return latest

    def test_same_state(self) -> None:
        """
        After a rewrite, loading gives the state from before.
        """
        self.successResultOf(self.store.store_group(snapshot()))
        self.commit_many(50)
        self.successResultOf(self.store.remove_offsets("billing", [ORDERS_1]))
        self.successResultOf(
            self.store.store_offsets("other", {ORDERS_0: committed(9)})
        )
        before = self.load()
        end = self.log().log_end_offset
        size = self.successResultOf(self.store.rewrite(before))
        self.assertIsNotNone(size)
        self.assertGreater(size or 0, 0)
        self.assertEqual(self.log().log_start_offset, end)
        self.assertEqual(self.load(), before)

    def test_old_segments_deleted(self) -> None:
        """
        Retention deletes the segments below the rewrite, and the size counts only
        segments from the log start offset on.
        """
        self.commit_many(100)
        log = self.log()
        self.assertGreater(len(log.segments), 3)
        before = self.load()
        grown = self.store.size(before.partition)
        self.successResultOf(self.store.rewrite(before))
        self.assertLess(self.store.size(before.partition), grown)
        log.delete_old_segments()
        self.assertLessEqual(len(log.segments), 2)
        self.assertEqual(self.load(), before)

    def test_empty_state(self) -> None:
        """
        With nothing live, the log start offset moves to the log end.
        """
        self.commit_many(3)
        partition = self.store.partition_of("billing")
        size = self.successResultOf(self.store.rewrite(LoadedPartition(partition)))
        self.assertEqual(size, 0)
        self.assertEqual(self.log().log_start_offset, self.log().log_end_offset)
        self.assertEqual(self.load(), LoadedPartition(partition))

    def test_batches_within_limit(self) -> None:
        """
        A large state is written in several batches and appends, each within the
        topic's C{max.message.bytes} and C{segment.bytes}.
        """
        offsets = {
            TopicPartition("orders", n): committed(n, "m" * 100) for n in range(200)
        }
        partition = self.store.partition_of("billing")
        state = LoadedPartition(partition, {}, {"billing": offsets})
        self.successResultOf(self.store.rewrite(state))
        batches = self.batches()
        self.assertGreater(len(batches), 1)
        self.assertTrue(all(b.size_in_bytes <= 1024 for b in batches))
        self.assertEqual(self.load(), state)

    def test_segment_bytes(self) -> None:
        """
        The store tells a partition's C{segment.bytes}, or C{None} without a
        replica.
        """
        self.assertEqual(self.store.segment_bytes(0), 1024)
        self.successResultOf(self.broker.metadata.delete_topic(CONSUMER_OFFSETS_TOPIC))
        self.assertEqual((self.store.segment_bytes(0), self.store.size(0)), (None, 0))

    def test_missing_partition(self) -> None:
        """
        Rewriting a partition this broker has no replica of fails.
        """
        self.successResultOf(self.broker.metadata.delete_topic(CONSUMER_OFFSETS_TOPIC))
        rewritten = self.store.rewrite(LoadedPartition(0))
        self.assertFailsWith(rewritten, CoordinatorNotAvailableError)
