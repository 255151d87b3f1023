"""
L{Log}: one partition's log (Kafka's C{UnifiedLog}): validation, producer state,
retention and the log start offset and high watermark, over the segments of the
directory C{<topic>-<partition>} that L{LocalLog} keeps.

Offsets:

  - C{log_start_offset}: the first offset readable; moved by retention and
    DeleteRecords (L{Log.maybe_increment_log_start_offset});
  - C{high_watermark}: kept here as Kafka's log keeps it, moved by the replication
    layer (L{Log.update_high_watermark}); retention and DeleteRecords never go past
    it. It starts at the log start offset until the partition sets it;
  - C{recovery_point}: everything before it is fsynced; start-up recovery starts there;
  - C{log_end_offset}: the offset the next record gets.

Deleted segments (retention, truncation) are renamed C{.deleted} at once and closed
and removed only C{file.delete.delay.ms} later (L{Log.remove_deleted_segments}), so
that a L{FileRecords} already handed to the network layer stays readable.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from typing import Final

import attrs

from odradek.broker.log.config import LogConfig
from odradek.broker.log.loader import LogLoader, rebuild_producer_state
from odradek.broker.log.local_log import LocalLog, roll_jitter
from odradek.broker.log.log_segments import LogSegments
from odradek.broker.log.producer_state import ProducerStateManager
from odradek.broker.log.records import FetchDataInfo, TimestampAndOffset
from odradek.broker.log.segment import LogSegment
from odradek.broker.log.topic_partition import TopicPartition
from odradek.broker.log.validator import LogAppendInfo, LogValidator
from odradek.client.errors import KafkaStorageError, OffsetOutOfRangeError

__all__ = [
    "EARLIEST_LOCAL_TIMESTAMP",
    "EARLIEST_TIMESTAMP",
    "LATEST_TIMESTAMP",
    "MAX_TIMESTAMP",
    "Log",
]

LATEST_TIMESTAMP: Final = -1
EARLIEST_TIMESTAMP: Final = -2
MAX_TIMESTAMP: Final = -3
EARLIEST_LOCAL_TIMESTAMP: Final = -4


@attrs.define(eq=False)
class Log:
    """
    One partition's log. Build it with L{Log.open}.

    @ivar local: the segments and the offsets that describe them.
    @ivar producer_state: the idempotent producers' state.
    @ivar log_start_offset: see the module docstring.
    @ivar high_watermark: see the module docstring.
    """

    local: LocalLog
    producer_state: ProducerStateManager = attrs.field(repr=False)
    log_start_offset: int
    high_watermark: int
    _validator: LogValidator = attrs.field(init=False, repr=False)
    _closed: bool = attrs.field(default=False, repr=False)

    def __attrs_post_init__(self) -> None:
        self._validator = LogValidator(
            str(self.local.topic_partition), self.local.config, self.local.now_ms
        )
        self.local.last_flush_ms = self.local.now_ms()

    @classmethod
    def open(
        cls,
        directory: str,
        topic_partition: TopicPartition,
        config: LogConfig,
        now_ms: Callable[[], int],
        *,
        log_start_offset: int = 0,
        recovery_point: int = 0,
        had_clean_shutdown: bool = False,
        rng: random.Random | None = None,
    ) -> Log:
        """
        Open (creating if need be) and load a partition directory with L{LogLoader}.

        @param directory: the partition directory.
        @param topic_partition: the partition.
        @param config: its settings.
        @param now_ms: the clock.
        @param log_start_offset: from the log-start-offset checkpoint.
        @param recovery_point: from the recovery-point checkpoint.
        @param had_clean_shutdown: whether to skip recovering unflushed segments.
        @param rng: draws each segment's roll jitter.
        @return: the loaded log.
        @raise KafkaStorageError: if the directory cannot be read or created.
        """
        rng = rng or random.Random()
        try:
            os.makedirs(directory, exist_ok=True)
        except OSError as e:
            raise KafkaStorageError(
                f"cannot create log directory {directory}: {e}"
            ) from e
        segments = LogSegments()
        producer_state = ProducerStateManager(str(topic_partition), directory)
        loader = LogLoader(
            directory=directory,
            topic_partition=topic_partition,
            config=config,
            now_ms=now_ms,
            log_start_offset=log_start_offset,
            recovery_point=recovery_point,
            had_clean_shutdown=had_clean_shutdown,
            segments=segments,
            producer_state=producer_state,
            roll_jitter=lambda: roll_jitter(config, rng),
        )
        try:
            loaded = loader.load()
        except OSError as e:
            raise KafkaStorageError(f"cannot load log {directory}: {e}") from e
        local = LocalLog(
            directory=directory,
            topic_partition=topic_partition,
            config=config,
            now_ms=now_ms,
            segments=segments,
            recovery_point=loaded.recovery_point,
            log_end_offset=loaded.next_offset,
            rng=rng,
        )
        return cls(
            local=local,
            producer_state=producer_state,
            log_start_offset=loaded.log_start_offset,
            high_watermark=loaded.log_start_offset,
        )

    @property
    def directory(self) -> str:
        """The partition directory."""
        return self.local.directory

    @property
    def topic_partition(self) -> TopicPartition:
        """The partition."""
        return self.local.topic_partition

    @property
    def config(self) -> LogConfig:
        """The partition's settings."""
        return self.local.config

    @property
    def segments(self) -> LogSegments:
        """The segments, the last one active."""
        return self.local.segments

    @property
    def active_segment(self) -> LogSegment:
        """The segment appends go to."""
        return self.local.active_segment

    @property
    def log_end_offset(self) -> int:
        """The offset the next record gets."""
        return self.local.log_end_offset

    @property
    def recovery_point(self) -> int:
        """The offset before which everything is fsynced."""
        return self.local.recovery_point

    @property
    def last_flush_ms(self) -> int:
        """When the log was last flushed."""
        return self.local.last_flush_ms

    @property
    def size(self) -> int:
        """The total size of the log's segment files."""
        return self.local.segments.size_in_bytes

    def update_config(self, config: LogConfig) -> None:
        """
        Apply new settings; segment and index sizes apply to the next segment.
        """
        self.local.config = config
        self._validator = LogValidator(
            str(self.topic_partition), config, self.local.now_ms
        )
        self.active_segment.index_interval_bytes = config.index_interval_bytes

    # Appending.

    def append_as_leader(
        self, records: bytes | bytearray | memoryview, leader_epoch: int
    ) -> LogAppendInfo:
        """
        Validate a produce request's batches for this partition, check them against
        the producers' state, assign offsets and write them.

        @param records: the record batches as received.
        @param leader_epoch: the leader epoch to stamp on each batch.
        @return: what was appended; for a producer's retry of a batch already
            written, the original offsets with C{duplicate} set.
        @raise KafkaError: the validator's errors (see L{LogValidator}),
            L{InvalidProducerEpochError}, L{OutOfOrderSequenceError}, or
            L{KafkaStorageError} if the write fails.
        """
        local = self.local
        now = local.now_ms()
        data, info = self._validator.validate_and_assign_offsets(
            bytearray(records),
            local.log_end_offset,
            leader_epoch,
            now_ms=now,
            log_start_offset=self.log_start_offset,
        )
        duplicate, updated = self.producer_state.check(info.batches)
        if duplicate is not None:
            first, last = duplicate.first_offset, duplicate.last_offset
            ts = duplicate.timestamp
            append_time = ts if local.config.log_append_time else -1
            return LogAppendInfo(
                first, last, ts, last, append_time, last - first + 1, 0, [],
                self.log_start_offset, duplicate=True,
            )  # fmt: skip
        segment = self._maybe_roll(len(data), info)
        segment.append(data, info.batches, now_ms=now)
        local.log_end_offset = info.last_offset + 1
        self.producer_state.commit(updated, local.log_end_offset)
        if local.log_end_offset - local.recovery_point >= local.config.flush_messages:
            self.flush()
        return info

    def _maybe_roll(self, size: int, info: LogAppendInfo) -> LogSegment:
        segment = self.active_segment
        if segment.size == 0 and segment.base_offset == self.log_end_offset:
            return segment
        if segment.should_roll(
            segment_bytes=self.config.segment_bytes,
            segment_ms=self.config.segment_ms,
            messages_size=size,
            max_timestamp_in_messages=info.max_timestamp,
            max_offset_in_messages=info.last_offset,
        ):
            return self.roll()
        return segment

    def roll(self) -> LogSegment:
        """
        Start a new active segment at the log end offset, snapshotting the producer
        state there. An empty active segment is kept as it is.

        @return: the new active segment.
        """
        if self.active_segment.size == 0:
            return self.active_segment
        self.producer_state.take_snapshot()
        return self.local.roll()

    # Reading.

    def read(
        self,
        start_offset: int,
        max_bytes: int,
        max_offset: int | None = None,
        min_one_message: bool = False,
    ) -> FetchDataInfo:
        """
        Take the region of the log from the batch holding C{start_offset}, within one
        segment.

        @param start_offset: the first offset wanted.
        @param max_bytes: the most bytes to return (the last batch may be cut short).
        @param max_offset: the offset not to read past (the high watermark for
            consumers), or C{None} for the log end.
        @param min_one_message: whether to return the first batch whole even if it is
            larger than C{max_bytes}.
        @return: the region; empty at the log end.
        @raise OffsetOutOfRangeError: naming the offset and the valid range, if
            C{start_offset} is before the log start or after the log end.
        """
        if start_offset > self.log_end_offset or start_offset < self.log_start_offset:
            raise OffsetOutOfRangeError(
                f"offset {start_offset} of partition {self.topic_partition} is out of"
                f" range: the log holds offsets {self.log_start_offset} to"
                f" {self.log_end_offset}"
            )
        return self.local.read(start_offset, max_bytes, max_offset, min_one_message)

    def offset_for_timestamp(self, timestamp: int) -> TimestampAndOffset | None:
        """
        Answer a ListOffsets query. Special timestamps: L{EARLIEST_TIMESTAMP} and
        L{EARLIEST_LOCAL_TIMESTAMP} give the log start offset, L{LATEST_TIMESTAMP}
        the log end offset (the caller answers consumers with the high watermark
        instead), L{MAX_TIMESTAMP} the first record with the largest timestamp.

        @param timestamp: milliseconds since the epoch, or a special value.
        @return: the first record whose timestamp is at least C{timestamp}, or
            C{None} if there is none.
        @raise ValueError: for an unknown negative timestamp.
        """
        if timestamp in (EARLIEST_TIMESTAMP, EARLIEST_LOCAL_TIMESTAMP):
            return TimestampAndOffset(-1, self.log_start_offset)
        if timestamp == LATEST_TIMESTAMP:
            return TimestampAndOffset(-1, self.log_end_offset)
        if timestamp == MAX_TIMESTAMP:
            return self.local.max_timestamp_offset()
        if timestamp < 0:
            raise ValueError(f"unknown special timestamp {timestamp}")
        return self.local.fetch_offset_by_timestamp(timestamp, self.log_start_offset)

    # Offsets.

    def update_high_watermark(self, offset: int) -> int:
        """
        Move the high watermark, kept within the log start and end offsets.

        @return: the new high watermark.
        """
        self.high_watermark = min(
            max(offset, self.log_start_offset), self.log_end_offset
        )
        return self.high_watermark

    def maybe_increment_log_start_offset(self, new_offset: int) -> bool:
        """
        Move the log start offset forward (DeleteRecords); the segments below it are
        deleted by the next L{delete_old_segments}.

        @param new_offset: the new first readable offset.
        @return: whether the log start offset moved.
        @raise OffsetOutOfRangeError: if C{new_offset} is past the high watermark.
        """
        if new_offset > self.high_watermark:
            raise OffsetOutOfRangeError(
                f"cannot move the log start offset of {self.topic_partition} to"
                f" {new_offset}: it is past the high watermark {self.high_watermark}"
            )
        if new_offset <= self.log_start_offset:
            return False
        self.log_start_offset = new_offset
        return True

    # Retention.

    def delete_old_segments(self) -> int:
        """
        Apply retention: with C{cleanup.policy} C{delete}, drop the segments older
        than C{retention.ms} and the oldest ones beyond C{retention.bytes}; always
        drop those wholly below the log start offset. Only segments wholly below the
        high watermark go; if that includes the active segment, a new empty one is
        rolled first.

        @return: how many segments were deleted.
        """
        deleted = self._delete_where(
            lambda segment, following: (
                following is not None and following.base_offset <= self.log_start_offset
            )
        )
        if not self.config.delete_enabled:
            return deleted
        retention_ms = self.config.retention_ms
        if retention_ms >= 0:
            now = self.local.now_ms()
            deleted += self._delete_where(
                lambda segment, _: now - segment.largest_timestamp > retention_ms
            )
        retention_bytes = self.config.retention_bytes
        if retention_bytes >= 0 and self.size >= retention_bytes:
            excess = [self.size - retention_bytes]

            def over_size(segment: LogSegment, _: LogSegment | None) -> bool:
                if excess[0] - segment.size >= 0:
                    excess[0] -= segment.size
                    return True
                return False

            deleted += self._delete_where(over_size)
        return deleted

    def _delete_where(
        self, predicate: Callable[[LogSegment, LogSegment | None], bool]
    ) -> int:
        deletable: list[LogSegment] = []
        segments = list(self.segments)
        for number, segment in enumerate(segments):
            following = segments[number + 1] if number + 1 < len(segments) else None
            upper = self.log_end_offset if following is None else following.base_offset
            if following is None and segment.size == 0:
                break
            if self.high_watermark < upper or not predicate(segment, following):
                break
            deletable.append(segment)
        if not deletable:
            return 0
        if len(deletable) == len(segments):
            self.roll()
        for segment in deletable:
            self.local.schedule_delete(segment)
        first = self.segments.first
        assert first is not None
        self.log_start_offset = max(self.log_start_offset, first.base_offset)
        self.producer_state.delete_snapshots_before(first.base_offset)
        return len(deletable)

    def remove_deleted_segments(self, force: bool = False) -> int:
        """
        Close and remove the C{.deleted} segments whose delay has passed.

        @param force: remove them all now (on close).
        @return: how many were removed.
        """
        return self.local.remove_deleted_segments(force)

    # Truncation.

    def truncate_to(self, offset: int) -> bool:
        """
        Remove every record from C{offset} on (a follower's truncation).

        @return: whether anything was removed.
        """
        if offset < 0:
            raise ValueError(f"cannot truncate {self.topic_partition} to {offset}")
        if offset >= self.log_end_offset:
            return False
        if offset < self.log_start_offset:
            self.truncate_fully_and_start_at(offset)
            return True
        self.local.truncate_to(offset)
        self.log_start_offset = min(self.log_start_offset, self.log_end_offset)
        self.high_watermark = min(self.high_watermark, self.log_end_offset)
        self._reload_producer_state()
        return True

    def truncate_fully_and_start_at(self, offset: int) -> None:
        """
        Remove every segment and start an empty log at C{offset}.
        """
        self.local.truncate_fully_and_start_at(offset)
        self.producer_state.delete_snapshots_after(-1)
        self.producer_state.producers = {}
        self.producer_state.map_end_offset = offset
        self.log_start_offset = self.high_watermark = offset

    def _reload_producer_state(self) -> None:
        self.producer_state.delete_snapshots_after(self.log_end_offset)
        rebuild_producer_state(
            self.producer_state,
            self.segments,
            self.log_start_offset,
            self.log_end_offset,
        )

    # Durability and lifecycle.

    def flush(self, up_to: int | None = None) -> None:
        """
        Fsync the segments holding offsets before C{up_to} (the log end by default)
        and move the recovery point there.
        """
        self.local.flush(self.log_end_offset if up_to is None else up_to)

    def close(self) -> None:
        """
        Snapshot the producer state, close every segment (trimming their indexes) and
        remove the segments awaiting deletion.
        """
        if self._closed:
            return
        self._closed = True
        if self.producer_state.map_end_offset == self.log_end_offset:
            self.producer_state.take_snapshot()
        self.local.close()

    def close_handlers(self) -> None:
        """
        Release every descriptor and mapping without writing anything (before the
        directory is removed).
        """
        self._closed = True
        self.local.close_handlers()

    def delete(self) -> None:
        """
        Close the log and remove its directory.
        """
        self._closed = True
        self.local.delete()
