"""
A fake Kafka network for the network layer's tests: L{FakeBroker} answers
requests over in-memory connections that L{FakeNetwork} makes through
L{FakeEndpoint}s, and the response builders (L{api_versions_response},
L{metadata_response}, L{response_frame}) make what a broker would send;
L{round_trip} decodes a request as a broker would.
"""

from __future__ import annotations

import datetime
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any, cast

from kio.schema.errors import ErrorCode
from kio.schema.metadata.v12 import response as metadata_v12
from kio.schema.types import BrokerId, TopicName
from kio.static.primitive import i16, i32, i32Timedelta
from kio.static.protocol import RequestPayload, ResponsePayload
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectionRefusedError
from twisted.internet.interfaces import (
    IProtocol,
    IProtocolFactory,
    IStreamClientEndpoint,
)
from twisted.internet.protocol import Protocol
from twisted.internet.task import Clock
from twisted.test import iosim
from zope.interface import implementer

from odradek.client.network.cluster import Node, PartitionInfo
from odradek.client.protocol import (
    ApiKey,
    FrameDecoder,
    RequestHeader,
    decode_request,
    encode_frame,
    encode_request,
    encode_response,
    response_type,
)

__all__ = [
    "BROKER_RANGES",
    "NO_THROTTLE",
    "FakeBroker",
    "FakeEndpoint",
    "FakeNetwork",
    "Handler",
    "api_versions_response",
    "metadata_response",
    "response_frame",
    "round_trip",
]

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


def round_trip(request: RequestPayload) -> RequestPayload:
    """
    Encode C{request} with a header and decode it again, as a broker would.
    """
    kind = type(request)
    header = RequestHeader(int(kind.__api_key__), int(kind.__version__), 7, "test")
    _, decoded = decode_request(encode_request(header, request))
    return decoded


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
