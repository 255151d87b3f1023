"""
L{LogSegment}: one C{.log} file of a partition with its offset and time indexes, all
named after the segment's base offset written as 20 zero-padded digits.

The C{.log} file is opened once with C{O_APPEND}: appends are plain C{write} calls that
land in the page cache, reads are C{pread} or C{sendfile} on the same descriptor, and
C{fsync} happens only on flush. Nothing of the log is held in memory.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from typing import Final

import attrs

from odradek.broker.log._scan import AppendedBatch, BatchHeader, SegmentScanner
from odradek.broker.log.files import (
    INDEX_SUFFIX,
    LOG_SUFFIX,
    TIME_INDEX_SUFFIX,
    filename_prefix,
)
from odradek.broker.log.index import OffsetIndex, TimeIndex
from odradek.broker.log.records import (
    FetchDataInfo,
    FileRecords,
    LogOffsetMetadata,
    LogOffsetPosition,
    TimestampAndOffset,
)
from odradek.client.errors import KafkaStorageError
from odradek.client.records import DefaultRecordBatch

__all__ = ["LogSegment"]

_SCAN_CHUNK: Final = 16 * 1024
_INT32_MAX: Final = 0x7FFFFFFF


@attrs.define(eq=False)
class LogSegment:
    """
    One segment of a partition's log.

    @ivar directory: the partition directory.
    @ivar base_offset: the offset of the segment's first record.
    @ivar index_interval_bytes: the log bytes between two offset index entries.
    @ivar offset_index: the C{.index} file.
    @ivar time_index: the C{.timeindex} file.
    @ivar size: the size of the C{.log} file.
    @ivar created_ms: when the segment was created or opened, for time-based rolls of
        segments without timestamps.
    @ivar roll_jitter_ms: subtracted from C{segment.ms} for this segment.
    """

    directory: str
    base_offset: int
    index_interval_bytes: int
    offset_index: OffsetIndex
    time_index: TimeIndex
    now_ms: Callable[[], int] = attrs.field(repr=False)
    roll_jitter_ms: int = 0
    suffix: str = ""
    size: int = attrs.field(default=0, init=False)
    created_ms: int = attrs.field(default=0, init=False)
    last_modified_ms: int = attrs.field(default=-1, init=False)
    _fd: int = attrs.field(default=-1, init=False, repr=False)
    _bytes_since_last_index_entry: int = attrs.field(default=0, init=False)
    _max_timestamp: tuple[int, int] | None = attrs.field(default=None, init=False)
    _rolling_based_timestamp: int | None = attrs.field(default=None, init=False)
    _next_offset: int | None = attrs.field(default=None, init=False)

    @classmethod
    def open(
        cls,
        directory: str,
        base_offset: int,
        *,
        index_interval_bytes: int,
        max_index_size: int,
        now_ms: Callable[[], int],
        roll_jitter_ms: int = 0,
        suffix: str = "",
    ) -> LogSegment:
        """
        Open the segment's files, creating those that do not exist.

        @param directory: the partition directory.
        @param base_offset: the segment's base offset.
        @param index_interval_bytes: see L{LogSegment.index_interval_bytes}.
        @param max_index_size: the size indexes are preallocated to while active.
        @param now_ms: the clock.
        @param roll_jitter_ms: see L{LogSegment.roll_jitter_ms}.
        @param suffix: a suffix after each file's extension, such as C{.swap}.
        @return: the segment.
        @raise KafkaStorageError: if a file cannot be opened.
        """
        prefix = os.path.join(directory, filename_prefix(base_offset))
        try:
            segment = cls(
                directory=directory,
                base_offset=base_offset,
                index_interval_bytes=index_interval_bytes,
                offset_index=OffsetIndex(
                    prefix + INDEX_SUFFIX + suffix, base_offset, max_index_size
                ),
                time_index=TimeIndex(
                    prefix + TIME_INDEX_SUFFIX + suffix, base_offset, max_index_size
                ),
                now_ms=now_ms,
                roll_jitter_ms=roll_jitter_ms,
                suffix=suffix,
            )
            path = prefix + LOG_SUFFIX + suffix
            segment._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
            segment.size = os.fstat(segment._fd).st_size
        except OSError as e:
            raise KafkaStorageError(f"cannot open segment {prefix}: {e}") from e
        segment.created_ms = now_ms()
        return segment

    @property
    def log_path(self) -> str:
        """The path of the C{.log} file."""
        return os.path.join(
            self.directory, filename_prefix(self.base_offset) + LOG_SUFFIX + self.suffix
        )

    def _scanner(self, position: int, *, validate: bool = False) -> SegmentScanner:
        chunk = (1 << 20) if validate else _SCAN_CHUNK
        return SegmentScanner(self._fd, position, self.size, validate, chunk)

    # Appending.

    def append(
        self,
        data: bytes | bytearray | memoryview,
        batches: Sequence[AppendedBatch],
        *,
        now_ms: int | None = None,
    ) -> None:
        """
        Write batches whose offsets are assigned, adding index entries every
        C{index_interval_bytes}.

        @param data: the batches' bytes.
        @param batches: each batch's place in C{data}, last offset and max timestamp.
        @param now_ms: the time of the append, if the caller has read the clock.
        @raise KafkaStorageError: if the write fails; the file is then cut back.
        """
        view = memoryview(data)
        try:
            written = 0
            while written < len(view):
                written += os.write(self._fd, view[written:])
        except OSError as e:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, self.size)
            raise KafkaStorageError(f"cannot append to {self.log_path}: {e}") from e
        finally:
            view.release()
        if self.size == 0 and batches:
            self._rolling_based_timestamp = batches[0].max_timestamp
        self._index(batches, self.size)
        self.size += len(data)
        if batches:
            self._next_offset = batches[-1].last_offset + 1
        self.last_modified_ms = self.now_ms() if now_ms is None else now_ms

    def _index(self, batches: Sequence[AppendedBatch], base_position: int) -> None:
        max_timestamp, offset_of_max = self._load_max_timestamp()
        interval = self.index_interval_bytes
        since = self._bytes_since_last_index_entry
        for batch in batches:
            if batch.max_timestamp > max_timestamp:
                max_timestamp, offset_of_max = batch.max_timestamp, batch.last_offset
            if since > interval:
                self.offset_index.append(
                    batch.last_offset, base_position + batch.position
                )
                self.time_index.maybe_append(max_timestamp, offset_of_max)
                since = 0
            since += batch.size
        self._bytes_since_last_index_entry = since
        self._max_timestamp = (max_timestamp, offset_of_max)

    def should_roll(
        self,
        *,
        segment_bytes: int,
        segment_ms: int,
        messages_size: int,
        max_timestamp_in_messages: int,
        max_offset_in_messages: int,
    ) -> bool:
        """
        Decide whether an append of C{messages_size} bytes needs a new segment: this
        one would pass C{segment_bytes}, is older than C{segment_ms} less its jitter,
        has a full index, or cannot express the new offsets relative to its base.

        @return: whether to roll before appending.
        """
        if self.size > segment_bytes - messages_size:
            return True
        if self.size > 0:
            first = self._first_batch_timestamp()
            if first is not None and first >= 0:
                waited = max_timestamp_in_messages - first
            else:
                waited = self.now_ms() - self.created_ms
            if waited > segment_ms - self.roll_jitter_ms:
                return True
        return (
            self.offset_index.is_full
            or self.time_index.is_full
            or max_offset_in_messages - self.base_offset > _INT32_MAX
        )

    def _first_batch_timestamp(self) -> int | None:
        if self._rolling_based_timestamp is None and self.size > 0:
            first = next(iter(self._scanner(0)), None)
            if first is not None:
                self._rolling_based_timestamp = first.max_timestamp
        return self._rolling_based_timestamp

    # Reading.

    def translate_offset(
        self, offset: int, starting_position: int = 0
    ) -> LogOffsetPosition | None:
        """
        Find the batch holding C{offset}: an index lookup, then a forward scan of
        batch headers.

        @param offset: the offset looked for.
        @param starting_position: where to start scanning at the earliest.
        @return: the first batch whose last offset is at least C{offset}, or C{None}
            if the segment has none.
        """
        position = max(self.offset_index.lookup(offset).value, starting_position)
        for header in self._scanner(position):
            if header.base_offset + header.last_offset_delta >= offset:
                return LogOffsetPosition(
                    header.last_offset, header.position, header.size
                )
        return None

    def read(
        self,
        start_offset: int,
        max_size: int,
        max_position: int | None = None,
        min_one_message: bool = False,
    ) -> FetchDataInfo | None:
        """
        Take the region of the file starting with the batch holding C{start_offset}.

        @param start_offset: the first offset wanted.
        @param max_size: the most bytes to return.
        @param max_position: the file position not to read past (the high watermark's),
            or C{None} for the end of the file.
        @param min_one_message: whether to return the first batch whole even if it is
            larger than C{max_size}.
        @return: the region, or C{None} if C{start_offset} is past the segment's end.
        """
        found = self.translate_offset(start_offset)
        if found is None:
            return None
        metadata = LogOffsetMetadata(start_offset, self.base_offset, found.position)
        limit = max(max_size, found.size) if min_one_message else max_size
        end = self.size if max_position is None else max_position
        fetch_size = min(end - found.position, limit)
        if limit == 0 or fetch_size <= 0:
            return FetchDataInfo(metadata, first_entry_incomplete=limit < found.size)
        records = FileRecords(self.log_path, self._fd, found.position, fetch_size)
        return FetchDataInfo(metadata, records, limit < found.size)

    def read_batch(self, header: BatchHeader) -> DefaultRecordBatch:
        """
        @return: the batch of C{header} (from a scan), read whole to decode it.
        """
        data = os.pread(self._fd, header.size, header.position)
        return DefaultRecordBatch.from_buffer(data, 0)

    def find_offset_by_timestamp(
        self, timestamp: int, starting_offset: int
    ) -> TimestampAndOffset | None:
        """
        Find the first record at or after C{starting_offset} whose timestamp is at
        least C{timestamp}. Only the batch holding it is decoded.

        @param timestamp: milliseconds since the epoch.
        @param starting_offset: the smallest offset acceptable (the log start).
        @return: that record's timestamp and offset, or C{None} if there is none.
        """
        entry = self.time_index.lookup(timestamp)
        start = max(entry.value, starting_offset)
        position = self.offset_index.lookup(start).value
        for header in self._scanner(position):
            if header.max_timestamp < timestamp or header.last_offset < starting_offset:
                continue
            for record in self.read_batch(header):
                if record.timestamp >= timestamp and record.offset >= starting_offset:
                    return TimestampAndOffset(
                        record.timestamp, record.offset, header.partition_leader_epoch
                    )
        return None

    def headers(self, position: int = 0) -> SegmentScanner:
        """
        @param position: where to start.
        @return: a scan of the batch headers from C{position} to the end.
        """
        return self._scanner(position)

    @property
    def max_timestamp_so_far(self) -> int:
        """The largest batch timestamp in the segment, or -1."""
        return self._load_max_timestamp()[0]

    @property
    def offset_of_max_timestamp(self) -> int:
        """The last offset of the batch holding C{max_timestamp_so_far}."""
        return self._load_max_timestamp()[1]

    def _load_max_timestamp(self) -> tuple[int, int]:
        if self._max_timestamp is None:
            last = self.time_index.last_entry
            best = (last.key, last.value)
            position = self.offset_index.lookup(last.value).value
            for header in self._scanner(position):
                if header.max_timestamp > best[0]:
                    best = (header.max_timestamp, header.last_offset)
            self._max_timestamp = best
        return self._max_timestamp

    @property
    def largest_timestamp(self) -> int:
        """
        @return: the timestamp retention by time goes by: the largest batch
            timestamp, or the time of the last append (or file modification) when no
            batch has a timestamp.
        """
        largest = self.max_timestamp_so_far
        if largest >= 0:
            return largest
        if self.last_modified_ms >= 0:
            return self.last_modified_ms
        return int(os.fstat(self._fd).st_mtime * 1000)

    @property
    def next_offset(self) -> int:
        """The offset after the segment's last batch (the base offset if empty)."""
        if self._next_offset is None:
            next_offset = self.base_offset
            position = self.offset_index.lookup(self.offset_index.last_offset).value
            for header in self._scanner(position):
                next_offset = header.next_offset
            self._next_offset = next_offset
        return self._next_offset

    # Recovery and truncation.

    def recover(self, on_batch: Callable[[BatchHeader], None] | None = None) -> int:
        """
        Check every batch (CRC-32C, header, offsets), rebuild both indexes, and cut
        the file at the first batch that is torn or corrupt.

        @param on_batch: called with each valid batch's header (to rebuild producer
            state).
        @return: how many bytes were cut off.
        """
        self.offset_index.reset()
        self.time_index.reset()
        self._bytes_since_last_index_entry = 0
        self._max_timestamp = (-1, self.base_offset)
        self._rolling_based_timestamp = None
        next_offset = self.base_offset
        scanner = self._scanner(0, validate=True)
        batches: list[BatchHeader] = []
        for header in scanner:
            if header.base_offset < next_offset:
                scanner.error = (
                    f"at position {header.position}: base offset {header.base_offset}"
                    f" is before {next_offset}"
                )
                scanner.position = header.position
                break
            batches.append(header)
            next_offset = header.next_offset
            if len(batches) >= 1024:
                self._index_headers(batches, on_batch)
                batches.clear()
        self._index_headers(batches, on_batch)
        self._next_offset = next_offset
        truncated = self.size - scanner.position
        if truncated:
            self._truncate_file(scanner.position)
        last_ts, last_offset = self._load_max_timestamp()
        if last_ts >= 0:
            self.time_index.maybe_append(last_ts, last_offset, final=True)
        return truncated

    def _index_headers(
        self,
        batches: list[BatchHeader],
        on_batch: Callable[[BatchHeader], None] | None,
    ) -> None:
        if not batches:
            return
        if self._rolling_based_timestamp is None:
            self._rolling_based_timestamp = batches[0].max_timestamp
        self._index(batches, 0)
        if on_batch is not None:
            for header in batches:
                on_batch(header)

    def _truncate_file(self, position: int) -> None:
        try:
            os.ftruncate(self._fd, position)
        except OSError as e:
            raise KafkaStorageError(f"cannot truncate {self.log_path}: {e}") from e
        self.size = position

    def truncate_to(self, offset: int) -> int:
        """
        Remove the batch holding C{offset} and all after it.

        @return: how many bytes were removed.
        """
        found = self.translate_offset(offset)
        if found is None:
            return 0
        self.offset_index.truncate_to(offset)
        self.time_index.truncate_to(offset)
        removed = self.size - found.position
        self._truncate_file(found.position)
        self._bytes_since_last_index_entry = 0
        self._max_timestamp = None
        self._next_offset = None
        if self.size == 0:
            self.created_ms = self.now_ms()
            self._rolling_based_timestamp = None
        return removed

    # Lifecycle.

    def flush(self) -> None:
        """
        Force the file and its indexes to disk.

        @raise KafkaStorageError: if C{fsync} fails.
        """
        try:
            os.fsync(self._fd)
        except OSError as e:
            raise KafkaStorageError(f"cannot flush {self.log_path}: {e}") from e
        self.offset_index.flush()
        self.time_index.flush()

    def on_become_inactive(self) -> None:
        """
        Record the largest timestamp in the time index and trim both indexes: the
        segment takes no more appends (it rolled).
        """
        max_timestamp, offset = self._load_max_timestamp()
        if max_timestamp >= 0:
            self.time_index.maybe_append(max_timestamp, offset, final=True)
        self.offset_index.trim_to_valid_size()
        self.time_index.trim_to_valid_size()

    def close_handlers(self) -> None:
        """
        Release the file descriptor and index mappings without touching the files.
        """
        self.offset_index.release()
        self.time_index.release()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def close(self) -> None:
        """
        Record the final time index entry, trim the indexes and close the file.
        """
        if self._fd >= 0:
            self.on_become_inactive()
        self.close_handlers()

    def change_file_suffixes(self, old: str, new: str) -> None:
        """
        Rename the segment's files, such as from C{""} to C{".deleted"}.

        @param old: the current suffix.
        @param new: the new suffix.
        """
        prefix = os.path.join(self.directory, filename_prefix(self.base_offset))
        os.rename(prefix + LOG_SUFFIX + old, prefix + LOG_SUFFIX + new)
        self.offset_index.rename(prefix + INDEX_SUFFIX + new)
        self.time_index.rename(prefix + TIME_INDEX_SUFFIX + new)
        self.suffix = new

    def delete(self) -> None:
        """
        Close the segment and remove its files.
        """
        path = self.log_path
        self.close_handlers()
        self.offset_index.delete()
        self.time_index.delete()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
