"""
Tests for the admin core's calls about the cluster and topics
(L{odradek.client.admin._topiccalls}), and for what every call shares: routing
to the controller, retries, deadlines and closing.
"""

from __future__ import annotations

from typing import Any

from odradek.client import errors
from odradek.client.admin.types import (
    CreatedTopic,
    ElectionType,
    NewPartitions,
    NewTopic,
)
from odradek.client.protocol import ApiKey
from odradek.client.structs import TopicPartition
from odradek.client.test._admintools import (
    ADMIN_RANGES,
    B2,
    B3,
    AdminHandler,
    AdminTestCase,
    entity,
    holding,
    reply,
)


def creating(codes: dict[str, list[int]] | None = None) -> AdminHandler:
    """
    @param codes: for some topics, the error codes to answer in turn (0 for
        success) before succeeding.
    @return: a CreateTopics handler that creates every topic asked for.
    """
    scripted = codes if codes is not None else {}

    def handle(node_id: int, header: Any, request: Any) -> object:
        version = header.api_version
        results = []
        for topic in request.topics:
            queue = scripted.get(topic.name)
            code = queue.pop(0) if queue else 0
            results.append(
                entity(
                    ApiKey.CREATE_TOPICS,
                    version,
                    "CreatableTopicResult",
                    name=topic.name,
                    error_code=code,
                    error_message=f"code {code}" if code else None,
                    num_partitions=max(topic.num_partitions, 1),
                    replication_factor=max(topic.replication_factor, 1),
                )
            )
        return reply(ApiKey.CREATE_TOPICS, version, topics=tuple(results))

    return handle


class CreateTopicsTests(AdminTestCase):
    """
    C{create_topics} sends CreateTopics to the controller.
    """

    def test_to_controller(self) -> None:
        """The topics go to the controller the metadata names, in one request."""
        self.cluster.handlers[ApiKey.CREATE_TOPICS] = creating({"b": [36]})
        admin = self.admin()
        d = admin.create_topics(
            [NewTopic("a", 3, 2, configs={"x": "1"}), NewTopic("b", 1, 1)],
            validate_only=True,
        )
        results = self.result(d)
        self.assertEqual(self.cluster.nodes_of(ApiKey.METADATA), [0])
        self.assertEqual(self.cluster.nodes_of(ApiKey.CREATE_TOPICS), [1])
        (request,) = self.cluster.bodies(ApiKey.CREATE_TOPICS)
        self.assertEqual([t.name for t in request.topics], ["a", "b"])
        self.assertTrue(request.validate_only)
        self.assertEqual(request.timeout.total_seconds(), 1.0)
        self.assertEqual(results["a"], CreatedTopic("a", None, 3, 2, {}))
        error = results.error("b")
        self.assertIsInstance(error, errors.TopicExistsError)
        self.assertEqual(str(error), "TOPIC_ALREADY_EXISTS: code 36")

    def test_duplicates(self) -> None:
        """A topic named twice is sent once, as first given."""
        self.cluster.handlers[ApiKey.CREATE_TOPICS] = creating()
        results = self.result(
            self.admin().create_topics([NewTopic("a", 3, 1), NewTopic("a", 5, 1)])
        )
        (request,) = self.cluster.bodies(ApiKey.CREATE_TOPICS)
        self.assertEqual([t.num_partitions for t in request.topics], [3])
        self.assertEqual(list(results), ["a"])

    def test_not_controller(self) -> None:
        """
        A topic answered NOT_CONTROLLER is sent again, alone, to the controller
        of freshly refreshed metadata.
        """
        self.cluster.handlers[ApiKey.CREATE_TOPICS] = creating({"b": [41]})
        admin = self.admin()
        d = admin.create_topics([NewTopic("a", 1, 1), NewTopic("b", 1, 1)])
        self.cluster.controller_id = 2
        self.reactor.settle()
        self.assertNoResult(d)
        self.reactor.advance(0.1)
        results = self.successResultOf(d)
        self.assertEqual(self.cluster.nodes_of(ApiKey.CREATE_TOPICS), [1, 2])
        retried = self.cluster.bodies(ApiKey.CREATE_TOPICS)[1]
        self.assertEqual([t.name for t in retried.topics], ["b"])
        self.assertEqual(len(self.cluster.requests(ApiKey.METADATA)), 2)
        self.assertEqual(sorted(results.values_ok()), ["a", "b"])

    def test_no_controller(self) -> None:
        """Without a known controller, the least loaded broker is asked."""
        self.cluster.controller_id = -1
        self.cluster.live = [B2, B3]
        self.cluster.handlers[ApiKey.CREATE_TOPICS] = creating()
        results = self.result(self.admin().create_topics([NewTopic("a", 1, 1)]))
        self.assertEqual(list(results.values_ok()), ["a"])
        self.assertEqual(self.cluster.nodes_of(ApiKey.CREATE_TOPICS), [2])

    def test_timeout(self) -> None:
        """
        A controller that never answers is asked again after each request
        timeout until the call's timeout; then every topic fails with
        REQUEST_TIMED_OUT, caused by the last error.
        """
        self.cluster.handlers[ApiKey.CREATE_TOPICS] = holding
        d = self.admin().create_topics([NewTopic("a", 1, 1)], timeout=2.5)
        self.run_for(2.45)
        self.assertNoResult(d)
        self.run_for(0.05)
        results = self.successResultOf(d)
        error = results.error("a")
        self.assertIsInstance(error, errors.RequestTimedOutError)
        assert error is not None
        self.assertIn("createTopics timed out after 2500 ms", str(error))
        self.assertIsInstance(error.__cause__, errors.RequestTimedOutError)
        self.assertEqual(len(self.cluster.requests(ApiKey.CREATE_TOPICS)), 3)

    def test_default_timeout(self) -> None:
        """Without a timeout, the call ends after C{default.api.timeout.ms}."""
        self.cluster.handlers[ApiKey.CREATE_TOPICS] = holding
        d = self.admin(**{"default.api.timeout.ms": 3000}).create_topics(
            [NewTopic("a", 1, 1)]
        )
        self.run_for(2.95)
        self.assertNoResult(d)
        self.run_for(0.05)
        self.assertIsInstance(
            self.successResultOf(d).error("a"), errors.RequestTimedOutError
        )

    def test_retries_used_up(self) -> None:
        """After C{retries} retries the pending topics fail, naming the last error."""
        self.cluster.handlers[ApiKey.CREATE_TOPICS] = creating({"a": [41] * 5})
        d = self.admin(retries=1).create_topics([NewTopic("a", 1, 1)])
        self.reactor.advance(0.1)
        error = self.successResultOf(d).error("a")
        self.assertIsInstance(error, errors.RequestTimedOutError)
        self.assertIn("failed after 2 tries", str(error))
        self.assertIn("NOT_CONTROLLER", str(error))
        self.assertEqual(len(self.cluster.requests(ApiKey.CREATE_TOPICS)), 2)

    def test_backoff_grows(self) -> None:
        """Retries wait C{retry.backoff.ms}, doubling up to its maximum."""
        self.cluster.handlers[ApiKey.CREATE_TOPICS] = creating({"a": [41] * 3})
        d = self.admin(**{"retry.backoff.max.ms": 300}).create_topics(
            [NewTopic("a", 1, 1)]
        )
        self.reactor.settle()
        counts = []
        for step in (0.1, 0.2, 0.3):
            self.reactor.advance(step - 0.001)
            counts.append(len(self.cluster.requests(ApiKey.CREATE_TOPICS)))
            self.reactor.advance(0.001)
        self.assertEqual(counts, [1, 2, 3])
        self.reactor.advance(0.3)
        self.assertEqual(list(self.successResultOf(d).values_ok()), ["a"])

    def test_connection_refused(self) -> None:
        """A controller that refuses the connection is tried again after backoff."""
        self.cluster.handlers[ApiKey.CREATE_TOPICS] = creating()
        self.cluster.network.auto_accept[("b1", 9092)] = False
        d = self.admin().create_topics([NewTopic("a", 1, 1)])
        self.reactor.settle()
        self.cluster.network.refuse(("b1", 9092))
        self.cluster.network.auto_accept[("b1", 9092)] = True
        self.reactor.advance(0.1)
        self.assertEqual(list(self.successResultOf(d).values_ok()), ["a"])

    def test_bad_arguments(self) -> None:
        """Items that are not NewTopics and negative timeouts are refused at once."""
        admin = self.admin()
        self.assertRaises(ValueError, admin.create_topics, ["orders"])
        self.assertRaises(ValueError, admin.create_topics, [], timeout=-1)
        self.assertEqual(self.cluster.received, [])

    def test_unsupported(self) -> None:
        """A broker without CreateTopics fails every topic with UNSUPPORTED_VERSION."""
        self.cluster.ranges = {
            key: value
            for key, value in ADMIN_RANGES.items()
            if key != ApiKey.CREATE_TOPICS
        }
        for broker in self.cluster.brokers.values():
            broker.ranges = self.cluster.ranges
        results = self.result(self.admin().create_topics([NewTopic("a", 1, 1)]))
        self.assertIsInstance(results.error("a"), errors.UnsupportedVersionError)


class DeleteTopicsTests(AdminTestCase):
    """
    C{delete_topics} and C{create_partitions} go to the controller.
    """

    def test_delete(self) -> None:
        """Each topic's outcome is reported; names must not be empty."""

        def handle(node_id: int, header: Any, request: Any) -> object:
            version = header.api_version
            return reply(
                ApiKey.DELETE_TOPICS,
                version,
                responses=tuple(
                    entity(
                        ApiKey.DELETE_TOPICS,
                        version,
                        "DeletableTopicResult",
                        name=topic.name,
                        error_code=3 if topic.name == "x" else 0,
                    )
                    for topic in request.topics
                ),
            )

        self.cluster.handlers[ApiKey.DELETE_TOPICS] = handle
        admin = self.admin()
        self.assertRaises(ValueError, admin.delete_topics, ["a", ""])
        results = self.result(admin.delete_topics(["a", "x"]))
        self.assertIsNone(results["a"])
        self.assertIsInstance(results.error("x"), errors.UnknownTopicOrPartitionError)
        self.assertEqual(self.cluster.nodes_of(ApiKey.DELETE_TOPICS), [1])

    def test_create_partitions(self) -> None:
        """Each topic's new count is sent; the outcome reported per topic."""

        def handle(node_id: int, header: Any, request: Any) -> object:
            version = header.api_version
            return reply(
                ApiKey.CREATE_PARTITIONS,
                version,
                results=tuple(
                    entity(
                        ApiKey.CREATE_PARTITIONS,
                        version,
                        "CreatePartitionsTopicResult",
                        name=topic.name,
                        error_code=37 if topic.count < 2 else 0,
                        error_message="too few" if topic.count < 2 else None,
                    )
                    for topic in request.topics
                ),
            )

        self.cluster.handlers[ApiKey.CREATE_PARTITIONS] = handle
        admin = self.admin()
        self.assertRaises(ValueError, admin.create_partitions, {"a": 3})
        results = self.result(
            admin.create_partitions(
                {"a": NewPartitions(3), "b": NewPartitions(1)}, validate_only=True
            )
        )
        self.assertIsNone(results["a"])
        self.assertEqual(str(results.error("b")), "INVALID_PARTITIONS: too few")
        (request,) = self.cluster.bodies(ApiKey.CREATE_PARTITIONS)
        self.assertTrue(request.validate_only)


def electing(top: list[int] | None = None, code: int = 0) -> AdminHandler:
    """@return: an ElectLeaders handler answering C{code} for each partition."""
    tops = top if top is not None else []

    def handle(node_id: int, header: Any, request: Any) -> object:
        version = header.api_version
        # Asked for every partition, the controller answers for partition t-0.
        asked = request.topic_partitions or (
            entity(
                ApiKey.ELECT_LEADERS, 0, "TopicPartitions", topic="t", partitions=(0,)
            ),
        )
        topics = [
            entity(
                ApiKey.ELECT_LEADERS,
                version,
                "ReplicaElectionResult",
                topic=topic.topic,
                partition_result=tuple(
                    entity(
                        ApiKey.ELECT_LEADERS,
                        version,
                        "PartitionResult",
                        partition_id=index,
                        error_code=code,
                    )
                    for index in topic.partitions
                ),
            )
            for topic in asked
        ]
        return reply(
            ApiKey.ELECT_LEADERS,
            version,
            error_code=tops.pop(0) if tops else 0,
            replica_election_results=tuple(topics),
        )

    return handle


class ElectLeadersTests(AdminTestCase):
    """
    C{elect_leaders} goes to the controller.
    """

    def test_partitions(self) -> None:
        """Each partition's outcome is reported, errors included."""
        self.cluster.handlers[ApiKey.ELECT_LEADERS] = electing(code=84)
        tps = [TopicPartition("t", 0), TopicPartition("t", 1)]
        results = self.result(self.admin().elect_leaders(ElectionType.UNCLEAN, tps))
        self.assertEqual(list(results), tps)
        self.assertIsInstance(results.error(tps[0]), errors.ElectionNotNeededError)
        (request,) = self.cluster.bodies(ApiKey.ELECT_LEADERS)
        self.assertEqual(request.election_type, 1)
        self.assertEqual(self.cluster.nodes_of(ApiKey.ELECT_LEADERS), [1])

    def test_all_partitions(self) -> None:
        """With no partitions given, those the controller answers are reported."""
        self.cluster.handlers[ApiKey.ELECT_LEADERS] = electing()
        results = self.result(self.admin().elect_leaders(ElectionType.PREFERRED))
        self.assertEqual(dict(results), {TopicPartition("t", 0): None})

    def test_top_level_not_controller(self) -> None:
        """A top-level NOT_CONTROLLER is retried after refreshing the metadata."""
        self.cluster.handlers[ApiKey.ELECT_LEADERS] = electing(top=[41])
        d = self.admin().elect_leaders(ElectionType.PREFERRED, [TopicPartition("t", 0)])
        self.reactor.advance(0.1)
        self.assertEqual(
            self.successResultOf(d).values_ok(), {TopicPartition("t", 0): None}
        )
        self.assertEqual(len(self.cluster.requests(ApiKey.METADATA)), 2)

    def test_top_level_error(self) -> None:
        """
        Another top-level error fails each partition given, or the call when none
        was given.
        """
        self.cluster.handlers[ApiKey.ELECT_LEADERS] = electing(top=[31, 31])
        admin = self.admin()
        tp = TopicPartition("t", 0)
        results = self.result(admin.elect_leaders(ElectionType.PREFERRED, [tp]))
        self.assertIsInstance(results.error(tp), errors.ClusterAuthorizationError)
        failed = admin.elect_leaders(ElectionType.PREFERRED)
        self.reactor.settle()
        self.failureResultOf(failed, errors.ClusterAuthorizationError)

    def test_empty_and_bad(self) -> None:
        """No partitions asks nothing; a negative partition is refused."""
        admin = self.admin()
        self.assertEqual(
            len(self.successResultOf(admin.elect_leaders(ElectionType.PREFERRED, []))),
            0,
        )
        self.assertRaises(
            ValueError,
            admin.elect_leaders,
            ElectionType.PREFERRED,
            [TopicPartition("t", -1)],
        )
        self.assertEqual(self.cluster.received, [])
