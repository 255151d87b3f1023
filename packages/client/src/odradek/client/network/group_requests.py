"""
The requests of Kafka's classic group protocol and of group offsets, and the answers
to them, without touching the per-version kio classes outside this module. Sans-IO.

Each builder takes the version to send and fills in the fields that version has;
each parser takes a decoded kio response of any version this client builds and
returns plain values or raises the L{KafkaError <odradek.client.errors.KafkaError>}
of the answer's error code (with the broker's error message where the version
carries one). The APIs: FindCoordinator, JoinGroup, SyncGroup, Heartbeat,
LeaveGroup, OffsetCommit and OffsetFetch.

OffsetCommit and OffsetFetch version 10 name topics by id, which this client does
not know, so they are built up to version 9 (L{GROUP_MAX_VERSIONS}); use
L{group_request_version} to pick the version for a connection.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attrs
from kio.static.protocol import RequestPayload, ResponsePayload

from odradek.client import errors
from odradek.client.network._groupcodec import (
    COORDINATOR_KEY_GROUP,
    COORDINATOR_KEY_TRANSACTION,
    GROUP_MAX_VERSIONS,
    MAX_REASON_LENGTH,
    _check_response,
    _error,
    _ms,
    _nested,
    _raise,
    _reason,
    _request_class,
    _unsupported,
    group_request_version,
)
from odradek.client.network._groupoffsets import (
    offset_commit_request,
    offset_fetch_request,
    parse_offset_commit,
    parse_offset_fetch,
)
from odradek.client.network.cluster import Node
from odradek.client.protocol import ApiKey

__all__ = [
    "COORDINATOR_KEY_GROUP",
    "COORDINATOR_KEY_TRANSACTION",
    "GROUP_MAX_VERSIONS",
    "MAX_REASON_LENGTH",
    "JoinGroupResponseData",
    "JoinedMember",
    "find_coordinator_request",
    "group_request_version",
    "heartbeat_request",
    "join_group_request",
    "leave_group_request",
    "offset_commit_request",
    "offset_fetch_request",
    "parse_find_coordinator",
    "parse_heartbeat",
    "parse_join_group",
    "parse_leave_group",
    "parse_offset_commit",
    "parse_offset_fetch",
    "parse_sync_group",
    "sync_group_request",
]


# -- FindCoordinator


def find_coordinator_request(
    version: int, key: str, key_type: int = COORDINATOR_KEY_GROUP
) -> RequestPayload:
    """
    Build a FindCoordinator request for one key.

    Version 0 carries the key alone (a group id); versions 1 to 3 add the key type;
    versions 4 and up carry a list of keys, here of one.

    @param version: the version to build.
    @param key: the group id or transactional id.
    @param key_type: L{COORDINATOR_KEY_GROUP} or L{COORDINATOR_KEY_TRANSACTION}.
    @return: the kio request.
    @raise UnsupportedVersionError: if the version is not supported, or is 0 and
        the key is not a group id.
    """
    request_class = _request_class(ApiKey.FIND_COORDINATOR, version)
    if version == 0:
        if key_type != COORDINATOR_KEY_GROUP:
            raise _unsupported(
                ApiKey.FIND_COORDINATOR, 0, "can only find group coordinators"
            )
        return request_class(key=key)
    if version < 4:
        return request_class(key=key, key_type=key_type)
    return request_class(key_type=key_type, coordinator_keys=(key,))


def parse_find_coordinator(response: ResponsePayload, key: str) -> Node:
    """
    Read a FindCoordinator response of any version.

    @param response: a decoded kio FindCoordinator response.
    @param key: the key asked for; versions 4 and up answer per key.
    @return: the coordinator, as the broker that it is.
    @raise TypeError: if C{response} is not a FindCoordinator response.
    @raise KafkaError: the error of the answer (with the broker's message from
        version 1 on), or L{CoordinatorNotAvailableError
        <odradek.client.errors.CoordinatorNotAvailableError>} if a version 4 answer
        does not name C{key}.
    """
    data, version = _check_response(response, ApiKey.FIND_COORDINATOR)
    if version >= 4:
        entries = [entry for entry in data.coordinators if entry.key == key]
        if not entries:
            raise errors.CoordinatorNotAvailableError(
                f"the FindCoordinator answer names no coordinator for {key!r}"
            )
        data = entries[0]
    message = data.error_message if version >= 1 else None
    _raise(int(data.error_code), message or f"finding the coordinator for {key!r}")
    return Node(int(data.node_id), data.host, int(data.port))


# -- JoinGroup


@attrs.frozen
class JoinedMember:
    """
    A member of a group as the JoinGroup answer describes it to the leader.

    @ivar member_id: its member id.
    @ivar group_instance_id: its C{group.instance.id} (static membership), or
        C{None}.
    @ivar metadata: its subscription, encoded by the protocol it chose.
    """

    member_id: str
    group_instance_id: str | None
    metadata: bytes


@attrs.frozen
class JoinGroupResponseData:
    """
    A JoinGroup answer.

    @ivar error: the answer's error (not raised: C{MEMBER_ID_REQUIRED} comes with a
        member id to use), or C{None}.
    @ivar generation_id: the generation joined, or -1.
    @ivar protocol_type: the group's protocol type (version 7 and up), or C{None}.
    @ivar protocol_name: the protocol the group chose, or C{None}.
    @ivar leader: the member id of the leader.
    @ivar member_id: this member's id.
    @ivar members: every member, for the leader only; empty for the others.
    @ivar skip_assignment: whether the leader must not assign (version 9 and up; a
        static leader rejoining).
    """

    error: errors.KafkaError | None
    generation_id: int
    protocol_name: str | None
    leader: str
    member_id: str
    members: tuple[JoinedMember, ...] = ()
    skip_assignment: bool = False
    protocol_type: str | None = None

    @property
    def is_leader(self) -> bool:
        """Whether this member leads the generation."""
        return self.member_id == self.leader


def join_group_request(
    version: int,
    *,
    group_id: str,
    session_timeout_ms: int,
    rebalance_timeout_ms: int,
    member_id: str,
    group_instance_id: str | None,
    protocol_type: str,
    protocols: Sequence[tuple[str, bytes]],
    reason: str | None = None,
) -> RequestPayload:
    """
    Build a JoinGroup request.

    Version 0 has no rebalance timeout (the session timeout serves); version 5
    adds the group instance id, version 8 the reason (cut to
    L{MAX_REASON_LENGTH}). Older versions drop the reason.

    @param version: the version to build.
    @param group_id: the group.
    @param session_timeout_ms: C{session.timeout.ms}.
    @param rebalance_timeout_ms: how long the coordinator waits for members to
        rejoin (C{max.poll.interval.ms} for a consumer).
    @param member_id: the member id, or C{""} to get one.
    @param group_instance_id: C{group.instance.id}, or C{None}.
    @param protocol_type: C{"consumer"} for a consumer group.
    @param protocols: C{(name, metadata)} of each protocol, by preference.
    @param reason: why the member joins, for the broker's log.
    @return: the kio request.
    @raise UnsupportedVersionError: if the version is not supported, or is below 5
        while a group instance id is given.
    """
    request_class = _request_class(ApiKey.JOIN_GROUP, version)
    protocol_class = _nested(ApiKey.JOIN_GROUP, version, "JoinGroupRequestProtocol")
    fields: dict[str, object] = {
        "group_id": group_id,
        "session_timeout": _ms(session_timeout_ms),
        "member_id": member_id,
        "protocol_type": protocol_type,
        "protocols": tuple(
            protocol_class(name=name, metadata=metadata) for name, metadata in protocols
        ),
    }
    if version >= 1:
        fields["rebalance_timeout"] = _ms(rebalance_timeout_ms)
    if version >= 5:
        fields["group_instance_id"] = group_instance_id
    elif group_instance_id is not None:
        raise _unsupported(
            ApiKey.JOIN_GROUP, version, "has no static membership (group.instance.id)"
        )
    if version >= 8:
        fields["reason"] = _reason(reason)
    return request_class(**fields)


def parse_join_group(response: ResponsePayload) -> JoinGroupResponseData:
    """
    Read a JoinGroup response of any version.

    @param response: a decoded kio JoinGroup response.
    @return: what it says, with its error as an exception object, not raised.
    @raise TypeError: if C{response} is not a JoinGroup response.
    """
    data, version = _check_response(response, ApiKey.JOIN_GROUP)
    members = tuple(
        JoinedMember(
            member_id=member.member_id,
            group_instance_id=member.group_instance_id if version >= 5 else None,
            metadata=bytes(member.metadata),
        )
        for member in data.members
    )
    return JoinGroupResponseData(
        error=_error(int(data.error_code), None),
        generation_id=int(data.generation_id),
        protocol_name=data.protocol_name or None,
        leader=data.leader,
        member_id=data.member_id,
        members=members,
        skip_assignment=bool(data.skip_assignment) if version >= 9 else False,
        protocol_type=data.protocol_type if version >= 7 else None,
    )


# -- SyncGroup


def sync_group_request(
    version: int,
    *,
    group_id: str,
    generation_id: int,
    member_id: str,
    group_instance_id: str | None,
    protocol_type: str | None,
    protocol_name: str | None,
    assignments: Mapping[str, bytes],
) -> RequestPayload:
    """
    Build a SyncGroup request.

    Version 3 adds the group instance id, version 5 the protocol type and name.

    @param version: the version to build.
    @param group_id: the group.
    @param generation_id: the generation joined.
    @param member_id: this member's id.
    @param group_instance_id: C{group.instance.id}, or C{None}.
    @param protocol_type: the group's protocol type (version 5 and up).
    @param protocol_name: the protocol the group chose (version 5 and up).
    @param assignments: the leader's assignment for each member id; empty for the
        other members.
    @return: the kio request.
    @raise UnsupportedVersionError: if the version is not supported, or is below 3
        while a group instance id is given.
    """
    request_class = _request_class(ApiKey.SYNC_GROUP, version)
    entry_class = _nested(ApiKey.SYNC_GROUP, version, "SyncGroupRequestAssignment")
    fields: dict[str, object] = {
        "group_id": group_id,
        "generation_id": generation_id,
        "member_id": member_id,
        "assignments": tuple(
            entry_class(member_id=member, assignment=assignment)
            for member, assignment in assignments.items()
        ),
    }
    if version >= 3:
        fields["group_instance_id"] = group_instance_id
    elif group_instance_id is not None:
        raise _unsupported(
            ApiKey.SYNC_GROUP, version, "has no static membership (group.instance.id)"
        )
    if version >= 5:
        fields["protocol_type"] = protocol_type
        fields["protocol_name"] = protocol_name
    return request_class(**fields)


def parse_sync_group(
    response: ResponsePayload,
    protocol_type: str | None = None,
    protocol_name: str | None = None,
) -> bytes:
    """
    Read a SyncGroup response of any version.

    @param response: a decoded kio SyncGroup response.
    @param protocol_type: the protocol type sent, to check against the answer's
        (version 5 and up); C{None} checks nothing.
    @param protocol_name: the protocol name sent, likewise.
    @return: this member's assignment.
    @raise TypeError: if C{response} is not a SyncGroup response.
    @raise KafkaError: the answer's error; L{InconsistentGroupProtocolError
        <odradek.client.errors.InconsistentGroupProtocolError>} if the answer names
        another protocol type or name.
    """
    data, version = _check_response(response, ApiKey.SYNC_GROUP)
    _raise(int(data.error_code), "SyncGroup failed")
    if version >= 5:
        for sent, answered in (
            (protocol_type, data.protocol_type),
            (protocol_name, data.protocol_name),
        ):
            if sent is not None and answered is not None and sent != answered:
                raise errors.InconsistentGroupProtocolError(
                    f"SyncGroup answered protocol {answered!r}, not {sent!r}"
                )
    return bytes(data.assignment)


# -- Heartbeat


def heartbeat_request(
    version: int,
    *,
    group_id: str,
    generation_id: int,
    member_id: str,
    group_instance_id: str | None,
) -> RequestPayload:
    """
    Build a Heartbeat request; version 3 adds the group instance id.

    @param version: the version to build.
    @param group_id: the group.
    @param generation_id: the generation joined.
    @param member_id: this member's id.
    @param group_instance_id: C{group.instance.id}, or C{None}.
    @return: the kio request.
    @raise UnsupportedVersionError: if the version is not supported, or is below 3
        while a group instance id is given.
    """
    request_class = _request_class(ApiKey.HEARTBEAT, version)
    fields: dict[str, object] = {
        "group_id": group_id,
        "generation_id": generation_id,
        "member_id": member_id,
    }
    if version >= 3:
        fields["group_instance_id"] = group_instance_id
    elif group_instance_id is not None:
        raise _unsupported(
            ApiKey.HEARTBEAT, version, "has no static membership (group.instance.id)"
        )
    return request_class(**fields)


def parse_heartbeat(response: ResponsePayload) -> None:
    """
    Read a Heartbeat response of any version.

    @param response: a decoded kio Heartbeat response.
    @raise TypeError: if C{response} is not a Heartbeat response.
    @raise KafkaError: the answer's error.
    """
    data, _ = _check_response(response, ApiKey.HEARTBEAT)
    _raise(int(data.error_code), "Heartbeat failed")


# -- LeaveGroup


def leave_group_request(
    version: int,
    *,
    group_id: str,
    member_id: str,
    group_instance_id: str | None,
    reason: str | None = None,
) -> RequestPayload:
    """
    Build a LeaveGroup request for this member.

    Versions 0 to 2 carry the member id alone (the group instance id is not sent);
    versions 3 and up a list of members, here of one, and version 5 a reason per
    member (cut to L{MAX_REASON_LENGTH}).

    @param version: the version to build.
    @param group_id: the group.
    @param member_id: this member's id.
    @param group_instance_id: C{group.instance.id}, or C{None}.
    @param reason: why the member leaves, for the broker's log.
    @return: the kio request.
    @raise UnsupportedVersionError: if the version is not supported.
    """
    request_class = _request_class(ApiKey.LEAVE_GROUP, version)
    if version < 3:
        return request_class(group_id=group_id, member_id=member_id)
    member_class = _nested(ApiKey.LEAVE_GROUP, version, "MemberIdentity")
    member: dict[str, object] = {
        "member_id": member_id,
        "group_instance_id": group_instance_id,
    }
    if version >= 5:
        member["reason"] = _reason(reason)
    return request_class(group_id=group_id, members=(member_class(**member),))


def parse_leave_group(response: ResponsePayload) -> None:
    """
    Read a LeaveGroup response of any version.

    @param response: a decoded kio LeaveGroup response.
    @raise TypeError: if C{response} is not a LeaveGroup response.
    @raise KafkaError: the answer's error, else the first member's error (version 3
        and up).
    """
    data, version = _check_response(response, ApiKey.LEAVE_GROUP)
    _raise(int(data.error_code), "LeaveGroup failed")
    if version >= 3:
        for member in data.members:
            _raise(
                int(member.error_code),
                f"LeaveGroup failed for member {member.member_id!r}",
            )
