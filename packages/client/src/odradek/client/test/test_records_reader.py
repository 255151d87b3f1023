"""
Tests for L{odradek.client.records.reader}: round trips and malformed batches.
"""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from odradek.client.errors import (
    CorruptRecordError,
    InvalidRecordError,
    RecordTooLargeError,
    UnsupportedCompressionTypeError,
)
from odradek.client.records import (
    ChecksumMismatchError,
    CompressionType,
    DefaultRecordBatch,
    Record,
    RecordBatchBuilder,
    RecordBatchReader,
    TimestampType,
    compress,
    iter_batches,
)
from odradek.client.test._recordtools import encode_record, make_batch, recompute_crc

RECORD = st.tuples(
    st.integers(-(2**40), 2**40),
    st.none() | st.binary(max_size=50),
    st.none() | st.binary(max_size=300),
    st.lists(
        st.tuples(st.text(max_size=10), st.none() | st.binary(max_size=20)), max_size=3
    ),
)


def build(
    records: list[
        tuple[int, bytes | None, bytes | None, list[tuple[str, bytes | None]]]
    ],
    **settings: object,
) -> bytes:
    """
    @param records: (timestamp, key, value, headers) to append.
    @param settings: builder settings.
    @return: the built batch.
    """
    builder = RecordBatchBuilder(**settings)  # type: ignore[arg-type]
    for timestamp, key, value, headers in records:
        builder.append(timestamp, key, value, headers)
    return builder.build()


class RoundTripTests(SynchronousTestCase):
    """
    What the builder writes, the reader reads back.
    """

    @settings(max_examples=60, deadline=None)
    @given(
        st.lists(RECORD, min_size=1, max_size=40),
        st.sampled_from(list(CompressionType)),
        st.booleans(),
        st.integers(0, 2**40),
    )
    def test_records(
        self,
        records: list[
            tuple[int, bytes | None, bytes | None, list[tuple[str, bytes | None]]]
        ],
        codec: CompressionType,
        transactional: bool,
        base_offset: int,
    ) -> None:
        """Keys, values (null distinct from empty), headers and timestamps survive."""
        data = build(
            records,
            compression_type=codec,
            base_offset=base_offset,
            producer_id=5,
            producer_epoch=1,
            base_sequence=0,
            is_transactional=transactional,
        )
        (batch,) = iter_batches(data)
        batch.validate()
        decoded = list(batch)
        self.assertEqual(
            [(r.timestamp, r.key, r.value, list(r.headers)) for r in decoded],
            [(t, k, v, h) for t, k, v, h in records],
        )
        self.assertEqual(
            [r.offset for r in decoded],
            list(range(base_offset, base_offset + len(records))),
        )
        self.assertEqual(batch.records_count, len(records))
        self.assertEqual(batch.first_timestamp, records[0][0])
        self.assertEqual(batch.max_timestamp, max(r[0] for r in records))
        self.assertEqual(batch.is_transactional, transactional)
        if codec == CompressionType.NONE:
            self.assertEqual(
                sum(r.size_in_bytes for r in decoded), batch.size_in_bytes - 61
            )

    def test_many_records(self) -> None:
        """Ten thousand records round-trip in every codec."""
        records: list[
            tuple[int, bytes | None, bytes | None, list[tuple[str, bytes | None]]]
        ] = [(i, b"k%d" % i, b"v" * (i % 50), []) for i in range(10000)]
        for codec in CompressionType:
            batch = DefaultRecordBatch.from_buffer(
                build(records, compression_type=codec)
            )
            self.assertEqual([r.value for r in batch], [r[2] for r in records])

    def test_iterate_twice(self) -> None:
        """A batch decodes its records afresh each time it is iterated."""
        batch = DefaultRecordBatch.from_buffer(build([(1, b"k", b"v", [])]))
        self.assertEqual(list(batch), list(batch))

    def test_record(self) -> None:
        """A record reports its sizes, -1 for null key and value."""
        (record,) = DefaultRecordBatch.from_buffer(build([(7, None, None, [])]))
        self.assertEqual(record, Record(0, 7, None, None, (), 7))
        self.assertEqual((record.key_size, record.value_size), (-1, -1))

    def test_log_append_time(self) -> None:
        """Every record of a LogAppendTime batch has the batch's max timestamp."""
        data = build(
            [(1, None, b"a", []), (2, None, b"b", [])],
            timestamp_type=TimestampType.LOG_APPEND_TIME,
            log_append_time=555,
        )
        self.assertEqual(
            [r.timestamp for r in DefaultRecordBatch.from_buffer(data)], [555, 555]
        )


class HeaderFieldTests(SynchronousTestCase):
    """
    Tests for the header fields a batch derives.
    """

    def test_offsets_and_size(self) -> None:
        """last_offset, next_offset and size_in_bytes follow from the header."""
        data = make_batch(b"", 0, base_offset=100, last_offset_delta=4)
        batch = DefaultRecordBatch.from_buffer(data)
        self.assertEqual(
            (batch.last_offset, batch.next_offset, batch.size_in_bytes, batch.magic),
            (104, 105, 61, 2),
        )
        self.assertEqual(list(batch), [])

    def test_sequences(self) -> None:
        """last_sequence adds the last offset delta, wrapping past 2**31 - 1."""
        batch = DefaultRecordBatch.from_buffer(
            make_batch(
                b"", 0, last_offset_delta=4, producer_id=1, base_sequence=2**31 - 2
            )
        )
        self.assertTrue(batch.has_producer_id)
        self.assertEqual(batch.last_sequence, 2)
        batch = DefaultRecordBatch.from_buffer(make_batch(b"", 0, last_offset_delta=4))
        self.assertFalse(batch.has_producer_id)
        self.assertEqual(batch.last_sequence, -1)

    def test_delete_horizon(self) -> None:
        """With attribute bit 6 the base timestamp is the delete horizon."""
        batch = DefaultRecordBatch.from_buffer(make_batch(b"", 0, attributes=0x40))
        self.assertEqual(batch.delete_horizon_ms, 1000)
        batch = DefaultRecordBatch.from_buffer(make_batch(b"", 0))
        self.assertIsNone(batch.delete_horizon_ms)

    def test_unknown_compression(self) -> None:
        """Compression id 5 reads as a header but cannot be iterated."""
        batch = DefaultRecordBatch.from_buffer(make_batch(b"", 0, attributes=5))
        self.assertEqual(batch.attributes, 5)
        self.assertRaises(UnsupportedCompressionTypeError, iter, batch)


class BatchValidationTests(SynchronousTestCase):
    """
    Batch-level checks: CRC, magic, lengths, counts.
    """

    def test_crc_mismatch(self) -> None:
        """A flipped byte fails the CRC check, naming the batch and both CRCs."""
        data = bytearray(build([(1, b"k", b"value", [])], base_offset=9))
        data[-1] ^= 0xFF
        batch = DefaultRecordBatch.from_buffer(data)
        self.assertFalse(batch.is_valid())
        error = self.assertRaises(CorruptRecordError, batch.validate)
        self.assertIsInstance(error, ChecksumMismatchError)
        assert isinstance(error, ChecksumMismatchError)
        self.assertEqual(error.stored_crc, batch.crc)
        self.assertEqual(error.computed_crc, batch.compute_checksum())
        self.assertIn("base offset 9", str(error))
        self.assertIn("stored crc", str(error))

    def test_crc_ignores_offset_and_epoch(self) -> None:
        """The base offset and leader epoch are outside the CRC."""
        data = bytearray(build([(1, b"k", b"v", [])]))
        data[0:8] = b"\x01" * 8
        data[12:16] = b"\x01" * 4
        self.assertTrue(DefaultRecordBatch.from_buffer(data).is_valid())

    def test_legacy_magic(self) -> None:
        """Magic 0 and 1 are an InvalidRecordError naming the magic."""
        for magic in (0, 1):
            data = make_batch(b"", 0, magic=magic)
            error = self.assertRaises(
                InvalidRecordError, DefaultRecordBatch.from_buffer, data
            )
            self.assertIn(f"magic {magic}", str(error))

    def test_bad_magic(self) -> None:
        """Any other magic is a CorruptRecordError naming it, signed."""
        for magic, shown in ((3, "3"), (0xFF, "-1")):
            data = bytearray(make_batch(b"", 0))
            data[16] = magic
            error = self.assertRaises(
                CorruptRecordError, list, RecordBatchReader(bytes(data))
            )
            self.assertIn(f"invalid magic {shown}", str(error))

    def test_length_below_minimum(self) -> None:
        """A batch length below 14 is a CorruptRecordError, however short the buffer."""
        data = struct.pack(">qi", 0, 13)
        error = self.assertRaises(CorruptRecordError, list, RecordBatchReader(data))
        self.assertIn("length of 13", str(error))

    def test_length_below_v2_header(self) -> None:
        """A v2 batch shorter than its 61-byte header is a CorruptRecordError."""
        data = make_batch(b"", 0, length_adjust=-1)
        error = self.assertRaises(CorruptRecordError, list, RecordBatchReader(data))
        self.assertIn("60 bytes", str(error))

    def test_negative_count(self) -> None:
        """A negative records count is an InvalidRecordError."""
        data = make_batch(b"", -1, last_offset_delta=0)
        error = self.assertRaises(
            InvalidRecordError, DefaultRecordBatch.from_buffer, data
        )
        self.assertIn("-1 records", str(error))

    def test_too_large(self) -> None:
        """A batch over max_batch_size is a RecordTooLargeError with both sizes."""
        data = build([(1, None, b"v" * 100, [])])
        self.assertEqual(
            len(list(RecordBatchReader(data, max_batch_size=len(data)))), 1
        )
        reader = RecordBatchReader(data, max_batch_size=len(data) - 1)
        error = self.assertRaises(RecordTooLargeError, list, reader)
        self.assertIn(f"{len(data)} bytes", str(error))

    def test_length_overrunning_next_batch(self) -> None:
        """A batch whose length swallows part of the next one fails its checks."""
        first = make_batch(encode_record(0, 0, None, b"a"), 1)
        second = build([(1, None, b"b", [])])
        data = make_batch(encode_record(0, 0, None, b"a"), 1, length_adjust=10) + second
        batches = iter(RecordBatchReader(data))
        batch = next(batches)
        self.assertEqual(batch.size_in_bytes, len(first) + 10)
        self.assertFalse(batch.is_valid())
        error = self.assertRaises(InvalidRecordError, list, batch)
        self.assertIn("10 bytes remain", str(error))
        self.assertRaises(CorruptRecordError, next, batches)


class TruncationTests(SynchronousTestCase):
    """
    A buffer ending inside a batch is reported, not raised.
    """

    def test_partial_last_batch(self) -> None:
        """Complete batches are read; the cut one is counted in truncated_bytes."""
        one = build([(1, None, b"one", [])])
        two = build([(2, None, b"two", [])], base_offset=1)
        for cut in (1, 11, 12, 16, 17, 60, len(two) - 1):
            reader = RecordBatchReader(one + two[:cut])
            self.assertEqual([b.base_offset for b in reader], [0])
            self.assertTrue(reader.partial)
            self.assertEqual(reader.truncated_bytes, cut)
            self.assertEqual(reader.position, len(one))

    def test_complete(self) -> None:
        """A buffer of whole batches is not partial."""
        data = build([(1, None, b"one", [])]) * 3
        reader = RecordBatchReader(data)
        self.assertEqual(len(list(reader)), 3)
        self.assertFalse(reader.partial)
        self.assertEqual(list(reader), [])

    def test_partial_not_allowed(self) -> None:
        """With allow_partial false, a cut batch is a CorruptRecordError."""
        data = build([(1, None, b"one", [])])
        reader = RecordBatchReader(data[:-1], allow_partial=False)
        error = self.assertRaises(CorruptRecordError, list, reader)
        self.assertIn("position 0", str(error))

    def test_from_buffer_cut(self) -> None:
        """from_buffer refuses a batch the buffer does not hold whole."""
        data = build([(1, None, b"one", [])])
        self.assertRaises(CorruptRecordError, DefaultRecordBatch.from_buffer, data[:-1])

    def test_no_copy(self) -> None:
        """A batch is a view of the reader's buffer."""
        data = bytearray(build([(1, None, b"one", [])]) * 2)
        (_, second) = RecordBatchReader(data)
        data[len(data) // 2] = 0x7F
        self.assertEqual(second.buffer[0], 0x7F)
        self.assertEqual(second.position, len(data) // 2)


class RecordValidationTests(SynchronousTestCase):
    """
    Records that do not decode are an InvalidRecordError naming the batch and record.
    """

    def assertInvalid(self, records: bytes, count: int, *words: str) -> None:
        """
        Assert that iterating a batch of these records fails with these words.

        @param records: the records body.
        @param count: the declared count.
        @param words: expected in the message.
        """
        batch = DefaultRecordBatch.from_buffer(
            make_batch(records, count, base_offset=77)
        )
        batch.validate()
        error = self.assertRaises(InvalidRecordError, list, batch)
        self.assertIn("base offset 77", str(error))
        for word in words:
            self.assertIn(word, str(error))

    def test_more_declared(self) -> None:
        """A count above the records held is an error."""
        self.assertInvalid(
            encode_record(0, 0, None, b"a"), 2, "declares 2 records but holds 1"
        )

    def test_fewer_declared(self) -> None:
        """Records beyond the declared count are an error."""
        records = encode_record(0, 0, None, b"a") + encode_record(1, 0, None, b"b")
        self.assertInvalid(records, 1, "remain after the 1 records")

    def test_trailing_bytes(self) -> None:
        """Bytes after the last record are an error."""
        self.assertInvalid(
            encode_record(0, 0, None, b"a") + b"\x00", 1, "1 bytes remain"
        )

    def test_record_length_too_long(self) -> None:
        """A record length beyond the data is an error."""
        self.assertInvalid(
            encode_record(0, 0, None, b"a", length_adjust=5), 1, "record 0"
        )

    def test_record_length_mismatch(self) -> None:
        """A record length that disagrees with its fields is an error."""
        records = encode_record(0, 0, None, b"a", length_adjust=-1) + b"\x00"
        self.assertInvalid(records, 1, "its fields take")

    def test_negative_record_length(self) -> None:
        """A negative record length is an error."""
        self.assertInvalid(b"\x01", 1, "declares -1 bytes")

    def test_bad_key_length(self) -> None:
        """A key length below -1 is an error."""
        self.assertInvalid(b"\x0a\x00\x00\x00\x03" + b"\x00" * 6, 1, "key length -2")

    def test_bad_value_length(self) -> None:
        """A value length below -1 is an error."""
        self.assertInvalid(
            b"\x0a\x00\x00\x00\x01\x05" + b"\x00" * 5, 1, "value length -3"
        )

    def test_negative_header_count(self) -> None:
        """A negative header count is an error."""
        records = encode_record(0, 0, None, b"a", header_count=-1)
        self.assertInvalid(records, 1, "-1 headers")

    def test_null_header_key(self) -> None:
        """A null header key is an error."""
        records = encode_record(0, 0, None, b"a", headers=[(None, b"v")])
        self.assertInvalid(records, 1, "header key of length -1")

    def test_header_key_not_utf8(self) -> None:
        """A header key that is not UTF-8 is an error."""
        records = encode_record(0, 0, None, b"a", headers=[(b"\xff", b"v")])
        self.assertInvalid(records, 1, "record 0", "does not decode")

    def test_cut_inside_record(self) -> None:
        """Data ending inside a record's fields is an error."""
        self.assertInvalid(b"\x06\x00\x00", 1, "record 0")

    def test_varint_too_long(self) -> None:
        """An over-long varint is an error."""
        self.assertInvalid(b"\xff\xff\xff\xff\xff\x01", 1, "record 0")

    def test_compressed_garbage(self) -> None:
        """Compressed data that does not decompress is a CorruptRecordError."""
        data = make_batch(b"\x00not gzip", 1, attributes=int(CompressionType.GZIP))
        batch = DefaultRecordBatch.from_buffer(data)
        error = self.assertRaises(CorruptRecordError, iter, batch)
        self.assertIn("gzip", str(error))
        self.assertIn("position 0", str(error))

    def test_compressed_count_mismatch(self) -> None:
        """The count is checked against the decompressed records too."""
        body = compress(CompressionType.LZ4, encode_record(0, 0, None, b"a"))
        batch = DefaultRecordBatch.from_buffer(
            make_batch(body, 3, attributes=int(CompressionType.LZ4))
        )
        error = self.assertRaises(InvalidRecordError, list, batch)
        self.assertIn("declares 3 records but holds 1", str(error))

    def test_recomputed_crc_still_decodes(self) -> None:
        """A batch edited and re-checksummed is valid again (test helper check)."""
        data = build([(1, None, b"abc", [])])
        edited = data[:-2] + b"d" + data[-1:]
        self.assertFalse(DefaultRecordBatch.from_buffer(edited).is_valid())
        batch = DefaultRecordBatch.from_buffer(recompute_crc(edited))
        self.assertTrue(batch.is_valid())
        self.assertEqual([r.value for r in batch], [b"abd"])
