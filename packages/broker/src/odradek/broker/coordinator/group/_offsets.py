"""
Committed offsets and group removal under L{GroupCoordinator
<odradek.broker.coordinator.group.coordinator.GroupCoordinator>} (Kafka's
C{handleCommitOffsets}, C{handleFetchOffsets}, C{handleDeleteOffsets},
C{handleDeleteGroups} and C{GroupMetadataManager.cleanupGroupMetadata}).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TypeVar

import attrs
from twisted.internet.defer import Deferred, DeferredList, succeed
from twisted.python.failure import Failure

from odradek.broker.coordinator.group._base import error_code
from odradek.broker.coordinator.group._rebalance import Rebalancer
from odradek.broker.coordinator.group._subscription import CONSUMER_PROTOCOL_TYPE
from odradek.broker.coordinator.group.group import GroupMetadata, GroupState
from odradek.broker.coordinator.group.results import FetchedOffset, OffsetFetchResult
from odradek.broker.coordinator.group.values import CommittedOffset
from odradek.client.errors import (
    CoordinatorNotAvailableError,
    GroupIdNotFoundError,
    GroupNotEmptyError,
    GroupSubscribedToTopicError,
    IllegalGenerationError,
    OffsetMetadataTooLargeError,
    RebalanceInProgressError,
    UnknownMemberIdError,
    UnstableOffsetCommitError,
)
from odradek.client.structs import TopicPartition

__all__: list[str] = []

_T = TypeVar("_T")


def _utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


class OffsetManager(Rebalancer):
    """
    The offset and removal requests of the group coordinator.
    """

    def commit_offsets(
        self,
        *,
        group_id: str,
        generation_id: int,
        member_id: str,
        group_instance_id: str | None,
        offsets: Mapping[TopicPartition, CommittedOffset],
        retention_ms: int = -1,
    ) -> Deferred[dict[TopicPartition, int]]:
        """
        Commit offsets for a group (OffsetCommit).

        A commit with generation -1 and member id C{""} comes from a consumer that
        does not use group management: allowed while the group has no members,
        and it creates an C{Empty} group if there is none.

        @param group_id: the group.
        @param generation_id: the committer's generation, or -1.
        @param member_id: the committer's member id, or C{""}.
        @param group_instance_id: the committer's static id, or C{None}.
        @param offsets: the offsets by partition; their timestamps are set here.
        @param retention_ms: an explicit retention (OffsetCommit v2-v4), -1 for
            C{offsets.retention.minutes}.
        @return: fires with an error code by partition.
        """

        def every(code: int) -> Deferred[dict[TopicPartition, int]]:
            return succeed(dict.fromkeys(offsets, code))

        code = self._group_error(group_id, allow_empty=True)
        if code:
            return every(code)
        group = self._groups.get(group_id)
        if group is None:
            if generation_id >= 0:
                return every(IllegalGenerationError.code)
            self._log.info(
                "Creating simple consumer group {group_id} via manual offset commit",
                group_id=group_id,
            )
            group = GroupMetadata(group_id, GroupState.EMPTY, self._now_ms())
            self._groups[group_id] = group
        code = self._offset_commit_error(
            group, generation_id, member_id, group_instance_id
        )
        if code:
            return every(code)
        if group.is_(GroupState.COMPLETING_REBALANCE):
            return every(RebalanceInProgressError.code)
        if not group.is_(GroupState.EMPTY):
            self._schedule_heartbeat(group, group.get(member_id))
        return self._store_offsets(group, offsets, retention_ms)

    def _offset_commit_error(
        self,
        group: GroupMetadata,
        generation_id: int,
        member_id: str,
        group_instance_id: str | None,
    ) -> int:
        if group.is_(GroupState.DEAD):
            return CoordinatorNotAvailableError.code
        if generation_id < 0 and group.is_(GroupState.EMPTY):
            return 0
        if generation_id >= 0 or member_id or group_instance_id is not None:
            code = self._member_error(group, member_id, group_instance_id)
            if code:
                return code
            if generation_id != group.generation_id:
                return IllegalGenerationError.code
            return 0
        if not group.is_(GroupState.EMPTY):
            return UnknownMemberIdError.code
        return 0

    def _store_offsets(
        self,
        group: GroupMetadata,
        offsets: Mapping[TopicPartition, CommittedOffset],
        retention_ms: int,
    ) -> Deferred[dict[TopicPartition, int]]:
        now = self._now_ms()
        expire = now + retention_ms if retention_ms >= 0 else None
        limit = self._config.offset_metadata_max_bytes
        result: dict[TopicPartition, int] = {}
        valid: dict[TopicPartition, CommittedOffset] = {}
        for tp, offset in offsets.items():
            if _utf16_length(offset.metadata) > limit:
                result[tp] = OffsetMetadataTooLargeError.code
            else:
                valid[tp] = attrs.evolve(
                    offset, commit_timestamp_ms=now, expire_timestamp_ms=expire
                )
        if not valid:
            return succeed(result)
        group.pending_offset_commits.update(valid)

        def done(code: int) -> dict[TopicPartition, int]:
            for tp, offset in valid.items():
                live = code == 0 and not group.is_(GroupState.DEAD)
                if live and tp in group.pending_offset_commits:
                    group.offsets[tp] = offset
                if group.pending_offset_commits.get(tp) == offset:
                    del group.pending_offset_commits[tp]
                result[tp] = code
            return result

        def failed(failure: Failure) -> dict[TopicPartition, int]:
            return done(error_code(failure, self._log))

        stored = self._store.store_offsets(group.group_id, valid)
        return stored.addCallbacks(lambda _: done(0), failed)

    def fetch_offsets(
        self,
        *,
        group_id: str,
        partitions: Sequence[TopicPartition] | None,
        require_stable: bool = False,
    ) -> OffsetFetchResult:
        """
        Read a group's committed offsets (OffsetFetch), whatever its state.

        @param group_id: the group.
        @param partitions: the partitions, or C{None} for every committed one.
        @param require_stable: whether a partition with a commit being written
            answers C{UNSTABLE_OFFSET_COMMIT}.
        @return: the offsets.
        """
        code = self._group_error(group_id, allow_empty=True)
        if code:
            return OffsetFetchResult(error_code=code)
        group = self._groups.get(group_id)
        if group is None or group.is_(GroupState.DEAD):
            return OffsetFetchResult(
                error_code=0, offsets={tp: FetchedOffset() for tp in partitions or ()}
            )
        if partitions is None:
            partitions = list(group.offsets)
            require_stable = False
        fetched = {}
        for tp in partitions:
            offset = group.offsets.get(tp)
            if require_stable and tp in group.pending_offset_commits:
                fetched[tp] = FetchedOffset(error_code=UnstableOffsetCommitError.code)
            elif offset is None:
                fetched[tp] = FetchedOffset()
            else:
                fetched[tp] = FetchedOffset(
                    offset=offset.offset,
                    leader_epoch=offset.leader_epoch,
                    metadata=offset.metadata,
                )
        return OffsetFetchResult(error_code=0, offsets=fetched)

    def delete_offsets(
        self, *, group_id: str, partitions: Sequence[TopicPartition]
    ) -> Deferred[tuple[int, dict[TopicPartition, int]]]:
        """
        Delete committed offsets of a group (OffsetDelete): all of them if the group
        is Empty; for a consumer group with members, those of topics it does not
        subscribe to (the others answer C{GROUP_SUBSCRIBED_TO_TOPIC}).

        @param group_id: the group.
        @param partitions: the partitions.
        @return: fires with the group's error code and one code by partition
            (none when the group's code is not 0).
        """
        code = self._group_error(group_id, allow_empty=False)
        if code:
            return succeed((code, {}))
        group = self._groups.get(group_id)
        if group is None or group.is_(GroupState.DEAD):
            return succeed((GroupIdNotFoundError.code, {}))
        errors: dict[TopicPartition, int] = {}
        if group.is_(GroupState.EMPTY):
            eligible = list(partitions)
        elif group.protocol_type == CONSUMER_PROTOCOL_TYPE:
            eligible = []
            for tp in partitions:
                if group.is_subscribed_to_topic(tp.topic):
                    errors[tp] = GroupSubscribedToTopicError.code
                else:
                    eligible.append(tp)
        else:
            return succeed((GroupNotEmptyError.code, {}))
        if not eligible:
            return succeed((0, errors))
        removed = group.remove_offsets(eligible)

        def answer(code: int) -> tuple[int, dict[TopicPartition, int]]:
            errors.update(dict.fromkeys(eligible, code))
            return 0, errors

        return self._cleanup_group(group, removed).addCallback(answer)

    def delete_groups(self, group_ids: Sequence[str]) -> Deferred[dict[str, int]]:
        """
        Delete Empty groups and their offsets (DeleteGroups).

        @param group_ids: the groups.
        @return: fires with an error code by group: C{NON_EMPTY_GROUP} for a
            group with members, C{GROUP_ID_NOT_FOUND} for an unknown one.
        """
        errors: dict[str, int] = {}
        deleted: list[Deferred[tuple[str, int]]] = []
        for group_id in dict.fromkeys(group_ids):
            code = self._group_error(group_id, allow_empty=True)
            group = self._groups.get(group_id)
            if code:
                errors[group_id] = code
            elif group is None or group.is_(GroupState.DEAD):
                errors[group_id] = GroupIdNotFoundError.code
            elif not group.is_(GroupState.EMPTY):
                errors[group_id] = GroupNotEmptyError.code
            else:
                group.transition_to(GroupState.DEAD, self._now_ms())
                removed = group.remove_offsets(list(group.offsets))
                self._log.info(
                    "Deleting group {group_id} and its {count} offsets",
                    group_id=group_id,
                    count=len(removed),
                )
                outcome = self._cleanup_group(group, removed)
                deleted.append(_tagged(outcome, group_id))

        def answer(outcomes: list[tuple[str, int]]) -> dict[str, int]:
            errors.update(outcomes)
            return {group_id: errors[group_id] for group_id in dict.fromkeys(group_ids)}

        return _gather(deleted).addCallback(answer)

    def expire_offsets(self) -> Deferred[int]:
        """
        Remove expired offsets, and Empty groups left without offsets (Kafka's
        C{cleanupGroupMetadata}) by the rules of KIP-211.

        @return: fires with how many offsets were removed, once their tombstones
            are written (write failures are logged).
        """
        now = self._now_ms()
        retention = self._config.offsets_retention_ms
        removed_count = 0
        cleanups: list[Deferred[int]] = []
        for group in list(self._groups.values()):
            removed = group.remove_expired_offsets(now, retention)
            removed_count += len(removed)
            cleanups.append(self._cleanup_group(group, removed))
        if removed_count:
            self._log.info("Removed {count} expired offsets", count=removed_count)
        return _gather(cleanups).addCallback(lambda _: removed_count)

    def _cleanup_group(
        self, group: GroupMetadata, removed: Iterable[TopicPartition]
    ) -> Deferred[int]:
        """
        Write tombstones for removed offsets; an Empty group left without offsets
        becomes Dead, is forgotten and, if it ever had a generation, tombstoned.

        @return: fires with the first write's error code, or 0.
        """
        removed = list(removed)
        if group.is_(GroupState.EMPTY) and not group.has_offsets():
            group.transition_to(GroupState.DEAD, self._now_ms())
        writes: list[Deferred[None]] = []
        if removed:
            writes.append(self._store.remove_offsets(group.group_id, removed))
        if group.is_(GroupState.DEAD):
            if self._groups.get(group.group_id) is group:
                del self._groups[group.group_id]
                self._cancel_group_timers(group)
            if group.generation_id > 0:
                writes.append(self._store.remove_group(group.group_id))
        if not writes:
            return succeed(0)
        done = DeferredList(writes, consumeErrors=True)

        def first_error(results: Sequence[tuple[bool, object]]) -> int:
            for _, value in results:
                if isinstance(value, Failure):
                    code = error_code(value, self._log)
                    self._log.warn(
                        "Failed to write tombstones for group {group_id}: {code}",
                        group_id=group.group_id,
                        code=code,
                    )
                    return code
            return 0

        return done.addCallback(first_error)


def _gather(deferreds: Sequence[Deferred[_T]]) -> Deferred[list[_T]]:
    """
    Wait for Deferreds that never fail.
    """
    if not deferreds:
        return succeed([])
    done = DeferredList(list(deferreds))

    def values(results: Sequence[tuple[bool, _T]]) -> list[_T]:
        return [value for _, value in results]

    return done.addCallback(values)


def _tagged(outcome: Deferred[int], group_id: str) -> Deferred[tuple[str, int]]:
    def tag(code: int) -> tuple[str, int]:
        return group_id, code

    return outcome.addCallback(tag)
