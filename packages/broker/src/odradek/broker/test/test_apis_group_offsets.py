"""
Tests for L{odradek.broker.apis.group_offsets}: OffsetCommit, OffsetFetch and
OffsetDelete in every version against a fake coordinator, with the topics of a real
metadata store: what reaches the coordinator, what is answered before it (unknown
topics and partitions), and the responses of each version.
"""

from __future__ import annotations

import datetime
from typing import Any

from kio.schema.errors import ErrorCode
from twisted.internet.defer import Deferred, succeed
from twisted.trial.unittest import SynchronousTestCase

from odradek.broker.apis import group_offsets
from odradek.broker.coordinator.group.results import FetchedOffset, OffsetFetchResult
from odradek.broker.coordinator.group.values import CommittedOffset
from odradek.broker.test._brokertools import call_handler, round_trip
from odradek.broker.test._controltools import ControlPlane, build
from odradek.client.errors import (
    CoordinatorLoadInProgressError,
    GroupIdNotFoundError,
    GroupSubscribedToTopicError,
    NotCoordinatorError,
    OffsetMetadataTooLargeError,
    UnstableOffsetCommitError,
)
from odradek.client.protocol import ApiKey, VersionRange
from odradek.client.structs import TopicPartition

OFFSET_COMMIT, OFFSET_FETCH, OFFSET_DELETE = 8, 9, 47
P0, P1 = TopicPartition("orders", 0), TopicPartition("orders", 1)
A0 = TopicPartition("audit", 0)
MINUTE = datetime.timedelta(minutes=1)
UNKNOWN = ErrorCode.unknown_topic_or_partition


class FakeCoordinator:
    """
    Stands in for the group coordinator's offset methods: records each call and
    answers what the test set.

    @ivar calls: each call's method name and keyword arguments, in order.
    @ivar committed: the error code of each committed partition (0 if absent),
        or a Deferred of the whole answer.
    @ivar fetched: the answer of C{fetch_offsets} by group id.
    @ivar deleted: the answer of C{delete_offsets}.
    """

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.committed: dict[TopicPartition, int] | Deferred[Any] = {}
        self.fetched: dict[str, OffsetFetchResult] = {}
        self.deleted: tuple[int, dict[TopicPartition, int]] = (0, {})

    def commit_offsets(self, **arguments: Any) -> Deferred[Any]:
        self.calls.append(("commit_offsets", arguments))
        if isinstance(self.committed, Deferred):
            return self.committed
        codes = self.committed
        return succeed({tp: codes.get(tp, 0) for tp in arguments["offsets"]})

    def fetch_offsets(self, **arguments: Any) -> OffsetFetchResult:
        self.calls.append(("fetch_offsets", arguments))
        return self.fetched.get(arguments["group_id"], OffsetFetchResult(0))

    def delete_offsets(self, **arguments: Any) -> Deferred[Any]:
        self.calls.append(("delete_offsets", arguments))
        return succeed(self.deleted)


class Offsets:
    """
    The offset handlers with a fake coordinator, and a metadata store with the
    topics C{orders} (2 partitions) and C{audit} (1 partition).
    """

    def __init__(self, case: SynchronousTestCase) -> None:
        self.case = case
        self.coordinator = FakeCoordinator()
        self.plane = ControlPlane(
            case,
            register=[
                lambda p: group_offsets.register(
                    p.registry,
                    coordinator=self.coordinator,  # type: ignore[arg-type]
                    metadata=p.metadata,
                )
            ],
        )
        self.orders = self.plane.create_topic("orders", 2)
        self.audit = self.plane.create_topic("audit", 1)

    def pending(self, api_key: int, version: int, **fields: Any) -> Any:
        """
        @return: what the handler returned for a request built from C{fields}.
        """
        request = build(api_key, version, **fields)
        return call_handler(self.plane.registry, request, self.plane.clock)

    def call(self, api_key: int, version: int, **fields: Any) -> Any:
        """
        @return: the response to a request built from C{fields}, encoded and
            decoded again.
        """
        result = self.pending(api_key, version, **fields)
        if isinstance(result, Deferred):
            result = self.case.successResultOf(result)
        return round_trip(result)

    def calls(self, method: str) -> list[dict[str, Any]]:
        """
        @return: the arguments of each call of C{method}.
        """
        return [args for name, args in self.coordinator.calls if name == method]


def codes(response: Any) -> list[tuple[str, int, ErrorCode]]:
    """
    @return: each partition of an OffsetCommit or OffsetDelete response with its
        error.
    """
    return [
        (t.name, p.partition_index, p.error_code)
        for t in response.topics
        for p in t.partitions
    ]


def commit(version: int, topics: list[dict[str, Any]], **overrides: Any) -> Any:
    """
    @return: the fields of an OffsetCommit request of C{version}.
    """
    fields: dict[str, Any] = {
        "group_id": "billing",
        "generation_id_or_member_epoch": 5,
        "member_id": "m-1",
        "topics": topics,
    }
    if version <= 4:
        fields["retention_time"] = MINUTE
    if version >= 7:
        fields["group_instance_id"] = "static-1"
    fields.update(overrides)
    return fields


def partition(
    index: int, offset: int, metadata: str | None = "m", *, version: int = 8
) -> dict[str, Any]:
    """
    @return: one partition of an OffsetCommit request of C{version}, leader
        epoch 3 from version 6.
    """
    fields: dict[str, Any] = {
        "partition_index": index,
        "committed_offset": offset,
        "committed_metadata": metadata,
    }
    if version >= 6:
        fields["committed_leader_epoch"] = 3
    return fields


class RegisterTests(SynchronousTestCase):
    """
    L{group_offsets.register} adds the offset APIs.
    """

    def test_versions(self) -> None:
        """
        OffsetCommit 2 to 10, OffsetFetch 1 to 10 and OffsetDelete 0 are served.
        """
        registry = Offsets(self).plane.registry
        versions = {entry.api_key: entry.versions for entry in registry}
        self.assertEqual(
            (
                versions[ApiKey.OFFSET_COMMIT],
                versions[ApiKey.OFFSET_FETCH],
                versions[ApiKey.OFFSET_DELETE],
            ),
            (VersionRange(2, 10), VersionRange(1, 10), VersionRange(0, 0)),
        )


class OffsetCommitTests(SynchronousTestCase):
    """
    OffsetCommit in every version.
    """

    def test_versions(self) -> None:
        """
        Each version commits through the coordinator with the generation, member
        and offsets; the leader epoch from version 6, the static id from 7, the
        retention time in versions 2 to 4; each partition gets its error.
        """
        for version in range(2, 10):
            with self.subTest(version=version):
                offsets = Offsets(self)
                offsets.coordinator.committed = {P1: OffsetMetadataTooLargeError.code}
                topics = [
                    {
                        "name": "orders",
                        "partitions": [
                            partition(0, 10, version=version),
                            partition(1, 20, version=version),
                        ],
                    }
                ]
                response = offsets.call(
                    OFFSET_COMMIT, version, **commit(version, topics)
                )
                epoch = 3 if version >= 6 else -1
                self.assertEqual(
                    offsets.calls("commit_offsets"),
                    [
                        {
                            "group_id": "billing",
                            "generation_id": 5,
                            "member_id": "m-1",
                            "group_instance_id": "static-1" if version >= 7 else None,
                            "offsets": {
                                P0: CommittedOffset(10, epoch, "m"),
                                P1: CommittedOffset(20, epoch, "m"),
                            },
                            "retention_ms": 60000 if version <= 4 else -1,
                        }
                    ],
                )
                self.assertEqual(
                    codes(response),
                    [
                        ("orders", 0, ErrorCode.none),
                        ("orders", 1, ErrorCode.offset_metadata_too_large),
                    ],
                )

    def test_unknown_partitions(self) -> None:
        """
        Unknown topics and partitions get C{UNKNOWN_TOPIC_OR_PARTITION} and are
        not passed on; a null metadata is committed as C{""}.
        """
        offsets = Offsets(self)
        topics = [
            {"name": "orders", "partitions": [partition(0, 1, None), partition(2, 1)]},
            {"name": "missing", "partitions": [partition(0, 1)]},
        ]
        response = offsets.call(OFFSET_COMMIT, 8, **commit(8, topics))
        [call] = offsets.calls("commit_offsets")
        self.assertEqual(call["offsets"], {P0: CommittedOffset(1, 3, "")})
        self.assertEqual(
            codes(response),
            [
                ("orders", 0, ErrorCode.none),
                ("orders", 2, UNKNOWN),
                ("missing", 0, UNKNOWN),
            ],
        )

    def test_nothing_known(self) -> None:
        """
        When no partition is known the coordinator is not asked.
        """
        offsets = Offsets(self)
        topics = [{"name": "missing", "partitions": [partition(0, 1, version=2)]}]
        response = offsets.call(OFFSET_COMMIT, 2, **commit(2, topics))
        self.assertEqual(offsets.coordinator.calls, [])
        self.assertEqual(codes(response), [("missing", 0, UNKNOWN)])

    def test_default_retention(self) -> None:
        """
        The retention time -1 of versions 2 to 4 is passed as -1.
        """
        offsets = Offsets(self)
        topics = [{"name": "orders", "partitions": [partition(0, 1, version=3)]}]
        retention = datetime.timedelta(milliseconds=-1)
        offsets.call(OFFSET_COMMIT, 3, **commit(3, topics, retention_time=retention))
        [call] = offsets.calls("commit_offsets")
        self.assertEqual(call["retention_ms"], -1)

    def test_topic_ids(self) -> None:
        """
        Version 10 names topics by id; an unknown id gets C{UNKNOWN_TOPIC_ID}.
        """
        offsets = Offsets(self)
        unknown_id = offsets.orders.topic_id.__class__(int=7)
        topics = [
            {
                "topic_id": offsets.orders.topic_id,
                "partitions": [partition(1, 4, version=10)],
            },
            {"topic_id": unknown_id, "partitions": [partition(0, 4, version=10)]},
        ]
        response = offsets.call(OFFSET_COMMIT, 10, **commit(10, topics))
        [call] = offsets.calls("commit_offsets")
        self.assertEqual(call["offsets"], {P1: CommittedOffset(4, 3, "m")})
        self.assertEqual(
            [
                (t.topic_id, p.partition_index, p.error_code)
                for t in response.topics
                for p in t.partitions
            ],
            [
                (offsets.orders.topic_id, 1, ErrorCode.none),
                (unknown_id, 0, ErrorCode.unknown_topic_id),
            ],
        )

    def test_waits_for_write(self) -> None:
        """
        The response is sent once the coordinator's commit is written.
        """
        offsets = Offsets(self)
        written: Deferred[dict[TopicPartition, int]] = Deferred()
        offsets.coordinator.committed = written
        topics = [{"name": "orders", "partitions": [partition(0, 1)]}]
        result = offsets.pending(OFFSET_COMMIT, 8, **commit(8, topics))
        self.assertNoResult(result)
        written.callback({P0: NotCoordinatorError.code})
        response = round_trip(self.successResultOf(result))
        self.assertEqual(codes(response), [("orders", 0, ErrorCode.not_coordinator)])


FETCHED = OffsetFetchResult(
    0,
    {
        P0: FetchedOffset(10, 2, "m"),
        P1: FetchedOffset(error_code=UnstableOffsetCommitError.code),
        A0: FetchedOffset(7, -1, ""),
    },
)


def fetched(topics: Any) -> list[tuple[str, int, int, int, str | None, ErrorCode]]:
    """
    @return: each partition of an OffsetFetch response's topics.
    """
    return [
        (
            t.name,
            p.partition_index,
            p.committed_offset,
            getattr(p, "committed_leader_epoch", -1),
            p.metadata,
            p.error_code,
        )
        for t in topics
        for p in t.partitions
    ]


class OffsetFetchTests(SynchronousTestCase):
    """
    OffsetFetch in every version.
    """

    def test_one_group(self) -> None:
        """
        Versions 1 to 7 fetch one group's partitions, of any topic name, the
        leader epoch from version 5; C{require_stable} is passed from version 7.
        """
        for version in range(1, 8):
            with self.subTest(version=version):
                offsets = Offsets(self)
                offsets.coordinator.fetched["billing"] = FETCHED
                fields: dict[str, Any] = {
                    "group_id": "billing",
                    "topics": [
                        {"name": "orders", "partition_indexes": [1, 0, 5]},
                        {"name": "missing", "partition_indexes": [0]},
                    ],
                }
                if version >= 7:
                    fields["require_stable"] = True
                response = offsets.call(OFFSET_FETCH, version, **fields)
                self.assertEqual(
                    offsets.calls("fetch_offsets"),
                    [
                        {
                            "group_id": "billing",
                            "partitions": [
                                P1,
                                P0,
                                TopicPartition("orders", 5),
                                TopicPartition("missing", 0),
                            ],
                            "require_stable": version >= 7,
                        }
                    ],
                )
                epoch = 2 if version >= 5 else -1
                self.assertEqual(
                    fetched(response.topics),
                    [
                        ("orders", 1, -1, -1, "", ErrorCode.unstable_offset_commit),
                        ("orders", 0, 10, epoch, "m", ErrorCode.none),
                        ("orders", 5, -1, -1, "", ErrorCode.none),
                        ("missing", 0, -1, -1, "", ErrorCode.none),
                    ],
                )

    def test_all_partitions(self) -> None:
        """
        Null topics (version 2 on) fetch every committed offset, by topic name.
        """
        offsets = Offsets(self)
        offsets.coordinator.fetched["billing"] = FETCHED
        response = offsets.call(OFFSET_FETCH, 6, group_id="billing", topics=None)
        [call] = offsets.calls("fetch_offsets")
        self.assertIsNone(call["partitions"])
        self.assertEqual(
            fetched(response.topics),
            [
                ("audit", 0, 7, -1, "", ErrorCode.none),
                ("orders", 0, 10, 2, "m", ErrorCode.none),
                ("orders", 1, -1, -1, "", ErrorCode.unstable_offset_commit),
            ],
        )

    def test_group_error(self) -> None:
        """
        A group's error is the response's from version 2, with no topics; version
        1 has no such field and puts it on every partition asked for.
        """
        offsets = Offsets(self)
        offsets.coordinator.fetched["billing"] = OffsetFetchResult(
            CoordinatorLoadInProgressError.code
        )
        topics = [{"name": "orders", "partition_indexes": [0, 1]}]
        response = offsets.call(OFFSET_FETCH, 3, group_id="billing", topics=topics)
        self.assertEqual(
            (response.error_code, response.topics),
            (ErrorCode.coordinator_load_in_progress, ()),
        )
        response = offsets.call(OFFSET_FETCH, 1, group_id="billing", topics=topics)
        loading = ErrorCode.coordinator_load_in_progress
        self.assertEqual(
            fetched(response.topics),
            [("orders", 0, -1, -1, "", loading), ("orders", 1, -1, -1, "", loading)],
        )

    def test_several_groups(self) -> None:
        """
        Versions 8 and 9 fetch several groups, each answered with its error.
        """
        for version in (8, 9):
            with self.subTest(version=version):
                offsets = Offsets(self)
                offsets.coordinator.fetched["billing"] = FETCHED
                offsets.coordinator.fetched["other"] = OffsetFetchResult(
                    NotCoordinatorError.code
                )
                response = offsets.call(
                    OFFSET_FETCH,
                    version,
                    groups=[
                        {
                            "group_id": "billing",
                            "topics": [{"name": "audit", "partition_indexes": [0]}],
                        },
                        {"group_id": "other", "topics": None},
                    ],
                    require_stable=True,
                )
                self.assertEqual(
                    offsets.calls("fetch_offsets"),
                    [
                        {
                            "group_id": "billing",
                            "partitions": [A0],
                            "require_stable": True,
                        },
                        {
                            "group_id": "other",
                            "partitions": None,
                            "require_stable": True,
                        },
                    ],
                )
                billing, other = response.groups
                self.assertEqual(
                    (billing.group_id, billing.error_code), ("billing", ErrorCode.none)
                )
                self.assertEqual(
                    fetched(billing.topics), [("audit", 0, 7, -1, "", ErrorCode.none)]
                )
                self.assertEqual(
                    (other.group_id, other.error_code, other.topics),
                    ("other", ErrorCode.not_coordinator, ()),
                )

    def test_topic_ids(self) -> None:
        """
        Version 10 names topics by id: unknown ids get C{UNKNOWN_TOPIC_ID}, and
        fetching every offset leaves out topics that no longer exist.
        """
        offsets = Offsets(self)
        gone = TopicPartition("gone", 0)
        offsets.coordinator.fetched["billing"] = OffsetFetchResult(
            0, {**FETCHED.offsets, gone: FetchedOffset(1)}
        )
        unknown_id = offsets.orders.topic_id.__class__(int=7)
        response = offsets.call(
            OFFSET_FETCH,
            10,
            groups=[
                {
                    "group_id": "billing",
                    "topics": [
                        {"topic_id": offsets.audit.topic_id, "partition_indexes": [0]},
                        {"topic_id": unknown_id, "partition_indexes": [3]},
                    ],
                },
                {"group_id": "billing", "topics": None},
            ],
        )
        asked, every = response.groups
        self.assertEqual(
            [
                (t.topic_id, p.partition_index, p.committed_offset, p.error_code)
                for t in asked.topics
                for p in t.partitions
            ],
            [
                (offsets.audit.topic_id, 0, 7, ErrorCode.none),
                (unknown_id, 3, -1, ErrorCode.unknown_topic_id),
            ],
        )
        self.assertEqual(
            [(t.topic_id, len(t.partitions)) for t in every.topics],
            [(offsets.audit.topic_id, 1), (offsets.orders.topic_id, 2)],
        )
        self.assertEqual(offsets.calls("fetch_offsets")[0]["partitions"], [A0])


class OffsetDeleteTests(SynchronousTestCase):
    """
    OffsetDelete.
    """

    def test_partitions(self) -> None:
        """
        Known partitions are deleted through the coordinator, each answered with
        its error; unknown ones get C{UNKNOWN_TOPIC_OR_PARTITION}.
        """
        offsets = Offsets(self)
        offsets.coordinator.deleted = (0, {P0: GroupSubscribedToTopicError.code})
        response = offsets.call(
            OFFSET_DELETE,
            0,
            group_id="billing",
            topics=[
                {"name": "orders", "partitions": [{"partition_index": 0}]},
                {"name": "missing", "partitions": [{"partition_index": 0}]},
            ],
        )
        self.assertEqual(
            offsets.calls("delete_offsets"),
            [{"group_id": "billing", "partitions": [P0]}],
        )
        self.assertEqual(response.error_code, ErrorCode.none)
        self.assertEqual(
            codes(response),
            [
                ("orders", 0, ErrorCode.group_subscribed_to_topic),
                ("missing", 0, UNKNOWN),
            ],
        )

    def test_group_error(self) -> None:
        """
        A group's error is answered alone, with no topics.
        """
        offsets = Offsets(self)
        offsets.coordinator.deleted = (GroupIdNotFoundError.code, {})
        response = offsets.call(
            OFFSET_DELETE,
            0,
            group_id="billing",
            topics=[{"name": "orders", "partitions": [{"partition_index": 1}]}],
        )
        self.assertEqual(
            (response.error_code, response.topics),
            (ErrorCode.group_id_not_found, ()),
        )
