"""
Tests for L{odradek.broker.apis.api_versions}, through the server: every version
round trip, the answer to versions newer than the broker's, and KIP-511's client
software names.
"""

from __future__ import annotations

import struct
from typing import Any, cast

from kio.schema.errors import ErrorCode
from twisted.trial.unittest import SynchronousTestCase

from odradek.broker.apis import (
    NO_RESPONSE,
    FinalizedFeature,
    HandlerRegistry,
    SupportedFeature,
    register_api_versions,
)
from odradek.broker.apis.api_versions import is_valid_client_software
from odradek.broker.test._servertools import (
    API_VERSIONS,
    api_versions_frame,
    connect,
    raw_frame,
    read_frames,
    responses,
)
from odradek.client.protocol import ApiKey, VersionRange, decode_response


def answer_nothing(context: Any, request: Any) -> Any:
    """
    A handler that answers nothing.
    """
    return NO_RESPONSE


def broker_registry(**features: Any) -> HandlerRegistry:
    """
    @return: a registry with ApiVersions, Produce and Metadata.
    """
    registry = HandlerRegistry()
    register_api_versions(registry, **features)
    registry.register(ApiKey.PRODUCE, answer_nothing)
    registry.register(ApiKey.METADATA, answer_nothing, VersionRange(1, 12))
    return registry


def listed(response: Any) -> list[tuple[int, int, int]]:
    """
    @return: the API keys and versions an ApiVersions response lists.
    """
    return [(a.api_key, a.min_version, a.max_version) for a in response.api_keys]


EXPECTED = [(0, 0, 13), (3, 1, 12), (18, 0, 4)]


class RoundTripTests(SynchronousTestCase):
    """
    Every version of ApiVersions is answered in its own version.
    """

    def test_every_version(self) -> None:
        """
        Versions 0 to 4 list exactly the registered APIs with their advertised
        ranges, Produce from version 0.
        """
        for version in range(5):
            with self.subTest(version=version):
                connection = connect(broker_registry())
                connection.feed(
                    api_versions_frame(version, correlation_id=40 + version)
                )
                [(cid, response)] = responses(
                    connection.transport.value(), (API_VERSIONS, version)
                )
                self.assertEqual(cid, 40 + version)
                self.assertEqual(type(response).__version__, version)
                self.assertEqual(response.error_code, ErrorCode.none)
                self.assertEqual(listed(response), EXPECTED)
                if version >= 1:
                    self.assertEqual(response.throttle_time.total_seconds(), 0)

    def test_header_version_zero(self) -> None:
        """
        Even flexible versions are answered with response header version 0 (the
        correlation id alone).
        """
        connection = connect(broker_registry())
        connection.feed(api_versions_frame(4, correlation_id=0x01020304))
        [frame] = read_frames(connection.transport.value())
        self.assertEqual(frame[:4], b"\x01\x02\x03\x04")
        self.assertEqual(frame[4:6], b"\x00\x00")

    def test_client_software_recorded(self) -> None:
        """
        From version 3 on, the client software is recorded on the connection.
        """
        connection = connect(broker_registry())
        connection.feed(
            api_versions_frame(3, name="librdkafka", software_version="2.3.0")
        )
        info = connection.protocol.connection
        self.assertEqual(
            (info.client_software_name, info.client_software_version),
            ("librdkafka", "2.3.0"),
        )

    def test_registry_is_read_live(self) -> None:
        """
        The handler lists the registry's APIs as they are when asked.
        """
        registry = HandlerRegistry()
        register_api_versions(registry)
        registry.register(ApiKey.FETCH, answer_nothing)
        connection = connect(registry)
        connection.feed(api_versions_frame(2))
        [(_, response)] = responses(connection.transport.value(), (API_VERSIONS, 2))
        self.assertEqual(listed(response), [(1, 4, 18), (18, 0, 4)])


class UnsupportedVersionTests(SynchronousTestCase):
    """
    A version newer than the broker's is answered in version 0 with
    UNSUPPORTED_VERSION and every API.
    """

    def assertFallback(self, version: int, body: bytes) -> None:
        connection = connect(broker_registry())
        connection.feed(raw_frame(API_VERSIONS, version, 77, body, flexible=True))
        [frame] = read_frames(connection.transport.value())
        correlation_id, response = decode_response(frame, API_VERSIONS, 0)
        self.assertEqual(correlation_id, 77)
        self.assertEqual(cast(Any, response).error_code, ErrorCode.unsupported_version)
        self.assertEqual(listed(response), EXPECTED)
        self.assertFalse(connection.closed)
        connection.feed(api_versions_frame(0, 78))
        self.assertEqual(len(read_frames(connection.transport.value())), 2)

    def test_next_version(self) -> None:
        """
        Version 5, body unread, gets the version 0 fallback.
        """
        self.assertFallback(5, b"\x0bsome-client\x041.0\x00")

    def test_far_future_version_with_garbage(self) -> None:
        """
        The body of an unknown version is never decoded, whatever it holds.
        """
        self.assertFallback(32767, b"\xff" * 50)

    def test_client_decodes_fallback(self) -> None:
        """
        The client codec, asking for version 4, reads the version 0 fallback.
        """
        connection = connect(broker_registry())
        connection.feed(raw_frame(API_VERSIONS, 9, 5, flexible=True))
        [frame] = read_frames(connection.transport.value())
        _, response = decode_response(frame, API_VERSIONS, 4)
        self.assertEqual(type(response).__version__, 0)

    def test_malformed_header_still_closes(self) -> None:
        """
        A request too short for its header closes the connection even for
        ApiVersions.
        """
        connection = connect(broker_registry())
        connection.feed(struct.pack(">ihh", 4, API_VERSIONS, 9))
        self.assertTrue(connection.closed)


class ClientSoftwareTests(SynchronousTestCase):
    """
    KIP-511 names are letters, digits, dots and dashes, starting and ending with a
    letter or digit.
    """

    def test_valid(self) -> None:
        """
        Names Kafka accepts are accepted.
        """
        for value in (
            "apache-kafka-java",
            "1.0.0-SNAPSHOT",
            "a",
            "librdkafka",
            "2.3.0",
        ):
            self.assertTrue(is_valid_client_software(value), value)

    def test_invalid(self) -> None:
        """
        Names Kafka refuses are refused.
        """
        for value in ("", "-foo", "foo-", "foo bar", "foo_bar", ".x", "x/y", "é"):
            self.assertFalse(is_valid_client_software(value), value)

    def test_invalid_request(self) -> None:
        """
        An invalid name is answered with INVALID_REQUEST and no APIs, and not
        recorded.
        """
        connection = connect(broker_registry())
        connection.feed(api_versions_frame(3, 2, name="bad name"))
        [(_, response)] = responses(connection.transport.value(), (API_VERSIONS, 3))
        self.assertEqual(response.error_code, ErrorCode.invalid_request)
        self.assertEqual(response.api_keys, ())
        self.assertIsNone(connection.protocol.connection.client_software_name)
        self.assertFalse(connection.closed)


class FeatureTests(SynchronousTestCase):
    """
    Feature flags are listed from version 3 on, as Kafka lists them.
    """

    features = {
        "supported_features": (
            SupportedFeature("metadata.version", 1, 20),
            SupportedFeature("transaction.version", 0, 2),
        ),
        "finalized_features": (
            FinalizedFeature("metadata.version", 20),
            FinalizedFeature("group.version", 0),
        ),
        "finalized_features_epoch": 12,
    }

    def answer(self, version: int) -> Any:
        connection = connect(broker_registry(**self.features))
        connection.feed(api_versions_frame(version))
        [(_, response)] = responses(
            connection.transport.value(), (API_VERSIONS, version)
        )
        return response

    def test_version_4(self) -> None:
        """
        Version 4 lists every supported feature and the finalized ones above 0.
        """
        response = self.answer(4)
        self.assertEqual(
            [
                (f.name, f.min_version, f.max_version)
                for f in response.supported_features
            ],
            [("metadata.version", 1, 20), ("transaction.version", 0, 2)],
        )
        self.assertEqual(
            [
                (f.name, f.min_version_level, f.max_version_level)
                for f in response.finalized_features
            ],
            [("metadata.version", 20, 20)],
        )
        self.assertEqual(response.finalized_features_epoch, 12)

    def test_version_3_omits_level_zero(self) -> None:
        """
        Version 3 omits supported features whose minimum is 0 (KAFKA-17492).
        """
        response = self.answer(3)
        self.assertEqual(
            [f.name for f in response.supported_features], ["metadata.version"]
        )

    def test_defaults(self) -> None:
        """
        Without features, the lists are empty and the epoch unknown.
        """
        connection = connect(broker_registry())
        connection.feed(api_versions_frame(4))
        [(_, response)] = responses(connection.transport.value(), (API_VERSIONS, 4))
        self.assertEqual(
            (
                response.supported_features,
                response.finalized_features,
                response.finalized_features_epoch,
            ),
            ((), (), -1),
        )
