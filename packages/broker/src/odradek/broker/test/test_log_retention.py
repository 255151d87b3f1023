"""
Tests for retention and the log start offset of L{odradek.broker.log.log.Log}.
"""

from __future__ import annotations

import os
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from odradek.broker.log import Log, LogConfig
from odradek.broker.test._logtools import (
    START_MS,
    FakeClock,
    make_batch,
    open_log,
    read_offsets,
)
from odradek.client.errors import OffsetOutOfRangeError


class RetentionTests(SynchronousTestCase):
    """
    L{Log.delete_old_segments} deletes whole segments, never past the high
    watermark.
    """

    def setUp(self) -> None:
        self.directory = self.mktemp()
        self.clock = FakeClock()

    def open(self, **settings: Any) -> Log:
        config = LogConfig(segment_bytes=400, file_delete_delay_ms=1000, **settings)
        log = open_log(self.directory, config, self.clock)
        self.addCleanup(log.close)
        return log

    def fill(self, log: Log, batches: int, timestamp: int = START_MS) -> None:
        for _ in range(batches):
            log.append_as_leader(make_batch(2, timestamp=timestamp), 0)
        log.update_high_watermark(log.log_end_offset)

    def bases(self, log: Log) -> list[int]:
        return [segment.base_offset for segment in log.segments]

    def test_by_time(self) -> None:
        """
        Segments whose newest record is older than C{retention.ms} are deleted.
        """
        log = self.open(retention_ms=1000)
        self.fill(log, 8, timestamp=START_MS - 5000)
        self.fill(log, 8, timestamp=START_MS)
        expired = [
            s.base_offset for s in log.segments if s.max_timestamp_so_far < START_MS
        ]
        self.assertGreater(len(expired), 1)
        self.clock.advance(1000)
        self.assertEqual(log.delete_old_segments(), len(expired))
        first = log.segments.first
        assert first is not None
        self.assertNotIn(first.base_offset, expired)
        self.assertEqual(log.log_start_offset, first.base_offset)
        self.assertEqual(read_offsets(log, log.log_start_offset)[-1], 31)
        self.assertEqual(log.delete_old_segments(), 0)

    def test_by_time_keeps_recent(self) -> None:
        """
        Nothing newer than C{retention.ms} is deleted; -1 keeps everything.
        """
        log = self.open(retention_ms=10**6)
        self.fill(log, 10)
        self.assertEqual(log.delete_old_segments(), 0)
        log.update_config(LogConfig(segment_bytes=400, retention_ms=-1))
        self.clock.advance(10**9)
        self.assertEqual(log.delete_old_segments(), 0)

    def test_active_segment_expired(self) -> None:
        """
        When every segment has expired, an empty segment is rolled first so the
        log keeps one, starting at the log end.
        """
        log = self.open(retention_ms=1000)
        self.fill(log, 3)
        self.clock.advance(2000)
        self.assertEqual(log.delete_old_segments(), 1)
        self.assertEqual(self.bases(log), [6])
        self.assertEqual((log.log_start_offset, log.log_end_offset), (6, 6))
        self.fill(log, 1)
        self.assertEqual(read_offsets(log, 6), [6, 7])

    def test_by_size(self) -> None:
        """
        The oldest segments go while the log minus them is still at least
        C{retention.bytes}.
        """
        log = self.open(retention_bytes=1000)
        self.fill(log, 30)
        before = log.size
        deleted = log.delete_old_segments()
        self.assertGreater(deleted, 0)
        self.assertLess(log.size, before)
        self.assertGreaterEqual(log.size + log.segments.first.size, 1000)  # type: ignore[union-attr]
        self.assertLessEqual(log.size, before)
        self.assertEqual(log.delete_old_segments(), 0)

    def test_not_past_high_watermark(self) -> None:
        """
        A segment holding offsets at or past the high watermark is kept.
        """
        log = self.open(retention_ms=0)
        self.fill(log, 20)
        log.update_high_watermark(3)
        self.clock.advance(10)
        self.assertEqual(log.delete_old_segments(), 0)
        second = self.bases(log)[1]
        log.update_high_watermark(second)
        self.assertEqual(log.delete_old_segments(), 1)
        self.assertEqual(log.log_start_offset, second)

    def test_log_start_offset(self) -> None:
        """
        Segments wholly below the log start offset go, even without C{delete}.
        """
        log = self.open(cleanup_policy=("compact",))
        self.fill(log, 20)
        third = self.bases(log)[2]
        self.assertTrue(log.maybe_increment_log_start_offset(third + 1))
        self.assertFalse(log.maybe_increment_log_start_offset(third))
        self.assertEqual(log.delete_old_segments(), 2)
        self.assertEqual(self.bases(log)[0], third)
        self.assertEqual(log.log_start_offset, third + 1)

    def test_log_start_offset_bound(self) -> None:
        """
        The log start offset cannot pass the high watermark.
        """
        log = self.open()
        self.fill(log, 2)
        log.update_high_watermark(2)
        error = self.assertRaises(
            OffsetOutOfRangeError, log.maybe_increment_log_start_offset, 3
        )
        self.assertIn("high watermark 2", str(error))

    def test_high_watermark_clamped(self) -> None:
        """
        The high watermark stays between the log start and end offsets.
        """
        log = self.open()
        self.fill(log, 2)
        self.assertEqual(log.update_high_watermark(100), 4)
        self.assertEqual(log.update_high_watermark(-5), 0)

    def test_deleted_files_delayed(self) -> None:
        """
        Deleted segments are renamed C{.deleted} and removed after
        C{file.delete.delay.ms}; a region read before stays readable meanwhile.
        """
        log = self.open(retention_ms=0)
        self.fill(log, 10)
        region = log.read(0, 1 << 20).records
        self.clock.advance(1)
        deleted = log.delete_old_segments()
        names = os.listdir(log.directory)
        self.assertEqual(sum(name.endswith(".log.deleted") for name in names), deleted)
        self.assertEqual(len(region.read_bytes()), region.size)
        self.clock.advance(999)
        self.assertEqual(log.remove_deleted_segments(), 0)
        self.clock.advance(1)
        self.assertEqual(log.remove_deleted_segments(), deleted)
        self.assertFalse(
            any(name.endswith(".deleted") for name in os.listdir(log.directory))
        )

    def test_snapshots_follow_segments(self) -> None:
        """
        Producer snapshots older than the first segment are deleted with it.
        """
        log = self.open(retention_bytes=0)
        self.fill(log, 20)
        log.delete_old_segments()
        first = log.segments.first
        assert first is not None
        snapshots = [n for n in os.listdir(log.directory) if n.endswith(".snapshot")]
        self.assertTrue(
            all(int(n.split(".")[0]) >= first.base_offset for n in snapshots)
        )
