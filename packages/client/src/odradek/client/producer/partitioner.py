"""
Choosing the partition of a record the application did not assign to one.

With no C{partitioner.class} set, the producer partitions itself, as Apache Kafka's
Java producer does since KIP-794: a keyed record goes to
C{to_positive(murmur2(key_bytes)) % partition_count} (see L{partition_for_key}),
over all partitions, unless C{partitioner.ignore.keys} is set; a keyless record
goes to the topic's current sticky partition, which a L{BuiltInPartitioner} (one per
topic) keeps until about C{batch.size} bytes were produced to it, then replaces by
a partition picked at random among those with a leader, weighted towards shorter
queues when adaptive partitioning has load statistics.

A C{partitioner.class} is an L{IPartitioner}: L{DefaultPartitioner} and
L{UniformStickyPartitioner} (the same behaviour behind that interface, for
configurations that name Java's classes) or L{RoundRobinPartitioner}, or the
application's own. L{resolve_partitioner} makes and configures one.

Nothing here is thread-safe by itself: the producer calls partitioners under the
lock it takes to append a record. Sans-IO: no clock, no reactor.
"""

from __future__ import annotations

import bisect
import random as _random
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Final

import attrs
from zope.interface import Interface, implementer

from odradek.client._configdef import BOOLEAN, INT, ConfigError, load_object
from odradek.client.network.cluster import ClusterMetadata
from odradek.client.producer.murmur2 import murmur2, partition_for_key, to_positive
from odradek.client.records.builder import RecordBatchBuilder
from odradek.client.structs import TopicPartition

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

_random_int: Final[Callable[[], int]] = partial(_random.Random().getrandbits, 31)


class IPartitioner(Interface):
    """
    Chooses the partition of records sent without one (Kafka's C{Partitioner}).
    """

    def partition(
        topic: str,
        key: object,
        key_bytes: bytes | None,
        value: object,
        value_bytes: bytes | None,
        cluster: ClusterMetadata,
    ) -> int:
        """
        Choose the partition of one record.

        @param topic: the record's topic; C{cluster} knows its partitions.
        @param key: the key before serialization, or C{None}.
        @param key_bytes: the serialized key, or C{None}.
        @param value: the value before serialization, or C{None}.
        @param value_bytes: the serialized value, or C{None}.
        @param cluster: the current snapshot of the cluster's metadata.
        @return: a partition of C{topic}, from 0; never negative.
        """

    def configure(configs: Mapping[str, object]) -> None:
        """
        Receive the producer's configuration, once, before the first record.

        @param configs: every setting by Kafka's dotted name (C{"batch.size"}).
        """

    def close() -> None:
        """
        Release what the partitioner holds; the producer is closing.
        """


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


@attrs.define
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


def _setting(
    configs: Mapping[str, object],
    name: str,
    default: object,
    parse: Callable[..., object],
) -> object:
    return parse(name, configs.get(name, default))


@attrs.define
class _StickyPartitioning:
    """
    KIP-794 sticky partitioning behind L{IPartitioner}: one L{BuiltInPartitioner}
    per topic, fed with each record's size in its batch.
    """

    random: Callable[[], int] = attrs.field(default=_random_int, kw_only=True)
    _batch_size: int = attrs.field(default=16384, init=False)
    _sticky: dict[str, BuiltInPartitioner] = attrs.field(factory=dict, init=False)

    def configure(self, configs: Mapping[str, object]) -> None:
        size = _setting(configs, "batch.size", 16384, INT.parse)
        assert isinstance(size, int)
        self._batch_size = max(1, size)

    def _sticky_partition(
        self,
        topic: str,
        key_bytes: bytes | None,
        value_bytes: bytes | None,
        cluster: ClusterMetadata,
    ) -> int:
        sticky = self._sticky.get(topic)
        if sticky is None:
            sticky = BuiltInPartitioner(topic, self._batch_size, random=self.random)
            self._sticky[topic] = sticky
        partition = sticky.peek_current_partition(cluster)
        sticky.update_partition_info(
            RecordBatchBuilder.record_size_in_bytes(0, 0, key_bytes, value_bytes),
            cluster,
        )
        return partition

    def close(self) -> None:
        self._sticky.clear()


@implementer(IPartitioner)
@attrs.define
class DefaultPartitioner(_StickyPartitioning):
    """
    Keyed records by the murmur2 hash of their key over all partitions (unless
    C{partitioner.ignore.keys}); keyless records stick to a partition until about
    C{batch.size} bytes went to it (KIP-794), as the producer does on its own.

    @ivar random: returns a random non-negative integer below 2**31.
    """

    _ignore_keys: bool = attrs.field(default=False, init=False)

    def configure(self, configs: Mapping[str, object]) -> None:
        super().configure(configs)
        ignore = _setting(configs, "partitioner.ignore.keys", False, BOOLEAN.parse)
        self._ignore_keys = bool(ignore)

    def partition(
        self,
        topic: str,
        key: object,
        key_bytes: bytes | None,
        value: object,
        value_bytes: bytes | None,
        cluster: ClusterMetadata,
    ) -> int:
        if key_bytes is not None and not self._ignore_keys:
            return partition_for_key(key_bytes, _partition_count(cluster, topic))
        return self._sticky_partition(topic, key_bytes, value_bytes, cluster)


@implementer(IPartitioner)
@attrs.define
class UniformStickyPartitioner(_StickyPartitioning):
    """
    Every record, keyed or not, sticks to a partition until about C{batch.size}
    bytes went to it, then another is picked among those with a leader (KIP-794).

    @ivar random: returns a random non-negative integer below 2**31.
    """

    def partition(
        self,
        topic: str,
        key: object,
        key_bytes: bytes | None,
        value: object,
        value_bytes: bytes | None,
        cluster: ClusterMetadata,
    ) -> int:
        return self._sticky_partition(topic, key_bytes, value_bytes, cluster)


@implementer(IPartitioner)
@attrs.define
class RoundRobinPartitioner:
    """
    Each record of a topic to the next partition in turn, among the partitions
    with a leader (among all when none has one), whatever its key.

    A producer that retries a record's partitioning because the record opened a
    new batch tells it so through C{_on_new_batch}; the partition chosen first is
    then handed out again instead of skipping it.
    """

    _counters: dict[str, int] = attrs.field(factory=dict, init=False)
    _queues: dict[str, deque[int]] = attrs.field(factory=dict, init=False)

    def configure(self, configs: Mapping[str, object]) -> None:
        pass

    def partition(
        self,
        topic: str,
        key: object,
        key_bytes: bytes | None,
        value: object,
        value_bytes: bytes | None,
        cluster: ClusterMetadata,
    ) -> int:
        queue = self._queues.get(topic)
        if queue:
            return queue.popleft()
        counter = self._counters.get(topic, 0)
        self._counters[topic] = (counter + 1) & 0xFFFFFFFF
        available = cluster.available_partitions_for_topic(topic)
        if available:
            return available[to_positive(counter) % len(available)].partition
        return to_positive(counter) % _partition_count(cluster, topic)

    def _on_new_batch(
        self, topic: str, cluster: ClusterMetadata, prev_partition: int
    ) -> None:
        """
        The record just given C{prev_partition} opened a new batch and will be
        partitioned again: hand C{prev_partition} out next.
        """
        self._queues.setdefault(topic, deque()).append(prev_partition)

    def close(self) -> None:
        self._counters.clear()
        self._queues.clear()


_JAVA_PARTITIONERS: Final[Mapping[str, type]] = {
    "org.apache.kafka.clients.producer.internals.DefaultPartitioner": (
        DefaultPartitioner
    ),
    "org.apache.kafka.clients.producer.UniformStickyPartitioner": (
        UniformStickyPartitioner
    ),
    "org.apache.kafka.clients.producer.RoundRobinPartitioner": RoundRobinPartitioner,
}


def load_partitioner_class(spec: object) -> type | IPartitioner | None:
    """
    Check a C{partitioner.class} setting without instantiating anything, as Kafka
    loads the class when it parses its configuration.

    @param spec: C{None}; an import path (C{"pkg.mod:Name"} or C{"pkg.mod.Name"})
        or the name of one of Java's partitioners, which maps to the one here of the
        same name; a class implementing L{IPartitioner}; or an instance providing it.
    @return: C{None}, the class or the instance.
    @raise ConfigError: if C{spec} is none of those.
    """
    if spec is None:
        return None
    obj = spec
    if isinstance(spec, str):
        obj = _JAVA_PARTITIONERS.get(spec.strip())
        if obj is None:
            try:
                obj = load_object(spec.strip())
            except ValueError as e:
                raise ConfigError(
                    f"no partitioner at {spec!r}: {e}", value=spec
                ) from None
    if isinstance(obj, type):
        if IPartitioner.implementedBy(obj):
            return obj
    elif IPartitioner.providedBy(obj):
        return obj
    raise ConfigError(f"{spec!r} is not an IPartitioner class or instance", value=spec)


def resolve_partitioner(
    spec: object, configs: Mapping[str, object] | None = None
) -> IPartitioner | None:
    """
    Make the partitioner a C{partitioner.class} setting names, configured.

    @param spec: as for L{load_partitioner_class}; a class is instantiated without
        arguments.
    @param configs: the producer's settings by dotted name (see
        C{ProducerConfig.values}), passed to the partitioner's C{configure}.
    @return: the partitioner, or C{None} for the producer's built-in partitioning.
    @raise ConfigError: if C{spec} names no partitioner.
    """
    obj = load_partitioner_class(spec)
    if obj is None:
        return None
    partitioner: IPartitioner = obj() if isinstance(obj, type) else obj
    partitioner.configure(configs or {})
    return partitioner
