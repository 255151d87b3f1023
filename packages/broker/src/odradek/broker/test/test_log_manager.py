"""
Tests for L{odradek.broker.log.manager.LogManager}.
"""

from __future__ import annotations

import os
import random
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from odradek.broker.log import (
    CLEAN_SHUTDOWN_FILE,
    LOG_START_OFFSET_CHECKPOINT,
    RECOVERY_POINT_CHECKPOINT,
    LogConfig,
    LogManager,
    OffsetCheckpointFile,
    TopicPartition,
)
from odradek.broker.test._logtools import FakeClock, make_batch, read_offsets

CONFIG = LogConfig(segment_bytes=500, file_delete_delay_ms=1000)
A0 = TopicPartition("a", 0)
A1 = TopicPartition("a", 1)
B0 = TopicPartition("b-topic", 0)


class LogManagerTests(SynchronousTestCase):
    """
    Loading, creating, deleting and checkpointing the broker's logs.
    """

    def setUp(self) -> None:
        root = self.mktemp()
        self.dirs = [os.path.join(root, "d1"), os.path.join(root, "d2")]
        self.clock = FakeClock()

    def start(self, dirs: list[str] | None = None, **kwargs: Any) -> LogManager:
        return LogManager.start(
            dirs or self.dirs[:1],
            CONFIG,
            self.clock,
            rng=random.Random(1),
            **kwargs,
        )

    def fill(self, manager: LogManager, tp: TopicPartition, batches: int) -> None:
        log = manager.get_or_create_log(tp)
        for _ in range(batches):
            log.append_as_leader(make_batch(2), 0)
        log.update_high_watermark(log.log_end_offset)

    def crash(self, manager: LogManager) -> None:
        """
        Drop every log without flushing or closing, as a killed broker would.
        """
        for log in manager.logs.values():
            log.local.close_handlers()

    def test_restart_keeps_everything(self) -> None:
        """
        After a clean shutdown, every partition reopens with all its records and
        offsets, without recovery.
        """
        manager = self.start()
        self.fill(manager, A0, 20)
        self.fill(manager, B0, 3)
        manager.get_log(A0).maybe_increment_log_start_offset(5)  # type: ignore[union-attr]
        manager.shutdown()
        self.assertTrue(os.path.exists(os.path.join(self.dirs[0], CLEAN_SHUTDOWN_FILE)))
        again = self.start()
        self.assertEqual(again.had_clean_shutdown, {self.dirs[0]: True})
        self.assertFalse(
            os.path.exists(os.path.join(self.dirs[0], CLEAN_SHUTDOWN_FILE))
        )
        a0 = again.get_log(A0)
        assert a0 is not None
        self.assertEqual(
            (a0.log_start_offset, a0.log_end_offset, a0.recovery_point), (5, 40, 40)
        )
        self.assertEqual(read_offsets(a0, 5)[-1], 39)
        b0 = again.get_log(B0)
        assert b0 is not None
        self.assertEqual(read_offsets(b0), list(range(6)))
        again.shutdown()

    def test_construct_then_startup(self) -> None:
        """
        C{LogManager(log_dirs, default_config, now_ms)} loads nothing until
        C{startup}.
        """
        manager = self.start()
        self.fill(manager, A0, 2)
        manager.shutdown()
        again = LogManager(self.dirs[:1], CONFIG, self.clock)
        self.assertEqual(again.logs, {})
        again.startup()
        self.assertEqual(again.get_log(A0).log_end_offset, 4)  # type: ignore[union-attr]
        again.shutdown()

    def test_checkpoint_files(self) -> None:
        """
        Shutdown writes the recovery points and log start offsets.
        """
        manager = self.start()
        self.fill(manager, A0, 2)
        manager.shutdown()
        recovery = OffsetCheckpointFile(
            os.path.join(self.dirs[0], RECOVERY_POINT_CHECKPOINT)
        )
        starts = OffsetCheckpointFile(
            os.path.join(self.dirs[0], LOG_START_OFFSET_CHECKPOINT)
        )
        self.assertEqual(recovery.read(), {A0: 4})
        self.assertEqual(starts.read(), {A0: 0})

    def test_crash_recovers(self) -> None:
        """
        Without the clean shutdown marker, logs recover after their recovery point:
        a torn tail is cut and the rest kept.
        """
        manager = self.start()
        self.fill(manager, A0, 20)
        manager.checkpoint_recovery_points()
        checkpointed = manager.get_log(A0).recovery_point  # type: ignore[union-attr]
        self.fill(manager, A0, 1)
        path = manager.get_log(A0).active_segment.log_path  # type: ignore[union-attr]
        self.crash(manager)
        with open(path, "r+b") as f:
            f.truncate(os.path.getsize(path) - 3)
        again = self.start()
        self.assertEqual(again.had_clean_shutdown, {self.dirs[0]: False})
        log = again.get_log(A0)
        assert log is not None
        self.assertEqual(log.log_end_offset, 40)
        self.assertEqual(log.recovery_point, checkpointed)
        self.assertEqual(read_offsets(log), list(range(40)))
        again.shutdown()

    def test_checkpoint_flushes_rolled_segments(self) -> None:
        """
        Checkpointing recovery points first flushes the segments that rolled.
        """
        manager = self.start()
        self.fill(manager, A0, 20)
        log = manager.get_log(A0)
        assert log is not None
        self.assertEqual(log.recovery_point, 0)
        manager.checkpoint_recovery_points()
        self.assertEqual(log.recovery_point, log.active_segment.base_offset)
        manager.shutdown()

    def test_bad_checkpoint_ignored(self) -> None:
        """
        A malformed checkpoint is ignored: the logs recover from offset 0.
        """
        manager = self.start()
        self.fill(manager, A0, 2)
        self.crash(manager)
        with open(os.path.join(self.dirs[0], RECOVERY_POINT_CHECKPOINT), "w") as f:
            f.write("garbage")
        again = self.start()
        self.assertEqual(again.get_log(A0).log_end_offset, 4)  # type: ignore[union-attr]
        again.shutdown()

    def test_fewest_partitions(self) -> None:
        """
        A new partition goes to the log dir holding the fewest.
        """
        manager = self.start(self.dirs)
        for tp in [A0, A1, B0]:
            manager.get_or_create_log(tp)
        self.assertEqual(sorted(os.listdir(self.dirs[0])), ["a-0", "b-topic-0"])
        self.assertEqual(sorted(os.listdir(self.dirs[1])), ["a-1"])
        manager.shutdown()
        again = self.start(self.dirs)
        self.assertEqual(set(again.logs), {A0, A1, B0})
        again.shutdown()

    def test_get_or_create_existing(self) -> None:
        """
        Asking again for a partition returns the same log.
        """
        manager = self.start()
        log = manager.get_or_create_log(A0)
        self.assertIs(manager.get_or_create_log(A0), log)
        self.assertIsNone(manager.get_log(A1))
        manager.shutdown()

    def test_delete_log(self) -> None:
        """
        Deleting a log renames its directory with C{-delete} and removes it after
        the delay.
        """
        manager = self.start()
        self.fill(manager, A0, 2)
        self.assertTrue(manager.delete_log(A0))
        self.assertFalse(manager.delete_log(A0))
        self.assertIsNone(manager.get_log(A0))
        names = os.listdir(self.dirs[0])
        self.assertEqual(len(names), 1)
        self.assertTrue(names[0].startswith("a-0.") and names[0].endswith("-delete"))
        manager.cleanup_logs()
        self.assertEqual(len(os.listdir(self.dirs[0])), 1)
        self.clock.advance(1000)
        manager.cleanup_logs()
        self.assertEqual(os.listdir(self.dirs[0]), [])
        manager.shutdown()

    def test_deleted_dir_removed_at_start(self) -> None:
        """
        A C{-delete} directory left by a crash is removed at start-up.
        """
        manager = self.start()
        self.fill(manager, A0, 2)
        manager.delete_log(A0)
        self.crash(manager)
        again = self.start()
        self.assertEqual(again.logs, {})
        self.assertEqual(os.listdir(self.dirs[0]), [])

    def test_foreign_directory_ignored(self) -> None:
        """
        A directory that does not name a partition is left alone.
        """
        os.makedirs(os.path.join(self.dirs[0], "lost+found"))
        manager = self.start()
        self.assertEqual(manager.logs, {})
        manager.shutdown()

    def test_update_config(self) -> None:
        """
        A topic's new config applies to its logs and to partitions created later.
        """
        manager = self.start()
        manager.get_or_create_log(A0)
        manager.get_or_create_log(B0)
        config = LogConfig(retention_ms=5)
        manager.update_config("a", config)
        self.assertEqual(manager.get_log(A0).config, config)  # type: ignore[union-attr]
        self.assertEqual(manager.get_log(B0).config, CONFIG)  # type: ignore[union-attr]
        self.assertEqual(manager.get_or_create_log(A1).config, config)
        manager.shutdown()

    def test_cleanup_logs(self) -> None:
        """
        Cleanup applies retention to every log.
        """
        manager = self.start(
            topic_configs={"a": LogConfig(segment_bytes=500, retention_bytes=0)}
        )
        self.fill(manager, A0, 20)
        self.fill(manager, B0, 20)
        self.assertGreater(manager.cleanup_logs(), 0)
        self.assertGreater(manager.get_log(A0).log_start_offset, 0)  # type: ignore[union-attr]
        self.assertEqual(manager.get_log(B0).log_start_offset, 0)  # type: ignore[union-attr]
        manager.shutdown()

    def test_cleanup_expires_producers(self) -> None:
        """
        Cleanup forgets producers idle for longer than the expiration.
        """
        manager = self.start(producer_id_expiration_ms=1000)
        log = manager.get_or_create_log(A0)
        log.append_as_leader(
            make_batch(1, producer_id=3, producer_epoch=0, base_sequence=0), 0
        )
        manager.cleanup_logs()
        self.assertIn(3, log.producer_state.producers)
        self.clock.advance(1000)
        manager.cleanup_logs()
        self.assertNotIn(3, log.producer_state.producers)
        manager.shutdown()

    def test_flush_dirty_logs(self) -> None:
        """
        Logs are flushed once their last flush is C{flush.ms} old.
        """
        manager = self.start(topic_configs={"a": LogConfig(flush_ms=100)})
        self.fill(manager, A0, 2)
        self.fill(manager, B0, 2)
        manager.flush_dirty_logs()
        self.assertEqual(manager.get_log(A0).recovery_point, 0)  # type: ignore[union-attr]
        self.clock.advance(100)
        manager.flush_dirty_logs()
        self.assertEqual(manager.get_log(A0).recovery_point, 4)  # type: ignore[union-attr]
        self.assertEqual(manager.get_log(B0).recovery_point, 0)  # type: ignore[union-attr]
        manager.shutdown()
