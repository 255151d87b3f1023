"""
Tests for L{odradek.client.network.group_requests}.
"""

from __future__ import annotations

import datetime
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from odradek.client import errors
from odradek.client.network import group_requests as gr
from odradek.client.network.cluster import Node
from odradek.client.network.requests import client_version_range
from odradek.client.protocol import ApiKey, UnsupportedVersionError, decode_response
from odradek.client.structs import OffsetAndMetadata, TopicPartition
from odradek.client.test._grouptools import group_response
from odradek.client.test._networktools import response_frame, round_trip

T0 = TopicPartition("orders", 0)
T1 = TopicPartition("orders", 1)
A0 = TopicPartition("audit", 0)


def versions(api_key: ApiKey) -> range:
    """@return: every version of an API this client builds."""
    allowed = client_version_range(api_key)
    top = min(allowed.max_version, gr.GROUP_MAX_VERSIONS.get(api_key, 99))
    return range(allowed.min_version, top + 1)


def answer(api_key: ApiKey, version: int, **fields: Any) -> Any:
    """@return: a response as a client decodes it off the wire."""
    response = group_response(api_key, version, **fields)
    _, decoded = decode_response(response_frame(3, response)[4:], api_key, version)
    return decoded


def join(version: int, **overrides: Any) -> Any:
    """@return: a JoinGroup request of C{version}, round-tripped."""
    fields: dict[str, Any] = {
        "group_id": "billing",
        "session_timeout_ms": 10000,
        "rebalance_timeout_ms": 300000,
        "member_id": "m-1",
        "group_instance_id": None,
        "protocol_type": "consumer",
        "protocols": [("range", b"r"), ("roundrobin", b"rr")],
    }
    fields.update(overrides)
    return round_trip(gr.join_group_request(version, **fields))


class VersionTests(SynchronousTestCase):
    """
    Every version of every group API within the client's range is built.
    """

    def test_caps(self) -> None:
        """OffsetCommit and OffsetFetch stop at version 9: 10 names topic ids."""
        for api_key in (ApiKey.OFFSET_COMMIT, ApiKey.OFFSET_FETCH):
            with self.assertRaises(UnsupportedVersionError):
                gr.offset_fetch_request(10, group_id="g", partitions=[T0])
            with self.assertRaises(UnsupportedVersionError):
                gr.offset_commit_request(
                    10,
                    group_id="g",
                    generation_id=1,
                    member_id="m",
                    group_instance_id=None,
                    offsets={T0: OffsetAndMetadata(1)},
                )
            self.assertEqual(gr.GROUP_MAX_VERSIONS[api_key], 9)

    def test_group_request_version(self) -> None:
        """The connection's version is used, capped where the client stops."""

        class Connection:
            def version_for(self, api_key: ApiKey) -> int:
                return 10

        self.assertEqual(gr.group_request_version(Connection(), ApiKey.OFFSET_FETCH), 9)
        self.assertEqual(gr.group_request_version(Connection(), ApiKey.HEARTBEAT), 10)

    def test_every_version_encodes(self) -> None:
        """Each builder makes a request that encodes and decodes in each version."""
        offsets = {T0: OffsetAndMetadata(5, "m", 3)}
        built = 0
        for version in versions(ApiKey.FIND_COORDINATOR):
            round_trip(gr.find_coordinator_request(version, "g"))
            built += 1
        for version in versions(ApiKey.JOIN_GROUP):
            join(version)
            built += 1
        for version in versions(ApiKey.SYNC_GROUP):
            round_trip(
                gr.sync_group_request(
                    version,
                    group_id="g",
                    generation_id=1,
                    member_id="m",
                    group_instance_id=None,
                    protocol_type="consumer",
                    protocol_name="range",
                    assignments={"m": b"a"},
                )
            )
            built += 1
        for version in versions(ApiKey.HEARTBEAT):
            round_trip(
                gr.heartbeat_request(
                    version,
                    group_id="g",
                    generation_id=1,
                    member_id="m",
                    group_instance_id=None,
                )
            )
            built += 1
        for version in versions(ApiKey.LEAVE_GROUP):
            round_trip(
                gr.leave_group_request(
                    version, group_id="g", member_id="m", group_instance_id=None
                )
            )
            built += 1
        for version in versions(ApiKey.OFFSET_COMMIT):
            round_trip(
                gr.offset_commit_request(
                    version,
                    group_id="g",
                    generation_id=1,
                    member_id="m",
                    group_instance_id=None,
                    offsets=offsets,
                )
            )
            built += 1
        for version in versions(ApiKey.OFFSET_FETCH):
            round_trip(gr.offset_fetch_request(version, group_id="g", partitions=[T0]))
            built += 1
        self.assertEqual(built, 7 + 10 + 6 + 5 + 6 + 8 + 9)


class FindCoordinatorTests(SynchronousTestCase):
    """
    FindCoordinator requests and answers.
    """

    def test_layouts(self) -> None:
        """Version 0 has the key, 1 to 3 add the key type, 4 and up list keys."""
        v0: Any = round_trip(gr.find_coordinator_request(0, "g"))
        self.assertEqual(v0.key, "g")
        v3: Any = round_trip(gr.find_coordinator_request(3, "tx", 1))
        self.assertEqual((v3.key, v3.key_type), ("tx", 1))
        v4: Any = round_trip(gr.find_coordinator_request(4, "g"))
        self.assertEqual((v4.coordinator_keys, v4.key_type), (("g",), 0))

    def test_version_0_groups_only(self) -> None:
        """Version 0 cannot find a transaction coordinator."""
        with self.assertRaises(UnsupportedVersionError):
            gr.find_coordinator_request(0, "tx", gr.COORDINATOR_KEY_TRANSACTION)

    def test_parse(self) -> None:
        """The answer of any version gives the coordinator's node."""
        fields = {"node_id": 2, "host": "b2", "port": 9093}
        node = Node(2, "b2", 9093)
        for version in (0, 3):
            self.assertEqual(
                gr.parse_find_coordinator(
                    answer(ApiKey.FIND_COORDINATOR, version, **fields), "g"
                ),
                node,
            )
        response = answer(
            ApiKey.FIND_COORDINATOR,
            6,
            coordinators=[{"key": "other", "node_id": 1}, {"key": "g", **fields}],
        )
        self.assertEqual(gr.parse_find_coordinator(response, "g"), node)

    def test_error_with_message(self) -> None:
        """An error is raised with the broker's message (version 1 and up)."""
        response = answer(
            ApiKey.FIND_COORDINATOR,
            2,
            error_code=15,
            error_message="loading",
        )
        error = self.assertRaises(
            errors.CoordinatorNotAvailableError,
            gr.parse_find_coordinator,
            response,
            "g",
        )
        self.assertEqual(error.message, "loading")
        response = answer(
            ApiKey.FIND_COORDINATOR,
            4,
            coordinators=[{"key": "g", "error_code": 30, "error_message": "denied"}],
        )
        error = self.assertRaises(
            errors.GroupAuthorizationError, gr.parse_find_coordinator, response, "g"
        )
        self.assertEqual(error.message, "denied")

    def test_key_missing(self) -> None:
        """A version 4 answer that does not name the key is a retriable error."""
        response = answer(ApiKey.FIND_COORDINATOR, 4, coordinators=[])
        error = self.assertRaises(
            errors.CoordinatorNotAvailableError,
            gr.parse_find_coordinator,
            response,
            "g",
        )
        self.assertTrue(error.retriable)

    def test_wrong_response(self) -> None:
        """A response of another API is refused."""
        with self.assertRaises(TypeError):
            gr.parse_find_coordinator(answer(ApiKey.HEARTBEAT, 0), "g")


class JoinGroupTests(SynchronousTestCase):
    """
    JoinGroup requests and answers.
    """

    def test_fields_by_version(self) -> None:
        """Rebalance timeout from 1, instance id from 5, reason from 8."""
        v0 = join(0, reason="why")
        self.assertEqual(v0.session_timeout, datetime.timedelta(seconds=10))
        self.assertFalse(hasattr(v0, "rebalance_timeout"))
        v1 = join(1)
        self.assertEqual(v1.rebalance_timeout, datetime.timedelta(seconds=300))
        self.assertEqual([p.name for p in v1.protocols], ["range", "roundrobin"])
        self.assertEqual(join(5, group_instance_id="i-1").group_instance_id, "i-1")
        self.assertFalse(hasattr(join(7, reason="why"), "reason"))
        self.assertEqual(join(8, reason="x" * 300).reason, "x" * gr.MAX_REASON_LENGTH)

    def test_static_needs_version_5(self) -> None:
        """A group instance id cannot be sent before version 5."""
        with self.assertRaises(UnsupportedVersionError):
            join(4, group_instance_id="i-1")

    def test_parse_leader(self) -> None:
        """The leader's answer lists every member with its metadata."""
        response = answer(
            ApiKey.JOIN_GROUP,
            9,
            generation_id=4,
            protocol_type="consumer",
            protocol_name="range",
            leader="m-1",
            member_id="m-1",
            skip_assignment=True,
            members=[
                {"member_id": "m-1", "group_instance_id": "i-1", "metadata": b"a"},
                {"member_id": "m-2", "metadata": b"b"},
            ],
        )
        data = gr.parse_join_group(response)
        self.assertEqual(
            data,
            gr.JoinGroupResponseData(
                error=None,
                generation_id=4,
                protocol_name="range",
                leader="m-1",
                member_id="m-1",
                members=(
                    gr.JoinedMember("m-1", "i-1", b"a"),
                    gr.JoinedMember("m-2", None, b"b"),
                ),
                skip_assignment=True,
                protocol_type="consumer",
            ),
        )
        self.assertTrue(data.is_leader)

    def test_parse_old_follower(self) -> None:
        """Version 0 has no protocol type, instance ids or skip flag."""
        response = answer(
            ApiKey.JOIN_GROUP,
            0,
            generation_id=1,
            protocol_name="range",
            leader="m-1",
            member_id="m-2",
        )
        data = gr.parse_join_group(response)
        self.assertEqual(
            (data.protocol_type, data.skip_assignment, data.members, data.is_leader),
            (None, False, (), False),
        )

    def test_error_not_raised(self) -> None:
        """An error comes back as an object, with the member id given."""
        response = answer(
            ApiKey.JOIN_GROUP, 4, error_code=79, generation_id=-1, member_id="new"
        )
        data = gr.parse_join_group(response)
        self.assertIsInstance(data.error, errors.MemberIdRequiredError)
        self.assertEqual((data.member_id, data.protocol_name), ("new", None))


class SyncHeartbeatLeaveTests(SynchronousTestCase):
    """
    SyncGroup, Heartbeat and LeaveGroup requests and answers.
    """

    def sync(self, version: int, **overrides: Any) -> Any:
        fields: dict[str, Any] = {
            "group_id": "g",
            "generation_id": 3,
            "member_id": "m",
            "group_instance_id": None,
            "protocol_type": "consumer",
            "protocol_name": "range",
            "assignments": {"m": b"a", "n": b"b"},
        }
        fields.update(overrides)
        return round_trip(gr.sync_group_request(version, **fields))

    def test_sync_fields(self) -> None:
        """Assignments per member; instance id from 3; protocol from 5."""
        v0 = self.sync(0)
        self.assertEqual(
            [(a.member_id, a.assignment) for a in v0.assignments],
            [("m", b"a"), ("n", b"b")],
        )
        self.assertEqual(self.sync(3, group_instance_id="i").group_instance_id, "i")
        v5 = self.sync(5)
        self.assertEqual((v5.protocol_type, v5.protocol_name), ("consumer", "range"))
        with self.assertRaises(UnsupportedVersionError):
            self.sync(2, group_instance_id="i")

    def test_parse_sync(self) -> None:
        """The assignment is returned; errors and other protocols raise."""
        ok = answer(ApiKey.SYNC_GROUP, 5, protocol_name="range", assignment=b"x")
        self.assertEqual(gr.parse_sync_group(ok, "consumer", "range"), b"x")
        self.assertEqual(
            gr.parse_sync_group(answer(ApiKey.SYNC_GROUP, 0, assignment=b"y")), b"y"
        )
        with self.assertRaises(errors.RebalanceInProgressError):
            gr.parse_sync_group(answer(ApiKey.SYNC_GROUP, 3, error_code=27))
        with self.assertRaises(errors.InconsistentGroupProtocolError):
            gr.parse_sync_group(ok, "consumer", "roundrobin")

    def test_heartbeat(self) -> None:
        """Instance id from version 3; errors raise."""
        request: Any = round_trip(
            gr.heartbeat_request(
                4, group_id="g", generation_id=2, member_id="m", group_instance_id="i"
            )
        )
        self.assertEqual(
            (request.generation_id, request.member_id, request.group_instance_id),
            (2, "m", "i"),
        )
        with self.assertRaises(UnsupportedVersionError):
            gr.heartbeat_request(
                2, group_id="g", generation_id=2, member_id="m", group_instance_id="i"
            )
        gr.parse_heartbeat(answer(ApiKey.HEARTBEAT, 0))
        with self.assertRaises(errors.IllegalGenerationError):
            gr.parse_heartbeat(answer(ApiKey.HEARTBEAT, 4, error_code=22))

    def test_leave_layouts(self) -> None:
        """A member id before version 3, a list of members after, reasons in 5."""
        v2: Any = round_trip(
            gr.leave_group_request(
                2, group_id="g", member_id="m", group_instance_id="i"
            )
        )
        self.assertEqual(v2.member_id, "m")
        v3: Any = round_trip(
            gr.leave_group_request(
                3, group_id="g", member_id="m", group_instance_id="i", reason="bye"
            )
        )
        self.assertEqual(
            [(m.member_id, m.group_instance_id) for m in v3.members], [("m", "i")]
        )
        v5: Any = round_trip(
            gr.leave_group_request(
                5, group_id="g", member_id="m", group_instance_id=None, reason="bye"
            )
        )
        self.assertEqual(v5.members[0].reason, "bye")

    def test_parse_leave(self) -> None:
        """Group-level and member-level errors raise."""
        gr.parse_leave_group(answer(ApiKey.LEAVE_GROUP, 1))
        with self.assertRaises(errors.UnknownMemberIdError):
            gr.parse_leave_group(answer(ApiKey.LEAVE_GROUP, 0, error_code=25))
        response = answer(
            ApiKey.LEAVE_GROUP, 5, members=[{"member_id": "m", "error_code": 82}]
        )
        with self.assertRaises(errors.FencedInstanceIdError):
            gr.parse_leave_group(response)


class OffsetTests(SynchronousTestCase):
    """
    OffsetCommit and OffsetFetch requests and answers.
    """

    def commit(self, version: int, instance: str | None = None) -> Any:
        return round_trip(
            gr.offset_commit_request(
                version,
                group_id="g",
                generation_id=4,
                member_id="m",
                group_instance_id=instance,
                offsets={
                    T0: OffsetAndMetadata(10, "a", 2),
                    A0: OffsetAndMetadata(3),
                    T1: OffsetAndMetadata(11),
                },
            )
        )

    def test_commit_layout(self) -> None:
        """Partitions go under their topic; epochs from 6; instance id from 7."""
        v2 = self.commit(2)
        self.assertEqual(v2.retention_time, datetime.timedelta(milliseconds=-1))
        self.assertEqual(
            [
                (
                    t.name,
                    [(p.partition_index, p.committed_offset) for p in t.partitions],
                )
                for t in v2.topics
            ],
            [("orders", [(0, 10), (1, 11)]), ("audit", [(0, 3)])],
        )
        self.assertEqual((v2.generation_id_or_member_epoch, v2.member_id), (4, "m"))
        v6 = self.commit(6)
        self.assertEqual(
            [p.committed_leader_epoch for p in v6.topics[0].partitions], [2, -1]
        )
        self.assertEqual(v6.topics[0].partitions[0].committed_metadata, "a")
        self.assertEqual(self.commit(9, "i").group_instance_id, "i")
        with self.assertRaises(UnsupportedVersionError):
            self.commit(6, "i")

    def test_parse_commit(self) -> None:
        """Each partition maps to None or its error."""
        response = answer(
            ApiKey.OFFSET_COMMIT,
            8,
            topics=[
                {
                    "name": "orders",
                    "partitions": [
                        {"partition_index": 0},
                        {"partition_index": 1, "error_code": 12},
                    ],
                }
            ],
        )
        result = gr.parse_offset_commit(response)
        self.assertIsNone(result[T0])
        self.assertIsInstance(result[T1], errors.OffsetMetadataTooLargeError)

    def test_fetch_layout(self) -> None:
        """Topics by name; null for all from 2; require_stable 7; groups 8."""
        v1: Any = round_trip(
            gr.offset_fetch_request(1, group_id="g", partitions=[T0, T1, A0])
        )
        self.assertEqual(
            [(t.name, t.partition_indexes) for t in v1.topics],
            [("orders", (0, 1)), ("audit", (0,))],
        )
        with self.assertRaises(UnsupportedVersionError):
            gr.offset_fetch_request(1, group_id="g", partitions=None)
        v2: Any = round_trip(gr.offset_fetch_request(2, group_id="g", partitions=None))
        self.assertIsNone(v2.topics)
        v7: Any = round_trip(
            gr.offset_fetch_request(
                7, group_id="g", partitions=[T0], require_stable=True
            )
        )
        self.assertTrue(v7.require_stable)
        v9: Any = round_trip(
            gr.offset_fetch_request(
                9, group_id="g", partitions=None, require_stable=True
            )
        )
        self.assertEqual([(g.group_id, g.topics) for g in v9.groups], [("g", None)])
        self.assertTrue(v9.require_stable)

    def partitions(self, **extra: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": "orders",
                "partitions": [
                    {
                        "partition_index": 0,
                        "committed_offset": 10,
                        "committed_leader_epoch": 2,
                        "metadata": "a",
                    },
                    {"partition_index": 1, "committed_offset": -1, **extra},
                ],
            }
        ]

    def test_parse_fetch(self) -> None:
        """Offsets with metadata and epochs (from 5); -1 means none."""
        expected = {T0: OffsetAndMetadata(10, "a", 2), T1: None}
        for version in (5, 7):
            response = answer(ApiKey.OFFSET_FETCH, version, topics=self.partitions())
            self.assertEqual(gr.parse_offset_fetch(response, "g"), expected)
        response = answer(
            ApiKey.OFFSET_FETCH,
            9,
            groups=[{"group_id": "g", "topics": self.partitions()}],
        )
        self.assertEqual(gr.parse_offset_fetch(response, "g"), expected)
        response = answer(ApiKey.OFFSET_FETCH, 4, topics=self.partitions())
        self.assertEqual(
            gr.parse_offset_fetch(response, "g")[T0], OffsetAndMetadata(10, "a")
        )

    def test_fetch_errors(self) -> None:
        """Group errors and partition errors raise; unstable offsets are retriable."""
        with self.assertRaises(errors.NotCoordinatorError):
            gr.parse_offset_fetch(answer(ApiKey.OFFSET_FETCH, 3, error_code=16), "g")
        response = answer(
            ApiKey.OFFSET_FETCH, 8, groups=[{"group_id": "g", "error_code": 30}]
        )
        with self.assertRaises(errors.GroupAuthorizationError):
            gr.parse_offset_fetch(response, "g")
        with self.assertRaises(errors.CoordinatorNotAvailableError):
            gr.parse_offset_fetch(response, "other")
        response = answer(ApiKey.OFFSET_FETCH, 7, topics=self.partitions(error_code=88))
        error = self.assertRaises(
            errors.UnstableOffsetCommitError, gr.parse_offset_fetch, response, "g"
        )
        self.assertTrue(error.retriable)
