"""
The rebalance protocol under L{GroupCoordinator
<odradek.broker.coordinator.group.coordinator.GroupCoordinator>}: the timers and
transitions of Kafka's classic protocol (C{DelayedJoin}, C{InitialDelayedJoin},
C{DelayedSync}) driven by an injected clock instead of purgatories.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from twisted.internet.defer import Deferred, succeed

from odradek.broker.coordinator.group._base import (
    NEW_MEMBER_JOIN_TIMEOUT_MS,
    CoordinatorBase,
)
from odradek.broker.coordinator.group.group import (
    GroupMetadata,
    GroupState,
    IllegalGroupStateError,
)
from odradek.broker.coordinator.group.member import MemberMetadata
from odradek.broker.coordinator.group.results import JoinGroupResult, SyncGroupResult
from odradek.client.errors import (
    MemberIdRequiredError,
    RebalanceInProgressError,
)

__all__: list[str] = []

_PREPARING = GroupState.PREPARING_REBALANCE
_COMPLETING = GroupState.COMPLETING_REBALANCE
_STABLE = GroupState.STABLE
_EMPTY = GroupState.EMPTY
_DEAD = GroupState.DEAD


def fail_join(member_id: str, code: int) -> Deferred[JoinGroupResult]:
    """
    @return: a JoinGroup answer with an error.
    """
    return succeed(JoinGroupResult(error_code=code, member_id=member_id))


class Rebalancer(CoordinatorBase):
    """
    The rebalance protocol: joining, syncing and leaving.
    """

    # Joining.

    def _add_member_and_rebalance(
        self,
        group: GroupMetadata,
        *,
        member_id: str,
        group_instance_id: str | None,
        client_id: str,
        client_host: str,
        rebalance_timeout_ms: int,
        session_timeout_ms: int,
        protocol_type: str,
        protocols: Sequence[tuple[str, bytes]],
    ) -> Deferred[JoinGroupResult]:
        member = MemberMetadata(
            member_id=member_id,
            group_instance_id=group_instance_id,
            client_id=client_id,
            client_host=client_host,
            rebalance_timeout_ms=rebalance_timeout_ms,
            session_timeout_ms=session_timeout_ms,
            protocol_type=protocol_type,
            supported_protocols=tuple((n, bytes(d)) for n, d in protocols),
            is_new=True,
        )
        joined: Deferred[JoinGroupResult] = Deferred()
        member.awaiting_join.append(joined)
        if group.is_(_PREPARING) and group.generation_id == 0:
            group.new_member_added = True
        group.add(member)
        self._cancel_pending_member(group, member_id)
        self._schedule_heartbeat(group, member, NEW_MEMBER_JOIN_TIMEOUT_MS)
        self._maybe_prepare_rebalance(group, f"adding new member {member_id}")
        return joined

    def _update_member_and_rebalance(
        self,
        group: GroupMetadata,
        member: MemberMetadata,
        protocols: Sequence[tuple[str, bytes]],
        rebalance_timeout_ms: int,
        session_timeout_ms: int,
        reason: str,
    ) -> Deferred[JoinGroupResult]:
        group.update_member(member, protocols, rebalance_timeout_ms, session_timeout_ms)
        joined: Deferred[JoinGroupResult] = Deferred()
        member.awaiting_join.append(joined)
        self._maybe_prepare_rebalance(group, reason)
        return joined

    def _maybe_prepare_rebalance(self, group: GroupMetadata, reason: str) -> None:
        if group.can_rebalance():
            self._prepare_rebalance(group, reason)

    def _prepare_rebalance(self, group: GroupMetadata, reason: str) -> None:
        if group.is_(_COMPLETING):
            self._reset_and_propagate_assignment_error(
                group, RebalanceInProgressError.code
            )
        self._remove_sync_expiration(group)
        initial = group.is_(GroupState.EMPTY)
        group.transition_to(_PREPARING, self._now_ms())
        self._log.info(
            "Preparing to rebalance group {group_id} with old generation"
            " {generation} (reason: {reason})",
            group_id=group.group_id,
            generation=group.generation_id,
            reason=reason,
        )
        if initial:
            delay = self._config.initial_rebalance_delay_ms
            remaining = max(group.rebalance_timeout_ms() - delay, 0)
            self._schedule_join(group, delay, initial=True, remaining_ms=remaining)
        else:
            self._watch_join(group)

    def _watch_join(self, group: GroupMetadata) -> None:
        """
        Kafka's C{tryCompleteElseWatch} of a C{DelayedJoin}.
        """
        if group.has_all_members_joined():
            self._cancel_join(group)
            self._on_complete_join(group)
        else:
            self._schedule_join(group, group.rebalance_timeout_ms(), initial=False)

    def _schedule_join(
        self,
        group: GroupMetadata,
        delay_ms: int,
        *,
        initial: bool,
        remaining_ms: int = 0,
        start_ms: int | None = None,
    ) -> None:
        """
        Set the group's join timer to fire C{delay_ms} after C{start_ms} (now by
        default: an extended initial delay counts from the end of the previous
        one, however late its timer ran).
        """
        self._cancel_join(group)
        now = self._now_ms()
        due = (now if start_ms is None else start_ms) + delay_ms
        group.join_initial = initial
        group.join_call = self._later(
            due - now, self._on_join_timer, group, initial, delay_ms, remaining_ms, due
        )

    @staticmethod
    def _cancel_join(group: GroupMetadata) -> None:
        call, group.join_call = group.join_call, None
        if call is not None and call.active():
            call.cancel()

    def _on_join_timer(
        self,
        group: GroupMetadata,
        initial: bool,
        delay_ms: int,
        remaining_ms: int,
        due_ms: int,
    ) -> None:
        group.join_call = None
        if initial and group.new_member_added and remaining_ms != 0:
            group.new_member_added = False
            delay = min(self._config.initial_rebalance_delay_ms, remaining_ms)
            remaining = max(remaining_ms - delay_ms, 0)
            self._schedule_join(
                group, delay, initial=True, remaining_ms=remaining, start_ms=due_ms
            )
        else:
            self._on_complete_join(group)

    def _try_complete_join(self, group: GroupMetadata) -> None:
        """
        Kafka's C{checkAndComplete} of the group's C{DelayedJoin}.
        """
        if group.join_call is None or group.join_initial:
            return
        if group.has_all_members_joined():
            self._cancel_join(group)
            self._on_complete_join(group)

    def _on_complete_join(self, group: GroupMetadata) -> None:
        for member in group.not_yet_rejoined_members():
            if not member.is_static:
                group.remove(member.member_id)
                member.cancel_heartbeat()
                self._answer_removed(member)
        if group.is_(GroupState.DEAD):
            return
        if not group.maybe_elect_new_joined_leader() and group.members:
            self._log.error(
                "Group {group_id} could not complete rebalance because no members"
                " rejoined",
                group_id=group.group_id,
            )
            self._schedule_join(group, group.rebalance_timeout_ms(), initial=False)
            return
        group.init_next_generation(self._now_ms())
        if group.is_(GroupState.EMPTY):
            self._log.info(
                "Group {group_id} with generation {generation} is now empty",
                group_id=group.group_id,
                generation=group.generation_id,
            )
            self._store_group(group, group.to_snapshot(), self._warn_empty_store(group))
            return
        self._log.info(
            "Stabilized group {group_id} generation {generation} with {size} members",
            group_id=group.group_id,
            generation=group.generation_id,
            size=group.size,
        )
        members = group.current_member_metadata()
        for member in list(group.members.values()):
            leader = group.is_leader(member.member_id)
            result = JoinGroupResult(
                error_code=0,
                generation_id=group.generation_id,
                protocol_type=group.protocol_type,
                protocol_name=group.protocol_name,
                leader_id=group.leader_id or "",
                member_id=member.member_id,
                members=members if leader else (),
            )
            for joined in member.take_join_waiters():
                joined.callback(result)
            self._schedule_heartbeat(group, member)
            member.is_new = False
            group.pending_sync_members.add(member.member_id)
        self._schedule_pending_sync(group)

    def _warn_empty_store(self, group: GroupMetadata) -> Callable[[int], None]:
        def then(code: int) -> None:
            if code:
                self._log.warn(
                    "Failed to write empty metadata for group {group_id}: {code}",
                    group_id=group.group_id,
                    code=code,
                )

        return then

    # Syncing.

    def _schedule_pending_sync(self, group: GroupMetadata) -> None:
        if group.sync_call is not None and group.sync_call.active():
            group.sync_call.cancel()
        group.sync_call = self._later(
            group.rebalance_timeout_ms(),
            self._on_sync_expired,
            group,
            group.generation_id,
        )

    def _maybe_complete_sync_expiration(self, group: GroupMetadata) -> None:
        if group.sync_call is None:
            return
        if group.pending_sync_members and group.state in (
            _COMPLETING,
            GroupState.STABLE,
        ):
            return
        if group.sync_call.active():
            group.sync_call.cancel()
        group.sync_call = None

    def _remove_pending_sync_member(self, group: GroupMetadata, member_id: str) -> None:
        group.pending_sync_members.discard(member_id)
        self._maybe_complete_sync_expiration(group)

    def _remove_sync_expiration(self, group: GroupMetadata) -> None:
        group.pending_sync_members.clear()
        self._maybe_complete_sync_expiration(group)

    def _on_sync_expired(self, group: GroupMetadata, generation_id: int) -> None:
        group.sync_call = None
        if generation_id != group.generation_id:
            return
        if group.state not in (_COMPLETING, GroupState.STABLE):
            return
        if not group.pending_sync_members:
            return
        pending = sorted(group.pending_sync_members)
        for member_id in pending:
            member = group.remove(member_id)
            if member is not None:
                member.cancel_heartbeat()
                self._answer_removed(member)
        self._prepare_rebalance(
            group, f"removing {pending} on pending sync request expiration"
        )

    def _reset_and_propagate_assignment_error(
        self, group: GroupMetadata, error: int
    ) -> None:
        for member in group.members.values():
            member.assignment = b""
        self._propagate_assignment(group, error)

    def _propagate_assignment(self, group: GroupMetadata, error: int) -> None:
        result_type = group.protocol_type if error == 0 else None
        result_name = group.protocol_name if error == 0 else None
        for member in list(group.members.values()):
            waiters = member.take_sync_waiters()
            if not waiters:
                continue
            result = SyncGroupResult(
                error_code=error,
                protocol_type=result_type,
                protocol_name=result_name,
                assignment=member.assignment if error == 0 else b"",
            )
            for synced in waiters:
                synced.callback(result)
            self._schedule_heartbeat(group, member)

    # Leaving.

    def _remove_member_and_update_group(
        self, group: GroupMetadata, member: MemberMetadata
    ) -> None:
        self._answer_removed(member)
        group.remove(member.member_id)
        member.cancel_heartbeat()
        if group.state in (GroupState.STABLE, _COMPLETING):
            self._maybe_prepare_rebalance(group, f"removing member {member.member_id}")
        elif group.is_(_PREPARING):
            self._try_complete_join(group)

    def _remove_pending_member_and_update_group(
        self, group: GroupMetadata, member_id: str
    ) -> None:
        group.remove(member_id)
        self._cancel_pending_member(group, member_id)
        if group.is_(_PREPARING):
            self._try_complete_join(group)

    def _accept_joining_member(self, group: GroupMetadata, member_id: str) -> bool:
        limit = self._config.max_size
        if group.state in (_EMPTY, _DEAD):
            return True
        if group.is_(_PREPARING):
            if group.has(member_id) and group.get(member_id).is_awaiting_join:
                return True
            return group.num_awaiting_join() < limit
        return group.has(member_id) or group.size < limit

    def _join_new_member(
        self,
        group: GroupMetadata,
        *,
        group_instance_id: str | None,
        require_known_member_id: bool,
        client_id: str,
        client_host: str,
        rebalance_timeout_ms: int,
        session_timeout_ms: int,
        protocol_type: str,
        protocols: Sequence[tuple[str, bytes]],
    ) -> Deferred[JoinGroupResult]:
        new_member_id = group.generate_member_id(client_id, group_instance_id)
        if group_instance_id is not None:
            old_member_id = group.current_static_member_id(group_instance_id)
            if old_member_id is not None:
                return self._update_static_member_and_rebalance(
                    group,
                    old_member_id,
                    new_member_id,
                    group_instance_id,
                    protocols,
                    rebalance_timeout_ms,
                    session_timeout_ms,
                )
        elif require_known_member_id:
            self._add_pending_member(group, new_member_id, session_timeout_ms)
            return fail_join(new_member_id, MemberIdRequiredError.code)
        return self._add_member_and_rebalance(
            group,
            member_id=new_member_id,
            group_instance_id=group_instance_id,
            client_id=client_id,
            client_host=client_host,
            rebalance_timeout_ms=rebalance_timeout_ms,
            session_timeout_ms=session_timeout_ms,
            protocol_type=protocol_type,
            protocols=protocols,
        )

    def _update_static_member_and_rebalance(
        self,
        group: GroupMetadata,
        old_member_id: str,
        new_member_id: str,
        group_instance_id: str,
        protocols: Sequence[tuple[str, bytes]],
        rebalance_timeout_ms: int,
        session_timeout_ms: int,
    ) -> Deferred[JoinGroupResult]:
        current_leader = group.leader_id or ""
        member = group.replace_static_member(
            group_instance_id, old_member_id, new_member_id
        )
        self._schedule_heartbeat(group, member)
        old = (
            member.supported_protocols,
            member.rebalance_timeout_ms,
            member.session_timeout_ms,
        )
        group.update_member(member, protocols, rebalance_timeout_ms, session_timeout_ms)
        joined: Deferred[JoinGroupResult] = Deferred()
        member.awaiting_join.append(joined)
        why = f"static member {group_instance_id} rejoined as {new_member_id}"
        if group.is_(_STABLE):
            if group.protocol_name != group.select_protocol():
                self._maybe_prepare_rebalance(group, why + " with other protocols")
                return joined
            self._log.info(
                "Static member {instance} of group {group_id} rejoins without a"
                " rebalance",
                instance=group_instance_id,
                group_id=group.group_id,
            )

            def stored(code: int) -> None:
                waiters = member.take_join_waiters()
                if code:
                    group.update_member(member, *old)
                    if group.members.get(new_member_id) is member:
                        group.replace_static_member(
                            group_instance_id, new_member_id, old_member_id
                        )
                        self._schedule_heartbeat(group, member)
                    result = JoinGroupResult(
                        error_code=code,
                        generation_id=group.generation_id,
                        protocol_type=group.protocol_type,
                        protocol_name=group.protocol_name,
                        leader_id=current_leader,
                    )
                else:
                    leader = group.is_leader(new_member_id)
                    result = JoinGroupResult(
                        error_code=0,
                        generation_id=group.generation_id,
                        protocol_type=group.protocol_type,
                        protocol_name=group.protocol_name,
                        leader_id=group.leader_id or "",
                        skip_assignment=leader,
                        member_id=new_member_id,
                        members=group.current_member_metadata() if leader else (),
                    )
                for waiter in waiters:
                    waiter.callback(result)

            self._store_group(group, group.to_snapshot(), stored)
        elif group.is_(_COMPLETING):
            self._prepare_rebalance(group, why)
        elif not group.is_(_PREPARING):
            raise IllegalGroupStateError(
                f"static member {group_instance_id} rejoined {group.group_id}"
                f" in {group.state.value}"
            )
        return joined
