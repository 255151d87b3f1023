"""
DeleteRecords (API key 21), versions 0 to 2: move the log start offset of
partitions, making the records before it unreadable; whole segments below it are
removed by the next retention run.

Each partition names its new log start offset, or -1 for its high watermark, and is
answered with its new low watermark (the smallest log start offset of its replicas).
As in Kafka: an offset past the high watermark, or another negative one, answers
C{OFFSET_OUT_OF_RANGE}; a topic whose C{cleanup.policy} lacks C{delete} answers
C{POLICY_VIOLATION}; the internal topics answer C{INVALID_TOPIC_EXCEPTION}; an unknown
topic or partition C{UNKNOWN_TOPIC_OR_PARTITION}.
"""

from __future__ import annotations

import sys
from typing import Any, Final

import attrs
from kio.static.primitive import i32, i64
from twisted.internet.defer import Deferred, succeed

from odradek.broker.apis._schema import NO_THROTTLE
from odradek.broker.apis.context import RequestContext
from odradek.broker.apis.errors import kio_error_code
from odradek.broker.apis.registry import HandlerRegistry, Outcome
from odradek.broker.config import KafkaConfig
from odradek.broker.log import TopicPartition
from odradek.broker.replication import DeleteRecordsResult, ReplicaManager
from odradek.client.errors import UnknownTopicOrPartitionError
from odradek.client.protocol import ApiKey, VersionRange, response_type

__all__ = ["DELETE_RECORDS_VERSIONS", "DeleteRecordsHandler", "register"]

DELETE_RECORDS_VERSIONS: Final = VersionRange(0, 2)
"""The versions served: all of them."""


# A partition of the request: its index, its name, and the result it already has.
_Slot = tuple[int, TopicPartition, DeleteRecordsResult | None]


@attrs.frozen
class DeleteRecordsHandler:
    """
    Answers DeleteRecords requests; see the module's description.

    @ivar replica_manager: moves the log start offsets.
    """

    replica_manager: ReplicaManager

    def __call__(
        self, context: RequestContext, request: Any
    ) -> Outcome | Deferred[Outcome]:
        metadata = self.replica_manager.metadata
        offsets: dict[TopicPartition, int] = {}
        plan: list[tuple[str, list[_Slot]]] = []
        for topic in request.topics:
            known = metadata.topic(topic.name)
            slots: list[_Slot] = []
            for partition in topic.partitions:
                index = partition.partition_index
                tp = TopicPartition(topic.name, index)
                if known is None or not 0 <= index < known.partition_count:
                    error = UnknownTopicOrPartitionError(
                        f"This server does not host partition {tp}"
                    )
                    slots.append((index, tp, DeleteRecordsResult(error)))
                else:
                    offsets[tp] = partition.offset
                    slots.append((index, tp, None))
            plan.append((topic.name, slots))
        if offsets:
            timeout = request.timeout
            deleted = self.replica_manager.delete_records(
                timeout_ms=round(timeout.total_seconds() * 1000), offsets=offsets
            )
        else:
            deleted = succeed({})
        return deleted.addCallback(self._respond, context.api_version, plan)

    def _respond(
        self,
        results: dict[TopicPartition, DeleteRecordsResult],
        version: int,
        plan: list[tuple[str, list[_Slot]]],
    ) -> Outcome:
        schema = sys.modules[response_type(ApiKey.DELETE_RECORDS, version).__module__]
        topics = []
        for name, slots in plan:
            partitions = []
            for index, tp, early in slots:
                result = early if early is not None else results[tp]
                error = result.error
                partitions.append(
                    schema.DeleteRecordsPartitionResult(
                        partition_index=i32(index),
                        low_watermark=i64(result.low_watermark),
                        error_code=kio_error_code(0 if error is None else error.code),
                    )
                )
            topics.append(
                schema.DeleteRecordsTopicResult(name=name, partitions=tuple(partitions))
            )
        response: Outcome = schema.DeleteRecordsResponse(
            throttle_time=NO_THROTTLE, topics=tuple(topics)
        )
        return response


def register(
    registry: HandlerRegistry,
    replica_manager: ReplicaManager,
    *,
    config: KafkaConfig,
) -> None:
    """
    Register the DeleteRecords handler.

    @param registry: the broker's handlers.
    @param replica_manager: moves the log start offsets.
    @param config: the broker's configuration.
    """
    registry.register(
        ApiKey.DELETE_RECORDS,
        DeleteRecordsHandler(replica_manager),
        DELETE_RECORDS_VERSIONS,
    )
