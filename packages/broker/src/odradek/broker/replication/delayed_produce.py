"""
L{DelayedProduce}: an C{acks=-1} produce waiting until every in-sync replica holds
its records, that is, until the high watermark of each partition passes the last
offset appended there.

A partition is done when its high watermark reaches the offset after its records
(answered without error, or with C{NOT_ENOUGH_REPLICAS_AFTER_APPEND} if the ISR
shrank below C{min.insync.replicas} meanwhile), or when the broker lost it or its
leadership. The produce completes when every partition is done; one still waiting
when the request's timeout passes is answered with C{REQUEST_TIMED_OUT}. With one
broker the ISR is the leader alone and the high watermark moves with each append, so
the produce completes as soon as it is made.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import attrs
from twisted.internet.defer import Deferred

from odradek.broker.log import TopicPartition
from odradek.broker.replication.purgatory import DelayedOperation
from odradek.broker.replication.results import PartitionProduceResult
from odradek.client.errors import KafkaError, RequestTimedOutError

if TYPE_CHECKING:
    from odradek.broker.replication.manager import ReplicaManager

__all__ = ["DelayedProduce", "ProducePartitionStatus"]


@attrs.define
class ProducePartitionStatus:
    """
    One partition of a delayed produce.

    @ivar required_offset: the offset the high watermark must reach: the one after
        the last record appended.
    @ivar result: what to answer for the partition.
    @ivar acks_pending: whether the partition is still waiting.
    """

    required_offset: int
    result: PartitionProduceResult
    acks_pending: bool


class DelayedProduce(DelayedOperation):
    """
    A produce waiting for its acknowledgements; see the module's description.

    @ivar statuses: the state of each partition of the request.
    @ivar deferred: fires with each partition's result.
    """

    def __init__(
        self,
        delay_ms: int,
        statuses: Mapping[TopicPartition, ProducePartitionStatus],
        replica_manager: ReplicaManager,
    ) -> None:
        """
        @param delay_ms: the request's timeout.
        @param statuses: see L{statuses}; partitions whose append failed are not
            pending.
        @param replica_manager: where the partitions are found.
        """
        super().__init__(delay_ms)
        self.statuses = dict(statuses)
        self._replica_manager = replica_manager
        self.deferred: Deferred[dict[TopicPartition, PartitionProduceResult]] = (
            Deferred(lambda _: self.cancel())
        )

    def __repr__(self) -> str:
        return f"<DelayedProduce {', '.join(map(str, self.statuses))}>"

    def try_complete(self) -> bool:
        for tp, status in self.statuses.items():
            if not status.acks_pending:
                continue
            error: KafkaError | None
            try:
                partition = self._replica_manager.get_partition_or_raise(tp)
            except KafkaError as e:
                enough, error = False, e
            else:
                enough, error = partition.check_enough_replicas_reach_offset(
                    status.required_offset
                )
            if error is not None or enough:
                status.acks_pending = False
                if error is not None:
                    status.result = attrs.evolve(status.result, error=error)
        if not any(status.acks_pending for status in self.statuses.values()):
            return self.force_complete()
        return False

    def on_complete(self) -> None:
        results: dict[TopicPartition, PartitionProduceResult] = {}
        for tp, status in self.statuses.items():
            result = status.result
            if status.acks_pending:
                result = attrs.evolve(
                    result,
                    error=RequestTimedOutError(
                        f"partition {tp}: the in-sync replicas did not acknowledge"
                        f" the records before offset {status.required_offset} within"
                        f" {self.delay_ms} ms"
                    ),
                )
            results[tp] = result
        self.deferred.callback(results)
