"""
The sparse indexes of a log segment, in Apache Kafka's file format:

  - L{OffsetIndex} (C{.index}): 8-byte entries, big-endian int32 offset relative to
    the segment's base offset and int32 byte position in the C{.log} file; each entry
    names the last offset of the batch starting at that position;
  - L{TimeIndex} (C{.timeindex}): 12-byte entries, int64 timestamp and int32 relative
    offset; each entry says that no record before that offset has a later timestamp.

Both are memory-mapped, as Kafka maps them. The entries then live in the page cache
rather than in the Python heap: the resident memory a lookup adds is the handful of
pages a binary search touches, which the kernel may drop at will, so memory does not
grow with the data stored. The active segment's index is preallocated to
C{segment.index.bytes} (a sparse file) and mapped writable; a rolled or closed index is
trimmed to its entries and mapped read-only again only when a lookup needs it.

A preallocated index left behind by a crash ends in zero bytes. Opening finds the last
real entry by binary search: after the first entry, real entries are never all zero
(offsets, and timestamps, strictly increase), so the zero tail is easy to tell apart.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import struct
from typing import ClassVar

import attrs

__all__ = ["CorruptIndexError", "IndexEntry", "OffsetIndex", "TimeIndex"]


class CorruptIndexError(Exception):
    """
    An index file fails its sanity check; the segment's indexes are rebuilt from the
    log.
    """


@attrs.frozen
class IndexEntry:
    """
    One index entry, with the offset made absolute.

    @ivar key: the offset (L{OffsetIndex}) or the timestamp (L{TimeIndex}).
    @ivar value: the byte position (L{OffsetIndex}) or the offset (L{TimeIndex}).
    """

    key: int
    value: int


@attrs.define(eq=False)
class _Index:
    """
    The shared machinery of both indexes: a file of fixed-size entries, sorted by
    key, memory-mapped.

    @ivar path: the index file.
    @ivar base_offset: the base offset of the segment.
    @ivar max_index_size: the size the file is preallocated to while writable.
    @ivar entries: how many entries the index holds.
    """

    ENTRY: ClassVar[struct.Struct]

    path: str
    base_offset: int
    max_index_size: int
    entries: int = attrs.field(default=0, init=False)
    _mmap: mmap.mmap | None = attrs.field(default=None, init=False, repr=False)
    _writable: bool = attrs.field(default=False, init=False)
    _file_size: int = attrs.field(default=0, init=False)

    def __attrs_post_init__(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            self._file_size = os.fstat(fd).st_size
            size = self.ENTRY.size
            whole = self._file_size // size
            self.entries = self._count_entries(fd, whole)
        finally:
            os.close(fd)

    def _count_entries(self, fd: int, whole: int) -> int:
        size = self.ENTRY.size
        zero = bytes(size)
        if whole <= 1 or os.pread(fd, size, (whole - 1) * size) != zero:
            return whole
        low, high = 1, whole - 1  # the first all-zero entry lies in [low, high]
        while low < high:
            middle = (low + high) // 2
            if os.pread(fd, size, middle * size) == zero:
                high = middle
            else:
                low = middle + 1
        return low

    @property
    def max_entries(self) -> int:
        """How many entries fit in C{max_index_size}."""
        return self.max_index_size // self.ENTRY.size

    @property
    def is_full(self) -> bool:
        """Whether no entry may be appended (the segment must roll)."""
        return self.entries >= self.max_index_size // self.ENTRY.size

    @property
    def size_in_bytes(self) -> int:
        """The size of the entries, not of the preallocated file."""
        return self.entries * self.ENTRY.size

    def _map(self) -> mmap.mmap | None:
        if self._mmap is None and self.entries > 0:
            fd = os.open(self.path, os.O_RDONLY)
            try:
                length = self.entries * self.ENTRY.size
                self._mmap = mmap.mmap(fd, length, access=mmap.ACCESS_READ)
            finally:
                os.close(fd)
        return self._mmap

    def _make_writable(self) -> mmap.mmap:
        if self._writable and self._mmap is not None:
            return self._mmap
        self._unmap()
        length = max(self.max_entries, self.entries) * self.ENTRY.size
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            used = self.entries * self.ENTRY.size
            # Clear any stale tail so that a crash leaves zeros after the entries.
            os.ftruncate(fd, used)
            os.ftruncate(fd, length)
            self._file_size = length
            self._mmap = mmap.mmap(fd, length, access=mmap.ACCESS_WRITE)
        finally:
            os.close(fd)
        self._writable = True
        return self._mmap

    def _unmap(self) -> None:
        if self._mmap is not None:
            if self._writable:
                self._mmap.flush()
            self._mmap.close()
            self._mmap = None
        self._writable = False

    def _raw(self, slot: int) -> tuple[int, int]:
        mapped = self._map()
        assert mapped is not None
        first, second = self.ENTRY.unpack_from(mapped, slot * self.ENTRY.size)
        return first, second

    def _key(self, slot: int) -> int:
        raise NotImplementedError

    def _search(self, target: int) -> int:
        """
        @return: the slot of the largest entry whose key is at most C{target}, or -1.
        """
        low, high = 0, self.entries - 1
        if high < 0 or self._key(0) > target:
            return -1
        while low < high:
            middle = (low + high + 1) // 2
            if self._key(middle) <= target:
                low = middle
            else:
                high = middle - 1
        return low

    def _append_raw(self, first: int, second: int) -> None:
        mapped = self._make_writable()
        self.ENTRY.pack_into(mapped, self.entries * self.ENTRY.size, first, second)
        self.entries += 1

    def _relative(self, offset: int) -> int:
        relative = offset - self.base_offset
        if not 0 <= relative <= 0x7FFFFFFF:
            raise ValueError(
                f"offset {offset} does not fit an index of base offset"
                f" {self.base_offset}"
            )
        return relative

    def _truncate_slots(self, entries: int) -> None:
        if entries >= self.entries:
            return
        if self._writable and self._mmap is not None:
            size = self.ENTRY.size
            self._mmap[entries * size : self.entries * size] = bytes(
                (self.entries - entries) * size
            )
        else:
            self._unmap()
            os.truncate(self.path, entries * self.ENTRY.size)
            self._file_size = entries * self.ENTRY.size
        self.entries = entries

    def reset(self) -> None:
        """
        Remove every entry and empty the file (before a rebuild).
        """
        self._unmap()
        os.truncate(self.path, 0)
        self.entries = self._file_size = 0

    def flush(self) -> None:
        """
        Write the entries to disk (msync).
        """
        if self._writable and self._mmap is not None:
            self._mmap.flush()

    def trim_to_valid_size(self) -> None:
        """
        Shrink the file to its entries and unmap it; the next lookup maps it read-only
        and the next append preallocates it again.
        """
        self._unmap()
        used = self.entries * self.ENTRY.size
        if self._file_size != used:
            os.truncate(self.path, used)
            self._file_size = used

    def close(self) -> None:
        """
        Trim the file and release the mapping.
        """
        self.trim_to_valid_size()

    def release(self) -> None:
        """
        Release the mapping without touching the file (which may be gone).
        """
        self._unmap()

    def rename(self, path: str) -> None:
        """
        Rename the file (for the C{.deleted} or C{.swap} suffixes), keeping the
        mapping.

        @param path: the new path.
        """
        os.rename(self.path, path)
        self.path = path

    def delete(self) -> None:
        """
        Release the mapping and remove the file, if it exists.
        """
        self._unmap()
        self.entries = self._file_size = 0
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)

    def _check_shape(self) -> None:
        size = self.ENTRY.size
        if self._file_size % size and not self._writable:
            raise CorruptIndexError(
                f"index file {self.path} is {self._file_size} bytes, not a multiple"
                f" of the {size}-byte entry size"
            )


@attrs.define(eq=False)
class OffsetIndex(_Index):
    """
    A segment's sparse map from offset to byte position in its C{.log} file.
    """

    ENTRY = struct.Struct(">ii")

    def _key(self, slot: int) -> int:
        return self._raw(slot)[0]

    def entry(self, slot: int) -> IndexEntry:
        """
        @param slot: the entry's number, from 0.
        @return: the entry, with an absolute offset.
        """
        relative, position = self._raw(slot)
        return IndexEntry(self.base_offset + relative, position)

    @property
    def last_offset(self) -> int:
        """The offset of the last entry, or the base offset when empty."""
        if self.entries == 0:
            return self.base_offset
        return self.base_offset + self._raw(self.entries - 1)[0]

    def lookup(self, offset: int) -> IndexEntry:
        """
        Find where to start scanning the log for C{offset}.

        @param offset: the offset looked for.
        @return: the largest entry whose offset is at most C{offset}, or
            C{(base_offset, 0)} if there is none.
        """
        slot = self._search(offset - self.base_offset)
        if slot < 0:
            return IndexEntry(self.base_offset, 0)
        return self.entry(slot)

    def append(self, offset: int, position: int) -> None:
        """
        Add an entry, if the index has room and C{offset} is past the last entry.

        @param offset: the last offset of the batch at C{position}.
        @param position: the batch's byte position in the log file.
        """
        if self.is_full:
            return
        if self.entries and offset <= self.last_offset:
            return
        self._append_raw(self._relative(offset), position)

    def truncate_to(self, offset: int) -> None:
        """
        Remove the entries for offsets at or after C{offset}.

        @param offset: the first offset to forget.
        """
        self._truncate_slots(self._search(offset - self.base_offset - 1) + 1)

    def sanity_check(self, log_size: int) -> None:
        """
        Check, in constant time, that the file can be an index of its segment.

        @param log_size: the size of the segment's C{.log} file.
        @raise CorruptIndexError: if it cannot.
        """
        self._check_shape()
        if self.entries == 0:
            return
        first_relative, first_position = self._raw(0)
        last_relative, last_position = self._raw(self.entries - 1)
        if (
            first_relative < 0
            or first_position < 0
            or last_relative < first_relative
            or last_position < first_position
            or last_position >= max(log_size, 1)
        ):
            raise CorruptIndexError(
                f"offset index {self.path} does not fit its log: entries run from"
                f" ({first_relative}, {first_position}) to ({last_relative},"
                f" {last_position}) for a log of {log_size} bytes"
            )


@attrs.define(eq=False)
class TimeIndex(_Index):
    """
    A segment's sparse map from timestamp to offset.

    One slot is kept free while the index is writable, so that the segment's largest
    timestamp can always be recorded when it rolls (L{maybe_append} with
    C{final=True}).
    """

    ENTRY = struct.Struct(">qi")

    def _key(self, slot: int) -> int:
        return self._raw(slot)[0]

    @property
    def is_full(self) -> bool:
        """Whether no entry may be appended but the final one."""
        return self.entries >= self.max_index_size // 12 - 1

    def entry(self, slot: int) -> IndexEntry:
        """
        @param slot: the entry's number, from 0.
        @return: the entry, with an absolute offset.
        """
        timestamp, relative = self._raw(slot)
        return IndexEntry(timestamp, self.base_offset + relative)

    @property
    def last_entry(self) -> IndexEntry:
        """The last entry, or C{(-1, base_offset)} when empty."""
        if self.entries == 0:
            return IndexEntry(-1, self.base_offset)
        return self.entry(self.entries - 1)

    def lookup(self, timestamp: int) -> IndexEntry:
        """
        Find the offset to start scanning from for records at or after C{timestamp}.

        @param timestamp: milliseconds since the epoch.
        @return: the entry with the largest timestamp at most C{timestamp}, or
            C{(-1, base_offset)} if there is none.
        """
        slot = self._search(timestamp)
        if slot < 0:
            return IndexEntry(-1, self.base_offset)
        return self.entry(slot)

    def maybe_append(self, timestamp: int, offset: int, *, final: bool = False) -> None:
        """
        Add an entry if C{timestamp} is later than the last entry's.

        @param timestamp: the largest timestamp of the segment so far.
        @param offset: the offset of the batch holding it.
        @param final: whether this is the last entry before the segment rolls, which
            may use the slot kept free.
        """
        if self.entries >= self.max_entries or (self.is_full and not final):
            return
        if timestamp <= self.last_entry.key:
            return
        self._append_raw(timestamp, self._relative(offset))

    def truncate_to(self, offset: int) -> None:
        """
        Remove the entries pointing at offsets at or after C{offset}.

        @param offset: the first offset to forget.
        """
        keep = self.entries
        relative = offset - self.base_offset
        while keep > 0 and self._raw(keep - 1)[1] >= relative:
            keep -= 1
        self._truncate_slots(keep)

    def sanity_check(self, next_offset: int) -> None:
        """
        Check, in constant time, that the file can be a time index of its segment.

        @param next_offset: the offset after the segment's last record.
        @raise CorruptIndexError: if it cannot.
        """
        self._check_shape()
        if self.entries == 0:
            return
        first = self.entry(0)
        last = self.entry(self.entries - 1)
        if (
            last.key < first.key
            or last.value < first.value
            or first.value < self.base_offset
            or last.value >= max(next_offset, self.base_offset + 1)
        ):
            raise CorruptIndexError(
                f"time index {self.path} does not fit its log: entries run from"
                f" {first} to {last}, the segment ends before offset {next_offset}"
            )
