"""
Tests for L{odradek.client.consumer.fetcher}: fetching, buffering and handing out
records, against fake brokers on a fake network driven by a clock.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from odradek.client import errors
from odradek.client.consumer.fetcher import (
    Fetcher,
    FetchSettings,
    RecordDeserializationError,
)
from odradek.client.consumer.subscription import FetchPosition, SubscriptionState
from odradek.client.network.metadata import MetadataManager
from odradek.client.network.pool import ConnectionPool
from odradek.client.protocol import ApiKey
from odradek.client.records import CompressionType
from odradek.client.serialization import StringDeserializer
from odradek.client.structs import ConsumerRecord, TopicPartition
from odradek.client.test._consumertools import (
    BOOT,
    ConsumerCluster,
    batch,
    fetched_offsets,
    marker,
    partitions,
)

T0 = TopicPartition("t", 0)
T1 = TopicPartition("t", 1)
T2 = TopicPartition("t", 2)


def _values(records: list[ConsumerRecord]) -> list[tuple[int, int, bytes | None]]:
    return [(record.partition, record.offset, record.value) for record in records]  # type: ignore[misc]


class FetcherTestCase(SynchronousTestCase):
    """
    A L{Fetcher} over a real metadata manager (started) and pool, talking to a
    L{ConsumerCluster} where node 1 leads t-0 and t-2 and node 2 leads t-1, with
    all three assigned at offset 0.
    """

    settings = FetchSettings(fetch_max_wait_ms=500, retry_backoff_ms=100)
    reset = "earliest"
    key_deserializer: Any = None
    value_deserializer: Any = None

    def setUp(self) -> None:
        self.clock = Clock()
        self.cluster = ConsumerCluster(self.clock, {"t": partitions("t", [1, 2, 1])})
        self.pool = ConnectionPool(
            self.clock,
            request_timeout_ms=1000,
            endpoint_factory=self.cluster.network.endpoint,
            random=lambda: 0.5,
        )
        self.metadata = MetadataManager(
            self.pool, self.clock, [BOOT], retry_backoff_ms=100
        )
        self.metadata.add_topics(["t"])
        self.successResultOf(self.metadata.refresh())
        self.metadata.start()
        self.subscriptions = SubscriptionState(self.reset)
        self.subscriptions.assign_from_user([T0, T1, T2])
        for tp in (T0, T1, T2):
            self.subscriptions.seek(tp, 0)
        self.fetcher = Fetcher(
            self.clock,
            self.metadata,
            self.pool,
            self.subscriptions,
            self.settings,
            self.key_deserializer,
            self.value_deserializer,
        )
        self.events: list[None] = []
        self.fetcher.on_data = lambda: self.events.append(None)
        self.addCleanup(self.fetcher.stop)
        self.addCleanup(self.metadata.stop)
        self.addCleanup(self.pool.close)

    def fetches(self, node_id: int) -> list[dict[TopicPartition, int]]:
        """@return: what each fetch to node C{node_id} asked, in order."""
        return [fetched_offsets(each) for each in self.cluster.fetches_to(node_id)]

    def position(self, tp: TopicPartition) -> FetchPosition | None:
        return self.subscriptions.position(tp)


class FetchingTests(FetcherTestCase):
    """
    Tests for the requests L{Fetcher} sends.
    """

    def test_fetchesFromLeaders(self) -> None:
        """
        One Fetch goes to each leader, for the partitions it leads at their
        positions, in version 12, as a full fetch request.
        """
        self.fetcher.start()
        self.assertEqual(self.fetches(1), [{T0: 0, T2: 0}])
        self.assertEqual(self.fetches(2), [{T1: 0}])
        _, header, request = self.cluster.fetches[0]
        self.assertEqual(header.api_version, 12)
        self.assertEqual(
            (request.session_id, request.session_epoch, request.replica_id),
            (0, -1, -1),
        )
        self.assertEqual(request.isolation_level, 0)
        self.assertEqual(request.max_wait.total_seconds(), 0.5)
        self.assertEqual(request.topics[0].partitions[0].current_leader_epoch, 0)

    def test_oneFetchInFlightPerNode(self) -> None:
        """No second fetch goes to a node while one is in flight there."""
        self.cluster.hold.add(1)
        self.fetcher.start()
        self.fetcher.wakeup()
        self.subscriptions.seek(T0, 0)
        self.fetcher.wakeup()
        self.assertEqual(len(self.fetches(1)), 1)

    def test_prefetch(self) -> None:
        """
        Once a partition's data is buffered, its node is asked again at once for
        its other partitions and for what follows the buffered data, before the
        records are handed out.
        """
        self.cluster.log(T0).append(batch(0, [b"a", b"b"]))
        self.cluster.log(T1).append(batch(0, [b"c"]))
        self.fetcher.start()
        self.assertEqual(self.fetches(1), [{T0: 0, T2: 0}, {T0: 2, T2: 0}])
        self.assertEqual(self.fetches(2), [{T1: 0}, {T1: 1}])
        self.assertTrue(self.fetcher.has_available())
        self.assertEqual(len(self.events), 2)
        records = self.fetcher.collect(10)
        self.assertEqual(_values(records), [(0, 0, b"a"), (0, 1, b"b"), (1, 0, b"c")])
        self.assertEqual(self.fetches(2), [{T1: 0}, {T1: 1}])
        # Node 1 still waits on t-2 for fetch.max.wait.ms.
        self.assertEqual(len(self.fetches(1)), 2)
        self.clock.advance(0.5)
        self.assertEqual(self.fetches(1)[-1], {T2: 0, T0: 2})

    def test_drainedPartitionsGoLast(self) -> None:
        """A partition just handed out is asked for after the others."""
        self.cluster.log(T0).append(batch(0, [b"a"]))
        self.fetcher.start()
        self.clock.advance(0.5)
        self.fetcher.collect(10)
        self.clock.advance(0.5)
        self.assertEqual(list(self.fetches(1)[-1]), [T2, T0])

    def test_pausedNotFetched(self) -> None:
        """Paused partitions are not fetched."""
        self.subscriptions.pause([T0])
        self.fetcher.start()
        self.assertEqual(self.fetches(1), [{T2: 0}])

    def test_unknownLeader(self) -> None:
        """A partition without a known leader asks for metadata, not a fetch."""
        self.cluster.set_leader(T1, -1)
        self.successResultOf(self.metadata.refresh())
        self.fetcher.start()
        self.assertEqual(self.fetches(2), [])
        self.assertTrue(self.metadata.update_requested)
        self.cluster.set_leader(T1, 2)
        # The Metadata request waits behind node 1's fetch.
        self.clock.advance(0.5)
        self.assertEqual(self.fetches(2), [{T1: 0}])

    def test_olderVersion(self) -> None:
        """A broker that knows only Fetch version 6 gets that version."""
        self.cluster.brokers[1].ranges = {
            **self.cluster.brokers[1].ranges,
            ApiKey.FETCH: (4, 6),
        }
        self.fetcher.start()
        _, header, request = self.cluster.fetches[0]
        self.assertEqual(header.api_version, 6)
        self.assertEqual(fetched_offsets(request), {T0: 0, T2: 0})

    def test_connectionLost(self) -> None:
        """
        A fetch lost with its connection is sent again after retry.backoff.ms,
        on a new connection.
        """
        self.cluster.hold.add(1)
        self.fetcher.start()
        self.cluster.hold.clear()
        self.cluster.disconnect(1)
        self.assertEqual(len(self.fetches(1)), 1)
        self.clock.advance(0.1)
        self.assertEqual(len(self.fetches(1)), 2)

    def test_topLevelError(self) -> None:
        """A response with a top-level error backs the node off, then retries."""
        self.cluster.fetch_top_errors.append(errors.UnknownServerError.code)
        self.fetcher.start()
        fetches = len(self.fetches(1)) + len(self.fetches(2))
        self.assertEqual(fetches, 2)
        self.clock.advance(0.1)
        self.assertEqual(len(self.fetches(1)) + len(self.fetches(2)), 3)

    def test_preferredReadReplica(self) -> None:
        """A partition's next fetch goes to the replica its leader prefers."""
        self.cluster.read_replicas[T0] = 2
        self.cluster.log(T0).append(batch(0, [b"a"]))
        self.fetcher.start()
        self.assertEqual(self.subscriptions.preferred_read_replica(T0), 2)
        self.fetcher.collect(10)
        self.clock.advance(0.5)
        self.assertEqual(self.fetches(2)[-1][T0], 1)

    def test_updatesOffsets(self) -> None:
        """The high watermark, log start and last stable offsets are kept."""
        log = self.cluster.log(T0)
        log.append(batch(0, [b"a", b"b", b"c"]))
        log.log_start_offset = 0
        log.last_stable_offset = 2
        self.fetcher.start()
        self.assertEqual(self.subscriptions.high_watermark(T0), 3)
        self.assertEqual(self.subscriptions.last_stable_offset(T0), 2)
        self.assertEqual(self.subscriptions.log_start_offset(T0), 0)

    def test_stop(self) -> None:
        """After stop, nothing is fetched, answers are ignored, nothing buffered."""
        self.cluster.hold.add(1)
        self.cluster.log(T0).append(batch(0, [b"a"]))
        self.fetcher.start()
        self.fetcher.stop()
        self.cluster.release(1)
        self.fetcher.wakeup()
        self.assertFalse(self.fetcher.has_available())
        self.assertEqual(len(self.fetches(1)), 1)


class CollectTests(FetcherTestCase):
    """
    Tests for L{Fetcher.collect}.
    """

    def fill(self) -> None:
        """Buffer five records of t-0 and of t-1."""
        self.cluster.log(T0).append(batch(0, [b"a0", b"a1", b"a2"]))
        self.cluster.log(T0).append(batch(3, [b"a3", b"a4"], leader_epoch=4))
        self.cluster.log(T1).append(batch(0, [b"b%d" % i for i in range(5)]))
        self.fetcher.start()

    def test_orderAndMaxRecords(self) -> None:
        """
        Records come out one partition's fetched data after the other, at most
        C{max_records} at a time, moving the positions on.
        """
        self.fill()
        first = self.fetcher.collect(4)
        self.assertEqual([r.partition for r in first], [0, 0, 0, 0])
        self.assertEqual(self.position(T0), FetchPosition(4, 4))
        second = self.fetcher.collect(4)
        self.assertEqual(
            _values(second),
            [(0, 4, b"a4"), (1, 0, b"b0"), (1, 1, b"b1"), (1, 2, b"b2")],
        )
        self.assertEqual(self.position(T0), FetchPosition(5, 4))
        self.assertEqual(self.position(T1), FetchPosition(3, 0))

    def test_nothingBuffered(self) -> None:
        """Without data, collect returns nothing."""
        self.fetcher.start()
        self.assertEqual(self.fetcher.collect(10), [])
        self.assertFalse(self.fetcher.has_available())

    def test_staleDataDropped(self) -> None:
        """Data fetched for a position the partition left is dropped."""
        self.fill()
        self.subscriptions.seek(T0, 3)
        records = self.fetcher.collect(10)
        self.assertEqual([r.partition for r in records], [1] * 5)
        self.assertEqual(self.position(T0), FetchPosition(3))
        self.clock.advance(0.5)
        self.assertIn({T0: 3, T2: 0}, self.fetches(1))
        self.assertEqual([r.offset for r in self.fetcher.collect(10)], [3, 4])

    def test_revokedDataDropped(self) -> None:
        """Data of a partition no longer assigned is dropped."""
        self.fill()
        self.subscriptions.assign_from_user([T1])
        self.assertEqual(len(self.fetcher.collect(10)), 5)
        self.assertEqual(self.fetcher.collect(10), [])

    def test_pauseKeepsData(self) -> None:
        """A paused partition's data waits for it to be resumed."""
        self.fill()
        self.subscriptions.pause([T0])
        self.assertEqual([r.partition for r in self.fetcher.collect(10)], [1] * 5)
        self.assertEqual(self.fetcher.collect(10), [])
        self.subscriptions.resume([T0])
        self.assertEqual([r.offset for r in self.fetcher.collect(10)], list(range(5)))

    def test_compressed(self) -> None:
        """Compressed batches are handed out decompressed."""
        self.cluster.log(T0).append(
            batch(0, [b"z%d" % i for i in range(30)], compression=CompressionType.ZSTD)
        )
        self.fetcher.start()
        self.assertEqual(self.fetcher.collect(100)[29].value, b"z29")

    def test_partialTrailingBatch(self) -> None:
        """
        A batch the fetch cut short is not handed out: the next fetch asks for
        it whole, from its first offset.
        """
        first, second = batch(0, [b"a", b"b"]), batch(2, [b"c"])
        self.cluster.log(T0).append(first, second)
        self.cluster.cut[T0] = len(first) + 20
        self.fetcher.start()
        self.assertEqual(self.fetches(1)[:2], [{T0: 0, T2: 0}, {T0: 2, T2: 0}])
        self.assertEqual([r.offset for r in self.fetcher.collect(10)], [0, 1, 2])

    def test_readCommitted(self) -> None:
        """
        With read_committed, fetches ask for committed records and aborted
        transactions are dropped; markers move the position on.
        """
        self.fetcher.settings = FetchSettings(isolation_level="read_committed")
        log = self.cluster.log(T0)
        log.append(
            batch(0, [b"x"], producer_id=5, transactional=True),
            batch(1, [b"y"], producer_id=6, transactional=True),
            marker(2, 5, commit=False),
            marker(3, 6, commit=True),
        )
        log.aborted.append((5, 0))
        self.fetcher.start()
        self.assertEqual(self.cluster.fetches[0][2].isolation_level, 1)
        self.assertEqual([r.value for r in self.fetcher.collect(10)], [b"y"])
        self.assertEqual(self.position(T0), FetchPosition(4, 0))


class FetchErrorTests(FetcherTestCase):
    """
    Tests for the errors a fetch meets.
    """

    def test_metadataErrors(self) -> None:
        """
        Errors that say the leader moved ask for new metadata and retry the
        partition after retry.backoff.ms.
        """
        for error in (
            errors.NotLeaderOrFollowerError,
            errors.UnknownTopicOrPartitionError,
            errors.FencedLeaderEpochError,
            errors.UnknownLeaderEpochError,
            errors.KafkaStorageError,
            errors.OffsetNotAvailableError,
            errors.ReplicaNotAvailableError,
        ):
            self.setUp()
            self.cluster.fetch_errors[T1] = [error.code]
            self.fetcher.start()
            self.assertEqual(self.fetches(2), [{T1: 0}], error)
            self.assertTrue(self.metadata.update_requested, error)
            self.clock.advance(0.099)
            self.assertEqual(len(self.fetches(2)), 1, error)
            self.clock.advance(0.001)
            self.assertEqual(len(self.fetches(2)), 2, error)
            self.assertEqual(self.fetcher.collect(10), [])

    def test_leaderMoved(self) -> None:
        """After NOT_LEADER_OR_FOLLOWER, a partition is fetched from its new leader."""
        self.cluster.set_leader(T1, 1)
        self.fetcher.start()
        self.assertEqual(self.fetches(2), [{T1: 0}])
        # Node 1 answers once its fetch for t-0 and t-2 has waited.
        self.clock.advance(0.5)
        self.assertEqual(self.fetches(1)[-1], {T0: 0, T1: 0, T2: 0})

    def test_outOfRangeResets(self) -> None:
        """
        An offset out of range asks for a reset by the default strategy; once
        reset, the partition is fetched at once.
        """
        self.subscriptions.seek(T1, 50)
        self.fetcher.start()
        self.assertEqual(self.subscriptions.reset_strategy(T1), "earliest")
        self.assertEqual(self.fetcher.collect(10), [])
        self.subscriptions.seek(T1, 0)
        self.fetcher.wakeup()
        self.assertEqual(self.fetches(2), [{T1: 50}, {T1: 0}])

    def test_unknownServerError(self) -> None:
        """An unknown server error is retried after retry.backoff.ms, not raised."""
        self.cluster.fetch_errors[T1] = [errors.UnknownServerError.code]
        self.fetcher.start()
        self.assertEqual(self.fetcher.collect(10), [])
        self.clock.advance(0.1)
        self.assertEqual(self.fetches(2), [{T1: 0}, {T1: 0}])

    def test_outOfRangeFromReplica(self) -> None:
        """Out of range at a follower sends the next fetch to the leader."""
        self.subscriptions.update_preferred_read_replica(T1, 1, 10**12)
        self.cluster.fetch_errors[T1] = [errors.OffsetOutOfRangeError.code]
        log = self.cluster.log(T1)
        log.log_start_offset = 50
        log.append(batch(50, [b"x"]))
        self.subscriptions.seek(T1, 50)
        self.fetcher.start()
        self.assertIsNone(self.subscriptions.preferred_read_replica(T1))
        self.assertIsNone(self.subscriptions.reset_strategy(T1))
        self.assertEqual(self.fetches(2), [{T1: 50}, {T1: 51}])
        self.assertEqual(_values(self.fetcher.collect(10)), [(1, 50, b"x")])

    def test_topicAuthorization(self) -> None:
        """Not being allowed to read a topic is raised by collect, once."""
        self.cluster.fetch_errors[T0] = [errors.TopicAuthorizationError.code]
        self.fetcher.start()
        self.assertEqual(self.events, [None])
        error = self.assertRaises(
            errors.TopicAuthorizationError, self.fetcher.collect, 10
        )
        self.assertIn("[t]", str(error))
        self.assertEqual(self.fetcher.collect(10), [])

    def test_recordsBeforeError(self) -> None:
        """Records buffered before an error are returned first; the next call raises."""
        self.cluster.log(T0).append(batch(0, [b"a"]))
        self.cluster.fetch_errors[T1] = [errors.TopicAuthorizationError.code]
        self.fetcher.start()
        self.assertEqual(_values(self.fetcher.collect(10)), [(0, 0, b"a")])
        self.assertRaises(errors.TopicAuthorizationError, self.fetcher.collect, 10)

    def test_staleErrorDropped(self) -> None:
        """An error for a position the partition left is not raised."""
        self.cluster.fetch_errors[T0] = [errors.TopicAuthorizationError.code]
        self.fetcher.start()
        self.subscriptions.seek(T0, 1)
        self.assertEqual(self.fetcher.collect(10), [])

    def test_unexpectedError(self) -> None:
        """Another error is raised by collect as its Kafka error."""
        self.cluster.fetch_errors[T0] = [errors.InvalidRequestError.code]
        self.fetcher.start()
        self.assertRaises(errors.InvalidRequestError, self.fetcher.collect, 10)

    def test_recordTooLarge(self) -> None:
        """A fetch that returns no whole batch raises RecordTooLargeError."""
        self.cluster.log(T0).append(batch(0, [b"x" * 100]))
        self.cluster.cut[T0] = 50
        self.fetcher.start()
        error = self.assertRaises(errors.RecordTooLargeError, self.fetcher.collect, 10)
        self.assertIn("t-0=0", str(error))

    def test_corruptBatch(self) -> None:
        """A batch whose CRC is wrong raises once the records before it are out."""
        bad = bytearray(batch(1, [b"b"]))
        bad[-1] ^= 0xFF
        self.cluster.log(T0).append(batch(0, [b"a"]), bytes(bad))
        self.fetcher.start()
        self.assertEqual(_values(self.fetcher.collect(10)), [(0, 0, b"a")])
        self.assertRaises(errors.CorruptRecordError, self.fetcher.collect, 10)
        self.assertRaises(errors.CorruptRecordError, self.fetcher.collect, 10)
        self.assertEqual(self.position(T0), FetchPosition(1, 0))


class OffsetOutOfRangeTests(FetcherTestCase):
    """
    Tests for an offset out of range without a reset strategy.
    """

    reset = "none"

    def test_raised(self) -> None:
        """With auto.offset.reset none, collect raises OffsetOutOfRangeError once."""
        self.subscriptions.seek(T0, 50)
        self.fetcher.start()
        error = self.assertRaises(
            errors.OffsetOutOfRangeError, self.fetcher.collect, 10
        )
        self.assertIn("t-0", str(error))
        self.assertEqual(self.fetcher.collect(10), [])
        self.assertEqual(self.position(T0), FetchPosition(50))


class DeserializerTests(FetcherTestCase):
    """
    Tests for records that fail to deserialize.
    """

    value_deserializer = StringDeserializer()

    def test_positionStays(self) -> None:
        """
        A value that does not deserialize is raised once the records before it
        are out, naming its partition and offset; the position stays there until
        the application seeks past it.
        """
        self.cluster.log(T0).append(batch(0, [b"ok", b"\xff", b"fine"]))
        self.fetcher.start()
        self.assertEqual([r.value for r in self.fetcher.collect(10)], ["ok"])
        error = self.assertRaises(RecordDeserializationError, self.fetcher.collect, 10)
        self.assertEqual((error.topic_partition, error.offset), (T0, 1))
        self.assertEqual(self.position(T0), FetchPosition(1, 0))
        self.subscriptions.seek(T0, 2)
        self.fetcher.wakeup()
        self.assertEqual(self.fetcher.collect(10), [])
        self.clock.advance(0.5)
        self.assertEqual([r.value for r in self.fetcher.collect(10)], ["fine"])
