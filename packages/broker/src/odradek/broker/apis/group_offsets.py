"""
The committed offsets of consumer groups: OffsetCommit (API key 8, versions 2 to
10), OffsetFetch (9, versions 1 to 10) and OffsetDelete (47, version 0).

As in Kafka (C{KafkaApis}):

  - OffsetCommit answers a topic or partition the cluster does not have with
    C{UNKNOWN_TOPIC_OR_PARTITION} (an unknown topic id, version 10, with
    C{UNKNOWN_TOPIC_ID}) and commits the others through the coordinator, which
    checks the generation and member and the size of the metadata per partition;
    null metadata is stored as C{""}; the retention time of versions 2 to 4 is
    passed on (-1: C{offsets.retention.minutes}), later versions have none;
  - OffsetFetch asks for one group before version 8 and for several from version
    8; null topics ask for every committed offset of the group; C{require_stable}
    (version 7) makes partitions with pending transactional commits answer
    C{UNSTABLE_OFFSET_COMMIT}. A group's error (C{NOT_COORDINATOR},
    C{COORDINATOR_LOAD_IN_PROGRESS} ...) is the response's error from version 2,
    and in version 1, which has no such field, every requested partition's;
  - OffsetDelete answers unknown partitions with C{UNKNOWN_TOPIC_OR_PARTITION}
    and a group error alone, with no topics.

Version 10 of OffsetCommit and OffsetFetch names topics by id.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

import attrs
from twisted.internet.defer import Deferred

from odradek.broker.apis._schema import NO_THROTTLE, ZERO_UUID, build, element
from odradek.broker.apis._schema import response_class as response_of
from odradek.broker.apis.context import RequestContext
from odradek.broker.apis.errors import kio_error_code
from odradek.broker.apis.groups import milliseconds
from odradek.broker.apis.registry import HandlerRegistry
from odradek.broker.coordinator.group.results import FetchedOffset, OffsetFetchResult
from odradek.broker.coordinator.group.values import CommittedOffset
from odradek.broker.metadata import IMetadataStore, TopicMetadata
from odradek.client.errors import UnknownTopicIdError, UnknownTopicOrPartitionError
from odradek.client.protocol import ApiKey, VersionRange
from odradek.client.structs import TopicPartition

if TYPE_CHECKING:
    from odradek.broker.coordinator.group.coordinator import GroupCoordinator

__all__ = [
    "OFFSET_COMMIT_VERSIONS",
    "OFFSET_DELETE_VERSIONS",
    "OFFSET_FETCH_VERSIONS",
    "GroupOffsetsHandler",
    "register",
]

OFFSET_COMMIT_VERSIONS: Final = VersionRange(2, 10)
OFFSET_FETCH_VERSIONS: Final = VersionRange(1, 10)
OFFSET_DELETE_VERSIONS: Final = VersionRange(0, 0)

_TOPIC_ID_VERSION: Final = 10
_LAST_RETENTION_VERSION: Final = 4
_TOP_LEVEL_ERROR_VERSION: Final = 2
_REQUIRE_STABLE_VERSION: Final = 7
_GROUPS_VERSION: Final = 8


@attrs.frozen
class _Topic:
    """
    One topic of a request, as its response names it, with its partitions: their
    index and either the error they already have or the partition to ask the
    coordinator about.
    """

    name: str | None
    topic_id: uuid.UUID | None
    partitions: list[tuple[int, int | TopicPartition]] = attrs.field(factory=list)


@attrs.frozen
class GroupOffsetsHandler:
    """
    Answer OffsetCommit, OffsetFetch and OffsetDelete; see the module's
    description.

    @ivar coordinator: the group coordinator.
    @ivar metadata: the metadata store, for the topics and partitions that exist.
    """

    coordinator: GroupCoordinator
    metadata: IMetadataStore

    def _resolve(self, topic: Any, by_id: bool) -> tuple[TopicMetadata | None, int]:
        """
        @return: the request topic's metadata, or C{None} with the error for its
            partitions.
        """
        if by_id:
            return self.metadata.topic_by_id(topic.topic_id), UnknownTopicIdError.code
        return self.metadata.topic(topic.name), UnknownTopicOrPartitionError.code

    def _plan(
        self, topics: Any, by_id: bool, partitions_of: Any, checked: bool
    ) -> list[_Topic]:
        """
        Sort the partitions of a request into the ones to ask the coordinator
        about and the ones answered with an error at once.

        @param topics: the request's topics.
        @param by_id: whether they are named by id (an unknown id is an error).
        @param partitions_of: the partition indexes of one request topic.
        @param checked: whether topics and partitions the cluster does not have
            are errors (OffsetCommit, OffsetDelete); OffsetFetch asks for any
            name, as Kafka's does.
        """
        plan = []
        for topic in topics:
            name: str | None = getattr(topic, "name", None)
            count: int | None = None
            error = 0
            if by_id or checked:
                known, error = self._resolve(topic, by_id)
                if known is not None:
                    name, count = known.name, known.partition_count
            entry = _Topic(name, getattr(topic, "topic_id", None))
            for index in partitions_of(topic):
                if name is None or (
                    checked and (count is None or not 0 <= index < count)
                ):
                    entry.partitions.append((index, error))
                else:
                    entry.partitions.append((index, TopicPartition(name, index)))
            plan.append(entry)
        return plan

    def offset_commit(self, context: RequestContext, request: Any) -> Any:
        """
        @param context: the request's context.
        @param request: the kio OffsetCommit request.
        @return: the response, or a Deferred of it once the commit is written.
        """
        version = context.api_version
        plan = self._plan(
            request.topics,
            version >= _TOPIC_ID_VERSION,
            lambda topic: [p.partition_index for p in topic.partitions],
            checked=True,
        )
        offsets: dict[TopicPartition, CommittedOffset] = {}
        for entry, topic in zip(plan, request.topics, strict=True):
            for (_, slot), partition in zip(
                entry.partitions, topic.partitions, strict=True
            ):
                if isinstance(slot, TopicPartition):
                    offsets[slot] = CommittedOffset(
                        offset=partition.committed_offset,
                        leader_epoch=getattr(partition, "committed_leader_epoch", -1),
                        metadata=partition.committed_metadata or "",
                    )
        if not offsets:
            return self._committed({}, context, plan)
        retention_ms = (
            milliseconds(request.retention_time)
            if version <= _LAST_RETENTION_VERSION
            else -1
        )
        committed = self.coordinator.commit_offsets(
            group_id=request.group_id,
            generation_id=request.generation_id_or_member_epoch,
            member_id=request.member_id,
            group_instance_id=getattr(request, "group_instance_id", None),
            offsets=offsets,
            retention_ms=retention_ms,
        )
        return committed.addCallback(self._committed, context, plan)

    def _committed(
        self,
        codes: Mapping[TopicPartition, int],
        context: RequestContext,
        plan: list[_Topic],
    ) -> Any:
        response = response_of(context)
        return build(
            response,
            throttle_time=NO_THROTTLE,
            topics=_answered_topics(element(response, "topics"), plan, codes),
        )

    def offset_fetch(self, context: RequestContext, request: Any) -> Any:
        """
        @param context: the request's context.
        @param request: the kio OffsetFetch request.
        @return: the response.
        """
        version = context.api_version
        require_stable = bool(getattr(request, "require_stable", False))
        if version < _GROUPS_VERSION:
            code, topics = self._fetch(
                version, request.group_id, request.topics, require_stable
            )
            response = response_of(context)
            return build(
                response,
                throttle_time=NO_THROTTLE,
                error_code=kio_error_code(code),
                topics=_fetched_topics(element(response, "topics"), topics),
            )
        response = response_of(context)
        group_class = element(response, "groups")
        topic_class = element(group_class, "topics")
        groups = []
        for group in request.groups:
            code, topics = self._fetch(
                version, group.group_id, group.topics, require_stable
            )
            groups.append(
                build(
                    group_class,
                    group_id=group.group_id,
                    error_code=kio_error_code(code),
                    topics=_fetched_topics(topic_class, topics),
                )
            )
        return build(response, throttle_time=NO_THROTTLE, groups=tuple(groups))

    def _fetch(
        self, version: int, group_id: str, topics: Any, require_stable: bool
    ) -> tuple[int, list[tuple[_Topic, dict[TopicPartition, FetchedOffset]]]]:
        """
        Fetch one group's offsets.

        @return: the group's error, and each topic to answer with the offsets of
            its partitions.
        """
        by_id = version >= _TOPIC_ID_VERSION
        plan = (
            None
            if topics is None
            else self._plan(
                topics, by_id, lambda topic: topic.partition_indexes, checked=False
            )
        )
        wanted = (
            None
            if plan is None
            else [s for e in plan for _, s in e.partitions if not isinstance(s, int)]
        )
        result: OffsetFetchResult = self.coordinator.fetch_offsets(
            group_id=group_id,
            partitions=wanted,
            require_stable=version >= _REQUIRE_STABLE_VERSION and require_stable,
        )
        code = result.error_code
        if code:
            if version >= _TOP_LEVEL_ERROR_VERSION or plan is None:
                return code, []
            failed = FetchedOffset(error_code=code)
            return 0, [(entry, {}) for entry in _fail(plan, failed)]
        if plan is None:
            plan = self._every_topic(result, by_id)
        return 0, [(entry, result.offsets) for entry in plan]

    def _every_topic(self, result: OffsetFetchResult, by_id: bool) -> list[_Topic]:
        """
        @return: the topics of every committed offset of a group, in name order;
            when answering with ids, only the topics that still exist.
        """
        by_name: dict[str, _Topic] = {}
        for tp in sorted(result.offsets, key=lambda tp: (tp.topic, tp.partition)):
            entry = by_name.get(tp.topic)
            if entry is None:
                known = self.metadata.topic(tp.topic) if by_id else None
                if by_id and known is None:
                    continue
                topic_id = known.topic_id if known is not None else None
                entry = by_name[tp.topic] = _Topic(tp.topic, topic_id)
            entry.partitions.append((tp.partition, tp))
        return list(by_name.values())

    def offset_delete(self, context: RequestContext, request: Any) -> Any:
        """
        @param context: the request's context.
        @param request: the kio OffsetDelete request.
        @return: a Deferred of the response.
        """
        plan = self._plan(
            request.topics,
            False,
            lambda topic: [p.partition_index for p in topic.partitions],
            checked=True,
        )
        partitions = [
            slot for e in plan for _, slot in e.partitions if not isinstance(slot, int)
        ]
        deleted: Deferred[tuple[int, dict[TopicPartition, int]]]
        deleted = self.coordinator.delete_offsets(
            group_id=request.group_id, partitions=partitions
        )
        return deleted.addCallback(self._deleted, context, plan)

    def _deleted(
        self,
        result: tuple[int, dict[TopicPartition, int]],
        context: RequestContext,
        plan: list[_Topic],
    ) -> Any:
        code, codes = result
        if code:
            return build(
                response_of(context),
                throttle_time=NO_THROTTLE,
                error_code=kio_error_code(code),
                topics=(),
            )
        response = response_of(context)
        return build(
            response,
            throttle_time=NO_THROTTLE,
            error_code=kio_error_code(0),
            topics=_answered_topics(element(response, "topics"), plan, codes),
        )


def _answered_topics(
    topic_class: type[Any], plan: list[_Topic], codes: Mapping[TopicPartition, int]
) -> tuple[Any, ...]:
    """
    @return: the topics of an OffsetCommit or OffsetDelete response: each
        partition with the error it had at once or the one the coordinator gave.
    """
    partition_class = element(topic_class, "partitions")
    return tuple(
        build(
            topic_class,
            name=entry.name or "",
            topic_id=entry.topic_id,
            partitions=tuple(
                build(
                    partition_class,
                    partition_index=index,
                    error_code=kio_error_code(
                        slot if isinstance(slot, int) else codes.get(slot, 0)
                    ),
                )
                for index, slot in entry.partitions
            ),
        )
        for entry in plan
    )


def _fail(plan: list[_Topic], failed: FetchedOffset) -> list[_Topic]:
    """
    @return: the plan with the group's error on every partition (OffsetFetch
        version 1, which has no group error).
    """
    code = failed.error_code
    return [
        _Topic(
            e.name,
            e.topic_id,
            [(i, s if isinstance(s, int) else code) for i, s in e.partitions],
        )
        for e in plan
    ]


def _fetched_topics(
    topic_class: type[Any],
    topics: list[tuple[_Topic, dict[TopicPartition, FetchedOffset]]],
) -> tuple[Any, ...]:
    partition_class = element(topic_class, "partitions")
    built = []
    for entry, offsets in topics:
        partitions = []
        for index, slot in entry.partitions:
            fetched = (
                FetchedOffset(error_code=slot)
                if isinstance(slot, int)
                else offsets.get(slot, FetchedOffset())
            )
            partitions.append(
                build(
                    partition_class,
                    partition_index=index,
                    committed_offset=fetched.offset,
                    committed_leader_epoch=fetched.leader_epoch,
                    metadata=fetched.metadata,
                    error_code=kio_error_code(fetched.error_code),
                )
            )
        built.append(
            build(
                topic_class,
                name=entry.name or "",
                topic_id=entry.topic_id or ZERO_UUID,
                partitions=tuple(partitions),
            )
        )
    return tuple(built)


def register(
    registry: HandlerRegistry,
    *,
    coordinator: GroupCoordinator,
    metadata: IMetadataStore,
) -> None:
    """
    Register OffsetCommit, OffsetFetch and OffsetDelete.

    @param registry: the registry to add them to.
    @param coordinator: the group coordinator.
    @param metadata: the metadata store.
    """
    handler = GroupOffsetsHandler(coordinator, metadata)
    registry.register(
        ApiKey.OFFSET_COMMIT, handler.offset_commit, OFFSET_COMMIT_VERSIONS
    )
    registry.register(ApiKey.OFFSET_FETCH, handler.offset_fetch, OFFSET_FETCH_VERSIONS)
    registry.register(
        ApiKey.OFFSET_DELETE, handler.offset_delete, OFFSET_DELETE_VERSIONS
    )
