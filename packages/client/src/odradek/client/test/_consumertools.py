"""
Fakes for the fetcher's and the offset lookups' tests: record batches made to
order (L{batch}, L{marker}), partition logs (L{PartitionLog}) and a cluster of fake
brokers that answer Fetch and ListOffsets from them (L{ConsumerCluster}), with
errors, held answers and cut responses on cue.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs
from kio.schema.errors import ErrorCode
from kio.static.protocol import RequestPayload
from twisted.internet.interfaces import IDelayedCall
from twisted.internet.protocol import connectionDone
from twisted.internet.task import Clock
from twisted.python.failure import Failure

from odradek.client.network.cluster import Node, PartitionInfo
from odradek.client.protocol import (
    ApiKey,
    FrameDecoder,
    RequestHeader,
    decode_request,
    response_type,
)
from odradek.client.records import (
    CompressionType,
    ControlRecordType,
    EndTransactionMarker,
    Header,
    RecordBatchBuilder,
    build_end_transaction_marker_batch,
    iter_batches,
)
from odradek.client.structs import TopicPartition
from odradek.client.test._networktools import (
    BROKER_RANGES,
    NO_THROTTLE,
    FakeBroker,
    FakeNetwork,
)

__all__ = [
    "B1",
    "B2",
    "BOOT",
    "CONSUMER_RANGES",
    "NODES",
    "ConsumerCluster",
    "PartitionLog",
    "batch",
    "fetched_offsets",
    "marker",
    "partitions",
]

BOOT = ("boot", 9000)
B1 = Node(1, "b1", 9092)
B2 = Node(2, "b2", 9093)
NODES = (B1, B2)

#: What the fake brokers advertise: the network tests' APIs, Fetch and ListOffsets.
CONSUMER_RANGES: Mapping[int, tuple[int, int]] = {
    **BROKER_RANGES,
    ApiKey.FETCH: (4, 16),
    ApiKey.LIST_OFFSETS: (1, 11),
}


def partitions(topic: str, leaders: Iterable[int]) -> list[PartitionInfo]:
    """@return: the partitions of C{topic}, partition I{i} led by C{leaders[i]}."""
    return [
        PartitionInfo(topic, index, leader, 0, (1, 2), (1, 2))
        for index, leader in enumerate(leaders)
    ]


def batch(
    base_offset: int,
    values: Sequence[bytes | None],
    *,
    timestamp: int = 1000,
    keys: Sequence[bytes | None] | None = None,
    headers: Sequence[Header] = (),
    compression: CompressionType = CompressionType.NONE,
    producer_id: int = -1,
    transactional: bool = False,
    leader_epoch: int = 0,
    offset_deltas: Sequence[int] | None = None,
) -> bytes:
    """
    @return: a record batch at C{base_offset} with one record per value, each
        timestamped C{timestamp} plus its index.
    """
    builder = RecordBatchBuilder(
        compression_type=compression,
        base_offset=base_offset,
        partition_leader_epoch=leader_epoch,
        producer_id=producer_id,
        producer_epoch=0 if producer_id >= 0 else -1,
        base_sequence=0 if producer_id >= 0 else -1,
        is_transactional=transactional,
    )
    for index, value in enumerate(values):
        key = keys[index] if keys is not None else None
        delta = offset_deltas[index] if offset_deltas is not None else None
        builder.append(timestamp + index, key, value, headers, offset_delta=delta)
    return builder.build()


def marker(base_offset: int, producer_id: int, *, commit: bool) -> bytes:
    """@return: the control batch ending producer C{producer_id}'s transaction."""
    kind = ControlRecordType.COMMIT if commit else ControlRecordType.ABORT
    return build_end_transaction_marker_batch(
        EndTransactionMarker(kind, 0),
        producer_id=producer_id,
        producer_epoch=0,
        timestamp=2000,
        base_offset=base_offset,
        partition_leader_epoch=0,
    )


@attrs.define
class PartitionLog:
    """
    One partition's batches as a fake broker serves them.

    @ivar data: the batches, end to end.
    @ivar log_start_offset: the first offset.
    @ivar high_watermark: the high watermark; by default the end of the data.
    @ivar last_stable_offset: the last stable offset; by default the high
        watermark.
    @ivar aborted: the aborted transactions sent to read_committed fetches.
    """

    data: bytes = b""
    log_start_offset: int = 0
    high_watermark: int | None = None
    last_stable_offset: int | None = None
    aborted: list[tuple[int, int]] = attrs.field(factory=list)

    def append(self, *batches: bytes) -> None:
        """Add batches at the end."""
        self.data += b"".join(batches)

    @property
    def end(self) -> int:
        """The high watermark."""
        if self.high_watermark is not None:
            return self.high_watermark
        end = self.log_start_offset
        for each in iter_batches(self.data):
            end = each.next_offset
        return end

    @property
    def stable(self) -> int:
        """The last stable offset."""
        return self.end if self.last_stable_offset is None else self.last_stable_offset

    def read(self, offset: int, max_bytes: int) -> bytes:
        """
        @return: the batches from the one holding C{offset} on, C{max_bytes} at
            most but at least the first whole.
        """
        start = None
        for each in iter_batches(self.data):
            if each.next_offset > offset:
                start = each.position
                break
        if start is None:
            return b""
        first = iter_batches(self.data[start:])
        size = next(first).size_in_bytes
        return self.data[start : start + max(size, max_bytes)]

    def offset_for_time(self, timestamp: int) -> tuple[int, int]:
        """@return: the first offset at or after C{timestamp} and its time, or -1s."""
        for each in iter_batches(self.data):
            if each.is_control_batch:
                continue
            for record in each:
                if record.timestamp >= timestamp:
                    return record.offset, record.timestamp
        return -1, -1


def _build(response_class: Any, kind: str, /, **fields: object) -> Any:
    """Make the kio entity C{kind} of a response's module, with the fields it has."""
    entity = getattr(sys.modules[response_class.__module__], kind)
    names = {field.name for field in dataclasses.fields(entity)}
    return entity(**{key: value for key, value in fields.items() if key in names})


class _Broker(FakeBroker):
    """A L{FakeBroker} of a L{ConsumerCluster}, answering Fetch and ListOffsets."""

    def __init__(self, cluster: ConsumerCluster, node_id: int) -> None:
        super().__init__(NODES, cluster.topics, CONSUMER_RANGES)
        self.cluster = cluster
        self.node_id = node_id
        self.queue: list[tuple[RequestHeader, RequestPayload]] = []
        self.busy = False
        self.waiting: IDelayedCall | None = None
        self.handlers[ApiKey.FETCH] = self._fetch
        self.handlers[ApiKey.LIST_OFFSETS] = self._list_offsets

    def connectionMade(self) -> None:
        self._decoder = FrameDecoder()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        # What the lost connection asked is never answered.
        self.held.clear()
        self.queue.clear()
        self.busy = False
        if self.waiting is not None and self.waiting.active():
            self.waiting.cancel()

    def dataReceived(self, data: bytes) -> None:
        for frame in self._decoder.feed(data):
            header, request = decode_request(frame)
            self.requests.append((header, request))
            if header.api_key == ApiKey.FETCH:
                self.cluster.fetches.append((self.node_id, header, request))
            self.queue.append((header, request))
        self._process()

    def _process(self) -> None:
        # One request at a time, in order, as a broker answers a connection.
        while self.queue and not self.busy:
            header, request = self.queue.pop(0)
            holding = (
                self.cluster.hold_lists if header.api_key == ApiKey.LIST_OFFSETS else ()
            )
            if header.api_key == ApiKey.FETCH:
                holding = self.cluster.hold
            if self.node_id in holding:
                self.held.append((header, request))
                self.busy = True
                return
            response = self.handlers[header.api_key](header, request)
            if response is None:
                self.busy = True
                return
            self.reply(header, response)

    def _done(self, header: RequestHeader, response: object) -> None:
        self.busy = False
        self.reply(header, response)
        self._process()

    def answer_held(self) -> None:
        """Answer the held request, then go on with the requests behind it."""
        held, self.held = self.held, []
        for header, request in held:
            if header.api_key == ApiKey.FETCH:
                self._done(header, self._answer_fetch(header, request))
            else:
                self._done(header, self.handlers[header.api_key](header, request))

    def _fetch(self, header: RequestHeader, request: RequestPayload) -> object:
        body: Any = request
        response: Any = self._answer_fetch(header, request)
        waits = body.max_wait.total_seconds() > 0
        waits = waits and not getattr(response, "error_code", 0)
        if waits and not any(
            part.records or part.error_code
            for topic in response.responses
            for part in topic.partitions
        ):
            # Nothing to send: wait for fetch.max.wait.ms, as a broker does.
            def answer() -> None:
                self.waiting = None
                self._done(header, self._answer_fetch(header, request))

            wait = body.max_wait.total_seconds()
            self.waiting = self.cluster.clock.callLater(wait, answer)
            return None
        return response

    def _answer_fetch(self, header: RequestHeader, request: RequestPayload) -> object:
        body: Any = request
        response_class: Any = response_type(ApiKey.FETCH, header.api_version)
        topics = []
        for topic in body.topics:
            answers = [
                self.cluster.fetch_answer(
                    response_class,
                    self.node_id,
                    TopicPartition(topic.topic, int(part.partition)),
                    int(part.fetch_offset),
                    int(part.partition_max_bytes),
                    int(body.isolation_level),
                )
                for part in topic.partitions
            ]
            topics.append(
                _build(
                    response_class,
                    "FetchableTopicResponse",
                    topic=topic.topic,
                    partitions=tuple(answers),
                )
            )
        return _build(
            response_class,
            "FetchResponse",
            throttle_time=NO_THROTTLE,
            error_code=ErrorCode(self.cluster.fetch_top_errors.pop(0))
            if self.cluster.fetch_top_errors
            else ErrorCode.none,
            session_id=0,
            responses=tuple(topics),
        )

    def _list_offsets(self, header: RequestHeader, request: RequestPayload) -> object:
        body: Any = request
        self.cluster.list_requests.append((self.node_id, header, request))
        response_class: Any = response_type(ApiKey.LIST_OFFSETS, header.api_version)
        committed = int(getattr(body, "isolation_level", 0)) == 1
        topics = []
        for topic in body.topics:
            answers = []
            for part in topic.partitions:
                tp = TopicPartition(topic.name, int(part.partition_index))
                code, offset, timestamp = self.cluster.list_answer(
                    self.node_id, tp, int(part.timestamp), committed
                )
                answers.append(
                    _build(
                        response_class,
                        "ListOffsetsPartitionResponse",
                        partition_index=tp.partition,
                        error_code=ErrorCode(code),
                        timestamp=timestamp,
                        offset=offset,
                        leader_epoch=0 if offset >= 0 else -1,
                    )
                )
            topics.append(
                _build(
                    response_class,
                    "ListOffsetsTopicResponse",
                    name=topic.name,
                    partitions=tuple(answers),
                )
            )
        return _build(
            response_class,
            "ListOffsetsResponse",
            throttle_time=NO_THROTTLE,
            topics=tuple(topics),
        )


class ConsumerCluster:
    """
    Brokers 1 (C{b1:9092}) and 2 (C{b2:9093}) and a bootstrap server
    (C{boot:9000}) on a L{FakeNetwork}, sharing the topics and partition logs.

    A broker answers a Fetch for a partition it does not lead (nor serves as
    L{read_replicas} says) with C{NOT_LEADER_OR_FOLLOWER}, for an offset outside
    the log with C{OFFSET_OUT_OF_RANGE}, else with the log's batches; a fetch with
    nothing to return waits for its C{max_wait} on the clock. Scripted error codes
    (L{fetch_errors}, L{list_errors}) are used once each, in turn.

    @ivar network: the fake network; give C{network.endpoint} to a pool.
    @ivar topics: the topics the brokers describe; change it to move leaders.
    @ivar logs: each partition's log.
    @ivar hold: nodes whose fetches wait until L{release}.
    @ivar hold_lists: nodes whose ListOffsets requests wait until L{release}.
    @ivar cut: partitions whose fetched records are cut to so many bytes.
    @ivar read_replicas: the replica each partition's leader tells consumers to
        fetch from (KIP-392).
    @ivar fetches: every Fetch request, as (node id, header, request).
    @ivar list_requests: every ListOffsets request, the same way.
    """

    def __init__(self, clock: Clock, topics: dict[str, Any]) -> None:
        self.clock = clock
        self.network = FakeNetwork(clock)
        self.topics = topics
        self.logs: dict[TopicPartition, PartitionLog] = {}
        self.fetch_errors: dict[TopicPartition, list[int]] = {}
        self.fetch_top_errors: list[int] = []
        self.list_errors: dict[TopicPartition, list[int]] = {}
        self.hold: set[int] = set()
        self.hold_lists: set[int] = set()
        self.cut: dict[TopicPartition, int] = {}
        self.read_replicas: dict[TopicPartition, int] = {}
        self.fetches: list[tuple[int, RequestHeader, Any]] = []
        self.list_requests: list[tuple[int, RequestHeader, Any]] = []
        self.brokers: dict[int, _Broker] = {}
        addresses = [(0, BOOT), *((n.node_id, (n.host, n.port)) for n in NODES)]
        for node_id, address in addresses:
            broker = _Broker(self, node_id)
            self.network.brokers[address] = broker
            self.brokers[node_id] = broker

    def log(self, tp: TopicPartition) -> PartitionLog:
        """@return: C{tp}'s log, made empty if need be."""
        return self.logs.setdefault(tp, PartitionLog())

    def set_leader(self, tp: TopicPartition, node_id: int) -> None:
        """Make C{node_id} the leader of C{tp} in the next Metadata answers."""
        infos = list(self.topics[tp.topic])
        infos[tp.partition] = attrs.evolve(infos[tp.partition], leader=node_id)
        self.topics[tp.topic] = infos

    def leader(self, tp: TopicPartition) -> int:
        """@return: the node leading C{tp}."""
        return int(self.topics[tp.topic][tp.partition].leader)

    def release(self, node_id: int) -> None:
        """Answer the requests node C{node_id} held, and stop holding."""
        self.hold.discard(node_id)
        self.hold_lists.discard(node_id)
        self.brokers[node_id].answer_held()

    def disconnect(self, node_id: int) -> None:
        """Close node C{node_id}'s side of its connection."""
        self.brokers[node_id].transport.loseConnection()  # type: ignore[union-attr]

    def fetches_to(self, node_id: int) -> list[Any]:
        """@return: the Fetch requests node C{node_id} received."""
        return [request for node, _, request in self.fetches if node == node_id]

    def fetch_answer(
        self,
        response_class: Any,
        node_id: int,
        tp: TopicPartition,
        offset: int,
        max_bytes: int,
        isolation_level: int,
    ) -> Any:
        """@return: what node C{node_id} answers a Fetch for C{tp} with."""
        log = self.log(tp)
        records = b""
        aborted = None
        scripted = self.fetch_errors.get(tp)
        if scripted:
            code = scripted.pop(0)
        elif node_id not in (self.leader(tp), self.read_replicas.get(tp)):
            code = ErrorCode.not_leader_or_follower.value
        elif not log.log_start_offset <= offset <= log.end:
            code = ErrorCode.offset_out_of_range.value
        else:
            code = 0
            end = log.stable if isolation_level else log.end
            if offset < end:
                records = log.read(offset, max_bytes)
                records = records[: self.cut.get(tp, len(records))]
            if isolation_level:
                aborted = tuple(
                    _build(
                        response_class,
                        "AbortedTransaction",
                        producer_id=producer_id,
                        first_offset=first,
                    )
                    for producer_id, first in log.aborted
                )
        replica = self.read_replicas.get(tp, -1) if node_id == self.leader(tp) else -1
        return _build(
            response_class,
            "PartitionData",
            partition_index=tp.partition,
            error_code=ErrorCode(code),
            high_watermark=log.end,
            last_stable_offset=log.stable,
            log_start_offset=log.log_start_offset,
            aborted_transactions=aborted,
            preferred_read_replica=replica,
            records=records or None,
        )

    def list_answer(
        self, node_id: int, tp: TopicPartition, timestamp: int, committed: bool
    ) -> tuple[int, int, int]:
        """@return: the error code, offset and timestamp answered for C{tp}."""
        scripted = self.list_errors.get(tp)
        if scripted:
            return scripted.pop(0), -1, -1
        if node_id != self.leader(tp):
            return ErrorCode.not_leader_or_follower.value, -1, -1
        log = self.log(tp)
        if timestamp == -2:
            return 0, log.log_start_offset, -1
        if timestamp == -1:
            return 0, log.stable if committed else log.end, -1
        offset, found = log.offset_for_time(timestamp)
        return 0, offset, found


def fetched_offsets(request: Any) -> dict[TopicPartition, int]:
    """@return: the partitions a Fetch request asks for, with their offsets."""
    return {
        TopicPartition(topic.topic, int(part.partition)): int(part.fetch_offset)
        for topic in request.topics
        for part in topic.partitions
    }
