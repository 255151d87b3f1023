"""
Tests for L{odradek.client.network.requests}.
"""

from __future__ import annotations

import uuid
from typing import cast

from kio.schema.api_versions.v0.response import ApiVersion as ApiVersionV0
from kio.schema.api_versions.v0.response import (
    ApiVersionsResponse as ApiVersionsResponseV0,
)
from kio.schema.errors import ErrorCode
from kio.schema.init_producer_id.v0.response import (
    InitProducerIdResponse as InitProducerIdResponseV0,
)
from kio.schema.metadata.v0 import response as metadata_v0
from kio.schema.metadata.v7 import response as metadata_v7
from kio.schema.metadata.v12 import response as metadata_v12
from kio.schema.metadata.v13 import response as metadata_v13
from kio.schema.types import BrokerId, ProducerId, TopicName
from kio.static.primitive import i16, i32
from kio.static.protocol import ResponsePayload
from twisted.trial.unittest import SynchronousTestCase

from odradek.client import errors
from odradek.client.network.cluster import Node, PartitionInfo
from odradek.client.network.requests import (
    CLIENT_MAX_VERSIONS,
    CLIENT_SOFTWARE_NAME,
    api_versions_request,
    client_software_version,
    client_version_range,
    client_versions,
    cluster_from_metadata_response,
    metadata_request,
)
from odradek.client.protocol import (
    SUPPORTED_VERSIONS,
    ApiKey,
    UnsupportedVersionError,
    VersionRange,
    decode_response,
    encode_response,
)
from odradek.client.test._networktools import NO_THROTTLE, round_trip


def _api_versions_v0(error: ErrorCode, *ranges: tuple[int, int, int]) -> object:
    return ApiVersionsResponseV0(
        error_code=error,
        api_keys=tuple(
            ApiVersionV0(api_key=i16(key), min_version=i16(low), max_version=i16(high))
            for key, low, high in ranges
        ),
    )


class ClientVersionsTests(SynchronousTestCase):
    """
    L{client_version_range} and L{client_versions} cap the negotiated versions at
    what the client can build.
    """

    def test_produce_capped(self) -> None:
        """
        Produce stops at version 12, the last with topic names.
        """
        self.assertEqual(CLIENT_MAX_VERSIONS[ApiKey.PRODUCE], 12)
        self.assertEqual(client_version_range(ApiKey.PRODUCE), VersionRange(3, 12))

    def test_uncapped_api(self) -> None:
        """
        An API without a cap keeps its supported range.
        """
        self.assertEqual(
            client_version_range(ApiKey.METADATA), SUPPORTED_VERSIONS[ApiKey.METADATA]
        )

    def test_broker_above_cap(self) -> None:
        """
        A broker offering Produce 3 to 13 gets Produce 12; other APIs negotiate
        as usual.
        """
        response = _api_versions_v0(ErrorCode.none, (0, 3, 13), (3, 0, 13), (18, 0, 4))
        self.assertEqual(
            client_versions(response),  # type: ignore[arg-type]
            {ApiKey.PRODUCE: 12, ApiKey.METADATA: 13, ApiKey.API_VERSIONS: 4},
        )

    def test_broker_only_above_cap(self) -> None:
        """
        A broker that speaks only Produce 13 leaves Produce out.
        """
        response = _api_versions_v0(ErrorCode.none, (0, 13, 13), (3, 0, 13))
        self.assertEqual(
            client_versions(response),  # type: ignore[arg-type]
            {ApiKey.METADATA: 13},
        )

    def test_error_code_raised(self) -> None:
        """
        A non-zero error code in the answer raises its exception.
        """
        response = _api_versions_v0(ErrorCode.unsupported_version, (18, 0, 2))
        self.assertRaises(
            errors.UnsupportedVersionError,
            client_versions,
            response,
        )


class ApiVersionsRequestTests(SynchronousTestCase):
    """
    L{api_versions_request} names the client software from version 3 on.
    """

    def test_old_versions_empty(self) -> None:
        """
        Versions 0 to 2 have no fields and encode as such.
        """
        for version in (0, 1, 2):
            request = api_versions_request(version)
            self.assertEqual(type(request).__version__, version)
            self.assertEqual(round_trip(request), request)

    def test_client_software(self) -> None:
        """
        Versions 3 and 4 carry the client's name and installed version.
        """
        for version in (3, 4):
            request = round_trip(api_versions_request(version))
            self.assertEqual(
                request.client_software_name,  # type: ignore[union-attr]
                CLIENT_SOFTWARE_NAME,
            )
            self.assertEqual(
                request.client_software_version,  # type: ignore[union-attr]
                client_software_version(),
            )
        self.assertEqual(CLIENT_SOFTWARE_NAME, "odradek-python")

    def test_unsupported_version(self) -> None:
        """
        A version outside the supported range is refused.
        """
        self.assertRaises(UnsupportedVersionError, api_versions_request, 5)


class MetadataRequestTests(SynchronousTestCase):
    """
    L{metadata_request} fills in the fields of every version.
    """

    def test_every_version_round_trips(self) -> None:
        """
        Every supported version encodes and decodes with the topics asked for.
        """
        for version in range(14):
            request = metadata_request(version, ["a", "b"], True)
            decoded = round_trip(request)
            self.assertEqual(decoded, request)
            names = [topic.name for topic in decoded.topics]  # type: ignore[union-attr]
            self.assertEqual(names, ["a", "b"], f"version {version}")

    def test_all_topics(self) -> None:
        """
        C{None} asks for every topic: an empty array in version 0, null later.
        """
        self.assertEqual(metadata_request(0, None, True).topics, ())  # type: ignore[union-attr]
        for version in (1, 4, 9, 10, 13):
            request = round_trip(metadata_request(version, None, True))
            self.assertIsNone(request.topics)  # type: ignore[union-attr]

    def test_no_topics(self) -> None:
        """
        An empty list asks for no topic from version 1 on; version 0 cannot say
        that.
        """
        request = round_trip(metadata_request(1, [], True))
        self.assertEqual(request.topics, ())  # type: ignore[union-attr]
        with self.assertRaises(UnsupportedVersionError) as caught:
            metadata_request(0, [], True)
        self.assertIn("version 0", str(caught.exception))

    def test_auto_creation(self) -> None:
        """
        C{allow_auto_topic_creation} is sent from version 4 on.
        """
        for allow in (True, False):
            request = round_trip(metadata_request(4, ["a"], allow))
            self.assertEqual(
                request.allow_auto_topic_creation,  # type: ignore[union-attr]
                allow,
            )
        # Version 3 has no such field: the broker decides.
        self.assertFalse(
            hasattr(metadata_request(3, ["a"], False), "allow_auto_topic_creation")
        )

    def test_no_authorized_operations(self) -> None:
        """
        Authorized operations are never asked for.
        """
        for version in (8, 10, 11, 13):
            request = metadata_request(version, ["a"], True)
            self.assertFalse(
                request.include_topic_authorized_operations  # type: ignore[union-attr]
            )
        self.assertFalse(
            metadata_request(9, ["a"], True).include_cluster_authorized_operations  # type: ignore[union-attr]
        )

    def test_topic_ids_null(self) -> None:
        """
        From version 10 on topics are named, with a null id.
        """
        request = round_trip(metadata_request(12, ["a"], True))
        topic = request.topics[0]  # type: ignore[union-attr]
        self.assertIsNone(topic.topic_id)
        self.assertEqual(topic.name, "a")


def _v0_response() -> metadata_v0.MetadataResponse:
    return metadata_v0.MetadataResponse(
        brokers=(
            metadata_v0.MetadataResponseBroker(
                node_id=BrokerId(1), host="b1", port=i32(9092)
            ),
        ),
        topics=(
            metadata_v0.MetadataResponseTopic(
                error_code=ErrorCode.none,
                name=TopicName("orders"),
                partitions=(
                    metadata_v0.MetadataResponsePartition(
                        error_code=ErrorCode.none,
                        partition_index=i32(1),
                        leader_id=BrokerId(1),
                        replica_nodes=(BrokerId(1),),
                        isr_nodes=(BrokerId(1),),
                    ),
                    metadata_v0.MetadataResponsePartition(
                        error_code=ErrorCode.leader_not_available,
                        partition_index=i32(0),
                        leader_id=BrokerId(-1),
                        replica_nodes=(BrokerId(1),),
                        isr_nodes=(),
                    ),
                ),
            ),
            metadata_v0.MetadataResponseTopic(
                error_code=ErrorCode.unknown_topic_or_partition,
                name=TopicName("missing"),
                partitions=(),
            ),
        ),
    )


def _v7_response() -> metadata_v7.MetadataResponse:
    return metadata_v7.MetadataResponse(
        throttle_time=NO_THROTTLE,
        brokers=(
            metadata_v7.MetadataResponseBroker(
                node_id=BrokerId(2), host="b2", port=i32(9093), rack="r1"
            ),
            metadata_v7.MetadataResponseBroker(
                node_id=BrokerId(3), host="b3", port=i32(9094), rack=None
            ),
        ),
        cluster_id="abc",
        controller_id=BrokerId(3),
        topics=(
            metadata_v7.MetadataResponseTopic(
                error_code=ErrorCode.none,
                name=TopicName("__consumer_offsets"),
                is_internal=True,
                partitions=(
                    metadata_v7.MetadataResponsePartition(
                        error_code=ErrorCode.none,
                        partition_index=i32(0),
                        leader_id=BrokerId(2),
                        leader_epoch=i32(5),
                        replica_nodes=(BrokerId(2), BrokerId(3)),
                        isr_nodes=(BrokerId(2),),
                        offline_replicas=(BrokerId(3),),
                    ),
                ),
            ),
            metadata_v7.MetadataResponseTopic(
                error_code=ErrorCode.topic_authorization_failed,
                name=TopicName("secret"),
                is_internal=False,
                partitions=(),
            ),
        ),
    )


def _v13_response(error: ErrorCode) -> metadata_v13.MetadataResponse:
    return metadata_v13.MetadataResponse(
        throttle_time=NO_THROTTLE,
        brokers=(),
        cluster_id=None,
        controller_id=BrokerId(-1),
        topics=(),
        error_code=error,
    )


def _decoded(response: object, version: int) -> object:
    """
    Encode and decode a Metadata response, as the connection would receive it.
    """
    _, decoded = decode_response(
        encode_response(1, cast(ResponsePayload, response)), ApiKey.METADATA, version
    )
    return decoded


class ClusterFromMetadataResponseTests(SynchronousTestCase):
    """
    L{cluster_from_metadata_response} reads every version into a snapshot.
    """

    def test_version_0(self) -> None:
        """
        Version 0 has no rack, controller, cluster id, epoch or offline replicas.
        """
        cluster = cluster_from_metadata_response(
            _decoded(_v0_response(), 0)  # type: ignore[arg-type]
        )
        self.assertEqual(dict(cluster.nodes), {1: Node(1, "b1", 9092, None)})
        self.assertEqual(cluster.controller_id, -1)
        self.assertIsNone(cluster.cluster_id)
        self.assertEqual(
            cluster.partitions_for_topic("orders"),
            (
                PartitionInfo("orders", 0, -1, -1, (1,), (), (), 5),
                PartitionInfo("orders", 1, 1, -1, (1,), (1,), (), 0),
            ),
        )
        self.assertEqual(dict(cluster.topic_errors), {"missing": 3})
        self.assertNotIn("missing", cluster.topics)
        self.assertEqual(cluster.internal_topics, frozenset())

    def test_error_codes_are_ints(self) -> None:
        """
        Error codes are plain ints, not kio's enum.
        """
        cluster = cluster_from_metadata_response(_v0_response())
        self.assertIs(type(cluster.topic_errors["missing"]), int)
        self.assertIs(type(cluster.partitions_for_topic("orders")[0].error_code), int)

    def test_version_7(self) -> None:
        """
        Version 7 brings racks, controller, cluster id, leader epochs, offline
        replicas and internal topics.
        """
        cluster = cluster_from_metadata_response(
            _decoded(_v7_response(), 7)  # type: ignore[arg-type]
        )
        self.assertEqual(
            dict(cluster.nodes),
            {2: Node(2, "b2", 9093, "r1"), 3: Node(3, "b3", 9094, None)},
        )
        self.assertEqual(cluster.controller_id, 3)
        self.assertEqual(cluster.cluster_id, "abc")
        self.assertEqual(
            cluster.partitions_for_topic("__consumer_offsets"),
            (PartitionInfo("__consumer_offsets", 0, 2, 5, (2, 3), (2,), (3,), 0),),
        )
        self.assertEqual(cluster.internal_topics, frozenset({"__consumer_offsets"}))
        self.assertEqual(dict(cluster.topic_errors), {"secret": 29})

    def test_topic_without_name(self) -> None:
        """
        A topic named only by its id (version 12 and up) is skipped.
        """
        response = metadata_v12.MetadataResponse(
            throttle_time=NO_THROTTLE,
            brokers=(),
            cluster_id=None,
            controller_id=BrokerId(-1),
            topics=(
                metadata_v12.MetadataResponseTopic(
                    error_code=ErrorCode.unknown_topic_id,
                    name=None,
                    topic_id=uuid.uuid4(),
                    partitions=(),
                ),
            ),
        )
        cluster = cluster_from_metadata_response(response)
        self.assertEqual(dict(cluster.topic_errors), {})
        self.assertEqual(cluster.topics, frozenset())

    def test_version_13_error(self) -> None:
        """
        Version 13's top-level error code raises its exception.
        """
        self.assertRaises(
            errors.RebootstrapRequiredError,
            cluster_from_metadata_response,
            _v13_response(ErrorCode.rebootstrap_required),
        )
        cluster = cluster_from_metadata_response(_v13_response(ErrorCode.none))
        self.assertEqual(dict(cluster.nodes), {})

    def test_wrong_response(self) -> None:
        """
        Another API's response is refused with TypeError.
        """
        response = InitProducerIdResponseV0(
            throttle_time=NO_THROTTLE,
            error_code=ErrorCode.none,
            producer_id=ProducerId(1),
            producer_epoch=i16(0),
        )
        self.assertRaises(TypeError, cluster_from_metadata_response, response)
