"""
Metadata (API key 3, versions 0 to 13): the brokers, the cluster id, the controller
and the topics with their partitions.

As in Kafka:

  - the brokers are listed with their endpoint of the listener the request came in
    on (a broker without one is left out), and a partition whose leader has no such
    endpoint reports C{LISTENER_NOT_FOUND} (C{LEADER_NOT_AVAILABLE} before version
    6);
  - C{topics} null, or empty in version 0, asks for every topic; an empty list in
    later versions for none;
  - a topic that does not exist is created when C{auto.create.topics.enable} is true
    and the request allows it (always before version 4), with C{num.partitions} and
    C{default.replication.factor}, and reported with C{LEADER_NOT_AVAILABLE}, so the
    client asks again; internal topics and invalid names are never created
    (C{UNKNOWN_TOPIC_OR_PARTITION} and C{INVALID_TOPIC_EXCEPTION});
  - topic ids are reported from version 10 and may be asked for from version 12;
    an unknown id is answered with C{UNKNOWN_TOPIC_ID};
  - authorized operations are reported when asked for: without an authorizer, every
    operation the resource type supports.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, Final

import attrs
from twisted.internet.defer import Deferred
from twisted.logger import Logger

from odradek.broker.apis._schema import (
    CLUSTER_OPERATIONS,
    NO_THROTTLE,
    OPERATIONS_OMITTED,
    TOPIC_OPERATIONS,
    ZERO_UUID,
    build,
    element,
    response_class,
)
from odradek.broker.apis.context import RequestContext
from odradek.broker.apis.errors import kio_error_code
from odradek.broker.apis.registry import HandlerRegistry
from odradek.broker.config import Endpoint, KafkaConfig
from odradek.broker.metadata import (
    INTERNAL_TOPICS,
    BrokerRegistration,
    IMetadataStore,
    PartitionState,
    TopicMetadata,
    assign_replicas,
    validate_topic_name,
)
from odradek.client.errors import (
    InvalidRequestError,
    InvalidTopicError,
    KafkaError,
    LeaderNotAvailableError,
    ListenerNotFoundError,
    ReplicaNotAvailableError,
    TopicExistsError,
    UnknownTopicIdError,
    UnknownTopicOrPartitionError,
)
from odradek.client.protocol import ApiKey, VersionRange

__all__ = ["MetadataHandler", "endpoint_for", "register"]

METADATA_VERSIONS: Final = VersionRange(0, 13)


def endpoint_for(broker: BrokerRegistration, listener_name: str) -> Endpoint | None:
    """
    @param broker: a live broker.
    @param listener_name: a listener's name.
    @return: the broker's advertised endpoint on that listener, if it has one.
    """
    for endpoint in broker.endpoints:
        if endpoint.listener_name == listener_name:
            return endpoint
    return None


@attrs.frozen
class _Requested:
    """
    One topic of the answer: its name or id as asked, the topic if it exists, or
    the error to report for it.
    """

    name: str | None
    topic_id: uuid.UUID
    topic: TopicMetadata | None = None
    error: KafkaError | None = None


@attrs.frozen
class MetadataHandler:
    """
    Answer Metadata requests.

    @ivar config: the broker's configuration.
    @ivar metadata: the metadata store.
    @ivar log: where auto-created topics are reported.
    """

    config: KafkaConfig
    metadata: IMetadataStore
    log: Logger = attrs.field(factory=Logger)

    def handle(self, context: RequestContext, request: Any) -> Any:
        """
        @param context: the request's context.
        @param request: the kio Metadata request.
        @return: the response, or a Deferred of it when topics are auto-created.
        """
        version = context.api_version
        every = request.topics is None or (version == 0 and not request.topics)
        if every:
            wanted = [
                _Requested(name, topic.topic_id, topic)
                for name, topic in sorted(self.metadata.topics().items())
            ]
            return self._response(context, request, wanted)
        wanted = self._lookup(version, request.topics)
        unknown = UnknownTopicOrPartitionError
        missing = [e for e in wanted if isinstance(e.error, unknown)]
        auto_create = self.config.auto_create_topics_enable and getattr(
            request, "allow_auto_topic_creation", True
        )
        if not missing or not auto_create:
            return self._response(context, request, wanted)
        return Deferred.fromCoroutine(self._auto_create(context, request, wanted))

    def _lookup(self, version: int, topics: Any) -> list[_Requested]:
        wanted: list[_Requested] = []
        seen: set[object] = set()
        for requested in topics:
            topic_id = getattr(requested, "topic_id", None) or ZERO_UUID
            name = requested.name
            if (topic_id != ZERO_UUID or name is None) and version < 12:
                raise InvalidRequestError(
                    f"Topic IDs are not supported in requests for version {version}"
                    if name is not None
                    else f"Topic name can not be null for version {version}"
                )
            key = name if topic_id == ZERO_UUID else topic_id
            if key in seen:
                continue
            seen.add(key)
            if topic_id != ZERO_UUID:
                topic = self.metadata.topic_by_id(topic_id)
                error = None if topic else UnknownTopicIdError()
                wanted.append(
                    _Requested(topic.name if topic else None, topic_id, topic, error)
                )
                continue
            if name is None:
                wanted.append(_Requested(None, ZERO_UUID, error=InvalidRequestError()))
                continue
            topic = self.metadata.topic(name)
            if topic is not None:
                wanted.append(_Requested(name, topic.topic_id, topic))
            else:
                wanted.append(_Requested(name, ZERO_UUID, error=_unknown_error(name)))
        return wanted

    async def _auto_create(
        self, context: RequestContext, request: Any, wanted: list[_Requested]
    ) -> Any:
        answered = []
        for entry in wanted:
            if (
                entry.topic is None
                and entry.name is not None
                and isinstance(entry.error, UnknownTopicOrPartitionError)
                and entry.name not in INTERNAL_TOPICS
            ):
                entry = attrs.evolve(entry, error=await self._create(entry.name))
            answered.append(entry)
        return self._response(context, request, answered)

    async def _create(self, name: str) -> KafkaError:
        """
        Create a topic a client asked for.

        @return: the error to report for it: C{LEADER_NOT_AVAILABLE} once created
            (or if another request created it first), else the reason it could not
            be.
        """
        try:
            assignment = assign_replicas(
                self.metadata.brokers(),
                self.config.num_partitions,
                self.config.default_replication_factor,
            )
            await self.metadata.create_topic(name, assignment)
        except TopicExistsError:
            pass
        except KafkaError as error:
            self.log.warn(
                "Could not auto-create topic {topic}: {error}",
                topic=name,
                error=str(error),
            )
            return error
        else:
            self.log.info(
                "Auto-created topic {topic} with {partitions} partitions and "
                "replication factor {replication_factor}",
                topic=name,
                partitions=self.config.num_partitions,
                replication_factor=self.config.default_replication_factor,
            )
        return LeaderNotAvailableError(
            f"Topic {name} is being created; its leader is not available yet."
        )

    def _response(
        self, context: RequestContext, request: Any, wanted: list[_Requested]
    ) -> Any:
        version = context.api_version
        listener = context.listener_name
        response = response_class(context)
        alive = self.metadata.brokers()
        broker_class = element(response, "brokers")
        brokers = []
        for broker_id, broker in sorted(alive.items()):
            endpoint = endpoint_for(broker, listener)
            if endpoint is not None:
                brokers.append(
                    build(
                        broker_class,
                        node_id=broker_id,
                        host=endpoint.host,
                        port=endpoint.port,
                        rack=broker.rack,
                    )
                )
        topic_operations = (
            TOPIC_OPERATIONS
            if getattr(request, "include_topic_authorized_operations", False)
            else OPERATIONS_OMITTED
        )
        topic_class = element(response, "topics")
        partition_class = element(topic_class, "partitions")
        topics = []
        for entry in wanted:
            partitions: tuple[Any, ...] = ()
            if entry.topic is not None:
                partitions = tuple(
                    _partition(partition_class, version, index, state, alive, listener)
                    for index, state in enumerate(entry.topic.partitions)
                )
            topics.append(
                build(
                    topic_class,
                    error_code=kio_error_code(entry.error.code if entry.error else 0),
                    name=entry.name,
                    topic_id=entry.topic_id,
                    is_internal=entry.name in INTERNAL_TOPICS,
                    partitions=partitions,
                    topic_authorized_operations=topic_operations
                    if entry.name is not None
                    else OPERATIONS_OMITTED,
                )
            )
        cluster_operations = (
            CLUSTER_OPERATIONS
            if getattr(request, "include_cluster_authorized_operations", False)
            else OPERATIONS_OMITTED
        )
        return build(
            response,
            throttle_time=NO_THROTTLE,
            brokers=tuple(brokers),
            cluster_id=self.metadata.cluster_id,
            controller_id=self.metadata.controller_id,
            topics=tuple(topics),
            cluster_authorized_operations=cluster_operations,
            error_code=kio_error_code(0),
        )


def _unknown_error(name: str) -> KafkaError:
    """
    @return: C{INVALID_TOPIC_EXCEPTION} for a name no topic can have, else
        C{UNKNOWN_TOPIC_OR_PARTITION}.
    """
    try:
        validate_topic_name(name, (), internal=True)
    except InvalidTopicError as error:
        return error
    return UnknownTopicOrPartitionError()


def _partition(
    partition_class: type[Any],
    version: int,
    index: int,
    state: PartitionState,
    alive: Mapping[int, BrokerRegistration],
    listener: str,
) -> Any:
    error: type[KafkaError] | None = None
    leader = state.leader
    replicas, isr = state.replicas, state.isr
    leader_broker = alive.get(leader)
    if leader_broker is None:
        error, leader = LeaderNotAvailableError, -1
    elif endpoint_for(leader_broker, listener) is None:
        error = ListenerNotFoundError if version >= 6 else LeaderNotAvailableError
        leader = -1
    elif version == 0 and not set(replicas + isr) <= set(alive):
        # Version 0 reports missing replicas as an error and leaves them out.
        error = ReplicaNotAvailableError
        replicas = tuple(r for r in replicas if r in alive)
        isr = tuple(r for r in isr if r in alive)
    return build(
        partition_class,
        error_code=kio_error_code(0 if error is None else error.code),
        partition_index=index,
        leader_id=leader,
        leader_epoch=state.leader_epoch,
        replica_nodes=replicas,
        isr_nodes=isr,
        offline_replicas=tuple(r for r in state.replicas if r not in alive),
    )


def register(
    registry: HandlerRegistry, *, config: KafkaConfig, metadata: IMetadataStore
) -> None:
    """
    Register Metadata.

    @param registry: the registry to add it to.
    @param config: the broker's configuration (auto-creation settings).
    @param metadata: the metadata store.
    """
    handler = MetadataHandler(config, metadata)
    registry.register(ApiKey.METADATA, handler.handle, METADATA_VERSIONS)
