"""
C{odradek-consumer-perf-test}: Kafka's C{kafka-consumer-perf-test.sh}
(C{ConsumerPerformance}). Join a group, consume C{--messages} records of a topic
and print Kafka's CSV summary: start and end time, megabytes and records consumed
and their rates, the time spent joining the group (C{rebalance.time.ms}) and the
rates over the rest (C{fetch.*}). While it runs, a progress line goes to standard
error every C{--reporting-interval}; with C{--show-detailed-stats} Kafka's
per-interval CSV lines go to standard output instead of the summary.

C{--timeout} is Kafka's: the milliseconds to wait for records before giving up
(not the seconds of the other tools' C{--timeout}).

Example::

    odradek-consumer-perf-test --bootstrap-server localhost:9092 \\
        --topic perf --messages 100000
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time

from odradek.admin.cli._common import (
    ToolError,
    ToolParser,
    read_properties,
    run_tool,
)
from odradek.admin.cli._perfstats import (
    CONSUMER_DETAILED_HEADER,
    CONSUMER_HEADER,
    DEFAULT_DATE_FORMAT,
    ConsumerStats,
    format_consumer_detail,
    format_consumer_progress,
    format_consumer_summary,
    java_date_format,
)
from odradek.client import Consumer, RebalanceListener, TopicPartition

__all__ = ["build_parser", "consumer_config", "main", "run"]

_POLL_SECONDS = 0.1
_CLOSE_SECONDS = 10.0


def build_parser() -> ToolParser:
    """
    @return: the parser of Kafka's flags.
    """
    parser = ToolParser(
        prog="odradek-consumer-perf-test",
        description="Measure the consumer's throughput.",
    )
    parser.add_argument(
        "--bootstrap-server",
        required=True,
        metavar="HOST:PORT[,HOST:PORT...]",
        help="the brokers to connect to",
    )
    topics = parser.add_mutually_exclusive_group(required=True)
    topics.add_argument("--topic", help="the topic to consume")
    topics.add_argument(
        "--include", metavar="REGEX", help="consume every topic matching this regex"
    )
    parser.add_argument(
        "--messages",
        required=True,
        type=int,
        metavar="COUNT",
        help="the number of records to consume",
    )
    parser.add_argument(
        "--group",
        default=f"perf-consumer-{random.randrange(100_000)}",
        metavar="GID",
        help="the consumer group (default perf-consumer-<random>)",
    )
    parser.add_argument(
        "--fetch-size",
        type=int,
        default=1024 * 1024,
        metavar="SIZE",
        help="max.partition.fetch.bytes (default 1048576)",
    )
    parser.add_argument(
        "--from-latest",
        action="store_true",
        help="without a committed offset, start at the end rather than the beginning",
    )
    parser.add_argument(
        "--socket-buffer-size",
        type=int,
        default=2 * 1024 * 1024,
        metavar="SIZE",
        help="receive.buffer.bytes (default 2097152)",
    )
    parser.add_argument(
        "--consumer.config",
        dest="consumer_config",
        metavar="CONFIG-FILE",
        help="a properties file of consumer settings",
    )
    parser.add_argument(
        "--print-metrics",
        action="store_true",
        help="accepted for Kafka's sake; the Odradek client keeps no metrics yet",
    )
    parser.add_argument(
        "--show-detailed-stats",
        action="store_true",
        help="print the figures of each reporting interval",
    )
    parser.add_argument(
        "--timeout",
        type=int,
        default=10_000,
        metavar="MILLISECONDS",
        help="give up after this long without a record (default 10000)",
    )
    parser.add_argument(
        "--reporting-interval",
        type=int,
        default=5_000,
        metavar="INTERVAL_MS",
        help="how often to report progress, in milliseconds (default 5000)",
    )
    parser.add_argument(
        "--date-format",
        default=DEFAULT_DATE_FORMAT,
        metavar="FORMAT",
        help="a SimpleDateFormat pattern for the times"
        f" (default {DEFAULT_DATE_FORMAT})",
    )
    parser.add_argument(
        "--hide-header", action="store_true", help="do not print the CSV header"
    )
    return parser


def consumer_config(options: argparse.Namespace) -> dict[str, object]:
    """
    The consumer's settings: C{--consumer.config}, then those the flags set, as
    Kafka sets them.

    @param options: the parsed command line.
    @return: the settings.
    """
    config: dict[str, object] = {}
    if options.consumer_config:
        config.update(read_properties(options.consumer_config))
    config.update(
        {
            "bootstrap.servers": options.bootstrap_server,
            "group.id": options.group,
            "receive.buffer.bytes": options.socket_buffer_size,
            "max.partition.fetch.bytes": options.fetch_size,
            "auto.offset.reset": "latest" if options.from_latest else "earliest",
            "check.crcs": False,
        }
    )
    config.setdefault("client.id", "perf-consumer-client")
    return config


def check_options(options: argparse.Namespace) -> str:
    """
    Check the values of the flags.

    @param options: the parsed command line.
    @return: the date format, translated for C{time.strftime}.
    @raise ToolError: naming the bad value.
    """
    if options.messages <= 0:
        raise ToolError("--messages must be greater than 0")
    if options.reporting_interval <= 0:
        raise ToolError("--reporting-interval must be greater than 0")
    if options.timeout < 0:
        raise ToolError("--timeout must not be negative")
    try:
        return java_date_format(options.date_format)
    except ValueError as e:
        raise ToolError(f"--date-format {options.date_format!r}: {e}") from None


class _JoinTimer(RebalanceListener):
    """
    Count the time the consumer spends without partitions, joining the group, as
    Kafka's C{ConsumerPerfRebListener} does.
    """

    def __init__(self, stats: ConsumerStats, start_ms: float) -> None:
        self.stats = stats
        self.join_start_ms = start_ms
        self.assigned: set[TopicPartition] = set()

    def on_partitions_revoked(self, partitions: list[TopicPartition]) -> None:
        self.assigned.difference_update(partitions)
        if not self.assigned:
            self.join_start_ms = _now_ms()

    def on_partitions_assigned(self, partitions: list[TopicPartition]) -> None:
        if not self.assigned:
            self.stats.joined(_now_ms() - self.join_start_ms)
        self.assigned.update(partitions)


def _now_ms() -> float:
    """@return: the monotonic clock, in milliseconds."""
    return time.monotonic() * 1000.0


def main(argv: list[str]) -> int:
    """
    Run the consumer perf test.

    @param argv: the command line's arguments.
    @return: the exit status: 0, as Kafka's, even when it gave up early (it then
        prints a warning).
    """
    options = build_parser().parse_args(argv)
    date_format = check_options(options)
    config = consumer_config(options)
    out = sys.stdout
    if not options.hide_header:
        header = (
            CONSUMER_DETAILED_HEADER if options.show_detailed_stats else CONSUMER_HEADER
        )
        print(header, file=out, flush=True)
    if options.print_metrics:
        print(
            "Note: --print-metrics is ignored: the Odradek client keeps no metrics",
            file=sys.stderr,
        )
    consumer = Consumer(config)
    try:
        start_wall_ms = time.time() * 1000.0
        start_ms = _now_ms()
        stats = ConsumerStats(start_ms)
        _consume(consumer, options, stats, date_format)
        end_ms = _now_ms()
    finally:
        consumer.close(_CLOSE_SECONDS)
    end_wall_ms = start_wall_ms + (end_ms - start_ms)
    if not options.show_detailed_stats:
        print(
            format_consumer_summary(stats, start_wall_ms, end_wall_ms, date_format),
            file=out,
        )
    return 0


def _consume(
    consumer: Consumer,
    options: argparse.Namespace,
    stats: ConsumerStats,
    date_format: str,
) -> None:
    """
    Poll until C{--messages} records arrived or none came for C{--timeout} ms,
    reporting every C{--reporting-interval} ms.
    """
    listener = _JoinTimer(stats, stats.start_ms)
    if options.topic is not None:
        consumer.subscribe([options.topic], listener)
    else:
        try:
            pattern = re.compile(options.include)
        except re.error as e:
            raise ToolError(f"--include {options.include!r}: {e}") from None
        consumer.subscribe(pattern, listener)
    wanted = options.messages
    timeout_ms = options.timeout
    interval_ms = options.reporting_interval
    now = last_consumed = stats.start_ms
    while stats.messages < wanted and now - last_consumed <= timeout_ms:
        records = consumer.poll(_POLL_SECONDS)
        now = _now_ms()
        if records:
            last_consumed = now
        for record in records:
            stats.record(record.serialized_key_size, record.serialized_value_size)
        if stats.report_due(now, interval_ms):
            _report(stats, options, now, date_format)
    if stats.messages < wanted:
        print(
            "WARNING: Exiting before consuming the expected number of messages:"
            f" timeout ({timeout_ms} ms) exceeded. You can use the --timeout option"
            " to increase the timeout.",
            file=sys.stdout,
        )


def _report(
    stats: ConsumerStats, options: argparse.Namespace, now: float, date_format: str
) -> None:
    """Print the interval's figures and start a new interval."""
    if options.show_detailed_stats:
        wall = time.time() * 1000.0
        print(format_consumer_detail(stats, now, wall, date_format), file=sys.stdout)
    else:
        print(format_consumer_progress(stats, now), file=sys.stderr, flush=True)
    stats.reported(now)


def run() -> None:
    """The console script's entry point."""
    raise SystemExit(run_tool(main))
