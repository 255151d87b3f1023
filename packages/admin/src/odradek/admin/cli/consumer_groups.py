"""
C{odradek-consumer-groups}: list, describe, delete and reset the offsets of
consumer groups, with the flags and tables of Kafka's C{kafka-consumer-groups.sh}.

Example::

    odradek-consumer-groups --bootstrap-server localhost:9092 --describe --group g
    odradek-consumer-groups --bootstrap-server localhost:9092 --reset-offsets \\
        --group g --topic orders --to-earliest --execute
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterable, Sequence

from odradek.admin.cli._common import EXIT_ERROR, run_tool, with_admin
from odradek.admin.cli._groupsfmt import (
    format_delete_offsets,
    format_listings,
    format_members,
    format_offsets,
    format_reset_plan,
    format_state,
    offset_rows,
)
from odradek.admin.cli._groupsopts import (
    check_options,
    make_parser,
    parse_states,
    reset_spec,
)
from odradek.admin.cli._offsetreset import (
    PartitionOffsets,
    ResetKind,
    ResetSpec,
    export_csv,
    parse_topic_argument,
    plan_reset,
    split_topic_arguments,
)
from odradek.client import AdminClient, OffsetAndMetadata, OffsetSpec, TopicPartition
from odradek.client.admin.groups import ConsumerGroupDescription, ConsumerGroupState
from odradek.client.errors import GroupIdNotFoundError

__all__ = ["main", "run"]

_REBALANCING = (
    ConsumerGroupState.PREPARING_REBALANCE,
    ConsumerGroupState.COMPLETING_REBALANCE,
    ConsumerGroupState.ASSIGNING,
    ConsumerGroupState.RECONCILING,
)


class _Tool:
    """One run of the tool: the options, the admin client and the outputs."""

    def __init__(self, options: argparse.Namespace, admin: AdminClient) -> None:
        self.options = options
        self.admin = admin
        self.timeout = options.timeout
        self.out = sys.stdout
        self.err = sys.stderr

    def say(self, text: str = "") -> None:
        print(text, file=self.out)

    def warn(self, text: str) -> None:
        print(text, file=self.err)

    def group_ids(self) -> list[str]:
        if self.options.group:
            return list(dict.fromkeys(self.options.group))
        listed = self.admin.list_consumer_groups(timeout=self.timeout).all()
        return sorted(listing.group_id for listing in listed)

    def offsets(
        self, partitions: Iterable[TopicPartition], spec: OffsetSpec
    ) -> dict[TopicPartition, int]:
        """@return: each partition's offset by C{spec}, where the cluster told it."""
        asked = dict.fromkeys(partitions, spec)
        if not asked:
            return {}
        found = self.admin.list_offsets(asked, timeout=self.timeout).values_ok()
        return {tp: info.offset for tp, info in found.items()}

    def committed(self, group: str) -> dict[TopicPartition, OffsetAndMetadata | None]:
        try:
            return self.admin.list_consumer_group_offsets(group, timeout=self.timeout)
        except GroupIdNotFoundError:
            return {}

    def partitions_of(self, topics: Sequence[str]) -> list[TopicPartition]:
        """@return: the partitions the C{--topic} values name, describing topics."""
        partitions, whole = split_topic_arguments(topics)
        if whole:
            described = self.admin.describe_topics(whole, timeout=self.timeout).all()
            for name, description in described.items():
                partitions += [
                    TopicPartition(name, p.partition) for p in description.partitions
                ]
        return list(dict.fromkeys(partitions))

    def list_groups(self, states: Sequence[ConsumerGroupState]) -> int:
        result = self.admin.list_consumer_groups(states, timeout=self.timeout)
        listings = result.all()
        text = format_listings(listings, self.options.state is not None)
        if text:
            self.say(text)
        return 0

    def describe(self) -> int:
        group_ids = self.group_ids()
        described = self.admin.describe_consumer_groups(group_ids, timeout=self.timeout)
        status = 0
        for group in group_ids:
            error = described.error(group)
            if isinstance(error, GroupIdNotFoundError) or (
                error is None and described[group].state is ConsumerGroupState.DEAD
            ):
                self.warn(f"Error: Consumer group '{group}' does not exist.")
                status = EXIT_ERROR
            elif error is not None:
                self.warn(f"Error: Consumer group '{group}': {error}")
                status = EXIT_ERROR
            else:
                self.describe_one(described[group])
        return status

    def describe_one(self, description: ConsumerGroupDescription) -> None:
        group = description.group_id
        options = self.options
        if description.state is ConsumerGroupState.EMPTY:
            self.warn(f"Consumer group '{group}' has no active members.")
        elif description.state in _REBALANCING:
            self.warn(f"Warning: Consumer group '{group}' is rebalancing.")
        if options.state is not None:
            self.say()
            self.say(format_state(description))
        elif options.members:
            if description.members:
                self.say()
                self.say(format_members(description, options.verbose))
        else:
            committed = self.committed(group)
            wanted = set(committed)
            for member in description.members:
                wanted.update(member.assignment)
            log_end = self.offsets(sorted(wanted), OffsetSpec.latest())
            rows = offset_rows(description, committed, log_end)
            if rows:
                self.say()
                self.say(format_offsets(rows))

    def delete(self) -> int:
        group_ids = self.group_ids()
        if not group_ids:
            self.warn("Error: there are no consumer groups to delete.")
            return EXIT_ERROR
        results = self.admin.delete_consumer_groups(group_ids, timeout=self.timeout)
        failed = results.errors
        deleted = [group for group in results if group not in failed]
        if not failed:
            names = ", ".join(f"'{group}'" for group in deleted)
            self.say(f"Deletion of requested consumer groups ({names}) was successful.")
            return 0
        self.warn("Error: Deletion of some consumer groups failed:")
        for group, error in failed.items():
            self.warn(f"* Group '{group}' could not be deleted due to: {error}")
        if deleted:
            names = ", ".join(f"'{group}'" for group in deleted)
            self.say(f"These consumer groups were deleted successfully: {names}")
        return EXIT_ERROR

    def reset_offsets(self, spec: ResetSpec) -> int:
        options = self.options
        if not options.dry_run and not options.execute:
            self.warn(
                "WARN: No action will be performed as the --execute option is missing."
                " Add --dry-run to say so explicitly."
            )
        group_ids = self.group_ids()
        described = self.admin.describe_consumer_groups(group_ids, timeout=self.timeout)
        plans: dict[str, dict[TopicPartition, int]] = {}
        status = 0
        for group in group_ids:
            error = described.error(group)
            if error is not None and not isinstance(error, GroupIdNotFoundError):
                raise error
            state = ConsumerGroupState.DEAD if error else described[group].state
            if state not in (ConsumerGroupState.EMPTY, ConsumerGroupState.DEAD):
                self.warn(
                    "Error: Assignments can only be reset if the group "
                    f"'{group}' is inactive, but the current state is {state.value}."
                )
                status = EXIT_ERROR
                continue
            plans[group] = self.reset_group(group, spec)
        if options.export:
            print(
                export_csv(plans, single=len(options.group or []) == 1),
                end="",
                file=self.out,
            )
        elif any(plans.values()):
            self.say()
            self.say(format_reset_plan(plans))
        return status

    def reset_group(self, group: str, spec: ResetSpec) -> dict[TopicPartition, int]:
        """Plan one group's new offsets, and commit them with C{--execute}."""
        kind = spec.kind
        committed = {
            tp: offset.offset
            for tp, offset in self.committed(group).items()
            if offset is not None
        }
        if kind is ResetKind.FROM_FILE:
            partitions = list(spec.from_file.get(group, {}))
        elif self.options.all_topics:
            partitions = list(committed)
        else:
            partitions = self.partitions_of(self.options.topic)
        clamped = kind in (ResetKind.TO_OFFSET, ResetKind.SHIFT_BY, ResetKind.FROM_FILE)
        known = PartitionOffsets(
            earliest=(
                self.offsets(partitions, OffsetSpec.earliest())
                if clamped or kind is ResetKind.TO_EARLIEST
                else {}
            ),
            latest=(
                self.offsets(partitions, OffsetSpec.latest())
                if kind is not ResetKind.TO_EARLIEST
                else {}
            ),
            by_time=(
                self.offsets(partitions, OffsetSpec.for_timestamp(spec.value))
                if kind.by_time
                else {}
            ),
            committed=committed,
        )
        plan = plan_reset(group, spec, partitions, known)
        for warning in plan.warnings:
            self.warn(warning)
        if self.options.execute and plan.offsets:
            self.admin.alter_consumer_group_offsets(
                group,
                {tp: OffsetAndMetadata(offset) for tp, offset in plan.offsets.items()},
                timeout=self.timeout,
            ).all()
        return dict(plan.offsets)

    def delete_offsets(self) -> int:
        group = self.options.group[0]
        outcomes: dict[TopicPartition, BaseException | None] = {}
        partitions, whole = split_topic_arguments(self.options.topic)
        if whole:
            described = self.admin.describe_topics(whole, timeout=self.timeout)
            for name in whole:
                failure = described.error(name)
                if failure is not None:
                    outcomes[TopicPartition(name, -1)] = failure
                    continue
                partitions += [
                    TopicPartition(name, p.partition)
                    for p in described[name].partitions
                ]
        if partitions:
            results = self.admin.delete_consumer_group_offsets(
                group, partitions, timeout=self.timeout
            )
            outcomes.update({tp: results.error(tp) for tp in results})
        first = next((e for e in outcomes.values() if e is not None), None)
        if first is None:
            topics = ", ".join(self.options.topic)
            self.say(
                "Request succeed for deleting offsets with topic "
                f"{topics} group {group}"
            )
        else:
            self.warn(f"Error: {_delete_offsets_error(group, first)}")
        self.say()
        self.say(format_delete_offsets(outcomes))
        return 0 if first is None else EXIT_ERROR


def _delete_offsets_error(group: str, error: BaseException) -> str:
    """@return: what Kafka's tool says of C{--delete-offsets}' first error."""
    name = getattr(error, "name", "")
    if name == "INVALID_GROUP_ID":
        return f"'{group}' is not valid."
    if name == "GROUP_ID_NOT_FOUND":
        return f"'{group}' does not exist."
    if name == "GROUP_AUTHORIZATION_FAILED":
        return f"Access to '{group}' is not authorized."
    if name == "NON_EMPTY_GROUP":
        return (
            f"Deleting offsets of a consumer group '{group}' is forbidden if the group "
            "is not empty."
        )
    if name in (
        "GROUP_SUBSCRIBED_TO_TOPIC",
        "TOPIC_AUTHORIZATION_FAILED",
        "UNKNOWN_TOPIC_OR_PARTITION",
    ):
        return "Encounter some partition level error, see the follow-up details:"
    return f"Encounter some unknown error: {error}"


def main(argv: list[str]) -> int:
    """
    Run C{odradek-consumer-groups}.

    @param argv: the arguments, without the program's name.
    @return: the exit status.
    @raise odradek.admin.cli._common.ToolError: for a bad value.
    """
    parser = make_parser()
    options = parser.parse_args(argv)
    check_options(parser, options)
    # Bad values are reported before connecting.
    states = parse_states(options.state) if options.list and options.state else []
    spec = (
        reset_spec(options, int(time.time() * 1000)) if options.reset_offsets else None
    )
    for argument in options.topic or ():
        parse_topic_argument(argument)

    def work(admin: AdminClient) -> int:
        tool = _Tool(options, admin)
        if options.list:
            return tool.list_groups(states)
        if options.describe:
            return tool.describe()
        if options.delete:
            return tool.delete()
        if spec is not None:
            return tool.reset_offsets(spec)
        return tool.delete_offsets()

    return with_admin(options, work)


def run() -> None:
    """The console script's entry point."""
    raise SystemExit(run_tool(main))
