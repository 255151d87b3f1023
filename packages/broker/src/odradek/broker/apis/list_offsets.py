"""
ListOffsets (API key 2), versions 1 to 10: find the offset of a partition for a
timestamp.

The timestamp is milliseconds since the epoch (the first record at or after it,
found through the time index), or one of Kafka's special values, each from the
version that introduced it:

  - -1, latest: the high watermark (read_uncommitted) or the last stable offset
    (read_committed) for a consumer, the log end offset for a replica; with the
    partition's leader epoch;
  - -2, earliest, and -4 (version 8), earliest local: the log start offset (there is
    no remote storage, so both are the same);
  - -3 (version 7), max timestamp: the first record holding the partition's largest
    timestamp;
  - -5 (version 9), latest tiered: offset -1, as Kafka answers without tiered
    storage.

Any other negative timestamp, or a special one older than its version, answers
C{UNSUPPORTED_VERSION} for its partition; a partition named twice answers
C{INVALID_REQUEST} each time. A lookup by time that finds no visible record answers
timestamp and offset -1 without error. C{OFFSET_NOT_AVAILABLE} (after a leader
change, while the high watermark catches up) becomes C{LEADER_NOT_AVAILABLE} before
version 5, as in Kafka. Version 11 (KIP-1023's -6) is not served.

The replica id says who asks: -1 a consumer (with its isolation level, from version
2), -2 a debugging client, which may also ask a follower and sees up to the log end,
any other id a replica, which sees up to the log end.
"""

from __future__ import annotations

import collections
import sys
from typing import Any, Final

import attrs
from kio.static.primitive import i32, i64
from kio.static.protocol import ResponsePayload

from odradek.broker.apis._schema import NO_THROTTLE
from odradek.broker.apis.context import RequestContext
from odradek.broker.apis.errors import kio_error_code
from odradek.broker.apis.registry import HandlerRegistry
from odradek.broker.config import KafkaConfig
from odradek.broker.log import TimestampAndOffset, TopicPartition
from odradek.broker.replication import (
    CONSUMER_REPLICA_ID,
    DEBUGGING_REPLICA_ID,
    IsolationLevel,
    ReplicaManager,
)
from odradek.client.errors import (
    InvalidRequestError,
    KafkaError,
    LeaderNotAvailableError,
    OffsetNotAvailableError,
    UnsupportedVersionError,
)
from odradek.client.protocol import ApiKey, VersionRange, response_type

__all__ = ["LIST_OFFSETS_VERSIONS", "ListOffsetsHandler", "register"]

LIST_OFFSETS_VERSIONS: Final = VersionRange(1, 10)
"""The versions served: Apache Kafka 4.0's."""


#: The first version in which each special timestamp may be asked for.
_SPECIAL_TIMESTAMP_VERSIONS: Final = {-1: 1, -2: 1, -3: 7, -4: 8, -5: 9}

_FIRST_ISOLATION_VERSION: Final = 2
_FIRST_THROTTLE_VERSION: Final = 2
_FIRST_LEADER_EPOCH_VERSION: Final = 4
_FIRST_OFFSET_NOT_AVAILABLE_VERSION: Final = 5


@attrs.frozen
class ListOffsetsHandler:
    """
    Answers ListOffsets requests; see the module's description.

    @ivar replica_manager: looks the offsets up.
    """

    replica_manager: ReplicaManager

    def __call__(self, context: RequestContext, request: Any) -> ResponsePayload:
        version = context.api_version
        replica_id = request.replica_id
        isolation_level: IsolationLevel | None = None
        if replica_id == CONSUMER_REPLICA_ID:
            level = (
                request.isolation_level if version >= _FIRST_ISOLATION_VERSION else 0
            )
            try:
                isolation_level = IsolationLevel(level)
            except ValueError:
                raise InvalidRequestError(f"unknown isolation level {level}") from None
        counts = collections.Counter(
            (topic.name, partition.partition_index)
            for topic in request.topics
            for partition in topic.partitions
        )
        schema = sys.modules[response_type(ApiKey.LIST_OFFSETS, version).__module__]
        topics = []
        for topic in request.topics:
            partitions = []
            for partition in topic.partitions:
                index = partition.partition_index
                found: TimestampAndOffset | KafkaError
                if counts[topic.name, index] > 1:
                    found = InvalidRequestError(
                        f"partition {topic.name}-{index} is listed more than once"
                    )
                else:
                    found = self._lookup(
                        version,
                        TopicPartition(topic.name, index),
                        partition,
                        isolation_level,
                        fetch_only_from_leader=replica_id != DEBUGGING_REPLICA_ID,
                    )
                partitions.append(_partition_response(schema, version, index, found))
            topics.append(
                schema.ListOffsetsTopicResponse(
                    name=topic.name, partitions=tuple(partitions)
                )
            )
        values: dict[str, Any] = {"topics": tuple(topics)}
        if version >= _FIRST_THROTTLE_VERSION:
            values["throttle_time"] = NO_THROTTLE
        response: ResponsePayload = schema.ListOffsetsResponse(**values)
        return response

    def _lookup(
        self,
        version: int,
        tp: TopicPartition,
        partition: Any,
        isolation_level: IsolationLevel | None,
        *,
        fetch_only_from_leader: bool,
    ) -> TimestampAndOffset | KafkaError:
        timestamp = partition.timestamp
        if timestamp < 0 and version < _SPECIAL_TIMESTAMP_VERSIONS.get(
            timestamp, sys.maxsize
        ):
            return UnsupportedVersionError(
                f"timestamp {timestamp} cannot be asked for in ListOffsets version"
                f" {version}"
            )
        epoch = (
            partition.current_leader_epoch
            if version >= _FIRST_LEADER_EPOCH_VERSION
            else -1
        )
        try:
            return self.replica_manager.fetch_offset_for_timestamp(
                tp,
                timestamp,
                isolation_level=isolation_level,
                current_leader_epoch=epoch,
                fetch_only_from_leader=fetch_only_from_leader,
            )
        except OffsetNotAvailableError as e:
            if version < _FIRST_OFFSET_NOT_AVAILABLE_VERSION:
                return LeaderNotAvailableError(e.message)
            return e
        except KafkaError as e:
            return e


def _partition_response(
    schema: Any, version: int, index: int, found: TimestampAndOffset | KafkaError
) -> Any:
    values: dict[str, Any] = {"partition_index": i32(index)}
    if isinstance(found, KafkaError):
        values.update(
            error_code=kio_error_code(found.code), timestamp=i64(-1), offset=i64(-1)
        )
        return schema.ListOffsetsPartitionResponse(**values)
    values.update(
        error_code=kio_error_code(0),
        timestamp=i64(found.timestamp),
        offset=i64(found.offset),
    )
    if version >= _FIRST_LEADER_EPOCH_VERSION:
        values["leader_epoch"] = i32(found.leader_epoch)
    return schema.ListOffsetsPartitionResponse(**values)


def register(
    registry: HandlerRegistry,
    replica_manager: ReplicaManager,
    *,
    config: KafkaConfig,
) -> None:
    """
    Register the ListOffsets handler.

    @param registry: the broker's handlers.
    @param replica_manager: looks the offsets up.
    @param config: the broker's configuration.
    """
    registry.register(
        ApiKey.LIST_OFFSETS, ListOffsetsHandler(replica_manager), LIST_OFFSETS_VERSIONS
    )
