"""
L{LocalMetadataStore}: the embedded metadata store of a broker that runs alone, the
default when C{zookeeper.connect} is unset.

It keeps the cluster's metadata in one JSON file, C{__odradek_metadata.json}, in the
first log directory, and rewrites the whole file atomically on every change
(temporary file, fsync, rename, fsync of the directory), so a crash leaves either the
old metadata or the new. Metadata changes are rare (topics created, configs altered)
and the file is small, so rewriting it is simpler than keeping a log of changes.

The broker is the only live broker and its own controller.

The last block of producer ids reserved is kept apart, in
C{__odradek_producer_id_block.json} beside the metadata file (as ZooKeeper keeps it
in its own node, C{/latest_producer_id_block}), so that handing out producer ids
never rewrites the topics.
"""

from __future__ import annotations

import contextlib
import json
import os
import types
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import ClassVar, TypeVar

import attrs
from twisted.internet.defer import Deferred, fail, succeed
from twisted.logger import Logger
from zope.interface import implementer

from odradek.broker.config import BROKER_CONFIGS
from odradek.broker.log.config import LogConfig
from odradek.broker.metadata import _document
from odradek.broker.metadata._document import ClusterDocument, frozen_strings
from odradek.broker.metadata._files import atomic_write
from odradek.broker.metadata.errors import MetadataStoreError
from odradek.broker.metadata.interfaces import IMetadataStore, ProducerIdBlock
from odradek.broker.metadata.model import (
    BrokerConfigChanged,
    BrokerRegistration,
    MetadataChange,
    PartitionsCreated,
    PartitionState,
    PartitionStateChanged,
    TopicConfigChanged,
    TopicCreated,
    TopicDeleted,
    TopicMetadata,
    random_kafka_uuid,
)
from odradek.broker.metadata.topics import (
    assign_replicas,
    validate_assignment,
    validate_topic_name,
)
from odradek.client.errors import (
    InvalidConfigurationError,
    InvalidPartitionsError,
    InvalidReplicaAssignmentError,
    KafkaError,
    KafkaStorageError,
    UnknownTopicOrPartitionError,
)

__all__ = ["LocalMetadataStore"]

_T = TypeVar("_T")
_Change = tuple[_T, ClusterDocument, tuple[MetadataChange, ...]]

_log = Logger()

_INT64_MAX = 2**63 - 1
_PRODUCER_ID_BLOCK_VERSION = 1


def _validate_broker_configs(configs: Mapping[str, str]) -> None:
    for name, raw in configs.items():
        key = BROKER_CONFIGS.get(name)
        if key is None:
            raise InvalidConfigurationError(f"Unknown broker config name: {name}")
        key.parse(raw)


@implementer(IMetadataStore)
@attrs.define(eq=False)
class LocalMetadataStore:
    """
    The metadata of a one-broker cluster, in a file in the broker's first log
    directory. Open it with L{open}.

    @cvar FILE_NAME: the file's name in the log directory.
    @cvar PRODUCER_ID_BLOCK_FILE_NAME: the name of the file holding the last block
        of producer ids reserved, beside it.
    @ivar cluster_id: the cluster's id.
    """

    FILE_NAME: ClassVar[str] = "__odradek_metadata.json"
    PRODUCER_ID_BLOCK_FILE_NAME: ClassVar[str] = "__odradek_producer_id_block.json"

    _path: str
    _broker: BrokerRegistration
    _document: ClusterDocument
    _new_topic_id: Callable[[], uuid.UUID]
    _log: Logger
    _subscribers: list[Callable[[MetadataChange], object]] = attrs.Factory(list)

    @classmethod
    def open(
        cls,
        directory: str,
        *,
        cluster_id: str,
        broker: BrokerRegistration,
        new_topic_id: Callable[[], uuid.UUID] = random_kafka_uuid,
        log: Logger | None = None,
    ) -> LocalMetadataStore:
        """
        Load the store from a log directory, or create it there on first start.

        @param directory: the first log directory (it must exist).
        @param cluster_id: the cluster's id from C{meta.properties}.
        @param broker: this broker, the cluster's only one.
        @param new_topic_id: makes the id of each new topic.
        @param log: where to report subscribers that fail; this module's logger by
            default.
        @return: the store.
        @raise MetadataStoreError: naming the file, if it is not a valid metadata
            file or belongs to another cluster.
        @raise OSError: if the file cannot be read, or written the first time.
        """
        path = os.path.join(directory, cls.FILE_NAME)
        # A temporary file left by a crash during a write was never renamed into
        # place, so the file itself holds the last complete metadata.
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path + ".tmp")
        try:
            with open(path, "rb") as stream:
                data = stream.read()
        except FileNotFoundError:
            document = ClusterDocument(cluster_id, types.MappingProxyType({}), {})
            atomic_write(path, _document.encode(document))
        else:
            try:
                document = _document.decode(data)
            except ValueError as error:
                raise MetadataStoreError(
                    f"{path} is not a valid Odradek metadata file: {error}"
                ) from None
            if document.cluster_id != cluster_id:
                raise MetadataStoreError(
                    f"{path} belongs to cluster {document.cluster_id}, but the log "
                    f"directories' meta.properties has cluster.id {cluster_id}"
                )
        return cls(path, broker, document, new_topic_id, _log if log is None else log)

    @property
    def cluster_id(self) -> str:
        return self._document.cluster_id

    @property
    def controller_id(self) -> int:
        return self._broker.broker_id

    def start(self) -> Deferred[None]:
        return succeed(None)

    def stop(self) -> Deferred[None]:
        return succeed(None)

    def brokers(self) -> Mapping[int, BrokerRegistration]:
        return types.MappingProxyType({self._broker.broker_id: self._broker})

    def topics(self) -> Mapping[str, TopicMetadata]:
        return self._document.topics

    def topic(self, name: str) -> TopicMetadata | None:
        return self._document.topics.get(name)

    def topic_by_id(self, topic_id: uuid.UUID) -> TopicMetadata | None:
        for topic in self._document.topics.values():
            if topic.topic_id == topic_id:
                return topic
        return None

    def broker_config(self, broker_id: int | None) -> Mapping[str, str]:
        return self._document.broker_configs.get(broker_id, frozen_strings({}))

    def subscribe(
        self, callback: Callable[[MetadataChange], object]
    ) -> Callable[[], None]:
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._subscribers.remove(callback)

        return unsubscribe

    def create_topic(
        self,
        name: str,
        assignment: Sequence[Sequence[int]],
        configs: Mapping[str, str] | None = None,
        *,
        internal: bool = False,
    ) -> Deferred[TopicMetadata]:
        def change() -> _Change[TopicMetadata]:
            topics = self._document.topics
            validate_topic_name(name, topics, internal=internal)
            validate_assignment(assignment, self.brokers())
            overrides = dict(configs or {})
            LogConfig.from_properties(overrides)
            taken = {topic.topic_id for topic in topics.values()}
            topic_id = self._new_topic_id()
            while topic_id in taken:
                topic_id = self._new_topic_id()
            topic = TopicMetadata(
                name=name,
                topic_id=topic_id,
                partitions=tuple(
                    PartitionState(tuple(replicas), tuple(replicas), replicas[0])
                    for replicas in assignment
                ),
                configs=frozen_strings(overrides),
            )
            return topic, self._with_topic(topic), (TopicCreated(topic),)

        return self._change(change)

    def delete_topic(self, name: str) -> Deferred[TopicMetadata]:
        def change() -> _Change[TopicMetadata]:
            topic = self._existing(name)
            topics = {k: v for k, v in self._document.topics.items() if k != name}
            document = attrs.evolve(
                self._document, topics=types.MappingProxyType(topics)
            )
            return topic, document, (TopicDeleted(topic),)

        return self._change(change)

    def create_partitions(
        self,
        name: str,
        count: int,
        assignment: Sequence[Sequence[int]] | None = None,
    ) -> Deferred[TopicMetadata]:
        def change() -> _Change[TopicMetadata]:
            topic = self._existing(name)
            current = topic.partition_count
            if count <= current:
                raise InvalidPartitionsError(
                    f"Topic {name} has {current} partitions and cannot have "
                    f"{count}: partitions can be added, never removed."
                )
            factor = len(topic.partitions[0].replicas)
            added = assignment
            if added is None:
                added = assign_replicas(
                    self.brokers(), count - current, factor, first_partition=current
                )
            if len(added) != count - current:
                raise InvalidReplicaAssignmentError(
                    f"{count - current} partitions are added, but "
                    f"{len(added)} replica assignments are given."
                )
            validate_assignment(added, self.brokers(), replication_factor=factor)
            grown = attrs.evolve(
                topic,
                partitions=topic.partitions
                + tuple(
                    PartitionState(tuple(replicas), tuple(replicas), replicas[0])
                    for replicas in added
                ),
            )
            return grown, self._with_topic(grown), (PartitionsCreated(grown, current),)

        return self._change(change)

    def alter_topic_config(
        self, name: str, configs: Mapping[str, str]
    ) -> Deferred[TopicMetadata]:
        def change() -> _Change[TopicMetadata]:
            topic = self._existing(name)
            LogConfig.from_properties(configs)
            altered = attrs.evolve(topic, configs=frozen_strings(configs))
            return altered, self._with_topic(altered), (TopicConfigChanged(altered),)

        return self._change(change)

    def alter_broker_config(
        self, broker_id: int | None, configs: Mapping[str, str]
    ) -> Deferred[Mapping[str, str]]:
        def change() -> _Change[Mapping[str, str]]:
            _validate_broker_configs(configs)
            new = frozen_strings(configs)
            all_configs = dict(self._document.broker_configs)
            if new:
                all_configs[broker_id] = new
            else:
                all_configs.pop(broker_id, None)
            document = attrs.evolve(self._document, broker_configs=all_configs)
            return new, document, (BrokerConfigChanged(broker_id, new),)

        return self._change(change)

    def alter_partition_state(
        self, name: str, partition: int, *, leader: int, isr: Sequence[int]
    ) -> Deferred[PartitionState]:
        def change() -> _Change[PartitionState]:
            topic = self._existing(name)
            if not 0 <= partition < topic.partition_count:
                raise UnknownTopicOrPartitionError(
                    f"Topic {name} has no partition {partition}."
                )
            state = topic.partitions[partition]
            strangers = sorted(set(isr) - set(state.replicas))
            if (leader != -1 and leader not in state.replicas) or strangers:
                raise InvalidReplicaAssignmentError(
                    f"Leader {leader} and ISR {list(isr)} must be replicas of "
                    f"{name}-{partition}, which are {list(state.replicas)}."
                )
            if leader == state.leader and tuple(isr) == state.isr:
                return state, self._document, ()
            new = attrs.evolve(
                state,
                leader=leader,
                isr=tuple(isr),
                leader_epoch=state.leader_epoch + (1 if leader != state.leader else 0),
                partition_epoch=state.partition_epoch + 1,
            )
            partitions = list(topic.partitions)
            partitions[partition] = new
            altered = attrs.evolve(topic, partitions=tuple(partitions))
            changes = (PartitionStateChanged(altered, partition),)
            return new, self._with_topic(altered), changes

        return self._change(change)

    def allocate_producer_id_block(
        self, broker_id: int, size: int
    ) -> Deferred[ProducerIdBlock]:
        path = os.path.join(
            os.path.dirname(self._path), self.PRODUCER_ID_BLOCK_FILE_NAME
        )
        try:
            latest = _read_producer_id_block(path)
            first = 0 if latest is None else latest.last_producer_id + 1
            if size < 1 or first > _INT64_MAX - size + 1:
                raise KafkaError(
                    f"cannot reserve {size} producer ids after"
                    f" {first - 1}: the producer ids are exhausted"
                )
            block = ProducerIdBlock(broker_id, first, size)
            data = {
                "version": _PRODUCER_ID_BLOCK_VERSION,
                "broker": block.broker_id,
                "block_start": block.first_producer_id,
                "block_end": block.last_producer_id,
            }
            atomic_write(path, (json.dumps(data, sort_keys=True) + "\n").encode())
        except OSError as error:
            return fail(KafkaStorageError(f"cannot write {path}: {error}"))
        except Exception:
            return fail()
        return succeed(block)

    def _existing(self, name: str) -> TopicMetadata:
        topic = self._document.topics.get(name)
        if topic is None:
            raise UnknownTopicOrPartitionError(f"Topic {name} does not exist.")
        return topic

    def _with_topic(self, topic: TopicMetadata) -> ClusterDocument:
        topics = dict(self._document.topics)
        topics[topic.name] = topic
        return attrs.evolve(
            self._document, topics=types.MappingProxyType(dict(sorted(topics.items())))
        )

    def _change(self, compute: Callable[[], _Change[_T]]) -> Deferred[_T]:
        """
        Work out a change, make it durable, then show it and announce it.

        @param compute: returns the result, the new document and the changes to
            announce; raises the Kafka error if the change is refused.
        @return: fires with the result once the file is written; fails with the
            error, or with L{KafkaStorageError} if the file cannot be written (the
            store is then unchanged).
        """
        try:
            result, document, changes = compute()
            if document is not self._document:
                atomic_write(self._path, _document.encode(document))
        except OSError as error:
            return fail(KafkaStorageError(f"cannot write {self._path}: {error}"))
        except Exception:
            return fail()
        self._document = document
        for announced in changes:
            for subscriber in list(self._subscribers):
                try:
                    subscriber(announced)
                except Exception:
                    self._log.failure(
                        "Metadata subscriber {subscriber!r} failed on {change!r}",
                        subscriber=subscriber,
                        change=announced,
                    )
        return succeed(result)


def _read_producer_id_block(path: str) -> ProducerIdBlock | None:
    """
    @param path: the producer id block file.
    @return: the last block reserved, or C{None} if none was ever reserved.
    @raise KafkaStorageError: naming the file, if it cannot be read or is not a
        valid block (reserving from 0 again would hand out ids twice).
    """
    try:
        with open(path, "rb") as stream:
            data = stream.read()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise KafkaStorageError(f"cannot read {path}: {error}") from None
    try:
        value = json.loads(data.decode("utf-8"))
        start, end = value["block_start"], value["block_end"]
        broker = value["broker"]
        if value.get("version") != _PRODUCER_ID_BLOCK_VERSION or not all(
            type(n) is int for n in (start, end, broker)
        ):
            raise ValueError("unexpected version or values")
        if not 0 <= start <= end:
            raise ValueError(f"block_start {start} and block_end {end}")
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as error:
        raise KafkaStorageError(
            f"{path} is not a valid producer id block file: {error}"
        ) from None
    return ProducerIdBlock(broker, start, end - start + 1)
