"""
Tests for L{odradek.client.records.offsets.restamp_producer_state}: an idempotent
producer's in-place rewrite of a batch's producer id, epoch and base sequence.
"""

from __future__ import annotations

from crc32c import crc32c
from twisted.trial.unittest import SynchronousTestCase

from odradek.client.errors import CorruptRecordError
from odradek.client.records import (
    CompressionType,
    RecordBatchBuilder,
    RecordBatchReader,
    restamp_producer_state,
)


def built(
    compression_type: CompressionType = CompressionType.NONE,
    *,
    transactional: bool = False,
) -> bytes:
    """@return: a batch of three records of producer 7, epoch 2, sequence 40."""
    builder = RecordBatchBuilder(
        compression_type=compression_type,
        producer_id=7,
        producer_epoch=2,
        base_sequence=40,
        is_transactional=transactional,
    )
    for index in range(3):
        builder.append(1000 + index, b"k%d" % index, b"value %d" % index)
    return builder.build()


class RestampProducerStateTests(SynchronousTestCase):
    """
    L{restamp_producer_state} rewrites the producer state and keeps the CRC valid.
    """

    def test_round_trip(self) -> None:
        """
        The reader sees the new id, epoch and sequences, a valid CRC and the same
        records.
        """
        original = built(CompressionType.GZIP)
        buffer = bytearray(original)
        restamp_producer_state(buffer, 4000, 3, 0)
        [batch] = RecordBatchReader(bytes(buffer), allow_partial=False)
        batch.validate()
        self.assertEqual(
            (batch.producer_id, batch.producer_epoch, batch.base_sequence),
            (4000, 3, 0),
        )
        self.assertEqual(batch.last_sequence, 2)
        self.assertEqual(batch.compression_type, CompressionType.GZIP)
        [before] = RecordBatchReader(original)
        self.assertEqual(list(batch), list(before))

    def test_crc(self) -> None:
        """
        The stored CRC is the CRC-32C of the bytes from the attributes to the end,
        and it changes with the producer state.
        """
        original = built()
        buffer = bytearray(original)
        restamp_producer_state(memoryview(buffer), 4000, 3, 0)
        self.assertEqual(int.from_bytes(buffer[17:21], "big"), crc32c(buffer[21:]))
        self.assertNotEqual(buffer[17:21], original[17:21])
        self.assertEqual(buffer[61:], original[61:])
        self.assertEqual(buffer[:17], original[:17])

    def test_keeps_attributes(self) -> None:
        """The transactional flag and the other attributes stay as they were."""
        buffer = bytearray(built(transactional=True))
        restamp_producer_state(buffer, 9, 0, 5)
        [batch] = RecordBatchReader(bytes(buffer))
        self.assertTrue(batch.is_transactional)
        self.assertTrue(batch.is_valid())
        self.assertEqual(batch.base_sequence, 5)

    def test_position(self) -> None:
        """A batch later in the buffer is rewritten and the one before is not."""
        first = built()
        buffer = bytearray(first + built())
        restamp_producer_state(buffer, 1, 1, 100, position=len(first))
        batches = list(RecordBatchReader(bytes(buffer), allow_partial=False))
        self.assertEqual(
            [(b.producer_id, b.base_sequence, b.is_valid()) for b in batches],
            [(7, 40, True), (1, 100, True)],
        )

    def test_largest_values(self) -> None:
        """The largest epoch and sequence fit their signed fields."""
        buffer = bytearray(built())
        restamp_producer_state(buffer, 2**63 - 1, 32767, 2**31 - 1)
        [batch] = RecordBatchReader(bytes(buffer))
        self.assertEqual(
            (batch.producer_id, batch.producer_epoch, batch.base_sequence),
            (2**63 - 1, 32767, 2**31 - 1),
        )
        self.assertEqual(batch.last_sequence, 1)
        self.assertTrue(batch.is_valid())

    def test_read_only(self) -> None:
        """A read-only buffer is refused."""
        self.assertRaises(TypeError, restamp_producer_state, built(), 1, 0, 0)

    def test_no_batch(self) -> None:
        """A position without a whole v2 batch is a CorruptRecordError."""
        buffer = bytearray(built())
        self.assertRaises(
            CorruptRecordError, restamp_producer_state, buffer[:-1], 1, 0, 0
        )
        self.assertRaises(
            CorruptRecordError, restamp_producer_state, buffer, 1, 0, 0, position=1
        )
        buffer[16] = 1
        self.assertRaises(CorruptRecordError, restamp_producer_state, buffer, 1, 0, 0)
