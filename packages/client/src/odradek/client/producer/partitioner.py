"""
Choosing the partition of a record the application did not assign to one.

With no C{partitioner.class} set, the producer partitions itself, as Apache Kafka's
Java producer does since KIP-794: a keyed record goes to
C{to_positive(murmur2(key_bytes)) % partition_count} (see L{partition_for_key}),
over all partitions, unless C{partitioner.ignore.keys} is set; a keyless record
goes to the topic's current sticky partition, which a L{BuiltInPartitioner} (one per
topic, see L{odradek.client.producer.sticky}) keeps until about C{batch.size} bytes
were produced to it, then replaces by a partition picked at random among those with
a leader, weighted towards shorter queues when adaptive partitioning has load
statistics.

A C{partitioner.class} is an L{IPartitioner}: L{DefaultPartitioner} and
L{UniformStickyPartitioner} (the same behaviour behind that interface, for
configurations that name Java's classes) or L{RoundRobinPartitioner}, or the
application's own. L{resolve_partitioner} makes and configures one.

Nothing here is thread-safe by itself: the producer calls partitioners under the
lock it takes to append a record. Sans-IO: no clock, no reactor.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from typing import Final

import attrs
from zope.interface import Interface, implementer

from odradek.client._configtypes import BOOLEAN, INT, ConfigError, load_object
from odradek.client.network.cluster import ClusterMetadata
from odradek.client.producer.murmur2 import murmur2, partition_for_key, to_positive
from odradek.client.producer.sticky import (
    BuiltInPartitioner,
    _partition_count,
    _random_int,
)
from odradek.client.records.builder import RecordBatchBuilder

__all__ = [
    "DefaultPartitioner",
    "IPartitioner",
    "RoundRobinPartitioner",
    "UniformStickyPartitioner",
    "load_partitioner_class",
    "murmur2",
    "partition_for_key",
    "resolve_partitioner",
    "to_positive",
]


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
