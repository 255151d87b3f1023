"""
Tests for L{odradek.client.protocol.codec} and L{odradek.client.protocol.headers}.

Requests and responses are generated from kio's dataclasses by L{entity_strategy
<odradek.client.test._protocoltools.entity_strategy>}, so every API and version is
covered without hand-written examples.
"""

from __future__ import annotations

import dataclasses
import datetime
import struct
from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kio.schema.api_versions.v0.response import ApiVersion as ApiVersionV0
from kio.schema.api_versions.v0.response import (
    ApiVersionsResponse as ApiVersionsResponseV0,
)
from kio.schema.api_versions.v3.request import ApiVersionsRequest
from kio.schema.api_versions.v3.response import ApiVersion, ApiVersionsResponse
from kio.schema.errors import ErrorCode
from kio.schema.metadata.v8.request import MetadataRequest as MetadataRequestV8
from kio.static.primitive import i16, i32Timedelta
from twisted.trial.unittest import SynchronousTestCase

from odradek.client.errors import error_for_code
from odradek.client.protocol import (
    SUPPORTED_VERSIONS,
    ApiKey,
    MalformedMessageError,
    RequestHeader,
    TruncatedMessageError,
    UnknownApiKeyError,
    UnsupportedVersionError,
    decode_request,
    decode_request_body,
    decode_request_header,
    decode_response,
    encode_request,
    encode_response,
    request_type,
    response_type,
)
from odradek.client.protocol.headers import (
    read_response_header,
)
from odradek.client.test._protocoltools import (
    entity_strategy,
    kio_body,
    metadata_request,
    request_header_bytes,
)

_client_ids = st.none() | st.text(max_size=12)
_correlation_ids = st.integers(-(2**31), 2**31 - 1)

_round_trip_settings = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

#: APIs whose round trips get many examples; the rest get a few per version.
_REPRESENTATIVE = {
    ApiKey.PRODUCE,
    ApiKey.FETCH,
    ApiKey.METADATA,
    ApiKey.API_VERSIONS,
    ApiKey.JOIN_GROUP,
    ApiKey.SYNC_GROUP,
    ApiKey.OFFSET_COMMIT,
    ApiKey.LIST_OFFSETS,
    ApiKey.CREATE_TOPICS,
}


def _round_trip_test(api_key: ApiKey) -> Callable[..., None]:
    versions = SUPPORTED_VERSIONS[api_key]
    examples = 30 if api_key in _REPRESENTATIVE else 4

    @settings(_round_trip_settings, max_examples=examples)
    @given(data=st.data())
    def test(self: EveryApiRoundTripTests, data: st.DataObject) -> None:
        for version in range(versions.min_version, versions.max_version + 1):
            request = data.draw(
                entity_strategy(request_type(api_key, version)),
                label=f"v{version} request",
            )
            header = RequestHeader(
                api_key,
                version,
                data.draw(_correlation_ids, label="correlation id"),
                data.draw(_client_ids, label="client id"),
            )
            encoded = encode_request(header, request)
            self.assertEqual(decode_request(encoded), (header, request))

            response = data.draw(
                entity_strategy(response_type(api_key, version)),
                label=f"v{version} response",
            )
            correlation_id = data.draw(_correlation_ids, label="correlation id")
            encoded = encode_response(correlation_id, response)
            self.assertEqual(
                decode_response(encoded, api_key, version), (correlation_id, response)
            )

    test.__name__ = f"test_{api_key.name.lower()}"
    test.__doc__ = (
        f"Every version of {api_key.name} requests and responses round-trips "
        "through encode and decode."
    )
    return test


def _v0_entry(api_key: int, low: int, high: int) -> ApiVersionV0:
    return ApiVersionV0(
        api_key=i16(api_key), min_version=i16(low), max_version=i16(high)
    )


def _entry(api_key: int, low: int, high: int) -> ApiVersion:
    return ApiVersion(api_key=i16(api_key), min_version=i16(low), max_version=i16(high))


class EveryApiRoundTripTests(SynchronousTestCase):
    """
    Every supported API and version round-trips generated requests and responses.
    """


for _api_key in SUPPORTED_VERSIONS:
    setattr(
        EveryApiRoundTripTests,
        f"test_{_api_key.name.lower()}",
        _round_trip_test(_api_key),
    )
del _api_key


class ApiVersionsTests(SynchronousTestCase):
    """
    ApiVersions keeps its special cases: header version 0 always, and a version 0
    answer to a version the broker does not know.
    """

    def _response(self) -> ApiVersionsResponse:
        return ApiVersionsResponse(
            error_code=ErrorCode.none,
            api_keys=(_entry(0, 3, 11),),
            throttle_time=i32Timedelta.parse(datetime.timedelta(0)),
        )

    def test_flexible_response_has_header_v0(self) -> None:
        """
        A flexible ApiVersions response starts its body right after the correlation
        id, with no tagged-field section in the header.
        """
        encoded = encode_response(17, self._response())
        self.assertEqual(encoded, struct.pack(">i", 17) + kio_body(self._response()))
        self.assertEqual(
            decode_response(encoded, ApiKey.API_VERSIONS, 3), (17, self._response())
        )

    def test_unknown_version_header_readable(self) -> None:
        """
        The header of an ApiVersions request newer than any known version can be
        read, while its body is refused with UNSUPPORTED_VERSION.
        """
        data = struct.pack(">hhih", 18, 99, 41, 3) + b"cli" + b"\x00" + b"\x07junk"
        header, offset = decode_request_header(data)
        self.assertEqual(header, RequestHeader(18, 99, 41, "cli", 2))
        self.assertEqual(offset, 14)
        with self.assertRaises(UnsupportedVersionError) as caught:
            decode_request_body(header, data, offset)
        self.assertEqual(caught.exception.api_version, 99)
        self.assertIn("99", str(caught.exception))
        self.assertIn("0 to 4", str(caught.exception))
        self.assertRaises(UnsupportedVersionError, decode_request, data)

    def test_version_0_fallback(self) -> None:
        """
        A version 0 answer to a newer ApiVersions request decodes as version 0.
        """
        answer = ApiVersionsResponseV0(
            error_code=ErrorCode.unsupported_version,
            api_keys=(_v0_entry(18, 0, 2),),
        )
        encoded = encode_response(5, answer)
        correlation_id, response = decode_response(encoded, ApiKey.API_VERSIONS, 3)
        self.assertEqual(correlation_id, 5)
        assert isinstance(response, ApiVersionsResponseV0)
        self.assertEqual(response.error_code, ErrorCode.unsupported_version)

    def test_fallback_failure_reports_first_error(self) -> None:
        """
        When neither version decodes, the error is about the version asked for.
        """
        with self.assertRaises(TruncatedMessageError) as caught:
            decode_response(struct.pack(">i", 5) + b"\x00", ApiKey.API_VERSIONS, 3)
        self.assertIn("version 3", str(caught.exception))


class MalformedInputTests(SynchronousTestCase):
    """
    Bytes that break the protocol raise specific ProtocolErrors naming the values,
    never kio's or struct's own exceptions.
    """

    def _request(self) -> bytes:
        return encode_request(
            RequestHeader(ApiKey.METADATA, 12, 9, "client"), metadata_request()
        )

    def test_every_truncation(self) -> None:
        """
        Every strict prefix of a request is reported as truncated.
        """
        data = self._request()
        for end in range(len(data)):
            with self.subTest(end=end):
                self.assertRaises(TruncatedMessageError, decode_request, data[:end])

    def test_truncated_body_message(self) -> None:
        """
        A truncated body's error names the API and version.
        """
        with self.assertRaises(TruncatedMessageError) as caught:
            decode_request(self._request()[:-2])
        self.assertIn("METADATA (API key 3) version 12 request", str(caught.exception))

    def test_truncated_response(self) -> None:
        """
        Every strict prefix of a response is reported as truncated.
        """
        data = encode_response(
            1,
            ApiVersionsResponseV0(
                error_code=ErrorCode.none,
                api_keys=(_v0_entry(0, 3, 9),),
            ),
        )
        for end in range(len(data)):
            with self.subTest(end=end):
                self.assertRaises(
                    TruncatedMessageError,
                    decode_response,
                    data[:end],
                    ApiKey.API_VERSIONS,
                    0,
                )

    def test_trailing_bytes(self) -> None:
        """
        Bytes after a decoded request body are refused, naming how many.
        """
        with self.assertRaises(MalformedMessageError) as caught:
            decode_request(self._request() + b"xyz")
        self.assertIn("3 bytes left over", str(caught.exception))
        self.assertIn("METADATA", str(caught.exception))

    def test_trailing_bytes_allowed(self) -> None:
        """
        With C{allow_trailing}, bytes after a request body are ignored, as Kafka's
        broker ignores them.
        """
        data = self._request()
        header, offset = decode_request_header(data + b"xyz")
        self.assertEqual(
            decode_request_body(header, data + b"xyz", offset, allow_trailing=True),
            decode_request(data)[1],
        )

    def test_trailing_bytes_response(self) -> None:
        """
        Bytes after a decoded response body are refused, naming how many.
        """
        data = encode_response(
            1, ApiVersionsResponseV0(error_code=ErrorCode.none, api_keys=())
        )
        with self.assertRaises(MalformedMessageError) as caught:
            decode_response(data + b"!", ApiKey.API_VERSIONS, 0)
        self.assertIn("1 byte left over", str(caught.exception))

    def test_unknown_api_key(self) -> None:
        """
        A request with an unknown API key raises UnknownApiKeyError naming it, and
        its header can still be read.
        """
        data = struct.pack(">hhih", 999, 0, 3, -1)
        self.assertEqual(
            decode_request_header(data), (RequestHeader(999, 0, 3, None, 1), 10)
        )
        with self.assertRaises(UnknownApiKeyError) as caught:
            decode_request(data)
        self.assertEqual(caught.exception.api_key, 999)
        self.assertIn("999", str(caught.exception))

    def test_unknown_version(self) -> None:
        """
        A request in an unsupported version raises UnsupportedVersionError naming
        the version and the supported range.
        """
        data = struct.pack(">hhih", 0, 2, 3, -1) + b"\x00" * 16
        with self.assertRaises(UnsupportedVersionError) as caught:
            decode_request(data)
        self.assertEqual(
            (caught.exception.api_key, caught.exception.api_version), (0, 2)
        )
        self.assertIn("version 2", str(caught.exception))
        self.assertIn("3 to 13", str(caught.exception))

    def test_unsupported_response_version(self) -> None:
        """
        Decoding a response for an unsupported version raises
        UnsupportedVersionError.
        """
        self.assertRaises(
            UnsupportedVersionError, decode_response, b"\x00" * 8, ApiKey.FETCH, 3
        )

    def test_short_header(self) -> None:
        """
        Fewer than eight bytes cannot hold a request header.
        """
        with self.assertRaises(TruncatedMessageError) as caught:
            decode_request_header(b"\x00\x03\x00")
        self.assertIn("3 bytes", str(caught.exception))

    def test_invalid_utf8_client_id(self) -> None:
        """
        A client id that is not UTF-8 is malformed.
        """
        data = struct.pack(">hhih", 3, 8, 1, 2) + b"\xff\xfe"
        self.assertRaises(MalformedMessageError, decode_request_header, data)

    def test_invalid_utf8_in_body(self) -> None:
        """
        A topic name that is not UTF-8 is malformed, and the error names the API.
        """
        body = struct.pack(">ih", 1, 2) + b"\xc3\x28" + b"\x01"
        data = request_header_bytes(RequestHeader(ApiKey.METADATA, 8, 1)) + body
        data += b"\x00\x00"
        with self.assertRaises(MalformedMessageError) as caught:
            decode_request(data)
        self.assertIn("METADATA (API key 3) version 8", str(caught.exception))

    def test_unknown_error_code(self) -> None:
        """
        An error code kio does not know decodes as a plain int, which
        error_for_code turns into a class carrying it.
        """
        data = struct.pack(">ihi", 1, 9999, 0)
        correlation_id, response = decode_response(data, ApiKey.API_VERSIONS, 0)
        self.assertEqual(correlation_id, 1)
        assert isinstance(response, ApiVersionsResponseV0)
        self.assertEqual(response.error_code, 9999)
        self.assertNotIsInstance(response.error_code, ErrorCode)
        self.assertEqual(response.api_keys, ())
        self.assertEqual(error_for_code(response.error_code).code, 9999)

    def test_unknown_tag_in_body(self) -> None:
        """
        A tagged field the schema does not know is skipped, as Kafka requires: the
        body decodes to what it decodes to without the field.
        """
        request = ApiVersionsRequest(
            client_software_name="odradek", client_software_version="1"
        )
        untagged = encode_request(RequestHeader(ApiKey.API_VERSIONS, 3, 1), request)
        data = untagged[:-1] + b"\x01\x63\x01z"
        self.assertEqual(decode_request(data), decode_request(untagged))
        self.assertEqual(decode_request(data)[1], request)

    def test_bad_varint(self) -> None:
        """
        A varint longer than five bytes is malformed.
        """
        data = struct.pack(">i", 1) + b"\xff" * 6
        self.assertRaises(MalformedMessageError, read_response_header, data, 1)

    def test_buffers(self) -> None:
        """
        Requests decode from bytes, bytearray and memoryview alike.
        """
        data = self._request()
        expected = decode_request(data)
        self.assertEqual(decode_request(bytearray(data)), expected)
        self.assertEqual(decode_request(memoryview(data)), expected)
        self.assertEqual(decode_request(memoryview(bytearray(data))), expected)

    def test_not_bytes(self) -> None:
        """
        Decoding something that is not bytes-like is a usage error.
        """
        self.assertRaises(TypeError, decode_request, "text")


class EncodeMisuseTests(SynchronousTestCase):
    """
    Encoding the wrong things raises TypeError or ValueError, never kio's errors.
    """

    def test_header_mismatch(self) -> None:
        """
        A header for another API or version than the body is a usage error.
        """
        header = RequestHeader(ApiKey.METADATA, 11, 1)
        with self.assertRaises(ValueError) as caught:
            encode_request(header, metadata_request())
        self.assertIn("version 11", str(caught.exception))
        self.assertIn("version 12", str(caught.exception))

    def test_not_a_request(self) -> None:
        """
        Encoding a response or a plain object as a request is a usage error.
        """
        header = RequestHeader(ApiKey.METADATA, 12, 1)
        self.assertRaises(TypeError, encode_request, header, object())
        response = ApiVersionsResponseV0(error_code=ErrorCode.none, api_keys=())
        self.assertRaises(TypeError, encode_request, header, response)

    def test_not_a_response(self) -> None:
        """
        Encoding a request as a response is a usage error.
        """
        self.assertRaises(TypeError, encode_response, 1, metadata_request())

    def test_wrong_field_type(self) -> None:
        """
        A field holding the wrong type is a TypeError naming the API.
        """
        request = MetadataRequestV8(
            topics=None,
            allow_auto_topic_creation=True,
            include_cluster_authorized_operations=False,
            include_topic_authorized_operations=False,
        )
        bad = dataclasses.replace(request, topics=(42,))  # type: ignore[arg-type]
        with self.assertRaises(TypeError) as caught:
            encode_request(RequestHeader(ApiKey.METADATA, 8, 1), bad)
        self.assertIn("METADATA", str(caught.exception))

    def test_value_out_of_range(self) -> None:
        """
        A value too large for its field is a ValueError naming the API.
        """
        too_big = 2**20
        entry = ApiVersionV0(api_key=too_big, min_version=i16(0), max_version=i16(1))  # type: ignore[arg-type]
        response = ApiVersionsResponseV0(error_code=ErrorCode.none, api_keys=(entry,))
        with self.assertRaises(ValueError) as caught:
            encode_response(1, response)
        self.assertIn("API_VERSIONS", str(caught.exception))

    def test_correlation_id_out_of_range(self) -> None:
        """
        A correlation id beyond int32 is a ValueError.
        """
        response = ApiVersionsResponseV0(error_code=ErrorCode.none, api_keys=())
        self.assertRaises(ValueError, encode_response, 2**31, response)
