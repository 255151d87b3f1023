"""
Tests for L{odradek.broker.apis.list_offsets}: every version, the special
timestamps and the versions that allow them, lookups by time, replica ids and
isolation levels, and Kafka's error codes.
"""

from __future__ import annotations

from typing import Any

from kio.schema.errors import ErrorCode
from twisted.trial.unittest import SynchronousTestCase

from odradek.broker.apis import HandlerRegistry, list_offsets
from odradek.broker.log import TopicPartition
from odradek.broker.test._brokertools import (
    BrokerFixture,
    call_handler,
    entity,
    request_module,
    round_trip,
)
from odradek.broker.test._logtools import START_MS, make_batch
from odradek.client.protocol import ApiKey, VersionRange

P0 = TopicPartition("orders", 0)


def list_offsets_request(
    version: int,
    partitions: list[tuple[TopicPartition, int]],
    *,
    replica_id: int = -1,
    isolation_level: int = 0,
    current_leader_epoch: int = -1,
) -> Any:
    """
    @param partitions: each partition with the timestamp looked up.
    @return: a ListOffsets request of C{version}.
    """
    schema = request_module(ApiKey.LIST_OFFSETS, version)
    topics: dict[str, list[Any]] = {}
    for tp, timestamp in partitions:
        topics.setdefault(tp.topic, []).append(
            entity(
                schema.ListOffsetsPartition,
                partition_index=tp.partition,
                current_leader_epoch=current_leader_epoch,
                timestamp=timestamp,
            )
        )
    return entity(
        schema.ListOffsetsRequest,
        replica_id=replica_id,
        isolation_level=isolation_level,
        topics=tuple(
            schema.ListOffsetsTopic(name=name, partitions=tuple(values))
            for name, values in topics.items()
        ),
        timeout=0,
    )


class ListOffsetsTests(SynchronousTestCase):
    """
    ListOffsets looks offsets up through the replica manager.
    """

    def setUp(self) -> None:
        self.broker = BrokerFixture(self)
        self.broker.create_topic("orders", 3)
        self.registry = HandlerRegistry()
        list_offsets.register(
            self.registry, self.broker.replica_manager, config=self.broker.config
        )
        appended = self.broker.replica_manager.append_records(
            timeout_ms=0,
            required_acks=1,
            entries={
                P0: make_batch(3, timestamps=[START_MS, START_MS + 10, START_MS + 20])
            },
        )
        self.successResultOf(appended)

    def lookup(
        self, partitions: list[tuple[TopicPartition, int]], version: int = 9, **kw: Any
    ) -> list[Any]:
        """
        @return: the decoded partition responses, in order.
        """
        request = list_offsets_request(version, partitions, **kw)
        response = round_trip(call_handler(self.registry, request, self.broker.clock))
        return [p for topic in response.topics for p in topic.partitions]

    def test_registered(self) -> None:
        """
        Versions 1 to 10 are served.
        """
        entry = self.registry.get(ApiKey.LIST_OFFSETS)
        assert entry is not None
        self.assertEqual(entry.versions, VersionRange(1, 10))

    def test_every_version(self) -> None:
        """
        Every version answers earliest, latest and by time (epochs from v4).
        """
        for version in range(1, 11):
            with self.subTest(version=version):
                [earliest] = self.lookup([(P0, -2)], version)
                [latest] = self.lookup([(P0, -1)], version)
                [by_time] = self.lookup([(P0, START_MS + 5)], version)
                self.assertEqual((earliest.offset, earliest.timestamp), (0, -1))
                self.assertEqual((latest.offset, latest.timestamp), (3, -1))
                self.assertEqual(
                    (by_time.offset, by_time.timestamp), (1, START_MS + 10)
                )
                if version >= 4:
                    self.assertEqual(latest.leader_epoch, 0)
                    self.assertEqual(by_time.leader_epoch, 0)

    def test_special_timestamps(self) -> None:
        """
        Max timestamp, earliest local and latest tiered are answered.
        """
        max_timestamp, earliest_local, latest_tiered = self.lookup(
            [
                (P0, -3),
                (TopicPartition("orders", 1), -4),
                (TopicPartition("orders", 2), -5),
            ]
        )
        self.assertEqual(
            (max_timestamp.offset, max_timestamp.timestamp), (2, START_MS + 20)
        )
        self.assertEqual(earliest_local.offset, 0)
        self.assertEqual((latest_tiered.error_code, latest_tiered.offset), (0, -1))

    def test_special_timestamp_versions(self) -> None:
        """
        Too new or unknown special timestamps answer UNSUPPORTED_VERSION.
        """
        for timestamp, version in [(-3, 6), (-4, 7), (-5, 8), (-6, 10), (-7, 10)]:
            with self.subTest(timestamp=timestamp):
                [partition] = self.lookup([(P0, timestamp)], version)
                self.assertEqual(partition.error_code, ErrorCode.unsupported_version)
                self.assertEqual((partition.offset, partition.timestamp), (-1, -1))

    def test_not_found(self) -> None:
        """
        A time after every record answers offset -1 without error.
        """
        [partition] = self.lookup([(P0, START_MS + 100)])
        self.assertEqual(
            (partition.error_code, partition.offset, partition.timestamp), (0, -1, -1)
        )

    def test_duplicate_partition(self) -> None:
        """
        A partition listed twice answers C{INVALID_REQUEST} both times.
        """
        partitions = self.lookup(
            [(P0, -1), (P0, -2), (TopicPartition("orders", 1), -1)]
        )
        codes = [p.error_code for p in partitions]
        self.assertEqual(
            codes,
            [ErrorCode.invalid_request, ErrorCode.invalid_request, ErrorCode.none],
        )

    def test_unknown_partition(self) -> None:
        """
        An unknown partition answers C{UNKNOWN_TOPIC_OR_PARTITION}.
        """
        [partition] = self.lookup([(TopicPartition("missing", 0), -1)])
        self.assertEqual(partition.error_code, ErrorCode.unknown_topic_or_partition)

    def test_leader_epoch(self) -> None:
        """
        A request naming an old leader epoch is fenced.
        """
        self.successResultOf(
            self.broker.metadata.alter_partition_state("orders", 0, leader=1, isr=[1])
        )
        self.successResultOf(
            self.broker.metadata.alter_partition_state("orders", 0, leader=-1, isr=[1])
        )
        self.successResultOf(
            self.broker.metadata.alter_partition_state("orders", 0, leader=1, isr=[1])
        )
        [partition] = self.lookup([(P0, -1)], current_leader_epoch=0)
        self.assertEqual(partition.error_code, ErrorCode.fenced_leader_epoch)
        [partition] = self.lookup([(P0, -1)], current_leader_epoch=2)
        self.assertEqual((partition.error_code, partition.leader_epoch), (0, 2))

    def test_not_leader(self) -> None:
        """
        A non-leader answers NOT_LEADER_OR_FOLLOWER except to a debugging client.
        """
        self.successResultOf(
            self.broker.metadata.alter_partition_state("orders", 0, leader=-1, isr=[1])
        )
        [partition] = self.lookup([(P0, -1)])
        self.assertEqual(partition.error_code, ErrorCode.not_leader_or_follower)
        [partition] = self.lookup([(P0, -1)], replica_id=-2)
        self.assertEqual((partition.error_code, partition.offset), (0, 3))

    def test_offset_not_available_before_version_5(self) -> None:
        """
        C{OFFSET_NOT_AVAILABLE} becomes C{LEADER_NOT_AVAILABLE} before version 5.
        """
        partition = self.broker.partition("orders")
        partition.log.high_watermark = 1
        partition._leader_epoch_start_offset = 3
        [v4] = self.lookup([(P0, -1)], 4)
        [v5] = self.lookup([(P0, -1)], 5)
        self.assertEqual(v4.error_code, ErrorCode.leader_not_available)
        self.assertEqual(v5.error_code, ErrorCode.offset_not_available)

    def test_isolation_level(self) -> None:
        """
        Consumers see the high watermark, replicas the log end offset.
        """
        partition = self.broker.partition("orders")
        partition.log.high_watermark = 2
        [committed] = self.lookup([(P0, -1)], isolation_level=1)
        [replica] = self.lookup([(P0, -1)], replica_id=1)
        self.assertEqual((committed.offset, replica.offset), (2, 3))
        [invalid] = self.lookup([(P0, -1)], isolation_level=3)
        self.assertEqual(invalid.error_code, ErrorCode.invalid_request)
