"""
Tests for L{odradek.broker.log.loader}: loading a partition directory after a clean
shutdown or a crash, with files torn, corrupted or left behind.
"""

from __future__ import annotations

import os

from twisted.trial.unittest import SynchronousTestCase

from odradek.broker.log import Log, LogConfig
from odradek.broker.test._logtools import (
    FakeClock,
    make_batch,
    open_log,
    read_offsets,
    segment_files,
)
from odradek.client.errors import OffsetOutOfRangeError

CONFIG = LogConfig(segment_bytes=500, index_interval_bytes=100)


class RecoveryTests(SynchronousTestCase):
    """
    A log reopened without a clean shutdown recovers from its recovery point.
    """

    def setUp(self) -> None:
        self.directory = self.mktemp()
        self.clock = FakeClock()

    def crashed_log(self, batches: int = 20) -> Log:
        """
        Write C{batches} two-record batches, then drop the log without closing it,
        as a killed broker would.
        """
        log = open_log(self.directory, CONFIG, self.clock)
        for _ in range(batches):
            log.append_as_leader(make_batch(2), 0)
        log.local.close_handlers()
        return log

    def reopen(
        self,
        *,
        log_start_offset: int = 0,
        recovery_point: int = 0,
        had_clean_shutdown: bool = False,
    ) -> Log:
        log = open_log(
            self.directory,
            CONFIG,
            self.clock,
            log_start_offset=log_start_offset,
            recovery_point=recovery_point,
            had_clean_shutdown=had_clean_shutdown,
        )
        self.addCleanup(log.close)
        return log

    def last_log_file(self, log: Log) -> str:
        return log.active_segment.log_path

    def test_crash_without_damage(self) -> None:
        """
        A log dropped without closing reopens whole, preallocated indexes included.
        """
        self.crashed_log()
        log = self.reopen()
        self.assertEqual(log.log_end_offset, 40)
        self.assertEqual(read_offsets(log), list(range(40)))
        log.append_as_leader(make_batch(2), 0)
        self.assertEqual(read_offsets(log)[-1], 41)

    def test_torn_tail(self) -> None:
        """
        A last batch cut mid-write is removed; everything before it stays.
        """
        crashed = self.crashed_log()
        path = self.last_log_file(crashed)
        size = os.path.getsize(path)
        with open(path, "r+b") as f:
            f.truncate(size - 10)
        log = self.reopen()
        self.assertEqual(log.log_end_offset, 38)
        self.assertEqual(read_offsets(log), list(range(38)))
        log.append_as_leader(make_batch(2), 0)
        self.assertEqual(read_offsets(log), list(range(40)))

    def test_flipped_byte(self) -> None:
        """
        A flipped byte in the last batch fails its CRC; the log is cut there.
        """
        crashed = self.crashed_log()
        path = self.last_log_file(crashed)
        with open(path, "r+b") as f:
            f.seek(-5, os.SEEK_END)
            byte = f.read(1)
            f.seek(-5, os.SEEK_END)
            f.write(bytes([byte[0] ^ 1]))
        log = self.reopen()
        self.assertEqual(log.log_end_offset, 38)
        self.assertEqual(read_offsets(log), list(range(38)))

    def test_corruption_drops_later_segments(self) -> None:
        """
        Corruption in an unflushed segment cuts it and drops every later segment.
        """
        crashed = self.crashed_log()
        second = list(crashed.segments)[1]
        with open(second.log_path, "r+b") as f:
            f.seek(70)
            f.write(b"\xee\xee")
        log = self.reopen()
        self.assertEqual(len(log.segments), 2)
        self.assertEqual(log.log_end_offset, second.base_offset)
        self.assertEqual(read_offsets(log), list(range(second.base_offset)))

    def test_recovery_starts_at_recovery_point(self) -> None:
        """
        Segments wholly before the recovery point are not checked.
        """
        crashed = self.crashed_log()
        first, second = list(crashed.segments)[:2]
        with open(first.log_path, "r+b") as f:
            f.seek(70)
            f.write(b"\xee")
        log = self.reopen(recovery_point=second.base_offset)
        self.assertEqual(log.log_end_offset, 40)
        self.assertEqual(log.recovery_point, second.base_offset)

    def test_clean_shutdown_skips_recovery(self) -> None:
        """
        After a clean shutdown the segments are trusted.
        """
        log = open_log(self.directory, CONFIG, self.clock)
        for _ in range(5):
            log.append_as_leader(make_batch(2), 0)
        log.close()
        with open(log.segments.first.log_path, "r+b") as f:  # type: ignore[union-attr]
            f.seek(70)
            f.write(b"\xee")
        log = self.reopen(had_clean_shutdown=True, recovery_point=0)
        self.assertEqual(log.log_end_offset, 10)

    def test_missing_index_rebuilt(self) -> None:
        """
        A deleted index is rebuilt from the log, even after a clean shutdown.
        """
        log = open_log(self.directory, CONFIG, self.clock)
        for _ in range(20):
            log.append_as_leader(make_batch(2), 0)
        first = log.segments.first
        assert first is not None
        entries = first.offset_index.entries
        self.assertGreater(entries, 0)
        log.close()
        os.unlink(first.offset_index.path)
        os.unlink(first.time_index.path)
        log = self.reopen(had_clean_shutdown=True, recovery_point=40)
        self.assertEqual(log.segments.first.offset_index.entries, entries)  # type: ignore[union-attr]
        self.assertEqual(read_offsets(log), list(range(40)))

    def test_corrupt_index_rebuilt(self) -> None:
        """
        An index failing its sanity check is rebuilt.
        """
        log = open_log(self.directory, CONFIG, self.clock)
        for _ in range(20):
            log.append_as_leader(make_batch(2), 0)
        first = log.segments.first
        assert first is not None
        entries = first.offset_index.entries
        log.close()
        with open(first.offset_index.path, "wb") as f:
            f.write(b"\x7f" * 19)
        log = self.reopen(had_clean_shutdown=True, recovery_point=40)
        self.assertEqual(log.segments.first.offset_index.entries, entries)  # type: ignore[union-attr]
        self.assertEqual(os.path.getsize(first.offset_index.path), entries * 8)
        self.assertEqual(read_offsets(log), list(range(40)))

    def test_leftovers_removed(self) -> None:
        """
        C{.deleted}, C{.cleaned}, C{.swap} and C{.tmp} files and orphaned indexes are
        removed on load.
        """
        log = open_log(self.directory, CONFIG, self.clock)
        log.append_as_leader(make_batch(2), 0)
        log.close()
        for name in [
            "00000000000000000500.log.deleted",
            "00000000000000000500.index.deleted",
            "00000000000000000600.log.cleaned",
            "00000000000000000700.log.swap",
            "00000000000000000002.snapshot.tmp",
            "00000000000000000900.index",
            "00000000000000000900.timeindex",
        ]:
            with open(os.path.join(log.directory, name), "wb") as f:
                f.write(b"junk")
        log = self.reopen(had_clean_shutdown=True)
        self.assertEqual(
            segment_files(log),
            [
                "00000000000000000000.index",
                "00000000000000000000.log",
                "00000000000000000000.timeindex",
                "00000000000000000002.snapshot",
            ],
        )

    def test_log_start_past_end(self) -> None:
        """
        When the log start offset is past what survived, the log restarts there.
        """
        self.crashed_log(batches=3)
        log = self.reopen(log_start_offset=50)
        self.assertEqual((log.log_start_offset, log.log_end_offset), (50, 50))
        log.append_as_leader(make_batch(1), 0)
        self.assertEqual(read_offsets(log, 50), [50])

    def test_log_start_from_checkpoint(self) -> None:
        """
        The log start offset read from the checkpoint is kept: reads below it fail,
        and a read at it returns the whole batch holding it.
        """
        self.crashed_log(batches=3)
        log = self.reopen(log_start_offset=3)
        self.assertEqual(log.log_start_offset, 3)
        self.assertRaises(OffsetOutOfRangeError, log.read, 2, 100)
        self.assertEqual(read_offsets(log, 3), [2, 3, 4, 5])
