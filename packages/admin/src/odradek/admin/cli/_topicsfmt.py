"""
The sans-IO half of C{odradek-topics}: parsing C{--replica-assignment} and
C{--config}, choosing topics by Kafka's topic regex, the partition filters of
C{--describe}, and the lines C{kafka-topics.sh --describe} prints.
"""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Collection, Iterable

from odradek.admin.cli._common import ToolError
from odradek.client.admin import Config, TopicDescription, TopicPartitionInfo

__all__ = [
    "INTERNAL_TOPICS",
    "describe_partition_line",
    "describe_topic_line",
    "format_topic_id",
    "has_overrides",
    "is_at_min_isr",
    "is_unavailable",
    "is_under_min_isr",
    "is_under_replicated",
    "min_isr_of",
    "parse_replica_assignment",
    "parse_topic_configs",
    "select_topics",
    "topic_regex",
    "validate_topic_name",
]

INTERNAL_TOPICS = frozenset(
    {"__consumer_offsets", "__transaction_state", "__share_group_state"}
)
"""The names of Kafka's internal topics, as C{Topic.isInternal} knows them."""

_LEGAL_TOPIC = re.compile(r"[a-zA-Z0-9._-]+")
_MAX_TOPIC_LENGTH = 249
_CONFIG_KEY = re.compile(r"[a-zA-Z0-9._-]+")


def validate_topic_name(name: str) -> None:
    """
    Check a topic name to create as Kafka's C{Topic.validate} does.

    @param name: the name.
    @raise ToolError: naming what is wrong with it.
    """
    if not name:
        raise ToolError("topic name is illegal, it can't be empty")
    if name in (".", ".."):
        raise ToolError('topic name cannot be "." or ".."')
    if len(name) > _MAX_TOPIC_LENGTH:
        raise ToolError(
            f"topic name is illegal, it can't be longer than {_MAX_TOPIC_LENGTH}"
            " characters"
        )
    if not _LEGAL_TOPIC.fullmatch(name):
        raise ToolError(
            f"topic name {name!r} is illegal, it contains a character other than"
            " ASCII alphanumerics, '.', '_' and '-'"
        )


def parse_replica_assignment(text: str) -> dict[int, tuple[int, ...]]:
    """
    Parse C{--replica-assignment}: partitions separated by commas, each the
    broker ids of its replicas separated by colons (C{"0:1,1:2"}), the
    preferred leader first.

    @param text: the flag's value.
    @return: the replicas of each partition, by partition index.
    @raise ToolError: for an id that is not an integer, a partition with a
        broker twice, or partitions with different replication factors.
    """
    assignment: dict[int, tuple[int, ...]] = {}
    for index, part in enumerate(text.split(",")):
        try:
            brokers = tuple(int(item.strip()) for item in part.split(":"))
        except ValueError:
            raise ToolError(
                f"invalid --replica-assignment {text!r}: partition {index} is"
                f" {part!r}, not broker ids separated by ':'"
            ) from None
        duplicates = sorted({b for b in brokers if brokers.count(b) > 1})
        if duplicates:
            raise ToolError(
                "Partition replica lists may not contain duplicate entries: "
                + ",".join(map(str, duplicates))
            )
        if assignment and len(brokers) != len(assignment[0]):
            raise ToolError(
                f"Partition {index} has different replication factor: {list(brokers)}"
            )
        assignment[index] = brokers
    return assignment


def parse_topic_configs(items: Iterable[str]) -> dict[str, str]:
    """
    Parse the C{--config key=value} items of C{--create}.

    @param items: the items.
    @return: the values by key, later items winning.
    @raise ToolError: for an item that is not C{key=value} or a key with a
        character Kafka does not allow.
    """
    configs: dict[str, str] = {}
    for item in items:
        parts = re.split(r"\s*=\s*", item)
        if len(parts) != 2 or not parts[0].strip():
            raise ToolError(
                f"invalid topic config {item!r}: all configs to be added must be"
                ' in the format "key=val"'
            )
        key = parts[0].strip()
        if not _CONFIG_KEY.fullmatch(key):
            raise ToolError(f"Invalid character found for config key: {key}")
        configs[key] = parts[1].strip()
    return configs


def topic_regex(raw: str) -> re.Pattern[str]:
    """
    Compile C{--topic} as Kafka's topic filter does: surrounding quotes and
    spaces dropped, commas standing for C{|}; a topic is chosen if the whole
    name matches.

    @param raw: the flag's value.
    @return: the pattern.
    @raise ToolError: if it is not a valid regular expression.
    """
    cleaned = raw.strip().replace(",", "|").replace(" ", "")
    cleaned = re.sub(r"^[\"']+", "", cleaned)
    cleaned = re.sub(r"[\"']+$", "", cleaned)
    try:
        return re.compile(cleaned)
    except re.error as e:
        raise ToolError(f"{cleaned} is an invalid regex: {e}") from None


def select_topics(
    names: Iterable[str],
    pattern: str | None,
    exclude_internal: bool,
    internal: Collection[str] = INTERNAL_TOPICS,
) -> list[str]:
    """
    The topics a command acts on, sorted by name.

    @param names: every topic of the cluster.
    @param pattern: C{--topic}, or C{None} for all.
    @param exclude_internal: whether to leave out internal topics.
    @param internal: the names of the internal topics.
    @return: the chosen names.
    @raise ToolError: if C{pattern} is not a valid regular expression.
    """
    regex = None if pattern is None else topic_regex(pattern)
    return sorted(
        name
        for name in names
        if not (exclude_internal and (name in internal or name in INTERNAL_TOPICS))
        and (regex is None or regex.fullmatch(name) is not None)
    )


def format_topic_id(topic_id: uuid.UUID | None) -> str | None:
    """
    Write a topic id as Kafka's C{Uuid.toString} does: URL-safe base64 of its
    16 bytes without padding.

    @param topic_id: the id, or C{None}.
    @return: the text, or C{None} for no id or the zero id.
    """
    if topic_id is None or topic_id.int == 0:
        return None
    return base64.urlsafe_b64encode(topic_id.bytes).decode("ascii").rstrip("=")


def has_overrides(config: Config) -> bool:
    """@return: whether a topic's configuration sets a key away from its default."""
    return any(not entry.is_default for entry in config)


def describe_topic_line(description: TopicDescription, config: Config) -> str:
    """
    The first line C{--describe} prints for a topic: its id, partition count,
    replication factor (the replicas of its first partition) and the keys set
    away from their defaults.

    @param description: the topic.
    @param config: its configuration.
    @return: the line, fields separated by tabs.
    """
    partitions = sorted(description.partitions, key=lambda p: p.partition)
    replication = len(partitions[0].replicas) if partitions else 0
    configs = ",".join(
        f"{entry.name}={entry.value}" for entry in config if not entry.is_default
    )
    fields = [f"Topic: {description.name}"]
    topic_id = format_topic_id(description.topic_id)
    if topic_id is not None:
        fields.append(f"TopicId: {topic_id}")
    fields += [
        f"PartitionCount: {len(partitions)}",
        f"ReplicationFactor: {replication}",
        f"Configs: {configs}",
    ]
    return "\t".join(fields)


def describe_partition_line(topic: str, info: TopicPartitionInfo) -> str:
    """
    The line C{--describe} prints for a partition. The eligible leader replicas
    are C{N/A}: the Metadata API does not tell them.

    @param topic: the topic's name.
    @param info: the partition.
    @return: the line, starting with a tab.
    """
    leader = "none" if info.leader is None else str(info.leader.node_id)
    replicas = ",".join(str(node.node_id) for node in info.replicas)
    isr = ",".join(str(node.node_id) for node in info.isr)
    return (
        f"\tTopic: {topic}\tPartition: {info.partition}\tLeader: {leader}"
        f"\tReplicas: {replicas}\tIsr: {isr}\tElr: N/A\tLastKnownElr: N/A"
    )


def min_isr_of(config: Config) -> int:
    """
    @return: a topic's C{min.insync.replicas}, 1 when the broker does not tell
        it.
    """
    entry = config.get("min.insync.replicas")
    try:
        return int(entry.value) if entry is not None and entry.value else 1
    except ValueError:
        return 1


def is_under_replicated(info: TopicPartitionInfo) -> bool:
    """@return: whether fewer replicas are in sync than the partition has."""
    return len(info.replicas) > len(info.isr)


def is_unavailable(info: TopicPartitionInfo, live_brokers: Collection[int]) -> bool:
    """@return: whether the partition has no leader, or its leader is not live."""
    return info.leader is None or info.leader.node_id not in live_brokers


def is_under_min_isr(info: TopicPartitionInfo, min_isr: int) -> bool:
    """@return: whether the partition has no leader or fewer in-sync replicas than
    C{min_isr}."""
    return info.leader is None or len(info.isr) < min_isr


def is_at_min_isr(info: TopicPartitionInfo, min_isr: int) -> bool:
    """@return: whether exactly C{min_isr} replicas are in sync."""
    return len(info.isr) == min_isr
