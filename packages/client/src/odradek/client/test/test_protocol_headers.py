"""
Tests for L{odradek.client.protocol.headers}: request headers of versions 0, 1 and 2
and response headers of versions 0 and 1.
"""

from __future__ import annotations

import struct

from twisted.trial.unittest import SynchronousTestCase

from odradek.client.protocol import (
    ApiKey,
    RequestHeader,
    ResponseHeader,
    TruncatedMessageError,
    UnknownApiKeyError,
    decode_request,
    decode_request_header,
)
from odradek.client.protocol.headers import (
    read_request_header,
    read_response_header,
)
from odradek.client.test._protocoltools import (
    kio_body,
    metadata_request,
    request_header_bytes,
    response_header_bytes,
)


class RequestHeaderTests(SynchronousTestCase):
    """
    Request headers of versions 0, 1 and 2 are written as Kafka lays them out and
    read back unchanged.
    """

    def test_v0_layout(self) -> None:
        """
        Version 0 is the API key, API version and correlation id: eight bytes.
        """
        header = RequestHeader(7, 0, 99)
        self.assertEqual(header.header_version, 0)
        encoded = request_header_bytes(header)
        self.assertEqual(encoded, struct.pack(">hhi", 7, 0, 99))
        self.assertEqual(read_request_header(encoded), (header, 8))

    def test_v0_peek(self) -> None:
        """
        A ControlledShutdown v0 request's header is read without a client id, and
        its body is refused as an API Odradek does not serve.
        """
        data = struct.pack(">hhi", 7, 0, 12) + b"\x00\x00\x00\x01"
        self.assertEqual(decode_request_header(data), (RequestHeader(7, 0, 12), 8))
        self.assertRaises(UnknownApiKeyError, decode_request, data)

    def test_v0_has_no_client_id(self) -> None:
        """
        A version 0 header with a client id is a usage error.
        """
        self.assertRaises(ValueError, RequestHeader, 7, 0, 1, "me", 0)

    def test_v1_layout(self) -> None:
        """
        Version 1 adds the client id with an int16 length.
        """
        header = RequestHeader(ApiKey.METADATA, 8, 5, "odradek")
        self.assertEqual(header.header_version, 1)
        encoded = request_header_bytes(header)
        self.assertEqual(encoded, struct.pack(">hhih", 3, 8, 5, 7) + b"odradek")
        self.assertEqual(read_request_header(encoded), (header, len(encoded)))

    def test_v2_layout(self) -> None:
        """
        Version 2 keeps the int16-length client id and adds an empty tagged-field
        section.
        """
        header = RequestHeader(ApiKey.METADATA, 12, 5, "odradek")
        self.assertEqual(header.header_version, 2)
        encoded = request_header_bytes(header)
        self.assertEqual(
            encoded, struct.pack(">hhih", 3, 12, 5, 7) + b"odradek" + b"\x00"
        )
        self.assertEqual(read_request_header(encoded), (header, len(encoded)))

    def test_null_client_id(self) -> None:
        """
        A null client id is written as length -1 and read back as None.
        """
        for version in (8, 12):
            header = RequestHeader(ApiKey.METADATA, version, 1, None)
            encoded = request_header_bytes(header)
            self.assertEqual(encoded[8:10], b"\xff\xff")
            self.assertEqual(read_request_header(encoded)[0], header)

    def test_non_ascii_client_id(self) -> None:
        """
        A non-ASCII client id is UTF-8, its length counted in bytes.
        """
        client_id = "señal-客户端"
        raw = client_id.encode("utf-8")
        for version in (8, 12):
            header = RequestHeader(ApiKey.METADATA, version, 1, client_id)
            encoded = request_header_bytes(header)
            self.assertEqual(encoded[8:10], struct.pack(">h", len(raw)))
            self.assertEqual(encoded[10 : 10 + len(raw)], raw)
            self.assertEqual(read_request_header(encoded)[0], header)

    def test_v2_tagged_fields_skipped(self) -> None:
        """
        Tagged fields in a version 2 header, which a newer client may send, are
        skipped and the body still decodes.
        """
        body = kio_body(metadata_request())
        tags = b"\x02" + b"\x00\x03abc" + b"\x05\x01z"
        data = struct.pack(">hhih", 3, 12, 8, 2) + b"me" + tags + body
        header, request = decode_request(data)
        self.assertEqual(header, RequestHeader(ApiKey.METADATA, 12, 8, "me"))
        self.assertEqual(request, metadata_request())

    def test_round_trip_all_versions(self) -> None:
        """
        Headers of every version, with and without client ids, round-trip.
        """
        for header in [
            RequestHeader(7, 0, -1),
            RequestHeader(ApiKey.PRODUCE, 8, 2**31 - 1, ""),
            RequestHeader(ApiKey.PRODUCE, 9, -(2**31), "ünïcödé ✓"),
            RequestHeader(ApiKey.PRODUCE, 9, 0, None),
        ]:
            encoded = request_header_bytes(header)
            self.assertEqual(read_request_header(encoded), (header, len(encoded)))

    def test_explicit_header_version(self) -> None:
        """
        A header version given explicitly is kept.
        """
        self.assertEqual(RequestHeader(3, 12, 1, None, 1).header_version, 1)

    def test_validation(self) -> None:
        """
        Out-of-range or mistyped header values are usage errors.
        """
        self.assertRaises(ValueError, RequestHeader, 3, 12, 2**31)
        self.assertRaises(ValueError, RequestHeader, 2**15, 0, 1, None, 1)
        self.assertRaises(TypeError, RequestHeader, 3, 12, "1")
        self.assertRaises(TypeError, RequestHeader, 3, 12, 1, b"bytes")
        self.assertRaises(ValueError, RequestHeader, 3, 12, 1, None, 3)

    def test_unknown_key_needs_header_version(self) -> None:
        """
        For a key kio does not know, the header version must be given.
        """
        self.assertRaises(ValueError, RequestHeader, 999, 0, 1)
        self.assertEqual(RequestHeader(999, 0, 1, None, 1).header_version, 1)


class ResponseHeaderTests(SynchronousTestCase):
    """
    Response headers of versions 0 and 1 round-trip.
    """

    def test_v0(self) -> None:
        """
        Version 0 is the correlation id alone.
        """
        header = ResponseHeader(-7, 0)
        encoded = response_header_bytes(header)
        self.assertEqual(encoded, struct.pack(">i", -7))
        self.assertEqual(read_response_header(encoded, 0), (header, 4))

    def test_v1(self) -> None:
        """
        Version 1 adds an empty tagged-field section.
        """
        header = ResponseHeader(2**31 - 1, 1)
        encoded = response_header_bytes(header)
        self.assertEqual(encoded, struct.pack(">i", 2**31 - 1) + b"\x00")
        self.assertEqual(read_response_header(encoded, 1), (header, 5))

    def test_v1_tagged_fields_skipped(self) -> None:
        """
        Tagged fields in a version 1 header are skipped.
        """
        data = struct.pack(">i", 3) + b"\x01\x07\x02hi"
        self.assertEqual(read_response_header(data, 1), (ResponseHeader(3, 1), 9))

    def test_v1_tagged_field_truncated(self) -> None:
        """
        A tagged field running past the end of the message is truncation.
        """
        data = struct.pack(">i", 3) + b"\x01\x07\x09hi"
        self.assertRaises(TruncatedMessageError, read_response_header, data, 1)

    def test_invalid_version(self) -> None:
        """
        Response header versions other than 0 and 1 are usage errors.
        """
        self.assertRaises(ValueError, ResponseHeader, 1, 2)
        self.assertRaises(ValueError, read_response_header, b"\x00" * 8, 2)
