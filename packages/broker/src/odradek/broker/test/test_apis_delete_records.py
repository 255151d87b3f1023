"""
Tests for L{odradek.broker.apis.delete_records}: every version, offsets and the high
watermark, the low watermark answered, and Kafka's error codes.
"""

from __future__ import annotations

import datetime
from typing import Any

from kio.schema.errors import ErrorCode
from twisted.trial.unittest import SynchronousTestCase

from odradek.broker.apis import HandlerRegistry, delete_records
from odradek.broker.log import TopicPartition
from odradek.broker.replication import IsolationLevel, PartitionFetchInfo
from odradek.broker.test._brokertools import (
    BrokerFixture,
    call_handler,
    request_module,
    round_trip,
)
from odradek.broker.test._logtools import make_batch
from odradek.client.errors import OffsetOutOfRangeError
from odradek.client.protocol import ApiKey, VersionRange

P0 = TopicPartition("orders", 0)
P1 = TopicPartition("orders", 1)


def delete_records_request(
    version: int, partitions: list[tuple[TopicPartition, int]]
) -> Any:
    """
    @param partitions: each partition with its new log start offset.
    @return: a DeleteRecords request of C{version}.
    """
    schema = request_module(ApiKey.DELETE_RECORDS, version)
    topics: dict[str, list[Any]] = {}
    for tp, offset in partitions:
        topics.setdefault(tp.topic, []).append(
            schema.DeleteRecordsPartition(partition_index=tp.partition, offset=offset)
        )
    return schema.DeleteRecordsRequest(
        topics=tuple(
            schema.DeleteRecordsTopic(name=name, partitions=tuple(values))
            for name, values in topics.items()
        ),
        timeout=datetime.timedelta(seconds=30),
    )


class DeleteRecordsTests(SynchronousTestCase):
    """
    DeleteRecords moves log start offsets through the replica manager.
    """

    def setUp(self) -> None:
        self.broker = BrokerFixture(self)
        self.broker.create_topic("orders", 2)
        self.registry = HandlerRegistry()
        delete_records.register(
            self.registry, self.broker.replica_manager, config=self.broker.config
        )

    def append(self, tp: TopicPartition, count: int) -> None:
        appended = self.broker.replica_manager.append_records(
            timeout_ms=0, required_acks=1, entries={tp: make_batch(count)}
        )
        self.successResultOf(appended)

    def delete(
        self, partitions: list[tuple[TopicPartition, int]], version: int = 2
    ) -> list[Any]:
        """
        @return: the decoded partition results, in order.
        """
        request = delete_records_request(version, partitions)
        outcome = call_handler(self.registry, request, self.broker.clock)
        response = round_trip(self.successResultOf(outcome))
        return [p for topic in response.topics for p in topic.partitions]

    def test_registered(self) -> None:
        """
        Versions 0 to 2 are served.
        """
        entry = self.registry.get(ApiKey.DELETE_RECORDS)
        assert entry is not None
        self.assertEqual(entry.versions, VersionRange(0, 2))

    def test_every_version(self) -> None:
        """
        Every version moves the log start offset and answers the low watermark.
        """
        self.append(P0, 5)
        for version in range(3):
            with self.subTest(version=version):
                [result] = self.delete([(P0, version + 1)], version)
                self.assertEqual(result.error_code, ErrorCode.none)
                self.assertEqual(result.low_watermark, version + 1)
        self.assertEqual(self.broker.partition("orders").log_start_offset, 3)

    def test_high_watermark(self) -> None:
        """
        Offset -1 deletes up to the high watermark.
        """
        self.append(P0, 4)
        [result] = self.delete([(P0, -1)])
        self.assertEqual((result.error_code, result.low_watermark), (0, 4))

    def test_past_high_watermark(self) -> None:
        """
        An offset past the high watermark answers OFFSET_OUT_OF_RANGE alone.
        """
        self.append(P0, 2)
        self.append(P1, 2)
        past, fine = self.delete([(P0, 3), (P1, 2)])
        self.assertEqual(past.error_code, ErrorCode.offset_out_of_range)
        self.assertEqual(past.low_watermark, -1)
        self.assertEqual((fine.error_code, fine.low_watermark), (0, 2))
        self.assertEqual(self.broker.partition("orders").log_start_offset, 0)

    def test_unknown_partition(self) -> None:
        """
        Unknown topics and partitions answer C{UNKNOWN_TOPIC_OR_PARTITION}.
        """
        results = self.delete(
            [(TopicPartition("missing", 0), 0), (TopicPartition("orders", 2), 0)]
        )
        self.assertEqual(
            [r.error_code for r in results], [ErrorCode.unknown_topic_or_partition] * 2
        )

    def test_compacted(self) -> None:
        """
        A compacted topic answers C{POLICY_VIOLATION}.
        """
        self.broker.create_topic("table", 1, {"cleanup.policy": "compact"})
        [result] = self.delete([(TopicPartition("table", 0), 0)])
        self.assertEqual(result.error_code, ErrorCode.policy_violation)

    def test_fetch_after_delete(self) -> None:
        """
        Records before the new log start offset can no longer be fetched.
        """
        self.append(P0, 4)
        self.delete([(P0, 2)])
        fetched = self.broker.replica_manager.fetch_messages(
            replica_id=-1,
            max_wait_ms=0,
            min_bytes=1,
            max_bytes=1 << 20,
            isolation_level=IsolationLevel.READ_UNCOMMITTED,
            partitions=[PartitionFetchInfo(P0, 1, -1, 1 << 20)],
        )
        [result] = self.successResultOf(fetched)
        self.assertIsInstance(result.error, OffsetOutOfRangeError)
