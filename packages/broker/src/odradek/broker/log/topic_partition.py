"""
How Kafka names the directory of a partition's log. L{TopicPartition} itself is the
client's (L{odradek.client.structs.TopicPartition}), re-exported here: the broker and
the client share one class, so that partitions compare equal across them.
"""

from __future__ import annotations

from odradek.client.structs import TopicPartition

__all__ = ["TopicPartition", "parse_partition_dir", "partition_dir_name"]


def partition_dir_name(tp: TopicPartition) -> str:
    """
    @param tp: a partition.
    @return: the name of its directory in a log dir, C{<topic>-<partition>}.
    """
    return f"{tp.topic}-{tp.partition}"


def parse_partition_dir(name: str) -> TopicPartition:
    """
    Parse a partition directory's name (topics may themselves hold dashes: the
    partition follows the last one).

    @param name: a name such as C{orders-eu-3}.
    @return: the partition it names.
    @raise ValueError: if C{name} is not C{<topic>-<partition>}.
    """
    topic, dash, number = name.rpartition("-")
    if not dash or not topic or not number.isdigit() or not number.isascii():
        raise ValueError(f"{name!r} does not name a partition directory")
    return TopicPartition(topic, int(number))
