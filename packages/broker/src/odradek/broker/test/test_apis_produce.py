"""
Tests for L{odradek.broker.apis.produce}: every version, C{acks} 0, 1 and -1, the
checks made before appending, the log's errors with their messages, and idempotent
producers.
"""

from __future__ import annotations

import datetime
from typing import Any

from kio.schema.errors import ErrorCode
from twisted.internet.defer import Deferred
from twisted.trial.unittest import SynchronousTestCase

from odradek.broker.apis import CLOSE_CONNECTION, NO_RESPONSE, HandlerRegistry, produce
from odradek.broker.log import TopicPartition
from odradek.broker.test._brokertools import (
    NODE_ID,
    BrokerFixture,
    call_handler,
    produce_request,
    round_trip,
)
from odradek.broker.test._logtools import START_MS, make_batch
from odradek.client.protocol import ApiKey, VersionRange
from odradek.client.records import CompressionType, RecordBatchBuilder

P0 = TopicPartition("orders", 0)
P1 = TopicPartition("orders", 1)


def transactional_batch() -> bytes:
    """
    @return: a batch of a transactional producer.
    """
    builder = RecordBatchBuilder(
        producer_id=9, producer_epoch=0, base_sequence=0, is_transactional=True
    )
    builder.append(START_MS, b"k", b"v")
    return builder.build()


class ProduceTestCase(SynchronousTestCase):
    """
    A broker with a topic C{orders} of two partitions and the Produce handler.
    """

    def setUp(self) -> None:
        self.broker = BrokerFixture(self)
        self.topic = self.broker.create_topic("orders", 2)
        self.registry = HandlerRegistry()
        produce.register(
            self.registry, self.broker.replica_manager, config=self.broker.config
        )

    def produce(
        self,
        partitions: list[tuple[TopicPartition, bytes | None]],
        version: int = 9,
        client_id: str | None = "test",
        **kwargs: Any,
    ) -> Any:
        """
        @return: the outcome of a Produce request: the decoded response, or the
            action taken instead.
        """
        topic_ids = {"orders": self.topic.topic_id}
        request = produce_request(version, partitions, topic_ids=topic_ids, **kwargs)
        outcome = call_handler(
            self.registry, request, self.broker.clock, client_id=client_id
        )
        if isinstance(outcome, Deferred):
            outcome = self.successResultOf(outcome)
        if outcome is None or outcome in (NO_RESPONSE, CLOSE_CONNECTION):
            return outcome
        return round_trip(outcome)

    def partition_response(self, response: Any, topic: int = 0, index: int = 0) -> Any:
        return response.responses[topic].partition_responses[index]

    def assert_error(self, response: Any, code: ErrorCode, *words: str) -> Any:
        """
        Check the first partition's error code and that its message holds C{words}.
        """
        partition = self.partition_response(response)
        self.assertEqual(partition.error_code, code)
        self.assertEqual(partition.base_offset, -1)
        for word in words:
            self.assertIn(word, partition.error_message)
        return partition


class VersionTests(ProduceTestCase):
    """
    Produce is served in versions 3 to 13.
    """

    def test_registered(self) -> None:
        """
        Versions 3 to 13 are accepted and 0 to 13 advertised.
        """
        entry = self.registry.get(ApiKey.PRODUCE)
        assert entry is not None
        self.assertEqual(entry.versions, VersionRange(3, 13))
        self.assertEqual(entry.advertised, VersionRange(0, 13))

    def test_every_version(self) -> None:
        """
        Every version appends and answers with the fields of its version.
        """
        for version in range(3, 14):
            with self.subTest(version=version):
                response = self.produce([(P0, make_batch(2))], version)
                partition = self.partition_response(response)
                self.assertEqual(partition.error_code, ErrorCode.none)
                self.assertEqual(partition.base_offset, (version - 3) * 2)
                self.assertIsNone(partition.log_append_time)
                if version >= 5:
                    self.assertEqual(partition.log_start_offset, 0)
                topic = response.responses[0]
                if version >= 13:
                    self.assertEqual(topic.topic_id, self.topic.topic_id)
                else:
                    self.assertEqual(topic.name, "orders")

    def test_unknown_topic_id(self) -> None:
        """
        From version 13 an unknown topic id answers C{UNKNOWN_TOPIC_ID}.
        """
        request = produce_request(13, [(P0, make_batch())])
        response = round_trip(
            self.successResultOf(
                call_handler(self.registry, request, self.broker.clock)
            )
        )
        self.assert_error(response, ErrorCode.unknown_topic_id, "is not known")


class AcksTests(ProduceTestCase):
    """
    C{acks} decides whether and when the producer is answered.
    """

    def test_acks_all(self) -> None:
        """
        With one broker C{acks=-1} is answered at once, leaving no timer.
        """
        response = self.produce([(P0, make_batch())], acks=-1)
        self.assertEqual(self.partition_response(response).error_code, ErrorCode.none)
        self.assertEqual(self.broker.clock.getDelayedCalls(), [])

    def test_acks_zero(self) -> None:
        """
        C{acks=0} is not answered, and the records are written.
        """
        self.assertIs(self.produce([(P0, make_batch(2))], acks=0), NO_RESPONSE)
        self.assertEqual(self.broker.partition("orders").log_end_offset, 2)

    def test_acks_zero_error_closes(self) -> None:
        """
        With C{acks=0} a partition error closes the connection.
        """
        missing = TopicPartition("missing", 0)
        outcome = self.produce([(P0, make_batch()), (missing, make_batch())], acks=0)
        self.assertIs(outcome, CLOSE_CONNECTION)

    def test_acks_zero_request_error_closes(self) -> None:
        """
        With C{acks=0} a failure of the whole request closes the connection.
        """
        self.assertIsNone(self.produce([(P0, transactional_batch())], acks=0))

    def test_invalid_acks(self) -> None:
        """
        Acks other than 0, 1 and -1 answer C{INVALID_REQUIRED_ACKS}.
        """
        response = self.produce([(P0, make_batch())], acks=2)
        self.assert_error(response, ErrorCode.invalid_required_acks, "acks must be")

    def test_not_enough_replicas(self) -> None:
        """
        acks=-1 with an ISR below min.insync.replicas: NOT_ENOUGH_REPLICAS.
        """
        self.broker.create_topic("safe", 1, {"min.insync.replicas": "2"})
        response = self.produce([(TopicPartition("safe", 0), make_batch())], acks=-1)
        self.assert_error(response, ErrorCode.not_enough_replicas, "safe-0")


class CheckTests(ProduceTestCase):
    """
    The checks made before appending.
    """

    def test_unknown_topic(self) -> None:
        """
        Unknown partitions answer UNKNOWN_TOPIC_OR_PARTITION; others are written.
        """
        response = self.produce(
            [(TopicPartition("orders", 5), make_batch()), (P1, make_batch())]
        )
        self.assert_error(response, ErrorCode.unknown_topic_or_partition, "orders-5")
        self.assertEqual(
            self.partition_response(response, 0, 1).error_code, ErrorCode.none
        )

    def test_transactional_without_id(self) -> None:
        """
        Transactional batches without a transactional id fail the whole request.
        """
        response = self.produce([(P0, transactional_batch()), (P1, make_batch())])
        for index in (0, 1):
            partition = self.partition_response(response, 0, index)
            self.assertEqual(
                partition.error_code, ErrorCode.transactional_id_authorization_failed
            )
        self.assertEqual(self.broker.partition("orders", 1).log_end_offset, 0)

    def test_transactional(self) -> None:
        """
        Transactional batches answer INVALID_TXN_STATE: no transactions yet.
        """
        response = self.produce(
            [(P0, transactional_batch())], transactional_id="payments"
        )
        self.assert_error(response, ErrorCode.invalid_txn_state, "not supported")

    def test_two_batches(self) -> None:
        """
        More than one batch per partition answers C{INVALID_RECORD}.
        """
        response = self.produce([(P0, make_batch() + make_batch())])
        self.assert_error(
            response, ErrorCode.invalid_record, "exactly one record batch"
        )

    def test_no_batch(self) -> None:
        """
        No records, or only part of a batch, answers C{INVALID_RECORD}.
        """
        for records in (None, b"", make_batch()[:-1]):
            with self.subTest(records=records):
                response = self.produce([(P0, records)])
                self.assert_error(response, ErrorCode.invalid_record, "at least one")

    def test_old_magic(self) -> None:
        """
        A batch of magic 1 answers C{INVALID_RECORD}.
        """
        batch = bytearray(make_batch())
        batch[16] = 1
        response = self.produce([(P0, bytes(batch))])
        self.assert_error(response, ErrorCode.invalid_record, "magic 1")

    def test_zstd_before_version_7(self) -> None:
        """
        zstd needs version 7.
        """
        batch = make_batch(compression=CompressionType.ZSTD)
        response = self.produce([(P0, batch)], version=6)
        self.assert_error(response, ErrorCode.unsupported_compression_type)
        response = self.produce([(P0, batch)], version=7)
        self.assertEqual(self.partition_response(response).error_code, ErrorCode.none)

    def test_internal_topic(self) -> None:
        """
        Only Kafka's admin client id may append to an internal topic.
        """
        self.successResultOf(
            self.broker.metadata.create_topic(
                "__consumer_offsets", [[NODE_ID]], internal=True
            )
        )
        tp = TopicPartition("__consumer_offsets", 0)
        response = self.produce([(tp, make_batch())])
        self.assert_error(response, ErrorCode.invalid_topic_exception, "internal topic")
        response = self.produce([(tp, make_batch())], client_id=produce.ADMIN_CLIENT_ID)
        self.assertEqual(self.partition_response(response).error_code, ErrorCode.none)


class LogErrorTests(ProduceTestCase):
    """
    The log's errors reach the producer with their messages.
    """

    def test_corrupt(self) -> None:
        """
        A CRC mismatch answers C{CORRUPT_MESSAGE}, naming the partition.
        """
        batch = bytearray(make_batch())
        batch[-1] ^= 0xFF
        response = self.produce([(P0, bytes(batch))])
        partition = self.assert_error(
            response, ErrorCode.corrupt_message, "orders-0", "crc"
        )
        self.assertEqual(partition.log_start_offset, -1)

    def test_too_large(self) -> None:
        """
        A batch over the topic's C{max.message.bytes} answers C{MESSAGE_TOO_LARGE}.
        """
        self.broker.create_topic("small", 1, {"max.message.bytes": "100"})
        response = self.produce(
            [(TopicPartition("small", 0), make_batch(1, value_size=200))]
        )
        self.assert_error(response, ErrorCode.message_too_large, "max.message.bytes")

    def test_log_append_time(self) -> None:
        """
        A LogAppendTime topic answers the time stamped on the records.
        """
        self.broker.create_topic(
            "stamped", 1, {"message.timestamp.type": "LogAppendTime"}
        )
        response = self.produce([(TopicPartition("stamped", 0), make_batch())])
        appended = self.partition_response(response).log_append_time
        self.assertEqual(
            appended,
            datetime.datetime.fromtimestamp(self.broker.now_ms() / 1000, datetime.UTC),
        )


class IdempotenceTests(ProduceTestCase):
    """
    Idempotent producers: retries are recognised, gaps and stale epochs refused.
    """

    def batch(self, epoch: int, sequence: int, count: int = 2) -> bytes:
        return make_batch(
            count, producer_id=42, producer_epoch=epoch, base_sequence=sequence
        )

    def test_duplicate(self) -> None:
        """
        A retried batch gets its original offsets and is not written again.
        """
        self.produce([(P0, self.batch(0, 0))])
        self.produce([(P0, self.batch(0, 2))])
        response = self.produce([(P0, self.batch(0, 0))])
        partition = self.partition_response(response)
        self.assertEqual(
            (partition.error_code, partition.base_offset), (ErrorCode.none, 0)
        )
        self.assertEqual(self.broker.partition("orders").log_end_offset, 4)

    def test_out_of_order(self) -> None:
        """
        A sequence gap answers C{OUT_OF_ORDER_SEQUENCE_NUMBER}.
        """
        self.produce([(P0, self.batch(0, 0))])
        response = self.produce([(P0, self.batch(0, 5))])
        self.assert_error(response, ErrorCode.out_of_order_sequence_number, "42")

    def test_epoch_bump(self) -> None:
        """
        A bumped epoch restarts at sequence 0 and fences the old epoch.
        """
        self.produce([(P0, self.batch(0, 0))])
        response = self.produce([(P0, self.batch(1, 0))])
        self.assertEqual(self.partition_response(response).base_offset, 2)
        response = self.produce([(P0, self.batch(0, 2))])
        self.assert_error(response, ErrorCode.invalid_producer_epoch, "epoch")
