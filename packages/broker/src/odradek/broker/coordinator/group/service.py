"""
L{GroupCoordinatorService}: runs the group coordinator inside the broker's service
tree, as Kafka's C{GroupMetadataManager} does around its C{GroupCoordinator}.

  - B{Loading.} Every partition of C{__consumer_offsets} this broker leads is read
    from its log (L{OffsetsTopicStore.load}) and handed to the coordinator, at
    start-up and whenever the metadata store creates the topic or its partitions,
    or makes this broker their leader; a partition this broker stops leading, or
    that is deleted, is unloaded. Requests for the groups of a partition being
    loaded get C{COORDINATOR_LOAD_IN_PROGRESS} from the coordinator.
  - B{Creating C{__consumer_offsets}.} L{GroupCoordinatorService.ensure_offsets_topic}
    creates the topic on first use (FindCoordinator), with
    C{offsets.topic.num.partitions} partitions of C{offsets.topic.replication.factor}
    replicas, C{cleanup.policy=compact}, C{compression.type=producer} and
    C{segment.bytes=offsets.topic.segment.bytes}, as Kafka does.
  - B{Expiry.} Every C{offsets.retention.check.interval.ms} the coordinator drops
    expired offsets and empty groups (Kafka's C{cleanupGroupMetadata}).
  - B{Bounded growth until log compaction exists.} C{__consumer_offsets} is a
    compacted topic, but the log cleaner is not written yet, so every commit would
    stay on disk forever. Instead, when the part of a partition's log from its log
    start offset on grows past twice C{segment.bytes} (plus twice the size of the
    last rewrite, so that a large live state is not rewritten over and over), the
    service appends the coordinator's live state of that partition (every group's
    metadata and every committed offset, L{OffsetsTopicStore.rewrite}) at the log
    end and moves the log start offset to the first record of that rewrite.
    Loading from the log start offset then gives the same state, and the segments
    wholly below it are deleted by the log manager's next retention check
    (C{log.retention.check.interval.ms}). The size is checked after every write
    (cheaply: the segment sizes are known) and at every expiry check. A rewrite is
    put off while writes to the partition are in flight, so that no record the
    coordinator has not yet seen acknowledged is dropped. A partition's log thus
    stays below about four segments plus three times its live state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from twisted.application.service import Service
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from odradek.broker.config import KafkaConfig
from odradek.broker.coordinator.group.config import GroupConfig
from odradek.broker.coordinator.group.coordinator import GroupCoordinator
from odradek.broker.coordinator.group.store import OffsetsTopicStore
from odradek.broker.coordinator.group.values import LoadedPartition
from odradek.broker.metadata import (
    IMetadataStore,
    MetadataChange,
    PartitionsCreated,
    PartitionStateChanged,
    TopicCreated,
    TopicDeleted,
)
from odradek.broker.metadata.topics import CONSUMER_OFFSETS_TOPIC, assign_replicas
from odradek.broker.replication.manager import ReplicaManager
from odradek.client.errors import KafkaError, TopicExistsError

__all__ = ["GroupCoordinatorService", "assemble_group_coordinator"]


class _Coordinator(Protocol):
    """
    What the service needs of the L{GroupCoordinator
    <odradek.broker.coordinator.group.coordinator.GroupCoordinator>}.
    """

    def begin_loading(self, partition: int) -> None: ...

    def finish_loading(self, loaded: LoadedPartition) -> None: ...

    def unload(self, partition: int) -> None: ...

    def owned_partitions(self) -> frozenset[int]: ...

    def expire_offsets(self) -> Deferred[int]: ...

    def snapshot(self, partition: int) -> LoadedPartition: ...

    def shutdown(self) -> None: ...


class GroupCoordinatorService(Service):
    """
    Loads, creates, expires and bounds C{__consumer_offsets} for the group
    coordinator; see the module's description.

    @ivar coordinator: the group coordinator.
    @ivar store: its store.
    """

    name = "group-coordinator"
    _log = Logger()

    def __init__(
        self,
        coordinator: _Coordinator,
        store: OffsetsTopicStore,
        replica_manager: ReplicaManager,
        metadata: IMetadataStore,
        config: KafkaConfig,
        reactor: IReactorTime,
    ) -> None:
        """
        @param coordinator: see L{coordinator}.
        @param store: see L{store}.
        @param replica_manager: the broker's partitions (started before this
            service, so that it takes up new partitions before this service
            loads them).
        @param metadata: the cluster's metadata.
        @param config: the broker's configuration (C{offsets.*} keys).
        @param reactor: the clock of the expiry checks.
        """
        self.coordinator = coordinator
        self.store = store
        self._replica_manager = replica_manager
        self._metadata = metadata
        self._config = config
        self._reactor = reactor
        self._unsubscribe: Callable[[], None] | None = None
        self._expiry: LoopingCall | None = None
        self._expiring = False
        self._loading: dict[int, object] = {}
        self._loaded: set[int] = set()
        self._last_rewrite: dict[int, int] = {}
        self._rewrite_calls: dict[int, IDelayedCall] = {}
        self._creating: list[Deferred[bool]] | None = None

    # Service.

    def startService(self) -> None:
        """
        Load the partitions this broker leads, follow the metadata, and start the
        expiry checks.
        """
        super().startService()  # type: ignore[no-untyped-call]
        self._unsubscribe = self._metadata.subscribe(self._metadata_changed)
        self.store.set_write_listener(self._written)
        self._follow_topic()
        interval_ms = _int(self._config, "offsets.retention.check.interval.ms")
        loop = LoopingCall(self._expire)
        loop.clock = self._reactor
        loop.start(interval_ms / 1000, now=False)
        self._expiry = loop

    def stopService(self) -> Deferred[None]:
        """
        Stop the checks and shut the coordinator down: its waiting requests are
        answered C{NOT_COORDINATOR}.
        """
        super().stopService()  # type: ignore[no-untyped-call]
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._expiry is not None and self._expiry.running:
            self._expiry.stop()
        self._expiry = None
        for call in self._rewrite_calls.values():
            if call.active():
                call.cancel()
        self._rewrite_calls.clear()
        self.store.set_write_listener(None)
        self.coordinator.shutdown()
        self._loading.clear()
        self._loaded.clear()
        return succeed(None)

    # Creating the topic.

    def ensure_offsets_topic(self) -> Deferred[bool]:
        """
        Create C{__consumer_offsets} if it does not exist yet (one creation at a
        time; callers meanwhile wait for it).

        @return: fires with C{True} once the topic exists and the partitions this
            broker leads are loaded (or loading), C{False} if it cannot be created
            now: fewer live brokers than C{offsets.topic.replication.factor} (Kafka
            answers C{COORDINATOR_NOT_AVAILABLE}) or the creation failed.
        """
        if self._metadata.topic(CONSUMER_OFFSETS_TOPIC) is not None:
            self._follow_topic()
            return succeed(True)
        waiter: Deferred[bool] = Deferred()
        if self._creating is not None:
            self._creating.append(waiter)
            return waiter
        config = self._config
        brokers = self._metadata.brokers()
        factor = config.offsets_topic_replication_factor
        if len(brokers) < factor:
            self._log.warn(
                "Cannot create {topic}: {brokers} live brokers, fewer than"
                " offsets.topic.replication.factor={factor}",
                topic=CONSUMER_OFFSETS_TOPIC,
                brokers=len(brokers),
                factor=factor,
            )
            return succeed(False)
        try:
            assignment = assign_replicas(
                brokers.keys(), config.offsets_topic_num_partitions, factor
            )
        except KafkaError as e:
            self._log.error(
                "Cannot create {topic}: {error}",
                topic=CONSUMER_OFFSETS_TOPIC,
                error=str(e),
            )
            return succeed(False)
        configs = {
            "cleanup.policy": "compact",
            "compression.type": "producer",
            "segment.bytes": str(_int(config, "offsets.topic.segment.bytes")),
        }
        self._creating = [waiter]
        created = self._metadata.create_topic(
            CONSUMER_OFFSETS_TOPIC, assignment, configs, internal=True
        )
        created.addCallbacks(self._created, self._not_created)
        return waiter

    def _created(self, topic: Any) -> None:
        self._log.info(
            "Created {topic} with {partitions} partitions",
            topic=CONSUMER_OFFSETS_TOPIC,
            partitions=len(topic.partitions),
        )
        self._follow_topic()
        self._answer_creation(True)

    def _not_created(self, failure: Failure) -> None:
        if isinstance(failure.value, TopicExistsError):
            self._follow_topic()
            self._answer_creation(True)
            return
        self._log.failure(
            "Creating {topic} failed", failure, topic=CONSUMER_OFFSETS_TOPIC
        )
        self._answer_creation(False)

    def _answer_creation(self, ready: bool) -> None:
        waiters, self._creating = self._creating or [], None
        for waiter in waiters:
            waiter.callback(ready)

    # Loading and unloading.

    def _metadata_changed(self, change: MetadataChange) -> None:
        if isinstance(change, TopicCreated | PartitionsCreated | PartitionStateChanged):
            if change.topic.name == CONSUMER_OFFSETS_TOPIC:
                self._follow_topic()
        elif (
            isinstance(change, TopicDeleted)
            and change.topic.name == CONSUMER_OFFSETS_TOPIC
        ):
            for partition in sorted({*self._loading, *self._loaded}):
                self._unload(partition)

    def _follow_topic(self) -> None:
        """
        Load the partitions of C{__consumer_offsets} this broker now leads, and
        unload those it no longer leads.
        """
        if not self.running:
            return
        topic = self._metadata.topic(CONSUMER_OFFSETS_TOPIC)
        count = 0 if topic is None else topic.partition_count
        for partition in range(count):
            replica = self._replica_manager.get_partition(
                self.store.topic_partition(partition)
            )
            if replica is not None and replica.is_leader:
                self._load(partition)
            else:
                self._unload(partition)
        for partition in sorted({*self._loading, *self._loaded}):
            if partition >= count:
                self._unload(partition)

    def _load(self, partition: int) -> None:
        if partition in self._loading or partition in self._loaded:
            return
        token = object()
        self._loading[partition] = token
        started = self._reactor.seconds()
        self.coordinator.begin_loading(partition)
        loading = self.store.load(partition)

        def loaded(result: LoadedPartition) -> None:
            if self._loading.get(partition) is not token:
                return
            del self._loading[partition]
            self._loaded.add(partition)
            self.coordinator.finish_loading(result)
            self._log.info(
                "Loaded {groups} groups and {offsets} committed offsets of"
                " {topic}-{partition} in {seconds:.3f} s",
                groups=len(result.groups),
                offsets=sum(len(offsets) for offsets in result.offsets.values()),
                topic=CONSUMER_OFFSETS_TOPIC,
                partition=partition,
                seconds=self._reactor.seconds() - started,
            )

        def failed(failure: Failure) -> None:
            if self._loading.get(partition) is not token:
                return
            del self._loading[partition]
            self.coordinator.unload(partition)
            self._log.failure(
                "Loading {topic}-{partition} failed",
                failure,
                topic=CONSUMER_OFFSETS_TOPIC,
                partition=partition,
            )

        loading.addCallbacks(loaded, failed)

    def _unload(self, partition: int) -> None:
        if partition not in self._loading and partition not in self._loaded:
            return
        self._loading.pop(partition, None)
        self._loaded.discard(partition)
        self._last_rewrite.pop(partition, None)
        call = self._rewrite_calls.pop(partition, None)
        if call is not None and call.active():
            call.cancel()
        self.coordinator.unload(partition)
        self._log.info(
            "Unloaded {topic}-{partition}",
            topic=CONSUMER_OFFSETS_TOPIC,
            partition=partition,
        )

    # Expiry.

    def _expire(self) -> None:
        if self._expiring:
            return
        self._expiring = True
        expired = self.coordinator.expire_offsets()

        def done(count: int) -> None:
            if count:
                self._log.info("Removed {count} expired offsets", count=count)

        def failed(failure: Failure) -> None:
            self._log.failure("Expiring offsets failed", failure)

        def finally_(_: object) -> None:
            self._expiring = False
            self.check_growth()

        expired.addCallbacks(done, failed)
        expired.addBoth(finally_)

    # Bounded growth.

    def rewrite_threshold(self, partition: int) -> int | None:
        """
        @param partition: a partition of C{__consumer_offsets}.
        @return: the size past which the partition is rewritten, or C{None} if
            this broker has no replica of it.
        """
        segment_bytes = self.store.segment_bytes(partition)
        if segment_bytes is None:
            return None
        return 2 * segment_bytes + 2 * self._last_rewrite.get(partition, 0)

    def check_growth(self) -> None:
        """
        Rewrite every loaded partition that grew past its threshold.
        """
        for partition in sorted(self.coordinator.owned_partitions()):
            self._schedule_rewrite_if_grown(partition)

    def _written(self, partition: int) -> None:
        self._schedule_rewrite_if_grown(partition)

    def _schedule_rewrite_if_grown(self, partition: int) -> None:
        if partition in self._rewrite_calls or partition not in self._loaded:
            return
        threshold = self.rewrite_threshold(partition)
        if threshold is None or self.store.size(partition) <= threshold:
            return
        # Later, not now: a write's caller updates its state after the write's
        # Deferred fires, and the rewrite must see that state.
        self._rewrite_calls[partition] = self._reactor.callLater(
            0, self._rewrite, partition
        )

    def _rewrite(self, partition: int) -> None:
        self._rewrite_calls.pop(partition, None)
        threshold = self.rewrite_threshold(partition)
        if (
            partition not in self.coordinator.owned_partitions()
            or threshold is None
            or self.store.size(partition) <= threshold
        ):
            return
        rewritten = self.store.rewrite(self.coordinator.snapshot(partition))

        def done(size: int | None) -> None:
            if size is not None:
                self._last_rewrite[partition] = size

        def failed(failure: Failure) -> None:
            self._log.failure(
                "Rewriting {topic}-{partition} failed",
                failure,
                topic=CONSUMER_OFFSETS_TOPIC,
                partition=partition,
            )

        rewritten.addCallbacks(done, failed)


def _int(config: KafkaConfig, name: str) -> int:
    value = config.get(name)
    assert isinstance(value, int)
    return value


def assemble_group_coordinator(
    *,
    replica_manager: ReplicaManager,
    metadata: IMetadataStore,
    config: KafkaConfig,
    reactor: IReactorTime,
) -> tuple[GroupCoordinator, GroupCoordinatorService]:
    """
    Put the group coordinator of a broker together: its store over
    C{__consumer_offsets}, the coordinator and the service that loads and expires
    its state.

    @param replica_manager: the broker's partitions.
    @param metadata: the cluster's metadata.
    @param config: the broker's configuration.
    @param reactor: the clock.
    @return: the coordinator (for the request handlers) and its service (for the
        broker's service tree), not yet started.
    """
    store = OffsetsTopicStore(
        replica_manager=replica_manager, config=config, clock=reactor
    )
    coordinator = GroupCoordinator(
        clock=reactor, store=store, config=GroupConfig.from_config(config)
    )
    service = GroupCoordinatorService(
        coordinator, store, replica_manager, metadata, config, reactor
    )
    return coordinator, service
