"""
Tests for L{odradek.broker.log.index}.
"""

from __future__ import annotations

import bisect
import os
import struct

from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from odradek.broker.log.index import (
    CorruptIndexError,
    IndexEntry,
    OffsetIndex,
    TimeIndex,
)
from odradek.broker.test._logtools import HYPOTHESIS


class OffsetIndexTests(SynchronousTestCase):
    """
    L{OffsetIndex} maps offsets to positions with a binary search.
    """

    def setUp(self) -> None:
        self.directory = self.mktemp()
        os.makedirs(self.directory)
        self.path = os.path.join(self.directory, "00000000000000000100.index")

    def make(self, max_size: int = 800) -> OffsetIndex:
        index = OffsetIndex(self.path, 100, max_size)
        self.addCleanup(index.close)
        return index

    def test_empty_lookup(self) -> None:
        """
        An empty index sends every lookup to the start of the segment.
        """
        index = self.make()
        self.assertEqual(index.lookup(150), IndexEntry(100, 0))
        self.assertEqual(index.entries, 0)

    def test_lookup(self) -> None:
        """
        A lookup finds the largest entry at or below the offset.
        """
        index = self.make()
        for offset, position in [(103, 0), (110, 4096), (120, 8192)]:
            index.append(offset, position)
        self.assertEqual(index.lookup(99), IndexEntry(100, 0))
        self.assertEqual(index.lookup(102), IndexEntry(100, 0))
        self.assertEqual(index.lookup(103), IndexEntry(103, 0))
        self.assertEqual(index.lookup(115), IndexEntry(110, 4096))
        self.assertEqual(index.lookup(120), IndexEntry(120, 8192))
        self.assertEqual(index.lookup(10**9), IndexEntry(120, 8192))

    def test_file_format(self) -> None:
        """
        Entries are Kafka's: big-endian relative offset and position, 8 bytes each.
        """
        index = self.make()
        index.append(105, 4242)
        index.close()
        with open(self.path, "rb") as f:
            self.assertEqual(f.read(), struct.pack(">ii", 5, 4242))

    def test_preallocated_while_active(self) -> None:
        """
        A writable index is preallocated to its maximum size and trimmed on close.
        """
        index = self.make(max_size=804)
        index.append(101, 0)
        self.assertEqual(os.path.getsize(self.path), 800)
        index.close()
        self.assertEqual(os.path.getsize(self.path), 8)

    def test_non_increasing_ignored(self) -> None:
        """
        An entry not past the last one is not added.
        """
        index = self.make()
        index.append(110, 100)
        index.append(110, 200)
        index.append(105, 300)
        self.assertEqual(index.entries, 1)

    def test_full(self) -> None:
        """
        A full index takes no more entries and says so.
        """
        index = self.make(max_size=16)
        index.append(101, 0)
        self.assertFalse(index.is_full)
        index.append(102, 10)
        self.assertTrue(index.is_full)
        index.append(103, 20)
        self.assertEqual(index.entries, 2)

    def test_offset_beyond_int32(self) -> None:
        """
        An offset too far from the base cannot be indexed.
        """
        index = self.make()
        self.assertRaises(ValueError, index.append, 100 + 2**31, 0)

    def test_truncate_to(self) -> None:
        """
        Truncation drops the entries at or after the offset.
        """
        index = self.make()
        for i in range(1, 6):
            index.append(100 + 10 * i, 1000 * i)
        index.truncate_to(130)
        self.assertEqual(index.entries, 2)
        self.assertEqual(index.lookup(10**6), IndexEntry(120, 2000))
        index.truncate_to(100)
        self.assertEqual(index.entries, 0)

    def test_truncate_trimmed(self) -> None:
        """
        Truncating a trimmed, read-only index shortens its file.
        """
        index = self.make()
        for i in range(1, 4):
            index.append(100 + i, i)
        index.trim_to_valid_size()
        index.truncate_to(102)
        self.assertEqual(os.path.getsize(self.path), 8)
        self.assertEqual(index.lookup(200), IndexEntry(101, 1))

    def test_reopen(self) -> None:
        """
        A closed index reopens with its entries.
        """
        index = self.make()
        index.append(101, 10)
        index.append(102, 20)
        index.close()
        again = self.make()
        self.assertEqual(again.entries, 2)
        self.assertEqual(again.lookup(102), IndexEntry(102, 20))

    def test_reopen_after_crash(self) -> None:
        """
        A preallocated index left by a crash is read up to its last real entry.
        """
        index = self.make()
        for i in range(7):
            index.append(100 + i, 10 * i)
        index.flush()
        self.assertEqual(os.path.getsize(self.path), 800)
        again = OffsetIndex(self.path, 100, 800)
        self.assertEqual(again.entries, 7)
        self.assertEqual(again.lookup(10**6), IndexEntry(106, 60))
        index.close()

    def test_becomes_writable_again(self) -> None:
        """
        Appending to a trimmed index preallocates it again and keeps its entries.
        """
        index = self.make()
        index.append(101, 10)
        index.trim_to_valid_size()
        self.assertEqual(index.lookup(101), IndexEntry(101, 10))
        index.append(102, 20)
        self.assertEqual(index.entries, 2)
        self.assertEqual(index.lookup(200), IndexEntry(102, 20))

    def test_sanity_check_size(self) -> None:
        """
        A file whose size is not a multiple of the entry size is corrupt.
        """
        with open(self.path, "wb") as f:
            f.write(b"\x00" * 13)
        index = self.make()
        self.assertRaises(CorruptIndexError, index.sanity_check, 1000)

    def test_sanity_check_position(self) -> None:
        """
        An entry pointing past the end of the log is corrupt.
        """
        with open(self.path, "wb") as f:
            f.write(struct.pack(">ii", 1, 10) + struct.pack(">ii", 2, 5000))
        index = self.make()
        self.assertRaises(CorruptIndexError, index.sanity_check, 1000)
        index.sanity_check(6000)

    def test_sanity_check_order(self) -> None:
        """
        Garbage whose last entry comes before its first is corrupt.
        """
        with open(self.path, "wb") as f:
            f.write(struct.pack(">ii", 9, 500) + struct.pack(">ii", 3, 100))
        index = self.make()
        self.assertRaises(CorruptIndexError, index.sanity_check, 1000)

    def test_delete(self) -> None:
        """
        Deleting removes the file.
        """
        index = self.make()
        index.append(101, 1)
        index.delete()
        self.assertFalse(os.path.exists(self.path))

    @HYPOTHESIS
    @given(
        st.lists(st.integers(1, 5000), min_size=0, max_size=60, unique=True),
        st.lists(st.integers(0, 6000), min_size=1, max_size=20),
    )
    def test_lookup_matches_bisect(
        self, offsets: list[int], targets: list[int]
    ) -> None:
        """
        Lookups agree with a plain bisection of the entries.
        """
        offsets.sort()
        path = os.path.join(self.directory, f"{len(offsets)}-{targets[0]}.index")
        index = OffsetIndex(path, 0, 8 * 100)
        try:
            for offset in offsets:
                index.append(offset, offset * 3)
            for target in targets:
                i = bisect.bisect_right(offsets, target)
                expected = (
                    IndexEntry(offsets[i - 1], offsets[i - 1] * 3)
                    if i
                    else IndexEntry(0, 0)
                )
                self.assertEqual(index.lookup(target), expected)
        finally:
            index.delete()


class TimeIndexTests(SynchronousTestCase):
    """
    L{TimeIndex} maps timestamps to offsets.
    """

    def setUp(self) -> None:
        directory = self.mktemp()
        os.makedirs(directory)
        self.path = os.path.join(directory, "00000000000000000100.timeindex")

    def make(self, max_size: int = 1200) -> TimeIndex:
        index = TimeIndex(self.path, 100, max_size)
        self.addCleanup(index.close)
        return index

    def test_lookup(self) -> None:
        """
        A lookup finds the entry with the largest timestamp at or below the target.
        """
        index = self.make()
        index.maybe_append(1000, 105)
        index.maybe_append(2000, 110)
        self.assertEqual(index.lookup(999), IndexEntry(-1, 100))
        self.assertEqual(index.lookup(1000), IndexEntry(1000, 105))
        self.assertEqual(index.lookup(1999), IndexEntry(1000, 105))
        self.assertEqual(index.lookup(5000), IndexEntry(2000, 110))

    def test_only_later_timestamps(self) -> None:
        """
        An entry is added only for a timestamp later than the last one.
        """
        index = self.make()
        index.maybe_append(1000, 105)
        index.maybe_append(1000, 106)
        index.maybe_append(900, 107)
        self.assertEqual(index.entries, 1)
        self.assertEqual(index.last_entry, IndexEntry(1000, 105))

    def test_file_format(self) -> None:
        """
        Entries are Kafka's: int64 timestamp and int32 relative offset.
        """
        index = self.make()
        index.maybe_append(1234, 107)
        index.close()
        with open(self.path, "rb") as f:
            self.assertEqual(f.read(), struct.pack(">qi", 1234, 7))

    def test_final_slot(self) -> None:
        """
        One slot stays free for the entry written when the segment rolls.
        """
        index = self.make(max_size=36)
        index.maybe_append(1, 101)
        index.maybe_append(2, 102)
        self.assertTrue(index.is_full)
        index.maybe_append(3, 103)
        self.assertEqual(index.entries, 2)
        index.maybe_append(4, 104, final=True)
        self.assertEqual(index.last_entry, IndexEntry(4, 104))

    def test_truncate_to(self) -> None:
        """
        Truncation drops the entries pointing at or after the offset.
        """
        index = self.make()
        for i in range(5):
            index.maybe_append(1000 + i, 101 + i)
        index.truncate_to(103)
        self.assertEqual(index.last_entry, IndexEntry(1001, 102))

    def test_reopen_after_crash(self) -> None:
        """
        A preallocated time index left by a crash is read up to its last entry.
        """
        index = self.make()
        index.maybe_append(0, 100)
        index.maybe_append(5, 103)
        index.flush()
        again = TimeIndex(self.path, 100, 1200)
        self.assertEqual(again.entries, 2)
        index.close()

    def test_sanity_check(self) -> None:
        """
        A time index pointing past the segment's end is corrupt.
        """
        index = self.make()
        index.maybe_append(1000, 120)
        index.sanity_check(121)
        self.assertRaises(CorruptIndexError, index.sanity_check, 110)
