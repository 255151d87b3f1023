"""
Consumer groups for the admin client: the values it reports (L{ConsumerGroupListing},
L{ConsumerGroupDescription}, L{MemberDescription}, L{ConsumerGroupState}) and the
sans-IO builders and parsers of ListGroups, DescribeGroups, DeleteGroups,
OffsetFetch, OffsetCommit and OffsetDelete.

How the admin core uses this module:

  - C{list_consumer_groups(states=(), types=())}: ListGroups goes to every broker
    (each coordinates some groups); L{list_groups_request}C{(version, states,
    types)} to each, L{parse_list_groups}C{(response)} from each, and the listings
    joined. A broker's error (raised by the parser) fails that broker's part only.
  - The other APIs go to the group's coordinator, found with FindCoordinator
    (L{odradek.client.network.group_requests}); OffsetFetch and OffsetCommit
    versions are chosen with its C{group_request_version} (version 10 names topics
    by id and is not built).
  - C{describe_consumer_groups(group_ids)}: L{describe_groups_request}C{(version,
    group_ids)}, then L{parse_describe_groups}C{(response, coordinator)}.
  - C{delete_consumer_groups(group_ids)}: L{delete_groups_request}, then
    L{parse_delete_groups}C{(response, group_ids)}.
  - C{list_consumer_group_offsets(group_id, partitions=None)}:
    L{offset_fetch_request}C{(version, group_id=, partitions=)}, then
    L{parse_offset_fetch}C{(response, group_id)}, which raises the group's error.
  - C{alter_consumer_group_offsets(group_id, offsets)}:
    L{offset_commit_request}C{(version, group_id=, offsets=)}, then
    L{parse_offset_commit}C{(response, offsets)}.
  - C{delete_consumer_group_offsets(group_id, partitions)}:
    L{offset_delete_request}, then L{parse_offset_delete}C{(response, partitions)}.

Per-item parsers answer, for each item, its value (or C{None}) or an exception
instance carrying the broker's message where the version has one. The core retries
items whose exception is retriable (C{NOT_COORDINATOR} and
C{COORDINATOR_NOT_AVAILABLE} after finding the coordinator again,
C{COORDINATOR_LOAD_IN_PROGRESS} after a backoff) and reports the others.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from typing import Any

import attrs
from kio.static.protocol import RequestPayload, ResponsePayload

from odradek.client import errors
from odradek.client.admin._acltypes import AclOperation, operations_from_bits
from odradek.client.admin._kiohelpers import (
    check_response,
    error_or_none,
    request_class,
)
from odradek.client.admin._offsetrequests import (
    offset_commit_request,
    offset_delete_request,
    offset_fetch_request,
    parse_offset_commit,
    parse_offset_delete,
    parse_offset_fetch,
)
from odradek.client.consumer.protocol import CONSUMER_PROTOCOL_TYPE, decode_assignment
from odradek.client.network.cluster import Node
from odradek.client.protocol import ApiKey, UnsupportedVersionError
from odradek.client.structs import TopicPartition

__all__ = [
    "ConsumerGroupDescription",
    "ConsumerGroupListing",
    "ConsumerGroupState",
    "MemberDescription",
    "delete_groups_request",
    "describe_groups_request",
    "list_groups_request",
    "offset_commit_request",
    "offset_delete_request",
    "offset_fetch_request",
    "parse_delete_groups",
    "parse_describe_groups",
    "parse_list_groups",
    "parse_offset_commit",
    "parse_offset_delete",
    "parse_offset_fetch",
]


class ConsumerGroupState(enum.Enum):
    """
    The state of a group, as its coordinator names it. C{ASSIGNING} and
    C{RECONCILING} are the states of KIP-848 consumer groups.
    """

    UNKNOWN = "Unknown"
    PREPARING_REBALANCE = "PreparingRebalance"
    COMPLETING_REBALANCE = "CompletingRebalance"
    STABLE = "Stable"
    DEAD = "Dead"
    EMPTY = "Empty"
    ASSIGNING = "Assigning"
    RECONCILING = "Reconciling"

    @classmethod
    def parse(cls, name: str) -> ConsumerGroupState:
        """
        @param name: a state name from the wire, such as C{"Stable"}; case does not
            matter.
        @return: the state, or C{UNKNOWN} for a name this client does not know.
        """
        folded = name.casefold()
        for state in cls:
            if state.value.casefold() == folded:
                return state
        return cls.UNKNOWN


def _is_consumer_protocol(protocol_type: str) -> bool:
    return protocol_type in (CONSUMER_PROTOCOL_TYPE, "")


@attrs.frozen
class ConsumerGroupListing:
    """
    One consumer group, as ListGroups names it.

    @ivar group_id: the group's id.
    @ivar is_simple_consumer_group: whether the group only stores offsets (its
        protocol type is empty: consumers assigned partitions by hand).
    @ivar state: the group's state, or C{None} from brokers that do not say
        (ListGroups before version 4).
    @ivar type: the group's type (C{"classic"}, C{"consumer"}), or C{None} from
        brokers that do not say (before version 5).
    """

    group_id: str
    is_simple_consumer_group: bool
    state: ConsumerGroupState | None = None
    type: str | None = None


@attrs.frozen
class MemberDescription:
    """
    One member of a consumer group.

    @ivar member_id: the id the coordinator gave the member.
    @ivar group_instance_id: its C{group.instance.id} (static membership), or
        C{None}.
    @ivar client_id: its C{client.id}.
    @ivar host: the host it connects from, as the coordinator saw it.
    @ivar assignment: the partitions assigned to it; empty when the group does not
        use the consumer protocol.
    """

    member_id: str
    group_instance_id: str | None
    client_id: str
    host: str
    assignment: tuple[TopicPartition, ...] = ()


@attrs.frozen
class ConsumerGroupDescription:
    """
    A consumer group, as DescribeGroups describes it.

    @ivar group_id: the group's id.
    @ivar is_simple_consumer_group: whether the group's protocol type is empty.
    @ivar members: its members.
    @ivar partition_assignor: the protocol (assignor) the group chose, such as
        C{"range"}; empty while none is chosen.
    @ivar state: the group's state.
    @ivar coordinator: the group's coordinator, when known.
    @ivar authorized_operations: what the caller may do with the group, when asked
        for (DescribeGroups version 3 and up), else C{None}.
    """

    group_id: str
    is_simple_consumer_group: bool
    members: tuple[MemberDescription, ...]
    partition_assignor: str
    state: ConsumerGroupState
    coordinator: Node | None = None
    authorized_operations: frozenset[AclOperation] | None = None


def _state_name(state: ConsumerGroupState | str) -> str:
    return state.value if isinstance(state, ConsumerGroupState) else state


def list_groups_request(
    version: int,
    states: Iterable[ConsumerGroupState | str] = (),
    types: Iterable[str] = (),
) -> RequestPayload:
    """
    Build a ListGroups request.

    @param version: the version to build, 0 to 5.
    @param states: list only groups in these states (version 4 and up); empty for
        every state.
    @param types: list only groups of these types, such as C{"classic"} or
        C{"consumer"} (version 5 and up); empty for every type.
    @return: the kio request.
    @raise UnsupportedVersionError: if the version is not supported, or cannot
        carry the filter given.
    """
    state_names = tuple(_state_name(state) for state in states)
    type_names = tuple(types)
    fields: dict[str, object] = {}
    if state_names:
        if version < 4:
            raise UnsupportedVersionError(
                ApiKey.LIST_GROUPS,
                f"ListGroups version {version} cannot filter groups by state; "
                "version 4 or later is needed",
                api_version=version,
            )
        fields["states_filter"] = state_names
    if type_names:
        if version < 5:
            raise UnsupportedVersionError(
                ApiKey.LIST_GROUPS,
                f"ListGroups version {version} cannot filter groups by type; "
                "version 5 or later is needed",
                api_version=version,
            )
        fields["types_filter"] = type_names
    return request_class(ApiKey.LIST_GROUPS, version)(**fields)


def parse_list_groups(response: ResponsePayload) -> list[ConsumerGroupListing]:
    """
    Read a ListGroups response: the consumer groups among the groups listed (those
    whose protocol type is C{"consumer"} or empty), in the broker's order.

    @param response: a decoded kio ListGroups response of any version.
    @return: the consumer groups; the state from version 4 and the type from
        version 5 on.
    @raise TypeError: if C{response} is not a ListGroups response.
    @raise KafkaError: the exception for the response's error code, if not 0.
    """
    data, version = check_response(response, ApiKey.LIST_GROUPS)
    errors.raise_for_code(int(data.error_code))
    listings = []
    for group in data.groups:
        if not _is_consumer_protocol(group.protocol_type):
            continue
        state_name = group.group_state if version >= 4 else ""
        type_name = group.group_type if version >= 5 else ""
        listings.append(
            ConsumerGroupListing(
                group_id=group.group_id,
                is_simple_consumer_group=group.protocol_type == "",
                state=ConsumerGroupState.parse(state_name) if state_name else None,
                type=type_name or None,
            )
        )
    return listings


def describe_groups_request(
    version: int,
    group_ids: Sequence[str],
    include_authorized_operations: bool = False,
) -> RequestPayload:
    """
    Build a DescribeGroups request.

    @param version: the version to build, 0 to 6.
    @param group_ids: the groups to describe.
    @param include_authorized_operations: whether the broker should say what the
        caller may do with each group (version 3 and up).
    @return: the kio request.
    @raise UnsupportedVersionError: if the version is not supported, or is below 3
        while C{include_authorized_operations} is true.
    """
    fields: dict[str, object] = {"groups": tuple(dict.fromkeys(group_ids))}
    if version >= 3:
        fields["include_authorized_operations"] = include_authorized_operations
    elif include_authorized_operations:
        raise UnsupportedVersionError(
            ApiKey.DESCRIBE_GROUPS,
            f"DescribeGroups version {version} cannot ask for authorized "
            "operations; version 3 or later is needed",
            api_version=version,
        )
    return request_class(ApiKey.DESCRIBE_GROUPS, version)(**fields)


def _member(member: Any, version: int, consumer: bool) -> MemberDescription:
    assignment: tuple[TopicPartition, ...] = ()
    if consumer and member.member_assignment:
        assignment = decode_assignment(member.member_assignment).partitions
    return MemberDescription(
        member_id=member.member_id,
        group_instance_id=member.group_instance_id if version >= 4 else None,
        client_id=member.client_id,
        host=member.client_host,
        assignment=assignment,
    )


def parse_describe_groups(
    response: ResponsePayload, coordinator: Node | None = None
) -> dict[str, ConsumerGroupDescription | BaseException]:
    """
    Read a DescribeGroups response.

    Member assignments are decoded with the consumer protocol when the group's
    protocol type is C{"consumer"} or empty; members of other groups (such as
    Kafka Connect's) are listed with no assignment. A group the coordinator does
    not know is, before version 6, described in state C{DEAD}; version 6 answers
    C{GROUP_ID_NOT_FOUND} for it.

    @param response: a decoded kio DescribeGroups response of any version.
    @param coordinator: the broker that answered, recorded in each description.
    @return: for each group answered, its description, or its exception (with the
        broker's message from version 6 on), or a C{ValueError} if a member's
        assignment could not be decoded.
    @raise TypeError: if C{response} is not a DescribeGroups response.
    """
    data, version = check_response(response, ApiKey.DESCRIBE_GROUPS)
    results: dict[str, ConsumerGroupDescription | BaseException] = {}
    for group in data.groups:
        message = group.error_message if version >= 6 else None
        failure = error_or_none(int(group.error_code), message)
        if failure is not None:
            results[group.group_id] = failure
            continue
        consumer = _is_consumer_protocol(group.protocol_type)
        try:
            members = tuple(
                _member(member, version, consumer) for member in group.members
            )
        except ValueError as error:
            results[group.group_id] = ValueError(
                f"group {group.group_id!r} has a member assignment that cannot be "
                f"decoded: {error}"
            )
            continue
        results[group.group_id] = ConsumerGroupDescription(
            group_id=group.group_id,
            is_simple_consumer_group=group.protocol_type == "",
            members=members,
            partition_assignor=group.protocol_data,
            state=ConsumerGroupState.parse(group.group_state),
            coordinator=coordinator,
            authorized_operations=(
                operations_from_bits(int(group.authorized_operations))
                if version >= 3
                else None
            ),
        )
    return results


def delete_groups_request(version: int, group_ids: Sequence[str]) -> RequestPayload:
    """
    Build a DeleteGroups request.

    @param version: the version to build, 0 to 2.
    @param group_ids: the groups to delete, with their committed offsets.
    @return: the kio request.
    @raise UnsupportedVersionError: if the version is not supported.
    """
    return request_class(ApiKey.DELETE_GROUPS, version)(
        groups_names=tuple(dict.fromkeys(group_ids))
    )


def parse_delete_groups(
    response: ResponsePayload, group_ids: Sequence[str]
) -> dict[str, BaseException | None]:
    """
    Read a DeleteGroups response.

    @param response: a decoded kio DeleteGroups response of any version.
    @param group_ids: the groups asked for.
    @return: for each group asked for, and any other the broker answered, C{None}
        if it was deleted, else its exception (such as L{GroupNotEmptyError
        <odradek.client.errors.GroupNotEmptyError>}); L{UnknownServerError
        <odradek.client.errors.UnknownServerError>} for a group the broker did not
        answer.
    @raise TypeError: if C{response} is not a DeleteGroups response.
    """
    data, _ = check_response(response, ApiKey.DELETE_GROUPS)
    answered: dict[str, BaseException | None] = {
        result.group_id: error_or_none(int(result.error_code))
        for result in data.results
    }
    results: dict[str, BaseException | None] = {}
    for group_id in group_ids:
        if group_id in answered:
            results[group_id] = answered.pop(group_id)
        else:
            results[group_id] = errors.UnknownServerError(
                f"the DeleteGroups answer has no result for group {group_id!r}"
            )
    results.update(answered)
    return results
