"""
Tests for L{odradek.broker.log.segment}.
"""

from __future__ import annotations

import os

from twisted.trial.unittest import SynchronousTestCase

from odradek.broker.log.config import LogConfig
from odradek.broker.log.files import filename_prefix
from odradek.broker.log.records import FileRecords
from odradek.broker.log.segment import LogSegment
from odradek.broker.log.validator import LogValidator
from odradek.broker.test._logtools import START_MS, FakeClock, make_batch
from odradek.client.records import RecordBatchReader


class SegmentTestCase(SynchronousTestCase):
    """
    Open segments in a temporary directory and append to them as the log does.
    """

    def setUp(self) -> None:
        self.directory = self.mktemp()
        os.makedirs(self.directory)
        self.clock = FakeClock()
        self.validator = LogValidator("orders-0", LogConfig(), self.clock)

    def open(
        self,
        base: int = 0,
        index_interval_bytes: int = 4096,
        max_index_size: int = 8000,
    ) -> LogSegment:
        segment = LogSegment.open(
            self.directory,
            base,
            index_interval_bytes=index_interval_bytes,
            max_index_size=max_index_size,
            now_ms=self.clock,
        )
        self.addCleanup(segment.close_handlers)
        return segment

    def append(self, segment: LogSegment, offset: int, batch: bytes) -> int:
        """
        Append C{batch} at C{offset}; return the next offset.
        """
        data, info = self.validator.validate_and_assign_offsets(
            bytearray(batch), offset, 3, now_ms=self.clock.now
        )
        segment.append(data, info.batches)
        return info.last_offset + 1

    def fill(self, segment: LogSegment, batches: int, per_batch: int = 3) -> int:
        offset = segment.base_offset
        for i in range(batches):
            offset = self.append(
                segment, offset, make_batch(per_batch, timestamp=START_MS + i)
            )
        return offset


class AppendReadTests(SegmentTestCase):
    """
    Appending to a segment and reading regions of it.
    """

    def test_file_names(self) -> None:
        """
        Files are named after the base offset, 20 digits zero-padded.
        """
        self.open(base=42)
        self.assertEqual(filename_prefix(42), "00000000000000000042")
        self.assertEqual(
            sorted(os.listdir(self.directory)),
            [
                "00000000000000000042.index",
                "00000000000000000042.log",
                "00000000000000000042.timeindex",
            ],
        )

    def test_read_all(self) -> None:
        """
        A read returns a region of the file holding the batches, with offsets
        assigned and CRCs valid.
        """
        segment = self.open()
        end = self.fill(segment, 5)
        info = segment.read(0, 1 << 20)
        assert info is not None
        self.assertIsInstance(info.records, FileRecords)
        self.assertEqual(info.records.position, 0)
        self.assertEqual(info.records.size, segment.size)
        offsets: list[int] = []
        for batch in RecordBatchReader(info.records.read_bytes()):
            batch.validate()
            self.assertEqual(batch.partition_leader_epoch, 3)
            offsets.extend(r.offset for r in batch)
        self.assertEqual(offsets, list(range(end)))

    def test_read_from_middle_of_batch(self) -> None:
        """
        A read starting inside a batch starts at that batch.
        """
        segment = self.open()
        self.fill(segment, 4)
        info = segment.read(7, 1 << 20)
        assert info is not None
        first = next(iter(RecordBatchReader(info.records.read_bytes())))
        self.assertEqual(first.base_offset, 6)
        self.assertEqual(info.fetch_offset_metadata.message_offset, 7)
        self.assertEqual(
            info.fetch_offset_metadata.relative_position, info.records.position
        )

    def test_max_size(self) -> None:
        """
        A read stops at C{max_size}, possibly inside a batch.
        """
        segment = self.open()
        self.fill(segment, 4)
        info = segment.read(0, 100)
        assert info is not None
        self.assertEqual(info.records.size, 100)

    def test_min_one_message(self) -> None:
        """
        With C{min_one_message}, the first batch is returned whole even if larger
        than C{max_size}; without it nothing is, and the first entry is incomplete.
        """
        segment = self.open()
        self.fill(segment, 2)
        batch_size = segment.size // 2
        info = segment.read(0, 10, min_one_message=True)
        assert info is not None
        self.assertEqual(info.records.size, batch_size)
        info = segment.read(0, 10)
        assert info is not None
        self.assertEqual(info.records.size, 10)
        self.assertTrue(info.first_entry_incomplete)
        info = segment.read(0, 0)
        assert info is not None
        self.assertEqual(info.records.size, 0)

    def test_max_position(self) -> None:
        """
        A read does not pass C{max_position}.
        """
        segment = self.open()
        self.fill(segment, 4)
        quarter = segment.size // 4
        info = segment.read(0, 1 << 20, max_position=quarter * 2)
        assert info is not None
        self.assertEqual(info.records.size, quarter * 2)
        info = segment.read(9, 1 << 20, max_position=quarter * 2)
        assert info is not None
        self.assertEqual(info.records.size, 0)

    def test_read_past_end(self) -> None:
        """
        Reading an offset beyond the segment's last batch gives C{None}.
        """
        segment = self.open()
        end = self.fill(segment, 2)
        self.assertIsNone(segment.read(end, 1000))

    def test_translate_offset_with_index(self) -> None:
        """
        Every offset translates to its batch through the index and a short scan.
        """
        segment = self.open(index_interval_bytes=200)
        end = self.fill(segment, 40)
        self.assertGreater(segment.offset_index.entries, 5)
        batch_size = segment.size // 40
        for offset in range(end):
            found = segment.translate_offset(offset)
            assert found is not None
            self.assertEqual(found.position, (offset // 3) * batch_size)
            self.assertEqual(found.offset, (offset // 3) * 3 + 2)
            self.assertEqual(found.size, batch_size)
        self.assertIsNone(segment.translate_offset(end))

    def test_index_every_interval(self) -> None:
        """
        With C{index.interval.bytes} 0, every batch but the first is indexed.
        """
        segment = self.open(index_interval_bytes=0)
        self.fill(segment, 6)
        self.assertEqual(segment.offset_index.entries, 5)
        entry = segment.offset_index.lookup(5)
        self.assertEqual(entry.key, 5)

    def test_next_offset_and_timestamps(self) -> None:
        """
        The segment knows its next offset and largest timestamp, also after a
        reopen.
        """
        segment = self.open(index_interval_bytes=0)
        self.fill(segment, 5)
        self.assertEqual(segment.next_offset, 15)
        self.assertEqual(segment.max_timestamp_so_far, START_MS + 4)
        self.assertEqual(segment.offset_of_max_timestamp, 14)
        segment.close()
        again = self.open(index_interval_bytes=0)
        self.assertEqual(again.next_offset, 15)
        self.assertEqual(again.max_timestamp_so_far, START_MS + 4)
        self.assertEqual(again.largest_timestamp, START_MS + 4)

    def test_largest_timestamp_without_timestamps(self) -> None:
        """
        A segment whose batches carry no timestamp goes by its last append time.
        """
        segment = self.open()
        self.clock.advance(500)
        self.append(segment, 0, make_batch(2, timestamp=-1))
        self.assertEqual(segment.largest_timestamp, START_MS + 500)

    def test_find_offset_by_timestamp(self) -> None:
        """
        The first record at or after a timestamp is found, decoding one batch.
        """
        segment = self.open(index_interval_bytes=0)
        offset = 0
        for i in range(4):
            timestamps = [START_MS + 100 * i + j for j in (0, 10, 20)]
            offset = self.append(segment, offset, make_batch(3, timestamps=timestamps))
        found = segment.find_offset_by_timestamp(START_MS + 205, 0)
        assert found is not None
        self.assertEqual((found.timestamp, found.offset), (START_MS + 210, 7))
        found = segment.find_offset_by_timestamp(START_MS - 5, 0)
        assert found is not None
        self.assertEqual(found.offset, 0)
        found = segment.find_offset_by_timestamp(START_MS, 4)
        assert found is not None
        self.assertEqual(found.offset, 4)
        self.assertIsNone(segment.find_offset_by_timestamp(START_MS + 1000, 0))


class RecoverTests(SegmentTestCase):
    """
    L{LogSegment.recover} checks every batch and cuts a damaged tail.
    """

    def reopen(self, segment: LogSegment) -> LogSegment:
        segment.close()
        return self.open(index_interval_bytes=segment.index_interval_bytes)

    def test_clean(self) -> None:
        """
        Recovering a sound segment cuts nothing and rebuilds the same indexes.
        """
        segment = self.open(index_interval_bytes=100)
        self.fill(segment, 10)
        entries = [
            segment.offset_index.entry(i) for i in range(segment.offset_index.entries)
        ]
        self.assertEqual(segment.recover(), 0)
        rebuilt = [
            segment.offset_index.entry(i) for i in range(segment.offset_index.entries)
        ]
        self.assertEqual(rebuilt, entries)
        self.assertEqual(segment.next_offset, 30)

    def test_torn_tail(self) -> None:
        """
        A batch cut short at the end is removed.
        """
        segment = self.open()
        self.fill(segment, 3)
        size = segment.size
        with open(segment.log_path, "r+b") as f:
            f.truncate(size - 7)
        segment = self.reopen(segment)
        self.assertEqual(segment.recover(), (size - 7) - size // 3 * 2)
        self.assertEqual(segment.size, size // 3 * 2)
        self.assertEqual(segment.next_offset, 6)

    def test_corrupt_last_batch(self) -> None:
        """
        A flipped byte in the last batch fails its CRC: the segment is cut there.
        """
        segment = self.open()
        self.fill(segment, 3)
        size = segment.size
        with open(segment.log_path, "r+b") as f:
            f.seek(size - 3)
            byte = f.read(1)
            f.seek(size - 3)
            f.write(bytes([byte[0] ^ 0xFF]))
        segment = self.reopen(segment)
        self.assertEqual(segment.recover(), size // 3)
        self.assertEqual(segment.next_offset, 6)

    def test_zero_tail(self) -> None:
        """
        Zeros after the last batch (a preallocated or torn file) are removed.
        """
        segment = self.open()
        self.fill(segment, 2)
        size = segment.size
        with open(segment.log_path, "ab") as f:
            f.write(bytes(100))
        segment = self.reopen(segment)
        self.assertEqual(segment.recover(), 100)
        self.assertEqual(segment.size, size)

    def test_offsets_going_backwards(self) -> None:
        """
        A batch whose offsets go back is treated as corruption.
        """
        segment = self.open()
        self.fill(segment, 2)
        size = segment.size
        self.append(segment, 0, make_batch(3))
        self.assertEqual(segment.recover(), size // 2)
        self.assertEqual(segment.size, size)

    def test_reports_batches(self) -> None:
        """
        Each valid batch's header is passed on, to rebuild producer state.
        """
        segment = self.open()
        self.fill(segment, 4)
        seen: list[int] = []
        segment.recover(lambda header: seen.append(header.base_offset))
        self.assertEqual(seen, [0, 3, 6, 9])


class TruncateRollTests(SegmentTestCase):
    """
    Truncation, roll decisions and file lifecycle.
    """

    def test_truncate_to(self) -> None:
        """
        Truncation removes the batch holding the offset and everything after it.
        """
        segment = self.open(index_interval_bytes=0)
        self.fill(segment, 5)
        size = segment.size
        removed = segment.truncate_to(7)
        self.assertEqual(removed, size - size // 5 * 2)
        self.assertEqual(segment.next_offset, 6)
        self.assertEqual(segment.max_timestamp_so_far, START_MS + 1)
        self.assertEqual(self.append(segment, 6, make_batch(3)), 9)
        self.assertEqual(segment.truncate_to(100), 0)

    def test_roll_by_size(self) -> None:
        """
        A segment rolls when the append would pass C{segment.bytes}.
        """
        segment = self.open()
        self.fill(segment, 2)
        args = {
            "segment_ms": 10**9,
            "max_timestamp_in_messages": START_MS,
            "max_offset_in_messages": 7,
        }
        self.assertFalse(
            segment.should_roll(
                segment_bytes=segment.size + 10, messages_size=10, **args
            )
        )
        self.assertTrue(
            segment.should_roll(
                segment_bytes=segment.size + 10, messages_size=11, **args
            )
        )

    def test_roll_by_time(self) -> None:
        """
        A segment rolls when the new batch is C{segment.ms} past its first batch.
        """
        segment = self.open()
        self.append(segment, 0, make_batch(1, timestamp=START_MS))
        args = {
            "segment_bytes": 10**9,
            "messages_size": 10,
            "max_offset_in_messages": 1,
        }
        self.assertFalse(
            segment.should_roll(
                segment_ms=1000, max_timestamp_in_messages=START_MS + 1000, **args
            )
        )
        self.assertTrue(
            segment.should_roll(
                segment_ms=1000, max_timestamp_in_messages=START_MS + 1001, **args
            )
        )

    def test_roll_by_time_without_timestamps(self) -> None:
        """
        Without timestamps, a segment rolls C{segment.ms} after it was created.
        """
        segment = self.open()
        self.append(segment, 0, make_batch(1, timestamp=-1))
        args = {
            "segment_bytes": 10**9,
            "messages_size": 10,
            "max_offset_in_messages": 1,
            "max_timestamp_in_messages": -1,
        }
        self.assertFalse(segment.should_roll(segment_ms=1000, **args))
        self.clock.advance(1001)
        self.assertTrue(segment.should_roll(segment_ms=1000, **args))

    def test_empty_never_rolls_by_time(self) -> None:
        """
        An empty segment does not roll by time.
        """
        segment = self.open()
        self.clock.advance(10**6)
        self.assertFalse(
            segment.should_roll(
                segment_bytes=10**9,
                segment_ms=1,
                messages_size=1,
                max_timestamp_in_messages=START_MS + 10**6,
                max_offset_in_messages=0,
            )
        )

    def test_roll_when_index_full_or_offset_overflows(self) -> None:
        """
        A full index, or offsets too far from the base, roll the segment.
        """
        segment = self.open(index_interval_bytes=0, max_index_size=16)
        self.fill(segment, 3)
        args = {
            "segment_bytes": 10**9,
            "segment_ms": 10**9,
            "messages_size": 1,
            "max_timestamp_in_messages": START_MS,
        }
        self.assertTrue(segment.should_roll(max_offset_in_messages=10, **args))
        other = self.open(base=100)
        self.assertTrue(other.should_roll(max_offset_in_messages=100 + 2**31, **args))
        self.assertFalse(other.should_roll(max_offset_in_messages=101, **args))

    def test_deleted_suffix_and_delete(self) -> None:
        """
        A segment's files can be renamed C{.deleted}, stay readable, then go.
        """
        segment = self.open()
        self.fill(segment, 2)
        info = segment.read(0, 1 << 20)
        assert info is not None
        segment.change_file_suffixes("", ".deleted")
        self.assertEqual(
            sorted(os.listdir(self.directory)),
            [
                "00000000000000000000.index.deleted",
                "00000000000000000000.log.deleted",
                "00000000000000000000.timeindex.deleted",
            ],
        )
        self.assertEqual(len(info.records.read_bytes()), segment.size)
        segment.delete()
        self.assertEqual(os.listdir(self.directory), [])

    def test_read_bytes_after_truncation(self) -> None:
        """
        A region read after its file was truncated returns the bytes left.
        """
        segment = self.open()
        self.fill(segment, 2)
        info = segment.read(0, 1 << 20)
        assert info is not None
        segment.truncate_to(3)
        self.assertEqual(len(info.records.read_bytes()), segment.size)
