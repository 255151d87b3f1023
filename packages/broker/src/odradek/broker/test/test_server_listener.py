"""
Tests for L{odradek.broker.server.listener}: listeners as Twisted endpoints, and the
factory of server connections.
"""

from __future__ import annotations

from typing import Any, cast

from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.trial.unittest import SynchronousTestCase

from odradek.broker.apis import HandlerRegistry, register_api_versions
from odradek.broker.config import Endpoint, KafkaConfig, SecurityProtocol
from odradek.broker.server import (
    KafkaServerFactory,
    KafkaServerProtocol,
    ServerSettings,
    check_supported,
    endpoint_description,
    listen,
)
from odradek.broker.test._servertools import api_versions_frame, read_frames


def plaintext(host: str, port: int, name: str = "PLAINTEXT") -> Endpoint:
    """
    @return: a PLAINTEXT listener.
    """
    return Endpoint(name, SecurityProtocol.PLAINTEXT, host, port)


class EndpointTests(SynchronousTestCase):
    """
    Listeners become Twisted server endpoint descriptions.
    """

    def test_descriptions(self) -> None:
        """
        IPv4 hosts and names use C{tcp}, IPv6 addresses C{tcp6} with escaped
        colons, and an empty host binds every interface.
        """
        cases = [
            (plaintext("127.0.0.1", 9092), "tcp:port=9092:interface=127.0.0.1"),
            (plaintext("localhost", 0), "tcp:port=0:interface=localhost"),
            (plaintext("", 9092), "tcp:port=9092"),
            (plaintext("::1", 9092), "tcp6:port=9092:interface=\\:\\:1"),
        ]
        for endpoint, description in cases:
            self.assertEqual(endpoint_description(endpoint), description)

    def test_not_yet(self) -> None:
        """
        SSL and SASL listeners are refused with a clear message.
        """
        for protocol in (
            SecurityProtocol.SSL,
            SecurityProtocol.SASL_PLAINTEXT,
            SecurityProtocol.SASL_SSL,
        ):
            endpoint = Endpoint("EXTERNAL", protocol, "", 9093)
            error = self.assertRaises(ValueError, check_supported, endpoint)
            self.assertIn(
                f"listener EXTERNAL://:9093: security protocol {protocol.name} is not "
                "supported yet",
                str(error),
            )
            self.assertRaises(ValueError, endpoint_description, endpoint)

    def test_listen(self) -> None:
        """
        L{listen} listens on every listener with the factory made for it.
        """
        reactor = MemoryReactorClock()
        config = KafkaConfig.from_properties(
            {
                "listeners": "PLAINTEXT://127.0.0.1:9092,INTERNAL://:9093",
                "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,"
                "INTERNAL:PLAINTEXT",
                "socket.request.max.bytes": "5000",
                "connections.max.idle.ms": "7000",
            }
        )
        settings = ServerSettings.from_config(config)
        self.assertEqual(settings, ServerSettings(5000, 7000))
        registry = HandlerRegistry()
        ports = self.successResultOf(
            listen(
                reactor,
                config.listeners,
                lambda endpoint: KafkaServerFactory.for_endpoint(
                    registry, settings, reactor, endpoint
                ),
            )
        )
        self.assertEqual(len(ports), 2)
        [first, second] = reactor.tcpServers
        self.assertEqual((first[0], first[3]), (9092, "127.0.0.1"))
        self.assertEqual((second[0], second[3]), (9093, ""))
        factory = cast(KafkaServerFactory, second[1])
        self.assertEqual(
            (factory.listener_name, factory.security_protocol, factory.settings),
            ("INTERNAL", "PLAINTEXT", settings),
        )

    def test_listen_checks_first(self) -> None:
        """
        An unsupported listener starts nothing, not even the listeners before it.
        """
        reactor = MemoryReactorClock()
        endpoints = [
            plaintext("", 9092),
            Endpoint("SSL", SecurityProtocol.SSL, "", 9093),
        ]
        made: list[Any] = []
        self.assertRaises(ValueError, listen, reactor, endpoints, made.append)
        self.assertEqual((reactor.tcpServers, made), ([], []))


class ServerSettingsTests(SynchronousTestCase):
    """
    L{ServerSettings} refuses values the server cannot use.
    """

    def test_defaults(self) -> None:
        """
        The defaults are Kafka's.
        """
        self.assertEqual(ServerSettings(), ServerSettings(104857600, 600_000))

    def test_refused(self) -> None:
        """
        A request size outside an int32, or a timeout that is not an int, is
        refused.
        """
        self.assertRaises(ValueError, ServerSettings, -1)
        self.assertRaises(ValueError, ServerSettings, 2**31)
        self.assertRaises(TypeError, ServerSettings, 100, True)
        self.assertRaises(TypeError, ServerSettings, 100, 1.5)


class FactoryTests(SynchronousTestCase):
    """
    L{KafkaServerFactory} builds and tracks connections.
    """

    def setUp(self) -> None:
        registry = HandlerRegistry()
        register_api_versions(registry)
        self.clock = Clock()
        self.factory = KafkaServerFactory(
            registry, ServerSettings(), self.clock, "INTERNAL", "PLAINTEXT"
        )

    def connect(self) -> tuple[KafkaServerProtocol, StringTransport]:
        address = IPv4Address("TCP", "10.0.0.1", 40000)
        protocol = self.factory.buildProtocol(address)
        transport = StringTransport(IPv4Address("TCP", "127.0.0.1", 9093), address)
        protocol.makeConnection(transport)
        return protocol, transport

    def test_protocol(self) -> None:
        """
        Each connection is a L{KafkaServerProtocol} on the factory's listener,
        numbered in order.
        """
        first, _ = self.connect()
        second, transport = self.connect()
        self.assertIsInstance(first, KafkaServerProtocol)
        self.assertEqual(second.connection.listener_name, "INTERNAL")
        self.assertEqual(
            second.connection.connection_id, "127.0.0.1:9093-10.0.0.1:40000-2"
        )
        self.assertEqual(self.factory.accepted, 2)
        second.dataReceived(api_versions_frame(0))
        self.assertEqual(len(read_frames(transport.value())), 1)

    def test_tracks_connections(self) -> None:
        """
        Open connections are kept until they are lost.
        """
        first, _ = self.connect()
        second, _ = self.connect()
        self.assertEqual(self.factory.connections, {first, second})
        first.connectionLost()
        self.assertEqual(self.factory.connections, {second})

    def test_shutdown(self) -> None:
        """
        Shutting the factory down closes every connection.
        """
        first, first_transport = self.connect()
        second, second_transport = self.connect()
        done = self.factory.shutdown()
        self.assertTrue(first_transport.disconnecting)
        self.assertTrue(second_transport.disconnecting)
        self.assertNoResult(done)
        first.connectionLost()
        second.connectionLost()
        self.successResultOf(done)
        self.assertEqual(self.factory.connections, set())
        self.assertEqual(self.clock.getDelayedCalls(), [])
