"""
The admin core's calls about the cluster and its topics: C{describe_cluster},
C{list_topics}, C{describe_topics} (any broker), and C{create_topics},
C{delete_topics}, C{create_partitions}, C{elect_leaders} (the controller; a
C{NOT_CONTROLLER} answer refreshes the metadata and retries the items it
concerned, as does C{THROTTLING_QUOTA_EXCEEDED}).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from twisted.internet.defer import CancelledError, Deferred

from odradek.client import errors
from odradek.client.admin._base import AdminCoreBase
from odradek.client.admin._calls import (
    CallContext,
    Outcomes,
    missing_result,
    run_batch,
    run_once,
)
from odradek.client.admin._requests import (
    create_partitions_request,
    create_topics_request,
    delete_topics_request,
    describe_cluster_request,
    elect_leaders_request,
    parse_create_partitions,
    parse_create_topics,
    parse_delete_topics,
    parse_describe_cluster,
    parse_elect_leaders,
)
from odradek.client.admin._topictypes import (
    ClusterDescription,
    CreatedTopic,
    ElectionType,
    NewPartitions,
    NewTopic,
    TopicDescription,
    TopicListing,
)
from odradek.client.admin.results import ItemResults
from odradek.client.protocol import ApiKey, UnsupportedVersionError
from odradek.client.structs import TopicPartition

__all__ = ["TopicCalls", "check_partition", "check_topic"]


def check_topic(name: object) -> str:
    """
    @return: C{name}, a topic name.
    @raise ValueError: if it is not a non-empty string.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"a topic name must be a non-empty string: {name!r}")
    return name


def check_partition(tp: object) -> TopicPartition:
    """
    @return: C{tp}, a partition.
    @raise ValueError: if it is not a L{TopicPartition} with a topic name and a
        non-negative index.
    """
    if not isinstance(tp, TopicPartition):
        raise ValueError(f"not a TopicPartition: {tp!r}")
    check_topic(tp.topic)
    if not isinstance(tp.partition, int) or tp.partition < 0:
        raise ValueError(f"a partition index must not be negative: {tp}")
    return tp


def _controller_retry(error: BaseException) -> bool:
    return isinstance(
        error, (errors.NotControllerError, errors.ThrottlingQuotaExceededError)
    )


class TopicCalls(AdminCoreBase):
    """The calls about the cluster and its topics."""

    def describe_cluster(
        self, timeout: float | None = None
    ) -> Deferred[ClusterDescription]:
        """
        Describe the cluster: its id, controller and brokers, with DescribeCluster
        where the broker supports it, else Metadata.

        @param timeout: seconds; C{None} for C{default.api.timeout.ms}.
        @return: a Deferred of the description.
        """

        async def attempt(context: CallContext) -> ClusterDescription:
            connection = await self._least_loaded(context)
            try:
                version = connection.version_for(ApiKey.DESCRIBE_CLUSTER)
            except UnsupportedVersionError:
                metadata = await self._topic_metadata(context, [])
                return metadata.cluster_description()
            response: Any = await context.wait(
                connection.send(
                    describe_cluster_request(version),
                    timeout_ms=context.response_timeout_ms(),
                )
            )
            return parse_describe_cluster(response)

        async def body(context: CallContext) -> ClusterDescription:
            return await run_once(context, lambda: attempt(context))

        return self._call("describeCluster", timeout, body)

    def list_topics(
        self, list_internal: bool = False, timeout: float | None = None
    ) -> Deferred[dict[str, TopicListing]]:
        """
        List the topics of the cluster.

        @param list_internal: whether to list Kafka's internal topics too.
        @param timeout: seconds; C{None} for C{default.api.timeout.ms}.
        @return: a Deferred of each topic's listing by name, sorted by name.
        """

        async def body(context: CallContext) -> dict[str, TopicListing]:
            metadata = await run_once(
                context, lambda: self._topic_metadata(context, None)
            )
            listings = {}
            for name, described in sorted(metadata.topics.items()):
                if isinstance(described, BaseException):
                    continue
                if described.is_internal and not list_internal:
                    continue
                listings[name] = TopicListing(
                    name, described.topic_id, described.is_internal
                )
            return listings

        return self._call("listTopics", timeout, body)

    def describe_topics(
        self, topics: Iterable[str], timeout: float | None = None
    ) -> Deferred[ItemResults[str, TopicDescription]]:
        """
        Describe topics: their ids and partitions with leaders and replicas.

        @param topics: the topics' names.
        @param timeout: seconds; C{None} for C{default.api.timeout.ms}.
        @return: a Deferred of each topic's description or error (such as
            L{UnknownTopicOrPartitionError
            <errors.UnknownTopicOrPartitionError>}).
        @raise ValueError: for an empty topic name.
        """
        names = list(dict.fromkeys(check_topic(name) for name in topics))
        if not names:
            return self._empty(ItemResults.of((), {}))

        async def body(context: CallContext) -> ItemResults[str, TopicDescription]:
            metadata = await run_once(
                context, lambda: self._topic_metadata(context, names)
            )
            outcomes: dict[str, TopicDescription | BaseException] = {}
            for name in names:
                described = metadata.topics.get(name)
                if described is None:
                    described = errors.UnknownTopicOrPartitionError(
                        f"topic {name} not found"
                    )
                outcomes[name] = described
            return ItemResults.of(names, outcomes)

        return self._call("describeTopics", timeout, body)

    def create_topics(
        self,
        new_topics: Iterable[NewTopic],
        validate_only: bool = False,
        timeout: float | None = None,
    ) -> Deferred[ItemResults[str, CreatedTopic]]:
        """
        Create topics (on the controller).

        @param new_topics: the topics; a name given twice is created once, as
            first given.
        @param validate_only: only check that the topics could be created.
        @param timeout: seconds; C{None} for C{default.api.timeout.ms}.
        @return: a Deferred of each topic's L{CreatedTopic} or error (such as
            L{TopicExistsError<errors.TopicExistsError>}).
        @raise ValueError: if an item is not a L{NewTopic}.
        """
        topics: dict[str, NewTopic] = {}
        for topic in new_topics:
            if not isinstance(topic, NewTopic):
                raise ValueError(f"not a NewTopic: {topic!r}")
            topics.setdefault(topic.name, topic)

        async def body(context: CallContext) -> ItemResults[str, CreatedTopic]:
            outcomes: Outcomes[str, CreatedTopic] = Outcomes(topics)
            await run_batch(
                context,
                outcomes,
                lambda: self._controller(context),
                lambda connection, names: create_topics_request(
                    connection.version_for(ApiKey.CREATE_TOPICS),
                    [topics[name] for name in names],
                    timeout_ms=context.response_timeout_ms(),
                    validate_only=validate_only,
                ),
                parse_create_topics,
                _controller_retry,
            )
            return outcomes.results()

        return self._call("createTopics", timeout, body)

    def delete_topics(
        self, topics: Iterable[str], timeout: float | None = None
    ) -> Deferred[ItemResults[str, None]]:
        """
        Delete topics (on the controller).

        @param topics: the topics' names.
        @param timeout: seconds; C{None} for C{default.api.timeout.ms}.
        @return: a Deferred of each topic's outcome: C{None} or its error.
        @raise ValueError: for an empty topic name.
        """
        names = list(dict.fromkeys(check_topic(name) for name in topics))

        async def body(context: CallContext) -> ItemResults[str, None]:
            outcomes: Outcomes[str, None] = Outcomes(names)
            await run_batch(
                context,
                outcomes,
                lambda: self._controller(context),
                lambda connection, pending: delete_topics_request(
                    connection.version_for(ApiKey.DELETE_TOPICS),
                    pending,
                    timeout_ms=context.response_timeout_ms(),
                ),
                parse_delete_topics,
                _controller_retry,
            )
            return outcomes.results()

        return self._call("deleteTopics", timeout, body)

    def create_partitions(
        self,
        new_partitions: Mapping[str, NewPartitions],
        validate_only: bool = False,
        timeout: float | None = None,
    ) -> Deferred[ItemResults[str, None]]:
        """
        Add partitions to topics (on the controller).

        @param new_partitions: for each topic, its new partition count and
            optionally where the new partitions go.
        @param validate_only: only check that the partitions could be created.
        @param timeout: seconds; C{None} for C{default.api.timeout.ms}.
        @return: a Deferred of each topic's outcome: C{None} or its error (such
            as L{InvalidPartitionsError<errors.InvalidPartitionsError>}).
        @raise ValueError: for an empty topic name or a value that is not a
            L{NewPartitions}.
        """
        wanted: dict[str, NewPartitions] = {}
        for name, new in new_partitions.items():
            if not isinstance(new, NewPartitions):
                raise ValueError(f"topic {name}: not a NewPartitions: {new!r}")
            wanted[check_topic(name)] = new

        async def body(context: CallContext) -> ItemResults[str, None]:
            outcomes: Outcomes[str, None] = Outcomes(wanted)
            await run_batch(
                context,
                outcomes,
                lambda: self._controller(context),
                lambda connection, names: create_partitions_request(
                    connection.version_for(ApiKey.CREATE_PARTITIONS),
                    {name: wanted[name] for name in names},
                    timeout_ms=context.response_timeout_ms(),
                    validate_only=validate_only,
                ),
                parse_create_partitions,
                _controller_retry,
            )
            return outcomes.results()

        return self._call("createPartitions", timeout, body)

    def elect_leaders(
        self,
        election_type: ElectionType,
        partitions: Iterable[TopicPartition] | None = None,
        timeout: float | None = None,
    ) -> Deferred[ItemResults[TopicPartition, None]]:
        """
        Elect partition leaders (on the controller).

        @param election_type: preferred or unclean.
        @param partitions: the partitions; C{None} for every partition whose
            leader is not the one the election would choose.
        @param timeout: seconds; C{None} for C{default.api.timeout.ms}.
        @return: a Deferred of each partition's outcome: C{None}, or its error
            (L{ElectionNotNeededError<errors.ElectionNotNeededError>} when the
            leader is already the one chosen). With C{partitions=None} an error
            of the whole request fails the Deferred.
        @raise ValueError: for a partition that is not valid.
        """
        election = ElectionType(election_type)
        asked: list[TopicPartition] | None = None
        if partitions is not None:
            asked = list(dict.fromkeys(check_partition(tp) for tp in partitions))
            if not asked:
                return self._empty(ItemResults.of((), {}))

        async def attempt(context: CallContext) -> ItemResults[TopicPartition, None]:
            connection = await self._controller(context)
            request = elect_leaders_request(
                connection.version_for(ApiKey.ELECT_LEADERS),
                election,
                asked,
                timeout_ms=context.response_timeout_ms(),
            )
            response: Any = await context.wait(
                connection.send(request, timeout_ms=context.response_timeout_ms())
            )
            top, answered = parse_elect_leaders(response)
            if top is not None:
                raise top
            keys: Sequence[TopicPartition] = (
                asked if asked is not None else list(answered)
            )
            outcomes: dict[TopicPartition, BaseException | None] = {
                tp: answered[tp] if tp in answered else missing_result(tp)
                for tp in keys
            }
            return ItemResults.of(keys, outcomes)

        async def body(context: CallContext) -> ItemResults[TopicPartition, None]:
            try:
                return await run_once(context, lambda: attempt(context))
            except CancelledError:
                raise
            except Exception as error:
                if asked is None:
                    raise
                return ItemResults.of(asked, dict.fromkeys(asked, error))

        return self._call("electLeaders", timeout, body)
