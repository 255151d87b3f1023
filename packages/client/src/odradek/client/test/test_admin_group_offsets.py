"""
Tests for the committed-offset codecs of L{odradek.client.admin.groups}: OffsetFetch,
OffsetCommit and OffsetDelete in the admin's flavour.
"""

from __future__ import annotations

import datetime
from typing import Any

from kio.schema.errors import ErrorCode
from kio.static.protocol import ResponsePayload
from twisted.trial.unittest import SynchronousTestCase

from odradek.client import errors
from odradek.client.admin.groups import (
    offset_commit_request,
    offset_delete_request,
    offset_fetch_request,
    parse_offset_commit,
    parse_offset_delete,
    parse_offset_fetch,
)
from odradek.client.protocol import ApiKey, UnsupportedVersionError
from odradek.client.structs import OffsetAndMetadata, TopicPartition
from odradek.client.test._adminwiretools import entity as _entity
from odradek.client.test._adminwiretools import versions as _versions
from odradek.client.test._adminwiretools import wire_response as _response
from odradek.client.test._networktools import NO_THROTTLE, round_trip

TP0 = TopicPartition("orders", 0)
TP1 = TopicPartition("orders", 1)
TP2 = TopicPartition("audit", 0)


def _fetch_partition(version: int, index: int, offset: int, **more: Any) -> Any:
    name = (
        "OffsetFetchResponsePartitions"
        if version >= 8
        else "OffsetFetchResponsePartition"
    )
    fields: dict[str, object] = {
        "partition_index": index,
        "committed_offset": offset,
        "metadata": more.get("metadata", "meta"),
        "error_code": more.get("error", ErrorCode.none),
    }
    if version >= 5:
        fields["committed_leader_epoch"] = more.get("epoch", 4)
    return _entity(ApiKey.OFFSET_FETCH, version, name, **fields)


def _fetch_response(
    version: int,
    partitions: dict[str, tuple[Any, ...]],
    error: ErrorCode = ErrorCode.none,
    group_id: str = "billing",
) -> ResponsePayload:
    topic_name = (
        "OffsetFetchResponseTopics" if version >= 8 else "OffsetFetchResponseTopic"
    )
    topics = tuple(
        _entity(ApiKey.OFFSET_FETCH, version, topic_name, name=name, partitions=parts)
        for name, parts in partitions.items()
    )
    fields: dict[str, object] = {}
    if version >= 3:
        fields["throttle_time"] = NO_THROTTLE
    if version >= 8:
        fields["groups"] = (
            _entity(
                ApiKey.OFFSET_FETCH,
                version,
                "OffsetFetchResponseGroup",
                group_id=group_id,
                topics=topics,
                error_code=error,
            ),
        )
    else:
        fields["topics"] = topics
        if version >= 2:
            fields["error_code"] = error
    return _response(ApiKey.OFFSET_FETCH, version, **fields)


class OffsetFetchTests(SynchronousTestCase):
    """
    C{offset_fetch_request} and the admin's C{parse_offset_fetch}, from
    L{odradek.client.admin.groups}.
    """

    def test_request_every_version(self) -> None:
        """
        Versions 1 to 9 ask for the given partitions, or all of them from v2.
        """
        for version in _versions(ApiKey.OFFSET_FETCH, 9):
            with self.subTest(version=version):
                request: Any = round_trip(
                    offset_fetch_request(
                        version, group_id="billing", partitions=[TP0, TP2]
                    )
                )
                if version >= 8:
                    self.assertEqual(request.groups[0].group_id, "billing")
                    topics = request.groups[0].topics
                else:
                    self.assertEqual(request.group_id, "billing")
                    topics = request.topics
                self.assertEqual(
                    [(t.name, tuple(t.partition_indexes)) for t in topics],
                    [("orders", (0,)), ("audit", (0,))],
                )
                if version >= 2:
                    every: Any = round_trip(
                        offset_fetch_request(
                            version, group_id="billing", partitions=None
                        )
                    )
                    group = every.groups[0] if version >= 8 else every
                    self.assertIsNone(group.topics)

    def test_request_all_partitions_version_1(self) -> None:
        """
        Version 1 cannot ask for every partition.
        """
        self.assertRaises(
            UnsupportedVersionError,
            offset_fetch_request,
            1,
            group_id="billing",
            partitions=None,
        )

    def test_request_version_10(self) -> None:
        """
        Version 10 names topics by id and is not built.
        """
        self.assertRaises(
            UnsupportedVersionError,
            offset_fetch_request,
            10,
            group_id="billing",
            partitions=None,
        )

    def test_parse_every_version(self) -> None:
        """
        Offsets come with metadata and epoch (v5+); a negative one means None.
        """
        for version in _versions(ApiKey.OFFSET_FETCH, 9):
            with self.subTest(version=version):
                response = _fetch_response(
                    version,
                    {
                        "orders": (
                            _fetch_partition(version, 0, 42),
                            _fetch_partition(version, 1, -1, metadata=None, epoch=-1),
                        )
                    },
                )
                epoch = 4 if version >= 5 else None
                self.assertEqual(
                    parse_offset_fetch(response, "billing"),
                    {TP0: OffsetAndMetadata(42, "meta", epoch), TP1: None},
                )

    def test_partition_errors_skipped(self) -> None:
        """
        A partition answered with an error is left out, as Kafka's admin does.
        """
        response = _fetch_response(
            7,
            {
                "orders": (
                    _fetch_partition(7, 0, 42),
                    _fetch_partition(7, 1, -1, error=ErrorCode.unstable_offset_commit),
                )
            },
        )
        self.assertEqual(
            parse_offset_fetch(response, "billing"),
            {TP0: OffsetAndMetadata(42, "meta", 4)},
        )

    def test_group_error(self) -> None:
        """
        The group's error is raised, in the versions that carry one.
        """
        for version in _versions(ApiKey.OFFSET_FETCH, 9):
            if version < 2:
                continue
            with self.subTest(version=version):
                response = _fetch_response(
                    version, {}, error=ErrorCode.group_authorization_failed
                )
                self.assertRaises(
                    errors.GroupAuthorizationError,
                    parse_offset_fetch,
                    response,
                    "billing",
                )

    def test_group_error_version_1(self) -> None:
        """
        In v1 a coordinator error in a partition is the group's error.
        """
        unknown = _fetch_response(
            1,
            {
                "orders": (
                    _fetch_partition(
                        1, 0, -1, error=ErrorCode.unknown_topic_or_partition
                    ),
                )
            },
        )
        self.assertEqual(parse_offset_fetch(unknown, "billing"), {})
        moved = _fetch_response(
            1,
            {"orders": (_fetch_partition(1, 0, -1, error=ErrorCode.not_coordinator),)},
        )
        self.assertRaises(
            errors.NotCoordinatorError, parse_offset_fetch, moved, "billing"
        )

    def test_other_group_answered(self) -> None:
        """
        A v8 answer without the group asked for fails with a retriable error.
        """
        response = _fetch_response(8, {}, group_id="other")
        self.assertRaises(
            errors.CoordinatorNotAvailableError,
            parse_offset_fetch,
            response,
            "billing",
        )


class OffsetCommitTests(SynchronousTestCase):
    """
    The admin's C{offset_commit_request} and C{parse_offset_commit}, from
    L{odradek.client.admin.groups}.
    """

    offsets = {
        TP0: OffsetAndMetadata(10, "m", 3),
        TP2: OffsetAndMetadata(20),
    }

    def test_request_every_version(self) -> None:
        """
        Versions 2 to 9 commit with generation -1 and member id C{""}.
        """
        for version in _versions(ApiKey.OFFSET_COMMIT, 9):
            with self.subTest(version=version):
                request: Any = round_trip(
                    offset_commit_request(
                        version, group_id="billing", offsets=self.offsets
                    )
                )
                self.assertEqual(request.group_id, "billing")
                self.assertEqual(request.generation_id_or_member_epoch, -1)
                self.assertEqual(request.member_id, "")
                if version >= 7:
                    self.assertIsNone(request.group_instance_id)
                if version <= 4:
                    self.assertEqual(
                        request.retention_time, datetime.timedelta(milliseconds=-1)
                    )
                committed = {
                    TopicPartition(topic.name, int(p.partition_index)): (
                        int(p.committed_offset),
                        p.committed_metadata,
                        int(p.committed_leader_epoch) if version >= 6 else None,
                    )
                    for topic in request.topics
                    for p in topic.partitions
                }
                self.assertEqual(
                    committed,
                    {
                        TP0: (10, "m", 3 if version >= 6 else None),
                        TP2: (20, "", -1 if version >= 6 else None),
                    },
                )

    def test_request_version_10(self) -> None:
        """
        Version 10 names topics by id and is not built.
        """
        self.assertRaises(
            UnsupportedVersionError,
            offset_commit_request,
            10,
            group_id="billing",
            offsets=self.offsets,
        )

    def _commit_response(
        self, version: int, answers: dict[TopicPartition, ErrorCode]
    ) -> ResponsePayload:
        by_topic: dict[str, list[Any]] = {}
        for tp, code in answers.items():
            by_topic.setdefault(tp.topic, []).append(
                _entity(
                    ApiKey.OFFSET_COMMIT,
                    version,
                    "OffsetCommitResponsePartition",
                    partition_index=tp.partition,
                    error_code=code,
                )
            )
        fields: dict[str, object] = {
            "topics": tuple(
                _entity(
                    ApiKey.OFFSET_COMMIT,
                    version,
                    "OffsetCommitResponseTopic",
                    name=topic,
                    partitions=tuple(parts),
                )
                for topic, parts in by_topic.items()
            )
        }
        if version >= 3:
            fields["throttle_time"] = NO_THROTTLE
        return _response(ApiKey.OFFSET_COMMIT, version, **fields)

    def test_parse_every_version(self) -> None:
        """
        Each partition gets None or its exception; unanswered: UnknownServerError.
        """
        for version in _versions(ApiKey.OFFSET_COMMIT, 9):
            with self.subTest(version=version):
                response = self._commit_response(
                    version,
                    {TP0: ErrorCode.none, TP2: ErrorCode.unknown_member_id},
                )
                results = parse_offset_commit(response, [TP0, TP1, TP2])
                self.assertEqual(list(results), [TP0, TP1, TP2])
                self.assertIsNone(results[TP0])
                self.assertIsInstance(results[TP1], errors.UnknownServerError)
                self.assertIsInstance(results[TP2], errors.UnknownMemberIdError)

    def test_parse_coordinator_error(self) -> None:
        """
        A coordinator error reaches every partition as a retriable exception.
        """
        response = self._commit_response(
            8, {TP0: ErrorCode.not_coordinator, TP2: ErrorCode.not_coordinator}
        )
        results = parse_offset_commit(response, [TP0, TP2])
        for tp in (TP0, TP2):
            self.assertIsInstance(results[tp], errors.NotCoordinatorError)


class OffsetDeleteTests(SynchronousTestCase):
    """
    L{offset_delete_request} and L{parse_offset_delete}.
    """

    def test_request(self) -> None:
        """
        Version 0 carries the group and each partition once, by topic.
        """
        request: Any = round_trip(
            offset_delete_request(
                0, group_id="billing", partitions=[TP0, TP2, TP1, TP0]
            )
        )
        self.assertEqual(request.group_id, "billing")
        self.assertEqual(
            [
                (topic.name, [int(p.partition_index) for p in topic.partitions])
                for topic in request.topics
            ],
            [("orders", [0, 1]), ("audit", [0])],
        )
        self.assertRaises(
            UnsupportedVersionError,
            offset_delete_request,
            1,
            group_id="billing",
            partitions=[TP0],
        )

    def _delete_response(
        self, error: ErrorCode, answers: dict[TopicPartition, ErrorCode]
    ) -> ResponsePayload:
        by_topic: dict[str, list[Any]] = {}
        for tp, code in answers.items():
            by_topic.setdefault(tp.topic, []).append(
                _entity(
                    ApiKey.OFFSET_DELETE,
                    0,
                    "OffsetDeleteResponsePartition",
                    partition_index=tp.partition,
                    error_code=code,
                )
            )
        return _response(
            ApiKey.OFFSET_DELETE,
            0,
            error_code=error,
            throttle_time=NO_THROTTLE,
            topics=tuple(
                _entity(
                    ApiKey.OFFSET_DELETE,
                    0,
                    "OffsetDeleteResponseTopic",
                    name=topic,
                    partitions=tuple(parts),
                )
                for topic, parts in by_topic.items()
            ),
        )

    def test_parse_partitions(self) -> None:
        """
        Each partition gets None or its exception; unanswered: UnknownServerError.
        """
        response = self._delete_response(
            ErrorCode.none,
            {TP0: ErrorCode.none, TP1: ErrorCode.group_subscribed_to_topic},
        )
        results = parse_offset_delete(response, [TP0, TP1, TP2])
        self.assertEqual(list(results), [TP0, TP1, TP2])
        self.assertIsNone(results[TP0])
        self.assertIsInstance(results[TP1], errors.GroupSubscribedToTopicError)
        self.assertIsInstance(results[TP2], errors.UnknownServerError)

    def test_parse_group_error(self) -> None:
        """
        The group's error applies to every partition asked for.
        """
        response = self._delete_response(ErrorCode.non_empty_group, {})
        results = parse_offset_delete(response, [TP0, TP2])
        self.assertEqual(list(results), [TP0, TP2])
        for tp in (TP0, TP2):
            self.assertIsInstance(results[tp], errors.GroupNotEmptyError)
