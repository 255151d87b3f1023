"""
The command line of C{odradek-consumer-groups}: its parser (Kafka's flags), the
checks of their combination, and the values they carry (L{parse_states},
L{reset_spec}), all read before the tool connects to a cluster.
"""

from __future__ import annotations

import argparse

from odradek.admin.cli._common import ToolError, ToolParser, add_connection_flags
from odradek.admin.cli._offsetreset import (
    ResetKind,
    ResetSpec,
    parse_datetime,
    parse_duration,
    parse_reset_csv,
)
from odradek.client.admin.groups import ConsumerGroupState

__all__ = ["ACTIONS", "check_options", "make_parser", "parse_states", "reset_spec"]

ACTIONS = ("list", "describe", "delete", "reset_offsets", "delete_offsets")
"""The actions, of which a command line names exactly one."""

_SCENARIOS = {
    "to_earliest": ResetKind.TO_EARLIEST,
    "to_latest": ResetKind.TO_LATEST,
    "to_current": ResetKind.TO_CURRENT,
    "to_offset": ResetKind.TO_OFFSET,
    "to_datetime": ResetKind.TO_DATETIME,
    "by_duration": ResetKind.BY_DURATION,
    "shift_by": ResetKind.SHIFT_BY,
    "from_file": ResetKind.FROM_FILE,
}


def make_parser() -> ToolParser:
    """@return: the tool's argument parser."""
    parser = ToolParser(
        prog="odradek-consumer-groups",
        description="List, describe and delete consumer groups, and reset or delete "
        "their committed offsets.",
    )
    add_connection_flags(parser)
    action = parser.add_argument_group("actions (exactly one)")
    action.add_argument("--list", action="store_true", help="list the groups")
    action.add_argument(
        "--describe",
        action="store_true",
        help="describe groups: their offsets and lag (default), members or state",
    )
    action.add_argument("--delete", action="store_true", help="delete groups")
    action.add_argument(
        "--reset-offsets", action="store_true", help="reset the offsets of groups"
    )
    action.add_argument(
        "--delete-offsets",
        action="store_true",
        help="delete a group's offsets of some topics",
    )
    scope = parser.add_argument_group("scope")
    scope.add_argument(
        "--group", action="append", metavar="GROUP", help="a group (repeatable)"
    )
    scope.add_argument("--all-groups", action="store_true", help="every group")
    scope.add_argument(
        "--topic",
        action="append",
        metavar="TOPIC[:P,P...]",
        help="a topic, or some of its partitions (repeatable)",
    )
    scope.add_argument(
        "--all-topics",
        action="store_true",
        help="every topic the group has offsets of (--reset-offsets)",
    )
    describe = parser.add_argument_group("--describe and --list")
    describe.add_argument(
        "--offsets", action="store_true", help="show offsets and lag (the default)"
    )
    describe.add_argument("--members", action="store_true", help="show the members")
    describe.add_argument(
        "--verbose", action="store_true", help="with --members: their assignments"
    )
    describe.add_argument(
        "--state",
        nargs="?",
        const="",
        metavar="STATE[,STATE...]",
        help="--describe: show the state; --list: show states, or list only the "
        "groups in these states",
    )
    reset = parser.add_argument_group("--reset-offsets (exactly one of the --to-...)")
    reset.add_argument("--to-earliest", action="store_true")
    reset.add_argument("--to-latest", action="store_true")
    reset.add_argument("--to-current", action="store_true")
    reset.add_argument("--to-offset", type=int, metavar="OFFSET")
    reset.add_argument(
        "--to-datetime",
        metavar="YYYY-MM-DDTHH:mm:SS.sss[Z|+hh:mm]",
        help="UTC if no zone",
    )
    reset.add_argument(
        "--by-duration", metavar="PnDTnHnMnS", help="this long before now"
    )
    reset.add_argument("--shift-by", type=int, metavar="N", help="may be negative")
    reset.add_argument(
        "--from-file", metavar="CSV", help="offsets as --export writes them"
    )
    reset.add_argument(
        "--dry-run", action="store_true", help="only show the new offsets (default)"
    )
    reset.add_argument("--execute", action="store_true", help="commit the new offsets")
    reset.add_argument(
        "--export", action="store_true", help="print the new offsets as CSV"
    )
    return parser


def check_options(parser: ToolParser, options: argparse.Namespace) -> None:
    """
    Check the combination of flags, as Kafka's tool does.

    @param parser: the parser, which reports a bad combination and exits.
    @param options: the parsed command line.
    """
    actions = [name for name in ACTIONS if getattr(options, name)]
    if len(actions) != 1:
        parser.error(
            "Command must include exactly one action: --list, --describe, --delete, "
            "--reset-offsets, --delete-offsets"
        )
    action = actions[0]
    groups = bool(options.group) or options.all_groups
    if options.group and options.all_groups:
        parser.error("--group and --all-groups cannot be used together")
    if options.group and action == "list":
        parser.error("--group cannot be used with --list")
    if options.topic and action not in ("reset_offsets", "delete_offsets"):
        parser.error(
            "--topic can only be used with --reset-offsets or --delete-offsets"
        )
    if action != "describe" and (options.members or options.offsets or options.verbose):
        parser.error(
            "--members, --offsets and --verbose can only be used with --describe"
        )
    if options.state is not None and action not in ("describe", "list"):
        parser.error("--state can only be used with --describe or --list")
    scenarios = [
        name for name in _SCENARIOS if getattr(options, name) not in (None, False)
    ]
    if action != "reset_offsets" and (
        scenarios or options.dry_run or options.execute or options.export
    ):
        parser.error("the reset options can only be used with --reset-offsets")
    if action in ("describe", "delete", "reset_offsets") and not groups:
        flag = "--" + action.replace("_", "-")
        parser.error(f"Option {flag} takes one of these options: --group, --all-groups")
    if action == "describe":
        chosen = [options.members, options.offsets, options.state is not None]
        if sum(chosen) > 1:
            parser.error(
                "Option --describe takes at most one of these options: --members, "
                "--offsets, --state"
            )
        if options.state:
            parser.error("Option --describe does not take a value for --state")
    if action == "delete_offsets" and (
        not options.group or not options.topic or len(options.group) > 1
    ):
        parser.error("Option --delete-offsets takes one --group and --topic")
    if action == "reset_offsets":
        if options.dry_run and options.execute:
            parser.error(
                "Option --reset-offsets only accepts one of --execute and --dry-run"
            )
        if len(scenarios) != 1:
            parser.error(
                "Option --reset-offsets requires exactly one of: "
                + ", ".join(kind.value for kind in ResetKind)
            )
        if options.from_file is None and not options.topic and not options.all_topics:
            parser.error(
                "One of the reset scopes should be defined: --all-topics, --topic."
            )
        if options.topic and options.all_topics:
            parser.error("--topic and --all-topics cannot be used together")


def parse_states(text: str) -> list[ConsumerGroupState]:
    """
    Read C{--list --state}'s value: state names separated by commas, in any case.

    @param text: the value.
    @return: the states.
    @raise ToolError: for a name that is not a state, naming the value.
    """
    states = [ConsumerGroupState.parse(name.strip()) for name in text.split(",")]
    if ConsumerGroupState.UNKNOWN in states:
        valid = ", ".join(s.value for s in ConsumerGroupState if s.value != "Unknown")
        raise ToolError(f"Invalid state list '{text}'. Valid states are: {valid}")
    return states


def reset_spec(options: argparse.Namespace, now_ms: int) -> ResetSpec:
    """
    The reset scenario the command line names.

    @param options: the parsed, checked command line.
    @param now_ms: the time now, for C{--by-duration}.
    @return: the scenario.
    @raise ToolError: for a bad value, naming it.
    """
    kind = next(
        k
        for name, k in _SCENARIOS.items()
        if getattr(options, name) not in (None, False)
    )
    if kind is ResetKind.TO_OFFSET:
        return ResetSpec(kind, options.to_offset)
    if kind is ResetKind.SHIFT_BY:
        return ResetSpec(kind, options.shift_by)
    if kind is ResetKind.TO_DATETIME:
        return ResetSpec(kind, parse_datetime(options.to_datetime))
    if kind is ResetKind.BY_DURATION:
        return ResetSpec(kind, max(0, now_ms - parse_duration(options.by_duration)))
    if kind is ResetKind.FROM_FILE:
        try:
            with open(options.from_file, encoding="utf-8") as csv:
                text = csv.read()
        except OSError as e:
            raise ToolError(f"cannot read {options.from_file}: {e.strerror}") from None
        return ResetSpec(kind, from_file=parse_reset_csv(text, options.group or []))
    return ResetSpec(kind)
