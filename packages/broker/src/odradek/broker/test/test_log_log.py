"""
Tests for L{odradek.broker.log.log.Log}: appends, reads, offsets by time, rolls and
truncation.
"""

from __future__ import annotations

import os

from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from odradek.broker.log import (
    EARLIEST_TIMESTAMP,
    LATEST_TIMESTAMP,
    MAX_TIMESTAMP,
    Log,
    LogConfig,
)
from odradek.broker.test._logtools import (
    HYPOTHESIS,
    START_MS,
    FakeClock,
    make_batch,
    open_log,
    read_offsets,
)
from odradek.client.errors import OffsetOutOfRangeError
from odradek.client.records import RecordBatchReader


class LogTestCase(SynchronousTestCase):
    """
    Open logs in a temporary directory with a fake clock.
    """

    def setUp(self) -> None:
        self.directory = self.mktemp()
        self.clock = FakeClock()

    def open(self, config: LogConfig | None = None) -> Log:
        log = open_log(self.directory, config, self.clock)
        self.addCleanup(log.close)
        return log

    def fill(
        self, log: Log, batches: int, per_batch: int = 2, timestamp: int = START_MS
    ) -> None:
        for _ in range(batches):
            log.append_as_leader(make_batch(per_batch, timestamp=timestamp), 0)


class AppendReadTests(LogTestCase):
    """
    Appending and reading back, within and across segments.
    """

    def test_empty(self) -> None:
        """
        A new log starts at offset 0 with one empty segment.
        """
        log = self.open()
        self.assertEqual((log.log_start_offset, log.log_end_offset), (0, 0))
        self.assertEqual(len(log.segments), 1)
        info = log.read(0, 1000)
        self.assertEqual(info.records.size, 0)
        self.assertEqual(info.fetch_offset_metadata.message_offset, 0)

    def test_append_result(self) -> None:
        """
        An append reports its offsets and the log start offset.
        """
        log = self.open()
        self.fill(log, 1, 3)
        info = log.append_as_leader(make_batch(2), 4)
        self.assertEqual((info.first_offset, info.last_offset), (3, 4))
        self.assertEqual(info.log_start_offset, 0)
        self.assertFalse(info.duplicate)
        self.assertEqual(log.log_end_offset, 5)

    def test_read_across_segments(self) -> None:
        """
        Every record can be read back in order across rolled segments.
        """
        log = self.open(LogConfig(segment_bytes=400))
        self.fill(log, 20)
        self.assertGreater(len(log.segments), 3)
        self.assertEqual(read_offsets(log), list(range(40)))

    def test_read_stays_in_one_segment(self) -> None:
        """
        One read returns data from one segment only.
        """
        log = self.open(LogConfig(segment_bytes=400))
        self.fill(log, 20)
        info = log.read(0, 1 << 20)
        self.assertEqual(info.records.size, log.segments.first.size)  # type: ignore[union-attr]

    def test_read_max_bytes(self) -> None:
        """
        C{max_bytes} bounds a read; C{min_one_message} still returns a first batch.
        """
        log = self.open()
        self.fill(log, 4)
        batch = log.size // 4
        self.assertEqual(log.read(0, batch * 2 + 5).records.size, batch * 2 + 5)
        self.assertEqual(log.read(0, 1, min_one_message=True).records.size, batch)
        info = log.read(0, 1)
        self.assertTrue(info.first_entry_incomplete)

    def test_read_max_offset(self) -> None:
        """
        A read stops before C{max_offset} (the high watermark), even across
        segments.
        """
        log = self.open(LogConfig(segment_bytes=400))
        self.fill(log, 20)
        info = log.read(0, 1 << 20, max_offset=4)
        batches = list(RecordBatchReader(info.records.read_bytes()))
        self.assertEqual(batches[-1].next_offset, 4)
        self.assertEqual(log.read(4, 1 << 20, max_offset=4).records.size, 0)
        self.assertEqual(log.read(30, 1 << 20, max_offset=10).records.size, 0)
        last = log.segments.last
        assert last is not None
        info = log.read(last.base_offset, 1 << 20, max_offset=last.base_offset + 2)
        self.assertEqual(len(list(RecordBatchReader(info.records.read_bytes()))), 1)

    def test_out_of_range(self) -> None:
        """
        Reading before the log start or past the log end is OFFSET_OUT_OF_RANGE
        naming the offset and the range.
        """
        log = self.open()
        self.fill(log, 2)
        error = self.assertRaises(OffsetOutOfRangeError, log.read, 5, 100)
        self.assertIn("offset 5", str(error))
        self.assertIn("0 to 4", str(error))
        self.assertIn("orders-0", str(error))
        log.update_high_watermark(4)
        log.maybe_increment_log_start_offset(2)
        self.assertRaises(OffsetOutOfRangeError, log.read, 1, 100)
        self.assertEqual(read_offsets(log, 2), [2, 3])

    def test_log_append_time(self) -> None:
        """
        A LogAppendTime topic stamps batches with the broker's clock, which lookups
        by time then use.
        """
        log = self.open(LogConfig(message_timestamp_type="LogAppendTime"))
        self.clock.advance(50)
        info = log.append_as_leader(make_batch(2, timestamp=5), 0)
        self.assertEqual(
            (info.log_append_time, info.max_timestamp), (START_MS + 50,) * 2
        )
        batch = next(iter(RecordBatchReader(log.read(0, 1000).records.read_bytes())))
        batch.validate()
        self.assertEqual([r.timestamp for r in batch], [START_MS + 50] * 2)
        found = log.offset_for_timestamp(START_MS + 10)
        assert found is not None
        self.assertEqual((found.offset, found.timestamp), (0, START_MS + 50))
        found = log.offset_for_timestamp(MAX_TIMESTAMP)
        assert found is not None
        self.assertEqual(found.offset, 0)

    def test_read_at_end(self) -> None:
        """
        Reading at the log end returns nothing, with the end's position.
        """
        log = self.open()
        self.fill(log, 2)
        info = log.read(4, 100)
        self.assertEqual(info.records.size, 0)
        self.assertEqual(info.fetch_offset_metadata.relative_position, log.size)

    @HYPOTHESIS
    @given(
        st.lists(
            st.tuples(st.integers(1, 5), st.integers(0, 200)), min_size=1, max_size=25
        )
    )
    def test_random_appends_read_back(self, batches: list[tuple[int, int]]) -> None:
        """
        Batches of any sizes are read back whole and in order.
        """
        directory = os.path.join(self.mktemp(), "x")
        log = open_log(
            directory,
            LogConfig(segment_bytes=1500, index_interval_bytes=200),
            self.clock,
        )
        try:
            for count, size in batches:
                log.append_as_leader(make_batch(count, value_size=size), 0)
            total = sum(count for count, _ in batches)
            self.assertEqual(read_offsets(log), list(range(total)))
            self.assertEqual(read_offsets(log, max_bytes=1), list(range(total)))
        finally:
            log.delete()


class OffsetForTimestampTests(LogTestCase):
    """
    L{Log.offset_for_timestamp} answers ListOffsets.
    """

    def setUp(self) -> None:
        super().setUp()
        self.log = self.open(LogConfig(segment_bytes=300, index_interval_bytes=0))
        for i in range(10):
            timestamps = [START_MS + 10 * i, START_MS + 10 * i + 5]
            self.log.append_as_leader(make_batch(2, timestamps=timestamps), 0)

    def test_by_time(self) -> None:
        """
        The first record at or after the timestamp is found, in any segment.
        """
        self.assertGreater(len(self.log.segments), 2)
        for target, offset in [
            (START_MS, 0),
            (START_MS + 3, 1),
            (START_MS + 41, 9),
            (START_MS + 95, 19),
        ]:
            found = self.log.offset_for_timestamp(target)
            assert found is not None
            self.assertEqual(found.offset, offset)
        self.assertIsNone(self.log.offset_for_timestamp(START_MS + 96))

    def test_special(self) -> None:
        """
        Earliest, latest and max timestamp have Kafka's meanings.
        """
        self.assertEqual(self.log.offset_for_timestamp(EARLIEST_TIMESTAMP).offset, 0)  # type: ignore[union-attr]
        self.assertEqual(self.log.offset_for_timestamp(LATEST_TIMESTAMP).offset, 20)  # type: ignore[union-attr]
        found = self.log.offset_for_timestamp(MAX_TIMESTAMP)
        assert found is not None
        self.assertEqual((found.timestamp, found.offset), (START_MS + 95, 19))
        self.assertRaises(ValueError, self.log.offset_for_timestamp, -7)

    def test_after_log_start(self) -> None:
        """
        A lookup never returns an offset below the log start offset.
        """
        self.log.update_high_watermark(20)
        self.log.maybe_increment_log_start_offset(5)
        found = self.log.offset_for_timestamp(START_MS)
        assert found is not None
        self.assertEqual(found.offset, 5)


class RollTests(LogTestCase):
    """
    Segments roll by size, time and index size.
    """

    def test_roll_by_size(self) -> None:
        """
        No segment grows past C{segment.bytes}.
        """
        log = self.open(LogConfig(segment_bytes=500))
        self.fill(log, 30)
        self.assertGreater(len(log.segments), 5)
        for segment in log.segments:
            self.assertLessEqual(segment.size, 500)

    def test_roll_by_time(self) -> None:
        """
        A batch C{segment.ms} newer than the segment's first starts a new segment.
        """
        log = self.open(LogConfig(segment_ms=1000))
        self.fill(log, 1)
        self.clock.advance(1000)
        self.fill(log, 1, timestamp=START_MS + 1000)
        self.assertEqual(len(log.segments), 1)
        self.clock.advance(1)
        self.fill(log, 1, timestamp=START_MS + 1001)
        self.assertEqual([s.base_offset for s in log.segments], [0, 4])

    def test_roll_when_index_full(self) -> None:
        """
        A full offset index rolls the segment.
        """
        log = self.open(LogConfig(segment_index_bytes=24, index_interval_bytes=0))
        self.fill(log, 10)
        self.assertGreater(len(log.segments), 2)
        self.assertEqual(read_offsets(log), list(range(20)))

    def test_roll_snapshots_producers(self) -> None:
        """
        A roll trims the old indexes and snapshots the producer state.
        """
        log = self.open()
        self.fill(log, 2)
        log.roll()
        names = sorted(os.listdir(log.directory))
        self.assertIn("00000000000000000004.snapshot", names)
        self.assertIn("00000000000000000004.log", names)
        self.assertEqual(
            os.path.getsize(os.path.join(log.directory, "00000000000000000000.index")),
            0,
        )
        self.assertIs(log.roll(), log.active_segment)


class TruncateFlushTests(LogTestCase):
    """
    Truncation and flushing.
    """

    def test_truncate_to(self) -> None:
        """
        Truncation removes later segments and the tail of the one holding the
        offset.
        """
        log = self.open(LogConfig(segment_bytes=400))
        self.fill(log, 20)
        log.update_high_watermark(40)
        self.assertTrue(log.truncate_to(9))
        self.assertEqual(log.log_end_offset, 8)
        self.assertEqual(log.high_watermark, 8)
        self.assertEqual(read_offsets(log), list(range(8)))
        self.fill(log, 1)
        self.assertEqual(read_offsets(log), list(range(10)))
        self.assertFalse(log.truncate_to(100))

    def test_truncate_below_start(self) -> None:
        """
        Truncating below the log start empties the log and starts it there.
        """
        log = self.open()
        self.fill(log, 3)
        log.update_high_watermark(6)
        log.maybe_increment_log_start_offset(4)
        log.truncate_to(2)
        self.assertEqual((log.log_start_offset, log.log_end_offset), (2, 2))
        self.fill(log, 1)
        self.assertEqual(read_offsets(log, 2), [2, 3])

    def test_flush_messages(self) -> None:
        """
        The log is flushed once C{flush.messages} records are unflushed.
        """
        log = self.open(LogConfig(flush_messages=5))
        self.fill(log, 2)
        self.assertEqual(log.recovery_point, 0)
        self.fill(log, 1)
        self.assertEqual(log.recovery_point, 6)

    def test_flush(self) -> None:
        """
        A flush moves the recovery point to the log end, or to the offset given.
        """
        log = self.open()
        self.fill(log, 3)
        log.flush(2)
        self.assertEqual(log.recovery_point, 2)
        self.clock.advance(10)
        log.flush()
        self.assertEqual((log.recovery_point, log.last_flush_ms), (6, START_MS + 10))
