"""
Tests for L{odradek.client.records.builder}.
"""

from __future__ import annotations

import struct

from crc32c import crc32c
from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from odradek.client.records import (
    MAX_RECORD_OVERHEAD,
    RECORD_BATCH_OVERHEAD,
    CompressionType,
    DefaultRecordBatch,
    RecordBatchBuilder,
    TimestampType,
)

KEYS = st.none() | st.binary(max_size=300)
HEADERS = st.lists(
    st.tuples(st.text(max_size=20), st.none() | st.binary(max_size=200)), max_size=4
)


class BuildTests(SynchronousTestCase):
    """
    Tests for L{RecordBatchBuilder.build}'s header.
    """

    def test_header_fields(self) -> None:
        """The header holds the settings, the count, the timestamps and the length."""
        builder = RecordBatchBuilder(
            base_offset=100,
            partition_leader_epoch=7,
            producer_id=42,
            producer_epoch=3,
            base_sequence=11,
            is_transactional=True,
        )
        builder.append(5000, b"k", b"v")
        builder.append(4000, None, b"v2")
        builder.append(6000, b"k3", None)
        data = builder.build()
        fields = struct.unpack_from(">qiibIhiqqqhii", data)
        self.assertEqual(
            fields[:4] + fields[5:],
            (100, len(data) - 12, 7, 2, 0x10, 2, 5000, 6000, 42, 3, 11, 3),
        )
        self.assertEqual(fields[4], crc32c(data[21:]))

    def test_attributes(self) -> None:
        """Codec, timestamp type, transactional and control bits all land in place."""
        for codec in CompressionType:
            for transactional in (False, True):
                for control in (False, True):
                    builder = RecordBatchBuilder(
                        compression_type=codec,
                        timestamp_type=TimestampType.LOG_APPEND_TIME,
                        log_append_time=9,
                        producer_id=1,
                        is_transactional=transactional,
                        is_control_batch=control,
                    )
                    builder.append(1, b"k", b"v")
                    batch = DefaultRecordBatch.from_buffer(builder.build())
                    self.assertEqual(batch.compression_type, codec)
                    self.assertEqual(
                        batch.timestamp_type, TimestampType.LOG_APPEND_TIME
                    )
                    self.assertEqual(batch.is_transactional, transactional)
                    self.assertEqual(batch.is_control_batch, control)
                    self.assertEqual(batch.max_timestamp, 9)
                    self.assertTrue(batch.is_valid())

    def test_defaults(self) -> None:
        """Without producer state the batch carries -1s and CreateTime."""
        builder = RecordBatchBuilder()
        builder.append(1, None, None)
        batch = DefaultRecordBatch.from_buffer(builder.build())
        self.assertEqual(
            (
                batch.base_offset,
                batch.partition_leader_epoch,
                batch.producer_id,
                batch.producer_epoch,
                batch.base_sequence,
                batch.attributes,
            ),
            (0, -1, -1, -1, -1, 0),
        )

    def test_build_twice(self) -> None:
        """Building again gives the same bytes."""
        builder = RecordBatchBuilder(compression_type=CompressionType.GZIP)
        builder.append(1, b"k", b"v")
        self.assertIs(builder.build(), builder.build())

    def test_append_after_build(self) -> None:
        """A built batch takes no more records."""
        builder = RecordBatchBuilder()
        builder.append(1, b"k", b"v")
        builder.build()
        self.assertRaises(ValueError, builder.append, 2, b"k", b"v")
        self.assertFalse(builder.has_room_for(2, b"k", b"v"))
        self.assertTrue(builder.is_full())

    def test_empty(self) -> None:
        """A batch without records cannot be built."""
        self.assertRaises(ValueError, RecordBatchBuilder().build)

    def test_transactional_needs_producer_id(self) -> None:
        """A transactional batch without a producer id is refused."""
        self.assertRaises(ValueError, RecordBatchBuilder, is_transactional=True)

    def test_log_append_time_needed(self) -> None:
        """A LogAppendTime batch without the time is refused."""
        self.assertRaises(
            ValueError, RecordBatchBuilder, timestamp_type=TimestampType.LOG_APPEND_TIME
        )


class AppendTests(SynchronousTestCase):
    """
    Tests for L{RecordBatchBuilder.append}.
    """

    def test_offset_deltas(self) -> None:
        """Offset deltas count from 0, or follow the given ones, and must increase."""
        builder = RecordBatchBuilder(base_offset=10)
        self.assertEqual(builder.append(1, None, b"a"), 0)
        self.assertEqual(builder.append(1, None, b"b", offset_delta=5), 5)
        self.assertEqual(builder.append(1, None, b"c"), 6)
        self.assertRaises(ValueError, builder.append, 1, None, b"d", offset_delta=6)
        batch = DefaultRecordBatch.from_buffer(builder.build())
        self.assertEqual([r.offset for r in batch], [10, 15, 16])
        self.assertEqual((batch.last_offset_delta, batch.next_offset), (6, 17))

    def test_large_fields(self) -> None:
        """Deltas and lengths beyond the varint table's range encode correctly."""
        builder = RecordBatchBuilder()
        builder.append(0, b"k" * 20000, b"v" * 70000)
        builder.append(-(10**12), None, b"", offset_delta=2**31 - 1)
        records = list(DefaultRecordBatch.from_buffer(builder.build()))
        self.assertEqual(
            [(r.offset, r.timestamp, r.key_size, r.value_size) for r in records],
            [(0, 0, 20000, 70000), (2**31 - 1, -(10**12), -1, 0)],
        )

    def test_wrong_type_leaves_builder_unchanged(self) -> None:
        """A value that is not bytes fails without adding a record."""
        builder = RecordBatchBuilder()
        builder.append(1, None, b"a")
        self.assertRaises(TypeError, builder.append, 2, None, "text")
        self.assertEqual(builder.records_count, 1)
        self.assertEqual(len(list(DefaultRecordBatch.from_buffer(builder.build()))), 1)


class SizeTests(SynchronousTestCase):
    """
    Tests for the builder's size estimates.
    """

    @given(
        st.integers(0, 2**31 - 1),
        st.integers(-(2**40), 2**40),
        KEYS,
        KEYS,
        HEADERS,
    )
    def test_record_size(
        self,
        offset_delta: int,
        timestamp_delta: int,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, bytes | None]],
    ) -> None:
        """record_size_in_bytes is the size append adds, and within the upper bound."""
        builder = RecordBatchBuilder()
        builder.append(0, None, None)
        before = builder.uncompressed_size_in_bytes()
        builder.append(
            timestamp_delta, key, value, headers, offset_delta=offset_delta + 1
        )
        size = RecordBatchBuilder.record_size_in_bytes(
            offset_delta + 1, timestamp_delta, key, value, headers
        )
        self.assertEqual(builder.uncompressed_size_in_bytes() - before, size)
        self.assertLessEqual(
            RECORD_BATCH_OVERHEAD + size,
            RecordBatchBuilder.estimate_size_upper_bound(key, value, headers),
        )

    def test_estimated_size_uncompressed(self) -> None:
        """Uncompressed, the estimate is the exact size of the batch so far."""
        builder = RecordBatchBuilder()
        self.assertEqual(builder.estimated_size_in_bytes(), RECORD_BATCH_OVERHEAD)
        builder.append(1, b"key", b"value", [("h", b"v")])
        size = builder.estimated_size_in_bytes()
        self.assertEqual(size, len(builder.build()))

    def test_estimated_size_compressed(self) -> None:
        """Compressed, the records' size is scaled by the ratio estimate."""
        builder = RecordBatchBuilder(
            compression_type=CompressionType.ZSTD, compression_ratio_estimate=0.5
        )
        builder.append(1, None, b"v" * 1000)
        records = builder.uncompressed_size_in_bytes() - RECORD_BATCH_OVERHEAD
        self.assertEqual(
            builder.estimated_size_in_bytes(), RECORD_BATCH_OVERHEAD + records // 2
        )
        data = builder.build()
        self.assertEqual(builder.estimated_size_in_bytes(), len(data))
        self.assertEqual(
            builder.uncompressed_size_in_bytes(), RECORD_BATCH_OVERHEAD + records
        )

    def test_has_room_for(self) -> None:
        """The first record always fits; later ones only within the write limit."""
        builder = RecordBatchBuilder(write_limit=200)
        self.assertTrue(builder.has_room_for(1, None, b"v" * 500))
        builder.append(1, None, b"v" * 50)
        used = builder.estimated_size_in_bytes()
        fits = max(
            n
            for n in range(200)
            if used + RecordBatchBuilder.record_size_in_bytes(1, 0, None, b"v" * n)
            <= 200
        )
        self.assertTrue(builder.has_room_for(1, None, b"v" * fits))
        self.assertFalse(builder.has_room_for(1, None, b"v" * (fits + 1)))
        self.assertFalse(builder.is_full())

    def test_no_limit(self) -> None:
        """Without a write limit there is always room."""
        builder = RecordBatchBuilder()
        builder.append(1, None, b"v")
        self.assertTrue(builder.has_room_for(1, None, b"v" * 10**6))
        self.assertFalse(builder.is_full())

    @given(
        timestamp=st.integers(0, 10**13),
        key=KEYS,
        value=st.none() | st.binary(max_size=400),
        headers=HEADERS,
        compression=st.sampled_from([CompressionType.NONE, CompressionType.GZIP]),
    )
    def test_try_append_agrees(
        self,
        timestamp: int,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, bytes | None]],
        compression: CompressionType,
    ) -> None:
        """
        C{try_append} appends exactly when C{has_room_for} says the record fits,
        and then encodes it as C{append} does.
        """
        builder = RecordBatchBuilder(
            compression_type=compression,
            write_limit=400,
            compression_ratio_estimate=0.5 if compression else 1.0,
        )
        twin = RecordBatchBuilder(compression_type=compression)
        for delta in (0, 5):
            fits = builder.has_room_for(timestamp + delta, key, value, headers)
            before = builder.uncompressed_size_in_bytes()
            offset = builder.try_append(timestamp + delta, key, value, headers)
            if fits:
                self.assertEqual(
                    offset, twin.append(timestamp + delta, key, value, headers)
                )
            else:
                self.assertEqual(offset, -1)
                self.assertEqual(builder.uncompressed_size_in_bytes(), before)
        self.assertEqual(builder.build(), twin.build())

    def test_try_append_limit(self) -> None:
        """
        The first record always goes in; a later one only within the write
        limit unless forced; none once built.
        """
        builder = RecordBatchBuilder(write_limit=100)
        self.assertEqual(builder.try_append(1, None, b"v" * 200), 0)
        self.assertEqual(builder.try_append(1, None, b"v"), -1)
        self.assertEqual(builder.records_count, 1)
        self.assertEqual(builder.try_append(1, None, b"v", force=True), 1)
        builder.build()
        self.assertEqual(builder.try_append(1, None, b"v", force=True), -1)

    def test_is_full(self) -> None:
        """A batch at or past its write limit is full."""
        builder = RecordBatchBuilder(write_limit=100)
        builder.append(1, None, b"v" * 100)
        self.assertTrue(builder.is_full())

    def test_upper_bound(self) -> None:
        """The upper bound adds the batch header and the worst record overhead."""
        self.assertEqual(
            RecordBatchBuilder.estimate_size_upper_bound(None, None),
            RECORD_BATCH_OVERHEAD + MAX_RECORD_OVERHEAD + 3,
        )

    def test_counters(self) -> None:
        """The builder reports its count, timestamps and next offset delta."""
        builder = RecordBatchBuilder()
        self.assertEqual((builder.first_timestamp, builder.max_timestamp), (-1, -1))
        builder.append(50, None, b"a")
        builder.append(70, None, b"b")
        builder.append(60, None, b"c")
        self.assertEqual(
            (
                builder.records_count,
                builder.first_timestamp,
                builder.max_timestamp,
                builder.next_offset_delta,
            ),
            (3, 50, 70, 3),
        )
