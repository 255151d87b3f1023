"""
L{LocalLog}: the segments of one partition on disk and the offsets that describe them
(Kafka's C{LocalLog}): rolling, reading, flushing, truncating and deleting segments.
L{odradek.broker.log.log.Log} adds validation, producer state and retention on top.
"""

from __future__ import annotations

import contextlib
import random
import shutil
from collections.abc import Callable

import attrs

from odradek.broker.log.checkpoint import fsync_directory
from odradek.broker.log.config import LogConfig
from odradek.broker.log.files import DELETED_SUFFIX
from odradek.broker.log.log_segments import LogSegments
from odradek.broker.log.records import (
    FetchDataInfo,
    LogOffsetMetadata,
    TimestampAndOffset,
)
from odradek.broker.log.segment import LogSegment
from odradek.broker.log.topic_partition import TopicPartition

__all__ = ["LocalLog", "roll_jitter"]


def roll_jitter(config: LogConfig, rng: random.Random) -> int:
    """
    @return: a new segment's roll jitter, drawn below C{segment.jitter.ms}.
    """
    if config.segment_jitter_ms <= 0:
        return 0
    return rng.randrange(min(config.segment_jitter_ms, config.segment_ms))


@attrs.define(eq=False)
class LocalLog:
    """
    A partition's segments.

    @ivar directory: the partition directory.
    @ivar topic_partition: the partition.
    @ivar config: its settings.
    @ivar now_ms: the clock.
    @ivar segments: the segments, the last one active.
    @ivar recovery_point: everything before it is fsynced.
    @ivar log_end_offset: the offset the next record gets.
    @ivar rng: draws roll jitter.
    @ivar last_flush_ms: when the log was last flushed.
    """

    directory: str
    topic_partition: TopicPartition
    config: LogConfig
    now_ms: Callable[[], int] = attrs.field(repr=False)
    segments: LogSegments = attrs.field(repr=False)
    recovery_point: int
    log_end_offset: int
    rng: random.Random = attrs.field(repr=False)
    last_flush_ms: int = 0
    _deleted: list[tuple[int, LogSegment]] = attrs.field(factory=list, repr=False)
    _dir_dirty: bool = attrs.field(default=False, repr=False)

    @property
    def active_segment(self) -> LogSegment:
        """The segment appends go to."""
        segment = self.segments.last
        assert segment is not None
        return segment

    def new_segment(self, base_offset: int) -> LogSegment:
        """
        Create a segment at C{base_offset} and make it the active one.

        @return: the segment.
        """
        segment = LogSegment.open(
            self.directory,
            base_offset,
            index_interval_bytes=self.config.index_interval_bytes,
            max_index_size=self.config.segment_index_bytes,
            now_ms=self.now_ms,
            roll_jitter_ms=roll_jitter(self.config, self.rng),
        )
        self.segments.add(segment)
        self._dir_dirty = True
        return segment

    def roll(self) -> LogSegment:
        """
        Start a new active segment at the log end offset; an empty active segment is
        kept as it is.

        @return: the active segment.
        """
        old = self.active_segment
        if old.size == 0:
            return old
        old.on_become_inactive()
        return self.new_segment(self.log_end_offset)

    def read(
        self,
        start_offset: int,
        max_bytes: int,
        max_offset: int | None,
        min_one_message: bool,
    ) -> FetchDataInfo:
        """
        See L{odradek.broker.log.log.Log.read}; C{start_offset} is in range.
        """
        end = self.log_end_offset
        active = self.active_segment
        if start_offset == end:
            return FetchDataInfo(
                LogOffsetMetadata(end, active.base_offset, active.size)
            )
        if max_offset is not None and start_offset >= max_offset:
            return FetchDataInfo(LogOffsetMetadata(start_offset))
        limit_base, limit_position = active.base_offset, active.size
        if max_offset is not None and max_offset < end:
            limit_segment = self.segments.floor(max_offset)
            assert limit_segment is not None
            found = limit_segment.translate_offset(max_offset)
            limit_base = limit_segment.base_offset
            limit_position = limit_segment.size if found is None else found.position
        segment = self.segments.floor(start_offset)
        while segment is not None and segment.base_offset <= limit_base:
            max_position = limit_position if segment.base_offset == limit_base else None
            info = segment.read(start_offset, max_bytes, max_position, min_one_message)
            if info is not None:
                return info
            segment = self.segments.higher(segment.base_offset)
        return FetchDataInfo(LogOffsetMetadata(end, active.base_offset, active.size))

    def fetch_offset_by_timestamp(
        self, timestamp: int, log_start_offset: int
    ) -> TimestampAndOffset | None:
        """
        @return: the first record at or after C{log_start_offset} whose timestamp is
            at least C{timestamp}, found through the first segment whose largest
            timestamp reaches it; C{None} if there is none.
        """
        for segment in self.segments:
            if segment.max_timestamp_so_far >= timestamp:
                found = segment.find_offset_by_timestamp(timestamp, log_start_offset)
                if found is not None:
                    return found
        return None

    def max_timestamp_offset(self) -> TimestampAndOffset | None:
        """
        @return: the first record holding the log's largest timestamp (only its batch
            is decoded), or C{None} if no batch has a timestamp.
        """
        best: LogSegment | None = None
        for segment in self.segments:
            if best is None or segment.max_timestamp_so_far > best.max_timestamp_so_far:
                best = segment
        if best is None or best.max_timestamp_so_far < 0:
            return None
        largest = best.max_timestamp_so_far
        position = best.offset_index.lookup(best.offset_of_max_timestamp).value
        for header in best.headers(position):
            if header.max_timestamp != largest:
                continue
            if header.is_log_append_time:
                offset = header.base_offset
            else:
                offset = next(
                    r.offset for r in best.read_batch(header) if r.timestamp == largest
                )
            return TimestampAndOffset(largest, offset, header.partition_leader_epoch)
        return None

    def flush(self, up_to: int) -> None:
        """
        Fsync the segments holding offsets from the recovery point to C{up_to} and
        move the recovery point there.
        """
        offset = min(up_to, self.log_end_offset)
        if offset <= self.recovery_point:
            return
        for segment in self.segments.values(self.recovery_point, offset):
            segment.flush()
        if self._dir_dirty:
            fsync_directory(self.directory)
            self._dir_dirty = False
        self.recovery_point = offset
        self.last_flush_ms = self.now_ms()

    def schedule_delete(self, segment: LogSegment) -> None:
        """
        Remove a segment from the log, rename its files C{.deleted} and remove them
        after C{file.delete.delay.ms}.
        """
        if self.segments.get(segment.base_offset) is segment:
            self.segments.remove(segment.base_offset)
        segment.change_file_suffixes("", DELETED_SUFFIX)
        self._deleted.append(
            (self.now_ms() + self.config.file_delete_delay_ms, segment)
        )

    def remove_deleted_segments(self, force: bool = False) -> int:
        """
        Close and remove the C{.deleted} segments whose delay has passed.

        @param force: remove them all now.
        @return: how many were removed.
        """
        now = self.now_ms()
        due = [s for deadline, s in self._deleted if force or deadline <= now]
        self._deleted = [(d, s) for d, s in self._deleted if not (force or d <= now)]
        for segment in due:
            segment.delete()
        return len(due)

    def truncate_to(self, offset: int) -> None:
        """
        Remove the batch holding C{offset} and everything after it; C{offset} is
        within the log (normally at a batch boundary).
        """
        for segment in list(self.segments):
            if segment.base_offset > offset:
                self.schedule_delete(segment)
        active = self.active_segment
        active.truncate_to(offset)
        self.log_end_offset = active.next_offset
        self.recovery_point = min(self.recovery_point, self.log_end_offset)

    def truncate_fully_and_start_at(self, offset: int) -> None:
        """
        Remove every segment and start an empty one at C{offset}.
        """
        for segment in list(self.segments):
            self.schedule_delete(segment)
        self.new_segment(offset)
        self.log_end_offset = self.recovery_point = offset

    def close(self) -> None:
        """
        Close every segment (trimming indexes) and remove the deleted ones.
        """
        for segment in self.segments:
            segment.close()
        self.remove_deleted_segments(force=True)

    def close_handlers(self) -> None:
        """
        Release every descriptor and mapping, leaving the files as they are.
        """
        for segment in self.segments:
            segment.close_handlers()
        for _, segment in self._deleted:
            segment.close_handlers()

    def delete(self) -> None:
        """
        Close the log and remove its directory.
        """
        self.close_handlers()
        self._deleted = []
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(self.directory)
