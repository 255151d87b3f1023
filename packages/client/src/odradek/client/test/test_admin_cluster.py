"""
Tests for the admin core's calls about the cluster (describe_cluster,
list_topics, describe_topics in L{odradek.client.admin._topiccalls}) and for
closing the core (L{odradek.client.admin._base}).
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import CancelledError, Deferred

from odradek.client import errors
from odradek.client.admin.types import ClusterDescription, NewTopic, TopicListing
from odradek.client.protocol import ApiKey
from odradek.client.test._admintools import (
    ADMIN_RANGES,
    B1,
    B2,
    B3,
    AdminTestCase,
    entity,
    holding,
    partitions,
    reply,
)


class ClusterTests(AdminTestCase):
    """
    C{describe_cluster}, C{list_topics} and C{describe_topics} ask any broker.
    """

    def test_describe_cluster(self) -> None:
        """DescribeCluster is used where the broker supports it."""

        def handle(node_id: int, header: Any, request: Any) -> object:
            broker = entity(
                ApiKey.DESCRIBE_CLUSTER,
                header.api_version,
                "DescribeClusterBroker",
                broker_id=2,
                host="b2",
                port=9093,
            )
            return reply(
                ApiKey.DESCRIBE_CLUSTER,
                header.api_version,
                cluster_id="c",
                controller_id=2,
                brokers=(broker,),
            )

        self.cluster.handlers[ApiKey.DESCRIBE_CLUSTER] = handle
        description = self.result(self.admin().describe_cluster())
        self.assertEqual(description, ClusterDescription("c", B2, (B2,)))
        self.assertEqual(self.cluster.requests(ApiKey.METADATA), [])

    def test_describe_cluster_by_metadata(self) -> None:
        """A broker without DescribeCluster is asked with Metadata."""
        ranges = {
            key: value
            for key, value in ADMIN_RANGES.items()
            if key != ApiKey.DESCRIBE_CLUSTER
        }
        for broker in self.cluster.brokers.values():
            broker.ranges = ranges
        description = self.result(self.admin().describe_cluster())
        self.assertEqual(
            description, ClusterDescription("fake-cluster", B1, (B1, B2, B3))
        )
        (request,) = self.cluster.bodies(ApiKey.METADATA)
        self.assertEqual(request.topics, ())

    def test_list_topics(self) -> None:
        """Topics are listed by name with their ids; internal ones on request."""
        self.cluster.topics.update(
            {
                "b": partitions("b", [1]),
                "a": partitions("a", [2]),
                "__consumer_offsets": partitions("__consumer_offsets", [1]),
                "bad": 17,
            }
        )
        self.cluster.internal.add("__consumer_offsets")
        admin = self.admin()
        listed = self.result(admin.list_topics())
        self.assertEqual(list(listed), ["a", "b"])
        self.assertEqual(listed["a"], TopicListing("a", None, False))
        with_internal = self.result(admin.list_topics(list_internal=True))
        self.assertTrue(with_internal["__consumer_offsets"].is_internal)
        request = self.cluster.bodies(ApiKey.METADATA)[0]
        self.assertIsNone(request.topics)
        self.assertFalse(request.allow_auto_topic_creation)

    def test_describe_topics(self) -> None:
        """Each topic is described or fails alone; unknown topics are not created."""
        self.cluster.topics["orders"] = partitions("orders", [1, 2])
        self.cluster.topics["secret"] = 29
        results = self.result(
            self.admin().describe_topics(["orders", "missing", "secret", "orders"])
        )
        self.assertEqual(list(results), ["orders", "missing", "secret"])
        self.assertEqual(
            [(p.partition, p.leader) for p in results["orders"].partitions],
            [(0, B1), (1, B2)],
        )
        self.assertIsInstance(
            results.error("missing"), errors.UnknownTopicOrPartitionError
        )
        self.assertIsInstance(results.error("secret"), errors.TopicAuthorizationError)
        (request,) = self.cluster.bodies(ApiKey.METADATA)
        self.assertEqual(
            [t.name for t in request.topics], ["orders", "missing", "secret"]
        )
        self.assertFalse(request.allow_auto_topic_creation)

    def test_describe_no_topics(self) -> None:
        """No topics: nothing is sent; an empty name is refused."""
        admin = self.admin()
        self.assertEqual(len(self.successResultOf(admin.describe_topics([]))), 0)
        self.assertRaises(ValueError, admin.describe_topics, [""])
        self.assertEqual(self.cluster.received, [])


class CloseTests(AdminTestCase):
    """
    C{close} lets calls finish, or fails them, and refuses new ones.
    """

    def test_closed(self) -> None:
        """Calls after close fail with ILLEGAL_STATE."""
        admin = self.admin()
        self.successResultOf(admin.close())
        self.failureResultOf(admin.list_topics(), errors.IllegalStateError)
        self.failureResultOf(admin.describe_topics([]), errors.IllegalStateError)

    def test_waits_for_calls(self) -> None:
        """Closing waits for the calls in flight, then releases the connections."""
        self.cluster.handlers[ApiKey.CREATE_TOPICS] = holding
        admin = self.admin()
        call = admin.create_topics([NewTopic("a", 1, 1)])
        self.reactor.settle()
        closing = admin.close()
        self.assertNoResult(closing)
        self.assertIs(admin.close(), closing)
        self.run_for(5)
        self.assertIsInstance(
            self.successResultOf(call).error("a"), errors.RequestTimedOutError
        )
        self.successResultOf(closing)
        self.assertIsNone(admin.pool.connection(1))

    def test_close_timeout(self) -> None:
        """Calls still in flight after the close timeout fail with ILLEGAL_STATE."""
        self.cluster.handlers[ApiKey.CREATE_TOPICS] = holding
        admin = self.admin()
        call = admin.create_topics([NewTopic("a", 1, 1)])
        self.reactor.settle()
        closing = admin.close(0.5)
        self.reactor.advance(0.5)
        self.successResultOf(closing)
        failure = self.failureResultOf(call, errors.IllegalStateError)
        self.assertIn("createTopics", str(failure.value))

    def test_close_now(self) -> None:
        """Closing again with a timeout of 0 fails the calls at once."""
        self.cluster.handlers[ApiKey.CREATE_TOPICS] = holding
        admin = self.admin()
        call = admin.create_topics([NewTopic("a", 1, 1)])
        self.reactor.settle()
        closing = admin.close()
        admin.close(0)
        self.successResultOf(closing)
        self.failureResultOf(call, errors.IllegalStateError)

    def test_cancel(self) -> None:
        """Cancelling a call's Deferred stops it."""
        self.cluster.handlers[ApiKey.CREATE_TOPICS] = holding
        admin = self.admin()
        call: Deferred[Any] = admin.create_topics([NewTopic("a", 1, 1)])
        self.reactor.settle()
        call.cancel()
        self.failureResultOf(call, CancelledError)
        self.successResultOf(admin.close())
