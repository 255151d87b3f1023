"""
C{odradek-configs}: describe and alter the configuration of topics, brokers,
broker loggers and groups, with the flags and output of Kafka's
C{kafka-configs.sh}. Changes go through IncrementalAlterConfigs (for brokers
too, where Kafka's tool still sends the legacy AlterConfigs).

Example::

    odradek-configs --bootstrap-server localhost:9092 --alter --topic orders \\
        --add-config retention.ms=86400000,cleanup.policy=[compact,delete]
    odradek-configs --bootstrap-server localhost:9092 --describe --broker 1 --all
"""

from __future__ import annotations

import argparse

from odradek.admin.cli import _configsfmt as fmt
from odradek.admin.cli._common import (
    ToolError,
    ToolParser,
    add_connection_flags,
    read_properties,
    run_tool,
    with_admin,
)
from odradek.client.admin import AdminClient, ConfigResource
from odradek.client.errors import UnsupportedVersionError

__all__ = ["build_parser", "entity_of", "execute", "main", "parse_args", "run"]

#: The flags that name an entity directly, and the entity type each stands for.
_ENTITY_FLAGS = {
    "topic": "topics",
    "broker": "brokers",
    "broker_logger": "broker-loggers",
    "group": "groups",
}


def build_parser() -> ToolParser:
    """@return: the parser of C{odradek-configs}' command line."""
    parser = ToolParser(
        prog="odradek-configs",
        description="Describe or alter the configuration of topics, brokers,"
        " broker loggers and groups.",
    )
    add_connection_flags(parser)
    parser.add_argument(
        "--describe", action="store_true", help="list the configs of the entity"
    )
    parser.add_argument(
        "--alter", action="store_true", help="alter the configs of the entity"
    )
    parser.add_argument(
        "--all",
        action="store_true",
        help="with --describe: every config, defaults and static ones included",
    )
    parser.add_argument(
        "--entity-type",
        metavar="TYPE",
        help="topics, brokers, broker-loggers or groups",
    )
    parser.add_argument(
        "--entity-name",
        metavar="NAME",
        help="the topic name, broker id or group id",
    )
    parser.add_argument(
        "--entity-default",
        action="store_true",
        help="the default of every broker (with --entity-type brokers)",
    )
    parser.add_argument("--topic", metavar="TOPIC", help="the topic's name")
    parser.add_argument("--broker", metavar="ID", help="the broker's id")
    parser.add_argument(
        "--broker-defaults",
        action="store_true",
        help="the config defaults of all brokers",
    )
    parser.add_argument(
        "--broker-logger", metavar="ID", help="the broker's id, for its loggers"
    )
    parser.add_argument("--group", metavar="GROUP", help="the group's id")
    parser.add_argument(
        "--add-config",
        metavar="K1=V1,K2=[A,B],...",
        help="configs to set; square brackets group a value holding commas",
    )
    parser.add_argument(
        "--add-config-file",
        metavar="FILE",
        help="a properties file of configs to set",
    )
    parser.add_argument(
        "--delete-config",
        action="append",
        default=[],
        metavar="K1,K2",
        help="config keys to remove (repeatable)",
    )
    parser.add_argument(
        "--force", action="store_true", help="accepted for Kafka's sake; no prompts"
    )
    return parser


def entity_of(options: argparse.Namespace) -> fmt.Entity:
    """
    The entity a command line names, by C{--entity-type}/C{--entity-name}/
    C{--entity-default} or by one of the shortcuts (C{--topic}, C{--broker} ...).

    @param options: the parsed options.
    @return: the entity (its name C{None} for every entity of the type).
    @raise ToolError: for a missing, doubled or inconsistent entity.
    """
    shortcuts = [
        (_ENTITY_FLAGS[flag], getattr(options, flag))
        for flag in _ENTITY_FLAGS
        if getattr(options, flag) is not None
    ]
    if options.broker_defaults:
        shortcuts.append(("brokers", ""))
    generic = (
        options.entity_type is not None
        or options.entity_name is not None
        or options.entity_default
    )
    if generic and shortcuts:
        raise ToolError(
            "--entity-{type,name,default} should not be used in conjunction with"
            " specific entity flags"
        )
    if len(shortcuts) > 1:
        raise ToolError("only one entity may be given")
    if shortcuts:
        return fmt.Entity(*shortcuts[0])
    if options.entity_type is None:
        raise ToolError("At least one entity type must be specified")
    if options.entity_name is not None and options.entity_default:
        raise ToolError("give --entity-name or --entity-default, not both")
    name = "" if options.entity_default else options.entity_name
    return fmt.Entity(options.entity_type, name)


def parse_args(argv: list[str]) -> argparse.Namespace:
    """
    Parse and check a command line as C{kafka-configs.sh} does.

    @param argv: the arguments.
    @return: the options, with C{entity} (an L{Entity
        <odradek.admin.cli._configsfmt.Entity>}), C{added} and C{deleted}
        filled in.
    @raise SystemExit: with status 1 and a one-line message for a bad command
        line.
    """
    parser = build_parser()
    options = parser.parse_args(argv)
    if options.describe == options.alter:
        parser.error("Command must include exactly one action: --describe, --alter")
    if options.describe and (
        options.add_config is not None
        or options.add_config_file is not None
        or options.delete_config
    ):
        parser.error(
            "--add-config, --add-config-file and --delete-config go with --alter,"
            " not --describe"
        )
    try:
        entity = entity_of(options)
    except ToolError as e:
        parser.error(str(e))
    if options.describe:
        if entity.name == "" and entity.entity_type != "brokers":
            parser.error(
                f"--entity-default must not be specified with --describe of"
                f" {entity.entity_type}"
            )
        if entity.entity_type == "broker-loggers" and not entity.name:
            parser.error(
                "An entity name must be specified with --describe of broker-loggers"
            )
    else:
        if entity.name is None or (
            entity.name == "" and entity.entity_type != "brokers"
        ):
            parser.error(
                f"An entity name must be specified with --alter of {entity.entity_type}"
            )
        if options.add_config is not None and options.add_config_file is not None:
            parser.error(
                "Only one of --add-config or --add-config-file must be specified"
            )
        if (
            options.add_config is None
            and options.add_config_file is None
            and not options.delete_config
        ):
            parser.error(
                "At least one of --add-config, --add-config-file, or"
                " --delete-config must be specified with --alter"
            )
    options.entity = entity
    return options


def main(argv: list[str]) -> int:
    """
    Run C{odradek-configs}.

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
    Describe or alter what the options name with an admin client.

    @param options: the options of L{parse_args}.
    @param admin: the client (the tool closes it).
    @return: the exit status.
    @raise ToolError: for an error the user can fix.
    """
    if options.describe:
        _describe(options, admin)
    else:
        _alter(options, admin)
    return 0


def _names(
    entity: fmt.Entity, options: argparse.Namespace, admin: AdminClient
) -> list[str]:
    """The names of the entities to describe: the one named, or all of its type."""
    if entity.name is not None:
        return [entity.name]
    if entity.entity_type == "topics":
        return sorted(admin.list_topics(list_internal=True, timeout=options.timeout))
    if entity.entity_type == "groups":
        listed = admin.list_consumer_groups(timeout=options.timeout).all()
        return sorted(group.group_id for group in listed)
    nodes = admin.describe_cluster(timeout=options.timeout).nodes
    return [str(node.node_id) for node in sorted(nodes, key=lambda n: n.node_id)] + [""]


def _describe(options: argparse.Namespace, admin: AdminClient) -> None:
    entity: fmt.Entity = options.entity
    names = _names(entity, options, admin)
    if not names:
        return
    resources = [entity.resource(name) for name in names]
    configs = admin.describe_configs(
        resources, include_synonyms=True, timeout=options.timeout
    )
    for name, resource in zip(names, resources, strict=True):
        config = configs[resource]
        print(fmt.describe_header(entity, name, options.all))
        source = None if options.all else entity.dynamic_source(name)
        for entry in fmt.shown_entries(config, source):
            print(fmt.describe_line(entry))


def _alter(options: argparse.Namespace, admin: AdminClient) -> None:
    entity: fmt.Entity = options.entity
    name = entity.name or ""
    added: dict[str, str] = {}
    if options.add_config_file is not None:
        added = read_properties(options.add_config_file)
    elif options.add_config is not None:
        added = fmt.parse_add_config(options.add_config)
    deleted = fmt.parse_delete_config(options.delete_config)
    resource = entity.resource(name)
    if deleted:
        _check_deletable(entity, name, resource, deleted, options, admin)
    results = admin.incremental_alter_configs(
        {resource: fmt.alter_ops(added, deleted)}, timeout=options.timeout
    )
    error = results.error(resource)
    if isinstance(error, UnsupportedVersionError):
        raise ToolError(f"the broker does not support IncrementalAlterConfigs: {error}")
    if error is not None:
        raise error
    if name:
        print(f"Completed updating config for {entity.singular} {name}.")
    else:
        print(
            f"Completed updating default config for {entity.entity_type} in the"
            " cluster."
        )


def _check_deletable(
    entity: fmt.Entity,
    name: str,
    resource: ConfigResource,
    deleted: list[str],
    options: argparse.Namespace,
    admin: AdminClient,
) -> None:
    """
    Refuse, as Kafka does, to delete a key that is not set on the entity (for
    loggers: that is not one of its loggers).
    """
    config = admin.describe_configs([resource], timeout=options.timeout)[resource]
    present = {
        entry.name for entry in fmt.shown_entries(config, entity.dynamic_source(name))
    }
    missing = [key for key in deleted if key not in present]
    if missing:
        raise ToolError(f"Invalid config(s): {','.join(missing)}")
