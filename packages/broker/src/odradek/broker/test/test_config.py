"""
Tests for L{odradek.broker.config}: the properties format, Kafka's keys and defaults,
precedence between synonyms, and errors that name the key and the value.
"""

from __future__ import annotations

from typing import cast

from twisted.logger import ILogObserver, Logger, LogLevel
from twisted.trial.unittest import SynchronousTestCase

from odradek.broker.config import (
    BROKER_CONFIGS,
    ConfigError,
    KafkaConfig,
)
from odradek.broker.log.config import TOPIC_CONFIGS, ConfigType, LogConfig
from odradek.client.errors import InvalidConfigurationError

_LONG_MAX = 2**63 - 1
_INT_MAX = 2**31 - 1

# Kafka 4's broker defaults, written out from Kafka's documentation independently of
# the table under test. None stands for Kafka's null (unset).
KAFKA_DEFAULTS = {
    "node.id": -1,
    "broker.id": -1,
    "broker.rack": None,
    "zookeeper.connect": None,
    "zookeeper.session.timeout.ms": 18000,
    "listeners": "PLAINTEXT://:9092",
    "advertised.listeners": None,
    "listener.security.protocol.map": (
        "SASL_SSL:SASL_SSL,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT"
    ),
    "inter.broker.listener.name": None,
    "security.inter.broker.protocol": "PLAINTEXT",
    "log.dirs": None,
    "log.dir": "/tmp/kafka-logs",
    "num.partitions": 1,
    "default.replication.factor": 1,
    "auto.create.topics.enable": True,
    "delete.topic.enable": True,
    "message.max.bytes": 1048588,
    "socket.request.max.bytes": 104857600,
    "socket.send.buffer.bytes": 102400,
    "socket.receive.buffer.bytes": 102400,
    "queued.max.requests": 500,
    "connections.max.idle.ms": 600000,
    "request.timeout.ms": 30000,
    "num.network.threads": 3,
    "num.io.threads": 8,
    "background.threads": 10,
    "num.recovery.threads.per.data.dir": 2,
    "log.segment.bytes": 1073741824,
    "log.roll.ms": None,
    "log.roll.hours": 168,
    "log.roll.jitter.ms": None,
    "log.roll.jitter.hours": 0,
    "log.retention.ms": None,
    "log.retention.minutes": None,
    "log.retention.hours": 168,
    "log.retention.bytes": -1,
    "log.retention.check.interval.ms": 300000,
    "log.cleanup.policy": ("delete",),
    "log.flush.interval.messages": _LONG_MAX,
    "log.flush.interval.ms": None,
    "log.flush.scheduler.interval.ms": _LONG_MAX,
    "log.flush.offset.checkpoint.interval.ms": 60000,
    "log.flush.start.offset.checkpoint.interval.ms": 60000,
    "log.index.interval.bytes": 4096,
    "log.index.size.max.bytes": 10485760,
    "log.segment.delete.delay.ms": 60000,
    "log.preallocate": False,
    "log.message.timestamp.type": "CreateTime",
    "log.message.timestamp.before.max.ms": _LONG_MAX,
    "log.message.timestamp.after.max.ms": 3600000,
    "log.cleaner.enable": True,
    "log.cleaner.delete.retention.ms": 86400000,
    "log.cleaner.min.compaction.lag.ms": 0,
    "log.cleaner.max.compaction.lag.ms": _LONG_MAX,
    "log.cleaner.min.cleanable.ratio": 0.5,
    "compression.type": "producer",
    "min.insync.replicas": 1,
    "unclean.leader.election.enable": False,
    "offsets.topic.replication.factor": 3,
    "offsets.topic.num.partitions": 50,
    "offsets.topic.segment.bytes": 104857600,
    "offsets.retention.minutes": 10080,
    "offsets.commit.timeout.ms": 5000,
    "transaction.state.log.replication.factor": 3,
    "transaction.state.log.num.partitions": 50,
    "transaction.state.log.min.isr": 2,
    "transaction.state.log.segment.bytes": 104857600,
    "transaction.max.timeout.ms": 900000,
    "transactional.id.expiration.ms": 604800000,
    "group.initial.rebalance.delay.ms": 3000,
    "group.min.session.timeout.ms": 6000,
    "group.max.session.timeout.ms": 1800000,
    "replica.lag.time.max.ms": 30000,
    "replica.fetch.max.bytes": 1048576,
    "fetch.max.bytes": 57671680,
    "max.connections": _INT_MAX,
    "producer.id.expiration.ms": 86400000,
}


def _config(**properties: str) -> KafkaConfig:
    """
    Build a configuration from keyword arguments, with C{_} standing for C{.}.
    """
    return KafkaConfig.from_properties(
        {key.replace("_", "."): value for key, value in properties.items()}
    )


class DefaultsTests(SynchronousTestCase):
    """
    Every key's default is Kafka's.
    """

    def test_kafka_defaults(self) -> None:
        """
        The table's defaults equal Kafka 4's.
        """
        mismatched = {
            name: (BROKER_CONFIGS[name].default, expected)
            for name, expected in KAFKA_DEFAULTS.items()
            if name not in BROKER_CONFIGS or BROKER_CONFIGS[name].default != expected
        }
        self.assertEqual(mismatched, {})

    def test_empty_configuration(self) -> None:
        """
        An empty configuration gives Kafka's defaults everywhere.
        """
        config = KafkaConfig.from_properties({})
        self.assertEqual(config.node_id, -1)
        self.assertEqual(config.log_dirs, ("/tmp/kafka-logs",))
        self.assertEqual([str(e) for e in config.listeners], ["PLAINTEXT://:9092"])
        self.assertEqual(config.advertised_listeners, config.listeners)
        self.assertEqual(config.inter_broker_listener_name, "PLAINTEXT")
        self.assertEqual(config.log_config, LogConfig())
        self.assertIsNone(config.zookeeper_connect)
        self.assertEqual(
            {name: config.get(name) for name in KAFKA_DEFAULTS}, KAFKA_DEFAULTS
        )

    def test_typed_accessors(self) -> None:
        """
        The properties read their keys.
        """
        config = KafkaConfig.from_properties({})
        self.assertEqual(
            (
                config.num_partitions,
                config.default_replication_factor,
                config.auto_create_topics_enable,
                config.delete_topic_enable,
                config.message_max_bytes,
                config.socket_request_max_bytes,
                config.queued_max_requests,
                config.connections_max_idle_ms,
                config.log_retention_check_interval_ms,
                config.log_flush_scheduler_interval_ms,
                config.log_flush_offset_checkpoint_interval_ms,
                config.log_flush_start_offset_checkpoint_interval_ms,
                config.offsets_topic_num_partitions,
                config.offsets_topic_replication_factor,
                config.group_initial_rebalance_delay_ms,
                config.broker_rack,
            ),
            (
                *(1, 1, True, True, 1048588, 104857600, 500, 600000, 300000),
                *(_LONG_MAX, 60000, 60000, 50, 3, 3000, None),
            ),
        )

    def test_every_topic_key_has_broker_synonyms(self) -> None:
        """
        Each topic key's broker synonyms are broker keys pointing back at it, so
        topic settings are defined once, in the log package.
        """
        for topic in TOPIC_CONFIGS.values():
            for synonym in topic.synonyms:
                self.assertEqual(BROKER_CONFIGS[synonym.name].topic_config, topic.name)

    def test_defaults_round_trip(self) -> None:
        """
        Every default, written as text, parses back to itself.
        """
        for key in BROKER_CONFIGS.values():
            rendered = key.render(key.default)
            parsed = None if rendered is None else key.parse(rendered)
            self.assertEqual(parsed, key.default, key.name)
            self.assertTrue(key.doc, key.name)

    def test_valid_values(self) -> None:
        """
        Valid values are described in Kafka's notation.
        """
        self.assertEqual(BROKER_CONFIGS["num.partitions"].valid_values, "[1,...]")
        self.assertEqual(
            BROKER_CONFIGS["log.cleaner.min.cleanable.ratio"].valid_values, "[0,...,1]"
        )
        self.assertEqual(
            BROKER_CONFIGS["log.message.timestamp.type"].valid_values,
            "[CreateTime, LogAppendTime]",
        )
        self.assertEqual(BROKER_CONFIGS["log.retention.bytes"].valid_values, "")

    def test_synonym_types(self) -> None:
        """
        Synonyms in hours or minutes are INTs, as in Kafka.
        """
        for name in ("log.roll.hours", "log.retention.hours", "log.retention.minutes"):
            self.assertIs(BROKER_CONFIGS[name].type, ConfigType.INT)
        self.assertIs(BROKER_CONFIGS["log.retention.ms"].type, ConfigType.LONG)


class PrecedenceTests(SynchronousTestCase):
    """
    Kafka's precedence between the synonyms of one setting.
    """

    def test_retention(self) -> None:
        """
        C{log.retention.ms} wins over C{.minutes}, which wins over C{.hours}.
        """
        self.assertEqual(
            _config(
                log_retention_ms="1000",
                log_retention_minutes="2",
                log_retention_hours="3",
            ).log_config.retention_ms,
            1000,
        )
        self.assertEqual(
            _config(
                log_retention_minutes="2", log_retention_hours="3"
            ).log_config.retention_ms,
            120000,
        )
        self.assertEqual(
            _config(log_retention_hours="3").log_config.retention_ms, 3 * 3600000
        )

    def test_unlimited_retention(self) -> None:
        """
        A negative retention, in any unit, means no limit (-1).
        """
        self.assertEqual(_config(log_retention_hours="-1").log_config.retention_ms, -1)
        self.assertEqual(_config(log_retention_ms="-5").log_config.retention_ms, -1)
        self.assertEqual(
            _config(log_retention_bytes="-7").log_config.retention_bytes, -1
        )

    def test_blank_synonym_is_unset(self) -> None:
        """
        An empty value for a synonym without a default leaves it to the next one.
        """
        self.assertEqual(
            _config(
                log_retention_ms="", log_retention_hours="1"
            ).log_config.retention_ms,
            3600000,
        )

    def test_roll(self) -> None:
        """
        C{log.roll.ms} wins over C{log.roll.hours}.
        """
        self.assertEqual(
            _config(log_roll_ms="500", log_roll_hours="2").log_config.segment_ms, 500
        )
        self.assertEqual(_config(log_roll_hours="2").log_config.segment_ms, 7200000)

    def test_flush(self) -> None:
        """
        C{log.flush.interval.ms} wins over C{log.flush.scheduler.interval.ms}.
        """
        both = _config(log_flush_interval_ms="10", log_flush_scheduler_interval_ms="20")
        self.assertEqual(both.log_config.flush_ms, 10)
        self.assertEqual(both.log_flush_scheduler_interval_ms, 20)
        self.assertEqual(
            _config(log_flush_scheduler_interval_ms="20").log_config.flush_ms, 20
        )

    def test_other_topic_defaults(self) -> None:
        """
        The other synonyms set the topic defaults they stand for.
        """
        config = _config(
            log_segment_bytes="2097152",
            message_max_bytes="2000",
            log_cleanup_policy="compact,delete",
            log_message_timestamp_type="LogAppendTime",
            min_insync_replicas="2",
        )
        self.assertEqual(
            config.log_config,
            LogConfig(
                segment_bytes=2097152,
                max_message_bytes=2000,
                cleanup_policy=("compact", "delete"),
                message_timestamp_type="LogAppendTime",
                min_insync_replicas=2,
            ),
        )

    def test_log_dirs(self) -> None:
        """
        C{log.dirs} wins over C{log.dir}; entries are comma-separated.
        """
        self.assertEqual(_config(log_dirs=" a, b ,", log_dir="c").log_dirs, ("a", "b"))
        self.assertEqual(_config(log_dir="c").log_dirs, ("c",))

    def test_node_id(self) -> None:
        """
        Either C{node.id} or C{broker.id} sets the id, and both report it.
        """
        for key in ("node.id", "broker.id"):
            config = KafkaConfig.from_properties({key: "3"})
            self.assertEqual(
                (config.node_id, config.get("node.id"), config.get("broker.id")),
                (3, 3, 3),
            )
        self.assertEqual(_config(node_id="4", broker_id="4").node_id, 4)


class BadValueTests(SynchronousTestCase):
    """
    A bad value raises L{ConfigError} naming the key and the value.
    """

    cases = [
        ("log.segment.bytes", "abc", "Not a number of type INT"),
        ("log.segment.bytes", "2147483648", "Not a number of type INT"),
        ("log.segment.bytes", "1000", "Value must be at least 1048576"),
        ("log.retention.ms", "1.5", "Not a number of type LONG"),
        ("log.retention.hours", "1_000", "Not a number of type INT"),
        ("num.partitions", "0", "Value must be at least 1"),
        ("log.roll.hours", "0", "Value must be at least 1"),
        (
            "auto.create.topics.enable",
            "yes",
            "Expected value to be either true or false",
        ),
        ("log.message.timestamp.type", "Now", "String must be one of: CreateTime, Log"),
        ("log.cleanup.policy", "delete,tidy", "String must be one of: compact, delete"),
        ("log.cleanup.policy", ",", "Empty list"),
        ("log.cleaner.min.cleanable.ratio", "1.5", "Value must be no more than 1"),
        ("log.cleaner.min.cleanable.ratio", "nan", "Not a number of type DOUBLE"),
        ("node.id", "-2", "Value must be at least -1"),
        ("security.inter.broker.protocol", "TLS", "String must be one of"),
        ("offsets.topic.replication.factor", "40000", "Value must be no more than"),
        ("log.dirs", " , ", "at least one directory is required"),
        ("log.dirs", "a,./a", "a is listed twice"),
    ]

    def test_cases(self) -> None:
        """
        Each bad value is refused with Kafka's wording, naming key and value.
        """
        for key, value, reason in self.cases:
            error = self.assertRaises(
                ConfigError, KafkaConfig.from_properties, {key: value}
            )
            prefix = f"Invalid value {value.strip()} for configuration {key}: "
            self.assertTrue(error.message.startswith(prefix), (error.message, prefix))
            self.assertIn(reason, error.message)
            self.assertEqual((error.key, error.value), (key, value.strip()))

    def test_is_invalid_config(self) -> None:
        """
        The error is Kafka's INVALID_CONFIG, so handlers can send it as it is.
        """
        error = self.assertRaises(ConfigError, _config, num_partitions="x")
        self.assertIsInstance(error, InvalidConfigurationError)
        self.assertEqual(error.code, 40)

    def test_white_space_around_numbers(self) -> None:
        """
        White space around a value is not part of it.
        """
        self.assertEqual(_config(num_partitions=" 3 ").num_partitions, 3)
        self.assertTrue(
            _config(delete_topic_enable=" FALSE ").delete_topic_enable is False
        )

    def test_node_id_mismatch(self) -> None:
        """
        C{node.id} and C{broker.id} set to different values are refused.
        """
        error = self.assertRaises(ConfigError, _config, node_id="1", broker_id="2")
        self.assertIn("node.id is 1 and broker.id is 2", error.message)


class LoggingTests(SynchronousTestCase):
    """
    Unknown keys and keys without effect are logged with structured fields.
    """

    def setUp(self) -> None:
        self.events: list[dict[str, object]] = []
        self.log = Logger(observer=cast(ILogObserver, self.events.append))

    def test_unknown_key_warns(self) -> None:
        """
        An unknown key logs a warning naming it and is otherwise ignored.
        """
        config = KafkaConfig.from_properties(
            {"log.retention.dayz": "3", "num.partitions": "2"}, log=self.log
        )
        [event] = self.events
        self.assertEqual(event["log_level"], LogLevel.warn)
        self.assertEqual((event["key"], event["value"]), ("log.retention.dayz", "3"))
        self.assertEqual(config.num_partitions, 2)
        self.assertNotIn("log.retention.dayz", config.values)

    def test_ignored_key_noted(self) -> None:
        """
        A key accepted without effect logs why, at info level.
        """
        KafkaConfig.from_properties({"num.io.threads": "16"}, log=self.log)
        [event] = self.events
        self.assertEqual(event["log_level"], LogLevel.info)
        self.assertEqual(event["key"], "num.io.threads")
        self.assertIn("thread", str(event["reason"]))

    def test_known_keys_silent(self) -> None:
        """
        Known keys log nothing.
        """
        KafkaConfig.from_properties({"num.partitions": "3"}, log=self.log)
        self.assertEqual(self.events, [])


class WithOverridesTests(SynchronousTestCase):
    """
    L{KafkaConfig.with_overrides} makes a new, validated configuration.
    """

    def test_overrides(self) -> None:
        """
        Overrides win over the original values, which stay as they were.
        """
        original = _config(num_partitions="2", log_retention_hours="1")
        changed = original.with_overrides({"log.retention.ms": "5"})
        self.assertEqual(changed.log_config.retention_ms, 5)
        self.assertEqual(changed.num_partitions, 2)
        self.assertEqual(original.log_config.retention_ms, 3600000)
        self.assertTrue(changed.is_set("log.retention.ms"))
        self.assertFalse(original.is_set("log.retention.ms"))

    def test_bad_override(self) -> None:
        """
        An override is validated like any other value.
        """
        self.assertRaises(
            ConfigError, _config().with_overrides, {"num.partitions": "-1"}
        )

    def test_equal(self) -> None:
        """
        Configurations built from the same properties are equal.
        """
        self.assertEqual(_config(num_partitions="2"), _config(num_partitions="2"))
