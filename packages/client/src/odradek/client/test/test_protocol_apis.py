"""
Tests for L{odradek.client.protocol.apis} and the public names of the protocol package.
"""

from __future__ import annotations

import kio.schema.request_header.v1 as request_header_v1
import kio.schema.request_header.v2 as request_header_v2
import kio.schema.response_header.v0 as response_header_v0
from kio.index import load_request_schema, load_response_schema
from kio.schema.index import api_key_map, schema_name_map
from twisted.trial.unittest import SynchronousTestCase

from odradek.client import errors, protocol
from odradek.client.protocol import (
    SUPPORTED_VERSIONS,
    ApiKey,
    ProtocolError,
    UnknownApiKeyError,
    UnsupportedVersionError,
    VersionRange,
    request_header_version,
    request_type,
    response_header_version,
    response_type,
)

#: The APIs Odradek promises to speak.
_SERVED = {
    "PRODUCE",
    "FETCH",
    "LIST_OFFSETS",
    "METADATA",
    "OFFSET_COMMIT",
    "OFFSET_FETCH",
    "FIND_COORDINATOR",
    "JOIN_GROUP",
    "HEARTBEAT",
    "LEAVE_GROUP",
    "SYNC_GROUP",
    "DESCRIBE_GROUPS",
    "LIST_GROUPS",
    "SASL_HANDSHAKE",
    "SASL_AUTHENTICATE",
    "API_VERSIONS",
    "CREATE_TOPICS",
    "DELETE_TOPICS",
    "CREATE_PARTITIONS",
    "DELETE_RECORDS",
    "INIT_PRODUCER_ID",
    "OFFSET_FOR_LEADER_EPOCH",
    "ADD_PARTITIONS_TO_TXN",
    "ADD_OFFSETS_TO_TXN",
    "END_TXN",
    "WRITE_TXN_MARKERS",
    "TXN_OFFSET_COMMIT",
    "DESCRIBE_ACLS",
    "CREATE_ACLS",
    "DELETE_ACLS",
    "DESCRIBE_CONFIGS",
    "ALTER_CONFIGS",
    "INCREMENTAL_ALTER_CONFIGS",
    "DESCRIBE_LOG_DIRS",
    "DELETE_GROUPS",
    "OFFSET_DELETE",
    "DESCRIBE_CLUSTER",
    "DESCRIBE_PRODUCERS",
    "DESCRIBE_TRANSACTIONS",
    "LIST_TRANSACTIONS",
    "ELECT_LEADERS",
    "ALTER_PARTITION_REASSIGNMENTS",
    "LIST_PARTITION_REASSIGNMENTS",
    "DESCRIBE_USER_SCRAM_CREDENTIALS",
    "ALTER_USER_SCRAM_CREDENTIALS",
    "CONSUMER_GROUP_HEARTBEAT",
    "CONSUMER_GROUP_DESCRIBE",
}


def _kio_versions(api_key: int) -> list[int]:
    return sorted(schema_name_map[api_key_map[api_key]])


class PublicNamesTests(SynchronousTestCase):
    """
    The protocol package exports exactly the names others depend on.
    """

    def test_all(self) -> None:
        """
        C{odradek.client.protocol.__all__} lists the package's public names.
        """
        self.assertEqual(
            sorted(protocol.__all__),
            [
                "ApiKey",
                "DEFAULT_MAX_FRAME_SIZE",
                "FrameDecoder",
                "FrameSizeError",
                "MalformedMessageError",
                "ProtocolError",
                "RequestHeader",
                "ResponseHeader",
                "SUPPORTED_VERSIONS",
                "TruncatedMessageError",
                "UnknownApiKeyError",
                "UnsupportedVersionError",
                "VersionRange",
                "decode_request",
                "decode_request_body",
                "decode_request_header",
                "decode_response",
                "encode_frame",
                "encode_request",
                "encode_response",
                "entity_writer",
                "negotiate",
                "pick_version",
                "request_header_version",
                "request_type",
                "response_header_version",
                "response_type",
            ],
        )
        for name in protocol.__all__:
            self.assertTrue(hasattr(protocol, name), name)


class ApiKeyTests(SynchronousTestCase):
    """
    L{ApiKey} names every API key kio knows.
    """

    def test_matches_kio(self) -> None:
        """
        The enum holds exactly kio's keys, under Kafka's upper-case names.
        """
        self.assertEqual(
            {key.value: key.name for key in ApiKey},
            {key: name.upper() for key, name in api_key_map.items()},
        )

    def test_values(self) -> None:
        """
        Well-known keys have Kafka's numbers.
        """
        self.assertEqual(ApiKey.PRODUCE, 0)
        self.assertEqual(ApiKey.FETCH, 1)
        self.assertEqual(ApiKey.API_VERSIONS, 18)
        self.assertEqual(ApiKey.CONSUMER_GROUP_DESCRIBE, 69)


class VersionRangeTests(SynchronousTestCase):
    """
    L{VersionRange} is an inclusive range of API versions.
    """

    def test_contains(self) -> None:
        """
        Both ends and everything between are in the range; nothing else is.
        """
        versions = VersionRange(3, 5)
        self.assertEqual([v for v in range(8) if v in versions], [3, 4, 5])

    def test_contains_non_int(self) -> None:
        """
        Values that are not integers are never in a range.
        """
        self.assertNotIn("3", VersionRange(0, 5))
        self.assertNotIn(True, VersionRange(0, 5))

    def test_intersection(self) -> None:
        """
        The intersection is the overlap, or None when there is none.
        """
        self.assertEqual(
            VersionRange(0, 5).intersection(VersionRange(3, 9)), VersionRange(3, 5)
        )
        self.assertIsNone(VersionRange(0, 2).intersection(VersionRange(3, 9)))

    def test_invalid(self) -> None:
        """
        An inverted or negative range is a usage error.
        """
        self.assertRaises(ValueError, VersionRange, 5, 3)
        self.assertRaises(ValueError, VersionRange, -1, 3)

    def test_frozen_value(self) -> None:
        """
        Ranges compare by value and cannot be changed.
        """
        self.assertEqual(VersionRange(1, 2), VersionRange(1, 2))
        self.assertEqual(hash(VersionRange(1, 2)), hash(VersionRange(1, 2)))
        self.assertRaises(AttributeError, setattr, VersionRange(1, 2), "min_version", 0)

    def test_str(self) -> None:
        """
        C{str()} gives both ends.
        """
        self.assertEqual(str(VersionRange(3, 13)), "3 to 13")


class SupportedVersionsTests(SynchronousTestCase):
    """
    L{SUPPORTED_VERSIONS} lists the APIs Odradek speaks with kio's versions.
    """

    def test_served_apis(self) -> None:
        """
        The table holds exactly the APIs Odradek promises to serve.
        """
        self.assertEqual({key.name for key in SUPPORTED_VERSIONS}, _SERVED)

    def test_ranges_are_kio_ranges(self) -> None:
        """
        Each range runs from kio's oldest to kio's newest version of the API.
        """
        for key, versions in SUPPORTED_VERSIONS.items():
            kio_versions = _kio_versions(key)
            with self.subTest(api=key.name):
                self.assertEqual(
                    versions, VersionRange(kio_versions[0], kio_versions[-1])
                )

    def test_kio_versions_contiguous(self) -> None:
        """
        Kio has a schema for every version inside each supported range.
        """
        for key, versions in SUPPORTED_VERSIONS.items():
            with self.subTest(api=key.name):
                self.assertEqual(
                    _kio_versions(key),
                    list(range(versions.min_version, versions.max_version + 1)),
                )

    def test_request_and_response_types(self) -> None:
        """
        Every supported version has kio request and response classes for it.
        """
        for key, versions in SUPPORTED_VERSIONS.items():
            for version in range(versions.min_version, versions.max_version + 1):
                request = request_type(key, version)
                response = response_type(key, version)
                self.assertIs(request, load_request_schema(key, version))
                self.assertIs(response, load_response_schema(key, version))
                self.assertEqual(
                    (request.__api_key__, request.__version__), (key, version)
                )


class LookupErrorTests(SynchronousTestCase):
    """
    Looking up an API or version outside the table raises a specific ProtocolError.
    """

    def test_unknown_api_key(self) -> None:
        """
        A key Kafka does not define raises UnknownApiKeyError naming the key.
        """
        for lookup in (request_type, response_type):
            with self.assertRaises(UnknownApiKeyError) as caught:
                lookup(999, 0)
            self.assertEqual(caught.exception.api_key, 999)
            self.assertIn("999", str(caught.exception))
            self.assertIsInstance(caught.exception, ProtocolError)

    def test_unserved_api_key(self) -> None:
        """
        A key kio knows but Odradek does not serve raises UnknownApiKeyError
        naming the API.
        """
        with self.assertRaises(UnknownApiKeyError) as caught:
            request_type(ApiKey.VOTE, 0)
        self.assertIn("VOTE", str(caught.exception))
        self.assertIn("52", str(caught.exception))

    def test_unsupported_version(self) -> None:
        """
        A version outside the range raises UnsupportedVersionError naming the API,
        the version and the supported range.
        """
        for lookup in (request_type, response_type):
            with self.assertRaises(UnsupportedVersionError) as caught:
                lookup(ApiKey.PRODUCE, 2)
            error = caught.exception
            self.assertEqual(error.api_key, ApiKey.PRODUCE)
            self.assertEqual(error.api_version, 2)
            self.assertEqual(error.supported, VersionRange(3, 13))
            message = str(error)
            for part in ("PRODUCE", "version 2", "3 to 13"):
                self.assertIn(part, message)

    def test_unsupported_version_is_kafka_error(self) -> None:
        """
        UnsupportedVersionError is also Kafka's UNSUPPORTED_VERSION (code 35).
        """
        with self.assertRaises(errors.UnsupportedVersionError) as caught:
            request_type(ApiKey.FETCH, 99)
        self.assertEqual(caught.exception.code, 35)
        self.assertEqual(caught.exception.name, "UNSUPPORTED_VERSION")
        self.assertIsInstance(caught.exception, errors.KafkaError)
        self.assertTrue(str(caught.exception).startswith("UNSUPPORTED_VERSION: "))

    def test_other_protocol_errors_have_no_code(self) -> None:
        """
        Protocol errors other than UnsupportedVersionError are not Kafka errors.
        """
        self.assertFalse(issubclass(UnknownApiKeyError, errors.KafkaError))


class HeaderVersionTests(SynchronousTestCase):
    """
    L{request_header_version} and L{response_header_version} follow Kafka's rules.
    """

    def test_request_headers_agree_with_kio(self) -> None:
        """
        For every API and version kio knows, the request header version is the one
        kio's schema names.
        """
        expected_by_class = {
            request_header_v1.RequestHeader: 1,
            request_header_v2.RequestHeader: 2,
        }
        for key in ApiKey:
            for version in _kio_versions(key):
                schema = load_request_schema(key, version).__header_schema__
                with self.subTest(api=key.name, version=version):
                    self.assertEqual(
                        request_header_version(key, version), expected_by_class[schema]
                    )

    def test_response_headers_agree_with_kio(self) -> None:
        """
        For every API and version kio knows, the response header version is the one
        kio's schema names.
        """
        for key in ApiKey:
            for version in _kio_versions(key):
                schema = load_response_schema(key, version).__header_schema__
                expected = 0 if schema is response_header_v0.ResponseHeader else 1
                with self.subTest(api=key.name, version=version):
                    self.assertEqual(response_header_version(key, version), expected)

    def test_api_versions_response_header(self) -> None:
        """
        ApiVersions responses use header version 0 even at flexible versions, in
        kio's schema and here.
        """
        for version in _kio_versions(ApiKey.API_VERSIONS):
            response = load_response_schema(ApiKey.API_VERSIONS, version)
            self.assertIs(response.__header_schema__, response_header_v0.ResponseHeader)
            self.assertEqual(response_header_version(ApiKey.API_VERSIONS, version), 0)
        self.assertTrue(load_response_schema(ApiKey.API_VERSIONS, 3).__flexible__)

    def test_flexible_headers(self) -> None:
        """
        Flexible versions use request header 2 and response header 1.
        """
        self.assertEqual(request_header_version(ApiKey.METADATA, 9), 2)
        self.assertEqual(response_header_version(ApiKey.METADATA, 9), 1)
        self.assertEqual(request_header_version(ApiKey.METADATA, 8), 1)
        self.assertEqual(response_header_version(ApiKey.METADATA, 8), 0)

    def test_versions_beyond_kio(self) -> None:
        """
        Versions newer than kio's stay flexible and older ones are not, so a broker
        can read the header of a request it must refuse.
        """
        self.assertEqual(request_header_version(ApiKey.API_VERSIONS, 99), 2)
        self.assertEqual(request_header_version(ApiKey.PRODUCE, 2), 1)
        self.assertEqual(request_header_version(ApiKey.WRITE_TXN_MARKERS, 0), 1)

    def test_controlled_shutdown(self) -> None:
        """
        ControlledShutdown version 0 is the one request with header version 0.
        """
        self.assertEqual(request_header_version(7, 0), 0)
        self.assertEqual(request_header_version(7, 1), 1)
        self.assertEqual(request_header_version(7, 3), 2)
        self.assertEqual(response_header_version(7, 0), 0)
        self.assertEqual(response_header_version(7, 3), 1)

    def test_unknown_key(self) -> None:
        """
        A key kio does not know has no header version.
        """
        self.assertRaises(UnknownApiKeyError, request_header_version, 999, 0)
        self.assertRaises(UnknownApiKeyError, response_header_version, 999, 0)
