"""
Tests for L{odradek.broker.log.validator}.
"""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from odradek.broker.log.config import LogConfig
from odradek.broker.log.validator import LogAppendInfo, LogValidator
from odradek.broker.test._logtools import (
    HYPOTHESIS,
    START_MS,
    FakeClock,
    make_batch,
    recompute_crc,
)
from odradek.client.errors import (
    CorruptRecordError,
    InvalidRecordError,
    InvalidTimestampError,
    KafkaError,
    RecordBatchTooLargeError,
    RecordTooLargeError,
    UnsupportedCompressionTypeError,
)
from odradek.client.records import (
    CompressionType,
    DefaultRecordBatch,
    RecordBatchBuilder,
    RecordBatchReader,
    TimestampType,
)


class ValidatorTestCase(SynchronousTestCase):
    """
    A validator for partition C{orders-0} with a settable clock.
    """

    def validate(
        self, records: bytes, config: LogConfig | None = None, next_offset: int = 100
    ) -> tuple[bytearray, LogAppendInfo]:
        validator = LogValidator("orders-0", config or LogConfig(), FakeClock())
        return validator.validate_and_assign_offsets(bytearray(records), next_offset, 7)

    def assertRejected(
        self,
        error: type[KafkaError],
        records: bytes,
        *fragments: str,
        config: LogConfig | None = None,
    ) -> None:
        """
        Validation fails with C{error} (exactly that class) and a message naming the
        partition and each fragment.
        """
        failure = self.assertRaises(error, self.validate, records, config)
        self.assertIs(type(failure), error)
        self.assertIn("orders-0", str(failure))
        for fragment in fragments:
            self.assertIn(fragment, str(failure))


class AssignOffsetsTests(ValidatorTestCase):
    """
    Valid batches get offsets, the leader epoch and, for LogAppendTime, the time.
    """

    def test_offsets(self) -> None:
        """
        Batches get consecutive offsets from the log end, and the leader epoch.
        """
        data, info = self.validate(make_batch(3) + make_batch(2))
        batches = list(RecordBatchReader(data))
        self.assertEqual([b.base_offset for b in batches], [100, 103])
        self.assertEqual([b.partition_leader_epoch for b in batches], [7, 7])
        for batch in batches:
            batch.validate()
        self.assertEqual((info.first_offset, info.last_offset), (100, 104))
        self.assertEqual(info.record_count, 5)
        self.assertEqual(info.valid_bytes, len(data))
        self.assertEqual(info.log_append_time, -1)
        self.assertEqual(
            [(b.position, b.last_offset) for b in info.batches],
            [(0, 102), (batches[1].position, 104)],
        )

    def test_max_timestamp(self) -> None:
        """
        The largest batch timestamp and its batch's last offset are reported.
        """
        records = make_batch(2, timestamp=START_MS + 5) + make_batch(
            2, timestamp=START_MS + 1
        )
        _, info = self.validate(records)
        self.assertEqual(info.max_timestamp, START_MS + 5)
        self.assertEqual(info.offset_of_max_timestamp, 101)

    def test_log_append_time(self) -> None:
        """
        With LogAppendTime the batch is stamped with the broker's time, and its CRC
        stays valid.
        """
        records = make_batch(3, timestamp=5)
        data, info = self.validate(
            records, LogConfig(message_timestamp_type="LogAppendTime")
        )
        batch = DefaultRecordBatch.from_buffer(data)
        batch.validate()
        self.assertEqual(batch.timestamp_type, TimestampType.LOG_APPEND_TIME)
        self.assertEqual(batch.max_timestamp, START_MS)
        self.assertEqual([r.timestamp for r in batch], [START_MS] * 3)
        self.assertEqual(info.log_append_time, START_MS)
        self.assertEqual(info.max_timestamp, START_MS)

    def test_compressed_in_place(self) -> None:
        """
        A compressed batch is assigned offsets without being recompressed.
        """
        records = make_batch(4, compression=CompressionType.ZSTD)
        data, _ = self.validate(records)
        self.assertEqual(data[61:], bytearray(records[61:]))
        batch = DefaultRecordBatch.from_buffer(data)
        self.assertEqual([r.offset for r in batch], [100, 101, 102, 103])

    def test_recompress(self) -> None:
        """
        A topic with its own C{compression.type} gets batches in that codec.
        """
        records = make_batch(
            4,
            compression=CompressionType.GZIP,
            producer_id=9,
            producer_epoch=1,
            base_sequence=3,
        )
        data, info = self.validate(records, LogConfig(compression_type="lz4"))
        batch = DefaultRecordBatch.from_buffer(data)
        batch.validate()
        self.assertEqual(batch.compression_type, CompressionType.LZ4)
        self.assertEqual((batch.producer_id, batch.base_sequence), (9, 3))
        self.assertEqual([r.offset for r in batch], [100, 101, 102, 103])
        self.assertEqual(info.batches[0].last_sequence, 6)

    def test_producer_fields(self) -> None:
        """
        Each batch's producer id, epoch and sequence range are reported.
        """
        records = make_batch(
            3, producer_id=11, producer_epoch=2, base_sequence=2**31 - 2
        )
        _, info = self.validate(records)
        batch = info.batches[0]
        self.assertEqual((batch.producer_id, batch.producer_epoch), (11, 2))
        self.assertEqual((batch.base_sequence, batch.last_sequence), (2**31 - 2, 0))

    @HYPOTHESIS
    @given(st.lists(st.integers(1, 20), min_size=1, max_size=8), st.integers(0, 10**12))
    def test_offsets_any_batches(self, counts: list[int], next_offset: int) -> None:
        """
        Any run of valid batches gets contiguous offsets with valid CRCs.
        """
        records = b"".join(make_batch(n) for n in counts)
        data, info = self.validate(records, next_offset=next_offset)
        offsets: list[int] = []
        for batch in RecordBatchReader(data):
            batch.validate()
            offsets.extend(r.offset for r in batch)
        self.assertEqual(offsets, list(range(next_offset, next_offset + sum(counts))))
        self.assertEqual(info.last_offset, next_offset + sum(counts) - 1)


class RejectTests(ValidatorTestCase):
    """
    Bad batches are refused with Kafka's error for each case.
    """

    def test_corrupt_crc(self) -> None:
        """
        A flipped byte fails the CRC: CORRUPT_MESSAGE naming the stored and computed
        CRCs and the batch.
        """
        records = bytearray(make_batch(2) + make_batch(2))
        records[-3] ^= 0x55
        second = len(records) // 2
        self.assertRejected(
            CorruptRecordError, bytes(records), "stored crc", f"position {second}"
        )

    def test_bad_magic(self) -> None:
        """
        An unknown magic is CORRUPT_MESSAGE; magic 0 or 1 is INVALID_RECORD.
        """
        records = bytearray(make_batch(1))
        records[16] = 7
        self.assertRejected(CorruptRecordError, bytes(records), "magic 7")
        records[16] = 1
        self.assertRejected(InvalidRecordError, bytes(records), "magic 1")

    def test_partial_batch(self) -> None:
        """
        A request ending inside a batch is refused, naming the sizes.
        """
        records = make_batch(2) + make_batch(2)[:30]
        self.assertRejected(CorruptRecordError, records, "cut short")
        self.assertRejected(CorruptRecordError, make_batch(1) + b"\x00" * 5, "partial")

    def test_length_too_small(self) -> None:
        """
        A batch length below the minimum is CORRUPT_MESSAGE.
        """
        records = bytearray(make_batch(1))
        struct.pack_into(">i", records, 8, 3)
        self.assertRejected(CorruptRecordError, bytes(records), "length of 3")

    def test_base_offset_not_zero(self) -> None:
        """
        A producer's batch must have base offset 0.
        """
        records = bytearray(make_batch(1))
        struct.pack_into(">q", records, 0, 5)
        self.assertRejected(InvalidRecordError, bytes(records), "should be 0, not 5")

    def test_record_too_large(self) -> None:
        """
        A batch over C{max.message.bytes} is MESSAGE_TOO_LARGE naming both sizes.
        """
        records = make_batch(1, value_size=500)
        config = LogConfig(max_message_bytes=400)
        self.assertRejected(
            RecordTooLargeError, records, str(len(records)), "400", config=config
        )

    def test_record_list_too_large(self) -> None:
        """
        A payload larger than a segment is RECORD_LIST_TOO_LARGE.
        """
        records = make_batch(3, value_size=100)
        config = LogConfig(segment_bytes=200)
        self.assertRejected(
            RecordBatchTooLargeError, records, "segment.bytes", config=config
        )

    def test_count_mismatch(self) -> None:
        """
        A records count disagreeing with the last offset delta is INVALID_RECORD.
        """
        records = bytearray(make_batch(3))
        struct.pack_into(">i", records, 57, 4)
        self.assertRejected(
            InvalidRecordError, recompute_crc(records), "records count 4"
        )

    def test_count_larger_than_bytes(self) -> None:
        """
        A records count the bytes cannot hold is INVALID_RECORD.
        """
        records = bytearray(make_batch(3, value_size=0))
        struct.pack_into(">i", records, 57, 1000)
        struct.pack_into(">i", records, 23, 999)
        self.assertRejected(InvalidRecordError, recompute_crc(records), "1000 records")

    def test_no_records(self) -> None:
        """
        An empty request or a batch declaring no records is INVALID_RECORD.
        """
        self.assertRejected(InvalidRecordError, b"", "no record batch")
        records = bytearray(make_batch(1))
        struct.pack_into(">i", records, 57, 0)
        self.assertRejected(
            InvalidRecordError, recompute_crc(records), "records count 0"
        )

    def test_control_batch(self) -> None:
        """
        A producer may not write a control batch.
        """
        records = bytearray(make_batch(1))
        struct.pack_into(">h", records, 21, 0x20)
        self.assertRejected(InvalidRecordError, recompute_crc(records), "control batch")

    def test_log_append_time_from_producer(self) -> None:
        """
        A producer may not mark its batch LogAppendTime.
        """
        records = bytearray(make_batch(1))
        struct.pack_into(">h", records, 21, 0x08)
        self.assertRejected(
            InvalidTimestampError, recompute_crc(records), "LogAppendTime"
        )

    def test_producer_id_without_sequence(self) -> None:
        """
        An idempotent batch needs a sequence.
        """
        records = make_batch(1, producer_id=5, producer_epoch=0, base_sequence=-1)
        self.assertRejected(InvalidRecordError, records, "producer id 5", "sequence -1")

    def test_unknown_codec(self) -> None:
        """
        Compression ids 5 to 7 are refused.
        """
        records = bytearray(make_batch(1))
        struct.pack_into(">h", records, 21, 6)
        self.assertRejected(
            UnsupportedCompressionTypeError, recompute_crc(records), "id 6"
        )

    def test_timestamp_too_late(self) -> None:
        """
        A timestamp beyond C{message.timestamp.after.max.ms} is INVALID_TIMESTAMP
        naming the value and the range.
        """
        records = make_batch(1, timestamp=START_MS + 3600001)
        self.assertRejected(
            InvalidTimestampError,
            records,
            str(START_MS + 3600001),
            str(START_MS + 3600000),
        )

    def test_timestamp_too_early(self) -> None:
        """
        A timestamp before C{message.timestamp.before.max.ms} is INVALID_TIMESTAMP.
        """
        config = LogConfig(message_timestamp_before_max_ms=1000)
        records = make_batch(2, timestamps=[START_MS - 1001, START_MS])
        self.assertRejected(
            InvalidTimestampError, records, str(START_MS - 1001), config=config
        )
        self.validate(make_batch(1, timestamp=START_MS - 1000), config)

    def test_no_timestamp_accepted(self) -> None:
        """
        Records without a timestamp (-1) are not checked against the bounds.
        """
        self.validate(
            make_batch(1, timestamp=-1), LogConfig(message_timestamp_before_max_ms=0)
        )

    def test_compacted_topic_needs_keys(self) -> None:
        """
        A compacted topic refuses records without a key.
        """
        config = LogConfig(cleanup_policy=("compact",))
        self.validate(make_batch(2), config)
        self.assertRejected(
            InvalidRecordError, make_batch(2, key=None), "no key", config=config
        )

    def test_first_bad_batch_named(self) -> None:
        """
        The error names the position and base offset of the bad batch.
        """
        good = make_batch(1)
        builder = RecordBatchBuilder()
        builder.append(START_MS, b"k", b"v" * 600)
        bad = builder.build()
        config = LogConfig(max_message_bytes=200)
        self.assertRejected(
            RecordTooLargeError,
            good + bad,
            f"position {len(good)}",
            "base offset 0",
            config=config,
        )


class FuzzTests(ValidatorTestCase):
    """
    Whatever bytes arrive, the validator answers with a Kafka error or accepts them.
    """

    def check(self, records: bytes, config: LogConfig | None = None) -> None:
        try:
            data, info = self.validate(records, config)
        except KafkaError:
            return
        for batch in RecordBatchReader(data, allow_partial=False):
            batch.validate()
        self.assertEqual(info.valid_bytes, len(data))

    @settings(HYPOTHESIS, max_examples=300)
    @given(st.binary(max_size=300))
    def test_random_bytes(self, records: bytes) -> None:
        """
        Random bytes never raise anything but a Kafka error.
        """
        self.check(records)

    @settings(HYPOTHESIS, max_examples=300)
    @given(
        st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255)), max_size=6),
        st.sampled_from([None, LogConfig(cleanup_policy=("compact",))]),
    )
    def test_mutated_batches(
        self, edits: list[tuple[int, int]], config: LogConfig | None
    ) -> None:
        """
        Valid batches with bytes overwritten, their CRCs fixed or not, never raise
        anything but a Kafka error, and what is accepted reads back valid.
        """
        original = make_batch(3, compression=CompressionType.GZIP) + make_batch(2)
        for fix_crc in (False, True):
            records = bytearray(original)
            for position, value in edits:
                records[position % len(records)] = value
            if fix_crc:
                records = bytearray(recompute_crc(records))
            self.check(bytes(records), config)
