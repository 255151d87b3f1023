"""
Tests for L{odradek.client.config.ConsumerConfig}.
"""

from __future__ import annotations

from collections.abc import Mapping

from twisted.trial.unittest import SynchronousTestCase

from odradek.client import config as config_module
from odradek.client._configdef import NO_DEFAULT
from odradek.client.config import (
    CommonClientConfig,
    ConfigError,
    ConsumerConfig,
    config_reference,
)
from odradek.client.serialization import (
    BytesDeserializer,
    JsonDeserializer,
    StringDeserializer,
)

BOOTSTRAP = {"bootstrap.servers": "localhost:9092"}


def consumer(**kwargs: object) -> ConsumerConfig:
    """A consumer configuration with a bootstrap server and C{kwargs}."""
    return ConsumerConfig(BOOTSTRAP, **kwargs)


class ConsumerDefaultsTests(SynchronousTestCase):
    """
    Keys left out take the Java consumer's 4.x defaults.
    """

    def test_defaults(self) -> None:
        """Each consumer key has Kafka's default value, parsed."""
        config = consumer(group_id="g")
        expected = {
            "group.id": "g",
            "group.instance.id": None,
            "group.protocol": "classic",
            "session.timeout.ms": 45000,
            "heartbeat.interval.ms": 3000,
            "max.poll.interval.ms": 300000,
            "partition.assignment.strategy": ("range", "cooperative-sticky"),
            "enable.auto.commit": True,
            "auto.commit.interval.ms": 5000,
            "auto.offset.reset": "latest",
            "client.rack": "",
            "client.id": "",
            "fetch.min.bytes": 1,
            "fetch.max.bytes": 52428800,
            "fetch.max.wait.ms": 500,
            "max.partition.fetch.bytes": 1048576,
            "max.poll.records": 500,
            "check.crcs": True,
            "isolation.level": "read_uncommitted",
            "exclude.internal.topics": True,
            "allow.auto.create.topics": True,
            "default.api.timeout.ms": 60000,
            "request.timeout.ms": 30000,
            "internal.leave.group.on.close": True,
            "retry.backoff.ms": 100,
            "retry.backoff.max.ms": 1000,
            "reconnect.backoff.ms": 50,
            "reconnect.backoff.max.ms": 1000,
            "metadata.max.age.ms": 300000,
            "connections.max.idle.ms": 540000,
            "send.buffer.bytes": 131072,
            "receive.buffer.bytes": 65536,
            "security.protocol": "PLAINTEXT",
        }
        self.assertEqual({name: config[name] for name in expected}, expected)

    def test_default_deserializers(self) -> None:
        """Keys and values are deserialized as bytes unless told otherwise."""
        config = consumer()
        self.assertEqual(config.key_deserializer, BytesDeserializer())
        self.assertEqual(config.value_deserializer, BytesDeserializer())

    def test_attributes(self) -> None:
        """Each key reads as an attribute named with underscores."""
        config = consumer(group_id="billing", max_poll_records=10)
        self.assertEqual(config.group_id, "billing")
        self.assertEqual(config.max_poll_records, 10)
        self.assertEqual(config.auto_offset_reset, "latest")
        self.assertEqual(config.bootstrap_servers, ["localhost:9092"])

    def test_mapping(self) -> None:
        """A consumer configuration is a mapping of every key by dotted name."""
        config = consumer()
        self.assertIsInstance(config, Mapping)
        self.assertEqual(set(config), set(ConsumerConfig.definition()))

    def test_extends_common(self) -> None:
        """Every shared key is a consumer key too, and the producer's are not."""
        definition = ConsumerConfig.definition()
        self.assertLessEqual(set(CommonClientConfig.definition()), set(definition))
        self.assertNotIn("linger.ms", definition)
        self.assertNotIn("retries", definition)

    def test_frozen(self) -> None:
        """A consumer configuration cannot be changed after it is built."""
        config = consumer()
        self.assertRaises(AttributeError, setattr, config, "group_id", "g")


class ConsumerParsingTests(SynchronousTestCase):
    """
    Values may be given typed or as strings, by dotted or underscored name.
    """

    def test_dotted_and_keywords(self) -> None:
        """Dotted names in a mapping and underscored keywords combine."""
        config = ConsumerConfig(
            {"bootstrap.servers": "h:9092", "group.id": "g"}, max_poll_records=7
        )
        self.assertEqual(
            (config.bootstrap_servers, config.group_id, config.max_poll_records),
            (["h:9092"], "g", 7),
        )

    def test_underscored_names_in_mapping(self) -> None:
        """A mapping may use the underscored names too."""
        config = ConsumerConfig(
            {"bootstrap_servers": "h:9092", "fetch_max_wait_ms": "100"}
        )
        self.assertEqual(config.fetch_max_wait_ms, 100)

    def test_strings(self) -> None:
        """Numbers and booleans given as strings are parsed, as in a file."""
        config = consumer(
            group_id="g",
            enable_auto_commit="false",
            session_timeout_ms="10000",
            check_crcs="FALSE",
        )
        self.assertIs(config.enable_auto_commit, False)
        self.assertEqual(config.session_timeout_ms, 10000)
        self.assertIs(config.check_crcs, False)

    def test_choices_case(self) -> None:
        """Enumerated values are case-insensitive and kept in lower case."""
        config = consumer(
            isolation_level="READ_COMMITTED",
            auto_offset_reset="Earliest",
            group_protocol="CLASSIC",
        )
        self.assertEqual(
            (config.isolation_level, config.auto_offset_reset, config.group_protocol),
            ("read_committed", "earliest", "classic"),
        )

    def test_offset_reset_none(self) -> None:
        """auto.offset.reset takes none, for consumers that must not guess."""
        self.assertEqual(consumer(auto_offset_reset="none").auto_offset_reset, "none")

    def test_deserializers(self) -> None:
        """Deserializer settings are resolved to deserializers."""
        config = consumer(
            key_deserializer="org.apache.kafka.common.serialization.StringDeserializer",
            value_deserializer=JsonDeserializer,
        )
        self.assertEqual(config.key_deserializer, StringDeserializer())
        self.assertEqual(config.value_deserializer, JsonDeserializer())

    def test_group_instance_id(self) -> None:
        """A group.instance.id of legal characters is kept."""
        self.assertEqual(
            consumer(group_instance_id="host-1.a_b").group_instance_id, "host-1.a_b"
        )


class _Assignor:
    """A stand-in for an IPartitionAssignor provider."""

    name = "custom"


class AssignmentStrategyTests(SynchronousTestCase):
    """
    partition.assignment.strategy names assignors as the Java client does.
    """

    def test_short_names(self) -> None:
        """Short names are kept, in order, from a string or a list."""
        names = ("roundrobin", "sticky", "cooperative-sticky", "range")
        self.assertEqual(
            consumer(
                partition_assignment_strategy=" roundrobin,sticky, "
                "cooperative-sticky,range"
            ).partition_assignment_strategy,
            names,
        )
        self.assertEqual(
            consumer(
                partition_assignment_strategy=list(names)
            ).partition_assignment_strategy,
            names,
        )

    def test_java_class_names(self) -> None:
        """Java's assignor class names map to the short names."""
        java = "org.apache.kafka.clients.consumer."
        config = consumer(
            partition_assignment_strategy=[
                java + "RangeAssignor",
                java + "RoundRobinAssignor",
                java + "StickyAssignor",
                java + "CooperativeStickyAssignor",
            ]
        )
        self.assertEqual(
            config.partition_assignment_strategy,
            ("range", "roundrobin", "sticky", "cooperative-sticky"),
        )

    def test_short_names_any_case(self) -> None:
        """Short names may be given in any case."""
        config = consumer(partition_assignment_strategy="Cooperative-Sticky")
        self.assertEqual(config.partition_assignment_strategy, ("cooperative-sticky",))

    def test_objects_pass_through(self) -> None:
        """Objects in the list are kept unchanged, beside names."""
        assignor = _Assignor()
        config = consumer(partition_assignment_strategy=[assignor, "range", _Assignor])
        strategy = config.partition_assignment_strategy
        self.assertEqual(len(strategy), 3)
        self.assertIs(strategy[0], assignor)
        self.assertEqual(strategy[1], "range")
        self.assertIs(strategy[2], _Assignor)

    def test_empty(self) -> None:
        """An empty list is allowed, as in Java: only subscribe needs an assignor."""
        self.assertEqual(
            consumer(partition_assignment_strategy="").partition_assignment_strategy, ()
        )

    def test_unknown_name(self) -> None:
        """An unknown assignor name is an error naming it and the known ones."""
        error = self.assertRaises(
            ConfigError, consumer, partition_assignment_strategy="range,fair"
        )
        self.assertEqual(error.name, "partition.assignment.strategy")
        self.assertIn("'fair'", str(error))
        self.assertIn("cooperative-sticky", str(error))

    def test_duplicate(self) -> None:
        """An assignor given twice, by any name, is an error."""
        error = self.assertRaises(
            ConfigError,
            consumer,
            partition_assignment_strategy=[
                "range",
                "org.apache.kafka.clients.consumer.RangeAssignor",
            ],
        )
        self.assertEqual(error.name, "partition.assignment.strategy")
        self.assertIn("twice", str(error))

    def test_wrong_type(self) -> None:
        """Neither a string nor a list is an error."""
        error = self.assertRaises(
            ConfigError, consumer, partition_assignment_strategy=5
        )
        self.assertEqual(error.name, "partition.assignment.strategy")


class ConsumerRuleTests(SynchronousTestCase):
    """
    The Java consumer's checks of single keys and of keys against each other.
    """

    def assertConfigError(self, name: str, *words: str, **kwargs: object) -> None:
        """
        Building a consumer configuration with C{kwargs} fails naming the key
        C{name}, with a message holding it and each of C{words}.
        """
        error = self.assertRaises(ConfigError, consumer, **kwargs)
        self.assertEqual(error.name, name)
        for word in (name, *words):
            self.assertIn(word, str(error))

    def test_heartbeat_not_below_session(self) -> None:
        """A heartbeat interval not below the session timeout is an error."""
        for heartbeat in (10000, 20000):
            self.assertConfigError(
                "heartbeat.interval.ms",
                "session.timeout.ms",
                heartbeat_interval_ms=heartbeat,
                session_timeout_ms=10000,
            )

    def test_heartbeat_below_session(self) -> None:
        """A heartbeat interval just below the session timeout is accepted."""
        config = consumer(heartbeat_interval_ms=9999, session_timeout_ms=10000)
        self.assertEqual(config.heartbeat_interval_ms, 9999)

    def test_heartbeat_against_default_session(self) -> None:
        """The heartbeat interval is checked against the default session timeout."""
        self.assertConfigError("heartbeat.interval.ms", heartbeat_interval_ms=45000)

    def test_group_instance_id_empty(self) -> None:
        """A group.instance.id may be unset but not empty."""
        for value in ("", "  "):
            self.assertConfigError("group.instance.id", group_instance_id=value)

    def test_group_instance_id_illegal(self) -> None:
        """A group.instance.id follows the rules of Kafka's names."""
        for value in (".", "..", "a b", "a/b", "é", "x" * 250):
            self.assertConfigError("group.instance.id", group_instance_id=value)
        self.assertEqual(
            len(consumer(group_instance_id="x" * 249).group_instance_id or ""), 249
        )

    def test_auto_commit_off_without_group(self) -> None:
        """Without a group.id, auto-commit by default is switched off."""
        config = consumer()
        self.assertIs(config.enable_auto_commit, False)
        self.assertFalse(config.is_set("enable.auto.commit"))

    def test_auto_commit_on_with_group(self) -> None:
        """With a group.id, auto-commit is on by default."""
        self.assertIs(consumer(group_id="g").enable_auto_commit, True)

    def test_auto_commit_explicit_without_group(self) -> None:
        """Auto-commit asked for without a group.id is an error."""
        for value in (True, "true"):
            self.assertConfigError(
                "enable.auto.commit", "group.id", enable_auto_commit=value
            )

    def test_auto_commit_off_explicit_without_group(self) -> None:
        """Auto-commit switched off without a group.id is accepted."""
        self.assertIs(consumer(enable_auto_commit=False).enable_auto_commit, False)

    def test_consumer_protocol(self) -> None:
        """The consumer group protocol is refused: only classic is supported."""
        for value in ("consumer", "CONSUMER"):
            self.assertConfigError(
                "group.protocol", "only the classic protocol", group_protocol=value
            )

    def test_unknown_protocol(self) -> None:
        """An unknown group protocol is an error."""
        self.assertConfigError("group.protocol", "classic", group_protocol="share")

    def test_offset_reset(self) -> None:
        """auto.offset.reset takes latest, earliest or none."""
        self.assertConfigError(
            "auto.offset.reset", "earliest", auto_offset_reset="smallest"
        )

    def test_offset_reset_by_duration(self) -> None:
        """Kafka 4.0's by_duration reset is known but not supported yet."""
        self.assertConfigError(
            "auto.offset.reset",
            "not supported yet",
            auto_offset_reset="by_duration:PT1H",
        )

    def test_isolation_level(self) -> None:
        """isolation.level takes read_uncommitted or read_committed."""
        self.assertConfigError(
            "isolation.level", "read_committed", isolation_level="serializable"
        )

    def test_minimums(self) -> None:
        """Counts and intervals below their minimum are errors naming the key."""
        self.assertConfigError("max.poll.records", "at least 1", max_poll_records=0)
        self.assertConfigError("max.poll.interval.ms", max_poll_interval_ms=0)
        self.assertConfigError("fetch.min.bytes", fetch_min_bytes=-1)
        self.assertConfigError("auto.commit.interval.ms", auto_commit_interval_ms=-1)

    def test_bad_deserializer(self) -> None:
        """A deserializer that cannot be found names the key and the value."""
        self.assertConfigError(
            "value.deserializer", "'nope'", value_deserializer="nope"
        )

    def test_unknown_key(self) -> None:
        """An unknown key is named, with the closest known key."""
        error = self.assertRaises(
            ConfigError, ConsumerConfig, {**BOOTSTRAP, "group.idd": "g"}
        )
        self.assertEqual(error.name, "group.idd")
        self.assertIn("'group.idd'", str(error))
        self.assertIn("did you mean 'group.id'", str(error))

    def test_producer_key(self) -> None:
        """A producer key is unknown to the consumer."""
        error = self.assertRaises(ConfigError, consumer, linger_ms=5)
        self.assertEqual(error.name, "linger_ms")


class ConsumerReferenceTests(SynchronousTestCase):
    """
    L{config_reference} and L{odradek.client.config} know the consumer.
    """

    def test_public(self) -> None:
        """odradek.client.config exports ConsumerConfig."""
        self.assertIn("ConsumerConfig", config_module.__all__)
        self.assertIs(config_module.ConsumerConfig, ConsumerConfig)

    def test_rows(self) -> None:
        """The reference lists every consumer key with its type and default."""
        rows = {row[0]: row for row in config_reference(ConsumerConfig)}
        self.assertEqual(set(rows), set(ConsumerConfig.definition()))
        self.assertEqual(
            rows["partition.assignment.strategy"][1:3],
            ("list", ("range", "cooperative-sticky")),
        )
        self.assertEqual(rows["max.poll.records"][1:3], ("int", 500))
        self.assertIs(rows["bootstrap.servers"][2], NO_DEFAULT)
        self.assertIn("one of latest, earliest, none", rows["auto.offset.reset"][3])
        self.assertTrue(all(row[3] for row in rows.values()))
