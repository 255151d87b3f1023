"""
Tests for L{odradek.broker.apis.groups}: JoinGroup, SyncGroup, Heartbeat,
LeaveGroup, DescribeGroups, ListGroups and DeleteGroups in every version, against a
fake coordinator that records its calls: what each version passes to the
coordinator, and how its answers become responses of that version.
"""

from __future__ import annotations

import datetime
from typing import Any

from kio.schema.errors import ErrorCode
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from odradek.broker.apis import HandlerRegistry, groups
from odradek.broker.apis._schema import OPERATIONS_OMITTED
from odradek.broker.coordinator.group.results import (
    DescribedGroup,
    DescribedMember,
    JoinedMember,
    JoinGroupResult,
    LeaveGroupResult,
    LeavingMember,
    ListedGroup,
    SyncGroupResult,
)
from odradek.broker.test._brokertools import call_handler, round_trip
from odradek.broker.test._controltools import build
from odradek.client.errors import (
    FencedInstanceIdError,
    GroupIdNotFoundError,
    IllegalGenerationError,
    InconsistentGroupProtocolError,
    MemberIdRequiredError,
    NotCoordinatorError,
    RebalanceInProgressError,
    UnknownMemberIdError,
)
from odradek.client.protocol import ApiKey, VersionRange

HEARTBEAT, LEAVE_GROUP, SYNC_GROUP = 12, 13, 14
JOIN_GROUP, DESCRIBE_GROUPS, LIST_GROUPS, DELETE_GROUPS = 11, 15, 16, 42
SECOND = datetime.timedelta(seconds=1)


class FakeCoordinator:
    """
    Stands in for the group coordinator: records each call with its arguments and
    answers what the test set in L{answers} (a value, a Deferred, or an exception
    to fail with), or a default.

    @ivar calls: each call's method name and keyword arguments, in order.
    @ivar answers: the answer of each method, by name.
    """

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.answers: dict[str, Any] = {}

    def _answer(self, name: str, arguments: dict[str, Any], default: Any) -> Any:
        self.calls.append((name, arguments))
        return self.answers.get(name, default)

    def _later(self, name: str, arguments: dict[str, Any], default: Any) -> Any:
        answer = self._answer(name, arguments, default)
        if isinstance(answer, Deferred):
            return answer
        if isinstance(answer, Exception):
            return fail(answer)
        return succeed(answer)

    def join_group(self, **arguments: Any) -> Any:
        return self._later("join_group", arguments, JoinGroupResult(0))

    def sync_group(self, **arguments: Any) -> Any:
        return self._later("sync_group", arguments, SyncGroupResult(0))

    def heartbeat(self, **arguments: Any) -> Any:
        return self._later("heartbeat", arguments, 0)

    def leave_group(self, **arguments: Any) -> Any:
        return self._later("leave_group", arguments, LeaveGroupResult(0))

    def describe_groups(self, group_ids: Any) -> Any:
        return self._answer("describe_groups", {"group_ids": group_ids}, [])

    def list_groups(self, **arguments: Any) -> Any:
        return self._answer("list_groups", arguments, (0, []))

    def delete_groups(self, group_ids: Any) -> Any:
        return self._later("delete_groups", {"group_ids": group_ids}, {})


class Groups:
    """
    The group handlers registered with a fake coordinator.

    @ivar coordinator: the fake coordinator.
    @ivar registry: the handlers.
    @ivar clock: the requests' reactor.
    """

    def __init__(self, case: SynchronousTestCase) -> None:
        self.case = case
        self.coordinator = FakeCoordinator()
        self.registry = HandlerRegistry()
        groups.register(self.registry, coordinator=self.coordinator)  # type: ignore[arg-type]
        self.clock = Clock()

    def call(self, api_key: int, version: int, **fields: Any) -> Any:
        """
        Send a request built from C{fields}; the handler must answer now.

        @return: the response, encoded and decoded again.
        """
        result = self.pending(api_key, version, **fields)
        if isinstance(result, Deferred):
            result = self.case.successResultOf(result)
        return round_trip(result)

    def pending(self, api_key: int, version: int, **fields: Any) -> Any:
        """
        @return: what the handler returned for a request built from C{fields}.
        """
        request = build(api_key, version, **fields)
        return call_handler(self.registry, request, self.clock)

    def last(self, method: str) -> dict[str, Any]:
        """
        @return: the arguments of the coordinator's last call, which must be of
            C{method}.
        """
        name, arguments = self.coordinator.calls[-1]
        self.case.assertEqual(name, method)
        return arguments


def join(version: int, **overrides: Any) -> dict[str, Any]:
    """
    @return: the fields of a JoinGroup request of C{version}.
    """
    fields: dict[str, Any] = {
        "group_id": "billing",
        "session_timeout": 10 * SECOND,
        "member_id": "",
        "protocol_type": "consumer",
        "protocols": [
            {"name": "range", "metadata": b"r"},
            {"name": "roundrobin", "metadata": b"rr"},
        ],
    }
    if version >= 1:
        fields["rebalance_timeout"] = 30 * SECOND
    if version >= 5:
        fields["group_instance_id"] = "static-1"
    if version >= 8:
        fields["reason"] = "rejoin"
    fields.update(overrides)
    return fields


class RegisterTests(SynchronousTestCase):
    """
    L{groups.register} adds the group APIs.
    """

    def test_versions(self) -> None:
        """
        Every API is registered with every version kio knows.
        """
        registry = Groups(self).registry
        self.assertEqual(
            [(entry.api_key, entry.versions) for entry in registry],
            [
                (ApiKey.JOIN_GROUP, VersionRange(0, 9)),
                (ApiKey.HEARTBEAT, VersionRange(0, 4)),
                (ApiKey.LEAVE_GROUP, VersionRange(0, 5)),
                (ApiKey.SYNC_GROUP, VersionRange(0, 5)),
                (ApiKey.DESCRIBE_GROUPS, VersionRange(0, 6)),
                (ApiKey.LIST_GROUPS, VersionRange(0, 5)),
                (ApiKey.DELETE_GROUPS, VersionRange(0, 2)),
            ],
        )


class JoinGroupTests(SynchronousTestCase):
    """
    JoinGroup in every version.
    """

    def test_arguments(self) -> None:
        """
        Each version passes its fields; version 0 uses the session timeout as the
        rebalance timeout, and from version 4 a member id is required.
        """
        for version in range(10):
            with self.subTest(version=version):
                handlers = Groups(self)
                handlers.call(JOIN_GROUP, version, **join(version))
                self.assertEqual(
                    handlers.last("join_group"),
                    {
                        "group_id": "billing",
                        "member_id": "",
                        "group_instance_id": "static-1" if version >= 5 else None,
                        "client_id": "test",
                        "client_host": "/10.0.0.7",
                        "rebalance_timeout_ms": 30000 if version else 10000,
                        "session_timeout_ms": 10000,
                        "protocol_type": "consumer",
                        "protocols": [("range", b"r"), ("roundrobin", b"rr")],
                        "require_known_member_id": version >= 4,
                        "reason": "rejoin" if version >= 8 else None,
                    },
                )

    def test_response(self) -> None:
        """
        The leader's response carries the members with their metadata; the
        protocol type from version 7 and the static ids from version 5.
        """
        for version in range(10):
            with self.subTest(version=version):
                handlers = Groups(self)
                handlers.coordinator.answers["join_group"] = JoinGroupResult(
                    0,
                    generation_id=3,
                    protocol_type="consumer",
                    protocol_name="range",
                    leader_id="m-1",
                    member_id="m-1",
                    members=(
                        JoinedMember("m-1", "static-1", b"a"),
                        JoinedMember("m-2", None, b"b"),
                    ),
                )
                response = handlers.call(JOIN_GROUP, version, **join(version))
                self.assertEqual(
                    (
                        response.error_code,
                        response.generation_id,
                        response.protocol_name,
                        response.leader,
                        response.member_id,
                    ),
                    (ErrorCode.none, 3, "range", "m-1", "m-1"),
                )
                self.assertEqual(
                    [(m.member_id, m.metadata) for m in response.members],
                    [("m-1", b"a"), ("m-2", b"b")],
                )
                if version >= 5:
                    self.assertEqual(
                        [m.group_instance_id for m in response.members],
                        ["static-1", None],
                    )
                if version >= 7:
                    self.assertEqual(response.protocol_type, "consumer")

    def test_member_id_required(self) -> None:
        """
        C{MEMBER_ID_REQUIRED} comes with the member's new id; the protocol name is
        C{""} before version 7 and null from it.
        """
        for version, protocol_name in ((4, ""), (6, ""), (7, None), (9, None)):
            with self.subTest(version=version):
                handlers = Groups(self)
                handlers.coordinator.answers["join_group"] = JoinGroupResult(
                    MemberIdRequiredError.code, member_id="client-1-abc"
                )
                response = handlers.call(JOIN_GROUP, version, **join(version))
                self.assertEqual(
                    (
                        response.error_code,
                        response.member_id,
                        response.generation_id,
                        response.protocol_name,
                        response.members,
                    ),
                    (
                        ErrorCode.member_id_required,
                        "client-1-abc",
                        -1,
                        protocol_name,
                        (),
                    ),
                )

    def test_skip_assignment(self) -> None:
        """
        A static leader told to skip the assignment gets the members and the flag
        in version 9, and no members before it (KIP-814).
        """
        answer = JoinGroupResult(
            0,
            generation_id=2,
            protocol_type="consumer",
            protocol_name="range",
            leader_id="m-1",
            skip_assignment=True,
            member_id="m-1",
            members=(JoinedMember("m-1", "static-1", b"a"),),
        )
        handlers = Groups(self)
        handlers.coordinator.answers["join_group"] = answer
        response = handlers.call(JOIN_GROUP, 9, **join(9))
        self.assertTrue(response.skip_assignment)
        self.assertEqual([m.member_id for m in response.members], ["m-1"])
        response = handlers.call(JOIN_GROUP, 8, **join(8))
        self.assertEqual((response.leader, response.members), ("m-1", ()))

    def test_waits_for_rebalance(self) -> None:
        """
        The response is sent when the coordinator answers, not before.
        """
        handlers = Groups(self)
        waiting: Deferred[JoinGroupResult] = Deferred()
        handlers.coordinator.answers["join_group"] = waiting
        result = handlers.pending(JOIN_GROUP, 5, **join(5))
        self.assertNoResult(result)
        waiting.callback(JoinGroupResult(0, generation_id=1, member_id="m"))
        response = round_trip(self.successResultOf(result))
        self.assertEqual((response.generation_id, response.member_id), (1, "m"))

    def test_coordinator_fails(self) -> None:
        """
        A Kafka error raised by the coordinator is the response's error.
        """
        handlers = Groups(self)
        handlers.coordinator.answers["join_group"] = NotCoordinatorError()
        response = handlers.call(JOIN_GROUP, 7, **join(7))
        self.assertEqual(response.error_code, ErrorCode.not_coordinator)
        self.assertEqual(response.generation_id, -1)


def sync(version: int, **overrides: Any) -> dict[str, Any]:
    """
    @return: the fields of a SyncGroup request of C{version}.
    """
    fields: dict[str, Any] = {
        "group_id": "billing",
        "generation_id": 4,
        "member_id": "m-1",
        "assignments": [
            {"member_id": "m-1", "assignment": b"one"},
            {"member_id": "m-2", "assignment": b"two"},
        ],
    }
    if version >= 3:
        fields["group_instance_id"] = "static-1"
    if version >= 5:
        fields["protocol_type"] = "consumer"
        fields["protocol_name"] = "range"
    fields.update(overrides)
    return fields


class SyncGroupTests(SynchronousTestCase):
    """
    SyncGroup in every version.
    """

    def test_arguments_and_response(self) -> None:
        """
        Each version passes the leader's assignments and gets the member's
        assignment; version 5 the protocol type and name too.
        """
        for version in range(6):
            with self.subTest(version=version):
                handlers = Groups(self)
                handlers.coordinator.answers["sync_group"] = SyncGroupResult(
                    0, "consumer", "range", b"one"
                )
                response = handlers.call(SYNC_GROUP, version, **sync(version))
                self.assertEqual(
                    handlers.last("sync_group"),
                    {
                        "group_id": "billing",
                        "generation_id": 4,
                        "member_id": "m-1",
                        "group_instance_id": "static-1" if version >= 3 else None,
                        "protocol_type": "consumer" if version >= 5 else None,
                        "protocol_name": "range" if version >= 5 else None,
                        "assignments": {"m-1": b"one", "m-2": b"two"},
                    },
                )
                self.assertEqual(
                    (response.error_code, response.assignment),
                    (ErrorCode.none, b"one"),
                )
                if version >= 5:
                    self.assertEqual(
                        (response.protocol_type, response.protocol_name),
                        ("consumer", "range"),
                    )

    def test_protocol_mandatory(self) -> None:
        """
        Version 5 without the protocol type or name is refused with
        C{INCONSISTENT_GROUP_PROTOCOL} without asking the coordinator.
        """
        for missing in ("protocol_type", "protocol_name"):
            with self.subTest(missing=missing):
                handlers = Groups(self)
                response = handlers.call(SYNC_GROUP, 5, **sync(5, **{missing: None}))
                self.assertEqual(
                    response.error_code, InconsistentGroupProtocolError.code
                )
                self.assertEqual(handlers.coordinator.calls, [])

    def test_error(self) -> None:
        """
        The coordinator's error is the response's, with no assignment.
        """
        handlers = Groups(self)
        handlers.coordinator.answers["sync_group"] = SyncGroupResult(
            IllegalGenerationError.code
        )
        response = handlers.call(SYNC_GROUP, 4, **sync(4))
        self.assertEqual(
            (response.error_code, response.assignment),
            (ErrorCode.illegal_generation, b""),
        )


class HeartbeatTests(SynchronousTestCase):
    """
    Heartbeat in every version.
    """

    def test_versions(self) -> None:
        """
        Each version passes the member and generation, and the static id from
        version 3, and answers the coordinator's error code.
        """
        for version in range(5):
            with self.subTest(version=version):
                handlers = Groups(self)
                handlers.coordinator.answers["heartbeat"] = (
                    RebalanceInProgressError.code
                )
                fields: dict[str, Any] = {
                    "group_id": "billing",
                    "generation_id": 2,
                    "member_id": "m-1",
                }
                if version >= 3:
                    fields["group_instance_id"] = "static-1"
                response = handlers.call(HEARTBEAT, version, **fields)
                self.assertEqual(
                    handlers.last("heartbeat"),
                    {
                        "group_id": "billing",
                        "generation_id": 2,
                        "member_id": "m-1",
                        "group_instance_id": "static-1" if version >= 3 else None,
                    },
                )
                self.assertEqual(response.error_code, ErrorCode.rebalance_in_progress)


class LeaveGroupTests(SynchronousTestCase):
    """
    LeaveGroup: one member before version 3, a batch from it.
    """

    def test_single_member(self) -> None:
        """
        Versions 0 to 2 name one member, whose error is the response's.
        """
        for version in range(3):
            with self.subTest(version=version):
                handlers = Groups(self)
                handlers.coordinator.answers["leave_group"] = LeaveGroupResult(
                    0, (LeavingMember("m-1", error_code=UnknownMemberIdError.code),)
                )
                response = handlers.call(
                    LEAVE_GROUP, version, group_id="billing", member_id="m-1"
                )
                self.assertEqual(
                    handlers.last("leave_group"),
                    {"group_id": "billing", "members": (LeavingMember("m-1"),)},
                )
                self.assertEqual(response.error_code, ErrorCode.unknown_member_id)

    def test_group_error_first(self) -> None:
        """
        Before version 3 the group's error wins over the member's.
        """
        handlers = Groups(self)
        handlers.coordinator.answers["leave_group"] = LeaveGroupResult(
            NotCoordinatorError.code,
            (LeavingMember("m-1", error_code=UnknownMemberIdError.code),),
        )
        response = handlers.call(LEAVE_GROUP, 1, group_id="billing", member_id="m-1")
        self.assertEqual(response.error_code, ErrorCode.not_coordinator)

    def test_batch(self) -> None:
        """
        Versions 3 to 5 name several members, each answered with its error; the
        reason is passed from version 5.
        """
        for version in range(3, 6):
            with self.subTest(version=version):
                handlers = Groups(self)
                handlers.coordinator.answers["leave_group"] = LeaveGroupResult(
                    0,
                    (
                        LeavingMember("m-1"),
                        LeavingMember(
                            "", "static-2", error_code=FencedInstanceIdError.code
                        ),
                    ),
                )
                response = handlers.call(
                    LEAVE_GROUP,
                    version,
                    group_id="billing",
                    members=[
                        {"member_id": "m-1", "reason": "closing"},
                        {"member_id": "", "group_instance_id": "static-2"},
                    ]
                    if version >= 5
                    else [
                        {"member_id": "m-1"},
                        {"member_id": "", "group_instance_id": "static-2"},
                    ],
                )
                reason = "closing" if version >= 5 else None
                self.assertEqual(
                    handlers.last("leave_group")["members"],
                    [
                        LeavingMember("m-1", None, reason),
                        LeavingMember("", "static-2", None),
                    ],
                )
                self.assertEqual(response.error_code, ErrorCode.none)
                self.assertEqual(
                    [
                        (m.member_id, m.group_instance_id, m.error_code)
                        for m in response.members
                    ],
                    [
                        ("m-1", None, ErrorCode.none),
                        ("", "static-2", ErrorCode.fenced_instance_id),
                    ],
                )


STABLE = DescribedGroup(
    "billing",
    0,
    "Stable",
    "consumer",
    "range",
    (DescribedMember("m-1", "static-1", "client-1", "/10.0.0.7", b"sub", b"asg"),),
)


class DescribeGroupsTests(SynchronousTestCase):
    """
    DescribeGroups in every version.
    """

    def test_versions(self) -> None:
        """
        Each version describes the groups and their members; static ids from
        version 4; authorized operations only when asked for (version 3 on).
        """
        for version in range(7):
            with self.subTest(version=version):
                handlers = Groups(self)
                handlers.coordinator.answers["describe_groups"] = [STABLE]
                fields: dict[str, Any] = {"groups": ["billing"]}
                if version >= 3:
                    fields["include_authorized_operations"] = True
                response = handlers.call(DESCRIBE_GROUPS, version, **fields)
                self.assertEqual(
                    handlers.last("describe_groups"), {"group_ids": ["billing"]}
                )
                [group] = response.groups
                self.assertEqual(
                    (
                        group.error_code,
                        group.group_id,
                        group.group_state,
                        group.protocol_type,
                        group.protocol_data,
                    ),
                    (ErrorCode.none, "billing", "Stable", "consumer", "range"),
                )
                [member] = group.members
                self.assertEqual(
                    (
                        member.member_id,
                        member.client_id,
                        member.client_host,
                        member.member_metadata,
                        member.member_assignment,
                    ),
                    ("m-1", "client-1", "/10.0.0.7", b"sub", b"asg"),
                )
                if version >= 4:
                    self.assertEqual(member.group_instance_id, "static-1")
                if version >= 3:
                    self.assertEqual(
                        group.authorized_operations, groups.GROUP_OPERATIONS
                    )

    def test_operations_omitted(self) -> None:
        """
        Without asking, and for a group with an error, the authorized operations
        are Kafka's "omitted" value.
        """
        handlers = Groups(self)
        failed = DescribedGroup("other", NotCoordinatorError.code)
        handlers.coordinator.answers["describe_groups"] = [STABLE, failed]
        response = handlers.call(DESCRIBE_GROUPS, 5, groups=["billing", "other"])
        self.assertEqual(
            [g.authorized_operations for g in response.groups],
            [OPERATIONS_OMITTED, OPERATIONS_OMITTED],
        )
        response = handlers.call(
            DESCRIBE_GROUPS,
            5,
            groups=["billing", "other"],
            include_authorized_operations=True,
        )
        self.assertEqual(
            [(g.error_code, g.authorized_operations) for g in response.groups],
            [
                (ErrorCode.none, groups.GROUP_OPERATIONS),
                (ErrorCode.not_coordinator, OPERATIONS_OMITTED),
            ],
        )

    def test_unknown_group(self) -> None:
        """
        An unknown group is C{Dead} without error before version 6, and
        C{GROUP_ID_NOT_FOUND} with a message from version 6 (KIP-1043).
        """
        handlers = Groups(self)
        handlers.coordinator.answers["describe_groups"] = [DescribedGroup("gone", 0)]
        old = handlers.call(DESCRIBE_GROUPS, 5, groups=["gone"]).groups[0]
        self.assertEqual(
            (old.error_code, old.group_state, old.members),
            (ErrorCode.none, "Dead", ()),
        )
        new = handlers.call(DESCRIBE_GROUPS, 6, groups=["gone"]).groups[0]
        self.assertEqual(new.error_code, GroupIdNotFoundError.code)
        self.assertEqual(new.error_message, "Group gone not found.")


class ListGroupsTests(SynchronousTestCase):
    """
    ListGroups in every version.
    """

    def test_versions(self) -> None:
        """
        Each version lists the groups; states are filtered from version 4 and
        reported from it, types from version 5.
        """
        for version in range(6):
            with self.subTest(version=version):
                handlers = Groups(self)
                handlers.coordinator.answers["list_groups"] = (
                    0,
                    [ListedGroup("billing", "consumer", "Stable")],
                )
                fields: dict[str, Any] = {}
                if version >= 4:
                    fields["states_filter"] = ["Stable", "Empty"]
                if version >= 5:
                    fields["types_filter"] = ["classic"]
                response = handlers.call(LIST_GROUPS, version, **fields)
                self.assertEqual(
                    handlers.last("list_groups"),
                    {
                        "states": ("Stable", "Empty") if version >= 4 else (),
                        "types": ("classic",) if version >= 5 else (),
                    },
                )
                [group] = response.groups
                self.assertEqual(
                    (group.group_id, group.protocol_type), ("billing", "consumer")
                )
                if version >= 4:
                    self.assertEqual(group.group_state, "Stable")
                if version >= 5:
                    self.assertEqual(group.group_type, "classic")

    def test_error(self) -> None:
        """
        The coordinator's error (a partition still loading) is the response's.
        """
        handlers = Groups(self)
        handlers.coordinator.answers["list_groups"] = (14, [])
        response = handlers.call(LIST_GROUPS, 3)
        self.assertEqual(
            (response.error_code, response.groups),
            (ErrorCode.coordinator_load_in_progress, ()),
        )


class DeleteGroupsTests(SynchronousTestCase):
    """
    DeleteGroups in every version.
    """

    def test_versions(self) -> None:
        """
        Each group named is deleted once and answered with its error, in the
        request's order.
        """
        for version in range(3):
            with self.subTest(version=version):
                handlers = Groups(self)
                handlers.coordinator.answers["delete_groups"] = {
                    "b": GroupIdNotFoundError.code,
                    "a": 0,
                }
                response = handlers.call(
                    DELETE_GROUPS, version, groups_names=["b", "a", "b"]
                )
                self.assertEqual(
                    handlers.last("delete_groups"), {"group_ids": ["b", "a"]}
                )
                self.assertEqual(
                    [(r.group_id, r.error_code) for r in response.results],
                    [("b", ErrorCode.group_id_not_found), ("a", ErrorCode.none)],
                )
