"""
Tests for L{odradek.client.admin._requests}: the admin client's requests about
the cluster and topics, in every version the client supports, and the answers.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from odradek.client import errors
from odradek.client.admin._requests import (
    create_partitions_request,
    create_topics_request,
    delete_topics_request,
    describe_cluster_request,
    elect_leaders_request,
    parse_create_partitions,
    parse_create_topics,
    parse_delete_topics,
    parse_describe_cluster,
    parse_elect_leaders,
    parse_topic_metadata,
    timeout_field,
)
from odradek.client.admin.types import (
    ClusterDescription,
    CreatedTopic,
    ElectionType,
    NewPartitions,
    NewTopic,
)
from odradek.client.network.cluster import Node
from odradek.client.protocol import SUPPORTED_VERSIONS, ApiKey, UnsupportedVersionError
from odradek.client.structs import TopicPartition
from odradek.client.test._admintools import entity, reply
from odradek.client.test._networktools import round_trip

TOPIC_ID = uuid.UUID("12345678-1234-5678-1234-567812345678")


def versions(api_key: ApiKey) -> range:
    """@return: every version of C{api_key} the client supports."""
    supported = SUPPORTED_VERSIONS[api_key]
    return range(supported.min_version, supported.max_version + 1)


class TimeoutFieldTests(SynchronousTestCase):
    """
    L{timeout_field} makes an int32 millisecond timedelta.
    """

    def test_bounds(self) -> None:
        """Fractions are cut, negatives become 0, large values the int32 maximum."""
        self.assertEqual(timeout_field(1500.7), datetime.timedelta(milliseconds=1500))
        self.assertEqual(timeout_field(-5), datetime.timedelta(0))
        self.assertEqual(
            timeout_field(1e12), datetime.timedelta(milliseconds=2**31 - 1)
        )


class CreateTopicsTests(SynchronousTestCase):
    """
    CreateTopics requests carry each topic's counts, assignment and configs.
    """

    def test_request_every_version(self) -> None:
        """Each version encodes the topics, timeout and validate_only flag."""
        topics = [
            NewTopic("a", 3, 2, configs={"cleanup.policy": "compact", "x": None}),
            NewTopic("b", replica_assignment={1: [2, 3], 0: [1, 2]}),
        ]
        for version in versions(ApiKey.CREATE_TOPICS):
            request: Any = round_trip(
                create_topics_request(
                    version, topics, timeout_ms=1234, validate_only=True
                )
            )
            self.assertEqual(request.timeout, datetime.timedelta(milliseconds=1234))
            self.assertTrue(request.validate_only)
            a, b = request.topics
            self.assertEqual(
                (a.name, a.num_partitions, a.replication_factor), ("a", 3, 2)
            )
            self.assertEqual(a.assignments, ())
            self.assertEqual(
                [(c.name, c.value) for c in a.configs],
                [("cleanup.policy", "compact"), ("x", None)],
            )
            self.assertEqual((b.num_partitions, b.replication_factor), (-1, -1))
            self.assertEqual(
                [(p.partition_index, tuple(p.broker_ids)) for p in b.assignments],
                [(0, (1, 2)), (1, (2, 3))],
            )

    def test_parse_v4(self) -> None:
        """Before version 5 a created topic is not described; errors carry messages."""
        response = reply(
            ApiKey.CREATE_TOPICS,
            4,
            topics=(
                entity(ApiKey.CREATE_TOPICS, 4, "CreatableTopicResult", name="a"),
                entity(
                    ApiKey.CREATE_TOPICS,
                    4,
                    "CreatableTopicResult",
                    name="b",
                    error_code=36,
                    error_message="Topic 'b' already exists.",
                ),
            ),
        )
        parsed = parse_create_topics(response)
        self.assertEqual(parsed["a"], CreatedTopic("a", None, -1, -1, {}))
        error = parsed["b"]
        self.assertIsInstance(error, errors.TopicExistsError)
        self.assertEqual(str(error), "TOPIC_ALREADY_EXISTS: Topic 'b' already exists.")

    def test_parse_v7(self) -> None:
        """Version 7 describes the topic, its configs and its id."""
        config = entity(
            ApiKey.CREATE_TOPICS,
            7,
            "CreatableTopicConfigs",
            name="retention.ms",
            value="1000",
        )
        response = reply(
            ApiKey.CREATE_TOPICS,
            7,
            topics=(
                entity(
                    ApiKey.CREATE_TOPICS,
                    7,
                    "CreatableTopicResult",
                    name="a",
                    topic_id=TOPIC_ID,
                    num_partitions=3,
                    replication_factor=2,
                    configs=(config,),
                ),
                entity(
                    ApiKey.CREATE_TOPICS,
                    7,
                    "CreatableTopicResult",
                    name="b",
                    topic_id=TOPIC_ID,
                    num_partitions=1,
                    replication_factor=1,
                    topic_config_error_code=29,
                    configs=(config,),
                ),
            ),
        )
        parsed = parse_create_topics(response)
        self.assertEqual(
            parsed["a"], CreatedTopic("a", TOPIC_ID, 3, 2, {"retention.ms": "1000"})
        )
        self.assertEqual(parsed["b"], CreatedTopic("b", TOPIC_ID, 1, 1, {}))

    def test_wrong_response(self) -> None:
        """A response of another API is a TypeError."""
        self.assertRaises(
            TypeError, parse_create_topics, reply(ApiKey.DELETE_TOPICS, 1)
        )


class DeleteTopicsTests(SynchronousTestCase):
    """
    DeleteTopics names topics by name, or by topic state from version 6.
    """

    def test_request_every_version(self) -> None:
        """Every version carries the names and the timeout."""
        for version in versions(ApiKey.DELETE_TOPICS):
            request: Any = round_trip(
                delete_topics_request(version, ["a", "b"], timeout_ms=500)
            )
            self.assertEqual(request.timeout, datetime.timedelta(milliseconds=500))
            if version < 6:
                self.assertEqual(request.topic_names, ("a", "b"))
            else:
                self.assertEqual([t.name for t in request.topics], ["a", "b"])
                self.assertEqual([t.topic_id for t in request.topics], [None, None])

    def test_parse(self) -> None:
        """Errors carry the message from version 5; unnamed results are skipped."""
        for version in (1, 5, 6):
            response = reply(
                ApiKey.DELETE_TOPICS,
                version,
                responses=(
                    entity(
                        ApiKey.DELETE_TOPICS, version, "DeletableTopicResult", name="a"
                    ),
                    entity(
                        ApiKey.DELETE_TOPICS,
                        version,
                        "DeletableTopicResult",
                        name="b",
                        error_code=3,
                        **({"error_message": "gone"} if version >= 5 else {}),
                    ),
                ),
            )
            parsed = parse_delete_topics(response)
            self.assertIsNone(parsed["a"])
            error = parsed["b"]
            self.assertIsInstance(error, errors.UnknownTopicOrPartitionError)
            self.assertEqual(
                error.message if error else None, "gone" if version >= 5 else None
            )
        unnamed = reply(
            ApiKey.DELETE_TOPICS,
            6,
            responses=(
                entity(ApiKey.DELETE_TOPICS, 6, "DeletableTopicResult", name=None),
            ),
        )
        self.assertEqual(parse_delete_topics(unnamed), {})


class CreatePartitionsTests(SynchronousTestCase):
    """
    CreatePartitions carries each topic's new count and optional assignments.
    """

    def test_request_every_version(self) -> None:
        """Every version carries counts, assignments (or null) and the flags."""
        for version in versions(ApiKey.CREATE_PARTITIONS):
            request: Any = round_trip(
                create_partitions_request(
                    version,
                    {"a": NewPartitions(3), "b": NewPartitions(4, [[1, 2]])},
                    timeout_ms=700,
                    validate_only=False,
                )
            )
            a, b = request.topics
            self.assertEqual((a.name, a.count, a.assignments), ("a", 3, None))
            self.assertEqual([tuple(x.broker_ids) for x in b.assignments], [(1, 2)])
            self.assertFalse(request.validate_only)

    def test_parse(self) -> None:
        """Each topic's error carries the broker's message."""
        response = reply(
            ApiKey.CREATE_PARTITIONS,
            3,
            results=(
                entity(
                    ApiKey.CREATE_PARTITIONS, 3, "CreatePartitionsTopicResult", name="a"
                ),
                entity(
                    ApiKey.CREATE_PARTITIONS,
                    3,
                    "CreatePartitionsTopicResult",
                    name="b",
                    error_code=37,
                    error_message="too few",
                ),
            ),
        )
        parsed = parse_create_partitions(response)
        self.assertIsNone(parsed["a"])
        self.assertIsInstance(parsed["b"], errors.InvalidPartitionsError)
        self.assertEqual(str(parsed["b"]), "INVALID_PARTITIONS: too few")


class ElectLeadersTests(SynchronousTestCase):
    """
    ElectLeaders: the election type from version 1, a top-level error too.
    """

    def test_request_every_version(self) -> None:
        """Partitions are grouped by topic; C{None} asks for every partition."""
        partitions = [
            TopicPartition("a", 0),
            TopicPartition("b", 1),
            TopicPartition("a", 2),
        ]
        for version in versions(ApiKey.ELECT_LEADERS):
            request: Any = round_trip(
                elect_leaders_request(
                    version, ElectionType.PREFERRED, partitions, timeout_ms=900
                )
            )
            self.assertEqual(
                [(t.topic, tuple(t.partitions)) for t in request.topic_partitions],
                [("a", (0, 2)), ("b", (1,))],
            )
            everything: Any = round_trip(
                elect_leaders_request(
                    version, ElectionType.PREFERRED, None, timeout_ms=1
                )
            )
            self.assertIsNone(everything.topic_partitions)
            if version >= 1:
                unclean: Any = round_trip(
                    elect_leaders_request(
                        version, ElectionType.UNCLEAN, None, timeout_ms=1
                    )
                )
                self.assertEqual(unclean.election_type, 1)

    def test_unclean_in_version_0(self) -> None:
        """Version 0 cannot ask for an unclean election."""
        self.assertRaises(
            UnsupportedVersionError,
            elect_leaders_request,
            0,
            ElectionType.UNCLEAN,
            None,
            timeout_ms=1,
        )

    def test_parse(self) -> None:
        """Per-partition errors carry messages; version 1 has a top-level error."""
        for version in (0, 2):
            fields: dict[str, object] = {
                "replica_election_results": (
                    entity(
                        ApiKey.ELECT_LEADERS,
                        version,
                        "ReplicaElectionResult",
                        topic="a",
                        partition_result=(
                            entity(
                                ApiKey.ELECT_LEADERS,
                                version,
                                "PartitionResult",
                                partition_id=0,
                            ),
                            entity(
                                ApiKey.ELECT_LEADERS,
                                version,
                                "PartitionResult",
                                partition_id=1,
                                error_code=84,
                                error_message="not needed",
                            ),
                        ),
                    ),
                )
            }
            if version >= 1:
                fields["error_code"] = 41
            top, parsed = parse_elect_leaders(
                reply(ApiKey.ELECT_LEADERS, version, **fields)
            )
            if version >= 1:
                self.assertIsInstance(top, errors.NotControllerError)
            else:
                self.assertIsNone(top)
            self.assertIsNone(parsed[TopicPartition("a", 0)])
            self.assertIsInstance(
                parsed[TopicPartition("a", 1)], errors.ElectionNotNeededError
            )


class ClusterTests(SynchronousTestCase):
    """
    DescribeCluster and Metadata describe the cluster.
    """

    def test_describe_cluster_request(self) -> None:
        """Every version asks for brokers, no operations and no fenced brokers."""
        for version in versions(ApiKey.DESCRIBE_CLUSTER):
            request: Any = round_trip(describe_cluster_request(version))
            self.assertFalse(request.include_cluster_authorized_operations)
            if version >= 1:
                self.assertEqual(request.endpoint_type, 1)
            if version >= 2:
                self.assertFalse(request.include_fenced_brokers)

    def test_parse_describe_cluster(self) -> None:
        """The brokers, controller and cluster id are read."""
        broker = entity(
            ApiKey.DESCRIBE_CLUSTER,
            1,
            "DescribeClusterBroker",
            broker_id=2,
            host="b2",
            port=9093,
            rack="r1",
        )
        response = reply(
            ApiKey.DESCRIBE_CLUSTER,
            1,
            cluster_id="c",
            controller_id=2,
            brokers=(broker,),
        )
        node = Node(2, "b2", 9093, "r1")
        self.assertEqual(
            parse_describe_cluster(response), ClusterDescription("c", node, (node,))
        )
        unknown = reply(ApiKey.DESCRIBE_CLUSTER, 1, controller_id=7, brokers=(broker,))
        self.assertIsNone(parse_describe_cluster(unknown).controller)

    def test_parse_describe_cluster_error(self) -> None:
        """The response's error is raised with its message."""
        response = reply(
            ApiKey.DESCRIBE_CLUSTER, 0, error_code=31, error_message="no access"
        )
        error = self.assertRaises(
            errors.ClusterAuthorizationError, parse_describe_cluster, response
        )
        self.assertEqual(error.message, "no access")

    def _metadata(self, version: int, **topic: object) -> Any:
        partition = entity(
            ApiKey.METADATA,
            version,
            "MetadataResponsePartition",
            partition_index=0,
            leader_id=1,
            replica_nodes=(1, 4),
            isr_nodes=(1,),
        )
        fields: dict[str, object] = {
            "brokers": (
                entity(
                    ApiKey.METADATA,
                    version,
                    "MetadataResponseBroker",
                    node_id=1,
                    host="b1",
                    port=9092,
                ),
            ),
            "topics": (
                entity(
                    ApiKey.METADATA,
                    version,
                    "MetadataResponseTopic",
                    name="a",
                    partitions=(partition,),
                    **topic,
                ),
                entity(
                    ApiKey.METADATA,
                    version,
                    "MetadataResponseTopic",
                    name="gone",
                    error_code=3,
                ),
            ),
        }
        if version >= 1:
            fields["controller_id"] = 1
        if version >= 2:
            fields["cluster_id"] = "c"
        return reply(ApiKey.METADATA, version, **fields)

    def test_metadata_v0(self) -> None:
        """Version 0 has no controller, cluster id, internal flag or topic id."""
        metadata = parse_topic_metadata(self._metadata(0))
        self.assertEqual((metadata.cluster_id, metadata.controller_id), (None, -1))
        described: Any = metadata.topics["a"]
        self.assertIsNone(described.topic_id)
        self.assertFalse(described.is_internal)
        (partition,) = described.partitions
        self.assertEqual(partition.leader, Node(1, "b1", 9092))
        self.assertEqual(partition.replicas, (Node(1, "b1", 9092), Node(4, "", -1)))
        self.assertIsInstance(
            metadata.topics["gone"], errors.UnknownTopicOrPartitionError
        )
        self.assertEqual(
            metadata.cluster_description(),
            ClusterDescription(None, None, (Node(1, "b1", 9092),)),
        )

    def test_metadata_v12(self) -> None:
        """Version 12 has the controller, internal flags and topic ids."""
        metadata = parse_topic_metadata(
            self._metadata(12, topic_id=TOPIC_ID, is_internal=True)
        )
        described: Any = metadata.topics["a"]
        self.assertEqual((described.topic_id, described.is_internal), (TOPIC_ID, True))
        self.assertEqual(metadata.cluster_description().controller, Node(1, "b1", 9092))
        zero = parse_topic_metadata(self._metadata(12, topic_id=uuid.UUID(int=0)))
        self.assertIsNone(zero.topics["a"].topic_id)  # type: ignore[union-attr]

    def test_metadata_v13_error(self) -> None:
        """Version 13's top-level error is raised."""
        response = reply(ApiKey.METADATA, 13, error_code=129)
        self.assertRaises(
            errors.RebootstrapRequiredError, parse_topic_metadata, response
        )
