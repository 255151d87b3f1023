"""
The topic APIs: CreateTopics (API key 19, versions 2 to 7), DeleteTopics (20,
versions 1 to 6) and CreatePartitions (37, versions 0 to 3).

Each topic of a request is checked with the rules the metadata store enforces (the
functions of L{odradek.broker.metadata.topics} and
L{LogConfig.from_properties <odradek.broker.log.config.LogConfig.from_properties>})
and gets its own error code and message, worded as Kafka words them. A change is
answered once the store has applied it, which for the embedded store means the file
is written and its subscribers, the replica manager among them, have created or
deleted the partitions; so a topic is ready for produce requests as soon as its
CreateTopics response arrives. With C{validate_only} every check runs and nothing is
changed.

CreateTopics: a replication factor or partition count of -1 takes
C{default.replication.factor} or C{num.partitions}; the replication factor may not
exceed the live brokers; from version 5 a created topic's partition count,
replication factor and configs (with their sources) are returned, from version 7 its
topic id. DeleteTopics is refused with C{TOPIC_DELETION_DISABLED} (before version 3,
C{INVALID_REQUEST}) when C{delete.topic.enable} is false, and takes topic ids from
version 6. CreatePartitions only grows topics.

The request's timeout is not used: the embedded store applies each change at once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final

import attrs
from twisted.internet.defer import Deferred
from twisted.logger import Logger

from odradek.broker.apis._configs_describe import topic_entries
from odradek.broker.apis._configs_dynamic import DynamicBrokerConfig
from odradek.broker.apis._schema import (
    NO_THROTTLE,
    ZERO_UUID,
    build,
    element,
    has_field,
    response_class,
)
from odradek.broker.apis.context import RequestContext
from odradek.broker.apis.errors import as_kafka_error, kio_error_code
from odradek.broker.apis.registry import HandlerRegistry
from odradek.broker.config import KafkaConfig
from odradek.broker.metadata import (
    IMetadataStore,
    assign_replicas,
    validate_assignment,
    validate_topic_name,
)
from odradek.client.errors import (
    InvalidConfigurationError,
    InvalidPartitionsError,
    InvalidReplicaAssignmentError,
    InvalidReplicationFactorError,
    InvalidRequestError,
    KafkaError,
    TopicDeletionDisabledError,
    UnknownTopicIdError,
    UnknownTopicOrPartitionError,
)
from odradek.client.protocol import ApiKey, VersionRange

__all__ = ["TopicsHandler", "register"]

CREATE_TOPICS_VERSIONS: Final = VersionRange(2, 7)
DELETE_TOPICS_VERSIONS: Final = VersionRange(1, 6)
CREATE_PARTITIONS_VERSIONS: Final = VersionRange(0, 3)


def _duplicates(names: Sequence[object]) -> set[object]:
    return {name for name, count in Counter(names).items() if count > 1}


def _replication_error(factor: int, error: KafkaError) -> KafkaError:
    if not isinstance(error, InvalidReplicationFactorError):
        return error
    return InvalidReplicationFactorError(
        f"Unable to replicate the partition {factor} time(s): {error.message}"
    )


@attrs.frozen
class TopicsHandler:
    """
    Answer CreateTopics, DeleteTopics and CreatePartitions requests.

    @ivar dynamic: the broker's configuration in effect and the metadata store.
    @ivar log: where changes and refusals are reported.
    """

    dynamic: DynamicBrokerConfig
    log: Logger = attrs.field(factory=Logger)

    @property
    def metadata(self) -> IMetadataStore:
        """The metadata store."""
        return self.dynamic.metadata

    async def _each(
        self,
        api: str,
        names: Sequence[str],
        work: Callable[[int], Awaitable[object]],
    ) -> list[tuple[int, object, KafkaError | None]]:
        """
        Run C{work} for each entry of a request, turning what it raises into the
        entry's error; a name given more than once is answered once, with
        C{INVALID_REQUEST}.

        @return: for each distinct name, the index of its first entry, what
            C{work} returned (C{None} on error) and the error.
        """
        duplicates = _duplicates(names)
        seen: set[str] = set()
        outcomes: list[tuple[int, object, KafkaError | None]] = []
        for index, name in enumerate(names):
            if name in seen:
                continue
            seen.add(name)
            try:
                if name in duplicates:
                    raise InvalidRequestError("Duplicate topic name.")
                outcomes.append((index, await work(index), None))
            except Exception as failure:
                error = as_kafka_error(failure)
                if not isinstance(failure, KafkaError):
                    self.log.failure(
                        "{api} of topic {topic} failed", api=api, topic=name
                    )
                else:
                    self.log.info(
                        "{api} of topic {topic} refused: {error}",
                        api=api,
                        topic=name,
                        error=str(error),
                    )
                outcomes.append((index, None, error))
        return outcomes

    # CreateTopics.

    def create_topics(self, context: RequestContext, request: Any) -> Deferred[Any]:
        """
        @param context: the request's context.
        @param request: the kio CreateTopics request.
        @return: fires with the response once the topics exist.
        """
        return Deferred.fromCoroutine(self._create_topics(context, request))

    async def _create_topics(self, context: RequestContext, request: Any) -> Any:
        response = response_class(context)
        result_class = element(response, "topics")
        topics = request.topics

        def create(index: int) -> Awaitable[object]:
            return self._create_topic(topics[index], request.validate_only)

        results = []
        for index, created, error in await self._each(
            "CreateTopics", [t.name for t in topics], create
        ):
            name = topics[index].name
            if error is not None:
                results.append(
                    build(
                        result_class,
                        name=name,
                        topic_id=ZERO_UUID,
                        error_code=kio_error_code(error.code),
                        error_message=error.message,
                        configs=(),
                    )
                )
            else:
                results.append(self._created(result_class, name, created))
        return build(response, throttle_time=NO_THROTTLE, topics=tuple(results))

    def _created(self, result_class: type[Any], name: str, created: Any) -> Any:
        topic_id, partitions, factor, overrides = created
        configs: tuple[Any, ...] = ()
        if has_field(result_class, "configs"):
            config_class = element(result_class, "configs")
            configs = tuple(
                build(
                    config_class,
                    name=entry.name,
                    value=entry.value,
                    read_only=entry.read_only,
                    config_source=int(entry.source),
                    is_sensitive=entry.sensitive,
                )
                for entry in topic_entries(self.dynamic, overrides)
            )
        return build(
            result_class,
            name=name,
            topic_id=topic_id,
            error_code=kio_error_code(0),
            error_message=None,
            topic_config_error_code=0,
            num_partitions=partitions,
            replication_factor=factor,
            configs=configs,
        )

    async def _create_topic(self, topic: Any, validate_only: bool) -> object:
        name = topic.name
        validate_topic_name(name, self.metadata.topics())
        nulls = [config.name for config in topic.configs if config.value is None]
        if nulls:
            raise InvalidConfigurationError(
                f"Null value not supported for topic configs: {','.join(nulls)}"
            )
        overrides = {config.name: config.value for config in topic.configs}
        self.dynamic.topic_config(overrides)
        assignment = self._assignment(topic)
        if validate_only:
            return ZERO_UUID, len(assignment), len(assignment[0]), overrides
        created = await self.metadata.create_topic(name, assignment, overrides)
        self.log.info(
            "Created topic {topic} with {partitions} partitions, replication factor "
            "{replication_factor} and configs {configs}",
            topic=name,
            partitions=created.partition_count,
            replication_factor=len(assignment[0]),
            configs=overrides,
        )
        return created.topic_id, created.partition_count, len(assignment[0]), overrides

    def _assignment(self, topic: Any) -> list[list[int]]:
        brokers = self.metadata.brokers()
        if topic.assignments:
            if topic.replication_factor != -1:
                raise InvalidRequestError(
                    "A manual partition assignment was specified, but replication "
                    "factor was not set to -1."
                )
            if topic.num_partitions != -1:
                raise InvalidRequestError(
                    "A manual partition assignment was specified, but numPartitions "
                    "was not set to -1."
                )
            by_index: dict[int, list[int]] = {}
            for given in topic.assignments:
                if given.partition_index in by_index:
                    raise InvalidReplicaAssignmentError(
                        f"Found multiple manual partition assignments for partition "
                        f"{given.partition_index}"
                    )
                by_index[given.partition_index] = list(given.broker_ids)
            if sorted(by_index) != list(range(len(by_index))):
                raise InvalidReplicaAssignmentError(
                    "partitions should be a consecutive 0-based integer sequence"
                )
            assignment = [by_index[index] for index in range(len(by_index))]
            validate_assignment(assignment, brokers)
            return assignment
        factor, count = topic.replication_factor, topic.num_partitions
        if factor < -1 or factor == 0:
            raise InvalidReplicationFactorError(
                "Replication factor must be larger than 0, or -1 to use the default "
                "value."
            )
        if count < -1 or count == 0:
            raise InvalidPartitionsError(
                "Number of partitions was set to an invalid non-positive value."
            )
        config = self.dynamic.static
        factor = config.default_replication_factor if factor == -1 else factor
        count = config.num_partitions if count == -1 else count
        try:
            return [list(r) for r in assign_replicas(brokers, count, factor)]
        except KafkaError as error:
            raise _replication_error(factor, error) from None

    # DeleteTopics.

    def delete_topics(self, context: RequestContext, request: Any) -> Deferred[Any]:
        """
        @param context: the request's context.
        @param request: the kio DeleteTopics request.
        @return: fires with the response once the topics are deleted.
        """
        return Deferred.fromCoroutine(self._delete_topics(context, request))

    async def _delete_topics(self, context: RequestContext, request: Any) -> Any:
        response = response_class(context)
        result_class = element(response, "responses")
        if context.api_version >= 6:
            wanted = [(t.name, t.topic_id or ZERO_UUID) for t in request.topics]
        else:
            wanted = [(name, ZERO_UUID) for name in request.topic_names]
        disabled: KafkaError | None = None
        if not self.dynamic.static.delete_topic_enable:
            disabled = (
                InvalidRequestError("Topic deletion is disabled.")
                if context.api_version < 3
                else TopicDeletionDisabledError(
                    "Topic deletion is disabled (delete.topic.enable=false)."
                )
            )
        keys = [name if tid == ZERO_UUID else tid for name, tid in wanted]
        duplicates = _duplicates(keys)
        results = []
        done: set[object] = set()
        for (name, topic_id), key in zip(wanted, keys, strict=True):
            if key in done:
                continue
            done.add(key)
            try:
                if disabled is not None:
                    raise disabled
                if key in duplicates:
                    what = "name" if topic_id == ZERO_UUID else "id"
                    raise InvalidRequestError(f"Duplicate topic {what}.")
                deleted = await self._delete_topic(name, topic_id)
                name, topic_id, error = deleted.name, deleted.topic_id, None
            except Exception as failure:
                error = as_kafka_error(failure)
                self.log.info(
                    "DeleteTopics of {topic} refused: {error}",
                    topic=name if name is not None else str(topic_id),
                    error=str(error),
                )
            results.append(
                build(
                    result_class,
                    name=name,
                    topic_id=topic_id,
                    error_code=kio_error_code(0 if error is None else error.code),
                    error_message=None if error is None else error.message,
                )
            )
        return build(response, throttle_time=NO_THROTTLE, responses=tuple(results))

    async def _delete_topic(self, name: str | None, topic_id: object) -> Any:
        if name is None and topic_id == ZERO_UUID:
            raise InvalidRequestError("Neither topic name nor id were specified.")
        if name is not None and topic_id != ZERO_UUID:
            raise InvalidRequestError(
                "You may not specify both topic name and topic id."
            )
        if name is None:
            topic = self.metadata.topic_by_id(topic_id)  # type: ignore[arg-type]
            if topic is None:
                raise UnknownTopicIdError(f"No topic has the id {topic_id}.")
        else:
            topic = self.metadata.topic(name)
            if topic is None:
                raise UnknownTopicOrPartitionError(
                    f"The topic '{name}' does not exist."
                )
        deleted = await self.metadata.delete_topic(topic.name)
        self.log.info("Deleted topic {topic}", topic=deleted.name)
        return deleted

    # CreatePartitions.

    def create_partitions(self, context: RequestContext, request: Any) -> Deferred[Any]:
        """
        @param context: the request's context.
        @param request: the kio CreatePartitions request.
        @return: fires with the response once the partitions exist.
        """
        return Deferred.fromCoroutine(self._create_partitions(context, request))

    async def _create_partitions(self, context: RequestContext, request: Any) -> Any:
        response = response_class(context)
        result_class = element(response, "results")
        topics = request.topics

        def grow(index: int) -> Awaitable[object]:
            return self._grow(topics[index], request.validate_only)

        results = [
            build(
                result_class,
                name=topics[index].name,
                error_code=kio_error_code(0 if error is None else error.code),
                error_message=None if error is None else error.message,
            )
            for index, _, error in await self._each(
                "CreatePartitions", [t.name for t in topics], grow
            )
        ]
        return build(response, throttle_time=NO_THROTTLE, results=tuple(results))

    async def _grow(self, request: Any, validate_only: bool) -> object:
        name, count = request.name, request.count
        topic = self.metadata.topic(name)
        if topic is None:
            raise UnknownTopicOrPartitionError(f"The topic '{name}' does not exist.")
        current = topic.partition_count
        if count == current:
            raise InvalidPartitionsError(f"Topic already has {current} partition(s).")
        if count < current:
            raise InvalidPartitionsError(
                f"The topic {name} currently has {current} partition(s); {count} "
                f"would not be an increase."
            )
        added = count - current
        factor = len(topic.partitions[0].replicas)
        brokers = self.metadata.brokers()
        assignment = None
        if request.assignments is not None:
            assignment = [list(given.broker_ids) for given in request.assignments]
            if len(assignment) != added:
                raise InvalidReplicaAssignmentError(
                    f"Attempted to add {added} additional partition(s), but only "
                    f"{len(assignment)} assignment(s) were specified."
                )
            validate_assignment(assignment, brokers, replication_factor=factor)
        else:
            try:
                assign_replicas(brokers, added, factor, first_partition=current)
            except KafkaError as error:
                raise _replication_error(factor, error) from None
        if validate_only:
            return None
        await self.metadata.create_partitions(name, count, assignment)
        self.log.info(
            "Topic {topic} grew from {previous} to {partitions} partitions",
            topic=name,
            previous=current,
            partitions=count,
        )
        return None


def register(
    registry: HandlerRegistry,
    *,
    config: KafkaConfig,
    metadata: IMetadataStore,
    node_id: int,
) -> None:
    """
    Register CreateTopics, DeleteTopics and CreatePartitions.

    @param registry: the registry to add them to.
    @param config: the broker's static configuration.
    @param metadata: the metadata store.
    @param node_id: this broker's id.
    """
    handler = TopicsHandler(DynamicBrokerConfig(config, metadata, node_id))
    registry.register(
        ApiKey.CREATE_TOPICS, handler.create_topics, CREATE_TOPICS_VERSIONS
    )
    registry.register(
        ApiKey.DELETE_TOPICS, handler.delete_topics, DELETE_TOPICS_VERSIONS
    )
    registry.register(
        ApiKey.CREATE_PARTITIONS, handler.create_partitions, CREATE_PARTITIONS_VERSIONS
    )
