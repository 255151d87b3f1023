"""
Tests for L{odradek.client.config}; the types of its keys are tested in
L{odradek.client.test.test_config_types}.
"""

from __future__ import annotations

from collections.abc import Mapping

from twisted.trial.unittest import SynchronousTestCase

from odradek.client._configdef import NO_DEFAULT
from odradek.client.config import (
    CommonClientConfig,
    ConfigError,
    ProducerConfig,
    config_reference,
)
from odradek.client.producer.partitioner import (
    DefaultPartitioner,
    RoundRobinPartitioner,
    UniformStickyPartitioner,
)
from odradek.client.serialization import (
    BytesSerializer,
    JsonSerializer,
    StringSerializer,
)

BOOTSTRAP = {"bootstrap.servers": "localhost:9092"}


def producer(**kwargs: object) -> ProducerConfig:
    """A producer configuration with a bootstrap server and C{kwargs}."""
    return ProducerConfig(BOOTSTRAP, **kwargs)


class ProducerDefaultsTests(SynchronousTestCase):
    """
    Keys left out take the Java client's 4.x defaults.
    """

    def test_defaults(self) -> None:
        """Each producer key has Kafka's default value, parsed."""
        config = producer()
        expected = {
            "client.id": "",
            "acks": -1,
            "batch.size": 16384,
            "linger.ms": 5,
            "buffer.memory": 33554432,
            "max.block.ms": 60000,
            "max.request.size": 1048576,
            "compression.type": "none",
            "compression.gzip.level": -1,
            "compression.lz4.level": 9,
            "compression.zstd.level": 3,
            "retries": 2147483647,
            "retry.backoff.ms": 100,
            "retry.backoff.max.ms": 1000,
            "request.timeout.ms": 30000,
            "delivery.timeout.ms": 120000,
            "max.in.flight.requests.per.connection": 5,
            "enable.idempotence": True,
            "transactional.id": None,
            "transaction.timeout.ms": 60000,
            "partitioner.class": None,
            "partitioner.ignore.keys": False,
            "partitioner.adaptive.partitioning.enable": True,
            "partitioner.availability.timeout.ms": 0,
            "metadata.max.age.ms": 300000,
            "metadata.max.idle.ms": 300000,
            "reconnect.backoff.ms": 50,
            "reconnect.backoff.max.ms": 1000,
            "socket.connection.setup.timeout.ms": 10000,
            "socket.connection.setup.timeout.max.ms": 30000,
            "connections.max.idle.ms": 540000,
            "client.dns.lookup": "use_all_dns_ips",
            "security.protocol": "PLAINTEXT",
            "send.buffer.bytes": 131072,
            "receive.buffer.bytes": 32768,
        }
        self.assertEqual({name: config[name] for name in expected}, expected)

    def test_default_serializers(self) -> None:
        """Keys and values are serialized as bytes unless told otherwise."""
        config = producer()
        self.assertEqual(config.key_serializer, BytesSerializer())
        self.assertEqual(config.value_serializer, BytesSerializer())

    def test_attributes(self) -> None:
        """Each key reads as an attribute named with underscores."""
        config = producer(linger_ms=7)
        self.assertEqual(config.linger_ms, 7)
        self.assertEqual(config.bootstrap_servers, ["localhost:9092"])
        self.assertEqual(config.max_in_flight_requests_per_connection, 5)
        self.assertIs(config.enable_idempotence, True)

    def test_mapping(self) -> None:
        """A configuration is a read-only mapping of every key by dotted name."""
        config = producer()
        self.assertIsInstance(config, Mapping)
        self.assertEqual(set(config), set(ProducerConfig.definition()))
        self.assertEqual(len(config), len(ProducerConfig.definition()))
        self.assertEqual(config.get("linger.ms"), 5)

    def test_frozen(self) -> None:
        """A configuration cannot be changed after it is built."""
        config = producer()
        self.assertRaises(AttributeError, setattr, config, "linger_ms", 1)

    def test_equality(self) -> None:
        """Configurations built from the same values are equal."""
        self.assertEqual(producer(acks="1"), producer(acks=1))
        self.assertNotEqual(producer(acks=1), producer(acks=0))


class ProducerParsingTests(SynchronousTestCase):
    """
    Values may be given typed or as strings, by dotted or underscored name.
    """

    def test_mapping_and_keywords(self) -> None:
        """Dotted names in a mapping and underscored keywords combine."""
        config = ProducerConfig({"bootstrap.servers": "h:9092"}, linger_ms=5)
        self.assertEqual((config.bootstrap_servers, config.linger_ms), (["h:9092"], 5))

    def test_underscored_names_in_mapping(self) -> None:
        """A mapping may use the underscored names too."""
        config = ProducerConfig({"bootstrap_servers": "h:9092", "batch_size": "10"})
        self.assertEqual(config.batch_size, 10)

    def test_strings(self) -> None:
        """Numbers and booleans given as strings are parsed."""
        config = producer(
            linger_ms=" 20 ",
            enable_idempotence="FALSE",
            acks="0",
            partitioner_ignore_keys="true",
        )
        self.assertEqual(config.linger_ms, 20)
        self.assertIs(config.enable_idempotence, False)
        self.assertEqual(config.acks, 0)
        self.assertIs(config.partitioner_ignore_keys, True)

    def test_list(self) -> None:
        """A list is given as one comma-separated string or as a list."""
        self.assertEqual(
            ProducerConfig(bootstrap_servers="a:1, b:2").bootstrap_servers,
            ["a:1", "b:2"],
        )
        self.assertEqual(
            ProducerConfig(bootstrap_servers=("a:1", "b:2")).bootstrap_servers,
            ["a:1", "b:2"],
        )

    def test_acks(self) -> None:
        """acks takes all, -1, 0 and 1 as strings or ints and keeps an int."""
        for given, expected in [("all", -1), ("ALL", -1), ("-1", -1), (-1, -1)]:
            self.assertEqual(producer(acks=given).acks, expected)
        for given, expected in [("0", 0), (0, 0), ("1", 1), (1, 1)]:
            self.assertEqual(
                producer(acks=given, enable_idempotence=False).acks, expected
            )

    def test_security_protocol_case(self) -> None:
        """security.protocol is case-insensitive and kept in upper case."""
        self.assertEqual(
            producer(security_protocol="plaintext").security_protocol, "PLAINTEXT"
        )

    def test_serializers(self) -> None:
        """Serializer settings are resolved to serializers."""
        config = producer(key_serializer="str", value_serializer=JsonSerializer)
        self.assertEqual(config.key_serializer, StringSerializer())
        self.assertEqual(config.value_serializer, JsonSerializer())

    def test_partitioner_class(self) -> None:
        """partitioner.class accepts Java's names, import paths and classes."""
        java = "org.apache.kafka.clients.producer.RoundRobinPartitioner"
        path = "odradek.client.producer.partitioner:UniformStickyPartitioner"
        instance = DefaultPartitioner()
        self.assertIs(
            producer(partitioner_class=java).partitioner_class, RoundRobinPartitioner
        )
        self.assertIs(
            producer(partitioner_class=path).partitioner_class,
            UniformStickyPartitioner,
        )
        self.assertIs(producer(partitioner_class=instance).partitioner_class, instance)

    def test_optional_none(self) -> None:
        """A key whose default is None accepts None."""
        self.assertIsNone(producer(transactional_id=None).transactional_id)


class ProducerErrorTests(SynchronousTestCase):
    """
    Wrong configurations raise L{ConfigError} naming the key.
    """

    def assertConfigError(self, *words: str, **kwargs: object) -> ConfigError:
        """
        Building a producer configuration with C{kwargs} fails with a message
        holding each of C{words}.
        """
        error: ConfigError = self.assertRaises(ConfigError, producer, **kwargs)
        for word in words:
            self.assertIn(word, str(error))
        return error

    def test_is_value_error(self) -> None:
        """ConfigError is a ValueError, not a Kafka error."""
        self.assertTrue(issubclass(ConfigError, ValueError))

    def test_unknown_key(self) -> None:
        """An unknown key is named, with the closest known key."""
        error = self.assertRaises(
            ConfigError, ProducerConfig, {**BOOTSTRAP, "linger.mss": 1}
        )
        self.assertIn("'linger.mss'", str(error))
        self.assertIn("did you mean 'linger.ms'", str(error))
        self.assertEqual(error.name, "linger.mss")

    def test_unknown_keyword(self) -> None:
        """An unknown keyword suggests the dotted name it resembles."""
        error = self.assertConfigError("lingerms", "'linger.ms'", lingerms=1)
        self.assertEqual(error.name, "lingerms")

    def test_unknown_without_suggestion(self) -> None:
        """A key like no other gets no suggestion."""
        error = self.assertConfigError("zzzzzz", zzzzzz=1)
        self.assertNotIn("did you mean", str(error))

    def test_given_twice(self) -> None:
        """A key given both dotted and underscored is an error."""
        self.assertRaises(
            ConfigError, ProducerConfig, {**BOOTSTRAP, "linger.ms": 1}, linger_ms=2
        )

    def test_missing_required(self) -> None:
        """bootstrap.servers is required."""
        error = self.assertRaises(ConfigError, ProducerConfig, linger_ms=1)
        self.assertEqual(error.name, "bootstrap.servers")

    def test_empty_bootstrap(self) -> None:
        """bootstrap.servers must not be empty nor repeat a server."""
        values: list[object] = ["", [], "a:1,,b:2", "a:1,a:1"]
        for value in values:
            self.assertRaises(ConfigError, ProducerConfig, bootstrap_servers=value)

    def test_bad_number(self) -> None:
        """A value that is no number names the key and the value."""
        error = self.assertConfigError("linger.ms", "'soon'", linger_ms="soon")
        self.assertEqual((error.name, error.value), ("linger.ms", "soon"))

    def test_wrong_types(self) -> None:
        """Booleans, floats and lists are not integers; ints are not booleans."""
        for value in (True, 1.5, [1]):
            self.assertConfigError("batch.size", batch_size=value)
        self.assertConfigError("enable.idempotence", enable_idempotence=1)
        self.assertConfigError("client.id", client_id=5)

    def test_int_range(self) -> None:
        """An int key refuses values beyond 32 bits."""
        self.assertConfigError("batch.size", batch_size=2**31)

    def test_below_minimum(self) -> None:
        """A value below the minimum says what is allowed."""
        self.assertConfigError("linger.ms", "at least 0", linger_ms=-1)
        self.assertConfigError("metadata.max.idle.ms", metadata_max_idle_ms=4999)

    def test_none_for_required_value(self) -> None:
        """None is refused where the default is not None."""
        self.assertConfigError("linger.ms", linger_ms=None)

    def test_acks(self) -> None:
        """acks refuses anything but all, -1, 0 and 1."""
        for value in ("2", 2, "some", True):
            self.assertConfigError("acks", "all, -1, 0, 1", acks=value)

    def test_compression(self) -> None:
        """compression.type must name a codec Kafka knows."""
        self.assertConfigError("compression.type", "zstd", compression_type="brotli")

    def test_compression_levels(self) -> None:
        """Compression levels are checked against each codec's range."""
        self.assertEqual(producer(compression_gzip_level=9).compression_gzip_level, 9)
        self.assertConfigError("compression.gzip.level", compression_gzip_level=0)
        self.assertConfigError("compression.gzip.level", compression_gzip_level=10)
        self.assertConfigError("compression.lz4.level", compression_lz4_level=18)
        self.assertEqual(
            producer(compression_zstd_level=-131072).compression_zstd_level, -131072
        )
        self.assertConfigError("compression.zstd.level", compression_zstd_level=23)

    def test_dns_lookup(self) -> None:
        """client.dns.lookup takes one of Kafka's two strategies."""
        value = "resolve_canonical_bootstrap_servers_only"
        self.assertEqual(producer(client_dns_lookup=value).client_dns_lookup, value)
        self.assertConfigError("client.dns.lookup", client_dns_lookup="default")

    def test_security_protocol_unsupported(self) -> None:
        """Kafka's other security protocols are known but not supported yet."""
        for value in ("SSL", "SASL_PLAINTEXT", "SASL_SSL"):
            self.assertConfigError(
                "security.protocol", "not supported yet", security_protocol=value
            )

    def test_security_protocol_unknown(self) -> None:
        """An unknown security protocol lists the known ones."""
        self.assertConfigError("security.protocol", "SASL_SSL", security_protocol="TLS")

    def test_bad_serializer(self) -> None:
        """A serializer that cannot be found names the key and the value."""
        error = self.assertConfigError(
            "key.serializer", "'nope'", key_serializer="nope"
        )
        self.assertEqual(error.name, "key.serializer")

    def test_bad_partitioner(self) -> None:
        """partitioner.class must name an IPartitioner."""
        self.assertConfigError("partitioner.class", partitioner_class="no.such:Thing")
        self.assertConfigError("IPartitioner", partitioner_class="os.path:join")
        self.assertConfigError("IPartitioner", partitioner_class=object)

    def test_empty_transactional_id(self) -> None:
        """transactional.id may be unset but not empty."""
        self.assertConfigError("transactional.id", transactional_id="")


class IdempotenceTests(SynchronousTestCase):
    """
    The Java producer's rules between idempotence, acks, retries, in-flight
    requests and transactions.
    """

    def test_default_switched_off(self) -> None:
        """Idempotence by default is switched off by any conflicting key."""
        for kwargs in (
            {"acks": "1"},
            {"acks": 0},
            {"retries": 0},
            {"max_in_flight_requests_per_connection": 6},
        ):
            self.assertIs(producer(**kwargs).enable_idempotence, False, kwargs)

    def test_default_kept(self) -> None:
        """Idempotence stays on by default when nothing conflicts."""
        config = producer(
            acks="all", retries=1, max_in_flight_requests_per_connection=5
        )
        self.assertIs(config.enable_idempotence, True)
        self.assertFalse(config.is_set("enable.idempotence"))

    def test_explicit_conflicts(self) -> None:
        """Idempotence asked for and a conflicting key is an error naming the key."""
        for kwargs, word in (
            ({"acks": "1"}, "acks"),
            ({"retries": 0}, "retries"),
            ({"max_in_flight_requests_per_connection": 6}, "at most 5"),
        ):
            error = self.assertRaises(
                ConfigError, producer, enable_idempotence=True, **kwargs
            )
            self.assertIn(word, str(error))
            self.assertEqual(error.name, "enable.idempotence")

    def test_explicitly_off(self) -> None:
        """Idempotence switched off allows any acks and in-flight count."""
        config = producer(
            enable_idempotence=False, acks=0, max_in_flight_requests_per_connection=10
        )
        self.assertEqual((config.enable_idempotence, config.acks), (False, 0))

    def test_transactional_id(self) -> None:
        """A transactional.id with idempotence on is accepted."""
        self.assertEqual(producer(transactional_id=" tx ").transactional_id, "tx")

    def test_transactional_without_idempotence(self) -> None:
        """A transactional.id needs idempotence, whether switched off or lost."""
        for kwargs in ({"enable_idempotence": False}, {"acks": 1}):
            error = self.assertRaises(
                ConfigError, producer, transactional_id="tx", **kwargs
            )
            self.assertEqual(error.name, "transactional.id")


class TimeoutRuleTests(SynchronousTestCase):
    """
    delivery.timeout.ms and the reconnect backoff follow the Java producer.
    """

    def test_delivery_timeout_raised(self) -> None:
        """A default delivery.timeout.ms below linger + request timeout is raised."""
        config = producer(linger_ms=100000, request_timeout_ms=30000)
        self.assertEqual(config.delivery_timeout_ms, 130000)

    def test_delivery_timeout_capped(self) -> None:
        """The raised delivery.timeout.ms stays within a 32-bit int."""
        config = producer(linger_ms=2**40)
        self.assertEqual(config.delivery_timeout_ms, 2**31 - 1)

    def test_delivery_timeout_given(self) -> None:
        """A given delivery.timeout.ms below linger + request timeout is an error."""
        error = self.assertRaises(ConfigError, producer, delivery_timeout_ms=30004)
        self.assertEqual(error.name, "delivery.timeout.ms")
        self.assertEqual(producer(delivery_timeout_ms=30005).delivery_timeout_ms, 30005)

    def test_reconnect_backoff_fixed(self) -> None:
        """reconnect.backoff.ms alone makes the maximum backoff the same."""
        config = producer(reconnect_backoff_ms=200)
        self.assertEqual(config.reconnect_backoff_max_ms, 200)
        config = producer(reconnect_backoff_ms=200, reconnect_backoff_max_ms=5000)
        self.assertEqual(config.reconnect_backoff_max_ms, 5000)


class OriginalsTests(SynchronousTestCase):
    """
    What the user gave stays readable, unparsed.
    """

    def test_originals(self) -> None:
        """originals holds the given values by dotted name."""
        config = ProducerConfig({"bootstrap.servers": "h:1"}, linger_ms="3")
        self.assertEqual(
            dict(config.originals), {"bootstrap.servers": "h:1", "linger.ms": "3"}
        )

    def test_is_set(self) -> None:
        """is_set knows given keys by either name, and not defaults."""
        config = producer(linger_ms=5)
        self.assertTrue(config.is_set("linger.ms"))
        self.assertTrue(config.is_set("linger_ms"))
        self.assertTrue(config.is_set("bootstrap_servers"))
        self.assertFalse(config.is_set("batch.size"))
        self.assertFalse(config.is_set("batch_size"))
        self.assertFalse(config.is_set("no.such.key"))


class CommonClientConfigTests(SynchronousTestCase):
    """
    The shared keys stand on their own for the consumer and admin client to come.
    """

    def test_common_keys_only(self) -> None:
        """CommonClientConfig has the shared keys and not the producer's."""
        config = CommonClientConfig(bootstrap_servers="h:1", client_id="me")
        self.assertEqual(config.client_id, "me")
        self.assertNotIn("linger.ms", config)
        self.assertRaises(ConfigError, CommonClientConfig, BOOTSTRAP, linger_ms=1)

    def test_producer_extends_common(self) -> None:
        """Every shared key is a producer key too."""
        self.assertLessEqual(
            set(CommonClientConfig.definition()), set(ProducerConfig.definition())
        )


class ReferenceTests(SynchronousTestCase):
    """
    Tests for L{config_reference}.
    """

    def test_rows(self) -> None:
        """Each key gives its name, type, default and documentation, by name."""
        rows = list(config_reference())
        names = [row[0] for row in rows]
        self.assertEqual(names, sorted(ProducerConfig.definition()))
        by_name = {row[0]: row for row in rows}
        self.assertEqual(by_name["linger.ms"][:3], ("linger.ms", "long", 5))
        self.assertEqual(by_name["acks"][:3], ("acks", "string", "all"))
        self.assertIs(by_name["bootstrap.servers"][2], NO_DEFAULT)
        self.assertEqual(by_name["bootstrap.servers"][1], "list")
        self.assertIn("at least 0", by_name["linger.ms"][3])
        self.assertTrue(all(row[3] for row in rows))

    def test_other_class(self) -> None:
        """The reference of another configuration class lists its keys."""
        names = {row[0] for row in config_reference(CommonClientConfig)}
        self.assertEqual(names, set(CommonClientConfig.definition()))
