"""
Tests for L{odradek.client.records.control} and L{odradek.client.records.offsets}.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from odradek.client.errors import CorruptRecordError, InvalidRecordError
from odradek.client.records import (
    CompressionType,
    ControlRecordType,
    DefaultRecordBatch,
    EndTransactionMarker,
    Record,
    RecordBatchBuilder,
    TimestampType,
    assign_offsets,
    build_end_transaction_marker_batch,
)


def control_record(key: bytes | None, value: bytes | None) -> Record:
    """
    @param key: the record's key.
    @param value: the record's value.
    @return: a record at offset 3 with them.
    """
    return Record(3, 0, key, value, (), 0)


class ControlRecordTypeTests(SynchronousTestCase):
    """
    Tests for L{ControlRecordType}.
    """

    def test_kafka_ids(self) -> None:
        """ABORT is 0 and COMMIT is 1, as in Kafka."""
        self.assertEqual((ControlRecordType.ABORT, ControlRecordType.COMMIT), (0, 1))

    def test_round_trip(self) -> None:
        """A key encodes as version 0 and the type, and parses back."""
        self.assertEqual(ControlRecordType.COMMIT.encode_key(), b"\x00\x00\x00\x01")
        for control_type in ControlRecordType:
            if control_type is not ControlRecordType.UNKNOWN:
                self.assertIs(
                    ControlRecordType.parse(control_type.encode_key()), control_type
                )

    def test_unknown_type(self) -> None:
        """A type this release does not know parses as UNKNOWN, which has no key."""
        self.assertIs(
            ControlRecordType.parse(b"\x00\x00\x00\x63"), ControlRecordType.UNKNOWN
        )
        self.assertRaises(ValueError, ControlRecordType.UNKNOWN.encode_key)

    def test_newer_version(self) -> None:
        """A key of a newer version, perhaps longer, is read as version 0."""
        self.assertIs(
            ControlRecordType.parse(b"\x00\x01\x00\x00extra"), ControlRecordType.ABORT
        )

    def test_bad_keys(self) -> None:
        """A null, short or negative-version key is an InvalidRecordError."""
        for key in (None, b"\x00\x00\x00", b"\xff\xff\x00\x00"):
            self.assertRaises(InvalidRecordError, ControlRecordType.parse, key)


class EndTransactionMarkerTests(SynchronousTestCase):
    """
    Tests for L{EndTransactionMarker}.
    """

    def test_encoding(self) -> None:
        """The value is version 0 and the coordinator epoch."""
        marker = EndTransactionMarker(ControlRecordType.ABORT, 258)
        self.assertEqual(marker.encode_key(), b"\x00\x00\x00\x00")
        self.assertEqual(marker.encode_value(), b"\x00\x00\x00\x00\x01\x02")

    def test_only_commit_and_abort(self) -> None:
        """A marker is a COMMIT or an ABORT."""
        self.assertRaises(
            ValueError, EndTransactionMarker, ControlRecordType.LEADER_CHANGE, 1
        )

    def test_from_record(self) -> None:
        """A marker decodes from its record; a newer value version still reads."""
        record = control_record(
            b"\x00\x00\x00\x01", b"\x00\x02\x00\x00\x00\x07trailing"
        )
        self.assertEqual(
            EndTransactionMarker.from_record(record),
            EndTransactionMarker(ControlRecordType.COMMIT, 7),
        )

    def test_bad_values(self) -> None:
        """A null, short or negative-version value is an InvalidRecordError."""
        for value in (None, b"\x00\x00\x00", b"\xff\xff\x00\x00\x00\x01"):
            record = control_record(b"\x00\x00\x00\x01", value)
            error = self.assertRaises(
                InvalidRecordError, EndTransactionMarker.from_record, record
            )
            self.assertIn("offset 3", str(error))

    def test_other_control_type(self) -> None:
        """A control record of another type is not a marker."""
        record = control_record(b"\x00\x00\x00\x02", b"")
        error = self.assertRaises(
            InvalidRecordError, EndTransactionMarker.from_record, record
        )
        self.assertIn("LEADER_CHANGE", str(error))

    def test_batch_round_trip(self) -> None:
        """A marker batch is transactional, control, and decodes to the marker."""
        marker = EndTransactionMarker(ControlRecordType.COMMIT, 12)
        data = build_end_transaction_marker_batch(
            marker,
            producer_id=99,
            producer_epoch=4,
            timestamp=1234,
            base_offset=500,
            partition_leader_epoch=2,
        )
        batch = DefaultRecordBatch.from_buffer(data)
        batch.validate()
        self.assertTrue(batch.is_control_batch)
        self.assertTrue(batch.is_transactional)
        self.assertEqual(
            (
                batch.base_offset,
                batch.producer_id,
                batch.producer_epoch,
                batch.base_sequence,
                batch.partition_leader_epoch,
                batch.compression_type,
            ),
            (500, 99, 4, -1, 2, CompressionType.NONE),
        )
        (record,) = batch
        self.assertEqual((record.offset, record.timestamp), (500, 1234))
        self.assertEqual(EndTransactionMarker.from_record(record), marker)


class AssignOffsetsTests(SynchronousTestCase):
    """
    Tests for L{assign_offsets}.
    """

    def setUp(self) -> None:
        builder = RecordBatchBuilder(compression_type=CompressionType.GZIP)
        for timestamp in (10, 30, 20):
            builder.append(timestamp, None, b"v")
        self.batch = builder.build()

    def test_base_offset_and_epoch(self) -> None:
        """Offset and epoch are rewritten, the CRC stays valid, next offset returned."""
        buffer = bytearray(b"xx" + self.batch + self.batch)
        self.assertEqual(
            assign_offsets(buffer, 2, 1000, partition_leader_epoch=5), 1003
        )
        second = 2 + len(self.batch)
        self.assertEqual(assign_offsets(buffer, second, 1003), 1006)
        first = DefaultRecordBatch.from_buffer(buffer, 2)
        self.assertTrue(first.is_valid())
        self.assertEqual((first.base_offset, first.partition_leader_epoch), (1000, 5))
        self.assertEqual([r.offset for r in first], [1000, 1001, 1002])
        self.assertEqual(
            DefaultRecordBatch.from_buffer(buffer, second).base_offset, 1003
        )
        self.assertEqual(bytes(buffer[21 + 2 : second]), self.batch[21:])

    def test_log_append_time(self) -> None:
        """A LogAppendTime sets the attribute bit and max timestamp, and a new CRC."""
        buffer = bytearray(self.batch)
        assign_offsets(memoryview(buffer), 0, 7, log_append_time=99999)
        batch = DefaultRecordBatch.from_buffer(buffer)
        batch.validate()
        self.assertEqual(batch.timestamp_type, TimestampType.LOG_APPEND_TIME)
        self.assertEqual(batch.compression_type, CompressionType.GZIP)
        self.assertEqual(batch.max_timestamp, 99999)
        self.assertEqual([r.timestamp for r in batch], [99999] * 3)

    def test_read_only(self) -> None:
        """A read-only buffer is refused."""
        self.assertRaises(TypeError, assign_offsets, self.batch, 0, 1)

    def test_no_batch(self) -> None:
        """A position without a whole v2 batch is a CorruptRecordError."""
        buffer = bytearray(self.batch)
        self.assertRaises(CorruptRecordError, assign_offsets, buffer[:-1], 0, 1)
        self.assertRaises(CorruptRecordError, assign_offsets, buffer, 1, 1)
        buffer[16] = 1
        self.assertRaises(CorruptRecordError, assign_offsets, buffer, 0, 1)
