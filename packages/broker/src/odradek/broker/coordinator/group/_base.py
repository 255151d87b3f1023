"""
The base of L{GroupCoordinator
<odradek.broker.coordinator.group.coordinator.GroupCoordinator>}: the groups it
owns, the checks every request starts with, session timers and unloading.
Kafka's purgatories (C{DelayedHeartbeat} ...) are replaced by timers on an injected
clock.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from odradek.broker.coordinator.group.config import GroupConfig
from odradek.broker.coordinator.group.group import GroupMetadata, GroupState
from odradek.broker.coordinator.group.interfaces import IGroupStore
from odradek.broker.coordinator.group.member import MemberMetadata
from odradek.broker.coordinator.group.placement import partition_for
from odradek.broker.coordinator.group.results import JoinGroupResult, SyncGroupResult
from odradek.broker.coordinator.group.values import GroupSnapshot
from odradek.client.errors import (
    CoordinatorLoadInProgressError,
    CoordinatorNotAvailableError,
    FencedInstanceIdError,
    InvalidGroupIdError,
    KafkaError,
    NotCoordinatorError,
    UnknownMemberIdError,
    UnknownServerError,
)

__all__: list[str] = []

NEW_MEMBER_JOIN_TIMEOUT_MS = 5 * 60 * 1000
"""How long a new member may wait in its first JoinGroup (Kafka's value)."""

_PREPARING = GroupState.PREPARING_REBALANCE
_COMPLETING = GroupState.COMPLETING_REBALANCE


def error_code(failure: Failure, log: Logger) -> int:
    """
    @param failure: a failed store write.
    @param log: where to report an unexpected failure.
    @return: the Kafka error code it stands for.
    """
    if isinstance(failure.value, KafkaError):
        return type(failure.value).code
    log.failure("Unexpected failure of the group store", failure)
    return UnknownServerError.code


class CoordinatorBase:
    """
    The state every group request works on, and the rebalance protocol.

    @ivar _clock: where time and timers come from.
    @ivar _store: where groups and offsets are written.
    @ivar _config: the coordinator's settings.
    @ivar _groups: the groups of the partitions this coordinator owns, by id.
    @ivar _owned: the partitions of C{__consumer_offsets} loaded here.
    @ivar _loading: the partitions being loaded.
    @ivar _active: C{False} once shut down.
    """

    _log = Logger()

    def __init__(
        self, *, clock: IReactorTime, store: IGroupStore, config: GroupConfig
    ) -> None:
        """
        @param clock: where time and timers come from.
        @param store: where groups and offsets are written.
        @param config: the coordinator's settings.
        """
        self._clock = clock
        self._store = store
        self._config = config
        self._groups: dict[str, GroupMetadata] = {}
        self._owned: set[int] = set()
        self._loading: set[int] = set()
        self._active = True

    # Common checks and helpers.

    def _now_ms(self) -> int:
        return int(self._clock.seconds() * 1000)

    def _later(
        self, delay_ms: int, function: Callable[..., None], *args: Any
    ) -> IDelayedCall:
        return self._clock.callLater(max(delay_ms, 0) / 1000.0, function, *args)

    def _partition(self, group_id: str) -> int:
        return partition_for(group_id, self._config.partition_count)

    def _group_error(self, group_id: str, *, allow_empty: bool) -> int:
        """
        Kafka's C{validateGroupStatus}.

        @return: the error for a request about C{group_id}, or 0.
        """
        if not group_id and not allow_empty:
            return InvalidGroupIdError.code
        if not self._active:
            return CoordinatorNotAvailableError.code
        partition = self._partition(group_id)
        if partition in self._loading:
            return CoordinatorLoadInProgressError.code
        if partition not in self._owned:
            return NotCoordinatorError.code
        return 0

    @staticmethod
    def _member_error(
        group: GroupMetadata, member_id: str, group_instance_id: str | None
    ) -> int:
        """
        Kafka's C{validateCurrentMember}: a static id must map to C{member_id}, and
        C{member_id} must be a member.
        """
        if group_instance_id is not None:
            current = group.current_static_member_id(group_instance_id)
            if current is None:
                return UnknownMemberIdError.code
            if current != member_id:
                return FencedInstanceIdError.code
        if not group.has(member_id):
            return UnknownMemberIdError.code
        return 0

    def _store_group(
        self,
        group: GroupMetadata,
        snapshot: GroupSnapshot,
        then: Callable[[int], None],
    ) -> None:
        """
        Write a group's metadata, remember it as stored, then call C{then} with
        the error code (0 on success).
        """

        def stored(_: object) -> None:
            group.stored = snapshot
            then(0)

        def failed(failure: Failure) -> None:
            then(error_code(failure, self._log))

        self._store.store_group(snapshot).addCallbacks(stored, failed)

    def _remove_member_and_update_group(
        self, group: GroupMetadata, member: MemberMetadata
    ) -> None:
        """
        Remove a member and rebalance (the subclass's job).
        """
        raise NotImplementedError()

    def _remove_pending_member_and_update_group(
        self, group: GroupMetadata, member_id: str
    ) -> None:
        """
        Forget a pending member id (the subclass's job).
        """
        raise NotImplementedError()

    # Timers.

    def _schedule_heartbeat(
        self,
        group: GroupMetadata,
        member: MemberMetadata,
        timeout_ms: int | None = None,
    ) -> None:
        """
        Kafka's C{completeAndScheduleNextHeartbeatExpiration}.
        """
        member.cancel_heartbeat()
        delay = member.session_timeout_ms if timeout_ms is None else timeout_ms
        member.heartbeat_call = self._later(
            delay, self._on_heartbeat_expired, group, member
        )

    def _on_heartbeat_expired(
        self, group: GroupMetadata, member: MemberMetadata
    ) -> None:
        member.heartbeat_call = None
        if (
            group.is_(GroupState.DEAD)
            or group.members.get(member.member_id) is not member
        ):
            return
        if member.has_satisfied_heartbeat():
            return
        self._log.info(
            "Member {member_id} in group {group_id} has failed, removing it",
            member_id=member.member_id,
            group_id=group.group_id,
        )
        self._remove_member_and_update_group(group, member)

    def _add_pending_member(
        self, group: GroupMetadata, member_id: str, timeout_ms: int
    ) -> None:
        group.pending_members.add(member_id)
        self._cancel_pending_member(group, member_id)
        group.pending_member_calls[member_id] = self._later(
            timeout_ms, self._on_pending_member_expired, group, member_id
        )

    @staticmethod
    def _cancel_pending_member(group: GroupMetadata, member_id: str) -> None:
        call = group.pending_member_calls.pop(member_id, None)
        if call is not None and call.active():
            call.cancel()

    def _on_pending_member_expired(self, group: GroupMetadata, member_id: str) -> None:
        group.pending_member_calls.pop(member_id, None)
        if group.is_(GroupState.DEAD) or not group.is_pending_member(member_id):
            return
        self._log.info(
            "Pending member {member_id} in group {group_id} expired",
            member_id=member_id,
            group_id=group.group_id,
        )
        self._remove_pending_member_and_update_group(group, member_id)

    def _cancel_group_timers(self, group: GroupMetadata) -> None:
        for call in (
            group.join_call,
            group.sync_call,
            *group.pending_member_calls.values(),
        ):
            if call is not None and call.active():
                call.cancel()
        group.join_call = None
        group.sync_call = None
        group.pending_member_calls.clear()
        for member in group.members.values():
            member.cancel_heartbeat()

    @staticmethod
    def _answer_removed(member: MemberMetadata) -> None:
        """
        Answer the requests of a member that is no longer in its group.
        """
        for joined in member.take_join_waiters():
            joined.callback(JoinGroupResult(error_code=UnknownMemberIdError.code))
        for synced in member.take_sync_waiters():
            synced.callback(SyncGroupResult(error_code=UnknownMemberIdError.code))

    # Unloading.

    def _on_group_unloaded(self, group: GroupMetadata) -> None:
        """
        Kafka's C{onGroupUnloaded}: the group is Dead and every waiting request is
        answered C{NOT_COORDINATOR}.
        """
        self._log.info(
            "Unloading group {group_id} with generation {generation}",
            group_id=group.group_id,
            generation=group.generation_id,
        )
        group.transition_to(GroupState.DEAD, self._now_ms())
        self._cancel_group_timers(group)
        for member in group.members.values():
            for joined in member.take_join_waiters():
                joined.callback(
                    JoinGroupResult(
                        error_code=NotCoordinatorError.code, member_id=member.member_id
                    )
                )
            for synced in member.take_sync_waiters():
                synced.callback(SyncGroupResult(error_code=NotCoordinatorError.code))
