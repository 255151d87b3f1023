"""
InitProducerId (API key 22), versions 0 to 5: give an idempotent producer its
producer id.

As Kafka's transaction coordinator does for a producer without a transactional id,
every request gets a new producer id with epoch 0, from the broker's
L{ProducerIdManager <odradek.broker.replication.ProducerIdManager>}, whatever
producer id and epoch it names (versions 3 on, KIP-360): an idempotent producer
bumps its epoch itself and asks for a new id only when the epoch would overflow or
its state is lost. A producer id and an epoch must both be given or both be -1, else
C{INVALID_REQUEST}.

Transactions are not supported yet. A request with a transactional id is answered
as a broker that hosts no partition of C{__transaction_state} answers it: an empty
id with C{INVALID_REQUEST}, a transaction timeout outside 1 ms to
C{transaction.max.timeout.ms} with C{INVALID_TRANSACTION_TIMEOUT}, and any other with
C{NOT_COORDINATOR} (the producer looks for its transaction coordinator again, which
FindCoordinator reports as not available, until its own timeout).
"""

from __future__ import annotations

import datetime
import sys
from typing import Any, Final

import attrs
from kio.static.primitive import i16, i64
from kio.static.protocol import ResponsePayload
from twisted.internet.defer import Deferred

from odradek.broker.apis._schema import NO_THROTTLE
from odradek.broker.apis.context import RequestContext
from odradek.broker.apis.errors import kio_error_code
from odradek.broker.apis.registry import HandlerRegistry, Outcome
from odradek.broker.config import KafkaConfig
from odradek.broker.metadata import IMetadataStore
from odradek.broker.replication import ProducerIdManager, ReplicaManager
from odradek.client.errors import (
    InvalidRequestError,
    InvalidTxnTimeoutError,
    KafkaError,
    NotCoordinatorError,
)
from odradek.client.protocol import ApiKey, VersionRange, response_type

__all__ = ["INIT_PRODUCER_ID_VERSIONS", "InitProducerIdHandler", "register"]

INIT_PRODUCER_ID_VERSIONS: Final = VersionRange(0, 5)
"""The versions served: Apache Kafka 4.0's (version 6 is KIP-939's two-phase
commit)."""

_FIRST_EXISTING_PRODUCER_VERSION: Final = 3


@attrs.frozen
class InitProducerIdHandler:
    """
    Answers InitProducerId requests; see the module's description.

    @ivar producer_id_manager: hands out the producer ids.
    @ivar broker_id: this broker's id, for messages.
    @ivar transaction_max_timeout_ms: the broker's C{transaction.max.timeout.ms}.
    """

    producer_id_manager: ProducerIdManager
    broker_id: int
    transaction_max_timeout_ms: int

    def __call__(self, context: RequestContext, request: Any) -> Deferred[Outcome]:
        version = context.api_version
        if version >= _FIRST_EXISTING_PRODUCER_VERSION:
            producer_id, epoch = request.producer_id, request.producer_epoch
            if (producer_id == -1) != (epoch == -1):
                raise InvalidRequestError(
                    f"producer id {producer_id} and producer epoch {epoch} must both"
                    " be given or both be -1"
                )
        transactional_id = request.transactional_id
        if transactional_id is not None:
            self._refuse_transactional(transactional_id, request.transaction_timeout)
        generated = self.producer_id_manager.generate_producer_id()
        return generated.addCallback(self._respond, version)

    def _refuse_transactional(
        self, transactional_id: str, timeout: datetime.timedelta
    ) -> None:
        if not transactional_id:
            raise InvalidRequestError("the transactional id must not be empty")
        timeout_ms = round(timeout.total_seconds() * 1000)
        if not 0 < timeout_ms <= self.transaction_max_timeout_ms:
            raise InvalidTxnTimeoutError(
                f"transaction timeout {timeout_ms} ms is not within 1 ms and"
                f" transaction.max.timeout.ms {self.transaction_max_timeout_ms} ms"
            )
        raise NotCoordinatorError(
            f"broker {self.broker_id} is not the transaction coordinator of"
            f" transactional id {transactional_id!r}: transactions are not"
            " supported yet"
        )

    def _respond(self, producer_id: int, version: int) -> ResponsePayload:
        return _response(version, 0, producer_id, 0)


def _response(version: int, code: int, producer_id: int, epoch: int) -> ResponsePayload:
    schema = sys.modules[response_type(ApiKey.INIT_PRODUCER_ID, version).__module__]
    response: ResponsePayload = schema.InitProducerIdResponse(
        throttle_time=NO_THROTTLE,
        error_code=kio_error_code(code),
        producer_id=i64(producer_id),
        producer_epoch=i16(epoch),
    )
    return response


def _error_response(
    context: RequestContext, request: Any, error: KafkaError
) -> ResponsePayload:
    """
    Answer a failed request with the error, producer id -1 and epoch -1 (not the
    ones the request named), as Kafka does.
    """
    return _response(context.api_version, error.code, -1, -1)


def register(
    registry: HandlerRegistry,
    replica_manager: ReplicaManager,
    *,
    config: KafkaConfig,
    metadata: IMetadataStore,
    producer_id_manager: ProducerIdManager | None = None,
) -> ProducerIdManager:
    """
    Register the InitProducerId handler.

    @param registry: the broker's handlers.
    @param replica_manager: the broker's partitions (for its broker id).
    @param config: the broker's configuration, for C{transaction.max.timeout.ms}.
    @param metadata: reserves the blocks of producer ids.
    @param producer_id_manager: hands out the producer ids; by default a new one
        reserving blocks from C{metadata}.
    @return: the producer id manager in use.
    """
    if producer_id_manager is None:
        producer_id_manager = ProducerIdManager(replica_manager.node_id, metadata)
    max_timeout_ms = config.get("transaction.max.timeout.ms")
    assert isinstance(max_timeout_ms, int)
    registry.register(
        ApiKey.INIT_PRODUCER_ID,
        InitProducerIdHandler(
            producer_id_manager, replica_manager.node_id, max_timeout_ms
        ),
        INIT_PRODUCER_ID_VERSIONS,
        error_response=_error_response,
    )
    return producer_id_manager
