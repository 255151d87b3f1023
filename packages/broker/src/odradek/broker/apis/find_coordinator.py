"""
FindCoordinator (API key 10, versions 0 to 6): which broker coordinates a consumer
group.

As in Kafka (C{KafkaApis.getCoordinator}):

  - a group (key type 0) is coordinated by the leader of partition
    C{partition_for(group_id, offsets.topic.num.partitions)} of
    C{__consumer_offsets}, answered with that broker's endpoint on the listener the
    request came in on. The topic is created on the first request that needs it;
    until it exists (or while too few brokers are alive to create it) the answer
    is C{COORDINATOR_NOT_AVAILABLE}, which clients retry. A partition still being
    loaded is answered with its leader anyway: the group requests sent there get
    C{COORDINATOR_LOAD_IN_PROGRESS} until it is loaded;
  - transactional ids (key type 1) get C{COORDINATOR_NOT_AVAILABLE}: this broker
    has no transaction coordinator yet;
  - share groups (key type 2) and unknown key types get C{INVALID_REQUEST}, as
    Kafka answers when share groups are disabled.

Versions 4 and later carry several keys at once and get one answer per key; the
older ones carry one key and report a failure with no node (id -1, host C{""}, port
-1).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final

import attrs
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.logger import Logger
from twisted.python.failure import Failure

from odradek.broker.apis._schema import NO_THROTTLE, build, element, response_class
from odradek.broker.apis.context import RequestContext
from odradek.broker.apis.errors import kio_error_code
from odradek.broker.apis.metadata import endpoint_for
from odradek.broker.apis.registry import HandlerRegistry
from odradek.broker.config import KafkaConfig
from odradek.broker.coordinator.group.placement import partition_for
from odradek.broker.metadata import IMetadataStore
from odradek.broker.metadata.topics import CONSUMER_OFFSETS_TOPIC
from odradek.client.errors import CoordinatorNotAvailableError, InvalidRequestError
from odradek.client.protocol import ApiKey, VersionRange

__all__ = ["FIND_COORDINATOR_VERSIONS", "FindCoordinatorHandler", "register"]

FIND_COORDINATOR_VERSIONS: Final = VersionRange(0, 6)
"""The versions served: all of them."""

GROUP: Final = 0
TRANSACTION: Final = 1
_BATCHED_VERSION: Final = 4
_NO_NODE: Final = (-1, "", -1)

# One key's answer: error code, error message, and the node (id, host, port).
_Answer = tuple[int, str | None, tuple[int, str, int]]


@attrs.frozen
class FindCoordinatorHandler:
    """
    Answer FindCoordinator requests; see the module's description.

    @ivar config: the broker's configuration (C{offsets.topic.num.partitions}).
    @ivar metadata: the metadata store: the partitions of C{__consumer_offsets}
        and the brokers leading them.
    @ivar ensure_offsets_topic: creates C{__consumer_offsets} if it does not exist
        yet; fires with whether it exists now.
    @ivar log: where failures to create the topic are reported.
    """

    config: KafkaConfig
    metadata: IMetadataStore
    ensure_offsets_topic: Callable[[], Deferred[bool]]
    log: Logger = attrs.field(factory=Logger)

    def handle(self, context: RequestContext, request: Any) -> Any:
        """
        @param context: the request's context.
        @param request: the kio FindCoordinator request.
        @return: the response, or a Deferred of it for group keys.
        """
        key_type = getattr(request, "key_type", GROUP)
        if context.api_version < _BATCHED_VERSION:
            keys: Sequence[str] = (request.key,)
        else:
            keys = request.coordinator_keys
        if key_type != GROUP or not keys:
            return self._respond(context, key_type, keys, False)
        ensured: Deferred[bool] = maybeDeferred(self.ensure_offsets_topic)
        ensured.addErrback(self._not_ensured)
        return ensured.addCallback(
            lambda ready: self._respond(context, key_type, keys, ready)
        )

    def _not_ensured(self, failure: Failure) -> bool:
        self.log.failure(
            "Could not create {topic}", failure, topic=CONSUMER_OFFSETS_TOPIC
        )
        return False

    def _answer(self, key_type: int, key: str, ready: bool, listener: str) -> _Answer:
        if key_type == TRANSACTION:
            return (
                CoordinatorNotAvailableError.code,
                "The transaction coordinator is not available: this broker does "
                "not run transactions yet.",
                _NO_NODE,
            )
        if key_type != GROUP:
            return (
                InvalidRequestError.code,
                f"Unsupported coordinator type {key_type}.",
                _NO_NODE,
            )
        unavailable = (
            CoordinatorNotAvailableError.code,
            "The coordinator is not available.",
            _NO_NODE,
        )
        topic = self.metadata.topic(CONSUMER_OFFSETS_TOPIC) if ready else None
        if topic is None:
            return unavailable
        partition = partition_for(key, self.config.offsets_topic_num_partitions)
        if partition >= topic.partition_count:
            return unavailable
        leader = topic.partitions[partition].leader
        broker = self.metadata.brokers().get(leader)
        endpoint = endpoint_for(broker, listener) if broker is not None else None
        if endpoint is None:
            return unavailable
        return 0, None, (leader, endpoint.host, endpoint.port)

    def _respond(
        self,
        context: RequestContext,
        key_type: int,
        keys: Sequence[str],
        ready: bool,
    ) -> Any:
        response = response_class(context)
        listener = context.listener_name
        answers = [self._answer(key_type, key, ready, listener) for key in keys]
        if context.api_version < _BATCHED_VERSION:
            [(code, message, (node_id, host, port))] = answers
            return build(
                response,
                throttle_time=NO_THROTTLE,
                error_code=kio_error_code(code),
                error_message=message,
                node_id=node_id,
                host=host,
                port=port,
            )
        coordinator_class = element(response, "coordinators")
        return build(
            response,
            throttle_time=NO_THROTTLE,
            coordinators=tuple(
                build(
                    coordinator_class,
                    key=key,
                    error_code=kio_error_code(code),
                    error_message=message,
                    node_id=node_id,
                    host=host,
                    port=port,
                )
                for key, (code, message, (node_id, host, port)) in zip(
                    keys, answers, strict=True
                )
            ),
        )


def register(
    registry: HandlerRegistry,
    *,
    config: KafkaConfig,
    metadata: IMetadataStore,
    ensure_offsets_topic: Callable[[], Deferred[bool]],
) -> None:
    """
    Register FindCoordinator.

    @param registry: the registry to add it to.
    @param config: the broker's configuration.
    @param metadata: the metadata store.
    @param ensure_offsets_topic: creates C{__consumer_offsets} when it is missing
        and fires with whether it exists (the group coordinator service's
        C{ensure_offsets_topic}).
    """
    handler = FindCoordinatorHandler(config, metadata, ensure_offsets_topic)
    registry.register(
        ApiKey.FIND_COORDINATOR, handler.handle, FIND_COORDINATOR_VERSIONS
    )
