"""
Fuzz tests of the broker's request path: random bytes and mutated valid frames fed
to L{KafkaServerProtocol} in random pieces.

Whatever arrives, the protocol must never raise out of C{dataReceived}, never buffer
more than one frame of C{socket.request.max.bytes}, never log a failure of its own,
and either answer every request it read, in whole frames, or close the connection.

Hypothesis runs derandomized, so every run explores the same examples.
"""

from __future__ import annotations

import datetime
import itertools
import struct
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kio.schema.metadata.v1.request import MetadataRequest as MetadataV1Request
from kio.schema.metadata.v5.request import MetadataRequest as MetadataV5Request
from kio.schema.metadata.v5.request import MetadataRequestTopic
from kio.schema.metadata.v5.response import MetadataResponse as MetadataV5Response
from kio.schema.types import TopicName
from twisted.internet.defer import succeed
from twisted.trial.unittest import SynchronousTestCase

from odradek.broker.apis import HandlerRegistry, register_api_versions
from odradek.broker.apis.errors import generic_error_response
from odradek.broker.server import ServerSettings
from odradek.broker.test._servertools import (
    API_VERSIONS,
    api_versions_frame,
    connect,
    raw_frame,
    read_frames,
    request_frame,
)
from odradek.client.errors import UnknownServerError
from odradek.client.protocol import ApiKey, VersionRange, response_type

LIMIT = 2048
_fuzz = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=300,
    suppress_health_check=[HealthCheck.too_slow],
)


def metadata_handler(context: Any, request: Any) -> Any:
    """
    Answer Metadata v5 with an empty response, other versions from a fired Deferred
    with their error response.
    """
    if context.api_version == 5:
        return MetadataV5Response(
            throttle_time=datetime.timedelta(0),  # type: ignore[arg-type]
            brokers=(),
            cluster_id=None,
            controller_id=-1,  # type: ignore[arg-type]
            topics=(),
        )
    response_class = response_type(context.api_key, context.api_version)
    return succeed(
        generic_error_response(response_class, request, UnknownServerError())
    )


def registry() -> HandlerRegistry:
    """
    @return: ApiVersions and Metadata v0 to v5.
    """
    handlers = HandlerRegistry()
    register_api_versions(handlers)
    handlers.register(ApiKey.METADATA, metadata_handler, VersionRange(0, 5))
    return handlers


def valid_frames() -> list[bytes]:
    """
    @return: frames of every version of ApiVersions, an ApiVersions version newer
        than the broker's, and Metadata requests, with correlation ids 1, 2, ...
    """
    frames = [api_versions_frame(version, version + 1) for version in range(5)]
    frames.append(raw_frame(API_VERSIONS, 7, 6, b"\x02a\x02b\x00", flexible=True))
    frames.append(
        request_frame(
            MetadataV5Request(
                topics=(MetadataRequestTopic(name=TopicName("orders")),),
                allow_auto_topic_creation=True,
            ),
            7,
        )
    )
    frames.append(request_frame(MetadataV1Request(topics=None), 8))
    return frames


VALID = valid_frames()


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    """
    @return: C{data} cut at the given positions (taken modulo its length).
    """
    if not data:
        return [data]
    points = sorted({cut % len(data) for cut in cuts} | {0, len(data)})
    return [data[start:end] for start, end in itertools.pairwise(points)]


class FuzzTests(SynchronousTestCase):
    """
    Nothing a client sends breaks the server's invariants.
    """

    def drive(self, chunks: list[bytes]) -> tuple[Any, list[bytes]]:
        """
        Feed the chunks to a new connection, checking the invariants after each.

        @return: the connection and the response frames it wrote.
        """
        connection = connect(registry(), ServerSettings(max_request_size=LIMIT))
        for chunk in chunks:
            connection.feed(chunk)
            self.assertLessEqual(connection.protocol._decoder.buffered, LIMIT + 4)
        written = read_frames(connection.transport.value())
        self.assertEqual([e for e in connection.events if "log_failure" in e], [])
        requests = connection.protocol.stats.requests
        if connection.closed:
            self.assertLessEqual(len(written), requests)
            self.assertEqual(len(connection.warnings()), 1)
        else:
            self.assertEqual(len(written), requests)
            self.assertEqual(connection.warnings(), [])
        connection.lose()
        self.assertEqual(connection.clock.getDelayedCalls(), [])
        return connection, written

    @_fuzz
    @given(st.lists(st.binary(max_size=600), max_size=8))
    def test_random_bytes(self, chunks: list[bytes]) -> None:
        """
        Random bytes in random pieces are answered or close the connection.
        """
        self.drive(chunks)

    @_fuzz
    @given(
        data=st.lists(st.sampled_from(VALID), min_size=1, max_size=6).map(b"".join),
        cuts=st.lists(st.integers(0, 10_000), max_size=6),
    )
    def test_valid_frames_any_split(self, data: bytes, cuts: list[int]) -> None:
        """
        Valid requests, however they are split, are all answered, in order.
        """
        connection, written = self.drive(split(data, cuts))
        self.assertFalse(connection.closed)
        sent = [struct.unpack_from(">i", frame, 4)[0] for frame in read_frames(data)]
        answered = [struct.unpack_from(">i", frame)[0] for frame in written]
        self.assertEqual(answered, sent)

    @_fuzz
    @given(
        frames=st.lists(st.sampled_from(VALID), min_size=1, max_size=4),
        flips=st.lists(
            st.tuples(st.integers(0, 10_000), st.integers(1, 255)), max_size=4
        ),
        cut=st.none() | st.integers(0, 10_000),
        insert=st.tuples(st.integers(0, 10_000), st.binary(max_size=20)),
        cuts=st.lists(st.integers(0, 10_000), max_size=4),
    )
    def test_mutated_frames(
        self,
        frames: list[bytes],
        flips: list[tuple[int, int]],
        cut: int | None,
        insert: tuple[int, bytes],
        cuts: list[int],
    ) -> None:
        """
        Valid frames with flipped bits, inserted bytes or a truncated end are
        answered or close the connection.
        """
        data = bytearray(b"".join(frames))
        for position, mask in flips:
            data[position % len(data)] ^= mask
        position, extra = insert
        data[position % len(data) : position % len(data)] = extra
        if cut is not None:
            del data[cut % len(data) :]
        self.drive(split(bytes(data), cuts))

    @_fuzz
    @given(
        frame=st.sampled_from(VALID),
        size=st.integers(-(2**31), 2**31 - 1),
        cuts=st.lists(st.integers(0, 10_000), max_size=3),
    )
    def test_wrong_size_prefix(self, frame: bytes, size: int, cuts: list[int]) -> None:
        """
        A valid frame behind a wrong size prefix never makes the server buffer
        more than the limit.
        """
        connection, _ = self.drive(split(struct.pack(">i", size) + frame[4:], cuts))
        if size < 0 or size > LIMIT:
            self.assertTrue(connection.closed)
