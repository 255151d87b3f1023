"""
Tests for L{odradek.client.consumer.offset_lookup}: ListOffsets lookups against
fake brokers on a fake network driven by a clock; and for the requests and
settings of L{odradek.client.consumer._fetchrequests}.
"""

from __future__ import annotations

import dataclasses
import sys
from typing import Any

from kio.schema.errors import ErrorCode
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from odradek.client import errors
from odradek.client.config import ConsumerConfig
from odradek.client.consumer._fetchrequests import (
    FetchedPartition,
    FetchSettings,
    PartitionFetch,
    fetch_request,
    list_offsets_request,
    parse_fetch_response,
    parse_list_offsets_response,
)
from odradek.client.consumer.offset_lookup import OffsetLookup
from odradek.client.consumer.subscription import FetchPosition, SubscriptionState
from odradek.client.network.metadata import MetadataManager
from odradek.client.network.pool import ConnectionPool
from odradek.client.network.requests import client_version_range
from odradek.client.protocol import ApiKey, response_type
from odradek.client.structs import OffsetAndTimestamp, TopicPartition
from odradek.client.test._consumertools import (
    BOOT,
    ConsumerCluster,
    batch,
    fetched_offsets,
    partitions,
)
from odradek.client.test._networktools import NO_THROTTLE, round_trip

T0 = TopicPartition("t", 0)
T1 = TopicPartition("t", 1)


def _asked(request: object) -> dict[TopicPartition, int]:
    body: object = request
    return {
        TopicPartition(topic.name, int(part.partition_index)): int(part.timestamp)
        for topic in body.topics  # type: ignore[attr-defined]
        for part in topic.partitions
    }


class OffsetLookupTestCase(SynchronousTestCase):
    """
    An L{OffsetLookup} talking to a L{ConsumerCluster} where node 1 leads t-0
    (offsets 5 to 9, timestamps 1000 to 1004) and node 2 leads t-1 (offsets 0 to
    2, last stable offset 1), both assigned.
    """

    isolation_level = "read_uncommitted"

    def setUp(self) -> None:
        self.clock = Clock()
        self.cluster = ConsumerCluster(self.clock, {"t": partitions("t", [1, 2])})
        log = self.cluster.log(T0)
        log.log_start_offset = 5
        log.append(batch(5, [b"v"] * 5, timestamp=1000))
        self.cluster.log(T1).append(batch(0, [b"a", b"b", b"c"]))
        self.cluster.log(T1).last_stable_offset = 1
        self.pool = ConnectionPool(
            self.clock,
            request_timeout_ms=1000,
            endpoint_factory=self.cluster.network.endpoint,
            random=lambda: 0.5,
        )
        self.addCleanup(self.pool.close)
        self.metadata = MetadataManager(
            self.pool, self.clock, [BOOT], retry_backoff_ms=100
        )
        self.metadata.add_topics(["t"])
        self.successResultOf(self.metadata.refresh())
        self.subscriptions = SubscriptionState("earliest")
        self.subscriptions.assign_from_user([T0, T1])
        self.lookup = OffsetLookup(
            self.clock,
            self.metadata,
            self.pool,
            self.subscriptions,
            isolation_level=self.isolation_level,
            retry_backoff_ms=100,
            request_timeout_ms=1000,
        )

    def asked(self, node_id: int) -> list[dict[TopicPartition, int]]:
        """@return: the timestamps each ListOffsets to node C{node_id} asked for."""
        return [
            _asked(request)
            for node, _, request in self.cluster.list_requests
            if node == node_id
        ]


class ResetPositionsTests(OffsetLookupTestCase):
    """
    Tests for L{OffsetLookup.reset_positions}.
    """

    def test_earliestAndLatest(self) -> None:
        """
        Partitions awaiting a reset are moved to their earliest or latest offset,
        by one ListOffsets per leader.
        """
        self.subscriptions.request_reset(T0, "earliest")
        self.subscriptions.request_reset(T1, "latest")
        self.successResultOf(self.lookup.reset_positions())
        self.assertEqual(self.asked(1), [{T0: -2}])
        self.assertEqual(self.asked(2), [{T1: -1}])
        self.assertEqual(self.subscriptions.position(T0), FetchPosition(5, 0))
        self.assertEqual(self.subscriptions.position(T1), FetchPosition(3, 0))
        self.assertEqual(self.cluster.list_requests[0][1].api_version, 11)

    def test_nothingToReset(self) -> None:
        """Without partitions awaiting a reset, nothing is sent."""
        self.subscriptions.seek(T0, 1)
        self.subscriptions.seek(T1, 1)
        self.assertIsNone(self.successResultOf(self.lookup.reset_positions()))
        self.assertEqual(self.cluster.list_requests, [])

    def test_noStrategy(self) -> None:
        """A partition whose strategy is none fails the reset, naming it."""
        self.subscriptions.request_reset(T0, "none")
        self.subscriptions.request_reset(T1, "latest")
        failure = self.failureResultOf(
            self.lookup.reset_positions(), errors.NoOffsetForPartitionError
        )
        self.assertEqual(failure.value.partitions, frozenset([T0]))
        self.assertIn("t-0", str(failure.value))
        self.assertEqual(self.cluster.list_requests, [])

    def test_retriableError(self) -> None:
        """
        A partition that fails with a retriable error backs off for
        retry.backoff.ms and asks for new metadata; the others are reset.
        """
        self.cluster.list_errors[T0] = [errors.NotLeaderOrFollowerError.code]
        self.subscriptions.request_reset(T0)
        self.subscriptions.request_reset(T1)
        self.successResultOf(self.lookup.reset_positions())
        self.assertEqual(self.subscriptions.position(T1), FetchPosition(0, 0))
        self.assertEqual(self.subscriptions.reset_strategy(T0), "earliest")
        self.assertTrue(self.metadata.update_requested)
        self.assertEqual(self.subscriptions.partitions_needing_reset(99), [])
        self.assertEqual(self.subscriptions.partitions_needing_reset(100), [T0])
        self.clock.advance(0.1)
        self.successResultOf(self.lookup.reset_positions())
        self.assertEqual(self.subscriptions.position(T0), FetchPosition(5, 0))

    def test_unknownLeader(self) -> None:
        """A partition without a known leader backs off and asks for metadata."""
        self.cluster.set_leader(T0, -1)
        self.successResultOf(self.metadata.refresh())
        self.subscriptions.request_reset(T0)
        self.successResultOf(self.lookup.reset_positions())
        self.assertEqual(self.asked(1), [])
        self.assertTrue(self.metadata.update_requested)
        self.assertEqual(self.subscriptions.partitions_needing_reset(0), [])

    def test_fatalError(self) -> None:
        """An error that cannot be retried fails the reset, which backs off."""
        self.cluster.list_errors[T0] = [errors.TopicAuthorizationError.code]
        self.subscriptions.request_reset(T0)
        self.failureResultOf(
            self.lookup.reset_positions(), errors.TopicAuthorizationError
        )
        self.assertEqual(self.subscriptions.partitions_needing_reset(99), [])
        self.assertEqual(self.subscriptions.partitions_needing_reset(100), [T0])

    def test_soughtMeanwhile(self) -> None:
        """A partition sought while its reset was under way keeps the new position."""
        self.cluster.hold_lists.add(1)
        self.subscriptions.request_reset(T0)
        resetting = self.lookup.reset_positions()
        # No second request while the first is under way.
        self.successResultOf(self.lookup.reset_positions())
        self.assertEqual(len(self.cluster.brokers[1].held), 1)
        self.subscriptions.seek(T0, 7)
        self.cluster.release(1)
        self.successResultOf(resetting)
        self.assertEqual(self.subscriptions.position(T0), FetchPosition(7))


class LookupTests(OffsetLookupTestCase):
    """
    Tests for L{OffsetLookup.beginning_offsets}, L{OffsetLookup.end_offsets} and
    L{OffsetLookup.offsets_for_times}.
    """

    def test_beginningAndEnd(self) -> None:
        """The first and end offsets of each partition are found."""
        self.assertEqual(
            self.successResultOf(self.lookup.beginning_offsets([T0, T1], 1000)),
            {T0: 5, T1: 0},
        )
        self.assertEqual(
            self.successResultOf(self.lookup.end_offsets([T0, T1], 1000)),
            {T0: 10, T1: 3},
        )
        self.assertEqual(self.successResultOf(self.lookup.end_offsets([], 1000)), {})

    def test_offsetsForTimes(self) -> None:
        """
        The first offset at or after each time is found, with its timestamp;
        C{None} when no record is that late.
        """
        found = self.successResultOf(
            self.lookup.offsets_for_times({T0: 1002, T1: 10**6}, 1000)
        )
        self.assertEqual(found, {T0: OffsetAndTimestamp(7, 1002, 0), T1: None})

    def test_negativeTime(self) -> None:
        """A negative time is refused."""
        self.failureResultOf(self.lookup.offsets_for_times({T0: -5}, 1000), ValueError)

    def test_retried(self) -> None:
        """Retriable errors are retried after retry.backoff.ms."""
        self.cluster.list_errors[T0] = [
            errors.NotLeaderOrFollowerError.code,
            errors.LeaderNotAvailableError.code,
        ]
        looking = self.lookup.beginning_offsets([T0, T1], 1000)
        self.assertNoResult(looking)
        self.clock.advance(0.1)
        self.assertNoResult(looking)
        self.clock.advance(0.1)
        self.assertEqual(self.successResultOf(looking), {T0: 5, T1: 0})
        self.assertEqual(self.asked(2), [{T1: -2}])

    def test_timeout(self) -> None:
        """A partition never answered times out, named in the error."""
        self.cluster.list_errors[T0] = [errors.NotLeaderOrFollowerError.code] * 100
        looking = self.lookup.end_offsets([T0, T1], 500)
        self.clock.pump([0.1] * 5)
        failure = self.failureResultOf(looking, errors.RequestTimedOutError)
        self.assertIn("[t-0]", str(failure.value))
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_unknownTopic(self) -> None:
        """A topic the cluster does not know fails with its mapped error."""
        self.failureResultOf(
            self.lookup.end_offsets([TopicPartition("nope", 0)], 1000),
            errors.UnknownTopicOrPartitionError,
        )

    def test_unknownPartition(self) -> None:
        """A partition the topic does not have fails the lookup."""
        self.failureResultOf(
            self.lookup.end_offsets([TopicPartition("t", 9)], 1000),
            errors.UnknownTopicOrPartitionError,
        )

    def test_leaderFound(self) -> None:
        """A partition without a known leader is retried once metadata has one."""
        self.cluster.set_leader(T0, -1)
        self.successResultOf(self.metadata.refresh())
        looking = self.lookup.beginning_offsets([T0], 1000)
        self.assertNoResult(looking)
        self.cluster.set_leader(T0, 1)
        self.clock.advance(0.1)
        self.assertEqual(self.successResultOf(looking), {T0: 5})

    def test_connectionFails(self) -> None:
        """A lost connection is retried."""
        self.cluster.network.auto_accept[("b1", 9092)] = False
        looking = self.lookup.beginning_offsets([T0], 1000)
        self.cluster.network.refuse(("b1", 9092))
        self.assertNoResult(looking)
        self.cluster.network.auto_accept[("b1", 9092)] = True
        self.clock.advance(0.1)
        self.assertEqual(self.successResultOf(looking), {T0: 5})

    def test_oldBroker(self) -> None:
        """A broker that knows only ListOffsets version 1 is asked in it."""
        for broker in self.cluster.brokers.values():
            broker.ranges = {**broker.ranges, ApiKey.LIST_OFFSETS: (1, 1)}
        found = self.successResultOf(self.lookup.offsets_for_times({T0: 1001}, 1000))
        self.assertEqual(found, {T0: OffsetAndTimestamp(6, 1001)})
        self.assertEqual(self.cluster.list_requests[0][1].api_version, 1)


class ReadCommittedTests(OffsetLookupTestCase):
    """
    Tests for lookups that read committed records only.
    """

    isolation_level = "read_committed"

    def test_endIsLastStable(self) -> None:
        """The end offset is the last stable offset."""
        self.assertEqual(
            self.successResultOf(self.lookup.end_offsets([T1], 1000)), {T1: 1}
        )
        self.assertEqual(self.cluster.list_requests[0][2].isolation_level, 1)


class ListOffsetsRequestTests(SynchronousTestCase):
    """
    Tests for the ListOffsets request builder and response reader.
    """

    def test_versions(self) -> None:
        """Every version from 1 to 11 builds; others are refused."""
        for version in range(1, 12):
            request = list_offsets_request(
                version, isolation_level=1, partitions={T0: (-1, 3)}, timeout_ms=5
            )
            self.assertEqual(_asked(request), {T0: -1})
        self.assertRaises(
            errors.UnsupportedVersionError,
            list_offsets_request,
            12,
            isolation_level=0,
            partitions={},
            timeout_ms=5,
        )

    def test_wrongResponse(self) -> None:
        """A response of another API is refused."""
        self.assertRaises(TypeError, parse_list_offsets_response, object())


class FetchSettingsTests(SynchronousTestCase):
    """
    Tests for L{FetchSettings}.
    """

    def test_fromConfig(self) -> None:
        """The settings are read from a consumer's configuration."""
        config = ConsumerConfig(
            {
                "bootstrap.servers": "b:1",
                "fetch.min.bytes": 7,
                "fetch.max.bytes": 8,
                "fetch.max.wait.ms": 9,
                "max.partition.fetch.bytes": 10,
                "max.poll.records": 11,
                "isolation.level": "read_committed",
                "check.crcs": False,
                "client.rack": "r1",
                "request.timeout.ms": 12,
                "retry.backoff.ms": 13,
            }
        )
        self.assertEqual(
            FetchSettings.from_config(config),
            FetchSettings(7, 8, 9, 10, 11, "read_committed", False, "r1", 12, 13),
        )
        self.assertTrue(FetchSettings.from_config(config).read_committed)

    def test_badIsolationLevel(self) -> None:
        """An unknown isolation level is refused."""
        self.assertRaises(ValueError, FetchSettings, isolation_level="dirty")


def _response(version: int, kind: str, **fields: object) -> Any:
    """Make a Fetch response entity of C{version}, with the fields it has."""
    module = sys.modules[response_type(ApiKey.FETCH, version).__module__]
    entity = getattr(module, kind)
    names = {field.name for field in dataclasses.fields(entity)}
    return entity(**{key: value for key, value in fields.items() if key in names})


class FetchRequestTests(SynchronousTestCase):
    """
    Tests for the Fetch request builder and response reader.
    """

    def test_versions(self) -> None:
        """
        Every version from 4 to 12 builds a full fetch with the fields it has:
        the current leader epoch from version 9, the rack from version 11.
        """
        for version in range(4, 13):
            request: Any = round_trip(
                fetch_request(
                    version,
                    max_wait_ms=500,
                    min_bytes=1,
                    max_bytes=1000,
                    isolation_level=1,
                    partitions={
                        T0: PartitionFetch(5, 100, 3),
                        T1: PartitionFetch(6, 100),
                    },
                    rack_id="r1",
                )
            )
            self.assertEqual(fetched_offsets(request), {T0: 5, T1: 6}, version)
            self.assertEqual(request.isolation_level, 1)
            self.assertEqual(request.max_wait.total_seconds(), 0.5)
            first = request.topics[0].partitions[0]
            self.assertEqual(first.partition_max_bytes, 100)
            if version >= 7:
                self.assertEqual((request.session_id, request.session_epoch), (0, -1))
            if version >= 9:
                self.assertEqual(first.current_leader_epoch, 3)
            if version >= 11:
                self.assertEqual(request.rack_id, "r1")

    def test_cappedAt12(self) -> None:
        """Versions past 12 name topics by id, and are neither built nor chosen."""
        self.assertEqual(client_version_range(ApiKey.FETCH).max_version, 12)
        self.assertRaises(
            errors.UnsupportedVersionError,
            fetch_request,
            13,
            max_wait_ms=1,
            min_bytes=1,
            max_bytes=1,
            isolation_level=0,
            partitions={},
        )

    def test_parse(self) -> None:
        """
        Responses of every version read into the same values, with -1 or
        C{None} for what a version lacks.
        """
        for version in (4, 5, 7, 11, 12):
            part = _response(
                version,
                "PartitionData",
                partition_index=1,
                error_code=ErrorCode.none,
                high_watermark=10,
                last_stable_offset=9,
                log_start_offset=2,
                aborted_transactions=(
                    _response(
                        version, "AbortedTransaction", producer_id=4, first_offset=3
                    ),
                ),
                preferred_read_replica=2,
                records=b"abc",
            )
            response = _response(
                version,
                "FetchResponse",
                throttle_time=NO_THROTTLE,
                error_code=ErrorCode.none,
                session_id=0,
                responses=(
                    _response(
                        version, "FetchableTopicResponse", topic="t", partitions=(part,)
                    ),
                ),
            )
            top, parsed = parse_fetch_response(response)
            self.assertEqual(top, 0)
            self.assertEqual(
                parsed,
                {
                    T1: FetchedPartition(
                        0,
                        10,
                        9,
                        2 if version >= 5 else -1,
                        ((4, 3),),
                        2 if version >= 11 else -1,
                        b"abc",
                    )
                },
                version,
            )

    def test_wrongResponse(self) -> None:
        """A response of another API is refused."""
        self.assertRaises(TypeError, parse_fetch_response, object())
