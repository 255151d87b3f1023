"""
A consumer group and its state machine (Kafka's classic C{GroupMetadata}): members,
generation, protocol selection, static members and the group's committed offsets.

Sans-IO: the L{GroupCoordinator
<odradek.broker.coordinator.group.coordinator.GroupCoordinator>} owns the timers
and the store; this module only keeps state and answers questions about it.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable, Mapping, Sequence

import attrs
from twisted.internet.interfaces import IDelayedCall

from odradek.broker.coordinator.group._groupoffsets import GroupOffsets
from odradek.broker.coordinator.group.member import MemberMetadata
from odradek.broker.coordinator.group.results import (
    DescribedGroup,
    JoinedMember,
    JoinGroupResult,
    ListedGroup,
    SyncGroupResult,
)
from odradek.broker.coordinator.group.values import (
    CommittedOffset,
    GroupSnapshot,
)
from odradek.client.errors import FencedInstanceIdError
from odradek.client.structs import TopicPartition

__all__ = ["GroupMetadata", "GroupState", "IllegalGroupStateError"]


class GroupState(enum.Enum):
    """
    The states of a classic group, with Kafka's names as values.
    """

    EMPTY = "Empty"
    PREPARING_REBALANCE = "PreparingRebalance"
    COMPLETING_REBALANCE = "CompletingRebalance"
    STABLE = "Stable"
    DEAD = "Dead"


_VALID_PREVIOUS_STATES: dict[GroupState, frozenset[GroupState]] = {
    GroupState.DEAD: frozenset(GroupState),
    GroupState.COMPLETING_REBALANCE: frozenset({GroupState.PREPARING_REBALANCE}),
    GroupState.STABLE: frozenset({GroupState.COMPLETING_REBALANCE}),
    GroupState.PREPARING_REBALANCE: frozenset(
        {GroupState.STABLE, GroupState.COMPLETING_REBALANCE, GroupState.EMPTY}
    ),
    GroupState.EMPTY: frozenset({GroupState.PREPARING_REBALANCE}),
}


class IllegalGroupStateError(Exception):
    """
    A group was asked to move to a state it cannot reach from its current one.
    """


@attrs.define(eq=False)
class GroupMetadata(GroupOffsets):
    """
    One group.

    @ivar group_id: the group's id.
    @ivar state: its state.
    @ivar state_timestamp_ms: when it entered that state, or C{None} (a group
        loaded from old records).
    @ivar generation_id: its generation, bumped by each completed rebalance.
    @ivar protocol_type: its members' protocol type, C{None} until a member joins.
    @ivar protocol_name: the protocol chosen for the current generation.
    @ivar leader_id: the leader's member id.
    @ivar members: the members by member id, in join order.
    @ivar static_members: member ids by C{group.instance.id}.
    @ivar pending_members: ids handed out with C{MEMBER_ID_REQUIRED}, not yet
        used to join.
    @ivar pending_sync_members: members of the current generation that have not
        sent their SyncGroup yet.
    @ivar new_member_added: whether a member joined during the initial delay
        (which then waits once more).
    @ivar subscribed_topics: the topics the consumers subscribe to, or C{None}
        when unknown.
    @ivar offsets: the committed offsets.
    @ivar pending_offset_commits: offsets being written, by partition.
    @ivar stored: the metadata last written for the group (what loading the
        store would give), or C{None}.
    @ivar join_call: the timer of the rebalance under way.
    @ivar join_initial: whether C{join_call} is the initial delay of an empty
        group (which never completes early).
    @ivar sync_call: the timer that removes members that do not send SyncGroup.
    @ivar pending_member_calls: timers that forget pending member ids.
    """

    group_id: str
    state: GroupState
    state_timestamp_ms: int | None
    generation_id: int = 0
    protocol_type: str | None = None
    protocol_name: str | None = None
    leader_id: str | None = None
    members: dict[str, MemberMetadata] = attrs.field(factory=dict)
    static_members: dict[str, str] = attrs.field(factory=dict)
    pending_members: set[str] = attrs.field(factory=set)
    pending_sync_members: set[str] = attrs.field(factory=set)
    new_member_added: bool = False
    subscribed_topics: frozenset[str] | None = None
    offsets: dict[TopicPartition, CommittedOffset] = attrs.field(factory=dict)
    pending_offset_commits: dict[TopicPartition, CommittedOffset] = attrs.field(
        factory=dict
    )
    stored: GroupSnapshot | None = None
    join_call: IDelayedCall | None = None
    join_initial: bool = False
    sync_call: IDelayedCall | None = None
    pending_member_calls: dict[str, IDelayedCall] = attrs.field(factory=dict)

    # States.

    def is_(self, state: GroupState) -> bool:
        """
        @param state: a state.
        @return: whether the group is in it.
        """
        return self.state is state

    def _is_state(self, name: str) -> bool:
        return self.state.value == name

    def can_rebalance(self) -> bool:
        """
        @return: whether the group may move to C{PreparingRebalance}.
        """
        return self.state in _VALID_PREVIOUS_STATES[GroupState.PREPARING_REBALANCE]

    def transition_to(self, state: GroupState, now_ms: int) -> None:
        """
        Move to another state.

        @param state: the new state.
        @param now_ms: the time, recorded as the state's start.
        @raise IllegalGroupStateError: if C{state} cannot follow the current one.
        """
        if self.state not in _VALID_PREVIOUS_STATES[state]:
            raise IllegalGroupStateError(
                f"group {self.group_id} cannot go from {self.state.value}"
                f" to {state.value}"
            )
        self.state = state
        self.state_timestamp_ms = now_ms

    # Members.

    @property
    def size(self) -> int:
        """The number of members."""
        return len(self.members)

    def has(self, member_id: str) -> bool:
        """
        @param member_id: a member id.
        @return: whether it is a member.
        """
        return member_id in self.members

    def get(self, member_id: str) -> MemberMetadata:
        """
        @param member_id: a member's id.
        @return: the member.
        @raise KeyError: if there is no such member.
        """
        return self.members[member_id]

    def is_leader(self, member_id: str) -> bool:
        """
        @param member_id: a member id.
        @return: whether it is the leader's.
        """
        return self.leader_id == member_id

    def generate_member_id(self, client_id: str, group_instance_id: str | None) -> str:
        """
        @param client_id: the joining client's id.
        @param group_instance_id: its static id, or C{None}.
        @return: a new member id, as Kafka makes them.
        """
        prefix = client_id if group_instance_id is None else group_instance_id
        return f"{prefix}-{uuid.uuid4()}"

    def add(self, member: MemberMetadata) -> None:
        """
        Add a member (its JoinGroup waiter already set, if any).

        @param member: the member.
        """
        if member.group_instance_id is not None:
            self.static_members[member.group_instance_id] = member.member_id
        if not self.members:
            self.protocol_type = member.protocol_type
        if self.leader_id is None:
            self.leader_id = member.member_id
        self.members[member.member_id] = member
        self.pending_members.discard(member.member_id)

    def remove(self, member_id: str) -> MemberMetadata | None:
        """
        Remove a member or a pending member id.

        @param member_id: its id.
        @return: the member removed, or C{None}.
        """
        member = self.members.pop(member_id, None)
        instance = None if member is None else member.group_instance_id
        if instance is not None and self.static_members.get(instance) == member_id:
            del self.static_members[instance]
        if self.is_leader(member_id):
            self.leader_id = next(iter(self.members), None)
        self.pending_members.discard(member_id)
        self.pending_sync_members.discard(member_id)
        return member

    def current_static_member_id(self, group_instance_id: str) -> str | None:
        """
        @param group_instance_id: a static id.
        @return: the member id it has now, or C{None}.
        """
        return self.static_members.get(group_instance_id)

    def replace_static_member(
        self, group_instance_id: str, old_member_id: str, new_member_id: str
    ) -> MemberMetadata:
        """
        Give a static member a new member id. Its waiting requests under the old id
        are fenced.

        @param group_instance_id: its static id.
        @param old_member_id: its current member id.
        @param new_member_id: its new member id.
        @return: the member.
        """
        member = self.members[old_member_id]
        for join in member.take_join_waiters():
            join.callback(
                JoinGroupResult(
                    error_code=FencedInstanceIdError.code,
                    member_id=old_member_id,
                )
            )
        for sync in member.take_sync_waiters():
            sync.callback(SyncGroupResult(error_code=FencedInstanceIdError.code))
        member.member_id = new_member_id
        self.members = {
            (new_member_id if key == old_member_id else key): value
            for key, value in self.members.items()
        }
        if self.is_leader(old_member_id):
            self.leader_id = new_member_id
        if old_member_id in self.pending_sync_members:
            self.pending_sync_members.discard(old_member_id)
            self.pending_sync_members.add(new_member_id)
        self.static_members[group_instance_id] = new_member_id
        return member

    def update_member(
        self,
        member: MemberMetadata,
        protocols: Sequence[tuple[str, bytes]],
        rebalance_timeout_ms: int,
        session_timeout_ms: int,
    ) -> None:
        """
        Take a member's new JoinGroup.

        @param member: the member.
        @param protocols: its protocols.
        @param rebalance_timeout_ms: its rebalance timeout.
        @param session_timeout_ms: its session timeout.
        """
        member.supported_protocols = tuple((n, bytes(d)) for n, d in protocols)
        member.rebalance_timeout_ms = rebalance_timeout_ms
        member.session_timeout_ms = session_timeout_ms

    def is_pending_member(self, member_id: str) -> bool:
        """
        @param member_id: a member id.
        @return: whether it was handed out and not used yet.
        """
        return member_id in self.pending_members

    def rebalance_timeout_ms(self) -> int:
        """
        @return: the longest rebalance timeout of the members (0 with none).
        """
        return max((m.rebalance_timeout_ms for m in self.members.values()), default=0)

    def num_awaiting_join(self) -> int:
        """
        @return: how many members wait in JoinGroup.
        """
        return sum(1 for m in self.members.values() if m.is_awaiting_join)

    def has_all_members_joined(self) -> bool:
        """
        @return: whether every member has rejoined and no id is pending.
        """
        return self.num_awaiting_join() == self.size and not self.pending_members

    def not_yet_rejoined_members(self) -> list[MemberMetadata]:
        """
        @return: the members that have not rejoined in this rebalance.
        """
        return [m for m in self.members.values() if not m.is_awaiting_join]

    def maybe_elect_new_joined_leader(self) -> bool:
        """
        Make sure the leader is a member that rejoined.

        @return: whether the group has a leader that rejoined.
        """
        if self.leader_id is None:
            return False
        leader = self.members.get(self.leader_id)
        if leader is not None and leader.is_awaiting_join:
            return True
        for member_id, member in self.members.items():
            if member.is_awaiting_join:
                self.leader_id = member_id
                return True
        return False

    # Protocols.

    def _candidate_protocols(self) -> list[str]:
        members = list(self.members.values())
        if not members:
            return []
        common = members[0].protocols()
        for member in members[1:]:
            common &= member.protocols()
        return [name for name, _ in members[0].supported_protocols if name in common]

    def supports_protocols(self, protocol_type: str, protocols: Iterable[str]) -> bool:
        """
        @param protocol_type: a joining member's protocol type.
        @param protocols: its protocols' names.
        @return: whether it can join: for an empty group, any type and at least
            one protocol; else the group's type and a protocol all members share.
        """
        names = set(protocols)
        if self.is_(GroupState.EMPTY):
            return bool(protocol_type) and bool(names)
        if self.protocol_type != protocol_type:
            return False
        return any(name in names for name in self._candidate_protocols())

    def select_protocol(self) -> str:
        """
        Choose the protocol: each member votes for its preferred one among those
        all members support; the most votes wins (ties go to the first member's
        preference).

        @return: the protocol.
        @raise ValueError: if the members share no protocol.
        """
        candidates = self._candidate_protocols()
        if not candidates:
            raise ValueError(f"members of {self.group_id} share no protocol")
        votes = dict.fromkeys(candidates, 0)
        for member in self.members.values():
            votes[member.vote(candidates)] += 1
        return max(candidates, key=lambda name: votes[name])

    def init_next_generation(self, now_ms: int) -> None:
        """
        Start the next generation: C{CompletingRebalance} with the chosen protocol,
        or C{Empty} without members.

        @param now_ms: the time.
        """
        self.generation_id += 1
        if self.members:
            self.protocol_name = self.select_protocol()
            self.subscribed_topics = self.compute_subscribed_topics()
            self.transition_to(GroupState.COMPLETING_REBALANCE, now_ms)
        else:
            self.protocol_name = None
            self.subscribed_topics = self.compute_subscribed_topics()
            self.transition_to(GroupState.EMPTY, now_ms)
        self.pending_sync_members.clear()

    def current_member_metadata(self) -> tuple[JoinedMember, ...]:
        """
        @return: the members with their metadata for the chosen protocol, as the
            leader's JoinGroup response lists them.
        """
        protocol = self.protocol_name or ""
        return tuple(
            JoinedMember(m.member_id, m.group_instance_id, m.metadata(protocol))
            for m in self.members.values()
        )

    # Snapshots and views.

    def to_snapshot(
        self, assignments: Mapping[str, bytes] | None = None
    ) -> GroupSnapshot:
        """
        @param assignments: the assignments to store, by member id; the members'
            current assignments when C{None}.
        @return: the group's metadata to store.
        """
        members = tuple(
            m.to_snapshot(
                self.protocol_name,
                m.assignment
                if assignments is None
                else assignments.get(m.member_id, b""),
            )
            for m in self.members.values()
        )
        return GroupSnapshot(
            group_id=self.group_id,
            protocol_type=self.protocol_type or "",
            generation_id=self.generation_id,
            protocol_name=self.protocol_name,
            leader_id=self.leader_id,
            current_state_timestamp_ms=self.state_timestamp_ms,
            members=members,
        )

    @classmethod
    def from_snapshot(
        cls,
        snapshot: GroupSnapshot,
        offsets: Mapping[TopicPartition, CommittedOffset] | None = None,
    ) -> GroupMetadata:
        """
        Rebuild a group as loaded from the store: C{Stable} with its members, or
        C{Empty} without.

        @param snapshot: its stored metadata.
        @param offsets: its committed offsets.
        @return: the group.
        """
        protocol_type = snapshot.protocol_type or None
        group = cls(
            group_id=snapshot.group_id,
            state=GroupState.STABLE if snapshot.members else GroupState.EMPTY,
            state_timestamp_ms=snapshot.current_state_timestamp_ms,
            generation_id=snapshot.generation_id,
            protocol_type=protocol_type,
            protocol_name=snapshot.protocol_name,
            leader_id=snapshot.leader_id,
            stored=snapshot,
        )
        for stored in snapshot.members:
            member = MemberMetadata.from_snapshot(
                stored, snapshot.protocol_type, snapshot.protocol_name
            )
            group.members[member.member_id] = member
            if member.group_instance_id is not None:
                group.static_members[member.group_instance_id] = member.member_id
        if group.leader_id not in group.members:
            group.leader_id = next(iter(group.members), None)
        group.subscribed_topics = group.compute_subscribed_topics()
        group.offsets.update(offsets or {})
        return group

    def describe(self) -> DescribedGroup:
        """
        @return: the group as DescribeGroups shows it.
        """
        stable = self.is_(GroupState.STABLE)
        protocol = self.protocol_name if stable else None
        return DescribedGroup(
            group_id=self.group_id,
            error_code=0,
            state=self.state.value,
            protocol_type=self.protocol_type or "",
            protocol_data=(protocol or "") if stable else "",
            members=tuple(m.describe(protocol) for m in self.members.values()),
        )

    def overview(self) -> ListedGroup:
        """
        @return: the group as ListGroups shows it.
        """
        return ListedGroup(
            group_id=self.group_id,
            protocol_type=self.protocol_type or "",
            state=self.state.value,
        )
