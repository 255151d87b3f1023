"""
Tests for the requests of L{odradek.client.network.requests} that the producer
sends: Produce and InitProducerId.
"""

from __future__ import annotations

import datetime
from typing import cast

from kio.schema.errors import ErrorCode
from kio.schema.init_producer_id.v0.response import (
    InitProducerIdResponse as InitProducerIdResponseV0,
)
from kio.schema.produce.v3 import response as produce_v3
from kio.schema.produce.v8 import response as produce_v8
from kio.schema.types import ProducerId, TopicName
from kio.static.primitive import TZAware, i16, i32, i64
from twisted.trial.unittest import SynchronousTestCase

from odradek.client.network.requests import (
    PartitionProduceResult,
    init_producer_id_request,
    parse_init_producer_id_response,
    parse_produce_response,
    produce_request,
)
from odradek.client.protocol import (
    ApiKey,
    UnsupportedVersionError,
    decode_response,
    encode_response,
)
from odradek.client.structs import TopicPartition
from odradek.client.test._networktools import NO_THROTTLE, round_trip


class ProduceRequestTests(SynchronousTestCase):
    """
    L{produce_request} groups batches by topic.
    """

    batches = {
        TopicPartition("a", 0): b"batch-a0",
        TopicPartition("b", 2): b"batch-b2",
        TopicPartition("a", 1): b"batch-a1",
    }

    def test_grouped_by_topic(self) -> None:
        """
        Partitions of one topic share one topic entry; every field round-trips.
        """
        for version in (3, 7, 9, 12):
            request = produce_request(
                version,
                acks=-1,
                timeout_ms=1500,
                transactional_id="tx",
                batches=self.batches,
            )
            decoded = round_trip(request)
            self.assertEqual(decoded, request)
            self.assertEqual(decoded.acks, -1)  # type: ignore[union-attr]
            self.assertEqual(
                decoded.timeout,  # type: ignore[union-attr]
                datetime.timedelta(milliseconds=1500),
            )
            self.assertEqual(decoded.transactional_id, "tx")  # type: ignore[union-attr]
            layout = {
                topic.name: [
                    (partition.index, bytes(partition.records))
                    for partition in topic.partition_data
                ]
                for topic in decoded.topic_data  # type: ignore[union-attr]
            }
            self.assertEqual(
                layout,
                {
                    "a": [(0, b"batch-a0"), (1, b"batch-a1")],
                    "b": [(2, b"batch-b2")],
                },
            )

    def test_version_13_refused(self) -> None:
        """
        Version 13 needs topic ids, which this client does not build.
        """
        with self.assertRaises(UnsupportedVersionError) as caught:
            produce_request(
                13, acks=1, timeout_ms=1, transactional_id=None, batches=self.batches
            )
        self.assertIn("3 to 12", str(caught.exception))


def _produce_partition_v8(
    index: int, error: ErrorCode, append_time: TZAware | None
) -> produce_v8.PartitionProduceResponse:
    return produce_v8.PartitionProduceResponse(
        index=i32(index),
        error_code=error,
        base_offset=i64(100 if error == ErrorCode.none else -1),
        log_append_time=append_time,
        log_start_offset=i64(7),
        record_errors=(
            ()
            if error == ErrorCode.none
            else (
                produce_v8.BatchIndexAndErrorMessage(
                    batch_index=i32(2), batch_index_error_message="bad record"
                ),
            )
        ),
        error_message=None if error == ErrorCode.none else "invalid record",
    )


class ParseProduceResponseTests(SynchronousTestCase):
    """
    L{parse_produce_response} reads per-partition results.
    """

    def test_version_8(self) -> None:
        """
        Version 8 carries log start offsets, record errors and error messages.
        """
        # kio's TZAware type refuses milliseconds, which its reader produces.
        moment = cast(
            TZAware,
            datetime.datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=datetime.UTC),
        )
        response = produce_v8.ProduceResponse(
            responses=(
                produce_v8.TopicProduceResponse(
                    name=TopicName("a"),
                    partition_responses=(
                        _produce_partition_v8(0, ErrorCode.none, moment),
                        _produce_partition_v8(1, ErrorCode.invalid_record, None),
                    ),
                ),
            ),
            throttle_time=NO_THROTTLE,
        )
        _, decoded = decode_response(encode_response(3, response), ApiKey.PRODUCE, 8)
        results = parse_produce_response(decoded)
        self.assertEqual(
            results,
            {
                TopicPartition("a", 0): PartitionProduceResult(
                    0, 100, int(moment.timestamp() * 1000), 7, None, ()
                ),
                TopicPartition("a", 1): PartitionProduceResult(
                    87, -1, -1, 7, "invalid record", ((2, "bad record"),)
                ),
            },
        )
        self.assertEqual(
            results[TopicPartition("a", 0)].log_append_time_ms, 1704164645678
        )
        self.assertIs(type(results[TopicPartition("a", 1)].error_code), int)

    def test_version_3(self) -> None:
        """
        Version 3 lacks the log start offset and record errors.
        """
        response = produce_v3.ProduceResponse(
            responses=(
                produce_v3.TopicProduceResponse(
                    name=TopicName("b"),
                    partition_responses=(
                        produce_v3.PartitionProduceResponse(
                            index=i32(4),
                            error_code=ErrorCode.not_leader_or_follower,
                            base_offset=i64(-1),
                            log_append_time=None,
                        ),
                    ),
                ),
            ),
        )
        self.assertEqual(
            parse_produce_response(response),
            {TopicPartition("b", 4): PartitionProduceResult(6, -1, -1, -1, None, ())},
        )


class InitProducerIdTests(SynchronousTestCase):
    """
    L{init_producer_id_request} and L{parse_init_producer_id_response}.
    """

    def test_version_0(self) -> None:
        """
        Version 0 carries the transactional id and timeout only.
        """
        request = round_trip(
            init_producer_id_request(
                0, transactional_id=None, transaction_timeout_ms=60000
            )
        )
        self.assertIsNone(request.transactional_id)  # type: ignore[union-attr]
        self.assertEqual(
            request.transaction_timeout,  # type: ignore[union-attr]
            datetime.timedelta(seconds=60),
        )

    def test_version_0_refuses_producer_id(self) -> None:
        """
        A producer id and epoch need version 3.
        """
        self.assertRaises(
            UnsupportedVersionError,
            init_producer_id_request,
            2,
            transactional_id="t",
            transaction_timeout_ms=1,
            producer_id=5,
            producer_epoch=1,
        )

    def test_version_3_and_up(self) -> None:
        """
        From version 3 on the current producer id and epoch are sent.
        """
        for version in (3, 4, 5, 6):
            request = round_trip(
                init_producer_id_request(
                    version,
                    transactional_id="t",
                    transaction_timeout_ms=1000,
                    producer_id=42,
                    producer_epoch=3,
                )
            )
            self.assertEqual(
                (request.producer_id, request.producer_epoch),  # type: ignore[union-attr]
                (42, 3),
            )

    def test_parse(self) -> None:
        """
        The answer reads as (error code, producer id, epoch), all ints.
        """
        response = InitProducerIdResponseV0(
            throttle_time=NO_THROTTLE,
            error_code=ErrorCode.coordinator_not_available,
            producer_id=ProducerId(-1),
            producer_epoch=i16(-1),
        )
        parsed = parse_init_producer_id_response(response)
        self.assertEqual(parsed, (15, -1, -1))
        self.assertEqual([type(value) for value in parsed], [int, int, int])
