"""
The admin client's requests about the cluster and its topics, and the answers to
them: Metadata (read for C{describe_topics}, C{list_topics} and
C{describe_cluster}), DescribeCluster, CreateTopics, DeleteTopics,
CreatePartitions and ElectLeaders. Sans-IO.

Each builder takes the version negotiated with the broker and fills in the fields
that version has; each parser takes a decoded kio response of any version the
client supports and returns, per item, the value or the L{KafkaError
<odradek.client.errors.KafkaError>} of the item's error code with the broker's
message.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from kio.static.protocol import RequestPayload, ResponsePayload

from odradek.client import errors
from odradek.client.admin._kiohelpers import (
    check_response,
    error_or_none,
    nested,
    request_class,
)
from odradek.client.admin._topictypes import (
    ClusterDescription,
    CreatedTopic,
    ElectionType,
    NewPartitions,
    NewTopic,
    TopicDescription,
    TopicPartitionInfo,
)
from odradek.client.network.cluster import Node
from odradek.client.protocol import ApiKey, UnsupportedVersionError
from odradek.client.structs import TopicPartition

__all__ = [
    "TopicMetadata",
    "create_partitions_request",
    "create_topics_request",
    "delete_topics_request",
    "describe_cluster_request",
    "elect_leaders_request",
    "parse_create_partitions",
    "parse_create_topics",
    "parse_delete_topics",
    "parse_describe_cluster",
    "parse_elect_leaders",
    "parse_topic_metadata",
    "timeout_field",
]

#: The most a request's int32 timeout field holds.
_INT32_MAX = 2**31 - 1


def timeout_field(timeout_ms: float) -> datetime.timedelta:
    """
    @param timeout_ms: a timeout in milliseconds.
    @return: the value of a request's timeout field: whole milliseconds, from 0 to
        the largest int32.
    """
    return datetime.timedelta(milliseconds=max(0, min(int(timeout_ms), _INT32_MAX)))


def topic_id(value: uuid.UUID | None) -> uuid.UUID | None:
    """@return: a topic id read from the wire; the zero id means none."""
    if value is None or value.int == 0:
        return None
    return value


# -- Metadata and DescribeCluster


class TopicMetadata:
    """
    What a Metadata response says, read for the admin client.

    @ivar cluster_id: the cluster's id, if told (version 2 and up).
    @ivar controller_id: the controller's node id, or -1 (before version 1).
    @ivar nodes: the live brokers by id.
    @ivar topics: for each topic answered, its description or its error.
    """

    def __init__(self, response: ResponsePayload) -> None:
        """
        @param response: a decoded kio Metadata response of any version.
        @raise TypeError: if it is not a Metadata response.
        @raise KafkaError: the top-level error of version 13 and up, if any.
        """
        data, version = check_response(response, ApiKey.METADATA)
        if version >= 13:
            errors.raise_for_code(int(data.error_code), "the Metadata request failed")
        self.cluster_id: str | None = data.cluster_id if version >= 2 else None
        self.controller_id = int(data.controller_id) if version >= 1 else -1
        self.nodes: dict[int, Node] = {
            int(broker.node_id): Node(
                int(broker.node_id),
                broker.host,
                int(broker.port),
                broker.rack if version >= 1 else None,
            )
            for broker in data.brokers
        }
        self.topics: dict[str, TopicDescription | errors.KafkaError] = {}
        for topic in data.topics:
            name = topic.name
            if name is None:
                continue
            error = error_or_none(int(topic.error_code), f"topic {name}")
            if error is not None:
                self.topics[name] = error
                continue
            self.topics[name] = TopicDescription(
                name=name,
                topic_id=topic_id(topic.topic_id) if version >= 10 else None,
                is_internal=bool(topic.is_internal) if version >= 1 else False,
                partitions=tuple(
                    sorted(
                        (self._partition(partition) for partition in topic.partitions),
                        key=lambda info: info.partition,
                    )
                ),
            )

    def node(self, node_id: int) -> Node:
        """
        @return: the broker with this id; one with an empty host and port -1 if it
            is not live, as Kafka's admin client does.
        """
        known = self.nodes.get(node_id)
        return known if known is not None else Node(node_id, "", -1)

    def _partition(self, partition: Any) -> TopicPartitionInfo:
        leader = int(partition.leader_id)
        return TopicPartitionInfo(
            partition=int(partition.partition_index),
            leader=None if leader < 0 else self.node(leader),
            replicas=tuple(self.node(int(node)) for node in partition.replica_nodes),
            isr=tuple(self.node(int(node)) for node in partition.isr_nodes),
        )

    def cluster_description(self) -> ClusterDescription:
        """@return: the cluster as this response describes it."""
        return ClusterDescription(
            cluster_id=self.cluster_id,
            controller=self.nodes.get(self.controller_id),
            nodes=tuple(self.nodes.values()),
        )


def parse_topic_metadata(response: ResponsePayload) -> TopicMetadata:
    """
    @param response: a decoded kio Metadata response of any version.
    @return: what it says, read for the admin client.
    @raise TypeError: if it is not a Metadata response.
    @raise KafkaError: the top-level error of version 13 and up, if any.
    """
    return TopicMetadata(response)


def describe_cluster_request(version: int) -> RequestPayload:
    """
    Build a DescribeCluster request: no authorized operations; brokers (not
    controllers) from version 1; no fenced brokers from version 2.

    @param version: the version to build.
    @return: the kio request.
    """
    fields: dict[str, object] = {"include_cluster_authorized_operations": False}
    if version >= 1:
        fields["endpoint_type"] = 1
    if version >= 2:
        fields["include_fenced_brokers"] = False
    return request_class(ApiKey.DESCRIBE_CLUSTER, version)(**fields)


def parse_describe_cluster(response: ResponsePayload) -> ClusterDescription:
    """
    @param response: a decoded kio DescribeCluster response of any version.
    @return: the cluster it describes.
    @raise TypeError: if it is not a DescribeCluster response.
    @raise KafkaError: the response's error, with the broker's message.
    """
    data, _ = check_response(response, ApiKey.DESCRIBE_CLUSTER)
    errors.raise_for_code(int(data.error_code), data.error_message)
    nodes = {
        int(broker.broker_id): Node(
            int(broker.broker_id), broker.host, int(broker.port), broker.rack
        )
        for broker in data.brokers
    }
    return ClusterDescription(
        cluster_id=data.cluster_id,
        controller=nodes.get(int(data.controller_id)),
        nodes=tuple(nodes.values()),
    )


# -- CreateTopics, DeleteTopics, CreatePartitions


def create_topics_request(
    version: int,
    topics: Sequence[NewTopic],
    *,
    timeout_ms: float,
    validate_only: bool,
) -> RequestPayload:
    """
    Build a CreateTopics request (versions 2 to 7 share one layout).

    @param version: the version to build.
    @param topics: the topics to create.
    @param timeout_ms: how long the controller may take.
    @param validate_only: whether to only check that the topics could be created.
    @return: the kio request.
    """
    topic_class = nested(ApiKey.CREATE_TOPICS, version, "CreatableTopic")
    assignment_class = nested(
        ApiKey.CREATE_TOPICS, version, "CreatableReplicaAssignment"
    )
    config_class = nested(ApiKey.CREATE_TOPICS, version, "CreatableTopicConfig")
    entries = []
    for topic in topics:
        assignment = topic.replica_assignment or {}
        entries.append(
            topic_class(
                name=topic.name,
                num_partitions=topic.num_partitions,
                replication_factor=topic.replication_factor,
                assignments=tuple(
                    assignment_class(partition_index=partition, broker_ids=brokers)
                    for partition, brokers in sorted(assignment.items())
                ),
                configs=tuple(
                    config_class(name=name, value=value)
                    for name, value in (topic.configs or {}).items()
                ),
            )
        )
    return request_class(ApiKey.CREATE_TOPICS, version)(
        topics=tuple(entries),
        timeout=timeout_field(timeout_ms),
        validate_only=validate_only,
    )


def parse_create_topics(
    response: ResponsePayload,
) -> dict[str, CreatedTopic | errors.KafkaError]:
    """
    Read a CreateTopics response. The topic's partition count, replication factor
    and configuration come with version 5, its id with version 7; a topic whose
    configuration could not be described (C{topic_config_error_code}) gets an
    empty one.

    @param response: a decoded kio CreateTopics response.
    @return: for each topic answered, what was created or the error.
    @raise TypeError: if it is not a CreateTopics response.
    """
    data, version = check_response(response, ApiKey.CREATE_TOPICS)
    results: dict[str, CreatedTopic | errors.KafkaError] = {}
    for topic in data.topics:
        error = error_or_none(int(topic.error_code), topic.error_message)
        if error is not None:
            results[topic.name] = error
            continue
        configs: dict[str, str | None] = {}
        if version >= 5 and not int(topic.topic_config_error_code):
            configs = {config.name: config.value for config in topic.configs or ()}
        results[topic.name] = CreatedTopic(
            name=topic.name,
            topic_id=topic_id(topic.topic_id) if version >= 7 else None,
            num_partitions=int(topic.num_partitions) if version >= 5 else -1,
            replication_factor=int(topic.replication_factor) if version >= 5 else -1,
            configs=configs,
        )
    return results


def delete_topics_request(
    version: int, topics: Sequence[str], *, timeout_ms: float
) -> RequestPayload:
    """
    Build a DeleteTopics request: topic names up to version 5, topic states
    (a name and no id) from version 6.

    @param version: the version to build.
    @param topics: the names of the topics to delete.
    @param timeout_ms: how long the controller may take.
    @return: the kio request.
    """
    request = request_class(ApiKey.DELETE_TOPICS, version)
    if version < 6:
        return request(topic_names=tuple(topics), timeout=timeout_field(timeout_ms))
    state_class = nested(ApiKey.DELETE_TOPICS, version, "DeleteTopicState")
    return request(
        topics=tuple(state_class(name=name, topic_id=None) for name in topics),
        timeout=timeout_field(timeout_ms),
    )


def parse_delete_topics(
    response: ResponsePayload,
) -> dict[str, errors.KafkaError | None]:
    """
    Read a DeleteTopics response; error messages come with version 5.

    @param response: a decoded kio DeleteTopics response.
    @return: for each topic answered (by name), C{None} or the error.
    @raise TypeError: if it is not a DeleteTopics response.
    """
    data, version = check_response(response, ApiKey.DELETE_TOPICS)
    results: dict[str, errors.KafkaError | None] = {}
    for topic in data.responses:
        if topic.name is None:
            continue
        message = topic.error_message if version >= 5 else None
        results[topic.name] = error_or_none(int(topic.error_code), message)
    return results


def create_partitions_request(
    version: int,
    topics: Mapping[str, NewPartitions],
    *,
    timeout_ms: float,
    validate_only: bool,
) -> RequestPayload:
    """
    Build a CreatePartitions request (versions 0 to 3 share one layout).

    @param version: the version to build.
    @param topics: for each topic, how to grow it.
    @param timeout_ms: how long the controller may take.
    @param validate_only: whether to only check that the partitions could be
        created.
    @return: the kio request.
    """
    topic_class = nested(ApiKey.CREATE_PARTITIONS, version, "CreatePartitionsTopic")
    assignment_class = nested(
        ApiKey.CREATE_PARTITIONS, version, "CreatePartitionsAssignment"
    )
    return request_class(ApiKey.CREATE_PARTITIONS, version)(
        topics=tuple(
            topic_class(
                name=name,
                count=new.total_count,
                assignments=(
                    None
                    if new.new_assignments is None
                    else tuple(
                        assignment_class(broker_ids=brokers)
                        for brokers in new.new_assignments
                    )
                ),
            )
            for name, new in topics.items()
        ),
        timeout=timeout_field(timeout_ms),
        validate_only=validate_only,
    )


def parse_create_partitions(
    response: ResponsePayload,
) -> dict[str, errors.KafkaError | None]:
    """
    @param response: a decoded kio CreatePartitions response.
    @return: for each topic answered, C{None} or the error.
    @raise TypeError: if it is not a CreatePartitions response.
    """
    data, _ = check_response(response, ApiKey.CREATE_PARTITIONS)
    return {
        result.name: error_or_none(int(result.error_code), result.error_message)
        for result in data.results
    }


# -- ElectLeaders


def elect_leaders_request(
    version: int,
    election_type: ElectionType,
    partitions: Iterable[TopicPartition] | None,
    *,
    timeout_ms: float,
) -> RequestPayload:
    """
    Build an ElectLeaders request. Version 0 elects preferred leaders only;
    version 1 adds the election type.

    @param version: the version to build.
    @param election_type: the kind of election.
    @param partitions: the partitions, or C{None} for every partition that needs
        an election.
    @param timeout_ms: how long the controller may take.
    @return: the kio request.
    @raise UnsupportedVersionError: for an unclean election in version 0.
    """
    if version == 0 and election_type != ElectionType.PREFERRED:
        raise UnsupportedVersionError(
            ApiKey.ELECT_LEADERS,
            "the broker supports only ElectLeaders version 0, which cannot ask for "
            f"a {election_type.name} election",
            api_version=0,
        )
    topic_class = nested(ApiKey.ELECT_LEADERS, version, "TopicPartitions")
    requested: tuple[Any, ...] | None = None
    if partitions is not None:
        by_topic: dict[str, list[int]] = {}
        for tp in partitions:
            by_topic.setdefault(tp.topic, []).append(tp.partition)
        requested = tuple(
            topic_class(topic=topic, partitions=tuple(indexes))
            for topic, indexes in by_topic.items()
        )
    fields: dict[str, object] = {
        "topic_partitions": requested,
        "timeout": timeout_field(timeout_ms),
    }
    if version >= 1:
        fields["election_type"] = int(election_type)
    return request_class(ApiKey.ELECT_LEADERS, version)(**fields)


def parse_elect_leaders(
    response: ResponsePayload,
) -> tuple[errors.KafkaError | None, dict[TopicPartition, errors.KafkaError | None]]:
    """
    Read an ElectLeaders response; the top-level error comes with version 1.

    @param response: a decoded kio ElectLeaders response.
    @return: the error of the whole request (or C{None}), and for each partition
        answered C{None} or its error (such as L{ElectionNotNeededError
        <odradek.client.errors.ElectionNotNeededError>}).
    @raise TypeError: if it is not an ElectLeaders response.
    """
    data, version = check_response(response, ApiKey.ELECT_LEADERS)
    top = error_or_none(int(data.error_code)) if version >= 1 else None
    results: dict[TopicPartition, errors.KafkaError | None] = {}
    for topic in data.replica_election_results:
        for partition in topic.partition_result:
            results[TopicPartition(topic.topic, int(partition.partition_id))] = (
                error_or_none(int(partition.error_code), partition.error_message)
            )
    return top, results
