"""
The consumer group APIs of the classic group protocol: JoinGroup (API key 11),
SyncGroup (14), Heartbeat (12), LeaveGroup (13), DescribeGroups (15), ListGroups (16)
and DeleteGroups (42), every version kio knows.

Each handler turns the request of any version into a call of the L{GroupCoordinator
<odradek.broker.coordinator.group.coordinator.GroupCoordinator>} and its answer into
the response of the request's version. What differs between versions, as in Kafka:

  - JoinGroup version 0 has no rebalance timeout: the session timeout is used;
    from version 4 a member without an id must first ask for one
    (C{MEMBER_ID_REQUIRED}); versions before 9 cannot tell a rejoining static
    leader to skip the assignment (KIP-814), so it is sent no members instead;
    versions before 7 carry the chosen protocol as C{""} rather than null;
  - SyncGroup version 5 must name the protocol type and name, else
    C{INCONSISTENT_GROUP_PROTOCOL};
  - LeaveGroup before version 3 names one member and reports its error as the
    request's;
  - DescribeGroups version 6 reports an unknown group as C{GROUP_ID_NOT_FOUND}
    (KIP-1043), older versions as a C{Dead} group without error; authorized
    operations are reported when asked for (without an authorizer, every
    operation on a group);
  - ListGroups filters by state from version 4 and by type from version 5.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

import attrs
from twisted.internet.defer import Deferred

from odradek.broker.apis._schema import (
    NO_THROTTLE,
    OPERATIONS_OMITTED,
    build,
    element,
    response_class,
)
from odradek.broker.apis.context import RequestContext
from odradek.broker.apis.errors import kio_error_code
from odradek.broker.apis.registry import HandlerRegistry
from odradek.broker.coordinator.group.results import (
    DescribedGroup,
    JoinGroupResult,
    LeaveGroupResult,
    LeavingMember,
    SyncGroupResult,
)
from odradek.client.errors import GroupIdNotFoundError, InconsistentGroupProtocolError
from odradek.client.protocol import ApiKey, VersionRange

if TYPE_CHECKING:
    from odradek.broker.coordinator.group.coordinator import GroupCoordinator

__all__ = [
    "DELETE_GROUPS_VERSIONS",
    "DESCRIBE_GROUPS_VERSIONS",
    "GROUP_OPERATIONS",
    "HEARTBEAT_VERSIONS",
    "JOIN_GROUP_VERSIONS",
    "LEAVE_GROUP_VERSIONS",
    "LIST_GROUPS_VERSIONS",
    "SYNC_GROUP_VERSIONS",
    "GroupsHandler",
    "client_host",
    "milliseconds",
    "register",
]

JOIN_GROUP_VERSIONS: Final = VersionRange(0, 9)
SYNC_GROUP_VERSIONS: Final = VersionRange(0, 5)
HEARTBEAT_VERSIONS: Final = VersionRange(0, 4)
LEAVE_GROUP_VERSIONS: Final = VersionRange(0, 5)
DESCRIBE_GROUPS_VERSIONS: Final = VersionRange(0, 6)
LIST_GROUPS_VERSIONS: Final = VersionRange(0, 5)
DELETE_GROUPS_VERSIONS: Final = VersionRange(0, 2)

# Kafka's AclOperation codes READ 3, DELETE 6, DESCRIBE 8: every operation on a
# group, which is what Kafka reports without an authorizer.
GROUP_OPERATIONS: Final = (1 << 3) | (1 << 6) | (1 << 8)
"""The operations on a group, as the bit field Kafka reports without an
authorizer."""

_REQUIRE_KNOWN_MEMBER_VERSION: Final = 4
_NULLABLE_PROTOCOL_NAME_VERSION: Final = 7
_SKIP_ASSIGNMENT_VERSION: Final = 9
_MANDATORY_PROTOCOL_VERSION: Final = 5
_MEMBERS_LEAVE_VERSION: Final = 3
_GROUP_NOT_FOUND_VERSION: Final = 6
_ONE_MS: Final = datetime.timedelta(milliseconds=1)


def milliseconds(value: datetime.timedelta) -> int:
    """
    @param value: a duration of a kio request (C{timedelta_i32} or C{i64}).
    @return: the whole milliseconds it holds, as on the wire (-1 stays -1).
    """
    return value // _ONE_MS


def client_host(context: RequestContext) -> str:
    """
    @param context: a request's context.
    @return: the client's address as Kafka writes it for group members: the
        peer's IP after a slash (C{"/127.0.0.1"}).
    """
    return "/" + str(getattr(context.client_address, "host", ""))


@attrs.frozen
class GroupsHandler:
    """
    Answer the group APIs; see the module's description.

    @ivar coordinator: the group coordinator.
    """

    coordinator: GroupCoordinator

    def join_group(self, context: RequestContext, request: Any) -> Deferred[Any]:
        """
        @param context: the request's context.
        @param request: the kio JoinGroup request.
        @return: a Deferred of the response, which fires once the rebalance lets
            the member in (or refuses it).
        """
        version = context.api_version
        session_timeout_ms = milliseconds(request.session_timeout)
        rebalance_timeout_ms = (
            milliseconds(request.rebalance_timeout)
            if version > 0
            else session_timeout_ms
        )
        joined = self.coordinator.join_group(
            group_id=request.group_id,
            member_id=request.member_id,
            group_instance_id=getattr(request, "group_instance_id", None),
            client_id=context.client_id or "",
            client_host=client_host(context),
            rebalance_timeout_ms=rebalance_timeout_ms,
            session_timeout_ms=session_timeout_ms,
            protocol_type=request.protocol_type,
            protocols=[(p.name, p.metadata) for p in request.protocols],
            require_known_member_id=version >= _REQUIRE_KNOWN_MEMBER_VERSION,
            reason=getattr(request, "reason", None),
        )
        return joined.addCallback(self._joined, context)

    def _joined(self, result: JoinGroupResult, context: RequestContext) -> Any:
        version = context.api_version
        response = response_class(context)
        member_class = element(response, "members")
        members, skip = result.members, result.skip_assignment
        if skip and version < _SKIP_ASSIGNMENT_VERSION:
            members, skip = (), False
        protocol_name = result.protocol_name
        if protocol_name is None and version < _NULLABLE_PROTOCOL_NAME_VERSION:
            protocol_name = ""
        return build(
            response,
            throttle_time=NO_THROTTLE,
            error_code=kio_error_code(result.error_code),
            generation_id=result.generation_id,
            protocol_type=result.protocol_type,
            protocol_name=protocol_name,
            leader=result.leader_id,
            skip_assignment=skip,
            member_id=result.member_id,
            members=tuple(
                build(
                    member_class,
                    member_id=member.member_id,
                    group_instance_id=member.group_instance_id,
                    metadata=member.metadata,
                )
                for member in members
            ),
        )

    def sync_group(self, context: RequestContext, request: Any) -> Any:
        """
        @param context: the request's context.
        @param request: the kio SyncGroup request.
        @return: a Deferred of the response, which fires once the leader's
            assignment is there; or the response at once if the request lacks
            the protocol (version 5).
        """
        protocol_type = getattr(request, "protocol_type", None)
        protocol_name = getattr(request, "protocol_name", None)
        if context.api_version >= _MANDATORY_PROTOCOL_VERSION and (
            protocol_type is None or protocol_name is None
        ):
            refused = SyncGroupResult(InconsistentGroupProtocolError.code)
            return self._synced(refused, context)
        synced = self.coordinator.sync_group(
            group_id=request.group_id,
            generation_id=request.generation_id,
            member_id=request.member_id,
            group_instance_id=getattr(request, "group_instance_id", None),
            protocol_type=protocol_type,
            protocol_name=protocol_name,
            assignments={a.member_id: a.assignment for a in request.assignments},
        )
        return synced.addCallback(self._synced, context)

    def _synced(self, result: SyncGroupResult, context: RequestContext) -> Any:
        return build(
            response_class(context),
            throttle_time=NO_THROTTLE,
            error_code=kio_error_code(result.error_code),
            protocol_type=result.protocol_type,
            protocol_name=result.protocol_name,
            assignment=result.assignment,
        )

    def heartbeat(self, context: RequestContext, request: Any) -> Deferred[Any]:
        """
        @param context: the request's context.
        @param request: the kio Heartbeat request.
        @return: a Deferred of the response.
        """
        beat = self.coordinator.heartbeat(
            group_id=request.group_id,
            generation_id=request.generation_id,
            member_id=request.member_id,
            group_instance_id=getattr(request, "group_instance_id", None),
        )
        response = response_class(context)
        return beat.addCallback(
            lambda code: build(
                response, throttle_time=NO_THROTTLE, error_code=kio_error_code(code)
            )
        )

    def leave_group(self, context: RequestContext, request: Any) -> Deferred[Any]:
        """
        @param context: the request's context.
        @param request: the kio LeaveGroup request.
        @return: a Deferred of the response.
        """
        if context.api_version < _MEMBERS_LEAVE_VERSION:
            members: Sequence[LeavingMember] = (LeavingMember(request.member_id),)
        else:
            members = [
                LeavingMember(
                    member.member_id,
                    member.group_instance_id,
                    getattr(member, "reason", None),
                )
                for member in request.members
            ]
        left = self.coordinator.leave_group(group_id=request.group_id, members=members)
        return left.addCallback(self._left, context)

    def _left(self, result: LeaveGroupResult, context: RequestContext) -> Any:
        response = response_class(context)
        code = result.error_code
        if context.api_version < _MEMBERS_LEAVE_VERSION:
            member_codes = [m.error_code for m in result.members if m.error_code]
            if not code and member_codes:
                code = member_codes[0]
            return build(
                response, throttle_time=NO_THROTTLE, error_code=kio_error_code(code)
            )
        member_class = element(response, "members")
        return build(
            response,
            throttle_time=NO_THROTTLE,
            error_code=kio_error_code(code),
            members=tuple(
                build(
                    member_class,
                    member_id=member.member_id,
                    group_instance_id=member.group_instance_id,
                    error_code=kio_error_code(member.error_code),
                )
                for member in result.members
            ),
        )

    def describe_groups(self, context: RequestContext, request: Any) -> Any:
        """
        @param context: the request's context.
        @param request: the kio DescribeGroups request.
        @return: the response.
        """
        described = self.coordinator.describe_groups(list(request.groups))
        operations = (
            GROUP_OPERATIONS
            if getattr(request, "include_authorized_operations", False)
            else OPERATIONS_OMITTED
        )
        response = response_class(context)
        group_class = element(response, "groups")
        member_class = element(group_class, "members")
        not_found = context.api_version >= _GROUP_NOT_FOUND_VERSION
        return build(
            response,
            throttle_time=NO_THROTTLE,
            groups=tuple(
                _described(group, group_class, member_class, operations, not_found)
                for group in described
            ),
        )

    def list_groups(self, context: RequestContext, request: Any) -> Any:
        """
        @param context: the request's context.
        @param request: the kio ListGroups request.
        @return: the response.
        """
        code, listed = self.coordinator.list_groups(
            states=tuple(getattr(request, "states_filter", ())),
            types=tuple(getattr(request, "types_filter", ())),
        )
        response = response_class(context)
        group_class = element(response, "groups")
        return build(
            response,
            throttle_time=NO_THROTTLE,
            error_code=kio_error_code(code),
            groups=tuple(
                build(
                    group_class,
                    group_id=group.group_id,
                    protocol_type=group.protocol_type,
                    group_state=group.state,
                    group_type=group.group_type,
                )
                for group in listed
            ),
        )

    def delete_groups(self, context: RequestContext, request: Any) -> Deferred[Any]:
        """
        @param context: the request's context.
        @param request: the kio DeleteGroups request.
        @return: a Deferred of the response, one result per group named (each
            once).
        """
        group_ids = list(dict.fromkeys(request.groups_names))
        deleted = self.coordinator.delete_groups(group_ids)
        response = response_class(context)
        result_class = element(response, "results")

        def respond(codes: Mapping[str, int]) -> Any:
            return build(
                response,
                throttle_time=NO_THROTTLE,
                results=tuple(
                    build(
                        result_class,
                        group_id=group_id,
                        error_code=kio_error_code(codes.get(group_id, 0)),
                    )
                    for group_id in group_ids
                ),
            )

        return deleted.addCallback(respond)


def _described(
    group: DescribedGroup,
    group_class: type[Any],
    member_class: type[Any],
    operations: int,
    not_found: bool,
) -> Any:
    code, message = group.error_code, None
    unknown = group.state == "Dead" and not group.members and not code
    if unknown and not_found:
        code, message = GroupIdNotFoundError.code, f"Group {group.group_id} not found."
    return build(
        group_class,
        error_code=kio_error_code(code),
        error_message=message,
        group_id=group.group_id,
        group_state=group.state,
        protocol_type=group.protocol_type,
        protocol_data=group.protocol_data,
        members=tuple(
            build(
                member_class,
                member_id=member.member_id,
                group_instance_id=member.group_instance_id,
                client_id=member.client_id,
                client_host=member.client_host,
                member_metadata=member.metadata,
                member_assignment=member.assignment,
            )
            for member in group.members
        ),
        authorized_operations=operations if not code else OPERATIONS_OMITTED,
    )


def register(registry: HandlerRegistry, *, coordinator: GroupCoordinator) -> None:
    """
    Register JoinGroup, SyncGroup, Heartbeat, LeaveGroup, DescribeGroups,
    ListGroups and DeleteGroups.

    @param registry: the registry to add them to.
    @param coordinator: the group coordinator.
    """
    handler = GroupsHandler(coordinator)
    registry.register(ApiKey.JOIN_GROUP, handler.join_group, JOIN_GROUP_VERSIONS)
    registry.register(ApiKey.SYNC_GROUP, handler.sync_group, SYNC_GROUP_VERSIONS)
    registry.register(ApiKey.HEARTBEAT, handler.heartbeat, HEARTBEAT_VERSIONS)
    registry.register(ApiKey.LEAVE_GROUP, handler.leave_group, LEAVE_GROUP_VERSIONS)
    registry.register(
        ApiKey.DESCRIBE_GROUPS, handler.describe_groups, DESCRIBE_GROUPS_VERSIONS
    )
    registry.register(ApiKey.LIST_GROUPS, handler.list_groups, LIST_GROUPS_VERSIONS)
    registry.register(
        ApiKey.DELETE_GROUPS, handler.delete_groups, DELETE_GROUPS_VERSIONS
    )
