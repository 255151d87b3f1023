"""
Tests for L{odradek.client.protocol._writing}, the writer that must write every kio
dataclass byte for byte as kio's own C{entity_writer} does.
"""

from __future__ import annotations

import datetime
import io
import uuid
from collections.abc import Callable
from typing import Any

from hypothesis import given, settings
from kio.schema.errors import ErrorCode
from kio.schema.fetch.v13 import response as fetch_v13
from kio.schema.metadata.v12 import request as metadata_v12
from kio.schema.produce.v3 import request as produce_v3
from kio.schema.request_header.v1.header import RequestHeader as KioRequestHeaderV1
from kio.schema.request_header.v2.header import RequestHeader as KioRequestHeaderV2
from kio.schema.response_header.v0.header import (
    ResponseHeader as KioResponseHeaderV0,
)
from kio.schema.response_header.v1.header import (
    ResponseHeader as KioResponseHeaderV1,
)
from kio.schema.types import TopicName
from kio.serial import entity_writer as kio_entity_writer
from kio.serial.errors import OutOfBoundValue
from kio.static.primitive import Records, i16, i32, i32Timedelta, i64
from kio.static.protocol import Entity
from twisted.trial.unittest import SynchronousTestCase

from odradek.client.protocol import (
    SUPPORTED_VERSIONS,
    ApiKey,
)
from odradek.client.protocol._writing import entity_writer, uvarint_bytes
from odradek.client.test._protocoltools import (
    entity_strategy,
    every_version_test,
    fetch_partition,
    fetch_response,
    metadata_request,
    protocol_settings,
)


def _kio_bytes(entity: Entity) -> bytes:
    buffer = io.BytesIO()
    kio_entity_writer(type(entity))(buffer, entity)
    return buffer.getvalue()


def _our_bytes(entity: Entity) -> bytes:
    buffer = io.BytesIO()
    entity_writer(type(entity))(buffer, entity)
    return buffer.getvalue()


class _RecordingBuffer:
    """
    A buffer keeping each C{write} call's argument, as the broker's splicing buffer
    sees them.
    """

    def __init__(self) -> None:
        self.writes: list[Any] = []

    def write(self, data: Any) -> None:
        self.writes.append(data)


class _Marker:
    """
    A records value that is not bytes, as the broker's file-region marker.
    """

    def __len__(self) -> int:
        return 5


def _same_as_kio_test(api_key: ApiKey) -> Callable[..., None]:
    def check(case: SynchronousTestCase, version: int, entity: Entity) -> None:
        label = f"v{version} {type(entity).__name__}"
        case.assertEqual(_our_bytes(entity), _kio_bytes(entity), label)

    return every_version_test(
        api_key,
        check,
        f"Every version of {api_key.name}'s request and response is written as kio "
        "writes it.",
    )


class WriterMatchesKioTests(SynchronousTestCase):
    """
    For every API and version Odradek supports, drawn requests and responses (every
    field filled, nullable ones sometimes null, tagged ones sometimes set) encode to
    the bytes kio's writer produces.
    """

    for _api_key in SUPPORTED_VERSIONS:
        locals()[f"test_{_api_key.name.lower()}"] = _same_as_kio_test(_api_key)
    del _api_key

    @settings(protocol_settings, max_examples=20)
    @given(
        header_v1=entity_strategy(KioRequestHeaderV1),
        header_v2=entity_strategy(KioRequestHeaderV2),
        response_v0=entity_strategy(KioResponseHeaderV0),
        response_v1=entity_strategy(KioResponseHeaderV1),
    )
    def test_headers(
        self,
        header_v1: Entity,
        header_v2: Entity,
        response_v0: Entity,
        response_v1: Entity,
    ) -> None:
        """
        Headers are written as kio writes them, the request header's client_id as a
        legacy string in a flexible header included.
        """
        for header in (header_v1, header_v2, response_v0, response_v1):
            self.assertEqual(_our_bytes(header), _kio_bytes(header))

    def test_tagged_fields_set(self) -> None:
        """
        Tagged fields that differ from their defaults are written after the count,
        in tag order, as kio writes them.
        """
        partition = fetch_partition(
            diverging_epoch=fetch_v13.EpochEndOffset(epoch=i32(3), end_offset=i64(9)),
            snapshot_id=fetch_v13.SnapshotId(end_offset=i64(4), epoch=i32(2)),
        )
        response = fetch_response(partition)
        ours = _our_bytes(response)
        self.assertEqual(ours, _kio_bytes(response))
        untagged = _our_bytes(fetch_response(fetch_partition()))
        self.assertGreater(len(ours), len(untagged))

    def test_null_values(self) -> None:
        """
        Null strings, arrays and timestamps get kio's null encodings.
        """
        request = metadata_v12.MetadataRequest(
            topics=None,
            allow_auto_topic_creation=False,
            include_topic_authorized_operations=False,
        )
        self.assertEqual(_our_bytes(request), _kio_bytes(request))
        self.assertEqual(_our_bytes(request), b"\x00\x00\x00\x00")
        self.assertEqual(_our_bytes(metadata_request()), _kio_bytes(metadata_request()))

    def test_long_values(self) -> None:
        """
        Lengths of 128 and more take several varint bytes, as kio writes them.
        """
        request = metadata_v12.MetadataRequest(
            topics=tuple(
                metadata_v12.MetadataRequestTopic(
                    topic_id=uuid.UUID(int=index + 1), name=TopicName("t" * 300)
                )
                for index in range(130)
            ),
            allow_auto_topic_creation=True,
            include_topic_authorized_operations=True,
        )
        self.assertEqual(_our_bytes(request), _kio_bytes(request))


def _produce_v3(name: str, records: object) -> produce_v3.ProduceRequest:
    return produce_v3.ProduceRequest(
        transactional_id=None,
        acks=i16(-1),
        timeout=i32Timedelta.parse(datetime.timedelta(seconds=30)),
        topic_data=(
            produce_v3.TopicProduceData(
                name=name,  # type: ignore[arg-type]
                partition_data=(
                    produce_v3.PartitionProduceData(
                        index=i32(0),
                        records=records,  # type: ignore[arg-type]
                    ),
                ),
            ),
        ),
    )


class WriterBehaviourTests(SynchronousTestCase):
    """
    What the writer does beyond matching kio's bytes.
    """

    def test_records_written_apart(self) -> None:
        """
        A records value goes to the buffer in a C{write} of its own, after its
        length, so that a marker reaches the buffer as it is.
        """
        marker = _Marker()
        buffer = _RecordingBuffer()
        entity_writer(produce_v3.ProduceRequest)(buffer, _produce_v3("t", marker))  # type: ignore[arg-type]
        self.assertIn(marker, buffer.writes)
        position = buffer.writes.index(marker)
        self.assertEqual(buffer.writes[position - 1], b"\x00\x00\x00\x05")

    def test_large_records_not_copied(self) -> None:
        """
        A bytes value is handed to the buffer as the same object, not copied into
        a larger one.
        """
        records = Records(b"r" * 100_000)
        buffer = _RecordingBuffer()
        entity_writer(produce_v3.ProduceRequest)(buffer, _produce_v3("t", records))  # type: ignore[arg-type]
        self.assertTrue(any(write is records for write in buffer.writes))

    def test_missing_value(self) -> None:
        """
        C{None} in a field that cannot be null is a C{TypeError}, as with kio.
        """
        request = _produce_v3(None, b"")  # type: ignore[arg-type]
        with self.assertRaises(TypeError):
            _kio_bytes(request)
        with self.assertRaises(TypeError):
            _our_bytes(request)

    def test_string_too_long(self) -> None:
        """
        A legacy string longer than an int16 length allows is refused with kio's
        C{OutOfBoundValue}.
        """
        request = _produce_v3("t" * 32_768, b"")
        with self.assertRaises(OutOfBoundValue):
            _kio_bytes(request)
        with self.assertRaises(OutOfBoundValue):
            _our_bytes(request)

    def test_number_out_of_range(self) -> None:
        """
        A number that does not fit its field is refused, as by kio.
        """
        response = fetch_response(fetch_partition())
        too_big = fetch_v13.FetchResponse(
            throttle_time=response.throttle_time,
            error_code=ErrorCode.none,
            session_id=2**31,  # type: ignore[arg-type]
            responses=(),
        )
        with self.assertRaises(Exception) as kio_error:
            _kio_bytes(too_big)
        with self.assertRaises(type(kio_error.exception)):
            _our_bytes(too_big)

    def test_uvarint_bytes(self) -> None:
        """
        Unsigned varints are little-endian groups of seven bits, the high bit set on
        all but the last.
        """
        self.assertEqual(uvarint_bytes(0), b"\x00")
        self.assertEqual(uvarint_bytes(127), b"\x7f")
        self.assertEqual(uvarint_bytes(128), b"\x80\x01")
        self.assertEqual(uvarint_bytes(300), b"\xac\x02")
        self.assertEqual(uvarint_bytes(2**31 - 1), b"\xff\xff\xff\xff\x07")

    def test_cached(self) -> None:
        """
        The writer of a class is built once.
        """
        self.assertIs(
            entity_writer(fetch_v13.FetchResponse),
            entity_writer(fetch_v13.FetchResponse),
        )
