"""
L{HostedPartitions}: the partitions this broker holds a replica of, as the metadata
assigns them, each online (a L{Partition} over its log) or offline (its log could not
be opened). L{ReplicaManager <odradek.broker.replication.manager.ReplicaManager>}
keeps it in step with the metadata store.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

from twisted.logger import Logger

from odradek.broker.log import LogConfig, LogManager, TopicPartition
from odradek.broker.metadata import IMetadataStore, TopicMetadata
from odradek.broker.replication.partition import Partition
from odradek.client.errors import (
    KafkaStorageError,
    NotLeaderOrFollowerError,
    UnknownTopicOrPartitionError,
)

__all__ = ["HostedPartitions"]


class HostedPartitions:
    """
    This broker's partition replicas; see the module's description.

    @ivar node_id: this broker's id.
    """

    _log = Logger()

    def __init__(
        self, node_id: int, log_manager: LogManager, metadata: IMetadataStore
    ) -> None:
        """
        @param node_id: see L{node_id}.
        @param log_manager: opens, reconfigures and deletes the logs.
        @param metadata: the cluster's metadata.
        """
        self.node_id = node_id
        self._log_manager = log_manager
        self._metadata = metadata
        self._online: dict[TopicPartition, Partition] = {}
        self._offline: set[TopicPartition] = set()
        self._topic_names: dict[uuid.UUID, str] = {}

    def __iter__(self) -> Iterator[Partition]:
        return iter(list(self._online.values()))

    def get(self, tp: TopicPartition) -> Partition | None:
        """
        @return: the online replica of C{tp}, if there is one.
        """
        return self._online.get(tp)

    def get_or_raise(self, tp: TopicPartition) -> Partition:
        """
        @return: the online replica of C{tp}.
        @raise KafkaStorageError: if its log could not be opened.
        @raise NotLeaderOrFollowerError: if the partition exists but this broker
            holds no replica of it.
        @raise UnknownTopicOrPartitionError: if the partition does not exist.
        """
        partition = self._online.get(tp)
        if partition is not None:
            return partition
        if tp in self._offline:
            raise KafkaStorageError(f"Partition {tp} is in an offline log directory")
        topic = self._metadata.topic(tp.topic)
        if topic is not None and 0 <= tp.partition < topic.partition_count:
            raise NotLeaderOrFollowerError(
                f"broker {self.node_id} holds no replica of partition {tp}"
            )
        raise UnknownTopicOrPartitionError(f"This server does not host partition {tp}")

    def topic_name(self, topic_id: uuid.UUID) -> str | None:
        """
        @return: the name of the topic with id C{topic_id}, or C{None} if none has.
        """
        name = self._topic_names.get(topic_id)
        if name is not None:
            return name
        topic = self._metadata.topic_by_id(topic_id)
        return None if topic is None else topic.name

    def log_config(self, topic: TopicMetadata) -> LogConfig:
        """
        @return: the config of the topic's logs: its overrides on the broker's
            defaults.
        """
        return LogConfig.from_properties(
            topic.configs, self._log_manager.default_config
        )

    def create(self, topic: TopicMetadata, first: int) -> None:
        """
        Take up the partitions of C{topic} from index C{first} that are assigned to
        this broker, opening or creating their logs.
        """
        config = self.log_config(topic)
        for index in range(first, topic.partition_count):
            state = topic.partitions[index]
            tp = TopicPartition(topic.name, index)
            if self.node_id not in state.replicas or tp in self._online:
                continue
            try:
                log = self._log_manager.get_or_create_log(tp, config)
            except KafkaStorageError as e:
                self._log.error(
                    "Partition {partition} is offline: {error}",
                    partition=str(tp),
                    error=str(e),
                )
                self._offline.add(tp)
                continue
            self._offline.discard(tp)
            self._online[tp] = Partition.create(
                tp, topic.topic_id, self.node_id, log, state
            )
            self._topic_names[topic.topic_id] = topic.name

    def delete(self, topic: TopicMetadata) -> list[TopicPartition]:
        """
        Drop a deleted topic's partitions and delete their logs.

        @return: the partitions dropped.
        """
        self._topic_names.pop(topic.topic_id, None)
        dropped = []
        for index in range(topic.partition_count):
            tp = TopicPartition(topic.name, index)
            self._offline.discard(tp)
            if self._online.pop(tp, None) is None:
                continue
            dropped.append(tp)
            try:
                self._log_manager.delete_log(tp)
            except KafkaStorageError as e:
                self._log.error(
                    "Cannot delete the log of {partition}: {error}",
                    partition=str(tp),
                    error=str(e),
                )
        self._log_manager.remove_topic_config(topic.name)
        return dropped

    def update_config(self, topic: TopicMetadata) -> None:
        """
        Apply a topic's new config overrides to its logs.
        """
        self._log_manager.update_config(topic.name, self.log_config(topic))

    def update_state(self, topic: TopicMetadata, index: int) -> bool:
        """
        Apply a partition's new leader, epoch and ISR.

        @return: whether its leader or leader epoch changed.
        """
        partition = self._online.get(TopicPartition(topic.name, index))
        return partition is not None and partition.update_state(topic.partitions[index])
