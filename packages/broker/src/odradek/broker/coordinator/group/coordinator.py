"""
The group coordinator: Apache Kafka's classic C{GroupCoordinator} (JoinGroup,
SyncGroup, Heartbeat, LeaveGroup, DescribeGroups, ListGroups, DeleteGroups and the
offset requests) for the groups whose partition of C{__consumer_offsets} this
broker leads.

It keeps every group in memory, writes what must survive through an
L{IGroupStore<odradek.broker.coordinator.group.interfaces.IGroupStore>}
and reads time and sets its timers (session expiry, rebalance timeouts, the
initial rebalance delay) on an injected clock. Each request is answered with a
value of L{odradek.broker.coordinator.group.results}; those that wait for other
members or for the store return a C{Deferred}.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from twisted.internet.defer import Deferred, succeed

from odradek.broker.coordinator.group._admin import GroupAdmin
from odradek.broker.coordinator.group._rebalance import fail_join
from odradek.broker.coordinator.group.group import (
    GroupMetadata,
    GroupState,
)
from odradek.broker.coordinator.group.member import MemberMetadata
from odradek.broker.coordinator.group.results import (
    JoinGroupResult,
    LeaveGroupResult,
    LeavingMember,
    SyncGroupResult,
)
from odradek.client.errors import (
    CoordinatorLoadInProgressError,
    CoordinatorNotAvailableError,
    GroupMaxSizeReachedError,
    IllegalGenerationError,
    InconsistentGroupProtocolError,
    InvalidSessionTimeoutError,
    RebalanceInProgressError,
    UnknownMemberIdError,
)

__all__ = ["GroupCoordinator"]

_EMPTY = GroupState.EMPTY
_PREPARING = GroupState.PREPARING_REBALANCE
_COMPLETING = GroupState.COMPLETING_REBALANCE
_STABLE = GroupState.STABLE
_DEAD = GroupState.DEAD


_fail = fail_join


class GroupCoordinator(GroupAdmin):
    """
    Consumer groups of the classic protocol, as Kafka 3.9's C{GroupCoordinator}.

    Construct it with keyword arguments C{clock} (an C{IReactorTime}), C{store}
    (an L{IGroupStore<odradek.broker.coordinator.group.interfaces.IGroupStore>})
    and C{config} (a L{GroupConfig
    <odradek.broker.coordinator.group.config.GroupConfig>}). It owns no partition
    until C{finish_loading} is called for one.
    """

    # Membership.

    def join_group(
        self,
        *,
        group_id: str,
        member_id: str,
        group_instance_id: str | None,
        client_id: str,
        client_host: str,
        rebalance_timeout_ms: int,
        session_timeout_ms: int,
        protocol_type: str,
        protocols: Sequence[tuple[str, bytes]],
        require_known_member_id: bool,
        reason: str | None = None,
    ) -> Deferred[JoinGroupResult]:
        """
        Join a group (JoinGroup); the answer comes when the rebalance completes.

        @param group_id: the group.
        @param member_id: the member's id, C{""} for a new member.
        @param group_instance_id: its static id, or C{None}.
        @param client_id: its client id.
        @param client_host: its address (C{"/127.0.0.1"}).
        @param rebalance_timeout_ms: how long the group waits for it to rejoin.
        @param session_timeout_ms: how long it may go without heartbeats.
        @param protocol_type: its protocol type (C{"consumer"}).
        @param protocols: its protocols and their metadata, preferred first.
        @param require_known_member_id: whether a new dynamic member first gets
            C{MEMBER_ID_REQUIRED} with its id (JoinGroup v4+).
        @param reason: why it joins (v8+), for the log.
        @return: fires with the result.
        """
        code = self._group_error(group_id, allow_empty=False)
        if code:
            return _fail(member_id, code)
        if not (
            self._config.min_session_timeout_ms
            <= session_timeout_ms
            <= self._config.max_session_timeout_ms
        ):
            return _fail(member_id, InvalidSessionTimeoutError.code)
        unknown = member_id == ""
        group = self._groups.get(group_id)
        if group is None:
            if not unknown:
                return _fail(member_id, UnknownMemberIdError.code)
            group = GroupMetadata(group_id, _EMPTY, self._now_ms())
            self._groups[group_id] = group
        protocols = [(name, bytes(data)) for name, data in protocols]
        if not self._accept_joining_member(group, member_id):
            removed = group.remove(member_id)
            if removed is not None:
                removed.cancel_heartbeat()
            self._cancel_pending_member(group, member_id)
            result = _fail("", GroupMaxSizeReachedError.code)
        elif group.is_(_DEAD):
            result = _fail(member_id, CoordinatorNotAvailableError.code)
        elif not group.supports_protocols(protocol_type, [n for n, _ in protocols]):
            result = _fail(member_id, InconsistentGroupProtocolError.code)
        elif unknown:
            result = self._join_new_member(
                group,
                group_instance_id=group_instance_id,
                require_known_member_id=require_known_member_id,
                client_id=client_id,
                client_host=client_host,
                rebalance_timeout_ms=rebalance_timeout_ms,
                session_timeout_ms=session_timeout_ms,
                protocol_type=protocol_type,
                protocols=protocols,
            )
        elif group.is_pending_member(member_id):
            result = self._add_member_and_rebalance(
                group,
                member_id=member_id,
                group_instance_id=None,
                client_id=client_id,
                client_host=client_host,
                rebalance_timeout_ms=rebalance_timeout_ms,
                session_timeout_ms=session_timeout_ms,
                protocol_type=protocol_type,
                protocols=protocols,
            )
        else:
            result = self._join_current_member(
                group,
                member_id,
                group_instance_id,
                protocols,
                rebalance_timeout_ms,
                session_timeout_ms,
                reason,
            )
        if group.is_(_PREPARING):
            self._try_complete_join(group)
        return result

    def _join_current_member(
        self,
        group: GroupMetadata,
        member_id: str,
        group_instance_id: str | None,
        protocols: Sequence[tuple[str, bytes]],
        rebalance_timeout_ms: int,
        session_timeout_ms: int,
        reason: str | None,
    ) -> Deferred[JoinGroupResult]:
        code = self._member_error(group, member_id, group_instance_id)
        if code:
            return _fail(member_id, code)
        member = group.get(member_id)
        why = f"member {member_id} rejoins in {group.state.value} ({reason})"
        if group.is_(_PREPARING):
            pass
        elif group.is_(_COMPLETING) and member.matches(protocols):
            return succeed(self._current_join_result(group, member, with_members=True))
        elif (
            group.is_(_STABLE)
            and not group.is_leader(member_id)
            and member.matches(protocols)
        ):
            return succeed(self._current_join_result(group, member, with_members=False))
        elif group.state in (_EMPTY, _DEAD):
            return _fail(member_id, UnknownMemberIdError.code)
        return self._update_member_and_rebalance(
            group, member, protocols, rebalance_timeout_ms, session_timeout_ms, why
        )

    @staticmethod
    def _current_join_result(
        group: GroupMetadata, member: MemberMetadata, *, with_members: bool
    ) -> JoinGroupResult:
        leader = group.is_leader(member.member_id)
        return JoinGroupResult(
            error_code=0,
            generation_id=group.generation_id,
            protocol_type=group.protocol_type,
            protocol_name=group.protocol_name,
            leader_id=group.leader_id or "",
            member_id=member.member_id,
            members=group.current_member_metadata() if leader and with_members else (),
        )

    def sync_group(
        self,
        *,
        group_id: str,
        generation_id: int,
        member_id: str,
        group_instance_id: str | None,
        protocol_type: str | None,
        protocol_name: str | None,
        assignments: Mapping[str, bytes],
    ) -> Deferred[SyncGroupResult]:
        """
        Get the member's assignment (SyncGroup); the leader hands in everyone's.

        @param group_id: the group.
        @param generation_id: the member's generation.
        @param member_id: the member's id.
        @param group_instance_id: its static id, or C{None}.
        @param protocol_type: the protocol type it expects (v5+), or C{None}.
        @param protocol_name: the protocol it expects (v5+), or C{None}.
        @param assignments: from the leader, the assignment of every member.
        @return: fires with the member's assignment once the group is stored.
        """
        code = self._group_error(group_id, allow_empty=False)
        if code == CoordinatorLoadInProgressError.code:
            code = RebalanceInProgressError.code
        group = self._groups.get(group_id)
        if not code and group is None:
            code = UnknownMemberIdError.code
        if not code and group is not None:
            code = self._sync_error(
                group,
                generation_id,
                member_id,
                group_instance_id,
                protocol_type,
                protocol_name,
            )
        if code or group is None:
            return succeed(SyncGroupResult(error_code=code))
        member = group.get(member_id)
        if group.is_(_STABLE):
            self._remove_pending_sync_member(group, member_id)
            self._schedule_heartbeat(group, member)
            return succeed(
                SyncGroupResult(
                    error_code=0,
                    protocol_type=group.protocol_type,
                    protocol_name=group.protocol_name,
                    assignment=member.assignment,
                )
            )
        synced: Deferred[SyncGroupResult] = Deferred()
        member.awaiting_sync.append(synced)
        self._remove_pending_sync_member(group, member_id)
        if group.is_leader(member_id):
            assignment = {m: bytes(assignments.get(m, b"")) for m in group.members}
            generation = group.generation_id

            def stored(code: int) -> None:
                if not group.is_(_COMPLETING) or group.generation_id != generation:
                    return
                if code:
                    self._reset_and_propagate_assignment_error(group, code)
                    self._maybe_prepare_rebalance(
                        group, f"error {code} storing the assignment"
                    )
                else:
                    for each in group.members.values():
                        each.assignment = assignment[each.member_id]
                    self._propagate_assignment(group, 0)
                    group.transition_to(_STABLE, self._now_ms())

            self._store_group(group, group.to_snapshot(assignment), stored)
        return synced

    def _sync_error(
        self,
        group: GroupMetadata,
        generation_id: int,
        member_id: str,
        group_instance_id: str | None,
        protocol_type: str | None,
        protocol_name: str | None,
    ) -> int:
        if group.is_(_DEAD):
            return CoordinatorNotAvailableError.code
        code = self._member_error(group, member_id, group_instance_id)
        if code:
            return code
        if generation_id != group.generation_id:
            return IllegalGenerationError.code
        if protocol_type is not None and protocol_type != group.protocol_type:
            return InconsistentGroupProtocolError.code
        if protocol_name is not None and protocol_name != group.protocol_name:
            return InconsistentGroupProtocolError.code
        if group.is_(_EMPTY):
            return UnknownMemberIdError.code
        if group.is_(_PREPARING):
            return RebalanceInProgressError.code
        return 0

    def heartbeat(
        self,
        *,
        group_id: str,
        generation_id: int,
        member_id: str,
        group_instance_id: str | None,
    ) -> Deferred[int]:
        """
        Keep a member's session alive (Heartbeat).

        @param group_id: the group.
        @param generation_id: the member's generation.
        @param member_id: the member's id.
        @param group_instance_id: its static id, or C{None}.
        @return: fires with the error code: C{REBALANCE_IN_PROGRESS} tells the
            member to rejoin; 0 while the partition loads, as in Kafka.
        """
        code = self._group_error(group_id, allow_empty=False)
        if code == CoordinatorLoadInProgressError.code:
            return succeed(0)
        if code:
            return succeed(code)
        group = self._groups.get(group_id)
        if group is None:
            return succeed(UnknownMemberIdError.code)
        if group.is_(_DEAD):
            return succeed(CoordinatorNotAvailableError.code)
        code = self._member_error(group, member_id, group_instance_id)
        if code:
            return succeed(code)
        if generation_id != group.generation_id:
            return succeed(IllegalGenerationError.code)
        if group.is_(_EMPTY):
            return succeed(UnknownMemberIdError.code)
        self._schedule_heartbeat(group, group.get(member_id))
        if group.is_(_PREPARING):
            return succeed(RebalanceInProgressError.code)
        return succeed(0)

    def leave_group(
        self, *, group_id: str, members: Sequence[LeavingMember]
    ) -> Deferred[LeaveGroupResult]:
        """
        Remove members from a group (LeaveGroup); a static member may be named by
        its instance id alone (member id C{""}).

        @param group_id: the group.
        @param members: the members leaving.
        @return: fires with the result, an error code for each member.
        """
        code = self._group_error(group_id, allow_empty=False)
        if code:
            return succeed(LeaveGroupResult(error_code=code))
        group = self._groups.get(group_id)
        if group is None:
            return succeed(
                LeaveGroupResult(
                    error_code=0,
                    members=tuple(_left(m, UnknownMemberIdError.code) for m in members),
                )
            )
        if group.is_(_DEAD):
            return succeed(
                LeaveGroupResult(error_code=CoordinatorNotAvailableError.code)
            )
        answers = []
        for leaving in members:
            if leaving.member_id == "":
                current = None
                if leaving.group_instance_id is not None:
                    current = group.current_static_member_id(leaving.group_instance_id)
                if current is None:
                    answers.append(_left(leaving, UnknownMemberIdError.code))
                    continue
                self._leave(group, current, leaving.reason)
                answers.append(_left(leaving, 0))
            elif group.is_pending_member(leaving.member_id):
                self._remove_pending_member_and_update_group(group, leaving.member_id)
                answers.append(_left(leaving, 0))
            else:
                code = self._member_error(
                    group, leaving.member_id, leaving.group_instance_id
                )
                if not code:
                    self._leave(group, leaving.member_id, leaving.reason)
                answers.append(_left(leaving, code))
        return succeed(LeaveGroupResult(error_code=0, members=tuple(answers)))

    def _leave(self, group: GroupMetadata, member_id: str, reason: str | None) -> None:
        member = group.get(member_id)
        self._log.info(
            "Member {member_id} has left group {group_id}; client reason: {reason}",
            member_id=member_id,
            group_id=group.group_id,
            reason=reason or "not provided",
        )
        self._remove_member_and_update_group(group, member)


def _left(member: LeavingMember, code: int) -> LeavingMember:
    return LeavingMember(
        member_id=member.member_id,
        group_instance_id=member.group_instance_id,
        reason=member.reason,
        error_code=code,
    )
