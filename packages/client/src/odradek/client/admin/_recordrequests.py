"""
The admin client's requests about partitions' logs and the answers to them:
DeleteRecords and ListOffsets (sent to each partition's leader) and
DescribeLogDirs (sent to each broker asked). Sans-IO.

Each builder takes the version negotiated with the broker; each parser returns,
per partition or log directory, the value or the L{KafkaError
<odradek.client.errors.KafkaError>} of its error code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kio.static.protocol import RequestPayload, ResponsePayload

from odradek.client import errors
from odradek.client.admin._kiohelpers import (
    check_response,
    error_or_none,
    nested,
    request_class,
)
from odradek.client.admin._recordtypes import (
    DeletedRecords,
    ListOffsetsResultInfo,
    LogDirDescription,
    ReplicaInfo,
)
from odradek.client.admin._requests import timeout_field
from odradek.client.protocol import ApiKey
from odradek.client.structs import TopicPartition

__all__ = [
    "ISOLATION_LEVELS",
    "delete_records_request",
    "describe_log_dirs_request",
    "list_offsets_request",
    "parse_delete_records",
    "parse_describe_log_dirs",
    "parse_list_offsets",
]

#: The isolation levels of ListOffsets, by Kafka's names.
ISOLATION_LEVELS: Mapping[str, int] = {"read_uncommitted": 0, "read_committed": 1}

#: The replica id a client (not a follower) sends in ListOffsets.
_CONSUMER_REPLICA_ID = -1


def _by_topic(partitions: Mapping[TopicPartition, Any]) -> dict[str, list[Any]]:
    grouped: dict[str, list[Any]] = {}
    for tp, value in partitions.items():
        grouped.setdefault(tp.topic, []).append((tp.partition, value))
    return grouped


def delete_records_request(
    version: int, offsets: Mapping[TopicPartition, int], *, timeout_ms: float
) -> RequestPayload:
    """
    Build a DeleteRecords request (versions 0 to 2 share one layout).

    @param version: the version to build.
    @param offsets: for each partition, the offset before which to delete
        records; -1 deletes up to the high watermark.
    @param timeout_ms: how long the leader may wait for its followers.
    @return: the kio request.
    """
    topic_class = nested(ApiKey.DELETE_RECORDS, version, "DeleteRecordsTopic")
    partition_class = nested(ApiKey.DELETE_RECORDS, version, "DeleteRecordsPartition")
    return request_class(ApiKey.DELETE_RECORDS, version)(
        topics=tuple(
            topic_class(
                name=topic,
                partitions=tuple(
                    partition_class(partition_index=index, offset=offset)
                    for index, offset in entries
                ),
            )
            for topic, entries in _by_topic(offsets).items()
        ),
        timeout=timeout_field(timeout_ms),
    )


def parse_delete_records(
    response: ResponsePayload,
) -> dict[TopicPartition, DeletedRecords | errors.KafkaError]:
    """
    @param response: a decoded kio DeleteRecords response.
    @return: for each partition answered, its new low watermark or its error.
    @raise TypeError: if it is not a DeleteRecords response.
    """
    data, _ = check_response(response, ApiKey.DELETE_RECORDS)
    results: dict[TopicPartition, DeletedRecords | errors.KafkaError] = {}
    for topic in data.topics:
        for partition in topic.partitions:
            tp = TopicPartition(topic.name, int(partition.partition_index))
            error = error_or_none(int(partition.error_code), f"partition {tp}")
            results[tp] = (
                error
                if error is not None
                else DeletedRecords(int(partition.low_watermark))
            )
    return results


def list_offsets_request(
    version: int,
    timestamps: Mapping[TopicPartition, int],
    *,
    isolation_level: int,
    timeout_ms: float,
) -> RequestPayload:
    """
    Build a ListOffsets request as a client sends it (replica id -1).

    Version 1 carries each partition's timestamp; version 2 adds the isolation
    level, version 4 the current leader epoch (sent as -1, unknown) and version
    10 a timeout.

    @param version: the version to build, 1 and up.
    @param timestamps: for each partition, the timestamp to look up (-1 latest,
        -2 earliest, -3 the largest timestamp).
    @param isolation_level: 0 (read uncommitted) or 1 (read committed); version 1
        can only send 0.
    @param timeout_ms: how long the leader may take (version 10 and up).
    @return: the kio request.
    @raise errors.UnsupportedVersionError: for read committed in version 1.
    """
    if version < 2 and isolation_level != 0:
        raise errors.UnsupportedVersionError(
            "ListOffsets version 1 cannot ask for read_committed offsets"
        )
    topic_class = nested(ApiKey.LIST_OFFSETS, version, "ListOffsetsTopic")
    partition_class = nested(ApiKey.LIST_OFFSETS, version, "ListOffsetsPartition")

    def partition(index: int, timestamp: int) -> Any:
        if version >= 4:
            return partition_class(
                partition_index=index, timestamp=timestamp, current_leader_epoch=-1
            )
        return partition_class(partition_index=index, timestamp=timestamp)

    fields: dict[str, object] = {
        "replica_id": _CONSUMER_REPLICA_ID,
        "topics": tuple(
            topic_class(
                name=topic,
                partitions=tuple(partition(*entry) for entry in entries),
            )
            for topic, entries in _by_topic(timestamps).items()
        ),
    }
    if version >= 2:
        fields["isolation_level"] = isolation_level
    if version >= 10:
        fields["timeout"] = timeout_field(timeout_ms)
    return request_class(ApiKey.LIST_OFFSETS, version)(**fields)


def parse_list_offsets(
    response: ResponsePayload,
) -> dict[TopicPartition, ListOffsetsResultInfo | errors.KafkaError]:
    """
    Read a ListOffsets response (version 1 and up); leader epochs come with
    version 4 (-1 means unknown).

    @param response: a decoded kio ListOffsets response.
    @return: for each partition answered, the offset found or its error.
    @raise TypeError: if it is not a ListOffsets response.
    """
    data, version = check_response(response, ApiKey.LIST_OFFSETS)
    results: dict[TopicPartition, ListOffsetsResultInfo | errors.KafkaError] = {}
    for topic in data.topics:
        for partition in topic.partitions:
            tp = TopicPartition(topic.name, int(partition.partition_index))
            error = error_or_none(int(partition.error_code), f"partition {tp}")
            if error is not None:
                results[tp] = error
                continue
            epoch = int(partition.leader_epoch) if version >= 4 else -1
            results[tp] = ListOffsetsResultInfo(
                offset=int(partition.offset),
                timestamp=int(partition.timestamp),
                leader_epoch=None if epoch < 0 else epoch,
            )
    return results


def describe_log_dirs_request(version: int) -> RequestPayload:
    """
    Build a DescribeLogDirs request for every log directory and partition.

    @param version: the version to build.
    @return: the kio request.
    """
    return request_class(ApiKey.DESCRIBE_LOG_DIRS, version)(topics=None)


def parse_describe_log_dirs(response: ResponsePayload) -> dict[str, LogDirDescription]:
    """
    Read a DescribeLogDirs response; the top-level error comes with version 3,
    the sizes of the volumes with version 4 (-1 means unknown).

    @param response: a decoded kio DescribeLogDirs response.
    @return: each log directory by path.
    @raise TypeError: if it is not a DescribeLogDirs response.
    @raise KafkaError: the top-level error (such as L{ClusterAuthorizationError
        <odradek.client.errors.ClusterAuthorizationError>}).
    """
    data, version = check_response(response, ApiKey.DESCRIBE_LOG_DIRS)
    if version >= 3:
        errors.raise_for_code(int(data.error_code), "describing the log directories")
    directories: dict[str, LogDirDescription] = {}
    for result in data.results:
        replicas = {
            TopicPartition(topic.name, int(partition.partition_index)): ReplicaInfo(
                size=int(partition.partition_size),
                offset_lag=int(partition.offset_lag),
                is_future=bool(partition.is_future_key),
            )
            for topic in result.topics
            for partition in topic.partitions
        }
        total = int(result.total_bytes) if version >= 4 else -1
        usable = int(result.usable_bytes) if version >= 4 else -1
        directories[result.log_dir] = LogDirDescription(
            error=error_or_none(
                int(result.error_code), f"log directory {result.log_dir}"
            ),
            replicas=replicas,
            total_bytes=None if total < 0 else total,
            usable_bytes=None if usable < 0 else usable,
        )
    return directories
