"""
Tests for L{odradek.client.admin._recordrequests}: DeleteRecords, ListOffsets and
DescribeLogDirs in every version the client supports.
"""

from __future__ import annotations

import datetime
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from odradek.client import errors
from odradek.client.admin._recordrequests import (
    delete_records_request,
    describe_log_dirs_request,
    list_offsets_request,
    parse_delete_records,
    parse_describe_log_dirs,
    parse_list_offsets,
)
from odradek.client.admin.types import (
    DeletedRecords,
    ListOffsetsResultInfo,
    LogDirDescription,
    ReplicaInfo,
)
from odradek.client.protocol import ApiKey
from odradek.client.structs import TopicPartition
from odradek.client.test._admintools import entity, reply
from odradek.client.test._networktools import round_trip
from odradek.client.test.test_admin_requests import versions

A0 = TopicPartition("a", 0)
A1 = TopicPartition("a", 1)
B0 = TopicPartition("b", 0)


class DeleteRecordsTests(SynchronousTestCase):
    """
    DeleteRecords carries each partition's offset, grouped by topic.
    """

    def test_request_every_version(self) -> None:
        """Partitions are grouped by topic with their offsets and the timeout."""
        for version in versions(ApiKey.DELETE_RECORDS):
            request: Any = round_trip(
                delete_records_request(version, {A0: 5, B0: -1, A1: 7}, timeout_ms=300)
            )
            self.assertEqual(
                [
                    (t.name, [(p.partition_index, p.offset) for p in t.partitions])
                    for t in request.topics
                ],
                [("a", [(0, 5), (1, 7)]), ("b", [(0, -1)])],
            )
            self.assertEqual(request.timeout, datetime.timedelta(milliseconds=300))

    def test_parse(self) -> None:
        """Each partition's low watermark or error is read."""
        response = reply(
            ApiKey.DELETE_RECORDS,
            2,
            topics=(
                entity(
                    ApiKey.DELETE_RECORDS,
                    2,
                    "DeleteRecordsTopicResult",
                    name="a",
                    partitions=(
                        entity(
                            ApiKey.DELETE_RECORDS,
                            2,
                            "DeleteRecordsPartitionResult",
                            partition_index=0,
                            low_watermark=5,
                        ),
                        entity(
                            ApiKey.DELETE_RECORDS,
                            2,
                            "DeleteRecordsPartitionResult",
                            partition_index=1,
                            low_watermark=-1,
                            error_code=1,
                        ),
                    ),
                ),
            ),
        )
        parsed = parse_delete_records(response)
        self.assertEqual(parsed[A0], DeletedRecords(5))
        self.assertIsInstance(parsed[A1], errors.OffsetOutOfRangeError)


class ListOffsetsTests(SynchronousTestCase):
    """
    ListOffsets as a client sends it, and the offsets found.
    """

    def test_request_every_version(self) -> None:
        """Replica id -1, timestamps, isolation from v2, epoch -1 from v4."""
        for version in versions(ApiKey.LIST_OFFSETS):
            level = 1 if version >= 2 else 0
            request: Any = round_trip(
                list_offsets_request(
                    version,
                    {A0: -2, B0: 1700, A1: -1},
                    isolation_level=level,
                    timeout_ms=400,
                )
            )
            self.assertEqual(request.replica_id, -1)
            self.assertEqual(
                [
                    (t.name, [(p.partition_index, p.timestamp) for p in t.partitions])
                    for t in request.topics
                ],
                [("a", [(0, -2), (1, -1)]), ("b", [(0, 1700)])],
            )
            if version >= 2:
                self.assertEqual(request.isolation_level, 1)
            if version >= 4:
                self.assertEqual(
                    request.topics[0].partitions[0].current_leader_epoch, -1
                )
            if version >= 10:
                self.assertEqual(request.timeout, datetime.timedelta(milliseconds=400))

    def test_read_committed_in_version_1(self) -> None:
        """Version 1 cannot ask for read committed offsets."""
        self.assertRaises(
            errors.UnsupportedVersionError,
            list_offsets_request,
            1,
            {A0: -1},
            isolation_level=1,
            timeout_ms=1,
        )

    def _response(self, version: int) -> Any:
        extra = {"leader_epoch": 4} if version >= 4 else {}
        return reply(
            ApiKey.LIST_OFFSETS,
            version,
            topics=(
                entity(
                    ApiKey.LIST_OFFSETS,
                    version,
                    "ListOffsetsTopicResponse",
                    name="a",
                    partitions=(
                        entity(
                            ApiKey.LIST_OFFSETS,
                            version,
                            "ListOffsetsPartitionResponse",
                            partition_index=0,
                            offset=42,
                            timestamp=1700,
                            **extra,
                        ),
                        entity(
                            ApiKey.LIST_OFFSETS,
                            version,
                            "ListOffsetsPartitionResponse",
                            partition_index=1,
                            error_code=6,
                        ),
                    ),
                ),
            ),
        )

    def test_parse(self) -> None:
        """Offsets, timestamps and (from v4) leader epochs are read."""
        old = parse_list_offsets(self._response(1))
        self.assertEqual(old[A0], ListOffsetsResultInfo(42, 1700, None))
        self.assertIsInstance(old[A1], errors.NotLeaderOrFollowerError)
        new = parse_list_offsets(self._response(11))
        self.assertEqual(new[A0], ListOffsetsResultInfo(42, 1700, 4))


class DescribeLogDirsTests(SynchronousTestCase):
    """
    DescribeLogDirs asks for every directory and reads them.
    """

    def test_request_every_version(self) -> None:
        """Every version asks for all topics (null)."""
        for version in versions(ApiKey.DESCRIBE_LOG_DIRS):
            request: Any = round_trip(describe_log_dirs_request(version))
            self.assertIsNone(request.topics)

    def _response(self, version: int, **fields: object) -> Any:
        sizes = {"total_bytes": 1000, "usable_bytes": 400} if version >= 4 else {}
        return reply(
            ApiKey.DESCRIBE_LOG_DIRS,
            version,
            results=(
                entity(
                    ApiKey.DESCRIBE_LOG_DIRS,
                    version,
                    "DescribeLogDirsResult",
                    log_dir="/data",
                    topics=(
                        entity(
                            ApiKey.DESCRIBE_LOG_DIRS,
                            version,
                            "DescribeLogDirsTopic",
                            name="a",
                            partitions=(
                                entity(
                                    ApiKey.DESCRIBE_LOG_DIRS,
                                    version,
                                    "DescribeLogDirsPartition",
                                    partition_index=0,
                                    partition_size=100,
                                    offset_lag=2,
                                    is_future_key=True,
                                ),
                            ),
                        ),
                    ),
                    **sizes,
                ),
                entity(
                    ApiKey.DESCRIBE_LOG_DIRS,
                    version,
                    "DescribeLogDirsResult",
                    log_dir="/broken",
                    error_code=56,
                ),
            ),
            **fields,
        )

    def test_parse(self) -> None:
        """Directories, replicas, errors and (from v4) volume sizes are read."""
        old = parse_describe_log_dirs(self._response(1))
        self.assertEqual(
            old["/data"],
            LogDirDescription(None, {A0: ReplicaInfo(100, 2, True)}, None, None),
        )
        self.assertIsInstance(old["/broken"].error, errors.KafkaStorageError)
        new = parse_describe_log_dirs(self._response(5))
        self.assertEqual(
            (new["/data"].total_bytes, new["/data"].usable_bytes), (1000, 400)
        )

    def test_top_level_error(self) -> None:
        """Version 3's top-level error is raised."""
        self.assertRaises(
            errors.ClusterAuthorizationError,
            parse_describe_log_dirs,
            self._response(3, error_code=31),
        )
