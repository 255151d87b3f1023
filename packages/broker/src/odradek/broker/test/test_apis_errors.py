"""
Tests for L{odradek.broker.apis.errors}: handler failures as error responses.
"""

from __future__ import annotations

import datetime
from typing import Any

from kio.schema.create_topics.v7 import request as create_topics_request
from kio.schema.create_topics.v7.response import CreateTopicsResponse
from kio.schema.delete_topics.v1.request import DeleteTopicsRequest
from kio.schema.delete_topics.v1.response import DeleteTopicsResponse
from kio.schema.describe_configs.v4 import request as describe_configs_request
from kio.schema.describe_configs.v4.response import DescribeConfigsResponse
from kio.schema.errors import ErrorCode
from kio.schema.find_coordinator.v3.response import FindCoordinatorResponse
from kio.schema.list_offsets.v7 import request as list_offsets_request
from kio.schema.list_offsets.v7.response import ListOffsetsResponse
from kio.schema.produce.v9 import request as produce_request
from kio.schema.produce.v9.response import ProduceResponse
from kio.schema.types import TopicName
from kio.static.primitive import Records, i8, i16, i32
from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from odradek.broker.apis import (
    NO_RESPONSE,
    ConnectionInfo,
    HandlerRegistry,
    RequestContext,
    build_error_response,
    generic_error_response,
)
from odradek.broker.apis.errors import as_kafka_error, kio_error_code
from odradek.client.errors import (
    KafkaError,
    NotControllerError,
    PolicyViolationError,
    UnknownServerError,
)
from odradek.client.protocol import (
    SUPPORTED_VERSIONS,
    ApiKey,
    RequestHeader,
    encode_response,
    response_type,
)

_SECOND = datetime.timedelta(seconds=1)


def produce() -> produce_request.ProduceRequest:
    """
    @return: a Produce v9 request for two partitions of one topic and one of
        another.
    """
    partition = produce_request.PartitionProduceData
    return produce_request.ProduceRequest(
        transactional_id=None,
        acks=i16(-1),
        timeout=_SECOND,  # type: ignore[arg-type]
        topic_data=(
            produce_request.TopicProduceData(
                name=TopicName("a"),
                partition_data=(
                    partition(index=i32(0), records=Records(b"x")),
                    partition(index=i32(4), records=None),
                ),
            ),
            produce_request.TopicProduceData(
                name=TopicName("b"),
                partition_data=(partition(index=i32(1), records=None),),
            ),
        ),
    )


def answer_nothing(context: Any, request: Any) -> Any:
    """
    A handler that answers nothing.
    """
    return NO_RESPONSE


class AsKafkaErrorTests(SynchronousTestCase):
    """
    Exceptions become Kafka errors without revealing anything else.
    """

    def test_kafka_error(self) -> None:
        """
        A L{KafkaError} stays itself.
        """
        error = NotControllerError("elsewhere")
        self.assertIs(as_kafka_error(error), error)

    def test_other(self) -> None:
        """
        Anything else becomes an L{UnknownServerError} without a message.
        """
        error = as_kafka_error(RuntimeError("secret"))
        self.assertIsInstance(error, UnknownServerError)
        self.assertIsNone(error.message)

    def test_kio_code(self) -> None:
        """
        Codes kio does not know are written as UNKNOWN_SERVER_ERROR.
        """
        self.assertEqual(kio_error_code(41), ErrorCode.not_controller)
        self.assertEqual(kio_error_code(31000), ErrorCode.unknown_server_error)


class GenericErrorResponseTests(SynchronousTestCase):
    """
    L{generic_error_response} puts the error on every entity the request named.
    """

    def test_produce(self) -> None:
        """
        Every partition of every topic of a Produce request gets the error.
        """
        response = generic_error_response(
            ProduceResponse, produce(), NotControllerError("moved")
        )
        assert isinstance(response, ProduceResponse)
        self.assertEqual(
            [
                (
                    topic.name,
                    partition.index,
                    partition.error_code,
                    partition.base_offset,
                )
                for topic in response.responses
                for partition in topic.partition_responses
            ],
            [
                ("a", 0, ErrorCode.not_controller, -1),
                ("a", 4, ErrorCode.not_controller, -1),
                ("b", 1, ErrorCode.not_controller, -1),
            ],
        )
        self.assertEqual(
            response.responses[0].partition_responses[0].error_message, "moved"
        )
        encode_response(1, response)

    def test_delete_topics_by_name(self) -> None:
        """
        A request array of bare names becomes entities with those names.
        """
        request = DeleteTopicsRequest(
            topic_names=(TopicName("x"), TopicName("y")),
            timeout=_SECOND,  # type: ignore[arg-type]
        )
        response = generic_error_response(
            DeleteTopicsResponse, request, NotControllerError()
        )
        assert isinstance(response, DeleteTopicsResponse)
        self.assertEqual(
            [(result.name, result.error_code) for result in response.responses],
            [("x", ErrorCode.not_controller), ("y", ErrorCode.not_controller)],
        )

    def test_create_topics(self) -> None:
        """
        Each topic to create gets the error and its message.
        """
        request = create_topics_request.CreateTopicsRequest(
            topics=(
                create_topics_request.CreatableTopic(
                    name=TopicName("t"),
                    num_partitions=i32(1),
                    replication_factor=i16(1),
                    assignments=(),
                    configs=(),
                ),
            ),
            timeout=_SECOND,  # type: ignore[arg-type]
            validate_only=False,
        )
        response = generic_error_response(
            CreateTopicsResponse, request, PolicyViolationError("no")
        )
        assert isinstance(response, CreateTopicsResponse)
        [topic] = response.topics
        self.assertEqual(
            (topic.name, topic.error_code, topic.error_message),
            ("t", ErrorCode.policy_violation, "no"),
        )
        encode_response(1, response)

    def test_list_offsets(self) -> None:
        """
        Nested arrays are matched by the fields they share.
        """
        request = list_offsets_request.ListOffsetsRequest(
            replica_id=-1,  # type: ignore[arg-type]
            isolation_level=i8(0),
            topics=(
                list_offsets_request.ListOffsetsTopic(
                    name=TopicName("t"),
                    partitions=(
                        list_offsets_request.ListOffsetsPartition(
                            partition_index=i32(2),
                            current_leader_epoch=i32(-1),
                            timestamp=-1,  # type: ignore[arg-type]
                        ),
                    ),
                ),
            ),
        )
        response = generic_error_response(ListOffsetsResponse, request, KafkaError())
        assert isinstance(response, ListOffsetsResponse)
        [partition] = response.topics[0].partitions
        self.assertEqual(
            (partition.partition_index, partition.error_code, partition.offset),
            (2, ErrorCode.unknown_server_error, -1),
        )

    def test_describe_configs(self) -> None:
        """
        Resources are matched by their type and name.
        """
        request = describe_configs_request.DescribeConfigsRequest(
            resources=(
                describe_configs_request.DescribeConfigsResource(
                    resource_type=i8(2), resource_name="t", configuration_keys=None
                ),
            ),
            include_synonyms=False,
            include_documentation=False,
        )
        response = generic_error_response(
            DescribeConfigsResponse, request, NotControllerError()
        )
        assert isinstance(response, DescribeConfigsResponse)
        [result] = response.results
        self.assertEqual(
            (result.resource_type, result.resource_name, result.error_code),
            (2, "t", ErrorCode.not_controller),
        )

    def test_top_level(self) -> None:
        """
        A top-level error code is set.
        """
        response = generic_error_response(
            FindCoordinatorResponse, None, NotControllerError()
        )
        assert isinstance(response, FindCoordinatorResponse)
        self.assertEqual(response.error_code, ErrorCode.not_controller)

    def test_every_response_encodes(self) -> None:
        """
        The error response of every supported API and version can be written.
        """
        for api_key, versions in SUPPORTED_VERSIONS.items():
            for version in range(versions.min_version, versions.max_version + 1):
                response_class = response_type(api_key, version)
                with self.subTest(api=api_key.name, version=version):
                    response = generic_error_response(
                        response_class, None, KafkaError()
                    )
                    self.assertIsInstance(response, response_class)
                    encode_response(1, response)


class BuildErrorResponseTests(SynchronousTestCase):
    """
    L{build_error_response} prefers the API's own builder.
    """

    def context(self, api_key: int, api_version: int) -> RequestContext:
        peer = IPv4Address("TCP", "10.0.0.1", 1)
        return RequestContext(
            RequestHeader(api_key, api_version, 1),
            ConnectionInfo("id", peer, peer, "PLAINTEXT", "PLAINTEXT"),
            Clock(),
        )

    def test_own_builder(self) -> None:
        """
        An API's C{error_response} is used, and its C{None} is kept.
        """
        calls: list[tuple[Any, ...]] = []

        def error_response(*args: Any) -> None:
            calls.append(args)
            return None

        registry = HandlerRegistry()
        entry = registry.register(
            ApiKey.PRODUCE, answer_nothing, error_response=error_response
        )
        context = self.context(0, 9)
        result = build_error_response(entry, context, produce(), RuntimeError("x"))
        self.assertIsNone(result)
        [(called_context, _, error)] = calls
        self.assertIs(called_context, context)
        self.assertIsInstance(error, UnknownServerError)

    def test_generic(self) -> None:
        """
        Without one, the generic builder answers in the request's version.
        """
        registry = HandlerRegistry()
        entry = registry.register(ApiKey.PRODUCE, answer_nothing)
        response = build_error_response(
            entry, self.context(0, 9), produce(), NotControllerError()
        )
        self.assertIsInstance(response, ProduceResponse)
