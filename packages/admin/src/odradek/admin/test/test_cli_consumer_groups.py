"""
Tests for C{odradek-consumer-groups} (L{odradek.admin.cli.consumer_groups}): its
command line and its tables, built from hand-made value objects.
"""

from __future__ import annotations

import io
import sys

from twisted.trial.unittest import SynchronousTestCase

from odradek.admin.cli import consumer_groups
from odradek.admin.cli._common import ToolError
from odradek.admin.cli._groupsfmt import (
    PartitionRow,
    format_delete_offsets,
    format_listings,
    format_members,
    format_offsets,
    format_reset_plan,
    format_state,
    offset_rows,
)
from odradek.admin.cli._groupsopts import make_parser, parse_states, reset_spec
from odradek.admin.cli._offsetreset import ResetKind
from odradek.client import OffsetAndMetadata, TopicPartition
from odradek.client.admin.groups import (
    ConsumerGroupDescription,
    ConsumerGroupListing,
    ConsumerGroupState,
    MemberDescription,
)
from odradek.client.errors import GroupSubscribedToTopicError
from odradek.client.network.cluster import Node

T0 = TopicPartition("t", 0)
T1 = TopicPartition("t", 1)
T2 = TopicPartition("t", 2)
ALPHA = MemberDescription("alpha-1", None, "alpha", "/10.0.0.1", (T1, T0))
BETA = MemberDescription("beta-1", None, "beta", "/10.0.0.2", ())
GROUP = ConsumerGroupDescription(
    "g",
    False,
    (BETA, ALPHA),
    "range",
    ConsumerGroupState.STABLE,
    Node(1, "localhost", 9092),
)


class MainTests(SynchronousTestCase):
    """Command lines the tool refuses before connecting."""

    def run_main(self, *argv: str) -> tuple[int, str]:
        """Run the tool's main, as its console script does, with stderr captured."""
        err = io.StringIO()
        self.patch(sys, "stderr", err)
        try:
            status = consumer_groups.main(["--bootstrap-server", "h:1", *argv])
        except SystemExit as e:
            status = int(e.code or 0)
        except ToolError as e:
            return 1, f"Error: {e}\n"
        return status, err.getvalue()

    def assertRefused(self, *argv: str, says: str) -> None:
        """Assert that the tool refuses C{argv} in one line mentioning C{says}."""
        status, text = self.run_main(*argv)
        self.assertEqual(status, 1)
        self.assertEqual(len(text.strip().splitlines()), 1, text)
        self.assertIn(says, text)

    def test_no_action(self) -> None:
        """A command line with no action, or two, is one line and status 1."""
        self.assertRefused("--group", "g", says="exactly one action")
        self.assertRefused("--list", "--describe", says="exactly one action")

    def test_describe_needs_groups(self) -> None:
        """--describe needs --group or --all-groups."""
        self.assertRefused("--describe", says="--group, --all-groups")

    def test_describe_views_exclusive(self) -> None:
        """--describe takes at most one of --members, --offsets and --state."""
        self.assertRefused(
            "--describe", "--group", "g", "--members", "--state", says="at most one"
        )

    def test_describe_state_value(self) -> None:
        """--describe --state takes no value."""
        self.assertRefused(
            "--describe", "--group", "g", "--state", "stable", says="does not take"
        )

    def test_reset_needs_one_scenario(self) -> None:
        """--reset-offsets takes exactly one --to-... flag."""
        base = ("--reset-offsets", "--group", "g", "--all-topics")
        self.assertRefused(*base, says="requires exactly one of")
        self.assertRefused(*base, "--to-earliest", "--to-latest", says="exactly one")

    def test_reset_needs_scope(self) -> None:
        """--reset-offsets needs --topic or --all-topics (but for --from-file)."""
        self.assertRefused(
            "--reset-offsets", "--group", "g", "--to-latest", says="reset scopes"
        )

    def test_dry_run_and_execute(self) -> None:
        """--dry-run and --execute cannot be given together."""
        self.assertRefused(
            "--reset-offsets", "--group", "g", "--all-topics", "--to-latest",
            "--dry-run", "--execute", says="only accepts one of",
        )  # fmt: skip

    def test_bad_offset(self) -> None:
        """A --to-offset that is not a number names the value."""
        self.assertRefused(
            "--reset-offsets", "--group", "g", "--all-topics", "--to-offset", "ten",
            says="'ten'",
        )  # fmt: skip

    def test_bad_datetime(self) -> None:
        """A bad --to-datetime is reported before connecting, naming the value."""
        self.assertRefused(
            "--reset-offsets", "--group", "g", "--all-topics", "--to-datetime",
            "noon", says="invalid --to-datetime 'noon'",
        )  # fmt: skip

    def test_bad_topic(self) -> None:
        """A --topic with a bad partition is reported, naming it."""
        self.assertRefused(
            "--delete-offsets", "--group", "g", "--topic", "t:a", says="'a'"
        )

    def test_bad_state(self) -> None:
        """--list --state with an unknown state lists the valid ones."""
        self.assertRefused("--list", "--state", "sleepy", says="Valid states are:")

    def test_delete_with_topic(self) -> None:
        """--delete takes no --topic."""
        self.assertRefused("--delete", "--group", "g", "--topic", "t", says="--topic")

    def test_group_and_all_groups(self) -> None:
        """--group and --all-groups exclude each other."""
        self.assertRefused(
            "--describe", "--group", "g", "--all-groups", says="cannot be used together"
        )


class OptionValueTests(SynchronousTestCase):
    """The values flags carry."""

    def test_states(self) -> None:
        """State names are read in any case, separated by commas."""
        self.assertEqual(
            parse_states("stable, EMPTY"),
            [ConsumerGroupState.STABLE, ConsumerGroupState.EMPTY],
        )

    def test_duration_from_now(self) -> None:
        """--by-duration looks up the time that long before now."""
        options = make_parser().parse_args(
            ["--bootstrap-server", "h:1", "--reset-offsets", "--by-duration", "PT1S"]
        )
        spec = reset_spec(options, 5000)
        self.assertEqual((spec.kind, spec.value), (ResetKind.BY_DURATION, 4000))

    def test_missing_file(self) -> None:
        """A --from-file that cannot be read is an error naming it."""
        options = make_parser().parse_args(
            ["--bootstrap-server", "h:1", "--reset-offsets", "--from-file", "/nope.csv"]
        )
        with self.assertRaises(ToolError) as caught:
            reset_spec(options, 0)
        self.assertIn("/nope.csv", str(caught.exception))


class OffsetRowsTests(SynchronousTestCase):
    """The rows of --describe --offsets."""

    def test_rows(self) -> None:
        """
        Assigned partitions come first, by index, with their member; committed
        partitions no member holds follow with no member; lag is the end offset
        less the committed one, unknown without either.
        """
        committed = {T0: OffsetAndMetadata(4), T1: None, T2: OffsetAndMetadata(1)}
        rows = offset_rows(GROUP, committed, {T0: 10, T1: 6})
        self.assertEqual(
            [row.cells() for row in rows],
            [
                ("g", "t", 0, 4, 10, 6, "alpha-1", "/10.0.0.1", "alpha"),
                ("g", "t", 1, None, 6, None, "alpha-1", "/10.0.0.1", "alpha"),
                ("g", "t", 2, 1, None, None, None, None, None),
            ],
        )

    def test_table(self) -> None:
        """The offsets table has Kafka's columns, aligned, with - for unknowns."""
        text = format_offsets([PartitionRow("g", "t", 0, 4, 10, "c", "h", "id")])
        self.assertEqual(
            text.splitlines(),
            [
                "GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG CONSUMER-ID "
                "HOST CLIENT-ID",
                "g     t     0         4              10             6   c           "
                "h    id",
            ],
        )
        self.assertIn(" -", format_offsets([PartitionRow("g", "t", 0, None, 3)]))


class TablesTests(SynchronousTestCase):
    """The other tables."""

    def test_members(self) -> None:
        """--members lists each member and how many partitions it has."""
        lines = format_members(GROUP, verbose=False).splitlines()
        self.assertEqual(
            [line.split() for line in lines],
            [
                ["GROUP", "CONSUMER-ID", "HOST", "CLIENT-ID", "#PARTITIONS"],
                ["g", "beta-1", "/10.0.0.2", "beta", "0"],
                ["g", "alpha-1", "/10.0.0.1", "alpha", "2"],
            ],
        )

    def test_members_verbose(self) -> None:
        """--verbose adds each member's assignment, by topic."""
        lines = format_members(GROUP, verbose=True).splitlines()
        self.assertTrue(lines[0].endswith("#PARTITIONS ASSIGNMENT"))
        self.assertTrue(lines[1].endswith(" -"))
        self.assertTrue(lines[2].endswith(" t(0,1)"))

    def test_members_static(self) -> None:
        """A member with a group.instance.id adds Kafka's GROUP-INSTANCE-ID column."""
        member = MemberDescription("m", "static-1", "c", "h", ())
        group = ConsumerGroupDescription(
            "g", False, (member,), "", ConsumerGroupState.STABLE
        )
        header, row = format_members(group, verbose=False).splitlines()
        self.assertIn("GROUP-INSTANCE-ID", header)
        self.assertIn("static-1", row)

    def test_state(self) -> None:
        """--state shows the coordinator, strategy, state and member count."""
        header, row = format_state(GROUP).splitlines()
        self.assertEqual(
            header.split(),
            [
                "GROUP",
                "COORDINATOR",
                "(ID)",
                "ASSIGNMENT-STRATEGY",
                "STATE",
                "#MEMBERS",
            ],
        )
        self.assertEqual(
            row.split(), ["g", "localhost:9092", "(1)", "range", "Stable", "2"]
        )

    def test_list(self) -> None:
        """--list prints ids one a line, sorted; with --state, a STATE column."""
        listings = [
            ConsumerGroupListing("b", False, ConsumerGroupState.EMPTY),
            ConsumerGroupListing("a", False, None),
        ]
        self.assertEqual(format_listings(listings, with_state=False), "a\nb")
        self.assertEqual(
            format_listings(listings, with_state=True).splitlines(),
            ["GROUP STATE", "a     Unknown", "b     Empty"],
        )

    def test_reset_plan(self) -> None:
        """The reset plan lists each group's new offsets."""
        self.assertEqual(
            format_reset_plan({"g": {T0: 3}, "h": {T1: 12}}).splitlines(),
            [
                "GROUP TOPIC PARTITION NEW-OFFSET",
                "g     t     0         3",
                "h     t     1         12",
            ],
        )

    def test_delete_offsets(self) -> None:
        """--delete-offsets shows each partition's outcome."""
        error = GroupSubscribedToTopicError("still consumed")
        text = format_delete_offsets(
            {T1: error, T0: None, TopicPartition("u", -1): ValueError("no such topic")}
        )
        self.assertEqual(
            [line.rstrip() for line in text.splitlines()],
            [
                "TOPIC PARTITION    STATUS",
                "t     0            Successful",
                "t     1            Error: GROUP_SUBSCRIBED_TO_TOPIC: still consumed",
                "u     Not Provided Error: no such topic",
            ],
        )
