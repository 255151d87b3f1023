"""
Offset-reset planning for C{odradek-consumer-groups --reset-offsets}, sans-IO: the
tool reads the group's committed offsets and the partitions' earliest, latest and
by-time offsets from the cluster, and L{plan_reset} turns them and a
L{ResetSpec} into each partition's new offset, as Kafka's
C{ConsumerGroupCommand} does (C{--to-offset}, C{--shift-by} and C{--from-file}
clamped to the partition's earliest and latest offsets).

Also here: the parsers of the values those flags take (L{parse_datetime},
L{parse_duration}, L{parse_topic_argument}, L{split_topic_arguments}) and the CSV of
C{--export} and C{--from-file} (L{export_csv}, L{parse_reset_csv}).
"""

from __future__ import annotations

import datetime
import enum
import re
from collections.abc import Iterable, Mapping, Sequence

import attrs

from odradek.admin.cli._common import ToolError
from odradek.client import TopicPartition

__all__ = [
    "PartitionOffsets",
    "ResetKind",
    "ResetPlan",
    "ResetSpec",
    "export_csv",
    "parse_datetime",
    "parse_duration",
    "parse_reset_csv",
    "parse_topic_argument",
    "plan_reset",
    "split_topic_arguments",
]


class ResetKind(enum.Enum):
    """Where C{--reset-offsets} moves a group's offsets, one per Kafka flag."""

    TO_EARLIEST = "--to-earliest"
    TO_LATEST = "--to-latest"
    TO_CURRENT = "--to-current"
    TO_OFFSET = "--to-offset"
    TO_DATETIME = "--to-datetime"
    BY_DURATION = "--by-duration"
    SHIFT_BY = "--shift-by"
    FROM_FILE = "--from-file"

    @property
    def by_time(self) -> bool:
        """Whether the new offsets are looked up by timestamp."""
        return self in (ResetKind.TO_DATETIME, ResetKind.BY_DURATION)


@attrs.frozen
class ResetSpec:
    """
    One reset scenario.

    @ivar kind: which one.
    @ivar value: the offset of C{TO_OFFSET}, the shift of C{SHIFT_BY}, the
        timestamp (milliseconds since the epoch) of C{TO_DATETIME} and
        C{BY_DURATION}; unused by the others.
    @ivar from_file: the offsets of C{FROM_FILE}, by group then partition.
    """

    kind: ResetKind
    value: int = 0
    from_file: Mapping[str, Mapping[TopicPartition, int]] = attrs.field(factory=dict)


@attrs.frozen
class PartitionOffsets:
    """
    What the cluster said of the partitions to reset.

    @ivar earliest: each partition's first offset, where known.
    @ivar latest: each partition's end offset, where known.
    @ivar by_time: each partition's first offset at or after the spec's
        timestamp, -1 where no record is that late (for C{TO_DATETIME} and
        C{BY_DURATION} only).
    @ivar committed: the group's committed offsets.
    """

    earliest: Mapping[TopicPartition, int] = attrs.field(factory=dict)
    latest: Mapping[TopicPartition, int] = attrs.field(factory=dict)
    by_time: Mapping[TopicPartition, int] = attrs.field(factory=dict)
    committed: Mapping[TopicPartition, int] = attrs.field(factory=dict)


@attrs.frozen
class ResetPlan:
    """
    The new offsets of one group.

    @ivar offsets: each partition's new offset, in partition order.
    @ivar warnings: lines for the operator (a clamped offset, an empty
        partition), in Kafka's words.
    """

    offsets: Mapping[TopicPartition, int]
    warnings: tuple[str, ...] = ()


def _known(offsets: Mapping[TopicPartition, int], tp: TopicPartition, what: str) -> int:
    """
    @return: C{offsets[tp]}.
    @raise ToolError: if the cluster did not tell it.
    """
    if tp not in offsets:
        raise ToolError(f"Error getting {what} offset of topic partition: {tp}")
    return offsets[tp]


def _clamp(
    tp: TopicPartition, offset: int, known: PartitionOffsets, warnings: list[str]
) -> int:
    """
    Bring a requested offset within the partition's earliest and latest offsets,
    saying so when it moves.
    """
    end = _known(known.latest, tp, "ending")
    if offset > end:
        warnings.append(
            f"WARN: New offset ({offset}) is higher than latest offset for topic "
            f"partition {tp}. Value will be set to {end}"
        )
        return end
    start = known.earliest.get(tp)
    if start is not None and offset < start:
        warnings.append(
            f"WARN: New offset ({offset}) is lower than earliest offset for topic "
            f"partition {tp}. Value will be set to {start}"
        )
        return start
    return offset


def plan_reset(
    group: str,
    spec: ResetSpec,
    partitions: Iterable[TopicPartition],
    known: PartitionOffsets,
) -> ResetPlan:
    """
    Work out a group's new offsets.

    @param group: the group (for C{FROM_FILE}, whose file names groups).
    @param spec: the scenario.
    @param partitions: the partitions to reset (ignored by C{FROM_FILE}, which
        resets the partitions its file names for the group).
    @param known: the offsets read from the cluster.
    @return: the plan, in topic and partition order.
    @raise ToolError: when an offset the scenario needs is unknown (no committed
        offset to shift, no end offset of a partition).
    """
    warnings: list[str] = []
    planned: dict[TopicPartition, int] = {}
    kind = spec.kind
    if kind is ResetKind.FROM_FILE:
        requested = spec.from_file.get(group)
        if requested is None:
            warnings.append(f"Error: No reset plan for group {group} found")
            requested = {}
        for tp, offset in requested.items():
            planned[tp] = _clamp(tp, offset, known, warnings)
    for tp in [] if kind is ResetKind.FROM_FILE else partitions:
        if kind is ResetKind.TO_EARLIEST:
            planned[tp] = _known(known.earliest, tp, "starting")
        elif kind is ResetKind.TO_LATEST:
            planned[tp] = _known(known.latest, tp, "ending")
        elif kind is ResetKind.TO_CURRENT:
            current = known.committed.get(tp)
            planned[tp] = (
                current if current is not None else _known(known.latest, tp, "ending")
            )
        elif kind is ResetKind.TO_OFFSET:
            planned[tp] = _clamp(tp, spec.value, known, warnings)
        elif kind is ResetKind.SHIFT_BY:
            current = known.committed.get(tp)
            if current is None:
                raise ToolError(
                    f"Cannot shift offset for partition {tp} since there is no "
                    "current committed offset"
                )
            planned[tp] = _clamp(tp, current + spec.value, known, warnings)
        else:
            found = _known(known.by_time, tp, "timestamp")
            if found < 0:
                warnings.append(
                    f"Warn: Partition {tp.partition} from topic {tp.topic} is empty. "
                    "Falling back to latest known offset."
                )
                found = _known(known.latest, tp, "ending")
            planned[tp] = found
    ordered = dict(sorted(planned.items(), key=lambda item: _order(item[0])))
    return ResetPlan(ordered, tuple(warnings))


def _order(tp: TopicPartition) -> tuple[str, int]:
    return (tp.topic, tp.partition)


_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?"
    r"(Z|[+-]\d{2}(?::?\d{2})?)?"
)


def parse_datetime(text: str) -> int:
    """
    Read a C{--to-datetime} value, as Kafka does: C{YYYY-MM-DDTHH:mm:SS.sss}
    followed by a zone (C{Z}, C{+hh}, C{+hhmm} or C{+hh:mm}); without a zone, UTC.
    The milliseconds may be left out.

    @param text: the value.
    @return: milliseconds since the epoch.
    @raise ToolError: if the value is not such a time, naming it.
    """
    match = _DATETIME.fullmatch(text.strip())
    if match is None:
        raise ToolError(
            f"invalid --to-datetime {text!r}: expected YYYY-MM-DDTHH:mm:SS.sss, "
            "optionally followed by Z or +hh:mm"
        )
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    millis = int((match.group(7) or "0").ljust(3, "0"))
    zone = match.group(8) or "Z"
    offset = datetime.timedelta(0)
    if zone != "Z":
        digits = zone[1:].replace(":", "")
        offset = datetime.timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0))
        if zone[0] == "-":
            offset = -offset
    try:
        moment = datetime.datetime(
            year,
            month,
            day,
            hour,
            minute,
            second,
            millis * 1000,
            tzinfo=datetime.timezone(offset),
        )
    except ValueError as e:
        raise ToolError(f"invalid --to-datetime {text!r}: {e}") from None
    return _millis(moment)


def _millis(moment: datetime.datetime) -> int:
    epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
    delta = moment - epoch
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


_DURATION = re.compile(
    r"([-+]?)P(?:([-+]?\d+)D)?"
    r"(?:T(?:([-+]?\d+)H)?(?:([-+]?\d+)M)?(?:([-+]?\d+)(?:[.,](\d{0,9}))?S)?)?",
    re.IGNORECASE,
)


def parse_duration(text: str) -> int:
    """
    Read a C{--by-duration} value, an ISO-8601 duration as Java's
    C{Duration.parse} reads it: C{PnDTnHnMn.nS}, such as C{PT30M} or C{P1DT2H}.

    @param text: the value.
    @return: the duration in milliseconds.
    @raise ToolError: if the value is not such a duration, naming it.
    """
    match = _DURATION.fullmatch(text.strip())
    if (
        match is None
        or not any(match.groups()[1:5])
        or text.strip().upper().endswith("T")
    ):
        raise ToolError(
            f"invalid --by-duration {text!r}: expected an ISO-8601 duration "
            "PnDTnHnMnS, such as PT30M or P1DT2H"
        )
    sign, days, hours, minutes, seconds, fraction = match.groups()
    seconds_value = int(seconds or 0)
    millis = int((fraction or "0")[:3].ljust(3, "0"))
    if seconds_value < 0 or (seconds or "").startswith("-"):
        millis = -millis
    total = (
        int(days or 0) * 86_400_000
        + int(hours or 0) * 3_600_000
        + int(minutes or 0) * 60_000
        + seconds_value * 1000
        + millis
    )
    return -total if sign == "-" else total


def parse_topic_argument(text: str) -> tuple[str, tuple[int, ...] | None]:
    """
    Read a C{--topic} value of C{--reset-offsets} or C{--delete-offsets}:
    C{topic}, or C{topic:0,1,2} for some of its partitions.

    @param text: the value.
    @return: the topic, and its partitions or C{None} for all of them.
    @raise ToolError: for an empty topic or a partition that is not a number,
        naming the value.
    """
    topic, found, partitions = text.partition(":")
    if not topic:
        raise ToolError(f"Invalid topic arg {text!r}, expected topic name")
    if not found:
        return topic, None
    numbers = []
    for item in partitions.split(","):
        if not item.strip().isdigit():
            raise ToolError(
                f"Invalid partition {item!r} specified in topic arg {text!r}"
            )
        numbers.append(int(item))
    return topic, tuple(dict.fromkeys(numbers))


def split_topic_arguments(
    arguments: Iterable[str],
) -> tuple[list[TopicPartition], list[str]]:
    """
    Read several C{--topic} values (see L{parse_topic_argument}).

    @param arguments: the values.
    @return: the partitions named one by one, and the topics named whole (whose
        partitions the tool must look up).
    @raise ToolError: for a value L{parse_topic_argument} refuses.
    """
    partitions: list[TopicPartition] = []
    whole: list[str] = []
    for argument in arguments:
        topic, indexes = parse_topic_argument(argument)
        if indexes is None:
            whole.append(topic)
        else:
            partitions += [TopicPartition(topic, p) for p in indexes]
    return partitions, whole


def parse_reset_csv(
    text: str, groups: Sequence[str]
) -> dict[str, dict[TopicPartition, int]]:
    """
    Read a C{--from-file} reset plan: C{topic,partition,offset} lines when one
    group is named, else C{group,topic,partition,offset} lines (as C{--export}
    writes them; a single group's file may also name its group).

    @param text: the file's text.
    @param groups: the groups named with C{--group}.
    @return: the offsets, by group then partition.
    @raise ToolError: for a line of neither form, naming it.
    """
    plan: dict[str, dict[TopicPartition, int]] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        fields = [field.strip() for field in line.split(",")]
        try:
            if len(fields) == 3 and len(groups) == 1:
                group, topic, partition, offset = groups[0], *fields
            elif len(fields) == 4:
                group, topic, partition, offset = fields
            else:
                raise ValueError(line)
            tp = TopicPartition(topic, int(partition))
            plan.setdefault(group, {})[tp] = int(offset)
        except ValueError:
            raise ToolError(
                f"invalid reset plan line {number} {raw!r}: expected "
                + (
                    "topic,partition,offset"
                    if len(groups) == 1
                    else "group,topic,partition,offset"
                )
            ) from None
    return plan


def export_csv(plans: Mapping[str, Mapping[TopicPartition, int]], single: bool) -> str:
    """
    Write reset plans as C{--export} does, readable by C{--from-file}.

    @param plans: the offsets, by group then partition.
    @param single: whether one group was named (lines without the group).
    @return: the CSV, one line per partition, each ending with a newline.
    """
    lines = []
    for group, offsets in plans.items():
        for tp, offset in offsets.items():
            fields = [tp.topic, str(tp.partition), str(offset)]
            lines.append(",".join(fields if single else [group, *fields]) + "\n")
    return "".join(lines)
