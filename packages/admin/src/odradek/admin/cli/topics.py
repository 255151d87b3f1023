"""
C{odradek-topics}: create, list, describe, grow and delete topics, with the
flags and output of Kafka's C{kafka-topics.sh}.

Example::

    odradek-topics --bootstrap-server localhost:9092 --create --topic orders \\
        --partitions 3 --config retention.ms=86400000
    odradek-topics --bootstrap-server localhost:9092 --describe --topic 'orders.*'
"""

from __future__ import annotations

import argparse

from odradek.admin.cli import _topicsfmt as fmt
from odradek.admin.cli._common import (
    ToolError,
    ToolParser,
    add_connection_flags,
    run_tool,
    with_admin,
)
from odradek.client.admin import (
    AdminClient,
    ConfigResource,
    ConfigResourceType,
    NewPartitions,
    NewTopic,
)
from odradek.client.errors import TopicExistsError, UnsupportedVersionError

__all__ = ["build_parser", "execute", "main", "parse_args", "run"]

_ACTIONS = ("create", "list", "describe", "alter", "delete")
_REPORTS = (
    "under_replicated_partitions",
    "unavailable_partitions",
    "under_min_isr_partitions",
    "at_min_isr_partitions",
)
_COLLISION_WARNING = (
    "WARNING: Due to limitations in metric names, topics with a period ('.') or"
    " underscore ('_') could collide. To avoid issues it is best to use either,"
    " but not both."
)


def build_parser() -> ToolParser:
    """@return: the parser of C{odradek-topics}' command line."""
    parser = ToolParser(
        prog="odradek-topics",
        description="Create, delete, describe, or change a topic.",
    )
    add_connection_flags(parser)
    actions = parser.add_argument_group("actions (exactly one)")
    actions.add_argument("--create", action="store_true", help="create a topic")
    actions.add_argument("--list", action="store_true", help="list the topics")
    actions.add_argument(
        "--describe", action="store_true", help="describe the given topics"
    )
    actions.add_argument(
        "--alter",
        action="store_true",
        help="grow a topic's partitions (topic configs: odradek-configs)",
    )
    actions.add_argument("--delete", action="store_true", help="delete topics")
    parser.add_argument(
        "--topic",
        metavar="TOPIC",
        help="the topic; a regular expression (whole-name match) except with --create",
    )
    parser.add_argument(
        "--partitions", type=int, metavar="N", help="the number of partitions"
    )
    parser.add_argument(
        "--replication-factor",
        type=int,
        metavar="R",
        help="the replication factor of each partition (--create)",
    )
    parser.add_argument(
        "--replica-assignment",
        metavar="B1:B2,B3:B4,...",
        help="the broker ids of each partition's replicas, partitions separated"
        " by ',' and replicas by ':'",
    )
    parser.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a topic configuration override (--create; repeatable)",
    )
    parser.add_argument(
        "--if-exists",
        action="store_true",
        help="with --alter, --delete or --describe: do nothing if no topic matches",
    )
    parser.add_argument(
        "--if-not-exists",
        action="store_true",
        help="with --create: do nothing if the topic exists",
    )
    parser.add_argument(
        "--exclude-internal",
        action="store_true",
        help="leave internal topics out of --list and --describe",
    )
    reports = parser.add_argument_group("--describe filters")
    reports.add_argument(
        "--under-replicated-partitions",
        action="store_true",
        help="only partitions with fewer in-sync replicas than replicas",
    )
    reports.add_argument(
        "--unavailable-partitions",
        action="store_true",
        help="only partitions whose leader is not available",
    )
    reports.add_argument(
        "--under-min-isr-partitions",
        action="store_true",
        help="only partitions with fewer in-sync replicas than min.insync.replicas",
    )
    reports.add_argument(
        "--at-min-isr-partitions",
        action="store_true",
        help="only partitions with exactly min.insync.replicas in-sync replicas",
    )
    reports.add_argument(
        "--topics-with-overrides",
        action="store_true",
        help="only topics with configs set away from their defaults",
    )
    return parser


def _only_with(
    parser: ToolParser, options: argparse.Namespace, flag: str, allowed: tuple[str, ...]
) -> None:
    """Refuse C{flag} unless one of the C{allowed} actions is given."""
    value = getattr(options, flag.replace("-", "_"))
    if value in (None, False, []):
        return
    if not any(getattr(options, action) for action in allowed):
        given = next(action for action in _ACTIONS if getattr(options, action))
        parser.error(f"option --{flag} can't be used with --{given}")


def parse_args(argv: list[str]) -> argparse.Namespace:
    """
    Parse and check a command line as C{kafka-topics.sh} does.

    @param argv: the arguments.
    @return: the options.
    @raise SystemExit: with status 1 and a one-line message for a bad command
        line.
    """
    parser = build_parser()
    options = parser.parse_args(argv)
    if sum(bool(getattr(options, action)) for action in _ACTIONS) != 1:
        parser.error(
            "Command must include exactly one action: --list, --describe,"
            " --create, --alter or --delete"
        )
    for action in ("create", "alter", "delete"):
        if getattr(options, action) and options.topic is None:
            parser.error(f"--topic is required with --{action}")
    if options.alter and options.partitions is None:
        parser.error("--partitions is required with --alter")
    _only_with(parser, options, "config", ("create",))
    _only_with(parser, options, "partitions", ("create", "alter"))
    _only_with(parser, options, "replication-factor", ("create",))
    _only_with(parser, options, "replica-assignment", ("create", "alter"))
    _only_with(parser, options, "if-exists", ("alter", "delete", "describe"))
    _only_with(parser, options, "if-not-exists", ("create",))
    _only_with(parser, options, "exclude-internal", ("list", "describe"))
    for report in (*_REPORTS, "topics_with_overrides"):
        _only_with(parser, options, report.replace("_", "-"), ("describe",))
    if options.topics_with_overrides and any(getattr(options, r) for r in _REPORTS):
        parser.error(
            "option --topics-with-overrides can't be used with the partition"
            " filters (--under-replicated-partitions ...)"
        )
    if options.create and options.replica_assignment is not None:
        for flag in ("partitions", "replication_factor"):
            if getattr(options, flag) is not None:
                parser.error(
                    f"option --{flag.replace('_', '-')} can't be used with"
                    " --replica-assignment"
                )
    if options.partitions is not None and options.partitions < 1:
        parser.error(f"--partitions must be at least 1, not {options.partitions}")
    if options.replication_factor is not None and options.replication_factor < 1:
        parser.error(
            f"--replication-factor must be at least 1, not {options.replication_factor}"
        )
    return options


def main(argv: list[str]) -> int:
    """
    Run C{odradek-topics}.

    @param argv: the arguments.
    @return: the exit status.
    """
    options = parse_args(argv)
    return with_admin(options, lambda admin: execute(options, admin))


def run() -> None:
    """The console script's entry point."""
    raise SystemExit(run_tool(main))


def execute(options: argparse.Namespace, admin: AdminClient) -> int:
    """
    Do what the options ask with an admin client.

    @param options: the options of L{parse_args}.
    @param admin: the client (the tool closes it).
    @return: the exit status.
    @raise ToolError: for an error the user can fix.
    """
    if options.create:
        _create(options, admin)
    elif options.list:
        for name in _matching(options, admin):
            print(name)
    elif options.describe:
        _describe(options, admin)
    elif options.alter:
        _alter(options, admin)
    else:
        _delete(options, admin)
    return 0


def _matching(options: argparse.Namespace, admin: AdminClient) -> list[str]:
    """
    The topics C{--topic} chooses (all without it); an error if it names none
    and C{--if-exists} is not given, for the actions that need a topic.
    """
    listings = admin.list_topics(
        list_internal=not options.exclude_internal, timeout=options.timeout
    )
    internal = {name for name, listing in listings.items() if listing.is_internal}
    names = fmt.select_topics(
        listings, options.topic, options.exclude_internal, internal
    )
    if not names and options.topic and not options.list and not options.if_exists:
        raise ToolError(f"Topic '{options.topic}' does not exist as expected")
    return names


def _create(options: argparse.Namespace, admin: AdminClient) -> None:
    fmt.validate_topic_name(options.topic)
    configs = fmt.parse_topic_configs(options.config)
    if options.replica_assignment is not None:
        new_topic = NewTopic(
            options.topic,
            replica_assignment=fmt.parse_replica_assignment(options.replica_assignment),
            configs=configs,
        )
    else:
        new_topic = NewTopic(
            options.topic,
            options.partitions or -1,
            options.replication_factor or -1,
            configs=configs,
        )
    results = admin.create_topics([new_topic], timeout=options.timeout)
    error = results.error(options.topic)
    if isinstance(error, TopicExistsError):
        if options.if_not_exists:
            return
        raise ToolError(f"Topic '{options.topic}' already exists.")
    if error is not None:
        raise error
    if "." in options.topic or "_" in options.topic:
        print(_COLLISION_WARNING)
    print(f"Created topic {options.topic}.")


def _describe(options: argparse.Namespace, admin: AdminClient) -> None:
    names = _matching(options, admin)
    if not names:
        return
    descriptions = admin.describe_topics(names, timeout=options.timeout).all()
    resources = {name: ConfigResource(ConfigResourceType.TOPIC, name) for name in names}
    configs = admin.describe_configs(resources.values(), timeout=options.timeout)
    live: set[int] = set()
    if options.unavailable_partitions:
        cluster = admin.describe_cluster(timeout=options.timeout)
        live = {node.node_id for node in cluster.nodes}
    reporting = any(getattr(options, report) for report in _REPORTS)
    for name in names:
        description = descriptions[name]
        config = configs[resources[name]]
        if not reporting and (
            not options.topics_with_overrides or fmt.has_overrides(config)
        ):
            print(fmt.describe_topic_line(description, config))
        if options.topics_with_overrides:
            continue
        min_isr = fmt.min_isr_of(config)
        for info in sorted(description.partitions, key=lambda p: p.partition):
            if not reporting or (
                (options.under_replicated_partitions and fmt.is_under_replicated(info))
                or (options.unavailable_partitions and fmt.is_unavailable(info, live))
                or (
                    options.under_min_isr_partitions
                    and fmt.is_under_min_isr(info, min_isr)
                )
                or (options.at_min_isr_partitions and fmt.is_at_min_isr(info, min_isr))
            ):
                print(fmt.describe_partition_line(name, info))


def _alter(options: argparse.Namespace, admin: AdminClient) -> None:
    names = _matching(options, admin)
    if not names:
        return
    assignment = (
        None
        if options.replica_assignment is None
        else fmt.parse_replica_assignment(options.replica_assignment)
    )
    requests: dict[str, NewPartitions] = {}
    if assignment is None:
        requests = {name: NewPartitions(options.partitions) for name in names}
    else:
        descriptions = admin.describe_topics(names, timeout=options.timeout).all()
        for name in names:
            current = len(descriptions[name].partitions)
            added = [assignment[i] for i in sorted(assignment) if i >= current]
            requests[name] = NewPartitions(options.partitions, added or None)
    results = admin.create_partitions(requests, timeout=options.timeout)
    for name in names:
        error = results.error(name)
        if isinstance(error, UnsupportedVersionError):
            raise ToolError(
                "the broker does not support adding partitions (CreatePartitions):"
                f" {error}"
            )
        if error is not None:
            raise error


def _delete(options: argparse.Namespace, admin: AdminClient) -> None:
    names = _matching(options, admin)
    if names:
        admin.delete_topics(names, timeout=options.timeout).all()
