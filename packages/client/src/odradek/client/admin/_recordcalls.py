"""
The admin core's calls about partitions' logs: C{delete_records} and
C{list_offsets}, sent to each partition's leader, and C{describe_log_dirs}, sent
to each broker asked.

The leaders are looked up with a Metadata request before each try. Partitions are
grouped by leader, one request per leader, all at once. A partition answered with
a retriable error (C{NOT_LEADER_OR_FOLLOWER}, C{LEADER_NOT_AVAILABLE},
C{UNKNOWN_TOPIC_OR_PARTITION} from a leader whose metadata was stale ...) is
looked up and sent again after the backoff; a topic the metadata does not know
fails with L{UnknownTopicOrPartitionError
<odradek.client.errors.UnknownTopicOrPartitionError>}.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from kio.static.protocol import RequestPayload, ResponsePayload
from twisted.internet.defer import CancelledError, Deferred

from odradek.client import errors
from odradek.client.admin._base import AdminCoreBase
from odradek.client.admin._calls import (
    CallContext,
    Outcomes,
    gather,
    missing_result,
    run_batch,
)
from odradek.client.admin._recordrequests import (
    ISOLATION_LEVELS,
    delete_records_request,
    describe_log_dirs_request,
    list_offsets_request,
    parse_delete_records,
    parse_describe_log_dirs,
    parse_list_offsets,
)
from odradek.client.admin._recordtypes import (
    MAX_TIMESTAMP,
    DeletedRecords,
    ListOffsetsResultInfo,
    LogDirDescription,
    OffsetSpec,
)
from odradek.client.admin._requests import TopicMetadata
from odradek.client.admin._topiccalls import check_partition
from odradek.client.admin.results import ItemResults
from odradek.client.network.cluster import Node
from odradek.client.network.connection import KafkaConnection
from odradek.client.protocol import ApiKey
from odradek.client.structs import TopicPartition

__all__ = ["RecordCalls"]

V = TypeVar("V")

#: ListOffsets can ask for the largest timestamp from this version on.
_MAX_TIMESTAMP_VERSION = 7

#: What a builder for a leader returns: the request (or C{None} when no partition
#: can be sent) and the partitions refused before sending, with their errors.
_Built = tuple[RequestPayload | None, dict[TopicPartition, BaseException]]


def _retriable(error: BaseException) -> bool:
    return isinstance(error, errors.KafkaError) and error.retriable


def _leader(metadata: TopicMetadata, tp: TopicPartition) -> Node | BaseException | None:
    """
    @return: the live leader of C{tp}; an error to retry (no leader yet) or to
        report (the topic or partition does not exist, no access ...).
    """
    described = metadata.topics.get(tp.topic)
    if described is None:
        return errors.LeaderNotAvailableError(
            f"topic {tp.topic} is missing from the metadata response"
        )
    if isinstance(described, BaseException):
        return described
    for info in described.partitions:
        if info.partition == tp.partition:
            if info.leader is None or info.leader.port < 0:
                return errors.LeaderNotAvailableError(f"partition {tp} has no leader")
            return info.leader
    return errors.UnknownTopicOrPartitionError(f"partition {tp} does not exist")


class RecordCalls(AdminCoreBase):
    """The calls about partitions' logs."""

    async def _by_leader(
        self,
        context: CallContext,
        outcomes: Outcomes[TopicPartition, V],
        build: Callable[[KafkaConnection, Sequence[TopicPartition]], _Built],
        parse: Callable[[ResponsePayload], Mapping[TopicPartition, V | BaseException]],
    ) -> None:
        """
        Send each pending partition to its leader until each has a final outcome.
        """
        while outcomes.pending:
            if context.expired():
                outcomes.time_out(context)
                return
            pending = outcomes.pending
            try:
                metadata = await self._topic_metadata(
                    context, sorted({tp.topic for tp in pending})
                )
            except CancelledError:
                raise
            except Exception as error:
                if not _retriable(error):
                    outcomes.fail_pending(error)
                    return
                for tp in pending:
                    outcomes.retry(tp, error)
            else:
                by_leader: dict[Node, list[TopicPartition]] = {}
                for tp in pending:
                    leader = _leader(metadata, tp)
                    if isinstance(leader, Node):
                        by_leader.setdefault(leader, []).append(tp)
                    elif isinstance(leader, errors.UnknownTopicOrPartitionError) or (
                        not _retriable(leader)  # type: ignore[arg-type]
                    ):
                        outcomes.settle(tp, leader)  # type: ignore[arg-type]
                    else:
                        outcomes.retry(tp, leader)  # type: ignore[arg-type]
                answers: list[dict[TopicPartition, Any]] = await gather(
                    Deferred.fromCoroutine(
                        self._leader_exchange(context, node, tps, build, parse)
                    )
                    for node, tps in by_leader.items()
                )
                for answered in answers:
                    for tp, outcome in answered.items():
                        if isinstance(outcome, BaseException) and _retriable(outcome):
                            context.noted(outcome)
                            outcomes.retry(tp, outcome)
                        else:
                            outcomes.settle(tp, outcome)
            if outcomes.pending and not await context.backoff():
                outcomes.time_out(context)
                return

    async def _leader_exchange(
        self,
        context: CallContext,
        node: Node,
        partitions: Sequence[TopicPartition],
        build: Callable[[KafkaConnection, Sequence[TopicPartition]], _Built],
        parse: Callable[[ResponsePayload], Mapping[TopicPartition, V | BaseException]],
    ) -> dict[TopicPartition, V | BaseException]:
        """
        @return: the outcome of each partition sent to one leader; an error of
            the exchange is each partition's outcome.
        """
        try:
            connection = await context.wait(self.pool.get(node))
            request, refused = build(connection, partitions)
            results: dict[TopicPartition, V | BaseException] = dict(refused)
            if request is not None:
                response: Any = await context.wait(
                    connection.send(request, timeout_ms=context.response_timeout_ms())
                )
                answered = parse(response)
                for tp in partitions:
                    if tp not in refused:
                        results[tp] = (
                            answered[tp] if tp in answered else missing_result(tp)
                        )
            return results
        except CancelledError:
            raise
        except Exception as error:
            return dict.fromkeys(partitions, error)

    def delete_records(
        self,
        records_to_delete: Mapping[TopicPartition, int],
        timeout: float | None = None,
    ) -> Deferred[ItemResults[TopicPartition, DeletedRecords]]:
        """
        Delete the records of partitions before an offset (on their leaders).

        @param records_to_delete: for each partition, the offset before which to
            delete; -1 deletes up to the high watermark.
        @param timeout: seconds; C{None} for C{default.api.timeout.ms}.
        @return: a Deferred of each partition's new low watermark or error.
        @raise ValueError: for a bad partition or an offset below -1.
        """
        offsets: dict[TopicPartition, int] = {}
        for tp, offset in records_to_delete.items():
            if not isinstance(offset, int) or offset < -1:
                raise ValueError(
                    f"partition {tp}: not an offset to delete before: {offset!r}"
                )
            offsets[check_partition(tp)] = offset
        if not offsets:
            return self._empty(ItemResults.of((), {}))

        async def body(
            context: CallContext,
        ) -> ItemResults[TopicPartition, DeletedRecords]:
            def build(
                connection: KafkaConnection, tps: Sequence[TopicPartition]
            ) -> _Built:
                request = delete_records_request(
                    connection.version_for(ApiKey.DELETE_RECORDS),
                    {tp: offsets[tp] for tp in tps},
                    timeout_ms=context.response_timeout_ms(),
                )
                return request, {}

            outcomes: Outcomes[TopicPartition, DeletedRecords] = Outcomes(offsets)
            await self._by_leader(context, outcomes, build, parse_delete_records)
            return outcomes.results()

        return self._call("deleteRecords", timeout, body)

    def list_offsets(
        self,
        topic_partition_offsets: Mapping[TopicPartition, OffsetSpec],
        isolation_level: str = "read_uncommitted",
        timeout: float | None = None,
    ) -> Deferred[ItemResults[TopicPartition, ListOffsetsResultInfo]]:
        """
        Look up offsets of partitions (on their leaders): the earliest, the
        latest, the one of the largest timestamp, or by time.

        @param topic_partition_offsets: for each partition, which offset.
        @param isolation_level: C{"read_uncommitted"}, or C{"read_committed"} to
            have the latest offset stop at the last stable offset.
        @param timeout: seconds; C{None} for C{default.api.timeout.ms}.
        @return: a Deferred of each partition's offset or error (an
            L{UnsupportedVersionError<errors.UnsupportedVersionError>} for
            L{OffsetSpec.max_timestamp} on a broker before ListOffsets version 7).
        @raise ValueError: for a bad partition, spec or isolation level.
        """
        if isolation_level not in ISOLATION_LEVELS:
            raise ValueError(
                f"isolation_level must be one of {', '.join(ISOLATION_LEVELS)}, "
                f"not {isolation_level!r}"
            )
        level = ISOLATION_LEVELS[isolation_level]
        specs: dict[TopicPartition, int] = {}
        for tp, spec in topic_partition_offsets.items():
            if not isinstance(spec, OffsetSpec):
                raise ValueError(f"partition {tp}: not an OffsetSpec: {spec!r}")
            specs[check_partition(tp)] = spec.timestamp
        if not specs:
            return self._empty(ItemResults.of((), {}))

        async def body(
            context: CallContext,
        ) -> ItemResults[TopicPartition, ListOffsetsResultInfo]:
            def build(
                connection: KafkaConnection, tps: Sequence[TopicPartition]
            ) -> _Built:
                version = connection.version_for(ApiKey.LIST_OFFSETS)
                refused: dict[TopicPartition, BaseException] = {}
                sent: dict[TopicPartition, int] = {}
                for tp in tps:
                    if specs[tp] == MAX_TIMESTAMP and version < _MAX_TIMESTAMP_VERSION:
                        refused[tp] = errors.UnsupportedVersionError(
                            f"partition {tp}: the broker does not support the "
                            "max_timestamp offset spec (ListOffsets version 7)"
                        )
                    else:
                        sent[tp] = specs[tp]
                if not sent:
                    return None, refused
                request = list_offsets_request(
                    version,
                    sent,
                    isolation_level=level,
                    timeout_ms=context.response_timeout_ms(),
                )
                return request, refused

            outcomes: Outcomes[TopicPartition, ListOffsetsResultInfo] = Outcomes(specs)
            await self._by_leader(context, outcomes, build, parse_list_offsets)
            return outcomes.results()

        return self._call("listOffsets", timeout, body)

    def describe_log_dirs(
        self, broker_ids: Iterable[int], timeout: float | None = None
    ) -> Deferred[ItemResults[int, dict[str, LogDirDescription]]]:
        """
        Describe the log directories of brokers, and the replicas in each.

        @param broker_ids: the brokers.
        @param timeout: seconds; C{None} for C{default.api.timeout.ms}.
        @return: a Deferred of each broker's log directories by path, or its
            error.
        @raise ValueError: for a negative or non-integer broker id.
        """
        brokers: list[int] = []
        for broker in broker_ids:
            if not isinstance(broker, int) or isinstance(broker, bool) or broker < 0:
                raise ValueError(f"not a broker id: {broker!r}")
            if broker not in brokers:
                brokers.append(broker)
        if not brokers:
            return self._empty(ItemResults.of((), {}))

        async def one(
            context: CallContext, broker: int
        ) -> dict[int, dict[str, LogDirDescription] | BaseException]:
            outcomes: Outcomes[int, dict[str, LogDirDescription]] = Outcomes([broker])
            await run_batch(
                context,
                outcomes,
                self._connect_broker(context, broker),
                lambda connection, _: describe_log_dirs_request(
                    connection.version_for(ApiKey.DESCRIBE_LOG_DIRS)
                ),
                lambda response: {broker: parse_describe_log_dirs(response)},
            )
            return outcomes.done

        async def body(
            context: CallContext,
        ) -> ItemResults[int, dict[str, LogDirDescription]]:
            parts = await gather(
                Deferred.fromCoroutine(one(context.fork(), broker))
                for broker in brokers
            )
            merged: dict[int, Any] = {}
            for part in parts:
                merged.update(part)
            return ItemResults.of(brokers, merged)

        return self._call("describeLogDirs", timeout, body)
