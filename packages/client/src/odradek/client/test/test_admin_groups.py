"""
Tests for L{odradek.client.admin.groups}: the group values, ListGroups,
DescribeGroups and DeleteGroups.
"""

from __future__ import annotations

import struct
from typing import Any

from kio.schema.errors import ErrorCode
from kio.static.protocol import ResponsePayload
from twisted.trial.unittest import SynchronousTestCase

from odradek.client import errors
from odradek.client.admin import groups
from odradek.client.admin.acls import AclOperation
from odradek.client.admin.groups import (
    ConsumerGroupDescription,
    ConsumerGroupListing,
    ConsumerGroupState,
    MemberDescription,
    delete_groups_request,
    describe_groups_request,
    list_groups_request,
    parse_delete_groups,
    parse_describe_groups,
    parse_list_groups,
)
from odradek.client.network.cluster import Node
from odradek.client.protocol import ApiKey, UnsupportedVersionError
from odradek.client.structs import TopicPartition
from odradek.client.test._adminwiretools import entity as _entity
from odradek.client.test._adminwiretools import versions as _versions
from odradek.client.test._adminwiretools import wire_response as _response
from odradek.client.test._networktools import NO_THROTTLE, round_trip

TP0 = TopicPartition("orders", 0)
TP1 = TopicPartition("orders", 1)
TP2 = TopicPartition("audit", 0)


def _assignment_blob(partitions: dict[str, list[int]]) -> bytes:
    """
    A version 0 C{ConsumerProtocolAssignment}, written by hand.
    """
    blob = struct.pack(">hi", 0, len(partitions))
    for topic, indexes in partitions.items():
        name = topic.encode()
        blob += struct.pack(">h", len(name)) + name
        blob += struct.pack(">i", len(indexes))
        blob += b"".join(struct.pack(">i", index) for index in indexes)
    return blob + struct.pack(">i", -1)


class ConsumerGroupStateTests(SynchronousTestCase):
    """
    L{ConsumerGroupState.parse} reads the coordinator's state names.
    """

    def test_names(self) -> None:
        """
        Each of Kafka's state names parses to its member.
        """
        for name, state in [
            ("PreparingRebalance", ConsumerGroupState.PREPARING_REBALANCE),
            ("CompletingRebalance", ConsumerGroupState.COMPLETING_REBALANCE),
            ("Stable", ConsumerGroupState.STABLE),
            ("Dead", ConsumerGroupState.DEAD),
            ("Empty", ConsumerGroupState.EMPTY),
            ("Assigning", ConsumerGroupState.ASSIGNING),
            ("Reconciling", ConsumerGroupState.RECONCILING),
        ]:
            self.assertIs(ConsumerGroupState.parse(name), state)

    def test_case_insensitive(self) -> None:
        """
        Case does not matter.
        """
        self.assertIs(ConsumerGroupState.parse("stable"), ConsumerGroupState.STABLE)

    def test_unknown(self) -> None:
        """
        A name this client does not know is UNKNOWN.
        """
        self.assertIs(ConsumerGroupState.parse("NotReady"), ConsumerGroupState.UNKNOWN)


class ListGroupsTests(SynchronousTestCase):
    """
    L{list_groups_request} and L{parse_list_groups}.
    """

    def test_request_every_version(self) -> None:
        """
        Every supported version builds and survives the codec.
        """
        for version in _versions(ApiKey.LIST_GROUPS):
            with self.subTest(version=version):
                request = list_groups_request(version)
                self.assertEqual(round_trip(request), request)

    def test_states_filter(self) -> None:
        """
        Version 4 and up carry the states asked for, by Kafka's names.
        """
        for version in (4, 5):
            request: Any = round_trip(
                list_groups_request(version, [ConsumerGroupState.STABLE, "Empty"])
            )
            self.assertEqual(request.states_filter, ("Stable", "Empty"))

    def test_states_filter_too_old(self) -> None:
        """
        A states filter needs version 4.
        """
        for version in range(4):
            self.assertRaises(
                UnsupportedVersionError,
                list_groups_request,
                version,
                [ConsumerGroupState.STABLE],
            )

    def test_types_filter(self) -> None:
        """
        Version 5 carries the types asked for; older versions refuse them.
        """
        request: Any = round_trip(list_groups_request(5, types=["classic"]))
        self.assertEqual(request.types_filter, ("classic",))
        self.assertRaises(
            UnsupportedVersionError, list_groups_request, 4, types=["classic"]
        )

    def test_unsupported_version(self) -> None:
        """
        A version beyond the supported range is refused.
        """
        self.assertRaises(UnsupportedVersionError, list_groups_request, 6)

    def _listed(self, version: int, group_id: str, protocol_type: str) -> Any:
        fields: dict[str, object] = {
            "group_id": group_id,
            "protocol_type": protocol_type,
        }
        if version >= 4:
            fields["group_state"] = "Stable"
        if version >= 5:
            fields["group_type"] = "classic"
        return _entity(ApiKey.LIST_GROUPS, version, "ListedGroup", **fields)

    def _list_response(
        self, version: int, error: ErrorCode, groups: tuple[Any, ...]
    ) -> ResponsePayload:
        fields: dict[str, object] = {"error_code": error, "groups": groups}
        if version >= 1:
            fields["throttle_time"] = NO_THROTTLE
        return _response(ApiKey.LIST_GROUPS, version, **fields)

    def test_parse_every_version(self) -> None:
        """
        Consumer and simple groups are listed, with state (v4+) and type (v5+).
        """
        for version in _versions(ApiKey.LIST_GROUPS):
            with self.subTest(version=version):
                response = self._list_response(
                    version,
                    ErrorCode.none,
                    (
                        self._listed(version, "billing", "consumer"),
                        self._listed(version, "connect-cluster", "connect"),
                        self._listed(version, "manual", ""),
                    ),
                )
                state = ConsumerGroupState.STABLE if version >= 4 else None
                kind = "classic" if version >= 5 else None
                self.assertEqual(
                    parse_list_groups(response),
                    [
                        ConsumerGroupListing("billing", False, state, kind),
                        ConsumerGroupListing("manual", True, state, kind),
                    ],
                )

    def test_parse_error(self) -> None:
        """
        The response's error is raised as its exception.
        """
        response = self._list_response(
            3, ErrorCode.coordinator_load_in_progress, groups=()
        )
        self.assertRaises(
            errors.CoordinatorLoadInProgressError, parse_list_groups, response
        )

    def test_parse_wrong_response(self) -> None:
        """
        A response of another API is refused.
        """
        response = _response(
            ApiKey.DELETE_GROUPS, 0, throttle_time=NO_THROTTLE, results=()
        )
        self.assertRaises(TypeError, parse_list_groups, response)


class DescribeGroupsTests(SynchronousTestCase):
    """
    L{describe_groups_request} and L{parse_describe_groups}.
    """

    coordinator = Node(2, "broker-2", 9092)

    def test_request_every_version(self) -> None:
        """
        Every supported version builds the group ids, each once.
        """
        for version in _versions(ApiKey.DESCRIBE_GROUPS):
            with self.subTest(version=version):
                request: Any = round_trip(
                    describe_groups_request(version, ["a", "b", "a"])
                )
                self.assertEqual(request.groups, ("a", "b"))
                if version >= 3:
                    self.assertFalse(request.include_authorized_operations)

    def test_authorized_operations(self) -> None:
        """
        Version 3 and up can ask for authorized operations; older versions refuse.
        """
        request: Any = round_trip(describe_groups_request(3, ["a"], True))
        self.assertTrue(request.include_authorized_operations)
        self.assertRaises(
            UnsupportedVersionError, describe_groups_request, 2, ["a"], True
        )

    def _member(self, version: int, member_id: str, assignment: bytes) -> Any:
        fields: dict[str, object] = {
            "member_id": member_id,
            "client_id": "client-" + member_id,
            "client_host": "/10.0.0.1",
            "member_metadata": b"",
            "member_assignment": assignment,
        }
        if version >= 4:
            fields["group_instance_id"] = "instance-" + member_id
        return _entity(
            ApiKey.DESCRIBE_GROUPS, version, "DescribedGroupMember", **fields
        )

    def _group(
        self,
        version: int,
        group_id: str,
        *,
        error: ErrorCode = ErrorCode.none,
        protocol_type: str = "consumer",
        members: tuple[Any, ...] = (),
        authorized_operations: int = -(2**31),
        error_message: str | None = None,
    ) -> Any:
        fields: dict[str, object] = {
            "error_code": error,
            "group_id": group_id,
            "group_state": "Stable",
            "protocol_type": protocol_type,
            "protocol_data": "range",
            "members": members,
        }
        if version >= 3:
            fields["authorized_operations"] = authorized_operations
        if version >= 6:
            fields["error_message"] = error_message
        return _entity(ApiKey.DESCRIBE_GROUPS, version, "DescribedGroup", **fields)

    def _describe_response(self, version: int, *described: Any) -> ResponsePayload:
        fields: dict[str, object] = {"groups": described}
        if version >= 1:
            fields["throttle_time"] = NO_THROTTLE
        return _response(ApiKey.DESCRIBE_GROUPS, version, **fields)

    def test_parse_every_version(self) -> None:
        """
        Groups come with members, decoded assignments and instance ids (v4+).
        """
        blob = _assignment_blob({"orders": [0, 1], "audit": [0]})
        for version in _versions(ApiKey.DESCRIBE_GROUPS):
            with self.subTest(version=version):
                response = self._describe_response(
                    version,
                    self._group(
                        version,
                        "billing",
                        members=(
                            self._member(version, "m1", blob),
                            self._member(version, "m2", b""),
                        ),
                    ),
                )
                described = parse_describe_groups(response, self.coordinator)
                self.assertEqual(
                    described,
                    {
                        "billing": ConsumerGroupDescription(
                            group_id="billing",
                            is_simple_consumer_group=False,
                            members=(
                                MemberDescription(
                                    "m1",
                                    "instance-m1" if version >= 4 else None,
                                    "client-m1",
                                    "/10.0.0.1",
                                    (TP0, TP1, TP2),
                                ),
                                MemberDescription(
                                    "m2",
                                    "instance-m2" if version >= 4 else None,
                                    "client-m2",
                                    "/10.0.0.1",
                                    (),
                                ),
                            ),
                            partition_assignor="range",
                            state=ConsumerGroupState.STABLE,
                            coordinator=self.coordinator,
                            authorized_operations=None,
                        )
                    },
                )

    def test_parse_authorized_operations(self) -> None:
        """
        The authorized operations bit field is read into operations.
        """
        bits = (1 << AclOperation.READ) | (1 << AclOperation.DESCRIBE)
        response = self._describe_response(
            3, self._group(3, "billing", authorized_operations=bits)
        )
        described = parse_describe_groups(response)["billing"]
        assert isinstance(described, ConsumerGroupDescription)
        self.assertEqual(
            described.authorized_operations,
            frozenset({AclOperation.READ, AclOperation.DESCRIBE}),
        )
        self.assertIsNone(described.coordinator)

    def test_parse_other_protocol(self) -> None:
        """
        Members of a non-consumer-protocol group have no assignment.
        """
        response = self._describe_response(
            5,
            self._group(
                5,
                "connect",
                protocol_type="connect",
                members=(self._member(5, "m1", b"\xff\xff not consumer"),),
            ),
        )
        described = parse_describe_groups(response)["connect"]
        assert isinstance(described, ConsumerGroupDescription)
        self.assertEqual(described.members[0].assignment, ())
        self.assertFalse(described.is_simple_consumer_group)

    def test_parse_simple_group(self) -> None:
        """
        A group with an empty protocol type is a simple consumer group.
        """
        response = self._describe_response(
            0, self._group(0, "manual", protocol_type="")
        )
        described = parse_describe_groups(response)["manual"]
        assert isinstance(described, ConsumerGroupDescription)
        self.assertTrue(described.is_simple_consumer_group)

    def test_parse_errors(self) -> None:
        """
        A group's error, with the broker's message (v6), is its result alone.
        """
        response = self._describe_response(
            6,
            self._group(
                6,
                "gone",
                error=ErrorCode.group_id_not_found,
                error_message="Group gone not found.",
            ),
            self._group(6, "billing"),
            self._group(6, "moving", error=ErrorCode.not_coordinator),
        )
        described = parse_describe_groups(response)
        gone = described["gone"]
        self.assertIsInstance(gone, errors.GroupIdNotFoundError)
        assert isinstance(gone, errors.KafkaError)
        self.assertEqual(gone.message, "Group gone not found.")
        self.assertIsInstance(described["billing"], ConsumerGroupDescription)
        moving = described["moving"]
        self.assertIsInstance(moving, errors.NotCoordinatorError)
        assert isinstance(moving, errors.KafkaError)
        self.assertTrue(moving.retriable)

    def test_parse_bad_assignment(self) -> None:
        """
        An undecodable member assignment makes the group's result a ValueError.
        """
        response = self._describe_response(
            1,
            self._group(1, "broken", members=(self._member(1, "m1", b"\x00"),)),
        )
        self.assertIsInstance(parse_describe_groups(response)["broken"], ValueError)


class DeleteGroupsTests(SynchronousTestCase):
    """
    L{delete_groups_request} and L{parse_delete_groups}.
    """

    def test_request_every_version(self) -> None:
        """
        Every supported version carries the group ids, each once.
        """
        for version in _versions(ApiKey.DELETE_GROUPS):
            with self.subTest(version=version):
                request: Any = round_trip(
                    delete_groups_request(version, ["a", "b", "a"])
                )
                self.assertEqual(request.groups_names, ("a", "b"))

    def test_parse_every_version(self) -> None:
        """
        Each group gets None or its exception; an unanswered one UnknownServerError.
        """
        for version in _versions(ApiKey.DELETE_GROUPS):
            with self.subTest(version=version):
                response = _response(
                    ApiKey.DELETE_GROUPS,
                    version,
                    throttle_time=NO_THROTTLE,
                    results=tuple(
                        _entity(
                            ApiKey.DELETE_GROUPS,
                            version,
                            "DeletableGroupResult",
                            group_id=group_id,
                            error_code=code,
                        )
                        for group_id, code in [
                            ("a", ErrorCode.none),
                            ("b", ErrorCode.non_empty_group),
                        ]
                    ),
                )
                results = parse_delete_groups(response, ["a", "b", "c"])
                self.assertEqual(list(results), ["a", "b", "c"])
                self.assertIsNone(results["a"])
                self.assertIsInstance(results["b"], errors.GroupNotEmptyError)
                self.assertIsInstance(results["c"], errors.UnknownServerError)


class PublicNamesTests(SynchronousTestCase):
    """
    The public surface of L{odradek.client.admin.groups}.
    """

    def test_all(self) -> None:
        """
        C{__all__} names exactly the public names, each defined.
        """
        self.assertEqual(
            sorted(groups.__all__),
            sorted(name for name in vars(groups) if name in groups.__all__),
        )
        self.assertEqual(
            set(groups.__all__),
            {
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
            },
        )
