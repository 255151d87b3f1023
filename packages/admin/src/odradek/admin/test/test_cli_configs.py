"""
Tests of C{odradek-configs}: its command line, the sans-IO helpers of
L{odradek.admin.cli._configsfmt}, and its actions against a fake admin client.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import cast

from twisted.trial.unittest import SynchronousTestCase

from odradek.admin.cli import _configsfmt as fmt
from odradek.admin.cli import configs
from odradek.admin.cli._common import ToolError, run_tool
from odradek.client.admin import (
    AdminClient,
    AlterConfigOp,
    AlterConfigOpType,
    ClusterDescription,
    Config,
    ConfigEntry,
    ConfigResource,
    ConfigResourceType,
    ConfigSource,
    ConfigSynonym,
    ItemResults,
    TopicListing,
)
from odradek.client.errors import UnsupportedVersionError
from odradek.client.network.cluster import Node

BOOTSTRAP = ["--bootstrap-server", "localhost:9092"]

RETENTION = ConfigEntry(
    "retention.ms",
    "1000",
    ConfigSource.DYNAMIC_TOPIC_CONFIG,
    synonyms=(
        ConfigSynonym("retention.ms", "1000", ConfigSource.DYNAMIC_TOPIC_CONFIG),
        ConfigSynonym("log.retention.hours", "168", ConfigSource.DEFAULT_CONFIG),
    ),
)
CLEANUP = ConfigEntry(
    "cleanup.policy", "delete", ConfigSource.DEFAULT_CONFIG, is_default=True
)
PASSWORD = ConfigEntry(
    "ssl.key.password", None, ConfigSource.DYNAMIC_BROKER_CONFIG, is_sensitive=True
)


class FakeAdmin:
    """
    The admin calls of C{odradek-configs}, answered from memory.

    @ivar configs: each resource's config.
    @ivar altered: the changes asked for, in order.
    @ivar error: the error to answer a change with, if any.
    """

    def __init__(self) -> None:
        self.configs: dict[ConfigResource, Config] = {}
        self.altered: list[dict[ConfigResource, list[AlterConfigOp]]] = []
        self.error: BaseException | None = None

    def list_topics(
        self, list_internal: bool = False, timeout: float | None = None
    ) -> dict[str, TopicListing]:
        return {
            r.name: TopicListing(r.name, None, False)
            for r in self.configs
            if r.type == ConfigResourceType.TOPIC
        }

    def describe_cluster(self, timeout: float | None = None) -> ClusterDescription:
        nodes = (Node(2, "h", 2), Node(1, "h", 1))
        return ClusterDescription("c", nodes[0], nodes)

    def describe_configs(
        self,
        resources: Iterable[ConfigResource],
        include_synonyms: bool = False,
        timeout: float | None = None,
    ) -> ItemResults[ConfigResource, Config]:
        resources = list(resources)
        return ItemResults.of(
            resources, {r: self.configs.get(r, Config({})) for r in resources}
        )

    def incremental_alter_configs(
        self,
        changes: Mapping[ConfigResource, Sequence[AlterConfigOp]],
        timeout: float | None = None,
    ) -> ItemResults[ConfigResource, None]:
        self.altered.append({r: list(ops) for r, ops in changes.items()})
        return ItemResults.of(changes, dict.fromkeys(changes, self.error))


class ToolTestCase(SynchronousTestCase):
    """Captures standard output and error around each test."""

    def setUp(self) -> None:
        self.out = io.StringIO()
        self.err = io.StringIO()
        self.patch(sys, "stdout", self.out)
        self.patch(sys, "stderr", self.err)
        self.admin = FakeAdmin()

    def run_configs(self, *argv: str) -> int:
        """Run the tool's actions with the fake admin; errors as run_tool says."""

        def main(args: list[str]) -> int:
            options = configs.parse_args(args)
            return configs.execute(options, cast(AdminClient, self.admin))

        return run_tool(main, [*BOOTSTRAP, *argv], stderr=sys.stderr)

    def assert_bad_flags(self, *argv: str) -> str:
        """Assert that a command line exits 1 with one line; return it."""
        with self.assertRaises(SystemExit) as caught:
            configs.parse_args([*BOOTSTRAP, *argv])
        self.assertEqual(caught.exception.code, 1)
        lines = self.err.getvalue().splitlines()
        self.assertEqual(len(lines), 1, lines)
        return lines[0]


class ParseArgsTests(ToolTestCase):
    """C{odradek-configs}' command line."""

    def test_one_action(self) -> None:
        """Neither --describe nor --alter is one line and exit 1."""
        self.assertIn("exactly one action", self.assert_bad_flags("--topic", "a"))

    def test_no_entity(self) -> None:
        """An entity type is required."""
        self.assertIn("entity type", self.assert_bad_flags("--describe"))

    def test_unknown_entity_type(self) -> None:
        """An unknown entity type is named."""
        line = self.assert_bad_flags("--describe", "--entity-type", "widgets")
        self.assertIn("Invalid entity type widgets", line)

    def test_unsupported_entity_type(self) -> None:
        """Quota entity types are refused in one line."""
        line = self.assert_bad_flags("--describe", "--entity-type", "users")
        self.assertIn("not supported", line)

    def test_mixed_entity_flags(self) -> None:
        """--entity-type does not go with --topic."""
        line = self.assert_bad_flags(
            "--describe", "--entity-type", "topics", "--topic", "a"
        )
        self.assertIn("specific entity flags", line)

    def test_broker_id(self) -> None:
        """A broker's name must be an integer id."""
        line = self.assert_bad_flags("--describe", "--broker", "one")
        self.assertIn("valid integer broker id, but it is: one", line)

    def test_alter_needs_change(self) -> None:
        """--alter needs --add-config or --delete-config."""
        line = self.assert_bad_flags("--alter", "--topic", "a")
        self.assertIn("At least one of --add-config", line)

    def test_alter_needs_name(self) -> None:
        """--alter of topics needs a name."""
        line = self.assert_bad_flags(
            "--alter", "--entity-type", "topics", "--add-config", "a=b"
        )
        self.assertIn("An entity name must be specified", line)

    def test_describe_with_add(self) -> None:
        """--add-config does not go with --describe."""
        line = self.assert_bad_flags(
            "--describe", "--topic", "a", "--add-config", "a=b"
        )
        self.assertIn("go with --alter", line)

    def test_default_only_brokers(self) -> None:
        """--entity-default is for brokers only."""
        line = self.assert_bad_flags(
            "--describe", "--entity-type", "topics", "--entity-default"
        )
        self.assertIn("--entity-default must not be specified", line)

    def test_shortcuts(self) -> None:
        """--topic, --broker and --broker-defaults name their entities."""
        for argv, entity in (
            (["--topic", "a"], fmt.Entity("topics", "a")),
            (["--broker", "1"], fmt.Entity("brokers", "1")),
            (["--broker-defaults"], fmt.Entity("brokers", "")),
            (
                ["--entity-type", "brokers", "--entity-default"],
                fmt.Entity("brokers", ""),
            ),
            (["--entity-type", "topics"], fmt.Entity("topics", None)),
        ):
            options = configs.parse_args([*BOOTSTRAP, "--describe", *argv])
            self.assertEqual(options.entity, entity)


class HelpersTests(SynchronousTestCase):
    """The sans-IO helpers of odradek-configs."""

    def test_add_config(self) -> None:
        """--add-config pairs split on commas outside square brackets."""
        self.assertEqual(
            fmt.parse_add_config("a=1, b = [x,y] ,c="),
            {"a": "1", "b": "x,y", "c": ""},
        )

    def test_add_config_not_pairs(self) -> None:
        """A pair without '=' is refused, naming it."""
        with self.assertRaisesRegex(ToolError, "'b'"):
            fmt.parse_add_config("a=1,b")

    def test_add_config_bad_key(self) -> None:
        """A key with a character Kafka does not allow is refused."""
        with self.assertRaisesRegex(
            ToolError, "Invalid character found for config key"
        ):
            fmt.parse_add_config("a b=1")

    def test_delete_config(self) -> None:
        """--delete-config keys split on commas, each kept once."""
        self.assertEqual(fmt.parse_delete_config(["a, b", "a,c"]), ["a", "b", "c"])

    def test_alter_ops(self) -> None:
        """Sets come first, then deletes."""
        self.assertEqual(
            fmt.alter_ops({"a": "1"}, ["b"]),
            [
                AlterConfigOp("a", "1"),
                AlterConfigOp("b", None, AlterConfigOpType.DELETE),
            ],
        )

    def test_describe_line(self) -> None:
        """An entry's line tells value, sensitivity and synonyms as Kafka does."""
        self.assertEqual(
            fmt.describe_line(RETENTION),
            "  retention.ms=1000 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:"
            "retention.ms=1000, DEFAULT_CONFIG:log.retention.hours=168}",
        )

    def test_describe_line_sensitive(self) -> None:
        """A sensitive value shows as null."""
        self.assertEqual(
            fmt.describe_line(PASSWORD),
            "  ssl.key.password=null sensitive=true synonyms={}",
        )

    def test_headers(self) -> None:
        """The headers name the entity, or the brokers' default."""
        topic = fmt.Entity("topics", "a")
        brokers = fmt.Entity("brokers", None)
        self.assertEqual(
            fmt.describe_header(topic, "a", False), "Dynamic configs for topic a are:"
        )
        self.assertEqual(
            fmt.describe_header(brokers, "1", True), "All configs for broker 1 are:"
        )
        self.assertEqual(
            fmt.describe_header(brokers, "", False),
            "Default configs for brokers in the cluster are:",
        )

    def test_shown_entries(self) -> None:
        """Without --all only the entity's own source shows, sorted by key."""
        entries = [RETENTION, CLEANUP]
        self.assertEqual(
            fmt.shown_entries(entries, ConfigSource.DYNAMIC_TOPIC_CONFIG), [RETENTION]
        )
        self.assertEqual(fmt.shown_entries(entries, None), [CLEANUP, RETENTION])


class ActionsTests(ToolTestCase):
    """The actions of odradek-configs against a fake admin client."""

    topic = ConfigResource(ConfigResourceType.TOPIC, "a")

    def test_describe_topic(self) -> None:
        """--describe prints the header and the topic's own values."""
        self.admin.configs[self.topic] = Config(
            {"retention.ms": RETENTION, "cleanup.policy": CLEANUP}
        )
        self.assertEqual(self.run_configs("--describe", "--topic", "a"), 0)
        self.assertEqual(
            self.out.getvalue().splitlines(),
            ["Dynamic configs for topic a are:", fmt.describe_line(RETENTION)],
        )

    def test_describe_all_brokers(self) -> None:
        """--entity-type brokers describes each broker, then the default."""
        self.run_configs("--describe", "--entity-type", "brokers")
        self.assertEqual(
            self.out.getvalue().splitlines(),
            [
                "Dynamic configs for broker 1 are:",
                "Dynamic configs for broker 2 are:",
                "Default configs for brokers in the cluster are:",
            ],
        )

    def test_alter(self) -> None:
        """--alter sends incremental changes and prints Kafka's line."""
        self.admin.configs[self.topic] = Config({"retention.ms": RETENTION})
        status = self.run_configs(
            "--alter",
            "--topic",
            "a",
            "--add-config",
            "x=[1,2]",
            "--delete-config",
            "retention.ms",
        )
        self.assertEqual(status, 0)
        self.assertEqual(
            self.admin.altered,
            [
                {
                    self.topic: [
                        AlterConfigOp("x", "1,2"),
                        AlterConfigOp("retention.ms", None, AlterConfigOpType.DELETE),
                    ]
                }
            ],
        )
        self.assertEqual(
            self.out.getvalue(), "Completed updating config for topic a.\n"
        )

    def test_alter_default(self) -> None:
        """Altering the brokers' default says so."""
        self.run_configs("--alter", "--broker-defaults", "--add-config", "a=1")
        self.assertEqual(
            self.out.getvalue(),
            "Completed updating default config for brokers in the cluster.\n",
        )

    def test_delete_unset(self) -> None:
        """Deleting a key not set on the entity is refused before any change."""
        self.admin.configs[self.topic] = Config({"cleanup.policy": CLEANUP})
        status = self.run_configs(
            "--alter", "--topic", "a", "--delete-config", "cleanup.policy"
        )
        self.assertEqual(status, 1)
        self.assertEqual(
            self.err.getvalue(), "Error: Invalid config(s): cleanup.policy\n"
        )
        self.assertEqual(self.admin.altered, [])

    def test_alter_unsupported(self) -> None:
        """A broker without IncrementalAlterConfigs is named in one line."""
        self.admin.error = UnsupportedVersionError("no")
        self.assertEqual(
            self.run_configs("--alter", "--topic", "a", "--add-config", "a=1"), 1
        )
        self.assertIn("does not support IncrementalAlterConfigs", self.err.getvalue())

    def test_add_config_file(self) -> None:
        """--add-config-file reads a properties file."""
        path = self.mktemp()
        with open(path, "w", encoding="utf-8") as f:
            f.write("# settings\nretention.ms=5\n")
        self.run_configs("--alter", "--topic", "a", "--add-config-file", path)
        self.assertEqual(
            self.admin.altered, [{self.topic: [AlterConfigOp("retention.ms", "5")]}]
        )
