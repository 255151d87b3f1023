"""
What the L{GroupCoordinator
<odradek.broker.coordinator.group.coordinator.GroupCoordinator>} answers: plain
values that the request handlers (L{odradek.broker.apis.groups},
L{odradek.broker.apis.group_offsets}) turn into responses of any version.

Error fields hold Kafka error codes (C{0} for none), as in the responses.
"""

from __future__ import annotations

import attrs

from odradek.client.structs import TopicPartition

__all__ = [
    "DescribedGroup",
    "DescribedMember",
    "FetchedOffset",
    "JoinGroupResult",
    "JoinedMember",
    "LeaveGroupResult",
    "LeavingMember",
    "ListedGroup",
    "OffsetFetchResult",
    "SyncGroupResult",
]


@attrs.frozen
class JoinedMember:
    """
    A member as the leader's JoinGroup response lists it.

    @ivar member_id: the member's id.
    @ivar group_instance_id: its static id, or C{None}.
    @ivar metadata: its metadata for the chosen protocol.
    """

    member_id: str
    group_instance_id: str | None
    metadata: bytes


@attrs.frozen
class JoinGroupResult:
    """
    The answer to a JoinGroup request.

    @ivar error_code: 0, or the error (C{MEMBER_ID_REQUIRED} comes with the new
        C{member_id}).
    @ivar generation_id: the new generation, -1 on error.
    @ivar protocol_type: the group's protocol type, or C{None}.
    @ivar protocol_name: the chosen protocol, or C{None}.
    @ivar leader_id: the leader's member id (C{""} on error).
    @ivar skip_assignment: whether the leader must not compute an assignment
        (a static leader rejoining, KIP-814; JoinGroup v9).
    @ivar member_id: the member's id (C{""} on error unless given).
    @ivar members: the members with their metadata, for the leader only.
    """

    error_code: int
    generation_id: int = -1
    protocol_type: str | None = None
    protocol_name: str | None = None
    leader_id: str = ""
    skip_assignment: bool = False
    member_id: str = ""
    members: tuple[JoinedMember, ...] = ()


@attrs.frozen
class SyncGroupResult:
    """
    The answer to a SyncGroup request.

    @ivar error_code: 0, or the error.
    @ivar protocol_type: the group's protocol type, or C{None}.
    @ivar protocol_name: the chosen protocol, or C{None}.
    @ivar assignment: the member's assignment (C{b""} on error).
    """

    error_code: int
    protocol_type: str | None = None
    protocol_name: str | None = None
    assignment: bytes = b""


@attrs.frozen
class LeavingMember:
    """
    One member a LeaveGroup request removes (v3+ name several), and the outcome.

    @ivar member_id: its member id (C{""} when only the instance id is known).
    @ivar group_instance_id: its static id, or C{None}.
    @ivar reason: why it leaves (v5+), or C{None}.
    @ivar error_code: 0, or the member's error; in requests, 0.
    """

    member_id: str
    group_instance_id: str | None = None
    reason: str | None = None
    error_code: int = 0


@attrs.frozen
class LeaveGroupResult:
    """
    The answer to a LeaveGroup request.

    @ivar error_code: 0, or the error for the whole request.
    @ivar members: each member named, with its error code.
    """

    error_code: int
    members: tuple[LeavingMember, ...] = ()


@attrs.frozen
class FetchedOffset:
    """
    One partition's committed offset as OffsetFetch returns it.

    @ivar offset: the offset, or -1 if none is committed.
    @ivar leader_epoch: its leader epoch, or -1.
    @ivar metadata: its metadata, or C{""}; Kafka answers C{""} when none.
    @ivar error_code: 0, or the partition's error (C{UNSTABLE_OFFSET_COMMIT} ...).
    """

    offset: int = -1
    leader_epoch: int = -1
    metadata: str | None = ""
    error_code: int = 0


@attrs.frozen
class OffsetFetchResult:
    """
    The committed offsets of one group.

    @ivar error_code: 0, or the group's error (C{NOT_COORDINATOR},
        C{COORDINATOR_LOAD_IN_PROGRESS}, C{GROUP_ID_NOT_FOUND} ...).
    @ivar offsets: by partition: the partitions asked for (those without a
        commit get offset -1), or every partition with a commit when all were
        asked for.
    """

    error_code: int
    offsets: dict[TopicPartition, FetchedOffset] = attrs.field(factory=dict)


@attrs.frozen
class DescribedMember:
    """
    A member as DescribeGroups shows it.

    @ivar member_id: its member id.
    @ivar group_instance_id: its static id, or C{None}.
    @ivar client_id: its client id.
    @ivar client_host: its address, as Kafka writes it (C{"/127.0.0.1"}).
    @ivar metadata: its metadata for the chosen protocol (C{b""} unless Stable).
    @ivar assignment: its assignment (C{b""} unless Stable).
    """

    member_id: str
    group_instance_id: str | None
    client_id: str
    client_host: str
    metadata: bytes
    assignment: bytes


@attrs.frozen
class DescribedGroup:
    """
    A group as DescribeGroups shows it; an unknown group is C{Dead} with no
    members and error 0, as in Kafka.

    @ivar group_id: the group.
    @ivar error_code: 0, or the error (C{NOT_COORDINATOR} ...).
    @ivar state: C{"Empty"}, C{"PreparingRebalance"}, C{"CompletingRebalance"},
        C{"Stable"} or C{"Dead"}.
    @ivar protocol_type: the protocol type, C{""} if none.
    @ivar protocol_data: the chosen protocol when Stable, else C{""}.
    @ivar members: the members.
    """

    group_id: str
    error_code: int
    state: str = "Dead"
    protocol_type: str = ""
    protocol_data: str = ""
    members: tuple[DescribedMember, ...] = ()


@attrs.frozen
class ListedGroup:
    """
    A group as ListGroups shows it.

    @ivar group_id: the group.
    @ivar protocol_type: its protocol type (C{""} for a group that only commits).
    @ivar state: its state's name.
    @ivar group_type: C{"classic"}.
    """

    group_id: str
    protocol_type: str
    state: str
    group_type: str = "classic"
