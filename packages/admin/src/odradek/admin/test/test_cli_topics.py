"""
Tests of C{odradek-topics}: its command line, the sans-IO helpers of
L{odradek.admin.cli._topicsfmt}, and its actions against a fake admin client.
"""

from __future__ import annotations

import io
import sys
import uuid
from typing import cast

from twisted.trial.unittest import SynchronousTestCase

from odradek.admin.cli import _topicsfmt as fmt
from odradek.admin.cli import topics
from odradek.admin.cli._common import ToolError, run_tool
from odradek.admin.test._topicstools import (
    BOOTSTRAP,
    TOPIC_ID,
    FakeAdmin,
    config,
    partition,
)
from odradek.client.admin import (
    AdminClient,
    Config,
    NewPartitions,
    NewTopic,
    TopicDescription,
)
from odradek.client.errors import (
    InvalidPartitionsError,
    TopicExistsError,
    UnsupportedVersionError,
)


class ToolTestCase(SynchronousTestCase):
    """Captures standard output and error around each test."""

    def setUp(self) -> None:
        self.out = io.StringIO()
        self.err = io.StringIO()
        self.patch(sys, "stdout", self.out)
        self.patch(sys, "stderr", self.err)
        self.admin = FakeAdmin()

    def run_topics(self, *argv: str) -> int:
        """Run the tool's actions with the fake admin; errors as run_tool says."""

        def main(args: list[str]) -> int:
            options = topics.parse_args(args)
            return topics.execute(options, cast(AdminClient, self.admin))

        return run_tool(main, [*BOOTSTRAP, *argv], stderr=sys.stderr)

    def assert_bad_flags(self, *argv: str) -> str:
        """Assert that a command line exits 1 with one line; return it."""
        with self.assertRaises(SystemExit) as caught:
            topics.parse_args([*BOOTSTRAP, *argv])
        self.assertEqual(caught.exception.code, 1)
        lines = self.err.getvalue().splitlines()
        self.assertEqual(len(lines), 1, lines)
        return lines[0]


class ParseArgsTests(ToolTestCase):
    """C{odradek-topics}' command line."""

    def test_one_action(self) -> None:
        """No action, or two, is one line and exit 1."""
        self.assertIn("exactly one action", self.assert_bad_flags("--topic", "a"))

    def test_two_actions(self) -> None:
        """Two actions are refused."""
        self.assertIn("exactly one action", self.assert_bad_flags("--list", "--delete"))

    def test_topic_required(self) -> None:
        """--create needs --topic."""
        self.assertIn("--topic is required", self.assert_bad_flags("--create"))

    def test_alter_needs_partitions(self) -> None:
        """--alter needs --partitions."""
        line = self.assert_bad_flags("--alter", "--topic", "a")
        self.assertIn("--partitions is required", line)

    def test_config_only_on_create(self) -> None:
        """--config goes with --create only."""
        line = self.assert_bad_flags(
            "--alter", "--topic", "a", "--partitions", "2", "--config", "a=b"
        )
        self.assertIn("--config can't be used with --alter", line)

    def test_assignment_and_partitions(self) -> None:
        """--replica-assignment excludes --partitions on --create."""
        line = self.assert_bad_flags(
            "--create", "--topic", "a", "--partitions", "2", "--replica-assignment", "1"
        )
        self.assertIn("--partitions can't be used with --replica-assignment", line)

    def test_nonpositive_partitions(self) -> None:
        """--partitions 0 is refused before anything is sent."""
        line = self.assert_bad_flags("--create", "--topic", "a", "--partitions", "0")
        self.assertIn("at least 1", line)

    def test_reports_only_on_describe(self) -> None:
        """The partition filters go with --describe only."""
        line = self.assert_bad_flags("--list", "--under-replicated-partitions")
        self.assertIn("--under-replicated-partitions can't be used with --list", line)

    def test_overrides_and_reports(self) -> None:
        """--topics-with-overrides excludes the partition filters."""
        line = self.assert_bad_flags(
            "--describe", "--topics-with-overrides", "--unavailable-partitions"
        )
        self.assertIn("--topics-with-overrides", line)

    def test_unknown_flag(self) -> None:
        """An unknown flag is one line and exit 1."""
        self.assertIn("--bogus", self.assert_bad_flags("--list", "--bogus"))

    def test_not_an_integer(self) -> None:
        """A partition count that is not a number is one line."""
        line = self.assert_bad_flags("--create", "--topic", "a", "--partitions", "x")
        self.assertIn("--partitions", line)

    def test_valid(self) -> None:
        """A valid command line gives its options."""
        options = topics.parse_args(
            [
                *BOOTSTRAP,
                "--create",
                "--topic",
                "a",
                "--config",
                "x=1",
                "--config",
                "y=2",
            ]
        )
        self.assertEqual((options.topic, options.config), ("a", ["x=1", "y=2"]))


class HelpersTests(SynchronousTestCase):
    """The sans-IO helpers of odradek-topics."""

    def test_replica_assignment(self) -> None:
        """'0:1,1:2' assigns brokers 0 and 1 to partition 0, 1 and 2 to 1."""
        self.assertEqual(
            fmt.parse_replica_assignment("0:1, 1:2"), {0: (0, 1), 1: (1, 2)}
        )

    def test_replica_assignment_duplicate(self) -> None:
        """A broker twice in a partition is refused."""
        with self.assertRaisesRegex(ToolError, "duplicate entries: 1"):
            fmt.parse_replica_assignment("1:1")

    def test_replica_assignment_uneven(self) -> None:
        """Partitions with different replication factors are refused."""
        with self.assertRaisesRegex(ToolError, "Partition 1 has different"):
            fmt.parse_replica_assignment("1:2,3")

    def test_replica_assignment_not_numbers(self) -> None:
        """An id that is not an integer is refused, naming the partition."""
        with self.assertRaisesRegex(ToolError, "partition 1 is 'x'"):
            fmt.parse_replica_assignment("1,x")

    def test_topic_configs(self) -> None:
        """--config items are key=value, spaces around '=' dropped."""
        self.assertEqual(
            fmt.parse_topic_configs(["a = 1", "b=2"]), {"a": "1", "b": "2"}
        )

    def test_topic_configs_bad(self) -> None:
        """An item without '=' is refused."""
        with self.assertRaisesRegex(ToolError, "key=val"):
            fmt.parse_topic_configs(["retention.ms"])

    def test_topic_name(self) -> None:
        """A name with a character Kafka does not allow is refused."""
        with self.assertRaisesRegex(ToolError, "illegal"):
            fmt.validate_topic_name("bad name!")
        fmt.validate_topic_name("good.name_1-2")

    def test_select_regex(self) -> None:
        """--topic is a regex the whole name must match; commas mean '|'."""
        names = ["orders", "orders-eu", "payments", "xorders"]
        self.assertEqual(
            fmt.select_topics(names, "orders.*", False), ["orders", "orders-eu"]
        )
        self.assertEqual(
            fmt.select_topics(names, "'orders,payments'", False),
            ["orders", "payments"],
        )

    def test_select_internal(self) -> None:
        """Internal topics are left out with --exclude-internal."""
        names = ["__consumer_offsets", "b", "a"]
        self.assertEqual(fmt.select_topics(names, None, False), sorted(names))
        self.assertEqual(fmt.select_topics(names, None, True), ["a", "b"])

    def test_select_bad_regex(self) -> None:
        """A bad regex is a ToolError."""
        with self.assertRaisesRegex(ToolError, "invalid regex"):
            fmt.select_topics(["a"], "(", False)

    def test_topic_id(self) -> None:
        """A topic id is written as Kafka's Uuid: base64url without padding."""
        self.assertEqual(fmt.format_topic_id(TOPIC_ID), "5DDWE8DMSsaZfm3bjDEPyg")
        self.assertIsNone(fmt.format_topic_id(uuid.UUID(int=0)))
        self.assertIsNone(fmt.format_topic_id(None))

    def test_topic_line(self) -> None:
        """The topic line tells id, counts and the configs set on the topic."""
        description = TopicDescription(
            "orders",
            TOPIC_ID,
            False,
            (partition(1, 1, [1, 2], [1]), partition(0, 2, [2, 1], [2])),
        )
        self.assertEqual(
            fmt.describe_topic_line(description, config(retention_ms="1000")),
            "Topic: orders\tTopicId: 5DDWE8DMSsaZfm3bjDEPyg\tPartitionCount: 2"
            "\tReplicationFactor: 2\tConfigs: retention.ms=1000",
        )

    def test_topic_line_without_id(self) -> None:
        """Without an id the TopicId field is left out."""
        description = TopicDescription("a", None, False, (partition(0, 1, [1], [1]),))
        self.assertEqual(
            fmt.describe_topic_line(description, config()),
            "Topic: a\tPartitionCount: 1\tReplicationFactor: 1\tConfigs: ",
        )

    def test_partition_line(self) -> None:
        """The partition line tells leader, replicas and ISR."""
        self.assertEqual(
            fmt.describe_partition_line("a", partition(3, None, [1, 2], [])),
            "\tTopic: a\tPartition: 3\tLeader: none\tReplicas: 1,2\tIsr: "
            "\tElr: N/A\tLastKnownElr: N/A",
        )

    def test_partition_filters(self) -> None:
        """The predicates of the --describe filters."""
        healthy = partition(0, 1, [1, 2], [1, 2])
        lagging = partition(1, 1, [1, 2], [1])
        leaderless = partition(2, None, [3], [])
        self.assertEqual(
            [fmt.is_under_replicated(p) for p in (healthy, lagging, leaderless)],
            [False, True, True],
        )
        self.assertEqual(
            [fmt.is_unavailable(p, {1, 2}) for p in (healthy, lagging, leaderless)],
            [False, False, True],
        )
        self.assertEqual(
            [fmt.is_under_min_isr(p, 2) for p in (healthy, lagging, leaderless)],
            [False, True, True],
        )
        self.assertEqual(
            [fmt.is_at_min_isr(p, 2) for p in (healthy, lagging, leaderless)],
            [True, False, False],
        )

    def test_min_isr(self) -> None:
        """min.insync.replicas comes from the config, 1 if absent."""
        self.assertEqual(fmt.min_isr_of(config()), 2)
        self.assertEqual(fmt.min_isr_of(Config({})), 1)


class ActionsTests(ToolTestCase):
    """The actions of odradek-topics against a fake admin client."""

    def test_create(self) -> None:
        """--create sends the topic and prints Kafka's line."""
        status = self.run_topics(
            "--create", "--topic", "a", "--partitions", "3", "--config", "x=1"
        )
        self.assertEqual((status, self.out.getvalue()), (0, "Created topic a.\n"))
        [(_, [sent])] = self.admin.calls
        self.assertEqual(sent, NewTopic("a", 3, -1, configs={"x": "1"}))

    def test_create_assignment(self) -> None:
        """--replica-assignment sends an explicit assignment."""
        self.run_topics("--create", "--topic", "a", "--replica-assignment", "1:2,2:1")
        [(_, [sent])] = self.admin.calls
        self.assertEqual(sent.replica_assignment, {0: (1, 2), 1: (2, 1)})

    def test_create_exists(self) -> None:
        """An existing topic is one line and exit 1."""
        self.admin.errors["a"] = TopicExistsError("exists")
        self.assertEqual(self.run_topics("--create", "--topic", "a"), 1)
        self.assertEqual(self.err.getvalue(), "Error: Topic 'a' already exists.\n")

    def test_create_if_not_exists(self) -> None:
        """With --if-not-exists an existing topic is no error."""
        self.admin.errors["a"] = TopicExistsError("exists")
        self.assertEqual(
            self.run_topics("--create", "--topic", "a", "--if-not-exists"), 0
        )
        self.assertEqual(self.out.getvalue(), "")

    def test_create_collision_warning(self) -> None:
        """A name with '.' or '_' gets Kafka's warning once it is created."""
        self.run_topics("--create", "--topic", "a.b")
        warning, created = self.out.getvalue().splitlines()
        self.assertIn("could collide", warning)
        self.assertEqual(created, "Created topic a.b.")

    def test_list(self) -> None:
        """--list prints the names sorted, internal ones unless excluded."""
        for name in ("b", "a", "__consumer_offsets"):
            self.admin.add(name, partition(0, 1, [1], [1]))
        self.admin.internal.add("__consumer_offsets")
        self.run_topics("--list")
        self.assertEqual(self.out.getvalue(), "__consumer_offsets\na\nb\n")
        self.out.truncate(0)
        self.out.seek(0)
        self.run_topics("--list", "--exclude-internal")
        self.assertEqual(self.out.getvalue(), "a\nb\n")

    def test_describe(self) -> None:
        """--describe prints each topic's line and its partitions' lines."""
        self.admin.add(
            "a", partition(1, 2, [2], [2]), partition(0, 1, [1], [1]), retention_ms="9"
        )
        self.assertEqual(self.run_topics("--describe", "--topic", "a"), 0)
        self.assertEqual(
            self.out.getvalue().splitlines(),
            [
                "Topic: a\tTopicId: 5DDWE8DMSsaZfm3bjDEPyg\tPartitionCount: 2"
                "\tReplicationFactor: 1\tConfigs: retention.ms=9",
                "\tTopic: a\tPartition: 0\tLeader: 1\tReplicas: 1\tIsr: 1"
                "\tElr: N/A\tLastKnownElr: N/A",
                "\tTopic: a\tPartition: 1\tLeader: 2\tReplicas: 2\tIsr: 2"
                "\tElr: N/A\tLastKnownElr: N/A",
            ],
        )

    def test_describe_unknown(self) -> None:
        """Describing a topic that matches nothing is one line and exit 1."""
        self.assertEqual(self.run_topics("--describe", "--topic", "nope"), 1)
        self.assertEqual(
            self.err.getvalue(), "Error: Topic 'nope' does not exist as expected\n"
        )

    def test_describe_if_exists(self) -> None:
        """With --if-exists a topic that matches nothing prints nothing."""
        self.assertEqual(
            self.run_topics("--describe", "--topic", "no", "--if-exists"), 0
        )
        self.assertEqual(self.out.getvalue() + self.err.getvalue(), "")

    def test_describe_reports(self) -> None:
        """A partition filter prints only the matching partitions, no topic line."""
        self.admin.add(
            "a", partition(0, 1, [1, 2], [1, 2]), partition(1, 1, [1, 2], [1])
        )
        self.admin.add("b", partition(0, 3, [3], [3]))
        self.run_topics("--describe", "--under-replicated-partitions")
        self.assertEqual(
            [line.split("\t")[1:3] for line in self.out.getvalue().splitlines()],
            [["Topic: a", "Partition: 1"]],
        )
        self.out.truncate(0)
        self.out.seek(0)
        self.run_topics("--describe", "--unavailable-partitions")
        self.assertEqual(
            [line.split("\t")[1:3] for line in self.out.getvalue().splitlines()],
            [["Topic: b", "Partition: 0"]],
        )

    def test_describe_with_overrides(self) -> None:
        """--topics-with-overrides prints only topic lines of overridden topics."""
        self.admin.add("a", partition(0, 1, [1], [1]))
        self.admin.add("b", partition(0, 1, [1], [1]), retention_ms="5")
        self.run_topics("--describe", "--topics-with-overrides")
        [line] = self.out.getvalue().splitlines()
        self.assertTrue(line.startswith("Topic: b\t"), line)

    def test_alter(self) -> None:
        """--alter grows every matching topic to --partitions."""
        self.admin.add("a", partition(0, 1, [1], [1]))
        self.assertEqual(
            self.run_topics("--alter", "--topic", "a", "--partitions", "3"), 0
        )
        self.assertIn(("create_partitions", {"a": NewPartitions(3)}), self.admin.calls)

    def test_alter_assignment(self) -> None:
        """--alter with --replica-assignment sends the new partitions' replicas."""
        self.admin.add("a", partition(0, 1, [1], [1]))
        self.run_topics(
            "--alter",
            "--topic",
            "a",
            "--partitions",
            "3",
            "--replica-assignment",
            "1,2,1",
        )
        self.assertIn(
            ("create_partitions", {"a": NewPartitions(3, [[2], [1]])}), self.admin.calls
        )

    def test_alter_fewer(self) -> None:
        """The broker's refusal of fewer partitions is one line and exit 1."""
        self.admin.add("a", partition(0, 1, [1], [1]), partition(1, 1, [1], [1]))
        self.admin.errors["a"] = InvalidPartitionsError("2 would not be an increase")
        self.assertEqual(
            self.run_topics("--alter", "--topic", "a", "--partitions", "1"), 1
        )
        self.assertEqual(
            self.err.getvalue(),
            "Error: INVALID_PARTITIONS: 2 would not be an increase\n",
        )

    def test_alter_unsupported(self) -> None:
        """A broker without CreatePartitions is named in one line."""
        self.admin.add("a", partition(0, 1, [1], [1]))
        self.admin.errors["a"] = UnsupportedVersionError("no CreatePartitions")
        self.assertEqual(
            self.run_topics("--alter", "--topic", "a", "--partitions", "2"), 1
        )
        self.assertIn("does not support adding partitions", self.err.getvalue())

    def test_delete(self) -> None:
        """--delete deletes every matching topic."""
        for name in ("a1", "a2", "b"):
            self.admin.add(name, partition(0, 1, [1], [1]))
        self.assertEqual(self.run_topics("--delete", "--topic", "a[0-9]"), 0)
        self.assertIn(("delete_topics", ["a1", "a2"]), self.admin.calls)

    def test_delete_unknown(self) -> None:
        """Deleting a topic that does not exist fails unless --if-exists."""
        self.assertEqual(self.run_topics("--delete", "--topic", "x"), 1)
        self.assertEqual(self.run_topics("--delete", "--topic", "x", "--if-exists"), 0)
