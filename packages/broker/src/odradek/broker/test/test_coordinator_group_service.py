"""
Tests for L{odradek.broker.coordinator.group.service}: loading C{__consumer_offsets}
at start-up and as the metadata changes, creating it on first use, the expiry
checks, and the rewrite that bounds its size, over a real replica manager and
store with a fake coordinator.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
from twisted.internet.defer import Deferred, fail, succeed
from twisted.trial.unittest import SynchronousTestCase

from odradek.broker.coordinator.group.placement import partition_for
from odradek.broker.coordinator.group.service import GroupCoordinatorService
from odradek.broker.coordinator.group.store import OffsetsTopicStore
from odradek.broker.coordinator.group.values import (
    CommittedOffset,
    GroupSnapshot,
    LoadedPartition,
)
from odradek.broker.metadata.topics import CONSUMER_OFFSETS_TOPIC
from odradek.broker.test._brokertools import NODE_ID, BrokerFixture
from odradek.client.errors import InvalidConfigurationError, TopicExistsError
from odradek.client.structs import TopicPartition

PARTITIONS = 3
ORDERS_0 = TopicPartition("orders", 0)
ORDERS_1 = TopicPartition("orders", 1)
CHECK_INTERVAL_MS = 60000


@attrs.define
class FakeCoordinator:
    """
    Stands in for the L{GroupCoordinator
    <odradek.broker.coordinator.group.coordinator.GroupCoordinator>}: records what
    the service tells it, and keeps offsets committed through it as the real one
    does (in its state once the store acknowledges them).

    @ivar store: the store commits go to.
    @ivar events: what the service called, in order.
    @ivar state: the live state of each loaded partition.
    @ivar expired: what L{expire_offsets} answers next.
    """

    store: Any = None
    events: list[object] = attrs.field(factory=list)
    state: dict[int, LoadedPartition] = attrs.field(factory=dict)
    loading: set[int] = attrs.field(factory=set)
    expired: Deferred[int] | None = None

    def begin_loading(self, partition: int) -> None:
        self.events.append(("begin_loading", partition))
        self.loading.add(partition)

    def finish_loading(self, loaded: LoadedPartition) -> None:
        self.events.append(("finish_loading", loaded.partition))
        self.loading.discard(loaded.partition)
        self.state[loaded.partition] = loaded

    def unload(self, partition: int) -> None:
        self.events.append(("unload", partition))
        self.loading.discard(partition)
        self.state.pop(partition, None)

    def owned_partitions(self) -> frozenset[int]:
        return frozenset(self.state)

    def expire_offsets(self) -> Deferred[int]:
        self.events.append("expire_offsets")
        expired, self.expired = self.expired, None
        return succeed(0) if expired is None else expired

    def snapshot(self, partition: int) -> LoadedPartition:
        loaded = self.state[partition]
        return LoadedPartition(
            partition,
            dict(loaded.groups),
            {group: dict(offsets) for group, offsets in loaded.offsets.items()},
        )

    def shutdown(self) -> None:
        self.events.append("shutdown")

    def commit(
        self, group_id: str, offsets: Mapping[TopicPartition, CommittedOffset]
    ) -> None:
        """
        Commit offsets through the store, then keep them.
        """
        partition = self.store.partition_of(group_id)

        def written(_: object) -> None:
            self.state[partition].offsets.setdefault(group_id, {}).update(offsets)

        self.store.store_offsets(group_id, offsets).addCallback(written)

    def group(self, snapshot: GroupSnapshot) -> None:
        """
        Store a group's metadata, then keep it.
        """
        partition = self.store.partition_of(snapshot.group_id)

        def written(_: object) -> None:
            self.state[partition].groups[snapshot.group_id] = snapshot

        self.store.store_group(snapshot).addCallback(written)


class HoldingMetadata:
    """
    A metadata store whose topic creations wait until the test releases them.

    @ivar created: the arguments of each creation asked for.
    """

    def __init__(self, real: Any) -> None:
        self._real = real
        self.created: list[tuple[Any, ...]] = []
        self._held: list[tuple[Deferred[Any], tuple[Any, ...], dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def create_topic(self, *args: Any, **kwargs: Any) -> Deferred[Any]:
        self.created.append((*args, kwargs))
        held: Deferred[Any] = Deferred()
        self._held.append((held, args, kwargs))
        return held

    def release(self, error: Exception | None = None) -> None:
        """
        Carry out the held creations, or fail them with C{error}.
        """
        held, self._held = self._held, []
        for deferred, args, kwargs in held:
            if error is not None:
                deferred.errback(error)
            else:
                self._real.create_topic(*args, **kwargs).chainDeferred(deferred)


class FailingStore(OffsetsTopicStore):
    """
    A store whose loads fail.
    """

    def load(self, partition: int) -> Deferred[LoadedPartition]:
        return fail(RuntimeError("disk on fire"))


def committed(offset: int) -> CommittedOffset:
    """
    @return: a committed offset.
    """
    return CommittedOffset(offset, -1, "", 1, None)


class ServiceTestCase(SynchronousTestCase):
    """
    A broker, a store and a fake coordinator; the service is built by L{start}.
    """

    properties: Mapping[str, str] = {}

    def setUp(self) -> None:
        self.broker = BrokerFixture(
            self,
            {
                "offsets.topic.num.partitions": str(PARTITIONS),
                "offsets.topic.replication.factor": "1",
                "offsets.retention.check.interval.ms": str(CHECK_INTERVAL_MS),
                **self.properties,
            },
        )
        self.clock = self.broker.clock
        self.metadata: Any = self.broker.metadata
        self.store = OffsetsTopicStore(
            replica_manager=self.broker.replica_manager,
            config=self.broker.config,
            clock=self.clock,
        )
        self.coordinator = FakeCoordinator(self.store)
        self.service: GroupCoordinatorService | None = None

    def build(self) -> GroupCoordinatorService:
        """
        @return: the service, not started.
        """
        self.service = GroupCoordinatorService(
            self.coordinator,
            self.store,
            self.broker.replica_manager,
            self.metadata,
            self.broker.config,
            self.clock,
        )
        self.addCleanup(self.stop)
        return self.service

    def start(self) -> GroupCoordinatorService:
        """
        @return: the service, started.
        """
        service = self.build()
        service.startService()
        return service

    def stop(self) -> None:
        """
        Stop the service if it runs, and check that it left no timer behind.
        """
        if self.service is not None and self.service.running:
            self.successResultOf(self.service.stopService())
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def create_topic(self, partitions: int = PARTITIONS) -> None:
        """
        Create C{__consumer_offsets} directly.
        """
        self.successResultOf(
            self.broker.metadata.create_topic(
                CONSUMER_OFFSETS_TOPIC,
                [[NODE_ID]] * partitions,
                {"cleanup.policy": "compact"},
                internal=True,
            )
        )

    def loaded(self) -> list[int]:
        """
        @return: the partitions the coordinator holds, sorted.
        """
        return sorted(self.coordinator.owned_partitions())


class StartTests(ServiceTestCase):
    """
    At start-up the service loads the partitions this broker leads.
    """

    def test_name(self) -> None:
        """
        The service is named C{group-coordinator}.
        """
        self.assertEqual(self.build().name, "group-coordinator")

    def test_loads_existing(self) -> None:
        """
        What was written before the start is handed to the coordinator, each
        partition begun and then finished.
        """
        self.create_topic()
        partition = partition_for("billing", PARTITIONS)
        self.successResultOf(
            self.store.store_offsets("billing", {ORDERS_0: committed(5)})
        )
        self.start()
        self.assertEqual(self.loaded(), list(range(PARTITIONS)))
        self.assertEqual(
            self.coordinator.events,
            [
                event
                for p in range(PARTITIONS)
                for event in (("begin_loading", p), ("finish_loading", p))
            ],
        )
        self.assertEqual(
            self.coordinator.state[partition].offsets,
            {"billing": {ORDERS_0: committed(5)}},
        )

    def test_without_topic(self) -> None:
        """
        Without C{__consumer_offsets} nothing is loaded, and nothing is created.
        """
        self.start()
        self.assertEqual(self.coordinator.events, [])
        self.assertIsNone(self.broker.metadata.topic(CONSUMER_OFFSETS_TOPIC))

    def test_load_fails(self) -> None:
        """
        A partition that cannot be loaded is unloaded again, and the failure
        logged.
        """
        self.create_topic(1)
        self.store = FailingStore(
            replica_manager=self.broker.replica_manager,
            config=self.broker.config,
            clock=self.clock,
        )
        self.start()
        self.assertEqual(self.coordinator.events, [("begin_loading", 0), ("unload", 0)])
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)

    def test_stop(self) -> None:
        """
        Stopping shuts the coordinator down and stops following the metadata.
        """
        service = self.start()
        self.successResultOf(service.stopService())
        self.assertEqual(self.coordinator.events, ["shutdown"])
        self.create_topic()
        self.assertEqual(self.coordinator.events, ["shutdown"])
        self.assertEqual(self.clock.getDelayedCalls(), [])


class EnsureTopicTests(ServiceTestCase):
    """
    L{GroupCoordinatorService.ensure_offsets_topic} creates C{__consumer_offsets}
    on first use.
    """

    properties = {"offsets.topic.segment.bytes": "2097152"}

    def test_creates(self) -> None:
        """
        The topic is created internal, compacted, with the configured partitions
        and segment size, and its partitions are loaded by the time the answer is
        C{True}.
        """
        service = self.start()
        self.assertTrue(self.successResultOf(service.ensure_offsets_topic()))
        topic = self.broker.metadata.topic(CONSUMER_OFFSETS_TOPIC)
        assert topic is not None
        self.assertEqual(topic.partition_count, PARTITIONS)
        self.assertEqual(
            dict(topic.configs),
            {
                "cleanup.policy": "compact",
                "compression.type": "producer",
                "segment.bytes": "2097152",
            },
        )
        self.assertEqual(self.loaded(), list(range(PARTITIONS)))

    def test_exists(self) -> None:
        """
        An existing topic is ready at once and not created again.
        """
        self.create_topic()
        self.metadata = HoldingMetadata(self.broker.metadata)
        service = self.start()
        self.assertTrue(self.successResultOf(service.ensure_offsets_topic()))
        self.assertEqual(self.metadata.created, [])

    def test_one_creation(self) -> None:
        """
        Callers while a creation is in flight wait for it; only one is made.
        """
        self.metadata = HoldingMetadata(self.broker.metadata)
        service = self.start()
        first = service.ensure_offsets_topic()
        second = service.ensure_offsets_topic()
        self.assertNoResult(first)
        self.assertNoResult(second)
        self.assertEqual(len(self.metadata.created), 1)
        self.metadata.release()
        self.assertEqual(
            (self.successResultOf(first), self.successResultOf(second)), (True, True)
        )
        self.assertEqual(self.loaded(), list(range(PARTITIONS)))

    def test_created_meanwhile(self) -> None:
        """
        A topic created by someone else meanwhile is as good.
        """
        self.metadata = HoldingMetadata(self.broker.metadata)
        service = self.start()
        ensured = service.ensure_offsets_topic()
        self.create_topic()
        self.metadata.release(TopicExistsError("exists"))
        self.assertTrue(self.successResultOf(ensured))
        self.assertEqual(self.loaded(), list(range(PARTITIONS)))

    def test_creation_fails(self) -> None:
        """
        A failed creation answers C{False} and is logged; the next call tries
        again.
        """
        self.metadata = HoldingMetadata(self.broker.metadata)
        service = self.start()
        ensured = service.ensure_offsets_topic()
        self.metadata.release(InvalidConfigurationError("bad"))
        self.assertFalse(self.successResultOf(ensured))
        self.assertEqual(len(self.flushLoggedErrors(InvalidConfigurationError)), 1)
        service.ensure_offsets_topic()
        self.assertEqual(len(self.metadata.created), 2)
        self.metadata.release()


class TooFewBrokersTests(ServiceTestCase):
    """
    With fewer live brokers than the replication factor, nothing is created.
    """

    properties = {"offsets.topic.replication.factor": "3"}

    def test_not_created(self) -> None:
        """
        The answer is C{False} (the client gets C{COORDINATOR_NOT_AVAILABLE}).
        """
        service = self.start()
        self.assertFalse(self.successResultOf(service.ensure_offsets_topic()))
        self.assertIsNone(self.broker.metadata.topic(CONSUMER_OFFSETS_TOPIC))


class MetadataTests(ServiceTestCase):
    """
    The service follows the metadata: new partitions and leaders are loaded,
    lost ones unloaded.
    """

    def test_partitions_created(self) -> None:
        """
        Partitions added to C{__consumer_offsets} are loaded.
        """
        self.create_topic(2)
        self.start()
        self.successResultOf(
            self.broker.metadata.create_partitions(CONSUMER_OFFSETS_TOPIC, 3)
        )
        self.assertEqual(self.loaded(), [0, 1, 2])
        self.assertEqual(
            self.coordinator.events[-2:], [("begin_loading", 2), ("finish_loading", 2)]
        )

    def test_leadership(self) -> None:
        """
        A partition this broker stops leading is unloaded, and loaded again when
        it leads it again.
        """
        self.create_topic()
        self.start()
        self.successResultOf(
            self.broker.metadata.alter_partition_state(
                CONSUMER_OFFSETS_TOPIC, 1, leader=-1, isr=[NODE_ID]
            )
        )
        self.assertEqual(self.loaded(), [0, 2])
        self.assertEqual(self.coordinator.events[-1], ("unload", 1))
        self.successResultOf(
            self.broker.metadata.alter_partition_state(
                CONSUMER_OFFSETS_TOPIC, 1, leader=NODE_ID, isr=[NODE_ID]
            )
        )
        self.assertEqual(self.loaded(), [0, 1, 2])

    def test_topic_deleted(self) -> None:
        """
        Deleting C{__consumer_offsets} unloads every partition.
        """
        self.create_topic()
        self.start()
        self.successResultOf(self.broker.metadata.delete_topic(CONSUMER_OFFSETS_TOPIC))
        self.assertEqual(self.loaded(), [])
        self.assertEqual(
            self.coordinator.events[-PARTITIONS:],
            [("unload", p) for p in range(PARTITIONS)],
        )

    def test_other_topics(self) -> None:
        """
        Other topics are no concern of the service.
        """
        self.start()
        self.broker.create_topic("orders", 2)
        self.assertEqual(self.coordinator.events, [])
