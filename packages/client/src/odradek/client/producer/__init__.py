"""
The producer: partitioning records (L{IPartitioner} and its implementations, and
the built-in sticky partitioning of KIP-794) and, as they arrive, the record
accumulator, the sender and the producer itself.
"""

from odradek.client.producer.murmur2 import murmur2, partition_for_key, to_positive
from odradek.client.producer.partitioner import (
    DefaultPartitioner,
    IPartitioner,
    RoundRobinPartitioner,
    UniformStickyPartitioner,
    load_partitioner_class,
    resolve_partitioner,
)
from odradek.client.producer.sticky import (
    BuiltInPartitioner,
    NodeLatencyStats,
    collect_partition_load,
)

__all__ = [
    "BuiltInPartitioner",
    "DefaultPartitioner",
    "IPartitioner",
    "NodeLatencyStats",
    "RoundRobinPartitioner",
    "UniformStickyPartitioner",
    "collect_partition_load",
    "load_partitioner_class",
    "murmur2",
    "partition_for_key",
    "resolve_partitioner",
    "to_positive",
]
