"""
Tests for L{odradek.broker.coordinator.group.store}: groups and offsets written to
C{__consumer_offsets} through a real replica manager and read back, the append
errors mapped as Kafka maps them, and the rewrite that bounds a partition's size.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from twisted.internet.defer import Deferred
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from odradek.broker.coordinator.group.interfaces import IGroupStore
from odradek.broker.coordinator.group.placement import partition_for
from odradek.broker.coordinator.group.records import (
    GroupKey,
    OffsetKey,
    decode_key,
    group_key,
    group_value,
    offset_key,
    offset_value,
)
from odradek.broker.coordinator.group.store import OffsetsTopicStore
from odradek.broker.coordinator.group.values import (
    CommittedOffset,
    GroupSnapshot,
    LoadedPartition,
    MemberSnapshot,
)
from odradek.broker.log import TopicPartition as LogTopicPartition
from odradek.broker.metadata.topics import CONSUMER_OFFSETS_TOPIC
from odradek.broker.replication import AppendOrigin
from odradek.broker.test._brokertools import NODE_ID, BrokerFixture
from odradek.broker.test._logtools import START_MS
from odradek.client.errors import (
    KafkaError,
)
from odradek.client.records import (
    RecordBatchBuilder,
    RecordBatchReader,
    TimestampType,
)
from odradek.client.structs import TopicPartition

PARTITIONS = 3
ORDERS_0 = TopicPartition("orders", 0)
ORDERS_1 = TopicPartition("orders", 1)


def snapshot(group_id: str = "billing", generation_id: int = 3) -> GroupSnapshot:
    """
    @return: a stable consumer group with two members.
    """
    members = tuple(
        MemberSnapshot(
            member_id=f"consumer-{n}-0a1b",
            group_instance_id="static-1" if n == 1 else None,
            client_id=f"consumer-{n}",
            client_host="/127.0.0.1",
            rebalance_timeout_ms=300000,
            session_timeout_ms=45000,
            subscription=b"\x00\x01sub" + bytes([n]),
            assignment=b"\x00\x01asg" + bytes([n]),
        )
        for n in (1, 2)
    )
    return GroupSnapshot(
        group_id=group_id,
        protocol_type="consumer",
        generation_id=generation_id,
        protocol_name="range",
        leader_id=members[0].member_id,
        current_state_timestamp_ms=START_MS,
        members=members,
    )


def committed(offset: int, metadata: str = "") -> CommittedOffset:
    """
    @return: an offset committed at C{START_MS} without explicit expiry.
    """
    return CommittedOffset(
        offset=offset,
        leader_epoch=4,
        metadata=metadata,
        commit_timestamp_ms=START_MS,
    )


class StoreTestCase(SynchronousTestCase):
    """
    A broker with C{__consumer_offsets} of three partitions and a store over it.
    """

    properties: Mapping[str, str] = {}
    topic_configs: Mapping[str, str] = {}

    def setUp(self) -> None:
        self.broker = BrokerFixture(
            self, {"offsets.topic.num.partitions": str(PARTITIONS), **self.properties}
        )
        self.create_offsets_topic()
        self.store = OffsetsTopicStore(
            replica_manager=self.broker.replica_manager,
            config=self.broker.config,
            clock=self.broker.clock,
        )

    def create_offsets_topic(self) -> None:
        """
        Create C{__consumer_offsets} as the coordinator service does.
        """
        self.successResultOf(
            self.broker.metadata.create_topic(
                CONSUMER_OFFSETS_TOPIC,
                [[NODE_ID]] * PARTITIONS,
                {"cleanup.policy": "compact", **self.topic_configs},
                internal=True,
            )
        )

    def log(self, group_id: str = "billing") -> Any:
        """
        @return: the log of the group's partition.
        """
        return self.broker.partition(
            CONSUMER_OFFSETS_TOPIC, partition_for(group_id, PARTITIONS)
        ).log

    def load(self, group_id: str = "billing") -> LoadedPartition:
        """
        @return: what the group's partition holds.
        """
        return self.successResultOf(
            self.store.load(partition_for(group_id, PARTITIONS))
        )

    def batches(self, group_id: str = "billing") -> list[Any]:
        """
        @return: the record batches of the group's partition, in order.
        """
        log = self.log(group_id)
        offset, batches = log.log_start_offset, list[Any]()
        while offset < log.log_end_offset:
            data = log.read(offset, 10**8, None, True).records.read_bytes()
            batches.extend(RecordBatchReader(data))
            offset = batches[-1].next_offset
        return batches

    def append_raw(self, partition: int, batch: bytes) -> None:
        """
        Append a batch to a partition as the coordinator would.
        """
        tp = LogTopicPartition(CONSUMER_OFFSETS_TOPIC, partition)
        results = self.successResultOf(
            self.broker.replica_manager.append_records(
                timeout_ms=1000,
                required_acks=-1,
                entries={tp: batch},
                origin=AppendOrigin.COORDINATOR,
            )
        )
        self.assertIsNone(results[tp].error)

    def assertFailsWith(self, deferred: Deferred[Any], error: type[KafkaError]) -> None:
        """
        Assert that C{deferred} failed with exactly C{error}.
        """
        failure = self.failureResultOf(deferred)
        self.assertIs(type(failure.value), error)


class InterfaceTests(StoreTestCase):
    """
    The store is an L{IGroupStore}.
    """

    def test_provides(self) -> None:
        """
        L{OffsetsTopicStore} provides L{IGroupStore}.
        """
        self.assertTrue(verifyObject(IGroupStore, self.store))

    def test_settings(self) -> None:
        """
        The store reads its settings from the broker's configuration.
        """
        self.assertEqual(
            (
                self.store.partition_count,
                self.store.commit_timeout_ms,
                self.store.load_buffer_size,
            ),
            (PARTITIONS, 5000, 5242880),
        )

    def test_partition_of(self) -> None:
        """
        A group lives on the partition Kafka would choose.
        """
        self.assertEqual(
            self.store.partition_of("billing"), partition_for("billing", PARTITIONS)
        )


class WriteTests(StoreTestCase):
    """
    Writes are batches of Kafka's records on the group's partition.
    """

    def test_offsets_one_batch(self) -> None:
        """
        Offsets go in one CreateTime batch without producer id, keyed as Kafka
        keys them, stamped with the clock's time.
        """
        self.broker.clock.advance(5)
        stored = self.store.store_offsets(
            "billing", {ORDERS_0: committed(10, "m"), ORDERS_1: committed(20)}
        )
        self.assertIsNone(self.successResultOf(stored))
        [batch] = self.batches()
        self.assertEqual(
            (batch.producer_id, batch.timestamp_type, batch.is_control_batch),
            (-1, TimestampType.CREATE_TIME, False),
        )
        records = list(batch)
        self.assertEqual(
            [(r.key, r.value, r.timestamp) for r in records],
            [
                (
                    offset_key("billing", ORDERS_0),
                    offset_value(committed(10, "m")),
                    START_MS + 5000,
                ),
                (
                    offset_key("billing", ORDERS_1),
                    offset_value(committed(20)),
                    START_MS + 5000,
                ),
            ],
        )
        self.assertEqual(decode_key(records[0].key), OffsetKey("billing", ORDERS_0))

    def test_group(self) -> None:
        """
        A group's metadata is one record under its group key.
        """
        self.assertIsNone(self.successResultOf(self.store.store_group(snapshot())))
        [batch] = self.batches()
        [record] = list(batch)
        self.assertEqual(decode_key(record.key), GroupKey("billing"))
        self.assertEqual(record.value, group_value(snapshot()))

    def test_tombstones(self) -> None:
        """
        Removing offsets or a group writes records with null values.
        """
        self.successResultOf(self.store.remove_offsets("billing", [ORDERS_0, ORDERS_1]))
        self.successResultOf(self.store.remove_group("billing"))
        records = [r for batch in self.batches() for r in batch]
        self.assertEqual(
            [(r.key, r.value) for r in records],
            [
                (offset_key("billing", ORDERS_0), None),
                (offset_key("billing", ORDERS_1), None),
                (group_key("billing"), None),
            ],
        )

    def test_nothing_to_write(self) -> None:
        """
        No offsets means no write at all.
        """
        self.assertIsNone(self.successResultOf(self.store.store_offsets("billing", {})))
        self.assertIsNone(
            self.successResultOf(self.store.remove_offsets("billing", []))
        )
        self.assertEqual(self.log().log_end_offset, 0)

    def test_other_partitions_untouched(self) -> None:
        """
        A group's records go to its own partition only.
        """
        self.successResultOf(self.store.store_group(snapshot()))
        mine = partition_for("billing", PARTITIONS)
        ends = [
            self.broker.partition(CONSUMER_OFFSETS_TOPIC, p).log_end_offset
            for p in range(PARTITIONS)
        ]
        self.assertEqual(ends, [1 if p == mine else 0 for p in range(PARTITIONS)])


class LoadTests(StoreTestCase):
    """
    Loading reads a partition back from its log start offset.
    """

    def test_empty(self) -> None:
        """
        An empty partition loads as nothing.
        """
        self.assertEqual(
            self.load(), LoadedPartition(self.store.partition_of("billing"))
        )

    def test_round_trip(self) -> None:
        """
        What was written loads back equal, groups and offsets.
        """
        offsets = {
            ORDERS_0: committed(10, "meta"),
            ORDERS_1: CommittedOffset(7, -1, "", START_MS, START_MS + 1000),
        }
        self.successResultOf(self.store.store_group(snapshot()))
        self.successResultOf(self.store.store_offsets("billing", offsets))
        loaded = self.load()
        self.assertEqual(loaded.groups, {"billing": snapshot()})
        self.assertEqual(loaded.offsets, {"billing": offsets})

    def test_latest_wins(self) -> None:
        """
        A later value of a key replaces the earlier one.
        """
        self.successResultOf(self.store.store_group(snapshot(generation_id=1)))
        self.successResultOf(
            self.store.store_offsets("billing", {ORDERS_0: committed(1)})
        )
        self.successResultOf(self.store.store_group(snapshot(generation_id=2)))
        self.successResultOf(
            self.store.store_offsets("billing", {ORDERS_0: committed(2)})
        )
        loaded = self.load()
        self.assertEqual(loaded.groups["billing"].generation_id, 2)
        self.assertEqual(loaded.offsets, {"billing": {ORDERS_0: committed(2)}})

    def test_tombstones_delete(self) -> None:
        """
        Tombstones remove offsets and group metadata; a group left without offsets
        is left out of the offsets.
        """
        self.successResultOf(self.store.store_group(snapshot()))
        self.successResultOf(
            self.store.store_offsets(
                "billing", {ORDERS_0: committed(1), ORDERS_1: committed(2)}
            )
        )
        self.successResultOf(self.store.remove_offsets("billing", [ORDERS_0]))
        self.assertEqual(self.load().offsets, {"billing": {ORDERS_1: committed(2)}})
        self.successResultOf(self.store.remove_offsets("billing", [ORDERS_1]))
        self.successResultOf(self.store.remove_group("billing"))
        loaded = self.load()
        self.assertEqual((loaded.groups, loaded.offsets), ({}, {}))

    def test_offsets_without_group(self) -> None:
        """
        A group that only commits has offsets and no metadata.
        """
        self.successResultOf(
            self.store.store_offsets("billing", {ORDERS_0: committed(3)})
        )
        loaded = self.load()
        self.assertEqual(
            (loaded.groups, loaded.offsets), ({}, {"billing": {ORDERS_0: committed(3)}})
        )

    def test_several_groups(self) -> None:
        """
        Every group of a partition is loaded.
        """
        mine = partition_for("billing", PARTITIONS)
        others = [
            g
            for g in (f"group-{n}" for n in range(20))
            if partition_for(g, PARTITIONS) == mine
        ][:3]
        for group_id in ["billing", *others]:
            self.successResultOf(self.store.store_group(snapshot(group_id)))
        self.assertEqual(sorted(self.load().groups), sorted(["billing", *others]))

    def test_from_log_start(self) -> None:
        """
        Records below the log start offset are not read.
        """
        self.successResultOf(
            self.store.store_offsets("billing", {ORDERS_0: committed(1)})
        )
        self.successResultOf(
            self.store.store_offsets("billing", {ORDERS_1: committed(2)})
        )
        self.log().maybe_increment_log_start_offset(1)
        self.assertEqual(self.load().offsets, {"billing": {ORDERS_1: committed(2)}})

    def test_skips_unknown_and_corrupt(self) -> None:
        """
        Records with an unknown key version or a value that does not decode are
        skipped, and those after them still load.
        """
        partition = self.store.partition_of("billing")
        builder = RecordBatchBuilder()
        builder.append(START_MS, b"\x00\x09whatever", b"value")
        builder.append(START_MS, offset_key("billing", ORDERS_0), b"\x00")
        builder.append(
            START_MS, offset_key("billing", ORDERS_1), offset_value(committed(5))
        )
        self.append_raw(partition, builder.build())
        self.assertEqual(self.load().offsets, {"billing": {ORDERS_1: committed(5)}})
        self.assertEqual(len(self.flushLoggedErrors()), 0)


class SmallBufferTests(StoreTestCase):
    """
    Loading reads a partition a buffer at a time.
    """

    properties = {"offsets.load.buffer.size": "100"}

    def test_small_load_buffer(self) -> None:
        """
        Every record loads though the buffer holds less than a batch, and a batch
        larger than the buffer is read whole.
        """
        self.assertEqual(self.store.load_buffer_size, 100)
        expected = {}
        for n in range(30):
            tp = TopicPartition("orders", n)
            expected[tp] = committed(n, "x" * 50)
            self.successResultOf(
                self.store.store_offsets("billing", {tp: expected[tp]})
            )
        big = {TopicPartition("big", n): committed(n) for n in range(10)}
        self.successResultOf(self.store.store_offsets("billing", big))
        self.assertEqual(self.load().offsets, {"billing": {**expected, **big}})
