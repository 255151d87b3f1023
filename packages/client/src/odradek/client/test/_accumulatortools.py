"""
Helpers of the accumulator's tests: a small cluster, an accumulator with
test-friendly settings, and fakes of what it is given.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from odradek.client.network.cluster import ClusterMetadata, Node, PartitionInfo
from odradek.client.producer.accumulator import RecordAccumulator
from odradek.client.producer.buffer import BufferPool
from odradek.client.structs import TopicPartition

__all__ = [
    "JOIN_SECONDS",
    "NODES",
    "T0",
    "T1",
    "T2",
    "T3",
    "FakeSequenceSource",
    "QueuedPool",
    "accumulator",
    "append",
    "cluster",
    "fill",
]

T0, T1, T2, T3 = (TopicPartition("t", p) for p in range(4))
NODES = [Node(0, "a", 9092), Node(1, "b", 9092)]
JOIN_SECONDS = 30.0


def cluster(
    leaders: Mapping[int, int] | None = None, topic: str = "t"
) -> ClusterMetadata:
    """
    Metadata for C{topic}, partitions led as given (by default 0 and 2 by node 0,
    1 and 3 by node 1).
    """
    if leaders is None:
        leaders = {0: 0, 1: 1, 2: 0, 3: 1}
    return ClusterMetadata.from_brokers(
        NODES, [PartitionInfo(topic, p, leader) for p, leader in leaders.items()]
    )


def accumulator(**kwargs: Any) -> RecordAccumulator:
    """
    An accumulator with small, test-friendly settings.
    """
    settings: dict[str, Any] = {
        "batch_size": 1024,
        "linger_ms": 10,
        "retry_backoff_ms": 100,
        "retry_backoff_max_ms": 1000,
        "delivery_timeout_ms": 5000,
        "request_timeout_ms": 1000,
        "buffer_pool": BufferPool(64 * 1024),
    }
    settings.update(kwargs)
    return RecordAccumulator(**settings)


def append(
    acc: RecordAccumulator,
    tp: TopicPartition = T0,
    value: bytes = b"v" * 100,
    now_ms: int = 0,
    callback: Any = None,
) -> Any:
    """
    Append one record with timestamp 1000 and no key.
    """
    return acc.append(tp, 1000, None, value, (), callback, 0, now_ms)


def fill(acc: RecordAccumulator, tp: TopicPartition, batches: int) -> None:
    """
    Append records until C{batches} batches exist for C{tp}.
    """
    made = 0
    while True:
        if append(acc, tp).new_batch_created:
            made += 1
            if made > batches:
                # Went one too far: take the new batch's record out again.
                acc._topics[tp.topic][tp.partition].pop()
                return


@attrs.define
class FakeSequenceSource:
    """
    A transaction manager that hands out sequence numbers.
    """

    producer_id: int = 42
    producer_epoch: int = 7
    transactional: bool = False
    sequences: dict[TopicPartition, int] = attrs.field(factory=dict)

    def producer_id_and_epoch(self) -> tuple[int, int]:
        return self.producer_id, self.producer_epoch

    def next_sequence(self, tp: TopicPartition) -> int:
        return self.sequences.get(tp, 0)

    def increment_sequence(self, tp: TopicPartition, record_count: int) -> None:
        self.sequences[tp] = self.sequences.get(tp, 0) + record_count

    def is_transactional(self) -> bool:
        return self.transactional


class QueuedPool(BufferPool):
    """
    A pool that says a thread is waiting for memory.
    """

    @property
    def queued(self) -> int:
        return 1
