"""
ElectLeaders (API key 43, versions 0 to 2): elect the preferred replica of
partitions as their leader (election type 0, the only one of version 0), or any
live replica of leaderless ones (type 1, unclean).

Each partition asked for is answered as Apache Kafka's controller answers it:

  - a topic or partition the metadata does not know: C{UNKNOWN_TOPIC_OR_PARTITION};
  - a preferred election where the preferred replica (the first of the assignment)
    already leads, or an unclean one where the leader is a live broker:
    C{ELECTION_NOT_NEEDED};
  - a preferred election: the preferred replica becomes leader if it is live and
    in sync; if it is not and the current leader is, nothing changes and the answer
    is C{PREFERRED_LEADER_NOT_AVAILABLE}; if neither is, the first other live
    in-sync replica becomes leader; if there is none, C{PREFERRED_LEADER_NOT_AVAILABLE};
  - an unclean election: the first live in-sync replica becomes leader; failing
    that, the first live replica, alone in the ISR; failing that,
    C{ELIGIBLE_LEADERS_NOT_AVAILABLE}.

The election is made through the metadata store (C{alter_partition_state}), which
the replica managers of the brokers follow. In single-node mode the only replica
always leads, so every election of an existing partition is C{ELECTION_NOT_NEEDED}.

When the request names no partitions (C{topic_partitions} null), every partition of
every topic is elected and the answer lists every topic but leaves out the
partitions whose election was not needed, as Kafka's controller does. An unknown
election type fails the whole request with C{INVALID_REQUEST}: each partition named
carries the error, and from version 1 the top-level error code too. The request's
timeout is not used: the embedded store applies each change at once.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, Final, TypeAlias

import attrs
from twisted.internet.defer import Deferred
from twisted.logger import Logger

from odradek.broker.apis._schema import NO_THROTTLE, build, element, response_class
from odradek.broker.apis.context import RequestContext
from odradek.broker.apis.errors import as_kafka_error, kio_error_code
from odradek.broker.apis.registry import HandlerRegistry
from odradek.broker.metadata import IMetadataStore, PartitionState
from odradek.client.errors import (
    ElectionNotNeededError,
    EligibleLeadersNotAvailableError,
    InvalidRequestError,
    KafkaError,
    PreferredLeaderNotAvailableError,
    UnknownTopicOrPartitionError,
)
from odradek.client.protocol import ApiKey, VersionRange

__all__ = [
    "ELECT_LEADERS_VERSIONS",
    "PREFERRED",
    "UNCLEAN",
    "ElectLeadersHandler",
    "elect_leaders_error_response",
    "register",
]

ELECT_LEADERS_VERSIONS: Final = VersionRange(0, 2)
"""The versions of ElectLeaders served."""

PREFERRED: Final = 0
"""The election type that makes the preferred replica leader."""

UNCLEAN: Final = 1
"""The election type that gives a leaderless partition any live replica as leader."""

_NOT_NEEDED: Final = "Leader election not needed for topic partition."
_PREFERRED_NOT_AVAILABLE: Final = "The preferred leader was not available."
_ELIGIBLE_NOT_AVAILABLE: Final = "Eligible topic partition leaders are not available."
_ELECTION_NAMES: Final = {PREFERRED: "preferred", UNCLEAN: "unclean"}

#: The outcome of each partition of one topic: its index and its error, if any.
_TopicOutcome: TypeAlias = tuple[str, list[tuple[int, KafkaError | None]]]


def _choose(
    state: PartitionState, election_type: int, live: Collection[int]
) -> tuple[int, tuple[int, ...]] | KafkaError:
    """
    @return: the new leader and ISR of a partition, or why there are none.
    """

    def eligible(replica: int) -> bool:
        return replica in state.isr and replica in live

    if election_type == PREFERRED:
        preferred = state.replicas[0] if state.replicas else -1
        if state.leader == preferred:
            return ElectionNotNeededError(_NOT_NEEDED)
        if eligible(preferred):
            return preferred, state.isr
        if state.leader == -1 or not eligible(state.leader):
            for replica in state.replicas[1:]:
                if eligible(replica):
                    return replica, state.isr
        return PreferredLeaderNotAvailableError(_PREFERRED_NOT_AVAILABLE)
    if state.leader != -1 and state.leader in live:
        return ElectionNotNeededError(_NOT_NEEDED)
    for replica in state.replicas:
        if eligible(replica):
            return replica, state.isr
    for replica in state.replicas:
        if replica in live:
            return replica, (replica,)
    return EligibleLeadersNotAvailableError(_ELIGIBLE_NOT_AVAILABLE)


def _response(
    context: RequestContext, outcomes: Sequence[_TopicOutcome], error: KafkaError | None
) -> Any:
    response = response_class(context)
    topic_class = element(response, "replica_election_results")
    partition_class = element(topic_class, "partition_result")
    return build(
        response,
        throttle_time=NO_THROTTLE,
        error_code=kio_error_code(0 if error is None else error.code),
        replica_election_results=tuple(
            build(
                topic_class,
                topic=name,
                partition_result=tuple(
                    build(
                        partition_class,
                        partition_id=index,
                        error_code=kio_error_code(0 if result is None else result.code),
                        error_message=None if result is None else result.message,
                    )
                    for index, result in partitions
                ),
            )
            for name, partitions in outcomes
        ),
    )


def elect_leaders_error_response(
    context: RequestContext, request: Any, error: KafkaError
) -> Any:
    """
    Build the response of an ElectLeaders request that fails as a whole, as Kafka
    does: the error on every partition the request names and, from version 1, as the
    top-level error.

    @param context: the request's context.
    @param request: the kio ElectLeaders request.
    @param error: the error.
    @return: the response.
    """
    outcomes: list[_TopicOutcome] = [
        (topic.topic, [(index, error) for index in topic.partitions])
        for topic in request.topic_partitions or ()
    ]
    return _response(context, outcomes, error)


@attrs.frozen
class ElectLeadersHandler:
    """
    Answer ElectLeaders requests.

    @ivar metadata: the metadata store, which holds each partition's leader and ISR
        and the live brokers, and through which leaders are changed.
    @ivar log: where elections are reported.
    """

    metadata: IMetadataStore
    log: Logger = attrs.field(factory=Logger)

    def handle(self, context: RequestContext, request: Any) -> Deferred[Any]:
        """
        @param context: the request's context.
        @param request: the kio ElectLeaders request.
        @return: fires with the response, one result per partition.
        """
        return Deferred.fromCoroutine(self._handle(context, request))

    async def _handle(self, context: RequestContext, request: Any) -> Any:
        election_type = getattr(request, "election_type", PREFERRED)
        if election_type not in _ELECTION_NAMES:
            raise InvalidRequestError(f"Unknown election type {election_type}")
        outcomes: list[_TopicOutcome] = []
        if request.topic_partitions is None:
            every = sorted(self.metadata.topics().items())
            for name, topic in every:
                partitions: list[tuple[int, KafkaError | None]] = []
                for index in range(topic.partition_count):
                    result = await self.elect(name, index, election_type)
                    if not isinstance(result, ElectionNotNeededError):
                        partitions.append((index, result))
                outcomes.append((name, partitions))
        else:
            for wanted in request.topic_partitions:
                partitions = []
                for index in wanted.partitions:
                    result = await self.elect(wanted.topic, index, election_type)
                    partitions.append((index, result))
                outcomes.append((wanted.topic, partitions))
        return _response(context, outcomes, None)

    async def elect(
        self, topic: str, partition: int, election_type: int
    ) -> KafkaError | None:
        """
        Elect the leader of one partition.

        @param topic: the topic's name.
        @param partition: the partition's index.
        @param election_type: L{PREFERRED} or L{UNCLEAN}.
        @return: C{None} once a new leader is elected, or the partition's error.
        """
        metadata = self.metadata.topic(topic)
        if metadata is None:
            return UnknownTopicOrPartitionError(f"No such topic as {topic}")
        if not 0 <= partition < metadata.partition_count:
            return UnknownTopicOrPartitionError(
                f"No such partition as {topic}-{partition}"
            )
        state = metadata.partitions[partition]
        choice = _choose(state, election_type, self.metadata.brokers())
        if isinstance(choice, KafkaError):
            return choice
        leader, isr = choice
        try:
            await self.metadata.alter_partition_state(
                topic, partition, leader=leader, isr=isr
            )
        except Exception as failure:
            if not isinstance(failure, KafkaError):
                self.log.failure(
                    "Electing the leader of {topic}-{partition} failed",
                    topic=topic,
                    partition=partition,
                )
            return as_kafka_error(failure)
        self.log.info(
            "Elected broker {leader} as leader of {topic}-{partition} "
            "({election} election; leader was {previous})",
            leader=leader,
            topic=topic,
            partition=partition,
            election=_ELECTION_NAMES[election_type],
            previous=state.leader,
        )
        return None


def register(registry: HandlerRegistry, *, metadata: IMetadataStore) -> None:
    """
    Register ElectLeaders.

    @param registry: the registry to add it to.
    @param metadata: the metadata store.
    """
    handler = ElectLeadersHandler(metadata)
    registry.register(
        ApiKey.ELECT_LEADERS,
        handler.handle,
        ELECT_LEADERS_VERSIONS,
        error_response=elect_leaders_error_response,
    )
