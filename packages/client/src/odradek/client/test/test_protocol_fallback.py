"""
Tests for L{odradek.client.protocol._fallback}, the pure-Python reader that reads
what kio's native reader refuses although Kafka's rules accept it: it must read
everything else exactly as kio does. What the codec does with unknown tags and error
codes is tested in L{odradek.client.test.test_protocol_unknown}.
"""

from __future__ import annotations

import dataclasses
import datetime
import struct
import uuid
from collections.abc import Callable, Iterator

from hypothesis import given, settings
from kio.schema.api_versions.v0.response import (
    ApiVersionsResponse as ApiVersionsResponseV0,
)
from kio.schema.api_versions.v3.response import (
    ApiVersion,
    ApiVersionsResponse,
    SupportedFeatureKey,
)
from kio.schema.consumer_group_heartbeat.v1 import response as heartbeat
from kio.schema.errors import ErrorCode
from kio.schema.fetch.v13 import response as fetch_v13
from kio.schema.fetch_snapshot.v0 import response as fetch_snapshot
from kio.schema.request_header.v2.header import RequestHeader as KioRequestHeaderV2
from kio.schema.response_header.v1.header import (
    ResponseHeader as KioResponseHeaderV1,
)
from kio.schema.types import BrokerId
from kio.serial import entity_reader
from kio.serial.errors import BufferUnderflow, InvalidUnicode
from kio.static.primitive import Records, i16, i32, i32Timedelta, i64
from kio.static.protocol import Entity
from twisted.trial.unittest import SynchronousTestCase

from odradek.client.protocol import (
    SUPPORTED_VERSIONS,
    ApiKey,
    RequestHeader,
    decode_request,
    decode_response,
    request_type,
    response_type,
)
from odradek.client.protocol._fallback import fallback_reader, is_kio_limitation
from odradek.client.test._protocoltools import (
    entity_strategy,
    every_version_test,
    fetch_partition,
    fetch_response,
    kio_body,
    metadata_request,
    protocol_settings,
    request_header_bytes,
    response_with_body,
    with_unknown_tag,
)

#: A tag no schema defines, sent by an imagined newer peer.
_NEW_TAG = 1000


def _differences(native: object, fallback: object, path: str = "") -> Iterator[str]:
    # Equality alone would hide an int where kio gives an ErrorCode (an IntEnum), so
    # types are compared at every level too.
    if type(native) is not type(fallback):
        yield f"{path}: {type(native).__name__} != {type(fallback).__name__}"
    elif dataclasses.is_dataclass(native):
        for field in dataclasses.fields(native):
            yield from _differences(
                getattr(native, field.name),
                getattr(fallback, field.name),
                f"{path}.{field.name}",
            )
    elif isinstance(native, tuple) and isinstance(fallback, tuple):
        if len(native) != len(fallback):
            yield f"{path}: {len(native)} items != {len(fallback)}"
        for index, (left, right) in enumerate(zip(native, fallback, strict=False)):
            yield from _differences(left, right, f"{path}[{index}]")
    elif native != fallback:
        yield f"{path}: {native!r} != {fallback!r}"


def _matches_native_test(api_key: ApiKey) -> Callable[..., None]:
    def check(case: FallbackMatchesNativeTests, version: int, entity: Entity) -> None:
        case.assert_same_as_native(entity)
        if type(entity).__flexible__:
            case.assert_unknown_tag_skipped(api_key, version, entity)

    return every_version_test(
        api_key,
        check,
        f"Every version of {api_key.name} reads the same with the fallback as with "
        "kio's reader, and skips an unknown tag at the top level.",
    )


class FallbackMatchesNativeTests(SynchronousTestCase):
    """
    On bytes kio's native reader accepts, the fallback reader returns the same values
    of the same types and takes up the same number of bytes.
    """

    def assert_same_as_native(self, entity: Entity) -> None:
        """
        Encode C{entity} with kio and read it with both readers.
        """
        encoded = kio_body(entity)
        native, native_size = entity_reader(type(entity))(encoded, 0)
        fallback, fallback_size = fallback_reader(type(entity))(encoded, 0)
        self.assertEqual((native_size, fallback_size), (len(encoded), len(encoded)))
        self.assertEqual(list(_differences(native, fallback)), [])
        self.assertEqual(fallback, entity)

    def assert_unknown_tag_skipped(
        self, api_key: ApiKey, version: int, entity: Entity
    ) -> None:
        """
        Decode C{entity}, a request or response, with an unknown tag added to its
        body, and check it decodes to C{entity}.
        """
        body = with_unknown_tag(entity, _NEW_TAG, b"\x00new")
        if entity.__type__ is request_type(api_key, version).__type__:
            header = RequestHeader(api_key, version, 11)
            decoded: object = decode_request(request_header_bytes(header) + body)
            self.assertEqual(decoded, (header, entity))
        else:
            data = response_with_body(11, entity, body)
            self.assertEqual(decode_response(data, api_key, version), (11, entity))

    @settings(protocol_settings, max_examples=20)
    @given(
        request_header=entity_strategy(KioRequestHeaderV2),
        response_header=entity_strategy(KioResponseHeaderV1),
    )
    def test_headers(
        self,
        request_header: KioRequestHeaderV2,
        response_header: KioResponseHeaderV1,
    ) -> None:
        """
        Flexible headers read the same, the request header's client_id included
        (a legacy string in a flexible entity).
        """
        self.assert_same_as_native(request_header)
        self.assert_same_as_native(response_header)

    def test_defaults_of_absent_tags(self) -> None:
        """
        Tagged fields not on the wire get their defaults, implicit ones included.
        """
        partition = fetch_snapshot.PartitionSnapshot(
            index=i32(0),
            error_code=ErrorCode.none,
            snapshot_id=fetch_snapshot.SnapshotId(end_offset=i64(5), epoch=i32(1)),
            current_leader=fetch_snapshot.LeaderIdAndEpoch(
                leader_id=BrokerId(0), leader_epoch=i32(0)
            ),
            size=i64(10),
            position=i64(0),
            unaligned_records=Records(b"abc"),
        )
        # current_leader has no default in the schema; zeros are its implicit one.
        self.assertTrue(kio_body(partition).endswith(b"\x00"))
        self.assert_same_as_native(partition)
        self.assert_same_as_native(
            ApiVersionsResponse(
                error_code=ErrorCode.none,
                api_keys=(),
                throttle_time=i32Timedelta.parse(datetime.timedelta(0)),
            )
        )

    def test_cached(self) -> None:
        """
        The reader of an entity is built once.
        """
        kio_type = response_type(ApiKey.METADATA, 12)
        self.assertIs(fallback_reader(kio_type), fallback_reader(kio_type))


for _api_key in SUPPORTED_VERSIONS:
    setattr(
        FallbackMatchesNativeTests,
        f"test_{_api_key.name.lower()}",
        _matches_native_test(_api_key),
    )
del _api_key


class NullableAndTaggedEntityTests(SynchronousTestCase):
    """
    Nullable nested entities (KIP-893) and tagged fields of entity type read the
    same through the fallback as through kio.
    """

    def _heartbeat(
        self, assignment: heartbeat.Assignment | None
    ) -> heartbeat.ConsumerGroupHeartbeatResponse:
        return heartbeat.ConsumerGroupHeartbeatResponse(
            throttle_time=i32Timedelta.parse(datetime.timedelta(0)),
            error_code=ErrorCode.none,
            member_id="member",
            member_epoch=i32(3),
            heartbeat_interval=i32Timedelta.parse(datetime.timedelta(seconds=5)),
            assignment=assignment,
        )

    def _assert_round_trip(self, entity: Entity, api_key: ApiKey) -> None:
        reader = fallback_reader(type(entity))
        self.assertEqual(reader(kio_body(entity), 0), (entity, len(kio_body(entity))))
        data = response_with_body(6, entity, with_unknown_tag(entity, 99, b"n"))
        version = type(entity).__version__
        self.assertEqual(decode_response(data, api_key, version), (6, entity))

    def test_nullable_entity(self) -> None:
        """
        A nullable nested entity round-trips both null and present.
        """
        assignment = heartbeat.Assignment(
            topic_partitions=(
                heartbeat.TopicPartitions(
                    topic_id=uuid.UUID(int=3), partitions=(i32(0), i32(2))
                ),
            )
        )
        for value in None, assignment:
            with self.subTest(assignment=value):
                self._assert_round_trip(
                    self._heartbeat(value), ApiKey.CONSUMER_GROUP_HEARTBEAT
                )

    def test_negative_null_marker(self) -> None:
        """
        Any negative marker means null, as in Apache Kafka.
        """
        encoded = kio_body(self._heartbeat(None))
        self.assertEqual(encoded[-2:], b"\xff\x00")
        reader = fallback_reader(heartbeat.ConsumerGroupHeartbeatResponse)
        decoded, _ = reader(encoded[:-2] + b"\x80\x00", 0)
        self.assertIsNone(decoded.assignment)

    def test_tagged_entity(self) -> None:
        """
        Tagged fields holding entities round-trip.
        """
        partition = fetch_partition(
            snapshot_id=fetch_v13.SnapshotId(end_offset=i64(9), epoch=i32(2)),
            current_leader=fetch_v13.LeaderIdAndEpoch(
                leader_id=BrokerId(5), leader_epoch=i32(1)
            ),
        )
        self._assert_round_trip(fetch_response(partition), ApiKey.FETCH)

    def test_tagged_entity_array(self) -> None:
        """
        A tagged array of entities round-trips.
        """
        response = ApiVersionsResponse(
            error_code=ErrorCode.none,
            api_keys=(
                ApiVersion(api_key=i16(0), min_version=i16(3), max_version=i16(9)),
            ),
            throttle_time=i32Timedelta.parse(datetime.timedelta(0)),
            supported_features=(
                SupportedFeatureKey(
                    name="metadata.version", min_version=i16(1), max_version=i16(20)
                ),
            ),
        )
        data = response_with_body(6, response, with_unknown_tag(response, 99, b"n"))
        self.assertEqual(decode_response(data, ApiKey.API_VERSIONS, 3), (6, response))
        self.assertEqual(
            fallback_reader(ApiVersionsResponse)(kio_body(response), 0),
            (response, len(kio_body(response))),
        )


class KioLimitationTests(SynchronousTestCase):
    """
    The fallback is used for exactly the failures of kio's reader it exists for.
    """

    def test_kio_failures(self) -> None:
        """
        What kio's native reader raises for an unknown tag and an unknown error code
        is recognised.
        """
        cases: list[tuple[bytes, type[Entity]]] = [
            (with_unknown_tag(metadata_request(), 4, b"x"), type(metadata_request())),
            (struct.pack(">hi", 9999, 0), ApiVersionsResponseV0),
        ]
        for data, kio_type in cases:
            with self.subTest(kio_type=kio_type):
                reader = entity_reader(kio_type)
                with self.assertRaises(Exception) as caught:
                    reader(data, 0)
                self.assertTrue(is_kio_limitation(caught.exception))

    def test_other_failures(self) -> None:
        """
        Other failures, including other KeyErrors and ValueErrors, are not.
        """
        for error in [
            None,
            KeyError("topic"),
            KeyError(99),
            ValueError("negative array length"),
            ValueError("Varint is too long, the most significant bit in the 5th byte"),
            ValueError("9999 is not a valid ErrorCode", "extra"),
            BufferUnderflow("Buffer is exhausted"),
            InvalidUnicode("Failed interpreting bytes as UTF-8"),
        ]:
            with self.subTest(error=error):
                self.assertFalse(is_kio_limitation(error))
