"""
Tests for L{odradek.admin.cli._perfstats}: the throttle, latency and rate
arithmetic of the perf tools with invented times, and Kafka's output formats.
"""

from __future__ import annotations

import time

from twisted.trial.unittest import SynchronousTestCase

from odradek.admin.cli import _perfstats
from odradek.admin.cli._perfstats import (
    CONSUMER_HEADER,
    ConsumerStats,
    ProducerStats,
    ThroughputThrottler,
    format_consumer_detail,
    format_consumer_progress,
    format_consumer_summary,
    java_date_format,
    percentiles,
)
from odradek.admin.test._perftools import FINAL_LINE, FakeClock


class ThroughputThrottlerTests(SynchronousTestCase):
    """
    L{ThroughputThrottler} holds a sender to its target rate.
    """

    def test_unlimited(self) -> None:
        """A negative target never throttles."""
        throttler = ThroughputThrottler(-1, 0)
        self.assertFalse(throttler.should_throttle(10**9, 1))
        self.assertEqual(throttler.sleep_time_ns, 0)

    def test_zero_refused(self) -> None:
        """A target of 0 is refused: it would never send."""
        self.assertRaises(ValueError, ThroughputThrottler, 0, 0)

    def test_should_throttle(self) -> None:
        """It throttles only when the average rate since the start is over target."""
        throttler = ThroughputThrottler(100, 0)
        self.assertFalse(throttler.should_throttle(5, 0))
        self.assertFalse(throttler.should_throttle(100, 1000))
        self.assertTrue(throttler.should_throttle(101, 1000))

    def test_deficit_below_minimum(self) -> None:
        """Periods shorter than 2 ms accumulate before any sleep."""
        throttler = ThroughputThrottler(1000, 0)
        self.assertEqual(throttler.throttle(), 0.0)
        self.assertEqual(throttler.sleep_deficit_ns, 1_000_000)
        self.assertEqual(throttler.throttle(), 0.002)
        self.assertEqual(throttler.sleep_deficit_ns, 0)

    def test_long_period(self) -> None:
        """A period of 2 ms or more is slept at once."""
        throttler = ThroughputThrottler(10, 0)
        self.assertEqual(throttler.throttle(), 0.1)

    def test_holds_rate(self) -> None:
        """Driven by a fake clock with instant sends, the rate stays near target."""
        clock = FakeClock()
        start = clock.ms()
        throttler = ThroughputThrottler(500, start)
        for number in range(2000):
            clock.now_ms += 0.01
            if throttler.should_throttle(number, clock.ms()):
                pause = throttler.throttle()
                if pause:
                    clock.sleep(pause)
        rate = 2000 / ((clock.ms() - start) / 1000)
        self.assertApproximates(rate, 500, 10)


class PercentilesTests(SynchronousTestCase):
    """
    L{percentiles} takes Kafka's index into the sorted samples.
    """

    def test_kafka_index(self) -> None:
        """The p-th percentile of n samples is the sorted sample at int(p * n)."""
        samples = list(range(1000, 0, -1))
        self.assertEqual(
            percentiles(samples, 0.5, 0.95, 0.99, 0.999), [501, 951, 991, 1000]
        )

    def test_few(self) -> None:
        """With one sample every percentile is that sample."""
        self.assertEqual(percentiles([7.5], 0.5, 0.999), [7.5, 7.5])

    def test_none(self) -> None:
        """Without samples every percentile is 0."""
        self.assertEqual(percentiles([], 0.5, 0.99), [0.0, 0.0])


class ProducerStatsTests(SynchronousTestCase):
    """
    L{ProducerStats} counts latencies and prints Kafka's lines.
    """

    def test_window_line(self) -> None:
        """A record past the window's end gives the window's line and a new window."""
        stats = ProducerStats(100, start_ms=0)
        self.assertEqual(stats.record(10, 1024 * 1024, 1000), [])
        lines = stats.record(30, 1024 * 1024, 5000)
        self.assertEqual(
            lines,
            [
                "2 records sent, 0.4 records/sec (0.40 MB/sec),"
                " 20.0 ms avg latency, 30.0 ms max latency."
            ],
        )
        self.assertEqual(stats.window_count, 0)
        self.assertEqual(stats.window_start_ms, 5000)

    def test_total_line(self) -> None:
        """The summary has Kafka's wording, rates, averages and percentiles."""
        stats = ProducerStats(4, start_ms=0)
        for latency in (4, 1, 3, 2):
            stats.record(latency, 100, 10)
        self.assertEqual(
            stats.total_line(2000),
            "4 records sent, 2.000000 records/sec (0.00 MB/sec), 2.50 ms avg"
            " latency, 4.00 ms max latency, 3 ms 50th, 4 ms 95th, 4 ms 99th,"
            " 4 ms 99.9th.",
        )
        self.assertRegex(stats.total_line(2000), FINAL_LINE)

    def test_sampling(self) -> None:
        """Beyond 500,000 records only every n-th latency is kept, as Kafka keeps."""
        stats = ProducerStats(1_500_000, start_ms=0)
        self.assertEqual(stats.sampling, 3)
        for latency in range(9):
            stats.record(latency, 1, 0)
        self.assertEqual(stats.latencies, [0, 3, 6])

    def test_steady_state(self) -> None:
        """Steady-state figures say so; suppressed windows print nothing."""
        warmup = ProducerStats(10, start_ms=0, suppressed=True)
        self.assertEqual(warmup.record(1, 1, 6000), [])
        steady = ProducerStats(5, start_ms=0, steady_state=True)
        self.assertEqual(steady.record(1, 1, 6000)[0], "In steady state.")
        self.assertTrue(steady.total_line(7000).startswith("1 steady state records"))


class ConsumerFormatTests(SynchronousTestCase):
    """
    The consumer perf test's lines, in Kafka's CSV format.
    """

    def setUp(self) -> None:
        self.patch(time, "localtime", time.gmtime)

    def test_summary(self) -> None:
        """The summary line has the ten figures of the header."""
        stats = ConsumerStats(start_ms=0)
        for _ in range(1000):
            stats.record(-1, 1024)
        stats.joined(500)
        line = format_consumer_summary(
            stats,
            1_700_000_000_000,
            1_700_000_002_000,
            java_date_format(_perfstats.DEFAULT_DATE_FORMAT),
        )
        self.assertEqual(
            line,
            "2023-11-14 22:13:20:000, 2023-11-14 22:13:22:000, 0.9766, 0.4883, 1000,"
            " 500.0000, 500, 1500, 0.6510, 666.6667",
        )
        self.assertEqual(len(line.split(", ")), len(CONSUMER_HEADER.split(", ")))

    def test_detail(self) -> None:
        """A detailed line gives the rates since the last report."""
        stats = ConsumerStats(start_ms=0)
        stats.record(2, 8)
        stats.reported(1000)
        for _ in range(10):
            stats.record(-1, 100)
        line = format_consumer_detail(stats, 2000, 1_700_000_000_123, "%H:%M:%S:{ms}")
        self.assertEqual(
            line,
            "22:13:20:123, 0, 0.0010, 0.0010, 11, 10.0000, 0, 1000, 0.0010, 10.0000",
        )

    def test_progress(self) -> None:
        """The progress line counts the records and the interval's rates."""
        stats = ConsumerStats(start_ms=0)
        for _ in range(2000):
            stats.record(-1, 1024)
        self.assertTrue(stats.report_due(5000, 5000))
        self.assertFalse(stats.report_due(4999, 5000))
        self.assertEqual(
            format_consumer_progress(stats, 5000),
            "2000 records consumed, 400.0 records/sec (0.39 MB/sec).",
        )

    def test_zero_elapsed(self) -> None:
        """No time passed gives rates of 0, not a division error."""
        stats = ConsumerStats(start_ms=0)
        line = format_consumer_summary(stats, 0, 0, "%Y")
        self.assertTrue(line.endswith("0.0000, 0, 0.0000, 0, 0, 0.0000, 0.0000"))

    def test_java_date_format(self) -> None:
        """SimpleDateFormat letters and quoted text become a strftime format."""
        self.assertEqual(
            java_date_format("yyyy-MM-dd HH:mm:ss:SSS"), "%Y-%m-%d %H:%M:%S:{ms}"
        )
        self.assertEqual(java_date_format("yy'T'%"), "%yT%%")
        self.assertRaises(ValueError, java_date_format, "EEE")
