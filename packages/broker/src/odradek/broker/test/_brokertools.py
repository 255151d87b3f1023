"""
Helpers for tests of the layers above the log (replication, request handlers): a
one-broker setup in a test's temporary directory, with a L{LogManager}, a
L{LocalMetadataStore} and a started L{ReplicaManager} sharing one C{Clock}; and
requests and responses through the handler registry.

This module holds no tests.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import random
import sys
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, cast

from kio.index import load_request_schema
from kio.static.protocol import RequestPayload, ResponsePayload
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from odradek.broker.apis import (
    ANONYMOUS,
    ConnectionInfo,
    HandlerRegistry,
    RequestContext,
)
from odradek.broker.apis.errors import build_error_response
from odradek.broker.config import Endpoint, KafkaConfig, SecurityProtocol
from odradek.broker.log import LogConfig, LogManager, TopicPartition
from odradek.broker.metadata import (
    BrokerRegistration,
    LocalMetadataStore,
    TopicMetadata,
)
from odradek.broker.replication import ReplicaManager
from odradek.broker.server.response import encode_response_parts
from odradek.broker.test._logtools import START_MS
from odradek.broker.test._servertools import (
    CLIENT_ADDRESS,
    SERVER_ADDRESS,
    materialize,
)
from odradek.client.protocol import ApiKey, RequestHeader, decode_response

__all__ = [
    "NODE_ID",
    "BrokerFixture",
    "call_handler",
    "context_for",
    "entity",
    "fetch_request",
    "produce_request",
    "request_module",
    "round_trip",
]

NODE_ID = 1
"""The broker id of every fixture."""

CLUSTER_ID = "Dx4tPEtaaXiHlqW0w9Lh8A"
"""The cluster id of every fixture."""


class BrokerFixture:
    """
    One broker's storage and replication in a temporary directory, its clock at
    L{START_MS <odradek.broker.test._logtools.START_MS>}. The replica manager is
    started; the test's cleanup stops it and shuts the log manager down.

    @ivar clock: the reactor of the replica manager and the clock of the logs.
    @ivar directory: the log directory.
    @ivar config: the broker's configuration.
    @ivar metadata: the metadata store.
    @ivar log_manager: the log manager.
    @ivar replica_manager: the replica manager.
    """

    def __init__(
        self,
        test: SynchronousTestCase,
        properties: Mapping[str, str] | None = None,
        *,
        directory: str | None = None,
        clock: Clock | None = None,
    ) -> None:
        """
        @param test: the test, for its temporary directory and cleanups.
        @param properties: broker properties on top of C{log.dirs}.
        @param directory: the log directory to use (to reopen one); a new temporary
            one by default.
        @param clock: the clock to use; a new one at C{START_MS} by default.
        """
        if clock is None:
            clock = Clock()
            clock.advance(START_MS / 1000)
        self.clock = clock
        self.directory = directory or os.path.abspath(test.mktemp())
        os.makedirs(self.directory, exist_ok=True)
        self.config = KafkaConfig.from_properties(
            {"log.dirs": self.directory, "node.id": str(NODE_ID), **(properties or {})}
        )
        broker = BrokerRegistration(
            NODE_ID,
            (Endpoint("PLAINTEXT", SecurityProtocol.PLAINTEXT, "localhost", 9092),),
        )
        self.metadata = LocalMetadataStore.open(
            self.directory, cluster_id=CLUSTER_ID, broker=broker
        )
        self.log_manager = LogManager.start(
            [self.directory],
            self.config.log_config,
            self.now_ms,
            rng=random.Random(4),
        )
        self.replica_manager = ReplicaManager(
            node_id=NODE_ID,
            log_manager=self.log_manager,
            metadata=self.metadata,
            config=self.config,
            reactor=self.clock,
        )
        self.replica_manager.startService()
        self._stopped = False
        test.addCleanup(self.stop)

    def now_ms(self) -> int:
        """
        @return: the clock's time in milliseconds.
        """
        return round(self.clock.seconds() * 1000)

    def stop(self) -> None:
        """
        Stop the replica manager and shut the log manager down (once).
        """
        if self._stopped:
            return
        self._stopped = True
        if self.replica_manager.running:
            self.replica_manager.stopService()
        self.log_manager.shutdown()

    def create_topic(
        self,
        name: str,
        partitions: int = 1,
        configs: Mapping[str, str] | None = None,
    ) -> TopicMetadata:
        """
        Create a topic on this broker.

        @return: the topic.
        """
        created: Deferred[TopicMetadata] = self.metadata.create_topic(
            name, [[NODE_ID]] * partitions, configs
        )
        result: list[TopicMetadata] = []
        created.addCallback(result.append)
        assert result, "the metadata store did not create the topic at once"
        return result[0]

    def log_config(self, topic: str) -> LogConfig:
        """
        @return: the config of a topic's logs.
        """
        return self.log_manager.config_for(topic)

    def partition(self, topic: str, index: int = 0) -> Any:
        """
        @return: the replica manager's partition.
        """
        partition = self.replica_manager.get_partition(TopicPartition(topic, index))
        assert partition is not None, f"no partition {topic}-{index}"
        return partition


def context_for(
    request: RequestPayload,
    clock: Clock,
    correlation_id: int = 7,
    client_id: str | None = "test",
) -> RequestContext:
    """
    @return: the context of C{request}, as the server would make it.
    """
    request_class = cast(Any, type(request))
    header = RequestHeader(
        request_class.__api_key__,
        request_class.__version__,
        correlation_id,
        client_id,
    )
    connection = ConnectionInfo(
        "127.0.0.1:9092-10.0.0.7:51234-1",
        CLIENT_ADDRESS,
        SERVER_ADDRESS,
        "PLAINTEXT",
        "PLAINTEXT",
        ANONYMOUS,
    )
    return RequestContext(header, connection, clock)


def call_handler(
    registry: HandlerRegistry,
    request: RequestPayload,
    clock: Clock,
    *,
    client_id: str | None = "test",
) -> Any:
    """
    Call the registered handler of C{request}'s API as the server would, turning a
    failure into the API's error response.

    @return: what the handler returned (a response, an action or a C{Deferred}), or
        the error response if it raised; a failed C{Deferred} fires with the error
        response.
    @raise AssertionError: if the version is not registered.
    """
    request_class = cast(Any, type(request))
    entry = registry.get(request_class.__api_key__)
    assert entry is not None, f"API {request_class.__api_key__} is not registered"
    assert request_class.__version__ in entry.versions
    context = context_for(request, clock, client_id=client_id)
    try:
        result = entry.handler(context, request)
    except Exception as error:
        return build_error_response(entry, context, request, error)
    if isinstance(result, Deferred):

        def answer(failure: Failure) -> Any:
            error = failure.value
            assert error is not None
            return build_error_response(entry, context, request, error)

        result.addErrback(answer)
    return result


def request_module(api_key: int, version: int) -> Any:
    """
    @return: kio's module of the request schemas of one API version, whose nested
        entity classes the request builders need.
    """
    return sys.modules[load_request_schema(api_key, version).__module__]


def entity(entity_class: Any, **values: Any) -> Any:
    """
    Build a kio entity from values named as in its newest version, keeping those the
    class has: tests describe a request once and build it in every version.
    """
    names = {field.name for field in dataclasses.fields(entity_class)}
    return entity_class(**{k: v for k, v in values.items() if k in names})


def _grouped(items: Sequence[tuple[TopicPartition, Any]]) -> dict[str, list[Any]]:
    topics: dict[str, list[Any]] = {}
    for tp, value in items:
        topics.setdefault(tp.topic, []).append((tp.partition, value))
    return topics


def produce_request(
    version: int,
    partitions: Sequence[tuple[TopicPartition, bytes | None]],
    *,
    acks: int = -1,
    timeout_ms: int = 30000,
    transactional_id: str | None = None,
    topic_ids: Mapping[str, uuid.UUID] | None = None,
) -> Any:
    """
    @param partitions: each partition with its records, in request order (a topic's
        partitions are grouped under its first appearance).
    @param topic_ids: the topic ids to send from version 13; random ones by default.
    @return: a Produce request of C{version}.
    """
    schema = request_module(ApiKey.PRODUCE, version)
    topics = tuple(
        entity(
            schema.TopicProduceData,
            name=name,
            topic_id=(topic_ids or {}).get(name, uuid.uuid4()),
            partition_data=tuple(
                schema.PartitionProduceData(index=index, records=records)
                for index, records in values
            ),
        )
        for name, values in _grouped(partitions).items()
    )
    return entity(
        schema.ProduceRequest,
        transactional_id=transactional_id,
        acks=acks,
        timeout=datetime.timedelta(milliseconds=timeout_ms),
        topic_data=topics,
    )


def fetch_request(
    version: int,
    partitions: Sequence[tuple[TopicPartition, int]],
    *,
    max_wait_ms: int = 0,
    min_bytes: int = 1,
    max_bytes: int = 50 * 1024 * 1024,
    partition_max_bytes: int = 1024 * 1024,
    isolation_level: int = 0,
    session_id: int = 0,
    session_epoch: int = -1,
    replica_id: int = -1,
    current_leader_epoch: int = -1,
    topic_ids: Mapping[str, uuid.UUID] | None = None,
) -> Any:
    """
    @param partitions: each partition with its fetch offset, in request order.
    @param topic_ids: the topic ids to send from version 13; random ones by default.
    @return: a Fetch request of C{version}.
    """
    schema = request_module(ApiKey.FETCH, version)
    topics = tuple(
        entity(
            schema.FetchTopic,
            topic=name,
            topic_id=(topic_ids or {}).get(name, uuid.uuid4()),
            partitions=tuple(
                entity(
                    schema.FetchPartition,
                    partition=index,
                    current_leader_epoch=current_leader_epoch,
                    fetch_offset=offset,
                    last_fetched_epoch=-1,
                    log_start_offset=-1,
                    partition_max_bytes=partition_max_bytes,
                )
                for index, offset in values
            ),
        )
        for name, values in _grouped(partitions).items()
    )
    replica_state = getattr(schema, "ReplicaState", None)
    return entity(
        schema.FetchRequest,
        replica_id=replica_id,
        replica_state=(
            None
            if replica_state is None
            else replica_state(replica_id=replica_id, replica_epoch=-1)
        ),
        max_wait=datetime.timedelta(milliseconds=max_wait_ms),
        min_bytes=min_bytes,
        max_bytes=max_bytes,
        isolation_level=isolation_level,
        session_id=session_id,
        session_epoch=session_epoch,
        topics=topics,
        forgotten_topics_data=(),
        rack_id="",
    )


def round_trip(response: ResponsePayload) -> Any:
    """
    Encode a response as the server does, file regions included, and decode it as a
    client would.

    @return: the decoded response, its C{records} fields as bytes.
    """
    response_class = cast(Any, type(response))
    parts = encode_response_parts(7, response)
    frame = materialize(parts.parts)
    _, decoded = decode_response(
        frame[4:], response_class.__api_key__, response_class.__version__
    )
    return decoded
