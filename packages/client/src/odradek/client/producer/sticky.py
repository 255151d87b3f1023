"""
The producer's own partitioning of keyless records (KIP-794), used when no
C{partitioner.class} is set: a L{BuiltInPartitioner} per topic keeps a sticky
partition until about C{batch.size} bytes were produced to it, then replaces it by
a partition picked at random among those with a leader, weighted towards shorter
queues when adaptive partitioning has load statistics (L{collect_partition_load},
L{NodeLatencyStats}).

The partitioners of L{odradek.client.producer.partitioner} stick the same way.
Nothing here is thread-safe by itself: the producer calls it under the lock it
takes to append a record. Sans-IO: no clock, no reactor.
"""

from __future__ import annotations

import bisect
import random as _random
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Final

import attrs

from odradek.client.network.cluster import ClusterMetadata
from odradek.client.structs import TopicPartition

__all__ = ["BuiltInPartitioner", "NodeLatencyStats", "collect_partition_load"]

# _random_int and _partition_count are shared with producer/partitioner.py.
_random_int: Final[Callable[[], int]] = partial(_random.Random().getrandbits, 31)


def _partition_count(cluster: ClusterMetadata, topic: str) -> int:
    count = len(cluster.partitions_for_topic(topic))
    if not count:
        raise ValueError(f"no partitions are known for topic {topic!r}")
    return count


def _at_least_one(value: int) -> int:
    return max(1, value)


@attrs.frozen
class _LoadStats:
    """
    A cumulative frequency table: a random number below C{table[-1]} maps to
    C{partition_ids[bisect_right(table, number)]}.
    """

    table: tuple[int, ...]
    partition_ids: tuple[int, ...]


@attrs.define(on_setattr=attrs.setters.NO_OP)
class BuiltInPartitioner:
    """
    The sticky partition of one topic's keyless records (KIP-794), which the
    producer's accumulator drives directly when no C{partitioner.class} is set.

    The accumulator calls it, under its append lock, in this order:

      1. C{partition = peek_current_partition(cluster)} to learn where the record
         goes;
      2. append the record to that partition's open batch;
      3. C{update_partition_info(record_size, cluster)} with the bytes the append
         took, which may switch the sticky partition for the next record. Pass
         C{enable_switch=False} while that partition's last batch is not full yet,
         so that a switch waits for a batch boundary (it happens anyway at twice
         C{batch.size}), and C{enforce_switch=True} to leave a partition at once.

    With C{partitioner.adaptive.partitioning.enable}, the accumulator also passes
    the partitions' queue lengths to L{update_partition_load_stats} each time it
    checks which batches are ready (see L{collect_partition_load}); new sticky
    partitions are then picked with probabilities that fall as queues grow.

    @ivar topic: the topic.
    @ivar sticky_batch_size: how many bytes to produce to a partition before
        switching: C{batch.size}; 0 (no batching) counts as 1.
    @ivar random: returns a random non-negative integer below 2**31; injectable for
        tests.
    """

    topic: str
    sticky_batch_size: int = attrs.field(converter=_at_least_one)
    random: Callable[[], int] = attrs.field(default=_random_int, kw_only=True)
    _current: int = attrs.field(default=-1, init=False)
    _produced_bytes: int = attrs.field(default=0, init=False)
    _load_stats: _LoadStats | None = attrs.field(default=None, init=False)

    def peek_current_partition(self, cluster: ClusterMetadata) -> int:
        """
        @param cluster: the current metadata, which must know the topic's
            partitions; used only when no partition was chosen yet.
        @return: the partition a keyless record goes to now.
        """
        if self._current < 0:
            self._current = self._next_partition(cluster)
            self._produced_bytes = 0
        return self._current

    def update_partition_info(
        self,
        appended_bytes: int,
        cluster: ClusterMetadata,
        enforce_switch: bool = False,
        *,
        enable_switch: bool = True,
    ) -> None:
        """
        Count bytes appended to the current sticky partition and switch to another
        once C{sticky_batch_size} bytes were produced to it.

        @param appended_bytes: the size the record took in its batch.
        @param cluster: the current metadata, to choose the next partition.
        @param enforce_switch: switch now, however many bytes were produced.
        @param enable_switch: when C{False} (the partition's open batch is not
            full yet) switch only after twice C{sticky_batch_size} bytes.
        """
        if self._current < 0:
            self.peek_current_partition(cluster)
        self._produced_bytes += appended_bytes
        produced, size = self._produced_bytes, self.sticky_batch_size
        if (
            enforce_switch
            or (enable_switch and produced >= size)
            or produced >= 2 * size
        ):
            self._current = self._next_partition(cluster)
            self._produced_bytes = 0

    def update_partition_load_stats(
        self,
        queue_sizes: Sequence[int] | None,
        partition_ids: Sequence[int],
        length: int,
    ) -> None:
        """
        Set the load statistics that weight the choice of the next partition.

        @param queue_sizes: how many batches wait in the queue of each partition
            with a leader, or C{None} to go back to a uniform choice.
        @param partition_ids: the partition of each queue size.
        @param length: how many leading entries to use; partitions left out
            beyond it are those excluded by C{partitioner.availability.timeout.ms}.
            The full length of C{queue_sizes} is the count of partitions.
        """
        self._load_stats = None
        if queue_sizes is None or length < 1 or len(queue_sizes) < 2:
            return
        sizes = queue_sizes[:length]
        most = max(sizes)
        if length == len(queue_sizes) and min(sizes) == most:
            return
        table: list[int] = []
        total = 0
        for size in sizes:
            total += most + 1 - size
            table.append(total)
        self._load_stats = _LoadStats(tuple(table), tuple(partition_ids[:length]))

    @property
    def load_stats_range_end(self) -> int | None:
        """
        The sum of the weights of the current load statistics (the last entry of
        their cumulative frequency table), or C{None} when the choice is uniform.
        """
        stats = self._load_stats
        return None if stats is None else stats.table[-1]

    def _next_partition(self, cluster: ClusterMetadata) -> int:
        number = self.random()
        stats = self._load_stats
        if stats is not None:
            index = bisect.bisect_right(stats.table, number % stats.table[-1])
            return stats.partition_ids[index]
        available = cluster.available_partitions_for_topic(self.topic)
        if available:
            return available[number % len(available)].partition
        return number % _partition_count(cluster, self.topic)


@attrs.define
class NodeLatencyStats:
    """
    When a broker last had batches ready to send and when it last took some, as the
    accumulator records them for C{partitioner.availability.timeout.ms}.

    The accumulator sets C{ready_time_ms} to the time of each readiness check that
    finds batches for the node, and C{drain_time_ms} to the time it drains batches
    for it; a node whose ready time runs ahead of its drain time by more than the
    timeout is not accepting produce requests fast enough.

    @ivar ready_time_ms: last time batches were ready for the node.
    @ivar drain_time_ms: last time batches were drained for it.
    """

    ready_time_ms: int
    drain_time_ms: int


def collect_partition_load(
    topic: str,
    cluster: ClusterMetadata,
    queue_sizes: Mapping[int, int],
    node_stats: Mapping[int, NodeLatencyStats] | None = None,
    availability_timeout_ms: int = 0,
) -> tuple[list[int], list[int], int] | None:
    """
    Build the arguments of L{BuiltInPartitioner.update_partition_load_stats} from
    the accumulator's queues, as Java's C{RecordAccumulator.partitionReady} does.

    @param topic: the topic.
    @param cluster: the current metadata.
    @param queue_sizes: for each partition the accumulator has a queue for, how
        many batches it holds.
    @param node_stats: latency statistics by leader node id.
    @param availability_timeout_ms: C{partitioner.availability.timeout.ms}; when
        positive, partitions with batches waiting whose leader's ready time is
        ahead of its drain time by more than this are left out.
    @return: C{(queue_sizes, partition_ids, length)}, or C{None} (choose
        uniformly) until the accumulator has a queue for every partition.
    """
    if len(queue_sizes) < len(cluster.partitions_for_topic(topic)):
        return None
    sizes = [0] * len(queue_sizes)
    ids = [0] * len(queue_sizes)
    length = 0
    stats = node_stats or {}
    for partition in sorted(queue_sizes):
        leader = cluster.leader_for(TopicPartition(topic, partition))
        if leader is None:
            continue
        size = queue_sizes[partition]
        if size and availability_timeout_ms > 0:
            latency = stats.get(leader.node_id)
            if (
                latency is not None
                and latency.ready_time_ms - latency.drain_time_ms
                > availability_timeout_ms
            ):
                continue
        sizes[length] = size
        ids[length] = partition
        length += 1
    return sizes, ids, length
