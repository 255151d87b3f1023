"""
Tests for L{odradek.client.consumer._completed}: a partition's fetched data handed
out as consumer records, and for L{odradek.client.consumer._decoding}, the decode
of a batch's records.
"""

from __future__ import annotations

import random
import struct

from twisted.trial.unittest import SynchronousTestCase

from odradek.client import errors
from odradek.client.consumer._completed import (
    CompletedFetch,
    RecordDeserializationError,
)
from odradek.client.consumer._decoding import RecordDecoder, decode_records
from odradek.client.records import (
    RECORD_BATCH_OVERHEAD,
    CompressionType,
    DefaultRecordBatch,
    RecordBatchBuilder,
    TimestampType,
    iter_batches,
)
from odradek.client.serialization import BytesDeserializer, StringDeserializer
from odradek.client.structs import ConsumerRecord, TopicPartition
from odradek.client.test._consumertools import batch, marker

TP = TopicPartition("t", 3)


def _decoded(built: bytes) -> tuple[DefaultRecordBatch, list[ConsumerRecord]]:
    only = next(iter_batches(built))
    data = only.buffer[RECORD_BATCH_OVERHEAD:].tobytes()
    return only, decode_records(only, data, TP.topic, TP.partition)


def _fields(record: ConsumerRecord) -> tuple[object, ...]:
    return (
        record.offset,
        record.timestamp,
        record.key,
        record.value,
        record.headers,
        record.serialized_key_size,
        record.serialized_value_size,
    )


class DecodeRecordsTests(SynchronousTestCase):
    """
    Tests for L{decode_records}.
    """

    def assertSameAsReader(self, built: bytes) -> list[ConsumerRecord]:
        only, records = _decoded(built)
        expected = [
            (r.offset, r.timestamp, r.key, r.value, r.headers, r.key_size, r.value_size)
            for r in only
        ]
        self.assertEqual([_fields(record) for record in records], expected)
        return records

    def test_fields(self) -> None:
        """Each record carries its topic, partition, epoch and timestamp type."""
        built = batch(
            100, [b"a", None], keys=[b"k", None], timestamp=5000, leader_epoch=7
        )
        records = self.assertSameAsReader(built)
        self.assertEqual(
            records[0],
            ConsumerRecord(
                "t", 3, 100, 5000, TimestampType.CREATE_TIME, b"k", b"a", (), 1, 1, 7
            ),
        )
        self.assertEqual(
            (records[1].key, records[1].value, records[1].serialized_value_size),
            (None, None, -1),
        )

    def test_runOfOneShape(self) -> None:
        """Many records of one shape decode as the batch reader reads them."""
        records = self.assertSameAsReader(batch(0, [b"x" * 100] * 300))
        self.assertEqual([record.offset for record in records], list(range(300)))

    def test_runWithKeys(self) -> None:
        """Runs of records with keys of one size decode, keys and values apart."""
        keys = [b"%08d" % index for index in range(50)]
        values = [b"v%03d" % index for index in range(50)]
        records = self.assertSameAsReader(batch(9, values, keys=keys))
        self.assertEqual(records[49].key, b"00000049")
        self.assertEqual(records[49].value, b"v049")

    def test_emptyKeysAndValues(self) -> None:
        """Runs of empty (not null) keys and values decode as empty bytes."""
        records = self.assertSameAsReader(batch(0, [b""] * 10, keys=[b""] * 10))
        self.assertEqual(
            {(record.key, record.value) for record in records}, {(b"", b"")}
        )

    def test_nullValues(self) -> None:
        """Runs of tombstones decode with null values of size -1."""
        records = self.assertSameAsReader(batch(0, [None] * 10, keys=[b"k"] * 10))
        self.assertEqual(
            {(record.value, record.serialized_value_size) for record in records},
            {(None, -1)},
        )

    def test_headers(self) -> None:
        """Records with headers decode their headers."""
        records = self.assertSameAsReader(
            batch(0, [b"v"] * 6, headers=[("a", b"1"), ("b", None)])
        )
        self.assertEqual(records[5].headers, (("a", b"1"), ("b", None)))

    def test_compactedOffsets(self) -> None:
        """Offsets with gaps, as compaction leaves them, decode as written."""
        deltas = [0, 2, 3, 9, 10, 11, 12, 40, 41, 200]
        records = self.assertSameAsReader(
            batch(1000, [b"v"] * len(deltas), offset_deltas=deltas)
        )
        self.assertEqual([record.offset - 1000 for record in records], deltas)

    def test_twoByteOffsetDeltas(self) -> None:
        """Offset deltas past 63 take two bytes, in a run as in single records."""
        records = self.assertSameAsReader(batch(0, [b"v"] * 9000))
        self.assertEqual(records[-1].offset, 8999)

    def test_timestamps(self) -> None:
        """Timestamp deltas of any size and sign decode."""
        builder = RecordBatchBuilder()
        for delta in [0, 5, 3, -4, 100, 70000, -(2**40), 1, 2, 3, 4, 5]:
            builder.append(10**12 + delta, None, b"v")
        self.assertSameAsReader(builder.build())

    def test_logAppendTime(self) -> None:
        """A LogAppendTime batch gives every record its max timestamp."""
        for values in ([b"v"] * 10, [b"v", b"vv", b"vvv"]):
            builder = RecordBatchBuilder(
                timestamp_type=TimestampType.LOG_APPEND_TIME, log_append_time=77777
            )
            for value in values:
                builder.append(5, None, value)
            _, records = _decoded(builder.build())
            self.assertEqual({record.timestamp for record in records}, {77777})
            self.assertEqual(
                {record.timestamp_type for record in records},
                {TimestampType.LOG_APPEND_TIME},
            )

    def test_varied(self) -> None:
        """Records of many shapes, mixed, decode as the batch reader reads them."""
        rnd = random.Random(6)
        for _ in range(40):
            builder = RecordBatchBuilder(base_offset=rnd.randrange(10**9))
            for index in range(rnd.choice([1, 5, 70, 400])):
                size = rnd.choice([None, 0, 50, 100, 100, 100, 300])
                key = rnd.choice([None, b"key", b"%04d" % index])
                headers = [("h", b"x")] if rnd.random() < 0.1 else []
                value = None if size is None else bytes([index % 256]) * size
                builder.append(10**12 + rnd.randrange(-99, 99), key, value, headers)
            self.assertSameAsReader(builder.build())

    def test_countMismatch(self) -> None:
        """A batch declaring more or fewer records than it holds is invalid."""
        for count in (299, 301, 3):
            built = bytearray(batch(0, [b"x" * 100] * 300))
            struct.pack_into(">i", built, RECORD_BATCH_OVERHEAD - 4, count)
            self.assertRaises(errors.InvalidRecordError, _decoded, bytes(built))

    def test_badLength(self) -> None:
        """A record whose length disagrees with its fields is invalid."""
        built = bytearray(batch(0, [b"abc", b"defg"]))
        built[RECORD_BATCH_OVERHEAD] += 2
        self.assertRaises(errors.InvalidRecordError, _decoded, bytes(built))


class RecordDecoderTests(SynchronousTestCase):
    """
    Tests for L{RecordDecoder}: the decode of a batch's records a slice at a time.
    """

    def test_slices(self) -> None:
        """
        Slices of any size, across runs of one shape and varied records, give
        the records the whole decode gives, in order, and no more.
        """
        rnd = random.Random(8)
        builder = RecordBatchBuilder(base_offset=50)
        for index in range(700):
            value = b"v" * (100 if index % 97 > 20 else rnd.choice([0, 1, 40, 200]))
            headers = [("h", b"x")] if index % 131 == 0 else []
            builder.append(10**12 + index, None, value, headers)
        only, whole = _decoded(builder.build())
        data = only.buffer[RECORD_BATCH_OVERHEAD:].tobytes()
        for sizes in ([1], [3], [64], [500], [1, 2, 3, 5, 8, 13, 21, 34]):
            decoder = RecordDecoder(only, data, TP.topic, TP.partition)
            sliced: list[ConsumerRecord] = []
            step = 0
            while not decoder.done:
                most = sizes[step % len(sizes)]
                records = decoder.decode(most)
                self.assertLessEqual(len(records), most)
                self.assertEqual(decoder.decoded, len(sliced) + len(records))
                sliced.extend(records)
                step += 1
            self.assertEqual(sliced, whole, sizes)
            self.assertEqual(decoder.decode(10), [])

    def test_errorNamesRecord(self) -> None:
        """
        A record that does not decode, past the first slice, is named by its
        place in the batch; the slices before it came out whole.
        """
        built = bytearray(batch(0, [b"x" * 10] * 8))
        # Record 5's length (its first byte) claims two more bytes than it has.
        built[RECORD_BATCH_OVERHEAD + 5 * 17] += 4
        only = next(iter_batches(bytes(built)))
        data = only.buffer[RECORD_BATCH_OVERHEAD:].tobytes()
        decoder = RecordDecoder(only, data, TP.topic, TP.partition)
        self.assertEqual([r.offset for r in decoder.decode(4)], [0, 1, 2, 3])
        error = self.assertRaises(errors.InvalidRecordError, decoder.decode, 4)
        self.assertIn("record 5 does not decode", str(error))


def _fetch(*batches: bytes, offset: int = 0, **kwargs: object) -> CompletedFetch:
    return CompletedFetch(TP, offset, b"".join(batches), **kwargs)  # type: ignore[arg-type]


class CompletedFetchTests(SynchronousTestCase):
    """
    Tests for L{CompletedFetch}.
    """

    def test_maxRecords(self) -> None:
        """Records come out C{max_records} at most at a time, in order."""
        fetch = _fetch(batch(0, [b"a"] * 3), batch(3, [b"b"] * 3))
        first = fetch.fetch_records(4)
        self.assertEqual([record.offset for record in first], [0, 1, 2, 3])
        self.assertEqual(fetch.next_fetch_offset, 4)
        self.assertFalse(fetch.consumed)
        rest = fetch.fetch_records(4)
        self.assertEqual([record.offset for record in rest], [4, 5])
        self.assertEqual(fetch.fetch_records(4), [])
        self.assertTrue(fetch.consumed)
        self.assertEqual(fetch.last_epoch, 0)

    def test_decodesOnlyWhatIsHandedOut(self) -> None:
        """
        A large batch is decoded a slice at a time, as its records are handed
        out, not all at once.
        """
        fetch = _fetch(batch(0, [b"a" * 20] * 1000))
        decoded: list[int] = []
        decode = RecordDecoder.decode

        def counting(decoder: RecordDecoder, most: int) -> list[ConsumerRecord]:
            records = decode(decoder, most)
            decoded.append(len(records))
            return records

        self.patch(RecordDecoder, "decode", counting)
        self.assertEqual(len(fetch.fetch_records(10)), 10)
        self.assertEqual(decoded, [64])
        self.assertEqual(len(fetch.fetch_records(500)), 500)
        self.assertEqual(decoded, [64, 446])
        rest = fetch.fetch_records(1000)
        self.assertEqual([rest[0].offset, rest[-1].offset], [510, 999])
        self.assertEqual(sum(decoded), 1000)
        self.assertEqual(fetch.next_fetch_offset, 1000)

    def test_skipsRecordsBeforeFetchOffset(self) -> None:
        """Records before the offset fetched (in the first batch) are skipped."""
        fetch = _fetch(batch(10, [b"a"] * 5), offset=12)
        records = fetch.fetch_records(10)
        self.assertEqual([record.offset for record in records], [12, 13, 14])

    def test_compressed(self) -> None:
        """Compressed batches are decompressed, with every codec."""
        for codec in (
            CompressionType.GZIP,
            CompressionType.SNAPPY,
            CompressionType.LZ4,
            CompressionType.ZSTD,
        ):
            fetch = _fetch(batch(0, [b"v%d" % i for i in range(20)], compression=codec))
            records = fetch.fetch_records(100)
            self.assertEqual(records[19].value, b"v19", codec)
            self.assertIs(type(records[19].value), bytes)

    def test_compactedTail(self) -> None:
        """Once a batch is handed out, the next offset is after the batch."""
        fetch = _fetch(batch(0, [b"a", b"b"], offset_deltas=[0, 1]))
        fetch.fetch_records(10)
        self.assertEqual(fetch.next_fetch_offset, 2)
        # A batch whose last records were compacted away still ends at its last
        # offset delta.
        built = bytearray(batch(0, [b"a", b"b"], offset_deltas=[0, 1]))
        struct.pack_into(">i", built, 23, 5)
        fetch = _fetch(bytes(built), check_crcs=False)
        fetch.fetch_records(10)
        self.assertEqual(fetch.next_fetch_offset, 6)

    def test_partialTrailingBatch(self) -> None:
        """A batch cut short at the end of the fetch is ignored."""
        second = batch(2, [b"c", b"d"])
        fetch = _fetch(batch(0, [b"a", b"b"]), second[:-5])
        records = fetch.fetch_records(10)
        self.assertEqual([record.offset for record in records], [0, 1])
        self.assertTrue(fetch.consumed)

    def test_corruptBatch(self) -> None:
        """
        A batch whose CRC does not match stops the records before it; the next
        call raises, and every one after it.
        """
        bad = bytearray(batch(2, [b"c"]))
        bad[-1] ^= 0xFF
        fetch = _fetch(batch(0, [b"a", b"b"]), bytes(bad), batch(3, [b"d"]))
        self.assertEqual(len(fetch.fetch_records(10)), 2)
        error = self.assertRaises(errors.CorruptRecordError, fetch.fetch_records, 10)
        self.assertIn("t-3", str(error))
        self.assertRaises(errors.CorruptRecordError, fetch.fetch_records, 10)
        self.assertEqual(fetch.next_fetch_offset, 2)

    def test_noCrcCheck(self) -> None:
        """Without check.crcs, a batch whose CRC does not match is read."""
        bad = bytearray(batch(0, [b"c"]))
        bad[-2] ^= 0x01
        fetch = _fetch(bytes(bad), check_crcs=False)
        self.assertEqual(len(fetch.fetch_records(10)), 1)

    def test_deserializers(self) -> None:
        """Keys and values go through the deserializers; bytes pass untouched."""
        value = b"x" * 10
        fetch = _fetch(
            batch(0, [value], keys=[b"key"]),
            key_deserializer=StringDeserializer(),
            value_deserializer=BytesDeserializer(),
        )
        [record] = fetch.fetch_records(10)
        self.assertEqual((record.key, record.value), ("key", value))
        self.assertEqual(record.serialized_key_size, 3)

    def test_deserializerFails(self) -> None:
        """
        A value that fails to deserialize stops the records at the one before
        it; then every call raises, naming the partition and offset.
        """
        fetch = _fetch(
            batch(0, [b"ok", b"\xff", b"ok"]), value_deserializer=StringDeserializer()
        )
        self.assertEqual([record.value for record in fetch.fetch_records(10)], ["ok"])
        error = self.assertRaises(RecordDeserializationError, fetch.fetch_records, 10)
        self.assertEqual((error.topic_partition, error.offset), (TP, 1))
        self.assertIn("t-3", str(error))
        self.assertIsInstance(error.__cause__, Exception)
        self.assertEqual(fetch.next_fetch_offset, 1)
        self.assertRaises(RecordDeserializationError, fetch.fetch_records, 10)

    def test_drain(self) -> None:
        """A drained fetch hands nothing more out, nor raises."""
        fetch = _fetch(batch(0, [b"\xff"]), value_deserializer=StringDeserializer())
        fetch.drain()
        self.assertEqual(fetch.fetch_records(10), [])
        self.assertTrue(fetch.consumed)

    def test_readUncommittedSkipsOnlyControl(self) -> None:
        """Without read_committed, aborted data is returned, markers are not."""
        fetch = _fetch(
            batch(0, [b"a", b"b"], producer_id=7, transactional=True),
            marker(2, 7, commit=False),
            batch(3, [b"c"]),
        )
        records = fetch.fetch_records(10)
        self.assertEqual([record.value for record in records], [b"a", b"b", b"c"])
        self.assertEqual(fetch.next_fetch_offset, 4)

    def test_readCommittedDropsAborted(self) -> None:
        """
        With read_committed, batches of aborted transactions are dropped,
        committed ones kept, and markers never returned; their offsets still move
        the next offset on.
        """
        fetch = _fetch(
            batch(0, [b"a1", b"a2"], producer_id=7, transactional=True),
            batch(2, [b"c1"], producer_id=8, transactional=True),
            batch(3, [b"a3"], producer_id=7, transactional=True),
            marker(4, 7, commit=False),
            marker(5, 8, commit=True),
            batch(6, [b"plain"]),
            batch(7, [b"n1"], producer_id=7, transactional=True),
            marker(8, 7, commit=True),
            aborted_transactions=[(7, 0)],
        )
        records = fetch.fetch_records(10)
        self.assertEqual([record.value for record in records], [b"c1", b"plain", b"n1"])
        self.assertEqual(fetch.next_fetch_offset, 9)

    def test_readCommittedAllAborted(self) -> None:
        """A fetch holding only an aborted transaction moves past it, empty."""
        fetch = _fetch(
            batch(5, [b"a"], producer_id=7, transactional=True),
            marker(6, 7, commit=False),
            offset=5,
            aborted_transactions=[(7, 5)],
        )
        self.assertEqual(fetch.fetch_records(10), [])
        self.assertTrue(fetch.consumed)
        self.assertEqual(fetch.next_fetch_offset, 7)

    def test_abortMarkerWithoutAbortedTransaction(self) -> None:
        """An abort marker for a transaction not listed as aborted is skipped."""
        fetch = _fetch(
            marker(0, 9, commit=False),
            batch(1, [b"x"], producer_id=9, transactional=True),
            aborted_transactions=[],
        )
        self.assertEqual([record.value for record in fetch.fetch_records(10)], [b"x"])
