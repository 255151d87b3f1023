"""
Fetch (API key 1), versions 4 to 18: read record batches, waiting up to C{max_wait}
for C{min_bytes}.

The records of each partition are a region of a segment file, put in the response
with L{records_region <odradek.broker.server.response.records_region>}: the server
sends them from the page cache (with C{os.sendfile} on plain TCP) and nothing here
reads or decodes them.

As in Kafka:

  - C{max_bytes} is capped by the broker's C{fetch.max.bytes}, and C{min_bytes} by
    that; each partition returns at most its C{partition_max_bytes}, except that the
    first batch of the first partition with data is returned whole (KIP-74);
  - consumers read up to the high watermark (read_uncommitted) or the last stable
    offset (read_committed, which then gets an empty list of aborted transactions;
    read_uncommitted gets none);
  - from version 13 topics are named by id (KIP-516): an unknown id fails its
    partitions with C{UNKNOWN_TOPIC_ID}; an unknown topic name or partition fails
    with C{UNKNOWN_TOPIC_OR_PARTITION};
  - a topic whose C{compression.type} is zstd answers C{UNSUPPORTED_COMPRESSION_TYPE}
    below version 10, and C{KAFKA_STORAGE_ERROR} becomes C{NOT_LEADER_OR_FOLLOWER}
    up to version 5, which older clients understand.

Fetch sessions (KIP-227, version 7 on) are not kept, as in a Kafka broker whose
session cache has no room: a full fetch (session epoch 0 or -1) is answered with
session id 0, which tells the client that no session was created, and it keeps
sending full fetches; an incremental fetch (any other epoch) names a session that
does not exist and is answered with C{FETCH_SESSION_ID_NOT_FOUND} and no data.
The rack id is ignored (every read is from the leader, so the preferred read
replica is always -1).
"""

from __future__ import annotations

import datetime
import sys
from typing import Any, Final

import attrs
from kio.static.primitive import i32
from kio.static.protocol import ResponsePayload
from twisted.internet.defer import Deferred, succeed

from odradek.broker.apis._schema import NO_THROTTLE
from odradek.broker.apis.context import RequestContext
from odradek.broker.apis.errors import kio_error_code
from odradek.broker.apis.registry import HandlerRegistry, Outcome
from odradek.broker.config import KafkaConfig
from odradek.broker.log import TopicPartition
from odradek.broker.replication import (
    IsolationLevel,
    LogReadResult,
    PartitionFetchInfo,
    ReplicaManager,
)
from odradek.broker.server.response import records_region
from odradek.client.errors import (
    FetchSessionIdNotFoundError,
    InvalidRequestError,
    KafkaError,
    KafkaStorageError,
    NotLeaderOrFollowerError,
    UnknownTopicIdError,
    UnknownTopicOrPartitionError,
    UnsupportedCompressionTypeError,
)
from odradek.client.protocol import ApiKey, VersionRange, response_type

__all__ = ["FETCH_VERSIONS", "FetchHandler", "register"]

FETCH_VERSIONS: Final = VersionRange(4, 18)
"""The versions served: every version with record batches (magic 2). Versions 15
to 18 add only fields that followers send (tagged, ignored here)."""

_INITIAL_EPOCH: Final = 0
_FINAL_EPOCH: Final = -1
_NO_SESSION: Final = 0
_FIRST_SESSION_VERSION: Final = 7
_FIRST_ZSTD_VERSION: Final = 10
_FIRST_TOPIC_ID_VERSION: Final = 13
_FIRST_REPLICA_STATE_VERSION: Final = 15
_LAST_STORAGE_ERROR_DOWNGRADE_VERSION: Final = 5

# A partition of the request: its index, and either what to read or the error it
# already has.
_Slot = tuple[int, PartitionFetchInfo | KafkaError]


def _milliseconds(value: datetime.timedelta) -> int:
    return round(value.total_seconds() * 1000)


@attrs.frozen
class FetchHandler:
    """
    Answers Fetch requests; see the module's description.

    @ivar replica_manager: reads the records.
    @ivar fetch_max_bytes: the broker's C{fetch.max.bytes}.
    """

    replica_manager: ReplicaManager
    fetch_max_bytes: int

    def __call__(
        self, context: RequestContext, request: Any
    ) -> Outcome | Deferred[Outcome]:
        version = context.api_version
        if version >= _FIRST_SESSION_VERSION and request.session_epoch not in (
            _INITIAL_EPOCH,
            _FINAL_EPOCH,
        ):
            return self._session_error(version)
        if version >= _FIRST_REPLICA_STATE_VERSION:
            replica_id = request.replica_state.replica_id
        else:
            replica_id = request.replica_id
        try:
            isolation_level = IsolationLevel(request.isolation_level)
        except ValueError:
            raise InvalidRequestError(
                f"unknown isolation level {request.isolation_level}"
            ) from None
        max_bytes = min(request.max_bytes, self.fetch_max_bytes)
        plan = self._plan(version, request)
        infos = [slot for _, slots in plan for _, slot in slots]
        wanted = [info for info in infos if isinstance(info, PartitionFetchInfo)]
        if wanted:
            fetched = self.replica_manager.fetch_messages(
                replica_id=replica_id,
                max_wait_ms=_milliseconds(request.max_wait),
                min_bytes=min(request.min_bytes, max_bytes),
                max_bytes=max_bytes,
                isolation_level=isolation_level,
                partitions=wanted,
            )
        else:
            fetched = succeed([])
        return fetched.addCallback(self._respond, version, plan)

    def _plan(self, version: int, request: Any) -> list[tuple[Any, list[_Slot]]]:
        metadata = self.replica_manager.metadata
        plan: list[tuple[Any, list[_Slot]]] = []
        for topic in request.topics:
            if version >= _FIRST_TOPIC_ID_VERSION:
                name = self.replica_manager.topic_name(topic.topic_id)
            else:
                name = topic.topic
            known = None if name is None else metadata.topic(name)
            slots: list[_Slot] = []
            for partition in topic.partitions:
                index = partition.partition
                slot: PartitionFetchInfo | KafkaError
                if name is None:
                    slot = UnknownTopicIdError(
                        f"Topic id {topic.topic_id} is not known"
                    )
                elif known is None or not 0 <= index < known.partition_count:
                    slot = UnknownTopicOrPartitionError(
                        f"This server does not host partition {name}-{index}"
                    )
                else:
                    slot = PartitionFetchInfo(
                        TopicPartition(name, index),
                        partition.fetch_offset,
                        partition.log_start_offset if version >= 5 else -1,
                        partition.partition_max_bytes,
                        partition.current_leader_epoch if version >= 9 else -1,
                    )
                slots.append((index, slot))
            plan.append((topic, slots))
        return plan

    def _respond(
        self,
        results: list[LogReadResult],
        version: int,
        plan: list[tuple[Any, list[_Slot]]],
    ) -> ResponsePayload:
        schema = sys.modules[response_type(ApiKey.FETCH, version).__module__]
        read = iter(results)
        topics = []
        for topic, slots in plan:
            partitions = []
            for index, slot in slots:
                if isinstance(slot, KafkaError):
                    result = LogReadResult(TopicPartition("", index), slot)
                else:
                    result = self._checked(version, next(read))
                partitions.append(_partition_data(schema, version, index, result))
            if version >= _FIRST_TOPIC_ID_VERSION:
                key: dict[str, Any] = {"topic_id": topic.topic_id}
            else:
                key = {"topic": topic.topic}
            topics.append(
                schema.FetchableTopicResponse(partitions=tuple(partitions), **key)
            )
        values: dict[str, Any] = {
            "throttle_time": NO_THROTTLE,
            "responses": tuple(topics),
        }
        if version >= _FIRST_SESSION_VERSION:
            values["error_code"] = kio_error_code(0)
            values["session_id"] = i32(_NO_SESSION)
        response: ResponsePayload = schema.FetchResponse(**values)
        return response

    def _checked(self, version: int, result: LogReadResult) -> LogReadResult:
        error = result.error
        if (
            isinstance(error, KafkaStorageError)
            and version <= _LAST_STORAGE_ERROR_DOWNGRADE_VERSION
        ):
            return attrs.evolve(result, error=NotLeaderOrFollowerError(error.message))
        if version < _FIRST_ZSTD_VERSION:
            config = self.replica_manager.log_config(result.topic_partition)
            if config is not None and config.compression_type == "zstd":
                return LogReadResult(
                    result.topic_partition,
                    UnsupportedCompressionTypeError(
                        f"Fetch requests with version {version} cannot read the zstd"
                        f" compressed partition {result.topic_partition}"
                    ),
                )
        return result

    def _session_error(self, version: int) -> ResponsePayload:
        schema = sys.modules[response_type(ApiKey.FETCH, version).__module__]
        response: ResponsePayload = schema.FetchResponse(
            throttle_time=NO_THROTTLE,
            error_code=kio_error_code(FetchSessionIdNotFoundError.code),
            session_id=i32(_NO_SESSION),
            responses=(),
        )
        return response


def _partition_data(
    schema: Any, version: int, index: int, result: LogReadResult
) -> Any:
    error = result.error
    records = result.records
    # Plain ints where kio's phantom types (i32, i64) would check ranges at a
    # microsecond a call: the writer refuses a number that does not fit its field.
    values: dict[str, Any] = {
        "partition_index": index,
        "error_code": kio_error_code(0 if error is None else error.code),
        "high_watermark": result.high_watermark,
        "last_stable_offset": result.last_stable_offset,
        "aborted_transactions": (
            None
            if result.aborted_transactions is None
            else tuple(
                schema.AbortedTransaction(
                    producer_id=aborted.producer_id,
                    first_offset=aborted.first_offset,
                )
                for aborted in result.aborted_transactions
            )
        ),
        "records": records_region(records) if records.size else b"",
    }
    if version >= 5:
        values["log_start_offset"] = result.log_start_offset
    if version >= 11:
        values["preferred_read_replica"] = -1
    return schema.PartitionData(**values)


def register(
    registry: HandlerRegistry,
    replica_manager: ReplicaManager,
    *,
    config: KafkaConfig,
) -> None:
    """
    Register the Fetch handler.

    @param registry: the broker's handlers.
    @param replica_manager: reads the records.
    @param config: the broker's configuration, for C{fetch.max.bytes}.
    """
    fetch_max_bytes = config.get("fetch.max.bytes")
    assert isinstance(fetch_max_bytes, int)
    registry.register(
        ApiKey.FETCH, FetchHandler(replica_manager, fetch_max_bytes), FETCH_VERSIONS
    )
