"""
Helpers shared by the server, API and fuzz tests (this module holds no tests): a
server connection on a C{StringTransport} with a C{Clock} and a captured log,
request frames, a reader for the response frames written, sample Metadata and Fetch
messages, and temporary files for file regions.
"""

from __future__ import annotations

import datetime
import os
import struct
import tempfile
from collections.abc import Callable
from typing import Any, cast

from kio.index import load_request_schema
from kio.schema.errors import ErrorCode
from kio.schema.fetch.v4 import response as fetch_v4
from kio.schema.fetch.v12 import response as fetch_v12
from kio.schema.fetch.v12.request import FetchRequest
from kio.schema.metadata.v5.request import MetadataRequest as MetadataV5Request
from kio.schema.metadata.v5.response import MetadataResponse as MetadataV5Response
from kio.schema.types import TopicName
from kio.static.primitive import Records, i32, i64
from kio.static.protocol import RequestPayload, ResponsePayload
from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import ILogObserver, Logger, LogLevel
from twisted.trial.unittest import SynchronousTestCase

from odradek.broker.apis import HandlerRegistry, register_api_versions
from odradek.broker.server import FileRegion, KafkaServerProtocol, ServerSettings
from odradek.client.protocol import (
    ApiKey,
    FrameDecoder,
    RequestHeader,
    VersionRange,
    decode_response,
    encode_frame,
    encode_request,
)

__all__ = [
    "API_VERSIONS",
    "FETCH",
    "METADATA",
    "Connection",
    "TempFile",
    "api_versions_frame",
    "connect",
    "fetch_registry",
    "fetch_request_frame",
    "fetch_response",
    "handler_returning",
    "materialize",
    "metadata_request",
    "metadata_response",
    "raw_frame",
    "read_frames",
    "registry_with",
    "request_frame",
    "responses",
]

SERVER_ADDRESS = IPv4Address("TCP", "127.0.0.1", 9092)
CLIENT_ADDRESS = IPv4Address("TCP", "10.0.0.7", 51234)
API_VERSIONS = int(ApiKey.API_VERSIONS)
METADATA = int(ApiKey.METADATA)
FETCH = int(ApiKey.FETCH)


class Connection:
    """
    A server protocol connected to a C{StringTransport}, with its clock and the log
    events it emitted.

    @ivar protocol: the server protocol.
    @ivar transport: its transport.
    @ivar clock: its reactor.
    @ivar events: the log events, in order.
    """

    def __init__(
        self,
        registry: HandlerRegistry,
        settings: ServerSettings | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.events: list[dict[str, Any]] = []
        self.clock = clock if clock is not None else Clock()
        self.protocol = KafkaServerProtocol(
            registry,
            settings if settings is not None else ServerSettings(),
            self.clock,
            index=1,
            log=Logger(observer=cast(ILogObserver, self.events.append)),
        )
        self.transport = StringTransport(SERVER_ADDRESS, CLIENT_ADDRESS)
        self.protocol.makeConnection(self.transport)

    def feed(self, data: bytes) -> None:
        """
        Deliver bytes from the client.
        """
        self.protocol.dataReceived(data)

    def feed_bytewise(self, data: bytes) -> None:
        """
        Deliver bytes from the client one at a time.
        """
        for index in range(len(data)):
            self.protocol.dataReceived(data[index : index + 1])

    @property
    def closed(self) -> bool:
        """
        Whether the server closed the connection.
        """
        return bool(self.transport.disconnecting)

    @property
    def paused(self) -> bool:
        """
        Whether the server paused reading from the transport.
        """
        return self.transport.producerState == "paused"

    def warnings(self) -> list[dict[str, Any]]:
        """
        @return: the events logged at level warn or above.
        """
        return [
            event
            for event in self.events
            if event["log_level"] in (LogLevel.warn, LogLevel.error, LogLevel.critical)
        ]

    @property
    def writer(self) -> Any:
        """
        The producer the protocol registered with the transport: its writer.
        """
        return self.transport.producer

    def lose(self) -> None:
        """
        Tell the protocol its connection is gone.
        """
        self.protocol.connectionLost()


def connect(
    registry: HandlerRegistry | None = None,
    settings: ServerSettings | None = None,
    clock: Clock | None = None,
) -> Connection:
    """
    @param registry: the handlers; by default a registry with ApiVersions alone.
    @return: a new connection.
    """
    if registry is None:
        registry = HandlerRegistry()
        register_api_versions(registry)
    return Connection(registry, settings, clock)


def request_frame(
    request: RequestPayload, correlation_id: int = 1, client_id: str | None = "test"
) -> bytes:
    """
    @return: C{request} framed with a header of the right version.
    """
    request_class = cast(Any, type(request))
    header = RequestHeader(
        request_class.__api_key__, request_class.__version__, correlation_id, client_id
    )
    return encode_frame(encode_request(header, request))


def raw_frame(
    api_key: int,
    api_version: int,
    correlation_id: int,
    body: bytes = b"",
    client_id: bytes = b"test",
    flexible: bool = False,
) -> bytes:
    """
    @return: a frame with a header of version 1 (or 2 when C{flexible}) written by
        hand, for requests the codec will not encode.
    """
    header = struct.pack(">hhih", api_key, api_version, correlation_id, len(client_id))
    header += client_id
    if flexible:
        header += b"\x00"
    return encode_frame(header + body)


def api_versions_frame(
    version: int,
    correlation_id: int = 1,
    name: str = "odradek-tests",
    software_version: str = "1.0",
) -> bytes:
    """
    @return: an ApiVersions request frame of a version from 0 to 4.
    """
    request_class: Any = load_request_schema(API_VERSIONS, version)
    if version < 3:
        request = request_class()
    else:
        request = request_class(
            client_software_name=name, client_software_version=software_version
        )
    return request_frame(request, correlation_id)


def read_frames(data: bytes) -> list[bytes]:
    """
    @return: the bodies of the complete frames in C{data}.
    @raise AssertionError: if bytes are left over.
    """
    decoder = FrameDecoder(2**31 - 1)
    frames = decoder.feed(data)
    assert decoder.buffered == 0, f"{decoder.buffered} bytes of a partial frame"
    return frames


def responses(data: bytes, *requests: tuple[int, int]) -> list[tuple[int, Any]]:
    """
    Decode response frames.

    @param data: what the server wrote.
    @param requests: the API key and version of the request each frame answers.
    @return: the correlation id and response of each frame.
    """
    frames = read_frames(data)
    assert len(frames) == len(requests), f"{len(frames)} frames for {len(requests)}"
    return [
        decode_response(frame, api_key, api_version)
        for frame, (api_key, api_version) in zip(frames, requests, strict=True)
    ]


def handler_returning(
    result: Callable[[Any, Any], Any] | Any,
) -> Callable[[Any, Any], Any]:
    """
    @return: a handler that returns C{result}, or calls it when it is callable.
    """

    def handler(context: Any, request: Any) -> Any:
        return result(context, request) if callable(result) else result

    return handler


def metadata_request() -> MetadataV5Request:
    """
    @return: a Metadata v5 request for all topics.
    """
    return MetadataV5Request(topics=None, allow_auto_topic_creation=False)


def metadata_response() -> MetadataV5Response:
    """
    @return: an empty Metadata v5 response.
    """
    return MetadataV5Response(
        throttle_time=datetime.timedelta(0),  # type: ignore[arg-type]
        brokers=(),
        cluster_id="cluster",
        controller_id=1,  # type: ignore[arg-type]
        topics=(),
    )


def registry_with(handler: Any, versions: VersionRange | None = None) -> Any:
    """
    @return: a registry with ApiVersions and C{handler} for Metadata v0 to v5.
    """
    registry = HandlerRegistry()
    register_api_versions(registry)
    registry.register(ApiKey.METADATA, handler, versions or VersionRange(0, 5))
    return registry


def fetch_response(version: int, records: list[Records | None]) -> ResponsePayload:
    """
    @return: a Fetch response of version 4 or 12 with one partition per entry of
        C{records}.
    """
    schema = fetch_v4 if version == 4 else fetch_v12
    extra: dict[str, Any] = {"error_code": ErrorCode.none, "session_id": i32(0)}
    partition_extra: dict[str, Any] = {}
    if version == 4:
        extra = {}
    else:
        partition_extra = {"log_start_offset": i64(0), "preferred_read_replica": -1}
    partitions = tuple(
        schema.PartitionData(
            partition_index=i32(index),
            error_code=ErrorCode.none,
            high_watermark=i64(100),
            last_stable_offset=i64(100),
            aborted_transactions=None,
            records=value,
            **partition_extra,
        )
        for index, value in enumerate(records)
    )
    return schema.FetchResponse(  # type: ignore[no-any-return]
        throttle_time=datetime.timedelta(0),
        responses=(
            schema.FetchableTopicResponse(
                topic=TopicName("orders"), partitions=partitions
            ),
        ),
        **extra,
    )


class TempFile:
    """
    A temporary file of known bytes, closed at the end of the test.
    """

    def __init__(self, test: SynchronousTestCase, content: bytes) -> None:
        self.file = tempfile.TemporaryFile()  # noqa: SIM115 (closed by cleanup)
        test.addCleanup(self.file.close)
        self.file.write(content)
        self.file.flush()
        self.content = content

    def region(self, position: int, size: int) -> FileRegion:
        return FileRegion(self.file, position, size)


def materialize(parts: tuple[Any, ...]) -> bytes:
    """
    @return: the bytes the parts stand for.
    """
    return b"".join(
        part
        if isinstance(part, bytes)
        else os.pread(part.fileno(), part.size, part.position)
        for part in parts
    )


def fetch_registry(response: Any) -> HandlerRegistry:
    """
    @return: a registry whose Fetch handler answers C{response}.
    """
    registry = HandlerRegistry()
    registry.register(ApiKey.FETCH, lambda context, request: response)
    return registry


def fetch_request_frame(correlation_id: int = 1) -> bytes:
    """
    @return: a Fetch v12 request frame.
    """
    request = FetchRequest(
        replica_id=-1,  # type: ignore[arg-type]
        max_wait=datetime.timedelta(0),  # type: ignore[arg-type]
        min_bytes=i32(1),
        max_bytes=i32(1000),
        isolation_level=0,  # type: ignore[arg-type]
        session_id=i32(0),
        session_epoch=i32(-1),
        topics=(),
        forgotten_topics_data=(),
        rack_id="",
    )
    return request_frame(request, correlation_id)
