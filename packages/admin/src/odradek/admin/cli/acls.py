"""
C{odradek-acls}: add, remove and list access control lists, with the flags and
output of Kafka's C{kafka-acls.sh}.

A broker without an authorizer (Odradek's, unless one is configured) answers the
ACL APIs with C{SECURITY_DISABLED}; the tool then says so in one line and exits
with status 1.

Example::

    odradek-acls --bootstrap-server localhost:9092 --add \\
        --allow-principal User:alice --operation Read --topic orders
    odradek-acls --bootstrap-server localhost:9092 --list --topic orders
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from odradek.admin.cli import _aclsfmt as fmt
from odradek.admin.cli._common import (
    ToolError,
    ToolParser,
    add_connection_flags,
    run_tool,
    with_admin,
)
from odradek.client.admin import (
    AccessControlEntry,
    AccessControlEntryFilter,
    AclBinding,
    AclBindingFilter,
    AdminClient,
    PatternType,
    ResourcePattern,
    ResourcePatternFilter,
)
from odradek.client.errors import (
    KafkaError,
    SecurityDisabledError,
    UnsupportedVersionError,
)

__all__ = ["build_parser", "execute", "main", "parse_args", "run"]


def _pattern_type(text: str) -> PatternType:
    try:
        return fmt.parse_pattern_type(text)
    except ToolError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def build_parser() -> ToolParser:
    """@return: the parser of C{odradek-acls}' command line."""
    parser = ToolParser(prog="odradek-acls", description="Manage ACLs on a cluster.")
    add_connection_flags(parser)
    parser.add_argument("--add", action="store_true", help="add ACLs")
    parser.add_argument("--remove", action="store_true", help="remove ACLs")
    parser.add_argument("--list", action="store_true", help="list ACLs")
    many: dict[str, Any] = {"action": "append", "default": []}
    parser.add_argument("--topic", metavar="TOPIC", help="a topic ('*': all)", **many)
    parser.add_argument("--group", metavar="GROUP", help="a group ('*': all)", **many)
    parser.add_argument("--cluster", action="store_true", help="the cluster")
    parser.add_argument(
        "--transactional-id", metavar="ID", help="a transactional id", **many
    )
    parser.add_argument(
        "--delegation-token", metavar="ID", help="a delegation token", **many
    )
    parser.add_argument(
        "--user-principal", metavar="PRINCIPAL", help="a user as a resource", **many
    )
    parser.add_argument(
        "--resource-pattern-type",
        dest="pattern_type",
        type=_pattern_type,
        default=PatternType.LITERAL,
        metavar="literal|prefixed|match|any",
        help="how resource names match (default literal; match and any are for"
        " --list and --remove)",
    )
    parser.add_argument(
        "--operation",
        metavar="OPERATION",
        help="Read, Write, Create, Delete, Alter, Describe, ClusterAction,"
        " DescribeConfigs, AlterConfigs, IdempotentWrite, CreateTokens,"
        " DescribeTokens or All (the default; repeatable)",
        **many,
    )
    parser.add_argument(
        "--allow-principal", metavar="TYPE:NAME", help="a principal allowed", **many
    )
    parser.add_argument(
        "--deny-principal", metavar="TYPE:NAME", help="a principal denied", **many
    )
    parser.add_argument(
        "--allow-host", metavar="HOST", help="a host allowed (default '*')", **many
    )
    parser.add_argument(
        "--deny-host", metavar="HOST", help="a host denied (default '*')", **many
    )
    parser.add_argument(
        "--principal",
        metavar="TYPE:NAME",
        help="with --list: only this principal's ACLs",
        **many,
    )
    parser.add_argument(
        "--producer",
        action="store_true",
        help="the producer role: Write, Describe and Create on topics",
    )
    parser.add_argument(
        "--consumer",
        action="store_true",
        help="the consumer role: Read and Describe on topics, Read on groups",
    )
    parser.add_argument(
        "--idempotent",
        action="store_true",
        help="with --producer: IdempotentWrite on the cluster",
    )
    parser.add_argument(
        "--force", action="store_true", help="do not ask before removing"
    )
    return parser


def parse_args(argv: list[str]) -> argparse.Namespace:
    """
    Parse and check a command line as C{kafka-acls.sh} does.

    @param argv: the arguments.
    @return: the options.
    @raise SystemExit: with status 1 and a one-line message for a bad command
        line.
    """
    parser = build_parser()
    options = parser.parse_args(argv)
    if sum((options.add, options.remove, options.list)) != 1:
        parser.error("Command must include exactly one action: --list, --add, --remove")
    if not options.operation:
        options.operation = ["All"]
    elif options.producer or options.consumer:
        parser.error("--operation can't be used with --producer or --consumer")
    if options.list:
        for flag in (
            "producer",
            "consumer",
            "allow_host",
            "allow_principal",
            "deny_host",
            "deny_principal",
        ):
            if getattr(options, flag):
                parser.error(
                    f"option --{flag.replace('_', '-')} can't be used with --list"
                )
    if (options.producer or options.consumer) and (
        options.deny_principal or options.deny_host
    ):
        parser.error(
            "--deny-principal and --deny-host can't be used with --producer"
            " or --consumer"
        )
    if options.principal and not options.list:
        parser.error("The --principal option is only available if --list is set")
    if options.producer and not options.topic:
        parser.error("With --producer you must specify a --topic")
    if options.idempotent and not options.producer:
        parser.error("The --idempotent option is only available if --producer is set")
    if options.consumer and (
        not options.topic
        or not options.group
        or (not options.producer and (options.cluster or options.transactional_id))
    ):
        parser.error(
            "With --consumer you must specify a --topic and a --group and no"
            " --cluster or --transactional-id option should be specified."
        )
    if options.add and options.pattern_type not in (
        PatternType.LITERAL,
        PatternType.PREFIXED,
    ):
        parser.error(
            "A '--resource-pattern-type' value of"
            f" '{options.pattern_type.name}' is not valid when adding acls."
        )
    try:
        for principal in options.principal:
            fmt.parse_principal(principal)
        options.chosen = {} if options.list else fmt.filters_to_entries(options)
    except ToolError as e:
        parser.error(str(e))
    if not options.list and not options.chosen:
        parser.error(
            "You must provide at least one resource: --topic <topic> or --cluster"
            " or --group <group> or --transactional-id <id>"
        )
    if options.add and any(not entries for entries in options.chosen.values()):
        parser.error(
            "You must specify one of: --allow-principal, --deny-principal when"
            " trying to add ACLs."
        )
    return options


def main(argv: list[str]) -> int:
    """
    Run C{odradek-acls}.

    @param argv: the arguments.
    @return: the exit status.
    """
    options = parse_args(argv)
    return with_admin(options, lambda admin: execute(options, admin))


def run() -> None:
    """The console script's entry point."""
    raise SystemExit(run_tool(main))


def _explained(error: BaseException, api: str) -> BaseException:
    """
    A broker's refusal made plain: no authorizer, or no such API.

    @param error: what the call raised.
    @param api: the API's name.
    @return: a L{ToolError} for these two, else C{error}.
    """
    if isinstance(error, SecurityDisabledError):
        return ToolError(
            "the broker has no authorizer configured, so it keeps no ACLs"
            f" (SECURITY_DISABLED: {error.message or 'security is disabled'})"
        )
    if isinstance(error, UnsupportedVersionError):
        return ToolError(f"the broker does not support {api}: {error}")
    return error


def execute(
    options: argparse.Namespace, admin: AdminClient, confirm: bool | None = None
) -> int:
    """
    Add, remove or list ACLs with an admin client.

    @param options: the options of L{parse_args}.
    @param admin: the client (the tool closes it).
    @param confirm: the answer to the questions C{--remove} asks without
        C{--force}; C{None} asks on standard input.
    @return: the exit status.
    @raise ToolError: for an error the user can fix, such as a broker without
        an authorizer.
    """
    try:
        if options.add:
            _add(options, admin)
        elif options.remove:
            _remove(options, admin, confirm)
        else:
            _list(options, admin)
    except KafkaError as e:
        raise _explained(e, "this ACL API") from None
    return 0


def _add(options: argparse.Namespace, admin: AdminClient) -> None:
    chosen: dict[ResourcePatternFilter, list[AccessControlEntry]] = options.chosen
    for pattern_filter, entries in chosen.items():
        pattern = ResourcePattern(
            pattern_filter.resource_type,
            pattern_filter.name or "",
            pattern_filter.pattern_type,
        )
        print(fmt.adding_text(pattern, entries))
        bindings = [AclBinding(pattern, entry) for entry in entries]
        results = admin.create_acls(bindings, timeout=options.timeout)
        for binding in bindings:
            error = results.error(binding)
            if error is not None:
                raise _explained(error, "CreateAcls")


def _ask(question: str, options: argparse.Namespace, confirm: bool | None) -> bool:
    """Whether to go on: C{--force}, C{confirm}, or a C{y} on standard input."""
    if options.force:
        return True
    if confirm is not None:
        return confirm
    print(question)
    answer = sys.stdin.readline()
    return answer.strip().lower() == "y"


def _remove(
    options: argparse.Namespace, admin: AdminClient, confirm: bool | None
) -> None:
    chosen: dict[ResourcePatternFilter, list[AccessControlEntry]] = options.chosen
    for pattern_filter, entries in chosen.items():
        shown = fmt.filter_text(pattern_filter)
        if entries:
            listed = "\n".join("\t" + fmt.entry_text(e) for e in entries)
            question = (
                f"Are you sure you want to remove ACLs: \n {listed} \n from resource"
                f" filter `{shown}`? (y/n)"
            )
            filters = [AclBindingFilter(pattern_filter, e.to_filter()) for e in entries]
        else:
            question = (
                "Are you sure you want to delete all ACLs for resource filter"
                f" `{shown}`? (y/n)"
            )
            filters = [AclBindingFilter(pattern_filter, AccessControlEntryFilter.ANY)]
        if not _ask(question, options, confirm):
            continue
        results = admin.delete_acls(filters, timeout=options.timeout)
        for acl_filter in filters:
            error = results.error(acl_filter)
            if error is not None:
                raise _explained(error, "DeleteAcls")


def _list(options: argparse.Namespace, admin: AdminClient) -> None:
    filters = fmt.resource_filters(options)
    bindings: list[AclBinding] = []
    if not filters:
        bindings = admin.describe_acls(AclBindingFilter.ANY, timeout=options.timeout)
    for pattern_filter in filters:
        bindings += admin.describe_acls(
            AclBindingFilter(pattern_filter, AccessControlEntryFilter.ANY),
            timeout=options.timeout,
        )
    grouped = fmt.group_by_pattern(bindings)
    if not options.principal:
        for pattern, entries in grouped.items():
            print(fmt.current_text(pattern, entries))
        return
    for principal in dict.fromkeys(p.strip() for p in options.principal):
        print(f"ACLs for principal `{principal}`")
        for pattern, entries in grouped.items():
            own = [entry for entry in entries if entry.principal == principal]
            if own:
                print(fmt.current_text(pattern, own))
