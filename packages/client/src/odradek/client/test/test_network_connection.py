"""
Tests for L{odradek.client.network.connection}.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any

from kio.schema.errors import ErrorCode
from kio.schema.metadata.v12 import response as metadata_v12
from kio.static.protocol import RequestPayload
from twisted.internet.defer import CancelledError
from twisted.internet.error import ConnectionDone
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.test import iosim
from twisted.trial.unittest import SynchronousTestCase

from odradek.client import errors
from odradek.client.network.cluster import Node, PartitionInfo
from odradek.client.network.connection import KafkaConnection
from odradek.client.network.requests import (
    api_versions_request,
    cluster_from_metadata_response,
    metadata_request,
)
from odradek.client.protocol import (
    ApiKey,
    FrameDecoder,
    ProtocolError,
    RequestHeader,
    UnsupportedVersionError,
    decode_request,
    encode_frame,
)
from odradek.client.test._networktools import (
    FakeBroker,
    api_versions_response,
    metadata_response,
    response_frame,
)


def _connection(
    clock: Clock, timeout_ms: int = 1000, **kwargs: Any
) -> tuple[KafkaConnection, StringTransport]:
    connection = KafkaConnection(
        clock=clock, client_id="tester", request_timeout_ms=timeout_ms, **kwargs
    )
    transport = StringTransport()
    connection.makeConnection(transport)
    return connection, transport


def _metadata_request() -> RequestPayload:
    return metadata_request(12, ["orders"], True)


def _sent(transport: StringTransport) -> list[tuple[RequestHeader, RequestPayload]]:
    return [decode_request(frame) for frame in FrameDecoder().feed(transport.value())]


def _answer() -> metadata_v12.MetadataResponse:
    return metadata_response([Node(1, "b1", 9092)], {"orders": 3})


class SendTests(SynchronousTestCase):
    """
    L{KafkaConnection.send} writes framed requests and matches their responses.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.connection, self.transport = _connection(self.clock)

    def test_writes_request(self) -> None:
        """
        The request is written with a header naming its API, version, the next
        correlation id and the client id.
        """
        self.assertNoResult(self.connection.send(_metadata_request()))
        self.assertNoResult(self.connection.send(_metadata_request()))
        sent = _sent(self.transport)
        self.assertEqual(
            [header for header, _ in sent],
            [
                RequestHeader(ApiKey.METADATA, 12, 0, "tester"),
                RequestHeader(ApiKey.METADATA, 12, 1, "tester"),
            ],
        )
        self.assertEqual(sent[0][1], _metadata_request())
        self.assertEqual(self.connection.in_flight, 2)

    def test_response_one_byte_at_a_time(self) -> None:
        """
        A response fed one byte at a time fires the request's Deferred with the
        decoded response, and cancels its timeout.
        """
        sending = self.connection.send(_metadata_request())
        frame = response_frame(0, _answer())
        for index in range(len(frame) - 1):
            self.connection.dataReceived(frame[index : index + 1])
            self.assertNoResult(sending)
        self.connection.dataReceived(frame[-1:])
        response = self.successResultOf(sending)
        self.assertEqual(
            dict(cluster_from_metadata_response(response).topic_errors),  # type: ignore[arg-type]
            {"orders": 3},
        )
        self.assertEqual(self.connection.in_flight, 0)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_several_responses_in_one_chunk(self) -> None:
        """
        Several responses in one chunk fire their Deferreds in order.
        """
        first = self.connection.send(_metadata_request())
        second = self.connection.send(api_versions_request(3))
        fired: list[str] = []
        first.addCallback(lambda _: fired.append("first"))
        second.addCallback(lambda _: fired.append("second"))
        self.connection.dataReceived(
            response_frame(0, _answer()) + response_frame(1, api_versions_response(3))
        )
        self.assertEqual(fired, ["first", "second"])
        self.assertEqual(self.connection.in_flight, 0)

    def test_correlation_ids_wrap(self) -> None:
        """
        After 2**31 - 1 the correlation id starts again at 0.
        """
        self.connection._next_correlation_id = 2**31 - 1
        self.connection.send(_metadata_request())
        self.connection.send(_metadata_request())
        ids = [header.correlation_id for header, _ in _sent(self.transport)]
        self.assertEqual(ids, [2**31 - 1, 0])

    def test_no_response_expected(self) -> None:
        """
        With C{expect_response=False} the Deferred fires with None once written
        and nothing waits.
        """
        sending = self.connection.send(_metadata_request(), expect_response=False)
        self.assertIsNone(self.successResultOf(sending))
        self.assertEqual(self.connection.in_flight, 0)
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.assertEqual(len(_sent(self.transport)), 1)
        # The next request is answered as the oldest one waiting.
        waiting = self.connection.send(_metadata_request())
        self.connection.dataReceived(response_frame(1, _answer()))
        self.successResultOf(waiting)

    def test_cancelled_request(self) -> None:
        """
        A cancelled request fails with CancelledError; its response, when it
        comes, is dropped and the next one still matches.
        """
        first = self.connection.send(_metadata_request())
        second = self.connection.send(_metadata_request())
        first.cancel()
        self.failureResultOf(first, CancelledError)
        self.assertEqual(self.connection.in_flight, 2)
        self.connection.dataReceived(response_frame(0, _answer()))
        self.assertNoResult(second)
        self.connection.dataReceived(response_frame(1, _answer()))
        self.successResultOf(second)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_not_a_request(self) -> None:
        """
        Something that is not a kio request is refused at once.
        """
        self.assertRaises(
            (TypeError, AttributeError),
            self.connection.send,
            object(),
        )


class ProtocolViolationTests(SynchronousTestCase):
    """
    A response that breaks the protocol fails everything waiting and drops the
    connection.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.connection, self.transport = _connection(self.clock)
        self.first = self.connection.send(_metadata_request())
        self.second = self.connection.send(_metadata_request())

    def assertDropped(self) -> None:
        self.assertTrue(self.transport.disconnecting)
        self.assertTrue(self.connection.is_closed)
        self.assertEqual(self.connection.in_flight, 0)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_out_of_order(self) -> None:
        """
        A response to the second request while the first waits fails both with
        NetworkError.
        """
        self.connection.dataReceived(response_frame(1, _answer()))
        for sending in (self.first, self.second):
            failure = self.failureResultOf(sending, errors.NetworkError)
            self.assertIn("correlation id 1", str(failure.value))
        self.assertDropped()

    def test_unknown_correlation_id(self) -> None:
        """
        A response nobody waits for is a violation too.
        """
        self.connection.dataReceived(response_frame(0, _answer()))
        self.connection.dataReceived(response_frame(1, _answer()))
        self.successResultOf(self.first)
        self.successResultOf(self.second)
        self.connection.dataReceived(response_frame(2, _answer()))
        self.assertDropped()

    def test_later_frames_ignored(self) -> None:
        """
        Frames after the violation in the same chunk are not delivered.
        """
        self.connection.dataReceived(
            response_frame(5, _answer()) + response_frame(0, _answer())
        )
        self.failureResultOf(self.first, errors.NetworkError)
        self.failureResultOf(self.second, errors.NetworkError)
        self.assertDropped()

    def test_malformed_body(self) -> None:
        """
        A body that does not decode fails its request with the ProtocolError,
        the others with NetworkError.
        """
        self.connection.dataReceived(encode_frame(struct.pack(">i", 0) + b"\xff"))
        self.failureResultOf(self.first, ProtocolError)
        self.failureResultOf(self.second, errors.NetworkError)
        self.assertDropped()

    def test_frame_too_large(self) -> None:
        """
        A size prefix above C{max_frame_size} drops the connection.
        """
        connection, transport = _connection(self.clock, max_frame_size=16)
        sending = connection.send(_metadata_request())
        connection.dataReceived(struct.pack(">i", 17))
        failure = self.failureResultOf(sending, errors.NetworkError)
        self.assertIn("exceeds the maximum of 16", str(failure.value))
        self.assertTrue(transport.disconnecting)


class TimeoutTests(SynchronousTestCase):
    """
    A request without a response in time fails and closes the connection.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.connection, self.transport = _connection(
            self.clock, timeout_ms=1000, node=Node(7, "b7", 9092)
        )

    def test_request_timeout(self) -> None:
        """
        After C{request_timeout_ms} the request fails with RequestTimedOutError
        naming the API and the node; the others fail with NetworkError.
        """
        first = self.connection.send(_metadata_request())
        self.clock.advance(0.5)
        second = self.connection.send(_metadata_request())
        self.clock.advance(0.499)
        self.assertNoResult(first)
        self.clock.advance(0.001)
        failure = self.failureResultOf(first, errors.RequestTimedOutError)
        self.assertIn("METADATA", str(failure.value))
        self.assertIn("b7:9092 (id: 7", str(failure.value))
        self.assertIn("1000 ms", str(failure.value))
        failure = self.failureResultOf(second, errors.NetworkError)
        self.assertIn("timed out", str(failure.value))
        self.assertTrue(self.transport.disconnecting)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_timeout_per_request(self) -> None:
        """
        C{timeout_ms} overrides the connection's timeout.
        """
        sending = self.connection.send(_metadata_request(), timeout_ms=10)
        self.clock.advance(0.01)
        self.failureResultOf(sending, errors.RequestTimedOutError)


class ClosingTests(SynchronousTestCase):
    """
    A connection that ends fails everything waiting with NetworkError.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.connection, self.transport = _connection(self.clock)

    def test_connection_lost(self) -> None:
        """
        Losing the connection fails the requests waiting, naming the reason, and
        cancels their timeouts.
        """
        waiting = [self.connection.send(_metadata_request()) for _ in range(3)]
        closed = self.connection.when_closed()
        self.connection.connectionLost(Failure(ConnectionDone("peer went away")))
        for sending in waiting:
            failure = self.failureResultOf(sending, errors.NetworkError)
            self.assertIn("peer went away", str(failure.value))
        self.assertIsNone(self.successResultOf(closed))
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.assertEqual(self.connection.in_flight, 0)

    def test_send_after_close(self) -> None:
        """
        Sending on a closed connection fails at once, without writing.
        """
        self.connection.connectionLost(Failure(ConnectionDone("gone")))
        self.transport.clear()
        self.failureResultOf(
            self.connection.send(_metadata_request()), errors.NetworkError
        )
        self.assertEqual(self.transport.value(), b"")
        self.successResultOf(self.connection.when_closed())

    def test_send_before_connected(self) -> None:
        """
        Sending before the connection is made fails with NetworkError.
        """
        connection = KafkaConnection(
            clock=self.clock, client_id="x", request_timeout_ms=1
        )
        self.failureResultOf(connection.send(_metadata_request()), errors.NetworkError)

    def test_close(self) -> None:
        """
        L{KafkaConnection.close} fails the requests waiting and loses the
        connection.
        """
        sending = self.connection.send(_metadata_request())
        self.connection.close()
        failure = self.failureResultOf(sending, errors.NetworkError)
        self.assertIn("closed by the client", str(failure.value))
        self.assertTrue(self.transport.disconnecting)
        self.assertEqual(self.clock.getDelayedCalls(), [])
        # The transport reporting the loss later changes nothing.
        self.connection.connectionLost(Failure(ConnectionDone()))
        self.assertTrue(self.connection.is_closed)


class NegotiationTests(SynchronousTestCase):
    """
    L{KafkaConnection.negotiate_versions} chooses the versions to use.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.connection, self.transport = _connection(self.clock)

    def test_before_negotiation(self) -> None:
        """
        Before negotiation there are no versions to use.
        """
        self.assertEqual(dict(self.connection.versions), {})
        self.assertRaises(
            errors.IllegalStateError, self.connection.version_for, ApiKey.METADATA
        )

    def test_negotiated(self) -> None:
        """
        The newest ApiVersions version is sent; the answer gives the highest
        common versions, with Produce capped at 12.
        """
        negotiating = self.connection.negotiate_versions()
        [(header, request)] = _sent(self.transport)
        self.assertEqual(header.api_version, 4)
        self.assertEqual(request, api_versions_request(4))
        self.connection.dataReceived(response_frame(0, api_versions_response(4)))
        versions = self.successResultOf(negotiating)
        self.assertEqual(
            dict(versions),
            {
                ApiKey.PRODUCE: 12,
                ApiKey.METADATA: 12,
                ApiKey.API_VERSIONS: 4,
                ApiKey.INIT_PRODUCER_ID: 5,
            },
        )
        self.assertEqual(self.connection.versions, versions)
        self.assertEqual(self.connection.version_for(ApiKey.PRODUCE), 12)
        with self.assertRaises(UnsupportedVersionError) as caught:
            self.connection.version_for(ApiKey.FETCH)
        self.assertIn("FETCH", str(caught.exception))

    def test_fallback(self) -> None:
        """
        A broker that does not know ApiVersions 4 answers in version 0 with its
        range; the request is sent again in the newest version of that range.
        """
        ranges: dict[int, tuple[int, int]] = {
            ApiKey.API_VERSIONS: (0, 2),
            ApiKey.METADATA: (0, 9),
        }
        negotiating = self.connection.negotiate_versions()
        self.connection.dataReceived(
            response_frame(
                0, api_versions_response(0, ranges, ErrorCode.unsupported_version)
            )
        )
        self.assertNoResult(negotiating)
        headers = [header for header, _ in _sent(self.transport)]
        self.assertEqual([header.api_version for header in headers], [4, 2])
        self.connection.dataReceived(
            response_frame(1, api_versions_response(2, ranges))
        )
        versions: Mapping[ApiKey, int] = self.successResultOf(negotiating)
        self.assertEqual(
            dict(versions),
            {ApiKey.API_VERSIONS: 2, ApiKey.METADATA: 9},
        )

    def test_error(self) -> None:
        """
        Another error code fails the negotiation with its exception.
        """
        negotiating = self.connection.negotiate_versions()
        self.connection.dataReceived(
            response_frame(
                0,
                api_versions_response(4, error=ErrorCode.cluster_authorization_failed),
            )
        )
        self.failureResultOf(negotiating, errors.ClusterAuthorizationError)
        self.assertEqual(dict(self.connection.versions), {})


class FakeBrokerTests(SynchronousTestCase):
    """
    A real L{KafkaConnection} talks to a fake broker over iosim.
    """

    def test_negotiate_and_fetch_metadata(self) -> None:
        """
        The client negotiates versions, then reads the broker's Metadata answer.
        """
        clock = Clock()
        node = Node(1, "b1", 9092)
        partition = PartitionInfo("orders", 0, 1, 0, (1,), (1,))
        client, server, pump = iosim.connectedServerAndClient(
            lambda: FakeBroker([node], {"orders": [partition]}),
            lambda: KafkaConnection(clock=clock, client_id="c", request_timeout_ms=50),
            clock=clock,
        )
        negotiating = client.negotiate_versions()
        pump.flush()
        self.assertEqual(self.successResultOf(negotiating)[ApiKey.METADATA], 12)
        fetching = client.send(
            metadata_request(client.version_for(ApiKey.METADATA), None, False)
        )
        pump.flush()
        cluster = cluster_from_metadata_response(self.successResultOf(fetching))  # type: ignore[arg-type]
        self.assertEqual(dict(cluster.nodes), {1: node})
        self.assertEqual(cluster.partitions_for_topic("orders"), (partition,))
        self.assertEqual(
            [header.client_id for header, _ in server.requests], ["c", "c"]
        )
        client.close()
        pump.flush()
        self.assertEqual(clock.getDelayedCalls(), [])
