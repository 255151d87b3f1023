"""
Tests for L{odradek.broker.coordinator.group.service}: the periodic expiry, the
rewrite that bounds the size of C{__consumer_offsets}, and committed offsets
surviving restarts and rewrites with the real coordinator. Loading and creation
are in L{test_coordinator_group_service
<odradek.broker.test.test_coordinator_group_service>}.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
from twisted.internet.defer import Deferred, fail

from odradek.broker.coordinator.group.config import GroupConfig
from odradek.broker.coordinator.group.coordinator import GroupCoordinator
from odradek.broker.coordinator.group.placement import partition_for
from odradek.broker.coordinator.group.values import CommittedOffset, GroupSnapshot
from odradek.broker.metadata.topics import CONSUMER_OFFSETS_TOPIC
from odradek.broker.test._brokertools import NODE_ID
from odradek.broker.test.test_coordinator_group_service import (
    CHECK_INTERVAL_MS,
    ORDERS_0,
    ORDERS_1,
    PARTITIONS,
    ServiceTestCase,
    committed,
)
from odradek.client.structs import TopicPartition


class ExpiryTests(ServiceTestCase):
    """
    The coordinator expires offsets every C{offsets.retention.check.interval.ms}.
    """

    def test_periodic(self) -> None:
        """
        Expiry runs once per interval, not at start.
        """
        self.start()
        self.clock.advance(CHECK_INTERVAL_MS / 1000 - 1)
        self.assertEqual(self.coordinator.events, [])
        self.clock.advance(1)
        self.assertEqual(self.coordinator.events, ["expire_offsets"])
        self.clock.advance(CHECK_INTERVAL_MS / 1000)
        self.assertEqual(self.coordinator.events, ["expire_offsets"] * 2)

    def test_one_at_a_time(self) -> None:
        """
        A check is skipped while the previous one is still running.
        """
        self.start()
        running: Deferred[int] = Deferred()
        self.coordinator.expired = running
        self.clock.advance(CHECK_INTERVAL_MS / 1000)
        self.clock.advance(CHECK_INTERVAL_MS / 1000)
        self.assertEqual(self.coordinator.events, ["expire_offsets"])
        running.callback(4)
        self.clock.advance(CHECK_INTERVAL_MS / 1000)
        self.assertEqual(self.coordinator.events, ["expire_offsets"] * 2)

    def test_failure_logged(self) -> None:
        """
        A failed expiry is logged, and the checks go on.
        """
        self.start()
        self.coordinator.expired = fail(RuntimeError("oops"))
        self.clock.advance(CHECK_INTERVAL_MS / 1000)
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)
        self.clock.advance(CHECK_INTERVAL_MS / 1000)
        self.assertEqual(self.coordinator.events, ["expire_offsets"] * 2)


class GrowthTests(ServiceTestCase):
    """
    A partition whose log grows past twice its segment size is rewritten, and
    stays bounded.
    """

    segment_bytes = 1024

    def setUp(self) -> None:
        super().setUp()
        self.create_topic()
        for partition in range(PARTITIONS):
            log = self.broker.partition(CONSUMER_OFFSETS_TOPIC, partition).log
            log.update_config(
                attrs.evolve(log.config, segment_bytes=self.segment_bytes)
            )
        self.partition = partition_for("billing", PARTITIONS)
        self.log = self.broker.partition(CONSUMER_OFFSETS_TOPIC, self.partition).log

    def commit(
        self, rounds: int, partitions: Sequence[TopicPartition] = (ORDERS_0,)
    ) -> None:
        """
        Commit offsets round after round, letting pending calls run between.
        """
        for n in range(rounds):
            self.coordinator.commit("billing", {tp: committed(n) for tp in partitions})
            self.clock.advance(0)

    def test_rewritten_after_commits(self) -> None:
        """
        Commits past the threshold trigger a rewrite: the log start offset moves,
        and loading gives the coordinator's state.
        """
        service = self.start()
        self.assertEqual(service.rewrite_threshold(self.partition), 2048)
        self.coordinator.group(
            GroupSnapshot("billing", "consumer", 1, "range", None, None)
        )
        self.commit(40)
        self.assertGreater(self.log.log_start_offset, 0)
        self.assertEqual(
            self.successResultOf(self.store.load(self.partition)),
            self.coordinator.snapshot(self.partition),
        )

    def test_bounded(self) -> None:
        """
        However many commits, the partition's log stays within a few segments
        once retention runs.
        """
        self.start()
        sizes = []
        for _ in range(20):
            self.commit(50, [TopicPartition("orders", n) for n in range(3)])
            self.broker.log_manager.cleanup_logs()
            sizes.append(self.log.size)
        self.assertLess(max(sizes), 6 * self.segment_bytes)
        self.assertEqual(
            self.successResultOf(self.store.load(self.partition)),
            self.coordinator.snapshot(self.partition),
        )

    def test_not_before_threshold(self) -> None:
        """
        A partition below the threshold is left alone, even at expiry checks.
        """
        self.start()
        self.commit(3)
        self.clock.advance(CHECK_INTERVAL_MS / 1000)
        self.assertEqual(self.log.log_start_offset, 0)

    def test_at_expiry_check(self) -> None:
        """
        The expiry check rewrites partitions that grew, such as by writes made
        before the service started.
        """
        for n in range(40):
            self.successResultOf(
                self.store.store_offsets("billing", {ORDERS_0: committed(n)})
            )
        self.start()
        self.assertEqual(self.log.log_start_offset, 0)
        self.clock.advance(CHECK_INTERVAL_MS / 1000)
        self.clock.advance(0)
        self.assertGreater(self.log.log_start_offset, 0)
        self.assertEqual(
            self.successResultOf(self.store.load(self.partition)).offsets,
            {"billing": {ORDERS_0: committed(39)}},
        )

    def test_large_state(self) -> None:
        """
        A live state larger than the threshold raises the threshold, so that it
        is not rewritten after every commit.
        """
        service = self.start()
        for first in range(0, 80, 10):
            self.commit(
                1, [TopicPartition("orders", n) for n in range(first, first + 10)]
            )
        start = self.log.log_start_offset
        self.assertGreater(start, 0)
        self.assertGreater(service.rewrite_threshold(self.partition) or 0, 2048)
        self.commit(3)
        self.assertEqual(self.log.log_start_offset, start)

    def test_unloaded_not_rewritten(self) -> None:
        """
        A rewrite scheduled for a partition that is then unloaded is dropped.
        """
        self.start()
        for n in range(40):
            self.coordinator.commit("billing", {ORDERS_0: committed(n)})
        self.successResultOf(
            self.broker.metadata.alter_partition_state(
                CONSUMER_OFFSETS_TOPIC, self.partition, leader=-1, isr=[NODE_ID]
            )
        )
        self.clock.advance(0)
        self.assertEqual(self.log.log_start_offset, 0)


class RealCoordinatorTests(ServiceTestCase):
    """
    With the real L{GroupCoordinator
    <odradek.broker.coordinator.group.coordinator.GroupCoordinator>}, committed
    offsets survive a restart and a rewrite.
    """

    def real(self) -> GroupCoordinator:
        """
        @return: a coordinator over the test's store.
        """
        return GroupCoordinator(
            clock=self.clock,
            store=self.store,
            config=GroupConfig.from_config(self.broker.config),
        )

    def commit(self, coordinator: GroupCoordinator, offset: int) -> None:
        """
        Commit offsets of two partitions as a simple consumer.
        """
        result = self.successResultOf(
            coordinator.commit_offsets(
                group_id="billing",
                generation_id=-1,
                member_id="",
                group_instance_id=None,
                offsets={
                    ORDERS_0: CommittedOffset(offset, metadata="m"),
                    ORDERS_1: CommittedOffset(offset + 1),
                },
            )
        )
        self.assertEqual(result, {ORDERS_0: 0, ORDERS_1: 0})

    def fetched(self, coordinator: GroupCoordinator) -> dict[TopicPartition, int]:
        """
        @return: the group's committed offsets, by partition.
        """
        result = coordinator.fetch_offsets(group_id="billing", partitions=None)
        self.assertEqual(result.error_code, 0)
        return {tp: fetched.offset for tp, fetched in result.offsets.items()}

    def restart(self) -> GroupCoordinator:
        """
        Stop the service, then start a new coordinator and service over the same
        logs.

        @return: the new coordinator.
        """
        assert self.service is not None
        self.successResultOf(self.service.stopService())
        self.coordinator = self.real()  # type: ignore[assignment]
        self.start()
        return self.coordinator  # type: ignore[return-value]

    def test_survive_restart(self) -> None:
        """
        Offsets committed before a restart are fetched after it.
        """
        self.coordinator = self.real()  # type: ignore[assignment]
        service = self.start()
        self.assertTrue(self.successResultOf(service.ensure_offsets_topic()))
        self.commit(self.coordinator, 10)  # type: ignore[arg-type]
        self.commit(self.coordinator, 20)  # type: ignore[arg-type]
        coordinator = self.restart()
        self.assertEqual(self.fetched(coordinator), {ORDERS_0: 20, ORDERS_1: 21})

    def test_rewrite_then_restart(self) -> None:
        """
        After the log is rewritten and the old segments deleted, a restart still
        finds the latest offsets.
        """
        self.create_topic()
        partition = partition_for("billing", PARTITIONS)
        log = self.broker.partition(CONSUMER_OFFSETS_TOPIC, partition).log
        log.update_config(attrs.evolve(log.config, segment_bytes=1024))
        self.coordinator = self.real()  # type: ignore[assignment]
        self.start()
        for n in range(60):
            self.commit(self.coordinator, n)  # type: ignore[arg-type]
            self.clock.advance(0)
        self.assertGreater(log.log_start_offset, 0)
        self.broker.log_manager.cleanup_logs()
        self.assertGreater(log.segments.first.base_offset, 0)
        coordinator = self.restart()
        self.assertEqual(self.fetched(coordinator), {ORDERS_0: 59, ORDERS_1: 60})
