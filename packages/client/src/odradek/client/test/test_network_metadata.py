"""
Tests for L{odradek.client.network.metadata}.
"""

from __future__ import annotations

from typing import Any

import attrs
from kio.schema.errors import ErrorCode
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from odradek.client import errors
from odradek.client.network.cluster import ClusterMetadata, Node, PartitionInfo
from odradek.client.network.metadata import MetadataManager
from odradek.client.network.pool import ConnectionPool
from odradek.client.protocol import ApiKey, RequestHeader
from odradek.client.test._networktools import FakeBroker, FakeNetwork

BOOT = ("boot", 9000)
B1 = Node(1, "b1", 9092)
B2 = Node(2, "b2", 9093)
ORDERS = [PartitionInfo("orders", 0, 1, 0, (1, 2), (1, 2))]
AUDIT = [PartitionInfo("audit", 0, 2, 0, (2,), (2,))]


class _MetadataTestCase(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.network = FakeNetwork(self.clock)
        self.topics: dict[str, Any] = {"orders": ORDERS, "audit": AUDIT}
        for address in (BOOT, ("b1", 9092), ("b2", 9093)):
            self.network.brokers[address] = FakeBroker([B1, B2], self.topics)
        self.pool = ConnectionPool(
            self.clock,
            request_timeout_ms=5000,
            endpoint_factory=self.network.endpoint,
            random=lambda: 0.5,
        )
        self.manager = MetadataManager(
            self.pool,
            self.clock,
            [BOOT],
            metadata_max_age_ms=60000,
            retry_backoff_ms=100,
        )

    def metadata_requests(self) -> list[tuple[RequestHeader, Any]]:
        """@return: every Metadata request any broker received."""
        return [
            (header, request)
            for broker in self.network.brokers.values()
            for header, request in broker.requests
            if header.api_key == ApiKey.METADATA
        ]

    def hold_metadata(self, address: tuple[str, int]) -> FakeBroker:
        """Make the broker at C{address} leave Metadata requests unanswered."""
        broker = self.network.brokers[address]
        broker.handlers[ApiKey.METADATA] = lambda header, request: None
        return broker

    def release_metadata(self, broker: FakeBroker) -> None:
        """Answer the Metadata requests C{broker} held."""
        held, broker.held = broker.held, []
        for header, request in held:
            broker.reply(header, broker._metadata(header, request))


class RefreshTests(_MetadataTestCase):
    """
    L{MetadataManager.refresh} replaces the snapshot with a broker's answer.
    """

    def test_starts_from_bootstrap(self) -> None:
        """
        Before any answer the snapshot holds only the bootstrap servers.
        """
        self.assertEqual(self.manager.current, ClusterMetadata.bootstrap([BOOT]))
        self.assertTrue(self.manager.update_requested)
        self.assertEqual(self.manager.topics, frozenset())

    def test_refresh(self) -> None:
        """
        The topics of interest are asked for, auto-creation allowed; the answer
        becomes the current snapshot and goes to the listeners.
        """
        seen: list[ClusterMetadata] = []
        self.manager.listeners.append(seen.append)
        self.manager.add_topics(["orders"])
        cluster = self.successResultOf(self.manager.refresh())
        self.assertIs(self.manager.current, cluster)
        self.assertEqual(seen, [cluster])
        self.assertEqual(dict(cluster.nodes), {1: B1, 2: B2})
        self.assertEqual(cluster.partitions_for_topic("orders"), tuple(ORDERS))
        self.assertFalse(self.manager.update_requested)
        [(_, request)] = self.metadata_requests()
        self.assertEqual([topic.name for topic in request.topics], ["orders"])
        self.assertTrue(request.allow_auto_topic_creation)
        self.assertEqual(self.network.connects, [BOOT])

    def test_no_auto_creation(self) -> None:
        """
        C{allow_auto_topic_creation=False} goes into the request.
        """
        manager = attrs.evolve(self.manager, allow_auto_topic_creation=False)
        self.successResultOf(manager.refresh(["orders"]))
        [(_, request)] = self.metadata_requests()
        self.assertFalse(request.allow_auto_topic_creation)

    def test_least_loaded_broker_next(self) -> None:
        """
        Once brokers are known, the next refresh goes to one of them.
        """
        self.successResultOf(self.manager.refresh())
        self.network.connects.clear()
        self.successResultOf(self.manager.refresh())
        self.assertEqual(self.network.connects, [("b1", 9092)])

    def test_concurrent_refreshes_share(self) -> None:
        """
        A refresh asked for while one is under way shares its request.
        """
        broker = self.hold_metadata(BOOT)
        first = self.manager.refresh()
        second = self.manager.refresh()
        self.assertEqual(len(self.metadata_requests()), 1)
        self.assertNoResult(first)
        self.release_metadata(broker)
        self.assertIs(self.successResultOf(first), self.successResultOf(second))

    def test_partial_refresh_merges(self) -> None:
        """
        A refresh for some topics keeps what is known of the other topics of
        interest.
        """
        self.manager.add_topics(["orders", "audit"])
        self.successResultOf(self.manager.refresh())
        self.topics["orders"] = ErrorCode.leader_not_available.value
        cluster = self.successResultOf(self.manager.refresh(["orders"]))
        self.assertEqual(cluster.partitions_for_topic("audit"), tuple(AUDIT))
        self.assertEqual(dict(cluster.topic_errors), {"orders": 5})
        self.assertEqual(cluster.partitions_for_topic("orders"), ())

    def test_failure(self) -> None:
        """
        A refresh that cannot reach a broker fails and leaves the metadata stale.
        """
        del self.network.brokers[BOOT]
        self.failureResultOf(self.manager.refresh(), errors.NetworkError)
        self.assertTrue(self.manager.update_requested)
        self.assertEqual(self.manager.current, ClusterMetadata.bootstrap([BOOT]))

    def test_bootstrap_when_brokers_unreachable(self) -> None:
        """
        When every known broker is in reconnect backoff, the request goes to a
        bootstrap server.
        """
        self.successResultOf(self.manager.refresh())
        del self.network.brokers[("b1", 9092)]
        del self.network.brokers[("b2", 9093)]
        self.failureResultOf(self.manager.refresh(), errors.NetworkError)
        self.failureResultOf(self.manager.refresh(), errors.NetworkError)
        before = len(self.network.brokers[BOOT].requests)
        self.successResultOf(self.manager.refresh())
        self.assertEqual(len(self.network.brokers[BOOT].requests), before + 1)

    def test_listener_errors_logged(self) -> None:
        """
        A listener that raises is logged; the others still run.
        """
        seen: list[ClusterMetadata] = []

        def broken(cluster: ClusterMetadata) -> None:
            raise RuntimeError("listener bug")

        self.manager.listeners.extend([broken, seen.append])
        cluster = self.successResultOf(self.manager.refresh())
        self.assertEqual(seen, [cluster])
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)

    def test_topics_added_during_refresh(self) -> None:
        """
        Topics added while a refresh is under way leave the metadata stale.
        """
        broker = self.hold_metadata(BOOT)
        refreshing = self.manager.refresh()
        self.manager.add_topics(["audit"])
        self.release_metadata(broker)
        self.successResultOf(refreshing)
        self.assertTrue(self.manager.update_requested)

    def test_least_loaded_connection(self) -> None:
        """
        L{MetadataManager.least_loaded_connection} connects to a known node.
        """
        connection = self.successResultOf(self.manager.least_loaded_connection())
        self.assertEqual(connection.node, Node(-1, "boot", 9000))


class WaitForTopicTests(_MetadataTestCase):
    """
    L{MetadataManager.wait_for_topic} refreshes until a topic has partitions.
    """

    def test_known(self) -> None:
        """
        A topic already in the snapshot is there at once.
        """
        self.successResultOf(self.manager.refresh(["orders"]))
        requests = len(self.metadata_requests())
        cluster = self.successResultOf(self.manager.wait_for_topic("orders", 10))
        self.assertEqual(cluster.partitions_for_topic("orders"), tuple(ORDERS))
        self.assertEqual(len(self.metadata_requests()), requests)
        self.assertIn("orders", self.manager.topics)

    def test_retries_until_present(self) -> None:
        """
        While the topic is unknown or leaderless the metadata is refreshed
        every C{retry_backoff_ms}.
        """
        self.topics["fresh"] = ErrorCode.unknown_topic_or_partition.value
        waiting = self.manager.wait_for_topic("fresh", 1000)
        self.assertNoResult(waiting)
        self.assertEqual(len(self.metadata_requests()), 1)
        self.topics["fresh"] = ErrorCode.leader_not_available.value
        self.clock.advance(0.1)
        self.assertNoResult(waiting)
        self.assertEqual(len(self.metadata_requests()), 2)
        fresh = [PartitionInfo("fresh", 0, 2, 0, (2,), (2,))]
        self.topics["fresh"] = fresh
        self.clock.advance(0.1)
        cluster = self.successResultOf(waiting)
        self.assertEqual(cluster.partitions_for_topic("fresh"), tuple(fresh))
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_retries_network_errors(self) -> None:
        """
        A refresh that cannot reach a broker is retried too.
        """
        boot = self.network.brokers.pop(BOOT)
        waiting = self.manager.wait_for_topic("orders", 1000)
        self.assertNoResult(waiting)
        self.network.brokers[BOOT] = boot
        self.clock.advance(0.1)
        self.successResultOf(waiting)

    def test_not_retriable(self) -> None:
        """
        A topic error that is not retriable fails at once with its error.
        """
        for code, error in (
            (ErrorCode.invalid_topic_exception, errors.InvalidTopicError),
            (ErrorCode.topic_authorization_failed, errors.TopicAuthorizationError),
        ):
            self.topics["bad"] = code.value
            failure = self.failureResultOf(
                self.manager.wait_for_topic("bad", 1000), error
            )
            self.assertIn("bad", str(failure.value))
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_timeout(self) -> None:
        """
        A topic that never appears fails after C{timeout_ms} with
        RequestTimedOutError, leaving no delayed call behind.
        """
        waiting = self.manager.wait_for_topic("never", 1000)
        self.clock.advance(0.5)
        self.clock.advance(0.499)
        self.assertGreater(len(self.metadata_requests()), 1)
        self.assertNoResult(waiting)
        self.clock.advance(0.001)
        failure = self.failureResultOf(waiting, errors.RequestTimedOutError)
        self.assertEqual(
            str(failure.value),
            "REQUEST_TIMED_OUT: Topic never not present in metadata after 1000 ms.",
        )
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_timeout_during_refresh(self) -> None:
        """
        The timeout also ends a wait whose refresh is still under way.
        """
        self.hold_metadata(BOOT)
        waiting = self.manager.wait_for_topic("orders", 500)
        self.clock.advance(0.5)
        self.failureResultOf(waiting, errors.RequestTimedOutError)


class PeriodicRefreshTests(_MetadataTestCase):
    """
    While started, the metadata is refreshed when stale and every
    C{metadata_max_age_ms}.
    """

    def test_start_and_age(self) -> None:
        """
        Starting refreshes at once, then again when the snapshot is
        C{metadata_max_age_ms} old.
        """
        self.manager.start()
        self.clock.advance(0)
        self.assertEqual(len(self.metadata_requests()), 1)
        self.clock.advance(59.999)
        self.assertEqual(len(self.metadata_requests()), 1)
        self.clock.advance(0.001)
        self.assertEqual(len(self.metadata_requests()), 2)
        self.manager.stop()
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_request_update_after_backoff(self) -> None:
        """
        An update asked for is sent once C{retry_backoff_ms} has passed since the
        last attempt.
        """
        self.manager.start()
        self.clock.advance(0)
        self.clock.advance(0.05)
        self.manager.request_update()
        self.assertEqual(self.manager.time_to_next_update_ms(50), 50)
        self.clock.advance(0.049)
        self.assertEqual(len(self.metadata_requests()), 1)
        self.clock.advance(0.001)
        self.assertEqual(len(self.metadata_requests()), 2)
        self.assertFalse(self.manager.update_requested)
        self.manager.stop()

    def test_failed_refresh_retried(self) -> None:
        """
        A scheduled refresh that fails is tried again after the backoff.
        """
        boot = self.network.brokers.pop(BOOT)
        self.manager.start()
        self.clock.advance(0)
        self.assertEqual(self.manager.current, ClusterMetadata.bootstrap([BOOT]))
        self.network.brokers[BOOT] = boot
        self.clock.advance(0.1)
        self.assertEqual(self.manager.current.nodes.keys(), {1, 2})
        self.manager.stop()
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_stop(self) -> None:
        """
        After L{MetadataManager.stop} nothing is scheduled, even when asked.
        """
        self.manager.start()
        self.manager.stop()
        self.manager.request_update()
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.clock.advance(1000)
        self.assertEqual(self.metadata_requests(), [])


@attrs.frozen
class _Config:
    metadata_max_age_ms: int = 1234
    retry_backoff_ms: int = 56


class FromConfigTests(SynchronousTestCase):
    """
    L{MetadataManager.from_config} takes the client's settings.
    """

    def test_settings(self) -> None:
        """
        Each setting lands on its attribute.
        """
        clock = Clock()
        manager = MetadataManager.from_config(
            clock,
            ConnectionPool(clock),
            [("h", 1)],
            _Config(),
            allow_auto_topic_creation=False,
        )
        self.assertEqual(
            (
                manager.metadata_max_age_ms,
                manager.retry_backoff_ms,
                manager.allow_auto_topic_creation,
                manager.bootstrap_servers,
            ),
            (1234, 56, False, (("h", 1),)),
        )
