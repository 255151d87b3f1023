"""
Tests for L{odradek.admin.cli._offsetreset}: the sans-IO planning of
C{odradek-consumer-groups --reset-offsets} and the values its flags take.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from odradek.admin.cli._common import ToolError
from odradek.admin.cli._offsetreset import (
    PartitionOffsets,
    ResetKind,
    ResetSpec,
    export_csv,
    parse_datetime,
    parse_duration,
    parse_reset_csv,
    parse_topic_argument,
    plan_reset,
)
from odradek.client import TopicPartition

P0 = TopicPartition("t", 0)
P1 = TopicPartition("t", 1)
KNOWN = PartitionOffsets(
    earliest={P0: 2, P1: 0},
    latest={P0: 10, P1: 6},
    by_time={P0: 4, P1: -1},
    committed={P0: 5},
)


def plan(
    kind: ResetKind, value: int = 0, known: PartitionOffsets = KNOWN
) -> dict[TopicPartition, int]:
    """@return: the new offsets of t-1 and t-0 under C{kind}."""
    return dict(plan_reset("g", ResetSpec(kind, value), [P1, P0], known).offsets)


class PlanResetTests(SynchronousTestCase):
    """Each reset scenario, as Kafka's tool plans it."""

    def test_to_earliest(self) -> None:
        """--to-earliest moves to each partition's first offset."""
        self.assertEqual(plan(ResetKind.TO_EARLIEST), {P0: 2, P1: 0})

    def test_to_latest(self) -> None:
        """--to-latest moves to each partition's end."""
        self.assertEqual(plan(ResetKind.TO_LATEST), {P0: 10, P1: 6})

    def test_to_current(self) -> None:
        """--to-current keeps committed offsets, and takes the end where none is."""
        self.assertEqual(plan(ResetKind.TO_CURRENT), {P0: 5, P1: 6})

    def test_to_offset_clamped(self) -> None:
        """--to-offset is brought within each partition's earliest and latest."""
        result = plan_reset("g", ResetSpec(ResetKind.TO_OFFSET, 8), [P0, P1], KNOWN)
        self.assertEqual(dict(result.offsets), {P0: 8, P1: 6})
        self.assertEqual(
            result.warnings,
            (
                "WARN: New offset (8) is higher than latest offset for topic "
                "partition t-1. Value will be set to 6",
            ),
        )

    def test_to_offset_below_earliest(self) -> None:
        """An offset below the first one is raised to it."""
        self.assertEqual(plan(ResetKind.TO_OFFSET, 1), {P0: 2, P1: 1})

    def test_shift_by(self) -> None:
        """--shift-by moves the committed offset, clamped."""
        only = [P0]
        forward = plan_reset("g", ResetSpec(ResetKind.SHIFT_BY, 3), only, KNOWN)
        back = plan_reset("g", ResetSpec(ResetKind.SHIFT_BY, -9), only, KNOWN)
        self.assertEqual((forward.offsets[P0], back.offsets[P0]), (8, 2))
        self.assertIn("lower than earliest offset", back.warnings[0])

    def test_shift_by_without_committed(self) -> None:
        """--shift-by of a partition with no committed offset is an error naming it."""
        with self.assertRaises(ToolError) as caught:
            plan(ResetKind.SHIFT_BY, 1)
        self.assertIn("partition t-1", str(caught.exception))

    def test_by_time_falls_back_to_latest(self) -> None:
        """By time, a partition with no record that late moves to its end."""
        result = plan_reset("g", ResetSpec(ResetKind.TO_DATETIME, 1), [P0, P1], KNOWN)
        self.assertEqual(dict(result.offsets), {P0: 4, P1: 6})
        self.assertEqual(
            result.warnings,
            (
                "Warn: Partition 1 from topic t is empty. "
                "Falling back to latest known offset.",
            ),
        )

    def test_from_file(self) -> None:
        """--from-file takes the file's offsets of the group, clamped."""
        spec = ResetSpec(
            ResetKind.FROM_FILE, from_file={"g": {P1: 99, P0: 3}, "h": {P0: 1}}
        )
        result = plan_reset("g", spec, [], KNOWN)
        self.assertEqual(list(result.offsets.items()), [(P0, 3), (P1, 6)])

    def test_from_file_without_group(self) -> None:
        """A file with nothing for the group plans nothing and says so."""
        spec = ResetSpec(ResetKind.FROM_FILE, from_file={"h": {P0: 1}})
        result = plan_reset("g", spec, [], KNOWN)
        self.assertEqual((dict(result.offsets), result.warnings),
                         ({}, ("Error: No reset plan for group g found",)))  # fmt: skip

    def test_unknown_offset(self) -> None:
        """An offset the cluster did not tell is an error naming the partition."""
        with self.assertRaises(ToolError) as caught:
            plan(ResetKind.TO_LATEST, known=PartitionOffsets(latest={P0: 1}))
        self.assertEqual(
            str(caught.exception), "Error getting ending offset of topic partition: t-1"
        )

    def test_order(self) -> None:
        """The plan is in topic and partition order, whatever order was asked."""
        self.assertEqual(list(plan(ResetKind.TO_EARLIEST)), [P0, P1])

    def test_by_time_kinds(self) -> None:
        """Only --to-datetime and --by-duration look offsets up by time."""
        self.assertEqual(
            [kind for kind in ResetKind if kind.by_time],
            [ResetKind.TO_DATETIME, ResetKind.BY_DURATION],
        )


class ParseDatetimeTests(SynchronousTestCase):
    """--to-datetime values."""

    def test_utc_by_default(self) -> None:
        """Without a zone the time is UTC."""
        self.assertEqual(parse_datetime("2023-11-14T22:13:20.000"), 1_700_000_000_000)

    def test_zones(self) -> None:
        """Z, +hh:mm, +hhmm and -hh zones are read."""
        base = 1_700_000_000_000
        self.assertEqual(parse_datetime("2023-11-14T22:13:20.250Z"), base + 250)
        self.assertEqual(parse_datetime("2023-11-15T00:13:20.000+02:00"), base)
        self.assertEqual(parse_datetime("2023-11-15T00:43:20.000+0230"), base)
        self.assertEqual(parse_datetime("2023-11-14T21:13:20.000-01"), base)

    def test_without_milliseconds(self) -> None:
        """The milliseconds may be left out."""
        self.assertEqual(parse_datetime("1970-01-01T00:00:01"), 1000)

    def test_bad(self) -> None:
        """A value that is not such a time is an error naming it."""
        for text in ("yesterday", "2023-11-14", "2023-13-01T00:00:00.000"):
            with self.assertRaises(ToolError) as caught:
                parse_datetime(text)
            self.assertIn(repr(text), str(caught.exception))


class ParseDurationTests(SynchronousTestCase):
    """--by-duration values."""

    def test_parts(self) -> None:
        """Days, hours, minutes and fractional seconds add up."""
        self.assertEqual(parse_duration("P1DT2H3M4.5S"), 93_784_500)
        self.assertEqual(parse_duration("PT30M"), 1_800_000)
        self.assertEqual(parse_duration("pt1s"), 1000)

    def test_negative(self) -> None:
        """A leading minus negates the duration."""
        self.assertEqual(parse_duration("-PT1H"), -3_600_000)

    def test_bad(self) -> None:
        """A value that is not a duration is an error naming it."""
        for text in ("1h", "P", "PT", "P1H", ""):
            with self.assertRaises(ToolError) as caught:
                parse_duration(text)
            self.assertIn(repr(text), str(caught.exception))


class ParseTopicArgumentTests(SynchronousTestCase):
    """--topic values."""

    def test_topic(self) -> None:
        """A name alone means every partition."""
        self.assertEqual(parse_topic_argument("orders"), ("orders", None))

    def test_partitions(self) -> None:
        """topic:0,2 names some partitions, each once."""
        self.assertEqual(parse_topic_argument("orders:0,2,0"), ("orders", (0, 2)))

    def test_bad_partition(self) -> None:
        """A partition that is not a number is an error naming it."""
        with self.assertRaises(ToolError) as caught:
            parse_topic_argument("orders:0,x")
        self.assertIn("'x'", str(caught.exception))

    def test_no_topic(self) -> None:
        """An empty topic name is an error."""
        self.assertRaises(ToolError, parse_topic_argument, ":1")


class CsvTests(SynchronousTestCase):
    """--export and --from-file."""

    def test_round_trip_single(self) -> None:
        """One group's plan is written without the group and read back."""
        plans = {"g": {P0: 3, P1: 4}}
        text = export_csv(plans, single=True)
        self.assertEqual(text, "t,0,3\nt,1,4\n")
        self.assertEqual(parse_reset_csv(text, ["g"]), plans)

    def test_round_trip_groups(self) -> None:
        """Several groups' plans name their groups."""
        plans = {"g": {P0: 3}, "h": {P1: 1}}
        text = export_csv(plans, single=False)
        self.assertEqual(text, "g,t,0,3\nh,t,1,1\n")
        self.assertEqual(parse_reset_csv(text, ["g", "h"]), plans)

    def test_bad_line(self) -> None:
        """A line of the wrong form is an error naming its number."""
        with self.assertRaises(ToolError) as caught:
            parse_reset_csv("t,0,3\nt,zero,3\n", ["g"])
        self.assertIn("line 2 't,zero,3'", str(caught.exception))
