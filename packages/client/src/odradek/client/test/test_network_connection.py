"""
Tests for L{odradek.client.network.connection}.

The fakes at the top (L{FakeBroker}, L{FakeNetwork} and the response builders) are
shared with the pool and metadata tests.
"""

from __future__ import annotations

import datetime
import struct
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any, cast

from kio.schema.errors import ErrorCode
from kio.schema.metadata.v12 import response as metadata_v12
from kio.schema.types import BrokerId, TopicName
from kio.static.primitive import i16, i32, i32Timedelta
from kio.static.protocol import RequestPayload, ResponsePayload
from twisted.internet.address import IPv4Address
from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.error import ConnectionDone, ConnectionRefusedError
from twisted.internet.interfaces import (
    IProtocol,
    IProtocolFactory,
    IStreamClientEndpoint,
)
from twisted.internet.protocol import Protocol
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.test import iosim
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

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
    encode_response,
    response_type,
)

NO_THROTTLE = i32Timedelta.parse(datetime.timedelta(0))

#: The APIs and versions L{FakeBroker} advertises unless told otherwise. Metadata
#: stops at 12 because the fake answers Metadata in version 12 only.
BROKER_RANGES: Mapping[int, tuple[int, int]] = {
    ApiKey.PRODUCE: (3, 13),
    ApiKey.METADATA: (0, 12),
    ApiKey.API_VERSIONS: (0, 4),
    ApiKey.INIT_PRODUCER_ID: (0, 5),
}


def api_versions_response(
    version: int,
    ranges: Mapping[int, tuple[int, int]] = BROKER_RANGES,
    error: ErrorCode = ErrorCode.none,
) -> ResponsePayload:
    """
    @return: an ApiVersions response of C{version} listing C{ranges}.
    """
    response_class: Any = response_type(ApiKey.API_VERSIONS, version)
    module: Any = sys.modules[response_class.__module__]
    entries = tuple(
        module.ApiVersion(api_key=i16(key), min_version=i16(low), max_version=i16(high))
        for key, (low, high) in sorted(ranges.items())
    )
    fields: dict[str, object] = {"error_code": error, "api_keys": entries}
    if version >= 1:
        fields["throttle_time"] = NO_THROTTLE
    return cast(ResponsePayload, response_class(**fields))


def metadata_response(
    brokers: Iterable[Node],
    topics: Mapping[str, Iterable[PartitionInfo] | int],
    *,
    cluster_id: str | None = "fake-cluster",
    controller_id: int = -1,
) -> metadata_v12.MetadataResponse:
    """
    @param topics: for each topic, its partitions, or a topic error code.
    @return: a Metadata v12 response.
    """
    entries = []
    for name, described in topics.items():
        partitions: tuple[metadata_v12.MetadataResponsePartition, ...] = ()
        if isinstance(described, int):
            error = ErrorCode(described)
        else:
            error = ErrorCode.none
            partitions = tuple(
                metadata_v12.MetadataResponsePartition(
                    error_code=ErrorCode(info.error_code),
                    partition_index=i32(info.partition),
                    leader_id=BrokerId(info.leader),
                    leader_epoch=i32(info.leader_epoch),
                    replica_nodes=tuple(BrokerId(node) for node in info.replicas),
                    isr_nodes=tuple(BrokerId(node) for node in info.isr),
                    offline_replicas=(),
                )
                for info in described
            )
        entries.append(
            metadata_v12.MetadataResponseTopic(
                error_code=error,
                name=TopicName(name),
                topic_id=None,
                partitions=partitions,
            )
        )
    return metadata_v12.MetadataResponse(
        throttle_time=NO_THROTTLE,
        brokers=tuple(
            metadata_v12.MetadataResponseBroker(
                node_id=BrokerId(node.node_id),
                host=node.host,
                port=i32(node.port),
                rack=node.rack,
            )
            for node in brokers
        ),
        cluster_id=cluster_id,
        controller_id=BrokerId(controller_id),
        topics=tuple(entries),
    )


def response_frame(correlation_id: int, response: object) -> bytes:
    """@return: a framed response, as a broker writes it."""
    return encode_frame(encode_response(correlation_id, response))  # type: ignore[arg-type]


#: A handler of L{FakeBroker}: given a request's header and body, the response,
#: or C{None} to leave the request unanswered.
Handler = Callable[[RequestHeader, RequestPayload], object]


class FakeBroker(Protocol):
    """
    The server side of a connection: answers ApiVersions with L{BROKER_RANGES}
    and Metadata (version 12) from C{brokers} and C{topics}, and other APIs
    through C{handlers}.

    @ivar topics: the topics, each with its partitions or a topic error code.
    @ivar requests: every request received, as (header, body).
    @ivar held: requests whose handler returned C{None}.
    """

    def __init__(
        self,
        brokers: Iterable[Node] = (),
        topics: Mapping[str, Iterable[PartitionInfo] | int] | None = None,
        ranges: Mapping[int, tuple[int, int]] = BROKER_RANGES,
    ) -> None:
        self.brokers = list(brokers)
        # Kept, not copied: a test may change the topics as it goes.
        self.topics = topics if topics is not None else {}
        self.ranges = ranges
        self.requests: list[tuple[RequestHeader, RequestPayload]] = []
        self.held: list[tuple[RequestHeader, RequestPayload]] = []
        self.handlers: dict[int, Handler] = {
            ApiKey.API_VERSIONS: self._api_versions,
            ApiKey.METADATA: self._metadata,
        }
        self._decoder = FrameDecoder()

    def dataReceived(self, data: bytes) -> None:
        for frame in self._decoder.feed(data):
            header, request = decode_request(frame)
            self.requests.append((header, request))
            response = self.handlers[header.api_key](header, request)
            if response is None:
                self.held.append((header, request))
            else:
                self.reply(header, response)

    def reply(self, header: RequestHeader, response: object) -> None:
        """Answer a request."""
        assert self.transport is not None
        self.transport.write(response_frame(header.correlation_id, response))

    def _api_versions(self, header: RequestHeader, request: RequestPayload) -> object:
        _, high = self.ranges[ApiKey.API_VERSIONS]
        if header.api_version > high:
            return api_versions_response(0, self.ranges, ErrorCode.unsupported_version)
        return api_versions_response(header.api_version, self.ranges)

    def _metadata(self, header: RequestHeader, request: RequestPayload) -> object:
        assert header.api_version == 12, header.api_version
        asked: Any = request
        if asked.topics is None:
            names = list(self.topics)
        else:
            names = [topic.name for topic in asked.topics]
        return metadata_response(
            self.brokers,
            {
                name: self.topics.get(name, ErrorCode.unknown_topic_or_partition.value)
                for name in names
            },
        )


@implementer(IStreamClientEndpoint)
class FakeEndpoint:
    """
    A client endpoint whose connection attempts the test completes on cue
    (L{FakeNetwork.accept}, L{FakeNetwork.refuse}), or at once unless the
    network's C{auto_accept} says otherwise for the address.
    """

    def __init__(self, network: FakeNetwork, address: tuple[str, int]) -> None:
        self.network = network
        self.address = address

    def connect(self, factory: IProtocolFactory) -> Deferred[IProtocol]:
        attempt: Deferred[IProtocol] = Deferred()
        self.network.attempts.append((self.address, factory, attempt))
        if self.network.auto_accept.get(self.address, True):
            self.network.accept(self.address)
        return attempt


class _WireTransport(iosim.FakeTransport):
    """
    An iosim transport that moves bytes as soon as they are written, so that
    requests are answered without pumping by hand.
    """

    def __init__(self, protocol: object, is_server: bool, network: FakeNetwork):
        super().__init__(protocol, is_server)
        self.network = network

    def write(self, data: bytes) -> None:
        super().write(data)
        self.network.flush()

    def loseConnection(self) -> None:
        super().loseConnection()
        self.network.flush()

    def abortConnection(self) -> None:
        super().abortConnection()
        self.network.flush()


class FakeNetwork:
    """
    Brokers by address, reachable through L{FakeEndpoint}s over in-memory
    connections that deliver bytes at once.

    @ivar attempts: connection attempts not yet accepted or refused.
    @ivar connects: every address a connection was attempted to, in order.
    """

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.brokers: dict[tuple[str, int], FakeBroker] = {}
        self.auto_accept: dict[tuple[str, int], bool] = {}
        self.attempts: list[
            tuple[tuple[str, int], IProtocolFactory, Deferred[IProtocol]]
        ] = []
        self.connects: list[tuple[str, int]] = []
        self.pumps: list[iosim.IOPump] = []
        self._flushing = False

    def endpoint(self, host: str, port: int) -> FakeEndpoint:
        """The endpoint factory to give a pool."""
        self.connects.append((host, port))
        return FakeEndpoint(self, (host, port))

    def _take(
        self, address: tuple[str, int]
    ) -> tuple[IProtocolFactory, Deferred[IProtocol]]:
        for index, (where, factory, attempt) in enumerate(self.attempts):
            if where == address:
                del self.attempts[index]
                return factory, attempt
        raise AssertionError(f"no connection attempt to {address}")

    def accept(self, address: tuple[str, int]) -> None:
        """Complete the oldest attempt to C{address}; refuse it if no broker."""
        broker = self.brokers.get(address)
        if broker is None:
            self.refuse(address)
            return
        factory, attempt = self._take(address)
        client = factory.buildProtocol(IPv4Address("TCP", *address))
        assert client is not None
        pump = iosim.connect(
            broker,
            _WireTransport(broker, True, self),
            client,
            _WireTransport(client, False, self),
            greet=False,
            clock=self.clock,
        )
        self.pumps.append(pump)
        attempt.callback(client)

    def refuse(self, address: tuple[str, int]) -> None:
        """Fail the oldest attempt to C{address}."""
        _, attempt = self._take(address)
        attempt.errback(ConnectionRefusedError(f"{address} refused"))

    def flush(self) -> None:
        """Move bytes and disconnections on every connection until none moves."""
        if self._flushing:
            return
        self._flushing = True
        try:
            moved = True
            while moved:
                moved = False
                for pump in list(self.pumps):
                    moved = pump.pump(advanceClock=False) or moved
        finally:
            self._flushing = False


# -- the tests of KafkaConnection


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
