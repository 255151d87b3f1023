"""
Fakes shared by the producer's tests: a reactor whose clock and thread hops the
test drives (L{FakeReactor}), a cluster of fake brokers that answer Produce and
InitProducerId as a test scripts them (L{FakeCluster}), and a test case with a
L{Sender} wired to them (L{SenderTestCase}).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs
from kio.schema.errors import ErrorCode
from kio.schema.types import ProducerId
from kio.static.primitive import i16
from kio.static.protocol import RequestPayload
from twisted.internet.protocol import connectionDone
from twisted.internet.task import Clock
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from odradek.client.network.cluster import Node, PartitionInfo
from odradek.client.network.metadata import MetadataManager
from odradek.client.network.pool import ConnectionPool
from odradek.client.producer.accumulator import RecordAccumulator
from odradek.client.producer.buffer import BufferPool
from odradek.client.producer.future import FutureRecordMetadata
from odradek.client.producer.sender import Sender, SenderSettings
from odradek.client.producer.transaction_manager import TransactionManager
from odradek.client.protocol import (
    ApiKey,
    FrameDecoder,
    RequestHeader,
    decode_request,
    response_type,
)
from odradek.client.records import DefaultRecordBatch
from odradek.client.structs import RecordMetadata, TopicPartition
from odradek.client.test._networktools import (
    BROKER_RANGES,
    NO_THROTTLE,
    FakeBroker,
    FakeNetwork,
)
from odradek.client.test._producerlog import SequenceChecker, produce_response

__all__ = [
    "B1",
    "B2",
    "BOOT",
    "NODES",
    "PRODUCER_ID",
    "FakeCluster",
    "FakeReactor",
    "ImmediateReactor",
    "SenderTestCase",
    "batches_in",
    "outcome",
    "partitions",
    "partitions_in",
    "produce_response",
    "use_fake_network",
]

BOOT = ("boot", 9000)
B1 = Node(1, "b1", 9092)
B2 = Node(2, "b2", 9093)
NODES = (B1, B2)
#: The producer id the fake brokers hand out.
PRODUCER_ID = 4000


def partitions(topic: str, leaders: Iterable[int]) -> list[PartitionInfo]:
    """@return: the partitions of C{topic}, partition I{i} led by C{leaders[i]}."""
    return [
        PartitionInfo(topic, index, leader, 0, (leader,), (leader,))
        for index, leader in enumerate(leaders)
    ]


class FakeReactor(Clock):
    """
    A C{Clock} that is also the rest of a reactor the producer needs.

    C{callFromThread} queues the call; queued calls run, in order, on the next
    L{settle} or L{advance}, as a real reactor runs them on its next iteration. Both
    also run the delayed calls that are due, until nothing more is, and fail the
    test on a busy loop. Time is rounded to the nanosecond as it advances.

    @ivar running: always C{True}, as for a reactor that runs.
    @ivar from_thread: the calls queued by C{callFromThread} and not yet run.
    """

    running = True

    def __init__(self) -> None:
        super().__init__()
        self.from_thread: list[tuple[Callable[..., object], tuple[object, ...]]] = []
        self._settling = False

    def callFromThread(self, callable: Callable[..., object], *args: object) -> None:
        self.from_thread.append((callable, args))

    def advance(self, amount: float) -> None:
        # Rounded to the nanosecond, so that 0.099 + 0.001 is 0.1 as in a test's
        # arithmetic.
        self.rightNow = round(self.rightNow + amount, 9)
        self.settle()

    def settle(self, limit: int = 10_000) -> None:
        """
        Run queued and due calls until none is left; C{limit} calls at most. A
        call made while settling (by a call it runs) only makes this one go on.
        """
        if self._settling:
            return
        self._settling = True
        try:
            self._settle(limit)
        finally:
            self._settling = False

    def _settle(self, limit: int) -> None:
        for _ in range(limit):
            if self.from_thread:
                function, args = self.from_thread.pop(0)
                function(*args)
                continue
            self.calls.sort(key=lambda call: call.getTime())
            if self.calls and self.calls[0].getTime() <= self.seconds():
                call = self.calls.pop(0)
                call.called = 1
                call.func(*call.args, **call.kw)
                continue
            return
        raise AssertionError(f"still busy after {limit} calls: a busy loop?")

    def idle(self) -> bool:
        """@return: whether no call is queued or delayed."""
        return not self.from_thread and not self.getDelayedCalls()


class ImmediateReactor(FakeReactor):
    """
    A L{FakeReactor} whose C{callFromThread} settles at once, as if the reactor
    thread took the call the moment it was made and ran until it had nothing more
    to do: a blocking call into it returns without a second thread.
    """

    def callFromThread(self, callable: Callable[..., object], *args: object) -> None:
        super().callFromThread(callable, *args)
        self.settle()


class _Broker(FakeBroker):
    """
    A L{FakeBroker} of a L{FakeCluster}: answers Produce and InitProducerId as the
    cluster scripts them, and keeps the order of its answers: once one request is
    held, the later ones wait behind it.
    """

    def __init__(
        self, cluster: FakeCluster, node_id: int, ranges: Mapping[int, tuple[int, int]]
    ) -> None:
        super().__init__(NODES, cluster.topics, ranges)
        self.cluster = cluster
        self.node_id = node_id
        self.handlers[ApiKey.PRODUCE] = self._produce
        self.handlers[ApiKey.INIT_PRODUCER_ID] = self._init_producer_id

    def connectionMade(self) -> None:
        self._decoder = FrameDecoder()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        # What the lost connection asked is never answered.
        self.held.clear()

    def dataReceived(self, data: bytes) -> None:
        for frame in self._decoder.feed(data):
            header, request = decode_request(frame)
            self.requests.append((header, request))
            body: Any = request
            if header.api_key == ApiKey.PRODUCE:
                self.cluster.produced.append((self.node_id, header, request))
                if body.acks == 0:
                    self.cluster.store(body)
                    continue
            elif header.api_key == ApiKey.INIT_PRODUCER_ID:
                self.cluster.init_requests.append(request)
            if self.held or self._holds(header):
                self.held.append((header, request))
            else:
                self.reply(header, self.handlers[header.api_key](header, request))

    def _holds(self, header: RequestHeader) -> bool:
        if header.api_key == ApiKey.PRODUCE:
            return self.node_id in self.cluster.hold
        return header.api_key == ApiKey.INIT_PRODUCER_ID and self.cluster.hold_init

    def answer_held(self) -> None:
        """Answer the held requests in order, up to one that is still held."""
        held, self.held = self.held, []
        for index, (header, request) in enumerate(held):
            if self._holds(header):
                self.held = held[index:]
                return
            self.reply(header, self.handlers[header.api_key](header, request))

    def _produce(self, header: RequestHeader, request: RequestPayload) -> object:
        return produce_response(header.api_version, self.cluster.store(request))

    def _init_producer_id(
        self, header: RequestHeader, request: RequestPayload
    ) -> object:
        errors = self.cluster.init_errors
        code = errors.pop(0) if errors else 0
        producer_id, epoch = (-1, -1) if code else self.cluster.next_producer
        response_class: Any = response_type(ApiKey.INIT_PRODUCER_ID, header.api_version)
        return response_class(
            throttle_time=NO_THROTTLE,
            error_code=ErrorCode(code),
            producer_id=ProducerId(producer_id),
            producer_epoch=i16(epoch),
        )


class FakeCluster:
    """
    Brokers 1 (C{b1:9092}) and 2 (C{b2:9093}) and a bootstrap server
    (C{boot:9000}) on a L{FakeNetwork}, sharing one set of topics and one log.

    Produce requests are appended to L{log} and answered with offsets, unless
    L{errors} scripts an error code for a partition (each code is used once, in
    turn) or the node is in L{hold} (answer later with L{release}). InitProducerId
    is answered with L{next_producer} (L{PRODUCER_ID} and epoch 0), or the next
    code of L{init_errors}; held while L{hold_init} is set. A broker answers in
    order: requests after a held one wait for it.

    With C{sequences.enabled} set, the log checks idempotent batches' sequences
    as a broker does (L{SequenceChecker}).

    @ivar network: the fake network; give C{network.endpoint} to a pool.
    @ivar topics: the topics the brokers describe; change it to move leaders.
    @ivar brokers: the fake brokers by node id (0 for the bootstrap server).
    @ivar log: every batch stored, by partition.
    @ivar produced: every Produce request, as (node id, header, request).
    @ivar init_requests: every InitProducerId request.
    @ivar next_producer: the producer id and epoch InitProducerId hands out.
    @ivar sequences: the log's check of idempotent batches, off by default.
    """

    def __init__(
        self,
        reactor: Clock,
        topics: dict[str, Any],
        ranges: Mapping[int, tuple[int, int]] = BROKER_RANGES,
    ) -> None:
        self.network = FakeNetwork(reactor)
        self.topics = topics
        self.errors: dict[TopicPartition, list[int]] = {}
        self.hold: set[int] = set()
        self.hold_init = False
        self.init_errors: list[int] = []
        self.next_producer = (PRODUCER_ID, 0)
        self.sequences = SequenceChecker()
        self.log: dict[TopicPartition, list[DefaultRecordBatch]] = {}
        self.produced: list[tuple[int, RequestHeader, Any]] = []
        self.init_requests: list[Any] = []
        self.brokers: dict[int, _Broker] = {}
        addresses = [(0, BOOT), *((n.node_id, (n.host, n.port)) for n in NODES)]
        for node_id, address in addresses:
            broker = _Broker(self, node_id, ranges)
            self.network.brokers[address] = broker
            self.brokers[node_id] = broker

    def set_leader(self, tp: TopicPartition, node_id: int) -> None:
        """Make C{node_id} the leader of C{tp} in the next Metadata answers."""
        infos = list(self.topics[tp.topic])
        infos[tp.partition] = attrs.evolve(infos[tp.partition], leader=node_id)
        self.topics[tp.topic] = infos

    def store(self, request: Any) -> dict[TopicPartition, tuple[int, int]]:
        """
        Append a Produce request's batches to the log, but where an error is
        scripted.

        @return: the error code and base offset of each partition.
        """
        results: dict[TopicPartition, tuple[int, int]] = {}
        for topic in request.topic_data:
            for data in topic.partition_data:
                tp = TopicPartition(topic.name, int(data.index))
                scripted = self.errors.get(tp)
                if scripted:
                    results[tp] = (scripted.pop(0), -1)
                    continue
                batch = DefaultRecordBatch.from_buffer(data.records)
                code = self.sequences.check(tp, batch)
                if code:
                    results[tp] = (code, -1)
                    continue
                log = self.log.setdefault(tp, [])
                base = sum(stored.records_count for stored in log)
                log.append(batch)
                results[tp] = (0, base)
        return results

    def release(self, node_id: int) -> None:
        """Answer the Produce requests node C{node_id} held, and stop holding."""
        self.hold.discard(node_id)
        self.brokers[node_id].answer_held()

    def release_init(self) -> None:
        """Answer the InitProducerId requests held, and stop holding them."""
        self.hold_init = False
        for broker in self.brokers.values():
            broker.answer_held()

    def disconnect(self, node_id: int) -> None:
        """Close node C{node_id}'s side of its connection."""
        transport = self.brokers[node_id].transport
        assert transport is not None
        transport.loseConnection()

    def requests_to(self, node_id: int) -> list[Any]:
        """@return: the Produce requests node C{node_id} received."""
        return [request for node, _, request in self.produced if node == node_id]

    def metadata_requests(self) -> int:
        """@return: how many Metadata requests the brokers received."""
        return sum(
            1
            for broker in self.brokers.values()
            for header, _ in broker.requests
            if header.api_key == ApiKey.METADATA
        )


def use_fake_network(case: SynchronousTestCase, cluster: FakeCluster) -> None:
    """
    For the rest of C{case}, make the pools that producers build from their
    configuration connect through C{cluster}'s network, with a fixed jitter.
    """
    original = ConnectionPool.from_config

    def from_config(reactor: Any, config: Any) -> ConnectionPool:
        pool = original(reactor, config)
        pool.endpoint_factory = cluster.network.endpoint
        pool.random = lambda: 0.5
        return pool

    case.patch(ConnectionPool, "from_config", from_config)


def partitions_in(request: Any) -> list[TopicPartition]:
    """@return: the partitions a Produce request carries batches for."""
    return [
        TopicPartition(topic.name, int(data.index))
        for topic in request.topic_data
        for data in topic.partition_data
    ]


def batches_in(request: Any) -> dict[TopicPartition, DefaultRecordBatch]:
    """@return: the batch a Produce request carries for each partition."""
    return {
        TopicPartition(topic.name, int(data.index)): DefaultRecordBatch.from_buffer(
            data.records
        )
        for topic in request.topic_data
        for data in topic.partition_data
    }


def outcome(future: FutureRecordMetadata) -> RecordMetadata | BaseException | None:
    """@return: a record's metadata or error, or C{None} while it is pending."""
    if not future.done():
        return None
    error = future.exception(0)
    return error if error is not None else future.get(0)


class SenderTestCase(SynchronousTestCase):
    """
    A L{Sender} over a real accumulator, metadata manager (started) and pool,
    talking to a L{FakeCluster} where node 1 leads orders-0 and orders-2, node 2
    orders-1, and no node leads lost-0. Subclasses set the class attributes.
    """

    acks = -1
    retries = 10
    max_in_flight = 5
    idempotent = False
    check_sequences = False
    linger_ms = 0
    delivery_timeout_ms = 10_000
    ranges: Mapping[int, tuple[int, int]] = BROKER_RANGES

    def setUp(self) -> None:
        self.reactor = FakeReactor()
        self.cluster = FakeCluster(
            self.reactor,
            {
                "orders": partitions("orders", [1, 2, 1]),
                "lost": partitions("lost", [-1]),
            },
            self.ranges,
        )
        self.cluster.sequences.enabled = self.check_sequences
        self.pool = ConnectionPool(
            self.reactor,
            request_timeout_ms=1000,
            endpoint_factory=self.cluster.network.endpoint,
            random=lambda: 0.5,
        )
        self.metadata = MetadataManager(
            self.pool, self.reactor, [BOOT], retry_backoff_ms=100
        )
        self.manager = TransactionManager() if self.idempotent else None
        self.accumulator = RecordAccumulator(
            batch_size=1024,
            linger_ms=self.linger_ms,
            retry_backoff_ms=100,
            retry_backoff_max_ms=1000,
            delivery_timeout_ms=self.delivery_timeout_ms,
            request_timeout_ms=1000,
            buffer_pool=BufferPool(1 << 20),
            transaction_manager=self.manager,
        )
        self.sender = Sender(
            self.reactor,
            self.accumulator,
            self.metadata,
            self.pool,
            SenderSettings(
                acks=self.acks,
                request_timeout_ms=1000,
                max_request_size=1 << 20,
                retries=self.retries,
                max_in_flight=self.max_in_flight,
                delivery_timeout_ms=self.delivery_timeout_ms,
            ),
            self.manager,
        )
        self.metadata.listeners.append(lambda _: self.sender.wakeup())
        self.metadata.add_topics(["orders"])
        self.successResultOf(self.metadata.refresh())
        self.metadata.start()
        self.addCleanup(self._release)

    def _release(self) -> None:
        self.sender.stop()
        self.metadata.stop()
        self.pool.close()
        self.reactor.settle()

    def send(self, tp: TopicPartition, value: bytes = b"v") -> FutureRecordMetadata:
        """Append a record with timestamp 1000 and wake the sender."""
        now = int(self.reactor.seconds() * 1000)
        result = self.accumulator.append(tp, 1000, None, value, (), None, 0, now)
        self.sender.wakeup()
        assert result.future is not None
        return result.future

    def values(self, tp: TopicPartition) -> list[bytes | None]:
        """@return: the values the brokers stored for C{tp}, in order."""
        return [
            record.value for batch in self.cluster.log.get(tp, []) for record in batch
        ]

    def advance(self, seconds: float, steps: int = 1) -> None:
        """Let C{seconds} pass, in C{steps} equal steps."""
        for _ in range(steps):
            self.reactor.advance(seconds / steps)
