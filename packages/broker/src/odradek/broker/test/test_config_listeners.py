"""
Tests for listener parsing in L{odradek.broker.config}: C{listeners},
C{advertised.listeners}, C{listener.security.protocol.map} and the inter-broker
listener.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from odradek.broker.config import ConfigError, Endpoint, KafkaConfig, SecurityProtocol

PLAINTEXT = SecurityProtocol.PLAINTEXT
SSL = SecurityProtocol.SSL


def _config(properties: dict[str, str]) -> KafkaConfig:
    return KafkaConfig.from_properties(properties)


def _error(properties: dict[str, str]) -> ConfigError:
    try:
        KafkaConfig.from_properties(properties)
    except ConfigError as error:
        return error
    raise AssertionError(f"{properties} was accepted")


class ListenersTests(SynchronousTestCase):
    """
    C{listeners} is a list of C{NAME://host:port}.
    """

    def test_endpoints(self) -> None:
        """
        Each entry gives a listener name, protocol, host and port; names are
        upper-cased and an empty host means every interface.
        """
        config = _config({"listeners": "plaintext://localhost:9092, SSL://:9093"})
        self.assertEqual(
            config.listeners,
            (
                Endpoint("PLAINTEXT", PLAINTEXT, "localhost", 9092),
                Endpoint("SSL", SSL, "", 9093),
            ),
        )

    def test_ipv6(self) -> None:
        """
        IPv6 addresses are written in brackets, with an optional zone.
        """
        config = _config(
            {"listeners": "PLAINTEXT://[::1]:9092,SSL://[fe80::1%eth0]:9093"}
        )
        self.assertEqual(
            [(e.host, e.port) for e in config.listeners],
            [("::1", 9092), ("fe80::1%eth0", 9093)],
        )
        self.assertEqual(str(config.listeners[0]), "PLAINTEXT://[::1]:9092")

    def test_continued_line(self) -> None:
        """
        Several listeners may be written over continued lines.
        """
        config = _config({"listeners": "PLAINTEXT://a:1,\n SSL://b:2"})
        self.assertEqual([e.port for e in config.listeners], [1, 2])

    def test_malformed(self) -> None:
        """
        Malformed entries are refused, naming the key and the whole value.
        """
        for value in [
            "localhost:9092",
            "PLAINTEXT//localhost:9092",
            "PLAINTEXT://localhost",
            "PLAINTEXT://localhost:port",
            "PLAINTEXT://localhost:70000",
            "PLAINTEXT://localhost:-1",
            "PLAINTEXT://::1:9092",
            "PLAINTEXT://[localhost]:9092",
            "PLAINTEXT://[::1:9092",
            "PLAIN TEXT://localhost:9092",
            "://localhost:9092",
            "PLAINTEXT://bad host:9092",
            "",
        ]:
            error = _error({"listeners": value})
            self.assertEqual((error.key, error.value), ("listeners", value), value)
            self.assertIn(
                f"Invalid value {value} for configuration listeners", str(error)
            )

    def test_unknown_listener_name(self) -> None:
        """
        A listener whose name is not in the protocol map is refused.
        """
        error = _error({"listeners": "CLIENT://:9092"})
        self.assertIn("no security protocol for listener CLIENT", error.message)

    def test_custom_names(self) -> None:
        """
        Custom listener names get their protocol from the map.
        """
        config = _config(
            {
                "listeners": "CLIENT://:9092,REPLICATION://:9093",
                "listener.security.protocol.map": "CLIENT:SSL,replication:plaintext",
                "inter.broker.listener.name": "replication",
            }
        )
        self.assertEqual(
            [(e.listener_name, e.security_protocol) for e in config.listeners],
            [("CLIENT", SSL), ("REPLICATION", PLAINTEXT)],
        )
        self.assertEqual(config.inter_broker_listener_name, "REPLICATION")

    def test_duplicate_name(self) -> None:
        """
        Two listeners may not share a name.
        """
        error = _error({"listeners": "PLAINTEXT://a:1,plaintext://b:2"})
        self.assertIn("PLAINTEXT appears more than once", error.message)

    def test_duplicate_port(self) -> None:
        """
        Two listeners may not share a port.
        """
        error = _error({"listeners": "PLAINTEXT://a:9092,SSL://b:9092"})
        self.assertIn("port 9092", error.message)

    def test_ipv4_and_ipv6_share_port(self) -> None:
        """
        As in Kafka, an IPv4 and an IPv6 listener may share a port, but not a
        third one.
        """
        shared = "PLAINTEXT://127.0.0.1:9092,SSL://[::1]:9092"
        self.assertEqual(len(_config({"listeners": shared}).listeners), 2)
        _error(
            {
                "listeners": shared + ",SASL_SSL://[::2]:9092",
            }
        )
        _error({"listeners": "PLAINTEXT://127.0.0.1:9092,SSL://127.0.0.2:9092"})

    def test_port_zero_repeats(self) -> None:
        """
        Port 0 (any free port) may be given to several listeners.
        """
        config = _config({"listeners": "PLAINTEXT://:0,SSL://:0"})
        self.assertEqual([e.port for e in config.listeners], [0, 0])


class ProtocolMapTests(SynchronousTestCase):
    """
    C{listener.security.protocol.map} maps listener names to protocols.
    """

    def test_default(self) -> None:
        """
        By default each protocol's name is a listener name for it.
        """
        self.assertEqual(
            dict(_config({}).protocol_map),
            {p.name: p for p in SecurityProtocol},
        )

    def test_bad_entries(self) -> None:
        """
        Malformed pairs, unknown protocols and repeated names are refused.
        """
        key = "listener.security.protocol.map"
        for value, reason in [
            ("PLAINTEXT", "is not a NAME:PROTOCOL pair"),
            ("A:TLS", "'TLS' is not a security protocol"),
            ("A:SSL,a:PLAINTEXT", "listener a appears twice"),
        ]:
            error = _error({key: value})
            self.assertEqual(error.key, key)
            self.assertIn(reason, error.message)


class AdvertisedListenersTests(SynchronousTestCase):
    """
    C{advertised.listeners} gives clients addresses for existing listeners.
    """

    def test_defaults_to_listeners(self) -> None:
        """
        Unset, the listeners are advertised.
        """
        config = _config({"listeners": "PLAINTEXT://localhost:9092"})
        self.assertEqual(config.advertised_listeners, config.listeners)

    def test_advertised(self) -> None:
        """
        Advertised addresses may differ from the listening ones and share ports.
        """
        config = _config(
            {
                "listeners": "PLAINTEXT://:9092,SSL://:9093",
                "advertised.listeners": "PLAINTEXT://proxy:9000,SSL://proxy:9000",
            }
        )
        self.assertEqual(
            [str(e) for e in config.advertised_listeners],
            ["PLAINTEXT://proxy:9000", "SSL://proxy:9000"],
        )

    def test_must_name_listeners(self) -> None:
        """
        Every advertised listener must be one of the listeners.
        """
        error = _error(
            {
                "listeners": "PLAINTEXT://:9092",
                "advertised.listeners": "PLAINTEXT://a:1,SSL://a:2",
            }
        )
        self.assertEqual(error.key, "advertised.listeners")
        self.assertIn("listener SSL is not one of listeners (PLAINTEXT)", error.message)

    def test_unroutable(self) -> None:
        """
        The wildcard addresses cannot be advertised.
        """
        for value in ("PLAINTEXT://0.0.0.0:9092", "PLAINTEXT://[::]:9092"):
            error = _error({"advertised.listeners": value})
            self.assertIn("cannot be advertised", error.message)

    def test_default_host(self) -> None:
        """
        L{KafkaConfig.advertised_endpoints} fills in a host where none is given.
        """
        config = _config({"listeners": "PLAINTEXT://:9092,SSL://b:9093"})
        self.assertEqual(
            [str(e) for e in config.advertised_endpoints("a.example")],
            ["PLAINTEXT://a.example:9092", "SSL://b:9093"],
        )


class InterBrokerListenerTests(SynchronousTestCase):
    """
    The inter-broker listener must exist and be advertised.
    """

    def test_by_protocol(self) -> None:
        """
        By default the listener named after C{security.inter.broker.protocol} is
        used, and it must exist.
        """
        error = _error({"listeners": "SSL://:9093"})
        self.assertEqual(
            (error.key, error.value), ("security.inter.broker.protocol", "PLAINTEXT")
        )
        config = _config(
            {"listeners": "SSL://:9093", "security.inter.broker.protocol": "SSL"}
        )
        self.assertEqual(config.inter_broker_listener_name, "SSL")

    def test_by_name_must_be_mapped(self) -> None:
        """
        C{inter.broker.listener.name} must be in the protocol map.
        """
        error = _error({"inter.broker.listener.name": "INTERNAL"})
        self.assertIn("not in listener.security.protocol.map", error.message)

    def test_not_both(self) -> None:
        """
        C{inter.broker.listener.name} and C{security.inter.broker.protocol} may not
        both be set.
        """
        error = _error(
            {
                "inter.broker.listener.name": "PLAINTEXT",
                "security.inter.broker.protocol": "PLAINTEXT",
            }
        )
        self.assertIn("only one of", error.message)
