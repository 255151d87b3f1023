"""
Tests for L{odradek.broker.server.protocol}: framing, dispatch, and what handlers'
results and failures become on the wire.
"""

from __future__ import annotations

import struct
from typing import Any

from kio.schema.errors import ErrorCode
from kio.schema.metadata.v5.request import MetadataRequest as MetadataV5Request
from kio.schema.metadata.v5.request import MetadataRequestTopic
from kio.schema.metadata.v9.request import MetadataRequest as MetadataV9Request
from kio.schema.types import TopicName
from twisted.internet.defer import fail, succeed
from twisted.trial.unittest import SynchronousTestCase

from odradek.broker.apis import (
    CLOSE_CONNECTION,
    NO_RESPONSE,
    HandlerRegistry,
)
from odradek.broker.server import ServerSettings
from odradek.broker.test._servertools import (
    API_VERSIONS,
    METADATA,
    api_versions_frame,
    connect,
    handler_returning,
    metadata_request,
    metadata_response,
    raw_frame,
    registry_with,
    request_frame,
    responses,
)
from odradek.client.errors import NotControllerError
from odradek.client.protocol import ApiKey


class FramingTests(SynchronousTestCase):
    """
    Frames are reassembled from any split of the byte stream and checked before
    they are buffered.
    """

    def test_one_byte_at_a_time(self) -> None:
        """
        A request delivered one byte at a time is answered once, after its last
        byte.
        """
        connection = connect()
        frame = api_versions_frame(3, correlation_id=9)
        connection.feed_bytewise(frame[:-1])
        self.assertEqual(connection.transport.value(), b"")
        connection.feed(frame[-1:])
        [(correlation_id, response)] = responses(
            connection.transport.value(), (API_VERSIONS, 3)
        )
        self.assertEqual(correlation_id, 9)
        self.assertEqual(response.error_code, ErrorCode.none)

    def test_pipelined_in_one_write(self) -> None:
        """
        Several requests in one write are answered in order.
        """
        connection = connect()
        connection.feed(b"".join(api_versions_frame(v, 10 + v) for v in range(5)))
        answered = responses(
            connection.transport.value(), *[(API_VERSIONS, v) for v in range(5)]
        )
        self.assertEqual([cid for cid, _ in answered], [10, 11, 12, 13, 14])

    def test_oversize_frame_closes_before_buffering(self) -> None:
        """
        A size prefix above C{socket.request.max.bytes} closes the connection as
        soon as the prefix arrives, with one log line, and nothing is buffered.
        """
        connection = connect(settings=ServerSettings(max_request_size=1024))
        connection.feed(struct.pack(">i", 2**31 - 1))
        self.assertTrue(connection.closed)
        self.assertEqual(connection.protocol._decoder.buffered, 0)
        self.assertEqual(connection.transport.value(), b"")
        [warning] = connection.warnings()
        self.assertEqual(warning["frame_size"], 2**31 - 1)
        self.assertIn("exceeds the maximum of 1024", warning["reason"])

    def test_negative_size_closes(self) -> None:
        """
        A negative size prefix closes the connection with one log line.
        """
        connection = connect()
        connection.feed(struct.pack(">i", -1))
        self.assertTrue(connection.closed)
        self.assertEqual(len(connection.warnings()), 1)

    def test_frame_at_the_limit(self) -> None:
        """
        A frame exactly C{socket.request.max.bytes} long is accepted.
        """
        frame = api_versions_frame(3)
        connection = connect(settings=ServerSettings(max_request_size=len(frame) - 4))
        connection.feed(frame)
        self.assertFalse(connection.closed)
        self.assertEqual(len(responses(connection.transport.value(), (18, 3))), 1)

    def test_nothing_read_after_close(self) -> None:
        """
        Bytes arriving after the server closed the connection are ignored.
        """
        connection = connect()
        connection.feed(struct.pack(">i", -5))
        connection.feed(api_versions_frame(0))
        self.assertEqual(connection.transport.value(), b"")
        self.assertEqual(connection.protocol.stats.requests, 0)

    def test_requests_before_a_bad_frame_are_answered(self) -> None:
        """
        Requests completed in earlier reads are answered before a bad frame closes
        the connection.
        """
        connection = connect()
        connection.feed(api_versions_frame(1, 3))
        connection.feed(struct.pack(">i", -1))
        self.assertTrue(connection.closed)
        self.assertEqual(len(responses(connection.transport.value(), (18, 1))), 1)


class BadRequestTests(SynchronousTestCase):
    """
    Requests that cannot be served close only their connection, with one log line
    and no traceback.
    """

    def assertClosedQuietly(self, connection: Any, reason: str) -> None:
        self.assertTrue(connection.closed)
        self.assertEqual(connection.transport.value(), b"")
        [warning] = connection.warnings()
        self.assertIn(reason, warning["reason"])
        self.assertNotIn("log_failure", warning)

    def test_unknown_api_key(self) -> None:
        """
        An API key nobody knows closes the connection.
        """
        connection = connect()
        connection.feed(raw_frame(1000, 0, 1))
        self.assertClosedQuietly(connection, "API key 1000 has no handler")

    def test_api_without_handler(self) -> None:
        """
        A known API without a handler closes the connection, naming the API.
        """
        connection = connect()
        connection.feed(request_frame(metadata_request(), 4))
        self.assertClosedQuietly(connection, "METADATA (API key 3) has no handler")
        self.assertEqual(connection.warnings()[0]["correlation_id"], 4)

    def test_truncated_header(self) -> None:
        """
        A frame shorter than a request header closes the connection.
        """
        connection = connect()
        connection.feed(struct.pack(">i", 3) + b"\x00\x12\x00")
        self.assertClosedQuietly(connection, "malformed request header")

    def test_truncated_body(self) -> None:
        """
        A body that ends early closes the connection.
        """
        connection = connect()
        frame = api_versions_frame(3)[4:-3]
        connection.feed(struct.pack(">i", len(frame)) + frame)
        self.assertClosedQuietly(connection, "malformed request")

    def test_bytes_after_body(self) -> None:
        """
        Bytes left over after the body are ignored, as Kafka's broker ignores them
        (librdkafka sends a Metadata request with three extra bytes).
        """
        connection = connect()
        frame = api_versions_frame(0)[4:] + b"\x01\x00\x00"
        connection.feed(struct.pack(">i", len(frame)) + frame)
        self.assertFalse(connection.closed)
        self.assertEqual(len(responses(connection.transport.value(), (18, 0))), 1)

    def test_unsupported_version(self) -> None:
        """
        A version outside the handler's range closes the connection, as Kafka's
        SocketServer does.
        """
        connection = connect(registry_with(handler_returning(metadata_response())))
        request = MetadataV9Request(
            topics=None,
            allow_auto_topic_creation=False,
            include_cluster_authorized_operations=False,
            include_topic_authorized_operations=False,
        )
        connection.feed(request_frame(request))
        self.assertClosedQuietly(connection, "METADATA (API key 3) version 9 is not")

    def test_advertised_produce_versions_rejected(self) -> None:
        """
        Produce versions 0 to 2 are advertised but a request in one of them closes
        the connection; only its header is read.
        """
        registry = HandlerRegistry()
        registry.register(ApiKey.PRODUCE, handler_returning(NO_RESPONSE))
        self.assertEqual(registry.advertised()[0][1].min_version, 0)
        connection = connect(registry)
        connection.feed(raw_frame(0, 2, 7, body=b"\xff" * 20))
        self.assertClosedQuietly(connection, "PRODUCE (API key 0) version 2")


class HandlerTests(SynchronousTestCase):
    """
    What handlers return becomes what the connection sends.
    """

    def test_response(self) -> None:
        """
        A handler's response is sent with the request's correlation id.
        """
        connection = connect(registry_with(handler_returning(metadata_response())))
        connection.feed(request_frame(metadata_request(), 77))
        [(cid, response)] = responses(connection.transport.value(), (METADATA, 5))
        self.assertEqual((cid, response), (77, metadata_response()))

    def test_context(self) -> None:
        """
        A handler gets the request's context and the decoded request.
        """
        calls: list[tuple[Any, Any]] = []

        def handler(context: Any, request: Any) -> Any:
            calls.append((context, request))
            return metadata_response()

        connection = connect(registry_with(handler))
        connection.feed(request_frame(metadata_request(), 5, client_id="me"))
        [(context, request)] = calls
        self.assertEqual(request, metadata_request())
        self.assertEqual(
            (context.api_key, context.api_version, context.correlation_id),
            (METADATA, 5, 5),
        )
        self.assertEqual(context.client_id, "me")
        self.assertEqual(context.listener_name, "PLAINTEXT")
        self.assertEqual(context.principal, "User:ANONYMOUS")
        self.assertIs(context.reactor, connection.clock)
        self.assertEqual(context.client_address.host, "10.0.0.7")
        self.assertEqual(
            context.connection.connection_id, "127.0.0.1:9092-10.0.0.7:51234-1"
        )

    def test_no_response(self) -> None:
        """
        C{NO_RESPONSE} sends nothing, and the next request is answered.
        """
        connection = connect(registry_with(handler_returning(NO_RESPONSE)))
        connection.feed(request_frame(metadata_request(), 1) + api_versions_frame(0, 2))
        [(cid, _)] = responses(connection.transport.value(), (API_VERSIONS, 0))
        self.assertEqual(cid, 2)
        self.assertFalse(connection.closed)

    def test_close_connection(self) -> None:
        """
        C{CLOSE_CONNECTION} closes the connection without answering.
        """
        connection = connect(registry_with(handler_returning(CLOSE_CONNECTION)))
        connection.feed(request_frame(metadata_request()) + api_versions_frame(0))
        self.assertTrue(connection.closed)
        self.assertEqual(connection.transport.value(), b"")

    def test_unexpected_exception(self) -> None:
        """
        A handler raising an unexpected exception is answered with
        C{UNKNOWN_SERVER_ERROR}; the traceback is logged and never sent.
        """

        def handler(context: Any, request: Any) -> Any:
            raise RuntimeError("secret internals")

        connection = connect(registry_with(handler))
        connection.feed(request_frame(metadata_request(), 3))
        [(cid, response)] = responses(connection.transport.value(), (METADATA, 5))
        self.assertEqual(cid, 3)
        self.assertEqual(response.topics, ())
        self.assertNotIn(b"secret", connection.transport.value())
        [failure_event] = [e for e in connection.events if "log_failure" in e]
        self.assertIsInstance(failure_event["log_failure"].value, RuntimeError)
        self.assertEqual(failure_event["correlation_id"], 3)
        self.assertEqual(connection.protocol.stats.handler_errors, 1)
        self.assertFalse(connection.closed)

    def test_error_code_on_every_error_field(self) -> None:
        """
        The error response carries the error code on every topic the request named.
        """

        def handler(context: Any, request: Any) -> Any:
            raise ValueError("boom")

        request = MetadataV5Request(
            topics=(MetadataRequestTopic(name=TopicName("a")),),
            allow_auto_topic_creation=False,
        )
        connection = connect(registry_with(handler))
        connection.feed(request_frame(request))
        [(_, response)] = responses(connection.transport.value(), (METADATA, 5))
        [topic] = response.topics
        self.assertEqual((topic.name, topic.error_code), ("a", ErrorCode(-1)))

    def test_kafka_error(self) -> None:
        """
        A handler raising a L{KafkaError} is answered with its code and logged
        without a traceback.
        """

        def handler(context: Any, request: Any) -> Any:
            raise NotControllerError("moved")

        registry = HandlerRegistry()
        registry.register(ApiKey.API_VERSIONS, handler)
        connection = connect(registry)
        connection.feed(api_versions_frame(2, 8))
        [(_, response)] = responses(connection.transport.value(), (API_VERSIONS, 2))
        self.assertEqual(response.error_code, ErrorCode.not_controller)
        self.assertEqual([e for e in connection.events if "log_failure" in e], [])

    def test_wrong_response_type(self) -> None:
        """
        A handler returning something other than its API's response in the
        request's version is answered with C{UNKNOWN_SERVER_ERROR}.
        """
        connection = connect(registry_with(handler_returning("not a response")))
        connection.feed(request_frame(metadata_request()))
        [(_, response)] = responses(connection.transport.value(), (METADATA, 5))
        self.assertEqual(response.brokers, ())
        self.assertEqual(connection.protocol.stats.handler_errors, 1)

    def test_no_error_response(self) -> None:
        """
        A failed handler whose API has no error response to give closes the
        connection.
        """
        registry = HandlerRegistry()

        def handler(context: Any, request: Any) -> Any:
            raise RuntimeError("boom")

        registry.register(ApiKey.METADATA, handler, error_response=lambda *args: None)
        connection = connect(registry)
        connection.feed(request_frame(metadata_request()))
        self.assertTrue(connection.closed)
        self.assertEqual(connection.transport.value(), b"")

    def test_failing_deferred(self) -> None:
        """
        A handler whose Deferred fails is answered like one that raised.
        """
        connection = connect(
            registry_with(handler_returning(fail(NotControllerError())))
        )
        connection.feed(request_frame(metadata_request()))
        [(_, response)] = responses(connection.transport.value(), (METADATA, 5))
        self.assertEqual(response.topics, ())

    def test_fired_deferred(self) -> None:
        """
        A handler's Deferred that has already fired is answered at once.
        """
        connection = connect(registry_with(handler_returning(succeed(NO_RESPONSE))))
        connection.feed(request_frame(metadata_request()) + api_versions_frame(0, 2))
        self.assertEqual(len(responses(connection.transport.value(), (18, 0))), 1)
