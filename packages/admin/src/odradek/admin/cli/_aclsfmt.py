"""
The sans-IO half of C{odradek-acls}: operation and principal names as Kafka's
C{SecurityUtils} reads them, the resource pattern filters and access control
entries a command line stands for (C{--producer} and C{--consumer} included),
and the texts C{kafka-acls.sh} prints.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable

from odradek.admin.cli._common import ToolError
from odradek.client.admin import (
    AccessControlEntry,
    AclBinding,
    AclOperation,
    AclPermissionType,
    PatternType,
    ResourcePattern,
    ResourcePatternFilter,
    ResourceType,
)

__all__ = [
    "CLUSTER_NAME",
    "SUPPORTED_OPERATIONS",
    "adding_text",
    "current_text",
    "entry_text",
    "filter_text",
    "filters_to_entries",
    "group_by_pattern",
    "operation_name",
    "parse_operation",
    "parse_pattern_type",
    "parse_principal",
    "pattern_text",
    "resource_filters",
]

CLUSTER_NAME = "kafka-cluster"
"""The name of the cluster resource."""

SUPPORTED_OPERATIONS: dict[ResourceType, frozenset[AclOperation]] = {
    ResourceType.TOPIC: frozenset(
        {
            AclOperation.READ,
            AclOperation.WRITE,
            AclOperation.CREATE,
            AclOperation.DESCRIBE,
            AclOperation.DELETE,
            AclOperation.ALTER,
            AclOperation.DESCRIBE_CONFIGS,
            AclOperation.ALTER_CONFIGS,
        }
    ),
    ResourceType.GROUP: frozenset(
        {
            AclOperation.READ,
            AclOperation.DESCRIBE,
            AclOperation.DELETE,
            AclOperation.DESCRIBE_CONFIGS,
            AclOperation.ALTER_CONFIGS,
        }
    ),
    ResourceType.CLUSTER: frozenset(
        {
            AclOperation.CREATE,
            AclOperation.CLUSTER_ACTION,
            AclOperation.DESCRIBE_CONFIGS,
            AclOperation.ALTER_CONFIGS,
            AclOperation.IDEMPOTENT_WRITE,
            AclOperation.ALTER,
            AclOperation.DESCRIBE,
        }
    ),
    ResourceType.TRANSACTIONAL_ID: frozenset(
        {AclOperation.DESCRIBE, AclOperation.WRITE}
    ),
    ResourceType.DELEGATION_TOKEN: frozenset({AclOperation.DESCRIBE}),
    ResourceType.USER: frozenset(
        {AclOperation.CREATE_TOKENS, AclOperation.DESCRIBE_TOKENS}
    ),
}
"""The operations an ACL of each resource type may name (besides C{All})."""

_NAMED = [
    op for op in AclOperation if op not in (AclOperation.UNKNOWN, AclOperation.ANY)
]


def operation_name(operation: AclOperation) -> str:
    """@return: Kafka's name of an operation: C{CLUSTER_ACTION} is C{ClusterAction}."""
    return "".join(word.capitalize() for word in operation.name.split("_"))


def parse_operation(text: str) -> AclOperation:
    """
    Read an operation name, in any case, with or without underscores
    (C{ClusterAction}, C{CLUSTER_ACTION}, C{clusteraction}).

    @param text: the name.
    @return: the operation.
    @raise ToolError: for a name that is not one, listing the valid ones.
    """
    wanted = text.strip().replace("_", "").upper()
    for operation in _NAMED:
        if operation.name.replace("_", "") == wanted:
            return operation
    valid = ", ".join(operation_name(op) for op in _NAMED)
    raise ToolError(f"unknown operation {text!r}; valid operations: {valid}")


def parse_pattern_type(text: str) -> PatternType:
    """
    @param text: a C{--resource-pattern-type} value (any case).
    @return: the pattern type.
    @raise ToolError: for a value other than literal, prefixed, match or any.
    """
    try:
        pattern_type = PatternType[text.strip().upper()]
    except KeyError:
        pattern_type = PatternType.UNKNOWN
    if pattern_type is PatternType.UNKNOWN:
        raise ToolError(
            f"Unknown resource-pattern-type: {text} (literal, prefixed, match or any)"
        )
    return pattern_type


def parse_principal(text: str) -> str:
    """
    @param text: a principal as given (C{User:alice}).
    @return: the principal, trimmed.
    @raise ToolError: if it is not C{type:name}.
    """
    principal = text.strip()
    kind, colon, _ = principal.partition(":")
    if not colon or not kind:
        raise ToolError(
            "expected a string in format principalType:principalName but got"
            f" {principal!r}"
        )
    return principal


def resource_filters(options: argparse.Namespace) -> list[ResourcePatternFilter]:
    """
    The resource pattern filters of C{--topic}, C{--group}, C{--cluster} (or
    C{--idempotent}), C{--transactional-id}, C{--delegation-token} and
    C{--user-principal}, with C{--resource-pattern-type}.

    @param options: the parsed options.
    @return: the filters, each once, in that order.
    """
    pattern_type: PatternType = options.pattern_type
    found: list[ResourcePatternFilter] = []
    if pattern_type is PatternType.LITERAL and (options.cluster or options.idempotent):
        found.append(
            ResourcePatternFilter(ResourceType.CLUSTER, CLUSTER_NAME, pattern_type)
        )
    named: list[tuple[ResourceType, list[str]]] = [
        (ResourceType.TOPIC, options.topic),
        (ResourceType.GROUP, options.group),
        (ResourceType.TRANSACTIONAL_ID, options.transactional_id),
        (ResourceType.DELEGATION_TOKEN, options.delegation_token),
        (ResourceType.USER, options.user_principal),
    ]
    found.extend(
        ResourcePatternFilter(resource_type, name.strip(), pattern_type)
        for resource_type, names in named
        for name in names
    )
    return list(dict.fromkeys(found))


def _entries(
    options: argparse.Namespace, operations: Iterable[AclOperation]
) -> list[AccessControlEntry]:
    """Each allowed and denied principal, operation and host, as entries."""
    entries: list[AccessControlEntry] = []
    for permission, principals, hosts in (
        (AclPermissionType.ALLOW, options.allow_principal, options.allow_host),
        (AclPermissionType.DENY, options.deny_principal, options.deny_host),
    ):
        parsed = [parse_principal(p) for p in principals]
        chosen_hosts = [h.strip() for h in hosts] or (["*"] if parsed else [])
        entries.extend(
            AccessControlEntry(principal, host, operation, permission)
            for principal in dict.fromkeys(parsed)
            for operation in operations
            for host in dict.fromkeys(chosen_hosts)
        )
    return entries


def filters_to_entries(
    options: argparse.Namespace,
) -> dict[ResourcePatternFilter, list[AccessControlEntry]]:
    """
    The entries a command line adds or removes, for each resource filter; with
    C{--producer} and C{--consumer}, the entries of those roles.

    @param options: the parsed options.
    @return: the entries by filter (an empty list: every entry).
    @raise ToolError: for an operation a resource type does not have.
    """
    filters = resource_filters(options)
    chosen: dict[ResourcePatternFilter, list[AccessControlEntry]] = {}
    if not options.producer and not options.consumer:
        operations = list(dict.fromkeys(parse_operation(o) for o in options.operation))
        chosen = {f: _entries(options, operations) for f in filters}
    if options.producer:
        for f in filters:
            if f.resource_type is ResourceType.TOPIC:
                ops = [AclOperation.WRITE, AclOperation.DESCRIBE, AclOperation.CREATE]
            elif f.resource_type is ResourceType.TRANSACTIONAL_ID:
                ops = [AclOperation.WRITE, AclOperation.DESCRIBE]
            elif f.resource_type is ResourceType.CLUSTER and options.idempotent:
                ops = [AclOperation.IDEMPOTENT_WRITE]
            else:
                continue
            chosen[f] = _entries(options, ops)
    if options.consumer:
        for f in filters:
            if f.resource_type is ResourceType.TOPIC:
                ops = [AclOperation.READ, AclOperation.DESCRIBE]
            elif f.resource_type is ResourceType.GROUP:
                ops = [AclOperation.READ]
            else:
                continue
            chosen[f] = list(dict.fromkeys(chosen.get(f, []) + _entries(options, ops)))
    for f, entries in chosen.items():
        valid = SUPPORTED_OPERATIONS.get(f.resource_type, frozenset()) | {
            AclOperation.ALL
        }
        if any(entry.operation not in valid for entry in entries):
            names = ", ".join(operation_name(op) for op in sorted(valid))
            raise ToolError(
                f"ResourceType {f.resource_type.name} only supports operations {names}"
            )
    return chosen


def pattern_text(pattern: ResourcePattern) -> str:
    """@return: a pattern as Kafka writes it: C{ResourcePattern(resourceType=...)}."""
    return (
        f"ResourcePattern(resourceType={pattern.resource_type.name},"
        f" name={pattern.name}, patternType={pattern.pattern_type.name})"
    )


def filter_text(pattern_filter: ResourcePatternFilter) -> str:
    """@return: a pattern filter as Kafka writes it (C{<any>} for any name)."""
    name = "<any>" if pattern_filter.name is None else pattern_filter.name
    return (
        f"ResourcePattern(resourceType={pattern_filter.resource_type.name},"
        f" name={name}, patternType={pattern_filter.pattern_type.name})"
    )


def entry_text(entry: AccessControlEntry) -> str:
    """@return: an entry as Kafka writes it: C{(principal=..., host=..., ...)}."""
    return (
        f"(principal={entry.principal}, host={entry.host},"
        f" operation={entry.operation.name},"
        f" permissionType={entry.permission_type.name})"
    )


def _block(heading: str, entries: Iterable[AccessControlEntry]) -> str:
    """Kafka's layout: the heading, then each entry after a tab, then a blank line."""
    lines = "\n".join("\t" + entry_text(entry) for entry in entries)
    return f"{heading} \n {lines} \n"


def adding_text(pattern: ResourcePattern, entries: Iterable[AccessControlEntry]) -> str:
    """@return: what C{--add} prints before adding entries to a resource."""
    return _block(f"Adding ACLs for resource `{pattern_text(pattern)}`:", entries)


def current_text(
    pattern: ResourcePattern, entries: Iterable[AccessControlEntry]
) -> str:
    """@return: what C{--list} prints for a resource's entries."""
    return _block(f"Current ACLs for resource `{pattern_text(pattern)}`:", entries)


def group_by_pattern(
    bindings: Iterable[AclBinding],
) -> dict[ResourcePattern, list[AccessControlEntry]]:
    """@return: the entries of each pattern, each once, in the order found."""
    grouped: dict[ResourcePattern, list[AccessControlEntry]] = {}
    for binding in bindings:
        entries = grouped.setdefault(binding.pattern, [])
        if binding.entry not in entries:
            entries.append(binding.entry)
    return grouped
