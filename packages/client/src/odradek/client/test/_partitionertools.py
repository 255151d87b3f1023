"""
A small cluster and a counting random source for the tests of the producer's
partitioners (L{odradek.client.producer.partitioner}) and of its sticky
partitioning (L{odradek.client.producer.sticky}).
"""

from __future__ import annotations

import itertools

from odradek.client.network.cluster import ClusterMetadata, Node, PartitionInfo

NODES = (
    Node(0, "localhost", 99),
    Node(1, "localhost", 100),
    Node(2, "localhost", 101),
    Node(11, "localhost", 102),
)
NO_LEADER = -1


def make_cluster(*partitions: tuple[str, int, int]) -> ClusterMetadata:
    """
    A cluster of L{NODES} with the given C{(topic, partition, leader)} partitions;
    a leader of -1 means none.
    """
    return ClusterMetadata.from_brokers(
        NODES,
        [PartitionInfo(topic, index, leader) for topic, index, leader in partitions],
    )


def sequential() -> itertools.count[int]:
    """A random source that counts 0, 1, 2 ... (Java's SequentialPartitioner)."""
    return itertools.count()


THREE = make_cluster(("a", 0, 0), ("a", 1, 1), ("a", 2, 2), ("b", 0, 0))
"""Topic C{a} with partitions 0, 1 and 2 led by nodes 0, 1 and 2; C{b} with one."""
