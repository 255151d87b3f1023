"""
Tests for L{odradek.client.admin.types}: the admin client's values and the
arguments they refuse.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from odradek.client.admin.types import (
    AlterConfigOp,
    AlterConfigOpType,
    Config,
    ConfigEntry,
    ConfigResource,
    ConfigResourceType,
    ConfigSource,
    ConfigType,
    CreatedTopic,
    LogDirDescription,
    NewPartitions,
    NewTopic,
    OffsetSpec,
    ReplicaInfo,
)
from odradek.client.structs import TopicPartition


class NewTopicTests(SynchronousTestCase):
    """
    L{NewTopic} takes a partition count and replication factor, or an
    assignment.
    """

    def test_defaults(self) -> None:
        """Without counts, the broker's defaults (-1) are asked for."""
        topic = NewTopic("orders")
        self.assertEqual((topic.num_partitions, topic.replication_factor), (-1, -1))
        self.assertIsNone(topic.replica_assignment)
        self.assertIsNone(topic.configs)

    def test_assignment_and_configs_frozen(self) -> None:
        """The assignment and configs are copied into read-only mappings."""
        assignment = {0: [1, 2], 1: [2, 3]}
        configs = {"cleanup.policy": "compact"}
        topic = NewTopic("t", replica_assignment=assignment, configs=configs)
        assignment[0].append(9)
        configs["x"] = "y"
        self.assertEqual(dict(topic.replica_assignment or {}), {0: (1, 2), 1: (2, 3)})
        self.assertEqual(dict(topic.configs or {}), {"cleanup.policy": "compact"})

    def test_both_counts_and_assignment(self) -> None:
        """Counts and an assignment together are a ValueError naming the topic."""
        error = self.assertRaises(ValueError, NewTopic, "orders", 3, -1, {0: [1]})
        self.assertIn("orders", str(error))
        self.assertRaises(ValueError, NewTopic, "orders", -1, 2, {0: [1]})

    def test_bad_values(self) -> None:
        """Empty names, zero or negative counts and empty assignments are refused."""
        self.assertRaises(ValueError, NewTopic, "")
        error = self.assertRaises(ValueError, NewTopic, "t", 0)
        self.assertIn("0", str(error))
        self.assertRaises(ValueError, NewTopic, "t", -2)
        self.assertRaises(ValueError, NewTopic, "t", 1, 0)
        self.assertRaises(ValueError, NewTopic, "t", 1, 2**15)
        self.assertRaises(ValueError, NewTopic, "t", replica_assignment={})
        self.assertRaises(ValueError, NewTopic, "t", replica_assignment={0: []})


class NewPartitionsTests(SynchronousTestCase):
    """
    L{NewPartitions} is a total count and optional assignments.
    """

    def test_values(self) -> None:
        """Assignments become tuples."""
        new = NewPartitions(4, [[1, 2], [2, 3]])
        self.assertEqual(new.new_assignments, ((1, 2), (2, 3)))
        self.assertIsNone(NewPartitions(2).new_assignments)

    def test_bad_values(self) -> None:
        """A count below 1 or an empty assignment is refused."""
        error = self.assertRaises(ValueError, NewPartitions, 0)
        self.assertIn("0", str(error))
        self.assertRaises(ValueError, NewPartitions, 3, [[]])


class ConfigResourceTests(SynchronousTestCase):
    """
    L{ConfigResource} names a resource; a broker's is its id.
    """

    def test_broker_id(self) -> None:
        """Brokers and broker loggers have a broker id; others and the default none."""
        self.assertEqual(ConfigResource(ConfigResourceType.BROKER, "2").broker_id, 2)
        self.assertEqual(
            ConfigResource(ConfigResourceType.BROKER_LOGGER, "3").broker_id, 3
        )
        self.assertIsNone(ConfigResource(ConfigResourceType.BROKER, "").broker_id)
        self.assertIsNone(ConfigResource(ConfigResourceType.TOPIC, "t").broker_id)

    def test_type_from_int(self) -> None:
        """The type may be given as its wire id."""
        self.assertEqual(ConfigResource(2, "t").type, ConfigResourceType.TOPIC)

    def test_bad_values(self) -> None:
        """Unknown types and broker names that are not ids are refused."""
        self.assertRaises(ValueError, ConfigResource, ConfigResourceType.UNKNOWN, "t")
        self.assertRaises(ValueError, ConfigResource, 3, "t")
        error = self.assertRaises(
            ValueError, ConfigResource, ConfigResourceType.BROKER, "b1"
        )
        self.assertIn("b1", str(error))

    def test_hashable(self) -> None:
        """Resources are dictionary keys."""
        key = ConfigResource(ConfigResourceType.TOPIC, "t")
        self.assertEqual({key: 1}[ConfigResource(ConfigResourceType.TOPIC, "t")], 1)


class ConfigValuesTests(SynchronousTestCase):
    """
    The enums read unknown wire ids as UNKNOWN; L{Config} looks entries up.
    """

    def test_from_wire(self) -> None:
        """Known ids map to their member, unknown ones to UNKNOWN."""
        self.assertEqual(ConfigSource.from_wire(5), ConfigSource.DEFAULT_CONFIG)
        self.assertEqual(ConfigSource.from_wire(99), ConfigSource.UNKNOWN)
        self.assertEqual(ConfigType.from_wire(9), ConfigType.PASSWORD)
        self.assertEqual(ConfigType.from_wire(-1), ConfigType.UNKNOWN)

    def test_config(self) -> None:
        """A config gives entries by name and iterates over them."""
        entry = ConfigEntry("retention.ms", "1000")
        config = Config({"retention.ms": entry})
        self.assertIs(config.get("retention.ms"), entry)
        self.assertIsNone(config.get("other"))
        self.assertEqual(list(config), [entry])

    def test_alter_config_op(self) -> None:
        """An operation defaults to SET, takes wire ids and needs a key."""
        self.assertEqual(AlterConfigOp("a", "1").op_type, AlterConfigOpType.SET)
        self.assertEqual(AlterConfigOp("a", None, 1).op_type, AlterConfigOpType.DELETE)
        self.assertRaises(ValueError, AlterConfigOp, "", "1")
        self.assertRaises(ValueError, AlterConfigOp, "a", "1", 7)


class RecordValuesTests(SynchronousTestCase):
    """
    L{OffsetSpec} and the values read from log directories.
    """

    def test_offset_specs(self) -> None:
        """Each spec is the timestamp ListOffsets sends."""
        self.assertEqual(OffsetSpec.earliest().timestamp, -2)
        self.assertEqual(OffsetSpec.latest().timestamp, -1)
        self.assertEqual(OffsetSpec.max_timestamp().timestamp, -3)
        self.assertEqual(OffsetSpec.for_timestamp(1700).timestamp, 1700)
        self.assertEqual(OffsetSpec.for_timestamp(0), OffsetSpec(0))

    def test_bad_specs(self) -> None:
        """Negative timestamps and unknown special values are refused."""
        self.assertRaises(ValueError, OffsetSpec.for_timestamp, -1)
        self.assertRaises(ValueError, OffsetSpec, -4)

    def test_frozen_mappings(self) -> None:
        """Created topics and log directories copy their mappings."""
        configs = {"a": "1"}
        created = CreatedTopic("t", None, 1, 1, configs)
        configs["b"] = "2"
        self.assertEqual(created.configs, {"a": "1"})
        replicas = {TopicPartition("t", 0): ReplicaInfo(10, 0, False)}
        described = LogDirDescription(None, replicas)
        replicas.clear()
        self.assertEqual(len(described.replicas), 1)
        self.assertIsNone(described.total_bytes)
