"""
The arithmetic of the performance tools, sans-IO: no clock, no sleep, no print.
Every method takes the time (milliseconds of a monotonic clock) from its caller and
returns the lines to print, so tests drive it with invented times.

  - L{ThroughputThrottler}: Kafka's throttle of the producer perf test, saying how
    long to sleep to hold a records-per-second cap;
  - L{ProducerStats}: the producer's send-to-ack latencies and throughput, with a
    line every reporting window and a summary with percentiles, in the words of
    Kafka's C{ProducerPerformance};
  - L{ConsumerStats} and the C{format_consumer_*} functions: the consumer perf
    test's counts, its CSV lines (Kafka's C{ConsumerPerformance}) and a progress
    line;
  - L{percentiles}, L{java_date_format}.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Final

import attrs

__all__ = [
    "CONSUMER_DETAILED_HEADER",
    "CONSUMER_HEADER",
    "DEFAULT_DATE_FORMAT",
    "MAX_LATENCY_SAMPLES",
    "ConsumerStats",
    "ProducerStats",
    "ThroughputThrottler",
    "format_consumer_detail",
    "format_consumer_progress",
    "format_consumer_summary",
    "java_date_format",
    "percentiles",
]

_NS_PER_SECOND: Final = 1_000_000_000
_MIN_SLEEP_NS: Final = 2_000_000
_MEBIBYTE: Final = 1024.0 * 1024.0

MAX_LATENCY_SAMPLES: Final = 500_000
"""At most this many latencies are kept for the percentiles, as Kafka keeps."""

CONSUMER_HEADER: Final = (
    "start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg,"
    " nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec"
)
"""The header of the consumer perf test's summary line."""

CONSUMER_DETAILED_HEADER: Final = (
    "time, threadId, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec,"
    " rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec"
)
"""The header of the consumer perf test's C{--show-detailed-stats} lines."""

DEFAULT_DATE_FORMAT: Final = "yyyy-MM-dd HH:mm:ss:SSS"
"""Kafka's default C{--date-format} (a C{java.text.SimpleDateFormat} pattern)."""


@attrs.define
class ThroughputThrottler:
    """
    Hold a sender to about C{target_throughput} things a second, as Kafka's
    C{ThroughputThrottler} does: after each send, L{should_throttle} says whether
    the average rate since the start is over the target; if so, L{throttle} adds
    one period (1 / target seconds) to a sleep deficit and, once the deficit
    reaches 2 ms, returns it as the time to sleep now.

    @ivar target_throughput: things a second; negative means no limit.
    @ivar start_ms: when the first thing was sent.
    @ivar sleep_deficit_ns: sleep owed and not yet taken.
    """

    target_throughput: float
    start_ms: float
    sleep_deficit_ns: int = 0

    def __attrs_post_init__(self) -> None:
        """
        @raise ValueError: for a target of 0, which would never send.
        """
        if self.target_throughput == 0:
            raise ValueError("a throughput of 0 would never send anything")

    @property
    def sleep_time_ns(self) -> int:
        """
        @return: the period, in nanoseconds (0 without a limit).
        """
        if self.target_throughput < 0:
            return 0
        return int(_NS_PER_SECOND / self.target_throughput)

    def should_throttle(self, amount_so_far: float, send_start_ms: float) -> bool:
        """
        @param amount_so_far: the things sent so far.
        @param send_start_ms: when the latest one was sent.
        @return: whether the average rate since C{start_ms} is over the target.
        """
        if self.target_throughput < 0:
            return False
        elapsed_s = (send_start_ms - self.start_ms) / 1000.0
        return elapsed_s > 0 and amount_so_far / elapsed_s > self.target_throughput

    def throttle(self) -> float:
        """
        Owe one more period of sleep.

        @return: the seconds to sleep now: the whole deficit once it reaches 2 ms
            (it is then cleared), else 0.
        """
        self.sleep_deficit_ns += self.sleep_time_ns
        if self.sleep_deficit_ns < _MIN_SLEEP_NS:
            return 0.0
        owed, self.sleep_deficit_ns = self.sleep_deficit_ns, 0
        return owed / _NS_PER_SECOND


def percentiles(samples: Sequence[float], *points: float) -> list[float]:
    """
    Kafka's percentiles: sort the samples and take the one at index
    C{int(point * count)} for each point.

    @param samples: the samples, in any order.
    @param points: fractions, each in [0, 1).
    @return: one value per point; 0 for each if there are no samples.
    """
    ordered = sorted(samples)
    if not ordered:
        return [0.0 for _ in points]
    last = len(ordered) - 1
    return [ordered[min(int(point * len(ordered)), last)] for point in points]


def _rate(amount: float, elapsed_ms: float) -> float:
    """@return: C{amount} a second over C{elapsed_ms}, 0 if no time passed."""
    return 1000.0 * amount / elapsed_ms if elapsed_ms > 0 else 0.0


@attrs.define
class ProducerStats:
    """
    The producer perf test's figures: every acknowledged record's latency (send to
    acknowledgement, in milliseconds) and size. Every C{sampling}-th latency is
    kept for the percentiles, so that at most L{MAX_LATENCY_SAMPLES} are kept
    (all of them up to that many records), as Kafka does.

    @ivar num_records: the records the run will send (sets the sampling).
    @ivar start_ms: when the run started.
    @ivar steady_state: whether these are the figures after a warm-up.
    @ivar reporting_interval_ms: how long a window lasts.
    @ivar suppressed: whether window lines are withheld (the warm-up's, once the
        steady state began).
    """

    num_records: int
    start_ms: float
    steady_state: bool = False
    reporting_interval_ms: float = 5000.0
    suppressed: bool = False
    sampling: int = attrs.field(init=False)
    latencies: list[float] = attrs.field(init=False, factory=list)
    iteration: int = attrs.field(init=False, default=0)
    count: int = attrs.field(init=False, default=0)
    bytes: int = attrs.field(init=False, default=0)
    total_latency: float = attrs.field(init=False, default=0.0)
    max_latency: float = attrs.field(init=False, default=0.0)
    window_start_ms: float = attrs.field(init=False)
    window_count: int = attrs.field(init=False, default=0)
    window_bytes: int = attrs.field(init=False, default=0)
    window_total_latency: float = attrs.field(init=False, default=0.0)
    window_max_latency: float = attrs.field(init=False, default=0.0)

    def __attrs_post_init__(self) -> None:
        self.sampling = max(
            1, self.num_records // min(self.num_records, MAX_LATENCY_SAMPLES)
        )
        self.window_start_ms = self.start_ms

    def record(self, latency_ms: float, size: int, now_ms: float) -> list[str]:
        """
        Count one acknowledged record.

        @param latency_ms: from its send to its acknowledgement.
        @param size: its value's size in bytes.
        @param now_ms: the time now.
        @return: the lines to print: the window's line when the window is over
            (preceded by C{In steady state.} at the first steady-state window).
        """
        self.count += 1
        self.bytes += size
        self.total_latency += latency_ms
        self.max_latency = max(self.max_latency, latency_ms)
        self.window_count += 1
        self.window_bytes += size
        self.window_total_latency += latency_ms
        self.window_max_latency = max(self.window_max_latency, latency_ms)
        if self.iteration % self.sampling == 0:
            self.latencies.append(latency_ms)
        self.iteration += 1
        lines: list[str] = []
        if now_ms - self.window_start_ms >= self.reporting_interval_ms:
            if self.steady_state and self.count == self.window_count:
                lines.append("In steady state.")
            if not self.suppressed:
                lines.append(self.window_line(now_ms))
            self.new_window(now_ms)
        return lines

    def window_line(self, now_ms: float) -> str:
        """
        @param now_ms: the time now.
        @return: the line of the current window: C{N records sent, X records/sec
            (Y MB/sec), A ms avg latency, M ms max latency.}
        """
        elapsed = now_ms - self.window_start_ms
        count = self.window_count
        average = self.window_total_latency / count if count else 0.0
        return (
            f"{count} records sent, {_rate(count, elapsed):.1f} records/sec"
            f" ({_rate(self.window_bytes, elapsed) / _MEBIBYTE:.2f} MB/sec),"
            f" {average:.1f} ms avg latency, {self.window_max_latency:.1f} ms max"
            " latency."
        )

    def new_window(self, now_ms: float) -> None:
        """
        Start a new window.

        @param now_ms: the time now.
        """
        self.window_start_ms = now_ms
        self.window_count = 0
        self.window_bytes = 0
        self.window_total_latency = 0.0
        self.window_max_latency = 0.0

    def total_line(self, now_ms: float) -> str:
        """
        @param now_ms: the time the run ended.
        @return: the summary: C{N records sent, X records/sec (Y MB/sec), A ms avg
            latency, M ms max latency, P ms 50th, P ms 95th, P ms 99th, P ms
            99.9th.}
        """
        elapsed = now_ms - self.start_ms
        p50, p95, p99, p999 = percentiles(self.latencies, 0.5, 0.95, 0.99, 0.999)
        average = self.total_latency / self.count if self.count else 0.0
        steady = " steady state" if self.steady_state else ""
        return (
            f"{self.count}{steady} records sent,"
            f" {_rate(self.count, elapsed):f} records/sec"
            f" ({_rate(self.bytes, elapsed) / _MEBIBYTE:.2f} MB/sec),"
            f" {average:.2f} ms avg latency, {self.max_latency:.2f} ms max latency,"
            f" {int(p50)} ms 50th, {int(p95)} ms 95th, {int(p99)} ms 99th,"
            f" {int(p999)} ms 99.9th."
        )


@attrs.define
class ConsumerStats:
    """
    The consumer perf test's counts, with those at the last report so that each
    report gives the figures of its interval.

    @ivar start_ms: when consuming started.
    @ivar messages: records consumed.
    @ivar bytes: bytes of keys and values consumed.
    @ivar rebalance_ms: time spent joining the group in all.
    @ivar interval_rebalance_ms: time spent joining since the last report.
    @ivar last_report_ms: when the last report was made.
    @ivar last_messages: C{messages} at the last report.
    @ivar last_bytes: C{bytes} at the last report.
    """

    start_ms: float
    messages: int = 0
    bytes: int = 0
    rebalance_ms: float = 0.0
    interval_rebalance_ms: float = 0.0
    last_report_ms: float = attrs.field(init=False)
    last_messages: int = attrs.field(init=False, default=0)
    last_bytes: int = attrs.field(init=False, default=0)

    def __attrs_post_init__(self) -> None:
        self.last_report_ms = self.start_ms

    def record(self, key_size: int, value_size: int) -> None:
        """
        Count one record.

        @param key_size: its key's size, -1 for a null key.
        @param value_size: its value's size, -1 for a null value.
        """
        self.messages += 1
        self.bytes += max(key_size, 0) + max(value_size, 0)

    def joined(self, elapsed_ms: float) -> None:
        """
        Count time spent joining the group.

        @param elapsed_ms: how long the join took.
        """
        self.rebalance_ms += elapsed_ms
        self.interval_rebalance_ms += elapsed_ms

    def report_due(self, now_ms: float, interval_ms: float) -> bool:
        """
        @param now_ms: the time now.
        @param interval_ms: the reporting interval.
        @return: whether an interval passed since the last report.
        """
        return now_ms - self.last_report_ms >= interval_ms

    def reported(self, now_ms: float) -> None:
        """
        Start a new interval.

        @param now_ms: the time now.
        """
        self.last_report_ms = now_ms
        self.last_messages = self.messages
        self.last_bytes = self.bytes
        self.interval_rebalance_ms = 0.0


def java_date_format(pattern: str) -> str:
    """
    Translate the common letters of a C{java.text.SimpleDateFormat} pattern
    (C{yyyy yy MM dd HH mm ss SSS}, text in single quotes) into a
    C{time.strftime} format, C{SSS} (milliseconds) becoming the marker C{{ms}},
    filled in when a time is formatted.

    @param pattern: e.g. C{yyyy-MM-dd HH:mm:ss:SSS}.
    @return: the strftime format with C{{ms}} for the milliseconds.
    @raise ValueError: for a letter this translation does not know.
    """
    tokens = {
        "yyyy": "%Y",
        "yy": "%y",
        "MM": "%m",
        "dd": "%d",
        "HH": "%H",
        "mm": "%M",
        "ss": "%S",
        "SSS": "{ms}",
    }
    out: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "'":
            end = pattern.find("'", index + 1)
            end = len(pattern) if end < 0 else end
            out.append(pattern[index + 1 : end].replace("%", "%%") or "'")
            index = end + 1
            continue
        if char.isalpha():
            run = index
            while run < len(pattern) and pattern[run] == char:
                run += 1
            token = pattern[index:run]
            if token not in tokens:
                raise ValueError(f"unsupported date format letters {token!r}")
            out.append(tokens[token])
            index = run
            continue
        out.append("%%" if char == "%" else char)
        index += 1
    return "".join(out)


def _format_time(wall_ms: float, date_format: str) -> str:
    """
    @param wall_ms: milliseconds since the epoch.
    @param date_format: a format from L{java_date_format}.
    @return: the local time in that format.
    """
    text = time.strftime(date_format, time.localtime(wall_ms / 1000.0))
    return text.replace("{ms}", f"{int(wall_ms) % 1000:03d}")


def format_consumer_summary(
    stats: ConsumerStats, start_wall_ms: float, end_wall_ms: float, date_format: str
) -> str:
    """
    The consumer perf test's summary, the figures under L{CONSUMER_HEADER}.

    @param stats: the run's counts.
    @param start_wall_ms: when the run started (ms since the epoch).
    @param end_wall_ms: when it ended.
    @param date_format: a format from L{java_date_format}.
    @return: the line.
    """
    elapsed_ms = end_wall_ms - start_wall_ms
    fetch_ms = int(elapsed_ms - stats.rebalance_ms)
    megabytes = stats.bytes / _MEBIBYTE
    return (
        f"{_format_time(start_wall_ms, date_format)},"
        f" {_format_time(end_wall_ms, date_format)}, {megabytes:.4f},"
        f" {_rate(megabytes, elapsed_ms):.4f}, {stats.messages},"
        f" {_rate(stats.messages, elapsed_ms):.4f}, {int(stats.rebalance_ms)},"
        f" {fetch_ms}, {_rate(megabytes, fetch_ms):.4f},"
        f" {_rate(stats.messages, fetch_ms):.4f}"
    )


def format_consumer_detail(
    stats: ConsumerStats, now_ms: float, now_wall_ms: float, date_format: str
) -> str:
    """
    One C{--show-detailed-stats} line, the figures under
    L{CONSUMER_DETAILED_HEADER} for the interval since the last report.

    @param stats: the run's counts.
    @param now_ms: the time now (the clock of C{stats}).
    @param now_wall_ms: the time now, ms since the epoch, to print.
    @param date_format: a format from L{java_date_format}.
    @return: the line.
    """
    elapsed_ms = now_ms - stats.last_report_ms
    interval_mb = (stats.bytes - stats.last_bytes) / _MEBIBYTE
    interval_messages = stats.messages - stats.last_messages
    fetch_ms = int(elapsed_ms - stats.interval_rebalance_ms)
    return (
        f"{_format_time(now_wall_ms, date_format)}, 0,"
        f" {stats.bytes / _MEBIBYTE:.4f}, {_rate(interval_mb, elapsed_ms):.4f},"
        f" {stats.messages}, {_rate(interval_messages, elapsed_ms):.4f},"
        f" {int(stats.interval_rebalance_ms)}, {fetch_ms},"
        f" {_rate(interval_mb, fetch_ms):.4f},"
        f" {_rate(interval_messages, fetch_ms):.4f}"
    )


def format_consumer_progress(stats: ConsumerStats, now_ms: float) -> str:
    """
    The progress line printed on standard error while the consumer perf test runs.

    @param stats: the run's counts.
    @param now_ms: the time now.
    @return: C{N records consumed, X records/sec (Y MB/sec).}, the rates over the
        interval since the last report.
    """
    elapsed_ms = now_ms - stats.last_report_ms
    interval_mb = (stats.bytes - stats.last_bytes) / _MEBIBYTE
    interval_messages = stats.messages - stats.last_messages
    return (
        f"{stats.messages} records consumed,"
        f" {_rate(interval_messages, elapsed_ms):.1f} records/sec"
        f" ({_rate(interval_mb, elapsed_ms):.2f} MB/sec)."
    )
