"""
One member of a consumer group, as the group coordinator keeps it (Kafka's
C{MemberMetadata}).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import attrs
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall

from odradek.broker.coordinator.group.results import (
    DescribedMember,
    JoinGroupResult,
    SyncGroupResult,
)
from odradek.broker.coordinator.group.values import MemberSnapshot

__all__ = ["MemberMetadata"]


@attrs.define(eq=False)
class MemberMetadata:
    """
    A member of a group: what it sent in its last JoinGroup, what the leader
    assigned it, and the requests of it that wait for the group.

    @ivar member_id: the id the coordinator gave it (changes when a static member
        rejoins with an unknown member id).
    @ivar group_instance_id: its static id (KIP-345), or C{None}.
    @ivar client_id: the client id of its JoinGroup.
    @ivar client_host: its address, as Kafka writes it (C{"/127.0.0.1"}).
    @ivar rebalance_timeout_ms: how long the group waits for it to rejoin.
    @ivar session_timeout_ms: how long it may go without a heartbeat.
    @ivar protocol_type: its protocol type (C{"consumer"}).
    @ivar supported_protocols: its protocols with their metadata, in its order of
        preference.
    @ivar assignment: what the leader assigned it in the current generation.
    @ivar awaiting_join: its JoinGroup requests waiting for the rebalance.
    @ivar awaiting_sync: its SyncGroup requests waiting for the leader.
    @ivar is_new: whether it joined during the rebalance under way (a new member
        is removed if it does not complete its join in time).
    @ivar heartbeat_call: the timer that removes it when its session expires.
    """

    member_id: str
    group_instance_id: str | None
    client_id: str
    client_host: str
    rebalance_timeout_ms: int
    session_timeout_ms: int
    protocol_type: str
    supported_protocols: tuple[tuple[str, bytes], ...]
    assignment: bytes = b""
    awaiting_join: list[Deferred[JoinGroupResult]] = attrs.field(factory=list)
    awaiting_sync: list[Deferred[SyncGroupResult]] = attrs.field(factory=list)
    is_new: bool = False
    heartbeat_call: IDelayedCall | None = None

    @property
    def is_static(self) -> bool:
        """Whether the member has a C{group.instance.id}."""
        return self.group_instance_id is not None

    @property
    def is_awaiting_join(self) -> bool:
        """Whether a JoinGroup of the member waits for the rebalance."""
        return bool(self.awaiting_join)

    @property
    def is_awaiting_sync(self) -> bool:
        """Whether a SyncGroup of the member waits for the assignment."""
        return bool(self.awaiting_sync)

    def protocols(self) -> frozenset[str]:
        """
        @return: the names of the protocols the member supports.
        """
        return frozenset(name for name, _ in self.supported_protocols)

    def metadata(self, protocol: str) -> bytes:
        """
        @param protocol: one of the member's protocols.
        @return: the member's metadata for it.
        @raise KeyError: if the member does not support C{protocol}.
        """
        for name, data in self.supported_protocols:
            if name == protocol:
                return data
        raise KeyError(protocol)

    def matches(self, protocols: Sequence[tuple[str, bytes]]) -> bool:
        """
        @param protocols: protocols and metadata from a JoinGroup.
        @return: whether they are the ones the member has, in the same order.
        """
        return tuple((name, bytes(data)) for name, data in protocols) == tuple(
            self.supported_protocols
        )

    def vote(self, candidates: Collection[str]) -> str:
        """
        @param candidates: the protocols every member supports.
        @return: the member's preferred one among them.
        @raise ValueError: if it supports none of them.
        """
        for name, _ in self.supported_protocols:
            if name in candidates:
                return name
        raise ValueError(f"member {self.member_id} supports none of {candidates}")

    def has_satisfied_heartbeat(self) -> bool:
        """
        Whether the member is excused a missed heartbeat: it waits for a rebalance
        (and is not new, since new members may expire while they wait).

        @return: C{True} if its session expiry must not remove it.
        """
        if self.is_new:
            return False
        return self.is_awaiting_join or self.is_awaiting_sync

    def take_join_waiters(self) -> list[Deferred[JoinGroupResult]]:
        """
        Forget the member's waiting JoinGroup requests.

        @return: them, for the caller to answer.
        """
        waiting, self.awaiting_join = self.awaiting_join, []
        return waiting

    def take_sync_waiters(self) -> list[Deferred[SyncGroupResult]]:
        """
        Forget the member's waiting SyncGroup requests.

        @return: them, for the caller to answer.
        """
        waiting, self.awaiting_sync = self.awaiting_sync, []
        return waiting

    def cancel_heartbeat(self) -> None:
        """
        Stop the member's session timer, if it runs.
        """
        call, self.heartbeat_call = self.heartbeat_call, None
        if call is not None and call.active():
            call.cancel()

    def to_snapshot(
        self, protocol_name: str | None, assignment: bytes
    ) -> MemberSnapshot:
        """
        @param protocol_name: the group's protocol, whose metadata is stored.
        @param assignment: the assignment to store.
        @return: the member as stored.
        """
        try:
            subscription = self.metadata(protocol_name or "")
        except KeyError:
            subscription = b""
        return MemberSnapshot(
            member_id=self.member_id,
            group_instance_id=self.group_instance_id,
            client_id=self.client_id,
            client_host=self.client_host,
            rebalance_timeout_ms=self.rebalance_timeout_ms,
            session_timeout_ms=self.session_timeout_ms,
            subscription=subscription,
            assignment=assignment,
        )

    @classmethod
    def from_snapshot(
        cls, snapshot: MemberSnapshot, protocol_type: str, protocol_name: str | None
    ) -> MemberMetadata:
        """
        @param snapshot: a stored member.
        @param protocol_type: its group's protocol type.
        @param protocol_name: its group's protocol.
        @return: the member, supporting only its group's protocol.
        """
        return cls(
            member_id=snapshot.member_id,
            group_instance_id=snapshot.group_instance_id,
            client_id=snapshot.client_id,
            client_host=snapshot.client_host,
            rebalance_timeout_ms=snapshot.rebalance_timeout_ms,
            session_timeout_ms=snapshot.session_timeout_ms,
            protocol_type=protocol_type,
            supported_protocols=((protocol_name or "", snapshot.subscription),),
            assignment=snapshot.assignment,
        )

    def describe(self, protocol: str | None) -> DescribedMember:
        """
        @param protocol: the group's protocol when it is Stable, else C{None}:
            then metadata and assignment are left out, as Kafka does.
        @return: the member as DescribeGroups shows it.
        """
        metadata = b""
        assignment = b""
        if protocol is not None:
            try:
                metadata = self.metadata(protocol)
            except KeyError:
                metadata = b""
            assignment = self.assignment
        return DescribedMember(
            member_id=self.member_id,
            group_instance_id=self.group_instance_id,
            client_id=self.client_id,
            client_host=self.client_host,
            metadata=metadata,
            assignment=assignment,
        )
