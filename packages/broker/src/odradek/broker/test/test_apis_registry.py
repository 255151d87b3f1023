"""
Tests for L{odradek.broker.apis.registry} and L{odradek.broker.apis.context}.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from odradek.broker.apis import (
    ANONYMOUS,
    NO_RESPONSE,
    PRODUCE_ADVERTISED_MIN_VERSION,
    ConnectionInfo,
    HandlerRegistry,
    RequestContext,
)
from odradek.client.protocol import (
    SUPPORTED_VERSIONS,
    ApiKey,
    RequestHeader,
    VersionRange,
)


def handler(context: Any, request: Any) -> Any:
    """
    A handler that answers nothing.
    """
    return NO_RESPONSE


class HandlerRegistryTests(SynchronousTestCase):
    """
    L{HandlerRegistry} maps API keys to handlers and version ranges.
    """

    def test_default_versions(self) -> None:
        """
        Without a range, a handler accepts every version the protocol layer
        supports.
        """
        registry = HandlerRegistry()
        entry = registry.register(ApiKey.METADATA, handler)
        self.assertEqual(entry.versions, SUPPORTED_VERSIONS[ApiKey.METADATA])
        self.assertEqual(entry.advertised, entry.versions)
        self.assertIs(registry.get(3), entry)
        self.assertIs(entry.handler, handler)

    def test_narrowed(self) -> None:
        """
        A handler's range is narrowed to the versions that can be decoded.
        """
        entry = HandlerRegistry().register(ApiKey.FETCH, handler, VersionRange(0, 99))
        self.assertEqual(entry.versions, SUPPORTED_VERSIONS[ApiKey.FETCH])

    def test_produce_advertised_from_zero(self) -> None:
        """
        Produce is advertised from version 0 but accepts only its own range.
        """
        entry = HandlerRegistry().register(ApiKey.PRODUCE, handler)
        self.assertEqual(PRODUCE_ADVERTISED_MIN_VERSION, 0)
        self.assertEqual(entry.advertised, VersionRange(0, entry.versions.max_version))
        self.assertEqual(entry.versions, SUPPORTED_VERSIONS[ApiKey.PRODUCE])
        self.assertNotIn(2, entry.versions)

    def test_advertised_min_version(self) -> None:
        """
        Any API can advertise older versions than it accepts, not newer ones.
        """
        registry = HandlerRegistry()
        entry = registry.register(
            ApiKey.METADATA, handler, VersionRange(4, 12), advertised_min_version=1
        )
        self.assertEqual(entry.advertised, VersionRange(1, 12))
        self.assertRaises(
            ValueError,
            registry.register,
            ApiKey.FETCH,
            handler,
            VersionRange(4, 12),
            advertised_min_version=5,
        )

    def test_refusals(self) -> None:
        """
        A second handler, an API that cannot be decoded, or a range sharing no
        decodable version are refused.
        """
        registry = HandlerRegistry()
        registry.register(ApiKey.METADATA, handler)
        self.assertRaises(ValueError, registry.register, ApiKey.METADATA, handler)
        self.assertRaises(ValueError, registry.register, ApiKey.VOTE, handler)
        self.assertRaises(
            ValueError, registry.register, ApiKey.FETCH, handler, VersionRange(0, 3)
        )
        self.assertRaises(ValueError, registry.register, 9999, handler)

    def test_advertised_in_key_order(self) -> None:
        """
        The advertised list holds exactly the registered APIs, in key order.
        """
        registry = HandlerRegistry()
        registry.register(ApiKey.METADATA, handler, VersionRange(1, 2))
        registry.register(ApiKey.PRODUCE, handler)
        self.assertEqual(
            registry.advertised(),
            [
                (ApiKey.PRODUCE, VersionRange(0, 13)),
                (ApiKey.METADATA, VersionRange(1, 2)),
            ],
        )
        self.assertEqual(len(registry), 2)
        self.assertIn(ApiKey.PRODUCE, registry)
        self.assertNotIn(ApiKey.FETCH, registry)
        self.assertEqual([entry.api_key for entry in registry], [0, 3])
        self.assertIsNone(registry.get(1))


class RequestContextTests(SynchronousTestCase):
    """
    L{RequestContext} gives handlers the header and the connection.
    """

    def test_properties(self) -> None:
        """
        The header's and the connection's fields are at hand.
        """
        peer = IPv4Address("TCP", "10.1.1.1", 5000)
        connection = ConnectionInfo(
            "a-b-1",
            peer,
            IPv4Address("TCP", "127.0.0.1", 9092),
            "EXTERNAL",
            "PLAINTEXT",
        )
        clock = Clock()
        context = RequestContext(RequestHeader(3, 12, 99, "cid"), connection, clock)
        self.assertEqual(
            (
                context.api_key,
                context.api_version,
                context.correlation_id,
                context.client_id,
            ),
            (3, 12, 99, "cid"),
        )
        self.assertIs(context.client_address, peer)
        self.assertEqual(context.listener_name, "EXTERNAL")
        self.assertEqual(context.principal, ANONYMOUS)
        self.assertIs(context.reactor, clock)

    def test_client_software(self) -> None:
        """
        The client software is described as Kafka writes it.
        """
        peer = IPv4Address("TCP", "10.1.1.1", 5000)
        connection = ConnectionInfo("id", peer, peer, "PLAINTEXT", "PLAINTEXT")
        self.assertEqual(connection.describe_client_software(), "unknown")
        connection.client_software_name = "librdkafka"
        connection.client_software_version = "2.3.0"
        self.assertEqual(connection.describe_client_software(), "librdkafka/2.3.0")
