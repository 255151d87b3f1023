"""
Tests for L{odradek.broker.log.config}.
"""

from __future__ import annotations

import attrs
from twisted.trial.unittest import SynchronousTestCase

from odradek.broker.log.config import TOPIC_CONFIGS, ConfigType, LogConfig
from odradek.client.errors import InvalidConfigurationError


class TopicConfigsTests(SynchronousTestCase):
    """
    The table of topic-level keys matches Kafka's names, defaults and synonyms.
    """

    def test_keys(self) -> None:
        """
        The table holds Kafka's topic-level keys under Kafka's names.
        """
        for key in [
            "cleanup.policy",
            "compression.type",
            "delete.retention.ms",
            "file.delete.delay.ms",
            "flush.messages",
            "flush.ms",
            "index.interval.bytes",
            "max.message.bytes",
            "message.timestamp.type",
            "message.timestamp.before.max.ms",
            "message.timestamp.after.max.ms",
            "min.cleanable.dirty.ratio",
            "min.compaction.lag.ms",
            "min.insync.replicas",
            "preallocate",
            "retention.bytes",
            "retention.ms",
            "segment.bytes",
            "segment.index.bytes",
            "segment.jitter.ms",
            "segment.ms",
            "unclean.leader.election.enable",
        ]:
            self.assertIn(key, TOPIC_CONFIGS)

    def test_defaults_match_log_config(self) -> None:
        """
        Each key's default is the default of its L{LogConfig} attribute.
        """
        config = LogConfig()
        for key in TOPIC_CONFIGS.values():
            self.assertEqual(getattr(config, key.attribute), key.default, key.name)
        self.assertEqual(
            {f.name for f in attrs.fields(LogConfig)},
            {key.attribute for key in TOPIC_CONFIGS.values()},
        )

    def test_kafka_defaults(self) -> None:
        """
        The defaults are Kafka's.
        """
        config = LogConfig()
        self.assertEqual(config.segment_bytes, 1073741824)
        self.assertEqual(config.retention_ms, 604800000)
        self.assertEqual(config.retention_bytes, -1)
        self.assertEqual(config.max_message_bytes, 1048588)
        self.assertEqual(config.index_interval_bytes, 4096)
        self.assertEqual(config.segment_index_bytes, 10485760)
        self.assertEqual(config.segment_ms, 604800000)
        self.assertEqual(config.message_timestamp_type, "CreateTime")
        self.assertEqual(config.cleanup_policy, ("delete",))
        self.assertEqual(config.compression_type, "producer")

    def test_synonyms(self) -> None:
        """
        Each key names its broker-level synonyms, milliseconds before minutes before
        hours.
        """
        retention = [s.name for s in TOPIC_CONFIGS["retention.ms"].synonyms]
        self.assertEqual(
            retention,
            ["log.retention.ms", "log.retention.minutes", "log.retention.hours"],
        )
        roll = [s.name for s in TOPIC_CONFIGS["segment.ms"].synonyms]
        self.assertEqual(roll, ["log.roll.ms", "log.roll.hours"])
        self.assertEqual(
            TOPIC_CONFIGS["max.message.bytes"].synonyms[0].name, "message.max.bytes"
        )
        self.assertEqual(
            TOPIC_CONFIGS["segment.index.bytes"].synonyms[0].name,
            "log.index.size.max.bytes",
        )

    def test_documented(self) -> None:
        """
        Every key has a type and a documentation string.
        """
        for key in TOPIC_CONFIGS.values():
            self.assertIsInstance(key.type, ConfigType)
            self.assertTrue(key.doc, key.name)

    def test_valid_values(self) -> None:
        """
        The valid values are described as Kafka describes them.
        """
        self.assertEqual(
            TOPIC_CONFIGS["min.cleanable.dirty.ratio"].valid_values, "[0,...,1]"
        )
        self.assertEqual(TOPIC_CONFIGS["segment.ms"].valid_values, "[1,...]")
        self.assertEqual(
            TOPIC_CONFIGS["cleanup.policy"].valid_values, "[compact, delete]"
        )
        self.assertEqual(TOPIC_CONFIGS["preallocate"].valid_values, "")


class FromPropertiesTests(SynchronousTestCase):
    """
    L{LogConfig.from_properties} parses and validates topic overrides.
    """

    def assertInvalid(self, key: str, value: str, reason: str) -> None:
        error = self.assertRaises(
            InvalidConfigurationError, LogConfig.from_properties, {key: value}
        )
        self.assertIn(key, str(error))
        self.assertIn(value, str(error))
        self.assertIn(reason, str(error))

    def test_parse(self) -> None:
        """
        Values of every type are parsed onto the defaults given.
        """
        base = LogConfig(retention_ms=5)
        config = LogConfig.from_properties(
            {
                "segment.bytes": "2097152",
                "cleanup.policy": "compact, delete",
                "min.cleanable.dirty.ratio": "0.25",
                "preallocate": "TRUE",
                "message.timestamp.type": "LogAppendTime",
            },
            base,
        )
        self.assertEqual(config.segment_bytes, 2097152)
        self.assertEqual(config.cleanup_policy, ("compact", "delete"))
        self.assertEqual(config.min_cleanable_dirty_ratio, 0.25)
        self.assertTrue(config.preallocate)
        self.assertTrue(config.log_append_time)
        self.assertEqual(config.retention_ms, 5)

    def test_not_a_number(self) -> None:
        """
        A number that does not parse names the key, the value and the type.
        """
        self.assertInvalid("retention.ms", "soon", "Not a number of type LONG")

    def test_int_overflow(self) -> None:
        """
        An INT key refuses values beyond 32 bits.
        """
        self.assertInvalid(
            "max.message.bytes", "4294967296", "Not a number of type INT"
        )

    def test_below_minimum(self) -> None:
        """
        A value below the minimum is refused.
        """
        self.assertInvalid("segment.bytes", "1000", "at least 1048576")
        self.assertInvalid("retention.ms", "-2", "at least -1")

    def test_above_maximum(self) -> None:
        """
        A value above the maximum is refused.
        """
        self.assertInvalid("min.cleanable.dirty.ratio", "1.5", "no more than 1")

    def test_choices(self) -> None:
        """
        A string outside the choices is refused, for single values and lists.
        """
        self.assertInvalid("message.timestamp.type", "Now", "must be one of")
        self.assertInvalid("cleanup.policy", "delete,shred", "must be one of")
        self.assertInvalid("compression.type", "brotli", "must be one of")

    def test_boolean(self) -> None:
        """
        A boolean must be true or false.
        """
        self.assertInvalid("preallocate", "yes", "true or false")

    def test_unknown_key(self) -> None:
        """
        An unknown key is an INVALID_CONFIG error naming it.
        """
        error = self.assertRaises(
            InvalidConfigurationError, LogConfig.from_properties, {"retention": "1"}
        )
        self.assertIn("retention", str(error))
        self.assertEqual(error.code, 40)


class BrokerPropertiesTests(SynchronousTestCase):
    """
    L{LogConfig.from_broker_properties} reads the broker-level synonyms.
    """

    def test_hours(self) -> None:
        """
        Hours and minutes are converted to milliseconds.
        """
        config = LogConfig.from_broker_properties(
            {"log.retention.hours": "2", "log.roll.hours": "1"}
        )
        self.assertEqual(config.retention_ms, 2 * 3600000)
        self.assertEqual(config.segment_ms, 3600000)
        config = LogConfig.from_broker_properties({"log.retention.minutes": "3"})
        self.assertEqual(config.retention_ms, 180000)

    def test_precedence(self) -> None:
        """
        The milliseconds key wins over minutes, which wins over hours.
        """
        config = LogConfig.from_broker_properties(
            {
                "log.retention.hours": "2",
                "log.retention.minutes": "3",
                "log.retention.ms": "7",
            }
        )
        self.assertEqual(config.retention_ms, 7)

    def test_negative_retention(self) -> None:
        """
        Any negative retention under a broker key means no limit, -1.
        """
        config = LogConfig.from_broker_properties({"log.retention.hours": "-1"})
        self.assertEqual(config.retention_ms, -1)

    def test_synonym_names_key_in_error(self) -> None:
        """
        A bad broker value names the broker key, not the topic key.
        """
        error = self.assertRaises(
            InvalidConfigurationError,
            LogConfig.from_broker_properties,
            {"log.segment.bytes": "tiny"},
        )
        self.assertIn("log.segment.bytes", str(error))
        self.assertIn("tiny", str(error))

    def test_other_keys_ignored(self) -> None:
        """
        Keys that are no topic synonym are left to the broker's own config.
        """
        config = LogConfig.from_broker_properties(
            {"listeners": "PLAINTEXT://:9092", "message.max.bytes": "2000"}
        )
        self.assertEqual(config.max_message_bytes, 2000)


class RenderTests(SynchronousTestCase):
    """
    Configs are written back as Kafka shows them.
    """

    def test_to_properties(self) -> None:
        """
        Every key is rendered as text.
        """
        rendered = LogConfig(cleanup_policy=("compact", "delete")).to_properties()
        self.assertEqual(rendered["cleanup.policy"], "compact,delete")
        self.assertEqual(rendered["preallocate"], "false")
        self.assertEqual(rendered["min.cleanable.dirty.ratio"], "0.5")
        self.assertEqual(rendered["retention.ms"], "604800000")
        self.assertEqual(set(rendered), set(TOPIC_CONFIGS))

    def test_round_trip(self) -> None:
        """
        Rendered properties parse back to the same config.
        """
        config = LogConfig(
            retention_ms=-1, cleanup_policy=("compact",), preallocate=True
        )
        self.assertEqual(LogConfig.from_properties(config.to_properties()), config)

    def test_overridden(self) -> None:
        """
        Only the settings differing from the base are reported as overrides.
        """
        base = LogConfig(retention_ms=10)
        config = attrs.evolve(base, segment_ms=20)
        self.assertEqual(config.overridden(base), {"segment.ms": "20"})


class StrictNumbersTests(SynchronousTestCase):
    """
    Topic-level and broker keys share one parser, which reads numbers as Kafka's
    C{ConfigDef} does: plain decimal digits only.
    """

    def test_underscored_integer_refused(self) -> None:
        """
        C{1_000}, which Python's C{int} would accept, is not a number to Kafka.
        """
        with self.assertRaises(InvalidConfigurationError) as caught:
            LogConfig.from_properties({"segment.bytes": "1_048_576"})
        self.assertIn("1_048_576", str(caught.exception))
        self.assertIn("segment.bytes", str(caught.exception))

    def test_infinite_double_refused(self) -> None:
        """
        C{inf}, which Python's C{float} would accept, is not a number to Kafka.
        """
        with self.assertRaises(InvalidConfigurationError) as caught:
            LogConfig.from_properties({"min.cleanable.dirty.ratio": "inf"})
        self.assertIn("min.cleanable.dirty.ratio", str(caught.exception))

    def test_broker_and_topic_agree(self) -> None:
        """
        The broker key and the topic key it sets refuse the same value with the
        same reason.
        """
        from odradek.broker.config import BROKER_CONFIGS

        topic_error = broker_error = None
        try:
            TOPIC_CONFIGS["retention.bytes"].parse("12abc")
        except InvalidConfigurationError as e:
            topic_error = str(e)
        try:
            BROKER_CONFIGS["log.retention.bytes"].parse("12abc")
        except InvalidConfigurationError as e:
            broker_error = str(e)
        assert topic_error is not None and broker_error is not None
        self.assertIn("Not a number of type LONG", topic_error)
        self.assertIn("Not a number of type LONG", broker_error)
