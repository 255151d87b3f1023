"""
The committed-offset requests of L{odradek.client.admin.groups} (re-exported there):
OffsetFetch, OffsetCommit and OffsetDelete for one group, in the admin's flavour.
Sans-IO.

The OffsetFetch and OffsetCommit messages themselves are built by the consumer's
codecs in L{odradek.client.network.group_requests}: the admin fetches with
L{offset_fetch_request} as is and commits through L{offset_commit_request}, which
fills in what an admin commit sends (generation -1, member id C{""}, no group
instance id). The admin reads the answers differently from a consumer, as Kafka's
C{KafkaAdminClient} does: a partition whose offset could not be fetched is left
out instead of failing the listing, and every partition of a commit or a delete
gets its own result.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kio.static.protocol import RequestPayload, ResponsePayload

from odradek.client import errors
from odradek.client.admin._kiohelpers import (
    check_response,
    error_or_none,
    nested,
    request_class,
)
from odradek.client.network import group_requests
from odradek.client.network.group_requests import offset_fetch_request
from odradek.client.protocol import ApiKey
from odradek.client.structs import OffsetAndMetadata, TopicPartition

__all__ = [
    "offset_commit_request",
    "offset_delete_request",
    "offset_fetch_request",
    "parse_offset_commit",
    "parse_offset_delete",
    "parse_offset_fetch",
]

# Errors an OffsetFetch version 1 answer reports for a partition alone; any other
# partition error in version 1 is the group's (version 2 added a group error code).
_PARTITION_ONLY_V1 = frozenset(
    {errors.UnknownTopicOrPartitionError.code, errors.TopicAuthorizationError.code}
)


def parse_offset_fetch(
    response: ResponsePayload, group_id: str
) -> dict[TopicPartition, OffsetAndMetadata | None]:
    """
    Read an OffsetFetch response (versions 1 to 9) for the admin's
    C{list_consumer_group_offsets}.

    Unlike the consumer's reader, a partition answered with an error (such as
    C{UNSTABLE_OFFSET_COMMIT} or C{TOPIC_AUTHORIZATION_FAILED}) is left out of the
    result instead of failing it, as Kafka's admin client does. In version 1, which
    has no group error code, the group's error is the first partition error that
    is not C{UNKNOWN_TOPIC_OR_PARTITION} or C{TOPIC_AUTHORIZATION_FAILED}.

    @param response: a decoded kio OffsetFetch response.
    @param group_id: the group asked for; versions 8 and up answer per group.
    @return: for each partition answered without error, its committed offset (with
        the leader epoch from version 5 on), or C{None} if it has none.
    @raise TypeError: if C{response} is not an OffsetFetch response.
    @raise KafkaError: the group's error (L{NotCoordinatorError
        <odradek.client.errors.NotCoordinatorError>} and the other coordinator
        errors are retriable); L{CoordinatorNotAvailableError
        <odradek.client.errors.CoordinatorNotAvailableError>} if a version 8 or
        later answer does not name the group.
    """
    data, version = check_response(response, ApiKey.OFFSET_FETCH)
    if version >= 8:
        answers = [group for group in data.groups if group.group_id == group_id]
        if not answers:
            raise errors.CoordinatorNotAvailableError(
                f"the OffsetFetch answer names no group {group_id!r}"
            )
        data = answers[0]
    if version >= 2:
        errors.raise_for_code(int(data.error_code))
    else:
        for topic in data.topics:
            for partition in topic.partitions:
                code = int(partition.error_code)
                if code and code not in _PARTITION_ONLY_V1:
                    errors.raise_for_code(code)
    results: dict[TopicPartition, OffsetAndMetadata | None] = {}
    for topic in data.topics:
        for partition in topic.partitions:
            if int(partition.error_code):
                continue
            tp = TopicPartition(topic.name, int(partition.partition_index))
            offset = int(partition.committed_offset)
            if offset < 0:
                results[tp] = None
                continue
            epoch = int(partition.committed_leader_epoch) if version >= 5 else -1
            results[tp] = OffsetAndMetadata(
                offset, partition.metadata or "", epoch if epoch >= 0 else None
            )
    return results


def offset_commit_request(
    version: int, *, group_id: str, offsets: Mapping[TopicPartition, OffsetAndMetadata]
) -> RequestPayload:
    """
    Build the OffsetCommit request of the admin's
    C{alter_consumer_group_offsets}: a commit from outside the group's membership
    (generation -1, member id C{""}, no group instance id), which the coordinator
    accepts only while the group has no active members.

    @param version: the version to build, 2 to 9.
    @param group_id: the group.
    @param offsets: the offset to commit for each partition; leader epochs are sent
        from version 6 on.
    @return: the kio request.
    @raise UnsupportedVersionError: if the version is not supported or is 10
        (topics by id).
    """
    return group_requests.offset_commit_request(
        version,
        group_id=group_id,
        generation_id=-1,
        member_id="",
        group_instance_id=None,
        offsets=offsets,
    )


def _missing(tp: TopicPartition, api: str) -> errors.KafkaError:
    return errors.UnknownServerError(f"the {api} answer has no result for {tp}")


def parse_offset_commit(
    response: ResponsePayload, partitions: Iterable[TopicPartition]
) -> dict[TopicPartition, BaseException | None]:
    """
    Read an OffsetCommit response (versions 2 to 9) for the admin's
    C{alter_consumer_group_offsets}.

    A coordinator error (such as C{NOT_COORDINATOR}) arrives as every partition's
    error; the core finds the coordinator again and retries the partitions whose
    error is retriable.

    @param response: a decoded kio OffsetCommit response.
    @param partitions: the partitions committed.
    @return: for each partition committed, and any other the broker answered,
        C{None} or its exception; L{UnknownServerError
        <odradek.client.errors.UnknownServerError>} for a partition the broker did
        not answer.
    @raise TypeError: if C{response} is not an OffsetCommit response.
    """
    answered = group_requests.parse_offset_commit(response)
    results: dict[TopicPartition, BaseException | None] = {
        tp: answered.pop(tp) if tp in answered else _missing(tp, "OffsetCommit")
        for tp in partitions
    }
    results.update(answered)
    return results


def offset_delete_request(
    version: int, *, group_id: str, partitions: Iterable[TopicPartition]
) -> RequestPayload:
    """
    Build an OffsetDelete request (KIP-496), grouping the partitions by topic.

    @param version: the version to build; only 0 exists.
    @param group_id: the group.
    @param partitions: the partitions whose committed offsets to delete.
    @return: the kio request.
    @raise UnsupportedVersionError: if the version is not supported.
    """
    topic_class = nested(ApiKey.OFFSET_DELETE, version, "OffsetDeleteRequestTopic")
    partition_class = nested(
        ApiKey.OFFSET_DELETE, version, "OffsetDeleteRequestPartition"
    )
    by_topic: dict[str, list[Any]] = {}
    for tp in dict.fromkeys(partitions):
        by_topic.setdefault(tp.topic, []).append(
            partition_class(partition_index=tp.partition)
        )
    return request_class(ApiKey.OFFSET_DELETE, version)(
        group_id=group_id,
        topics=tuple(
            topic_class(name=topic, partitions=tuple(indexes))
            for topic, indexes in by_topic.items()
        ),
    )


def parse_offset_delete(
    response: ResponsePayload, partitions: Iterable[TopicPartition]
) -> dict[TopicPartition, BaseException | None]:
    """
    Read an OffsetDelete response.

    The group's error (such as C{GROUP_ID_NOT_FOUND}, C{NON_EMPTY_GROUP} or
    C{NOT_COORDINATOR}) applies to every partition asked for; otherwise each
    partition has its own result (C{GROUP_SUBSCRIBED_TO_TOPIC} when a member of
    the group still consumes the topic).

    @param response: a decoded kio OffsetDelete response.
    @param partitions: the partitions asked for.
    @return: for each partition asked for, and any other the broker answered,
        C{None} or its exception; L{UnknownServerError
        <odradek.client.errors.UnknownServerError>} for a partition the broker did
        not answer.
    @raise TypeError: if C{response} is not an OffsetDelete response.
    """
    data, _ = check_response(response, ApiKey.OFFSET_DELETE)
    asked = list(dict.fromkeys(partitions))
    group_error = int(data.error_code)
    if group_error:
        return {tp: error_or_none(group_error) for tp in asked}
    answered: dict[TopicPartition, BaseException | None] = {}
    for topic in data.topics:
        for partition in topic.partitions:
            tp = TopicPartition(topic.name, int(partition.partition_index))
            answered[tp] = error_or_none(int(partition.error_code))
    results: dict[TopicPartition, BaseException | None] = {
        tp: answered.pop(tp) if tp in answered else _missing(tp, "OffsetDelete")
        for tp in asked
    }
    results.update(answered)
    return results
