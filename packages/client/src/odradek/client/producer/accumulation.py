"""
What the L{RecordAccumulator<odradek.client.producer.accumulator.RecordAccumulator>}
hands back and what it needs: the outcome of an append (L{RecordAppendResult}), of
a readiness check (L{ReadyCheckResult}) and of beginning a flush (L{FlushHandle});
the idempotent producer's sequence numbers (L{SequenceSource}) and the settings it
is made from (L{AccumulatorConfig}); the rule that says which batches may be sent
(L{ready_check}); and two small parts of its state, the compression ratio
estimates of topics (L{CompressionRatioEstimator}) and the order in which it
drains partitions (L{DrainOrder}). Sans-IO.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable, Sequence
from typing import Protocol

import attrs

from odradek.client.network.cluster import ClusterMetadata
from odradek.client.producer.batch import ProducerBatch
from odradek.client.producer.future import FutureRecordMetadata, ProduceRequestResult
from odradek.client.structs import TopicPartition

__all__ = [
    "AccumulatorConfig",
    "CompressionRatioEstimator",
    "DrainOrder",
    "FlushHandle",
    "ReadyCheckResult",
    "RecordAppendResult",
    "SequenceSource",
    "ready_check",
]


class SequenceSource(Protocol):
    """What the accumulator needs of the idempotent producer's transaction manager."""

    def producer_id_and_epoch(self) -> tuple[int, int]:
        """@return: the producer id and epoch; C{(-1, -1)} stops draining."""

    def next_sequence(self, tp: TopicPartition) -> int:
        """@return: the sequence number of C{tp}'s next batch."""

    def increment_sequence(self, tp: TopicPartition, record_count: int) -> None:
        """Count C{record_count} records drained for C{tp}."""

    def is_transactional(self) -> bool:
        """@return: whether the producer has a C{transactional.id}."""


class AccumulatorConfig(Protocol):
    """
    The settings L{RecordAccumulator.from_config
    <odradek.client.producer.accumulator.RecordAccumulator.from_config>} reads, by
    their snake-case names (a C{ProducerConfig} has them all).
    """

    @property
    def batch_size(self) -> int: ...
    @property
    def compression_type(self) -> str: ...
    @property
    def linger_ms(self) -> int: ...
    @property
    def retry_backoff_ms(self) -> int: ...
    @property
    def delivery_timeout_ms(self) -> int: ...
    @property
    def request_timeout_ms(self) -> int: ...


class RecordAppendResult:
    """
    What L{RecordAccumulator.append
    <odradek.client.producer.accumulator.RecordAccumulator.append>} did (a plain
    slotted class: one per record).

    @ivar future: the record's future, or C{None} if C{abort_for_new_batch}.
    @ivar batch_is_full: whether a batch of the partition is full (wake the Sender).
    @ivar new_batch_created: whether the record started a new batch.
    @ivar abort_for_new_batch: whether nothing was appended: a new batch was needed
        and the caller asked to pick another partition first.
    """

    __slots__ = ("abort_for_new_batch", "batch_is_full", "future", "new_batch_created")

    def __init__(
        self,
        future: FutureRecordMetadata | None,
        batch_is_full: bool,
        new_batch_created: bool,
        abort_for_new_batch: bool,
    ) -> None:
        self.future = future
        self.batch_is_full = batch_is_full
        self.new_batch_created = new_batch_created
        self.abort_for_new_batch = abort_for_new_batch


@attrs.frozen
class ReadyCheckResult:
    """
    What L{RecordAccumulator.ready
    <odradek.client.producer.accumulator.RecordAccumulator.ready>} found.

    @ivar ready_nodes: the ids of the leaders with a batch to send now.
    @ivar next_ready_check_delay_ms: how long until a waiting batch may become
        sendable or expire.
    @ivar unknown_leader_topics: topics with batches for partitions without a known
        leader (refresh the metadata).
    """

    ready_nodes: frozenset[int]
    next_ready_check_delay_ms: int
    unknown_leader_topics: frozenset[str]


@attrs.frozen(eq=False)
class FlushHandle:
    """
    The batches a flush waits for: those incomplete when it began.

    @ivar results: their results.
    """

    results: tuple[ProduceRequestResult, ...]

    def done(self) -> bool:
        """@return: whether every batch completed."""
        return all(result.done() for result in self.results)

    def wait(self, timeout_seconds: float | None, clock: Callable[[], float]) -> bool:
        """
        Block the calling thread until every batch completes. Never call it on the
        thread that completes batches.

        @param timeout_seconds: the longest wait, or C{None} to wait for ever.
        @param clock: a monotonic clock in seconds, for the deadline.
        @return: whether they all completed in time.
        """
        deadline = None if timeout_seconds is None else clock() + timeout_seconds
        for result in self.results:
            left = None if deadline is None else max(deadline - clock(), 0)
            if not result.wait(left):
                return False
        return True


def ready_check(
    queues: Iterable[Sequence[ProducerBatch]],
    cluster: ClusterMetadata,
    muted: Container[TopicPartition],
    linger_ms: int,
    delivery_timeout_ms: int,
    forced: bool,
    now_ms: int,
) -> ReadyCheckResult:
    """
    Find the leaders with a batch to send, from the first batch of each partition's
    queue: it is sendable when full or followed by another batch, when it lingered
    C{linger_ms} (a retry: once backed off), or at once if C{forced}. Muted
    partitions are skipped.

    @param queues: every partition's queue of batches, oldest first.
    @param cluster: the current metadata.
    @param muted: the partitions held back.
    @param linger_ms: C{linger.ms}.
    @param delivery_timeout_ms: C{delivery.timeout.ms}; the next check comes no
        later than the expiry of a queue's first batch.
    @param forced: whether every batch is sendable now.
    @param now_ms: the current time in milliseconds.
    @return: the leaders found, and when to check again.
    """
    ready_nodes: set[int] = set()
    unknown: set[str] = set()
    next_delay = delivery_timeout_ms
    for dq in queues:
        if not dq:
            continue
        batch = dq[0]
        expiry_delay = batch.created_ms + delivery_timeout_ms - now_ms
        next_delay = min(next_delay, max(expiry_delay, 0))
        tp = batch.topic_partition
        leader = cluster.leader_for(tp)
        if leader is None:
            unknown.add(tp.topic)
            continue
        if leader.node_id in ready_nodes or tp in muted:
            continue
        waited = max(0, now_ms - batch.last_attempt_ms)
        backing_off = batch.attempts > 0 and waited < batch.retry_backoff_ms
        time_to_wait = batch.retry_backoff_ms if backing_off else linger_ms
        if not backing_off and (
            forced or waited >= time_to_wait or len(dq) > 1 or batch.is_full()
        ):
            ready_nodes.add(leader.node_id)
        else:
            next_delay = min(next_delay, max(time_to_wait - waited, 0))
    return ReadyCheckResult(frozenset(ready_nodes), next_delay, frozenset(unknown))


@attrs.define
class CompressionRatioEstimator:
    """
    How well each topic's batches compress, as Kafka's C{CompressionRatioEstimator}
    keeps it: new batches are sized by it. An estimate starts at 1.0 and moves
    quickly towards a worse observed ratio, slowly towards a better one.
    """

    _ratios: dict[str, float] = attrs.field(factory=dict, init=False)

    def estimation(self, topic: str) -> float:
        """
        @param topic: a topic.
        @return: its estimate, 1.0 until one of its batches was observed.
        """
        return self._ratios.get(topic, 1.0)

    def observe(self, topic: str, compressed_size: int, uncompressed_size: int) -> None:
        """
        Move a topic's estimate towards the ratio one of its batches achieved.

        @param topic: the batch's topic.
        @param compressed_size: the size of the batch's records, compressed.
        @param uncompressed_size: their size uncompressed; if not positive, nothing
            changes.
        """
        if uncompressed_size <= 0:
            return
        observed = compressed_size / uncompressed_size
        current = self.estimation(topic)
        if observed > current:
            current = max(current + 0.05, observed)
        elif observed < current:
            current = max(current - 0.005, observed)
        self._ratios[topic] = current


@attrs.define
class DrainOrder:
    """
    The partitions each node leads, as of the last metadata snapshot seen, and
    where each node's next drain starts, so that every partition gets its turn.
    """

    _cluster: ClusterMetadata | None = attrs.field(default=None, init=False)
    _by_node: dict[int, list[TopicPartition]] = attrs.field(factory=dict, init=False)
    _starts: dict[int, int] = attrs.field(factory=dict, init=False)

    def partitions(
        self, cluster: ClusterMetadata, node_id: int
    ) -> list[TopicPartition]:
        """
        @param cluster: the current metadata.
        @param node_id: a node.
        @return: the partitions with a leader that C{node_id} leads, in a fixed
            order while the snapshot is the same.
        """
        if cluster is not self._cluster:
            by_node: dict[int, list[TopicPartition]] = {}
            for infos in cluster.partitions.values():
                for info in infos:
                    if info.leader != -1:
                        by_node.setdefault(info.leader, []).append(info.topic_partition)
            self._cluster, self._by_node = cluster, by_node
        return self._by_node.get(node_id, [])

    def start(self, node_id: int, count: int) -> int:
        """
        Where to start draining a node, and start the next drain one further.

        @param node_id: the node.
        @param count: how many partitions it leads; positive.
        @return: the index of the first partition to drain.
        """
        start = self._starts.get(node_id, 0) % count
        self._starts[node_id] = (start + 1) % count
        return start

    def resume_at(self, node_id: int, index: int) -> None:
        """
        Start the next drain of a node at a partition this drain left out.

        @param node_id: the node.
        @param index: the index of the partition.
        """
        self._starts[node_id] = index
