"""
Tests for what L{odradek.client.protocol.codec} does with what a newer peer may send:
tagged fields no schema defines are skipped at any depth, and error codes kio does
not know are kept as plain ints, as Kafka requires. Kio's native reader refuses both;
L{odradek.client.protocol._fallback} reads them.
"""

from __future__ import annotations

import datetime
import struct

from kio.schema.api_versions.v0.response import (
    ApiVersionsResponse as ApiVersionsResponseV0,
)
from kio.schema.api_versions.v3.response import ApiVersionsResponse
from kio.schema.errors import ErrorCode
from kio.schema.fetch.v13 import response as fetch_v13
from kio.schema.metadata.v12 import response as metadata_v12
from kio.schema.types import BrokerId
from kio.static.primitive import i32, i32Timedelta, i64
from twisted.trial.unittest import SynchronousTestCase

from odradek.client.protocol import (
    ApiKey,
    MalformedMessageError,
    RequestHeader,
    TruncatedMessageError,
    decode_request,
    decode_response,
    encode_request,
    encode_response,
)
from odradek.client.test._protocoltools import (
    fetch_partition,
    fetch_request,
    fetch_response,
    kio_body,
    metadata_request,
    metadata_response,
    replace_once,
    request_header_bytes,
    response_with_body,
    with_unknown_tag,
)


def _metadata_bytes(response: metadata_v12.MetadataResponse) -> bytes:
    return encode_response(3, response)


class UnknownTagTests(SynchronousTestCase):
    """
    Tagged fields no schema defines are skipped at any depth, as Kafka requires.
    """

    def test_metadata_response_topic(self) -> None:
        """
        An unknown tag in a topic of a Metadata response is skipped.
        """
        response = metadata_response()
        topic = response.topics[1]
        data = replace_once(
            _metadata_bytes(response),
            kio_body(topic),
            with_unknown_tag(topic, 5, b"future"),
        )
        self.assertEqual(decode_response(data, ApiKey.METADATA, 12), (3, response))

    def test_metadata_response_partition(self) -> None:
        """
        An unknown tag two levels down, in a partition of a topic, is skipped.
        """
        response = metadata_response()
        topic = response.topics[0]
        topic_with_tag = replace_once(
            kio_body(topic),
            kio_body(topic.partitions[1]),
            with_unknown_tag(topic.partitions[1], 3, b""),
        )
        data = replace_once(_metadata_bytes(response), kio_body(topic), topic_with_tag)
        self.assertEqual(decode_response(data, ApiKey.METADATA, 12), (3, response))

    def test_fetch_request_partition(self) -> None:
        """
        An unknown tag in a partition of a Fetch request is skipped.
        """
        request = fetch_request()
        partition = request.topics[0].partitions[1]
        header = RequestHeader(ApiKey.FETCH, 13, 4, "consumer")
        data = replace_once(
            encode_request(header, request),
            kio_body(partition),
            with_unknown_tag(partition, 7, b"\xff" * 300),
        )
        self.assertEqual(decode_request(data), (header, request))

    def test_every_level(self) -> None:
        """
        Unknown tags at the top level and in several nested entities at once are
        all skipped.
        """
        response = metadata_response(3)
        body = with_unknown_tag(response, 9, b"top")
        for topic in response.topics:
            body = replace_once(
                body,
                kio_body(topic),
                with_unknown_tag(topic, 9, str(topic.name).encode()),
            )
        data = response_with_body(3, response, body)
        self.assertEqual(decode_response(data, ApiKey.METADATA, 12), (3, response))

    def test_beside_known_tags(self) -> None:
        """
        Known tagged fields (of entity type) are still read when an unknown tag
        follows them.
        """
        partition = fetch_partition(
            diverging_epoch=fetch_v13.EpochEndOffset(epoch=i32(4), end_offset=i64(40)),
            current_leader=fetch_v13.LeaderIdAndEpoch(
                leader_id=BrokerId(2), leader_epoch=i32(4)
            ),
        )
        response = fetch_response(partition)
        data = replace_once(
            encode_response(8, response),
            kio_body(partition),
            with_unknown_tag(partition, 3, b"\x01\x02"),
        )
        correlation_id, decoded = decode_response(data, ApiKey.FETCH, 13)
        self.assertEqual((correlation_id, decoded), (8, response))
        assert isinstance(decoded, fetch_v13.FetchResponse)
        self.assertEqual(decoded.responses[0].partitions[0].current_leader.leader_id, 2)

    def test_with_header_tags(self) -> None:
        """
        Unknown tags in the request header and in the body are both skipped.
        """
        header = RequestHeader(ApiKey.METADATA, 12, 8, "me")
        header_bytes = request_header_bytes(header)[:-1] + b"\x01\x02\x01z"
        body = with_unknown_tag(metadata_request(), 4, b"body")
        self.assertEqual(
            decode_request(header_bytes + body), (header, metadata_request())
        )

    def test_every_truncation(self) -> None:
        """
        Every strict prefix of a message with a nested unknown tag is reported as
        truncated.
        """
        response = metadata_response(1)
        topic = response.topics[0]
        data = replace_once(
            _metadata_bytes(response),
            kio_body(topic),
            with_unknown_tag(topic, 5, b"future"),
        )
        for end in range(len(data)):
            with self.subTest(end=end):
                self.assertRaises(
                    TruncatedMessageError,
                    decode_response,
                    data[:end],
                    ApiKey.METADATA,
                    12,
                )

    def test_length_past_the_end(self) -> None:
        """
        An unknown tag whose length runs past the end of the message is truncation,
        reported with the API, the version and the tag.
        """
        header = RequestHeader(ApiKey.METADATA, 12, 8)
        body = kio_body(metadata_request())[:-1] + b"\x01\x63\x7fshort"
        with self.assertRaises(TruncatedMessageError) as caught:
            decode_request(request_header_bytes(header) + body)
        message = str(caught.exception)
        self.assertIn("METADATA (API key 3) version 12 request", message)
        self.assertIn("tagged field 99 of MetadataRequest (127 bytes)", message)

    def test_nested_length_past_the_end(self) -> None:
        """
        A nested unknown tag whose length runs past the end is truncation too.
        """
        request = fetch_request()
        partition = request.topics[0].partitions[2]
        header = RequestHeader(ApiKey.FETCH, 13, 4)
        # The partition is followed by the ends of its topic and of the request.
        too_long = with_unknown_tag(partition, 7, b"\x00" * 200)[:-200]
        data = replace_once(
            encode_request(header, request), kio_body(partition), too_long
        )
        with self.assertRaises(TruncatedMessageError) as caught:
            decode_request(data)
        self.assertIn("FETCH (API key 1) version 13 request", str(caught.exception))
        self.assertIn("FetchPartition", str(caught.exception))

    def test_known_tag_size_mismatch(self) -> None:
        """
        A known tagged field whose value does not take up the size it declares is
        malformed, reported with the API and the field.
        """
        response = ApiVersionsResponse(
            error_code=ErrorCode.none,
            api_keys=(),
            throttle_time=i32Timedelta.parse(datetime.timedelta(0)),
            zk_migration_ready=True,
        )
        body = with_unknown_tag(response, 9, b"")
        # zk_migration_ready (tag 3) is one byte; claim none. (Kio's native reader
        # ignores the sizes of known tags, and reads on into the unknown one.)
        body = replace_once(body, b"\x03\x01\x01", b"\x03\x00\x01")
        with self.assertRaises(MalformedMessageError) as caught:
            decode_response(
                response_with_body(2, response, body), ApiKey.API_VERSIONS, 3
            )
        self.assertIn("API_VERSIONS (API key 18) version 3", str(caught.exception))
        self.assertIn("zk_migration_ready", str(caught.exception))

    def test_trailing_bytes(self) -> None:
        """
        Bytes left over after a body read by the fallback are refused.
        """
        body = with_unknown_tag(metadata_request(), 4, b"x")
        data = request_header_bytes(RequestHeader(ApiKey.METADATA, 12, 8)) + body
        with self.assertRaises(MalformedMessageError) as caught:
            decode_request(data + b"!!")
        self.assertIn("2 bytes left over", str(caught.exception))

    def test_invalid_utf8_after_unknown_tag(self) -> None:
        """
        Bytes the fallback cannot decode are malformed, naming the API.
        """
        response = metadata_response()
        topic = response.topics[0]
        data = replace_once(
            _metadata_bytes(response),
            kio_body(topic),
            with_unknown_tag(topic, 5, b""),
        )
        data = replace_once(data, b"topic-1", b"topic\xc3\x28")
        with self.assertRaises(MalformedMessageError) as caught:
            decode_response(data, ApiKey.METADATA, 12)
        self.assertIn("METADATA (API key 3) version 12 response", str(caught.exception))


class UnknownErrorCodeTests(SynchronousTestCase):
    """
    Error codes kio does not know decode as plain ints, wherever they are.
    """

    def test_nested(self) -> None:
        """
        An unknown code in a topic is an int; the known codes around it stay
        ErrorCode members.
        """
        response = metadata_response()
        data = replace_once(
            _metadata_bytes(response),
            kio_body(response.topics[1]),
            struct.pack(">h", 9999) + kio_body(response.topics[1])[2:],
        )
        _, decoded = decode_response(data, ApiKey.METADATA, 12)
        assert isinstance(decoded, metadata_v12.MetadataResponse)
        topics = decoded.topics
        self.assertEqual(type(topics[1].error_code), int)
        self.assertEqual(topics[1].error_code, 9999)
        self.assertIs(topics[0].error_code, ErrorCode.none)
        self.assertIs(topics[1].partitions[0].error_code, ErrorCode.none)
        self.assertEqual(topics[1].name, "topic-1")

    def test_negative(self) -> None:
        """
        A negative code kio does not know is an int too.
        """
        data = struct.pack(">ihi", 1, -77, 0)
        _, decoded = decode_response(data, ApiKey.API_VERSIONS, 0)
        assert isinstance(decoded, ApiVersionsResponseV0)
        self.assertEqual(decoded.error_code, -77)

    def test_version_0_fallback(self) -> None:
        """
        A version 0 ApiVersions answer with an unknown code to a newer request
        decodes as version 0.
        """
        data = struct.pack(">ihihhh", 5, 9999, 1, 18, 0, 2)
        correlation_id, decoded = decode_response(data, ApiKey.API_VERSIONS, 3)
        self.assertEqual(correlation_id, 5)
        assert isinstance(decoded, ApiVersionsResponseV0)
        self.assertEqual(decoded.error_code, 9999)
        self.assertEqual(decoded.api_keys[0].api_key, 18)

    def test_with_unknown_tag(self) -> None:
        """
        An unknown code and an unknown tag in one message are both handled.
        """
        response = metadata_response(1)
        topic = response.topics[0]
        body = replace_once(
            with_unknown_tag(response, 2, b"?"),
            kio_body(topic),
            struct.pack(">h", 1234) + kio_body(topic)[2:],
        )
        _, decoded = decode_response(
            response_with_body(1, response, body), ApiKey.METADATA, 12
        )
        assert isinstance(decoded, metadata_v12.MetadataResponse)
        self.assertEqual(decoded.topics[0].error_code, 1234)
