"""
Tests for L{odradek.broker.apis.fetch}: every version, sessionless fetch sessions,
errors, limits and waiting; and a Produce then Fetch round trip through the server
protocol, whose records come from the segment file and decode as a client decodes
them.
"""

from __future__ import annotations

from typing import Any

from kio.schema.errors import ErrorCode
from twisted.internet.defer import Deferred
from twisted.trial.unittest import SynchronousTestCase

from odradek.broker.apis import HandlerRegistry, fetch, produce, register_api_versions
from odradek.broker.log import TopicPartition
from odradek.broker.server.response import encode_response_parts
from odradek.broker.test._brokertools import (
    BrokerFixture,
    call_handler,
    fetch_request,
    produce_request,
    round_trip,
)
from odradek.broker.test._logtools import START_MS, make_batch
from odradek.broker.test._servertools import connect, read_frames, request_frame
from odradek.client.protocol import ApiKey, VersionRange, decode_response
from odradek.client.records import CompressionType, RecordBatchReader

P0 = TopicPartition("orders", 0)
P1 = TopicPartition("orders", 1)


def offsets(records: bytes | None) -> list[int]:
    """
    @return: the offsets of the records in a fetched C{records} field.
    """
    return [r.offset for batch in RecordBatchReader(records or b"") for r in batch]


class FetchTestCase(SynchronousTestCase):
    """
    A broker with a topic C{orders} of two partitions and the Produce and Fetch
    handlers.
    """

    properties: dict[str, str] = {}

    def setUp(self) -> None:
        self.broker = BrokerFixture(self, self.properties)
        self.topic = self.broker.create_topic("orders", 2)
        self.registry = HandlerRegistry()
        register_api_versions(self.registry)
        manager = self.broker.replica_manager
        produce.register(self.registry, manager, config=self.broker.config)
        fetch.register(self.registry, manager, config=self.broker.config)

    def append(self, tp: TopicPartition, batch: bytes) -> None:
        appended = self.broker.replica_manager.append_records(
            timeout_ms=0, required_acks=1, entries={tp: batch}
        )
        self.assertIsNone(self.successResultOf(appended)[tp].error)

    def fetch_deferred(
        self,
        offsets: list[tuple[TopicPartition, int]],
        version: int = 12,
        **kwargs: Any,
    ) -> Any:
        request = fetch_request(
            version, offsets, topic_ids={"orders": self.topic.topic_id}, **kwargs
        )
        return call_handler(self.registry, request, self.broker.clock)

    def fetch(
        self,
        offsets: list[tuple[TopicPartition, int]],
        version: int = 12,
        **kwargs: Any,
    ) -> Any:
        """
        @return: the decoded response to a Fetch request that is answered at once.
        """
        outcome = self.fetch_deferred(offsets, version, **kwargs)
        if isinstance(outcome, Deferred):
            outcome = self.successResultOf(outcome)
        return round_trip(outcome)


class VersionTests(FetchTestCase):
    """
    Fetch is served in versions 4 to 18.
    """

    def test_registered(self) -> None:
        """
        Versions 4 to 18 are accepted.
        """
        entry = self.registry.get(ApiKey.FETCH)
        assert entry is not None
        self.assertEqual(entry.versions, VersionRange(4, 18))

    def test_every_version(self) -> None:
        """
        Every version returns the records and the fields of its version.
        """
        self.append(P0, make_batch(3))
        for version in range(4, 19):
            with self.subTest(version=version):
                response = self.fetch([(P0, 1)], version)
                [topic] = response.responses
                [partition] = topic.partitions
                self.assertEqual(partition.error_code, ErrorCode.none)
                self.assertEqual(offsets(partition.records), [0, 1, 2])
                self.assertEqual(partition.high_watermark, 3)
                self.assertEqual(partition.last_stable_offset, 3)
                self.assertIsNone(partition.aborted_transactions)
                if version >= 5:
                    self.assertEqual(partition.log_start_offset, 0)
                if version >= 7:
                    self.assertEqual(response.error_code, ErrorCode.none)
                    self.assertEqual(response.session_id, 0)
                if version >= 11:
                    self.assertEqual(partition.preferred_read_replica, -1)
                if version >= 13:
                    self.assertEqual(topic.topic_id, self.topic.topic_id)
                else:
                    self.assertEqual(topic.topic, "orders")

    def test_records_are_file_regions(self) -> None:
        """
        The records of a response are regions of the segment file, not bytes.
        """
        self.append(P0, make_batch(3))
        response = self.successResultOf(self.fetch_deferred([(P0, 0)]))
        [region] = encode_response_parts(1, response).regions
        log = self.broker.partition("orders").log
        self.assertEqual(
            region.fileno(), log.active_segment.read(0, 1 << 20).records.fd
        )
        self.assertEqual((region.position, region.size), (0, log.active_segment.size))


class SessionTests(FetchTestCase):
    """
    No fetch session is ever created.
    """

    def test_new_session(self) -> None:
        """
        A request for a new session is answered in full with session id 0.
        """
        self.append(P0, make_batch(1))
        response = self.fetch([(P0, 0)], session_epoch=0)
        self.assertEqual(response.session_id, 0)
        self.assertEqual(offsets(response.responses[0].partitions[0].records), [0])

    def test_incremental(self) -> None:
        """
        An incremental fetch answers FETCH_SESSION_ID_NOT_FOUND and no data.
        """
        self.append(P0, make_batch(1))
        response = self.fetch([(P0, 0)], session_id=123, session_epoch=1)
        self.assertEqual(response.error_code, ErrorCode.fetch_session_id_not_found)
        self.assertEqual((response.session_id, response.responses), (0, ()))


class ErrorTests(FetchTestCase):
    """
    Errors are reported per partition, as Kafka reports them.
    """

    def test_unknown_topic(self) -> None:
        """
        Unknown partitions answer UNKNOWN_TOPIC_OR_PARTITION; others are read.
        """
        self.append(P0, make_batch(1))
        response = self.fetch([(TopicPartition("orders", 7), 0), (P0, 0)])
        missing, found = response.responses[0].partitions
        self.assertEqual(missing.error_code, ErrorCode.unknown_topic_or_partition)
        self.assertEqual((missing.partition_index, missing.high_watermark), (7, -1))
        self.assertEqual(offsets(found.records), [0])

    def test_unknown_topic_id(self) -> None:
        """
        From version 13 an unknown topic id answers C{UNKNOWN_TOPIC_ID}.
        """
        request = fetch_request(13, [(P0, 0)])
        response = round_trip(
            self.successResultOf(
                call_handler(self.registry, request, self.broker.clock)
            )
        )
        partition = response.responses[0].partitions[0]
        self.assertEqual(partition.error_code, ErrorCode.unknown_topic_id)

    def test_out_of_range(self) -> None:
        """
        A fetch offset past the log end answers C{OFFSET_OUT_OF_RANGE}.
        """
        response = self.fetch([(P0, 5)])
        partition = response.responses[0].partitions[0]
        self.assertEqual(partition.error_code, ErrorCode.offset_out_of_range)

    def test_zstd_topic(self) -> None:
        """
        A zstd topic cannot be read before version 10.
        """
        self.broker.create_topic("packed", 1, {"compression.type": "zstd"})
        tp = TopicPartition("packed", 0)
        self.append(tp, make_batch(1, compression=CompressionType.ZSTD))
        partition = self.fetch([(tp, 0)], 9).responses[0].partitions[0]
        self.assertEqual(partition.error_code, ErrorCode.unsupported_compression_type)
        partition = self.fetch([(tp, 0)], 10).responses[0].partitions[0]
        self.assertEqual(offsets(partition.records), [0])

    def test_storage_error(self) -> None:
        """
        KAFKA_STORAGE_ERROR is NOT_LEADER_OR_FOLLOWER up to version 5.
        """
        with open(f"{self.broker.directory}/broken-0", "w"):
            pass
        self.broker.create_topic("broken")
        self.flushLoggedErrors()
        tp = TopicPartition("broken", 0)
        partition = self.fetch([(tp, 0)], 5).responses[0].partitions[0]
        self.assertEqual(partition.error_code, ErrorCode.not_leader_or_follower)
        partition = self.fetch([(tp, 0)], 6).responses[0].partitions[0]
        self.assertEqual(partition.error_code, ErrorCode.kafka_storage_error)

    def test_isolation_level(self) -> None:
        """
        read_committed gets no aborted transactions; unknown levels are invalid.
        """
        self.append(P0, make_batch(1))
        partition = self.fetch([(P0, 0)], isolation_level=1).responses[0].partitions[0]
        self.assertEqual(partition.aborted_transactions, ())
        partition = self.fetch([(P0, 0)], isolation_level=2).responses[0].partitions[0]
        self.assertEqual(partition.error_code, ErrorCode.invalid_request)


class LimitTests(FetchTestCase):
    """
    C{fetch.max.bytes} caps the request's C{max_bytes}.
    """

    properties = {"fetch.max.bytes": "1024"}

    def test_fetch_max_bytes(self) -> None:
        """
        The broker's C{fetch.max.bytes} wins over a larger request.
        """
        batch = make_batch(1, value_size=600)
        self.append(P0, batch)
        self.append(P1, batch)
        first, second = self.fetch([(P0, 0), (P1, 0)]).responses[0].partitions
        self.assertEqual(offsets(first.records), [0])
        self.assertEqual(len(second.records), 1024 - len(batch))


class WaitTests(FetchTestCase):
    """
    A fetch without data waits up to its C{max_wait}.
    """

    def test_woken_by_produce(self) -> None:
        """
        A waiting fetch is answered as soon as a producer writes to its partition.
        """
        fetched = self.fetch_deferred([(P0, 0)], max_wait_ms=500)
        self.assertNoResult(fetched)
        request = produce_request(9, [(P0, make_batch(2))])
        call_handler(self.registry, request, self.broker.clock)
        partition = round_trip(self.successResultOf(fetched)).responses[0].partitions[0]
        self.assertEqual(offsets(partition.records), [0, 1])

    def test_times_out(self) -> None:
        """
        A waiting fetch is answered empty after C{max_wait}.
        """
        fetched = self.fetch_deferred([(P0, 0)], max_wait_ms=500)
        self.broker.clock.advance(0.5)
        partition = round_trip(self.successResultOf(fetched)).responses[0].partitions[0]
        self.assertEqual(
            (partition.error_code, partition.records), (ErrorCode.none, b"")
        )
        self.assertEqual(self.broker.clock.getDelayedCalls(), [])


class ServerRoundTripTests(FetchTestCase):
    """
    Produce and Fetch through the server protocol.
    """

    def test_produce_then_fetch(self) -> None:
        """
        Produced records are fetched back from the segment file and decode.
        """
        connection = connect(self.registry, clock=self.broker.clock)
        self.addCleanup(connection.lose)
        batch = make_batch(3, timestamp=START_MS + 5, value_size=20)
        connection.feed(request_frame(produce_request(9, [(P0, batch)]), 1))
        connection.feed(request_frame(fetch_request(12, [(P0, 0)]), 2))
        produced, fetched = read_frames(connection.transport.value())
        produce_response: Any = decode_response(produced, ApiKey.PRODUCE, 9)[1]
        partition = produce_response.responses[0].partition_responses[0]
        self.assertEqual(partition.error_code, ErrorCode.none)
        fetch_response: Any = decode_response(fetched, ApiKey.FETCH, 12)[1]
        records = fetch_response.responses[0].partitions[0].records
        segment = self.broker.partition("orders").log.active_segment
        with open(segment.log_path, "rb") as f:
            self.assertEqual(records, f.read())
        [read] = RecordBatchReader(records)
        read.validate()
        self.assertEqual(
            [(r.offset, r.key, r.value, r.timestamp) for r in read],
            [(i, b"k", bytes([i]) * 20, START_MS + 5) for i in range(3)],
        )

    def test_acks_zero(self) -> None:
        """
        An acks=0 produce gets no response; a failed one closes the connection.
        """
        connection = connect(self.registry, clock=self.broker.clock)
        self.addCleanup(connection.lose)
        connection.feed(request_frame(produce_request(9, [(P0, make_batch())], acks=0)))
        self.assertEqual(connection.transport.value(), b"")
        self.assertFalse(connection.closed)
        missing = TopicPartition("missing", 0)
        connection.feed(
            request_frame(produce_request(9, [(missing, make_batch())], acks=0))
        )
        self.assertEqual(connection.transport.value(), b"")
        self.assertTrue(connection.closed)

    def test_waiting_fetch_connection_lost(self) -> None:
        """
        A fetch waiting when its connection is lost stops waiting.
        """
        connection = connect(self.registry, clock=self.broker.clock)
        request = fetch_request(12, [(P0, 0)], max_wait_ms=500)
        connection.feed(request_frame(request))
        purgatory = self.broker.replica_manager.delayed_fetch_purgatory
        self.assertEqual(purgatory.delayed, 1)
        connection.lose()
        self.assertEqual(purgatory.delayed, 0)

    def test_waiting_fetch_answered(self) -> None:
        """
        A fetch waiting on one connection is answered when another produces.
        """
        consumer = connect(self.registry, clock=self.broker.clock)
        producer = connect(self.registry, clock=self.broker.clock)
        self.addCleanup(consumer.lose)
        self.addCleanup(producer.lose)
        consumer.feed(request_frame(fetch_request(12, [(P0, 0)], max_wait_ms=500)))
        self.assertEqual(consumer.transport.value(), b"")
        producer.feed(request_frame(produce_request(9, [(P0, make_batch(2))])))
        [frame] = read_frames(consumer.transport.value())
        response: Any = decode_response(frame, ApiKey.FETCH, 12)[1]
        self.assertEqual(offsets(response.responses[0].partitions[0].records), [0, 1])
