"""
Fixtures of the perf tools' tests: the expected shapes of Kafka's output lines and
a fake clock.
"""

from __future__ import annotations

import re

FINAL_LINE = re.compile(
    r"^(\d+) records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\), ([\d.]+) ms avg"
    r" latency, ([\d.]+) ms max latency, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms"
    r" 99th, (\d+) ms 99\.9th\.$"
)
WINDOW_LINE = re.compile(
    r"^\d+ records sent, [\d.]+ records/sec \([\d.]+ MB/sec\), [\d.]+ ms avg"
    r" latency, [\d.]+ ms max latency\.$"
)


class FakeClock:
    """A monotonic clock in milliseconds that only moves when told."""

    def __init__(self) -> None:
        self.now_ms = 1000.0
        self.slept: list[float] = []

    def ms(self) -> float:
        return self.now_ms

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now_ms += seconds * 1000.0
