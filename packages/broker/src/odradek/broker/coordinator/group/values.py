"""
What the group coordinator keeps of a group in C{__consumer_offsets}: the values the
coordinator, its store and the record codec pass between them.

These are the seam between the three: the L{GroupCoordinator
<odradek.broker.coordinator.group.coordinator.GroupCoordinator>} turns its live
groups into them, an L{IGroupStore
<odradek.broker.coordinator.group.interfaces.IGroupStore>} writes them as records
(L{odradek.broker.coordinator.group.records}) and reads them back when the broker
starts.
"""

from __future__ import annotations

import attrs

from odradek.client.structs import TopicPartition

__all__ = ["CommittedOffset", "GroupSnapshot", "LoadedPartition", "MemberSnapshot"]


@attrs.frozen
class CommittedOffset:
    """
    A committed offset (Kafka's C{OffsetAndMetadata} on the coordinator's side).

    @ivar offset: the next offset the group will consume.
    @ivar leader_epoch: the leader epoch of the last consumed record, or -1.
    @ivar metadata: the committer's text; C{""} when it sent none.
    @ivar commit_timestamp_ms: when the coordinator took the commit.
    @ivar expire_timestamp_ms: an explicit expiry (OffsetCommit v1's retention), or
        C{None}: then C{offsets.retention.minutes} applies.
    """

    offset: int
    leader_epoch: int = -1
    metadata: str = ""
    commit_timestamp_ms: int = 0
    expire_timestamp_ms: int | None = None


@attrs.frozen
class MemberSnapshot:
    """
    One member of a group, as stored.

    @ivar member_id: the id the coordinator gave the member.
    @ivar group_instance_id: its static id (KIP-345), or C{None}.
    @ivar client_id: the client id of its requests.
    @ivar client_host: the address it connected from, as Kafka writes it
        (C{"/127.0.0.1"}).
    @ivar rebalance_timeout_ms: its rebalance timeout.
    @ivar session_timeout_ms: its session timeout.
    @ivar subscription: its metadata for the group's protocol (for consumers, the
        serialized subscription).
    @ivar assignment: what the leader assigned it (for consumers, the serialized
        assignment); C{b""} before the first SyncGroup.
    """

    member_id: str
    group_instance_id: str | None
    client_id: str
    client_host: str
    rebalance_timeout_ms: int
    session_timeout_ms: int
    subscription: bytes
    assignment: bytes


@attrs.frozen
class GroupSnapshot:
    """
    A group's metadata, as stored after each completed rebalance (and when it
    becomes empty).

    @ivar group_id: the group.
    @ivar protocol_type: the members' protocol type (C{"consumer"}), or C{""} for a
        group with no members (C{None} on the wire only when never set).
    @ivar generation_id: the generation.
    @ivar protocol_name: the protocol chosen (an assignor's name), or C{None}.
    @ivar leader_id: the leader's member id, or C{None}.
    @ivar current_state_timestamp_ms: when the group last changed state, or
        C{None}.
    @ivar members: the members, in join order.
    """

    group_id: str
    protocol_type: str
    generation_id: int
    protocol_name: str | None
    leader_id: str | None
    current_state_timestamp_ms: int | None
    members: tuple[MemberSnapshot, ...] = ()


@attrs.frozen
class LoadedPartition:
    """
    What one partition of C{__consumer_offsets} holds once read from its start:
    the latest value of every key, tombstoned keys left out.

    @ivar partition: the partition of C{__consumer_offsets}.
    @ivar groups: the groups with stored metadata, by group id.
    @ivar offsets: the committed offsets by group id, then by partition; a group
        may have offsets and no metadata (a consumer that only commits).
    """

    partition: int
    groups: dict[str, GroupSnapshot] = attrs.field(factory=dict)
    offsets: dict[str, dict[TopicPartition, CommittedOffset]] = attrs.field(
        factory=dict
    )
