"""
The tables of C{odradek-consumer-groups}, built from the admin client's value
objects with no I/O: a group's offsets and lag (L{offset_rows},
L{format_offsets}), its members (L{format_members}), its state
(L{format_state}), the group list (L{format_listings}), a reset plan
(L{format_reset_plan}) and the outcome of C{--delete-offsets}
(L{format_delete_offsets}). Columns and headings are Kafka's
C{kafka-consumer-groups.sh}'s; C{-} stands for a value that is not known.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import attrs

from odradek.admin.cli._common import format_table
from odradek.client import OffsetAndMetadata, TopicPartition
from odradek.client.admin.groups import (
    ConsumerGroupDescription,
    ConsumerGroupListing,
    ConsumerGroupState,
)

__all__ = [
    "OFFSET_HEADERS",
    "PartitionRow",
    "format_delete_offsets",
    "format_listings",
    "format_members",
    "format_offsets",
    "format_reset_plan",
    "format_state",
    "offset_rows",
]

OFFSET_HEADERS = (
    "GROUP",
    "TOPIC",
    "PARTITION",
    "CURRENT-OFFSET",
    "LOG-END-OFFSET",
    "LAG",
    "CONSUMER-ID",
    "HOST",
    "CLIENT-ID",
)
"""The columns of C{--describe --offsets}."""


@attrs.frozen
class PartitionRow:
    """
    One row of C{--describe --offsets}: a partition of a group, whoever consumes
    it.

    @ivar group: the group.
    @ivar topic: the partition's topic.
    @ivar partition: its index.
    @ivar current_offset: the group's committed offset, or C{None}.
    @ivar log_end_offset: the partition's end offset, or C{None} if unknown.
    @ivar consumer_id: the member it is assigned to, or C{None}.
    @ivar host: that member's host, or C{None}.
    @ivar client_id: that member's client id, or C{None}.
    """

    group: str
    topic: str
    partition: int
    current_offset: int | None
    log_end_offset: int | None
    consumer_id: str | None = None
    host: str | None = None
    client_id: str | None = None

    @property
    def lag(self) -> int | None:
        """The end offset less the committed offset, or C{None} if either is unknown."""
        if self.current_offset is None or self.log_end_offset is None:
            return None
        return self.log_end_offset - self.current_offset

    def cells(self) -> tuple[object, ...]:
        """@return: the row's cells, in L{OFFSET_HEADERS} order."""
        return (
            self.group,
            self.topic,
            self.partition,
            self.current_offset,
            self.log_end_offset,
            self.lag,
            self.consumer_id,
            self.host,
            self.client_id,
        )


def offset_rows(
    description: ConsumerGroupDescription,
    committed: Mapping[TopicPartition, OffsetAndMetadata | None],
    log_end: Mapping[TopicPartition, int],
) -> list[PartitionRow]:
    """
    The rows of a group's offsets, ordered as Kafka orders them: the members
    with the most partitions first, each member's partitions by index, then the
    partitions with a committed offset that no member is assigned.

    @param description: the group.
    @param committed: its committed offsets (C{None} for none).
    @param log_end: the end offset of each partition, where known.
    @return: the rows.
    """
    group = description.group_id

    def row(tp: TopicPartition, member: object = None) -> PartitionRow:
        offset = committed.get(tp)
        return PartitionRow(
            group,
            tp.topic,
            tp.partition,
            None if offset is None else offset.offset,
            log_end.get(tp),
            getattr(member, "member_id", None),
            getattr(member, "host", None),
            getattr(member, "client_id", None),
        )

    rows = []
    assigned: set[TopicPartition] = set()
    members = sorted(
        (m for m in description.members if m.assignment),
        key=lambda m: -len(m.assignment),
    )
    for member in members:
        for tp in sorted(member.assignment, key=lambda tp: tp.partition):
            assigned.add(tp)
            rows.append(row(tp, member))
    unassigned = [tp for tp in committed if tp not in assigned]
    rows.extend(
        row(tp) for tp in sorted(unassigned, key=lambda tp: (tp.topic, tp.partition))
    )
    return rows


def format_offsets(rows: Iterable[PartitionRow]) -> str:
    """
    @param rows: a group's rows, from L{offset_rows}.
    @return: the C{--describe --offsets} table.
    """
    return format_table(OFFSET_HEADERS, (row.cells() for row in rows))


def _assignment(partitions: Iterable[TopicPartition]) -> str:
    """A member's assignment as Kafka's C{--verbose} shows it: C{t(0,1), u(2)}."""
    by_topic: dict[str, list[int]] = {}
    for tp in partitions:
        by_topic.setdefault(tp.topic, []).append(tp.partition)
    if not by_topic:
        return "-"
    return ", ".join(
        f"{topic}({','.join(str(p) for p in sorted(indexes))})"
        for topic, indexes in sorted(by_topic.items())
    )


def format_members(description: ConsumerGroupDescription, verbose: bool) -> str:
    """
    @param description: the group.
    @param verbose: whether to add each member's assignment.
    @return: the C{--describe --members} table; with a C{GROUP-INSTANCE-ID}
        column when a member has one, as Kafka adds it.
    """
    static = any(m.group_instance_id for m in description.members)
    headers = ["GROUP", "CONSUMER-ID"]
    headers += ["GROUP-INSTANCE-ID"] if static else []
    headers += ["HOST", "CLIENT-ID", "#PARTITIONS"]
    headers += ["ASSIGNMENT"] if verbose else []
    rows = []
    for member in description.members:
        cells: list[object] = [description.group_id, member.member_id]
        cells += [member.group_instance_id or "-"] if static else []
        cells += [member.host, member.client_id, len(member.assignment)]
        cells += [_assignment(member.assignment)] if verbose else []
        rows.append(cells)
    return format_table(headers, rows)


def format_state(description: ConsumerGroupDescription) -> str:
    """
    @param description: the group.
    @return: the C{--describe --state} table.
    """
    node = description.coordinator
    coordinator = "-" if node is None else f"{node.host}:{node.port}  ({node.node_id})"
    return format_table(
        ("GROUP", "COORDINATOR (ID)", "ASSIGNMENT-STRATEGY", "STATE", "#MEMBERS"),
        [
            (
                description.group_id,
                coordinator,
                description.partition_assignor,
                description.state.value,
                len(description.members),
            )
        ],
    )


def format_listings(listings: Iterable[ConsumerGroupListing], with_state: bool) -> str:
    """
    @param listings: the groups.
    @param with_state: whether to add a C{STATE} column (C{--list --state}).
    @return: the groups' ids one a line, or a C{GROUP STATE} table.
    """
    ordered = sorted(listings, key=lambda listing: listing.group_id)
    if not with_state:
        return "\n".join(listing.group_id for listing in ordered)
    return format_table(
        ("GROUP", "STATE"),
        [
            (
                listing.group_id,
                (listing.state or ConsumerGroupState.UNKNOWN).value,
            )
            for listing in ordered
        ],
    )


def format_reset_plan(plans: Mapping[str, Mapping[TopicPartition, int]]) -> str:
    """
    @param plans: each group's new offsets.
    @return: the C{GROUP TOPIC PARTITION NEW-OFFSET} table of C{--reset-offsets}.
    """
    return format_table(
        ("GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"),
        [
            (group, tp.topic, tp.partition, offset)
            for group, offsets in plans.items()
            for tp, offset in offsets.items()
        ],
    )


def format_delete_offsets(
    outcomes: Mapping[TopicPartition, BaseException | None],
) -> str:
    """
    @param outcomes: each partition's error, or C{None} where its offset was
        deleted; a partition of index -1 stands for a topic that could not be
        described.
    @return: the C{TOPIC PARTITION STATUS} table of C{--delete-offsets}.
    """
    rows = []
    for tp in sorted(outcomes, key=lambda tp: (tp.topic, tp.partition)):
        error = outcomes[tp]
        rows.append(
            (
                tp.topic,
                tp.partition if tp.partition >= 0 else "Not Provided",
                "Successful" if error is None else f"Error: {error}",
            )
        )
    return format_table(("TOPIC", "PARTITION", "STATUS"), rows)
