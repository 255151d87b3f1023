"""
Tests for the admin core's calls about partitions' logs
(L{odradek.client.admin._recordcalls}): DeleteRecords and ListOffsets to each
partition's leader, DescribeLogDirs to each broker.
"""

from __future__ import annotations

from typing import Any

import attrs

from odradek.client import errors
from odradek.client.admin.types import (
    DeletedRecords,
    ListOffsetsResultInfo,
    OffsetSpec,
    ReplicaInfo,
)
from odradek.client.protocol import ApiKey
from odradek.client.structs import TopicPartition
from odradek.client.test._admintools import (
    ADMIN_RANGES,
    AdminHandler,
    AdminTestCase,
    entity,
    partitions,
    reply,
)

O0 = TopicPartition("orders", 0)
O1 = TopicPartition("orders", 1)
O2 = TopicPartition("orders", 2)


def deleting(codes: dict[TopicPartition, list[int]] | None = None) -> AdminHandler:
    """
    @return: a DeleteRecords handler answering each partition's next scripted
        code, or its offset as the new low watermark.
    """
    scripted = codes if codes is not None else {}

    def handle(node_id: int, header: Any, request: Any) -> object:
        version = header.api_version
        topics = []
        for topic in request.topics:
            results = []
            for partition in topic.partitions:
                queue = scripted.get(
                    TopicPartition(topic.name, partition.partition_index)
                )
                code = queue.pop(0) if queue else 0
                results.append(
                    entity(
                        ApiKey.DELETE_RECORDS,
                        version,
                        "DeleteRecordsPartitionResult",
                        partition_index=partition.partition_index,
                        low_watermark=-1 if code else max(partition.offset, 0),
                        error_code=code,
                    )
                )
            topics.append(
                entity(
                    ApiKey.DELETE_RECORDS,
                    version,
                    "DeleteRecordsTopicResult",
                    name=topic.name,
                    partitions=tuple(results),
                )
            )
        return reply(ApiKey.DELETE_RECORDS, version, topics=tuple(topics))

    return handle


def listing(codes: dict[TopicPartition, list[int]] | None = None) -> AdminHandler:
    """
    @return: a ListOffsets handler answering each partition's next scripted code,
        or offset 100 + its timestamp, timestamp 7 and leader epoch 3.
    """
    scripted = codes if codes is not None else {}

    def handle(node_id: int, header: Any, request: Any) -> object:
        version = header.api_version
        topics = []
        for topic in request.topics:
            results = []
            for partition in topic.partitions:
                tp = TopicPartition(topic.name, partition.partition_index)
                queue = scripted.get(tp)
                code = queue.pop(0) if queue else 0
                results.append(
                    entity(
                        ApiKey.LIST_OFFSETS,
                        version,
                        "ListOffsetsPartitionResponse",
                        partition_index=partition.partition_index,
                        error_code=code,
                        offset=100 + partition.timestamp,
                        timestamp=7,
                        leader_epoch=3,
                    )
                )
            topics.append(
                entity(
                    ApiKey.LIST_OFFSETS,
                    version,
                    "ListOffsetsTopicResponse",
                    name=topic.name,
                    partitions=tuple(results),
                )
            )
        return reply(ApiKey.LIST_OFFSETS, version, topics=tuple(topics))

    return handle


class DeleteRecordsTests(AdminTestCase):
    """
    C{delete_records} sends each partition to its leader.
    """

    def setUp(self) -> None:
        super().setUp()
        self.cluster.topics["orders"] = partitions("orders", [1, 2, 1])

    def set_leader(self, tp: TopicPartition, node_id: int) -> None:
        """Make C{node_id} the leader of C{tp} in the cluster's metadata."""
        infos = list(self.cluster.topics[tp.topic])
        infos[tp.partition] = attrs.evolve(infos[tp.partition], leader=node_id)
        self.cluster.topics[tp.topic] = infos

    def test_by_leader(self) -> None:
        """Partitions are grouped by leader, one request per leader."""
        self.cluster.handlers[ApiKey.DELETE_RECORDS] = deleting()
        results = self.result(self.admin().delete_records({O0: 5, O1: -1, O2: 9}))
        self.assertEqual(
            dict(results),
            {O0: DeletedRecords(5), O1: DeletedRecords(0), O2: DeletedRecords(9)},
        )
        sent = {
            node: [
                (topic.name, p.partition_index, p.offset)
                for topic in request.topics
                for p in topic.partitions
            ]
            for node, _, request in self.cluster.requests(ApiKey.DELETE_RECORDS)
        }
        self.assertEqual(
            sent, {1: [("orders", 0, 5), ("orders", 2, 9)], 2: [("orders", 1, -1)]}
        )
        (metadata,) = self.cluster.bodies(ApiKey.METADATA)
        self.assertEqual([t.name for t in metadata.topics], ["orders"])
        self.assertFalse(metadata.allow_auto_topic_creation)

    def test_leader_moved(self) -> None:
        """
        A partition answered NOT_LEADER_OR_FOLLOWER is sent again, alone, to its
        new leader once the backoff passed.
        """
        self.cluster.handlers[ApiKey.DELETE_RECORDS] = deleting({O1: [6]})
        d = self.admin().delete_records({O0: 1, O1: 2})
        self.reactor.settle()
        self.set_leader(O1, 3)
        self.assertNoResult(d)
        self.reactor.advance(0.1)
        self.assertEqual(
            self.successResultOf(d).values_ok(),
            {O0: DeletedRecords(1), O1: DeletedRecords(2)},
        )
        self.assertEqual(self.cluster.nodes_of(ApiKey.DELETE_RECORDS)[-1], 3)
        last = self.cluster.bodies(ApiKey.DELETE_RECORDS)[-1]
        self.assertEqual([p.partition_index for p in last.topics[0].partitions], [1])

    def test_stale_unknown_partition(self) -> None:
        """
        UNKNOWN_TOPIC_OR_PARTITION from a leader whose view was stale is looked up
        again and retried.
        """
        self.cluster.handlers[ApiKey.DELETE_RECORDS] = deleting({O0: [3]})
        d = self.admin().delete_records({O0: 4})
        self.reactor.advance(0.1)
        self.assertEqual(self.successResultOf(d).values_ok(), {O0: DeletedRecords(4)})
        self.assertEqual(len(self.cluster.requests(ApiKey.METADATA)), 2)

    def test_unknown_topic(self) -> None:
        """
        A topic or partition the metadata does not know fails at once; the
        others go on.
        """
        self.cluster.handlers[ApiKey.DELETE_RECORDS] = deleting()
        missing = TopicPartition("missing", 0)
        beyond = TopicPartition("orders", 7)
        results = self.result(
            self.admin().delete_records({missing: 1, beyond: 1, O0: 1})
        )
        self.assertIsInstance(
            results.error(missing), errors.UnknownTopicOrPartitionError
        )
        self.assertIsInstance(
            results.error(beyond), errors.UnknownTopicOrPartitionError
        )
        self.assertIn("orders-7", str(results.error(beyond)))
        self.assertEqual(results[O0], DeletedRecords(1))
        self.assertEqual(len(self.cluster.requests(ApiKey.METADATA)), 1)

    def test_no_leader(self) -> None:
        """A partition without a leader waits for one."""
        self.cluster.handlers[ApiKey.DELETE_RECORDS] = deleting()
        self.set_leader(O0, -1)
        d = self.admin().delete_records({O0: 3})
        self.run_for(0.3)
        self.assertNoResult(d)
        self.assertEqual(self.cluster.requests(ApiKey.DELETE_RECORDS), [])
        self.set_leader(O0, 2)
        self.run_for(0.4)
        self.assertEqual(self.successResultOf(d).values_ok(), {O0: DeletedRecords(3)})

    def test_no_leader_timeout(self) -> None:
        """A partition that never gets a leader times out, naming why."""
        self.set_leader(O0, -1)
        d = self.admin().delete_records({O0: 3}, timeout=1)
        self.run_for(1)
        error = self.successResultOf(d).error(O0)
        self.assertIsInstance(error, errors.RequestTimedOutError)
        assert error is not None
        self.assertIsInstance(error.__cause__, errors.LeaderNotAvailableError)

    def test_final_error(self) -> None:
        """An error that is not retriable is the partition's outcome."""
        self.cluster.handlers[ApiKey.DELETE_RECORDS] = deleting({O0: [1]})
        results = self.result(self.admin().delete_records({O0: 99}))
        self.assertIsInstance(results.error(O0), errors.OffsetOutOfRangeError)

    def test_leader_unreachable(self) -> None:
        """A leader that refuses the connection is tried again after backoff."""
        self.cluster.handlers[ApiKey.DELETE_RECORDS] = deleting()
        self.cluster.network.auto_accept[("b2", 9093)] = False
        d = self.admin().delete_records({O1: 3})
        self.reactor.settle()
        self.cluster.network.refuse(("b2", 9093))
        self.cluster.network.auto_accept[("b2", 9093)] = True
        self.run_for(0.2)
        self.assertEqual(self.successResultOf(d).values_ok(), {O1: DeletedRecords(3)})

    def test_bad_arguments(self) -> None:
        """Offsets below -1 and negative partitions are refused before sending."""
        admin = self.admin()
        self.assertRaises(ValueError, admin.delete_records, {O0: -2})
        self.assertRaises(
            ValueError, admin.delete_records, {TopicPartition("o", -1): 1}
        )
        self.assertRaises(ValueError, admin.delete_records, {TopicPartition("", 0): 1})
        self.assertEqual(len(self.successResultOf(admin.delete_records({}))), 0)
        self.assertEqual(self.cluster.received, [])


class ListOffsetsTests(AdminTestCase):
    """
    C{list_offsets} asks each partition's leader.
    """

    def setUp(self) -> None:
        super().setUp()
        self.cluster.topics["orders"] = partitions("orders", [1, 2, 1])

    def test_offsets(self) -> None:
        """Each spec's timestamp and the isolation level are sent; offsets read."""
        self.cluster.handlers[ApiKey.LIST_OFFSETS] = listing({O2: [29]})
        results = self.result(
            self.admin().list_offsets(
                {
                    O0: OffsetSpec.earliest(),
                    O1: OffsetSpec.max_timestamp(),
                    O2: OffsetSpec.latest(),
                },
                isolation_level="read_committed",
            )
        )
        self.assertEqual(results[O0], ListOffsetsResultInfo(98, 7, 3))
        self.assertEqual(results[O1], ListOffsetsResultInfo(97, 7, 3))
        self.assertIsInstance(results.error(O2), errors.TopicAuthorizationError)
        for _, _, request in self.cluster.requests(ApiKey.LIST_OFFSETS):
            self.assertEqual(request.isolation_level, 1)
            self.assertEqual(request.replica_id, -1)

    def test_not_leader(self) -> None:
        """NOT_LEADER_OR_FOLLOWER sends the partition again after a lookup."""
        self.cluster.handlers[ApiKey.LIST_OFFSETS] = listing({O1: [6, 6]})
        d = self.admin().list_offsets({O1: OffsetSpec.for_timestamp(5)})
        self.run_for(0.35)
        self.assertEqual(
            self.successResultOf(d).values_ok(), {O1: ListOffsetsResultInfo(105, 7, 3)}
        )
        self.assertEqual(len(self.cluster.requests(ApiKey.LIST_OFFSETS)), 3)

    def test_max_timestamp_old_broker(self) -> None:
        """
        On a broker before ListOffsets version 7 a max_timestamp spec fails with
        UNSUPPORTED_VERSION; the partition's neighbours are still looked up.
        """
        ranges = dict(ADMIN_RANGES)
        ranges[ApiKey.LIST_OFFSETS] = (1, 6)
        for broker in self.cluster.brokers.values():
            broker.ranges = ranges
        self.cluster.handlers[ApiKey.LIST_OFFSETS] = listing()
        results = self.result(
            self.admin().list_offsets(
                {
                    O0: OffsetSpec.max_timestamp(),
                    O2: OffsetSpec.latest(),
                    O1: OffsetSpec.max_timestamp(),
                }
            )
        )
        self.assertIsInstance(results.error(O0), errors.UnsupportedVersionError)
        self.assertIsInstance(results.error(O1), errors.UnsupportedVersionError)
        self.assertEqual(results[O2], ListOffsetsResultInfo(99, 7, 3))
        self.assertEqual(self.cluster.nodes_of(ApiKey.LIST_OFFSETS), [1])

    def test_read_committed_old_broker(self) -> None:
        """A broker with ListOffsets version 1 only cannot read committed offsets."""
        ranges = dict(ADMIN_RANGES)
        ranges[ApiKey.LIST_OFFSETS] = (1, 1)
        for broker in self.cluster.brokers.values():
            broker.ranges = ranges
        results = self.result(
            self.admin().list_offsets(
                {O0: OffsetSpec.latest()}, isolation_level="read_committed"
            )
        )
        self.assertIsInstance(results.error(O0), errors.UnsupportedVersionError)

    def test_bad_arguments(self) -> None:
        """Unknown isolation levels and specs that are not OffsetSpecs are refused."""
        admin = self.admin()
        self.assertRaises(
            ValueError, admin.list_offsets, {O0: OffsetSpec.latest()}, "committed"
        )
        self.assertRaises(ValueError, admin.list_offsets, {O0: -1})
        self.assertEqual(self.cluster.received, [])


def describing_dirs(node_id: int, header: Any, request: Any) -> object:
    """A DescribeLogDirs handler: one directory per broker, named after it."""
    version = header.api_version
    partition = entity(
        ApiKey.DESCRIBE_LOG_DIRS,
        version,
        "DescribeLogDirsPartition",
        partition_index=0,
        partition_size=node_id,
    )
    result = entity(
        ApiKey.DESCRIBE_LOG_DIRS,
        version,
        "DescribeLogDirsResult",
        log_dir=f"/data{node_id}",
        topics=(
            entity(
                ApiKey.DESCRIBE_LOG_DIRS,
                version,
                "DescribeLogDirsTopic",
                name="orders",
                partitions=(partition,),
            ),
        ),
    )
    return reply(
        ApiKey.DESCRIBE_LOG_DIRS,
        version,
        results=(result,),
        error_code=31 if node_id == 3 else 0,
    )


class DescribeLogDirsTests(AdminTestCase):
    """
    C{describe_log_dirs} asks each broker for its own directories.
    """

    def test_each_broker(self) -> None:
        """Each broker is asked; its top-level error is its own outcome."""
        self.cluster.handlers[ApiKey.DESCRIBE_LOG_DIRS] = describing_dirs
        results = self.result(self.admin().describe_log_dirs([2, 1, 3, 2]))
        self.assertEqual(list(results), [2, 1, 3])
        self.assertEqual(
            dict(results[1]["/data1"].replicas), {O0: ReplicaInfo(1, 0, False)}
        )
        self.assertEqual(list(results[2]), ["/data2"])
        self.assertIsInstance(results.error(3), errors.ClusterAuthorizationError)
        self.assertEqual(
            sorted(self.cluster.nodes_of(ApiKey.DESCRIBE_LOG_DIRS)), [1, 2, 3]
        )

    def test_unknown_broker(self) -> None:
        """A broker that is not in the cluster times out; the others answer."""
        self.cluster.handlers[ApiKey.DESCRIBE_LOG_DIRS] = describing_dirs
        d = self.admin().describe_log_dirs([1, 9], timeout=0.5)
        self.run_for(0.5)
        results = self.successResultOf(d)
        self.assertIsInstance(results.error(9), errors.RequestTimedOutError)
        self.assertEqual(list(results[1]), ["/data1"])

    def test_bad_arguments(self) -> None:
        """Negative and non-integer broker ids are refused."""
        admin = self.admin()
        self.assertRaises(ValueError, admin.describe_log_dirs, [-1])
        self.assertRaises(ValueError, admin.describe_log_dirs, ["1"])
        self.assertEqual(len(self.successResultOf(admin.describe_log_dirs([]))), 0)
