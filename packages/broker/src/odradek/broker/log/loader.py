"""
L{LogLoader}: opening a partition directory at start-up.

  1. Remove what an interrupted operation left behind: C{.deleted} files (segments
     already scheduled for deletion), C{.cleaned} and C{.swap} files (compaction is not
     implemented, so these can only be foreign leftovers), C{.tmp} files, and index
     files whose C{.log} file is gone.
  2. Open every segment; one whose indexes are missing or fail their sanity check is
     recovered (its indexes rebuilt from the log).
  3. Unless the broker shut down cleanly, recover every segment from the one holding
     the recovery point on: check each batch's CRC, rebuild the indexes, cut the file
     at the first torn or corrupt batch and drop every later segment.
  4. Rebuild the producer state from the latest snapshot and the batch headers after
     it.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import attrs
from twisted.logger import Logger

from odradek.broker.log.config import LogConfig
from odradek.broker.log.files import (
    CLEANED_SUFFIX,
    DELETED_SUFFIX,
    INDEX_SUFFIX,
    LOG_SUFFIX,
    SWAP_SUFFIX,
    TIME_INDEX_SUFFIX,
    TXN_INDEX_SUFFIX,
)
from odradek.broker.log.index import CorruptIndexError
from odradek.broker.log.log_segments import LogSegments
from odradek.broker.log.producer_state import ProducerStateManager
from odradek.broker.log.segment import LogSegment
from odradek.broker.log.topic_partition import TopicPartition

__all__ = [
    "LoadedLogOffsets",
    "LogLoader",
    "rebuild_producer_state",
]

_LEFTOVER_SUFFIXES = (DELETED_SUFFIX, CLEANED_SUFFIX, SWAP_SUFFIX, ".tmp")
_log = Logger()


@attrs.frozen
class LoadedLogOffsets:
    """
    The offsets of a loaded log.

    @ivar log_start_offset: the first offset readable.
    @ivar recovery_point: the offset up to which the log is known flushed.
    @ivar next_offset: the log end offset.
    """

    log_start_offset: int
    recovery_point: int
    next_offset: int


@attrs.define(eq=False)
class LogLoader:
    """
    Load one partition directory.

    @ivar directory: the partition directory.
    @ivar topic_partition: the partition.
    @ivar config: its settings.
    @ivar now_ms: the clock.
    @ivar log_start_offset: from the log-start-offset checkpoint, or 0.
    @ivar recovery_point: from the recovery-point checkpoint, or 0.
    @ivar had_clean_shutdown: whether the clean shutdown marker was present.
    @ivar segments: filled with the loaded segments.
    @ivar producer_state: rebuilt.
    @ivar roll_jitter: gives each new segment's jitter.
    """

    directory: str
    topic_partition: TopicPartition
    config: LogConfig
    now_ms: Callable[[], int]
    log_start_offset: int
    recovery_point: int
    had_clean_shutdown: bool
    segments: LogSegments
    producer_state: ProducerStateManager
    roll_jitter: Callable[[], int] = lambda: 0

    def open_segment(self, base_offset: int) -> LogSegment:
        """
        @return: the segment at C{base_offset}, opened with this log's settings.
        """
        return LogSegment.open(
            self.directory,
            base_offset,
            index_interval_bytes=self.config.index_interval_bytes,
            max_index_size=self.config.segment_index_bytes,
            now_ms=self.now_ms,
            roll_jitter_ms=self.roll_jitter(),
        )

    def load(self) -> LoadedLogOffsets:
        """
        Load the directory into C{segments} and C{producer_state}.

        @return: the log's offsets.
        @raise KafkaStorageError: if a file cannot be opened.
        """
        bases = self._remove_leftovers()
        for base in sorted(bases):
            segment = self.open_segment(base)
            try:
                if not bases[base]:
                    raise CorruptIndexError("index files missing")
                segment.offset_index.sanity_check(segment.size)
                segment.time_index.sanity_check(segment.next_offset)
            except CorruptIndexError as e:
                _log.warn(
                    "Rebuilding the indexes of segment {base} of {tp}: {why}",
                    base=base,
                    tp=str(self.topic_partition),
                    why=str(e),
                )
                segment.recover()
            self.segments.add(segment)
        if not self.had_clean_shutdown:
            self._recover_unflushed()
        if not len(self.segments):
            self.segments.add(self.open_segment(self.log_start_offset))
        active = self.segments.last
        assert active is not None
        for segment in self.segments.values(0, active.base_offset):
            # Recovered indexes were preallocated for appends: trim them again.
            segment.offset_index.trim_to_valid_size()
            segment.time_index.trim_to_valid_size()
        next_offset = active.next_offset
        first = self.segments.first
        assert first is not None
        log_start = max(self.log_start_offset, first.base_offset)
        if log_start > next_offset:
            for segment in self.segments.clear():
                segment.delete()
            self.segments.add(self.open_segment(log_start))
            next_offset = log_start
        self._rebuild_producer_state(log_start, next_offset)
        return LoadedLogOffsets(
            log_start_offset=log_start,
            recovery_point=min(max(self.recovery_point, log_start), next_offset),
            next_offset=next_offset,
        )

    def _remove_leftovers(self) -> dict[int, bool]:
        """
        Delete temporary and orphaned files.

        @return: the base offset of each C{.log} file, mapped to whether its index
            files are both present.
        """
        names = os.listdir(self.directory)
        logs: dict[int, bool] = {}
        indexes: list[tuple[str, str]] = []
        for name in names:
            path = os.path.join(self.directory, name)
            if name.endswith(_LEFTOVER_SUFFIXES):
                _log.info("Removing leftover file {path}", path=path)
                os.unlink(path)
                continue
            stem, dot, extension = name.partition(".")
            if not stem.isdigit() or len(stem) != 20:
                continue
            if dot + extension == LOG_SUFFIX:
                logs[int(stem)] = True
            elif dot + extension in (INDEX_SUFFIX, TIME_INDEX_SUFFIX, TXN_INDEX_SUFFIX):
                indexes.append((stem, path))
        for stem, path in indexes:
            if int(stem) not in logs:
                _log.info("Removing orphaned index file {path}", path=path)
                os.unlink(path)
        for base in logs:
            prefix = os.path.join(self.directory, f"{base:020d}")
            logs[base] = os.path.exists(prefix + INDEX_SUFFIX) and os.path.exists(
                prefix + TIME_INDEX_SUFFIX
            )
        return logs

    def _recover_unflushed(self) -> None:
        """
        Recover the segments after the recovery point, cutting the log at the first
        corrupt batch.
        """
        unflushed = self.segments.values(self.recovery_point, 2**63 - 1)
        for number, segment in enumerate(unflushed):
            truncated = segment.recover()
            if truncated:
                _log.warn(
                    "Found a torn or corrupt tail in segment {base} of {tp}: cut"
                    " {bytes} bytes at offset {offset}",
                    base=segment.base_offset,
                    tp=str(self.topic_partition),
                    bytes=truncated,
                    offset=segment.next_offset,
                )
                for later in unflushed[number + 1 :]:
                    self.segments.remove(later.base_offset)
                    later.delete()
                break

    def _rebuild_producer_state(self, log_start: int, next_offset: int) -> None:
        state = self.producer_state
        snapshot = rebuild_producer_state(state, self.segments, log_start, next_offset)
        if (snapshot or log_start) < next_offset:
            state.take_snapshot()
        first = self.segments.first
        state.delete_snapshots_before(first.base_offset if first else log_start)


def rebuild_producer_state(
    state: ProducerStateManager,
    segments: LogSegments,
    log_start_offset: int,
    log_end_offset: int,
) -> int | None:
    """
    Load the latest producer snapshot at or before the log end and replay the batch
    headers after it (from the log start if there is no snapshot).

    @return: the offset of the snapshot used, or C{None}.
    """
    snapshot = state.load_latest_snapshot(log_end_offset)
    start = log_start_offset if snapshot is None else max(snapshot, log_start_offset)
    for segment in segments.values(start, log_end_offset):
        position = segment.offset_index.lookup(start).value
        state.replay(h for h in segment.headers(position) if h.base_offset >= start)
    state.map_end_offset = log_end_offset
    return snapshot
