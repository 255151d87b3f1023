"""
The OffsetCommit and OffsetFetch codecs of L{odradek.client.network.group_requests}
(which re-exports them). Sans-IO.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kio.static.protocol import RequestPayload, ResponsePayload

from odradek.client import errors
from odradek.client.network._groupcodec import (
    _check_response,
    _error,
    _nested,
    _raise,
    _request_class,
    _unsupported,
)
from odradek.client.protocol import ApiKey
from odradek.client.structs import OffsetAndMetadata, TopicPartition

__all__ = [
    "offset_commit_request",
    "offset_fetch_request",
    "parse_offset_commit",
    "parse_offset_fetch",
]


# -- OffsetCommit


def offset_commit_request(
    version: int,
    *,
    group_id: str,
    generation_id: int,
    member_id: str,
    group_instance_id: str | None,
    offsets: Mapping[TopicPartition, OffsetAndMetadata],
) -> RequestPayload:
    """
    Build an OffsetCommit request, grouping the partitions by topic.

    Versions 2 to 4 carry a retention time (sent as -1: the broker's default);
    version 6 adds the leader epoch of each offset, version 7 the group instance id.
    Version 10 (topics by id) is not built.

    @param version: the version to build, 2 to 9.
    @param group_id: the group.
    @param generation_id: the generation joined, or -1 for a consumer outside the
        group's membership (manual assignment).
    @param member_id: this member's id, or C{""}.
    @param group_instance_id: C{group.instance.id}, or C{None}.
    @param offsets: the offset to commit for each partition.
    @return: the kio request.
    @raise UnsupportedVersionError: if the version is not supported or is 10, or
        is below 7 while a group instance id is given.
    """
    request_class = _request_class(ApiKey.OFFSET_COMMIT, version)
    topic_class = _nested(ApiKey.OFFSET_COMMIT, version, "OffsetCommitRequestTopic")
    partition_class = _nested(
        ApiKey.OFFSET_COMMIT, version, "OffsetCommitRequestPartition"
    )
    by_topic: dict[str, list[Any]] = {}
    for tp, offset in offsets.items():
        partition: dict[str, object] = {
            "partition_index": tp.partition,
            "committed_offset": offset.offset,
            "committed_metadata": offset.metadata,
        }
        if version >= 6:
            epoch = offset.leader_epoch
            partition["committed_leader_epoch"] = -1 if epoch is None else epoch
        by_topic.setdefault(tp.topic, []).append(partition_class(**partition))
    fields: dict[str, object] = {
        "group_id": group_id,
        "generation_id_or_member_epoch": generation_id,
        "member_id": member_id,
        "topics": tuple(
            topic_class(name=topic, partitions=tuple(partitions))
            for topic, partitions in by_topic.items()
        ),
    }
    if version >= 7:
        fields["group_instance_id"] = group_instance_id
    elif group_instance_id is not None:
        raise _unsupported(
            ApiKey.OFFSET_COMMIT,
            version,
            "has no static membership (group.instance.id)",
        )
    return request_class(**fields)


def parse_offset_commit(
    response: ResponsePayload,
) -> dict[TopicPartition, BaseException | None]:
    """
    Read an OffsetCommit response of versions 2 to 9.

    @param response: a decoded kio OffsetCommit response.
    @return: for each partition answered, C{None} when committed, else its error
        as an exception object (not raised).
    @raise TypeError: if C{response} is not an OffsetCommit response.
    """
    data, _ = _check_response(response, ApiKey.OFFSET_COMMIT)
    results: dict[TopicPartition, BaseException | None] = {}
    for topic in data.topics:
        for partition in topic.partitions:
            tp = TopicPartition(topic.name, int(partition.partition_index))
            results[tp] = _error(int(partition.error_code), f"committing {tp}")
    return results


# -- OffsetFetch


def offset_fetch_request(
    version: int,
    *,
    group_id: str,
    partitions: Sequence[TopicPartition] | None,
    require_stable: bool = False,
) -> RequestPayload:
    """
    Build an OffsetFetch request for one group.

    Version 2 lets C{partitions} be C{None} (every partition with an offset);
    version 7 adds C{require_stable}, which older versions drop, as Kafka's
    consumer does; versions 8 and up carry a list of groups, here of one. Version
    10 (topics by id) is not built.

    @param version: the version to build, 1 to 9.
    @param group_id: the group.
    @param partitions: the partitions to read, or C{None} for all.
    @param require_stable: whether the broker should answer
        C{UNSTABLE_OFFSET_COMMIT} for partitions with a pending transactional
        commit instead of their last stable offset.
    @return: the kio request.
    @raise UnsupportedVersionError: if the version is not supported or is 10, or
        is 1 and C{partitions} is C{None}.
    """
    request_class = _request_class(ApiKey.OFFSET_FETCH, version)
    topic_name = (
        "OffsetFetchRequestTopics" if version >= 8 else "OffsetFetchRequestTopic"
    )
    topic_class = _nested(ApiKey.OFFSET_FETCH, version, topic_name)
    topics: tuple[Any, ...] | None = None
    if partitions is not None:
        by_topic: dict[str, list[int]] = {}
        for tp in partitions:
            by_topic.setdefault(tp.topic, []).append(tp.partition)
        topics = tuple(
            topic_class(name=topic, partition_indexes=tuple(indexes))
            for topic, indexes in by_topic.items()
        )
    elif version < 2:
        raise _unsupported(ApiKey.OFFSET_FETCH, version, "cannot ask for every offset")
    if version >= 8:
        group_class = _nested(ApiKey.OFFSET_FETCH, version, "OffsetFetchRequestGroup")
        return request_class(
            groups=(group_class(group_id=group_id, topics=topics),),
            require_stable=require_stable,
        )
    fields: dict[str, object] = {"group_id": group_id, "topics": topics}
    if version >= 7:
        fields["require_stable"] = require_stable
    return request_class(**fields)


def parse_offset_fetch(
    response: ResponsePayload, group_id: str
) -> dict[TopicPartition, OffsetAndMetadata | None]:
    """
    Read an OffsetFetch response of versions 1 to 9.

    @param response: a decoded kio OffsetFetch response.
    @param group_id: the group asked for; versions 8 and up answer per group.
    @return: for each partition answered, its committed offset (with the leader
        epoch from version 5 on), or C{None} if it has none.
    @raise TypeError: if C{response} is not an OffsetFetch response.
    @raise KafkaError: the group's error (version 2 and up), else the first
        partition's error (L{UnstableOffsetCommitError
        <odradek.client.errors.UnstableOffsetCommitError>} is retriable);
        L{CoordinatorNotAvailableError
        <odradek.client.errors.CoordinatorNotAvailableError>} if a version 8 answer
        does not name the group.
    """
    data, version = _check_response(response, ApiKey.OFFSET_FETCH)
    if version >= 8:
        groups = [group for group in data.groups if group.group_id == group_id]
        if not groups:
            raise errors.CoordinatorNotAvailableError(
                f"the OffsetFetch answer names no group {group_id!r}"
            )
        data = groups[0]
    if version >= 2:
        _raise(int(data.error_code), f"fetching the offsets of group {group_id!r}")
    results: dict[TopicPartition, OffsetAndMetadata | None] = {}
    for topic in data.topics:
        for partition in topic.partitions:
            tp = TopicPartition(topic.name, int(partition.partition_index))
            _raise(int(partition.error_code), f"fetching the offset of {tp}")
            offset = int(partition.committed_offset)
            if offset < 0:
                results[tp] = None
                continue
            epoch = int(partition.committed_leader_epoch) if version >= 5 else -1
            results[tp] = OffsetAndMetadata(
                offset, partition.metadata or "", epoch if epoch >= 0 else None
            )
    return results
