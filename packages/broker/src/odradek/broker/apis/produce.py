"""
Produce (API key 0), versions 3 to 13: append a producer's record batches.

The checks Kafka makes before appending (C{KafkaApis.handleProduceRequest} and
C{ProduceRequest.validateRecords}) are made here, from the batch headers alone; the
log validates the batches themselves (see L{LogValidator
<odradek.broker.log.LogValidator>}):

  - a batch marked transactional in a request without a transactional id fails the
    whole request with C{TRANSACTIONAL_ID_AUTHORIZATION_FAILED}. With a transactional
    id, each such partition fails with C{INVALID_TXN_STATE}: transactions are not
    supported yet, so no partition can have been added to a transaction;
  - a topic the metadata does not know fails its partitions with
    C{UNKNOWN_TOPIC_OR_PARTITION}, and from version 13 (topic ids, KIP-516) an
    unknown topic id with C{UNKNOWN_TOPIC_ID};
  - each partition must hold exactly one record batch of magic 2, else
    C{INVALID_RECORD}; zstd needs version 7 (C{UNSUPPORTED_COMPRESSION_TYPE}).

C{acks} may be 0, 1 or -1; any other value fails every partition with
C{INVALID_REQUIRED_ACKS}. With C{acks=0} the producer expects no answer: none is
sent, unless a partition failed, in which case the connection is closed so that the
producer notices, as Kafka does; the same holds for a failure of the whole request.

Every partition error carries a message naming the partition and the cause in the
response's C{error_message} (version 8 on).
"""

from __future__ import annotations

import datetime
import struct
import sys
from typing import Any, Final

import attrs
from kio.static.protocol import ResponsePayload
from twisted.internet.defer import Deferred, succeed
from twisted.logger import Logger

from odradek.broker.apis._schema import NO_THROTTLE
from odradek.broker.apis.context import RequestContext
from odradek.broker.apis.errors import generic_error_response, kio_error_code
from odradek.broker.apis.registry import (
    CLOSE_CONNECTION,
    NO_RESPONSE,
    HandlerRegistry,
    Outcome,
)
from odradek.broker.config import KafkaConfig
from odradek.broker.log import TopicPartition
from odradek.broker.replication import PartitionProduceResult, ReplicaManager
from odradek.client.errors import (
    InvalidRecordError,
    InvalidTxnStateError,
    KafkaError,
    TransactionalIdAuthorizationError,
    UnknownTopicIdError,
    UnknownTopicOrPartitionError,
    UnsupportedCompressionTypeError,
)
from odradek.client.protocol import ApiKey, VersionRange, response_type
from odradek.client.records.layout import (
    ATTRIBUTES_OFFSET,
    COMPRESSION_MASK,
    LOG_OVERHEAD,
    MAGIC_OFFSET,
    TRANSACTIONAL_FLAG,
)

__all__ = ["ADMIN_CLIENT_ID", "PRODUCE_VERSIONS", "ProduceHandler", "register"]

PRODUCE_VERSIONS: Final = VersionRange(3, 13)
"""The versions served: every version with record batches (magic 2)."""

ADMIN_CLIENT_ID: Final = "__admin_client"
"""The client id Kafka lets append to the internal topics."""

_EPOCH: Final = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
_LENGTH: Final = struct.Struct(">i")
_ATTRIBUTES: Final = struct.Struct(">h")
_ZSTD: Final = 4
_MIN_BATCH_LENGTH: Final = 14
_FIRST_TOPIC_ID_VERSION: Final = 13

_log = Logger()

# A partition of the request: its index, and either the partition to append to or
# the result it already has.
_Slot = tuple[int, TopicPartition | None, PartitionProduceResult | None]


def _milliseconds(value: datetime.timedelta) -> int:
    return round(value.total_seconds() * 1000)


def _first_batch(records: bytes | None) -> tuple[int, int, int] | None:
    """
    @return: the size, magic and attributes of the first complete batch, or
        C{None} if C{records} holds none (Kafka's iterator skips a partial batch);
        a size below the minimum is returned for the log to refuse as corrupt.
    """
    if records is None or len(records) < LOG_OVERHEAD:
        return None
    length: int = _LENGTH.unpack_from(records, 8)[0]
    if length < _MIN_BATCH_LENGTH:
        return length + LOG_OVERHEAD, 2, 0
    size = length + LOG_OVERHEAD
    if size > len(records):
        return None
    (attributes,) = _ATTRIBUTES.unpack_from(records, ATTRIBUTES_OFFSET)
    return size, records[MAGIC_OFFSET], attributes


def _has_second_batch(records: bytes, first_size: int) -> bool:
    remaining = len(records) - first_size
    if remaining < LOG_OVERHEAD:
        return False
    length: int = _LENGTH.unpack_from(records, first_size + 8)[0]
    return bool(length + LOG_OVERHEAD <= remaining)


def _check_records(
    records: bytes | None, version: int, tp: TopicPartition, transactional: bool
) -> KafkaError | None:
    """
    @return: the error Kafka gives before appending C{records}, if any.
    """
    first = _first_batch(records)
    if records is None or first is None:
        return InvalidRecordError(
            f"Produce requests with version {version} must have at least one record"
            f" batch per partition; the one for {tp} has none"
        )
    size, magic, attributes = first
    if magic in (0, 1):
        return InvalidRecordError(
            f"Produce requests with version {version} are only allowed to contain"
            f" record batches with magic version 2; the one for {tp} has magic {magic}"
        )
    if version < 7 and attributes & COMPRESSION_MASK == _ZSTD:
        return UnsupportedCompressionTypeError(
            f"Produce requests with version {version} are not allowed to use"
            f" ZStandard compression (partition {tp})"
        )
    if _has_second_batch(records, size):
        return InvalidRecordError(
            f"Produce requests with version {version} are only allowed to contain"
            f" exactly one record batch per partition; the one for {tp} has more"
        )
    if transactional and attributes & TRANSACTIONAL_FLAG:
        return InvalidTxnStateError(
            f"Partition {tp} was not added to the transaction: transactions are not"
            " supported by this broker yet"
        )
    return None


def _has_transactional_records(request: Any) -> bool:
    for topic in request.topic_data:
        for partition in topic.partition_data:
            first = _first_batch(partition.records)
            if first is not None and first[2] & TRANSACTIONAL_FLAG:
                return True
    return False


@attrs.frozen
class ProduceHandler:
    """
    Answers Produce requests; see the module's description.

    @ivar replica_manager: appends the records.
    """

    replica_manager: ReplicaManager

    def __call__(
        self, context: RequestContext, request: Any
    ) -> Outcome | Deferred[Outcome]:
        version = context.api_version
        transactional = request.transactional_id is not None
        if not transactional and _has_transactional_records(request):
            raise TransactionalIdAuthorizationError(
                "a produce request with transactional record batches must name its"
                " transactional id"
            )
        metadata = self.replica_manager.metadata
        entries: dict[TopicPartition, bytes] = {}
        plan: list[tuple[Any, list[_Slot]]] = []
        for topic in request.topic_data:
            if version >= _FIRST_TOPIC_ID_VERSION:
                name = self.replica_manager.topic_name(topic.topic_id)
            else:
                name = topic.name
            known = None if name is None else metadata.topic(name)
            slots: list[_Slot] = []
            for partition in topic.partition_data:
                index = partition.index
                if name is None:
                    error: KafkaError | None = UnknownTopicIdError(
                        f"Topic id {topic.topic_id} is not known"
                    )
                    slots.append((index, None, PartitionProduceResult(error)))
                    continue
                tp = TopicPartition(name, index)
                if known is None or not 0 <= index < known.partition_count:
                    error = UnknownTopicOrPartitionError(
                        f"This server does not host partition {tp}"
                    )
                else:
                    error = _check_records(
                        partition.records, version, tp, transactional
                    )
                if error is None:
                    entries[tp] = partition.records
                    slots.append((index, tp, None))
                else:
                    slots.append((index, tp, PartitionProduceResult(error)))
            plan.append((topic, slots))
        if entries:
            appended = self.replica_manager.append_records(
                timeout_ms=_milliseconds(request.timeout),
                required_acks=request.acks,
                entries=entries,
                internal_topics_allowed=context.client_id == ADMIN_CLIENT_ID,
            )
        else:
            appended = succeed({})
        return appended.addCallback(self._respond, context, request, plan)

    def _respond(
        self,
        results: dict[TopicPartition, PartitionProduceResult],
        context: RequestContext,
        request: Any,
        plan: list[tuple[Any, list[_Slot]]],
    ) -> Outcome:
        version = context.api_version
        if request.acks == 0:
            errors = [
                f"{tp}: {error.name}"
                for _, slots in plan
                for _, tp, early in slots
                if (error := _result_of(tp, early, results).error) is not None
            ]
            if not errors:
                return NO_RESPONSE
            _log.info(
                "Closing connection {connection} after errors in a produce request"
                " with acks=0 (correlation id {correlation_id}, client {client_id}):"
                " {errors}",
                connection=context.connection.connection_id,
                correlation_id=context.correlation_id,
                client_id=context.client_id,
                errors=", ".join(errors),
            )
            return CLOSE_CONNECTION
        schema = sys.modules[response_type(ApiKey.PRODUCE, version).__module__]
        topics = []
        for topic, slots in plan:
            partitions = []
            for index, tp, early in slots:
                result = _result_of(tp, early, results)
                partitions.append(_partition_response(schema, version, index, result))
            if version >= _FIRST_TOPIC_ID_VERSION:
                key: dict[str, Any] = {"topic_id": topic.topic_id}
            else:
                key = {"name": topic.name}
            topics.append(
                schema.TopicProduceResponse(
                    partition_responses=tuple(partitions), **key
                )
            )
        response: ResponsePayload = schema.ProduceResponse(
            responses=tuple(topics), throttle_time=NO_THROTTLE
        )
        return response


def _result_of(
    tp: TopicPartition | None,
    early: PartitionProduceResult | None,
    results: dict[TopicPartition, PartitionProduceResult],
) -> PartitionProduceResult:
    if early is not None:
        return early
    assert tp is not None
    return results[tp]


def _partition_response(
    schema: Any, version: int, index: int, result: PartitionProduceResult
) -> Any:
    error = result.error
    # Plain ints where kio's phantom types (i32, i64) would check ranges at a
    # microsecond a call: the writer refuses a number that does not fit its field.
    values: dict[str, Any] = {
        "index": index,
        "error_code": kio_error_code(0 if error is None else error.code),
        "base_offset": result.base_offset,
        "log_append_time": (
            None
            if result.log_append_time < 0
            else _EPOCH + datetime.timedelta(milliseconds=result.log_append_time)
        ),
    }
    if version >= 5:
        values["log_start_offset"] = result.log_start_offset
    if version >= 8:
        values["record_errors"] = ()
        values["error_message"] = None if error is None else error.message
    return schema.PartitionProduceResponse(**values)


def _error_response(
    context: RequestContext, request: Any, error: KafkaError
) -> ResponsePayload | None:
    """
    Answer a failed Produce request with the error on every partition, or close the
    connection if the producer expects no answer (C{acks=0}), as Kafka does.
    """
    if request.acks == 0:
        return None
    return generic_error_response(
        response_type(ApiKey.PRODUCE, context.api_version), request, error
    )


def register(
    registry: HandlerRegistry,
    replica_manager: ReplicaManager,
    *,
    config: KafkaConfig,
) -> None:
    """
    Register the Produce handler.

    @param registry: the broker's handlers.
    @param replica_manager: appends the records.
    @param config: the broker's configuration.
    """
    registry.register(
        ApiKey.PRODUCE,
        ProduceHandler(replica_manager),
        PRODUCE_VERSIONS,
        error_response=_error_response,
    )
