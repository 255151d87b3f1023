"""
Which partition of C{__consumer_offsets} holds a group, as Apache Kafka decides it.

Kafka places a group on partition C{Utils.abs(groupId.hashCode()) % partitionCount},
where C{hashCode} is Java's C{String.hashCode}: C{h = 31 * h + c} over the string's
UTF-16 code units (a character outside the Basic Multilingual Plane counts as its
two surrogates), wrapped to a signed 32-bit integer; and C{Utils.abs} keeps the low
31 bits (C{n & 0x7fffffff}), so C{Integer.MIN_VALUE} maps to 0 rather than
overflowing. Computing the same number lets a client that hashes the group id
itself, and any tool reading C{__consumer_offsets}, find a group where Kafka would.
"""

from __future__ import annotations

__all__ = ["java_string_hash", "partition_for"]


def java_string_hash(text: str) -> int:
    """
    Compute Java's C{String.hashCode} of a string.

    @param text: the string; lone surrogates are taken as the single UTF-16 code
        unit Java would hold for them.
    @return: the hash, a signed 32-bit integer.
    """
    units = text.encode("utf-16-be", "surrogatepass")
    h = 0
    for i in range(0, len(units), 2):
        h = (31 * h + ((units[i] << 8) | units[i + 1])) & 0xFFFFFFFF
    return h - (1 << 32) if h & 0x80000000 else h


def partition_for(group_id: str, partition_count: int) -> int:
    """
    Find the partition of C{__consumer_offsets} that holds a group.

    @param group_id: the group's id.
    @param partition_count: how many partitions C{__consumer_offsets} has
        (C{offsets.topic.num.partitions}).
    @return: the partition, from 0 to C{partition_count - 1}.
    @raise ValueError: if C{partition_count} is not positive.
    """
    if partition_count <= 0:
        raise ValueError(f"partition_count must be positive, not {partition_count}")
    return (java_string_hash(group_id) & 0x7FFFFFFF) % partition_count
